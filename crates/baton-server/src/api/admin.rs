//! The admin API: staff accounts and their API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use baton_core::{Staff, StaffRole};
use baton_store::{NewStaff, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{generate_staff_key, hash_staff_key};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AdminAuth, Json};
use crate::state::{AppState, SharedState};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(disable_staff))
        .routes(routes!(enable_staff))
        .routes(routes!(rotate_key))
}

#[derive(Serialize, ToSchema)]
pub struct StaffList {
    pub staff: Vec<Staff>,
}

/// Lists agents and admins.
#[utoipa::path(get, path = "/v1/admin/staff", tag = "admin",
    responses(
        (status = 200, body = StaffList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_staff(
    State(state): State<SharedState>,
    _admin: AdminAuth,
) -> Result<axum::Json<StaffList>, ApiError> {
    Ok(axum::Json(StaffList {
        staff: state.store.list_staff().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    pub name: String,
    pub role: StaffRole,
}

/// A staff member with an API key, shown this once.
#[derive(Serialize, ToSchema)]
pub struct StaffWithKey {
    pub staff: Staff,
    pub key: String,
}

/// Creates an agent or admin and returns their API key once.
#[utoipa::path(post, path = "/v1/admin/staff", tag = "admin",
    request_body = CreateStaff,
    responses(
        (status = 201, body = StaffWithKey),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn create_staff(
    State(state): State<SharedState>,
    _admin: AdminAuth,
    Json(request): Json<CreateStaff>,
) -> Result<(StatusCode, axum::Json<StaffWithKey>), ApiError> {
    let created = create_staff_member(
        state.store.as_ref(),
        &request.name,
        request.role,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Creates a staff member with a fresh key; shared by the API and `baton admin`.
pub async fn create_staff_member(
    store: &dyn Store,
    name: &str,
    role: StaffRole,
    now: DateTime<Utc>,
) -> Result<StaffWithKey, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    let key = generate_staff_key();
    let staff = store
        .create_staff(
            NewStaff {
                name: name.to_string(),
                role,
                key_hash: hash_staff_key(&key),
            },
            now,
        )
        .await?;
    Ok(StaffWithKey { staff, key })
}

/// Disables a staff member: their key stops working at once, their open console streams
/// close, and the conversations they held go back to the queue (their offers to the next
/// agent).
#[utoipa::path(post, path = "/v1/admin/staff/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "Staff id")),
    responses(
        (status = 200, body = Staff),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn disable_staff(
    State(state): State<SharedState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Staff>, ApiError> {
    if admin.id == id {
        return Err(ApiError::conflict(
            "you cannot disable your own account; ask another admin",
        ));
    }
    let staff = set_disabled(&state, &id, true).await?;
    state.revocations.revoke(&id);
    crate::handoffs::withdraw_agent(&state, &id, state.now()).await?;
    Ok(staff)
}

/// Enables a disabled staff member again.
#[utoipa::path(post, path = "/v1/admin/staff/{id}/enable", tag = "admin",
    params(("id" = String, Path, description = "Staff id")),
    responses(
        (status = 200, body = Staff),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn enable_staff(
    State(state): State<SharedState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Staff>, ApiError> {
    set_disabled(&state, &id, false).await
}

async fn set_disabled(
    state: &AppState,
    id: &str,
    disabled: bool,
) -> Result<axum::Json<Staff>, ApiError> {
    state
        .store
        .set_staff_disabled(id, disabled)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("staff member not found"))
}

/// Replaces a staff member's API key; the old key stops working at once and the streams
/// opened with it close (what they hold stays theirs while they sign in again).
#[utoipa::path(post, path = "/v1/admin/staff/{id}/rotate-key", tag = "admin",
    params(("id" = String, Path, description = "Staff id")),
    responses(
        (status = 200, body = StaffWithKey),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
async fn rotate_key(
    State(state): State<SharedState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<StaffWithKey>, ApiError> {
    let key = generate_staff_key();
    let staff = state
        .store
        .set_staff_key_hash(&id, &hash_staff_key(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("staff member not found"))?;
    // An admin replacing their own key keeps this console open to read the new one; their
    // old key's streams still close at the next heartbeat check.
    if admin.id != id {
        state.revocations.revoke(&id);
    }
    Ok(axum::Json(StaffWithKey { staff, key }))
}
