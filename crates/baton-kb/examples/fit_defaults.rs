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

use std::path::Path;

use baton_kb::{
    Calibration, ConfidenceCoefficients, FitOptions, IndexOptions, RankingWeights, fit_on_kb_with,
    import_path,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/support-kb.jsonl");
    let articles = import_path(&path)?;
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
