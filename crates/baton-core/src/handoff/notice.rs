//! What the customer is told about their handover, as data: who they wait for, their place
//! in line and an honest estimate, when a closed team is back, who joined. Clients act on
//! the fields (the widget's status line); the sentences shown in the chat are rendered from
//! them here, never parsed back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Handoff, Step};
use crate::routing::wait::{in_words, ordinal};

/// Where the customer stands, or what just happened to their handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// In line for a team with people on: `position`, and `estimate_secs` when there is a
    /// basis for one.
    InLine,
    /// A person of the team is being offered the conversation right now.
    Connecting,
    /// The team is closed: it is back at `back_at` and will reply in the chat.
    Closed,
    /// The team is open but nobody is on right now: a person replies as soon as one is.
    Unavailable,
    /// The team is on but the wait would be too long to promise: a person replies when free.
    Busy,
    /// A person (`agent`) joined the conversation.
    Joined,
    /// The conversation moved to another team (`team`).
    Transferred,
    /// The person helping had to step away: back in line.
    Released,
    /// The person (`agent`) gave the conversation back to the AI.
    HandedBack,
    /// The person (`agent`) resolved the conversation: the customer may rate it.
    Resolved,
}

impl NoticeKind {
    /// Whether the customer is still waiting for a person.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            NoticeKind::InLine
                | NoticeKind::Connecting
                | NoticeKind::Closed
                | NoticeKind::Unavailable
                | NoticeKind::Busy
        )
    }
}

/// The handover as the customer sees it: `{kind, team, position, estimate_secs, agent,
/// back_at}`. Carried by customer-visible system messages (`handover`) and by the transient
/// `queue` notices of the customer's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoverNotice {
    pub kind: NoticeKind,
    /// The team's name as customers see it ("Billing").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Place in line, from 1 (waiting kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The estimated wait in seconds, only when there is a basis for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_secs: Option<u64>,
    /// The person's name (joined, handed back, resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// When a closed team works again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_at: Option<DateTime<Utc>>,
    /// Baton asks the customer for an email address (nobody can come now and it has none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask_email: bool,
    /// The team has the customer's email address and can reply by email too (nobody can
    /// come now).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reply_by_email: bool,
}

impl HandoverNotice {
    /// A notice of `kind` with no fields yet.
    pub fn new(kind: NoticeKind) -> Self {
        HandoverNotice {
            kind,
            team: None,
            position: None,
            estimate_secs: None,
            agent: None,
            back_at: None,
            ask_email: false,
            reply_by_email: false,
        }
    }

    /// The sentence shown in the chat, rendered from the fields at `now` (for "back in
    /// about 3 hours").
    pub fn text(&self, now: DateTime<Utc>) -> String {
        let team = self.team.as_deref().unwrap_or("our support team");
        let the_team = match &self.team {
            Some(team) => format!("the {team} team"),
            None => "our support team".to_string(),
        };
        let someone = self.agent.as_deref().unwrap_or("The person helping you");
        let reply = if self.reply_by_email {
            "reply here in this chat and by email"
        } else {
            "reply here in this chat"
        };
        let mut text = match self.kind {
            NoticeKind::InLine => {
                let place = match self.position.unwrap_or(1) {
                    0 | 1 => format!("You're next in line for {team}"),
                    n => format!("You're {} in line for {team}", ordinal(n)),
                };
                match self.estimate_secs.map(Duration::from_secs) {
                    Some(wait) if wait < Duration::from_secs(30) => {
                        format!("{place}; a person should join you in a moment.")
                    }
                    Some(wait) => {
                        format!("{place}; a person usually joins in {}.", in_words(wait))
                    }
                    None => {
                        format!("{place}. We'll let you know here as soon as a person joins.")
                    }
                }
            }
            NoticeKind::Connecting => {
                format!("A person from {the_team} is being connected to you now.")
            }
            NoticeKind::Closed => {
                let when = self
                    .back_at
                    .map_or("soon".to_string(), |at| describe_when(at, now));
                format!(
                    "{} is away right now; they're back {when} and will {reply} — you can close this window and come back.",
                    capitalised(&the_team)
                )
            }
            NoticeKind::Unavailable => format!(
                "Nobody from {the_team} is available right now; a person will {reply} as soon as one is free — you can close this window and come back."
            ),
            NoticeKind::Busy => format!(
                "{} is very busy right now; a person will {reply} as soon as one is free — you can close this window and come back.",
                capitalised(&the_team)
            ),
            NoticeKind::Joined => match &self.team {
                Some(team) => format!("{someone} from {team} joined the conversation."),
                None => format!("{someone} joined the conversation."),
            },
            NoticeKind::Transferred => format!(
                "I'm bringing in {}, who can help with this; they get everything you've told us so far.",
                match &self.team {
                    Some(team) => format!("our {team} team"),
                    None => "a colleague".to_string(),
                }
            ),
            NoticeKind::Released => "The person who was helping you had to step away; I've put you back in line for the next one, with everything so far.".to_string(),
            NoticeKind::HandedBack => format!(
                "{someone} handed you back to the AI assistant. Ask for a person again any time."
            ),
            NoticeKind::Resolved => format!(
                "{someone} marked this as resolved. How did we do? Rate this conversation from 1 to 5; you can also write here again any time."
            ),
        };
        if self.ask_email {
            text.push_str(
                " If you'd like, leave your email address so the team knows who you are.",
            );
        }
        text
    }

