//! The agent API for handoffs: presence, the queue, offers, the conversation actions (reply,
//! internal note, transfer, hand back, resolve), supervision (reassign), the agent stream,
//! agent profiles for admins, and the customer's rating, email and answer feedback.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use baton_core::handoff::{Handoff, HandoffStatus};
use baton_core::routing::Presence;
use baton_core::{Agent, Brief, Conversation, Event, EventBody, NewEvent, Role};
use baton_store::HandoffFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AdminAuth, CustomerAuth, Json, StaffAuth, StaffKeyHash, StreamStaffAuth};
use crate::handoffs;
use crate::handoffs::queue::{QueueEntryView, Viewer, queue_for};
use crate::state::SharedState;

/// Longest agent message, note or resolution note, in characters.
const MAX_TEXT: usize = 8000;
/// Most tags on a resolution.
const MAX_TAGS: usize = 20;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(get_me))
        .routes(routes!(put_presence))
        .routes(routes!(put_capacity))
        .routes(routes!(list_staff_names))
        .routes(routes!(post_heartbeat))
        .routes(routes!(get_queue))
        .routes(routes!(get_handoff))
        .routes(routes!(accept))
        .routes(routes!(take))
        .routes(routes!(decline))
        .routes(routes!(transfer))
        .routes(routes!(hand_back))
        .routes(routes!(resolve))
        .routes(routes!(reassign))
        .routes(routes!(agent_reply))
        .routes(routes!(agent_note))
        .routes(routes!(agent_typing))
        .routes(routes!(customer_history))
        .routes(routes!(agent_stream))
        .routes(routes!(list_agents))
        .routes(routes!(put_agent))
        .routes(routes!(rate))
        .routes(routes!(contact))
        .routes(routes!(feedback))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub agent: Agent,
    /// The handoffs offered to or owned by the agent.
    pub handoffs: Vec<Handoff>,
}

async fn me(state: &SharedState, staff_id: &str) -> Result<Me, ApiError> {
    let agent = state
        .store
        .agent(staff_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such agent"))?;
    let handoffs = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Offered, HandoffStatus::Assigned],
            agent_id: Some(staff_id.to_string()),
            ..Default::default()
        })
        .await?;
    Ok(Me { agent, handoffs })
}

