//! What a responder hands back: the reply text and everything the decision, the brief and the
//! console need to explain it (confidence, articles used, a one-line reasoning, and any reason
//! to bring in a human).

use serde::{Deserialize, Serialize};

/// A knowledge-base article as cited in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArticleRef {
    /// The article's id.
    pub id: String,
    /// The article's title.
    pub title: String,
    /// Where the customer can read the whole article, when links are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What kind of reply this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyKind {
    /// An answer drawn from the knowledge base.
    Answer,
    /// A short question asking which of two (or more) close articles the customer means.
    Clarify {
        /// The articles offered, best first.
        options: Vec<ArticleRef>,
    },
    /// No answer: the knowledge base does not cover the question, the message asked nothing,
    /// or the model could not be used. Whether to escalate is the policy's call.
    NoAnswer,
}

/// A responder's reply to one customer turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The text shown to the customer.
    pub text: String,
    /// Answer, clarifying question or no answer (serialised flat as `kind`, plus `options`
    /// for a clarifying question).
    #[serde(flatten)]
    pub kind: ReplyKind,
    /// The calibrated retrieval confidence that the top article answers the question; never
    /// the model's opinion of itself. `None` when there was no knowledge base or the turn
    /// asked nothing.
    pub confidence: Option<f64>,
    /// The model's own confidence in its answer, recorded for the console and evaluations
    /// only: nothing decides on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_confidence: Option<f64>,
    /// The articles the reply is drawn from or cites.
    pub articles_used: Vec<ArticleRef>,
    /// One line saying why this reply, for the console and `baton analyze`.
    pub reasoning: String,
    /// Why the responder thinks a human should take over, if it does. The policy adds a
    /// trigger for it; a responder can never cancel one.
    pub needs_human: Option<String>,
    /// Why the model could not be used, when the configuration says to escalate on failure
    /// (the policy turns it into an `ai_error` trigger).
    pub ai_error: Option<String>,
    /// The model that wrote the reply; `None` for the built-in responder.
    pub model: Option<String>,
}

impl Reply {
    /// A reply of `kind` with `text`, no articles and no reasons to escalate.
    pub fn new(kind: ReplyKind, text: impl Into<String>, confidence: Option<f64>) -> Self {
        Self {
            text: text.into(),
            kind,
            confidence,
            model_confidence: None,
            articles_used: Vec::new(),
            reasoning: String::new(),
            needs_human: None,
            ai_error: None,
            model: None,
        }
    }

    /// Whether the reply answers the question.
    pub fn is_answer(&self) -> bool {
        self.kind == ReplyKind::Answer
    }
}

/// `text` on one line: line breaks become spaces and the result is cut to `max_chars`
/// characters, so model-written reasons cannot break the one-line reasoning.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        let mut cut: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clarifying_reply_is_flat_on_the_wire() {
        let mut reply = Reply::new(
            ReplyKind::Clarify {
                options: vec![ArticleRef {
                    id: "a".into(),
                    title: "A".into(),
                    url: None,
                }],
            },
            "Do you mean A?",
            Some(0.5),
        );
        reply.reasoning = "two close articles".into();
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["kind"], "clarify");
        assert_eq!(json["options"][0]["id"], "a");
        assert_eq!(json["confidence"], 0.5);
        assert!(json.get("model_confidence").is_none());
        let back: Reply = serde_json::from_value(json).unwrap();
        assert_eq!(back, reply);
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line("a\nb  c", 10), "a b c");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }
}
