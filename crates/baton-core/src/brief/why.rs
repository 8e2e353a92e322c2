//! Why a conversation came to a person, in the support team's words: one sentence per
//! trigger ("asked for a person: “can I talk to someone”", "disputes a charge", "the AI was
//! not sure: the closest article, …, does not cover …"), built from the trigger's kind, its
//! evidence and values and what the brief knows of the conversation. The rule ids stay on the
//! triggers, as detail.

use super::phrases::{issue_phrase, label_words};
use super::sentences::{asks_for_a_person, informativeness, shorten, split, strip_greeting};
use super::{AiAttempt, SentimentPoint, WhyReason};
use crate::signals::text::fold;
use crate::signals::{IssueTypeSignal, TurnSignals};
use crate::{Trigger, TriggerKind};

/// The longest quote of the customer in a reason, in characters.
const QUOTE_MAX_CHARS: usize = 80;

/// Similarity from which the customer asked the same thing again (the signals' default).
const REPHRASED: f64 = 0.5;

/// AI turns without progress from which they are worth naming.
const WITHOUT_PROGRESS: u32 = 2;

/// What the sentences are built from, besides the triggers.
pub(super) struct WhyContext<'a> {
    /// The customer's messages, oldest first.
    pub customer_texts: Vec<&'a str>,
    /// The customer message that escalated, when known.
    pub escalating: Option<&'a str>,
    /// What was read off that message, when known.
    pub signals: Option<&'a TurnSignals>,
    pub issue_type: Option<&'a IssueTypeSignal>,
    pub sentiment_trend: &'a [SentimentPoint],
    pub ai_attempts: &'a [AiAttempt],
}

/// One reason per trigger, in the triggers' order.
pub(super) fn reasons(triggers: &[Trigger], cx: &WhyContext<'_>) -> Vec<WhyReason> {
    triggers
        .iter()
        .map(|t| WhyReason {
            kind: t.kind,
            sentence: sentence(t, cx),
            rule: t.rule.clone(),
        })
        .collect()
}

fn sentence(t: &Trigger, cx: &WhyContext<'_>) -> String {
    match t.kind {
        TriggerKind::ExplicitRequest => asked_for_a_person(t, cx),
        TriggerKind::Policy => policy_topic(t, cx),
        TriggerKind::Confidence => not_sure(cx),
        TriggerKind::Sentiment if t.rule.ends_with("frustration") => frustrated(t, cx),
        TriggerKind::Sentiment => upset(t, cx),
        TriggerKind::Loop => going_in_circles(t, cx),
        TriggerKind::AiError => with_detail("the AI could not answer", t.evidence.first()),
        TriggerKind::AgentRequest => with_detail("the AI asked for a person", t.evidence.first()),
    }
}

fn quote(text: &str) -> String {
    format!("\u{201c}{}\u{201d}", shorten(text.trim(), QUOTE_MAX_CHARS))
}

fn with_detail(head: &str, detail: Option<&String>) -> String {
    match detail.map(|d| d.trim()).filter(|d| !d.is_empty()) {
        Some(d) => format!("{head}: {}", shorten(d, 120)),
        None => head.to_string(),
    }
}

/// The customer messages to quote from: the escalating one first, then the latest first.
fn messages_to_quote<'a>(cx: &WhyContext<'a>) -> impl Iterator<Item = &'a str> {
    cx.escalating
        .into_iter()
        .chain(cx.customer_texts.iter().rev().copied())
}

/// `asked for a person: “can I talk to someone”`: the customer's sentence that asks.
fn asked_for_a_person(t: &Trigger, cx: &WhyContext<'_>) -> String {
    let asking = messages_to_quote(cx).find_map(|text| {
        split(text)
            .into_iter()
            .map(strip_greeting)
            .find(|s| asks_for_a_person(s))
    });
    match asking.or_else(|| t.evidence.first().map(String::as_str)) {
        Some(words) => format!("asked for a person: {}", quote(words)),
        None => "asked for a person".to_string(),
    }
}

/// "disputes a charge (“charged twice”)", "wants to cancel": the topic policy reserves for
/// people. The rule names it (`always_human.billing_dispute`).
fn policy_topic(t: &Trigger, cx: &WhyContext<'_>) -> String {
    let label = t.rule.rsplit('.').next().unwrap_or(&t.rule);
    let mut line = match issue_phrase(label) {
        Some(phrase) => phrase.to_string(),
        None if label.is_empty() => "raises a topic that always goes to a person".to_string(),
        None => format!(
            "raises a topic that always goes to a person ({})",
            label_words(label)
        ),
    };
    let cue = cx
        .issue_type
        .filter(|it| it.label == label)
        .and_then(|it| it.dispute_evidence.first());
    if let Some(cue) = cue {
        line.push_str(&format!(" ({})", quote(cue)));
    }
    line
}

/// The customer's question in a message: its most informative sentence.
fn question_in(text: &str) -> &str {
    split(text)
        .into_iter()
        .map(strip_greeting)
        .filter_map(|s| informativeness(s).map(|score| (score, s)))
        // Highest score; on a tie, the first.
        .fold(None, |best: Option<(f64, &str)>, (score, s)| match best {
            Some((b, _)) if b >= score => best,
            _ => Some((score, s)),
        })
        .map_or(text.trim(), |(_, s)| s)
}

