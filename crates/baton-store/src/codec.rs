//! How domain values are stored, shared by both backends: ids, timestamps as microseconds,
//! JSON columns, and the rows read back into domain types.

use baton_core::handoff::{AgentSlot, Handoff, HandoffStatus, Priority};
use baton_core::routing::Presence;
use baton_core::staff::DEFAULT_AGENT_CAPACITY;
use baton_core::{
    Account, Agent, Brief, Conversation, ConversationState, Customer, Event, EventBody, NewEvent,
    PageContext, Staff, StaffRole,
};
use chrono::{DateTime, Utc};

use crate::{CreationPage, Result, StoreError};

/// The page of [`crate::Store::list_conversations`] when the caller asks for `0`.
pub(crate) const DEFAULT_CONVERSATION_LIMIT: u32 = 100;
/// The page of [`crate::Store::events_after`] when the caller asks for `0`.
pub(crate) const DEFAULT_EVENT_LIMIT: u32 = 1000;
/// The page of [`crate::Store::handoffs`] when the caller asks for `0`.
pub(crate) const DEFAULT_HANDOFF_LIMIT: u32 = 1000;

/// A new id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A timestamp as stored: microseconds since the Unix epoch.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored timestamp read back.
pub(crate) fn from_micros(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros} is out of range")))
}

/// `at` as it will read back from the database, so what a write returns equals what a
/// later read returns.
pub(crate) fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// `at` in stored microseconds, rounded up: a stored time is before `at` exactly when it is
/// before this.
fn micros_ceil(at: DateTime<Utc>) -> i64 {
    let micros = at.timestamp_micros();
    if at.timestamp_subsec_nanos().is_multiple_of(1000) {
        micros
    } else {
        micros.saturating_add(1)
    }
}

/// A [`CreationPage`] as both backends query it: rows with `(created_at, id)` above
/// `(after_at, after_id)` and `created_at` below `before`, in stored form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreationBounds {
    pub after_at: i64,
    pub after_id: String,
    pub before: i64,
    /// Distinct state names; empty for any state.
    pub states: Vec<&'static str>,
    pub limit: i64,
}

impl CreationBounds {
    pub fn new(page: &CreationPage) -> Self {
        // `(created_at, id) > (from, '')` is `created_at >= from`, since ids are never
        // empty; a cursor further on than that replaces it.
        let from = (
            page.created_from.map_or(i64::MIN, micros_ceil),
            String::new(),
        );
        let (after_at, after_id) = match &page.after {
            Some(cursor)
                if (micros(cursor.created_at), cursor.id.as_str()) > (from.0, from.1.as_str()) =>
            {
                (micros(cursor.created_at), cursor.id.clone())
            }
            _ => from,
        };
        let mut states: Vec<&'static str> = Vec::new();
        for state in &page.states {
            if !states.contains(&state.as_str()) {
                states.push(state.as_str());
            }
        }
        CreationBounds {
            after_at,
            after_id,
            before: page.created_before.map_or(i64::MAX, micros_ceil),
            states,
            limit: limit_or(page.limit, DEFAULT_CONVERSATION_LIMIT),
        }
    }
}

/// The row limit for a caller's `limit`, where 0 asks for the default.
pub(crate) fn limit_or(limit: u32, default: u32) -> i64 {
    i64::from(if limit == 0 { default } else { limit })
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Corrupt(format!("cannot serialize a value: {error}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|error| StoreError::Corrupt(format!("unreadable {what}: {error}")))
}

/// Turns a unique violation into [`StoreError::Conflict`]; other errors stay database errors.
pub(crate) fn database_error(error: sqlx::Error) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
        _ => StoreError::Database(error),
    }
}

/// An event ready to be inserted: every column computed once, before any lock is taken.
#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    pub at: DateTime<Utc>,
    pub body: EventBody,
    pub body_json: String,
}

impl EventRecord {
    pub fn new(event: NewEvent) -> Result<Self> {
        Ok(EventRecord {
            at: truncate_to_micros(event.at),
            body_json: to_json(&event.body)?,
            body: event.body,
        })
    }

    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }

    pub fn visibility(&self) -> &'static str {
        self.body.visibility().as_str()
    }

    pub fn client_msg_id(&self) -> Option<&str> {
        self.body.client_msg_id()
    }

    pub fn at_micros(&self) -> i64 {
        micros(self.at)
    }

    /// The stored event once it has its `seq`.
    pub fn into_event(self, seq: i64) -> Event {
        Event {
            seq,
            at: self.at,
            body: self.body,
        }
    }
}

/// `seq, at, body` of the `events` table.
pub(crate) type EventRow = (i64, i64, String);

pub(crate) fn event((seq, at, body): EventRow) -> Result<Event> {
    Ok(Event {
        seq,
        at: from_micros(at)?,
        body: from_json("event body", &body)?,
    })
}

/// `id, customer_id, state, page, last_seq, created_at, updated_at` of `conversations`.
pub(crate) type ConversationRow = (String, String, String, Option<String>, i64, i64, i64);

