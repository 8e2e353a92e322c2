//! The knowledge base end to end: import errors that name the file and line, AI answers from
//! the imported articles, and the index following an edit without a restart.

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
