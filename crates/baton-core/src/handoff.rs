//! Handoffs: the transfer of a conversation from the AI to a person.
//!
//! A [`Handoff`] is a small state machine with an owner at every moment: `queued` (in its
//! team's queue), `offered` (one agent has it on offer until a deadline, which reserves a
//! place in their capacity), `assigned` (an agent owns it) and `closed` (resolved, or handed
//! back to the AI). Every change is a [`HandoffChange`] applied by [`Handoff::apply`], a pure
//! function of the handoff, the change, the agent it concerns and the time; it refuses what
//! the state machine does not allow ([`Refusal`]) and records each routing step with its
//! reason. The store applies a change under a lock of the handoff and of the agent, so that
//! checks and writes are atomic (see `baton-store`). [`timers`] decides, from the clock,
//! which offers expired, which agents went quiet and which handoffs waited too long.

pub mod timers;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routing::Presence;

/// How urgently a handoff should reach a person. Queues drain the highest priority first.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// The name used on the wire and in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses a priority name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a handoff is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    /// Waiting in its team's queue for an agent.
    Queued,
    /// Offered to one agent, who may accept until the offer expires.
    Offered,
    /// An agent owns the conversation.
    Assigned,
    /// Over: resolved by a person or handed back to the AI.
    Closed,
}

impl HandoffStatus {
    pub const ALL: [HandoffStatus; 4] = [
        HandoffStatus::Queued,
        HandoffStatus::Offered,
        HandoffStatus::Assigned,
        HandoffStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Queued => "queued",
            HandoffStatus::Offered => "offered",
            HandoffStatus::Assigned => "assigned",
            HandoffStatus::Closed => "closed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the handoff still needs or has a person.
    pub fn is_open(self) -> bool {
        self != HandoffStatus::Closed
    }
}

/// How a handoff ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A person resolved the conversation.
    Resolved,
    /// A person gave the conversation back to the AI.
    HandedBack,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::HandedBack => "handed_back",
        }
    }
}

/// A pending offer to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub agent_id: String,
    pub offered_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The customer's rating after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Csat {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// One step of a handoff's routing history, with its reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoutingStep {
    pub at: DateTime<Utc>,
    /// `queued`, `offered`, `declined`, `offer_expired`, `accepted`, `released`,
    /// `transferred`, `reassigned`, `resolved`, `handed_back`, `rated`.
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Who did it: a staff id, or `baton` for routing and timers.
    pub by: String,
    pub reason: String,
}

/// The record of one transfer of a conversation to a person (the brief is kept beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Handoff {
    pub id: String,
    pub conversation_id: String,
    pub status: HandoffStatus,
    /// The team whose queue it is in (`None` when the policy declares no team: any agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub priority: Priority,
    /// The trigger kinds that escalated, strongest first.
    pub triggers: Vec<String>,
    /// The issue type read off the escalating turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// The customer's tier, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Why it went to this team, in words.
    pub route_reason: String,
    /// Since when the customer has been waiting: the queue is ordered by priority, then this.
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    /// The agent who owns it (status `assigned`, or `closed` after an agent had it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    /// Agents who declined it or let the offer expire; it is not offered to them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<String>,
    /// Nobody could take it when it arrived (team closed or nobody online): it waits as an
    /// offline ticket, owned by its team, until someone comes online.
    #[serde(default)]
    pub offline: bool,
    /// How many times it was transferred to another team.
    #[serde(default)]
    pub reroutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<Csat>,
    pub history: Vec<RoutingStep>,
    pub updated_at: DateTime<Utc>,
}

/// An agent as a handoff change sees them, read under lock in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSlot {
    pub id: String,
    pub presence: Presence,
    pub disabled: bool,
    pub capacity: u32,
    /// Offered and assigned handoffs the agent holds, this one excluded.
    pub active_other: u32,
}

/// Who asks for a change: routing and timers, or a member of staff.
pub const BY_BATON: &str = "baton";

