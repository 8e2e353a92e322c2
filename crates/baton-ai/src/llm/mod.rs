//! The LLM responder: an OpenAI-compatible chat model writes the reply from the retrieved
//! articles. Its output is checked (JSON, known citations, non-empty answer); when the model
//! cannot be used the configuration says whether the built-in responder answers instead or
//! the reply carries an `ai_error` for the policy to escalate on.
//!
//! The model may add a reason to hand over (`needs_human`), never remove one, and its own
//! confidence is recorded next to the retrieval confidence, never in its place.

mod answer;
mod client;
mod prompt;

use async_trait::async_trait;

pub use client::LlmError;

use crate::builtin::BuiltinResponder;
use crate::citation::ArticleLinks;
use crate::config::{LlmConfig, OnFailure};
use crate::error::AiError;
use crate::reply::{Reply, ReplyKind, one_line};
use crate::responder::{Request, Responder, Turn};

use answer::{parse_answer, parse_summary};
use client::ChatClient;

/// Said when the model asked for a human without writing an answer.
pub const HANDOFF_TEXT: &str = "Let me bring in someone from our team who can help with this.";

/// Said when the model failed and the configuration escalates on failure.
pub const AI_ERROR_TEXT: &str =
    "Sorry, I can't answer that right now. Let me bring in someone from our team.";

/// Longest handoff summary kept from the model, in characters.
pub const SUMMARY_MAX_CHARS: usize = 600;

/// The OpenAI-compatible LLM responder.
#[derive(Debug)]
pub struct LlmResponder {
    config: LlmConfig,
    client: ChatClient,
    fallback: BuiltinResponder,
    links: ArticleLinks,
}

impl LlmResponder {
    /// A responder for the endpoint in `config`, authenticating with `api_key` when given
    /// (see [`LlmConfig::api_key_from_env`]), falling back to `fallback` when
    /// `on_failure = "fallback"`, citing articles with `links`.
    pub fn new(
        config: LlmConfig,
        api_key: Option<String>,
        fallback: BuiltinResponder,
        links: ArticleLinks,
    ) -> Result<Self, AiError> {
        config.validate()?;
        let client = ChatClient::new(&config, api_key)?;
        Ok(Self {
            config,
            client,
            fallback,
            links,
        })
    }

    /// The model's reply to `request`, or why the model could not be used. [`Responder`]
    /// applies `on_failure` to the error.
    pub async fn ask(&self, request: &Request<'_>) -> Result<Reply, LlmError> {
        let messages = prompt::messages(request, &self.config, &self.links);
        let completion = self.client.complete(&messages).await?;
        let given: Vec<&str> = prompt::prompt_articles(request, &self.config)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        let answer = parse_answer(&completion.content, &given)?;
        let model = completion
            .model
            .unwrap_or_else(|| self.config.model.clone());

        let articles_used = answer
            .citations
            .iter()
            .filter_map(|id| request.retrieved.candidate(id))
            .map(|c| self.links.cite(c))
            .collect();
        let (kind, text) = if answer.answer.is_empty() {
            (ReplyKind::NoAnswer, HANDOFF_TEXT.to_string())
        } else {
            (ReplyKind::Answer, answer.answer.clone())
        };
        let mut reply = Reply::new(kind, text, request.retrieved.confidence);
        reply.articles_used = articles_used;
        reply.model_confidence = answer.confidence;
        reply.needs_human = answer.needs_human.then(|| {
            if answer.reason.is_empty() {
                "the model asked for a human".to_string()
            } else {
                one_line(&answer.reason, 200)
            }
        });
        reply.reasoning = reasoning(&model, &answer, request.retrieved.confidence);
        reply.model = Some(model);
        Ok(reply)
    }

    /// A handoff summary of `conversation` written by the model. The whole attempt, retries
    /// included, gets one `timeout_ms`: a handoff does not wait longer than one answer would.
    pub async fn summary(&self, conversation: &[Turn]) -> Result<String, LlmError> {
        if !conversation
            .iter()
            .any(|t| t.role == baton_core::Role::Customer)
        {
            return Err(LlmError::InvalidAnswer(
                "there is no customer message to summarise".to_string(),
            ));
        }
        let messages = prompt::summary_messages(conversation, &self.config);
        let budget = std::time::Duration::from_millis(self.config.timeout_ms);
        let completion = tokio::time::timeout(budget, self.client.complete(&messages))
            .await
            .map_err(|_| LlmError::Timeout {
                timeout_ms: self.config.timeout_ms,
                attempts: 1,
            })??;
        parse_summary(&completion.content, SUMMARY_MAX_CHARS)
    }

    /// The reply when the model failed, as `on_failure` says.
    fn on_failure(&self, request: &Request<'_>, error: &LlmError) -> Reply {
        match self.config.on_failure {
            OnFailure::Fallback => {
                let mut reply = self.fallback.reply(request);
                reply.reasoning = one_line(
                    &format!(
                        "model unavailable ({error}); built-in responder: {}",
                        reply.reasoning
                    ),
                    400,
                );
                reply
            }
            OnFailure::Escalate => {
                let mut reply = Reply::new(
                    ReplyKind::NoAnswer,
                    AI_ERROR_TEXT,
                    request.retrieved.confidence,
                );
                reply.ai_error = Some(error.to_string());
                reply.reasoning = one_line(
                    &format!("model unavailable ({error}); on_failure = \"escalate\""),
                    400,
                );
                reply.model = Some(self.config.model.clone());
                reply
            }
        }
    }
}

#[async_trait]
impl Responder for LlmResponder {
    async fn respond(&self, request: &Request<'_>) -> Reply {
        match self.ask(request).await {
            Ok(reply) => reply,
            Err(error) => {
                // No customer text in logs: the code and the counts say enough.
                tracing::warn!(
                    model = %self.config.model,
                    failure = error.code(),
                    on_failure = ?self.config.on_failure,
                    "the model could not be used: {error}"
                );
                self.on_failure(request, &error)
            }
        }
    }

    fn name(&self) -> &'static str {
        "llm"
    }

    async fn summarize(&self, conversation: &[Turn]) -> Option<String> {
        match self.summary(conversation).await {
            Ok(summary) => Some(summary),
            Err(error) => {
                tracing::warn!(
                    model = %self.config.model,
                    failure = error.code(),
                    "no model summary for the handoff, the brief keeps its extractive one: {error}"
                );
                None
            }
        }
    }
}

fn reasoning(
    model: &str,
    answer: &answer::ModelAnswer,
    retrieval_confidence: Option<f64>,
) -> String {
    let mut parts = vec![if answer.citations.is_empty() {
        format!("model {model} answered without citing an article")
    } else {
        format!(
            "model {model} answered citing {}",
            answer.citations.join(", ")
        )
    }];
    if let Some(c) = answer.confidence {
        parts.push(format!("model confidence {c:.2}"));
    }
    match retrieval_confidence {
        Some(c) => parts.push(format!("retrieval confidence {c:.2}")),
        None => parts.push("no retrieval confidence".to_string()),
    }
    if !answer.dropped.is_empty() {
        parts.push(format!(
            "dropped unknown citations {}",
            answer.dropped.join(", ")
        ));
    }
    if answer.needs_human {
        parts.push("asks for a human".to_string());
    }
    if !answer.reason.is_empty() {
        parts.push(format!("reason: {}", answer.reason));
    }
    one_line(&parts.join("; "), 400)
}
