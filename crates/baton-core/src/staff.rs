//! Staff: the agents who take handoffs and the admins who run Baton.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Agent,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Agent => "agent",
            StaffRole::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "agent" => Some(StaffRole::Agent),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }
}

/// A member of staff. Their API key is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// How many conversations an agent handles at once unless their profile says otherwise.
pub const DEFAULT_AGENT_CAPACITY: u32 = 3;

/// A member of staff as routing sees them: teams, capacity and presence (kept by heartbeat),
/// with the handoffs they hold now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    /// The staff id.
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    pub disabled: bool,
    /// The teams (policy team names) the agent works in.
    pub teams: Vec<String>,
    /// How many conversations the agent handles at once.
    pub capacity: u32,
    pub presence: crate::routing::Presence,
    /// When the presence last changed.
    pub presence_at: DateTime<Utc>,
    /// The last heartbeat or presence change.
    pub last_seen_at: DateTime<Utc>,
    /// When the agent last got a conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// Handoffs offered to or assigned to the agent now.
    pub active: u32,
    /// Of those, the offers waiting for the agent's answer.
    #[serde(default)]
    pub offered: u32,
    /// Offers the agent let lapse in a row (an accepted, taken or declined offer starts the
    /// count again); past the configured limit the agent is set away.
    #[serde(default)]
    pub missed_offers: u32,
    /// Why Baton changed the agent's presence, when it did ("missed 3 offers in a row"); the
    /// agent's own presence change clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_reason: Option<String>,
}

impl Agent {
    /// The agent as the router sees them at `now`: idle since their last assignment or since
    /// they came online, whichever is later.
    pub fn availability(&self) -> crate::routing::AgentAvailability {
        let online_since =
            (self.presence == crate::routing::Presence::Online).then_some(self.presence_at);
        let idle_since = match (self.last_assigned_at, online_since) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        crate::routing::AgentAvailability {
            id: self.id.clone(),
            name: self.name.clone(),
            teams: self.teams.clone(),
            presence: if self.disabled {
                crate::routing::Presence::Offline
            } else {
                self.presence
            },
            active_conversations: self.active,
            capacity: self.capacity,
            idle_since,
            offers_pending: self.offered,
        }
    }
}
