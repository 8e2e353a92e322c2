//! Refits the sentiment model's calibration (`BUILTIN_WEIGHTS` in
//! `src/signals/sentiment.rs`), compares it with the shipped weights on held-out sentences,
//! and prints the refitted constants.
//!
//! ```text
//! cargo run --release -p baton-core --example fit-sentiment -- ../shared/data/dev
//! ```
//!
//! Data: the four `vader_groundtruth/*_GroundTruth.txt` files (MIT licence), each sentence
//! with the mean of about 20 human ratings in -4..4; the target is the rating divided by 4.
//! Split: within each file, lines with an even index (0, 2, 4, ...) are the training split
//! and lines with an odd index the held-out split; there is no randomness (no seed), so the
//! fit is reproducible. "refitted" fits the crate's own valences and the bias (the default
//! options; its constants are printed), "refitted, all" fits every weight. The airline
//! tweets are not used: their licence (CC BY-NC-SA, tweets under the platform's terms) does
//! not suit values shipped in the code.

use std::error::Error;
use std::path::{Path, PathBuf};

use baton_core::signals::sentiment::{
    FEATURE_NAMES, FitOptions, SentimentCalibration, SentimentFeatures, SentimentModel,
};

type Res<T> = Result<T, Box<dyn Error>>;

/// One rated sentence: its features and its rating / 4.
type Example = (SentimentFeatures, f64);

fn main() -> Res<()> {
    let Some(data) = std::env::args().nth(1).map(PathBuf::from) else {
        return Err("usage: fit-sentiment DATA_DIR".into());
    };
    let model = SentimentModel::new();
    let (train, held) = read_groundtruth(&data.join("vader_groundtruth"), &model)?;
    println!(
        "vader_groundtruth: {} training sentences (even lines), {} held-out (odd lines)",
        train.len(),
        held.len()
    );
    let fitted = SentimentCalibration::fit(&train, FitOptions::default());
    let all = SentimentCalibration::fit(&train, FitOptions::all_weights());
    for (name, cal) in [
        ("hand-set prior", SentimentCalibration::prior()),
        ("shipped", SentimentCalibration::builtin()),
        ("refitted", fitted),
        ("refitted, all", all),
    ] {
        let (p, s) = correlations(&cal, &held);
        let (pt, st) = correlations(&cal, &train);
        println!(
            "{name:<15} held-out Pearson {p:.3} Spearman {s:.3}   (training {pt:.3} / {st:.3})"
        );
    }
    println!("\nconst BUILTIN_WEIGHTS: [f64; FEATURE_COUNT] = [");
    for (w, name) in fitted.weights.iter().zip(FEATURE_NAMES) {
        println!("    {w:.3}, // {name}");
    }
    println!("];\nconst BUILTIN_BIAS: f64 = {:.3};", fitted.bias);
    Ok(())
}

/// Reads every `*_GroundTruth.txt` file of `dir`, split by line parity within each file.
fn read_groundtruth(dir: &Path, model: &SentimentModel) -> Res<(Vec<Example>, Vec<Example>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_GroundTruth.txt"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *_GroundTruth.txt files in {}", dir.display()).into());
    }
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let mut index = 0usize;
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            let (Some(_), Some(rating), Some(sentence)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(rating) = rating.trim().parse::<f64>() else {
                continue;
            };
            let example = (model.features(sentence), (rating / 4.0).clamp(-1.0, 1.0));
            if index.is_multiple_of(2) {
                train.push(example);
            } else {
                held.push(example);
            }
            index += 1;
        }
    }
    Ok((train, held))
}

fn correlations(cal: &SentimentCalibration, examples: &[Example]) -> (f64, f64) {
    let x: Vec<f64> = examples.iter().map(|(f, _)| cal.score(f)).collect();
    let y: Vec<f64> = examples.iter().map(|(_, t)| *t).collect();
    (pearson(&x, &y), pearson(&ranks(&x), &ranks(&y)))
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// Ranks with ties averaged (for Spearman's correlation).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}
