//! What agents and supervisors do with handoffs: accept or decline an offer, take a waiting
//! conversation from the queue, transfer, hand back, resolve, reassign; and, while they own
//! a conversation, reply, type and leave notes. Each handoff change is one step: one write
//! that also moves the conversation and tells the customer (see [`super`]).

use baton_core::handoff::{Handoff, HandoffChange, HandoffStatus, Names, Outcome};
use baton_core::{Event, EventBody, NewEvent, Role, Staff, StaffRole};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};

use super::{HandoffError, Result, ms, names};
use crate::state::AppState;

/// The handoff, or [`HandoffError::NotFound`].
pub async fn handoff_or_404(state: &AppState, id: &str) -> Result<Handoff> {
    state
        .store
        .handoff(id)
        .await?
        .ok_or_else(|| HandoffError::NotFound(format!("handoff {id} not found")))
}

/// Applies a change as one step; a refusal of the state machine is an error.
async fn step(
    state: &AppState,
    id: &str,
    change: HandoffChange,
    names: &Names,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    match state.store.change_handoff(id, &change, names, now).await? {
        Some(Ok(changed)) => Ok(changed.handoff),
        Some(Err(refusal)) => Err(refusal.into()),
        None => Err(HandoffError::NotFound(format!("handoff {id} not found"))),
    }
}

/// Whether `staff` may act on a handoff someone else holds: admins supervise.
fn supervises(staff: &Staff) -> bool {
    staff.role == StaffRole::Admin
}

/// Checks that `staff` owns the assigned handoff (or supervises).
fn check_owner(staff: &Staff, handoff: &Handoff) -> Result<()> {
    if handoff.status != HandoffStatus::Assigned {
        return Err(HandoffError::Refused(baton_core::Refusal::WrongStatus {
            status: handoff.status.as_str().to_string(),
            expected: HandoffStatus::Assigned.as_str().to_string(),
        }));
    }
    if handoff.agent_id.as_deref() == Some(staff.id.as_str()) || supervises(staff) {
        Ok(())
    } else {
        Err(HandoffError::Forbidden(
            "this conversation belongs to another agent".into(),
        ))
    }
}

/// Checks that `staff` owns the handoff, or supervises: a supervisor may also `act` on one
/// still waiting.
fn check_owner_or_supervisor(staff: &Staff, handoff: &Handoff, act: &str) -> Result<()> {
    if handoff.status == HandoffStatus::Assigned {
        check_owner(staff, handoff)
    } else if supervises(staff) {
        Ok(())
    } else {
        Err(HandoffError::Forbidden(format!(
            "only the agent who owns a conversation, or a supervisor, can {act} it"
        )))
    }
}

/// The agent takes the handoff offered to them: the conversation becomes theirs and the
/// customer sees who joined.
#[tracing::instrument(skip_all, fields(handoff_id = id, agent = %staff.id))]
pub async fn accept(
    state: &AppState,
    staff: &Staff,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let change = HandoffChange::Accept {
        agent_id: staff.id.clone(),
    };
    let handoff = step(state, id, change, &names(state, Some(&staff.name)), now).await?;
    record_wait(&handoff, now);
    // An agent answering one offer at a time can be offered the next.
    state.dispatcher.kick();
    Ok(handoff)
}

/// The agent takes a waiting conversation of their teams from the queue themselves (a
/// supervisor any team's), with the same capacity rule as offers.
#[tracing::instrument(skip_all, fields(handoff_id = id, agent = %staff.id))]
pub async fn take(
    state: &AppState,
    staff: &Staff,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let change = HandoffChange::Take {
        agent_id: staff.id.clone(),
        any_team: supervises(staff),
    };
    let handoff = step(state, id, change, &names(state, Some(&staff.name)), now).await?;
    record_wait(&handoff, now);
    metrics::counter!("baton_handoff_takes_total").increment(1);
    // The line moved for everyone behind it.
    state.dispatcher.kick();
    Ok(handoff)
}

fn record_wait(handoff: &Handoff, now: DateTime<Utc>) {
    metrics::histogram!("baton_handoff_wait_seconds")
        .record((now - handoff.created_at).num_milliseconds().max(0) as f64 / 1000.0);
}

/// The agent turns the offer down: it goes back to its place in line for the next agent, and
/// is not offered to them again for the cool-down.
#[tracing::instrument(skip_all, fields(handoff_id = id, agent = %staff.id))]
pub async fn decline(
    state: &AppState,
    staff: &Staff,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let change = HandoffChange::Decline {
        agent_id: staff.id.clone(),
        cooldown_until: now + ms(state.config.handoff.decline_cooldown_ms),
    };
    let handoff = step(state, id, change, &names(state, None), now).await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The open handoff of a conversation.
pub async fn open_handoff(state: &AppState, conversation_id: &str) -> Result<Option<Handoff>> {
    Ok(state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![
                HandoffStatus::Queued,
                HandoffStatus::Offered,
                HandoffStatus::Assigned,
            ],
            conversation_id: Some(conversation_id.to_string()),
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_iter()
        .next())
}

/// The agent who owns the conversation writes to the customer.
pub async fn reply(
    state: &AppState,
    staff: &Staff,
    conversation_id: &str,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event> {
    let handoff = open_handoff(state, conversation_id)
        .await?
        .ok_or_else(|| HandoffError::Conflict("no person owns this conversation".into()))?;
    check_owner(staff, &handoff)?;
    let event = state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::message(Role::Agent, text).with_author(staff.name.clone()),
            },
        )
        .await?
        .into_event();
    metrics::counter!("baton_messages_stored_total", "role" => "agent").increment(1);
    Ok(event)
}

