//! The AI side of a conversation: for a customer message in state `ai`, read the signals,
//! let the policy decide, then either let the configured responder answer from the knowledge
//! base or hand the conversation over to a person. Everything is recorded: the message the
//! customer sees, and for staff how it came about and why.

use std::time::Instant;

use baton_ai::{ReplyKind, Request, Turn};
use baton_core::policy::CustomerContext;
use baton_core::signals::{Turn as SignalTurn, TurnSignals};
use baton_core::{
    Account, ArticleLink, Conversation, Customer, Event, EventBody, NewEvent, Role, ScoredArticle,
    Trigger, TriggerKind,
};
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::state::AppState;

/// Articles retrieved per question.
const CANDIDATES: usize = 3;
/// Earlier events read for the conversation's context.
const HISTORY_EVENTS: i64 = 40;

fn link(article: &baton_ai::ArticleRef) -> ArticleLink {
    ArticleLink {
        id: article.id.clone(),
        title: article.title.clone(),
        url: article.url.clone(),
    }
}

/// Takes a customer turn while the AI owns the conversation: reads the signals off the
/// timeline, lets the policy decide, and either answers (the responder writes the reply) or
/// hands over (the conversation waits for a person and the customer is told so honestly).
/// The decision is stored as a staff-only event either way. Returns the events the customer
/// sees in reply.
pub async fn take_turn(
    state: &AppState,
    conversation: &Conversation,
    question: &str,
    message_seq: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, ApiError> {
    let started = Instant::now();
    let conversation_id = conversation.id.as_str();
    let active = state.policy.current();
    let earlier = state
        .store
        .events_after(
            conversation_id,
            (message_seq - 1 - HISTORY_EVENTS).max(0),
            HISTORY_EVENTS as u32,
            None,
        )
        .await?;
    let earlier: Vec<&Event> = earlier.iter().filter(|e| e.seq < message_seq).collect();

    // What the turn says, in the light of the conversation so far.
    let mut timeline: Vec<SignalTurn> = earlier
        .iter()
        .filter_map(|e| match &e.body {
            // A clarifying question offers articles to choose from; it serves none, so the
            // article the customer then picks is not "served again" to the loop detector.
            EventBody::Message {
                role,
                text,
                articles,
                choices,
                ..
            } => Some(
                SignalTurn::new(*role, text.clone()).at(e.at).with_articles(
                    articles
                        .iter()
                        .filter(|_| choices.is_empty())
                        .map(|a| a.id.clone()),
                ),
            ),
            _ => None,
        })
        .collect();
    timeline.push(SignalTurn::customer(question).at(now));
    let signals = active.engine.compute(&timeline).unwrap_or_default();
    let (retrieved, considered) = state.kb.retrieve_for_reply(question, CANDIDATES).await;
    let turn = TurnSignals {
        signals,
        question: baton_kb::asks_something(question),
        confidence: retrieved.confidence.map(|c| c.clamp(0.0, 1.0)),
        top_articles: considered.clone(),
    };
    let who = customer_of(state, conversation, now).await?;
    let customer = &who.context;
    let kb_revision = (!state.kb.is_empty()).then(|| state.kb.revision());
    let mut decision = active.policy.decide(&turn, customer, now, kb_revision);

    let mut visible = Vec::new();
    if !decision.escalates() {
        let history: Vec<Turn> = if state.responder.uses_history() {
            earlier
                .iter()
                .filter_map(|e| match &e.body {
                    EventBody::Message { role, text, .. } => Some(Turn::new(*role, text.clone())),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let request = Request::new(question, &retrieved).with_history(&history);
        let reply = state.responder.respond(&request).await;
        if let Some(message) =
            record_reply(state, conversation_id, &reply, considered, started, now).await?
        {
            visible.push(message);
        }
        // The responder can add a reason to hand over; it can never remove one.
        if let Some(reason) = &reply.needs_human {
            active.policy.add_trigger(
                &mut decision,
                Trigger {
                    kind: TriggerKind::AgentRequest,
                    rule: "responder.needs_human".into(),
                    value: 1.0,
                    threshold: None,
                    evidence: vec![reason.clone()],
                },
                &turn,
            );
        }
        if let Some(error) = &reply.ai_error {
            active.policy.add_trigger(
                &mut decision,
                Trigger {
                    kind: TriggerKind::AiError,
                    rule: "responder.on_failure".into(),
                    value: 1.0,
                    threshold: None,
                    evidence: vec![error.clone()],
                },
                &turn,
            );
        }
    }
    let escalates = decision.escalates();
    let escalated = if escalates {
        Some((decision.clone(), turn.clone()))
    } else {
        None
    };
    let decision_event = NewEvent {
        at: now,
        body: EventBody::Decision {
            message_seq,
            decision: Box::new(decision),
            signals: Box::new(turn),
        },
    };
    metrics::counter!(
        "baton_decisions_total",
        "action" => if escalates { "escalate" } else { "answer" }
    )
    .increment(1);
    match escalated {
        // The decision is stored with the handoff it makes, in one write.
        Some((decision, turn)) => {
            let turn = crate::handoffs::EscalatingTurn {
                decision: &decision,
                signals: &turn,
                event: decision_event,
            };
            let handed =
                crate::handoffs::escalate(state, conversation, turn, &who, &active.policy, now)
                    .await?;
            visible.extend(handed.visible);
        }
        None => {
            state
                .store
                .append_event(conversation_id, decision_event)
                .await?;
        }
    }
    Ok(visible)
}

/// The conversation's customer and their account, read once per turn.
pub struct Who {
    /// `None` only when the customer's row is missing (the escalation then fails).
    pub customer: Option<Customer>,
    pub account: Option<Account>,
    /// As the policy's segments see them.
    pub context: CustomerContext,
}

/// Who the customer is: their record, their account and what the policy's segments see.
async fn customer_of(
    state: &AppState,
    conversation: &Conversation,
    now: DateTime<Utc>,
) -> Result<Who, ApiError> {
    let customer = state.store.customer(&conversation.customer_id).await?;
    let account = match customer.as_ref().and_then(|c| c.account_id.as_deref()) {
        Some(id) => state.store.account(id).await?,
        None => None,
    };
    let context = CustomerContext::of(
        account.as_ref(),
        customer.as_ref().map(|c| c.created_at),
        now,
    );
    Ok(Who {
        customer,
        account,
        context,
    })
}

/// Stores the AI's message (unless the responder failed and the turn escalates instead) and
/// the staff-only account of how it came about. Returns the message.
async fn record_reply(
    state: &AppState,
    conversation_id: &str,
    reply: &baton_ai::Reply,
    considered: Vec<ScoredArticle>,
    started: Instant,
    now: DateTime<Utc>,
) -> Result<Option<Event>, ApiError> {
    let (kind, choices) = match &reply.kind {
        ReplyKind::Answer => ("answer", Vec::new()),
        ReplyKind::Clarify { options } => ("clarify", options.iter().map(link).collect()),
        ReplyKind::NoAnswer => ("no_answer", Vec::new()),
    };
    let message = if reply.ai_error.is_some() {
        None
    } else {
        Some(
            state
                .store
                .append_event(
                    conversation_id,
                    NewEvent {
                        at: now,
                        body: EventBody::Message {
                            role: Role::Ai,
                            text: reply.text.clone(),
                            client_msg_id: None,
                            author: None,
                            page: None,
                            articles: reply.articles_used.iter().map(link).collect(),
                            choices,
                            handover: None,
                        },
                    },
                )
                .await?
                .into_event(),
        )
    };
    let latency = started.elapsed();
    state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::AiReply {
                    message_seq: message.as_ref().map_or(0, |m| m.seq),
                    kind: kind.to_string(),
                    responder: state.responder.name().to_string(),
                    confidence: reply.confidence,
                    model_confidence: reply.model_confidence,
                    articles: considered,
                    reasoning: reply.reasoning.clone(),
                    needs_human: reply.needs_human.clone(),
                    ai_error: reply.ai_error.clone(),
                    model: reply.model.clone(),
                    latency_ms: latency.as_millis() as u64,
                },
            },
        )
        .await?;
    metrics::histogram!("baton_ai_reply_seconds", "responder" => state.responder.name())
        .record(latency.as_secs_f64());
    if message.is_some() {
        metrics::counter!("baton_messages_stored_total", "role" => "ai").increment(1);
    }
    Ok(message)
}

/// The AI messages already stored in reply to the customer message at `message_seq` (for a
/// retried post: the client gets the same replies again).
pub async fn stored_replies(
    state: &AppState,
    conversation_id: &str,
    message_seq: i64,
) -> Result<Vec<Event>, ApiError> {
    let after = state
        .store
        .events_after(conversation_id, message_seq, 20, None)
        .await?;
    Ok(after
        .into_iter()
        .take_while(|e| {
            !matches!(
                &e.body,
                EventBody::Message {
                    role: Role::Customer,
                    ..
                }
            )
        })
        .filter(|e| {
            matches!(
                &e.body,
                EventBody::Message {
                    role: Role::Ai | Role::System,
                    ..
                }
            )
        })
        .collect())
}
