//! Handoffs and agent profiles on SQLite.
//!
//! Every write is a command of the single writer, which holds SQLite's write lock for the
//! whole batch: a handoff change reads the handoff, the agent and their other handoffs and
//! writes the result with nothing able to slip in between, so no lock of its own is needed.
//! A refused change, like a failed check, returns before anything is written.

use async_trait::async_trait;
use baton_core::handoff::{AgentSlot, Handoff, HandoffChange};
use baton_core::{Agent, Brief, ConversationState, Event, EventBody, NewEvent};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteExecutor, SqlitePool};

use super::writer::Command;
use crate::codec::{self, AgentRow, EventRecord, HandoffRecord, SlotRow};
use crate::{Changed, EventNotice, HandoffFilter, HandoffResult, Result, StoreError};

/// Staff joined with their profile and the count of handoffs they hold, then `$tail`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.name, s.role, s.disabled, s.created_at,
                a.teams, a.capacity, a.presence, a.presence_at, a.last_seen_at,
                a.last_assigned_at,
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status IN ('offered', 'assigned'))
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
/// changes.
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

/// Stores a new handoff and its brief.
pub(super) struct CreateHandoff {
    pub handoff: Handoff,
    pub record: HandoffRecord,
    pub brief_json: String,
    /// Why the conversation moves to `waiting_human`.
    pub state_reason: String,
    pub at: DateTime<Utc>,
    /// The handoff's `queued` event.
    pub queued: EventRecord,
}

#[async_trait]
impl Command for CreateHandoff {
    type Output = Vec<Event>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<Event>> {
        let r = &self.record;
        // Checked first, so that these failures write nothing and fail only this caller.
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM conversations WHERE id = ?")
                .bind(&r.conversation_id)
                .fetch_optional(&mut *conn)
                .await?;
        let Some(state) = state else {
            return Err(StoreError::ConversationNotFound(r.conversation_id.clone()));
        };
        let state_change = codec::state_change(
            &state,
            ConversationState::WaitingHuman,
            Some(self.state_reason.clone()),
            self.at,
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
        .bind(&self.brief_json)
        .execute(&mut *conn)
        .await?;
        let mut events = Vec::with_capacity(2);
        if let Some(change) = state_change {
            let seq = super::move_to(
                conn,
                &r.conversation_id,
                ConversationState::WaitingHuman,
                self.at,
            )
            .await?;
            super::insert_event(conn, &r.conversation_id, seq, &change).await?;
            events.push(change.into_event(seq));
        }
        events.push(super::append_one(conn, &r.conversation_id, self.queued.clone()).await?);
        Ok(events)
    }

    fn notices(&self, events: &Vec<Event>) -> Vec<EventNotice> {
        events
            .iter()
            .map(|event| {
                let mut notice = super::notice_of(&self.record.conversation_id, event);
                if matches!(event.body, EventBody::Handoff { .. }) {
                    notice.handoff = Some(self.handoff.clone());
                }
                notice
            })
            .collect()
    }
}

/// Applies a [`HandoffChange`]: reads, decides ([`Handoff::apply`]), writes back and records
/// the change on the conversation's timeline.
pub(super) struct ChangeHandoff {
    pub id: String,
    pub change: HandoffChange,
    pub step: String,
    pub reason: String,
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
        let record = HandoffRecord::new(&next)?;
        let step = EventRecord::new(NewEvent {
            at: self.now,
            body: next.step_event(&self.step, &self.reason),
        })?;

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
        let event = super::append_one(conn, &next.conversation_id, step).await?;
        Ok(Some(Ok(Changed {
            handoff: next,
            event,
        })))
    }

    fn notices(&self, output: &Option<HandoffResult>) -> Vec<EventNotice> {
        match output {
            Some(Ok(changed)) => {
                let mut notice = super::notice_of(&changed.handoff.conversation_id, &changed.event);
                notice.handoff = Some(changed.handoff.clone());
                vec![notice]
            }
            _ => Vec::new(),
        }
    }
}

/// The agent a change takes the capacity of, with their other open handoffs counted; `None`
/// when there is no such member of staff.
async fn agent_slot(
    conn: &mut SqliteConnection,
    agent_id: &str,
    handoff_id: &str,
) -> Result<Option<AgentSlot>> {
    let row: Option<SlotRow> = sqlx::query_as(
        "SELECT s.id, s.disabled, a.capacity, a.presence,
            (SELECT COUNT(*) FROM handoffs h
             WHERE h.holder = s.id AND h.status IN ('offered', 'assigned') AND h.id <> ?2)
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
