//! A dispatch pass: offer queued handoffs to agents in queue order, then tell every waiting
//! customer whose standing changed where they stand now.
//!
//! The plan is the core's ([`routing::drain`]): priority, then longest waiting; each handoff
//! to the best agent of its team who is free for it (online, with room, not cooling down
//! from it, and — where the team offers one at a time — not answering another offer). Each
//! offer is then made under lock by the store, which refuses what changed meanwhile; the next
//! pass (on the next kick or tick) plans afresh.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use baton_core::Agent;
use baton_core::handoff::{Handoff, HandoffChange, HandoffStatus, HandoverNotice, NoticeKind};
use baton_core::policy::Policy;
use baton_core::routing::{self, AgentAvailability, OfferMode, QueueEntry, TeamOutlook};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};

use super::{Result, Told, lock, ms, names};
use crate::state::AppState;

/// How long the recently closed handoffs behind wait estimates are reused.
pub(super) const HANDLE_TIMES_TTL_SECS: i64 = 60;
/// How many recently closed handoffs are read for them (every team's).
const HANDLE_TIMES_READ: u32 = 500;

/// Recently closed handoffs, most recent first, for [`routing::median_handle_time`]; empty
/// when they cannot be read (estimates then fall back to the configured handle time rather
/// than fail the handoff).
pub(super) async fn recent_closed(state: &AppState, now: DateTime<Utc>) -> Arc<Vec<Handoff>> {
    if let Some((at, list)) = lock(&state.dispatcher.recent_closed).as_ref()
        && (now - *at).num_seconds() < HANDLE_TIMES_TTL_SECS
    {
        return Arc::clone(list);
    }
    let list = match state
        .store
        .handoffs(&HandoffFilter {
            statuses: vec![HandoffStatus::Closed],
            recent_first: true,
            limit: HANDLE_TIMES_READ,
            ..Default::default()
        })
        .await
    {
        Ok(list) => Arc::new(list),
        Err(error) => {
            tracing::warn!(%error, "cannot read recent handoffs for wait estimates");
            Arc::new(Vec::new())
        }
    };
    *lock(&state.dispatcher.recent_closed) = Some((now, Arc::clone(&list)));
    list
}

/// The agents as routing sees them.
pub(super) fn availability(agents: &[Agent]) -> Vec<AgentAvailability> {
    agents.iter().map(Agent::availability).collect()
}

/// What a waiting customer's standing depends on, for `team` (`None`: handoffs without one).
pub(super) fn outlook(
    state: &AppState,
    policy: &Policy,
    closed: &[Handoff],
    team: Option<&str>,
    now: DateTime<Utc>,
) -> TeamOutlook {
    let declared = team.and_then(|t| policy.team(t));
    let open = declared.is_none_or(|t| t.is_open(now));
    let config = &state.config.handoff;
    TeamOutlook {
        display: declared
            .map(|t| t.display_name.clone())
            .or_else(|| team.map(str::to_string)),
        open,
        back_at: if open {
            None
        } else {
            declared.and_then(|t| t.next_open(now))
        },
        handle_time: routing::median_handle_time(closed, team)
            .or((config.typical_handle_ms > 0)
                .then(|| Duration::from_millis(config.typical_handle_ms))),
        max_wait: (config.max_wait_ms > 0).then(|| Duration::from_millis(config.max_wait_ms)),
    }
}

/// How a team's handoffs are offered (the policy's setting; one at a time for handoffs
/// without a team).
fn offer_mode(policy: &Policy, team: &str) -> OfferMode {
    policy.team(team).map(|t| t.offers).unwrap_or_default()
}