/// A change to a handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum HandoffChange {
    /// Offer a queued handoff to an online agent with spare capacity until `expires_at`.
    Offer {
        agent_id: String,
        expires_at: DateTime<Utc>,
        reason: String,
    },
    /// The agent it is offered to takes it.
    Accept { agent_id: String },
    /// The agent it is offered to turns it down: back to the queue, not offered to them again.
    Decline { agent_id: String },
    /// The offer ran out (or its agent went offline): back to the queue, not offered to
    /// that agent again. Refused unless an offer is pending.
    ExpireOffer { reason: String },
    /// The agent holding it (offered or assigned) went away: back to the queue.
    Release { reason: String },
    /// To another team's queue (a re-route), by an agent, a supervisor or the overflow timer.
    Transfer {
        team: Option<String>,
        priority: Option<Priority>,
        by: String,
        reason: String,
    },
    /// A supervisor gives it straight to an agent (capacity still applies).
    Reassign {
        agent_id: String,
        by: String,
        reason: String,
    },
    /// Mark it as an offline ticket (nobody could take it when it arrived).
    MarkOffline { reason: String },
    /// The end: resolved by a person, or handed back to the AI.
    Close {
        outcome: Outcome,
        by: String,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    },
    /// The customer's rating, once, after resolution.
    Rate { score: u8, comment: Option<String> },
}

impl HandoffChange {
    /// The agent whose capacity the change takes, if any: the store locks that agent and
    /// counts their other handoffs in the same transaction.
    pub fn takes_capacity_of(&self) -> Option<&str> {
        match self {
            HandoffChange::Offer { agent_id, .. } | HandoffChange::Reassign { agent_id, .. } => {
                Some(agent_id)
            }
            _ => None,
        }
    }

    /// The agent the change makes the owner, if any: the store moves their
    /// `last_assigned_at`, which routing reads as the end of their idle time.
    pub fn assigns(&self) -> Option<&str> {
        match self {
            HandoffChange::Accept { agent_id } | HandoffChange::Reassign { agent_id, .. } => {
                Some(agent_id)
            }
            _ => None,
        }
    }
}

/// Why a change was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the handoff is {status}, not {expected}")]
    WrongStatus { status: String, expected: String },
    #[error("the handoff is offered to another agent")]
    OfferedToSomeoneElse,
    #[error("the offer expired")]
    OfferExpired,
    #[error("agent {agent_id} cannot take it: {reason}")]
    AgentUnavailable { agent_id: String, reason: String },
    #[error("the conversation was already rated")]
    AlreadyRated,
    #[error("the rating must be between 1 and 5, got {0}")]
    BadScore(u8),
    #[error("the handoff is already in that team's queue")]
    SameTeam,
    /// Another request was changing the handoff at that moment; an offer does not wait for
    /// it (the router moves on to the next handoff) and may be tried again.
    #[error("the handoff is being changed by another request; try again")]
    Busy,
}

