//! Measures retrieval and confidence on public data sets: clinc150 (full and with five
//! example questions per intent), BANKING77-OOS and StackFAQ, plus the "does this turn ask
//! something" detector on clinc150's small-talk intents.
//!
//! ```text
//! cargo run --release -p baton-kb --example evaluate -- ../shared/data/dev
//! ```
//!
//! Thresholds are chosen on validation splits only; figures are reported on test splits
//! (validation for BANKING77-OOS, which has no test split here).
//!
//! With `--dense MODEL_DIR` (needs the `local-embeddings` feature) every index embeds its
//! phrasings with the sentence-embedding model in that folder and ranks with dense similarity
//! fused in; the figures are the same ones, with dense retrieval:
//!
//! ```text
//! cargo run --release -p baton-kb --features local-embeddings --example evaluate -- \
//!     ../shared/data/dev --dense /path/to/all-MiniLM-L6-v2
//! ```
//!
//! A second argument runs one part only: `clinc`, `clinc-small`, `banking`, `stackfaq` or
//! `question`. For development: `QUICK=1` reports clinc150 on the validation split only
//! (`SHOW_ERRORS=1` lists its misses), `SHOW_CALIBRATION=1` prints the fitted calibration,
//! `BATON_KB_CALIBRATION=FILE` replaces the default calibration with one from a JSON file,
//! `NOFIT=1` skips fitting on the clinc150 knowledge base (its rows repeat the default),
//! and `QUESTION_SPLIT=train` runs the question detector on the training split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use baton_kb::{
    Article, Calibration, ConfidenceCoefficients, Embedder, FitOptions, IndexOptions, KbIndex,
    RankingWeights, asks_something, fit_on_kb_with,
};

type Error = Box<dyn std::error::Error>;

/// The embedder given with `--dense`, behind a cache (the same queries are asked once per
/// calibration).
static EMBEDDER: OnceLock<Option<Arc<dyn Embedder>>> = OnceLock::new();

fn embedder() -> Option<Arc<dyn Embedder>> {
    EMBEDDER.get().cloned().flatten()
}

#[cfg(feature = "local-embeddings")]
fn load_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, Error> {
    let model = baton_kb::LocalEmbeddings::load(dir)?;
    Ok(Arc::new(baton_kb::CachedEmbedder::new(
        Arc::new(model),
        usize::MAX,
    )))
}

#[cfg(not(feature = "local-embeddings"))]
fn load_embedder(_dir: &Path) -> Result<Arc<dyn Embedder>, Error> {
    Err("--dense needs the local-embeddings feature: cargo run --features local-embeddings".into())
}

/// An index of `articles`, dense when `--dense` was given.
fn build(articles: &[Article]) -> Result<KbIndex, Error> {
    Ok(match embedder() {
        Some(embedder) => {
            KbIndex::build_with_embedder(articles, IndexOptions::default(), embedder)?
        }
        None => KbIndex::build(articles, IndexOptions::default())?,
    })
}

/// A calibration fitted on `articles`, dense weights included when `--dense` was given.
fn fit(articles: &[Article]) -> Result<Calibration, Error> {
    let options = FitOptions {
        embedder: embedder(),
        ..FitOptions::default()
    };
    Ok(fit_on_kb_with(articles, IndexOptions::default(), &options)?)
}

/// The embeddings of `queries` (all `None` without `--dense`), computed in one batch.
fn query_vectors(
    index: &KbIndex,
    queries: &[(String, String)],
) -> Result<Vec<Option<Vec<f32>>>, Error> {
    Ok(match index.embedder() {
        Some(embedder) => {
            let texts: Vec<&str> = queries.iter().map(|(t, _)| t.as_str()).collect();
            embedder.embed(&texts)?.into_iter().map(Some).collect()
        }
        None => vec![None; queries.len()],
    })
}

