//! Durability: every message acknowledged with 2xx survives `kill -9`, in order; SIGTERM
//! shuts down cleanly.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn acknowledged_messages_survive_kill_dash_nine() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let mut server = Server::start(&db).await;
        let mut conversations = Vec::new();
        for _ in 0..10 {
            conversations.push(server.open_conversation(json!({})).await);
        }
        // 10 conversations post concurrently; remember what was acknowledged.
        let mut tasks = Vec::new();
        for (c, (id, token)) in conversations.iter().cloned().enumerate() {
            let http = server.http.clone();
            let url = server.url(&format!("/v1/conversations/{id}/messages"));
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..30 {
                    let text = format!("conversation {c} message {n}");
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"client_msg_id": format!("{c}-{n}"), "text": text}))
                        .send()
                        .await;
                    if matches!(&r, Ok(r) if r.status().is_success()) {
                        acked.push(text);
                    }
                }
                (id, token, acked)
            }));
        }
        let mut acknowledged = Vec::new();
        for t in tasks {
            acknowledged.push(t.await.unwrap());
        }
        server.kill_hard().await;

        let admin = create_staff(&db.url, "admin", "Ada Admin");
        let server = Server::start(&db).await;
        for (id, token, acked) in acknowledged {
            assert_eq!(acked.len(), 30);
            let (status, page) = server
                .get(&format!("/v1/conversations/{id}/events"), Some(&token))
                .await;
            assert_eq!(status, 200, "{backend:?}");
            let texts: Vec<String> = page["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["role"] == "customer")
                .map(|e| e["text"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                texts, acked,
                "{backend:?}: every acknowledged message, in order"
            );
            // The full timeline has no gaps.
            let (_, full) = server
                .get(
                    &format!("/v1/agent/conversations/{id}/events?limit=1000"),
                    Some(&admin),
                )
                .await;
            let seqs: Vec<i64> = full["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap())
                .collect();
            let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
            assert_eq!(seqs, expected, "{backend:?}: no gaps");
        }
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;
    assert_eq!(server.post_message(&id, &token, "m", "hello").await.0, 201);
    let url = format!(
        "{}/v1/conversations/{id}/stream?token={token}",
        server.ws_base
    );
    let mut stream = Stream::connect(&url).await;
    assert_eq!(stream.collect_until_seq(2, 10).await.len(), 2);
    // The AI's reply follows (seq 3; its staff-only explanation, seq 4, is not streamed).
    assert_eq!(stream.next_json(10).await.unwrap()["role"], "ai");

    let pid = server.child.id().expect("pid") as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.child.wait())
        .await
        .expect("exits within 30 s")
        .unwrap();
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    // The open stream was closed by the server, not left hanging.
    assert!(stream.next_json(5).await.is_none());

    let server = Server::start(&db).await;
    let (_, page) = server
        .get(&format!("/v1/conversations/{id}/events"), Some(&token))
        .await;
    let customer_messages = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["role"] == "customer")
        .count();
    assert_eq!(customer_messages, 1);
}
