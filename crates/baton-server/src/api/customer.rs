//! The customer API: what the widget (or any client acting for a customer) calls.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baton_core::{ConversationState, Event, PageContext, PageEventKind, Visibility};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::conversations::{self, IncomingMessage, PageActivity};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{CustomerAuth, Json, Query, StreamCustomerAuth};
use crate::state::SharedState;
use crate::stream::{self, Reader};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(create_conversation))
        .routes(routes!(get_conversation))
        .routes(routes!(post_message))
        .routes(routes!(post_page_event, list_events))
        .routes(routes!(stream_events))
        .routes(routes!(post_typing))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    /// The host product's signed identity token (HS256 JWT); omit for an anonymous visitor.
    #[serde(default)]
    pub identity_token: Option<String>,
    /// The page the customer opened the chat on.
    #[serde(default)]
    pub page: Option<PageContext>,
    /// With an identity token: continue the customer's most recent conversation that is not
    /// resolved, if there is one, instead of opening a new one.
    #[serde(default)]
    pub resume: bool,
    /// With `resume`: only resume, never open a new conversation; 404
    /// `no_open_conversation` when the customer has none open. The widget asks this when an
    /// identified customer opens the chat, to show their open conversation's history on a new
    /// device without opening empty conversations.
    #[serde(default)]
    pub resume_only: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationCreated {
    pub id: String,
    /// Opens this conversation and nothing else: `Authorization: Bearer TOKEN`, or
    /// `?token=TOKEN` on the stream.
    pub token: String,
    pub state: ConversationState,
    pub customer_id: String,
    /// Whether the customer is an anonymous visitor (no identity token).
    pub anonymous: bool,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    /// Whether this is an earlier conversation resumed (`resume`), rather than a new one.
    pub resumed: bool,
}

/// Opens a conversation, or resumes the identified customer's open one (`resume`).
#[utoipa::path(post, path = "/v1/conversations", tag = "customer",
    request_body = CreateConversation,
    responses(
        (status = 201, description = "Opened", body = ConversationCreated),
        (status = 200, description = "An open conversation resumed", body = ConversationCreated),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "The identity token is expired or not genuine", body = ErrorBody),
        (status = 404, description = "`resume_only` and the customer has no open conversation", body = ErrorBody),
    ))]
