//! What the customer is told while they wait: who they are waiting for, their place in line
//! and an estimate of the wait — only when there is a basis for one.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::agents::{ANY_TEAM, AgentAvailability, Presence};
use super::queue::QueueEntry;
use crate::handoff::notice::{HandoverNotice, NoticeKind};
use crate::handoff::{Handoff, HandoffStatus};

/// What a wait estimate is based on, for one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeamStats {
    /// Members online now.
    pub agents_online: u32,
    /// Conversations the online members can still take.
    pub spare_capacity: u32,
    /// Conversations the online members are handling now.
    pub active_conversations: u32,
    /// Median time from an agent accepting a handoff to its end, over recent handoffs;
    /// `None` when there are too few to say.
    pub median_handle_time: Option<Duration>,
}

impl TeamStats {
    /// The stats of `team` from its members' availability and a median handle time.
    pub fn from_agents(
        team: &str,
        agents: &[AgentAvailability],
        median_handle_time: Option<Duration>,
    ) -> Self {
        let online = agents
            .iter()
            .filter(|a| a.in_team(team) && a.presence == Presence::Online);
        let mut stats = TeamStats {
            median_handle_time,
            ..TeamStats::default()
        };
        for agent in online {
            stats.agents_online += 1;
            stats.spare_capacity += agent.spare_capacity();
            stats.active_conversations += agent.active_conversations;
        }
        stats
    }
}

/// Estimates how long the handoff at `position` (from 1) in its team's queue waits for a
/// person. `Some(Duration::ZERO)` when a slot is free for it now; `None` when there is no
/// basis for an estimate (nobody online, or no recent handle times).
///
/// Each conversation in progress ends after about the median handle time; with `m` in
/// progress, a slot frees every `median / m` on average, and the handoff needs the
/// `position - spare`-th slot to free.
pub fn estimate_wait(position: usize, stats: &TeamStats) -> Option<Duration> {
    if stats.agents_online == 0 {
        return None;
    }
    let position = position.max(1) as u64;
    let spare = u64::from(stats.spare_capacity);
    if position <= spare {
        return Some(Duration::ZERO);
    }
    let handle = stats.median_handle_time?;
    if stats.active_conversations == 0 || handle.is_zero() {
        return None;
    }
    let slots_needed = position - spare;
    let per_slot = handle.as_secs_f64() / f64::from(stats.active_conversations);
    Some(Duration::from_secs_f64(per_slot * slots_needed as f64))
}

/// Fewest handled conversations a median handle time is computed from.
pub const MIN_HANDLE_SAMPLES: usize = 5;
/// Most recent handled conversations a median handle time looks at.
pub const MAX_HANDLE_SAMPLES: usize = 50;

/// The median time from an agent accepting a handoff to its end, over the most recent (at
/// most [`MAX_HANDLE_SAMPLES`]) closed handoffs of `team` that a person held; `closed` comes
/// most recent first. `None` with fewer than [`MIN_HANDLE_SAMPLES`]: no basis for an estimate.
pub fn median_handle_time(
    closed: &[crate::handoff::Handoff],
    team: Option<&str>,
) -> Option<Duration> {
    let mut times: Vec<Duration> = closed
        .iter()
        .filter(|h| h.team.as_deref() == team)
        .filter_map(|h| (h.closed_at? - h.assigned_at?).to_std().ok())
        .take(MAX_HANDLE_SAMPLES)
        .collect();
    if times.len() < MIN_HANDLE_SAMPLES {
        return None;
    }
    times.sort_unstable();
    let middle = times.len() / 2;
    Some(if times.len().is_multiple_of(2) {
        (times[middle - 1] + times[middle]) / 2
    } else {
        times[middle]
    })
}

/// What the customer's standing depends on, for one team (or for handoffs without one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamOutlook {
    /// The team's name as customers see it.
    pub display: Option<String>,
    /// Whether the team works now.
    pub open: bool,
    /// When a closed team works again.
    pub back_at: Option<DateTime<Utc>>,
    /// How long a conversation takes a person: the team's median, or the configured typical
    /// time while there are too few to say.
    pub handle_time: Option<Duration>,
    /// Above this estimated wait the customer is told the team is busy rather than promised
    /// a time (none: no limit).
    pub max_wait: Option<Duration>,
}