/// "the AI was not sure: the closest article, “…”, does not cover “…”".
fn not_sure(cx: &WhyContext<'_>) -> String {
    let question = cx
        .escalating
        .map(question_in)
        .filter(|q| !q.is_empty())
        .map(quote);
    let closest = cx
        .signals
        .and_then(|s| s.top_articles.first())
        .map(|a| quote(&a.title));
    match (closest, question, cx.signals.is_some()) {
        (Some(title), Some(question), _) => {
            format!("the AI was not sure: the closest article, {title}, does not cover {question}")
        }
        (Some(title), None, _) => {
            format!(
                "the AI was not sure: the closest article, {title}, does not cover the question"
            )
        }
        (None, Some(question), true) => {
            format!("the AI was not sure: no article came close to {question}")
        }
        (None, None, true) => "the AI was not sure: no article came close".to_string(),
        (None, Some(question), false) => {
            format!("the AI was not sure it could answer {question}")
        }
        (None, None, false) => "the AI was not sure it could answer".to_string(),
    }
}

/// Sentiment in words, on VADER's scale.
fn mood(sentiment: f64) -> &'static str {
    match sentiment {
        s if s >= 0.35 => "positive",
        s if s >= 0.05 => "slightly positive",
        s if s > -0.05 => "neutral",
        s if s > -0.35 => "slightly negative",
        s if s > -0.6 => "negative",
        _ => "very negative",
    }
}

/// A support phrase behind the sentiment that the customer wrote ("still not working"):
/// the signals' own, else a trigger evidence that quotes the customer.
fn feeling_in_their_words<'a>(t: &'a Trigger, cx: &WhyContext<'a>) -> Option<&'a str> {
    if let Some(phrase) = cx
        .signals
        .and_then(|s| s.signals.sentiment_evidence.first())
    {
        return Some(phrase);
    }
    let written: Vec<String> = messages_to_quote(cx).map(fold).collect();
    t.evidence
        .iter()
        .find(|e| {
            let e = fold(e);
            !e.trim().is_empty() && written.iter().any(|w| w.contains(&e))
        })
        .map(String::as_str)
}

/// "is getting frustrated (sentiment fell from neutral to very negative): “still not
/// working”".
fn frustrated(t: &Trigger, cx: &WhyContext<'_>) -> String {
    let mut line = "is getting frustrated".to_string();
    if let (Some(first), Some(last)) = (cx.sentiment_trend.first(), cx.sentiment_trend.last())
        && cx.sentiment_trend.len() > 1
        && last.sentiment < first.sentiment
    {
        let (from, to) = (mood(first.sentiment), mood(last.sentiment));
        if from == to {
            line.push_str(&format!(" (sentiment {to} and falling)"));
        } else {
            line.push_str(&format!(" (sentiment fell from {from} to {to})"));
        }
    }
    if let Some(words) = feeling_in_their_words(t, cx) {
        line.push_str(&format!(": {}", quote(words)));
    }
    line
}

/// "is upset: “this is ridiculous”": one very negative message.
fn upset(t: &Trigger, cx: &WhyContext<'_>) -> String {
    match feeling_in_their_words(t, cx) {
        Some(words) => format!("is upset: {}", quote(words)),
        None => format!("is upset (their message reads {})", mood(t.value)),
    }
}

/// "the conversation was going in circles: the AI served “…” twice, and the customer asked
/// again (“…”)".
fn going_in_circles(t: &Trigger, cx: &WhyContext<'_>) -> String {
    let mut what: Vec<String> = Vec::new();
    // The article served most often, from the AI's answers themselves.
    let mut served: Vec<(&str, &str, usize)> = Vec::new();
    for article in cx.ai_attempts.iter().flat_map(|a| a.articles.first()) {
        match served.iter_mut().find(|(id, _, _)| *id == article.id) {
            Some((_, _, n)) => *n += 1,
            None => served.push((&article.id, &article.title, 1)),
        }
    }
    if let Some((_, title, n)) = served
        .iter()
        .filter(|(_, _, n)| *n >= 2)
        .max_by_key(|(_, _, n)| *n)
    {
        let times = if *n == 2 {
            "twice".to_string()
        } else {
            format!("{n} times")
        };
        what.push(format!("the AI served {} {times}", quote(title)));
    }
    if let Some(looping) = cx.signals.map(|s| &s.signals.looping) {
        if looping.rephrase_similarity >= REPHRASED {
            let again = cx.escalating.map(question_in).filter(|q| !q.is_empty());
            what.push(match again {
                Some(q) => format!("the customer asked again ({})", quote(q)),
                None => "the customer asked the same thing again".to_string(),
            });
        }
        if what.is_empty() && looping.ai_turns_without_progress >= WITHOUT_PROGRESS {
            what.push(format!(
                "{} AI answers in a row without progress",
                looping.ai_turns_without_progress
            ));
        }
    }
    if what.is_empty() {
        // The loop detector's own words ("customer says the answer did not help …").
        return with_detail("the conversation was going in circles", t.evidence.first());
    }
    format!(
        "the conversation was going in circles: {}",
        what.join(", and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_in_words() {
        assert_eq!(mood(0.6), "positive");
        assert_eq!(mood(0.0), "neutral");
        assert_eq!(mood(-0.2), "slightly negative");
        assert_eq!(mood(-0.45), "negative");
        assert_eq!(mood(-0.72), "very negative");
    }

    #[test]
    fn the_question_is_the_most_informative_sentence() {
        assert_eq!(
            question_in("Hi! Can I pay invoice INV-88 in EUR instead of USD? Thanks"),
            "Can I pay invoice INV-88 in EUR instead of USD?"
        );
        assert_eq!(question_in("hello?"), "hello?");
    }
}