/// One dispatch pass: offers every queued handoff it can, in queue order, to the agent
/// routing chooses; then tells waiting customers whose standing changed. Returns the
/// handoffs offered.
#[tracing::instrument(skip_all)]
pub async fn dispatch(state: &AppState, now: DateTime<Utc>) -> Result<Vec<Handoff>> {
    let _pass = state.dispatcher.pass.lock().await;
    // A customer told their standing after this moment may be missing from the queue read
    // below: their entry stays.
    let started = std::time::Instant::now();
    let line = HandoffFilter::waiting();
    let (mut waiting, mut agents) =
        tokio::try_join!(state.store.handoffs(&line), state.store.agents())?;
    if waiting.is_empty() {
        lock(&state.dispatcher.told).retain(|_, told| told.at > started);
        return Ok(Vec::new());
    }
    let active = state.policy.current();
    let policy = &active.policy;
    let entries: Vec<QueueEntry> = waiting
        .iter()
        .filter(|h| h.status == HandoffStatus::Queued)
        .map(|h| QueueEntry::of(h, now))
        .collect();
    let mut offered = Vec::new();
    if !entries.is_empty() {
        let plan = routing::drain(
            &entries,
            &availability(&agents),
            |team| offer_mode(policy, team),
            now,
        );
        let expires_at = now + ms(state.config.handoff.offer_timeout_ms);
        let names = names(state, None);
        for assignment in &plan.assignments {
            let change = HandoffChange::Offer {
                agent_id: assignment.choice.agent_id.clone(),
                expires_at,
                reason: assignment.choice.reason.clone(),
                one_at_a_time: offer_mode(policy, &assignment.team) == OfferMode::OneAtATime,
            };
            match state
                .store
                .change_handoff(&assignment.handoff_id, &change, &names, now)
                .await?
            {
                Some(Ok(changed)) => {
                    metrics::counter!("baton_handoff_offers_total").increment(1);
                    // The agent's load as the offer left it, for the standings below.
                    if let Some(agent) = agents
                        .iter_mut()
                        .find(|a| a.id == assignment.choice.agent_id)
                    {
                        agent.active += 1;
                        agent.offered += 1;
                    }
                    offered.push(changed.handoff);
                }
                // Someone else changed it or the agent's load moved: the next pass plans
                // afresh.
                Some(Err(refusal)) => {
                    tracing::debug!(handoff = %assignment.handoff_id, %refusal, "offer refused");
                }
                None => {}
            }
        }
    }
    // The waiting line as the offers left it.
    for changed in &offered {
        if let Some(slot) = waiting.iter_mut().find(|h| h.id == changed.id) {
            *slot = changed.clone();
        }
    }
    let closed = recent_closed(state, now).await;
    tell_standings(state, policy, &waiting, &agents, &closed, started, now);
    Ok(offered)
}

/// Tells each waiting customer whose standing changed since they were last told (their
/// place, the estimate as they would read it, an agent being offered their conversation,
/// the team closing or opening) where they stand now, as a transient notice on their
/// stream; and forgets customers who no longer wait.
fn tell_standings(
    state: &AppState,
    policy: &Policy,
    waiting: &[Handoff],
    agents: &[Agent],
    closed: &[Handoff],
    started: std::time::Instant,
    now: DateTime<Utc>,
) {
    let line: Vec<&Handoff> = waiting.iter().collect();
    let standings = routing::standings(
        &line,
        &availability(agents),
        |team| outlook(state, policy, closed, team, now),
        now,
    );
    let mut told = lock(&state.dispatcher.told);
    let mut still_waiting = HashSet::new();
    for (handoff_id, notice) in standings {
        let Some(handoff) = waiting.iter().find(|h| h.id == handoff_id) else {
            continue;
        };
        still_waiting.insert(handoff.conversation_id.clone());
        let changed = told
            .get(&handoff.conversation_id)
            .is_none_or(|before| !reads_the_same(&before.notice, &notice));
        if !changed {
            continue;
        }
        let text = notice.text(now);
        told.insert(
            handoff.conversation_id.clone(),
            Told {
                notice: notice.clone(),
                at: std::time::Instant::now(),
            },
        );
        state.notices.publish(
            &handoff.conversation_id,
            crate::notices::Notice::Queue { notice, text },
        );
    }
    told.retain(|id, t| still_waiting.contains(id) || t.at > started);
}

/// Whether the customer would read two standings the same way: same kind, team, place and
/// return time, and estimates that round to the same minute.
fn reads_the_same(a: &HandoverNotice, b: &HandoverNotice) -> bool {
    let minutes = |n: &HandoverNotice| n.estimate_secs.map(|s| (s + 30) / 60);
    a.kind == b.kind
        && a.team == b.team
        && a.back_at == b.back_at
        && (a.kind != NoticeKind::InLine || (a.position == b.position && minutes(a) == minutes(b)))
}
