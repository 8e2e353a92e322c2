//! `baton analyze`: reads JSON Lines (single texts or whole conversations) and writes, for each
//! line, what Baton reads off the customer's turns and what it decides. The contract is in
//! DESIGN.md ("Contracts"); evaluation harnesses depend on it.
//!
//! Lines are judged in batches spread over the machine's cores; the output keeps the input's
//! order.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use baton_core::Role;
use baton_core::policy::{CustomerContext, Policy};
use baton_core::signals::{SignalEngine, Taxonomy, Turn, TurnSignals};
use baton_core::{Decision, TriggerKind};
use baton_kb::{IndexOptions, KbIndex};
use baton_server::analysis::{Judge, JudgedTurn, first_escalation};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Read from this file instead of standard input.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Knowledge base to retrieve from: a folder of Markdown files, a .jsonl or a .csv file.
    /// Without it (and without --database) there is no knowledge base and no confidence.
    #[arg(long)]
    kb: Option<PathBuf>,
    /// Escalation policy file (TOML; see docs/POLICY.md). Default: the built-in policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Issue taxonomy (TOML or JSON with `types`), instead of the policy's or the built-in one.
    #[arg(long)]
    taxonomy: Option<PathBuf>,
    /// The clock (RFC 3339) for time-of-day rules and messages without `at`. Default: now.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// One input line. Fields beyond the contract's (labels kept by an evaluation harness, say)
/// are ignored.
#[derive(Deserialize)]
struct InputLine {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    messages: Option<Vec<InputMessage>>,
    #[serde(default)]
    customer: Option<InputCustomer>,
}

#[derive(Deserialize)]
struct InputMessage {
    role: Role,
    text: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    /// Article ids an AI message served (as `baton export` writes them); optional.
    #[serde(default)]
    articles: Vec<String>,
}

#[derive(Deserialize, Default)]
struct InputCustomer {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    customer_age_days: Option<f64>,
    #[serde(default)]
    signup_at: Option<DateTime<Utc>>,
    #[serde(default)]
    attrs: serde_json::Map<String, Value>,
}

#[derive(Serialize)]
struct TextOutput<'a> {
    id: &'a Value,
    signals: &'a TurnSignals,
    decision: &'a Decision,
}

#[derive(Serialize)]
struct TurnOutput<'a> {
    index: usize,
    signals: &'a TurnSignals,
    decision: &'a Decision,
}

#[derive(Serialize)]
struct ConversationOutput<'a> {
    id: &'a Value,
    signals: &'a TurnSignals,
    decision: &'a Decision,
    turns: Vec<TurnOutput<'a>>,
    first_escalation_turn: Option<usize>,
    first_escalation_triggers: Vec<TriggerKind>,
}

#[derive(Serialize)]
struct ErrorOutput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    line: usize,
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
}

/// Everything that judges a turn, loaded once.
pub struct Judging {
    pub engine: SignalEngine,
    pub kb: Option<KbIndex>,
    pub kb_revision: Option<i64>,
    pub policy: Policy,
}

impl Judging {
    pub fn judge(&self) -> Judge<'_> {
        Judge {
            engine: &self.engine,
            kb: self.kb.as_ref(),
            kb_revision: self.kb_revision,
            policy: &self.policy,
        }
    }
}

/// Reads a policy file, naming the file and line on error.
pub fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Reads a taxonomy file (TOML or JSON), naming the file on error.
fn read_taxonomy(path: &Path) -> anyhow::Result<Taxonomy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the taxonomy file {}", path.display()))?;
    let taxonomy: Taxonomy = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: line {}: {e}", path.display(), e.line()))?
    } else {
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            match line {
                Some(l) => anyhow::anyhow!("{}: line {l}: {}", path.display(), e.message()),
                None => anyhow::anyhow!("{}: {}", path.display(), e.message()),
            }
        })?
    };
    taxonomy
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(taxonomy)
}

/// Loads the policy, the taxonomy and the knowledge base that `args` name.
pub async fn load_judging(
    kb: Option<&Path>,
    policy: Option<&Path>,
    taxonomy: Option<&Path>,
    database: Option<&baton_server::Config>,
) -> anyhow::Result<Judging> {
    let policy = match policy {
        Some(path) => read_policy(path)?,
        None => Policy::builtin(),
    };
    let (kb, kb_revision) = load_kb(kb, database).await?;
    // The issue-type classifier also learns from the knowledge base's example questions, as
    // the server's does.
    let examples = kb
        .as_ref()
        .map(|kb| baton_server::policy::kb_examples(kb.articles()))
        .unwrap_or_default();
    let engine = match taxonomy {
        Some(path) => baton_server::policy::engine_with_taxonomy(&read_taxonomy(path)?, &examples)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        None => baton_server::policy::engine_for(&policy, &examples)?,
    };
    Ok(Judging {
        engine,
        kb,
        kb_revision,
        policy,
    })
}

