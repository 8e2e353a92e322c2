//! A conversation: one thread with a customer, and the state machine it moves through.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who owns the conversation right now.
///
/// `ai` → `waiting_human` → `human` → (`ai` again on hand-back) → `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Ai,
    WaitingHuman,
    Human,
    Resolved,
}

impl ConversationState {
    pub const ALL: [ConversationState; 4] = [
        ConversationState::Ai,
        ConversationState::WaitingHuman,
        ConversationState::Human,
        ConversationState::Resolved,
    ];

    /// The name used in the API, the database and the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Ai => "ai",
            ConversationState::WaitingHuman => "waiting_human",
            ConversationState::Human => "human",
            ConversationState::Resolved => "resolved",
        }
    }

    /// Parses the API/database name of a state.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the state machine allows moving from `self` to `to`.
    pub fn can_move_to(self, to: ConversationState) -> bool {
        use ConversationState::*;
        matches!(
            (self, to),
            (Ai, WaitingHuman)
                | (Ai, Resolved)
                | (WaitingHuman, Human)
                | (WaitingHuman, Ai)
                | (WaitingHuman, Resolved)
                | (Human, Ai)
                | (Human, WaitingHuman)
                | (Human, Resolved)
                | (Resolved, Ai)
        )
    }
}

impl std::fmt::Display for ConversationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The page the customer was on, as the widget reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PageContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

/// One conversation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub customer_id: String,
    pub state: ConversationState,
    /// The page the conversation was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageContext>,
    /// The `seq` of the newest event (0 when there is none yet).
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in ConversationState::ALL {
            assert_eq!(ConversationState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(ConversationState::parse("open"), None);
    }

    #[test]
    fn resolved_conversation_can_only_reopen_with_the_ai() {
        use ConversationState::*;
        assert!(Resolved.can_move_to(Ai));
        assert!(!Resolved.can_move_to(Human));
        assert!(!Ai.can_move_to(Human));
        assert!(Ai.can_move_to(WaitingHuman));
    }
}
