//! Baton's domain model and pure decision logic.
//!
//! This crate does no I/O: no files, no network, no clock. Time comes in as a value, so
//! every function here is exact and cheap to test, replay and back-test.

pub mod brief;
pub mod conversation;
pub mod customer;
pub mod decision;
pub mod event;
pub mod handoff;
pub mod policy;
pub mod routing;
pub mod signals;
pub mod staff;

pub use brief::{Brief, BriefInput, render_text};
pub use conversation::{Conversation, ConversationState, PageContext};
pub use customer::{Account, Customer, IdentityClaims};
pub use decision::{Action, Decision, Trigger, TriggerKind};
pub use event::{
    ArticleLink, Event, EventBody, NewEvent, PageEventKind, Role, ScoredArticle, Visibility,
};
pub use handoff::{
    Handoff, HandoffChange, HandoffStatus, HandoverNotice, Names, NoticeKind, Outcome, Priority,
    Refusal, Step,
};
pub use staff::{Agent, Staff, StaffRole};

/// Largest customer message, in Unicode scalar values, unless configured otherwise.
pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 4000;
