//! Measures Baton's signal detectors on public, labelled data.
//!
//! ```text
//! cargo run --release -p baton-core --example evaluate-signals -- ../shared/data/dev
//! ```
//!
//! Every data set is split the same way: rows with an even index (0, 2, 4, ...) form the
//! *selection* split, on which thresholds are chosen and errors may be inspected; rows with
//! an odd index form the *held-out* split, on which the figures are reported. The
//! classifiers are cross-validated instead (5 folds over each data set's training file).
//! Flags: `--only sentiment|human|issue` runs one part; `--selection` prints the selection
//! split only (for development, so held-out figures are not looked at while working).

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use baton_core::signals::SignalEngine;
use baton_core::signals::issue_type::{IssueClassifier, LabelledText, Taxonomy, TrainingOptions};
use baton_core::signals::sentiment::{FitOptions, SentimentCalibration, SentimentModel};

type Res<T> = Result<T, Box<dyn Error>>;

struct Options {
    data: PathBuf,
    only: Option<String>,
    selection_only: bool,
}

fn main() -> Res<()> {
    let mut data = None;
    let mut only = None;
    let mut selection_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => only = args.next(),
            "--selection" => selection_only = true,
            _ => data = Some(PathBuf::from(a)),
        }
    }
    let Some(data) = data else {
        return Err(
            "usage: evaluate-signals DATA_DIR [--only sentiment|human|issue] [--selection]".into(),
        );
    };
    let opts = Options {
        data,
        only,
        selection_only,
    };
    let runs = |part: &str| opts.only.as_deref().is_none_or(|o| o == part);
    if runs("human") {
        human_request(&opts)?;
    }
    if runs("sentiment") {
        airline(&opts)?;
        vader_groundtruth(&opts)?;
    }
    if runs("issue") {
        issue_types(&opts)?;
    }
    if opts.only.as_deref() == Some("clinc") {
        clinc_settings(&opts)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading the data

fn read_csv(path: &Path, latin1: bool) -> Res<Vec<HashMap<String, String>>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text: String = if latin1 {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8(bytes)?
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec?;
        rows.push(
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        );
    }
    Ok(rows)
}

fn field<'a>(row: &'a HashMap<String, String>, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

/// Even rows select thresholds; odd rows are held out for the report.
fn split<T: Clone>(rows: &[T]) -> (Vec<T>, Vec<T>) {
    let sel = rows.iter().step_by(2).cloned().collect();
    let held = rows.iter().skip(1).step_by(2).cloned().collect();
    (sel, held)
}

