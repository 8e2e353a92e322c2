//! Generates the sentiment model's general-text word layer,
//! `src/signals/sentiment/general_words.tsv`: one weight per word and per pair of
//! neighbouring words, learned as a correction on top of the lexicon score.
//!
//! ```text
//! # cross-validate the settings on the training half, then write the file
//! cargo run --release -p baton-core --example fit-sentiment-words -- ../shared/data/dev --cv
//! cargo run --release -p baton-core --example fit-sentiment-words -- ../shared/data/dev \
//!     --write crates/baton-core/src/signals/sentiment/general_words.tsv
//! ```
//!
//! Data: the training half of the four `vader_groundtruth/*_GroundTruth.txt` files (MIT
//! licence, C.J. Hutto): within each file the lines with an even index, the same split as
//! `fit-sentiment`; the odd lines stay held out for the correlation reported by
//! `evaluate-signals`. The target is the mean human rating divided by 4. The model is
//! `score = normalize(lexicon_raw + Σ weight(term) / words^p)` over the message's words and
//! pairs of neighbouring words that occur in at least `--min-count` training sentences,
//! fitted by least squares on the normalised score with an L2 penalty (full-batch Adam from
//! zero, no randomness: the file is reproducible). The lexicon's own weights stay fixed.
//! No airline tweets are used (their licence does not suit values shipped in the code);
//! `--cv` only prints, next to the cross-validated correlation, the airline *selection*
//! split's figures with thresholds chosen on that split, as `evaluate-signals --selection`
//! does.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton_core::signals::sentiment::{FEATURE_NAMES, SentimentCalibration, SentimentModel};

type Res<T> = Result<T, Box<dyn Error>>;

/// VADER's normalisation constant.
const ALPHA: f64 = 15.0;

#[derive(Clone, Copy, Debug)]
struct Settings {
    l2: f64,
    length_power: f64,
    min_count: usize,
    steps: usize,
    learning_rate: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            l2: 3e-5,
            length_power: 0.5,
            min_count: 3,
            steps: 400,
            learning_rate: 0.02,
        }
    }
}

/// One message: the lexicon's raw valence without the word layer, its terms, its number of
/// words and its target.
struct Example {
    offset: f64,
    terms: Vec<String>,
    words: usize,
    target: f64,
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    let mut write = None;
    let mut cv = false;
    let mut files: Option<String> = None;
    let mut s = Settings::default();
    while let Some(a) = args.next() {
        let mut num = |args: &mut dyn Iterator<Item = String>| -> Res<f64> {
            Ok(args.next().ok_or("missing value")?.parse::<f64>()?)
        };
        match a.as_str() {
            "--cv" => cv = true,
            "--write" => write = args.next().map(PathBuf::from),
            "--l2" => s.l2 = num(&mut args)?,
            "--length-power" => s.length_power = num(&mut args)?,
            "--min-count" => s.min_count = num(&mut args)? as usize,
            "--steps" => s.steps = num(&mut args)? as usize,
            "--files" => files = args.next(),
            _ => data = Some(PathBuf::from(a)),
        }
    }
    let Some(data) = data else {
        return Err("usage: fit-sentiment-words DATA_DIR [--cv] [--write FILE] [--l2 X] \
                    [--length-power P] [--min-count N] [--steps N]"
            .into());
    };
    let model = SentimentModel::new();
    let train = read_training_half(&data.join("vader_groundtruth"), &model, files.as_deref())?;
    println!(
        "vader_groundtruth training half: {} sentences; settings {s:?}",
        train.len()
    );
    if cv {
        cross_validate(&train, s);
        airline_selection(&data, &model, &train, s)?;
    }
    if let Some(path) = write {
        let weights = fit(&train, s);
        std::fs::write(&path, render(&weights, s, train.len()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {} terms to {}", weights.len(), path.display());
    }
    Ok(())
}

/// The lexicon's raw valence of a message without the word layer (the layer's feature is
/// the last one and is set to zero here).
fn offset(model: &SentimentModel, text: &str) -> f64 {
    let mut f = model.features(text);
    let last = FEATURE_NAMES.len() - 1;
    debug_assert_eq!(FEATURE_NAMES[last], "general_words");
    f.values[last] = 0.0;
    SentimentCalibration::prior().raw(&f)
}

fn example(model: &SentimentModel, text: &str, target: f64) -> Example {
    let terms = model.general_terms(text);
    let words = terms.iter().filter(|t| !t.contains(' ')).count();
    Example {
        offset: offset(model, text),
        terms,
        words,
        target,
    }
}

/// Even lines of each `*_GroundTruth.txt` file.
fn read_training_half(
    dir: &Path,
    model: &SentimentModel,
    files: Option<&str>,
) -> Res<Vec<Example>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_GroundTruth.txt"))
        .filter(|p| {
            files.is_none_or(|f| {
                f.split(',')
                    .any(|name| p.to_string_lossy().contains(name))
            })
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *_GroundTruth.txt files in {}", dir.display()).into());
    }
    let mut out = Vec::new();
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
            if index.is_multiple_of(2) {
                out.push(example(model, sentence, (rating / 4.0).clamp(-1.0, 1.0)));
            }
            index += 1;
        }
    }
    Ok(out)
}

