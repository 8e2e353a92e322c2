//! Generates the sentiment model's intensity reading,
//! `src/signals/sentiment/intensity_words.tsv`: a logistic model over words and pairs of
//! neighbouring words that predicts how far from neutral people rate a sentence. The
//! sentiment score is scaled by that prediction relative to its average (see
//! `src/signals/sentiment/intensity.rs`).
//!
//! ```text
//! # check the settings by cross-validation on the training half, then write the file
//! cargo run --release -p baton-core --example fit-sentiment-words -- ../shared/data/dev --cv
//! cargo run --release -p baton-core --example fit-sentiment-words -- ../shared/data/dev \
//!     --write crates/baton-core/src/signals/sentiment/intensity_words.tsv
//! ```
//!
//! Data: the training half of the four `vader_groundtruth/*_GroundTruth.txt` files (MIT
//! licence, C.J. Hutto): within each file the lines with an even index, the same split as
//! `fit-sentiment`; the odd lines stay held out for the correlation that `evaluate-signals`
//! reports. The target is |mean rating| / 4. The model is
//! `p = sigmoid(bias + Σ weight(term) / words^length_power)` over the terms that occur in at
//! least `--min-count` training sentences, fitted by cross-entropy with an L2 penalty
//! (full-batch Adam from zero, no randomness: the file is reproducible).
//!
//! No airline tweets are used for any value (their licence does not suit values shipped in
//! the code). `--cv` prints the 5-fold cross-validated correlation on the training half
//! and, for information, the airline *selection* split's figures with thresholds chosen on
//! that split (as `evaluate-signals --selection` does). `--residual` runs the experiment
//! that was not shipped: word weights fitted as a correction to the lexicon's valence.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton_core::signals::sentiment::SentimentModel;

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
            l2: 1e-5,
            length_power: 0.5,
            min_count: 5,
            steps: 400,
            learning_rate: 0.02,
        }
    }
}

/// One message: the lexicon's raw valence (before the intensity factor), its terms, its
/// number of words and its target rating / 4.
struct Example {
    raw: f64,
    terms: Vec<String>,
    words: usize,
    rating: f64,
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    let mut write = None;
    let (mut cv, mut residual) = (false, false);
    let mut s = Settings::default();
    while let Some(a) = args.next() {
        let mut num = || -> Res<f64> { Ok(args.next().ok_or("missing value")?.parse::<f64>()?) };
        match a.as_str() {
            "--cv" => cv = true,
            "--residual" => residual = true,
            "--write" => write = args.next().map(PathBuf::from),
            "--l2" => s.l2 = num()?,
            "--length-power" => s.length_power = num()?,
            "--min-count" => s.min_count = num()? as usize,
            "--steps" => s.steps = num()? as usize,
            _ => data = Some(PathBuf::from(a)),
        }
    }
    let Some(data) = data else {
        return Err(
            "usage: fit-sentiment-words DATA_DIR [--cv] [--residual] [--write FILE] \
                    [--l2 X] [--length-power P] [--min-count N] [--steps N]"
                .into(),
        );
    };
    let model = SentimentModel::new();
    let train = read_training_half(&data.join("vader_groundtruth"), &model)?;
    println!(
        "vader_groundtruth training half: {} sentences; settings {s:?}",
        train.len()
    );
    if cv {
        cross_validate(&train, s, fit_intensity_factor);
        let airline = read_airline_selection(&data, &model)?;
        let fitted = fit_intensity(&train, s);
        report_airline(&airline, "lexicon", |e| normalize(e.raw));
        report_airline(&airline, "with the intensity factor", |e| {
            normalize(e.raw * fitted.factor(e))
        });
    }
    if residual {
        cross_validate(&train, s, fit_residual);
        let airline = read_airline_selection(&data, &model)?;
        let fitted = fit_residual(&train, s);
        report_airline(&airline, "with residual word weights", |e| fitted(e));
    }
    if let Some(path) = write {
        let fitted = fit_intensity(&train, s);
        std::fs::write(&path, render(&fitted, s, train.len()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {} terms to {}", fitted.weights.len(), path.display());
    }
    Ok(())
}

fn example(model: &SentimentModel, text: &str, rating: f64) -> Example {
    let terms = model.intensity_terms(text);
    let words = terms.iter().filter(|t| !t.contains(' ')).count();
    Example {
        raw: model.calibration().raw(&model.features(text)),
        terms,
        words,
        rating,
    }
}

/// Even lines of each `*_GroundTruth.txt` file.
fn read_training_half(dir: &Path, model: &SentimentModel) -> Res<Vec<Example>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_GroundTruth.txt"))
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

/// The terms in at least `min_count` examples, sorted, and each term's index.
fn vocabulary(examples: &[&Example], min_count: usize) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for e in examples {
        let mut seen: Vec<&str> = e.terms.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *count.entry(t).or_default() += 1;
        }
    }
    let mut vocab: Vec<String> = count
        .into_iter()
        .filter(|(_, c)| *c >= min_count)
        .map(|(t, _)| t.to_string())
        .collect();
    vocab.sort_unstable();
    vocab
}

