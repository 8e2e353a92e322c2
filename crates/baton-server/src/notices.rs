//! Transient notices: someone is typing, the customer's place in the queue moved. They travel
//! on the streams as frames without `seq`, are never stored and are not replayed: a client
//! that reconnects learns the state from the timeline, and the next notice updates it.
//!
//! They reach the streams of the process that publishes them. With several processes on
//! PostgreSQL a notice published on one process does not reach a stream held by another;
//! nothing depends on it (the stored events carry every fact), it only makes the chat livelier.

use std::sync::Arc;

use baton_core::Role;
use serde::Serialize;
use tokio::sync::broadcast;

/// How many notices a slow stream may fall behind before it skips some (they are transient:
/// skipping is harmless).
const CAPACITY: usize = 1024;

/// One transient notice about a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// Someone in the conversation is typing.
    Typing {
        role: Role,
        /// The agent's name; absent for the customer.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Where the customer stands while they wait for a person changed: their place in line
    /// or its estimate, an agent being offered the conversation, the team's hours or
    /// presence. The fields (`kind`, `team`, `position`, `estimate_secs`, `back_at`) are
    /// the facts; `text` is the sentence rendered from them.
    Queue {
        #[serde(flatten)]
        notice: baton_core::HandoverNotice,
        /// The line to show: "You're next in line for Billing; …".
        text: String,
    },
}

impl Notice {
    /// Whether the customer's stream carries it: the agent's typing and the queue, not the
    /// customer's own typing.
    pub fn for_customer(&self) -> bool {
        match self {
            Notice::Typing { role, .. } => *role != Role::Customer,
            Notice::Queue { .. } => true,
        }
    }

    /// Whether staff streams carry it: the customer's typing and the queue.
    pub fn for_staff(&self) -> bool {
        match self {
            Notice::Typing { role, .. } => *role == Role::Customer,
            Notice::Queue { .. } => true,
        }
    }
}

/// A notice with the conversation it is about.
#[derive(Debug, Clone)]
pub struct Addressed {
    pub conversation_id: String,
    pub notice: Notice,
}

/// Fans transient notices out to this process's streams. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notices {
    sender: broadcast::Sender<Arc<Addressed>>,
}

impl Default for Notices {
    fn default() -> Self {
        Notices {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Notices {
    /// Sends `notice` to the streams of `conversation_id` that are open now.
    pub fn publish(&self, conversation_id: &str, notice: Notice) {
        // Nobody listening is not an error.
        let _ = self.sender.send(Arc::new(Addressed {
            conversation_id: conversation_id.to_string(),
            notice,
        }));
    }

    /// Receives every notice published from now on (streams filter by conversation).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Addressed>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_a_type_and_no_seq() {
        let typing = Notice::Typing {
            role: Role::Agent,
            name: Some("Dana".into()),
        };
        let frame = serde_json::to_value(&typing).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "typing", "role": "agent", "name": "Dana"})
        );
        let queue = Notice::Queue {
            notice: baton_core::HandoverNotice {
                team: Some("Billing".into()),
                position: Some(2),
                ..baton_core::HandoverNotice::new(baton_core::NoticeKind::InLine)
            },
            text: "You're 2nd in line for Billing.".into(),
        };
        let frame = serde_json::to_value(&queue).unwrap();
        assert_eq!(frame["type"], "queue");
        assert_eq!(frame["kind"], "in_line");
        assert_eq!(frame["position"], 2);
        assert!(frame.get("seq").is_none() && frame.get("estimate_secs").is_none());
    }

    #[test]
    fn each_side_sees_the_other_typing() {
        let customer = Notice::Typing {
            role: Role::Customer,
            name: None,
        };
        let agent = Notice::Typing {
            role: Role::Agent,
            name: Some("Dana".into()),
        };
        assert!(!customer.for_customer() && customer.for_staff());
        assert!(agent.for_customer() && !agent.for_staff());
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribe() {
        let notices = Notices::default();
        notices.publish(
            "c_1",
            Notice::Typing {
                role: Role::Customer,
                name: None,
            },
        );
        let mut receiver = notices.subscribe();
        notices.publish(
            "c_2",
            Notice::Typing {
                role: Role::Customer,
                name: None,
            },
        );
        let got = receiver.recv().await.unwrap();
        assert_eq!(got.conversation_id, "c_2");
    }
}
