//! `baton policy`: check a policy file, and back-test a policy change on recorded
//! conversations (as `baton export` writes them) before shipping it.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use baton_core::Role;
use baton_core::policy::CustomerContext;
use baton_core::signals::Turn;
use baton_server::analysis::{Judge, JudgedTurn, first_escalation};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analyze::{load_judging, read_policy};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file: syntax, thresholds, issue types, teams named by routing rules and
    /// overflows. Prints a summary; exits 1 naming the line of the first problem.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
    /// Replay recorded conversations (JSON Lines in the `baton analyze` conversation format)
    /// under a policy, optionally against a baseline, and report escalation rates and the
    /// conversations whose outcome changes.
    Backtest(BacktestArgs),
}

#[derive(Args)]
pub struct BacktestArgs {
    /// The policy to test.
    #[arg(long)]
    policy: PathBuf,
    /// The policy to compare with (e.g. the one in force).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Conversations, one JSON object per line (`baton export` writes them).
    conversations: PathBuf,
    /// Knowledge base to retrieve from (a folder of Markdown files, .jsonl or .csv); without
    /// it (and without --database) the confidence trigger is off.
    #[arg(long)]
    kb: Option<PathBuf>,
    /// Issue taxonomy instead of the policies' own.
    #[arg(long)]
    taxonomy: Option<PathBuf>,
    /// The clock for messages without `at` (RFC 3339). Default: now.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Write the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// How many changed conversations to list in the tables (all are in --json).
    #[arg(long, default_value_t = 20)]
    show: usize,
}

pub async fn run(
    command: PolicyCommand,
    database: Option<baton_server::Config>,
) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Backtest(args) => backtest(args, database).await,
    }
}

fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let policy = match read_policy(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Err(e) = baton_server::policy::engine_for(&policy, &[]) {
        eprintln!("error: {}: {e}", file.display());
        return Ok(ExitCode::from(1));
    }
    println!("{}: ok (version {})", file.display(), policy.version);
    if let Some(name) = &policy.name {
        println!("  name: {name}");
    }
    let t = &policy.thresholds;
    println!(
        "  thresholds: explicit_request {:.2}, frustration {:.2}, sentiment {:.2}, confidence {:.2}, loop {:.2}, issue_type {:.2}",
        t.explicit_request, t.frustration, t.sentiment, t.confidence, t.looping, t.issue_type
    );
    println!("  always human: {}", policy.always_human.join(", "));
    println!(
        "  segments: {}",
        if policy.segments.is_empty() {
            "none".to_string()
        } else {
            policy
                .segments
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!(
        "  teams: {}",
        policy
            .teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in &policy.routing {
        println!("  routing: {} → {} ({})", r.name, r.team, r.priority);
    }
    Ok(ExitCode::SUCCESS)
}

/// A recorded conversation, as `baton export` writes it.
#[derive(Deserialize)]
struct Recorded {
    #[serde(default)]
    id: Value,
    messages: Vec<RecordedMessage>,
    #[serde(default)]
    customer: Option<RecordedCustomer>,
}

#[derive(Deserialize)]
struct RecordedMessage {
    role: Role,
    text: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    articles: Vec<String>,
}

#[derive(Deserialize)]
struct RecordedCustomer {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    customer_age_days: Option<f64>,
    #[serde(default)]
    signup_at: Option<DateTime<Utc>>,
    #[serde(default)]
    attrs: serde_json::Map<String, Value>,
}

/// How one policy treated one conversation.
#[derive(Debug, Clone, Serialize, PartialEq)]
struct Outcome {
    first_escalation_turn: Option<usize>,
    triggers: Vec<String>,
    issue_type: String,
    segments: Vec<String>,
}

fn outcome(judged: &[JudgedTurn]) -> Outcome {
    let (turn, kinds) = first_escalation(judged);
    let at = turn
        .and_then(|i| judged.iter().find(|t| t.index == i))
        .or(judged.last());
    Outcome {
        first_escalation_turn: turn,
        triggers: kinds.iter().map(|k| k.as_str().to_string()).collect(),
        issue_type: at
            .map(|t| t.signals.signals.issue_type.label.clone())
            .unwrap_or_default(),
        segments: at.map(|t| t.decision.segments.clone()).unwrap_or_default(),
    }
}

/// Escalation figures for one policy over all conversations.
#[derive(Debug, Default, Serialize)]
struct Summary {
    policy_version: String,
    conversations: usize,
    escalated: usize,
    escalation_rate: f64,
    /// Conversations whose first escalation had this trigger.
    by_trigger: BTreeMap<String, usize>,
    /// Per issue type (at the first escalation, else at the last turn): conversations and
    /// escalations.
    by_issue_type: BTreeMap<String, Rate>,
    /// Per segment (matched at the first escalation, else at the last turn; `(none)` for
    /// conversations that matched none).
    by_segment: BTreeMap<String, Rate>,
    /// Escalated conversations by the customer turn (from 0) of their first escalation.
    first_escalation_turn: BTreeMap<usize, usize>,
    mean_first_escalation_turn: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
struct Rate {
    conversations: usize,
    escalated: usize,
    rate: f64,
}

impl Summary {
    fn new(version: &str) -> Self {
        Summary {
            policy_version: version.to_string(),
            ..Default::default()
        }
    }

    fn add(&mut self, o: &Outcome) {
        self.conversations += 1;
        let escalated = o.first_escalation_turn.is_some();
        if let Some(turn) = o.first_escalation_turn {
            self.escalated += 1;
            *self.first_escalation_turn.entry(turn).or_default() += 1;
            for t in &o.triggers {
                *self.by_trigger.entry(t.clone()).or_default() += 1;
            }
        }
        let issue = self.by_issue_type.entry(o.issue_type.clone()).or_default();
        issue.conversations += 1;
        issue.escalated += usize::from(escalated);
        let segments = if o.segments.is_empty() {
            vec!["(none)".to_string()]
        } else {
            o.segments.clone()
        };
        for s in segments {
            let seg = self.by_segment.entry(s).or_default();
            seg.conversations += 1;
            seg.escalated += usize::from(escalated);
        }
    }

    fn finish(&mut self) {
        let rate = |e: usize, n: usize| if n == 0 { 0.0 } else { e as f64 / n as f64 };
        self.escalation_rate = rate(self.escalated, self.conversations);
        for r in self
            .by_issue_type
            .values_mut()
            .chain(self.by_segment.values_mut())
        {
            r.rate = rate(r.escalated, r.conversations);
        }
        let turns: usize = self.first_escalation_turn.iter().map(|(t, n)| t * n).sum();
        self.mean_first_escalation_turn =
            (self.escalated > 0).then(|| turns as f64 / self.escalated as f64);
    }
}

/// A conversation whose outcome differs between the two policies.
#[derive(Debug, Serialize)]
struct Change {
    id: Value,
    baseline: Outcome,
    policy: Outcome,
    /// `now escalates`, `no longer escalates`, `escalates earlier`, `escalates later`,
    /// `other triggers`.
    change: &'static str,
}

#[derive(Debug, Serialize)]
struct Report {
    conversations: usize,
    skipped_lines: Vec<SkippedLine>,
    policy: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<Change>>,
}

#[derive(Debug, Serialize)]
struct SkippedLine {
    line: usize,
    message: String,
}

fn change_kind(baseline: &Outcome, policy: &Outcome) -> Option<&'static str> {
    match (baseline.first_escalation_turn, policy.first_escalation_turn) {
        (None, Some(_)) => Some("now escalates"),
        (Some(_), None) => Some("no longer escalates"),
        (Some(a), Some(b)) if b < a => Some("escalates earlier"),
        (Some(a), Some(b)) if b > a => Some("escalates later"),
        (Some(_), Some(_)) if baseline.triggers != policy.triggers => Some("other triggers"),
        _ => None,
    }
}

async fn backtest(
    args: BacktestArgs,
    database: Option<baton_server::Config>,
) -> anyhow::Result<ExitCode> {
    let new = load_judging(
        args.kb.as_deref(),
        Some(&args.policy),
        args.taxonomy.as_deref(),
        database.as_ref(),
    )
    .await?;
    let baseline_policy = match &args.baseline {
        Some(path) => Some(read_policy(path)?),
        None => None,
    };
    // The baseline shares the knowledge base; only its policy (and taxonomy) differ.
    let baseline_engine = match (&baseline_policy, &args.taxonomy) {
        (Some(p), None) => {
            let examples = new
                .kb
                .as_ref()
                .map(|kb| baton_server::policy::kb_examples(kb.articles()))
                .unwrap_or_default();
            Some(baton_server::policy::engine_for(p, &examples)?)
        }
        _ => None,
    };
    let clock = args.now.unwrap_or_else(Utc::now);
    let file = std::fs::File::open(&args.conversations)
        .with_context(|| format!("cannot read {}", args.conversations.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = indicatif::ProgressBar::new(size);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replaying {bytes}/{total_bytes} [{bar:30}] {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    if size < 1_000_000 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reader = std::io::BufReader::new(progress.wrap_read(file));

    let judge_new = new.judge();
    let judge_base = baseline_policy.as_ref().map(|p| Judge {
        engine: baseline_engine.as_ref().unwrap_or(&new.engine),
        kb: new.kb.as_ref(),
        kb_revision: new.kb_revision,
        policy: p,
    });
    let mut report = Report {
        conversations: 0,
        skipped_lines: Vec::new(),
        policy: Summary::new(&new.policy.version),
        baseline: baseline_policy.as_ref().map(|p| Summary::new(&p.version)),
        changes: baseline_policy.as_ref().map(|_| Vec::new()),
    };
    for (n, line) in reader.lines().enumerate() {
        let number = n + 1;
        let line = line.with_context(|| format!("cannot read line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let recorded: Recorded = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                report.skipped_lines.push(SkippedLine {
                    line: number,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let turns: Vec<Turn> = recorded
            .messages
            .iter()
            .map(|m| {
                Turn::new(m.role, m.text.clone())
                    .at(m.at.unwrap_or(clock))
                    .with_articles(m.articles.iter().cloned())
            })
            .collect();
        if !turns.iter().any(|t| t.role == Role::Customer) {
            report.skipped_lines.push(SkippedLine {
                line: number,
                message: "no customer message".into(),
            });
            continue;
        }
        let last_at = turns.iter().rev().find_map(|t| t.at).unwrap_or(clock);
        let customer = recorded
            .customer
            .as_ref()
            .map_or_else(CustomerContext::default, |c| CustomerContext {
                tier: c.tier.clone(),
                customer_age_days: c
                    .customer_age_days
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| d.floor() as i64)
                    .or_else(|| c.signup_at.map(|s| (last_at - s).num_days().max(0))),
                attrs: c.attrs.clone(),
            });
        report.conversations += 1;
        // Dense retrieval embeds each question, which blocks.
        let new_outcome = tokio::task::block_in_place(|| {
            outcome(&judge_new.conversation(&turns, &customer, clock))
        });
        report.policy.add(&new_outcome);
        if let (Some(judge), Some(summary), Some(changes)) = (
            judge_base.as_ref(),
            report.baseline.as_mut(),
            report.changes.as_mut(),
        ) {
            let base = tokio::task::block_in_place(|| {
                outcome(&judge.conversation(&turns, &customer, clock))
            });
            summary.add(&base);
            if let Some(change) = change_kind(&base, &new_outcome) {
                changes.push(Change {
                    id: recorded.id.clone(),
                    baseline: base,
                    policy: new_outcome,
                    change,
                });
            }
        }
    }
    progress.finish_and_clear();
    report.policy.finish();
    if let Some(b) = report.baseline.as_mut() {
        b.finish();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, args.show));
    }
    for s in &report.skipped_lines {
        eprintln!(
            "warning: {}: line {}: skipped: {}",
            args.conversations.display(),
            s.line,
            s.message
        );
    }
    Ok(if report.skipped_lines.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The report as tables for a terminal.
fn render(report: &Report, show: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let base = report.baseline.as_ref();
    let p = &report.policy;
    let _ = writeln!(out, "{} conversations replayed", report.conversations);
    let _ = writeln!(out);
    let header = |out: &mut String, first: &str| {
        if base.is_some() {
            let _ = writeln!(out, "{first:<28} {:>16} {:>16}", "baseline", "policy");
        } else {
            let _ = writeln!(out, "{first:<28} {:>16}", "policy");
        }
    };
    let row = |out: &mut String, name: &str, b: Option<String>, n: String| match b {
        Some(b) => {
            let _ = writeln!(out, "{name:<28} {b:>16} {n:>16}");
        }
        None => {
            let _ = writeln!(out, "{name:<28} {n:>16}");
        }
    };
    header(&mut out, "");
    row(
        &mut out,
        "version",
        base.map(|b| b.policy_version.clone()),
        p.policy_version.clone(),
    );
    row(
        &mut out,
        "escalation rate",
        base.map(|b| format!("{} ({})", pct(b.escalation_rate), b.escalated)),
        format!("{} ({})", pct(p.escalation_rate), p.escalated),
    );
    let mean = |s: &Summary| {
        s.mean_first_escalation_turn
            .map_or_else(|| "-".to_string(), |m| format!("{m:.2}"))
    };
    row(
        &mut out,
        "mean first escalation turn",
        base.map(mean),
        mean(p),
    );

    let _ = writeln!(out);
    header(&mut out, "by trigger (first escalation)");
    let mut triggers: Vec<&String> = p.by_trigger.keys().collect();
    if let Some(b) = base {
        triggers.extend(b.by_trigger.keys());
    }
    triggers.sort();
    triggers.dedup();
    for t in triggers {
        row(
            &mut out,
            t,
            base.map(|b| b.by_trigger.get(t).copied().unwrap_or(0).to_string()),
            p.by_trigger.get(t).copied().unwrap_or(0).to_string(),
        );
    }
    let rate_table =
        |out: &mut String, title: &str, pick: &dyn Fn(&Summary) -> &BTreeMap<String, Rate>| {
            let _ = writeln!(out);
            header(out, title);
            let mut keys: Vec<&String> = pick(p).keys().collect();
            if let Some(b) = base {
                keys.extend(pick(b).keys());
            }
            keys.sort();
            keys.dedup();
            let cell = |s: &Summary, k: &String| {
                pick(s).get(k).map_or_else(
                    || "-".to_string(),
                    |r| format!("{} of {}", r.escalated, r.conversations),
                )
            };
            for k in keys {
                row(out, k, base.map(|b| cell(b, k)), cell(p, k));
            }
        };
    rate_table(&mut out, "by issue type", &|s| &s.by_issue_type);
    rate_table(&mut out, "by segment", &|s| &s.by_segment);

    let _ = writeln!(out);
    header(&mut out, "first escalation at turn");
    let mut turns: Vec<&usize> = p.first_escalation_turn.keys().collect();
    if let Some(b) = base {
        turns.extend(b.first_escalation_turn.keys());
    }
    turns.sort();
    turns.dedup();
    for t in turns {
        row(
            &mut out,
            &t.to_string(),
            base.map(|b| {
                b.first_escalation_turn
                    .get(t)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }),
            p.first_escalation_turn
                .get(t)
                .copied()
                .unwrap_or(0)
                .to_string(),
        );
    }
    if let Some(changes) = &report.changes {
        let _ = writeln!(out);
        let _ = writeln!(out, "{} conversations change outcome", changes.len());
        let describe = |o: &Outcome| match o.first_escalation_turn {
            Some(t) => format!("turn {t} ({})", o.triggers.join("+")),
            None => "AI only".to_string(),
        };
        for c in changes.iter().take(show) {
            let id = match &c.id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(
                out,
                "  {id:<24} {:<20} {} → {}",
                c.change,
                describe(&c.baseline),
                describe(&c.policy)
            );
        }
        if changes.len() > show {
            let _ = writeln!(out, "  … {} more (see --json)", changes.len() - show);
        }
    }
    out
}