/// Where each waiting customer stands at `now`, in queue order: `waiting` are the open
/// handoffs without an owner (queued or offered), in any order. A handoff being offered is
/// `connecting`; in a closed team, `closed` with when it is back; with nobody of the team
/// online, `unavailable`; otherwise `in_line` with the place among the team's waiting
/// handoffs and an estimate when there is a basis for one (`busy` past the team's limit).
/// Never "nobody is available" while an agent is being offered the conversation.
pub fn standings(
    waiting: &[&Handoff],
    agents: &[AgentAvailability],
    team: impl Fn(Option<&str>) -> TeamOutlook,
    now: DateTime<Utc>,
) -> Vec<(String, HandoverNotice)> {
    let mut ordered: Vec<(QueueEntry, &Handoff)> = waiting
        .iter()
        .filter(|h| matches!(h.status, HandoffStatus::Queued | HandoffStatus::Offered))
        .map(|h| (QueueEntry::of(h, now), *h))
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    let mut places: std::collections::HashMap<&str, usize> = Default::default();
    let mut outlooks: std::collections::HashMap<Option<&str>, (TeamOutlook, TeamStats)> =
        Default::default();
    let mut out = Vec::with_capacity(ordered.len());
    for (entry, handoff) in &ordered {
        let place = places.entry(entry.team.as_str()).or_default();
        *place += 1;
        let position = *place;
        let (outlook, stats) = outlooks.entry(handoff.team.as_deref()).or_insert_with(|| {
            let outlook = team(handoff.team.as_deref());
            let key = handoff.team.as_deref().unwrap_or(ANY_TEAM);
            let stats = TeamStats::from_agents(key, agents, outlook.handle_time);
            (outlook, stats)
        });
        let mut notice = HandoverNotice {
            team: outlook.display.clone(),
            position: Some(position),
            ..HandoverNotice::new(NoticeKind::InLine)
        };
        if handoff.status == HandoffStatus::Offered {
            notice.kind = NoticeKind::Connecting;
        } else if !outlook.open {
            notice.kind = NoticeKind::Closed;
            notice.back_at = outlook.back_at;
        } else if stats.agents_online == 0 {
            notice.kind = NoticeKind::Unavailable;
        } else {
            let estimate = estimate_wait(position, stats);
            if outlook
                .max_wait
                .is_some_and(|max| estimate.is_some_and(|e| e > max))
            {
                notice.kind = NoticeKind::Busy;
            } else {
                notice.estimate_secs = estimate.map(|e| e.as_secs());
            }
        }
        out.push((handoff.id.clone(), notice));
    }
    out
}

