//! `baton analyze`: reads JSON Lines (single texts or whole conversations) and writes, for each
//! line, what Baton reads off the customer's turns. The contract is in DESIGN.md
//! ("Contracts"); evaluation harnesses depend on it.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use baton_core::Role;
use baton_core::signals::{SignalEngine, Turn};
use baton_kb::{IndexOptions, KbIndex};
use baton_server::analysis::{self, TurnSignals};
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
    /// The clock for messages without `at` (RFC 3339).
    #[arg(long)]
    now: Option<DateTime<Utc>>,
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
    #[allow(dead_code)]
    customer: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    page: Option<Value>,
}

#[derive(Deserialize)]
struct InputMessage {
    role: Role,
    text: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct TextOutput<'a> {
    id: &'a Value,
    signals: &'a TurnSignals,
}

#[derive(Serialize)]
struct TurnOutput<'a> {
    index: usize,
    signals: &'a TurnSignals,
}

#[derive(Serialize)]
struct ConversationOutput<'a> {
    id: &'a Value,
    signals: Option<&'a TurnSignals>,
    turns: Vec<TurnOutput<'a>>,
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

/// Loads the knowledge base named by `--kb`, or the stored one when a database was named.
async fn load_kb(
    args: &AnalyzeArgs,
    database: Option<&baton_server::Config>,
) -> anyhow::Result<Option<KbIndex>> {
    if let Some(path) = &args.kb {
        let articles = baton_kb::import_path(path)?;
        return Ok(Some(KbIndex::build(&articles, IndexOptions::default())?));
    }
    let Some(config) = database else {
        return Ok(None);
    };
    let store = crate::open_store(config).await?;
    let articles = baton_server::knowledge::stored_articles(&*store).await?;
    let calibration = baton_server::knowledge::stored_calibration(&*store).await?;
    store.close().await;
    let mut index = KbIndex::build(&articles, IndexOptions::default())?;
    index.set_calibration(calibration);
    Ok(Some(index))
}

pub async fn run(
    args: AnalyzeArgs,
    database: Option<baton_server::Config>,
) -> anyhow::Result<ExitCode> {
    let kb = load_kb(&args, database.as_ref()).await?;
    let engine = SignalEngine::default();
    let reader: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for (n, line) in reader.lines().enumerate() {
        let number = n + 1;
        let line = line.with_context(|| format!("cannot read input line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let written = match analyze_line(&engine, kb.as_ref(), args.now, &line) {
            Ok(json) => json,
            Err((id, code, message)) => {
                failed = true;
                serde_json::to_string(&ErrorOutput {
                    id: id.as_ref(),
                    line: number,
                    error: ErrorDetail { code, message },
                })?
            }
        };
        writeln!(out, "{written}")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

type LineError = (Option<Value>, &'static str, String);

fn analyze_line(
    engine: &SignalEngine,
    kb: Option<&KbIndex>,
    now: Option<DateTime<Utc>>,
    line: &str,
) -> Result<String, LineError> {
    let raw: Value = serde_json::from_str(line)
        .map_err(|e| (None, "malformed_json", format!("not valid JSON: {e}")))?;
    let id = raw.get("id").cloned();
    let input: InputLine =
        serde_json::from_value(raw).map_err(|e| (id.clone(), "invalid_line", e.to_string()))?;
    let id = input.id.unwrap_or(Value::Null);
    let fail = |code: &'static str, message: String| (Some(id.clone()), code, message);
    let to_json = |v: Result<String, serde_json::Error>| {
        v.map_err(|e| (None, "internal", format!("cannot write the result: {e}")))
    };
    match (input.text, input.messages) {
        (Some(text), None) => {
            let mut turn = Turn::customer(text);
            if let Some(now) = now {
                turn = turn.at(now);
            }
            let analysed = analysis::replay(engine, kb, std::slice::from_ref(&turn));
            let signals = analysed
                .first()
                .ok_or_else(|| fail("invalid_line", "text is empty".to_string()))?;
            to_json(serde_json::to_string(&TextOutput { id: &id, signals }))
        }
        (None, Some(messages)) => {
            if messages.is_empty() {
                return Err(fail("invalid_line", "messages is empty".to_string()));
            }
            let turns: Vec<Turn> = messages
                .into_iter()
                .map(|m| {
                    let mut turn = Turn::new(m.role, m.text);
                    if let Some(at) = m.at.or(now) {
                        turn = turn.at(at);
                    }
                    turn
                })
                .collect();
            let analysed = analysis::replay(engine, kb, &turns);
            let output = ConversationOutput {
                id: &id,
                signals: analysed.last(),
                turns: analysed
                    .iter()
                    .enumerate()
                    .map(|(index, signals)| TurnOutput { index, signals })
                    .collect(),
            };
            to_json(serde_json::to_string(&output))
        }
        (Some(_), Some(_)) => Err(fail(
            "invalid_line",
            "a line has either text or messages, not both".to_string(),
        )),
        (None, None) => Err(fail(
            "invalid_line",
            "a line needs text (one turn) or messages (a conversation)".to_string(),
        )),
    }
}