impl Handoff {
    /// Applies `change` at `now`. `agent` is the agent whose capacity the change takes (see
    /// [`HandoffChange::takes_capacity_of`]), read in the same transaction.
    pub fn apply(
        &self,
        change: &HandoffChange,
        agent: Option<&AgentSlot>,
        now: DateTime<Utc>,
    ) -> Result<Handoff, Refusal> {
        let mut next = self.clone();
        next.updated_at = now;
        let step = |step: &str, agent_id: Option<&str>, by: &str, reason: &str| RoutingStep {
            at: now,
            step: step.to_string(),
            team: self.team.clone(),
            agent_id: agent_id.map(str::to_string),
            by: by.to_string(),
            reason: reason.to_string(),
        };
        match change {
            HandoffChange::Offer {
                agent_id,
                expires_at,
                reason,
            } => {
                self.expect(&[HandoffStatus::Queued])?;
                check_capacity(agent_id, agent, true)?;
                next.status = HandoffStatus::Offered;
                next.offer = Some(Offer {
                    agent_id: agent_id.clone(),
                    offered_at: now,
                    expires_at: *expires_at,
                });
                next.history
                    .push(step("offered", Some(agent_id), BY_BATON, reason));
            }
            HandoffChange::Accept { agent_id } => {
                self.expect(&[HandoffStatus::Offered])?;
                let offer = self.offer.as_ref().ok_or(Refusal::OfferExpired)?;
                if &offer.agent_id != agent_id {
                    return Err(Refusal::OfferedToSomeoneElse);
                }
                if offer.expires_at <= now {
                    return Err(Refusal::OfferExpired);
                }
                next.status = HandoffStatus::Assigned;
                next.offer = None;
                next.agent_id = Some(agent_id.clone());
                next.assigned_at = Some(now);
                next.history.push(step(
                    "accepted",
                    Some(agent_id),
                    agent_id,
                    "accepted the offer",
                ));
            }
            HandoffChange::Decline { agent_id } => {
                self.expect(&[HandoffStatus::Offered])?;
                match &self.offer {
                    Some(offer) if &offer.agent_id == agent_id => {}
                    _ => return Err(Refusal::OfferedToSomeoneElse),
                }
                next.requeue_declined(agent_id);
                next.history.push(step(
                    "declined",
                    Some(agent_id),
                    agent_id,
                    "declined the offer",
                ));
            }
            HandoffChange::ExpireOffer { reason } => {
                self.expect(&[HandoffStatus::Offered])?;
                let agent_id = self
                    .offer
                    .as_ref()
                    .map(|o| o.agent_id.clone())
                    .unwrap_or_default();
                next.requeue_declined(&agent_id);
                next.history
                    .push(step("offer_expired", Some(&agent_id), BY_BATON, reason));
            }
            HandoffChange::Release { reason } => {
                self.expect(&[HandoffStatus::Offered, HandoffStatus::Assigned])?;
                let holder = self.holder().map(str::to_string);
                next.status = HandoffStatus::Queued;
                next.offer = None;
                next.agent_id = None;
                next.assigned_at = None;
                next.history
                    .push(step("released", holder.as_deref(), BY_BATON, reason));
            }
            HandoffChange::Transfer {
                team,
                priority,
                by,
                reason,
            } => {
                self.expect(&[
                    HandoffStatus::Queued,
                    HandoffStatus::Offered,
                    HandoffStatus::Assigned,
                ])?;
                if team == &self.team && self.status == HandoffStatus::Queued {
                    return Err(Refusal::SameTeam);
                }
                next.status = HandoffStatus::Queued;
                next.offer = None;
                next.agent_id = None;
                next.assigned_at = None;
                next.declined.clear();
                next.team = team.clone();
                if let Some(priority) = priority {
                    next.priority = *priority;
                }
                next.reroutes += 1;
                next.history.push(RoutingStep {
                    team: team.clone(),
                    ..step("transferred", None, by, reason)
                });
            }
            HandoffChange::Reassign {
                agent_id,
                by,
                reason,
            } => {
                self.expect(&[
                    HandoffStatus::Queued,
                    HandoffStatus::Offered,
                    HandoffStatus::Assigned,
                ])?;
                check_capacity(agent_id, agent, false)?;
                next.status = HandoffStatus::Assigned;
                next.offer = None;
                next.agent_id = Some(agent_id.clone());
                next.assigned_at = Some(now);
                next.history
                    .push(step("reassigned", Some(agent_id), by, reason));
            }
            HandoffChange::MarkOffline { reason } => {
                self.expect(&[HandoffStatus::Queued])?;
                next.offline = true;
                next.history.push(step("offline", None, BY_BATON, reason));
            }
            HandoffChange::Close {
                outcome,
                by,
                note,
                tags,
            } => {
                self.expect(&[
                    HandoffStatus::Queued,
                    HandoffStatus::Offered,
                    HandoffStatus::Assigned,
                ])?;
                next.status = HandoffStatus::Closed;
                next.offer = None;
                next.closed_at = Some(now);
                next.outcome = Some(*outcome);
                next.resolution_note = note.clone().filter(|n| !n.trim().is_empty());
                next.tags = tags.clone();
                next.history.push(step(
                    outcome.as_str(),
                    self.agent_id.as_deref(),
                    by,
                    note.as_deref().unwrap_or(""),
                ));
            }
            HandoffChange::Rate { score, comment } => {
                self.expect(&[HandoffStatus::Closed])?;
                if !(1..=5).contains(score) {
                    return Err(Refusal::BadScore(*score));
                }
                if self.csat.is_some() {
                    return Err(Refusal::AlreadyRated);
                }
                next.csat = Some(Csat {
                    score: *score,
                    comment: comment.clone().filter(|c| !c.trim().is_empty()),
                    at: now,
                });
                next.history.push(step(
                    "rated",
                    None,
                    "customer",
                    &format!("rated {score} of 5"),
                ));
            }
        }
        Ok(next)
    }

    /// The agent holding the handoff: the one it is offered to, or its owner.
    pub fn holder(&self) -> Option<&str> {
        match self.status {
            HandoffStatus::Offered => self.offer.as_ref().map(|o| o.agent_id.as_str()),
            HandoffStatus::Assigned => self.agent_id.as_deref(),
            _ => None,
        }
    }

    /// The staff-only timeline event that records a change to this handoff (`self` as the
    /// change left it): `step` names the change ("queued", "offered", "accepted", …). The
    /// agent named is the one offered to for an offer, else whoever made the latest routing
    /// step, else the owner.
    pub fn step_event(&self, step: &str, reason: &str) -> crate::EventBody {
        let agent_id = match step {
            "offered" => self.offer.as_ref().map(|o| o.agent_id.clone()),
            _ => self
                .history
                .last()
                .and_then(|s| s.agent_id.clone())
                .or_else(|| self.agent_id.clone()),
        };
        crate::EventBody::Handoff {
            handoff_id: self.id.clone(),
            step: step.to_string(),
            status: self.status,
            team: self.team.clone(),
            agent_id,
            reason: reason.to_string(),
        }
    }