/// "1st", "2nd", "3rd", "11th", "22nd".
pub(crate) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The estimate in plain words, rounded the way people say it: "about a minute", "about 3
/// minutes", "about 25 minutes", "about an hour", "about 2 hours".
pub(crate) fn in_words(wait: Duration) -> String {
    let minutes = (wait.as_secs() + 30) / 60;
    match minutes {
        0 | 1 => "about a minute".to_string(),
        m if m < 10 => format!("about {m} minutes"),
        m if m < 55 => format!("about {} minutes", (m + 2) / 5 * 5),
        m if m < 90 => "about an hour".to_string(),
        m => format!("about {} hours", (m + 30) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::Handoff;
    use chrono::{DateTime, Utc};

    /// What the customer in line at `position` for `team` reads.
    fn waiting_message(team: &str, position: usize, estimate: Option<Duration>) -> String {
        HandoverNotice {
            team: Some(team.into()),
            position: Some(position),
            estimate_secs: estimate.map(|e| e.as_secs()),
            ..HandoverNotice::new(NoticeKind::InLine)
        }
        .text(DateTime::<Utc>::MIN_UTC)
    }

    fn handled(team: &str, minutes: i64) -> Handoff {
        let start: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let mut h = Handoff::new(
            format!("h{minutes}"),
            "c".into(),
            Some(team.into()),
            crate::Priority::Normal,
            vec![],
            None,
            None,
            String::new(),
            start,
        );
        h.assigned_at = Some(start);
        h.closed_at = Some(start + chrono::Duration::minutes(minutes));
        h
    }

    #[test]
    fn handle_time_is_the_median_of_the_teams_recent_conversations() {
        let mut closed: Vec<Handoff> = [4, 9, 6, 30, 8]
            .iter()
            .map(|m| handled("billing", *m))
            .collect();
        closed.push(handled("support", 1));
        // A ticket closed without anyone accepting it is not a handled conversation.
        let mut unattended = handled("billing", 2);
        unattended.assigned_at = None;
        closed.push(unattended);
        assert_eq!(
            median_handle_time(&closed, Some("billing")),
            Some(Duration::from_secs(8 * 60))
        );
        // Too few to say anything.
        assert_eq!(median_handle_time(&closed, Some("support")), None);
    }

    fn stats(online: u32, spare: u32, active: u32, handle_min: Option<u64>) -> TeamStats {
        TeamStats {
            agents_online: online,
            spare_capacity: spare,
            active_conversations: active,
            median_handle_time: handle_min.map(|m| Duration::from_secs(m * 60)),
        }
    }

    #[test]
    fn second_in_line_hears_an_honest_estimate() {
        // Two agents, six conversations in progress, none spare, 9-minute median: a slot
        // frees every 1.5 minutes; second in line waits about 3.
        let wait = estimate_wait(2, &stats(2, 0, 6, Some(9)));
        assert_eq!(wait, Some(Duration::from_secs(180)));
        assert_eq!(
            waiting_message("Billing", 2, wait),
            "You're 2nd in line for Billing; a person usually joins in about 3 minutes."
        );
    }

    #[test]
    fn a_free_slot_means_a_person_joins_in_a_moment() {
        let wait = estimate_wait(1, &stats(1, 2, 1, None));
        assert_eq!(wait, Some(Duration::ZERO));
        assert_eq!(
            waiting_message("Billing", 1, wait),
            "You're next in line for Billing; a person should join you in a moment."
        );
    }

    #[test]
    fn no_basis_no_estimate() {
        // Nobody online.
        assert_eq!(estimate_wait(1, &stats(0, 0, 0, Some(10))), None);
        // Everyone busy but no recent handle times.
        assert_eq!(estimate_wait(1, &stats(2, 0, 4, None)), None);
        assert_eq!(
            waiting_message("Security", 3, None),
            "You're 3rd in line for Security. We'll let you know here as soon as a person joins."
        );
    }

    #[test]
    fn waits_are_said_the_way_people_say_them() {
        assert_eq!(in_words(Duration::from_secs(50)), "about a minute");
        assert_eq!(
            in_words(Duration::from_secs(7 * 60 + 10)),
            "about 7 minutes"
        );
        assert_eq!(in_words(Duration::from_secs(23 * 60)), "about 25 minutes");
        assert_eq!(in_words(Duration::from_secs(70 * 60)), "about an hour");
        assert_eq!(in_words(Duration::from_secs(150 * 60)), "about 3 hours");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(103), "103rd");
    }

    #[test]
    fn stats_count_only_online_members_of_the_team() {
        let member = |id: &str, team: &str, presence, active, capacity| AgentAvailability {
            id: id.into(),
            name: id.into(),
            teams: vec![team.into()],
            presence,
            active_conversations: active,
            capacity,
            idle_since: None,
            offers_pending: 0,
        };
        let agents = [
            member("a", "billing", Presence::Online, 2, 3),
            member("b", "billing", Presence::Online, 3, 3),
            member("c", "billing", Presence::Away, 0, 3),
            member("d", "security", Presence::Online, 0, 3),
        ];
        let s = TeamStats::from_agents("billing", &agents, Some(Duration::from_secs(600)));
        assert_eq!(s, stats(2, 1, 5, Some(10)));
    }
}
