//! Fits the default calibration shipped in `Calibration::default()` and prints it.
//!
//! ```text
//! cargo run --release -p baton-kb --example fit_defaults -- ../shared/data/dev
//! ```
//!
//! Two stages, so that each number is learned from data that can support it:
//!
//! 1. **Ranking weights** are fitted on the hand-written support knowledge base in
//!    `calibration/support-kb.jsonl` (30 articles, about five example questions each) together
//!    with Bitext's customer-support requests (`bitext/` in the data folder: 27 intents, about
//!    240 phrasings each, CDLA-Sharing 1.0), one article per intent. Ordering candidates is
//!    learned from how people phrase the same need many ways; a few dozen questions alone
//!    cannot teach it, so the fit starts from a hand-set prior and is pulled towards it with
//!    the same strength as `baton kb calibrate`.
//! 2. **Confidence coefficients** are fitted on the support knowledge base alone, under those
//!    ranking weights, held firmly to a hand-set prior (strength 20). Confidence must mean
//!    "the top article answers this" on a knowledge base of the normal size, whose questions
//!    are far less alike than Bitext's templated ones; fitted on Bitext, the model would
//!    expect near-identical phrasings before it trusts an answer.
//!
//! No evaluation data (clinc150, BANKING77, StackFAQ) is used.
//!
//! The dense weights (used only when an embedder is configured) are fitted afterwards, on the
//! support knowledge base embedded with all-MiniLM-L6-v2, with every lexical number held at
//! its shipped value, so that configuring embeddings never changes retrieval without them:
//!
//! ```text
//! cargo run --release -p baton-kb --features local-embeddings --example fit_defaults -- \
//!     ../shared/data/dev --dense /path/to/all-MiniLM-L6-v2
//! ```

use std::collections::BTreeMap;
use std::path::Path;
#[cfg(feature = "local-embeddings")]
use std::sync::Arc;

use baton_kb::{
    Article, Calibration, ConfidenceCoefficients, FitOptions, IndexOptions, RankingWeights,
    fit_on_kb_with, import_path,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/support-kb.jsonl");
    let articles = import_path(&path)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--dense") {
        let dir = args.get(i + 1).ok_or("--dense needs a model folder")?;
        return fit_dense(&articles, Path::new(dir));
    }
    let data = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("usage: fit_defaults DATA_DIR (the folder holding bitext/)")?;
    let hand_set = Calibration {
        ranking: RankingWeights {
            word_max: 4.0,
            char_max: 4.0,
            word_centroid: 2.0,
            char_centroid: 2.0,
            coverage: 2.0,
            bm25: 1.0,
            neighbours: 2.0,
            votes: 1.0,
            best_coverage: 1.0,
            dense_max: 0.0,
            dense_centroid: 0.0,
        },
        confidence: ConfidenceCoefficients {
            intercept: -6.0,
            top_score: 0.5,
            margin: 1.0,
            top_probability: 2.0,
            coverage: 2.0,
            char_max: 2.0,
            word_max: 2.0,
            bm25: 1.0,
            dense: 0.0,
        },
        ..Calibration::default()
    };
    let mut phrased = articles.clone();
    phrased.extend(bitext_articles(&Path::new(data).join("bitext"))?);
    let ranking = fit_on_kb_with(
        &phrased,
        IndexOptions::default(),
        &FitOptions {
            prior: hand_set.clone(),
            ..FitOptions::default()
        },
    )?;
    eprintln!(
        "ranking fitted on {} articles ({} questions)",
        phrased.len(),
        ranking.fitted.positives + ranking.fitted.negatives
    );
    let options = FitOptions {
        prior: Calibration {
            ranking: ranking.ranking,
            ..hand_set
        },
        prior_strength: 20.0,
        hold_ranking: true,
        ..FitOptions::default()
    };
    let fitted = fit_on_kb_with(&articles, IndexOptions::default(), &options)?;
    println!("{}", serde_json::to_string_pretty(&fitted)?);
    Ok(())
}

/// One article per Bitext intent: the intent as title, its first answer as body and every
/// distinct request as an example question.
fn bitext_articles(dir: &Path) -> Result<Vec<Article>, Box<dyn std::error::Error>> {
    let file = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|x| x == "csv"))
        .ok_or_else(|| format!("{}: no CSV file", dir.display()))?;
    let mut by_intent: BTreeMap<String, Article> = BTreeMap::new();
    for record in csv::Reader::from_path(&file)?.deserialize() {
        let row: BitextRow = record?;
        let article = by_intent.entry(row.intent.clone()).or_insert_with(|| {
            Article::new(
                format!("bitext-{}", row.intent),
                row.intent.replace('_', " "),
                row.response.clone(),
            )
        });
        if !article.questions.contains(&row.instruction) {
            article.questions.push(row.instruction);
        }
    }
    Ok(by_intent.into_values().collect())
}

#[derive(serde::Deserialize)]
struct BitextRow {
    instruction: String,
    intent: String,
    response: String,
}

/// Fits the dense ranking weights and confidence coefficient from a hand-set start, holding
/// the shipped lexical numbers fixed.
#[cfg(feature = "local-embeddings")]
fn fit_dense(articles: &[Article], dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut prior = Calibration::default();
    prior.ranking.dense_max = 4.0;
    prior.ranking.dense_centroid = 2.0;
    prior.confidence.dense = 2.0;
    let options = FitOptions {
        prior,
        prior_strength: 20.0,
        embedder: Some(Arc::new(baton_kb::LocalEmbeddings::load(dir)?)),
        hold_lexical: true,
        ..FitOptions::default()
    };
    let fitted = fit_on_kb_with(articles, IndexOptions::default(), &options)?;
    println!("{}", serde_json::to_string_pretty(&fitted)?);
    Ok(())
}

#[cfg(not(feature = "local-embeddings"))]
fn fit_dense(_: &[Article], _: &Path) -> Result<(), Box<dyn std::error::Error>> {
    Err("--dense needs the local-embeddings feature".into())
}
