//! The handoff timers, as a pure function of the handoffs, the agents and the clock: offers
//! not accepted in time, agents whose heartbeat stopped, agents offline past the grace
//! period who still hold conversations, handoffs that waited past their team's wait target
//! (more urgent, and the team's supervisors are alerted) and handoffs that waited long
//! enough to move to the overflow team.
//!
//! The server runs [`due`] on every tick with the real clock; tests run it with any time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Handoff, HandoffStatus, Priority, Step};
use crate::routing::Presence;

/// How long each timer waits; from the `[handoff]` configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerSettings {
    /// An offer not accepted within this goes to the next agent.
    pub offer_timeout: Duration,
    /// An online or away agent without a heartbeat for this long goes offline.
    pub presence_timeout: Duration,
    /// An agent offline this long gives their conversations back to the queue.
    pub offline_grace: Duration,
    /// A handoff waiting this long in a team with an overflow team moves there.
    pub overflow_after: Option<Duration>,
}

/// What the timers need to know of a team (`None`: handoffs without a team).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamClock {
    /// Where its handoffs go after waiting too long.
    pub overflow: Option<String>,
    /// How long a handoff may wait before its priority rises (none: never).
    pub wait_target: Option<Duration>,
    /// Whether the team works now: a closed team's tickets wait without alarm.
    pub open: bool,
}

/// An agent as the timers see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClock {
    pub id: String,
    pub presence: Presence,
    /// When the presence last changed.
    pub presence_at: DateTime<Utc>,
    /// The last heartbeat (or presence change).
    pub last_seen_at: DateTime<Utc>,
}

/// What a timer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerAction {
    /// Take the offer back and offer the handoff to someone else. `missed` when the agent
    /// simply did not answer (it counts towards setting them away, and cools them down);
    /// not when they went offline.
    ExpireOffer {
        handoff_id: String,
        reason: String,
        missed: bool,
    },
    /// The agent's heartbeat stopped: mark them offline.
    GoOffline { agent_id: String, reason: String },
    /// The agent has been offline past the grace period: their handoff goes back to the queue.
    Release { handoff_id: String, reason: String },
    /// Nobody took the handoff within its team's wait target: raise its priority (and alert
    /// the team's supervisors).
    RaisePriority {
        handoff_id: String,
        to: Priority,
        reason: String,
    },
    /// The handoff waited too long: move it to the team's overflow team.
    Overflow {
        handoff_id: String,
        to_team: String,
        reason: String,
    },
}

