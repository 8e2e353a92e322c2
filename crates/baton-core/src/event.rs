//! The conversation timeline: an append-only log of events numbered by `seq` from 1.
//!
//! Every event is `{seq, type, at, ...}` on the wire; the fields after `at` depend on the
//! type. Each type says whether the customer may see it: signals, decisions and briefs are
//! for staff only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conversation::{ConversationState, PageContext};
use crate::decision::Decision;
use crate::signals::TurnSignals;

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

/// A knowledge-base article as a message cites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArticleLink {
    pub id: String,
    pub title: String,
    /// Where the customer can read the whole article, when links are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An article retrieval proposed, with its ranking score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoredArticle {
    pub id: String,
    pub title: String,
    pub score: f64,
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
        /// Knowledge-base articles an AI answer cites.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        articles: Vec<ArticleLink>,
        /// Articles an AI clarifying question offers to choose from.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        choices: Vec<ArticleLink>,
        /// On Baton's system messages about the handover: the same facts as data (who the
        /// customer waits for, their place and estimate, who joined), for clients to act on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handover: Option<crate::handoff::HandoverNotice>,
    },
    /// How the AI arrived at a reply (staff only): the retrieval confidence, the articles
    /// considered and a one-line reasoning.
    AiReply {
        /// The `seq` of the AI message this explains.
        message_seq: i64,
        /// `answer`, `clarify` or `no_answer`.
        kind: String,
        /// Which responder wrote it (`builtin`, `llm`).
        responder: String,
        /// Calibrated retrieval confidence that the best article answers the question.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
        /// What the model said of its own answer, when a model wrote it (never used for
        /// decisions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model_confidence: Option<f64>,
        /// Articles retrieval proposed, best first, with their scores.
        articles: Vec<ScoredArticle>,
        reasoning: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        needs_human: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ai_error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// Time to produce the reply, retrieval included.
        latency_ms: u64,
    },
    /// What Baton decided for a customer turn, and what it read off the turn (staff only).
    Decision {
        /// The `seq` of the customer message judged.
        message_seq: i64,
        decision: Box<Decision>,
        signals: Box<TurnSignals>,
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
    /// An internal note between staff (never shown to the customer).
    Note {
        text: String,
        /// The staff id of the author.
        author: String,
    },
    /// A step of the conversation's handoff (staff only): queued, offered, accepted,
    /// declined, transferred, resolved, ... with its reason.
    Handoff {
        handoff_id: String,
        step: crate::handoff::Step,
        status: crate::handoff::HandoffStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
        reason: String,
    },
    /// The customer's rating of the conversation after a person resolved it.
    Rating {
        score: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// The customer said whether an AI answer helped.
    Feedback {
        /// The `seq` of the AI message rated.
        message_seq: i64,
        helpful: bool,
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
    /// A message of `role` with nothing attached (no idempotency key, author, page,
    /// articles or handover facts).
    pub fn message(role: Role, text: impl Into<String>) -> EventBody {
        EventBody::Message {
            role,
            text: text.into(),
            client_msg_id: None,
            author: None,
            page: None,
            articles: Vec::new(),
            choices: Vec::new(),
            handover: None,
        }
    }

    /// The same message with the handover facts it states (Baton's system messages about
    /// the customer's handover); other events are returned as they are.
    pub fn with_handover(mut self, notice: crate::handoff::HandoverNotice) -> EventBody {
        if let EventBody::Message { handover, .. } = &mut self {
            *handover = Some(notice);
        }
        self
    }

    /// The same message signed by `author` (an agent's name); other events are returned as
    /// they are.
    pub fn with_author(mut self, name: impl Into<String>) -> EventBody {
        if let EventBody::Message { author, .. } = &mut self {
            *author = Some(name.into());
        }
        self
    }

    /// The event's `type` on the wire and in the database.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::Message { .. } => "message",
            EventBody::PageEvent { .. } => "page_event",
            EventBody::ConversationStarted { .. } => "conversation_started",
            EventBody::StateChanged { .. } => "state_changed",
            EventBody::AiReply { .. } => "ai_reply",
            EventBody::Decision { .. } => "decision",
            EventBody::Note { .. } => "note",
            EventBody::Handoff { .. } => "handoff",
            EventBody::Rating { .. } => "rating",
            EventBody::Feedback { .. } => "feedback",
        }
    }

    /// Who may read this event.
    pub fn visibility(&self) -> Visibility {
        match self {
            EventBody::Message { .. }
            | EventBody::PageEvent { .. }
            | EventBody::ConversationStarted { .. }
            | EventBody::StateChanged { .. }
            | EventBody::Rating { .. }
            | EventBody::Feedback { .. } => Visibility::Customer,
            EventBody::AiReply { .. }
            | EventBody::Decision { .. }
            | EventBody::Note { .. }
            | EventBody::Handoff { .. } => Visibility::Staff,
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
                articles: Vec::new(),
                choices: Vec::new(),
                handover: None,
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