async fn create_conversation(
    State(state): State<SharedState>,
    Json(request): Json<CreateConversation>,
) -> Result<(StatusCode, axum::Json<ConversationCreated>), ApiError> {
    let now = state.now();
    if request.resume_only && !request.resume {
        return Err(ApiError::invalid("resume_only needs resume"));
    }
    let opened = conversations::open(
        &state,
        request.identity_token.as_deref(),
        request.page,
        if request.resume_only {
            conversations::Resume::Only
        } else if request.resume {
            conversations::Resume::OrOpen
        } else {
            conversations::Resume::No
        },
        now,
    )
    .await?;
    Ok((
        if opened.resumed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        axum::Json(ConversationCreated {
            resumed: opened.resumed,
            id: opened.conversation.id,
            token: opened.token,
            state: opened.conversation.state,
            anonymous: opened.customer.is_anonymous(),
            customer_id: opened.customer.id,
            last_seq: opened.conversation.last_seq,
            created_at: opened.conversation.created_at,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub state: ConversationState,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The conversation's current state.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, body = ConversationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("conversation_token" = [])))]
async fn get_conversation(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationView>, ApiError> {
    auth.require(&id)?;
    let c = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    Ok(axum::Json(ConversationView {
        id: c.id,
        state: c.state,
        last_seq: c.last_seq,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    /// The client's idempotency key: posting the same id again returns the stored message.
    pub client_msg_id: String,
    /// At most 4,000 characters by default (`server.max_message_chars`).
    pub text: String,
    #[serde(default)]
    pub page: Option<PageContext>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePosted {
    pub message: Event,
    /// Replies produced while handling the message (for example the AI's answer).
    pub replies: Vec<Event>,
}

/// Sends a customer message. Idempotent by `client_msg_id`: 201 when stored now, 200 when it
/// was already stored.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = PostMessage,
    responses(
        (status = 201, description = "Stored", body = MessagePosted),
        (status = 200, description = "Already stored under this client_msg_id", body = MessagePosted),
        (status = 400, description = "Empty or oversized text, malformed JSON", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("conversation_token" = [])))]
async fn post_message(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Json(request): Json<PostMessage>,
) -> Result<Response, ApiError> {
    auth.require(&id)?;
    let now = state.now();
    let posted = conversations::post_customer_message(
        &state,
        &id,
        IncomingMessage {
            client_msg_id: request.client_msg_id,
            text: request.text,
            page: request.page,
        },
        now,
    )
    .await?;
    let status = if posted.appended.is_created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = MessagePosted {
        message: posted.appended.into_event(),
        replies: posted.replies,
    };
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPageEvent {
    pub kind: PageEventKind,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    /// When it happened in the browser.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct EventStored {
    pub event: Event,
}

/// Records page-aware activity: page views, clicks, errors shown to the user, actions.
#[utoipa::path(post, path = "/v1/conversations/{id}/events", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = PostPageEvent,
    responses(
        (status = 201, body = EventStored),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("conversation_token" = [])))]
async fn post_page_event(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Json(request): Json<PostPageEvent>,
) -> Result<(StatusCode, axum::Json<EventStored>), ApiError> {
    auth.require(&id)?;
    let now = state.now();
    let event = conversations::record_page_activity(
        &state,
        &id,
        PageActivity {
            kind: request.kind,
            url: request.url,
            label: request.label,
            detail: request.detail,
            occurred_at: request.at,
        },
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(EventStored { event })))
}

/// Tells the person handling the conversation that the customer is typing: a transient
/// notice on their stream, not stored. Clients send it at most every few seconds while the
/// customer types.
#[utoipa::path(post, path = "/v1/conversations/{id}/typing", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("conversation_token" = [])))]
async fn post_typing(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(&id)?;
    state.notices.publish(
        &id,
        crate::notices::Notice::Typing {
            role: baton_core::Role::Customer,
            name: None,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Paging through a timeline.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events with `seq` greater than this (default 0).
    #[serde(default)]
    pub after: i64,
    /// At most this many (default 500, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl EventsQuery {
    pub fn checked_limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(500),
            Some(n) if (1..=1000).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(format!(
                "limit must be between 1 and 1000, got {n}"
            ))),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` to read on.
    pub next_after: i64,
}

/// Reads the customer-visible timeline.
#[utoipa::path(get, path = "/v1/conversations/{id}/events", tag = "customer",
    params(("id" = String, Path, description = "Conversation id"), EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("conversation_token" = [])))]
async fn list_events(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<axum::Json<EventPage>, ApiError> {
    auth.require(&id)?;
    event_page(&state, &id, &query, Some(Visibility::Customer)).await
}

/// Reads one page of a timeline, shared by the customer and agent APIs.
pub async fn event_page(
    state: &SharedState,
    id: &str,
    query: &EventsQuery,
    visibility: Option<Visibility>,
) -> Result<axum::Json<EventPage>, ApiError> {
    let limit = query.checked_limit()?;
    if query.after < 0 {
        return Err(ApiError::invalid("after must not be negative"));
    }
    if state.store.conversation(id).await?.is_none() {
        return Err(ApiError::conversation_not_found());
    }
    let events = state
        .store
        .events_after(id, query.after, limit, visibility)
        .await?;
    let next_after = events.last().map_or(query.after, |e| e.seq);
    Ok(axum::Json(EventPage { events, next_after }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Replay events with `seq` greater than this, then go live (default 0).
    #[serde(default)]
    pub after: i64,
    /// The conversation token, for clients that cannot set headers on the upgrade.
    #[serde(default)]
    #[allow(dead_code)]
    pub token: Option<String>,
}

/// The conversation's customer-visible events as a WebSocket of JSON text frames: a replay
/// from `after`, then live; a ping every 30 s.
#[utoipa::path(get, path = "/v1/conversations/{id}/stream", tag = "customer",
    params(("id" = String, Path, description = "Conversation id"), StreamQuery),
    responses(
        (status = 101, description = "Switching to WebSocket"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn stream_events(
    State(state): State<SharedState>,
    StreamCustomerAuth(auth): StreamCustomerAuth,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    auth.require(&id)?;
    open_stream(state, id, query.after, Reader::Customer, upgrade).await
}

/// Checks the conversation and upgrades to a stream.
pub async fn open_stream(
    state: SharedState,
    id: String,
    after: i64,
    reader: Reader,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "websocket_required",
            format!(
                "this route is a WebSocket stream: {}",
                rejection.body_text()
            ),
        )
    })?;
    if after < 0 {
        return Err(ApiError::invalid("after must not be negative"));
    }
    if state.store.conversation(&id).await?.is_none() {
        return Err(ApiError::conversation_not_found());
    }
    Ok(upgrade.on_upgrade(move |socket| stream::run(socket, state, id, after, reader)))
}
