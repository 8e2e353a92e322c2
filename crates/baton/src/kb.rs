//! `baton kb`: import, search and calibrate the stored knowledge base.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use baton_kb::{Article, Embedder, FitOptions, IndexOptions, KbIndex, asks_something};
use baton_server::knowledge;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum KbCommand {
    /// Import articles from a folder of Markdown files, a .jsonl or a .csv file. Articles are
    /// upserted by id; with --prune, stored articles missing from the source are retired.
    Import {
        path: PathBuf,
        #[arg(long)]
        prune: bool,
    },
    /// Search the stored knowledge base as the AI would.
    Search {
        text: String,
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Fit the confidence model on the knowledge base itself (leave-one-out over its example
    /// questions), or on labelled questions with --labeled FILE (JSON Lines
    /// `{"text", "article_id" | null}`), and store it with the current revision.
    Calibrate {
        #[arg(long)]
        labeled: Option<PathBuf>,
    },
    /// List the stored articles.
    List,
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(message.to_string());
    bar
}

pub async fn run(config: baton_server::Config, command: KbCommand) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(&config).await?;
    let result = run_with(&*store, &config, command).await;
    store.close().await;
    result
}

async fn run_with(
    store: &dyn baton_store::Store,
    config: &baton_server::Config,
    command: KbCommand,
) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    match command {
        KbCommand::Import { path, prune } => {
            let bar = spinner(&format!("reading {}", path.display()));
            let articles = match baton_kb::import_path(&path) {
                Ok(articles) => articles,
                Err(e) => {
                    bar.finish_and_clear();
                    bail!("{e}");
                }
            };
            bar.set_message(format!("saving {} articles", articles.len()));
            let note = format!("import {}", path.display());
            let result =
                knowledge::write_articles(store, &articles, Vec::new(), prune, &note, now).await?;
            bar.finish_and_clear();
            println!(
                "imported {} articles from {}: {} created, {} updated, {} unchanged, {} retired; knowledge base at revision {}",
                articles.len(),
                path.display(),
                result.created.len(),
                result.updated.len(),
                result.unchanged.len(),
                result.retired.len(),
                result.revision
            );
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Search { text, limit } => {
            let embedder = embedder(config)?;
            let index = stored_index(store, embedder).await?;
            if index.is_empty() {
                bail!("the knowledge base is empty: import articles with `baton kb import PATH`");
            }
            let found = tokio::task::block_in_place(|| index.retrieve(&text, limit.max(1)))?;
            let asks = asks_something(&text);
            for (rank, hit) in found.hits.iter().enumerate() {
                println!(
                    "{:>2}. {:<32} {:>7.3}  {}",
                    rank + 1,
                    hit.id,
                    hit.score,
                    hit.title
                );
            }
            match (asks, found.confidence) {
                (false, _) => println!("this text asks nothing: no confidence judgement"),
                (true, Some(c)) => println!("confidence that the first article answers: {c:.3}"),
                (true, None) => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Calibrate { labeled } => {
            let articles = knowledge::stored_articles(store).await?;
            if articles.len() < 2 {
                bail!("calibration needs at least two articles in the knowledge base");
            }
            let revision = store.kb_revision().await?;
            let samples = labeled.as_deref().map(read_labeled).transpose()?;
            let embedder = embedder(config)?;
            let dense = embedder.as_ref().map(|e| e.describe());
            let bar = spinner("fitting the confidence model");
            // With embeddings configured the dense similarity is fitted as a feature too, so
            // the stored numbers match how the server ranks.
            let fitted = tokio::task::block_in_place(|| match samples {
                None => {
                    let fit = FitOptions {
                        embedder,
                        ..FitOptions::default()
                    };
                    baton_kb::fit_on_kb_with(&articles, IndexOptions::default(), &fit)
                }
                Some(samples) => build_index(&articles, embedder)
                    .and_then(|index| baton_kb::fit_labeled(&index, &samples)),
            });
            bar.finish_and_clear();
            let calibration = fitted?;
            store
                .kb_save_calibration(revision, serde_json::to_value(&calibration)?, now)
                .await?;
            let features = match &dense {
                Some(model) => format!("lexical and dense features, {model}"),
                None => "lexical features".to_string(),
            };
            println!(
                "calibrated on {} positive and {} negative questions ({}; {features}); stored with knowledge-base revision {revision}",
                calibration.fitted.positives,
                calibration.fitted.negatives,
                calibration.fitted.method
            );
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::List => {
            for article in knowledge::stored_articles(store).await? {
                println!(
                    "{}\t{}\t{}",
                    article.id,
                    article.issue_type.as_deref().unwrap_or("-"),
                    article.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The embedder `[knowledge.embeddings]` names, if any (loading a local model takes seconds).
fn embedder(config: &baton_server::Config) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    Ok(config.knowledge.embeddings.embedder()?)
}

/// An index of `articles`, dense when an embedder is given. Embedding blocks.
fn build_index(
    articles: &[Article],
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<KbIndex, baton_kb::IndexError> {
    match embedder {
        Some(embedder) => KbIndex::build_with_embedder(articles, IndexOptions::default(), embedder),
        None => KbIndex::build(articles, IndexOptions::default()),
    }
}

async fn stored_index(
    store: &dyn baton_store::Store,
    embedder: Option<Arc<dyn Embedder>>,
) -> anyhow::Result<KbIndex> {
    let articles = knowledge::stored_articles(store).await?;
    let mut index = tokio::task::block_in_place(|| build_index(&articles, embedder))?;
    index.set_calibration(knowledge::stored_calibration(store).await?);
    Ok(index)
}

/// Reads `{"text", "article_id" | null}` lines; errors name the file and line.
fn read_labeled(path: &std::path::Path) -> anyhow::Result<Vec<(String, Option<String>)>> {
    #[derive(serde::Deserialize)]
    struct Labeled {
        text: String,
        article_id: Option<String>,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labeled = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: expected {{\"text\", \"article_id\"}}",
                path.display(),
                n + 1
            )
        })?;
        out.push((item.text, item.article_id));
    }
    if out.is_empty() {
        bail!("{}: no labelled questions", path.display());
    }
    Ok(out)
}