// ---------------------------------------------------------------------------------------
// Metrics

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Accuracy and macro-F1 of predicted against actual labels.
fn accuracy_macro_f1(pairs: &[(String, String)]) -> (f64, f64) {
    let mut per: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut correct = 0;
    for (pred, actual) in pairs {
        if pred == actual {
            correct += 1;
        }
        per.entry(actual.as_str()).or_default();
        per.entry(pred.as_str()).or_default();
    }
    for (pred, actual) in pairs {
        for (label, c) in per.iter_mut() {
            c.add(pred == label, actual == label);
        }
    }
    // Macro-F1 over the labels that occur in the truth.
    let labels: Vec<&str> = {
        let mut l: Vec<&str> = pairs.iter().map(|(_, a)| a.as_str()).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let macro_f1 = labels.iter().map(|l| per[l].f1()).sum::<f64>() / labels.len().max(1) as f64;
    (ratio(correct, pairs.len()), macro_f1)
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

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

// ---------------------------------------------------------------------------------------
// Explicit request for a human: bitext

fn human_request(opts: &Options) -> Res<()> {
    let path = opts
        .data
        .join("bitext/Bitext_Sample_Customer_Support_Training_Dataset.aug2023_6480rows.csv");
    let rows = read_csv(&path, false)?;
    let engine = SignalEngine::default();
    let (sel, held) = split(&rows);
    println!("== Explicit request for a human (bitext, positives: contact_human_agent)");
    let mut parts = vec![("selection", sel)];
    if !opts.selection_only {
        parts.push(("held-out", held));
    }
    for (name, rows) in parts {
        let mut main = Counts::default();
        let mut service = (0usize, 0usize);
        let mut other_fp: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut errors = Vec::new();
        for row in &rows {
            let text = field(row, "instruction");
            let intent = field(row, "intent");
            let hit = engine.human_request(text).detected;
            match intent {
                "contact_human_agent" => {
                    main.add(hit, true);
                    if !hit {
                        errors.push(format!("  missed: {text}"));
                    }
                }
                "contact_customer_service" => {
                    service.1 += 1;
                    if hit {
                        service.0 += 1;
                    }
                }
                other => {
                    main.add(hit, false);
                    let e = other_fp.entry(other.to_string()).or_default();
                    e.1 += 1;
                    if hit {
                        e.0 += 1;
                        errors.push(format!("  false positive ({other}): {text}"));
                    }
                }
            }
        }
        let fp_total: usize = other_fp.values().map(|v| v.0).sum();
        let n_total: usize = other_fp.values().map(|v| v.1).sum();
        let worst = other_fp
            .iter()
            .map(|(k, v)| (k, ratio(v.0, v.1)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        println!(
            "{name}: precision {:.3}  recall {:.3}  F1 {:.3}  (n={} positives)",
            main.precision(),
            main.recall(),
            main.f1(),
            main.tp + main.fn_
        );
        println!(
            "{name}: false-positive rate on the {} other intents {:.4} ({fp_total}/{n_total}); worst intent {}",
            other_fp.len(),
            ratio(fp_total, n_total),
            worst
                .map(|(k, r)| format!("{k} {r:.4}"))
                .unwrap_or_default()
        );
        println!(
            "{name}: contact_customer_service detected as a request for a human: {:.3} ({}/{})",
            ratio(service.0, service.1),
            service.0,
            service.1
        );
        if name == "selection" && std::env::var_os("SHOW_ERRORS").is_some() {
            for e in errors {
                println!("{e}");
            }
        }
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sentiment: airline tweets and VADER's ground truth

type Scored = (f64, String, String);

fn airline(opts: &Options) -> Res<()> {
    let path = opts
        .data
        .join("airline_sentiment/Airline-Sentiment-2-w-AA.csv");
    let rows = read_csv(&path, true)?;
    let rows: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                field(r, "text").to_string(),
                field(r, "airline_sentiment").to_string(),
            )
        })
        .collect();
    let (sel, held) = split(&rows);
    println!(
        "== Sentiment (airline_sentiment, read as latin-1; thresholds chosen on the selection split)"
    );

    // The built-in lexicon model: nothing learned, thresholds chosen on the selection split.
    let model = SentimentModel::new();
    let score = |model: &SentimentModel, rows: &[(String, String)]| -> Vec<Scored> {
        rows.iter()
            .map(|(t, l)| (model.read(t).score, l.clone(), t.clone()))
            .collect()
    };
    let plain = vader_sentimental::SentimentIntensityAnalyzer::new();
    let plain_scores = |rows: &[(String, String)]| -> Vec<Scored> {
        rows.iter()
            .map(|(t, l)| (plain.polarity_scores(t).compound, l.clone(), t.clone()))
            .collect()
    };
    println!("-- baseline: the plain vader-sentimental crate");
    report_sentiment(opts, &plain_scores(&sel), &plain_scores(&held));
    println!("-- lexicon model (VADER + support language), as shipped");
    report_sentiment(opts, &score(&model, &sel), &score(&model, &held));

    // Evaluation only, not shipped: the same calibration layer refitted on the selection
    // split's labels (negative -1, neutral 0, positive 1), to show how far the features go
    // in this domain. The airline data's licence (CC BY-NC-SA) keeps such values out of the
    // code. Thresholds come from out-of-fold scores of the selection split (5 folds).
    {
        const FOLDS: usize = 5;
        let target = |l: &str| match l {
            "negative" => -1.0,
            "positive" => 1.0,
            _ => 0.0,
        };
        let feats: Vec<_> = sel
            .iter()
            .map(|(t, l)| (model.features(t), target(l)))
            .collect();
        let mut oof: Vec<Scored> = Vec::with_capacity(sel.len());
        for fold in 0..FOLDS {
            let train: Vec<_> = feats
                .iter()
                .enumerate()
                .filter(|(i, _)| i % FOLDS != fold)
                .map(|(_, x)| *x)
                .collect();
            let cal = SentimentCalibration::fit(&train, FitOptions::all_weights());
            for (i, ((t, l), (f, _))) in sel.iter().zip(&feats).enumerate() {
                if i % FOLDS == fold {
                    oof.push((cal.score(f), l.clone(), t.clone()));
                }
            }
        }
        let cal = SentimentCalibration::fit(&feats, FitOptions::all_weights());
        let refitted = SentimentModel::new().with_calibration(cal);
        println!(
            "-- evaluation only: calibration refitted on the selection split's labels (not shipped)"
        );
        report_sentiment(opts, &oof, &score(&refitted, &held));
        if std::env::var_os("SHOW_WEIGHTS").is_some() {
            println!("   weights {:?} bias {:.3}", cal.weights, cal.bias);
        }
    }

    // Adapted: a classifier learned from the selection split's labels, blended with the
    // lexicon. Thresholds are chosen on out-of-fold scores of the selection split; the
    // held-out split is scored by a model trained on the whole selection split.
    const FOLDS: usize = 5;
    let mut oof: Vec<Scored> = Vec::with_capacity(sel.len());
    for fold in 0..FOLDS {
        let train: Vec<LabelledText> = sel
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, (t, l))| LabelledText::new(l, t))
            .collect();
        let adapted = SentimentModel::with_examples(&train)?;
        for (i, (t, l)) in sel.iter().enumerate() {
            if i % FOLDS == fold {
                oof.push((adapted.read(t).score, l.clone(), t.clone()));
            }
        }
    }
    let train: Vec<LabelledText> = sel.iter().map(|(t, l)| LabelledText::new(l, t)).collect();
    let adapted = SentimentModel::with_examples(&train)?;
    println!("-- adapted with the selection split's labels (SentimentModel::with_examples)");
    report_sentiment(opts, &oof, &score(&adapted, &held));
    Ok(())
}

fn report_sentiment(opts: &Options, sel: &[Scored], held: &[Scored]) {
    // Negative vs rest: one threshold.
    let neg_f1 = |rows: &[Scored], t: f64| {
        let mut c = Counts::default();
        for (s, label, _) in rows {
            c.add(*s < t, label == "negative");
        }
        c
    };
    let grid: Vec<f64> = (-90..=90).map(|i| f64::from(i) / 100.0).collect();
    let t_neg = grid
        .iter()
        .copied()
        .max_by(|a, b| neg_f1(sel, *a).f1().total_cmp(&neg_f1(sel, *b).f1()))
        .unwrap_or(0.0);

    // Three classes: two thresholds.
    let classify = |s: f64, lo: f64, hi: f64| {
        if s < lo {
            "negative"
        } else if s > hi {
            "positive"
        } else {
            "neutral"
        }
    };
    let macro_f1 = |rows: &[Scored], lo: f64, hi: f64| {
        // Confusion counts without allocating: classes are negative, neutral, positive.
        let idx = |l: &str| match l {
            "negative" => 0usize,
            "neutral" => 1,
            _ => 2,
        };
        let mut m = [[0usize; 3]; 3];
        for (s, l, _) in rows {
            m[idx(classify(*s, lo, hi))][idx(l)] += 1;
        }
        let correct = m[0][0] + m[1][1] + m[2][2];
        let f1s: f64 = (0..3)
            .map(|k| {
                let tp = m[k][k];
                let predicted: usize = m[k].iter().sum();
                let actual: usize = (0..3).map(|p| m[p][k]).sum();
                let (p, r) = (ratio(tp, predicted), ratio(tp, actual));
                if p + r == 0.0 {
                    0.0
                } else {
                    2.0 * p * r / (p + r)
                }
            })
            .sum();
        (ratio(correct, rows.len()), f1s / 3.0)
    };
    let mut best = (f64::MIN, 0.0, 0.0);
    for &lo in &grid {
        for &hi in grid.iter().filter(|h| **h >= lo) {
            let (_, m) = macro_f1(sel, lo, hi);
            if m > best.0 {
                best = (m, lo, hi);
            }
        }
    }
    let (_, lo, hi) = best;
    if std::env::var_os("SHOW_CONFUSION").is_some() {
        let mut m: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (s, l, _) in sel {
            *m.entry((l.as_str(), classify(*s, lo, hi))).or_default() += 1;
        }
        println!("selection confusion (rows: label, columns: predicted negative/neutral/positive)");
        for l in ["negative", "neutral", "positive"] {
            let row: Vec<String> = ["negative", "neutral", "positive"]
                .iter()
                .map(|p| format!("{:>6}", m.get(&(l, *p)).copied().unwrap_or(0)))
                .collect();
            println!("  {l:>8} {}", row.join(" "));
        }
    }
    let mut parts = vec![("selection", sel)];
    if !opts.selection_only {
        parts.push(("held-out", held));
    }
    for (name, rows) in parts {
        let c = neg_f1(rows, t_neg);
        let (acc, m) = macro_f1(rows, lo, hi);
        let always = {
            let mut c = Counts::default();
            for (_, l, _) in rows.iter() {
                c.add(true, l == "negative");
            }
            c.f1()
        };
        println!(
            "{name}: negative-vs-rest F1 {:.3} (P {:.3}, R {:.3}) at sentiment < {t_neg:.2}; always-negative baseline {:.3}",
            c.f1(),
            c.precision(),
            c.recall(),
            always
        );
        println!(
            "{name}: 3-class macro-F1 {m:.3}, accuracy {acc:.3} (negative < {lo:.2} <= neutral <= {hi:.2} < positive)"
        );
    }
    if std::env::var_os("SHOW_SENTIMENT_ERRORS").is_some() {
        for (s, l, t) in sel.iter().take(3000) {
            let p = classify(*s, lo, hi);
            if p != l {
                println!("  {s:+.2} {l:>8} as {p:<8} {t}");
            }
        }
    }
}

fn vader_groundtruth(opts: &Options) -> Res<()> {
    let dir = opts.data.join("vader_groundtruth");
    let model = SentimentModel::new();
    let plain = vader_sentimental::SentimentIntensityAnalyzer::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_GroundTruth.txt"))
        .collect();
    names.sort();
    println!("== Sentiment correlation with human ratings (vader_groundtruth, all sentences)");
    println!(
        "{:<28} {:<7} {:>22}   {:>22}",
        "", "", "Baton (Pearson/Spearman)", "plain crate (P/S)"
    );
    let (mut all_x, mut all_y, mut all_b) = (Vec::new(), Vec::new(), Vec::new());
    // Odd lines of each file: the half the shipped calibration was not fitted on.
    let (mut held_x, mut held_y, mut held_b) = (Vec::new(), Vec::new(), Vec::new());
    let mut held_files = Vec::new();
    let line = |name: &str, x: &[f64], b: &[f64], y: &[f64]| {
        println!(
            "{name:<28} n={:<5} {:>10.3} / {:<10.3}   {:>10.3} / {:<10.3}",
            x.len(),
            pearson(x, y),
            spearman(x, y),
            pearson(b, y),
            spearman(b, y)
        );
    };
    for path in names {
        let text = std::fs::read(&path)?;
        let text = String::from_utf8_lossy(&text);
        let (mut x, mut y, mut b) = (Vec::new(), Vec::new(), Vec::new());
        let mut file_held: (Vec<f64>, Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new(), Vec::new());
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
            let (score, baseline) = (
                model.read(sentence).score,
                plain.polarity_scores(sentence).compound,
            );
            if index % 2 == 1 {
                file_held.0.push(score);
                file_held.1.push(baseline);
                file_held.2.push(rating);
            }
            index += 1;
            x.push(score);
            b.push(baseline);
            y.push(rating);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace("_GroundTruth.txt", ""))
            .unwrap_or_default();
        line(&name, &x, &b, &y);
        held_x.extend(&file_held.0);
        held_b.extend(&file_held.1);
        held_y.extend(&file_held.2);
        held_files.push((name, file_held));
        all_x.extend(x);
        all_y.extend(y);
        all_b.extend(b);
    }
    line("all", &all_x, &all_b, &all_y);
    line("held-out (odd lines)", &held_x, &held_b, &held_y);
    // Per file, the odd lines only: the intensity reading was fitted on the even lines.
    for (name, (x, b, y)) in &held_files {
        line(&format!("  {name}, odd"), x, b, y);
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Issue types: cross-validated classifiers on bitext categories and banking77

fn issue_types(opts: &Options) -> Res<()> {
    println!("== Issue type classifier, 5-fold cross-validation on each data set's own labels");
    let bitext = read_csv(
        &opts
            .data
            .join("bitext/Bitext_Sample_Customer_Support_Training_Dataset.aug2023_6480rows.csv"),
        false,
    )?;
    let data: Vec<(String, String)> = bitext
        .iter()
        .map(|r| {
            (
                field(r, "instruction").to_string(),
                field(r, "category").to_string(),
            )
        })
        .collect();
    cross_validate("bitext categories", &data)?;
    let data: Vec<(String, String)> = bitext
        .iter()
        .map(|r| {
            (
                field(r, "instruction").to_string(),
                field(r, "intent").to_string(),
            )
        })
        .collect();
    cross_validate("bitext intents", &data)?;
    let banking = read_csv(&opts.data.join("banking77/train.csv"), false)?;
    let data: Vec<(String, String)> = banking
        .iter()
        .map(|r| {
            (
                field(r, "text").to_string(),
                field(r, "category").to_string(),
            )
        })
        .collect();
    cross_validate("banking77", &data)?;
    println!();
    Ok(())
}

fn cross_validate(name: &str, data: &[(String, String)]) -> Res<()> {
    const FOLDS: usize = 5;
    let mut pairs = Vec::with_capacity(data.len());
    let started = Instant::now();
    for fold in 0..FOLDS {
        let train: Vec<LabelledText> = data
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, (t, l))| LabelledText::new(l, t))
            .collect();
        let taxonomy = Taxonomy::from_labels(train.iter().map(|x| x.label.as_str()));
        let classifier = IssueClassifier::train(&taxonomy, &train)?;
        for (i, (text, label)) in data.iter().enumerate() {
            if i % FOLDS == fold {
                let p = classifier.classify(text);
                pairs.push((p.label, label.clone()));
            }
        }
    }
    let labels = {
        let mut l: Vec<&String> = data.iter().map(|(_, l)| l).collect();
        l.sort();
        l.dedup();
        l.len()
    };
    let (acc, m) = accuracy_macro_f1(&pairs);
    println!(
        "{name:<18} n={:<6} labels={labels:<3} accuracy {acc:.3}  macro-F1 {m:.3}  ({:.1} s)",
        data.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How the classifier's default settings were chosen: CLINC150's train split for training,
/// its validation split for scoring. `--only clinc`; override settings with the
/// environment variables EPOCHS, LR, L2 and CHAR_WEIGHT.
fn clinc_settings(opts: &Options) -> Res<()> {
    let raw = std::fs::read_to_string(opts.data.join("clinc150/data_full.json"))?;
    let json: serde_json::Value = serde_json::from_str(&raw)?;
    let read = |split: &str| -> Vec<(String, String)> {
        json[split]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| Some((x[0].as_str()?.to_string(), x[1].as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (train, val) = (read("train"), read("val"));
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f32>().ok());
    let mut options = TrainingOptions::default();
    if let Some(v) = env("EPOCHS") {
        options.epochs = v as usize;
    }
    if let Some(v) = env("LR") {
        options.learning_rate = v;
    }
    if let Some(v) = env("L2") {
        options.l2 = v;
    }
    if let Some(v) = env("CHAR_WEIGHT") {
        options.char_weight = v;
    }
    let started = Instant::now();
    let examples: Vec<LabelledText> = train.iter().map(|(t, l)| LabelledText::new(l, t)).collect();
    let taxonomy = Taxonomy::from_labels(examples.iter().map(|e| e.label.as_str()));
    let classifier = IssueClassifier::train_with(&taxonomy, &examples, options)?;
    let pairs: Vec<(String, String)> = val
        .iter()
        .map(|(t, l)| (classifier.classify(t).label, l.clone()))
        .collect();
    let (acc, m) = accuracy_macro_f1(&pairs);
    println!(
        "clinc150 val ({options:?}): accuracy {acc:.3} macro-F1 {m:.3} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
