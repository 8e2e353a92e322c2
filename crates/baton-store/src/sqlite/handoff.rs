//! Handoffs and agent profiles on SQLite.
//!
//! Every write is a command of the single writer, which holds SQLite's write lock for the
//! whole batch: a handoff change reads the handoff, the agent and their other handoffs and
//! the conversation's state, then writes the handoff, the agent's counters, the timeline and
//! the conversation's state with nothing able to slip in between, so no lock of its own is
//! needed. A refused change, like a failed check, returns before anything is written.

use std::collections::HashMap;

use async_trait::async_trait;
use baton_core::handoff::{AgentSlot, Handoff, HandoffChange, Names};
use baton_core::routing::Presence;
use baton_core::{Agent, Brief, ConversationState, Event, EventBody};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteExecutor, SqlitePool};

use super::writer::Command;
use crate::codec::{self, AgentRow, SlotRow};
use crate::step::{self, Escalation, MissedOffers, StepWrite};
use crate::{Changed, EventNotice, HandoffFilter, HandoffResult, Result};

/// Staff joined with their profile and the counts of handoffs they hold (offered or
/// assigned, and offered alone), then `$tail`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.name, s.role, s.disabled, s.created_at,
                a.teams, a.capacity, a.presence, a.presence_at, a.last_seen_at,
                a.last_assigned_at, a.missed_offers, a.presence_reason,
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status IN ('offered', 'assigned')),
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status = 'offered')
             FROM staff s LEFT JOIN agents a ON a.staff_id = s.id",
            $tail
        )
    };
}

// --- reads ---

pub(super) async fn agents(pool: &SqlitePool) -> Result<Vec<Agent>> {
    let rows: Vec<AgentRow> = sqlx::query_as(select_agents!(" ORDER BY s.created_at, s.id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(codec::agent).collect()
}

pub(super) async fn agent(pool: &SqlitePool, id: &str) -> Result<Option<Agent>> {
    agent_row(pool, id).await?.map(codec::agent).transpose()
}

/// One agent's row, undecoded: a command returns it as it is, so that a row that does not
/// decode fails the caller after the commit rather than after a write.
async fn agent_row<'e>(
    executor: impl SqliteExecutor<'e>,
    id: &str,
) -> Result<Option<AgentRow>, sqlx::Error> {
    sqlx::query_as(select_agents!(" WHERE s.id = ?"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

pub(super) async fn handoff<'e>(
    executor: impl SqliteExecutor<'e>,
    id: &str,
) -> Result<Option<Handoff>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM handoffs WHERE id = ?")
        .bind(id)
        .fetch_optional(executor)
        .await?;
    body.as_deref().map(codec::handoff).transpose()
}

pub(super) async fn brief(pool: &SqlitePool, id: &str) -> Result<Option<Brief>> {
    let brief: Option<String> = sqlx::query_scalar("SELECT brief FROM handoffs WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    brief.as_deref().map(codec::brief).transpose()
}

pub(super) async fn handoffs(pool: &SqlitePool, filter: &HandoffFilter) -> Result<Vec<Handoff>> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT body FROM handoffs");
    let mut clause = " WHERE ";
    let statuses = codec::status_names(&filter.statuses);
    if !statuses.is_empty() {
        query.push(clause).push("status IN (");
        let mut list = query.separated(", ");
        for status in statuses {
            list.push_bind(status);
        }
        query.push(")");
        clause = " AND ";
    }
    if let Some(conversation_id) = &filter.conversation_id {
        query
            .push(clause)
            .push("conversation_id = ")
            .push_bind(conversation_id.clone());
        clause = " AND ";
    }
    if let Some(agent_id) = &filter.agent_id {
        query
            .push(clause)
            .push("holder = ")
            .push_bind(agent_id.clone());
    }
    query
        .push(if filter.recent_first {
            " ORDER BY updated_at DESC, id DESC LIMIT "
        } else {
            " ORDER BY priority DESC, created_at, id LIMIT "
        })
        .push_bind(codec::limit_or(filter.limit, codec::DEFAULT_HANDOFF_LIMIT));
    let bodies: Vec<String> = query.build_query_scalar().fetch_all(pool).await?;
    bodies.iter().map(|body| codec::handoff(body)).collect()
}

/// The latest customer message of each conversation of `ids` that has one.
pub(super) async fn last_customer_messages(
    pool: &SqlitePool,
    ids: &[String],
) -> Result<HashMap<String, Event>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // The ids travel as one JSON array: one statement shape, whatever their number.
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT conversation_id, seq, at, body FROM (
            SELECT conversation_id, seq, at, body,
                ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY seq DESC) AS latest
            FROM events
            WHERE conversation_id IN (SELECT value FROM json_each(?))
                AND type = 'message' AND json_extract(body, '$.role') = 'customer'
         ) WHERE latest = 1",
    )
    .bind(codec::to_json(&ids)?)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(conversation_id, seq, at, body)| {
            Ok((conversation_id, codec::event((seq, at, body))?))
        })
        .collect()
}

