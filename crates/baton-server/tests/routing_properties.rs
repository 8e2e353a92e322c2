//! Properties of routing through the real services over a real SQLite store, on random
//! sequences of escalations, presence and capacity changes, offers accepted, declined and
//! lapsing, conversations taken from the queue, transferred, handed back and resolved:
//!
//! - after every dispatch pass, no waiting handoff has an eligible agent with room (online,
//!   in its team, below capacity, not cooling down from it, not answering another offer
//!   where the team offers one at a time): every waiting handoff is offered again within a
//!   tick of an agent having room, and a cool-down of the configured length at most;
//! - a pass offers in queue order: no handoff an agent could take waits behind one offered
//!   to them;
//! - no handoff is held by two agents, no agent is given more than their capacity, and
//!   nobody answering a one-at-a-time team's offer is offered another;
//! - every handoff and its conversation agree (waiting, with a person, or neither).

mod common;

use std::collections::HashMap;

use baton_core::handoff::{Handoff, HandoffStatus};
use baton_core::routing::{Presence, QueueEntry};
use baton_core::{Agent, ConversationState, Staff};
use baton_server::handoffs;
use baton_store::{ConversationFilter, HandoffFilter};
use chrono::{DateTime, Duration, Utc};
use common::Desk;
use proptest::prelude::*;

/// Support offers one conversation at a time, billing as many as there is room for.
const POLICY: &str = "default_team = \"support\"
[[teams]]
name = \"support\"
wait_target_minutes = 3
[[teams]]
name = \"billing\"
offers = \"up_to_capacity\"
";

const AGENTS: usize = 4;

/// How long an agent who let a handoff go is not offered it again.
const COOLDOWN_MS: i64 = 45_000;

#[derive(Debug, Clone)]
enum Op {
    Escalate,
    Presence(usize, Presence),
    Capacity(usize, u32),
    Accept(usize),
    Decline(usize),
    Take(usize, usize),
    Transfer(usize, usize),
    Resolve(usize, usize),
    HandBack(usize, usize),
    Wait(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let agent = 0..AGENTS;
    prop_oneof![
        4 => Just(Op::Escalate),
        2 => (agent.clone(), prop_oneof![
            3 => Just(Presence::Online),
            1 => Just(Presence::Away),
            1 => Just(Presence::Offline),
        ]).prop_map(|(a, p)| Op::Presence(a, p)),
        1 => (agent.clone(), 1u32..4).prop_map(|(a, c)| Op::Capacity(a, c)),
        3 => agent.clone().prop_map(Op::Accept),
        1 => agent.clone().prop_map(Op::Decline),
        2 => (agent.clone(), 0usize..6).prop_map(|(a, k)| Op::Take(a, k)),
        1 => (agent.clone(), 0usize..4).prop_map(|(a, k)| Op::Transfer(a, k)),
        2 => (agent.clone(), 0usize..4).prop_map(|(a, k)| Op::Resolve(a, k)),
        1 => (agent.clone(), 0usize..4).prop_map(|(a, k)| Op::HandBack(a, k)),
        4 => (1i64..90).prop_map(Op::Wait),
    ]
}

/// The teams of each agent: support, billing or both.
fn teams() -> impl Strategy<Value = Vec<Vec<&'static str>>> {
    prop::collection::vec(
        prop::sample::select(vec![
            vec!["support"],
            vec!["billing"],
            vec!["support", "billing"],
        ]),
        AGENTS,
    )
}

async fn open_handoffs(desk: &Desk) -> Vec<Handoff> {
    desk.state
        .store
        .handoffs(&HandoffFilter::open())
        .await
        .unwrap()
}

async fn agents(desk: &Desk) -> Vec<Agent> {
    desk.state.store.agents().await.unwrap()
}

/// Whether `agent` could be offered `handoff` now: online, in its team, with room, not
/// cooling down from it, and not answering another offer where the team offers one at a
/// time.
fn eligible(agent: &Agent, handoff: &Handoff, now: DateTime<Utc>) -> bool {
    let team = handoff.team.as_deref().unwrap_or("support");
    let one_at_a_time = team == "support";
    !agent.disabled
        && agent.presence == Presence::Online
        && agent.teams.iter().any(|t| t == team)
        && agent.active < agent.capacity
        && !handoff.cooling_down(&agent.id, now)
        && !(one_at_a_time && agent.offered > 0)
}

