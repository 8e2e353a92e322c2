//! Handoffs and agent profiles on PostgreSQL.
//!
//! A handoff change is one transaction that locks the handoff's row, then, when the change
//! takes an agent's capacity, the agent's `staff` row, and only then counts the agent's
//! other handoffs: changes from every process sharing the database queue up on those locks,
//! always taken in that order, so one handoff never goes to two agents nor an agent past
//! their capacity. Offers skip a handoff another transaction holds instead of waiting.

use baton_core::handoff::{AgentSlot, Handoff, HandoffChange, Refusal};
use baton_core::{Agent, Brief, ConversationState, Event, NewEvent};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::postgres::{PgConnection, PgExecutor, PgPool, Postgres};

use crate::codec::{self, AgentRow, EventRecord, HandoffRecord, SlotRow};
use crate::{Changed, HandoffFilter, HandoffResult, Result, StoreError};

/// Staff joined with their profile and the count of handoffs they hold, then `$tail`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.name, s.role, s.disabled, s.created_at,
                a.teams::text, a.capacity::bigint, a.presence, a.presence_at,
                a.last_seen_at, a.last_assigned_at,
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status IN ('offered', 'assigned'))
             FROM staff s LEFT JOIN agents a ON a.staff_id = s.id",
            $tail
        )
    };
}

/// The constraint that keeps one open handoff per conversation.
const OPEN_HANDOFF_INDEX: &str = "handoffs_open_conversation";

// --- reads ---

