//! The warm handoff: from the escalating turn to a person, and back.
//!
//! - [`escalation`]: on an escalating decision the conversation gets a [`Handoff`] (queued in
//!   the team the policy routes it to, with its brief), moves to `waiting_human` and the
//!   customer is told where they stand — one write.
//! - [`dispatch`]: a dispatch pass offers queued handoffs to agents in queue order (priority,
//!   then longest waiting; one offer at a time per agent unless the team says otherwise) and
//!   keeps every waiting customer's status line true: place in line and an honest estimate,
//!   "connecting" while an agent is being offered the conversation, when a closed team is
//!   back.
//! - [`timers`]: offers not accepted in time go back to their place in line (the agent cools
//!   down; several missed in a row set them away), silent agents go offline and their
//!   conversations return to the queue after the grace period, handoffs nobody took within
//!   their team's wait target become more urgent (and supervisors are alerted), and those
//!   waiting too long move to the overflow team.
//! - [`actions`]: what agents and supervisors do: accept, decline, take from the queue,
//!   transfer, hand back, resolve, reassign; replies, notes and typing.
//! - [`presence`]: agents going online, away or offline, their capacity, and withdrawal.
//! - [`queue`]: the queue as a console shows it, with previews of the customers' messages.
//!
//! Every change is one call of [`Store::change_handoff`](baton_store::Store::change_handoff):
//! the core's state machine names the step, and the store changes the handoff, the
//! conversation's state and the timeline (the staff-only step, the state change, the
//! customer's message) in one transaction, so any number of tasks and processes can act at
//! once and a crash never leaves a handoff and its conversation disagreeing. Services return
//! [`HandoffError`]; the HTTP edge turns it into a status once.

pub mod actions;
pub mod dispatch;
pub mod escalation;
pub mod presence;
pub mod queue;
pub mod timers;

use std::collections::HashMap;
use std::sync::Arc;

use baton_core::handoff::{HandoverNotice, Names, Refusal};
use baton_core::{Brief, Handoff};
use baton_store::StoreError;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};

use crate::state::AppState;

pub use actions::{
    accept, decline, hand_back, handoff_or_404, note, open_handoff, rate, reassign, reply, resolve,
    take, transfer, typing,
};
pub use dispatch::dispatch;
pub use escalation::{Escalated, EscalatingTurn, escalate};
pub use presence::{set_capacity, set_presence, withdraw_agent};
pub use timers::{close_quiet_conversations, run, tick};

/// Why a handoff service could not do what was asked. The HTTP edge maps each to a status
/// ([`crate::error`]); nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// No such handoff, agent or conversation.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (someone else's conversation, not a supervisor).
    #[error("{0}")]
    Forbidden(String),
    /// The handoff's state machine refused the change.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The request conflicts with the conversation's state.
    #[error("{0}")]
    Conflict(String),
    /// The request names something that does not exist in the policy.
    #[error("{0}")]
    Invalid(String),
    /// Something expected is missing (a conversation without its customer).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = HandoffError> = std::result::Result<T, E>;

/// What a waiting customer was last told, and when.
#[derive(Debug, Clone)]
struct Told {
    notice: HandoverNotice,
    at: std::time::Instant,
}

/// Serialises this process's dispatch passes, lets anyone ask for one, and remembers what
/// each waiting customer was last told so that only changes are sent.
#[derive(Default)]
pub struct Dispatcher {
    pass: Mutex<()>,
    wake: Notify,
    /// Where each waiting customer was last told they stand, by conversation id.
    told: std::sync::Mutex<HashMap<String, Told>>,
    /// Recently closed handoffs (most recent first) for the median handle times behind wait
    /// estimates, read at most once per [`dispatch::HANDLE_TIMES_TTL_SECS`].
    recent_closed: std::sync::Mutex<Option<RecentClosed>>,
    /// The briefs of handoffs this process created lately, so that an offer carries its
    /// brief without reading it back.
    briefs: std::sync::Mutex<RecentBriefs>,
}

/// When the recently closed handoffs were read, and what was read.
type RecentClosed = (DateTime<Utc>, Arc<Vec<Handoff>>);

/// How many recent briefs [`Dispatcher`] keeps.
const RECENT_BRIEFS: usize = 256;

/// The last [`RECENT_BRIEFS`] briefs created, by handoff id.
#[derive(Default)]
struct RecentBriefs {
    by_id: HashMap<String, Arc<Brief>>,
    order: std::collections::VecDeque<String>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Dispatcher {
    fn remember_told(&self, conversation_id: &str, notice: HandoverNotice) {
        lock(&self.told).insert(
            conversation_id.to_string(),
            Told {
                notice,
                at: std::time::Instant::now(),
            },
        );
    }

    /// Where a waiting customer stands, as this process last told them: a customer's stream
    /// sends it when it opens, so a reloaded widget shows it at once.
    pub fn standing(&self, conversation_id: &str) -> Option<HandoverNotice> {
        lock(&self.told)
            .get(conversation_id)
            .map(|t| t.notice.clone())
    }

    fn remember_brief(&self, handoff_id: &str, brief: Brief) {
        let mut briefs = lock(&self.briefs);
        if briefs.order.len() >= RECENT_BRIEFS
            && let Some(oldest) = briefs.order.pop_front()
        {
            briefs.by_id.remove(&oldest);
        }
        briefs.order.push_back(handoff_id.to_string());
        briefs.by_id.insert(handoff_id.to_string(), Arc::new(brief));
    }

    /// A handoff's brief: as created here lately, else as stored.
    pub async fn brief(&self, state: &AppState, handoff_id: &str) -> Option<Arc<Brief>> {
        if let Some(brief) = lock(&self.briefs).by_id.get(handoff_id) {
            return Some(Arc::clone(brief));
        }
        match state.store.handoff_brief(handoff_id).await {
            Ok(brief) => brief.map(Arc::new),
            Err(error) => {
                tracing::warn!(%error, handoff = handoff_id, "cannot read the handoff's brief");
                None
            }
        }
    }

    /// Asks the background task for a dispatch pass soon.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Waits until someone asks for a pass.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// The names customers know teams by, from the policy in force, with `agent` as the person
/// a step concerns.
pub fn names(state: &AppState, agent: Option<&str>) -> Names {
    let policy = state.policy.current();
    Names {
        teams: policy
            .policy
            .teams
            .iter()
            .map(|t| (t.name.clone(), t.display_name.clone()))
            .collect(),
        agent: agent.map(str::to_string),
    }
}

/// A duration in milliseconds, as chrono's.
fn ms(millis: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(millis.min(i64::MAX as u64) as i64)
}