    /// The first message of a handover: what happens, then where the customer stands.
    pub fn escalation_text(&self, now: DateTime<Utc>) -> String {
        let team = match &self.team {
            Some(team) => format!("our {team} team"),
            None => "our support team".to_string(),
        };
        format!(
            "I'm passing this to {team}, together with everything you've told me, so you won't need to repeat anything. {}",
            self.text(now)
        )
    }

    /// The customer-visible reason of the conversation's state change the notice goes with.
    pub fn state_reason(&self) -> String {
        let agent = self.agent.as_deref().unwrap_or("a person");
        match self.kind {
            NoticeKind::Joined => format!("{agent} joined"),
            NoticeKind::Transferred => match &self.team {
                Some(team) => format!("transferred to {team}"),
                None => "transferred".to_string(),
            },
            NoticeKind::Released => "back in line for a person".to_string(),
            NoticeKind::HandedBack => format!("{agent} handed back to the AI"),
            NoticeKind::Resolved => format!("resolved by {agent}"),
            _ => match &self.team {
                Some(team) => format!("waiting for {team}"),
                None => "waiting for a person".to_string(),
            },
        }
    }
}

/// "The Billing team" from "the Billing team".
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The names the customer knows things by: team display names by team id, and the person a
/// step concerns (who joined, who handed back or resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub teams: BTreeMap<String, String>,
    pub agent: Option<String>,
}

impl Names {
    /// A team's display name ("Billing"); the id itself for a team the policy no longer
    /// declares; `None` without a team.
    pub fn team(&self, team: Option<&str>) -> Option<String> {
        let team = team?;
        Some(
            self.teams
                .get(team)
                .cloned()
                .unwrap_or_else(|| team.to_string()),
        )
    }

    /// The same names with `agent` as the person concerned.
    pub fn with_agent(&self, agent: impl Into<String>) -> Names {
        Names {
            teams: self.teams.clone(),
            agent: Some(agent.into()),
        }
    }
}

/// What the customer is told of `handoff`'s last step, if anything: who joined, that it moved
/// to another team, that the person stepped away, handed back or resolved it. Offers,
/// declines, lapses and priority changes are routing's business, not the customer's.
pub fn for_step(handoff: &Handoff, names: &Names) -> Option<HandoverNotice> {
    let step = handoff.last_step()?;
    let kind = match step.step {
        Step::Accepted | Step::Taken | Step::Reassigned => NoticeKind::Joined,
        Step::Transferred => NoticeKind::Transferred,
        Step::Released => NoticeKind::Released,
        Step::HandedBack => NoticeKind::HandedBack,
        Step::Resolved => NoticeKind::Resolved,
        Step::Queued
        | Step::Offline
        | Step::Offered
        | Step::Declined
        | Step::OfferExpired
        | Step::PriorityRaised
        | Step::Rated => return None,
    };
    let mut notice = HandoverNotice::new(kind);
    notice.team = names.team(handoff.team.as_deref());
    if matches!(
        kind,
        NoticeKind::Joined | NoticeKind::HandedBack | NoticeKind::Resolved
    ) {
        notice.agent = names.agent.clone();
    }
    Some(notice)
}

