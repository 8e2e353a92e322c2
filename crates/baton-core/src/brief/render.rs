//! The brief for people: a compact Markdown rendering for notifications and helpdesk notes,
//! in the order an agent reads it — why, needs, who, tried — then the details. Why reads as
//! the brief's sentences; the rules behind them are a detail further down.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::sentences::shorten;
use super::{Brief, EntityKind, Reaction};
use crate::{PageEventKind, Role, Trigger, TriggerKind};

/// How many of the latest transcript messages the rendering shows.
const TRANSCRIPT_TAIL: usize = 10;

/// Renders `brief` as compact Markdown: the four lines an agent scans in five seconds
/// (why, needs, who, tried), then the details and the end of the transcript.
pub fn render_text(brief: &Brief) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_brief(brief, &mut out);
    out
}

fn write_brief(brief: &Brief, out: &mut String) -> std::fmt::Result {
    let why: Vec<String> = if brief.why.reasons.is_empty() {
        // A brief stored before it had sentences.
        brief.why.triggers.iter().map(trigger_line).collect()
    } else {
        brief
            .why
            .reasons
            .iter()
            .map(|r| r.sentence.clone())
            .collect()
    };
    if why.is_empty() {
        writeln!(out, "**Why:** {}", brief.why.explanation)?;
    } else {
        writeln!(out, "**Why:** {}", why.join("; "))?;
    }
    writeln!(out, "**Needs:** {}", brief.needs)?;
    writeln!(out, "**Who:** {}", who_line(brief))?;
    writeln!(out, "**Tried:** {}", tried_line(brief))?;
    writeln!(out, "**Say:** {}", brief.opening_line)?;
    writeln!(out)?;

    writeln!(out, "- Summary: {}", brief.summary.text)?;
    if let Some(issue) = &brief.issue_type {
        writeln!(out, "- Issue: {} ({:.2})", issue.label, issue.score)?;
    }
    if !brief.why.reasons.is_empty() && !brief.why.triggers.is_empty() {
        let rules: Vec<String> = brief.why.triggers.iter().map(rule_line).collect();
        writeln!(out, "- Rules: {}", rules.join(" · "))?;
    }
    if !brief.entities.is_empty() {
        let items: Vec<String> = brief
            .entities
            .iter()
            .map(|e| {
                // A date without a year reads better as written ("March 2") than as `--03-02`.
                let shown = if e.kind == EntityKind::Date && e.value.starts_with("--") {
                    &e.text
                } else {
                    &e.value
                };
                format!("{} {shown}", e.kind.label())
            })
            .collect();
        writeln!(out, "- Details: {}", items.join(" · "))?;
    }
    if let Some(page) = &brief.pages.current
        && let Some(url) = page.url.as_deref().or(page.title.as_deref())
    {
        writeln!(out, "- Current page: {url}")?;
    }
    if !brief.pages.steps.is_empty() {
        let steps: Vec<String> = brief
            .pages
            .steps
            .iter()
            .map(|s| {
                let what = s
                    .url
                    .as_deref()
                    .map(short_url)
                    .or(s.label.as_deref())
                    .unwrap_or("(no url)");
                let mut step = match s.kind {
                    PageEventKind::PageView => what.to_string(),
                    PageEventKind::Click => format!("click {}", s.label.as_deref().unwrap_or(what)),
                    PageEventKind::Action => {
                        format!("action {}", s.label.as_deref().unwrap_or(what))
                    }
                    PageEventKind::Error => format!("error {}", s.label.as_deref().unwrap_or(what)),
                };
                if let Some(detail) = &s.detail {
                    let _ = write!(step, " \u{201c}{}\u{201d}", shorten(detail, 60));
                }
                format!("{} {}", clock(s.at), step)
            })
            .collect();
        let earlier = if brief.pages.earlier_steps > 0 {
            format!("({} earlier) ", brief.pages.earlier_steps)
        } else {
            String::new()
        };
        writeln!(out, "- Pages: {earlier}{}", steps.join(" → "))?;
    }
    if !brief.ai_attempts.is_empty() {
        let items: Vec<String> = brief
            .ai_attempts
            .iter()
            .map(|a| {
                let confidence = a
                    .confidence
                    .map_or_else(|| "n/a".to_string(), |c| format!("{c:.2}"));
                let article = a
                    .articles
                    .first()
                    .map(|x| format!(" \u{201c}{}\u{201d}", shorten(&x.title, 40)))
                    .unwrap_or_default();
                format!("{} {confidence}{article}", a.kind)
            })
            .collect();
        writeln!(out, "- AI answers: {}", items.join("; "))?;
    }
    if !brief.sentiment_trend.is_empty() {
        let points: Vec<String> = brief
            .sentiment_trend
            .iter()
            .map(|p| format!("{:+.2}", p.sentiment))
            .collect();
        writeln!(out, "- Sentiment: {}", points.join(" → "))?;
    }

    if !brief.transcript.is_empty() {
        writeln!(out)?;
        let skipped = brief.transcript.len().saturating_sub(TRANSCRIPT_TAIL);
        if skipped > 0 {
            writeln!(
                out,
                "Transcript (last {TRANSCRIPT_TAIL}, {skipped} earlier):"
            )?;
        } else {
            writeln!(out, "Transcript:")?;
        }
        for line in &brief.transcript[skipped..] {
            let who = match (line.role, &line.author) {
                (Role::Customer, _) => "Customer".to_string(),
                (Role::Ai, _) => "AI".to_string(),
                (Role::Agent, Some(author)) => author.clone(),
                (Role::Agent, None) => "Agent".to_string(),
                (Role::System, _) => "System".to_string(),
            };
            writeln!(
                out,
                "> {} {who}: {}",
                clock(line.at),
                shorten(&line.text, 300)
            )?;
        }
    }
    Ok(())
}

