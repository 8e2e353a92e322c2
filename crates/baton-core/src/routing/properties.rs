//! Properties of routing over arbitrary teams and queues: capacity is never exceeded, the
//! queue order is total and stable, and the choice is the best available agent.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::handoff::Priority;

fn base() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn presence() -> impl Strategy<Value = Presence> {
    prop_oneof![
        3 => Just(Presence::Online),
        1 => Just(Presence::Away),
        1 => Just(Presence::Offline),
    ]
}

fn priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(Priority::ALL.to_vec())
}

/// Up to eight agents in one or two of the teams `a` and `b`, some answering an offer.
fn agents() -> impl Strategy<Value = Vec<AgentAvailability>> {
    prop::collection::vec(
        (
            presence(),
            0u32..5,
            0u32..5,
            prop::option::of(0i64..240),
            prop::sample::subsequence(vec!["a", "b"], 1..=2),
            0u32..2,
        ),
        0..8,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(
                |(i, (presence, active, capacity, idle, teams, pending))| AgentAvailability {
                    id: format!("st{i}"),
                    name: format!("Agent {i}"),
                    teams: teams.into_iter().map(String::from).collect(),
                    presence,
                    active_conversations: active,
                    capacity,
                    idle_since: idle.map(|m| base() + Duration::minutes(m)),
                    offers_pending: pending.min(active),
                },
            )
            .collect()
    })
}

/// Up to ten queued handoffs with few distinct times, so ties are common, some with agents
/// cooling down from them.
fn queue() -> impl Strategy<Value = Vec<QueueEntry>> {
    prop::collection::vec(
        (
            priority(),
            0i64..4,
            prop::sample::select(vec!["a", "b"]),
            prop::collection::vec(0usize..8, 0..3),
        ),
        0..10,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (priority, minute, team, cooling))| QueueEntry {
                handoff_id: format!("h{i}"),
                team: team.into(),
                priority,
                enqueued_at: base() + Duration::minutes(minute),
                cooling_down: cooling.into_iter().map(|a| format!("st{a}")).collect(),
            })
            .collect()
    })
}

fn mode() -> impl Strategy<Value = OfferMode> {
    prop_oneof![Just(OfferMode::OneAtATime), Just(OfferMode::UpToCapacity)]
}

fn now() -> DateTime<Utc> {
    base() + Duration::hours(5)
}

