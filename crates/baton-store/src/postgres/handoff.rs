//! Handoffs and agent profiles on PostgreSQL.
//!
//! A handoff change is one transaction that locks the handoff's row, then, when the change
//! takes an agent's capacity, the agent's `staff` row, and only then counts the agent's
//! other handoffs and offers: changes from every process sharing the database queue up on
//! those locks, always taken in that order, so one handoff never goes to two agents nor an
//! agent past their capacity (or a second pending offer, one at a time). The agent's
//! `agents` row (their counters) comes next and the conversation's row last, when the step
//! is written to its timeline. Offers skip a handoff another transaction holds instead of
//! waiting.

use std::collections::HashMap;

use baton_core::handoff::{AgentSlot, Handoff, HandoffChange, Names, Refusal};
use baton_core::routing::Presence;
use baton_core::{Agent, Brief, ConversationState, Event};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use sqlx::postgres::{PgConnection, PgExecutor, PgPool, Postgres};

use crate::codec::{self, AgentRow, SlotRow};
use crate::step::{self, Escalation, MissedOffers, StepWrite};
use crate::{Changed, HandoffFilter, HandoffResult, Result, StoreError};

/// Staff joined with their profile and the counts of handoffs they hold (offered or
/// assigned, and offered alone), then `$tail`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.name, s.role, s.disabled, s.created_at,
                a.teams::text, a.capacity::bigint, a.presence, a.presence_at,
                a.last_seen_at, a.last_assigned_at, a.missed_offers::bigint, a.presence_reason,
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status IN ('offered', 'assigned')),
                (SELECT COUNT(*) FROM handoffs h
                 WHERE h.holder = s.id AND h.status = 'offered')
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

/// The latest customer message of each conversation of `ids` that has one.
pub(super) async fn last_customer_messages(
    pool: &PgPool,
    ids: &[String],
) -> Result<HashMap<String, Event>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT conversation_id, seq, at, body::text FROM (
            SELECT conversation_id, seq, at, body,
                ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY seq DESC) AS latest
            FROM events
            WHERE conversation_id = ANY($1)
                AND type = 'message' AND body->>'role' = 'customer'
         ) latest_messages WHERE latest = 1",
    )
    .bind(ids)
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
/// changes, and a presence the agent sets clears Baton's reason for the last one and their
/// count of missed offers. One statement, so concurrent heartbeats never lose a presence
/// change.
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
            presence_reason = CASE WHEN $3 IS NULL THEN agents.presence_reason ELSE NULL END,
            missed_offers = CASE WHEN $3 IS NULL THEN agents.missed_offers ELSE 0 END,
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

