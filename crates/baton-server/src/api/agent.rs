//! The agent API: conversations and their full timelines (staff-only events included).

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::response::Response;
use baton_core::{Conversation, ConversationState, Customer};
use baton_store::ConversationFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::customer::{EventPage, EventsQuery, StreamQuery, event_page, open_stream};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Query, StaffAuth, StreamStaffAuth};
use crate::state::SharedState;
use crate::stream::Reader;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only conversations in this state: `ai`, `waiting_human`, `human` or `resolved`.
    #[serde(default)]
    pub state: Option<String>,
    /// At most this many, most recently active first (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

/// Lists conversations, most recently active first.
#[utoipa::path(get, path = "/v1/agent/conversations", tag = "agent",
    params(ListQuery),
    responses(
        (status = 200, body = ConversationList),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_conversations(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<ConversationList>, ApiError> {
    let state_filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(ConversationState::parse(name).ok_or_else(|| {
            ApiError::invalid(format!(
                "state must be one of ai, waiting_human, human, resolved; got {name:?}"
            ))
        })?),
    };
    let limit = match query.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and 1000, got {n}"
            )));
        }
    };
    let conversations = state
        .store
        .list_conversations(&ConversationFilter {
            state: state_filter,
            customer_id: None,
            limit,
        })
        .await?;
    Ok(axum::Json(ConversationList { conversations }))
}

#[derive(Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub customer: Option<Customer>,
    pub account: Option<baton_core::Account>,
}

/// One conversation with its customer and account.
#[utoipa::path(get, path = "/v1/agent/conversations/{id}", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, body = ConversationDetail),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn get_conversation(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationDetail>, ApiError> {
    let conversation = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let customer = state.store.customer(&conversation.customer_id).await?;
    let account = match customer.as_ref().and_then(|c| c.account_id.as_deref()) {
        Some(account_id) => state.store.account(account_id).await?,
        None => None,
    };
    Ok(axum::Json(ConversationDetail {
        conversation,
        customer,
        account,
    }))
}

/// The full timeline, staff-only events included.
#[utoipa::path(get, path = "/v1/agent/conversations/{id}/events", tag = "agent",
    params(("id" = String, Path, description = "Conversation id"), EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_events(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<axum::Json<EventPage>, ApiError> {
    event_page(&state, &id, &query, None).await
}

/// The full timeline as a WebSocket: replay from `after`, then live. The API key may come as
/// `?token=`.
#[utoipa::path(get, path = "/v1/agent/conversations/{id}/stream", tag = "agent",
    params(("id" = String, Path, description = "Conversation id"), StreamQuery),
    responses(
        (status = 101, description = "Switching to WebSocket"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn stream_events(
    State(state): State<SharedState>,
    _staff: StreamStaffAuth,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    open_stream(state, id, query.after, Reader::Staff, upgrade).await
}
