//! The background task: on every tick the handoff timers the core finds due (offers not
//! accepted in time, silent agents, conversations of agents gone past the grace period,
//! handoffs past their team's wait target or waiting long enough to overflow), the AI's
//! quiet conversations closed, then a dispatch pass; and a dispatch pass whenever asked.

use std::sync::Arc;
use std::time::Duration;

use baton_core::handoff::timers::{self, AgentClock, TeamClock, TimerAction};
use baton_core::handoff::{BY_BATON, HandoffChange};
use baton_core::{ConversationState, EventBody, Role, routing};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};

use super::{Result, ms, names};
use crate::state::AppState;

/// Runs the timers due at `now`, then a dispatch pass. Returns what the timers did.
#[tracing::instrument(skip_all)]
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Vec<TimerAction>> {
    let open = state.store.handoffs(&HandoffFilter::open()).await?;
    let agents = state.store.agents().await?;
    let clocks: Vec<AgentClock> = agents
        .iter()
        .map(|a| AgentClock {
            id: a.id.clone(),
            presence: a.presence,
            presence_at: a.presence_at,
            last_seen_at: a.last_seen_at,
        })
        .collect();
    let active = state.policy.current();
    let config = &state.config.handoff;
    let default_target =
        (config.wait_target_ms > 0).then(|| Duration::from_millis(config.wait_target_ms));
    let actions = timers::due(
        &open,
        &clocks,
        |team| match team.and_then(|t| active.policy.team(t)) {
            Some(team) => TeamClock {
                overflow: team.overflow.clone(),
                wait_target: team.wait_target.or(default_target),
                open: team.is_open(now),
            },
            None => TeamClock {
                overflow: None,
                wait_target: default_target,
                open: true,
            },
        },
        &config.timers(),
        now,
    );
    let names = names(state, None);
    for action in &actions {
        let (handoff_id, change) = match action {
            TimerAction::GoOffline { agent_id, reason } => {
                state
                    .store
                    .touch_agent(agent_id, Some(routing::Presence::Offline), now)
                    .await?;
                tracing::info!(agent = %agent_id, %reason, "agent marked offline");
                continue;
            }
            TimerAction::ExpireOffer {
                handoff_id,
                reason,
                missed,
            } => (
                handoff_id,
                HandoffChange::ExpireOffer {
                    reason: reason.clone(),
                    cooldown_until: missed.then(|| now + ms(config.decline_cooldown_ms)),
                    away_after_missed: if *missed {
                        config.missed_offers_before_away
                    } else {
                        0
                    },
                },
            ),
            TimerAction::Release { handoff_id, reason } => (
                handoff_id,
                HandoffChange::Release {
                    reason: reason.clone(),
                },
            ),
            TimerAction::RaisePriority {
                handoff_id,
                to,
                reason,
            } => (
                handoff_id,
                HandoffChange::RaisePriority {
                    to: *to,
                    reason: reason.clone(),
                },
            ),
            TimerAction::Overflow {
                handoff_id,
                to_team,
                reason,
            } => (
                handoff_id,
                HandoffChange::Transfer {
                    team: Some(to_team.clone()),
                    priority: None,
                    by: BY_BATON.to_string(),
                    reason: reason.clone(),
                    note: None,
                },
            ),
        };
        match state
            .store
            .change_handoff(handoff_id, &change, &names, now)
            .await?
        {
            Some(Ok(changed)) => {
                if let Some(agent) = &changed.set_away {
                    tracing::info!(%agent, "agent set away after missing offers in a row");
                }
            }
            // The timers race with people; a refusal here is routine.
            Some(Err(refusal)) => {
                tracing::debug!(handoff = %handoff_id, %refusal, "timer change refused");
            }
            None => {}
        }
    }
    close_quiet_conversations(state, now).await?;
    super::dispatch(state, now).await?;
    Ok(actions)
}

/// Sentiment at or below which a customer's last turn counts as a negative reaction.
const NEGATIVE_REACTION: f64 = -0.05;

/// Closes conversations the AI owns that had no new event for `ai_quiet_resolve_ms`: as
/// resolved by the AI when the AI answered and the customer's last reaction was not
/// negative; otherwise closed, with the reason saying why it does not count as resolved.
/// Returns how many were closed.
pub async fn close_quiet_conversations(state: &AppState, now: DateTime<Utc>) -> Result<usize> {
    let quiet = state.config.handoff.ai_quiet_resolve_ms;
    if quiet == 0 {
        return Ok(0);
    }
    let idle = state
        .store
        .idle_conversations(ConversationState::Ai, now - ms(quiet), 100)
        .await?;
    let words = timers::words(Duration::from_millis(quiet));
    for conversation in &idle {
        let recent = state
            .store
            .events_after(
                &conversation.id,
                (conversation.last_seq - 60).max(0),
                60,
                None,
            )
            .await?;
        let answered = recent
            .iter()
            .any(|e| matches!(&e.body, EventBody::Message { role: Role::Ai, .. }));
        let last_ai = recent
            .iter()
            .rev()
            .find(|e| matches!(&e.body, EventBody::Message { role: Role::Ai, .. }))
            .map_or(0, |e| e.seq);
        let unhelpful = recent.iter().any(|e| {
            matches!(&e.body, EventBody::Feedback { message_seq, helpful: false } if *message_seq >= last_ai)
        });
        let last_sentiment = recent.iter().rev().find_map(|e| match &e.body {
            EventBody::Decision { signals, .. } => Some(signals.signals.sentiment),
            _ => None,
        });
        let negative = unhelpful || last_sentiment.is_some_and(|s| s <= NEGATIVE_REACTION);
        let (reason, outcome) = if !answered {
            (format!("closed: no message for {words}"), "closed")
        } else if negative {
            (
                format!(
                    "closed: no message for {words}; not resolved by the AI, the customer's last reaction was negative"
                ),
                "unresolved",
            )
        } else {
            (
                format!("resolved by the AI: no message for {words}"),
                "ai_resolved",
            )
        };
        match state
            .store
            .change_state(
                &conversation.id,
                ConversationState::Resolved,
                Some(&reason),
                now,
            )
            .await
        {
            Ok(_) => {
                metrics::counter!("baton_conversations_closed_total", "outcome" => outcome)
                    .increment(1);
            }
            // The customer wrote meanwhile and the state moved on: leave it.
            Err(baton_store::StoreError::InvalidTransition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(idle.len())
}

/// The background task: a dispatch pass when asked, timers on every tick, until shutdown.
pub async fn run(state: Arc<AppState>) {
    let period = Duration::from_millis(state.config.handoff.tick_ms);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    loop {
        let outcome = tokio::select! {
            _ = ticker.tick() => tick(&state, state.now()).await.map(|_| ()),
            _ = state.dispatcher.woken() => super::dispatch(&state, state.now()).await.map(|_| ()),
            _ = shutdown.changed() => return,
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, "handoff routing pass failed");
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
