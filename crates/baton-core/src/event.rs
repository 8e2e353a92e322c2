//! The conversation timeline: an append-only log of events numbered by `seq` from 1.
//!
//! Every event is `{seq, type, at, ...}` on the wire; the fields after `at` depend on the
//! type. Each type says whether the customer may see it: signals, decisions and briefs are
//! for staff only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conversation::{ConversationState, PageContext};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Ai,
    Agent,
    System,
}

/// What the widget reports about the customer's activity in the host product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageEventKind {
    PageView,
    Click,
    Error,
    Action,
}

/// Who may read an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The customer and staff.
    Customer,
    /// Staff only.
    Staff,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Customer => "customer",
            Visibility::Staff => "staff",
        }
    }
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A chat message.
    Message {
        role: Role,
        text: String,
        /// The sender's idempotency key (customer messages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// The staff member who wrote it (agent messages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// The page the customer was on when they wrote it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<PageContext>,
    },
    /// Page-aware activity reported by the widget.
    PageEvent {
        kind: PageEventKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// When it happened in the browser, as the widget reported it (`at` is when Baton
        /// stored it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurred_at: Option<DateTime<Utc>>,
    },
    /// The conversation was opened.
    ConversationStarted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<PageContext>,
    },
    /// The conversation moved to another state.
    StateChanged {
        from: ConversationState,
        to: ConversationState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl EventBody {
    /// The event's `type` on the wire and in the database.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::Message { .. } => "message",
            EventBody::PageEvent { .. } => "page_event",
            EventBody::ConversationStarted { .. } => "conversation_started",
            EventBody::StateChanged { .. } => "state_changed",
        }
    }

    /// Who may read this event.
    pub fn visibility(&self) -> Visibility {
        match self {
            EventBody::Message { .. }
            | EventBody::PageEvent { .. }
            | EventBody::ConversationStarted { .. }
            | EventBody::StateChanged { .. } => Visibility::Customer,
        }
    }

    /// The idempotency key, for customer messages that carry one.
    pub fn client_msg_id(&self) -> Option<&str> {
        match self {
            EventBody::Message { client_msg_id, .. } => client_msg_id.as_deref(),
            _ => None,
        }
    }
}

/// An event about to be appended; the store gives it its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub body: EventBody,
}

/// One stored entry of a conversation's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Position in the conversation's timeline, from 1, without gaps.
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    pub fn visibility(&self) -> Visibility {
        self.body.visibility()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_event_is_flat_on_the_wire() {
        let event = Event {
            seq: 3,
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
            body: EventBody::Message {
                role: Role::Customer,
                text: "hello".into(),
                client_msg_id: Some("m1".into()),
                author: None,
                page: None,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"seq": 3, "at": "2026-03-02T10:00:00Z", "type": "message",
                "role": "customer", "text": "hello", "client_msg_id": "m1"})
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
