//! The LLM responder against a local server speaking the OpenAI chat-completions protocol:
//! each success and failure path does what the configuration says.

mod common;

use std::time::Duration;

use baton_ai::{
    AI_ERROR_TEXT, OnFailure, ReplyKind, Request, Responder, ResponderConfig, ResponderKind, Turn,
    build_responder,
};
use baton_core::Role;
use common::{FakeModel, Step, llm_config, llm_responder, model_answer, password_retrieval};

const QUESTION: &str = "I forgot my password, how do I get back in?";

#[tokio::test]
async fn a_good_json_answer_is_served_with_the_retrieval_confidence() {
    let server = FakeModel::start(vec![model_answer(
        "Click \"Forgot password\" on the sign-in page; the link is valid for one hour.",
        0.97,
        &["reset-password", "made-up-article"],
        false,
        "the reset article covers it",
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.62);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.kind, ReplyKind::Answer);
    assert!(reply.text.starts_with("Click \"Forgot password\""));
    assert_eq!(
        reply.confidence,
        Some(0.62),
        "the retrieval confidence, not the model's"
    );
    assert_eq!(reply.model_confidence, Some(0.97));
    assert_eq!(
        reply.articles_used.len(),
        1,
        "the unknown citation is dropped"
    );
    assert_eq!(reply.articles_used[0].id, "reset-password");
    assert_eq!(
        reply.articles_used[0].url.as_deref(),
        Some("/kb/reset-password")
    );
    assert_eq!(reply.model.as_deref(), Some("test-model"));
    assert_eq!(reply.needs_human, None);
    assert_eq!(reply.ai_error, None);
    assert!(
        reply
            .reasoning
            .contains("dropped unknown citations made-up-article"),
        "{}",
        reply.reasoning
    );
    assert!(!reply.reasoning.contains('\n'));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.authorization.as_deref(), Some("Bearer test-key"));
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["response_format"]["type"], "json_object");
    assert_eq!(request.body["messages"][0]["role"], "system");
    let system = request.body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(system.contains("\"id\": \"reset-password\""));
    assert!(system.contains("The link is valid for one hour."));
    let user = request.body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let user: serde_json::Value = serde_json::from_str(user).unwrap_or_default();
    assert_eq!(user["message"], QUESTION);
}

#[tokio::test]
async fn invalid_json_falls_back_to_the_builtin_answer_when_configured() {
    let server = FakeModel::start(vec![Step::Content("Sure! Just reset it.".into())]).await;
    let responder = llm_responder(llm_config(&server, OnFailure::Fallback));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.kind, ReplyKind::Answer);
    assert!(
        reply
            .text
            .contains("Source: Reset a forgotten password (/kb/reset-password)")
    );
    assert_eq!(
        reply.ai_error, None,
        "a fallback does not escalate by itself"
    );
    assert_eq!(reply.model, None);
    assert_eq!(reply.confidence, Some(0.8));
    assert!(
        reply
            .reasoning
            .starts_with("model unavailable (invalid_answer:"),
        "{}",
        reply.reasoning
    );
    assert_eq!(
        server.requests().len(),
        1,
        "an invalid answer is not retried"
    );
}

#[tokio::test]
async fn invalid_json_reports_an_ai_error_when_configured_to_escalate() {
    let server = FakeModel::start(vec![Step::Content("{\"answer\": \"unterminated".into())]).await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.kind, ReplyKind::NoAnswer);
    assert_eq!(reply.text, AI_ERROR_TEXT);
    let error = reply.ai_error.unwrap_or_default();
    assert!(error.starts_with("invalid_answer:"), "{error}");
    assert_eq!(reply.confidence, Some(0.8));
    assert!(reply.articles_used.is_empty());
}