// --- agent profiles ---

/// Sets an agent's teams and capacity, creating their profile (offline since they were
/// created, as they read without one) when they have none.
pub(super) struct SetAgentProfile {
    pub staff_id: String,
    pub teams_json: String,
    pub capacity: u32,
}

#[async_trait]
impl Command for SetAgentProfile {
    type Output = Option<AgentRow>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<AgentRow>> {
        sqlx::query(
            "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at)
             SELECT id, ?2, ?3, 'offline', created_at, created_at FROM staff WHERE id = ?1
             ON CONFLICT (staff_id) DO UPDATE SET
                teams = excluded.teams, capacity = excluded.capacity",
        )
        .bind(&self.staff_id)
        .bind(&self.teams_json)
        .bind(i64::from(self.capacity))
        .execute(&mut *conn)
        .await?;
        Ok(agent_row(&mut *conn, &self.staff_id).await?)
    }
}

/// A heartbeat, with a new presence when given: `presence_at` moves only when the presence
/// changes, and a presence the agent sets clears Baton's reason for the last one and their
/// count of missed offers.
pub(super) struct TouchAgent {
    pub staff_id: String,
    pub presence: Option<&'static str>,
    pub now: DateTime<Utc>,
}

#[async_trait]
impl Command for TouchAgent {
    type Output = Option<AgentRow>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<AgentRow>> {
        // Without a profile the agent was offline since their creation.
        sqlx::query(
            "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at)
             SELECT id, '[]', ?2, COALESCE(?3, 'offline'),
                CASE WHEN COALESCE(?3, 'offline') = 'offline' THEN created_at ELSE ?4 END, ?4
             FROM staff WHERE id = ?1
             ON CONFLICT (staff_id) DO UPDATE SET
                presence = COALESCE(?3, agents.presence),
                presence_at = CASE WHEN COALESCE(?3, agents.presence) = agents.presence
                    THEN agents.presence_at ELSE ?4 END,
                presence_reason = CASE WHEN ?3 IS NULL THEN agents.presence_reason ELSE NULL END,
                missed_offers = CASE WHEN ?3 IS NULL THEN agents.missed_offers ELSE 0 END,
                last_seen_at = ?4",
        )
        .bind(&self.staff_id)
        .bind(i64::from(baton_core::staff::DEFAULT_AGENT_CAPACITY))
        .bind(self.presence)
        .bind(codec::micros(self.now))
        .execute(&mut *conn)
        .await?;
        Ok(agent_row(&mut *conn, &self.staff_id).await?)
    }
}

// --- handoffs ---

/// Stores a new handoff and its brief, moves the conversation to `waiting_human` and
/// appends the handoff's steps and the customer's message.
pub(super) struct CreateHandoff {
    pub escalation: Escalation,
}