/// The agent's own handoffs (offered or assigned), oldest first.
fn held<'a>(open: &'a [Handoff], agent: &str, status: HandoffStatus) -> Vec<&'a Handoff> {
    open.iter()
        .filter(|h| h.status == status && h.holder() == Some(agent))
        .collect()
}

/// What an agent may hold: their capacity, or what they held when their capacity was cut
/// below it (nothing is taken away from them), as they work it down.
#[derive(Default)]
struct Allowance(HashMap<String, u32>);

impl Allowance {
    fn check(&mut self, agents: &[Agent]) -> Result<(), TestCaseError> {
        for agent in agents {
            let allowed = self.0.entry(agent.id.clone()).or_insert(agent.capacity);
            prop_assert!(
                agent.active <= (*allowed).max(agent.capacity),
                "{} holds {} with capacity {}",
                agent.name,
                agent.active,
                agent.capacity
            );
            *allowed = agent.capacity.max(agent.active.min(*allowed));
        }
        Ok(())
    }
}

async fn check_after_pass(
    desk: &Desk,
    before: Option<(&[Handoff], &[Agent])>,
    offered: &[Handoff],
    allowance: &mut Allowance,
) -> Result<(), TestCaseError> {
    let now = desk.now();
    let open = open_handoffs(desk).await;
    let agents = agents(desk).await;
    allowance.check(&agents)?;
    for agent in &agents {
        let support_offers = held(&open, &agent.id, HandoffStatus::Offered)
            .into_iter()
            .filter(|h| h.team.as_deref() == Some("support"))
            .count();
        prop_assert!(
            support_offers <= 1,
            "{} answers {support_offers} one-at-a-time offers",
            agent.name
        );
    }
    // A cool-down ends: nobody is kept from a handoff for longer than configured.
    for handoff in &open {
        for cooldown in &handoff.declined {
            prop_assert!(
                cooldown.until <= now + Duration::milliseconds(COOLDOWN_MS),
                "{} keeps {} away until {}",
                handoff.id,
                cooldown.agent_id,
                cooldown.until
            );
        }
    }
    // Nothing waits while someone could take it.
    for handoff in open.iter().filter(|h| h.status == HandoffStatus::Queued) {
        for agent in &agents {
            prop_assert!(
                !eligible(agent, handoff, now),
                "{} waits while {} could take it",
                handoff.id,
                agent.name
            );
        }
    }
    // Offers in queue order: nothing an agent could take was left behind one made to them.
    if let Some((queue_before, agents_before)) = before {
        let offered_ids: Vec<&str> = offered.iter().map(|h| h.id.as_str()).collect();
        for offer in offered {
            let agent_id = &offer.offer.as_ref().unwrap().agent_id;
            let agent = agents_before.iter().find(|a| &a.id == agent_id).unwrap();
            let entry = queue_before
                .iter()
                .find(|h| h.id == offer.id)
                .map(|h| QueueEntry::of(h, now));
            let Some(entry) = entry else { continue };
            for earlier in queue_before
                .iter()
                .filter(|h| h.status == HandoffStatus::Queued)
            {
                if QueueEntry::of(earlier, now) < entry && eligible(agent, earlier, now) {
                    prop_assert!(
                        offered_ids.contains(&earlier.id.as_str()),
                        "{} was offered to {} while the earlier {} waited",
                        offer.id,
                        agent.name,
                        earlier.id
                    );
                }
            }
        }
    }
    // Every handoff and its conversation agree.
    for handoff in &open {
        let expected = match handoff.status {
            HandoffStatus::Queued | HandoffStatus::Offered => ConversationState::WaitingHuman,
            _ => ConversationState::Human,
        };
        prop_assert_eq!(
            desk.conversation_state(&handoff.conversation_id).await,
            expected
        );
    }
    for state in [ConversationState::WaitingHuman, ConversationState::Human] {
        let conversations = desk
            .state
            .store
            .list_conversations(&ConversationFilter {
                state: Some(state),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        for conversation in conversations {
            prop_assert!(
                open.iter().any(|h| h.conversation_id == conversation.id),
                "{} is {state} without an open handoff",
                conversation.id
            );
        }
    }
    Ok(())
}

async fn run(teams: Vec<Vec<&'static str>>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let desk = Desk::new(POLICY, |c| {
        c.handoff.decline_cooldown_ms = COOLDOWN_MS as u64;
        c.handoff.missed_offers_before_away = 3;
    })
    .await;
    let state = &desk.state;
    let mut staff: Vec<Staff> = Vec::new();
    for (i, teams) in teams.iter().enumerate() {
        staff.push(desk.agent(&format!("Agent {i}"), teams, 2).await);
    }
    let mut allowance = Allowance::default();
    for op in ops {
        let now = desk.now();
        let open = open_handoffs(&desk).await;
        let mine = |a: usize, status| -> Vec<Handoff> {
            held(&open, &staff[a].id, status)
                .into_iter()
                .cloned()
                .collect()
        };
        // Refusals are part of the game (a take of someone else's offer, at capacity): the
        // properties are what must hold whatever the outcome.
        match &op {
            Op::Escalate => {
                desk.escalated().await;
            }
            Op::Presence(a, presence) => {
                handoffs::set_presence(state, &staff[*a], Some(*presence), now)
                    .await
                    .unwrap();
            }
            Op::Capacity(a, capacity) => {
                handoffs::set_capacity(state, &staff[*a], *capacity, now)
                    .await
                    .unwrap();
            }
            Op::Accept(a) => {
                if let Some(h) = mine(*a, HandoffStatus::Offered).first() {
                    handoffs::accept(state, &staff[*a], &h.id, now)
                        .await
                        .unwrap();
                }
            }
            Op::Decline(a) => {
                if let Some(h) = mine(*a, HandoffStatus::Offered).first() {
                    handoffs::decline(state, &staff[*a], &h.id, now)
                        .await
                        .unwrap();
                }
            }
            Op::Take(a, k) => {
                let queued: Vec<&Handoff> = open
                    .iter()
                    .filter(|h| h.status == HandoffStatus::Queued)
                    .collect();
                if let Some(h) = queued.get(*k) {
                    let _ = handoffs::take(state, &staff[*a], &h.id, now).await;
                }
            }
            Op::Transfer(a, k) => {
                if let Some(h) = mine(*a, HandoffStatus::Assigned).get(*k) {
                    let to = if h.team.as_deref() == Some("support") {
                        "billing"
                    } else {
                        "support"
                    };
                    handoffs::transfer(state, &staff[*a], &h.id, to, Some("yours".into()), now)
                        .await
                        .unwrap();
                }
            }
            Op::Resolve(a, k) => {
                if let Some(h) = mine(*a, HandoffStatus::Assigned).get(*k) {
                    handoffs::resolve(state, &staff[*a], &h.id, None, Vec::new(), now)
                        .await
                        .unwrap();
                }
            }
            Op::HandBack(a, k) => {
                if let Some(h) = mine(*a, HandoffStatus::Assigned).get(*k) {
                    handoffs::hand_back(state, &staff[*a], &h.id, None, now)
                        .await
                        .unwrap();
                }
            }
            Op::Wait(secs) => {
                let now = desk.advance(Duration::seconds(*secs));
                // Agents with the console open keep their heartbeat.
                for agent in agents(&desk).await {
                    if agent.presence != Presence::Offline {
                        state.store.touch_agent(&agent.id, None, now).await.unwrap();
                    }
                }
                handoffs::tick(state, now).await.unwrap();
                check_after_pass(&desk, None, &[], &mut allowance).await?;
                continue;
            }
        }
        // Every action asks for a pass, as the running server's kick does.
        let queue_before = open_handoffs(&desk).await;
        let agents_before = agents(&desk).await;
        let offered = handoffs::dispatch(state, desk.now()).await.unwrap();
        check_after_pass(
            &desk,
            Some((&queue_before, &agents_before)),
            &offered,
            &mut allowance,
        )
        .await?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_waiting_handoff_keeps_moving_in_order_within_capacity(
        teams in teams(),
        ops in prop::collection::vec(op(), 10..70),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(teams, ops))?;
    }
}