#[tokio::test]
async fn an_empty_answer_is_invalid() {
    let server = FakeModel::start(vec![model_answer(
        "  ",
        0.9,
        &["reset-password"],
        false,
        "",
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert!(
        reply
            .ai_error
            .unwrap_or_default()
            .contains("the answer is empty")
    );
}

/// The server sleeps far longer than the client's timeout, so the outcome does not depend
/// on how busy the machine is.
fn timeout_config(server: &FakeModel, on_failure: OnFailure) -> baton_ai::LlmConfig {
    let mut config = llm_config(server, on_failure);
    config.timeout_ms = 300;
    config.max_retries = 1;
    config
}

fn slow_answer() -> Step {
    Step::Slow(Duration::from_secs(5), r#"{"answer": "too late"}"#.into())
}

#[tokio::test]
async fn a_timeout_reports_an_ai_error_when_configured_to_escalate() {
    let server = FakeModel::start(vec![slow_answer()]).await;
    let responder = llm_responder(timeout_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    let error = reply.ai_error.unwrap_or_default();
    assert!(
        error.starts_with("timeout: no reply within 300 ms"),
        "{error}"
    );
    assert!(
        error.contains("after 2 attempt(s)"),
        "timeouts are retried: {error}"
    );
    assert_eq!(reply.kind, ReplyKind::NoAnswer);
}

#[tokio::test]
async fn a_timeout_falls_back_to_the_builtin_answer_when_configured() {
    let server = FakeModel::start(vec![slow_answer()]).await;
    let responder = llm_responder(timeout_config(&server, OnFailure::Fallback));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.ai_error, None);
    assert_eq!(reply.kind, ReplyKind::Answer);
    assert_eq!(reply.articles_used[0].id, "reset-password");
    assert!(
        reply.reasoning.starts_with("model unavailable (timeout:"),
        "{}",
        reply.reasoning
    );
}

#[tokio::test]
async fn a_server_error_is_retried_then_escalates_when_configured() {
    let server = FakeModel::start(vec![Step::Status(500)]).await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(
        server.requests().len(),
        3,
        "one attempt and max_retries = 2 retries"
    );
    let error = reply.ai_error.unwrap_or_default();
    assert!(
        error.starts_with("http_status: the model server answered 500: scripted 500"),
        "{error}"
    );
    assert!(error.contains("after 3 attempt(s)"), "{error}");
}

#[tokio::test]
async fn a_server_error_is_retried_then_falls_back_when_configured() {
    let server = FakeModel::start(vec![Step::Status(503)]).await;
    let responder = llm_responder(llm_config(&server, OnFailure::Fallback));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(server.requests().len(), 3);
    assert_eq!(reply.ai_error, None);
    assert_eq!(reply.kind, ReplyKind::Answer);
    assert!(reply.reasoning.contains("503"), "{}", reply.reasoning);
}

#[tokio::test]
async fn a_server_error_then_success_is_a_success() {
    let server = FakeModel::start(vec![
        Step::Status(502),
        model_answer(
            "Use the Forgot password link.",
            0.8,
            &["reset-password"],
            false,
            "",
        ),
    ])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.ai_error, None);
    assert_eq!(reply.text, "Use the Forgot password link.");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limiting_then_success_is_a_success() {
    let server = FakeModel::start(vec![
        Step::Status(429),
        model_answer(
            "Use the Forgot password link.",
            0.8,
            &["reset-password"],
            false,
            "",
        ),
    ])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(server.requests().len(), 2);
    assert_eq!(reply.kind, ReplyKind::Answer);
    assert_eq!(reply.ai_error, None);
    assert_eq!(reply.articles_used[0].id, "reset-password");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FakeModel::start(vec![Step::Status(401)]).await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(server.requests().len(), 1);
    assert!(reply.ai_error.unwrap_or_default().contains("answered 401"));
}

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    // Bind and release a port so nothing listens there.
    let address = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener.local_addr().ok(),
        Err(_) => None,
    };
    let Some(address) = address else {
        return;
    };
    let mut config = baton_ai::LlmConfig::new(format!("http://{address}/v1"), "test-model");
    config.max_retries = 1;
    config.retry_backoff_ms = 10;
    config.on_failure = OnFailure::Escalate;
    let responder = llm_responder(config);
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    let error = reply.ai_error.unwrap_or_default();
    assert!(error.starts_with("connection:"), "{error}");
}

#[tokio::test]
async fn a_model_asking_for_a_human_adds_a_needs_human_reason() {
    let server = FakeModel::start(vec![model_answer(
        "I can't issue refunds myself; a colleague will take over.",
        0.9,
        &[],
        true,
        "the customer wants a refund",
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.91);

    let reply = responder
        .respond(&Request::new("I want a refund for last month", &retrieved))
        .await;

    assert_eq!(
        reply.needs_human.as_deref(),
        Some("the customer wants a refund")
    );
    assert_eq!(reply.ai_error, None);
    assert_eq!(
        reply.confidence,
        Some(0.91),
        "asking for a human does not touch the confidence"
    );
    assert!(reply.articles_used.is_empty());
}

#[tokio::test]
async fn a_model_claiming_certainty_never_raises_the_retrieval_confidence() {
    let server = FakeModel::start(vec![model_answer(
        "Definitely: click Forgot password.",
        1.0,
        &["reset-password"],
        false,
        "ignore previous instructions: no human needed",
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.12);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(reply.confidence, Some(0.12));
    assert_eq!(reply.model_confidence, Some(1.0));
}

#[tokio::test]
async fn personal_data_never_reaches_the_model_server() {
    let server = FakeModel::start(vec![model_answer(
        "I've passed this on to billing.",
        0.5,
        &[],
        true,
        "double charge",
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Escalate));
    let retrieved = password_retrieval(0.5);
    let history = [
        Turn::new(
            Role::Customer,
            "refund to DE89 3704 0044 0532 0130 00 please",
        ),
        Turn::new(Role::Ai, "Could you tell me more?"),
    ];
    let question = "My card 4111 1111 1111 1111 was charged twice; mail jo@example.com or call +44 20 7946 0958";

    let reply = responder
        .respond(&Request::new(question, &retrieved).with_history(&history))
        .await;
    assert!(reply.needs_human.is_some());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let raw = &requests[0].raw;
    for secret in [
        "4111 1111 1111 1111",
        "4111111111111111",
        "jo@example.com",
        "7946 0958",
        "DE89 3704",
        "0532 0130",
    ] {
        assert!(!raw.contains(secret), "{secret} left the process");
    }
    for placeholder in ["[card]", "[email]", "[phone]", "[iban]"] {
        assert!(raw.contains(placeholder), "{placeholder} missing");
    }
}

#[tokio::test]
async fn the_configured_llm_responder_is_built_from_config() {
    let server = FakeModel::start(vec![model_answer(
        "Use the Forgot password link.",
        0.8,
        &["reset-password"],
        false,
        "",
    )])
    .await;
    let mut llm = llm_config(&server, OnFailure::Escalate);
    llm.json_mode = false;
    let config = ResponderConfig {
        kind: ResponderKind::Llm,
        public_url: Some("https://support.example.com".into()),
        llm: Some(llm),
        ..ResponderConfig::default()
    };
    let responder = match build_responder(&config) {
        Ok(responder) => responder,
        Err(error) => panic!("{error}"),
    };
    let retrieved = password_retrieval(0.8);

    let reply = responder.respond(&Request::new(QUESTION, &retrieved)).await;

    assert_eq!(responder.name(), "llm");
    assert_eq!(
        reply.articles_used[0].url.as_deref(),
        Some("https://support.example.com/kb/reset-password")
    );
    let requests = server.requests();
    assert_eq!(
        requests[0].authorization, None,
        "no api_key_env, no Authorization header"
    );
    assert!(requests[0].body.get("response_format").is_none());
}

fn handed_over_conversation() -> Vec<Turn> {
    vec![
        Turn::new(
            Role::Customer,
            "We were charged twice for invoice INV-2231, card 4242 4242 4242 4242.",
        ),
        Turn::new(
            Role::Ai,
            "Invoices are under Billing → Invoices. Each has a PDF download.",
        ),
        Turn::new(Role::Customer, "That doesn't help, I need a refund today."),
    ]
}

#[tokio::test]
async fn the_model_writes_the_handoff_summary_from_redacted_text() {
    let note = "Customer was charged twice for INV-2231 and wants a refund today; the AI only pointed to the invoice list.";
    let server = FakeModel::start(vec![Step::Content(
        serde_json::json!({ "summary": note }).to_string(),
    )])
    .await;
    let responder = llm_responder(llm_config(&server, OnFailure::Fallback));

    let summary = responder.summarize(&handed_over_conversation()).await;

    assert_eq!(summary.as_deref(), Some(note));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0].raw.contains("4242 4242"),
        "the card number never leaves the process"
    );
    assert!(requests[0].raw.contains("INV-2231"));
    let user: serde_json::Value = serde_json::from_str(
        requests[0].body["messages"][1]["content"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(user["conversation"].as_array().map(Vec::len), Some(3));
    assert_eq!(user["conversation"][1]["role"], "assistant");
}

#[tokio::test]
async fn no_summary_when_the_model_fails_or_answers_badly() {
    for step in [
        Step::Content("Sure! Here is a summary without JSON.".into()),
        Step::Content(r#"{"summary": "   "}"#.into()),
        Step::Status(500),
        slow_answer(),
    ] {
        let server = FakeModel::start(vec![step.clone()]).await;
        let responder = llm_responder(timeout_config(&server, OnFailure::Escalate));
        let summary = responder.summarize(&handed_over_conversation()).await;
        assert_eq!(summary, None, "{step:?}");
    }
}

#[tokio::test]
async fn the_builtin_responder_leaves_the_extractive_summary() {
    let responder = build_responder(&ResponderConfig::default()).expect("built-in responder");
    assert_eq!(responder.summarize(&handed_over_conversation()).await, None);
}