#[async_trait]
impl Command for CreateHandoff {
    type Output = Vec<Event>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<Event>> {
        let e = &self.escalation;
        let r = &e.record;
        // Checked first, so that these failures write nothing and fail only this caller.
        let state = super::conversation_state(conn, &r.conversation_id).await?;
        let state_change = codec::state_change(
            &state,
            ConversationState::WaitingHuman,
            Some(e.state_reason.clone()),
            e.at,
        )?;
        if r.is_open() {
            let open: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM handoffs WHERE conversation_id = ? AND status <> 'closed'",
            )
            .bind(&r.conversation_id)
            .fetch_optional(&mut *conn)
            .await?;
            if open.is_some() {
                return Err(codec::open_handoff_conflict(&r.conversation_id));
            }
        }
        sqlx::query(
            "INSERT INTO handoffs (id, conversation_id, status, priority, holder, created_at,
                updated_at, body, brief)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id)
        .bind(&r.conversation_id)
        .bind(r.status)
        .bind(r.priority)
        .bind(&r.holder)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(&r.body_json)
        .bind(&e.brief_json)
        .execute(&mut *conn)
        .await?;
        let mut events = Vec::with_capacity(e.steps.len() + 3);
        if let Some(decision) = &e.decision {
            events.push(super::append_one(conn, &r.conversation_id, decision.clone()).await?);
        }
        if let Some(change) = state_change {
            let seq = super::move_to(
                conn,
                &r.conversation_id,
                ConversationState::WaitingHuman,
                e.at,
            )
            .await?;
            super::insert_event(conn, &r.conversation_id, seq, &change).await?;
            events.push(change.into_event(seq));
        }
        for step in e.steps.iter().chain(&e.message) {
            events.push(super::append_one(conn, &r.conversation_id, step.clone()).await?);
        }
        Ok(events)
    }

    fn notices(&self, events: &Vec<Event>) -> Vec<EventNotice> {
        notices(&self.escalation.handoff, events)
    }
}

/// Applies a [`HandoffChange`] as one step: reads, decides ([`Handoff::apply`]), and writes
/// back the handoff, the agent's counters, the step on the conversation's timeline, the
/// conversation's new state and the customer's message.
pub(super) struct ChangeHandoff {
    pub id: String,
    pub change: HandoffChange,
    pub names: Names,
    pub now: DateTime<Utc>,
}

#[async_trait]
impl Command for ChangeHandoff {
    type Output = Option<HandoffResult>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<HandoffResult>> {
        let Some(current) = handoff(&mut *conn, &self.id).await? else {
            return Ok(None);
        };
        let slot = match self.change.takes_capacity_of() {
            Some(agent_id) => agent_slot(conn, agent_id, &self.id).await?,
            None => None,
        };
        let next = match current.apply(&self.change, slot.as_ref(), self.now) {
            Ok(next) => next,
            Err(refusal) => return Ok(Some(Err(refusal))),
        };
        let write = StepWrite::new(next, &self.change, &self.names, self.now)?;
        let conversation_id = write.handoff.conversation_id.as_str();
        // Checked before anything is written: a failure must leave the batch untouched.
        let state_change = match &write.moves_to {
            Some((to, reason)) => {
                let state = super::conversation_state(conn, conversation_id).await?;
                codec::state_change(&state, *to, reason.clone(), self.now)?
                    .map(|record| (*to, record))
            }
            None => None,
        };

        let record = &write.record;
        sqlx::query(
            "UPDATE handoffs SET status = ?, priority = ?, holder = ?, updated_at = ?, body = ?
             WHERE id = ?",
        )
        .bind(record.status)
        .bind(record.priority)
        .bind(&record.holder)
        .bind(record.updated_at)
        .bind(&record.body_json)
        .bind(&self.id)
        .execute(&mut *conn)
        .await?;
        if let Some(agent_id) = self.change.assigns() {
            mark_assigned(conn, agent_id, self.now).await?;
        }
        let set_away = count_missed_offers(conn, &write.missed_offers, self.now).await?;

        let mut events = Vec::with_capacity(3);
        events.push(super::append_one(conn, conversation_id, write.step_event.clone()).await?);
        if let Some((to, change)) = state_change {
            let seq = super::move_to(conn, conversation_id, to, self.now).await?;
            super::insert_event(conn, conversation_id, seq, &change).await?;
            events.push(change.into_event(seq));
        }
        if let Some(message) = &write.message {
            events.push(super::append_one(conn, conversation_id, message.clone()).await?);
        }
        Ok(Some(Ok(Changed {
            handoff: write.handoff,
            events,
            set_away,
        })))
    }