/// "explicit_request 0.95 ≥ 0.60", "thresholds.confidence 0.31 < 0.45",
/// "always_human.billing_dispute": the rule that fired and the value it saw.
fn rule_line(t: &Trigger) -> String {
    let rule = if t.rule.is_empty() {
        t.kind.as_str()
    } else {
        &t.rule
    };
    match t.threshold {
        // Confidence and a single turn's sentiment fire from below; the others from above.
        Some(threshold) if t.kind == TriggerKind::Confidence => {
            format!("{rule} {:.2} < {threshold:.2}", t.value)
        }
        Some(threshold) if t.kind == TriggerKind::Sentiment && !t.rule.ends_with("frustration") => {
            format!("{rule} {:.2} ≤ {threshold:.2}", t.value)
        }
        Some(threshold) => format!("{rule} {:.2} ≥ {threshold:.2}", t.value),
        None => rule.to_string(),
    }
}

/// For briefs stored without sentences: "explicit request \u{201c}i want a human\u{201d}",
/// "confidence 0.31 < 0.45".
fn trigger_line(t: &Trigger) -> String {
    let name = t.kind.as_str().replace('_', " ");
    let mut line = match t.threshold {
        // Confidence fires from below; every other threshold from above.
        Some(threshold) if t.kind == TriggerKind::Confidence => {
            format!("{name} {:.2} < {threshold:.2}", t.value)
        }
        Some(threshold) => format!("{name} {:.2} ≥ {threshold:.2}", t.value),
        None => name,
    };
    if t.kind == TriggerKind::Policy && !t.rule.is_empty() {
        let _ = write!(line, " ({})", t.rule);
    }
    if let Some(evidence) = t.evidence.first() {
        let _ = write!(line, " \u{201c}{}\u{201d}", shorten(evidence, 60));
    }
    line
}

fn who_line(brief: &Brief) -> String {
    let c = &brief.customer;
    let mut parts: Vec<String> = Vec::new();
    match (&c.name, &c.email) {
        (Some(name), Some(email)) => parts.push(format!("{name} <{email}>")),
        (Some(name), None) => parts.push(name.clone()),
        (None, Some(email)) => parts.push(email.clone()),
        (None, None) => parts.push("Unknown visitor".to_string()),
    }
    if c.anonymous {
        parts.push("not signed in".to_string());
    }
    if let Some(a) = &brief.account {
        parts.push(a.name.clone().unwrap_or_else(|| a.id.clone()));
        if let Some(tier) = &a.tier {
            parts.push(tier.clone());
        }
        if let Some(plan) = &a.plan {
            parts.push(format!("plan {plan}"));
        }
        if let Some(owner) = &a.owner {
            parts.push(format!("owner {owner}"));
        }
    }
    if let Some(days) = c.age_days {
        let since = if brief
            .account
            .as_ref()
            .is_some_and(|a| a.signup_at.is_some())
        {
            "customer for"
        } else {
            "first seen"
        };
        parts.push(match days {
            0 => format!("{since} less than a day"),
            1 => format!("{since} 1 day"),
            d => format!("{since} {d} days"),
        });
    }
    parts.join(" · ")
}

fn tried_line(brief: &Brief) -> String {
    let mut parts: Vec<String> = Vec::new();
    for a in &brief.actions.customer {
        parts.push(format!(
            "customer: \u{201c}{}\u{201d}",
            shorten(&a.text, 80)
        ));
    }
    for s in &brief.actions.ai_suggestions {
        let article = s
            .article
            .as_ref()
            .map(|a| format!(" [{}]", shorten(&a.title, 40)))
            .unwrap_or_default();
        let reaction = match s.reaction {
            Reaction::Positive => "helped",
            Reaction::Negative => "did not help",
            Reaction::Neutral => "no clear reaction",
            Reaction::NoReply => "no reply",
        };
        parts.push(format!(
            "AI: \u{201c}{}\u{201d}{article} → {reaction}",
            shorten(&s.instruction, 80)
        ));
    }
    if parts.is_empty() {
        "nothing yet".to_string()
    } else {
        parts.join("; ")
    }
}

/// The path of a URL ("https://app.acme.io/billing?tab=1" → "/billing?tab=1"): the host is
/// the same product on every step.
fn short_url(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return url;
    };
    match rest.find('/') {
        Some(i) if i + 1 < rest.len() => &rest[i..],
        _ => url,
    }
}

fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}
