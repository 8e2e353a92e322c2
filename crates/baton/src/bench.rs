//! `baton bench`: load generators that measure a real Baton server over loopback and print
//! figures. They are measurements, not tests: nothing here asserts a speed.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The analysis behind `baton analyze` and every customer turn: signals, retrieval and
    /// confidence for each customer turn of generated conversations, in process. Prints
    /// customer turns/s and the time per turn.
    Analyze {
        /// Knowledge base to retrieve from (folder, .jsonl or .csv).
        #[arg(long, default_value = "examples/kb")]
        kb: std::path::PathBuf,
        /// Conversations to analyse.
        #[arg(long, default_value_t = 2_000)]
        conversations: usize,
        /// Customer turns per conversation.
        #[arg(long, default_value_t = 5)]
        turns: usize,
        /// Pad the knowledge base to this many articles with variants of its own.
        #[arg(long, default_value_t = 1_000)]
        articles: usize,
        /// Worker threads (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Message ingest: many conversations posting customer messages at once, each waiting
    /// for its acknowledgement before sending the next. Prints messages/s and latency.
    Ingest {
        /// Conversations posting concurrently.
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        /// Messages to post in all.
        #[arg(long, default_value_t = 50_000)]
        messages: usize,
        /// Durability of the server started for the run: process or fsync.
        #[arg(long, default_value = "process")]
        durability: String,
        /// Measure this running server instead of starting one (e.g. http://127.0.0.1:8080).
        #[arg(long)]
        url: Option<String>,
        /// Database for the server started for the run (default: a new SQLite file).
        #[arg(long)]
        database: Option<String>,
    },
    /// Handoff latency: conversations sending messages at a steady rate, some of them asking
    /// for a person, while agents connected to their streams accept and resolve every offer.
    /// Prints the time from the escalating message being sent to the offer arriving on an
    /// agent's stream (p50/p99), and the message rate reached.
    Handoff {
        /// Conversations sending messages concurrently.
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        /// Milliseconds between one conversation's messages.
        #[arg(long, default_value_t = 2_000)]
        interval_ms: u64,
        /// One message in this many asks for a person.
        #[arg(long, default_value_t = 10)]
        escalate_every: usize,
        /// How long to send, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Agents online (each with capacity 50), accepting and resolving every offer.
        #[arg(long, default_value_t = 10)]
        agents: usize,
        /// Knowledge base the AI answers the routine messages from (folder, .jsonl or .csv);
        /// the routine questions are its example questions.
        #[arg(long, default_value = "examples/kb")]
        kb: std::path::PathBuf,
        /// Database for the server started for the run (default: a new SQLite file).
        #[arg(long)]
        database: Option<String>,
        /// How the team offers conversations: `one_at_a_time` (the default of a policy) or
        /// `up_to_capacity`.
        #[arg(long, default_value = "one_at_a_time", value_parser = ["one_at_a_time", "up_to_capacity"])]
        offers: String,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Analyze {
            kb,
            conversations,
            turns,
            articles,
            threads,
        } => {
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            analyze(&kb, articles, conversations, turns, threads)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Ingest {
            conversations,
            messages,
            durability,
            url,
            database,
        } => {
            if conversations == 0 || messages == 0 {
                bail!("--conversations and --messages must be at least 1");
            }
            let dir = tempfile_dir()?;
            let mut server = None;
            let base = match url {
                Some(url) => url.trim_end_matches('/').to_string(),
                None => {
                    let database = database
                        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
                    let (child, base) = start_server(&database, &durability).await?;
                    server = Some(child);
                    base
                }
            };
            let result = ingest(&base, conversations, messages).await;
            if let Some(mut child) = server {
                let _ = child.kill().await;
            }
            let _ = std::fs::remove_dir_all(&dir);
            result?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Handoff {
            conversations,
            interval_ms,
            escalate_every,
            seconds,
            agents,
            kb,
            database,
            offers,
        } => {
            if conversations == 0 || agents == 0 || escalate_every == 0 || interval_ms == 0 {
                bail!(
                    "--conversations, --agents, --escalate-every and --interval-ms must be at least 1"
                );
            }
            let dir = tempfile_dir()?;
            let database =
                database.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let result = crate::bench_handoff::run(
                &dir,
                &database,
                crate::bench_handoff::Load {
                    conversations,
                    interval: Duration::from_millis(interval_ms),
                    escalate_every,
                    duration: Duration::from_secs(seconds),
                    agents,
                    kb,
                    offers,
                },
            )
            .await;
            let _ = std::fs::remove_dir_all(&dir);
            result?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Starts a server for a benchmark with a configuration file.
pub(crate) async fn start_configured_server(
    database: &str,
    config: &std::path::Path,
) -> anyhow::Result<(Child, String)> {
    start_server_with(database, "process", Some(config)).await
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("baton-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Starts `baton serve` on a free port and waits for its `listening on` line.
async fn start_server(database: &str, durability: &str) -> anyhow::Result<(Child, String)> {
    start_server_with(database, durability, None).await
}

async fn start_server_with(
    database: &str,
    durability: &str,
    config: Option<&std::path::Path>,
) -> anyhow::Result<(Child, String)> {
    let exe = std::env::current_exe().context("cannot find the baton executable")?;
    let mut command = Command::new(exe);
    command.args(["serve", "--listen", "127.0.0.1:0", "--database", database]);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
        .env("BATON_DURABILITY", durability)
        .env("BATON_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start baton serve")?;
    let stdout = child.stdout.take().context("no stdout from baton serve")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("baton serve did not become ready within 60 s")??
        .context("baton serve exited before it was ready")?;
    let base = line
        .strip_prefix("listening on ")
        .context("unexpected first line from baton serve")?
        .to_string();
    Ok((child, base))
}

async fn ingest(base: &str, conversations: usize, messages: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conversations)
        .build()?;
    eprintln!("opening {conversations} conversations on {base} ...");
    let mut tokens = Vec::with_capacity(conversations);
    for _ in 0..conversations {
        let response: serde_json::Value = client
            .post(format!("{base}/v1/conversations"))
            .json(&json!({"page": {"url": "https://app.example.com/bench"}}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = response["id"].as_str().context("no id")?.to_string();
        let token = response["token"].as_str().context("no token")?.to_string();
        tokens.push((id, token));
    }
    let per_conversation = messages.div_ceil(conversations);
    let total = per_conversation * conversations;
    eprintln!("posting {total} messages ({per_conversation} per conversation) ...");
    let client = Arc::new(client);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conversations);
    for (i, (id, token)) in tokens.into_iter().enumerate() {
        let client = client.clone();
        let url = format!("{base}/v1/conversations/{id}/messages");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_conversation);
            let mut failures = 0usize;
            for n in 0..per_conversation {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"client_msg_id": format!("c{i}-m{n}"),
                                  "text": "Hello, I cannot find where to download last month's invoice."}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => latencies.push(sent.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!("ingest over HTTP on loopback: {conversations} concurrent conversations");
    println!(
        "  acknowledged: {} messages in {:.2} s ({} failed)",
        latencies.len(),
        elapsed.as_secs_f64(),
        failures
    );
    println!(
        "  throughput:   {:.0} messages/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency:      p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    if failures > 0 {
        bail!("{failures} messages were not acknowledged");
    }
    Ok(())
}

/// Replays generated conversations through the turn analysis and the policy, on `threads`
/// threads, and prints throughput and the time per customer turn (a conversation's replay
/// time divided by its customer turns).
fn analyze(
    kb: &std::path::Path,
    size: usize,
    conversations: usize,
    turns: usize,
    threads: usize,
) -> anyhow::Result<()> {
    use baton_core::policy::{CustomerContext, Policy};
    use baton_core::signals::{SignalEngine, Turn};
    if conversations == 0 || turns == 0 || threads == 0 {
        bail!("--conversations, --turns and --threads must be at least 1");
    }
    let mut articles = baton_kb::import_path(kb)?;
    if articles.is_empty() {
        bail!("{}: no articles", kb.display());
    }
    let originals = articles.len();
    // Pad to `size` articles with variants of the real ones (their questions reworded by
    // borrowing a word from another article), so the index has realistic text at scale.
    for i in originals..size {
        let base = &articles[i % originals];
        let other = &articles[(i * 7 + 3) % originals];
        let borrowed = other
            .title
            .split_whitespace()
            .last()
            .unwrap_or("setting")
            .to_lowercase();
        let variant = baton_kb::Article::new(
            format!("{}-v{i}", base.id),
            format!("{} ({borrowed})", base.title),
            base.body.clone(),
        )
        .with_questions(
            base.questions
                .iter()
                .map(|q| format!("{q} with {borrowed}")),
        );
        articles.push(variant);
    }
    let index = baton_kb::KbIndex::build(&articles, baton_kb::IndexOptions::default())?;
    let engine = SignalEngine::default();
    let policy = Policy::builtin();
    let judge = baton_server::analysis::Judge {
        engine: &engine,
        kb: Some(&index),
        kb_revision: Some(1),
        policy: &policy,
    };
    // Customer turns drawn from the articles' example questions, with follow-ups in between.
    let questions: Vec<&str> = articles[..originals]
        .iter()
        .flat_map(|a| a.questions.iter().map(String::as_str))
        .collect();
    let follow_ups = [
        "that didn't work, still the same error",
        "thanks, that worked!",
        "I already tried that twice. This is getting really frustrating",
        "ok",
        "can I talk to a real person please?",
    ];
    let clock: chrono::DateTime<chrono::Utc> = "2026-03-02T10:00:00Z".parse()?;
    let mut generated = Vec::with_capacity(conversations);
    for c in 0..conversations {
        let mut conversation = Vec::with_capacity(turns * 2);
        for t in 0..turns {
            let text = if t % 2 == 0 {
                questions[(c * 7 + t * 13) % questions.len()].to_string()
            } else {
                follow_ups[(c + t) % follow_ups.len()].to_string()
            };
            let at = clock + chrono::Duration::seconds((t * 40) as i64);
            conversation.push(Turn::customer(text).at(at));
            conversation.push(
                Turn::ai("Here is what our help centre says about that.")
                    .at(at + chrono::Duration::seconds(2)),
            );
        }
        generated.push(conversation);
    }
    let customer = CustomerContext::default();
    let start = Instant::now();
    let chunk = generated.len().div_ceil(threads);
    let results: Vec<(usize, Vec<Duration>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = generated
            .chunks(chunk)
            .map(|part| {
                let judge = &judge;
                let customer = &customer;
                scope.spawn(move || {
                    let mut analysed = 0usize;
                    let mut per_turn = Vec::with_capacity(part.len());
                    for conversation in part {
                        let t0 = Instant::now();
                        let out = judge.conversation(conversation, customer, clock);
                        let elapsed = t0.elapsed();
                        analysed += out.len();
                        per_turn.push(elapsed / out.len().max(1) as u32);
                    }
                    (analysed, per_turn)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed();
    let analysed: usize = results.iter().map(|(n, _)| n).sum();
    let mut per_turn: Vec<Duration> = results.into_iter().flat_map(|(_, d)| d).collect();
    if per_turn.is_empty() {
        bail!("no conversation was analysed");
    }
    per_turn.sort();
    let pct =
        |p: f64| per_turn[((per_turn.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6;
    println!(
        "signals, retrieval and decision for {conversations} conversations ({analysed} customer turns) against {} articles, {threads} thread(s)",
        articles.len()
    );
    println!(
        "  throughput: {:.0} customer turns/s, {:.0} conversations/s",
        analysed as f64 / elapsed.as_secs_f64(),
        conversations as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  per turn:   p50 {:.1} µs, p99 {:.1} µs",
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
