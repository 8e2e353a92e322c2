//! The decision for one customer turn: `answer` or `escalate`, with every trigger that fired,
//! the value it saw and the threshold it crossed, so an operator can read why.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reason to hand the conversation to a person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// The customer asked for a person.
    ExplicitRequest,
    /// Frustration built up, or the turn itself is very negative.
    Sentiment,
    /// The AI is not confident that the knowledge base answers the question.
    Confidence,
    /// The topic is one that policy reserves for people.
    Policy,
    /// The conversation is going in circles.
    Loop,
    /// The AI failed to produce an answer (or the model said it needs a person).
    AiError,
    /// A person asked for it (an agent, or the model's `needs_human`).
    AgentRequest,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 7] = [
        TriggerKind::ExplicitRequest,
        TriggerKind::Sentiment,
        TriggerKind::Confidence,
        TriggerKind::Policy,
        TriggerKind::Loop,
        TriggerKind::AiError,
        TriggerKind::AgentRequest,
    ];

    /// The name used on the wire and in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::ExplicitRequest => "explicit_request",
            TriggerKind::Sentiment => "sentiment",
            TriggerKind::Confidence => "confidence",
            TriggerKind::Policy => "policy",
            TriggerKind::Loop => "loop",
            TriggerKind::AiError => "ai_error",
            TriggerKind::AgentRequest => "agent_request",
        }
    }

    /// Parses a trigger name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trigger that fired, with what made it fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The rule that fired: the policy key, with the segment that set its threshold
    /// (`segments.enterprise.confidence`), or `always_human.billing_dispute`.
    pub rule: String,
    /// The value observed on this turn (a score, a confidence, a frustration level).
    pub value: f64,
    /// The threshold it crossed; `null` when the trigger has none (an AI error).
    pub threshold: Option<f64>,
    /// What the customer wrote or what was seen that supports it.
    pub evidence: Vec<String>,
}

/// What Baton does with a customer turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The AI answers.
    Answer,
    /// A person takes over.
    Escalate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Escalate => "escalate",
        }
    }
}

/// The decision for one customer turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub action: Action,
    /// Every trigger that fired, strongest reason first (empty when the AI answers).
    pub triggers: Vec<Trigger>,
    /// One sentence an operator can read.
    pub explanation: String,
    /// The policy that decided (the content hash of its file; `builtin` for the defaults).
    pub policy_version: String,
    /// The knowledge-base revision retrieval read (`null` without a knowledge base).
    pub kb_revision: Option<i64>,
    /// The segments of the policy that matched this customer and time, in precedence order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
}

impl Decision {
    /// Whether the turn goes to a person.
    pub fn escalates(&self) -> bool {
        self.action == Action::Escalate
    }

    /// The kinds of the triggers that fired, in order, without repeats.
    pub fn trigger_kinds(&self) -> Vec<TriggerKind> {
        let mut kinds: Vec<TriggerKind> = Vec::new();
        for t in &self.triggers {
            if !kinds.contains(&t.kind) {
                kinds.push(t.kind);
            }
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_names_round_trip() {
        for k in TriggerKind::ALL {
            assert_eq!(TriggerKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(TriggerKind::parse("mood"), None);
    }

    #[test]
    fn decision_lists_each_trigger_kind_once() {
        let trigger = |kind| Trigger {
            kind,
            rule: "test".into(),
            value: 1.0,
            threshold: Some(0.5),
            evidence: Vec::new(),
        };
        let decision = Decision {
            action: Action::Escalate,
            triggers: vec![
                trigger(TriggerKind::ExplicitRequest),
                trigger(TriggerKind::Sentiment),
                trigger(TriggerKind::ExplicitRequest),
            ],
            explanation: String::new(),
            policy_version: "builtin".into(),
            kb_revision: None,
            segments: Vec::new(),
        };
        assert_eq!(
            decision.trigger_kinds(),
            vec![TriggerKind::ExplicitRequest, TriggerKind::Sentiment]
        );
    }
}