/// The calling agent: profile, presence and the handoffs they hold.
#[utoipa::path(get, path = "/v1/agent/me", tag = "agent",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn get_me(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
) -> Result<axum::Json<Me>, ApiError> {
    Ok(axum::Json(me(&state, &staff.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPresence {
    /// `online` (taking conversations), `away` or `offline`.
    pub presence: Presence,
}

/// Sets the agent's presence; going online drains the queue to them.
#[utoipa::path(put, path = "/v1/agent/presence", tag = "agent",
    request_body = SetPresence,
    responses((status = 200, body = Agent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn put_presence(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Json(request): Json<SetPresence>,
) -> Result<axum::Json<Agent>, ApiError> {
    let agent = handoffs::set_presence(&state, &staff, Some(request.presence), state.now()).await?;
    Ok(axum::Json(agent))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCapacity {
    /// Conversations at once, 1 to 50.
    pub capacity: u32,
}

/// Sets how many conversations the calling agent takes at once. Routing follows at once: more
/// room drains the queue to them; less only stops new offers (nothing they hold is taken away).
#[utoipa::path(put, path = "/v1/agent/capacity", tag = "agent",
    request_body = SetCapacity,
    responses((status = 200, body = Agent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn put_capacity(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Json(request): Json<SetCapacity>,
) -> Result<axum::Json<Agent>, ApiError> {
    check_capacity(request.capacity)?;
    let agent = handoffs::set_capacity(&state, &staff, request.capacity, state.now()).await?;
    Ok(axum::Json(agent))
}

/// Conversations at once: 1 to 50, for an agent's own setting and an admin's alike.
fn check_capacity(capacity: u32) -> Result<(), ApiError> {
    if (1..=50).contains(&capacity) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "capacity must be between 1 and 50, got {capacity}"
        )))
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffNames {
    pub staff: Vec<StaffName>,
}

/// Who a staff id is, as any colleague may see it.
#[derive(Serialize, ToSchema)]
pub struct StaffName {
    pub id: String,
    pub name: String,
    pub role: baton_core::StaffRole,
}

/// Every member of staff by name (disabled ones included, for what they wrote before), so
/// that the console can say who wrote a note or holds a conversation.
#[utoipa::path(get, path = "/v1/agent/staff", tag = "agent",
    responses((status = 200, body = StaffNames), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn list_staff_names(
    State(state): State<SharedState>,
    _staff: StaffAuth,
) -> Result<axum::Json<StaffNames>, ApiError> {
    let staff = state
        .store
        .list_staff()
        .await?
        .into_iter()
        .map(|s| StaffName {
            id: s.id,
            name: s.name,
            role: s.role,
        })
        .collect();
    Ok(axum::Json(StaffNames { staff }))
}

/// Keeps the agent's presence alive (the agent stream does this by itself while open).
#[utoipa::path(post, path = "/v1/agent/heartbeat", tag = "agent",
    responses((status = 200, body = Agent), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn post_heartbeat(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
) -> Result<axum::Json<Agent>, ApiError> {
    Ok(axum::Json(
        handoffs::set_presence(&state, &staff, None, state.now()).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct QueueView {
    /// Open handoffs in queue order (priority, then waiting time): queued, offered, assigned.
    pub handoffs: Vec<QueueEntryView>,
}

/// The open handoffs of the agent's teams (every team for admins) and their own, in queue
/// order, each with the wait, the place in line and a preview of the customer's last message.
#[utoipa::path(get, path = "/v1/agent/queue", tag = "agent",
    responses((status = 200, body = QueueView), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
async fn get_queue(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
) -> Result<axum::Json<QueueView>, ApiError> {
    let agent = state.store.agent(&staff.id).await?;
    let viewer = Viewer {
        staff_id: staff.id.clone(),
        teams: agent.map(|a| a.teams).unwrap_or_default(),
        everything: staff.role == baton_core::StaffRole::Admin,
    };
    let handoffs = queue_for(&state, &viewer, state.now()).await?;
    Ok(axum::Json(QueueView { handoffs }))
}

#[derive(Serialize, ToSchema)]
pub struct HandoffDetail {
    pub handoff: Handoff,
    pub brief: Option<Brief>,
    /// The brief rendered for people.
    pub brief_text: Option<String>,
}

/// One handoff with its brief.
#[utoipa::path(get, path = "/v1/agent/handoffs/{id}", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    responses((status = 200, body = HandoffDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn get_handoff(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<HandoffDetail>, ApiError> {
    let handoff = handoffs::handoff_or_404(&state, &id).await?;
    let brief = state.store.handoff_brief(&id).await?;
    let brief_text = brief.as_ref().map(baton_core::render_text);
    Ok(axum::Json(HandoffDetail {
        handoff,
        brief,
        brief_text,
    }))
}

/// Accepts the handoff offered to the calling agent.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/accept", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    responses((status = 200, body = Handoff), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not offered to this agent, or the offer expired", body = ErrorBody)),
    security(("api_key" = [])))]
async fn accept(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Handoff>, ApiError> {
    Ok(axum::Json(
        handoffs::accept(&state, &staff, &id, state.now()).await?,
    ))
}

/// Takes a waiting handoff of the calling agent's teams from the queue (supervisors: any
/// team's): the conversation becomes theirs at once, within their capacity. A handoff being
/// offered to someone else cannot be taken; one offered to the caller is taken like an
/// accept.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/take", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    responses((status = 200, body = Handoff), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not waiting, offered to someone else, not in the caller's teams, or the caller is at capacity", body = ErrorBody)),
    security(("api_key" = [])))]
async fn take(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Handoff>, ApiError> {
    Ok(axum::Json(
        handoffs::take(&state, &staff, &id, state.now()).await?,
    ))
}

/// Declines the handoff offered to the calling agent; it goes to the next agent.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/decline", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    responses((status = 200, body = Handoff), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn decline(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Handoff>, ApiError> {
    Ok(axum::Json(
        handoffs::decline(&state, &staff, &id, state.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// A team declared in the policy.
    pub team: String,
    /// Why, for the next person.
    #[serde(default)]
    pub note: Option<String>,
}

/// Moves the handoff to another team's queue (recorded as a re-route).
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/transfer", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    request_body = Transfer,
    responses((status = 200, body = Handoff), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn transfer(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<Transfer>,
) -> Result<axum::Json<Handoff>, ApiError> {
    let note = check_optional_text("note", request.note)?;
    Ok(axum::Json(
        handoffs::transfer(&state, &staff, &id, &request.team, note, state.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct HandBack {
    #[serde(default)]
    pub note: Option<String>,
}

/// Gives the conversation back to the AI.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/hand-back", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    request_body = HandBack,
    responses((status = 200, body = Handoff), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn hand_back(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<HandBack>,
) -> Result<axum::Json<Handoff>, ApiError> {
    let note = check_optional_text("note", request.note)?;
    Ok(axum::Json(
        handoffs::hand_back(&state, &staff, &id, note, state.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was done, for the record and the learning loop.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Resolves the conversation; the customer is asked to rate it.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/resolve", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    request_body = Resolve,
    responses((status = 200, body = Handoff), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn resolve(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<Resolve>,
) -> Result<axum::Json<Handoff>, ApiError> {
    let note = check_optional_text("note", request.note)?;
    if request.tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_TAGS} tags, got {}",
            request.tags.len()
        )));
    }
    let mut tags = Vec::new();
    for tag in request.tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 50 {
            return Err(ApiError::invalid("each tag must be 1 to 50 characters"));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(axum::Json(
        handoffs::resolve(&state, &staff, &id, note, tags, state.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    /// The staff id of the agent who takes it.
    pub agent_id: String,
}

/// A supervisor (admin) gives the handoff to an agent directly; capacity still applies.
#[utoipa::path(post, path = "/v1/agent/handoffs/{id}/reassign", tag = "agent",
    params(("id" = String, Path, description = "Handoff id")),
    request_body = Reassign,
    responses((status = 200, body = Handoff), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn reassign(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<Reassign>,
) -> Result<axum::Json<Handoff>, ApiError> {
    Ok(axum::Json(
        handoffs::reassign(&state, &staff, &id, &request.agent_id, state.now()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentText {
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct AgentEvent {
    pub event: Event,
}

/// The owning agent writes to the customer.
#[utoipa::path(post, path = "/v1/agent/conversations/{id}/messages", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = AgentText,
    responses((status = 201, body = AgentEvent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn agent_reply(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<AgentText>,
) -> Result<(StatusCode, axum::Json<AgentEvent>), ApiError> {
    let text = check_text("text", request.text)?;
    let event = handoffs::reply(&state, &staff, &id, text, state.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(AgentEvent { event })))
}

/// An internal note: staff only, never shown to the customer.
#[utoipa::path(post, path = "/v1/agent/conversations/{id}/notes", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = AgentText,
    responses((status = 201, body = AgentEvent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn agent_note(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
    Json(request): Json<AgentText>,
) -> Result<(StatusCode, axum::Json<AgentEvent>), ApiError> {
    let text = check_text("text", request.text)?;
    let event = handoffs::note(&state, &staff, &id, text, state.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(AgentEvent { event })))
}

/// Shows the customer that the agent who owns the conversation is typing: a transient notice
/// on the customer's stream, not stored.
#[utoipa::path(post, path = "/v1/agent/conversations/{id}/typing", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
async fn agent_typing(
    State(state): State<SharedState>,
    StaffAuth(staff): StaffAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    handoffs::typing(&state, &staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CustomerHistory {
    /// The customer's other conversations, most recently active first.
    pub conversations: Vec<Conversation>,
}

/// The same customer's earlier conversations.
#[utoipa::path(get, path = "/v1/agent/conversations/{id}/history", tag = "agent",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = CustomerHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn customer_history(
    State(state): State<SharedState>,
    _staff: StaffAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<CustomerHistory>, ApiError> {
    let conversation = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let conversations = state
        .store
        .list_conversations(&baton_store::ConversationFilter {
            state: None,
            customer_id: Some(conversation.customer_id.clone()),
            limit: 50,
        })
        .await?
        .into_iter()
        .filter(|c| c.id != id)
        .collect();
    Ok(axum::Json(CustomerHistory { conversations }))
}

/// The agent's live stream: offers with briefs, queue changes and the events of the
/// conversations they hold (see the module `agent_stream`). The API key may come as `?token=`.
#[utoipa::path(get, path = "/v1/agent/stream", tag = "agent",
    responses((status = 101, description = "Switching to WebSocket"), (status = 401, body = ErrorBody)))]
async fn agent_stream(
    State(state): State<SharedState>,
    StreamStaffAuth(staff): StreamStaffAuth,
    StaffKeyHash(key_hash): StaffKeyHash,
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
    Ok(upgrade.on_upgrade(move |socket| crate::agent_stream::run(socket, state, staff, key_hash)))
}

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

/// Every member of staff with their routing profile, presence and load.
#[utoipa::path(get, path = "/v1/admin/agents", tag = "admin",
    responses((status = 200, body = AgentList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
async fn list_agents(
    State(state): State<SharedState>,
    _admin: AdminAuth,
) -> Result<axum::Json<AgentList>, ApiError> {
    Ok(axum::Json(AgentList {
        agents: state.store.agents().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    /// Teams declared in the policy.
    pub teams: Vec<String>,
    /// Conversations at once, 1 to 50.
    pub capacity: u32,
}

/// Sets an agent's teams and capacity.
#[utoipa::path(put, path = "/v1/admin/agents/{id}", tag = "admin",
    params(("id" = String, Path, description = "Staff id")),
    request_body = AgentProfile,
    responses((status = 200, body = Agent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
async fn put_agent(
    State(state): State<SharedState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
    Json(request): Json<AgentProfile>,
) -> Result<axum::Json<Agent>, ApiError> {
    check_capacity(request.capacity)?;
    let policy = state.policy.current();
    for team in &request.teams {
        if policy.policy.team(team).is_none() {
            return Err(ApiError::invalid(format!(
                "team {team:?} is not declared in the policy"
            )));
        }
    }
    let agent = state
        .store
        .set_agent_profile(&id, &request.teams, request.capacity, state.now())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("staff member {id} not found")))?;
    state.dispatcher.kick();
    Ok(axum::Json(agent))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: u8,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The customer rates the conversation after a person resolved it (once).
#[utoipa::path(post, path = "/v1/conversations/{id}/rating", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = Rate,
    responses((status = 201, body = Handoff), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not resolved by a person, or already rated", body = ErrorBody)),
    security(("conversation_token" = [])))]
async fn rate(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Json(request): Json<Rate>,
) -> Result<(StatusCode, axum::Json<Handoff>), ApiError> {
    auth.require(&id)?;
    if !(1..=5).contains(&request.score) {
        return Err(ApiError::invalid(format!(
            "score must be between 1 and 5, got {}",
            request.score
        )));
    }
    let comment = check_optional_text("comment", request.comment)?;
    let handoff = handoffs::rate(&state, &id, request.score, comment, state.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(handoff)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactSaved {
    pub email: String,
    /// The system message that records it on the timeline, where the customer and the agent
    /// who picks the conversation up both read it.
    pub event: Event,
}

/// The customer leaves an email address (asked for when nobody is available). It is stored
/// on the customer and said on the timeline, so the agent sees it in the transcript.
#[utoipa::path(post, path = "/v1/conversations/{id}/contact", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = Contact,
    responses((status = 200, body = ContactSaved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("conversation_token" = [])))]
async fn contact(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Json(request): Json<Contact>,
) -> Result<axum::Json<ContactSaved>, ApiError> {
    auth.require(&id)?;
    let email = request.email.trim().to_string();
    if !plausible_email(&email) {
        return Err(ApiError::invalid(format!(
            "{email:?} does not look like an email address"
        )));
    }
    let conversation = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    state
        .store
        .set_customer_email(&conversation.customer_id, &email)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let event = state
        .store
        .append_event(
            &id,
            NewEvent {
                at: state.now(),
                body: EventBody::message(
                    Role::System,
                    format!(
                        "Contact email left: {email}. The team will reply here and can write to that address."
                    ),
                ),
            },
        )
        .await?
        .into_event();
    Ok(axum::Json(ContactSaved { email, event }))
}

/// `local@domain.tld`, without spaces, at most 254 characters.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// The `seq` of the AI message.
    pub message_seq: i64,
    pub helpful: bool,
}

/// The customer says whether an AI answer helped, once per answer.
#[utoipa::path(post, path = "/v1/conversations/{id}/feedback", tag = "customer",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = Feedback,
    responses((status = 201, body = AgentEvent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Feedback on this answer was already given", body = ErrorBody)),
    security(("conversation_token" = [])))]
async fn feedback(
    State(state): State<SharedState>,
    auth: CustomerAuth,
    Path(id): Path<String>,
    Json(request): Json<Feedback>,
) -> Result<(StatusCode, axum::Json<AgentEvent>), ApiError> {
    auth.require(&id)?;
    let rated = state
        .store
        .events_after(&id, request.message_seq.max(1) - 1, 1, None)
        .await?;
    let is_answer = rated.first().is_some_and(|e| {
        e.seq == request.message_seq
            && matches!(&e.body, EventBody::Message { role: Role::Ai, choices, .. } if choices.is_empty())
    });
    if !is_answer {
        return Err(ApiError::invalid(format!(
            "message {} is not an AI answer in this conversation",
            request.message_seq
        )));
    }
    // Checked and stored under one lock: a double click must not store two answers.
    let _one_at_a_time = state.feedback.lock().await;
    let already = state
        .store
        .events_after(&id, request.message_seq, 0, None)
        .await?
        .iter()
        .any(|e| matches!(&e.body, EventBody::Feedback { message_seq, .. } if *message_seq == request.message_seq));
    if already {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "feedback_already_given",
            format!(
                "feedback on message {} was already given",
                request.message_seq
            ),
        ));
    }
    let event = state
        .store
        .append_event(
            &id,
            NewEvent {
                at: state.now(),
                body: EventBody::Feedback {
                    message_seq: request.message_seq,
                    helpful: request.helpful,
                },
            },
        )
        .await?
        .into_event();
    Ok((StatusCode::CREATED, axum::Json(AgentEvent { event })))
}

fn check_text(field: &str, text: String) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    let length = text.chars().count();
    if length > MAX_TEXT {
        return Err(ApiError::invalid(format!(
            "{field} is {length} characters long; the limit is {MAX_TEXT}"
        )));
    }
    Ok(text)
}

fn check_optional_text(field: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => check_text(field, t).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(plausible_email("dana@example.com"));
        assert!(!plausible_email("dana@example"));
        assert!(!plausible_email("dana example.com"));
        assert!(!plausible_email("@example.com"));
        assert!(!plausible_email("dana@.com"));
    }
}
