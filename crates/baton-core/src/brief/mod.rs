//! The brief: everything Baton knows about a conversation, packed for the person who takes it
//! over, so the customer never has to repeat themselves.
//!
//! A [`Brief`] is built from the conversation's timeline, the customer and account, and the
//! escalating decision; it is a pure function of those and the time `now`. It is stored with
//! the handoff as JSON (schema [`SCHEMA`]) and rendered for people by [`render_text`]: why
//! the conversation came to a person, what the customer needs, who they are, what was tried,
//! then the details (entities, page trail, the AI's answers, the sentiment trend, the
//! transcript).
//!
//! Everything is extractive and deterministic: why reads as one sentence per trigger in the
//! support team's words (`why.rs`), the summary states the request from the customer's own
//! words (`summary.rs`), and the opening line names the problem and what was tried
//! (`opening.rs`). An LLM summary can be passed in and replaces the extractive one.

pub mod entities;
mod opening;
mod phrases;
mod render;
pub mod sentences;
mod summary;
mod why;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::signals::sentiment::CueKind;
use crate::signals::{IssueTypeSignal, SentimentModel, TurnSignals};
use crate::{
    Account, ArticleLink, Conversation, Customer, Decision, Event, EventBody, PageContext,
    PageEventKind, Role, ScoredArticle, Trigger, TriggerKind,
};
pub use entities::{Entity, EntityKind};
pub use render::render_text;

/// The schema name and version stored with every brief.
pub const SCHEMA: &str = "brief.v1";

/// How many page events the page trail keeps (the most recent).
pub const PAGE_TRAIL_LEN: usize = 10;

/// Sentiment from which a reaction counts as positive (and below minus which it counts as
/// negative): VADER's own neutral band.
const REACTION_BAND: f64 = 0.05;

/// The longest "what the customer needs" line, in characters.
const NEEDS_MAX_CHARS: usize = 220;

/// How much less a sentence counts when it is from a message the AI already resolved ("How
/// do I add a user?" followed by "thanks, that worked"): that was not why they stayed.
const RESOLVED_PENALTY: f64 = 6.0;

static SENTIMENT: LazyLock<SentimentModel> = LazyLock::new(SentimentModel::new);

/// What the brief is built from.
#[derive(Debug, Clone, Copy)]
pub struct BriefInput<'a> {
    pub conversation: &'a Conversation,
    pub customer: &'a Customer,
    pub account: Option<&'a Account>,
    /// The conversation's timeline, in `seq` order (staff-only events included).
    pub events: &'a [Event],
    /// The decision that escalated.
    pub decision: &'a Decision,
    /// What was read off the escalating turn, when known.
    pub signals: Option<&'a TurnSignals>,
    /// A summary written by a language model, when one is configured; replaces the
    /// extractive summary.
    pub summary: Option<&'a str>,
    /// The time the brief is built at.
    pub now: DateTime<Utc>,
}

/// The context package a person receives with a handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Brief {
    /// Always [`SCHEMA`] (`brief.v1`).
    pub schema: String,
    pub conversation_id: String,
    pub built_at: DateTime<Utc>,
    /// Why a person is needed.
    pub why: Why,
    /// What the customer needs, in one line of their own words.
    pub needs: String,
    /// Who the customer is.
    pub customer: CustomerCard,
    /// Their company, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountCard>,
    /// A short summary of the issue.
    pub summary: Summary,
    /// What kind of issue this is, as read off the escalating turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<IssueTypeSignal>,
    /// Identifiers, amounts, dates, emails and error codes from the conversation.
    pub entities: Vec<Entity>,
    /// Where the customer was in the product.
    pub pages: PageTrail,
    /// What the customer tried and what the AI suggested.
    pub actions: ActionsAttempted,
    /// Each AI answer: its kind, articles and confidence.
    pub ai_attempts: Vec<AiAttempt>,
    /// Sentiment of each customer turn, oldest first.
    pub sentiment_trend: Vec<SentimentPoint>,
    /// The conversation's messages.
    pub transcript: Vec<TranscriptLine>,
    /// A first message for the agent that shows the customer they were heard.
    pub opening_line: String,
}