/// The shipped default calibration, or the one in the JSON file named by
/// `BATON_KB_CALIBRATION` (to compare candidates).
fn default_calibration() -> Calibration {
    std::env::var("BATON_KB_CALIBRATION")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn main() -> Result<(), Error> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let dense = match args.iter().position(|a| a == "--dense") {
        Some(i) if i + 1 < args.len() => {
            let dir = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            Some(dir)
        }
        Some(_) => return Err("--dense needs a model folder".into()),
        None => None,
    };
    let embedder = match &dense {
        Some(dir) => {
            println!("dense retrieval with the model in {}", dir.display());
            Some(load_embedder(dir)?)
        }
        None => None,
    };
    let _ = EMBEDDER.set(embedder);
    let data = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/dev"));
    let only: Option<String> = args.get(1).cloned();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("clinc") {
        clinc(&data, None)?;
    }
    if run("clinc-small") {
        clinc(&data, Some(5))?;
    }
    if run("banking") {
        banking(&data)?;
    }
    if run("stackfaq") {
        stackfaq(&data)?;
    }
    if run("question") {
        question(&data)?;
    }
    Ok(())
}

/// Plain BM25 over title, body and questions, for comparison.
fn bm25_only() -> Calibration {
    Calibration {
        ranking: RankingWeights {
            word_max: 0.0,
            char_max: 0.0,
            word_centroid: 0.0,
            char_centroid: 0.0,
            coverage: 0.0,
            bm25: 1.0,
            neighbours: 0.0,
            votes: 0.0,
            best_coverage: 0.0,
            dense_max: 0.0,
            dense_centroid: 0.0,
        },
        confidence: ConfidenceCoefficients {
            intercept: -3.0,
            top_score: 0.0,
            margin: 0.0,
            top_probability: 0.0,
            coverage: 0.0,
            char_max: 0.0,
            word_max: 0.0,
            bm25: 10.0,
            dense: 0.0,
        },
        ..Calibration::default()
    }
}

type Labeled = Vec<(String, String)>;

fn read_clinc(data: &Path) -> Result<BTreeMap<String, Labeled>, Error> {
    let text = std::fs::read_to_string(data.join("clinc150/data_full.json"))?;
    let raw: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(&text)?;
    Ok(raw)
}

/// One article per intent: its training utterances as example questions.
fn intent_articles(train: &[(String, String)], per_intent: Option<usize>) -> Vec<Article> {
    let mut by_intent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (text, intent) in train {
        by_intent.entry(intent).or_default().push(text);
    }
    by_intent
        .into_iter()
        .map(|(intent, texts)| {
            let name = intent.replace('_', " ");
            let take = per_intent.unwrap_or(texts.len());
            Article::new(intent, name.clone(), format!("How to help with: {name}."))
                .with_questions(texts.into_iter().take(take))
        })
        .collect()
}

/// (confidence, correct top-1, in scope) per query.
struct Judged {
    confidence: f64,
    correct: bool,
    in_scope: bool,
}

fn judge(
    index: &KbIndex,
    calibration: &Calibration,
    queries: &[(String, String)],
    oos_label: &str,
) -> Result<Vec<Judged>, Error> {
    let mut out = Vec::with_capacity(queries.len());
    let vectors = query_vectors(index, queries)?;
    for ((text, label), vector) in queries.iter().zip(&vectors) {
        let r = index.retrieve_with(text, 1, calibration, vector.as_deref())?;
        let top = r.hits.first().map(|h| h.id.as_str());
        out.push(Judged {
            confidence: r.confidence.unwrap_or(0.0),
            correct: top == Some(label.as_str()),
            in_scope: label != oos_label,
        });
    }
    Ok(out)
}

/// Area under the ROC curve of `score` separating positives from negatives (ties count half).
fn auroc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|x| x.1).count() as f64 * average_rank;
        i = j + 1;
    }
    let p = positives.len() as f64;
    let n = negatives.len() as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