pub(crate) fn conversation(
    (id, customer_id, state, page, last_seq, created_at, updated_at): ConversationRow,
) -> Result<Conversation> {
    Ok(Conversation {
        state: conversation_state(&state)?,
        page: page
            .map(|json| from_json::<PageContext>("page", &json))
            .transpose()?,
        id,
        customer_id,
        last_seq,
        created_at: from_micros(created_at)?,
        updated_at: from_micros(updated_at)?,
    })
}

pub(crate) fn conversation_state(name: &str) -> Result<ConversationState> {
    ConversationState::parse(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown conversation state {name:?}")))
}

pub(crate) fn page_json(page: Option<&PageContext>) -> Result<Option<String>> {
    page.map(to_json).transpose()
}

/// The `state_changed` event for moving from the stored `state` to `to`, `None` when the
/// conversation is already there, or the transition error.
pub(crate) fn state_change(
    state: &str,
    to: ConversationState,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> Result<Option<EventRecord>> {
    let from = conversation_state(state)?;
    if from == to {
        return Ok(None);
    }
    if !from.can_move_to(to) {
        return Err(StoreError::InvalidTransition { from, to });
    }
    EventRecord::new(NewEvent {
        at,
        body: EventBody::StateChanged { from, to, reason },
    })
    .map(Some)
}

/// `id, name, tier, signup_at, owner, attrs` of `accounts`.
pub(crate) type AccountRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
);

pub(crate) fn account((id, name, tier, signup_at, owner, attrs): AccountRow) -> Result<Account> {
    Ok(Account {
        id,
        name,
        tier,
        signup_at: signup_at.map(from_micros).transpose()?,
        owner,
        attrs: from_json("account attributes", &attrs)?,
    })
}

/// `id, external_id, name, email, account_id, created_at` of `customers`.
pub(crate) type CustomerRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

pub(crate) fn customer(
    (id, external_id, name, email, account_id, created_at): CustomerRow,
) -> Result<Customer> {
    Ok(Customer {
        id,
        external_id,
        name,
        email,
        account_id,
        created_at: from_micros(created_at)?,
    })
}

/// `id, name, role, disabled, created_at` of `staff`.
pub(crate) type StaffRow = (String, String, String, bool, i64);

pub(crate) fn staff((id, name, role, disabled, created_at): StaffRow) -> Result<Staff> {
    Ok(Staff {
        role: staff_role(&role)?,
        id,
        name,
        disabled,
        created_at: from_micros(created_at)?,
    })
}

fn staff_role(name: &str) -> Result<StaffRole> {
    StaffRole::parse(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown staff role {name:?}")))
}

// --- agents and handoffs ---

/// A presence read back (stored as [`Presence::as_str`]).
fn presence(name: &str) -> Result<Presence> {
    [Presence::Online, Presence::Away, Presence::Offline]
        .into_iter()
        .find(|p| p.as_str() == name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown presence {name:?}")))
}

fn count(what: &str, value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is out of range")))
}

/// The teams of an agent profile as stored.
pub(crate) fn teams_json(teams: &[String]) -> Result<String> {
    to_json(&teams)
}

/// A member of staff joined with their routing profile (all `None` when they have none) and
/// the handoffs they hold: `id, name, role, disabled, created_at` of `staff`, `teams,
/// capacity, presence, presence_at, last_seen_at, last_assigned_at, missed_offers,
/// presence_reason` of `agents`, then the count of their offered and assigned handoffs and
/// of the offered ones alone.
pub(crate) type AgentRow = (
    String,
    String,
    String,
    bool,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

/// An agent read back; staff without a profile have no team, the default capacity and are
/// offline since they were created.
pub(crate) fn agent(
    (
        id,
        name,
        role,
        disabled,
        created_at,
        teams,
        capacity,
        presence_name,
        presence_at,
        last_seen_at,
        last_assigned_at,
        missed_offers,
        presence_reason,
        active,
        offered,
    ): AgentRow,
) -> Result<Agent> {
    let created_at = from_micros(created_at)?;
    Ok(Agent {
        role: staff_role(&role)?,
        id,
        name,
        disabled,
        teams: agent_teams(teams)?,
        capacity: capacity
            .map(|c| count("capacity", c))
            .transpose()?
            .unwrap_or(DEFAULT_AGENT_CAPACITY),
        presence: presence_name
            .as_deref()
            .map(presence)
            .transpose()?
            .unwrap_or(Presence::Offline),
        presence_at: presence_at
            .map(from_micros)
            .transpose()?
            .unwrap_or(created_at),
        last_seen_at: last_seen_at
            .map(from_micros)
            .transpose()?
            .unwrap_or(created_at),
        last_assigned_at: last_assigned_at.map(from_micros).transpose()?,
        active: count("active handoff count", active)?,
        offered: count("offered handoff count", offered)?,
        missed_offers: missed_offers
            .map(|n| count("missed offer count", n))
            .transpose()?
            .unwrap_or(0),
        presence_reason,
    })
}

/// The teams of an agent profile as stored (`None` without a profile: no team).
fn agent_teams(teams: Option<String>) -> Result<Vec<String>> {
    Ok(teams
        .map(|json| from_json::<Vec<String>>("agent teams", &json))
        .transpose()?
        .unwrap_or_default())
}

/// The agent a handoff change takes the capacity of, as read under lock: `id, disabled` of
/// `staff`, `capacity, presence, teams` of `agents` (`None` without a profile), the count
/// of their other open handoffs and of their other pending offers.
pub(crate) type SlotRow = (
    String,
    bool,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

pub(crate) fn agent_slot(
    (id, disabled, capacity, presence_name, teams, others, offers_other): SlotRow,
) -> Result<AgentSlot> {
    Ok(AgentSlot {
        id,
        disabled,
        capacity: capacity
            .map(|c| count("capacity", c))
            .transpose()?
            .unwrap_or(DEFAULT_AGENT_CAPACITY),
        presence: presence_name
            .as_deref()
            .map(presence)
            .transpose()?
            .unwrap_or(Presence::Offline),
        teams: agent_teams(teams)?,
        active_other: count("active handoff count", others)?,
        offers_other: count("pending offer count", offers_other)?,
    })
}

/// A priority as stored: 0 (low) to 3 (urgent), so the queue sorts on it.
fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// Distinct status names, for a filter.
pub(crate) fn status_names(statuses: &[HandoffStatus]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for status in statuses {
        if !names.iter().any(|n| n == status.as_str()) {
            names.push(status.as_str().to_string());
        }
    }
    names
}

/// A handoff ready to be written: the indexed columns and the JSON body, computed before any
/// lock is taken (or, after a change, before anything is written).
#[derive(Debug, Clone)]
pub(crate) struct HandoffRecord {
    pub id: String,
    pub conversation_id: String,
    pub status: &'static str,
    pub priority: i64,
    /// The agent an open handoff is offered or assigned to.
    pub holder: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub body_json: String,
}

impl HandoffRecord {
    pub fn new(handoff: &Handoff) -> Result<Self> {
        Ok(HandoffRecord {
            id: handoff.id.clone(),
            conversation_id: handoff.conversation_id.clone(),
            status: handoff.status.as_str(),
            priority: priority_rank(handoff.priority),
            holder: handoff.holder().map(str::to_string),
            created_at: micros(handoff.created_at),
            updated_at: micros(handoff.updated_at),
            body_json: to_json(handoff)?,
        })
    }

    pub fn is_open(&self) -> bool {
        self.status != HandoffStatus::Closed.as_str()
    }
}

pub(crate) fn handoff(body: &str) -> Result<Handoff> {
    from_json("handoff", body)
}

pub(crate) fn brief(json: &str) -> Result<Brief> {
    from_json("brief", json)
}

/// What [`crate::Store::create_handoff`] reports when the conversation already has an open
/// handoff.
pub(crate) fn open_handoff_conflict(conversation_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "conversation {conversation_id} already has an open handoff"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_to_the_microsecond() {
        let at: DateTime<Utc> = "2026-03-02T10:00:00.123456789Z".parse().unwrap();
        let stored = truncate_to_micros(at);
        assert_eq!(stored.to_rfc3339(), "2026-03-02T10:00:00.123456+00:00");
        assert_eq!(from_micros(micros(stored)).unwrap(), stored);
    }

    #[test]
    fn creation_bounds_take_the_later_of_cursor_and_start() {
        let from: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let page = |after: Option<(&str, &str)>| CreationPage {
            created_from: Some(from),
            after: after.map(|(at, id)| crate::CreationCursor {
                created_at: at.parse().unwrap(),
                id: id.to_string(),
            }),
            ..Default::default()
        };
        let bounds = CreationBounds::new(&page(None));
        assert_eq!(
            (bounds.after_at, bounds.after_id.as_str()),
            (micros(from), "")
        );
        assert_eq!(bounds.before, i64::MAX);
        let earlier = CreationBounds::new(&page(Some(("2026-03-01T00:00:00Z", "z"))));
        assert_eq!(
            (earlier.after_at, earlier.after_id.as_str()),
            (micros(from), "")
        );
        let later = CreationBounds::new(&page(Some(("2026-03-02T10:00:00Z", "a"))));
        assert_eq!(
            (later.after_at, later.after_id.as_str()),
            (micros(from), "a")
        );
    }

    #[test]
    fn creation_bounds_round_sub_microsecond_instants_up() {
        let at: DateTime<Utc> = "2026-03-02T10:00:00.0000001Z".parse().unwrap();
        let bounds = CreationBounds::new(&CreationPage {
            created_from: Some(at),
            created_before: Some(at),
            states: vec![ConversationState::Ai, ConversationState::Ai],
            ..Default::default()
        });
        assert_eq!(bounds.after_at, micros(at) + 1);
        assert_eq!(bounds.before, micros(at) + 1);
        assert_eq!(bounds.states, vec!["ai"]);
        assert_eq!(bounds.limit, 100);
    }

    #[test]
    fn zero_limit_means_the_default() {
        assert_eq!(limit_or(0, 100), 100);
        assert_eq!(limit_or(7, 100), 7);
    }
}