/// Everything due at `now`, in a stable order: presence first (so that an agent who just
/// went offline loses their offers in the same tick), then, handoff by handoff, offers,
/// releases, priority rises and overflows. `team` describes a team's timers.
pub fn due(
    handoffs: &[Handoff],
    agents: &[AgentClock],
    team: impl Fn(Option<&str>) -> TeamClock,
    settings: &TimerSettings,
    now: DateTime<Utc>,
) -> Vec<TimerAction> {
    let mut actions = Vec::new();
    let mut offline: Vec<(&str, DateTime<Utc>)> = Vec::new();
    for agent in agents {
        match agent.presence {
            Presence::Offline => offline.push((&agent.id, agent.presence_at)),
            Presence::Online | Presence::Away => {
                if agent.last_seen_at + settings.presence_timeout <= now {
                    actions.push(TimerAction::GoOffline {
                        agent_id: agent.id.clone(),
                        reason: format!("no heartbeat for {}", words(settings.presence_timeout)),
                    });
                    offline.push((&agent.id, now));
                }
            }
        }
    }
    let offline_since = |id: &str| offline.iter().find(|(a, _)| *a == id).map(|(_, at)| *at);
    for handoff in handoffs {
        match handoff.status {
            HandoffStatus::Offered => {
                let Some(offer) = &handoff.offer else {
                    continue;
                };
                if offline_since(&offer.agent_id).is_some() {
                    actions.push(TimerAction::ExpireOffer {
                        handoff_id: handoff.id.clone(),
                        reason: "the agent went offline".to_string(),
                        missed: false,
                    });
                } else if offer.expires_at <= now {
                    actions.push(TimerAction::ExpireOffer {
                        handoff_id: handoff.id.clone(),
                        reason: format!("not accepted within {}", words(settings.offer_timeout)),
                        missed: true,
                    });
                } else if let Some(raise) = raise_due(handoff, &team(handoff.team.as_deref()), now)
                {
                    actions.push(raise);
                }
            }
            HandoffStatus::Assigned => {
                let Some(agent) = handoff.agent_id.as_deref() else {
                    continue;
                };
                if let Some(since) = offline_since(agent)
                    && since + settings.offline_grace <= now
                {
                    actions.push(TimerAction::Release {
                        handoff_id: handoff.id.clone(),
                        reason: format!(
                            "the agent has been offline for over {}",
                            words(settings.offline_grace)
                        ),
                    });
                }
            }
            HandoffStatus::Queued => {
                let clock = team(handoff.team.as_deref());
                if let (Some(limit), Some(name), Some(to_team)) =
                    (settings.overflow_after, &handoff.team, &clock.overflow)
                    && handoff.in_team_since() + limit <= now
                {
                    actions.push(TimerAction::Overflow {
                        handoff_id: handoff.id.clone(),
                        to_team: to_team.clone(),
                        reason: format!("waited over {} for {name}", words(limit)),
                    });
                } else if let Some(raise) = raise_due(handoff, &clock, now) {
                    actions.push(raise);
                }
            }
            HandoffStatus::Closed => {}
        }
    }
    actions
}

/// A waiting handoff's priority rises one level each time it waits another wait target in
/// its team's queue without an agent taking it, up to urgent; never while the team is closed.
fn raise_due(handoff: &Handoff, team: &TeamClock, now: DateTime<Utc>) -> Option<TimerAction> {
    let target = team.wait_target.filter(|t| !t.is_zero())?;
    if !team.open {
        return None;
    }
    let to = handoff.priority.raised()?;
    let since = handoff.in_team_since();
    let raised = handoff
        .history
        .iter()
        .filter(|s| s.step == Step::PriorityRaised && s.at >= since)
        .count() as u32;
    let due_at = since + chrono::Duration::from_std(target * (raised + 1)).ok()?;
    if due_at > now {
        return None;
    }
    Some(TimerAction::RaisePriority {
        handoff_id: handoff.id.clone(),
        to,
        reason: format!(
            "no agent took it within the wait target of {} (waiting {}); priority raised to {to}",
            words(target),
            words((now - since).to_std().unwrap_or_default())
        ),
    })
}

/// "30 s", "2 min", "1 h" (and "250 ms" below a second).
pub fn words(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        format!("{} ms", duration.as_millis())
    } else if secs < 120 {
        format!("{secs} s")
    } else if secs < 7200 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h", secs / 3600)
    }
}