    fn notices(&self, output: &Option<HandoffResult>) -> Vec<EventNotice> {
        match output {
            Some(Ok(changed)) => notices(&changed.handoff, &changed.events),
            _ => Vec::new(),
        }
    }
}

/// The notices of a handoff's events: its `handoff` events carry the handoff as it is now.
fn notices(handoff: &Handoff, events: &[Event]) -> Vec<EventNotice> {
    events
        .iter()
        .map(|event| {
            let mut notice = super::notice_of(&handoff.conversation_id, event);
            if matches!(event.body, EventBody::Handoff { .. }) {
                notice.handoff = Some(handoff.clone());
            }
            notice
        })
        .collect()
}

/// Counts a missed offer (setting the agent away at the step's limit) or starts the count
/// again; returns the agent set away, if any. An agent without a profile has no count.
async fn count_missed_offers(
    conn: &mut SqliteConnection,
    missed: &MissedOffers,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    match missed {
        MissedOffers::Unchanged => Ok(None),
        MissedOffers::Reset { agent_id } => {
            sqlx::query(
                "UPDATE agents SET missed_offers = 0 WHERE staff_id = ? AND missed_offers <> 0",
            )
            .bind(agent_id)
            .execute(&mut *conn)
            .await?;
            Ok(None)
        }
        MissedOffers::OneMore {
            agent_id,
            away_after,
        } => {
            let counted: Option<(i64, String)> = sqlx::query_as(
                "UPDATE agents SET missed_offers = missed_offers + 1 WHERE staff_id = ?
                 RETURNING missed_offers, presence",
            )
            .bind(agent_id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(reason) = counted
                .and_then(|(count, presence)| step::away_reason(*away_after, count, &presence))
            else {
                return Ok(None);
            };
            sqlx::query(
                "UPDATE agents SET presence = ?, presence_at = ?, presence_reason = ?
                 WHERE staff_id = ?",
            )
            .bind(Presence::Away.as_str())
            .bind(codec::micros(now))
            .bind(reason)
            .bind(agent_id)
            .execute(&mut *conn)
            .await?;
            Ok(Some(agent_id.clone()))
        }
    }
}

/// The agent a change takes the capacity of, with their teams, their other open handoffs
/// and their other pending offers; `None` when there is no such member of staff.
async fn agent_slot(
    conn: &mut SqliteConnection,
    agent_id: &str,
    handoff_id: &str,
) -> Result<Option<AgentSlot>> {
    let row: Option<SlotRow> = sqlx::query_as(
        "SELECT s.id, s.disabled, a.capacity, a.presence, a.teams,
            (SELECT COUNT(*) FROM handoffs h
             WHERE h.holder = s.id AND h.status IN ('offered', 'assigned') AND h.id <> ?2),
            (SELECT COUNT(*) FROM handoffs h
             WHERE h.holder = s.id AND h.status = 'offered' AND h.id <> ?2)
         FROM staff s LEFT JOIN agents a ON a.staff_id = s.id
         WHERE s.id = ?1",
    )
    .bind(agent_id)
    .bind(handoff_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(codec::agent_slot).transpose()
}

/// Moves the agent's `last_assigned_at`, creating their profile with the defaults if needed
/// (a supervisor may reassign to an agent who never set one up).
async fn mark_assigned(
    conn: &mut SqliteConnection,
    agent_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at,
            last_assigned_at)
         SELECT id, '[]', ?2, 'offline', created_at, created_at, ?3 FROM staff WHERE id = ?1
         ON CONFLICT (staff_id) DO UPDATE SET last_assigned_at = excluded.last_assigned_at",
    )
    .bind(agent_id)
    .bind(i64::from(baton_core::staff::DEFAULT_AGENT_CAPACITY))
    .bind(codec::micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
