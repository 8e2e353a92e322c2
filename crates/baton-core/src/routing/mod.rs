//! Routing within a team: which agent takes a handoff, the order of the queue of handoffs
//! waiting for a person, and what the waiting customer is told.
//!
//! Pure functions of the agents' availability, the queue and a time value; the team itself
//! comes from the policy. Every choice records its reason in words: the chosen agent's load
//! and idle time, why the others were passed over, or why nobody could take it.
//!
//! ```
//! use baton_core::routing::{AgentAvailability, Presence, choose_agent, estimate_wait,
//!     TeamStats};
//! use baton_core::{HandoverNotice, NoticeKind};
//!
//! let now = "2026-03-02T10:30:00Z".parse().unwrap();
//! let dana = AgentAvailability {
//!     id: "st_dana".into(),
//!     name: "Dana".into(),
//!     teams: vec!["billing".into()],
//!     presence: Presence::Online,
//!     active_conversations: 1,
//!     capacity: 3,
//!     idle_since: Some("2026-03-02T10:18:00Z".parse().unwrap()),
//!     offers_pending: 0,
//! };
//! let choice = choose_agent("billing", &[dana], &[], true, now).unwrap();
//! assert_eq!(choice.reason, "Dana: online, 1 of 3 conversations, idle 12 min");
//!
//! let stats = TeamStats { agents_online: 2, spare_capacity: 0, active_conversations: 6,
//!     median_handle_time: Some(std::time::Duration::from_secs(540)) };
//! let standing = HandoverNotice {
//!     team: Some("Billing".into()),
//!     position: Some(2),
//!     estimate_secs: estimate_wait(2, &stats).map(|e| e.as_secs()),
//!     ..HandoverNotice::new(NoticeKind::InLine)
//! };
//! assert_eq!(standing.text(now),
//!     "You're 2nd in line for Billing; a person usually joins in about 3 minutes.");
//! ```

pub mod agents;
pub mod queue;
pub mod wait;

pub use agents::{
    ANY_TEAM, AgentAvailability, AgentChoice, NoAgent, OfferMode, PassOverReason, PassedOver,
    Presence, choose_agent,
};
pub use queue::{Assignment, DrainPlan, QueueEntry, StillWaiting, drain, queue_position};
pub use wait::{TeamOutlook, TeamStats, estimate_wait, median_handle_time, standings};

#[cfg(test)]
mod properties;