impl Handoff {
    /// A new queued handoff, as the router creates it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        conversation_id: String,
        team: Option<String>,
        priority: super::Priority,
        triggers: Vec<String>,
        issue_type: Option<String>,
        tier: Option<String>,
        route_reason: String,
        now: DateTime<Utc>,
    ) -> Handoff {
        Handoff {
            id,
            conversation_id,
            status: HandoffStatus::Queued,
            history: vec![super::RoutingStep {
                at: now,
                step: Step::Queued,
                team: team.clone(),
                agent_id: None,
                by: super::BY_BATON.to_string(),
                reason: route_reason.clone(),
                note: None,
            }],
            team,
            priority,
            triggers,
            issue_type,
            tier,
            customer_name: None,
            route_reason,
            created_at: now,
            offer: None,
            agent_id: None,
            assigned_at: None,
            declined: Vec::new(),
            offline: false,
            reroutes: 0,
            closed_at: None,
            outcome: None,
            resolution_note: None,
            tags: Vec::new(),
            csat: None,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::{AgentSlot, HandoffChange, Priority};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const SETTINGS: TimerSettings = TimerSettings {
        offer_timeout: Duration::from_secs(30),
        presence_timeout: Duration::from_secs(60),
        offline_grace: Duration::from_secs(120),
        overflow_after: Some(Duration::from_secs(600)),
    };

    fn queued(id: &str, team: &str, at: &str) -> Handoff {
        Handoff::new(
            id.into(),
            format!("c-{id}"),
            Some(team.into()),
            Priority::Normal,
            vec!["explicit_request".into()],
            None,
            None,
            "test".into(),
            t(at),
        )
    }

    fn online(id: &str) -> AgentSlot {
        AgentSlot {
            id: id.into(),
            presence: Presence::Online,
            disabled: false,
            capacity: 3,
            teams: vec!["billing".into()],
            active_other: 0,
            offers_other: 0,
        }
    }

    /// Teams without overflow, always open, without a wait target.
    fn plain(_: Option<&str>) -> TeamClock {
        TeamClock {
            open: true,
            ..TeamClock::default()
        }
    }

    fn clock(id: &str, presence: Presence, at: &str, seen: &str) -> AgentClock {
        AgentClock {
            id: id.into(),
            presence,
            presence_at: t(at),
            last_seen_at: t(seen),
        }
    }

    fn offer(h: &Handoff, agent: &str, at: &str) -> Handoff {
        h.apply(
            &HandoffChange::Offer {
                agent_id: agent.into(),
                expires_at: t(at) + chrono::Duration::seconds(30),
                reason: "least loaded".into(),
                one_at_a_time: false,
            },
            Some(&online(agent)),
            t(at),
        )
        .unwrap()
    }

    #[test]
    fn an_offer_expires_at_its_deadline_and_not_before() {
        let h = offer(
            &queued("h1", "billing", "2026-03-02T10:00:00Z"),
            "dana",
            "2026-03-02T10:00:00Z",
        );
        let agents = [clock(
            "dana",
            Presence::Online,
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:20Z",
        )];
        assert!(
            due(
                std::slice::from_ref(&h),
                &agents,
                plain,
                &SETTINGS,
                t("2026-03-02T10:00:29Z")
            )
            .is_empty()
        );
        let actions = due(&[h], &agents, plain, &SETTINGS, t("2026-03-02T10:00:30Z"));
        assert_eq!(
            actions,
            vec![TimerAction::ExpireOffer {
                handoff_id: "h1".into(),
                reason: "not accepted within 30 s".into(),
                missed: true,
            }]
        );
    }

    #[test]
    fn a_silent_agent_goes_offline_and_loses_offers_at_once_and_conversations_after_the_grace() {
        let offered = offer(
            &queued("h1", "billing", "2026-03-02T10:00:00Z"),
            "dana",
            "2026-03-02T10:00:00Z",
        );
        let assigned = offer(
            &queued("h2", "billing", "2026-03-02T10:00:00Z"),
            "dana",
            "2026-03-02T10:00:00Z",
        )
        .apply(
            &HandoffChange::Accept {
                agent_id: "dana".into(),
            },
            None,
            t("2026-03-02T10:00:05Z"),
        )
        .unwrap();
        let handoffs = [offered, assigned];
        // The heartbeat stopped at 10:00:10; at 10:01:10 the presence timeout passes.
        let silent = [clock(
            "dana",
            Presence::Online,
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:10Z",
        )];
        let actions = due(
            &handoffs,
            &silent,
            plain,
            &SETTINGS,
            t("2026-03-02T10:01:10Z"),
        );
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(
            matches!(&actions[0], TimerAction::GoOffline { agent_id, .. } if agent_id == "dana")
        );
        assert!(
            matches!(&actions[1], TimerAction::ExpireOffer { reason, missed: false, .. } if reason == "the agent went offline")
        );
        // Offline since 10:01:10: the assigned conversation returns after two minutes.
        let gone = [clock(
            "dana",
            Presence::Offline,
            "2026-03-02T10:01:10Z",
            "2026-03-02T10:00:10Z",
        )];
        let early = due(
            &handoffs[1..],
            &gone,
            plain,
            &SETTINGS,
            t("2026-03-02T10:03:09Z"),
        );
        assert!(early.is_empty(), "{early:?}");
        let late = due(
            &handoffs[1..],
            &gone,
            plain,
            &SETTINGS,
            t("2026-03-02T10:03:10Z"),
        );
        assert_eq!(
            late,
            vec![TimerAction::Release {
                handoff_id: "h2".into(),
                reason: "the agent has been offline for over 2 min".into()
            }]
        );
    }

    #[test]
    fn a_handoff_waiting_too_long_moves_to_the_overflow_team_once() {
        let h = queued("h1", "billing", "2026-03-02T10:00:00Z");
        let overflow = |team: Option<&str>| TeamClock {
            overflow: (team == Some("billing")).then(|| "support".to_string()),
            open: true,
            ..TeamClock::default()
        };
        assert!(
            due(
                std::slice::from_ref(&h),
                &[],
                overflow,
                &SETTINGS,
                t("2026-03-02T10:09:59Z")
            )
            .is_empty()
        );
        let actions = due(
            std::slice::from_ref(&h),
            &[],
            overflow,
            &SETTINGS,
            t("2026-03-02T10:10:00Z"),
        );
        assert_eq!(
            actions,
            vec![TimerAction::Overflow {
                handoff_id: "h1".into(),
                to_team: "support".into(),
                reason: "waited over 10 min for billing".into()
            }]
        );
        // Moved to support (which has no overflow): nothing more is due.
        let moved = h
            .apply(
                &HandoffChange::Transfer {
                    team: Some("support".into()),
                    priority: None,
                    by: "baton".into(),
                    reason: "overflow".into(),
                    note: None,
                },
                None,
                t("2026-03-02T10:10:00Z"),
            )
            .unwrap();
        assert!(
            due(
                &[moved],
                &[],
                overflow,
                &SETTINGS,
                t("2026-03-02T11:00:00Z")
            )
            .is_empty()
        );
    }

    #[test]
    fn a_handoff_nobody_takes_within_the_wait_target_rises_one_level_per_target() {
        let h = queued("h1", "billing", "2026-03-02T10:00:00Z");
        let team = |open: bool| {
            move |_: Option<&str>| TeamClock {
                overflow: None,
                wait_target: Some(Duration::from_secs(300)),
                open,
            }
        };
        let at = |s: &str| due(std::slice::from_ref(&h), &[], team(true), &SETTINGS, t(s));
        assert!(at("2026-03-02T10:04:59Z").is_empty());
        let actions = at("2026-03-02T10:05:00Z");
        assert!(
            matches!(&actions[..], [TimerAction::RaisePriority { to: Priority::High, reason, .. }]
                if reason.contains("wait target of 5 min")),
            "{actions:?}"
        );
        // A closed team's ticket waits without alarm.
        assert!(
            due(
                std::slice::from_ref(&h),
                &[],
                team(false),
                &SETTINGS,
                t("2026-03-02T10:30:00Z")
            )
            .is_empty()
        );
        // Raised once: the next rise is one more wait target later, up to urgent.
        let raised = h
            .apply(
                &HandoffChange::RaisePriority {
                    to: Priority::High,
                    reason: "waited".into(),
                },
                None,
                t("2026-03-02T10:05:00Z"),
            )
            .unwrap();
        let next = |s: &str| {
            due(
                std::slice::from_ref(&raised),
                &[],
                team(true),
                &SETTINGS,
                t(s),
            )
        };
        assert!(next("2026-03-02T10:09:59Z").is_empty());
        assert!(matches!(
            &next("2026-03-02T10:10:00Z")[..],
            [TimerAction::RaisePriority {
                to: Priority::Urgent,
                ..
            }]
        ));
    }
}
