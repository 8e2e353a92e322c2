//! The queue as an agent's console shows it: the open handoffs of their teams (every team for
//! supervisors) and the ones they hold, in queue order, each with how long the customer has
//! waited, their place in line and a preview of their last message.

use baton_core::handoff::{Handoff, HandoffStatus};
use baton_core::{Event, EventBody};
use baton_store::HandoffFilter;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Result;
use crate::state::AppState;

/// Longest preview of a customer's message, in characters.
const PREVIEW_CHARS: usize = 140;

/// One queue card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueEntryView {
    #[serde(flatten)]
    pub handoff: Handoff,
    /// Seconds the customer has waited.
    pub waiting_secs: i64,
    /// Place among the waiting (queued or offered) handoffs of its team, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The customer's latest message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<MessagePreview>,
}

/// The start of a customer's message, for a queue card.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MessagePreview {
    pub text: String,
    pub at: DateTime<Utc>,
}

impl MessagePreview {
    /// The preview of a customer message event; `None` for any other event.
    pub fn of(event: &Event) -> Option<MessagePreview> {
        match &event.body {
            EventBody::Message {
                role: baton_core::Role::Customer,
                text,
                ..
            } => Some(MessagePreview {
                text: shorten(text),
                at: event.at,
            }),
            _ => None,
        }
    }
}

/// The first [`PREVIEW_CHARS`] characters, whitespace folded, with "…" when cut.
fn shorten(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= PREVIEW_CHARS {
        return folded;
    }
    let cut: String = folded.chars().take(PREVIEW_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Who is looking at the queue.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub staff_id: String,
    pub teams: Vec<String>,
    /// Supervisors see every team.
    pub everything: bool,
}

impl Viewer {
    /// Whether a handoff of `team` is in this viewer's queue.
    pub fn sees_team(&self, team: Option<&str>) -> bool {
        self.everything || team.is_none_or(|t| self.teams.iter().any(|m| m == t))
    }

    /// Whether an open handoff belongs on this viewer's queue: their team's, or theirs.
    pub fn sees(&self, handoff: &Handoff) -> bool {
        handoff.status.is_open()
            && (self.sees_team(handoff.team.as_deref())
                || handoff.holder() == Some(self.staff_id.as_str()))
    }
}

/// The viewer's queue at `now`, in queue order.
pub async fn queue_for(
    state: &AppState,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> Result<Vec<QueueEntryView>> {
    let open = state.store.handoffs(&HandoffFilter::open()).await?;
    let mut positions: std::collections::HashMap<Option<String>, usize> = Default::default();
    let mut entries = Vec::new();
    for handoff in open {
        let position = matches!(
            handoff.status,
            HandoffStatus::Queued | HandoffStatus::Offered
        )
        .then(|| {
            let p = positions.entry(handoff.team.clone()).or_default();
            *p += 1;
            *p
        });
        if viewer.sees(&handoff) {
            entries.push(QueueEntryView {
                waiting_secs: handoff.waiting(now).num_seconds(),
                position,
                preview: None,
                handoff,
            });
        }
    }
    let ids: Vec<String> = entries
        .iter()
        .map(|e| e.handoff.conversation_id.clone())
        .collect();
    let latest = state.store.last_customer_messages(&ids).await?;
    for entry in &mut entries {
        entry.preview = latest
            .get(&entry.handoff.conversation_id)
            .and_then(MessagePreview::of);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_fold_whitespace_and_stop_at_a_card_width() {
        assert_eq!(shorten("  I was\n charged   twice "), "I was charged twice");
        let long = "word ".repeat(60);
        let short = shorten(&long);
        assert!(short.chars().count() <= PREVIEW_CHARS);
        assert!(short.ends_with('…'));
    }
}
