//! Choosing the agent for a handoff within a team: online members with spare capacity,
//! least loaded first, then longest idle. The choice says why, in words an operator reads
//! in the console ("Dana: online, 1 of 3 conversations, idle 12 min"), and so does the
//! absence of one ("everyone in Billing is offline").

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The team name routing uses for a handoff without a team (the policy declares none):
/// every agent is in it.
pub const ANY_TEAM: &str = "*";

/// How a team's handoffs are offered: one offer at a time per agent (what most consoles
/// do, and the default), or as many at once as the agent has room for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferMode {
    #[default]
    OneAtATime,
    UpToCapacity,
}

impl OfferMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferMode::OneAtATime => "one_at_a_time",
            OfferMode::UpToCapacity => "up_to_capacity",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [OfferMode::OneAtATime, OfferMode::UpToCapacity]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Whether an agent can take conversations right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// At the console and taking conversations.
    Online,
    /// At the console but not taking new conversations.
    Away,
    /// Not at the console.
    Offline,
}

impl Presence {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
}

/// An agent as routing sees them at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentAvailability {
    /// The staff id.
    pub id: String,
    /// The name shown in reasons ("Dana").
    pub name: String,
    /// The teams the agent belongs to.
    pub teams: Vec<String>,
    pub presence: Presence,
    /// Conversations the agent is handling now.
    pub active_conversations: u32,
    /// How many conversations the agent handles at once.
    pub capacity: u32,
    /// Since when the agent has had no new conversation: their last assignment, or when
    /// they came online if later. `None` when they have not had one yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_since: Option<DateTime<Utc>>,
    /// Offers waiting for the agent's answer now (part of `active_conversations`).
    #[serde(default)]
    pub offers_pending: u32,
}

impl AgentAvailability {
    /// Conversations the agent can still take.
    pub fn spare_capacity(&self) -> u32 {
        self.capacity.saturating_sub(self.active_conversations)
    }

    /// Whether the agent is in `team` ([`ANY_TEAM`]: everyone is).
    pub fn in_team(&self, team: &str) -> bool {
        team == ANY_TEAM || self.teams.iter().any(|t| t == team)
    }

    /// Whether the agent is online with room for one more conversation.
    pub fn can_take_one_more(&self) -> bool {
        self.presence == Presence::Online && self.active_conversations < self.capacity
    }
}

/// Why an agent of the team was not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassOverReason {
    Offline,
    Away,
    AtCapacity,
    /// Declined this handoff or let its offer lapse a moment ago (cooling down), or was
    /// excluded from it.
    Declined,
    /// Another offer is waiting for their answer (the team offers one at a time).
    OfferPending,
    /// Available, but someone else was less loaded or idle longer.
    Ranked,
}

/// A team member who was not chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PassedOver {
    pub agent_id: String,
    pub reason: PassOverReason,
}

/// The agent chosen for a handoff, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentChoice {
    pub agent_id: String,
    pub agent_name: String,
    /// In words: "Dana: online, 1 of 3 conversations, idle 12 min".
    pub reason: String,
    /// The other members of the team and why they were not chosen.
    pub passed_over: Vec<PassedOver>,
}

/// Why no agent of the team can take the handoff now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, ToSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoAgent {
    /// The team has no members at all.
    #[error("nobody is in team {team}")]
    NobodyInTeam { team: String },
    /// Every member is offline or away.
    #[error("nobody in team {team} is online ({away} away, {offline} offline)")]
    AllOffline {
        team: String,
        away: usize,
        offline: usize,
    },
    /// Members are online, but every one of them is at capacity, cooling down from this
    /// handoff or answering another offer.
    #[error(
        "everyone online in team {team} is busy ({at_capacity} at capacity, {declined} let this handoff go a moment ago, {answering} answering another offer)"
    )]
    AllBusy {
        team: String,
        at_capacity: usize,
        declined: usize,
        #[serde(default)]
        answering: usize,
    },
}