/// Fits the term weights; returns them sorted by term.
fn fit(examples: &[Example], s: Settings) -> Vec<(String, f64)> {
    // Vocabulary: terms in at least `min_count` sentences.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for e in examples {
        let mut seen: Vec<&str> = e.terms.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *count.entry(t).or_default() += 1;
        }
    }
    let mut vocab: Vec<&str> = count
        .iter()
        .filter(|(_, c)| **c >= s.min_count)
        .map(|(t, _)| *t)
        .collect();
    vocab.sort_unstable();
    let index: HashMap<&str, usize> = vocab.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let rows: Vec<(Vec<usize>, f64)> = examples
        .iter()
        .map(|e| {
            let ids = e
                .terms
                .iter()
                .filter_map(|t| index.get(t.as_str()).copied())
                .collect();
            (ids, scale(e.words, s.length_power))
        })
        .collect();
    let n = examples.len() as f64;
    let v = vocab.len();
    let (mut w, mut m, mut sq) = (vec![0.0f64; v], vec![0.0f64; v], vec![0.0f64; v]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut grad = vec![0.0f64; v];
    for step in 1..=s.steps {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (e, (ids, k)) in examples.iter().zip(&rows) {
            let raw = e.offset + k * ids.iter().map(|&j| w[j]).sum::<f64>();
            let d = raw * raw + ALPHA;
            let y = raw / d.sqrt();
            let g = 2.0 * (y - e.target) * ALPHA / (d * d.sqrt()) / n * k;
            for &j in ids {
                grad[j] += g;
            }
        }
        let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for j in 0..v {
            let g = grad[j] + 2.0 * s.l2 * w[j];
            m[j] = b1 * m[j] + (1.0 - b1) * g;
            sq[j] = b2 * sq[j] + (1.0 - b2) * g * g;
            w[j] -= s.learning_rate * (m[j] / c1) / ((sq[j] / c2).sqrt() + eps);
        }
    }
    vocab
        .iter()
        .zip(&w)
        .map(|(t, w)| ((*t).to_string(), *w))
        .filter(|(_, w)| w.abs() >= 0.0005)
        .collect()
}

fn scale(words: usize, power: f64) -> f64 {
    1.0 / (words.max(1) as f64).powf(power)
}

/// The layer's valence for an example under fitted weights.
fn layer(weights: &HashMap<&str, f64>, e: &Example, power: f64) -> f64 {
    e.terms
        .iter()
        .filter_map(|t| weights.get(t.as_str()))
        .sum::<f64>()
        * scale(e.words, power)
}

fn normalize(raw: f64) -> f64 {
    raw / (raw * raw + ALPHA).sqrt()
}

/// 5-fold cross-validation over the training half (sentence `i` in fold `i mod 5`).
fn cross_validate(train: &[Example], s: Settings) {
    const FOLDS: usize = 5;
    let mut with = vec![0.0; train.len()];
    for fold in 0..FOLDS {
        let part: Vec<&Example> = train
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, e)| e)
            .collect();
        let owned: Vec<Example> = part
            .iter()
            .map(|e| Example {
                offset: e.offset,
                terms: e.terms.clone(),
                words: e.words,
                target: e.target,
            })
            .collect();
        let fitted = fit(&owned, s);
        let weights: HashMap<&str, f64> = fitted.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        for (i, e) in train.iter().enumerate() {
            if i % FOLDS == fold {
                with[i] = normalize(e.offset + layer(&weights, e, s.length_power));
            }
        }
    }
    let without: Vec<f64> = train.iter().map(|e| normalize(e.offset)).collect();
    let y: Vec<f64> = train.iter().map(|e| e.target).collect();
    println!(
        "cross-validated Pearson on the training half: lexicon {:.3}, with the word layer {:.3}",
        pearson(&without, &y),
        pearson(&with, &y)
    );
}