proptest! {
    #[test]
    fn draining_never_exceeds_anyones_capacity(
        agents in agents(),
        queue in queue(),
        mode in mode(),
    ) {
        let plan = drain(&queue, &agents, |_| mode, now());
        for agent in &agents {
            let given = plan
                .assignments
                .iter()
                .filter(|a| a.choice.agent_id == agent.id)
                .count() as u32;
            if given > 0 {
                prop_assert_eq!(agent.presence, Presence::Online);
                prop_assert!(agent.active_conversations + given <= agent.capacity);
                if mode == OfferMode::OneAtATime {
                    prop_assert_eq!(agent.offers_pending + given, 1);
                }
            }
        }
        // Every entry is either placed or still waiting, exactly once.
        prop_assert_eq!(plan.assignments.len() + plan.waiting.len(), queue.len());
        for a in &plan.assignments {
            let agent = agents.iter().find(|x| x.id == a.choice.agent_id).unwrap();
            prop_assert!(agent.in_team(&a.team));
            let entry = queue.iter().find(|e| e.handoff_id == a.handoff_id).unwrap();
            prop_assert!(!entry.cooling_down.contains(&agent.id));
        }
    }

    #[test]
    fn no_handoff_an_agent_could_take_waits_behind_one_offered_to_them(
        agents in agents(),
        queue in queue(),
        mode in mode(),
    ) {
        let plan = drain(&queue, &agents, |_| mode, now());
        let entry = |id: &str| queue.iter().find(|e| e.handoff_id == id).unwrap();
        for offered in &plan.assignments {
            let agent = &offered.choice.agent_id;
            for waiting in &plan.waiting {
                let waiting = entry(&waiting.handoff_id);
                let member = agents.iter().any(|a| &a.id == agent && a.in_team(&waiting.team));
                if member && !waiting.cooling_down.contains(agent) {
                    prop_assert!(
                        entry(&offered.handoff_id) < waiting,
                        "{} was offered to {} while the earlier {} waited",
                        offered.handoff_id, agent, waiting.handoff_id
                    );
                }
            }
        }
    }

    #[test]
    fn the_choice_is_available_and_no_one_available_is_less_loaded(
        agents in agents(),
        exclude_mask in prop::collection::vec(any::<bool>(), 8),
    ) {
        let exclude: Vec<&str> = agents
            .iter()
            .zip(&exclude_mask)
            .filter(|(_, x)| **x)
            .map(|(a, _)| a.id.as_str())
            .collect();
        let available = |a: &&AgentAvailability| {
            a.in_team("a") && a.can_take_one_more() && !exclude.contains(&a.id.as_str())
        };
        match choose_agent("a", &agents, &exclude, false, now()) {
            Ok(choice) => {
                let chosen = agents.iter().find(|a| a.id == choice.agent_id).unwrap();
                prop_assert!(available(&chosen));
                for other in agents.iter().filter(available) {
                    let chosen_load = f64::from(chosen.active_conversations) / f64::from(chosen.capacity);
                    let other_load = f64::from(other.active_conversations) / f64::from(other.capacity);
                    prop_assert!(chosen_load <= other_load + 1e-12);
                }
                prop_assert!(choice.reason.starts_with(&chosen.name));
                // Every other member is accounted for.
                let members = agents.iter().filter(|a| a.in_team("a")).count();
                prop_assert_eq!(choice.passed_over.len() + 1, members);
            }
            Err(_) => prop_assert_eq!(agents.iter().filter(available).count(), 0),
        }
    }

    #[test]
    fn queue_order_is_total_and_does_not_depend_on_arrival(
        queue in queue(),
        seed in any::<u64>(),
    ) {
        // Total: for every pair exactly one of <, =, > holds, and = only for equal entries.
        for x in &queue {
            for y in &queue {
                let o = x.cmp(y);
                prop_assert_eq!(o, y.cmp(x).reverse());
                prop_assert_eq!(o == std::cmp::Ordering::Equal, x == y);
            }
        }
        // Stable: any arrival order sorts to the same queue.
        let mut sorted = queue.clone();
        sorted.sort();
        let mut shuffled = queue.clone();
        let n = shuffled.len();
        if n > 1 {
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
        }
        shuffled.sort();
        prop_assert_eq!(&sorted, &shuffled);
        // Priority never goes up along the queue; within a priority, waiting time never
        // goes down.
        for w in sorted.windows(2) {
            prop_assert!(w[0].priority >= w[1].priority);
            if w[0].priority == w[1].priority {
                prop_assert!(w[0].enqueued_at <= w[1].enqueued_at);
            }
        }
        // Positions within a team are 1..=n without gaps.
        for team in ["a", "b"] {
            let mut positions: Vec<usize> = queue
                .iter()
                .filter(|e| e.team == team)
                .filter_map(|e| queue_position(&queue, &e.handoff_id))
                .collect();
            positions.sort_unstable();
            let expected: Vec<usize> = (1..=positions.len()).collect();
            prop_assert_eq!(positions, expected);
        }
    }

    #[test]
    fn a_later_place_in_line_never_has_a_shorter_estimate(
        online in 0u32..5,
        spare in 0u32..5,
        active in 0u32..20,
        handle in prop::option::of(0u64..3600),
        position in 1usize..30,
    ) {
        let stats = TeamStats {
            agents_online: online,
            spare_capacity: spare,
            active_conversations: active,
            median_handle_time: handle.map(std::time::Duration::from_secs),
        };
        if let (Some(a), Some(b)) = (estimate_wait(position, &stats), estimate_wait(position + 1, &stats)) {
            prop_assert!(a <= b);
        }
        let message = crate::HandoverNotice {
            team: Some("Billing".into()),
            position: Some(position),
            estimate_secs: estimate_wait(position, &stats).map(|e| e.as_secs()),
            ..crate::HandoverNotice::new(crate::NoticeKind::InLine)
        }
        .text(now());
        prop_assert!(message.contains("in line for Billing"));
    }
}
