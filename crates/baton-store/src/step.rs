//! A handoff's writes as both backends make them, decided before anything is written: an
//! escalation (the new handoff, its steps and what the customer is told) and a step (the
//! handoff as the core's state machine left it, the event naming the step, the state it
//! moves the conversation to, the customer's message and the agent's count of missed
//! offers). The backends add the locks and the SQL, nothing else.

use baton_core::handoff::notice::{self, HandoverNotice, Names};
use baton_core::handoff::{Handoff, HandoffChange, RoutingStep, Step};
use baton_core::routing::Presence;
use baton_core::{Brief, ConversationState, EventBody, NewEvent, Role};
use chrono::{DateTime, Utc};

use crate::Result;
use crate::codec::{self, EventRecord, HandoffRecord};

/// Why the conversation waits for a person when the escalation's message does not say.
const WAITING_FOR_A_PERSON: &str = "waiting for a person";

/// A new handoff, ready to be written with [`crate::Store::create_handoff`].
pub(crate) struct Escalation {
    pub handoff: Handoff,
    pub record: HandoffRecord,
    pub brief_json: String,
    /// When the conversation moves to `waiting_human`: the handoff's creation.
    pub at: DateTime<Utc>,
    /// The customer-facing reason of that move.
    pub state_reason: String,
    /// The escalating turn's decision, written first.
    pub decision: Option<EventRecord>,
    /// One staff-only `handoff` event per step of the handoff's history.
    pub steps: Vec<EventRecord>,
    /// What the customer is told.
    pub message: Option<EventRecord>,
}

impl Escalation {
    pub fn new(
        handoff: &Handoff,
        brief: &Brief,
        decision: Option<NewEvent>,
        message: Option<NewEvent>,
    ) -> Result<Self> {
        let state_reason = match &message {
            Some(NewEvent {
                body:
                    EventBody::Message {
                        handover: Some(notice),
                        ..
                    },
                ..
            }) => notice.state_reason(),
            _ => WAITING_FOR_A_PERSON.to_string(),
        };
        let steps = handoff
            .history
            .iter()
            .map(|step| {
                EventRecord::new(NewEvent {
                    at: step.at,
                    body: step_event(handoff, step),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Escalation {
            handoff: handoff.clone(),
            record: HandoffRecord::new(handoff)?,
            brief_json: codec::to_json(brief)?,
            at: codec::truncate_to_micros(handoff.created_at),
            state_reason,
            decision: decision.map(EventRecord::new).transpose()?,
            steps,
            message: message.map(EventRecord::new).transpose()?,
        })
    }
}

/// The staff-only event recording one step of `handoff`'s history, with the fields
/// [`Handoff::step_event`] gives its last step.
fn step_event(handoff: &Handoff, step: &RoutingStep) -> EventBody {
    EventBody::Handoff {
        handoff_id: handoff.id.clone(),
        step: step.step,
        status: handoff.status,
        team: handoff.team.clone(),
        agent_id: step.agent_id.clone().or_else(|| handoff.agent_id.clone()),
        reason: step.reason.clone(),
    }
}

/// One step of a handoff, ready to be written with [`crate::Store::change_handoff`].
pub(crate) struct StepWrite {
    /// The handoff as the step left it.
    pub handoff: Handoff,
    pub record: HandoffRecord,
    /// The staff-only `handoff` event naming the step.
    pub step_event: EventRecord,
    /// The state the step moves the conversation to, with the reason of its
    /// `state_changed` event; the backend checks the move against the stored state.
    pub moves_to: Option<(ConversationState, Option<String>)>,
    /// What the customer sees of the step: Baton's system message about it, or their own
    /// rating.
    pub message: Option<EventRecord>,
    pub missed_offers: MissedOffers,
}

impl StepWrite {
    /// The writes of the step that took the handoff to `next` through `change` at `now`.
    pub fn new(
        next: Handoff,
        change: &HandoffChange,
        names: &Names,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let notice = notice::for_step(&next, names);
        let last = next.last_step();
        let moves_to = last
            .and_then(|step| step.step.conversation_state())
            .map(|to| (to, notice.as_ref().map(HandoverNotice::state_reason)));
        let missed_offers = MissedOffers::of(change, last);
        // The customer hears of joins, transfers and endings in a system message; their own
        // rating is shown back to them.
        let body = match (notice, last.map(|s| s.step)) {
            (Some(notice), _) => Some(system_message(notice, now)),
            (None, Some(Step::Rated)) => next.csat.as_ref().map(|csat| EventBody::Rating {
                score: csat.score,
                comment: csat.comment.clone(),
            }),
            _ => None,
        };
        let message = body
            .map(|body| EventRecord::new(NewEvent { at: now, body }))
            .transpose()?;
        Ok(StepWrite {
            record: HandoffRecord::new(&next)?,
            step_event: EventRecord::new(NewEvent {
                at: now,
                body: next.step_event(),
            })?,
            handoff: next,
            moves_to,
            message,
            missed_offers,
        })
    }
}

/// Baton's message to the customer about their handover: the sentence, and the same facts
/// as data.
fn system_message(notice: HandoverNotice, now: DateTime<Utc>) -> EventBody {
    EventBody::message(Role::System, notice.text(now)).with_handover(notice)
}

/// What a step does to an agent's count of offers missed in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MissedOffers {
    Unchanged,
    /// The agent let an offer lapse unanswered: one more, and away once the count reaches
    /// `away_after` (0: never).
    OneMore {
        agent_id: String,
        away_after: u32,
    },
    /// The agent answered an offer (accepted, took or declined it): the count starts again.
    Reset {
        agent_id: String,
    },
}

impl MissedOffers {
    fn of(change: &HandoffChange, last: Option<&RoutingStep>) -> Self {
        let Some(step) = last else {
            return MissedOffers::Unchanged;
        };
        let Some(agent_id) = step.agent_id.clone().filter(|id| !id.is_empty()) else {
            return MissedOffers::Unchanged;
        };
        match (step.step, change) {
            (
                Step::OfferExpired,
                HandoffChange::ExpireOffer {
                    cooldown_until: Some(_),
                    away_after_missed,
                    ..
                },
            ) => MissedOffers::OneMore {
                agent_id,
                away_after: *away_after_missed,
            },
            (Step::Accepted | Step::Taken | Step::Declined, _) => MissedOffers::Reset { agent_id },
            _ => MissedOffers::Unchanged,
        }
    }
}

/// Why an agent who has now missed `missed` offers in a row, with `presence` as stored, is
/// set away; `None` when they stay as they are (below `away_after`, which 0 disables, or
/// not online).
pub(crate) fn away_reason(away_after: u32, missed: i64, presence: &str) -> Option<String> {
    (away_after > 0 && missed >= i64::from(away_after) && presence == Presence::Online.as_str())
        .then(|| match missed {
            1 => "missed an offer".to_string(),
            n => format!("missed {n} offers in a row"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_set_away_only_when_online_and_at_the_limit() {
        assert_eq!(
            away_reason(3, 3, "online").as_deref(),
            Some("missed 3 offers in a row")
        );
        assert_eq!(away_reason(3, 2, "online"), None);
        assert_eq!(away_reason(3, 4, "away"), None);
        assert_eq!(away_reason(0, 9, "online"), None, "0: never");
    }
}