/// The owner of the conversation is typing: the customer's stream shows it.
pub async fn typing(state: &AppState, staff: &Staff, conversation_id: &str) -> Result<()> {
    let handoff = open_handoff(state, conversation_id)
        .await?
        .ok_or_else(|| HandoffError::Conflict("no person owns this conversation".into()))?;
    check_owner(staff, &handoff)?;
    state.notices.publish(
        conversation_id,
        crate::notices::Notice::Typing {
            role: Role::Agent,
            name: Some(staff.name.clone()),
        },
    );
    Ok(())
}

/// An internal note on the conversation: staff only, never shown to the customer.
pub async fn note(
    state: &AppState,
    staff: &Staff,
    conversation_id: &str,
    text: String,
    now: DateTime<Utc>,
) -> Result<Event> {
    Ok(state
        .store
        .append_event(
            conversation_id,
            NewEvent {
                at: now,
                body: EventBody::Note {
                    text,
                    author: staff.id.clone(),
                },
            },
        )
        .await?
        .into_event())
}

/// Moves the handoff to another team's queue (a re-route), with the note for the next
/// person: the customer is told who comes in.
#[tracing::instrument(skip_all, fields(handoff_id = id, team))]
pub async fn transfer(
    state: &AppState,
    staff: &Staff,
    id: &str,
    team: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let current = handoff_or_404(state, id).await?;
    check_owner_or_supervisor(staff, &current, "transfer")?;
    let display = {
        let policy = state.policy.current();
        let target = policy.policy.team(team).ok_or_else(|| {
            HandoffError::Invalid(format!("team {team:?} is not declared in the policy"))
        })?;
        target.display_name.clone()
    };
    let note = note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let reason = match &note {
        Some(note) => format!("{} moved it to {display}: {note}", staff.name),
        None => format!("{} moved it to {display}", staff.name),
    };
    let change = HandoffChange::Transfer {
        team: Some(team.to_string()),
        priority: None,
        by: staff.id.clone(),
        reason,
        note,
    };
    let handoff = step(state, id, change, &names(state, None), now).await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The agent gives the conversation back to the AI.
#[tracing::instrument(skip_all, fields(handoff_id = id))]
pub async fn hand_back(
    state: &AppState,
    staff: &Staff,
    id: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let current = handoff_or_404(state, id).await?;
    check_owner(staff, &current)?;
    let change = HandoffChange::Close {
        outcome: Outcome::HandedBack,
        by: staff.id.clone(),
        note,
        tags: Vec::new(),
    };
    let handoff = step(state, id, change, &names(state, Some(&staff.name)), now).await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The agent resolves the conversation with a note and tags; the customer is asked to rate
/// it. A supervisor may also resolve one still waiting.
#[tracing::instrument(skip_all, fields(handoff_id = id))]
pub async fn resolve(
    state: &AppState,
    staff: &Staff,
    id: &str,
    note: Option<String>,
    tags: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let current = handoff_or_404(state, id).await?;
    check_owner_or_supervisor(staff, &current, "resolve")?;
    let change = HandoffChange::Close {
        outcome: Outcome::Resolved,
        by: staff.id.clone(),
        note,
        tags,
    };
    let handoff = step(state, id, change, &names(state, Some(&staff.name)), now).await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// A supervisor gives the handoff straight to an agent (their capacity still applies).
#[tracing::instrument(skip_all, fields(handoff_id = id, agent = agent_id))]
pub async fn reassign(
    state: &AppState,
    staff: &Staff,
    id: &str,
    agent_id: &str,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    if !supervises(staff) {
        return Err(HandoffError::Forbidden(
            "only a supervisor (admin) can reassign".into(),
        ));
    }
    let agent = state
        .store
        .agent(agent_id)
        .await?
        .ok_or_else(|| HandoffError::NotFound(format!("agent {agent_id} not found")))?;
    let change = HandoffChange::Reassign {
        agent_id: agent_id.to_string(),
        by: staff.id.clone(),
        reason: format!("{} gave it to {}", staff.name, agent.name),
    };
    let handoff = step(state, id, change, &names(state, Some(&agent.name)), now).await?;
    state.dispatcher.kick();
    Ok(handoff)
}

/// The customer rates the conversation after a person resolved it: the rating is kept on the
/// handoff and shown on the timeline in one write.
pub async fn rate(
    state: &AppState,
    conversation_id: &str,
    score: u8,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<Handoff> {
    let last = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Closed],
            conversation_id: Some(conversation_id.to_string()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|h| h.outcome == Some(Outcome::Resolved))
        .max_by_key(|h| h.closed_at)
        .ok_or_else(|| {
            HandoffError::Conflict("only a conversation a person resolved can be rated".into())
        })?;
    let change = HandoffChange::Rate { score, comment };
    let handoff = step(state, &last.id, change, &names(state, None), now).await?;
    metrics::histogram!("baton_csat_score").record(f64::from(score));
    Ok(handoff)
}
