//! Handoffs: the transfer of a conversation from the AI to a person.
//!
//! A [`Handoff`] is a small state machine with an owner at every moment: `queued` (in its
//! team's queue), `offered` (one agent has it on offer until a deadline, which reserves a
//! place in their capacity), `assigned` (an agent owns it) and `closed` (resolved, or handed
//! back to the AI). Every change is a [`HandoffChange`] applied by [`Handoff::apply`], a pure
//! function of the handoff, the change, the agent it concerns and the time; it refuses what
//! the state machine does not allow ([`Refusal`]) and names the [`Step`] it took, with its
//! reason, once: the store records that step on the timeline and moves the conversation to
//! the state the step implies ([`Step::conversation_state`]) in the same write. A declined or
//! lapsed offer puts the handoff back in its place in line and cools that agent down for a
//! while ([`Cooldown`]), never for good. [`timers`] decides, from the clock, which offers
//! expired, which agents went quiet, which handoffs waited past their team's wait target and
//! which waited long enough to overflow.

pub mod notice;
pub mod timers;

pub use notice::{HandoverNotice, Names, NoticeKind};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conversation::ConversationState;
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

    /// The next level up; `None` for urgent.
    pub fn raised(self) -> Option<Self> {
        match self {
            Priority::Low => Some(Priority::Normal),
            Priority::Normal => Some(Priority::High),
            Priority::High => Some(Priority::Urgent),
            Priority::Urgent => None,
        }
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

/// One step of a handoff's life: the state machine names each change once, here, and the
/// store records it on the timeline under this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Put in its team's queue at escalation.
    Queued,
    /// Nobody could take it when it arrived: it waits as an offline ticket.
    Offline,
    /// Offered to one agent until a deadline.
    Offered,
    /// The agent it was offered to turned it down.
    Declined,
    /// The offer ran out (or its agent went away) before anyone accepted it.
    OfferExpired,
    /// The agent it was offered to took it.
    Accepted,
    /// An agent took it from the queue themselves.
    Taken,
    /// Its agent went away: back to the queue.
    Released,
    /// Moved to another team's queue.
    Transferred,
    /// A supervisor gave it straight to an agent.
    Reassigned,
    /// It waited past its team's wait target: more urgent now.
    PriorityRaised,
    /// A person resolved the conversation.
    Resolved,
    /// A person gave the conversation back to the AI.
    HandedBack,
    /// The customer rated the conversation.
    Rated,
}

impl Step {
    pub const ALL: [Step; 14] = [
        Step::Queued,
        Step::Offline,
        Step::Offered,
        Step::Declined,
        Step::OfferExpired,
        Step::Accepted,
        Step::Taken,
        Step::Released,
        Step::Transferred,
        Step::Reassigned,
        Step::PriorityRaised,
        Step::Resolved,
        Step::HandedBack,
        Step::Rated,
    ];

