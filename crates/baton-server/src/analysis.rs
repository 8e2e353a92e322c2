//! What Baton reads off a customer turn: the core's signals (sentiment, frustration, explicit
//! request, issue type, loop) together with the knowledge base's view (does the turn ask
//! something, how confident is the best article, which articles). Shared by the server and
//! `baton analyze`, so both judge a turn the same way.

use baton_core::policy::{CustomerContext, Policy};
use baton_core::signals::{SignalEngine, Turn};
use baton_core::{Decision, TriggerKind};
use baton_kb::{KbIndex, asks_something};
use chrono::{DateTime, Utc};
use serde::Serialize;

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
    // As in the server, a question the embedder fails on is ranked lexically.
    let vector = kb.embed_query(text).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "embedding the question failed; ranking it lexically");
        None
    });
    match kb.retrieve_with(text, TOP_ARTICLES, kb.calibration(), vector.as_deref()) {
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

/// One customer turn of a replayed conversation, judged as the server would have judged it.
#[derive(Debug, Clone, Serialize)]
pub struct JudgedTurn {
    /// Position among the conversation's customer turns, from 0.
    pub index: usize,
    /// Position in the whole conversation, from 0.
    #[serde(skip)]
    pub position: usize,
    pub signals: TurnSignals,
    pub decision: Decision,
}

/// What judges turns: the signal detectors, the knowledge base (if any) and the policy.
pub struct Judge<'a> {
    pub engine: &'a SignalEngine,
    pub kb: Option<&'a KbIndex>,
    /// The knowledge-base revision decisions cite (`None` for a knowledge base read from
    /// files, or none at all).
    pub kb_revision: Option<i64>,
    pub policy: &'a Policy,
}

impl Judge<'_> {
    /// Replays a recorded conversation turn by turn: every customer turn is judged with the
    /// conversation as it stood then (recorded AI messages stand in for the AI's replies).
    /// `clock` is the time of turns that carry none.
    pub fn conversation(
        &self,
        turns: &[Turn],
        customer: &CustomerContext,
        clock: DateTime<Utc>,
    ) -> Vec<JudgedTurn> {
        self.engine
            .replay(turns)
            .into_iter()
            .enumerate()
            .map(|(index, (position, signals))| {
                let (question, confidence, top_articles) =
                    retrieval(self.kb, &turns[position].text);
                let signals = TurnSignals {
                    signals,
                    question,
                    confidence,
                    top_articles,
                };
                let now = turns[position].at.unwrap_or(clock);
                let kb_revision = self.kb.filter(|kb| !kb.is_empty()).and(self.kb_revision);
                let decision = self.policy.decide(&signals, customer, now, kb_revision);
                JudgedTurn {
                    index,
                    position,
                    signals,
                    decision,
                }
            })
            .collect()
    }
}

/// The first turn whose decision escalates, and the kinds of trigger that fired there.
pub fn first_escalation(turns: &[JudgedTurn]) -> (Option<usize>, Vec<TriggerKind>) {
    match turns.iter().find(|t| t.decision.escalates()) {
        Some(t) => (Some(t.index), t.decision.trigger_kinds()),
        None => (None, Vec::new()),
    }
}