    /// How long the customer has waited at `now` (for a handoff still waiting for a person).
    pub fn waiting(&self, now: DateTime<Utc>) -> chrono::Duration {
        (now - self.created_at).max(chrono::Duration::zero())
    }

    fn expect(&self, allowed: &[HandoffStatus]) -> Result<(), Refusal> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(Refusal::WrongStatus {
                status: self.status.as_str().to_string(),
                expected: allowed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            })
        }
    }

    fn requeue_declined(&mut self, agent_id: &str) {
        self.status = HandoffStatus::Queued;
        self.offer = None;
        if !agent_id.is_empty() && !self.declined.iter().any(|d| d == agent_id) {
            self.declined.push(agent_id.to_string());
        }
    }
}

fn check_capacity(
    agent_id: &str,
    agent: Option<&AgentSlot>,
    must_be_online: bool,
) -> Result<(), Refusal> {
    let unavailable = |reason: &str| Refusal::AgentUnavailable {
        agent_id: agent_id.to_string(),
        reason: reason.to_string(),
    };
    let Some(agent) = agent.filter(|a| a.id == agent_id) else {
        return Err(unavailable("not an agent"));
    };
    if agent.disabled {
        return Err(unavailable("disabled"));
    }
    if must_be_online && agent.presence != Presence::Online {
        return Err(unavailable(agent.presence.as_str()));
    }
    if agent.active_other >= agent.capacity {
        return Err(unavailable(&format!(
            "at capacity ({} of {})",
            agent.active_other, agent.capacity
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_from_low_to_urgent() {
        assert!(Priority::Urgent > Priority::High);
        assert!(Priority::High > Priority::Normal);
        assert!(Priority::Normal > Priority::Low);
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }

    fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().unwrap()
    }

    fn slot(id: &str, presence: Presence, active_other: u32, capacity: u32) -> AgentSlot {
        AgentSlot {
            id: id.into(),
            presence,
            disabled: false,
            capacity,
            active_other,
        }
    }

    fn queued() -> Handoff {
        Handoff::new(
            "h1".into(),
            "c1".into(),
            Some("billing".into()),
            Priority::High,
            vec!["explicit_request".into()],
            Some("billing_dispute".into()),
            Some("enterprise".into()),
            "billing disputes go to billing".into(),
            t("2026-03-02T10:00:00Z"),
        )
    }

    fn offer_to(h: &Handoff, agent: &str) -> Result<Handoff, Refusal> {
        h.apply(
            &HandoffChange::Offer {
                agent_id: agent.into(),
                expires_at: t("2026-03-02T10:01:00Z"),
                reason: "Dana: online, 0 of 3 conversations".into(),
            },
            Some(&slot(agent, Presence::Online, 0, 3)),
            t("2026-03-02T10:00:30Z"),
        )
    }

    #[test]
    fn offer_accept_resolve_and_rate_follow_the_state_machine() {
        let offered = offer_to(&queued(), "dana").unwrap();
        assert_eq!(offered.status, HandoffStatus::Offered);
        assert_eq!(offered.holder(), Some("dana"));
        assert_eq!(
            offered.apply(
                &HandoffChange::Accept {
                    agent_id: "sam".into()
                },
                None,
                t("2026-03-02T10:00:40Z")
            ),
            Err(Refusal::OfferedToSomeoneElse)
        );
        assert_eq!(
            offered.apply(
                &HandoffChange::Accept {
                    agent_id: "dana".into()
                },
                None,
                t("2026-03-02T10:01:00Z")
            ),
            Err(Refusal::OfferExpired)
        );
        let assigned = offered
            .apply(
                &HandoffChange::Accept {
                    agent_id: "dana".into(),
                },
                None,
                t("2026-03-02T10:00:40Z"),
            )
            .unwrap();
        assert_eq!(assigned.status, HandoffStatus::Assigned);
        assert_eq!(assigned.agent_id.as_deref(), Some("dana"));
        assert!(matches!(
            assigned.apply(
                &HandoffChange::Rate {
                    score: 5,
                    comment: None
                },
                None,
                t("2026-03-02T10:02:00Z")
            ),
            Err(Refusal::WrongStatus { .. })
        ));
        let closed = assigned
            .apply(
                &HandoffChange::Close {
                    outcome: Outcome::Resolved,
                    by: "dana".into(),
                    note: Some("refunded".into()),
                    tags: vec!["refund".into()],
                },
                None,
                t("2026-03-02T10:05:00Z"),
            )
            .unwrap();
        assert_eq!(closed.holder(), None);
        assert_eq!(
            closed.apply(
                &HandoffChange::Rate {
                    score: 6,
                    comment: None
                },
                None,
                t("2026-03-02T10:06:00Z")
            ),
            Err(Refusal::BadScore(6))
        );
        let rated = closed
            .apply(
                &HandoffChange::Rate {
                    score: 4,
                    comment: Some(" ".into()),
                },
                None,
                t("2026-03-02T10:06:00Z"),
            )
            .unwrap();
        assert_eq!(
            rated.csat.as_ref().map(|c| (c.score, c.comment.clone())),
            Some((4, None))
        );
        assert_eq!(
            rated.apply(
                &HandoffChange::Rate {
                    score: 5,
                    comment: None
                },
                None,
                t("2026-03-02T10:07:00Z")
            ),
            Err(Refusal::AlreadyRated)
        );
        let steps: Vec<&str> = rated.history.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(
            steps,
            ["queued", "offered", "accepted", "resolved", "rated"]
        );
    }

    #[test]
    fn offers_respect_presence_and_capacity() {
        let h = queued();
        let at = t("2026-03-02T10:00:30Z");
        let offer = HandoffChange::Offer {
            agent_id: "dana".into(),
            expires_at: t("2026-03-02T10:01:00Z"),
            reason: String::new(),
        };
        assert!(matches!(
            h.apply(&offer, Some(&slot("dana", Presence::Online, 3, 3)), at),
            Err(Refusal::AgentUnavailable { reason, .. }) if reason == "at capacity (3 of 3)"
        ));
        assert!(matches!(
            h.apply(&offer, Some(&slot("dana", Presence::Away, 0, 3)), at),
            Err(Refusal::AgentUnavailable { reason, .. }) if reason == "away"
        ));
        assert!(matches!(
            h.apply(&offer, None, at),
            Err(Refusal::AgentUnavailable { .. })
        ));
        // A handoff already offered cannot be offered again.
        let offered = h
            .apply(&offer, Some(&slot("dana", Presence::Online, 2, 3)), at)
            .unwrap();
        assert!(matches!(
            offered.apply(&offer, Some(&slot("dana", Presence::Online, 0, 3)), at),
            Err(Refusal::WrongStatus { .. })
        ));
        // A supervisor may assign to an away agent with room, never beyond capacity.
        let reassign = |cap| HandoffChange::Reassign {
            agent_id: "sam".into(),
            by: "ada".into(),
            reason: format!("cap {cap}"),
        };
        assert!(
            h.apply(&reassign(1), Some(&slot("sam", Presence::Away, 0, 1)), at)
                .is_ok()
        );
        assert!(
            h.apply(&reassign(1), Some(&slot("sam", Presence::Away, 1, 1)), at)
                .is_err()
        );
    }

    #[test]
    fn declined_and_expired_offers_are_not_made_to_the_same_agent_again() {
        let offered = offer_to(&queued(), "dana").unwrap();
        let declined = offered
            .apply(
                &HandoffChange::Decline {
                    agent_id: "dana".into(),
                },
                None,
                t("2026-03-02T10:00:35Z"),
            )
            .unwrap();
        assert_eq!(declined.status, HandoffStatus::Queued);
        assert_eq!(declined.declined, vec!["dana".to_string()]);
        let expired = offer_to(&declined, "sam")
            .unwrap()
            .apply(
                &HandoffChange::ExpireOffer {
                    reason: "not accepted within 30 s".into(),
                },
                None,
                t("2026-03-02T10:01:30Z"),
            )
            .unwrap();
        assert_eq!(
            expired.declined,
            vec!["dana".to_string(), "sam".to_string()]
        );
        // A transfer starts afresh in the new team.
        let moved = expired
            .apply(
                &HandoffChange::Transfer {
                    team: Some("support".into()),
                    priority: Some(Priority::Urgent),
                    by: "dana".into(),
                    reason: "wrong team".into(),
                },
                None,
                t("2026-03-02T10:02:00Z"),
            )
            .unwrap();
        assert!(moved.declined.is_empty());
        assert_eq!(
            (moved.team.as_deref(), moved.priority, moved.reroutes),
            (Some("support"), Priority::Urgent, 1)
        );
        assert_eq!(
            moved.created_at,
            t("2026-03-02T10:00:00Z"),
            "the wait keeps counting"
        );
    }
}