/// Why the conversation came to a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Why {
    /// Every trigger that fired, strongest first, with its evidence.
    pub triggers: Vec<Trigger>,
    /// The decision's explanation, in one sentence.
    pub explanation: String,
    pub policy_version: String,
    /// The policy segments that applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// The `seq` of the customer message that escalated, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_seq: Option<i64>,
    /// One sentence per trigger, in the triggers' order, in the support team's words
    /// ("asked for a person: “can I talk to someone”", "disputes a charge"). Empty in briefs
    /// stored before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<WhyReason>,
}

/// One reason a person is needed, as a sentence; the trigger it comes from has the values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WhyReason {
    pub kind: TriggerKind,
    /// What happened, without a subject when it is the customer ("disputes a charge", "is
    /// getting frustrated (sentiment fell from neutral to very negative)", "the AI was not
    /// sure: the closest article, “Refunds”, does not cover “…”").
    pub sentence: String,
    /// The rule that fired (`always_human.billing_dispute`), as detail.
    pub rule: String,
}

/// The customer, as the agent needs to know them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerCard {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The host product's id for the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A visitor the host product did not identify.
    pub anonymous: bool,
    /// Days since the account signed up (or since the customer was first seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i64>,
}

/// The customer's company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountCard {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The account attribute `plan`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The account's owner (customer success manager).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_at: Option<DateTime<Utc>>,
    /// Free attributes from the host product.
    #[schema(value_type = Object)]
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

/// Where a summary comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SummarySource {
    /// The request, stated from the issue type, the entities and the customer's most
    /// informative sentences.
    Extractive,
    /// Written by the configured language model.
    Llm,
}

/// A short summary of the issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub text: String,
    pub source: SummarySource,
}

/// One step of the page trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PageStep {
    pub seq: i64,
    pub kind: PageEventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When it happened in the browser (when Baton stored it, if the widget did not say).
    pub at: DateTime<Utc>,
}

/// The page a customer message was sent from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub message_seq: i64,
    pub at: DateTime<Utc>,
    pub page: PageContext,
}

/// Where the customer was in the product.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct PageTrail {
    /// The most recent page events (at most [`PAGE_TRAIL_LEN`]), oldest first.
    pub steps: Vec<PageStep>,
    /// Page events before those, left out.
    pub earlier_steps: usize,
    /// The page each customer message was sent from.
    pub message_pages: Vec<MessagePage>,
    /// The last page the customer was seen on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<PageContext>,
}

/// How the customer reacted to an AI suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// The next customer turn is positive (it worked, thanks).
    Positive,
    /// The next customer turn is negative (it did not help, still broken).
    Negative,
    /// The next customer turn is neither.
    Neutral,
    /// The customer did not write again after it.
    NoReply,
}

impl Reaction {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Positive => "positive",
            Reaction::Negative => "negative",
            Reaction::Neutral => "neutral",
            Reaction::NoReply => "no_reply",
        }
    }
}

/// Something the customer says they already did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerAttempt {
    pub message_seq: i64,
    pub at: DateTime<Utc>,
    /// The sentence, as the customer wrote it.
    pub text: String,
}

/// Something the AI told the customer to do, and how they took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AiSuggestion {
    pub message_seq: i64,
    pub at: DateTime<Utc>,
    /// The answer's first instruction (or its first sentence when it gives none).
    pub instruction: String,
    /// The article the answer cites first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<ArticleLink>,
    pub reaction: Reaction,
    /// The customer's next message, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_text: Option<String>,
    /// Its sentiment in [-1, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_sentiment: Option<f64>,
}

/// What was tried before the handoff.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ActionsAttempted {
    /// What the customer says they already did.
    pub customer: Vec<CustomerAttempt>,
    /// What the AI suggested, with the customer's reaction.
    pub ai_suggestions: Vec<AiSuggestion>,
}

/// One AI answer, as the agent needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AiAttempt {
    pub message_seq: i64,
    pub at: DateTime<Utc>,
    /// `answer`, `clarify` or `no_answer` (`unknown` without a stored `ai_reply`).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<String>,
    /// Calibrated retrieval confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Articles the answer cites.
    pub articles: Vec<ArticleLink>,
    /// Articles retrieval proposed, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub considered: Vec<ScoredArticle>,
    /// The start of the answer.
    pub excerpt: String,
}