fn scale(words: usize, power: f64) -> f64 {
    1.0 / (words.max(1) as f64).powf(power)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn normalize(raw: f64) -> f64 {
    raw / (raw * raw + ALPHA).sqrt()
}

/// Full-batch Adam over sparse rows: `loss_grad(example, row value) -> d loss / d value`
/// (already divided by the number of rows), with an L2 penalty on the term weights; the
/// last parameter is a bias when `with_bias`.
fn adam(
    rows: &[(Vec<usize>, f64)],
    examples: &[&Example],
    size: usize,
    with_bias: bool,
    s: Settings,
    loss_grad: impl Fn(&Example, f64) -> f64,
) -> Vec<f64> {
    let v = size + usize::from(with_bias);
    let (mut w, mut m, mut sq, mut grad) = (vec![0.0; v], vec![0.0; v], vec![0.0; v], vec![0.0; v]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    for step in 1..=s.steps {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (e, (ids, k)) in examples.iter().zip(rows) {
            let bias = if with_bias { w[size] } else { 0.0 };
            let value = bias + k * ids.iter().map(|&j| w[j]).sum::<f64>();
            let g = loss_grad(e, value);
            for &j in ids {
                grad[j] += g * k;
            }
            if with_bias {
                grad[size] += g;
            }
        }
        let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for j in 0..v {
            let g = grad[j] + if j < size { 2.0 * s.l2 * w[j] } else { 0.0 };
            m[j] = b1 * m[j] + (1.0 - b1) * g;
            sq[j] = b2 * sq[j] + (1.0 - b2) * g * g;
            w[j] -= s.learning_rate * (m[j] / c1) / ((sq[j] / c2).sqrt() + eps);
        }
    }
    w
}

fn rows(examples: &[&Example], vocab: &[String], power: f64) -> Vec<(Vec<usize>, f64)> {
    let index: HashMap<&str, usize> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    examples
        .iter()
        .map(|e| {
            let ids = e
                .terms
                .iter()
                .filter_map(|t| index.get(t.as_str()).copied())
                .collect();
            (ids, scale(e.words, power))
        })
        .collect()
}

/// The fitted intensity model.
struct Intensity {
    weights: Vec<(String, f64)>,
    lookup: HashMap<String, f64>,
    bias: f64,
    mean: f64,
    length_power: f64,
}

impl Intensity {
    fn probability(&self, e: &Example) -> f64 {
        let sum: f64 = e.terms.iter().filter_map(|t| self.lookup.get(t)).sum();
        sigmoid(self.bias + sum * scale(e.words, self.length_power))
    }

    fn factor(&self, e: &Example) -> f64 {
        self.probability(e) / self.mean
    }
}

fn fit_intensity(examples: &[Example], s: Settings) -> Intensity {
    let refs: Vec<&Example> = examples.iter().collect();
    let vocab = vocabulary(&refs, s.min_count);
    let rows = rows(&refs, &vocab, s.length_power);
    let n = refs.len() as f64;
    // Cross-entropy against the soft target |rating|: d loss / d z = (p - y) / n.
    let w = adam(&rows, &refs, vocab.len(), true, s, |e, z| {
        (sigmoid(z) - e.rating.abs()) / n
    });
    let weights: Vec<(String, f64)> = vocab
        .into_iter()
        .zip(&w)
        // Rounded as written to the file, so that the mean below matches what ships.
        .map(|(t, w)| (t, (w * 1000.0).round() / 1000.0))
        .filter(|(_, w)| *w != 0.0)
        .collect();
    let mut fitted = Intensity {
        lookup: weights.iter().cloned().collect(),
        weights,
        bias: (w[w.len() - 1] * 1000.0).round() / 1000.0,
        mean: 1.0,
        length_power: s.length_power,
    };
    let mean = examples.iter().map(|e| fitted.probability(e)).sum::<f64>() / n;
    fitted.mean = (mean * 10000.0).round() / 10000.0;
    fitted
}

fn fit_intensity_factor(examples: &[Example], s: Settings) -> Box<dyn Fn(&Example) -> f64> {
    let fitted = fit_intensity(examples, s);
    Box::new(move |e| normalize(e.raw * fitted.factor(e)))
}

/// The experiment that was not shipped: word weights added to the lexicon's raw valence,
/// fitted by least squares on the normalised score against the rating.
fn fit_residual(examples: &[Example], s: Settings) -> Box<dyn Fn(&Example) -> f64> {
    let refs: Vec<&Example> = examples.iter().collect();
    let vocab = vocabulary(&refs, s.min_count);
    let rows = rows(&refs, &vocab, s.length_power);
    let n = refs.len() as f64;
    let w = adam(&rows, &refs, vocab.len(), false, s, |e, value| {
        let raw = e.raw + value;
        let d = raw * raw + ALPHA;
        2.0 * (raw / d.sqrt() - e.rating) * ALPHA / (d * d.sqrt()) / n
    });
    let lookup: HashMap<String, f64> = vocab.into_iter().zip(w).collect();
    let power = s.length_power;
    Box::new(move |e| {
        let sum: f64 = e.terms.iter().filter_map(|t| lookup.get(t)).sum();
        normalize(e.raw + sum * scale(e.words, power))
    })
}

type Fit = fn(&[Example], Settings) -> Box<dyn Fn(&Example) -> f64>;

/// 5-fold cross-validation over the training half (sentence `i` in fold `i mod 5`).
fn cross_validate(train: &[Example], s: Settings, fit: Fit) {
    const FOLDS: usize = 5;
    let mut with = vec![0.0; train.len()];
    for fold in 0..FOLDS {
        let part: Vec<Example> = train
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, e)| Example {
                raw: e.raw,
                terms: e.terms.clone(),
                words: e.words,
                rating: e.rating,
            })
            .collect();
        let score = fit(&part, s);
        for (i, e) in train.iter().enumerate() {
            if i % FOLDS == fold {
                with[i] = score(e);
            }
        }
    }
    let without: Vec<f64> = train.iter().map(|e| normalize(e.raw)).collect();
    let y: Vec<f64> = train.iter().map(|e| e.rating).collect();
    println!(
        "cross-validated Pearson on the training half: lexicon {:.3}, with the fitted layer {:.3}",
        pearson(&without, &y),
        pearson(&with, &y)
    );
}

