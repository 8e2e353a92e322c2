//! The conversation service: opening conversations, taking customer messages and page
//! activity. HTTP handlers and integrations call these; they call the store.

use baton_core::{
    Conversation, ConversationState, Customer, Event, EventBody, NewEvent, PageContext,
    PageEventKind, Role,
};
use baton_store::Appended;
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::state::AppState;

/// Longest `client_msg_id` accepted.
const MAX_CLIENT_MSG_ID: usize = 128;
/// Longest URL, label and detail of page activity.
const MAX_URL: usize = 2048;
const MAX_LABEL: usize = 256;
const MAX_DETAIL: usize = 4000;

/// A newly opened conversation and the customer it belongs to.
pub struct Opened {
    pub conversation: Conversation,
    pub customer: Customer,
    pub token: String,
    /// An earlier open conversation of the same customer, resumed.
    pub resumed: bool,
}

/// Whether to continue an identified customer's open conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Always open a new conversation.
    No,
    /// Continue the open one if there is one, else open a new one.
    OrOpen,
    /// Continue the open one; 404 `no_open_conversation` when there is none.
    Only,
}

/// Opens a conversation for the holder of `identity_token`, or for an anonymous visitor.
pub async fn open(
    state: &AppState,
    identity_token: Option<&str>,
    page: Option<PageContext>,
    resume: Resume,
    now: DateTime<Utc>,
) -> Result<Opened, ApiError> {
    let page = page.map(check_page).transpose()?;
    if resume != Resume::No && identity_token.is_none() {
        return Err(ApiError::invalid(
            "resume needs an identity token: only an identified customer can be recognised",
        ));
    }
    let customer = match identity_token {
        Some(token) => {
            let claims = state
                .identity
                .verify(token, now)
                .map_err(|e| ApiError::unauthorized(e.to_string()))?;
            if let Some(account) = &claims.account {
                if account.id.trim().is_empty() {
                    return Err(ApiError::unauthorized(
                        "the identity token's account has no id",
                    ));
                }
                state.store.upsert_account(account, now).await?;
            }
            state
                .store
                .upsert_identified_customer(
                    &claims.sub,
                    claims.name.as_deref(),
                    claims.email.as_deref(),
                    claims.account.as_ref().map(|a| a.id.as_str()),
                    now,
                )
                .await?
        }
        None => state.store.create_anonymous_customer(now).await?,
    };
    if resume != Resume::No {
        let open = state
            .store
            .list_conversations(&baton_store::ConversationFilter {
                state: None,
                customer_id: Some(customer.id.clone()),
                limit: 20,
            })
            .await?
            .into_iter()
            .find(|c| c.state != ConversationState::Resolved);
        if let Some(conversation) = open {
            let token = state.tokens.issue(&conversation.id);
            return Ok(Opened {
                conversation,
                customer,
                token,
                resumed: true,
            });
        }
        if resume == Resume::Only {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_open_conversation",
                "the customer has no open conversation to resume",
            ));
        }
    }
    let (conversation, _) = state
        .store
        .create_conversation(&customer.id, page, now)
        .await?;
    metrics::counter!("baton_conversations_opened_total").increment(1);
    let token = state.tokens.issue(&conversation.id);
    Ok(Opened {
        conversation,
        customer,
        token,
        resumed: false,
    })
}

/// A customer message as received.
pub struct IncomingMessage {
    pub client_msg_id: String,
    pub text: String,
    pub page: Option<PageContext>,
}

/// A stored customer message and the replies it got.
pub struct Posted {
    pub appended: Appended,
    /// What the customer sees in reply (the AI's answer while the AI owns the conversation).
    pub replies: Vec<Event>,
}

/// Stores a customer message, at most once per `client_msg_id`, and lets the AI reply while
/// the conversation is in state `ai`. A message on a resolved conversation reopens it with
/// the AI. A retried message gets the replies stored the first time.
pub async fn post_customer_message(
    state: &AppState,
    conversation_id: &str,
    message: IncomingMessage,
    now: DateTime<Utc>,
) -> Result<Posted, ApiError> {
    let client_msg_id = message.client_msg_id.trim();
    if client_msg_id.is_empty() {
        return Err(ApiError::invalid("client_msg_id must not be empty"));
    }
    if client_msg_id.chars().count() > MAX_CLIENT_MSG_ID {
        return Err(ApiError::invalid(format!(
            "client_msg_id must be at most {MAX_CLIENT_MSG_ID} characters"
        )));
    }
    if message.text.trim().is_empty() {
        return Err(ApiError::invalid("text must not be empty"));
    }
    let max = state.config.server.max_message_chars;
    let length = message.text.chars().count();
    if length > max {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "text_too_long",
            format!("text is {length} characters long; the limit is {max}"),
        ));
    }
    let page = message.page.map(check_page).transpose()?;
    let question = message.text.clone();
    let appended = state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::Message {
                    role: Role::Customer,
                    text: message.text,
                    client_msg_id: Some(client_msg_id.to_string()),
                    author: None,
                    page,
                    articles: Vec::new(),
                    choices: Vec::new(),
                    handover: None,
                },
            },
        )
        .await?;
    let seq = appended.event().seq;
    let replies = if appended.is_created() {
        metrics::counter!("baton_messages_stored_total", "role" => "customer").increment(1);
        let conversation = reopen_if_resolved(state, conversation_id, now).await?;
        match conversation.state {
            ConversationState::Ai => {
                crate::assistant::take_turn(state, &conversation, &question, seq, now).await?
            }
            _ => Vec::new(),
        }
    } else {
        crate::assistant::stored_replies(state, conversation_id, seq).await?
    };
    Ok(Posted { appended, replies })
}

/// Reopens a resolved conversation with the AI; returns the conversation as it now is.
async fn reopen_if_resolved(
    state: &AppState,
    conversation_id: &str,
    now: DateTime<Utc>,
) -> Result<Conversation, ApiError> {
    let mut conversation = state
        .store
        .conversation(conversation_id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    if conversation.state == ConversationState::Resolved {
        state
            .store
            .change_state(
                conversation_id,
                ConversationState::Ai,
                Some("the customer wrote again"),
                now,
            )
            .await?;
        conversation.state = ConversationState::Ai;
    }
    Ok(conversation)
}

/// Page activity as the widget reports it.
pub struct PageActivity {
    pub kind: PageEventKind,
    pub url: Option<String>,
    pub label: Option<String>,
    pub detail: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Stores page activity (page views, clicks, errors, actions) as a `page_event`.
pub async fn record_page_activity(
    state: &AppState,
    conversation_id: &str,
    activity: PageActivity,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let url = limit("url", activity.url, MAX_URL)?;
    let label = limit("label", activity.label, MAX_LABEL)?;
    let detail = limit("detail", activity.detail, MAX_DETAIL)?;
    let appended = state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::PageEvent {
                    kind: activity.kind,
                    url,
                    label,
                    detail,
                    occurred_at: activity.occurred_at,
                },
            },
        )
        .await?;
    Ok(appended.into_event())
}

fn check_page(page: PageContext) -> Result<PageContext, ApiError> {
    Ok(PageContext {
        url: limit("page.url", page.url, MAX_URL)?,
        title: limit("page.title", page.title, MAX_LABEL)?,
        referrer: limit("page.referrer", page.referrer, MAX_URL)?,
    })
}

fn limit(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(format!(
            "{field} must be at most {max} characters"
        ))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}