/// Where a sentiment reading comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentSource {
    /// The stored decision for the turn.
    Decision,
    /// Computed for the brief (the turn has no stored decision).
    Computed,
}

/// Sentiment of one customer turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SentimentPoint {
    pub message_seq: i64,
    pub at: DateTime<Utc>,
    /// In [-1, 1].
    pub sentiment: f64,
    /// Frustration over the conversation so far, when a decision recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frustration: Option<f64>,
    pub source: SentimentSource,
}

/// One message of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TranscriptLine {
    pub seq: i64,
    pub role: Role,
    pub text: String,
    pub at: DateTime<Utc>,
    /// The staff member who wrote it (agent messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// A customer message, with what the timeline says about it.
struct CustomerTurn<'a> {
    seq: i64,
    at: DateTime<Utc>,
    text: &'a str,
    /// The stored decision's signals for it.
    signals: Option<&'a TurnSignals>,
}

/// An AI message, with its `ai_reply`.
struct AiTurn<'a> {
    seq: i64,
    at: DateTime<Utc>,
    text: &'a str,
    articles: &'a [ArticleLink],
    reply: Option<AiReplyView<'a>>,
}

struct AiReplyView<'a> {
    kind: &'a str,
    responder: &'a str,
    confidence: Option<f64>,
    articles: &'a [ScoredArticle],
}

impl Brief {
    /// Builds the brief. Pure: the same input gives the same brief.
    pub fn build(input: &BriefInput<'_>) -> Brief {
        let events = input.events;
        let customer_turns = customer_turns(events);
        let ai_turns = ai_turns(events);
        let ai_suggestions = ai_suggestions(&ai_turns, &customer_turns);
        let resolved = resolved_turns(&customer_turns, &ai_turns);
        let message_seq = escalating_seq(events, input.decision);

        let need = needs_sentences(&customer_turns, &resolved);
        let needs = needs_line(&need.sentences, !customer_turns.is_empty());

        let signals = input.signals.or_else(|| {
            // The escalating turn's stored reading, when the caller did not pass it.
            customer_turns
                .iter()
                .find(|t| Some(t.seq) == message_seq)
                .and_then(|t| t.signals)
        });
        let issue_type = signals
            .or_else(|| {
                // The latest stored reading.
                customer_turns.iter().rev().find_map(|t| t.signals)
            })
            .map(|s| s.signals.issue_type.clone())
            .filter(|it| !it.label.is_empty());

        let entities = collect_entities(events);
        let summary = match input.summary.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Summary {
                text: text.to_string(),
                source: SummarySource::Llm,
            },
            None => Summary {
                text: summary::request_summary(
                    &need.sentences,
                    further_detail(&customer_turns, &resolved, &need),
                    issue_type.as_ref().map(|it| it.label.as_str()),
                    &entities,
                ),
                source: SummarySource::Extractive,
            },
        };

        let sentiment_trend = sentiment_trend(&customer_turns);
        let ai_attempts = ai_attempts(&ai_turns);
        let reasons = why::reasons(
            &input.decision.triggers,
            &why::WhyContext {
                customer_texts: customer_turns.iter().map(|t| t.text).collect(),
                escalating: customer_turns
                    .iter()
                    .find(|t| Some(t.seq) == message_seq)
                    .map(|t| t.text),
                signals,
                issue_type: issue_type.as_ref(),
                sentiment_trend: &sentiment_trend,
                ai_attempts: &ai_attempts,
            },
        );
        let why = Why {
            triggers: input.decision.triggers.clone(),
            explanation: input.decision.explanation.clone(),
            policy_version: input.decision.policy_version.clone(),
            segments: input.decision.segments.clone(),
            message_seq,
            reasons,
        };