/// Loads the knowledge base named by `--kb`, or the stored one when a database was named.
/// Retrieval is dense when the configuration (`--config`) names embeddings, as in the server.
async fn load_kb(
    kb: Option<&Path>,
    database: Option<&baton_server::Config>,
) -> anyhow::Result<(Option<KbIndex>, Option<i64>)> {
    if let Some(path) = kb {
        let articles = baton_kb::import_path(path)?;
        let embeddings = database.map(|config| &config.knowledge.embeddings);
        let index = build_index(&articles, IndexOptions::default(), embeddings)?;
        return Ok((Some(index), None));
    }
    let Some(config) = database else {
        return Ok((None, None));
    };
    let store = crate::open_store(config).await?;
    let revision = store.kb_revision().await?;
    let articles = baton_server::knowledge::stored_articles(&*store).await?;
    let calibration = baton_server::knowledge::stored_calibration(&*store).await?;
    store.close().await;
    let mut index = build_index(
        &articles,
        config.knowledge.index_options()?,
        Some(&config.knowledge.embeddings),
    )?;
    index.set_calibration(calibration);
    Ok((Some(index), Some(revision)))
}

/// An index of `articles`, with the embedder `embeddings` names if any. Loading a local model
/// and embedding the articles block, so they run where blocking is allowed.
fn build_index(
    articles: &[baton_kb::Article],
    options: IndexOptions,
    embeddings: Option<&baton_server::config::EmbeddingsConfig>,
) -> anyhow::Result<KbIndex> {
    tokio::task::block_in_place(|| -> anyhow::Result<KbIndex> {
        let embedder = match embeddings {
            Some(embeddings) => embeddings.embedder()?,
            None => None,
        };
        Ok(match embedder {
            Some(embedder) => KbIndex::build_with_embedder(articles, options, embedder)?,
            None => KbIndex::build(articles, options)?,
        })
    })
}

