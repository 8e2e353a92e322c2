//! Shared fixtures: a small support knowledge base, retrieval results, and a scripted local
//! server speaking the OpenAI chat-completions protocol.

#![allow(dead_code)] // each test file uses a different part of the fixtures

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use baton_ai::{
    ArticleLinks, BuiltinResponder, Candidate, LlmConfig, LlmResponder, OnFailure, Retrieved,
};
use baton_kb::{Article, IndexOptions, KbIndex};
use serde_json::{Value, json};

/// A few articles of a B2B SaaS help centre, long enough for passages to matter.
pub fn support_articles() -> Vec<Article> {
    vec![
        Article::new(
            "reset-password",
            "Reset a forgotten password",
            "Click \"Forgot password\" on the sign-in page and enter your work email. \
We send you a reset link that is valid for one hour.\n\n\
If the email does not arrive within five minutes, check your spam folder. \
Workspaces that sign in with SSO cannot reset passwords here: ask your identity provider's administrator.",
        )
        .with_questions(["I forgot my password", "how do I reset my password", "password reset link not arriving"]),
        Article::new(
            "export-data",
            "Export your workspace data",
            "Owners can export everything in a workspace at any time. Exports are kept for seven days.\n\n\
## Export your data\n\n\
To export your data:\n\n\
1. Open Settings → Data.\n\
2. Choose Export and pick CSV or JSON.\n\
3. We email you a download link when the export is ready.\n\n\
## Deleting a workspace\n\n\
Deleting a workspace removes all conversations after a 30-day grace period. \
During the grace period an owner can restore it from the billing page. \
After that the data cannot be recovered, and invoices stay available to the billing contact only.",
        )
        .with_questions(["how do I export my data", "download all our data as CSV", "can I get a backup of my workspace"]),
        Article::new(
            "download-invoice",
            "Download an invoice",
            "Invoices are under Billing → Invoices. Each invoice has a PDF download button. \
Only owners and billing admins can see invoices.",
        )
        .with_questions(["where can I find my invoices", "get a PDF of my bill", "download last month's invoice"]),
        Article::new(
            "enable-2fa",
            "Turn on two-factor authentication",
            "Open Profile → Security and choose Set up 2FA. Scan the QR code with an authenticator app and enter the 6-digit code.",
        )
        .with_questions(["how do I enable 2FA", "set up two factor authentication", "turn on 2-step verification"]),
        Article::new(
            "api-rate-limits",
            "API rate limits",
            "Each API key may send 600 requests per minute. Above that the API answers 429 with a Retry-After header; wait that many seconds and try again.",
        )
        .with_questions(["I keep getting 429 errors", "what is the API rate limit", "too many requests error"]),
    ]
}

/// An index of [`support_articles`].
pub fn support_index() -> KbIndex {
    match KbIndex::build(&support_articles(), IndexOptions::default()) {
        Ok(index) => index,
        Err(error) => panic!("the support index builds: {error}"),
    }
}

/// What the knowledge base retrieves for `question`.
pub fn retrieve(index: &KbIndex, question: &str) -> Retrieved {
    match index.retrieve(question, 3) {
        Ok(retrieval) => Retrieved::from_kb(index, &retrieval),
        Err(error) => panic!("retrieval works: {error}"),
    }
}

/// A candidate with a body and score.
pub fn candidate(id: &str, title: &str, body: &str, score: f64) -> Candidate {
    Candidate {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        url: None,
        score,
    }
}

/// A hand-made retrieval: the password article first, 2FA second, at `confidence`.
pub fn password_retrieval(confidence: f64) -> Retrieved {
    Retrieved {
        candidates: vec![
            candidate(
                "reset-password",
                "Reset a forgotten password",
                "Click \"Forgot password\" on the sign-in page. The link is valid for one hour.",
                9.0,
            ),
            candidate(
                "enable-2fa",
                "Turn on two-factor authentication",
                "Open Profile → Security and choose Set up 2FA.",
                4.0,
            ),
        ],
        confidence: Some(confidence),
    }
}

/// What the fake model server does for one request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer 200 with a chat completion whose message content is this text.
    Content(String),
    /// Answer with this status and an OpenAI-style error body.
    Status(u16),
    /// Wait this long, then answer with the content.
    Slow(Duration, String),
}

/// The content of a well-formed model answer.
pub fn model_answer(
    answer: &str,
    confidence: f64,
    citations: &[&str],
    needs_human: bool,
    reason: &str,
) -> Step {
    Step::Content(
        json!({
            "answer": answer,
            "confidence": confidence,
            "citations": citations,
            "needs_human": needs_human,
            "reason": reason,
        })
        .to_string(),
    )
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The raw body, exactly as it left the client.
    pub raw: String,
    /// The body parsed as JSON (`Null` if it was not JSON).
    pub body: Value,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    last: Option<Step>,
    requests: Vec<Captured>,
}

/// A local OpenAI-compatible chat-completions server following a script; when the script
/// runs out it repeats its last step.
pub struct FakeModel {
    /// The base URL to configure (`http://127.0.0.1:PORT/v1`).
    pub base_url: String,
    script: Arc<Mutex<Script>>,
}

impl FakeModel {
    /// Starts the server on a free local port.
    pub async fn start(steps: Vec<Step>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            steps: steps.into(),
            ..Script::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(script.clone());
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("bind a local port: {error}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("local address: {error}"),
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}/v1"),
            script,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .clone()
    }
}

async fn chat_completions(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let step = {
        let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
        script.requests.push(Captured {
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            raw: body,
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        let step = script.steps.pop_front().or_else(|| script.last.clone());
        script.last = step.clone();
        step
    };
    match step {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no script").into_response(),
        Some(Step::Content(content)) => completion(&content),
        Some(Step::Slow(wait, content)) => {
            tokio::time::sleep(wait).await;
            completion(&content)
        }
        Some(Step::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body =
                json!({"error": {"message": format!("scripted {status}"), "type": "server_error"}});
            (status, axum::Json(body)).into_response()
        }
    }
}

fn completion(content: &str) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    }))
    .into_response()
}

/// An LLM configuration for `server`: a generous timeout (a busy machine must not time out
/// the good paths) and short backoffs.
pub fn llm_config(server: &FakeModel, on_failure: OnFailure) -> LlmConfig {
    let mut config = LlmConfig::new(server.base_url.clone(), "test-model");
    config.timeout_ms = 15_000;
    config.max_retries = 2;
    config.retry_backoff_ms = 20;
    config.on_failure = on_failure;
    config
}

/// An LLM responder for `config`, authenticating with `test-key`.
pub fn llm_responder(config: LlmConfig) -> LlmResponder {
    match LlmResponder::new(
        config,
        Some("test-key".into()),
        BuiltinResponder::default(),
        ArticleLinks::default(),
    ) {
        Ok(responder) => responder,
        Err(error) => panic!("the LLM responder builds: {error}"),
    }
}
