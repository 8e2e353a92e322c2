//! What Baton reads off a customer turn: the core's signals (sentiment, frustration, explicit
//! request, issue type, loop) together with the knowledge base's view (does the turn ask
//! something, how confident is the best article, which articles). Shared by the server and
//! `baton analyze`, so both judge a turn the same way.

use baton_core::signals::{SignalEngine, Turn};
use baton_kb::{KbIndex, asks_something};

/// How many articles a turn's analysis lists.
pub const TOP_ARTICLES: usize = 3;

/// An article as the analysis lists it.
pub use baton_core::ScoredArticle as ArticleScore;
pub use baton_core::signals::TurnSignals;

/// Retrieval for one text: whether it asks something, and if so the confidence and articles.
pub fn retrieval(kb: Option<&KbIndex>, text: &str) -> (bool, Option<f64>, Vec<ArticleScore>) {
    let question = asks_something(text);
    let Some(kb) = kb.filter(|kb| !kb.is_empty()) else {
        return (question, None, Vec::new());
    };
    if !question {
        return (false, None, Vec::new());
    }
    match kb.retrieve(text, TOP_ARTICLES) {
        Ok(found) => (
            true,
            found.confidence.map(|c| c.clamp(0.0, 1.0)),
            found
                .hits
                .into_iter()
                .map(|h| ArticleScore {
                    id: h.id,
                    title: h.title,
                    score: h.score,
                })
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "retrieval failed; treating the turn as unanswerable");
            (true, Some(0.0), Vec::new())
        }
    }
}

/// Analyses every customer turn of `turns`, in order, as the server would have seen it when
/// that turn arrived. Returns (index among customer turns, analysis).
pub fn replay(engine: &SignalEngine, kb: Option<&KbIndex>, turns: &[Turn]) -> Vec<TurnSignals> {
    engine
        .replay(turns)
        .into_iter()
        .map(|(position, signals)| {
            let (question, confidence, top_articles) = retrieval(kb, &turns[position].text);
            TurnSignals {
                signals,
                question,
                confidence,
                top_articles,
            }
        })
        .collect()
}
