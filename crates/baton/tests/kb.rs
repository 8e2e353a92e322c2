//! The knowledge base end to end: import errors that name the file and line, AI answers from
//! the imported articles, the index following an edit without a restart, and the commands
//! that rank with the configured embeddings.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn demo_kb() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kb")
}

fn baton(args: &[&str], database: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database", database])
        .env("BATON_LOG", "warn")
        .output()
        .expect("run baton")
}

#[tokio::test]
async fn import_errors_name_the_file_and_line() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let dir = db.dir.path();
    let md = dir.join("articles");
    std::fs::create_dir(&md).unwrap();
    std::fs::write(
        md.join("good.md"),
        "---\ntitle: Good\nquestions: [how]\n---\nBody.\n",
    )
    .unwrap();
    std::fs::write(
        md.join("bad.md"),
        "---\ntitle: Bad\nquestions: [unclosed\n---\nBody.\n",
    )
    .unwrap();
    let out = baton(&["kb", "import", md.to_str().unwrap()], &db.url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.md:"), "{stderr}");
    assert!(stderr.contains("front matter"), "{stderr}");

    let csv = dir.join("faq.csv");
    std::fs::write(
        &csv,
        "question,answer\nHow do I pay?,By card.\n\"broken,row\n",
    )
    .unwrap();
    let out = baton(&["kb", "import", csv.to_str().unwrap()], &db.url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("faq.csv:3"), "{stderr}");

    // Nothing of a failed import was stored.
    let out = baton(&["kb", "list"], &db.url);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[tokio::test]
async fn the_ai_answers_from_the_knowledge_base_and_staff_see_why() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let out = baton(&["kb", "import", demo_kb().to_str().unwrap()], &db.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;

    let (status, body) = server
        .post_message(&id, &token, "q1", "Where can I download my invoices?")
        .await;
    assert_eq!(status, 201);
    let reply = &body["replies"][0];
    assert_eq!(reply["role"], "ai", "{body}");
    assert_eq!(reply["articles"][0]["id"], "download-invoice", "{body}");
    assert_eq!(reply["articles"][0]["url"], "/kb/download-invoice");
    // The cited article is a real page.
    let page = server
        .http
        .get(server.url("/kb/download-invoice"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h1>"));

    // Staff see the confidence, the articles considered and the reasoning; the customer does not.
    let admin = create_staff(&db.url, "admin", "Ada Admin");
    let (_, full) = server
        .get(
            &format!("/v1/agent/conversations/{id}/events"),
            Some(&admin),
        )
        .await;
    let trace: Vec<&Value> = full["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "ai_reply")
        .collect();
    assert_eq!(trace.len(), 1);
    assert!(
        trace[0]["confidence"].as_f64().unwrap() > 0.5,
        "{}",
        trace[0]
    );
    assert_eq!(trace[0]["articles"][0]["id"], "download-invoice");
    assert!(!trace[0]["reasoning"].as_str().unwrap().is_empty());
    assert_eq!(trace[0]["message_seq"], reply["seq"]);
    let (_, visible) = server
        .get(&format!("/v1/conversations/{id}/events"), Some(&token))
        .await;
    assert!(
        visible["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "ai_reply")
    );

    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("baton_ai_reply_seconds"), "{metrics}");
}

#[tokio::test]
async fn the_index_follows_an_article_edit_without_a_restart() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let out = baton(&["kb", "import", demo_kb().to_str().unwrap()], &db.url);
    assert!(out.status.success());
    let admin = create_staff(&db.url, "admin", "Ada Admin");
    let agent = create_staff(&db.url, "agent", "Dana");
    let server = Server::start(&db).await;

    let question = "how do I configure the zephyr telescope bridge";
    let (_, before) = server
        .get(
            &format!("/v1/kb/search?q={}", question.replace(' ', "+")),
            Some(&agent),
        )
        .await;
    assert_ne!(before["articles"][0]["id"], "zephyr-bridge");

    let article = json!({"id": "zephyr-bridge", "title": "Set up the Zephyr telescope bridge",
        "body": "Open Settings, then Integrations, then Zephyr, and paste your bridge token.",
        "questions": ["how do I configure the zephyr telescope bridge", "zephyr bridge setup"],
        "issue_type": "integration"});
    let (status, _) = server
        .post("/v1/kb/articles", Some(&agent), article.clone())
        .await;
    assert_eq!(status, 403, "agents cannot edit the knowledge base");
    let (status, saved) = server
        .post("/v1/kb/articles", Some(&admin), article.clone())
        .await;
    assert_eq!(status, 201, "{saved}");
    let (status, _) = server.post("/v1/kb/articles", Some(&admin), article).await;
    assert_eq!(status, 409);

    let (_, after) = server
        .get(
            &format!("/v1/kb/search?q={}", question.replace(' ', "+")),
            Some(&agent),
        )
        .await;
    assert_eq!(after["articles"][0]["id"], "zephyr-bridge", "{after}");
    assert!(after["revision"].as_i64().unwrap() > before["revision"].as_i64().unwrap());

    // Retiring it takes it out of the answers at once.
    let response = server
        .http
        .delete(server.url("/v1/kb/articles/zephyr-bridge"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, retired) = server
        .get(
            &format!("/v1/kb/search?q={}", question.replace(' ', "+")),
            Some(&agent),
        )
        .await;
    assert_ne!(retired["articles"][0]["id"], "zephyr-bridge");

    // An import by another process is picked up by polling the revision.
    let dir = db.dir.path().join("more.jsonl");
    std::fs::write(&dir, r#"{"id": "quasar-sync", "title": "Quasar sync", "body": "Turn on Quasar sync in Settings.", "questions": ["how does quasar sync work"]}"#).unwrap();
    let out = baton(&["kb", "import", dir.to_str().unwrap()], &db.url);
    assert!(out.status.success());
    let mut found = false;
    for _ in 0..60 {
        let (_, r) = server
            .get("/v1/kb/search?q=how+does+quasar+sync+work", Some(&agent))
            .await;
        if r["articles"][0]["id"] == "quasar-sync" {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(found, "the server picked up the import");
}

/// Concepts of the embeddings endpoint below, one dimension each.
const CONCEPTS: &[&[&str]] = &[
    &["refund", "money", "back", "reimburse"],
    &["password", "login", "sign"],
    &["invoice", "invoices", "bill", "receipt"],
];

/// An OpenAI-compatible `/v1/embeddings` endpoint on loopback whose vectors count concept
/// words: "money back" means refund without sharing a word with it. Returns its base URL and
/// the number of texts it has embedded.
fn embeddings_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn embed(
        axum::extract::State(texts): axum::extract::State<Arc<AtomicUsize>>,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let inputs: Vec<String> = body["input"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        texts.fetch_add(inputs.len(), Ordering::SeqCst);
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let vector: Vec<f32> = CONCEPTS
                    .iter()
                    .map(|words| {
                        text.split(|c: char| !c.is_alphanumeric())
                            .filter(|w| words.contains(w))
                            .count() as f32
                    })
                    .collect();
                json!({"object": "embedding", "index": index, "embedding": vector})
            })
            .collect();
        axum::Json(json!({"object": "list", "data": data, "model": body["model"]}))
    }

    let texts = Arc::new(AtomicUsize::new(0));
    let state = texts.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new()
                .route("/v1/embeddings", axum::routing::post(embed))
                .with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), texts)
}

#[tokio::test]
async fn search_calibrate_and_analyze_rank_with_the_configured_embeddings() {
    use std::sync::atomic::Ordering;

    let db = TestDatabase::new(&Backend::Sqlite).await;
    let dir = db.dir.path();
    let articles = dir.join("shop.jsonl");
    std::fs::write(
        &articles,
        [
            json!({"id": "refund", "title": "Request a refund", "body": "Open Orders and choose Return.",
                "questions": ["how do I get a refund", "refund for my order", "I want a refund"]}),
            json!({"id": "password", "title": "Reset your password", "body": "Use the Forgot password link.",
                "questions": ["I forgot my password", "how do I change my password", "cannot sign in"]}),
            json!({"id": "invoice", "title": "Download an invoice", "body": "Billing, then Invoices.",
                "questions": ["where are my invoices", "get a PDF of my invoice", "I need a receipt"]}),
        ]
        .iter()
        .map(|a| a.to_string() + "\n")
        .collect::<String>(),
    )
    .unwrap();
    let (base_url, embedded) = embeddings_endpoint();
    let config = dir.join("baton.toml");
    std::fs::write(
        &config,
        format!("[knowledge.embeddings]\nkind = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"concepts\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = baton(&["kb", "import", articles.to_str().unwrap()], &db.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        embedded.load(Ordering::SeqCst),
        0,
        "no embeddings unless configured"
    );

    let question = "can I have my money back?";
    let out = baton(&["kb", "search", question, "--config", config], &db.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().next().unwrap().contains("refund"),
        "{stdout}"
    );
    let searched = embedded.load(Ordering::SeqCst);
    assert!(searched > 0);

    let out = baton(&["kb", "calibrate", "--config", config], &db.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("lexical and dense features"), "{stdout}");
    assert!(embedded.load(Ordering::SeqCst) > searched);
    let out = baton(&["kb", "calibrate"], &db.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(knowledge_base; lexical features)"),
        "{stdout}"
    );

    // `baton analyze` with --config ranks as the server would; without, lexically.
    let analyze = |extra: &[&str]| {
        let mut child = Command::new(BIN)
            .args(["analyze", "--kb", articles.to_str().unwrap()])
            .args(extra)
            .env("BATON_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run baton analyze");
        use std::io::Write;
        let line = json!({"id": 1, "text": question}).to_string() + "\n";
        child
            .stdin
            .take()
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let line: Value = serde_json::from_slice(&out.stdout).unwrap();
        line
    };
    let before = embedded.load(Ordering::SeqCst);
    let lexical = analyze(&[]);
    assert_eq!(embedded.load(Ordering::SeqCst), before);
    let dense = analyze(&["--config", config]);
    assert!(embedded.load(Ordering::SeqCst) > before);
    assert_eq!(
        dense["signals"]["top_articles"][0]["id"], "refund",
        "{dense}"
    );
    assert!(
        dense["signals"]["confidence"].as_f64() > lexical["signals"]["confidence"].as_f64(),
        "dense {dense}, lexical {lexical}"
    );
}