fn accuracy(judged: &[Judged]) -> f64 {
    let in_scope: Vec<&Judged> = judged.iter().filter(|j| j.in_scope).collect();
    in_scope.iter().filter(|j| j.correct).count() as f64 / in_scope.len().max(1) as f64
}

fn oos_auroc(judged: &[Judged]) -> f64 {
    let pos: Vec<f64> = judged
        .iter()
        .filter(|j| j.in_scope)
        .map(|j| j.confidence)
        .collect();
    let neg: Vec<f64> = judged
        .iter()
        .filter(|j| !j.in_scope)
        .map(|j| j.confidence)
        .collect();
    auroc(&pos, &neg)
}

/// The highest threshold that keeps in-scope accuracy (rejected counts as wrong) within one
/// point of accuracy without rejection.
fn choose_threshold(judged: &[Judged]) -> f64 {
    let base = accuracy(judged);
    let in_scope: Vec<&Judged> = judged.iter().filter(|j| j.in_scope).collect();
    let mut candidates: Vec<f64> = in_scope.iter().map(|j| j.confidence).collect();
    candidates.sort_by(|a, b| a.total_cmp(b));
    candidates.dedup();
    let mut best = 0.0;
    for &t in &candidates {
        let kept = in_scope
            .iter()
            .filter(|j| j.correct && j.confidence >= t)
            .count() as f64
            / in_scope.len().max(1) as f64;
        if kept >= base - 0.01 {
            best = t;
        } else {
            break;
        }
    }
    best
}

fn at_threshold(judged: &[Judged], t: f64) -> (f64, f64) {
    let in_scope: Vec<&Judged> = judged.iter().filter(|j| j.in_scope).collect();
    let oos: Vec<&Judged> = judged.iter().filter(|j| !j.in_scope).collect();
    let accuracy = in_scope
        .iter()
        .filter(|j| j.correct && j.confidence >= t)
        .count() as f64
        / in_scope.len().max(1) as f64;
    let recall = oos.iter().filter(|j| j.confidence < t).count() as f64 / oos.len().max(1) as f64;
    (accuracy, recall)
}

fn clinc(data: &Path, per_intent: Option<usize>) -> Result<(), Error> {
    let sets = read_clinc(data)?;
    let get = |name: &str| sets.get(name).cloned().unwrap_or_default();
    let articles = intent_articles(&get("train"), per_intent);
    let mut validation = get("val");
    validation.extend(get("oos_val"));
    let mut test = get("test");
    test.extend(get("oos_test"));
    let title = match per_intent {
        None => "clinc150 (full: 100 example questions per intent)".to_string(),
        Some(n) => format!("clinc150, small knowledge base ({n} example questions per intent)"),
    };
    println!("\n## {title}\n");
    let started = Instant::now();
    let index = build(&articles)?;
    println!("index built in {:.2} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let fitted = if std::env::var_os("NOFIT").is_some() {
        default_calibration()
    } else {
        fit(&articles)?
    };
    println!(
        "fit on the knowledge base in {:.1} s ({} positives, {} negatives)",
        started.elapsed().as_secs_f64(),
        fitted.fitted.positives,
        fitted.fitted.negatives
    );
    if std::env::var_os("SHOW_CALIBRATION").is_some() {
        println!("{}", serde_json::to_string_pretty(&fitted)?);
    }
    if std::env::var_os("QUICK").is_some() {
        for (name, calibration) in [("default", default_calibration()), ("fitted", fitted)] {
            let val = judge(&index, &calibration, &validation, "oos")?;
            println!(
                "VAL {name}: accuracy {:.4} auroc {:.4}",
                accuracy(&val),
                oos_auroc(&val)
            );
            if std::env::var_os("SHOW_ERRORS").is_some() && name == "fitted" {
                let vectors = query_vectors(&index, &validation)?;
                for ((text, label), vector) in validation.iter().zip(&vectors) {
                    if label == "oos" {
                        continue;
                    }
                    let r = index.retrieve_with(text, 2, &calibration, vector.as_deref())?;
                    let top = r.hits.first().map(|h| h.id.as_str()).unwrap_or("-");
                    if top != label {
                        eprintln!(
                            "{text:?} truth={label} got={top} second={:?}",
                            r.hits.get(1).map(|h| h.id.as_str())
                        );
                    }
                }
            }
        }
        return Ok(());
    }
    println!();
    println!(
        "| calibration | in-scope top-1 accuracy | OOS AUROC | threshold (val) | OOS recall at threshold | in-scope accuracy at threshold |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, calibration) in [
        ("plain BM25", bm25_only()),
        ("default", default_calibration()),
        ("fitted on the KB", fitted),
    ] {
        let val = judge(&index, &calibration, &validation, "oos")?;
        let threshold = choose_threshold(&val);
        let started = Instant::now();
        let judged = judge(&index, &calibration, &test, "oos")?;
        let per_query = started.elapsed().as_secs_f64() / test.len() as f64;
        let (acc_t, recall_t) = at_threshold(&judged, threshold);
        println!(
            "| {name} | {:.4} | {:.4} | {:.3} | {:.4} | {:.4} |",
            accuracy(&judged),
            oos_auroc(&judged),
            threshold,
            recall_t,
            acc_t
        );
        eprintln!("  ({name}: {:.3} ms per query)", per_query * 1000.0);
    }
    Ok(())
}