/// Stores a new handoff, moves its conversation to `waiting_human` and appends the
/// `state_changed` event, the handoff's steps and the customer's message, in one
/// transaction that locks the conversation first (as appends do); the unique index on open
/// handoffs turns a second open one for the conversation into a conflict, whichever process
/// inserts it. Returns the events appended.
pub(super) async fn create(pool: &PgPool, escalation: &Escalation) -> Result<Vec<Event>> {
    let e = escalation;
    let record = &e.record;
    let mut tx = pool.begin().await?;
    let state = super::locked_state(&mut tx, &record.conversation_id).await?;
    let state_change = codec::state_change(
        &state,
        ConversationState::WaitingHuman,
        Some(e.state_reason.clone()),
        e.at,
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
    .bind(&e.brief_json)
    .execute(&mut *tx)
    .await
    .map_err(|error| insert_error(error, &record.conversation_id))?;
    let mut events = Vec::with_capacity(e.steps.len() + 3);
    if let Some(decision) = &e.decision {
        events.push(super::append_one(&mut tx, &record.conversation_id, decision.clone()).await?);
    }
    if let Some(change) = state_change {
        let seq = super::move_to(
            &mut tx,
            &record.conversation_id,
            ConversationState::WaitingHuman,
            e.at,
        )
        .await?;
        super::insert_event(&mut tx, &record.conversation_id, seq, &change).await?;
        events.push(change.into_event(seq));
    }
    for step in e.steps.iter().chain(&e.message) {
        events.push(super::append_one(&mut tx, &record.conversation_id, step.clone()).await?);
    }
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

/// Applies a [`HandoffChange`] as one step, in one transaction: locks, reads, decides
/// ([`Handoff::apply`]), and writes back the handoff, the agent's counters, the step on the
/// conversation's timeline, the conversation's new state and the customer's message.
pub(super) async fn change(
    pool: &PgPool,
    id: &str,
    change: &HandoffChange,
    names: &Names,
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
    let write = StepWrite::new(next, change, names, now)?;
    let conversation_id = write.handoff.conversation_id.as_str();

    let record = &write.record;
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
    let set_away = count_missed_offers(&mut tx, &write.missed_offers, now).await?;

    // The conversation's row is locked last, after the handoff's and the agent's. A move
    // the conversation cannot make fails here, and dropping the transaction rolls back
    // what was written above.
    let state_change = match &write.moves_to {
        Some((to, reason)) => {
            let state = super::locked_state(&mut tx, conversation_id).await?;
            codec::state_change(&state, *to, reason.clone(), now)?.map(|record| (*to, record))
        }
        None => None,
    };
    let mut events = Vec::with_capacity(3);
    events.push(super::append_one(&mut tx, conversation_id, write.step_event.clone()).await?);
    if let Some((to, change)) = state_change {
        let seq = super::move_to(&mut tx, conversation_id, to, now).await?;
        super::insert_event(&mut tx, conversation_id, seq, &change).await?;
        events.push(change.into_event(seq));
    }
    if let Some(message) = &write.message {
        events.push(super::append_one(&mut tx, conversation_id, message.clone()).await?);
    }
    tx.commit().await?;
    Ok(Some(Ok(Changed {
        handoff: write.handoff,
        events,
        set_away,
    })))
}

/// Counts a missed offer (setting the agent away at the step's limit) or starts the count
/// again; returns the agent set away, if any. An agent without a profile has no count. The
/// first update locks the agent's row, so the count and presence it returns are the latest.
async fn count_missed_offers(
    conn: &mut PgConnection,
    missed: &MissedOffers,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    match missed {
        MissedOffers::Unchanged => Ok(None),
        MissedOffers::Reset { agent_id } => {
            sqlx::query(
                "UPDATE agents SET missed_offers = 0 WHERE staff_id = $1 AND missed_offers <> 0",
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
                "UPDATE agents SET missed_offers = missed_offers + 1 WHERE staff_id = $1
                 RETURNING missed_offers::bigint, presence",
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
                "UPDATE agents SET presence = $2, presence_at = $3, presence_reason = $4
                 WHERE staff_id = $1",
            )
            .bind(agent_id)
            .bind(Presence::Away.as_str())
            .bind(codec::micros(now))
            .bind(reason)
            .execute(&mut *conn)
            .await?;
            Ok(Some(agent_id.clone()))
        }
    }
}

/// Locks the agent a change takes the capacity of, then counts their other open handoffs
/// and their other pending offers; `None` when there is no such member of staff.
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
    type Locked = (String, bool, Option<i64>, Option<String>, Option<String>);
    let locked: Option<Locked> = sqlx::query_as(
        "SELECT s.id, s.disabled, a.capacity::bigint, a.presence, a.teams::text
         FROM staff s LEFT JOIN agents a ON a.staff_id = s.id
         WHERE s.id = $1
         FOR NO KEY UPDATE OF s",
    )
    .bind(agent_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, disabled, capacity, presence, teams)) = locked else {
        return Ok(None);
    };
    let (others, offers_other): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'offered') FROM handoffs
         WHERE holder = $1 AND status IN ('offered', 'assigned') AND id <> $2",
    )
    .bind(agent_id)
    .bind(handoff_id)
    .fetch_one(&mut *conn)
    .await?;
    let row: SlotRow = (
        id,
        disabled,
        capacity,
        presence,
        teams,
        others,
        offers_other,
    );
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
