//! The responder interface: what a responder is given for one customer turn (the question,
//! the recent conversation, the retrieved articles with their confidence) and the trait every
//! responder implements.

use async_trait::async_trait;
use baton_core::Role;
use baton_kb::{KbIndex, Retrieval};

use crate::reply::Reply;

/// One earlier message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Who wrote it.
    pub role: Role,
    /// What was written.
    pub text: String,
}

impl Turn {
    /// A message by `role`.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            text: text.into(),
        }
    }
}

/// An article retrieval proposed for the question.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The article's id.
    pub id: String,
    /// The article's title.
    pub title: String,
    /// The article's text.
    pub body: String,
    /// A link to the article when it has its own; otherwise the responder builds one from
    /// the configured link template.
    pub url: Option<String>,
    /// The retrieval ranking score; comparable within one retrieval only.
    pub score: f64,
}

/// What retrieval found for the question: candidates best first, and the calibrated
/// confidence that the first one answers it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retrieved {
    /// Candidate articles, best first.
    pub candidates: Vec<Candidate>,
    /// Probability (0..1) that the first candidate answers the question, from the knowledge
    /// base's calibration; `None` when there is no knowledge base or the turn asks nothing.
    pub confidence: Option<f64>,
}

impl Retrieved {
    /// Nothing retrieved (no knowledge base).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The candidates of a knowledge-base retrieval, with their bodies looked up in `index`.
    /// Hits whose article has meanwhile been retired are skipped.
    pub fn from_kb(index: &KbIndex, retrieval: &Retrieval) -> Self {
        let candidates = retrieval
            .hits
            .iter()
            .filter_map(|hit| {
                index.article(&hit.id).map(|article| Candidate {
                    id: article.id.clone(),
                    title: article.title.clone(),
                    body: article.body.clone(),
                    url: None,
                    score: hit.score,
                })
            })
            .collect();
        Self {
            candidates,
            confidence: retrieval.confidence,
        }
    }

    /// The best candidate, if any.
    pub fn top(&self) -> Option<&Candidate> {
        self.candidates.first()
    }

    /// The candidate with this id, if retrieved.
    pub fn candidate(&self, id: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.id == id)
    }
}

/// Everything a responder is given for one customer turn.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The customer's message to reply to.
    pub question: &'a str,
    /// The conversation before that message, oldest first (the most recent few turns are
    /// enough). A trailing copy of the question itself is tolerated and ignored.
    pub history: &'a [Turn],
    /// What retrieval found for the question.
    pub retrieved: &'a Retrieved,
}

impl<'a> Request<'a> {
    /// A request for `question` with no earlier conversation.
    pub fn new(question: &'a str, retrieved: &'a Retrieved) -> Self {
        Self {
            question,
            history: &[],
            retrieved,
        }
    }

    /// The same request with this earlier conversation.
    pub fn with_history(mut self, history: &'a [Turn]) -> Self {
        self.history = history;
        self
    }

    /// The history without a trailing copy of the question.
    pub(crate) fn earlier_turns(&self) -> &'a [Turn] {
        match self.history.split_last() {
            Some((last, rest))
                if last.role == Role::Customer && last.text.trim() == self.question.trim() =>
            {
                rest
            }
            _ => self.history,
        }
    }
}

/// Writes the AI's reply to one customer turn.
///
/// A responder runs only once the policy has decided to answer. It never fails: problems are
/// reported in the reply (`ai_error`, or a fallback noted in `reasoning`), so the caller
/// always has something to record and the policy can act on it.
#[async_trait]
pub trait Responder: Send + Sync {
    /// The reply to `request`.
    async fn respond(&self, request: &Request<'_>) -> Reply;

    /// A short name for logs and metrics: `"builtin"` or `"llm"`.
    fn name(&self) -> &'static str;

    /// Whether the responder reads `Request::history`; callers may skip loading it when not.
    fn uses_history(&self) -> bool {
        true
    }

    /// A short summary of `conversation` for the person taking it over, when this responder
    /// can write one; `None` leaves the brief's extractive summary in place. Like `respond`,
    /// it never fails: a problem is logged and gives `None`.
    async fn summarize(&self, conversation: &[Turn]) -> Option<String> {
        let _ = conversation;
        None
    }
}
