//! The built-in responder: answers from the best retrieved article with its most relevant
//! passage and a citation, asks which article is meant when the top two are too close to
//! call, and says plainly that it has no answer when retrieval is not confident. It never
//! writes content of its own: every answer is the article's text.

mod passage;

use async_trait::async_trait;

use crate::citation::ArticleLinks;
use crate::config::BuiltinConfig;
use crate::reply::{Reply, ReplyKind};
use crate::responder::{Candidate, Request, Responder};

use passage::{Limits, best_passage};

/// Said when the knowledge base has no confident answer.
pub const NO_ANSWER_TEXT: &str =
    "I'm sorry, I couldn't find an answer to that in our help articles.";

/// The built-in retrieval responder (the default): no network, no model, deterministic.
#[derive(Debug, Clone)]
pub struct BuiltinResponder {
    config: BuiltinConfig,
    links: ArticleLinks,
}

impl BuiltinResponder {
    /// A responder with these thresholds, citing articles with `links`.
    pub fn new(config: BuiltinConfig, links: ArticleLinks) -> Self {
        Self { config, links }
    }

    /// The reply to `request`, synchronously (the [`Responder`] implementation wraps it).
    pub fn reply(&self, request: &Request<'_>) -> Reply {
        let retrieved = request.retrieved;
        let confidence = retrieved.confidence;
        if !baton_kb::asks_something(request.question) {
            let mut reply = Reply::new(
                ReplyKind::NoAnswer,
                acknowledgement(request.question),
                confidence,
            );
            reply.reasoning = "the message asks nothing; acknowledged without an article".into();
            return reply;
        }
        let Some(top) = retrieved.top() else {
            return self.no_answer(confidence, "no knowledge-base article matches the question");
        };
        let Some(confidence_value) = confidence else {
            return self.no_answer(
                None,
                format!(
                    "no retrieval confidence for this turn; not answering from \"{}\" without one",
                    top.id
                ),
            );
        };
        if confidence_value < self.config.no_answer_below {
            return self.no_answer(
                confidence,
                format!(
                    "retrieval confidence {confidence_value:.2} is below the answer floor {:.2} (best article \"{}\")",
                    self.config.no_answer_below, top.id
                ),
            );
        }
        if let Some(second) = retrieved.candidates.get(1)
            && confidence_value < self.config.clarify_below
            && self.too_close(top, second)
        {
            return self.clarify(top, second, confidence_value);
        }
        self.answer(request, top, confidence_value)
    }

    /// Whether `second` scores within `clarify_margin` of `top`.
    fn too_close(&self, top: &Candidate, second: &Candidate) -> bool {
        let scale = top.score.abs();
        scale > 0.0 && (top.score - second.score) <= self.config.clarify_margin * scale
    }

    fn answer(&self, request: &Request<'_>, top: &Candidate, confidence: f64) -> Reply {
        let passage = best_passage(
            request.question,
            &top.title,
            &top.body,
            Limits {
                max_sentences: self.config.max_sentences,
                max_chars: self.config.max_chars,
            },
        );
        let citation = self.links.cite(top);
        let source = match &citation.url {
            Some(url) => format!("Source: {} ({url})", citation.title),
            None => format!("Source: {}", citation.title),
        };
        let text = if passage.text.trim().is_empty() {
            // An article with a title only: the citation is the answer.
            format!(
                "This article should help: {}",
                source.trim_start_matches("Source: ")
            )
        } else {
            format!("{}\n\n{source}", passage.text.trim())
        };
        let served = if passage.whole {
            "served the whole (short) article".to_string()
        } else if passage.matched == 0 {
            "served the article's opening (no passage shares words with the question)".to_string()
        } else {
            format!(
                "served the passage sharing {} of {} question words",
                passage.matched, passage.question_terms
            )
        };
        let mut reply = Reply::new(ReplyKind::Answer, text, Some(confidence));
        reply.reasoning = format!(
            "answered from \"{}\" (retrieval confidence {confidence:.2}); {served}",
            top.id
        );
        reply.articles_used = vec![citation];
        reply
    }

    fn clarify(&self, top: &Candidate, second: &Candidate, confidence: f64) -> Reply {
        let options = vec![self.links.cite(top), self.links.cite(second)];
        let text = format!(
            "I found two articles that could help. Which one is closer to your question: \"{}\" or \"{}\"?",
            strip_question_mark(&top.title),
            strip_question_mark(&second.title)
        );
        let mut reply = Reply::new(
            ReplyKind::Clarify {
                options: options.clone(),
            },
            text,
            Some(confidence),
        );
        reply.reasoning = format!(
            "\"{}\" and \"{}\" score within {:.0}% of each other (retrieval confidence {confidence:.2}); asked which is meant",
            top.id,
            second.id,
            self.config.clarify_margin * 100.0
        );
        reply.articles_used = options;
        reply
    }

    fn no_answer(&self, confidence: Option<f64>, reasoning: impl Into<String>) -> Reply {
        let mut reply = Reply::new(ReplyKind::NoAnswer, NO_ANSWER_TEXT, confidence);
        reply.reasoning = reasoning.into();
        reply
    }
}

impl Default for BuiltinResponder {
    fn default() -> Self {
        Self::new(BuiltinConfig::default(), ArticleLinks::default())
    }
}

#[async_trait]
impl Responder for BuiltinResponder {
    async fn respond(&self, request: &Request<'_>) -> Reply {
        self.reply(request)
    }

    fn name(&self) -> &'static str {
        "builtin"
    }

    fn uses_history(&self) -> bool {
        // The built-in responder answers the question in front of it.
        false
    }
}

/// A title in a question ("How do I reset my password?") reads badly inside quotes that end
/// in another question mark.
fn strip_question_mark(title: &str) -> &str {
    title.trim().trim_end_matches('?')
}

/// A polite reply to a turn that asks nothing: thanks, a greeting or an acknowledgement.
fn acknowledgement(text: &str) -> &'static str {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words
        .iter()
        .any(|w| w.starts_with("thank") || matches!(*w, "thx" | "ty" | "cheers"))
    {
        "You're welcome! Is there anything else I can help you with?"
    } else if words
        .first()
        .is_some_and(|w| matches!(*w, "hi" | "hello" | "hey" | "hiya" | "good" | "morning"))
    {
        "Hello! What can I help you with today?"
    } else {
        "Is there anything else I can help you with?"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_fit_the_message() {
        assert!(acknowledgement("thanks a lot!").starts_with("You're welcome"));
        assert!(acknowledgement("Hi there").starts_with("Hello"));
        assert!(acknowledgement("ok").starts_with("Is there anything"));
    }
}