    /// The name on the wire and on the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Queued => "queued",
            Step::Offline => "offline",
            Step::Offered => "offered",
            Step::Declined => "declined",
            Step::OfferExpired => "offer_expired",
            Step::Accepted => "accepted",
            Step::Taken => "taken",
            Step::Released => "released",
            Step::Transferred => "transferred",
            Step::Reassigned => "reassigned",
            Step::PriorityRaised => "priority_raised",
            Step::Resolved => "resolved",
            Step::HandedBack => "handed_back",
            Step::Rated => "rated",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state the step leaves the conversation in: a person owns it once the handoff is
    /// accepted, taken or reassigned; it waits again once released or transferred; it ends
    /// or goes back to the AI when the handoff closes. `None`: the step does not move it.
    pub fn conversation_state(self) -> Option<ConversationState> {
        match self {
            Step::Accepted | Step::Taken | Step::Reassigned => Some(ConversationState::Human),
            Step::Queued | Step::Released | Step::Transferred => {
                Some(ConversationState::WaitingHuman)
            }
            Step::Resolved => Some(ConversationState::Resolved),
            Step::HandedBack => Some(ConversationState::Ai),
            Step::Offline
            | Step::Offered
            | Step::Declined
            | Step::OfferExpired
            | Step::PriorityRaised
            | Step::Rated => None,
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a handoff's routing history, with its reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoutingStep {
    pub at: DateTime<Utc>,
    pub step: Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Who did it: a staff id, or `baton` for routing and timers.
    pub by: String,
    pub reason: String,
    /// What the person who made the step wrote for the next one (a transfer's note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An agent who declined the handoff or let its offer lapse: it is not offered to them
/// again until `until` (a cool-down, never for good).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Cooldown {
    pub agent_id: String,
    pub until: DateTime<Utc>,
}

impl<'de> Deserialize<'de> for Cooldown {
    /// Handoffs stored before cool-downs kept a bare agent id, meaning "never again": read
    /// as a cool-down that is over, so that such a handoff is offered to everyone again.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Bare(String),
            Full {
                agent_id: String,
                until: DateTime<Utc>,
            },
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Bare(agent_id) => Cooldown {
                agent_id,
                until: DateTime::<Utc>::MIN_UTC,
            },
            Stored::Full { agent_id, until } => Cooldown { agent_id, until },
        })
    }
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
    /// The customer's name, when known (queue cards show it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Why it went to this team, in words.
    pub route_reason: String,
    /// Since when the customer has been waiting: the queue is ordered by priority, then this.
    /// A declined or lapsed offer keeps it, so the handoff goes back to its place in line.
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    /// The agent who owns it (status `assigned`, or `closed` after an agent had it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    /// Agents who declined it or let the offer lapse, each until their cool-down ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<Cooldown>,
    /// Nobody could take it when it arrived (team closed or nobody online): it waits as an
    /// offline ticket, owned by its team, until an agent is offered or takes it.
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
    /// The teams the agent works in.
    pub teams: Vec<String>,
    /// Offered and assigned handoffs the agent holds, this one excluded.
    pub active_other: u32,
    /// Offers pending for the agent, this one excluded.
    pub offers_other: u32,
}

/// Who asks for a change: routing and timers, or a member of staff.
pub const BY_BATON: &str = "baton";