        let focus = opening::Focus {
            need: need.sentences.first().copied(),
            since: need.turn.map(|t| customer_turns[t].seq),
            answers: on_topic_answers(&ai_suggestions, &customer_turns, &resolved, &need),
        };
        let actions = ActionsAttempted {
            customer: customer_attempts(&customer_turns),
            ai_suggestions,
        };
        let brief = Brief {
            schema: SCHEMA.to_string(),
            conversation_id: input.conversation.id.clone(),
            built_at: input.now,
            customer: customer_card(input),
            account: input.account.map(account_card),
            why,
            needs,
            summary,
            issue_type,
            entities,
            pages: page_trail(input.conversation, events),
            actions,
            ai_attempts,
            sentiment_trend,
            transcript: transcript(events),
            opening_line: String::new(),
        };
        Brief {
            opening_line: opening::opening_line(&brief, &focus),
            ..brief
        }
    }
}

fn customer_turns(events: &[Event]) -> Vec<CustomerTurn<'_>> {
    let mut turns: Vec<CustomerTurn<'_>> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message {
                role: Role::Customer,
                text,
                ..
            } => Some(CustomerTurn {
                seq: e.seq,
                at: e.at,
                text,
                signals: None,
            }),
            _ => None,
        })
        .collect();
    for e in events {
        if let EventBody::Decision {
            message_seq,
            signals,
            ..
        } = &e.body
            && let Some(turn) = turns.iter_mut().find(|t| t.seq == *message_seq)
        {
            // A later decision for the same turn (a re-evaluation) wins.
            turn.signals = Some(signals);
        }
    }
    turns
}

fn ai_turns(events: &[Event]) -> Vec<AiTurn<'_>> {
    let mut turns: Vec<AiTurn<'_>> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message {
                role: Role::Ai,
                text,
                articles,
                ..
            } => Some(AiTurn {
                seq: e.seq,
                at: e.at,
                text,
                articles,
                reply: None,
            }),
            _ => None,
        })
        .collect();
    for e in events {
        if let EventBody::AiReply {
            message_seq,
            kind,
            responder,
            confidence,
            articles,
            ..
        } = &e.body
            && let Some(turn) = turns.iter_mut().find(|t| t.seq == *message_seq)
        {
            turn.reply = Some(AiReplyView {
                kind,
                responder,
                confidence: *confidence,
                articles,
            });
        }
    }
    turns
}

/// The customer message the escalating decision judged: the last stored decision equal to
/// it, else the last escalating decision, else the last customer message.
fn escalating_seq(events: &[Event], decision: &Decision) -> Option<i64> {
    let decisions = || {
        events.iter().rev().filter_map(|e| match &e.body {
            EventBody::Decision {
                message_seq,
                decision,
                ..
            } => Some((*message_seq, &**decision)),
            _ => None,
        })
    };
    decisions()
        .find(|(_, d)| *d == decision)
        .or_else(|| decisions().find(|(_, d)| d.escalates()))
        .map(|(seq, _)| seq)
        .or_else(|| {
            events.iter().rev().find_map(|e| match &e.body {
                EventBody::Message {
                    role: Role::Customer,
                    ..
                } => Some(e.seq),
                _ => None,
            })
        })
}

/// Customer sentences that say something about the issue, with their score and position.
fn scored_sentences<'a>(
    turns: &[CustomerTurn<'a>],
    resolved: &[bool],
) -> Vec<(f64, usize, usize, &'a str)> {
    let mut out = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        for (s, sentence) in sentences::split(turn.text).into_iter().enumerate() {
            let sentence = sentences::strip_greeting(sentence);
            if let Some(score) = sentences::informativeness(sentence) {
                // The first statement of a problem is usually the main ask; later turns
                // tend to repeat it with more anger than content. What the customer tried
                // is listed on its own.
                let mut score = score - 0.5 * t as f64;
                if sentences::is_attempt(sentence) {
                    score -= 4.0;
                }
                if resolved.get(t).copied().unwrap_or(false) {
                    score -= RESOLVED_PENALTY;
                }
                out.push((score, t, s, sentence));
            }
        }
    }
    out
}

/// The best sentence, or nothing.
fn best_sentence<'a>(
    turns: &[CustomerTurn<'a>],
    resolved: &[bool],
) -> Option<(usize, usize, &'a str)> {
    scored_sentences(turns, resolved)
        .into_iter()
        // Highest score; on a tie, the earliest sentence.
        .max_by(|a, b| a.0.total_cmp(&b.0).then((b.1, b.2).cmp(&(a.1, a.2))))
        .map(|(_, t, s, text)| (t, s, text))
}

