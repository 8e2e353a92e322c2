//! The escalation policy in force, for staff: its version, where it came from, whether the
//! file's latest change was rejected (and why), and the policy itself.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::StaffAuth;
use crate::state::SharedState;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(get_policy))
}

/// Why the policy file's latest version was not taken.
#[derive(Serialize, ToSchema)]
pub struct PolicyRejection {
    pub message: String,
    /// The line of the file the problem is on, when known.
    pub line: Option<usize>,
    /// When the rejected version was seen.
    pub at: DateTime<Utc>,
}

/// The policy in force.
#[derive(Serialize, ToSchema)]
pub struct PolicyStatus {
    /// The content hash of the policy file (`builtin` for the built-in policy).
    pub version: String,
    pub name: Option<String>,
    /// The file it was read from; `null` for the built-in policy.
    pub source: Option<String>,
    pub loaded_at: DateTime<Utc>,
    /// `active`, or `rejected_change` when the file changed and the change was rejected
    /// (the policy shown stays in force).
    pub status: &'static str,
    pub rejected: Option<PolicyRejection>,
    /// The policy as compiled: thresholds, always-human issue types, segments, teams and
    /// routing rules.
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
}

/// The escalation policy in force, and whether the latest change to its file was rejected.
#[utoipa::path(get, path = "/v1/policy", tag = "admin",
    security(("api_key" = [])),
    responses(
        (status = 200, body = PolicyStatus),
        (status = 401, description = "No or bad API key", body = ErrorBody),
    ))]
async fn get_policy(
    State(state): State<SharedState>,
    StaffAuth(_staff): StaffAuth,
) -> Result<axum::Json<PolicyStatus>, ApiError> {
    let active = state.policy.current();
    let rejected = state.policy.rejected();
    let policy = serde_json::to_value(&active.policy)
        .map_err(|e| ApiError::internal(format!("cannot show the policy: {e}")))?;
    Ok(axum::Json(PolicyStatus {
        version: active.policy.version.clone(),
        name: active.policy.name.clone(),
        source: active.source.as_ref().map(|p| p.display().to_string()),
        loaded_at: active.loaded_at,
        status: if rejected.is_some() {
            "rejected_change"
        } else {
            "active"
        },
        rejected: rejected.map(|r| PolicyRejection {
            message: r.message,
            line: r.line,
            at: r.at,
        }),
        policy,
    }))
}
