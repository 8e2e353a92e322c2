//! The AI side of a conversation: for a customer message in state `ai`, retrieve from the
//! knowledge base, let the configured responder write the reply, and record it (the message
//! the customer sees, and for staff how it came about).

use std::time::Instant;

use baton_ai::{ReplyKind, Request, Turn};
use baton_core::{ArticleLink, Event, EventBody, NewEvent, Role};
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

/// Answers the customer message stored at `message_seq` and returns the events the customer
/// sees (the AI's message).
pub async fn reply(
    state: &AppState,
    conversation_id: &str,
    question: &str,
    message_seq: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, ApiError> {
    let started = Instant::now();
    let earlier = if state.responder.uses_history() {
        state
            .store
            .events_after(
                conversation_id,
                (message_seq - 1 - HISTORY_EVENTS).max(0),
                HISTORY_EVENTS as u32,
                None,
            )
            .await?
    } else {
        Vec::new()
    };
    let history: Vec<Turn> = earlier
        .iter()
        .filter(|e| e.seq < message_seq)
        .filter_map(|e| match &e.body {
            EventBody::Message { role, text, .. } => Some(Turn::new(*role, text.clone())),
            _ => None,
        })
        .collect();
    let (retrieved, considered) = state.kb.retrieve_for_reply(question, CANDIDATES).await;
    let request = Request::new(question, &retrieved).with_history(&history);
    let reply = state.responder.respond(&request).await;

    let (kind, choices) = match &reply.kind {
        ReplyKind::Answer => ("answer", Vec::new()),
        ReplyKind::Clarify { options } => ("clarify", options.iter().map(link).collect()),
        ReplyKind::NoAnswer => ("no_answer", Vec::new()),
    };
    let message = state
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
                },
            },
        )
        .await?
        .into_event();
    let latency = started.elapsed();
    state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::AiReply {
                    message_seq: message.seq,
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
    metrics::counter!("baton_messages_stored_total", "role" => "ai").increment(1);
    Ok(vec![message])
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
        .filter(|e| matches!(&e.body, EventBody::Message { role: Role::Ai, .. }))
        .collect())
}