/// A change to a handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum HandoffChange {
    /// Offer a queued handoff to an online agent with spare capacity until `expires_at`;
    /// with `one_at_a_time`, only to an agent with no other offer pending.
    Offer {
        agent_id: String,
        expires_at: DateTime<Utc>,
        reason: String,
        #[serde(default)]
        one_at_a_time: bool,
    },
    /// The agent it is offered to takes it.
    Accept { agent_id: String },
    /// An agent takes a queued handoff of their teams from the queue (or the one offered to
    /// them); `any_team` for supervisors. Capacity applies as for offers.
    Take { agent_id: String, any_team: bool },
    /// The agent it is offered to turns it down: back to its place in the queue, not
    /// offered to them again until `cooldown_until`.
    Decline {
        agent_id: String,
        cooldown_until: DateTime<Utc>,
    },
    /// The offer ran out (or its agent went away): back to its place in the queue. With
    /// `cooldown_until` the agent simply did not answer: it is not offered to them again
    /// until then, it counts as a missed offer, and after `away_after_missed` missed in a
    /// row (0: never) the store sets the agent away in the same write. Refused unless an
    /// offer is pending.
    ExpireOffer {
        reason: String,
        #[serde(default)]
        cooldown_until: Option<DateTime<Utc>>,
        #[serde(default)]
        away_after_missed: u32,
    },
    /// The agent holding it (offered or assigned) went away: back to the queue.
    Release { reason: String },
    /// To another team's queue (a re-route), by an agent, a supervisor or the overflow timer,
    /// with a note for the next person.
    Transfer {
        team: Option<String>,
        priority: Option<Priority>,
        by: String,
        reason: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// A supervisor gives it straight to an agent (capacity still applies).
    Reassign {
        agent_id: String,
        by: String,
        reason: String,
    },
    /// Mark it as an offline ticket (nobody could take it when it arrived).
    MarkOffline { reason: String },
    /// It waited past its team's wait target without an agent taking it: raise its
    /// priority to `to` (never lowers it).
    RaisePriority { to: Priority, reason: String },
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
            HandoffChange::Offer { agent_id, .. }
            | HandoffChange::Reassign { agent_id, .. }
            | HandoffChange::Take { agent_id, .. } => Some(agent_id),
            _ => None,
        }
    }

    /// The agent the change makes the owner, if any: the store moves their
    /// `last_assigned_at`, which routing reads as the end of their idle time.
    pub fn assigns(&self) -> Option<&str> {
        match self {
            HandoffChange::Accept { agent_id }
            | HandoffChange::Reassign { agent_id, .. }
            | HandoffChange::Take { agent_id, .. } => Some(agent_id),
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
    #[error("the handoff waits for team {team}, which agent {agent_id} is not in")]
    NotInTeam { agent_id: String, team: String },
    #[error("the conversation was already rated")]
    AlreadyRated,
    #[error("the rating must be between 1 and 5, got {0}")]
    BadScore(u8),
    #[error("the handoff is already in that team's queue")]
    SameTeam,
    #[error("the handoff is already {0} priority or higher")]
    NotLower(Priority),
    /// Another request was changing the handoff at that moment; an offer does not wait for
    /// it (the router moves on to the next handoff) and may be tried again.
    #[error("the handoff is being changed by another request; try again")]
    Busy,
}

impl Handoff {
    /// Applies `change` at `now`. `agent` is the agent whose capacity the change takes (see
    /// [`HandoffChange::takes_capacity_of`]), read in the same transaction. The step it takes
    /// is the last entry of the result's `history` ([`Handoff::last_step`]): the state machine
    /// names it, with its reason, and nothing else does.
    pub fn apply(
        &self,
        change: &HandoffChange,
        agent: Option<&AgentSlot>,
        now: DateTime<Utc>,
    ) -> Result<Handoff, Refusal> {
        let mut next = self.clone();
        next.updated_at = now;
        let step = |step: Step, agent_id: Option<&str>, by: &str, reason: &str| RoutingStep {
            at: now,
            step,
            team: self.team.clone(),
            agent_id: agent_id.map(str::to_string),
            by: by.to_string(),
            reason: reason.to_string(),
            note: None,
        };
        match change {
            HandoffChange::Offer {
                agent_id,
                expires_at,
                reason,
                one_at_a_time,
            } => {
                self.expect(&[HandoffStatus::Queued])?;
                let slot = check_capacity(agent_id, agent, true)?;
                if self.cooling_down(agent_id, now) {
                    return Err(Refusal::AgentUnavailable {
                        agent_id: agent_id.clone(),
                        reason: "let this conversation's offer go a moment ago".into(),
                    });
                }
                if *one_at_a_time && slot.offers_other > 0 {
                    return Err(Refusal::AgentUnavailable {
                        agent_id: agent_id.clone(),
                        reason: "another offer is waiting for them".into(),
                    });
                }
                next.status = HandoffStatus::Offered;
                next.offline = false;
                next.offer = Some(Offer {
                    agent_id: agent_id.clone(),
                    offered_at: now,
                    expires_at: *expires_at,
                });
                next.history
                    .push(step(Step::Offered, Some(agent_id), BY_BATON, reason));
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
                next.assign(agent_id, now);
                next.history.push(step(
                    Step::Accepted,
                    Some(agent_id),
                    agent_id,
                    "accepted the offer",
                ));
            }
            HandoffChange::Take { agent_id, any_team } => {
                self.expect(&[HandoffStatus::Queued, HandoffStatus::Offered])?;
                if let Some(offer) = &self.offer
                    && &offer.agent_id != agent_id
                {
                    return Err(Refusal::OfferedToSomeoneElse);
                }
                let slot = check_capacity(agent_id, agent, false)?;
                if let Some(team) = &self.team
                    && !any_team
                    && !slot.teams.contains(team)
                {
                    return Err(Refusal::NotInTeam {
                        agent_id: agent_id.clone(),
                        team: team.clone(),
                    });
                }
                next.assign(agent_id, now);
                next.history.push(step(
                    Step::Taken,
                    Some(agent_id),
                    agent_id,
                    "took it from the queue",
                ));
            }
            HandoffChange::Decline {
                agent_id,
                cooldown_until,
            } => {
                self.expect(&[HandoffStatus::Offered])?;
                match &self.offer {
                    Some(offer) if &offer.agent_id == agent_id => {}
                    _ => return Err(Refusal::OfferedToSomeoneElse),
                }
                next.requeue(agent_id, Some(*cooldown_until));
                next.history.push(step(
                    Step::Declined,
                    Some(agent_id),
                    agent_id,
                    "declined the offer",
                ));
            }
            HandoffChange::ExpireOffer {
                reason,
                cooldown_until,
                ..
            } => {
                self.expect(&[HandoffStatus::Offered])?;
                let agent_id = self
                    .offer
                    .as_ref()
                    .map(|o| o.agent_id.clone())
                    .unwrap_or_default();
                next.requeue(&agent_id, *cooldown_until);
                next.history
                    .push(step(Step::OfferExpired, Some(&agent_id), BY_BATON, reason));
            }
            HandoffChange::Release { reason } => {
                self.expect(&[HandoffStatus::Offered, HandoffStatus::Assigned])?;
                let holder = self.holder().map(str::to_string);
                next.status = HandoffStatus::Queued;
                next.offer = None;
                next.agent_id = None;
                next.assigned_at = None;
                next.history
                    .push(step(Step::Released, holder.as_deref(), BY_BATON, reason));
            }
            HandoffChange::Transfer {
                team,
                priority,
                by,
                reason,
                note,
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
                    note: note
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                    ..step(Step::Transferred, None, by, reason)
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
                next.assign(agent_id, now);
                next.history
                    .push(step(Step::Reassigned, Some(agent_id), by, reason));
            }
            HandoffChange::MarkOffline { reason } => {
                self.expect(&[HandoffStatus::Queued])?;
                next.offline = true;
                next.history
                    .push(step(Step::Offline, None, BY_BATON, reason));
            }
            HandoffChange::RaisePriority { to, reason } => {
                self.expect(&[HandoffStatus::Queued, HandoffStatus::Offered])?;
                if self.priority >= *to {
                    return Err(Refusal::NotLower(self.priority));
                }
                next.priority = *to;
                next.history
                    .push(step(Step::PriorityRaised, None, BY_BATON, reason));
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
                let (kind, default_reason) = match outcome {
                    Outcome::Resolved => (Step::Resolved, "resolved"),
                    Outcome::HandedBack => (Step::HandedBack, "handed back to the AI"),
                };
                next.history.push(step(
                    kind,
                    self.agent_id.as_deref(),
                    by,
                    next.resolution_note.as_deref().unwrap_or(default_reason),
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
                    Step::Rated,
                    None,
                    "customer",
                    &format!("the customer rated it {score} of 5"),
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

    /// The step that made the handoff what it is: the last of its history.
    pub fn last_step(&self) -> Option<&RoutingStep> {
        self.history.last()
    }

    /// Whether `agent_id` declined the handoff or let its offer lapse, and their cool-down
    /// has not ended at `now`.
    pub fn cooling_down(&self, agent_id: &str, now: DateTime<Utc>) -> bool {
        self.declined
            .iter()
            .any(|c| c.agent_id == agent_id && c.until > now)
    }

    /// The agents whose cool-down for this handoff has not ended at `now`.
    pub fn cooling_agents(&self, now: DateTime<Utc>) -> Vec<&str> {
        self.declined
            .iter()
            .filter(|c| c.until > now)
            .map(|c| c.agent_id.as_str())
            .collect()
    }

    /// The staff-only timeline event that records the handoff's last step ([`Self::apply`]
    /// or creation named it). The agent named is the one the step concerns, else the owner.
    pub fn step_event(&self) -> crate::EventBody {
        let last = self.last_step();
        crate::EventBody::Handoff {
            handoff_id: self.id.clone(),
            step: last.map_or(Step::Queued, |s| s.step),
            status: self.status,
            team: self.team.clone(),
            agent_id: last
                .and_then(|s| s.agent_id.clone())
                .or_else(|| self.agent_id.clone()),
            reason: last.map(|s| s.reason.clone()).unwrap_or_default(),
        }
    }

    /// How long the customer has waited at `now` (for a handoff still waiting for a person).
    pub fn waiting(&self, now: DateTime<Utc>) -> chrono::Duration {
        (now - self.created_at).max(chrono::Duration::zero())
    }

    /// When the handoff entered its current team's queue: its last transfer, or its creation.
    pub fn in_team_since(&self) -> DateTime<Utc> {
        self.history
            .iter()
            .rev()
            .find(|s| s.step == Step::Transferred)
            .map_or(self.created_at, |s| s.at)
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

    fn assign(&mut self, agent_id: &str, now: DateTime<Utc>) {
        self.status = HandoffStatus::Assigned;
        self.offer = None;
        self.offline = false;
        self.agent_id = Some(agent_id.to_string());
        self.assigned_at = Some(now);
    }

    /// Back to its place in the queue (its `created_at` is unchanged), with the agent cooling
    /// down until `until` when given.
    fn requeue(&mut self, agent_id: &str, until: Option<DateTime<Utc>>) {
        self.status = HandoffStatus::Queued;
        self.offer = None;
        let Some(until) = until.filter(|_| !agent_id.is_empty()) else {
            return;
        };
        match self.declined.iter_mut().find(|c| c.agent_id == agent_id) {
            Some(cooldown) => cooldown.until = cooldown.until.max(until),
            None => self.declined.push(Cooldown {
                agent_id: agent_id.to_string(),
                until,
            }),
        }
    }
}

fn check_capacity<'a>(
    agent_id: &str,
    agent: Option<&'a AgentSlot>,
    must_be_online: bool,
) -> Result<&'a AgentSlot, Refusal> {
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
    Ok(agent)
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
            teams: vec!["billing".into()],
            active_other,
            offers_other: 0,
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
                one_at_a_time: true,
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
        let steps: Vec<Step> = rated.history.iter().map(|s| s.step).collect();
        assert_eq!(
            steps,
            [
                Step::Queued,
                Step::Offered,
                Step::Accepted,
                Step::Resolved,
                Step::Rated
            ]
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
            one_at_a_time: true,
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
    fn a_declined_or_lapsed_offer_cools_the_agent_down_for_a_while_not_for_good() {
        let offered = offer_to(&queued(), "dana").unwrap();
        let declined = offered
            .apply(
                &HandoffChange::Decline {
                    agent_id: "dana".into(),
                    cooldown_until: t("2026-03-02T10:02:35Z"),
                },
                None,
                t("2026-03-02T10:00:35Z"),
            )
            .unwrap();
        assert_eq!(declined.status, HandoffStatus::Queued);
        assert_eq!(
            declined.created_at,
            t("2026-03-02T10:00:00Z"),
            "back to its place in line"
        );
        assert!(declined.cooling_down("dana", t("2026-03-02T10:02:34Z")));
        assert!(!declined.cooling_down("dana", t("2026-03-02T10:02:35Z")));
        // While Dana cools down the offer to her is refused; afterwards it is made again.
        assert!(matches!(
            offer_to(&declined, "dana"),
            Err(Refusal::AgentUnavailable { .. })
        ));
        let again = declined
            .apply(
                &HandoffChange::Offer {
                    agent_id: "dana".into(),
                    expires_at: t("2026-03-02T10:03:30Z"),
                    reason: "again".into(),
                    one_at_a_time: true,
                },
                Some(&slot("dana", Presence::Online, 0, 3)),
                t("2026-03-02T10:03:00Z"),
            )
            .unwrap();
        assert_eq!(again.holder(), Some("dana"));
        let expired = offer_to(&declined, "sam")
            .unwrap()
            .apply(
                &HandoffChange::ExpireOffer {
                    reason: "not accepted within 30 s".into(),
                    cooldown_until: Some(t("2026-03-02T10:03:30Z")),
                    away_after_missed: 3,
                },
                None,
                t("2026-03-02T10:01:30Z"),
            )
            .unwrap();
        assert_eq!(
            expired.cooling_agents(t("2026-03-02T10:01:30Z")),
            vec!["dana", "sam"]
        );
        // A transfer starts afresh in the new team.
        let moved = expired
            .apply(
                &HandoffChange::Transfer {
                    team: Some("support".into()),
                    priority: Some(Priority::Urgent),
                    by: "dana".into(),
                    reason: "wrong team".into(),
                    note: Some("needs a refund".into()),
                },
                None,
                t("2026-03-02T10:02:00Z"),
            )
            .unwrap();
        assert!(moved.declined.is_empty());
        assert_eq!(
            moved.last_step().unwrap().note.as_deref(),
            Some("needs a refund")
        );
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

    #[test]
    fn handoffs_stored_with_bare_declined_ids_are_offered_to_those_agents_again() {
        let mut json = serde_json::to_value(queued()).unwrap();
        json["declined"] = serde_json::json!(["dana"]);
        let stored: Handoff = serde_json::from_value(json).unwrap();
        assert!(!stored.cooling_down("dana", t("2026-03-02T10:00:30Z")));
        assert!(offer_to(&stored, "dana").is_ok());
    }

    #[test]
    fn one_offer_at_a_time_waits_for_the_agents_pending_offer() {
        let busy = AgentSlot {
            offers_other: 1,
            ..slot("dana", Presence::Online, 1, 3)
        };
        let offer = |one_at_a_time| HandoffChange::Offer {
            agent_id: "dana".into(),
            expires_at: t("2026-03-02T10:01:00Z"),
            reason: String::new(),
            one_at_a_time,
        };
        let at = t("2026-03-02T10:00:30Z");
        assert!(matches!(
            queued().apply(&offer(true), Some(&busy), at),
            Err(Refusal::AgentUnavailable { reason, .. }) if reason == "another offer is waiting for them"
        ));
        assert!(queued().apply(&offer(false), Some(&busy), at).is_ok());
    }

    #[test]
    fn an_agent_takes_a_queued_handoff_of_their_team_within_capacity() {
        let at = t("2026-03-02T10:00:30Z");
        let take = |agent: &str| HandoffChange::Take {
            agent_id: agent.into(),
            any_team: false,
        };
        let taken = queued()
            .apply(&take("dana"), Some(&slot("dana", Presence::Away, 1, 3)), at)
            .unwrap();
        assert_eq!(taken.status, HandoffStatus::Assigned);
        assert_eq!(taken.agent_id.as_deref(), Some("dana"));
        assert_eq!(taken.last_step().unwrap().step, Step::Taken);
        assert_eq!(
            Step::Taken.conversation_state(),
            Some(ConversationState::Human)
        );
        // Capacity and teams apply; a supervisor takes from any team.
        assert!(matches!(
            queued().apply(
                &take("dana"),
                Some(&slot("dana", Presence::Online, 3, 3)),
                at
            ),
            Err(Refusal::AgentUnavailable { .. })
        ));
        let outsider = AgentSlot {
            teams: vec!["support".into()],
            ..slot("lee", Presence::Online, 0, 3)
        };
        assert!(matches!(
            queued().apply(&take("lee"), Some(&outsider), at),
            Err(Refusal::NotInTeam { .. })
        ));
        assert!(
            queued()
                .apply(
                    &HandoffChange::Take {
                        agent_id: "lee".into(),
                        any_team: true
                    },
                    Some(&outsider),
                    at
                )
                .is_ok()
        );
        // Offered to someone else: not theirs to take; offered to them: taking accepts it.
        let offered = offer_to(&queued(), "sam").unwrap();
        assert_eq!(
            offered.apply(
                &take("dana"),
                Some(&slot("dana", Presence::Online, 0, 3)),
                at
            ),
            Err(Refusal::OfferedToSomeoneElse)
        );
        assert!(
            offered
                .apply(&take("sam"), Some(&slot("sam", Presence::Online, 0, 3)), at)
                .is_ok()
        );
    }

    #[test]
    fn priority_only_rises() {
        let at = t("2026-03-02T10:05:00Z");
        let raise = |to| HandoffChange::RaisePriority {
            to,
            reason: "waited over 5 min".into(),
        };
        let raised = queued().apply(&raise(Priority::Urgent), None, at).unwrap();
        assert_eq!(raised.priority, Priority::Urgent);
        assert_eq!(raised.last_step().unwrap().step, Step::PriorityRaised);
        assert_eq!(
            raised.apply(&raise(Priority::High), None, at),
            Err(Refusal::NotLower(Priority::Urgent))
        );
    }

    #[test]
    fn every_step_names_itself_and_the_state_it_leaves_the_conversation_in() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
            assert_eq!(
                serde_json::to_value(step).unwrap(),
                serde_json::json!(step.as_str())
            );
        }
        assert_eq!(
            Step::Resolved.conversation_state(),
            Some(ConversationState::Resolved)
        );
        assert_eq!(
            Step::HandedBack.conversation_state(),
            Some(ConversationState::Ai)
        );
        assert_eq!(Step::Declined.conversation_state(), None);
    }
}