/// The airline selection split (even rows), for information only.
fn read_airline_selection(
    data: &Path,
    model: &SentimentModel,
) -> Res<Vec<(Example, &'static str)>> {
    let path = data.join("airline_sentiment/Airline-Sentiment-2-w-AA.csv");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(Vec::new());
    };
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(tc), Some(lc)) = (col("text"), col("airline_sentiment")) else {
        return Err("airline csv: missing columns".into());
    };
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec?;
        if i % 2 == 0 {
            let label = match &rec[lc] {
                "negative" => "negative",
                "positive" => "positive",
                _ => "neutral",
            };
            out.push((example(model, &rec[tc], 0.0), label));
        }
    }
    Ok(out)
}

fn report_airline(rows: &[(Example, &str)], name: &str, score: impl Fn(&Example) -> f64) {
    if rows.is_empty() {
        return;
    }
    let scored: Vec<(f64, &str)> = rows.iter().map(|(e, l)| (score(e), *l)).collect();
    let (neg, t) = best_negative_f1(&scored);
    let (mf, lo, hi) = best_macro_f1(&scored);
    println!(
        "airline selection split, {name}: negative F1 {neg:.3} (< {t:.2}), macro-F1 {mf:.3} \
         (negative < {lo:.2}, positive > {hi:.2})"
    );
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
    let labelled: Vec<(f64, usize)> = rows.iter().map(|(s, l)| (*s, idx(l))).collect();
    let g = grid();
    let mut best = (0.0, 0.0, 0.0);
    for (a, &lo) in g.iter().enumerate() {
        for &hi in &g[a..] {
            let mut m = [[0usize; 3]; 3];
            for (s, l) in &labelled {
                let p = if *s < lo {
                    0
                } else if *s > hi {
                    2
                } else {
                    1
                };
                m[p][*l] += 1;
            }
            let f = (0..3)
                .map(|k| {
                    let tp = m[k][k] as f64;
                    let predicted: usize = m[k].iter().sum();
                    let actual: usize = (0..3).map(|p| m[p][k]).sum();
                    if tp == 0.0 {
                        0.0
                    } else {
                        2.0 * tp / (predicted + actual) as f64
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
fn render(fitted: &Intensity, s: Settings, sentences: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Baton sentiment: intensity reading (generated; do not edit by hand).\n\
         # Source: the training half (even lines of each file, {sentences} sentences) of the\n\
         # vader_groundtruth rated sentences (amazonReviewSnippets, movieReviewSnippets,\n\
         # nytEditorialSnippets, tweets): Copyright (c) 2016 C.J. Hutto, MIT licence\n\
         # (https://github.com/cjhutto/vaderSentiment). Target: |mean rating| / 4.\n\
         # Rebuild: cargo run --release -p baton-core --example fit-sentiment-words -- \\\n\
         #   ../shared/data/dev --write crates/baton-core/src/signals/sentiment/intensity_words.tsv\n\
         # Settings: l2 {}, min_count {}, steps {}, learning_rate {}.\n\
         # p = sigmoid(bias + sum of the weights of a message's words and pairs of\n\
         # neighbouring words / words^length_power); the score is scaled by p / mean.\n\
         #! bias {}\n\
         #! mean {}\n\
         #! length_power {}",
        s.l2, s.min_count, s.steps, s.learning_rate, fitted.bias, fitted.mean, s.length_power
    );
    for (t, w) in &fitted.weights {
        let _ = writeln!(out, "{t}\t{w}");
    }
    out
}