/// Picks the agent of `team` for a handoff: online, with spare capacity, not in `exclude`
/// (agent ids cooling down from this handoff, or who must not get it), and with
/// `one_at_a_time` not answering another offer; the least loaded first (active
/// conversations over capacity), then the one idle longest, then by id so the choice is
/// always the same for the same input.
pub fn choose_agent(
    team: &str,
    candidates: &[AgentAvailability],
    exclude: &[&str],
    one_at_a_time: bool,
    now: DateTime<Utc>,
) -> Result<AgentChoice, NoAgent> {
    let members: Vec<&AgentAvailability> = candidates.iter().filter(|a| a.in_team(team)).collect();
    if members.is_empty() {
        return Err(NoAgent::NobodyInTeam {
            team: team.to_string(),
        });
    }
    let mut passed_over = Vec::new();
    let mut eligible: Vec<&AgentAvailability> = Vec::new();
    for agent in &members {
        let reason = match agent.presence {
            Presence::Offline => Some(PassOverReason::Offline),
            Presence::Away => Some(PassOverReason::Away),
            Presence::Online if agent.active_conversations >= agent.capacity => {
                Some(PassOverReason::AtCapacity)
            }
            Presence::Online if exclude.contains(&agent.id.as_str()) => {
                Some(PassOverReason::Declined)
            }
            Presence::Online if one_at_a_time && agent.offers_pending > 0 => {
                Some(PassOverReason::OfferPending)
            }
            Presence::Online => None,
        };
        match reason {
            Some(reason) => passed_over.push(PassedOver {
                agent_id: agent.id.clone(),
                reason,
            }),
            None => eligible.push(agent),
        }
    }
    eligible.sort_by(|a, b| rank(a, b));
    let Some((chosen, others)) = eligible.split_first() else {
        let count = |r: PassOverReason| passed_over.iter().filter(|p| p.reason == r).count();
        let online = members
            .iter()
            .filter(|a| a.presence == Presence::Online)
            .count();
        return Err(if online == 0 {
            NoAgent::AllOffline {
                team: team.to_string(),
                away: count(PassOverReason::Away),
                offline: count(PassOverReason::Offline),
            }
        } else {
            NoAgent::AllBusy {
                team: team.to_string(),
                at_capacity: count(PassOverReason::AtCapacity),
                declined: count(PassOverReason::Declined),
                answering: count(PassOverReason::OfferPending),
            }
        });
    };
    passed_over.extend(others.iter().map(|a| PassedOver {
        agent_id: a.id.clone(),
        reason: PassOverReason::Ranked,
    }));
    Ok(AgentChoice {
        agent_id: chosen.id.clone(),
        agent_name: chosen.name.clone(),
        reason: describe(chosen, now),
        passed_over,
    })
}

/// Least loaded first (compared as exact fractions), then longest idle (never assigned
/// counts as idle longest), then id.
fn rank(a: &AgentAvailability, b: &AgentAvailability) -> Ordering {
    let load_a = u64::from(a.active_conversations) * u64::from(b.capacity);
    let load_b = u64::from(b.active_conversations) * u64::from(a.capacity);
    load_a
        .cmp(&load_b)
        .then_with(|| match (a.idle_since, b.idle_since) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y),
        })
        .then_with(|| a.id.cmp(&b.id))
}