/// The customer's main ask and the message it is in.
struct Need<'a> {
    /// Index of the customer turn it is in.
    turn: Option<usize>,
    /// One or two sentences, in the order written; the most informative is first unless a
    /// short one needs the sentence before it.
    sentences: Vec<&'a str>,
}

/// The customer's main ask: their most informative sentence, with its neighbour in the same
/// message when it is short ("SSO is broken since this morning. We get ERR_SSO_401.").
/// Messages about a question the AI already resolved count for less.
fn needs_sentences<'a>(turns: &[CustomerTurn<'a>], resolved: &[bool]) -> Need<'a> {
    let Some((t, s, best)) = best_sentence(turns, resolved) else {
        return Need {
            turn: None,
            sentences: Vec::new(),
        };
    };
    let need = |sentences| Need {
        turn: Some(t),
        sentences,
    };
    if best.split_whitespace().count() >= 8 {
        return need(vec![best]);
    }
    let all = sentences::split(turns[t].text);
    let neighbour = |i: usize| {
        all.get(i)
            .map(|n| sentences::strip_greeting(n))
            .filter(|n| sentences::informativeness(n).is_some())
    };
    if let Some(previous) = s.checked_sub(1).and_then(neighbour) {
        need(vec![previous, best])
    } else if let Some(next) = neighbour(s + 1) {
        need(vec![best, next])
    } else {
        need(vec![best])
    }
}

/// One line: the customer's main ask in their own words.
fn needs_line(need: &[&str], customer_wrote: bool) -> String {
    if need.is_empty() {
        return if customer_wrote {
            "Not stated: the customer asked for a person without describing the issue.".to_string()
        } else {
            "Not stated: the customer has not written yet.".to_string()
        };
    }
    sentences::shorten(&need.join(" "), NEEDS_MAX_CHARS)
}

/// A sentence for the summary beyond the main ask: the most informative one written since,
/// on the same problem, that names something the ask does not (an error code, an amount, an
/// identifier). What the customer tried is listed on its own. The summary checks again
/// against what its first sentence says.
fn further_detail<'a>(
    turns: &[CustomerTurn<'a>],
    resolved: &[bool],
    need: &Need<'a>,
) -> Option<&'a str> {
    let since = need.turn?;
    let said = sentences::fold_words(&need.sentences.join(" "));
    scored_sentences(turns, resolved)
        .into_iter()
        .filter(|(_, t, _, text)| {
            *t >= since
                && !resolved.get(*t).copied().unwrap_or(false)
                && !need.sentences.contains(text)
                && !sentences::is_attempt(text)
                && sentences::fold_words(text)
                    .iter()
                    .any(|w| w.chars().any(|c| c.is_ascii_digit()) && !said.contains(w))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then((b.1, b.2).cmp(&(a.1, a.2))))
        .map(|(_, _, _, text)| text)
}

/// For each customer turn, whether the AI's answer to it worked: the customer's next message
/// says so ("thanks, that worked"), even when it goes on about something else.
fn resolved_turns(turns: &[CustomerTurn<'_>], ai: &[AiTurn<'_>]) -> Vec<bool> {
    let mut resolved = vec![false; turns.len()];
    for (k, pair) in turns.windows(2).enumerate() {
        let answered = ai
            .iter()
            .any(|a| a.seq > pair[0].seq && a.seq < pair[1].seq);
        let reading = SENTIMENT.read(pair[1].text);
        if answered
            && reading.count(CueKind::Progress) > 0
            && reading.count(CueKind::NotHelped) == 0
        {
            resolved[k] = true;
        }
    }
    resolved
}