pub(super) async fn agents(pool: &PgPool) -> Result<Vec<Agent>> {
    let rows: Vec<AgentRow> = sqlx::query_as(select_agents!(" ORDER BY s.created_at, s.id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(codec::agent).collect()
}

pub(super) async fn agent<'e>(executor: impl PgExecutor<'e>, id: &str) -> Result<Option<Agent>> {
    let row: Option<AgentRow> = sqlx::query_as(select_agents!(" WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.map(codec::agent).transpose()
}

pub(super) async fn handoff(pool: &PgPool, id: &str) -> Result<Option<Handoff>> {
    let body: Option<String> = sqlx::query_scalar("SELECT body::text FROM handoffs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    body.as_deref().map(codec::handoff).transpose()
}

pub(super) async fn brief(pool: &PgPool, id: &str) -> Result<Option<Brief>> {
    let brief: Option<String> =
        sqlx::query_scalar("SELECT brief::text FROM handoffs WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    brief.as_deref().map(codec::brief).transpose()
}

pub(super) async fn handoffs(pool: &PgPool, filter: &HandoffFilter) -> Result<Vec<Handoff>> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT body::text FROM handoffs");
    let mut clause = " WHERE ";
    let statuses = codec::status_names(&filter.statuses);
    if !statuses.is_empty() {
        query
            .push(clause)
            .push("status = ANY(")
            .push_bind(statuses)
            .push(")");
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
pub(super) async fn set_profile(
    pool: &PgPool,
    staff_id: &str,
    teams_json: &str,
    capacity: u32,
) -> Result<Option<Agent>> {
    sqlx::query(
        "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at)
         SELECT id, $2::jsonb, $3, 'offline', created_at, created_at FROM staff WHERE id = $1
         ON CONFLICT (staff_id) DO UPDATE SET
            teams = EXCLUDED.teams, capacity = EXCLUDED.capacity",
    )
    .bind(staff_id)
    .bind(teams_json)
    .bind(i64::from(capacity))
    .execute(pool)
    .await?;
    agent(pool, staff_id).await
}

/// A heartbeat, with a new presence when given: `presence_at` moves only when the presence
/// changes. One statement, so concurrent heartbeats never lose a presence change.
pub(super) async fn touch(
    pool: &PgPool,
    staff_id: &str,
    presence: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Agent>> {
    // Without a profile the agent was offline since their creation.
    sqlx::query(
        "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at)
         SELECT id, '[]'::jsonb, $2, COALESCE($3, 'offline'),
            CASE WHEN COALESCE($3, 'offline') = 'offline' THEN created_at ELSE $4 END, $4
         FROM staff WHERE id = $1
         ON CONFLICT (staff_id) DO UPDATE SET
            presence = COALESCE($3, agents.presence),
            presence_at = CASE WHEN COALESCE($3, agents.presence) = agents.presence
                THEN agents.presence_at ELSE $4 END,
            last_seen_at = $4",
    )
    .bind(staff_id)
    .bind(i64::from(baton_core::staff::DEFAULT_AGENT_CAPACITY))
    .bind(presence)
    .bind(codec::micros(now))
    .execute(pool)
    .await?;
    agent(pool, staff_id).await
}

// --- handoffs ---

/// Stores a new handoff and its brief; the unique index on open handoffs turns a second
/// open one for the conversation into a conflict, whichever process inserts it.
/// Stores a new handoff, moves its conversation to `waiting_human` and appends the
/// `state_changed` and `queued` events, in one transaction that locks the conversation first
/// (as appends do). Returns the events appended.
pub(super) async fn create(
    pool: &PgPool,
    record: &HandoffRecord,
    brief_json: &str,
    state_reason: &str,
    at: DateTime<Utc>,
    queued: EventRecord,
) -> Result<Vec<Event>> {
    let mut tx = pool.begin().await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(&record.conversation_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(state) = state else {
        return Err(StoreError::ConversationNotFound(
            record.conversation_id.clone(),
        ));
    };
    let state_change = codec::state_change(
        &state,
        ConversationState::WaitingHuman,
        Some(state_reason.to_string()),
        at,
    )?;
    sqlx::query(
        "INSERT INTO handoffs (id, conversation_id, status, priority, holder, created_at,
            updated_at, body, brief)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
    )
    .bind(&record.id)
    .bind(&record.conversation_id)
    .bind(record.status)
    .bind(record.priority)
    .bind(&record.holder)
    .bind(record.created_at)
    .bind(record.updated_at)
    .bind(&record.body_json)
    .bind(brief_json)
    .execute(&mut *tx)
    .await
    .map_err(|error| insert_error(error, &record.conversation_id))?;
    let mut events = Vec::with_capacity(2);
    if let Some(change) = state_change {
        let seq = super::move_to(
            &mut tx,
            &record.conversation_id,
            ConversationState::WaitingHuman,
            at,
        )
        .await?;
        super::insert_event(&mut tx, &record.conversation_id, seq, &change).await?;
        events.push(change.into_event(seq));
    }
    events.push(super::append_one(&mut tx, &record.conversation_id, queued).await?);
    tx.commit().await?;
    Ok(events)
}

fn insert_error(error: sqlx::Error, conversation_id: &str) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() && db.constraint() == Some(OPEN_HANDOFF_INDEX) => {
            codec::open_handoff_conflict(conversation_id)
        }
        Some(db) if db.is_foreign_key_violation() => {
            StoreError::ConversationNotFound(conversation_id.to_string())
        }
        _ => codec::database_error(error),
    }
}

/// Applies a [`HandoffChange`] in one transaction: locks, reads, decides
/// ([`Handoff::apply`]) and writes back.
pub(super) async fn change(
    pool: &PgPool,
    id: &str,
    change: &HandoffChange,
    (step, reason): (&str, &str),
    now: DateTime<Utc>,
) -> Result<Option<HandoffResult>> {
    let mut tx = pool.begin().await?;
    // After waiting for the lock, READ COMMITTED hands back the row as last committed.
    let sql = if matches!(change, HandoffChange::Offer { .. }) {
        "SELECT body::text FROM handoffs WHERE id = $1 FOR UPDATE SKIP LOCKED"
    } else {
        "SELECT body::text FROM handoffs WHERE id = $1 FOR UPDATE"
    };
    let body: Option<String> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(body) = body else {
        // An offer skipped the row, or there is none.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM handoffs WHERE id = $1)")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        return Ok(exists.then_some(Err(Refusal::Busy)));
    };
    let current = codec::handoff(&body)?;
    let slot = match change.takes_capacity_of() {
        Some(agent_id) => agent_slot(&mut tx, agent_id, id).await?,
        None => None,
    };
    let next = match current.apply(change, slot.as_ref(), now) {
        Ok(next) => next,
        Err(refusal) => {
            tx.rollback().await?;
            return Ok(Some(Err(refusal)));
        }
    };
    let record = HandoffRecord::new(&next)?;

    sqlx::query(
        "UPDATE handoffs SET status = $2, priority = $3, holder = $4, updated_at = $5,
            body = $6::jsonb
         WHERE id = $1",
    )
    .bind(id)
    .bind(record.status)
    .bind(record.priority)
    .bind(&record.holder)
    .bind(record.updated_at)
    .bind(&record.body_json)
    .execute(&mut *tx)
    .await?;
    if let Some(agent_id) = change.assigns() {
        mark_assigned(&mut tx, agent_id, now).await?;
    }
    let step = EventRecord::new(NewEvent {
        at: now,
        body: next.step_event(step, reason),
    })?;
    // The conversation's row is locked last, after the handoff's and the agent's.
    let event = super::append_one(&mut tx, &next.conversation_id, step).await?;
    tx.commit().await?;
    Ok(Some(Ok(Changed {
        handoff: next,
        event,
    })))
}

/// Locks the agent a change takes the capacity of, then counts their other open handoffs;
/// `None` when there is no such member of staff.
///
/// The lock is on the `staff` row, which exists whether or not the agent has a profile
/// (`NO KEY UPDATE`: it does not block inserts that only reference the row). The count is
/// a statement of its own: a statement's snapshot is taken when it starts, so counting in
/// the locking statement could miss what the previous holder of the lock committed while
/// this one waited.
async fn agent_slot(
    conn: &mut PgConnection,
    agent_id: &str,
    handoff_id: &str,
) -> Result<Option<AgentSlot>> {
    let locked: Option<(String, bool, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT s.id, s.disabled, a.capacity::bigint, a.presence
         FROM staff s LEFT JOIN agents a ON a.staff_id = s.id
         WHERE s.id = $1
         FOR NO KEY UPDATE OF s",
    )
    .bind(agent_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, disabled, capacity, presence)) = locked else {
        return Ok(None);
    };
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM handoffs
         WHERE holder = $1 AND status IN ('offered', 'assigned') AND id <> $2",
    )
    .bind(agent_id)
    .bind(handoff_id)
    .fetch_one(&mut *conn)
    .await?;
    let row: SlotRow = (id, disabled, capacity, presence, others);
    codec::agent_slot(row).map(Some)
}

/// Moves the agent's `last_assigned_at`, creating their profile with the defaults if needed
/// (a supervisor may reassign to an agent who never set one up).
async fn mark_assigned(conn: &mut PgConnection, agent_id: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO agents (staff_id, teams, capacity, presence, presence_at, last_seen_at,
            last_assigned_at)
         SELECT id, '[]'::jsonb, $2, 'offline', created_at, created_at, $3 FROM staff WHERE id = $1
         ON CONFLICT (staff_id) DO UPDATE SET last_assigned_at = EXCLUDED.last_assigned_at",
    )
    .bind(agent_id)
    .bind(i64::from(baton_core::staff::DEFAULT_AGENT_CAPACITY))
    .bind(codec::micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