pub async fn run(
    args: AnalyzeArgs,
    database: Option<baton_server::Config>,
) -> anyhow::Result<ExitCode> {
    let judging = load_judging(
        args.kb.as_deref(),
        args.policy.as_deref(),
        args.taxonomy.as_deref(),
        database.as_ref(),
    )
    .await?;
    let clock = args.now.unwrap_or_else(Utc::now);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let reader: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let judge = judging.judge();
    let failed = tokio::task::block_in_place(|| {
        process(reader, &mut out, threads, |number, line| {
            analyze_line(&judge, clock, number, line)
        })
    })?;
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lines handed to the workers at once.
const BATCH: usize = 512;

/// Reads numbered lines, judges them `threads` at a time with `work`, writes the results in
/// input order. Returns whether any line failed. Blank lines are skipped.
pub fn process<W: Write>(
    reader: impl BufRead,
    out: &mut W,
    threads: usize,
    work: impl Fn(usize, &str) -> Result<String, String> + Sync,
) -> anyhow::Result<bool> {
    let mut failed = false;
    let mut batch: Vec<(usize, String)> = Vec::with_capacity(BATCH);
    let mut lines = reader.lines().enumerate();
    loop {
        batch.clear();
        for (n, line) in lines.by_ref() {
            let number = n + 1;
            let line = line.with_context(|| format!("cannot read input line {number}"))?;
            if line.trim().is_empty() {
                continue;
            }
            batch.push((number, line));
            if batch.len() == BATCH {
                break;
            }
        }
        if batch.is_empty() {
            return Ok(failed);
        }
        let results: Vec<Result<String, String>> = if threads <= 1 || batch.len() < 8 {
            batch.iter().map(|(n, l)| work(*n, l)).collect()
        } else {
            let chunk = batch.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .chunks(chunk)
                    .map(|part| {
                        let work = &work;
                        scope.spawn(move || {
                            part.iter().map(|(n, l)| work(*n, l)).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join()
                            .unwrap_or_else(|_| vec![Err("a worker thread failed".to_string())])
                    })
                    .collect()
            })
        };
        for r in results {
            match r {
                Ok(json) => writeln!(out, "{json}")?,
                Err(json) => {
                    failed = true;
                    writeln!(out, "{json}")?;
                }
            }
        }
    }
}

/// Judges one line; `Err` holds the error line to print in its place.
fn analyze_line(
    judge: &Judge<'_>,
    clock: DateTime<Utc>,
    number: usize,
    line: &str,
) -> Result<String, String> {
    let error = |id: Option<&Value>, code: &'static str, message: String| {
        serde_json::to_string(&ErrorOutput {
            id,
            line: number,
            error: ErrorDetail { code, message },
        })
        .unwrap_or_else(|_| {
            format!("{{\"line\":{number},\"error\":{{\"code\":\"internal\",\"message\":\"\"}}}}")
        })
    };
    let raw: Value = serde_json::from_str(line)
        .map_err(|e| error(None, "malformed_json", format!("not valid JSON: {e}")))?;
    let id = raw.get("id").cloned();
    let input: InputLine = serde_json::from_value(raw)
        .map_err(|e| error(id.as_ref(), "invalid_line", e.to_string()))?;
    let id = input.id.unwrap_or(Value::Null);
    let fail = |code: &'static str, message: &str| error(Some(&id), code, message.to_string());
    let to_json = |v: Result<String, serde_json::Error>| {
        v.map_err(|e| error(None, "internal", format!("cannot write the result: {e}")))
    };
    let customer = |at: DateTime<Utc>| -> Result<CustomerContext, String> {
        let c = input.customer.as_ref();
        let age = match (
            c.and_then(|c| c.customer_age_days),
            c.and_then(|c| c.signup_at),
        ) {
            (Some(days), _) if days.is_finite() && days >= 0.0 => Some(days.floor() as i64),
            (Some(_), _) => {
                return Err(fail(
                    "invalid_line",
                    "customer.customer_age_days must be a number of days, 0 or more",
                ));
            }
            (None, Some(signup)) => Some((at - signup).num_days().max(0)),
            (None, None) => None,
        };
        Ok(CustomerContext {
            tier: c.and_then(|c| c.tier.clone()),
            customer_age_days: age,
            attrs: c.map(|c| c.attrs.clone()).unwrap_or_default(),
        })
    };
    match (&input.text, &input.messages) {
        (Some(text), None) => {
            if text.trim().is_empty() {
                return Err(fail("invalid_line", "text is empty"));
            }
            let turns = [Turn::customer(text.clone()).at(clock)];
            let judged = judge.conversation(&turns, &customer(clock)?, clock);
            let Some(turn) = judged.first() else {
                return Err(fail("invalid_line", "text is empty"));
            };
            to_json(serde_json::to_string(&TextOutput {
                id: &id,
                signals: &turn.signals,
                decision: &turn.decision,
            }))
        }
        (None, Some(messages)) => {
            if messages.is_empty() {
                return Err(fail("invalid_line", "messages is empty"));
            }
            let turns: Vec<Turn> = messages
                .iter()
                .map(|m| {
                    Turn::new(m.role, m.text.clone())
                        .at(m.at.unwrap_or(clock))
                        .with_articles(m.articles.iter().cloned())
                })
                .collect();
            let last_at = turns.iter().rev().find_map(|t| t.at).unwrap_or(clock);
            let judged = judge.conversation(&turns, &customer(last_at)?, clock);
            let Some(last) = judged.last() else {
                return Err(fail(
                    "invalid_line",
                    "the conversation has no customer message to judge",
                ));
            };
            let (first_escalation_turn, first_escalation_triggers) = first_escalation(&judged);
            to_json(serde_json::to_string(&ConversationOutput {
                id: &id,
                signals: &last.signals,
                decision: &last.decision,
                turns: judged.iter().map(turn_output).collect(),
                first_escalation_turn,
                first_escalation_triggers,
            }))
        }
        (Some(_), Some(_)) => Err(fail(
            "invalid_line",
            "a line has either text or messages, not both",
        )),
        (None, None) => Err(fail(
            "invalid_line",
            "a line needs text (one turn) or messages (a conversation)",
        )),
    }
}

fn turn_output(t: &JudgedTurn) -> TurnOutput<'_> {
    TurnOutput {
        index: t.index,
        signals: &t.signals,
        decision: &t.decision,
    }
}
