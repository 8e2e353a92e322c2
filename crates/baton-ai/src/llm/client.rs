//! A thin OpenAI-compatible chat-completions client: one `POST {base_url}/chat/completions`
//! per attempt, a timeout per attempt, and retries with exponential backoff on the failures
//! that are worth retrying (timeouts, connection failures, HTTP 429 and 5xx).

use std::time::Duration;

use reqwest::{StatusCode, Url, header};
use serde::{Deserialize, Serialize};

use crate::config::LlmConfig;
use crate::error::AiError;
use crate::reply::one_line;

/// Longest wait between two attempts, whatever the backoff or `Retry-After` say: a customer
/// is waiting for the reply.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// Why the model could not be used. The text (`Display`) is what a reply records as its
/// `ai_error` or fallback reason; it starts with [`LlmError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No complete reply within the per-attempt timeout.
    #[error("timeout: no reply within {timeout_ms} ms (after {attempts} attempt(s))")]
    Timeout {
        /// The per-attempt timeout.
        timeout_ms: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The server could not be reached or the connection broke.
    #[error("connection: {message} (after {attempts} attempt(s))")]
    Connection {
        /// What failed.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server answered with an error status.
    #[error(
        "http_status: the model server answered {status}{detail} (after {attempts} attempt(s))"
    )]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The server's error message, if it gave one (prefixed with `: `).
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The body was not a chat completion.
    #[error("invalid_response: {0}")]
    InvalidResponse(String),
    /// The completion was not the JSON answer the model was asked for.
    #[error("invalid_answer: {0}")]
    InvalidAnswer(String),
}

impl LlmError {
    /// A stable short name of the failure, for metrics and logs: `timeout`, `connection`,
    /// `http_status`, `invalid_response` or `invalid_answer`.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Timeout { .. } => "timeout",
            LlmError::Connection { .. } => "connection",
            LlmError::Status { .. } => "http_status",
            LlmError::InvalidResponse(_) => "invalid_response",
            LlmError::InvalidAnswer(_) => "invalid_answer",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    temperature: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ResponseMessage,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<String>,
}

/// The model's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The assistant message's text.
    pub content: String,
    /// The model the server says answered, if it says.
    pub model: Option<String>,
}

/// What one attempt yielded, before counting attempts.
enum Failure {
    Timeout,
    Connection(String),
    Status {
        status: StatusCode,
        detail: String,
        retry_after: Option<Duration>,
    },
    InvalidResponse(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Timeout | Failure::Connection(_) => true,
            Failure::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            Failure::InvalidResponse(_) => false,
        }
    }

    fn into_error(self, timeout_ms: u64, attempts: u32) -> LlmError {
        match self {
            Failure::Timeout => LlmError::Timeout {
                timeout_ms,
                attempts,
            },
            Failure::Connection(message) => LlmError::Connection { message, attempts },
            Failure::Status { status, detail, .. } => LlmError::Status {
                status: status.as_u16(),
                detail: if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                },
                attempts,
            },
            Failure::InvalidResponse(message) => LlmError::InvalidResponse(message),
        }
    }
}

/// The chat-completions client of one configured endpoint.
pub(crate) struct ChatClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: Option<String>,
    model: String,
    temperature: f32,
    max_tokens: Option<u32>,
    json_mode: bool,
    timeout: Duration,
    max_retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for ChatClient {
    // Hand-written so the API key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl ChatClient {
    pub(crate) fn new(config: &LlmConfig, api_key: Option<String>) -> Result<Self, AiError> {
        let endpoint = format!(
            "{}/chat/completions",
            config.base_url.trim().trim_end_matches('/')
        );
        let endpoint = Url::parse(&endpoint)
            .map_err(|e| AiError::config("responder.llm.base_url", format!("{endpoint:?}: {e}")))?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            api_key,
            model: config.model.clone(),
            temperature: config.temperature,
            max_tokens: config.max_tokens,
            json_mode: config.json_mode,
            timeout,
            max_retries: config.max_retries,
            backoff: Duration::from_millis(config.retry_backoff_ms),
        })
    }

    /// Sends `messages`, retrying transient failures, and returns the completion.
    pub(crate) async fn complete(&self, messages: &[ChatMessage]) -> Result<Completion, LlmError> {
        let body = ChatRequest {
            model: &self.model,
            messages,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            response_format: self.json_mode.then_some(ResponseFormat {
                kind: "json_object",
            }),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match self.attempt(&body).await {
                Ok(completion) => return Ok(completion),
                Err(failure) => failure,
            };
            let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
            if !failure.retryable() || attempts > self.max_retries {
                return Err(failure.into_error(timeout_ms, attempts));
            }
            let wait = self.wait_before_retry(attempts, &failure);
            tracing::debug!(
                attempt = attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                failure = %failure.into_error(timeout_ms, attempts).code(),
                "retrying the model request"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff from the configured base, or the server's `Retry-After` when it
    /// asks for longer; never more than [`MAX_WAIT`].
    fn wait_before_retry(&self, attempts: u32, failure: &Failure) -> Duration {
        let exponential = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)));
        let asked = match failure {
            Failure::Status { retry_after, .. } => retry_after.unwrap_or_default(),
            _ => Duration::ZERO,
        };
        exponential.max(asked).min(MAX_WAIT)
    }

    async fn attempt(&self, body: &ChatRequest<'_>) -> Result<Completion, Failure> {
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .timeout(self.timeout)
            .json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let detail = response
                .text()
                .await
                .map(|t| error_detail(&t))
                .unwrap_or_default();
            return Err(Failure::Status {
                status,
                detail,
                retry_after,
            });
        }
        let bytes = response.bytes().await.map_err(classify)?;
        let parsed: ChatResponse = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::InvalidResponse(format!("the body is not a chat completion: {e}"))
        })?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| {
                Failure::InvalidResponse("the chat completion has no message content".into())
            })?;
        Ok(Completion {
            content,
            model: parsed.model.filter(|m| !m.trim().is_empty()),
        })
    }
}

fn classify(error: reqwest::Error) -> Failure {
    if error.is_timeout() {
        Failure::Timeout
    } else if error.is_connect() {
        Failure::Connection("cannot connect to the model server".into())
    } else {
        Failure::Connection(one_line(&error.without_url().to_string(), 200))
    }
}

/// The server's error message: `error.message` of an OpenAI-style error body, else the start
/// of the body.
fn error_detail(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| body.to_string());
    one_line(&message, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_prefer_the_openai_message() {
        assert_eq!(
            error_detail(r#"{"error": {"message": "Rate limit reached", "type": "x"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_detail(r#"{"error": "model not found"}"#),
            "model not found"
        );
        assert_eq!(error_detail("Bad gateway\n"), "Bad gateway");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut config = LlmConfig::new("http://127.0.0.1:9/v1", "m");
        config.retry_backoff_ms = 100;
        let client = ChatClient::new(&config, Some("secret".into())).unwrap();
        let timeout = Failure::Timeout;
        assert_eq!(
            client.wait_before_retry(1, &timeout),
            Duration::from_millis(100)
        );
        assert_eq!(
            client.wait_before_retry(3, &timeout),
            Duration::from_millis(400)
        );
        assert_eq!(client.wait_before_retry(30, &timeout), MAX_WAIT);
        let busy = Failure::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: String::new(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(client.wait_before_retry(1, &busy), Duration::from_secs(2));
        assert!(!format!("{client:?}").contains("secret"));
    }
}
