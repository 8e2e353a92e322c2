//! The handoff queue: waiting handoffs ordered by priority, then by how long they have
//! waited, and the plan for draining it when capacity frees up or an agent comes online.
//!
//! The plan is what a dispatch pass offers: the queue in order, each entry to the best agent
//! of its team who is free for it (online, with room, not cooling down from it and, where
//! the team offers one at a time, not answering another offer). So for any agent, the first
//! handoff offered is the highest-priority, longest-waiting one they may take.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agents::{ANY_TEAM, AgentAvailability, AgentChoice, NoAgent, OfferMode, choose_agent};
use crate::handoff::{Handoff, Priority};

/// A handoff waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueEntry {
    /// The handoff's id.
    pub handoff_id: String,
    /// The team it waits for.
    pub team: String,
    pub priority: Priority,
    pub enqueued_at: DateTime<Utc>,
    /// Agents cooling down from this handoff (they let its offer go a moment ago).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cooling_down: Vec<String>,
}

impl QueueEntry {
    /// A queued handoff's entry at `now` ([`ANY_TEAM`] when it has no team).
    pub fn of(handoff: &Handoff, now: DateTime<Utc>) -> QueueEntry {
        QueueEntry {
            handoff_id: handoff.id.clone(),
            team: handoff.team.clone().unwrap_or_else(|| ANY_TEAM.to_string()),
            priority: handoff.priority,
            enqueued_at: handoff.created_at,
            cooling_down: handoff
                .cooling_agents(now)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }
}

impl Ord for QueueEntry {
    /// Queue order: higher priority first, then the longest waiting, then by id (so two
    /// handoffs enqueued in the same instant still have one order). The team is the last
    /// tie-break only to keep the order total.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .cmp(&self.priority)
            .then_with(|| self.enqueued_at.cmp(&other.enqueued_at))
            .then_with(|| self.handoff_id.cmp(&other.handoff_id))
            .then_with(|| self.team.cmp(&other.team))
    }
}

impl PartialOrd for QueueEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The position (from 1) of `handoff_id` among the entries waiting for the same team, in
/// queue order; `None` when it is not queued.
pub fn queue_position(entries: &[QueueEntry], handoff_id: &str) -> Option<usize> {
    let entry = entries.iter().find(|e| e.handoff_id == handoff_id)?;
    let ahead = entries
        .iter()
        .filter(|e| e.team == entry.team && *e < entry)
        .count();
    Some(ahead + 1)
}

/// A queued handoff matched with an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub handoff_id: String,
    pub team: String,
    pub choice: AgentChoice,
}

/// A queued handoff that stays in the queue, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StillWaiting {
    pub handoff_id: String,
    pub why: NoAgent,
}

/// What draining the queue does: who gets which handoff, and who keeps waiting.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct DrainPlan {
    /// Offers to make, in queue order.
    pub assignments: Vec<Assignment>,
    /// Handoffs left in the queue, in queue order.
    pub waiting: Vec<StillWaiting>,
}

