//! Agents' presence and capacity as routing sees them: going online or away, more or less
//! room, and an agent withdrawn (disabled) giving back what they held.

use baton_core::handoff::{HandoffChange, HandoffStatus};
use baton_core::{Agent, Staff, routing};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};

use super::{HandoffError, Result, names};
use crate::state::AppState;

/// Sets an agent's presence (and heartbeat; a presence the agent sets clears Baton's reason
/// for the last one). Coming online drains the queue to them; any change moves what waiting
/// customers are told.
pub async fn set_presence(
    state: &AppState,
    staff: &Staff,
    presence: Option<routing::Presence>,
    now: DateTime<Utc>,
) -> Result<Agent> {
    let before = state.store.agent(&staff.id).await?.map(|a| a.presence);
    let agent = state
        .store
        .touch_agent(&staff.id, presence, now)
        .await?
        .ok_or_else(|| HandoffError::NotFound("no such agent".into()))?;
    if presence.is_some_and(|p| Some(p) != before) {
        state.dispatcher.kick();
    }
    Ok(agent)
}

/// Sets how many conversations the agent takes at once (their teams stay); more room drains
/// the queue to them at once.
pub async fn set_capacity(
    state: &AppState,
    staff: &Staff,
    capacity: u32,
    now: DateTime<Utc>,
) -> Result<Agent> {
    let agent = state
        .store
        .agent(&staff.id)
        .await?
        .ok_or_else(|| HandoffError::NotFound("no such agent".into()))?;
    let agent = state
        .store
        .set_agent_profile(&staff.id, &agent.teams, capacity, now)
        .await?
        .ok_or_else(|| HandoffError::NotFound("no such agent".into()))?;
    state.dispatcher.kick();
    Ok(agent)
}

/// A disabled agent will not come back: they go offline, their offers go back to their
/// place in line and their conversations back to the queue at once (as after the offline
/// grace period), each with the customer told. Returns how many handoffs they gave up.
pub async fn withdraw_agent(state: &AppState, agent_id: &str, now: DateTime<Utc>) -> Result<usize> {
    state
        .store
        .touch_agent(agent_id, Some(routing::Presence::Offline), now)
        .await?;
    let held = state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Offered, HandoffStatus::Assigned],
            agent_id: Some(agent_id.to_string()),
            ..Default::default()
        })
        .await?;
    let reason = "the agent's account was disabled".to_string();
    let names = names(state, None);
    for handoff in &held {
        let change = if handoff.status == HandoffStatus::Assigned {
            HandoffChange::Release {
                reason: reason.clone(),
            }
        } else {
            HandoffChange::ExpireOffer {
                reason: reason.clone(),
                cooldown_until: None,
                away_after_missed: 0,
            }
        };
        // Refused: someone acted on it meanwhile, which is as good.
        if let Some(Err(refusal)) = state
            .store
            .change_handoff(&handoff.id, &change, &names, now)
            .await?
        {
            tracing::debug!(handoff = %handoff.id, %refusal, "withdrawal change refused");
        }
    }
    state.dispatcher.kick();
    Ok(held.len())
}