/// The airline selection split (even rows) scored without and with the layer fitted on the
/// whole training half; thresholds chosen on the same split (as `evaluate-signals` does).
fn airline_selection(
    data: &Path,
    model: &SentimentModel,
    train: &[Example],
    s: Settings,
) -> Res<()> {
    let path = data.join("airline_sentiment/Airline-Sentiment-2-w-AA.csv");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(());
    };
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(tc), Some(lc)) = (col("text"), col("airline_sentiment")) else {
        return Err("airline csv: missing columns".into());
    };
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec?;
        if i % 2 == 0 {
            rows.push((rec[tc].to_string(), rec[lc].to_string()));
        }
    }
    let fitted = fit(train, s);
    let weights: HashMap<&str, f64> = fitted.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    let examples: Vec<(Example, &str)> = rows
        .iter()
        .map(|(t, l)| (example(model, t, 0.0), l.as_str()))
        .collect();
    for k in [0.0, 0.5, 1.0, 1.5] {
        let scored: Vec<(f64, &str)> = examples
            .iter()
            .map(|(e, l)| {
                (
                    normalize(e.offset + k * layer(&weights, e, s.length_power)),
                    *l,
                )
            })
            .collect();
        let (neg, t) = best_negative_f1(&scored);
        let (mf, lo, hi) = best_macro_f1(&scored);
        println!(
            "airline selection, layer x{k}: negative F1 {neg:.3} (< {t:.2}), macro-F1 {mf:.3} ({lo:.2}, {hi:.2})"
        );
    }
    Ok(())
}

fn grid() -> Vec<f64> {
    (-90..=90).map(|i| f64::from(i) / 100.0).collect()
}

fn best_negative_f1(rows: &[(f64, &str)]) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    for t in grid() {
        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
        for (s, l) in rows {
            match (*s < t, *l == "negative") {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                _ => {}
            }
        }
        let f1 = 2.0 * tp / (2.0 * tp + fp + fn_);
        if f1 > best.0 {
            best = (f1, t);
        }
    }
    best
}

fn best_macro_f1(rows: &[(f64, &str)]) -> (f64, f64, f64) {
    let idx = |l: &str| match l {
        "negative" => 0usize,
        "neutral" => 1,
        _ => 2,
    };
    let mut sorted: Vec<(f64, usize)> = rows.iter().map(|(s, l)| (*s, idx(l))).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let g = grid();
    let mut best = (0.0, 0.0, 0.0);
    for (a, &lo) in g.iter().enumerate() {
        for &hi in &g[a..] {
            let mut m = [[0usize; 3]; 3];
            for (s, l) in &sorted {
                let p = if *s < lo {
                    0
                } else if *s > hi {
                    2
                } else {
                    1
                };
                m[p][*l] += 1;
            }
            let f: f64 = (0..3)
                .map(|k| {
                    let tp = m[k][k] as f64;
                    let pred: usize = m[k].iter().sum();
                    let act: usize = (0..3).map(|p| m[p][k]).sum();
                    if tp == 0.0 {
                        0.0
                    } else {
                        2.0 * tp / (pred + act) as f64
                    }
                })
                .sum::<f64>()
                / 3.0;
            if f > best.0 {
                best = (f, lo, hi);
            }
        }
    }
    best
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

/// The generated file: a header saying where the weights come from, then `term<TAB>weight`.
fn render(weights: &[(String, f64)], s: Settings, sentences: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Baton sentiment: general-text word layer (generated; do not edit by hand).\n\
         # Source: the training half (even lines of each file, {sentences} sentences) of the\n\
         # vader_groundtruth rated sentences (amazonReviewSnippets, movieReviewSnippets,\n\
         # nytEditorialSnippets, tweets), Copyright (c) 2016 C.J. Hutto, MIT licence.\n\
         # Rebuild: cargo run --release -p baton-core --example fit-sentiment-words -- \\\n\
         #   ../shared/data/dev --write crates/baton-core/src/signals/sentiment/general_words.tsv\n\
         # Settings: l2 {}, min_count {}, steps {}, learning_rate {}.\n\
         # Each line: a word or a pair of neighbouring words, and its weight on VADER's raw\n\
         # valence scale; a message adds the weights of its terms divided by words^length_power.\n\
         #! length_power {}",
        s.l2, s.min_count, s.steps, s.learning_rate, s.length_power
    );
    for (t, w) in weights {
        let _ = writeln!(out, "{t}\t{w:.3}");
    }
    out
}