/// Drains the queue as far as the agents' room allows: in queue order, each entry gets
/// [`choose_agent`] among its team, skipping agents cooling down from it and, where `mode`
/// says the team offers one at a time, agents answering another offer; each offer counts
/// against the chosen agent's capacity (and makes them the most recently assigned) before the
/// next entry is placed. Run it whenever capacity frees up or an agent comes online. Pure: the
/// caller applies the plan.
pub fn drain(
    entries: &[QueueEntry],
    agents: &[AgentAvailability],
    mode: impl Fn(&str) -> OfferMode,
    now: DateTime<Utc>,
) -> DrainPlan {
    let mut ordered: Vec<&QueueEntry> = entries.iter().collect();
    ordered.sort();
    let mut agents: Vec<AgentAvailability> = agents.to_vec();
    let mut plan = DrainPlan::default();
    for entry in ordered {
        let exclude: Vec<&str> = entry.cooling_down.iter().map(String::as_str).collect();
        let one_at_a_time = mode(&entry.team) == OfferMode::OneAtATime;
        match choose_agent(&entry.team, &agents, &exclude, one_at_a_time, now) {
            Ok(choice) => {
                if let Some(agent) = agents.iter_mut().find(|a| a.id == choice.agent_id) {
                    agent.active_conversations += 1;
                    agent.offers_pending += 1;
                    agent.idle_since = Some(now);
                }
                plan.assignments.push(Assignment {
                    handoff_id: entry.handoff_id.clone(),
                    team: entry.team.clone(),
                    choice,
                });
            }
            Err(why) => plan.waiting.push(StillWaiting {
                handoff_id: entry.handoff_id.clone(),
                why,
            }),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::agents::Presence;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn entry(id: &str, team: &str, priority: Priority, at: &str) -> QueueEntry {
        QueueEntry {
            handoff_id: id.into(),
            team: team.into(),
            priority,
            enqueued_at: t(at),
            cooling_down: Vec::new(),
        }
    }

    fn online(id: &str, team: &str, active: u32, capacity: u32) -> AgentAvailability {
        AgentAvailability {
            id: id.into(),
            name: id.into(),
            teams: vec![team.into()],
            presence: Presence::Online,
            active_conversations: active,
            capacity,
            idle_since: None,
            offers_pending: 0,
        }
    }

    fn several(_: &str) -> OfferMode {
        OfferMode::UpToCapacity
    }

    #[test]
    fn one_offer_at_a_time_gives_each_agent_the_oldest_first_and_no_more() {
        let queue = vec![
            entry("h1", "billing", Priority::Normal, "2026-03-02T10:00:00Z"),
            entry("h2", "billing", Priority::Normal, "2026-03-02T09:50:00Z"),
            entry("h3", "billing", Priority::Normal, "2026-03-02T10:05:00Z"),
        ];
        let agents = vec![online("dana", "billing", 0, 4)];
        let plan = drain(
            &queue,
            &agents,
            |_| OfferMode::OneAtATime,
            t("2026-03-02T10:10:00Z"),
        );
        let placed: Vec<&str> = plan
            .assignments
            .iter()
            .map(|a| a.handoff_id.as_str())
            .collect();
        assert_eq!(placed, vec!["h2"]);
        assert!(matches!(
            plan.waiting[0].why,
            NoAgent::AllBusy { answering: 1, .. }
        ));
        // Several at once: all three, oldest first.
        let plan = drain(&queue, &agents, several, t("2026-03-02T10:10:00Z"));
        let placed: Vec<&str> = plan
            .assignments
            .iter()
            .map(|a| a.handoff_id.as_str())
            .collect();
        assert_eq!(placed, vec!["h2", "h1", "h3"]);
    }

    #[test]
    fn urgent_goes_first_then_the_longest_waiting() {
        let mut queue = vec![
            entry("h1", "billing", Priority::Normal, "2026-03-02T10:00:00Z"),
            entry("h2", "billing", Priority::Urgent, "2026-03-02T10:05:00Z"),
            entry("h3", "billing", Priority::Normal, "2026-03-02T09:55:00Z"),
            entry("h4", "security", Priority::Low, "2026-03-02T09:00:00Z"),
        ];
        queue.sort();
        let ids: Vec<&str> = queue.iter().map(|e| e.handoff_id.as_str()).collect();
        assert_eq!(ids, vec!["h2", "h3", "h1", "h4"]);
        // Positions count within the team.
        assert_eq!(queue_position(&queue, "h2"), Some(1));
        assert_eq!(queue_position(&queue, "h1"), Some(3));
        assert_eq!(queue_position(&queue, "h4"), Some(1));
        assert_eq!(queue_position(&queue, "h9"), None);
    }

    #[test]
    fn draining_fills_spare_capacity_in_queue_order() {
        let queue = vec![
            entry("h1", "billing", Priority::Normal, "2026-03-02T10:00:00Z"),
            entry("h2", "billing", Priority::High, "2026-03-02T10:05:00Z"),
            entry("h3", "billing", Priority::Normal, "2026-03-02T10:06:00Z"),
        ];
        // Dana has one slot, Sam one: h2 then h1 are placed, h3 waits.
        let agents = vec![
            online("dana", "billing", 2, 3),
            online("sam", "billing", 0, 1),
        ];
        let plan = drain(&queue, &agents, several, t("2026-03-02T10:10:00Z"));
        let placed: Vec<(&str, &str)> = plan
            .assignments
            .iter()
            .map(|a| (a.handoff_id.as_str(), a.choice.agent_id.as_str()))
            .collect();
        assert_eq!(placed, vec![("h2", "sam"), ("h1", "dana")]);
        assert_eq!(plan.waiting.len(), 1);
        assert_eq!(plan.waiting[0].handoff_id, "h3");
        assert!(matches!(
            plan.waiting[0].why,
            NoAgent::AllBusy { at_capacity: 2, .. }
        ));
    }

    #[test]
    fn an_agent_coming_online_drains_the_queue() {
        let queue = vec![entry(
            "h1",
            "billing",
            Priority::Normal,
            "2026-03-02T10:00:00Z",
        )];
        let mut agents = vec![online("dana", "billing", 0, 2)];
        agents[0].presence = Presence::Offline;
        let now = t("2026-03-02T10:10:00Z");
        assert!(drain(&queue, &agents, several, now).assignments.is_empty());
        agents[0].presence = Presence::Online;
        let plan = drain(&queue, &agents, several, now);
        assert_eq!(plan.assignments[0].choice.agent_id, "dana");
    }

    #[test]
    fn a_declined_handoff_is_offered_to_someone_else() {
        let agents = vec![
            online("dana", "billing", 0, 2),
            online("sam", "billing", 1, 2),
        ];
        let queue = vec![QueueEntry {
            cooling_down: vec!["dana".into()],
            ..entry("h1", "billing", Priority::Normal, "2026-03-02T10:00:00Z")
        }];
        let plan = drain(&queue, &agents, several, t("2026-03-02T10:10:00Z"));
        assert_eq!(plan.assignments[0].choice.agent_id, "sam");
    }
}