fn read_lines(path: &Path) -> Result<Vec<String>, Error> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .map(str::to_string)
        .collect())
}

fn read_pairs(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let texts = read_lines(&dir.join("seq.in"))?;
    let labels = read_lines(&dir.join("label"))?;
    Ok(texts.into_iter().zip(labels).collect())
}

fn banking(data: &Path) -> Result<(), Error> {
    let root = data.join("banking77_oos/BANKING77-OOS");
    let train = read_pairs(&root.join("train"))?;
    let valid = read_pairs(&root.join("valid"))?;
    let id_oos = read_pairs(&root.join("id-oos/valid"))?;
    let ood_oos = read_pairs(&root.join("ood-oos/valid"))?;
    let articles = intent_articles(&train, None);
    let index = build(&articles)?;
    let fitted = fit(&articles)?;
    println!(
        "\n## BANKING77-OOS (validation split; knowledge base from the 50 in-scope intents of train)\n"
    );
    println!("| calibration | in-scope top-1 accuracy | AUROC id-oos | AUROC ood-oos |");
    println!("| --- | --- | --- | --- |");
    for (name, calibration) in [
        ("plain BM25", bm25_only()),
        ("default", default_calibration()),
        ("fitted on the KB", fitted),
    ] {
        let judged_in = judge(&index, &calibration, &valid, "oos")?;
        let judged_id = judge(&index, &calibration, &id_oos, "oos")?;
        let judged_ood = judge(&index, &calibration, &ood_oos, "oos")?;
        let pos: Vec<f64> = judged_in.iter().map(|j| j.confidence).collect();
        let id: Vec<f64> = judged_id.iter().map(|j| j.confidence).collect();
        let ood: Vec<f64> = judged_ood.iter().map(|j| j.confidence).collect();
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            accuracy(&judged_in),
            auroc(&pos, &id),
            auroc(&pos, &ood)
        );
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct StackFaq {
    root: StackRoot,
}

#[derive(serde::Deserialize)]
struct StackRoot {
    qapair: Vec<StackPair>,
}

#[derive(serde::Deserialize)]
struct StackPair {
    question: String,
    #[serde(default)]
    answer: OneOrMany,
    #[serde(default)]
    rephr: OneOrMany,
}

/// The file has a list where an entry has several answers (or paraphrases), a string where
/// it has one, and the odd `null` in a list.
#[derive(serde::Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Option<String>>),
    One(String),
    #[default]
    None,
}

