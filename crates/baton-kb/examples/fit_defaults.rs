//! Fits the default calibration shipped in `Calibration::default()` on the hand-written
//! support knowledge base in `calibration/support-kb.jsonl` (30 articles, about five example
//! questions each: the size of a typical team's knowledge base), and prints it.
//!
//! ```text
//! cargo run --release -p baton-kb --example fit_defaults
//! ```
//!
//! So few questions cannot pin down sixteen numbers alone, so the fit starts from a
//! hand-set prior (similarities to single phrasings and to the article as a whole weigh most;
//! confidence grows with the winner's share, margin and coverage) and is held to it firmly:
//! the data moves each number only as far as it clearly supports.
//!
//! The dense weights (used only when an embedder is configured) are fitted afterwards, on the
//! same knowledge base embedded with all-MiniLM-L6-v2, with every lexical number held at its
//! shipped value, so that configuring embeddings never changes retrieval without them:
//!
//! ```text
//! cargo run --release -p baton-kb --features local-embeddings --example fit_defaults -- \
//!     --dense /path/to/all-MiniLM-L6-v2
//! ```

use std::path::Path;
#[cfg(feature = "local-embeddings")]
use std::sync::Arc;

use baton_kb::{
    Calibration, ConfidenceCoefficients, FitOptions, IndexOptions, RankingWeights, fit_on_kb_with,
    import_path,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/support-kb.jsonl");
    let articles = import_path(&path)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--dense") {
        let dir = args.get(i + 1).ok_or("--dense needs a model folder")?;
        return fit_dense(&articles, Path::new(dir));
    }
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
    let options = FitOptions {
        prior: hand_set,
        prior_strength: 20.0,
        ..FitOptions::default()
    };
    let fitted = fit_on_kb_with(&articles, IndexOptions::default(), &options)?;
    println!("{}", serde_json::to_string_pretty(&fitted)?);
    Ok(())
}

/// Fits the dense ranking weights and confidence coefficient from a hand-set start, holding
/// the shipped lexical numbers fixed.
#[cfg(feature = "local-embeddings")]
fn fit_dense(articles: &[baton_kb::Article], dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
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
fn fit_dense(_: &[baton_kb::Article], _: &Path) -> Result<(), Box<dyn std::error::Error>> {
    Err("--dense needs the local-embeddings feature".into())
}