/// "Dana: online, 1 of 3 conversations, idle 12 min".
fn describe(agent: &AgentAvailability, now: DateTime<Utc>) -> String {
    let conversations = if agent.capacity == 1 {
        "conversation"
    } else {
        "conversations"
    };
    let idle = match agent.idle_since {
        None => "no conversation yet".to_string(),
        Some(since) => {
            let minutes = (now - since).num_minutes().max(0);
            match minutes {
                0 => "idle under a minute".to_string(),
                m if m < 60 => format!("idle {m} min"),
                m if m % 60 == 0 => format!("idle {} h", m / 60),
                m => format!("idle {} h {} min", m / 60, m % 60),
            }
        }
    };
    format!(
        "{}: online, {} of {} {conversations}, {idle}",
        agent.name, agent.active_conversations, agent.capacity
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn agent(
        id: &str,
        presence: Presence,
        active: u32,
        capacity: u32,
        idle: Option<&str>,
    ) -> AgentAvailability {
        AgentAvailability {
            id: id.into(),
            name: format!("{}{}", id[..1].to_uppercase(), &id[1..]),
            teams: vec!["billing".into()],
            presence,
            active_conversations: active,
            capacity,
            idle_since: idle.map(t),
            offers_pending: 0,
        }
    }

    const NOW: &str = "2026-03-02T10:30:00Z";

    #[test]
    fn the_least_loaded_online_agent_gets_the_handoff_with_the_reason_in_words() {
        let agents = [
            agent("sam", Presence::Online, 2, 3, Some("2026-03-02T10:00:00Z")),
            agent("dana", Presence::Online, 1, 3, Some("2026-03-02T10:18:00Z")),
            agent("lee", Presence::Offline, 0, 3, None),
        ];
        let choice = choose_agent("billing", &agents, &[], true, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "dana");
        assert_eq!(
            choice.reason,
            "Dana: online, 1 of 3 conversations, idle 12 min"
        );
        assert_eq!(
            choice.passed_over,
            vec![
                PassedOver {
                    agent_id: "lee".into(),
                    reason: PassOverReason::Offline
                },
                PassedOver {
                    agent_id: "sam".into(),
                    reason: PassOverReason::Ranked
                },
            ]
        );
    }

    #[test]
    fn load_is_relative_to_capacity() {
        // 2 of 6 is a lighter load than 1 of 2.
        let agents = [
            agent("ana", Presence::Online, 1, 2, None),
            agent("bo", Presence::Online, 2, 6, Some("2026-03-02T10:29:00Z")),
        ];
        assert_eq!(
            choose_agent("billing", &agents, &[], true, t(NOW))
                .unwrap()
                .agent_id,
            "bo"
        );
    }

    #[test]
    fn equally_loaded_agents_go_by_longest_idle() {
        let agents = [
            agent("ana", Presence::Online, 1, 3, Some("2026-03-02T10:25:00Z")),
            agent("bo", Presence::Online, 1, 3, Some("2026-03-02T08:05:00Z")),
        ];
        let choice = choose_agent("billing", &agents, &[], true, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "bo");
        assert_eq!(
            choice.reason,
            "Bo: online, 1 of 3 conversations, idle 2 h 25 min"
        );
        // Never assigned counts as idle longest.
        let agents = [agents[1].clone(), agent("cy", Presence::Online, 1, 3, None)];
        let choice = choose_agent("billing", &agents, &[], true, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "cy");
        assert_eq!(
            choice.reason,
            "Cy: online, 1 of 3 conversations, no conversation yet"
        );
    }

    #[test]
    fn agents_who_declined_are_skipped() {
        let agents = [
            agent("ana", Presence::Online, 0, 3, None),
            agent("bo", Presence::Online, 2, 3, None),
        ];
        let choice = choose_agent("billing", &agents, &["ana"], true, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "bo");
        assert!(choice.passed_over.contains(&PassedOver {
            agent_id: "ana".into(),
            reason: PassOverReason::Declined
        }));
    }

    #[test]
    fn nobody_available_says_why() {
        let offline = [
            agent("ana", Presence::Away, 0, 3, None),
            agent("bo", Presence::Offline, 0, 3, None),
        ];
        let err = choose_agent("billing", &offline, &[], true, t(NOW)).unwrap_err();
        assert_eq!(
            err,
            NoAgent::AllOffline {
                team: "billing".into(),
                away: 1,
                offline: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "nobody in team billing is online (1 away, 1 offline)"
        );

        let busy = [
            agent("ana", Presence::Online, 3, 3, None),
            agent("bo", Presence::Online, 0, 3, None),
            agent("cy", Presence::Offline, 0, 3, None),
        ];
        let err = choose_agent("billing", &busy, &["bo"], true, t(NOW)).unwrap_err();
        assert_eq!(
            err,
            NoAgent::AllBusy {
                team: "billing".into(),
                at_capacity: 1,
                declined: 1,
                answering: 0,
            }
        );

        let err = choose_agent("security", &busy, &[], true, t(NOW)).unwrap_err();
        assert_eq!(err.to_string(), "nobody is in team security");
    }

    #[test]
    fn zero_capacity_never_takes_a_conversation() {
        let agents = [agent("ana", Presence::Online, 0, 0, None)];
        assert!(matches!(
            choose_agent("billing", &agents, &[], true, t(NOW)),
            Err(NoAgent::AllBusy { at_capacity: 1, .. })
        ));
    }

    #[test]
    fn one_offer_at_a_time_passes_over_an_agent_answering_another() {
        let mut ana = agent("ana", Presence::Online, 1, 4, None);
        ana.offers_pending = 1;
        let agents = [ana, agent("bo", Presence::Online, 2, 4, None)];
        let choice = choose_agent("billing", &agents, &[], true, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "bo");
        assert!(choice.passed_over.contains(&PassedOver {
            agent_id: "ana".into(),
            reason: PassOverReason::OfferPending
        }));
        // Several at once: the least loaded gets it, pending offer or not.
        let choice = choose_agent("billing", &agents, &[], false, t(NOW)).unwrap();
        assert_eq!(choice.agent_id, "ana");
        // Any team: everyone is in it.
        assert!(choose_agent(ANY_TEAM, &agents[1..], &[], true, t(NOW)).is_ok());
    }
}
