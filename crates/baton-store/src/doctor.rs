//! Consistency checks over a store, on either database: every open handoff and its
//! conversation agree (waiting for a person while queued or offered, with a person while
//! assigned), every conversation waiting for or with a person has exactly one open handoff,
//! offers and owners name agents who exist and may hold them. `baton doctor` runs these; a
//! handoff step is one write, so on a healthy store they find nothing, crash or not.

use std::collections::HashMap;

use baton_core::handoff::{Handoff, HandoffStatus};
use baton_core::{ConversationState, StaffRole};
use serde::Serialize;

use crate::{CreationCursor, CreationPage, HandoffFilter, Result, Store};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The data contradicts itself: a customer may be stranded or served twice.
    Error,
    /// Allowed, but worth a look (an agent holding more than a capacity lowered since).
    Warning,
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable code: `handoff_state_mismatch`, `conversation_without_handoff`,
    /// `several_open_handoffs`, `missing_conversation`, `offer_without_agent`,
    /// `owner_without_agent`, `held_by_disabled_agent`, `agent_over_capacity`.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_id: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

/// What a check looked at and what it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub open_handoffs: usize,
    pub conversations_checked: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether anything contradicts itself.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Conversations read per page.
const PAGE: u32 = 500;

/// Checks the store's handoffs, the conversations waiting for or with a person, and the
/// agents holding handoffs.
pub async fn check(store: &dyn Store) -> Result<Report> {
    let open = store
        .handoffs(&HandoffFilter {
            statuses: vec![
                HandoffStatus::Queued,
                HandoffStatus::Offered,
                HandoffStatus::Assigned,
            ],
            limit: u32::MAX,
            ..Default::default()
        })
        .await?;
    let mut report = Report {
        open_handoffs: open.len(),
        ..Report::default()
    };
    let mut by_conversation: HashMap<&str, Vec<&Handoff>> = HashMap::new();
    for handoff in &open {
        by_conversation
            .entry(&handoff.conversation_id)
            .or_default()
            .push(handoff);
    }
    let error = |code, handoff: &Handoff, message: String| Finding {
        severity: Severity::Error,
        code,
        conversation_id: Some(handoff.conversation_id.clone()),
        handoff_id: Some(handoff.id.clone()),
        message,
    };

    // Each open handoff against its conversation.
    for handoff in &open {
        let expected = match handoff.status {
            HandoffStatus::Assigned => ConversationState::Human,
            _ => ConversationState::WaitingHuman,
        };
        match store.conversation(&handoff.conversation_id).await? {
            None => report.findings.push(error(
                "missing_conversation",
                handoff,
                format!(
                    "handoff {} names a conversation that does not exist",
                    handoff.id
                ),
            )),
            Some(conversation) if conversation.state != expected => report.findings.push(error(
                "handoff_state_mismatch",
                handoff,
                format!(
                    "handoff {} is {} but its conversation is {} (expected {expected})",
                    handoff.id,
                    handoff.status.as_str(),
                    conversation.state
                ),
            )),
            Some(_) => {}
        }
    }
    for (conversation_id, handoffs) in &by_conversation {
        if handoffs.len() > 1 {
            report.findings.push(Finding {
                severity: Severity::Error,
                code: "several_open_handoffs",
                conversation_id: Some(conversation_id.to_string()),
                handoff_id: None,
                message: format!(
                    "conversation {conversation_id} has {} open handoffs: {}",
                    handoffs.len(),
                    handoffs
                        .iter()
                        .map(|h| h.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }

    // Each conversation waiting for or with a person has a handoff.
    let mut after: Option<CreationCursor> = None;
    loop {
        let page = store
            .conversations_by_creation(&CreationPage {
                states: vec![ConversationState::WaitingHuman, ConversationState::Human],
                after: after.clone(),
                limit: PAGE,
                ..Default::default()
            })
            .await?;
        report.conversations_checked += page.len();
        for conversation in &page {
            if !by_conversation.contains_key(conversation.id.as_str()) {
                report.findings.push(Finding {
                    severity: Severity::Error,
                    code: "conversation_without_handoff",
                    conversation_id: Some(conversation.id.clone()),
                    handoff_id: None,
                    message: format!(
                        "conversation {} is {} but has no open handoff",
                        conversation.id, conversation.state
                    ),
                });
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(CreationCursor::after(last)),
            _ => break,
        }
    }

    // Offers and owners name agents who exist and may hold them.
    let agents = store.agents().await?;
    let agent = |id: &str| agents.iter().find(|a| a.id == id);
    for handoff in &open {
        let (holder, code) = match handoff.status {
            HandoffStatus::Offered => (
                handoff.offer.as_ref().map(|o| o.agent_id.as_str()),
                "offer_without_agent",
            ),
            HandoffStatus::Assigned => (handoff.agent_id.as_deref(), "owner_without_agent"),
            _ => continue,
        };
        match holder.and_then(agent) {
            None => report.findings.push(error(
                code,
                handoff,
                format!(
                    "handoff {} is {} without an existing agent holding it",
                    handoff.id,
                    handoff.status.as_str()
                ),
            )),
            Some(a) if a.disabled => report.findings.push(error(
                "held_by_disabled_agent",
                handoff,
                format!(
                    "handoff {} is held by {}, whose account is disabled",
                    handoff.id, a.name
                ),
            )),
            Some(_) => {}
        }
    }
    for agent in &agents {
        if agent.role == StaffRole::Agent && agent.active > agent.capacity {
            report.findings.push(Finding {
                severity: Severity::Warning,
                code: "agent_over_capacity",
                conversation_id: None,
                handoff_id: None,
                message: format!(
                    "{} ({}) holds {} conversations with a capacity of {} (was the capacity lowered?)",
                    agent.name, agent.id, agent.active, agent.capacity
                ),
            });
        }
    }
    Ok(report)
}