/// "in about 3 hours", "on Monday at 09:00 UTC".
pub fn describe_when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (at - now).num_minutes().max(1);
    if minutes < 90 {
        format!("in about {minutes} minutes")
    } else if minutes < 12 * 60 {
        format!("in about {} hours", (minutes + 30) / 60)
    } else {
        format!("on {} at {} UTC", at.format("%A"), at.format("%H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::{AgentSlot, HandoffChange, Priority};
    use crate::routing::Presence;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn names() -> Names {
        Names {
            teams: [("billing".to_string(), "Billing".to_string())].into(),
            agent: Some("Dana".into()),
        }
    }

    #[test]
    fn the_fields_travel_and_the_sentence_is_rendered_from_them() {
        let notice = HandoverNotice {
            position: Some(2),
            estimate_secs: Some(180),
            team: Some("Billing".into()),
            ..HandoverNotice::new(NoticeKind::InLine)
        };
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "in_line", "team": "Billing", "position": 2,
                "estimate_secs": 180})
        );
        let now = t("2026-03-02T10:00:00Z");
        assert_eq!(
            notice.text(now),
            "You're 2nd in line for Billing; a person usually joins in about 3 minutes."
        );
        let closed = HandoverNotice {
            team: Some("Billing".into()),
            back_at: Some(t("2026-03-02T13:00:00Z")),
            ask_email: true,
            ..HandoverNotice::new(NoticeKind::Closed)
        };
        assert_eq!(
            closed.text(now),
            "The Billing team is away right now; they're back in about 3 hours and will reply here in this chat — you can close this window and come back. If you'd like, leave your email address so the team knows who you are."
        );
        assert!(
            HandoverNotice::new(NoticeKind::Connecting)
                .text(now)
                .contains("being connected")
        );
        let known = HandoverNotice {
            ask_email: false,
            reply_by_email: true,
            ..closed
        };
        assert!(
            known
                .text(now)
                .contains("will reply here in this chat and by email —"),
            "{}",
            known.text(now)
        );
    }

    #[test]
    fn the_customer_hears_of_joins_and_endings_not_of_routing() {
        let at = t("2026-03-02T10:00:00Z");
        let queued = Handoff::new(
            "h1".into(),
            "c1".into(),
            Some("billing".into()),
            Priority::Normal,
            vec![],
            None,
            None,
            "billing questions go to billing".into(),
            at,
        );
        let slot = AgentSlot {
            id: "st_dana".into(),
            presence: Presence::Online,
            disabled: false,
            capacity: 3,
            teams: vec!["billing".into()],
            active_other: 0,
            offers_other: 0,
        };
        let offered = queued
            .apply(
                &HandoffChange::Offer {
                    agent_id: "st_dana".into(),
                    expires_at: t("2026-03-02T10:00:30Z"),
                    reason: "least loaded".into(),
                    one_at_a_time: true,
                },
                Some(&slot),
                at,
            )
            .unwrap();
        assert_eq!(for_step(&offered, &names()), None);
        let taken = queued
            .apply(
                &HandoffChange::Take {
                    agent_id: "st_dana".into(),
                    any_team: false,
                },
                Some(&slot),
                at,
            )
            .unwrap();
        let joined = for_step(&taken, &names()).unwrap();
        assert_eq!(
            joined.text(at),
            "Dana from Billing joined the conversation."
        );
        assert_eq!(joined.state_reason(), "Dana joined");
    }
}