/// The customer turn an AI message answered: the last one before it.
fn answered_turn(turns: &[CustomerTurn<'_>], ai_seq: i64) -> Option<usize> {
    turns.iter().rposition(|t| t.seq < ai_seq)
}

/// The AI answers (their `seq`) that were about the customer's problem: answers to the
/// message that states it or to a later one that says something about the issue, never to a
/// greeting or to an earlier question the AI resolved.
fn on_topic_answers(
    suggestions: &[AiSuggestion],
    turns: &[CustomerTurn<'_>],
    resolved: &[bool],
    need: &Need<'_>,
) -> Vec<i64> {
    let Some(since) = need.turn else {
        return Vec::new();
    };
    let says_something = |t: usize| {
        sentences::split(turns[t].text)
            .into_iter()
            .any(|s| sentences::informativeness(sentences::strip_greeting(s)).is_some())
    };
    suggestions
        .iter()
        .filter(|s| {
            answered_turn(turns, s.message_seq)
                .is_some_and(|t| t >= since && !resolved[t] && says_something(t))
        })
        .map(|s| s.message_seq)
        .collect()
}

fn customer_card(input: &BriefInput<'_>) -> CustomerCard {
    let c = input.customer;
    let since = input
        .account
        .and_then(|a| a.signup_at)
        .unwrap_or(c.created_at);
    CustomerCard {
        id: c.id.clone(),
        name: c.name.clone().filter(|n| !n.trim().is_empty()),
        email: c.email.clone(),
        external_id: c.external_id.clone(),
        anonymous: c.is_anonymous(),
        age_days: Some((input.now - since).num_days().max(0)),
    }
}

fn account_card(a: &Account) -> AccountCard {
    let plan = a.attrs.get("plan").and_then(|v| match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    AccountCard {
        id: a.id.clone(),
        name: a.name.clone(),
        tier: a.tier.clone(),
        plan,
        owner: a.owner.clone(),
        signup_at: a.signup_at,
        attrs: a.attrs.clone(),
    }
}

/// Entities from customer messages and page events (error details carry error codes).
/// Staff and AI messages are left out: they quote the customer or the knowledge base.
fn collect_entities(events: &[Event]) -> Vec<Entity> {
    let mut collector = entities::EntityCollector::default();
    for e in events {
        match &e.body {
            EventBody::Message {
                role: Role::Customer,
                text,
                ..
            } => collector.read(text, e.seq),
            EventBody::PageEvent { label, detail, .. } => {
                for text in [label, detail].into_iter().flatten() {
                    collector.read(text, e.seq);
                }
            }
            _ => {}
        }
    }
    collector.finish()
}

fn page_trail(conversation: &Conversation, events: &[Event]) -> PageTrail {
    let all: Vec<PageStep> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::PageEvent {
                kind,
                url,
                label,
                detail,
                occurred_at,
            } => Some(PageStep {
                seq: e.seq,
                kind: *kind,
                url: url.clone(),
                label: label.clone(),
                detail: detail.clone(),
                at: occurred_at.unwrap_or(e.at),
            }),
            _ => None,
        })
        .collect();
    let earlier_steps = all.len().saturating_sub(PAGE_TRAIL_LEN);
    let steps = all[earlier_steps..].to_vec();

    let mut message_pages = Vec::new();
    let mut current = conversation.page.clone();
    for e in events {
        match &e.body {
            EventBody::ConversationStarted { page: Some(page) } => current = Some(page.clone()),
            EventBody::Message {
                role: Role::Customer,
                page: Some(page),
                ..
            } => {
                message_pages.push(MessagePage {
                    message_seq: e.seq,
                    at: e.at,
                    page: page.clone(),
                });
                current = Some(page.clone());
            }
            EventBody::PageEvent {
                kind: PageEventKind::PageView,
                url: Some(url),
                label,
                ..
            } => {
                current = Some(PageContext {
                    url: Some(url.clone()),
                    title: label.clone(),
                    referrer: None,
                });
            }
            _ => {}
        }
    }
    PageTrail {
        steps,
        earlier_steps,
        message_pages,
        current,
    }
}

fn customer_attempts(turns: &[CustomerTurn<'_>]) -> Vec<CustomerAttempt> {
    let mut out: Vec<CustomerAttempt> = Vec::new();
    for turn in turns {
        for sentence in sentences::split(turn.text) {
            if sentences::is_attempt(sentence) && !out.iter().any(|a| a.text == sentence) {
                out.push(CustomerAttempt {
                    message_seq: turn.seq,
                    at: turn.at,
                    text: sentence.to_string(),
                });
            }
        }
    }
    out
}

/// The sentiment of a customer turn: the stored decision's reading, else the model's.
fn turn_sentiment(turn: &CustomerTurn<'_>) -> (f64, SentimentSource) {
    match turn.signals {
        Some(s) => (s.signals.sentiment, SentimentSource::Decision),
        None => (
            (SENTIMENT.read(turn.text).score * 1000.0).round() / 1000.0,
            SentimentSource::Computed,
        ),
    }
}

/// How a customer turn takes the answer before it: cues first ("that didn't help",
/// "thanks, that worked"), then the sentiment.
fn reaction(turn: &CustomerTurn<'_>) -> (Reaction, f64) {
    let reading = SENTIMENT.read(turn.text);
    let (sentiment, _) = turn_sentiment(turn);
    let negative_cue =
        reading.count(CueKind::NotHelped) > 0 || reading.count(CueKind::Complaint) > 0;
    let reaction = if negative_cue {
        Reaction::Negative
    } else if reading.count(CueKind::Progress) > 0 || sentiment >= REACTION_BAND {
        Reaction::Positive
    } else if sentiment <= -REACTION_BAND {
        Reaction::Negative
    } else {
        Reaction::Neutral
    };
    (reaction, sentiment)
}

fn ai_suggestions(ai: &[AiTurn<'_>], customer: &[CustomerTurn<'_>]) -> Vec<AiSuggestion> {
    let mut out = Vec::new();
    for (i, turn) in ai.iter().enumerate() {
        // Clarifying questions and "no answer" suggest nothing.
        if let Some(reply) = &turn.reply
            && reply.kind != "answer"
        {
            continue;
        }
        let all = sentences::split(turn.text);
        let Some(instruction) = all
            .iter()
            .find(|s| sentences::is_instruction(s))
            .or_else(|| all.first())
        else {
            continue;
        };
        // The customer's next turn, before the AI spoke again.
        let next_ai_seq = ai.get(i + 1).map_or(i64::MAX, |n| n.seq);
        let next = customer
            .iter()
            .find(|c| c.seq > turn.seq && c.seq < next_ai_seq);
        let (reaction, reaction_sentiment) = match next {
            Some(c) => {
                let (r, s) = reaction(c);
                (r, Some(s))
            }
            None => (Reaction::NoReply, None),
        };
        out.push(AiSuggestion {
            message_seq: turn.seq,
            at: turn.at,
            instruction: sentences::shorten(instruction, 240),
            article: turn.articles.first().cloned(),
            reaction,
            reaction_text: next.map(|c| sentences::shorten(c.text, 240)),
            reaction_sentiment,
        });
    }
    out
}

fn ai_attempts(ai: &[AiTurn<'_>]) -> Vec<AiAttempt> {
    ai.iter()
        .map(|t| AiAttempt {
            message_seq: t.seq,
            at: t.at,
            kind: t
                .reply
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |r| r.kind.to_string()),
            responder: t.reply.as_ref().map(|r| r.responder.to_string()),
            confidence: t.reply.as_ref().and_then(|r| r.confidence),
            articles: t.articles.to_vec(),
            considered: t
                .reply
                .as_ref()
                .map(|r| r.articles.to_vec())
                .unwrap_or_default(),
            excerpt: sentences::shorten(t.text, 160),
        })
        .collect()
}

fn sentiment_trend(turns: &[CustomerTurn<'_>]) -> Vec<SentimentPoint> {
    turns
        .iter()
        .map(|t| {
            let (sentiment, source) = turn_sentiment(t);
            SentimentPoint {
                message_seq: t.seq,
                at: t.at,
                sentiment,
                frustration: t.signals.map(|s| s.signals.frustration),
                source,
            }
        })
        .collect()
}

/// The messages of the conversation. Only chat messages are listed, so anything staff-only
/// that is not a message (decisions, AI reasoning) never appears here.
fn transcript(events: &[Event]) -> Vec<TranscriptLine> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message {
                role, text, author, ..
            } => Some(TranscriptLine {
                seq: e.seq,
                role: *role,
                text: text.clone(),
                at: e.at,
                author: author.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