impl OneOrMany {
    fn items(&self) -> Vec<&str> {
        match self {
            Self::Many(items) => items.iter().flatten().map(String::as_str).collect(),
            Self::One(item) => vec![item.as_str()],
            Self::None => Vec::new(),
        }
    }
}

fn stackfaq(data: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(data.join("stackfaq/stackExchange-FAQ.json"))?;
    let faq: StackFaq = serde_json::from_str(&text)?;
    // The FAQ entries are the articles (question as title, answers as body); the paraphrases
    // are the queries and never enter the index.
    let articles: Vec<Article> = faq
        .root
        .qapair
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Article::new(
                format!("faq-{i}"),
                p.question.clone(),
                p.answer.items().join("\n\n"),
            )
        })
        .collect();
    let queries: Vec<(String, String)> = faq
        .root
        .qapair
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.rephr
                .items()
                .into_iter()
                .map(str::trim)
                .filter(|r| r.chars().any(char::is_alphanumeric))
                .map(move |r| (r.to_string(), format!("faq-{i}")))
        })
        .collect();
    let index = build(&articles)?;
    println!(
        "\n## StackFAQ ({} FAQ entries indexed by question and answers; {} paraphrases as queries)\n",
        articles.len(),
        queries.len()
    );
    println!("| ranking | MRR | recall@1 | recall@5 |");
    println!("| --- | --- | --- | --- |");
    for (name, calibration) in [
        ("plain BM25", bm25_only()),
        ("default", default_calibration()),
    ] {
        let mut reciprocal = 0.0;
        let mut at1 = 0;
        let mut at5 = 0;
        let vectors = query_vectors(&index, &queries)?;
        for ((text, id), vector) in queries.iter().zip(&vectors) {
            let hits = index
                .retrieve_with(text, 50, &calibration, vector.as_deref())?
                .hits;
            if let Some(rank) = hits.iter().position(|h| &h.id == id) {
                reciprocal += 1.0 / (rank as f64 + 1.0);
                at1 += usize::from(rank == 0);
                at5 += usize::from(rank < 5);
            }
        }
        let n = queries.len() as f64;
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            reciprocal / n,
            at1 as f64 / n,
            at5 as f64 / n
        );
    }
    Ok(())
}

fn question(data: &Path) -> Result<(), Error> {
    let sets = read_clinc(data)?;
    let phatic = ["greeting", "goodbye", "thank_you", "yes", "no", "maybe"];
    println!("\n## Does the turn ask something? (clinc150 test split)\n");
    println!(
        "Intents {phatic:?} count as asking nothing; every other intent, and out-of-scope queries, as asking something.\n"
    );
    // QUESTION_SPLIT=train looks at the training split while developing the detector.
    let split = std::env::var("QUESTION_SPLIT").unwrap_or_else(|_| "test".into());
    let mut test = sets.get(split.as_str()).cloned().unwrap_or_default();
    test.extend(
        sets.get(&format!("oos_{split}"))
            .cloned()
            .unwrap_or_default(),
    );
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    let mut wrong: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (text, intent) in &test {
        let expected = !phatic.contains(&intent.as_str());
        let got = asks_something(text);
        match (expected, got) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
        if expected != got {
            wrong
                .entry(intent.as_str())
                .or_default()
                .push(text.as_str());
        }
    }
    println!("| | asks something (expected) | asks nothing (expected) |");
    println!("| --- | --- | --- |");
    println!("| detected: asks something | {tp} | {fp} |");
    println!("| detected: asks nothing | {fn_} | {tn} |");
    println!(
        "\naccuracy {:.4}; asks-nothing recall {:.4}, precision {:.4}",
        (tp + tn) as f64 / test.len() as f64,
        tn as f64 / (tn + fp).max(1) as f64,
        tn as f64 / (tn + fn_).max(1) as f64
    );
    if std::env::var_os("SHOW_ERRORS").is_some() {
        for (intent, texts) in wrong {
            eprintln!("{intent}: {texts:?}");
        }
    }
    Ok(())
}
