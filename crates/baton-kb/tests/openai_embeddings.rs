//! The OpenAI-compatible embeddings client against a real HTTP server on loopback that
//! speaks the protocol: answers, retries, refusals, garbage and silence.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use baton_kb::{Embedder, EmbeddingError, IndexOptions, KbIndex, OpenAiEmbeddings, OpenAiOptions};
use common::LexiconEmbedder;
use serde_json::{Value, json};

/// What the server does for one request; after the script runs out it answers well.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Answer,
    Status(u16),
    Garbage,
    Sleep(u64),
}

#[derive(Default)]
struct Recorded {
    script: VecDeque<Behaviour>,
    requests: Vec<(Value, Option<String>)>,
}

type Shared = Arc<Mutex<Recorded>>;

async fn embeddings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let behaviour = {
        let mut recorded = shared.lock().unwrap();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        recorded.requests.push((body.clone(), auth));
        recorded.script.pop_front().unwrap_or(Behaviour::Answer)
    };
    match behaviour {
        Behaviour::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            Json(json!({"error": {"message": format!("status {code} on purpose")}})),
        )
            .into_response(),
        Behaviour::Garbage => (StatusCode::OK, "{\"data\": [{\"index\": 0,").into_response(),
        Behaviour::Sleep(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            answer(&body).into_response()
        }
        Behaviour::Answer => answer(&body).into_response(),
    }
}

/// The protocol's answer, in reverse order (clients must sort by index), vectors not yet of
/// unit length (clients normalise).
fn answer(body: &Value) -> Json<Value> {
    let inputs: Vec<&str> = body["input"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, text)| {
            let v: Vec<f32> = LexiconEmbedder::vector(text)
                .into_iter()
                .map(|x| 2.0 * x + 0.001)
                .collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"]}))
}

/// Starts the server with this script; returns its base URL and what it records.
fn serve(script: &[Behaviour]) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Recorded {
        script: script.iter().copied().collect(),
        requests: Vec::new(),
    }));
    let state = shared.clone();
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new()
                .route("/v1/embeddings", axum::routing::post(embeddings))
                .with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), shared)
}

fn client(base_url: &str, configure: impl FnOnce(&mut OpenAiOptions)) -> OpenAiEmbeddings {
    let mut options = OpenAiOptions::new(base_url, "text-embedding-test");
    options.backoff = Duration::from_millis(20);
    options.timeout = Duration::from_secs(5);
    configure(&mut options);
    OpenAiEmbeddings::new(options).unwrap()
}

#[test]
fn a_good_answer_gives_unit_vectors_in_input_order_in_batches() {
    let (url, recorded) = serve(&[]);
    let client = client(&url, |o| {
        o.batch_size = 2;
        o.api_key = Some("sk-test".into());
    });
    let texts = ["refund please", "my password", "where is my parcel"];
    let vectors = client.embed(&texts).unwrap();
    assert_eq!(vectors.len(), 3);
    for (vector, text) in vectors.iter().zip(texts) {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text}: {norm}");
        let expected = LexiconEmbedder::vector(text);
        let cosine: f32 = vector.iter().zip(&expected).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.99, "{text}: {cosine}");
    }
    let recorded = recorded.lock().unwrap();
    assert_eq!(recorded.requests.len(), 2, "three texts in batches of two");
    let (body, auth) = &recorded.requests[0];
    assert_eq!(body["model"], "text-embedding-test");
    assert_eq!(body["input"], json!(["refund please", "my password"]));
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
}

#[tokio::test]
async fn the_client_is_built_inside_an_async_runtime_and_embeds_on_a_blocking_thread() {
    let (url, _) = serve(&[]);
    let client = client(&url, |_| {});
    let vectors = tokio::task::spawn_blocking(move || client.embed(&["refund please"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vectors.len(), 1);
}

#[test]
fn a_server_error_is_retried_until_it_succeeds() {
    let (url, recorded) = serve(&[Behaviour::Status(500), Behaviour::Status(429)]);
    let vectors = client(&url, |o| o.retries = 2).embed(&["refund"]).unwrap();
    assert_eq!(vectors.len(), 1);
    assert_eq!(recorded.lock().unwrap().requests.len(), 3);
}

#[test]
fn a_server_error_after_the_last_retry_is_reported_with_its_status() {
    let (url, recorded) = serve(&[Behaviour::Status(503); 3]);
    let err = client(&url, |o| o.retries = 1)
        .embed(&["refund"])
        .unwrap_err();
    assert!(
        matches!(err, EmbeddingError::Status { status: 503, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("on purpose"), "{err}");
    assert_eq!(recorded.lock().unwrap().requests.len(), 2);
}

#[test]
fn a_refused_key_is_not_retried() {
    let (url, recorded) = serve(&[Behaviour::Status(401)]);
    let err = client(&url, |o| o.retries = 3)
        .embed(&["refund"])
        .unwrap_err();
    assert!(
        matches!(err, EmbeddingError::Unauthorized { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("API key"), "{err}");
    assert_eq!(recorded.lock().unwrap().requests.len(), 1);
}

#[test]
fn malformed_json_is_a_malformed_answer() {
    let (url, _) = serve(&[Behaviour::Garbage]);
    let err = client(&url, |_| {}).embed(&["refund"]).unwrap_err();
    assert!(matches!(err, EmbeddingError::Malformed { .. }), "{err}");
}

#[test]
fn a_silent_endpoint_times_out() {
    let (url, _) = serve(&[Behaviour::Sleep(3_000)]);
    let started = Instant::now();
    let err = client(&url, |o| o.timeout = Duration::from_millis(300))
        .embed(&["refund"])
        .unwrap_err();
    assert!(
        matches!(
            err,
            EmbeddingError::Timeout {
                timeout_ms: 300,
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(2_500));
}

#[test]
fn nobody_listening_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}/v1"), |o| o.retries = 0)
        .embed(&["refund"])
        .unwrap_err();
    assert!(matches!(err, EmbeddingError::Connection { .. }), "{err}");
}

#[test]
fn a_bad_base_url_is_a_configuration_error() {
    let err = OpenAiEmbeddings::new(OpenAiOptions::new("localhost:8080", "m")).unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
}

#[test]
fn the_index_retrieves_with_embeddings_from_the_endpoint() {
    let (url, _) = serve(&[]);
    let articles = vec![
        baton_kb::Article::new("refund", "Request a refund", "Open Orders, choose Return.")
            .with_questions(["how do I get a refund"]),
        baton_kb::Article::new("password", "Reset your password", "Use the link.")
            .with_questions(["I forgot my password"]),
    ];
    let index = KbIndex::build_with_embedder(
        &articles,
        IndexOptions::default(),
        Arc::new(client(&url, |_| {})),
    )
    .unwrap();
    let found = index.retrieve("I want my money back", 2).unwrap();
    assert_eq!(found.hits[0].id, "refund");
}
