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

/// Two always-open teams, so that conversations can be transferred.
const TWO_TEAMS: &str = "default_team = \"support\"
[[teams]]
name = \"support\"
[[teams]]
name = \"billing\"
offers = \"up_to_capacity\"
";

/// A member of staff working the queue as fast as they can, choosing at random (from a
/// seed) among everything an agent does: accept, decline or ignore an offer, take from the
/// queue, transfer, hand back or resolve. Requests fail once the server is killed; the task
/// just goes on until it is stopped.
async fn work_the_queue(http: reqwest::Client, base: String, key: String, seed: u64) {
    let mut state = seed | 1;
    let mut roll = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let post = |path: String, body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        let key = key.clone();
        async move {
            let _ = http.post(url).bearer_auth(key).json(&body).send().await;
        }
    };
    loop {
        let me = http
            .get(format!("{base}/v1/agent/me"))
            .bearer_auth(&key)
            .send()
            .await;
        let Ok(me) = me else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let me: serde_json::Value = me.json().await.unwrap_or_default();
        for handoff in me["handoffs"].as_array().cloned().unwrap_or_default() {
            let id = handoff["id"].as_str().unwrap_or_default().to_string();
            let path = |action: &str| format!("/v1/agent/handoffs/{id}/{action}");
            // One offer in five this agent never answers: it lapses.
            let ignored = id
                .bytes()
                .fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
                % 5
                == 0;
            match (handoff["status"].as_str(), roll(10)) {
                (Some("offered"), _) if ignored => {}
                (Some("offered"), 0..=5) => post(path("accept"), json!({})).await,
                (Some("offered"), 6..=7) => post(path("decline"), json!({})).await,
                (Some("assigned"), 0..=3) => post(path("resolve"), json!({"note": "done"})).await,
                (Some("assigned"), 4..=5) => post(path("hand-back"), json!({})).await,
                (Some("assigned"), 6) => {
                    let team = if handoff["team"] == "support" {
                        "billing"
                    } else {
                        "support"
                    };
                    post(path("transfer"), json!({"team": team, "note": "yours"})).await
                }
                // Left to lapse, or kept for now.
                _ => {}
            }
        }
        if roll(3) == 0
            && let Ok(queue) = http
                .get(format!("{base}/v1/agent/queue"))
                .bearer_auth(&key)
                .send()
                .await
        {
            let queue: serde_json::Value = queue.json().await.unwrap_or_default();
            if let Some(waiting) = queue["handoffs"]
                .as_array()
                .and_then(|l| l.iter().find(|h| h["status"] == "queued"))
            {
                let id = waiting["id"].as_str().unwrap_or_default();
                post(format!("/v1/agent/handoffs/{id}/take"), json!({})).await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Customers asking for a person, as fast as the server takes them.
async fn ask_for_people(http: reqwest::Client, base: String, round: usize) {
    for n in 0.. {
        let Ok(opened) = http
            .post(format!("{base}/v1/conversations"))
            .json(&json!({}))
            .send()
            .await
        else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let opened: serde_json::Value = opened.json().await.unwrap_or_default();
        let (Some(id), Some(token)) = (opened["id"].as_str(), opened["token"].as_str()) else {
            continue;
        };
        let _ = http
            .post(format!("{base}/v1/conversations/{id}/messages"))
            .bearer_auth(token)
            .json(&json!({"client_msg_id": format!("r{round}-{n}"),
                          "text": "I want to talk to a human please"}))
            .send()
            .await;
    }
}

/// `baton doctor` on the database: (exit code, output).
fn doctor(database_url: &str) -> (i32, String) {
    let output = std::process::Command::new(BIN)
        .args(["doctor", "--database", database_url])
        .env("BATON_LOG", "warn")
        .output()
        .expect("run baton doctor");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Every handoff step is one write: killed at any moment under a load of escalations, offers
/// lapsing, accepts, declines, takes, transfers, hand-backs and resolutions, the server never
/// leaves a handoff and its conversation disagreeing, as `baton doctor` checks after each
/// kill; and after a restart the queue keeps moving.
#[tokio::test]
async fn no_handoff_and_conversation_disagree_after_kills_under_load() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let handoff = "offer_timeout_ms = 600\ndecline_cooldown_ms = 300\nmissed_offers_before_away = 0\npresence_timeout_ms = 600000";
        let mut server = Server::start_with_policy(&db, TWO_TEAMS, handoff).await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let mut agents = Vec::new();
        for (i, teams) in [&["support"][..], &["billing"], &["support", "billing"]]
            .iter()
            .enumerate()
        {
            agents.push(create_agent(&server, &admin, &format!("Agent {i}"), teams, 3).await);
        }
        for round in 0..4 {
            for agent in &agents {
                online(&server, agent).await;
            }
            let mut load = Vec::new();
            for _ in 0..2 {
                load.push(tokio::spawn(ask_for_people(
                    server.http.clone(),
                    server.base.clone(),
                    round,
                )));
            }
            for (i, agent) in agents.iter().enumerate() {
                load.push(tokio::spawn(work_the_queue(
                    server.http.clone(),
                    server.base.clone(),
                    agent.key.clone(),
                    (round * 31 + i) as u64 + 7,
                )));
            }
            // Long enough for escalations, offers, lapses and every kind of step.
            tokio::time::sleep(std::time::Duration::from_millis(1500 + 400 * round as u64)).await;
            server.kill_hard().await;
            for task in &load {
                task.abort();
            }
            let (code, report) = doctor(&db.url);
            assert_eq!(code, 0, "{backend:?}, after kill {round}: {report}");
            assert!(
                report.contains("everything agrees") || report.contains("no errors"),
                "{report}"
            );
            server = Server::start_with_policy(&db, TWO_TEAMS, handoff).await;
        }
        // The queue still moves after the last restart: every waiting handoff is offered or
        // taken once agents answer.
        let (status, queue) = server.get("/v1/agent/queue", Some(&admin)).await;
        assert_eq!(status, 200);
        let handoffs = queue["handoffs"].as_array().unwrap().len();
        assert!(handoffs > 0, "{backend:?}: the load made handoffs");
        let (code, report) = doctor(&db.url);
        assert_eq!(code, 0, "{backend:?}: {report}");
        server.kill_hard().await;
        // The kills fell among every kind of step.
        let store = baton_store::open(&db.url, Default::default())
            .await
            .unwrap();
        let all = store
            .handoffs(&baton_store::HandoffFilter {
                limit: u32::MAX,
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
        let steps: std::collections::HashSet<&str> = all
            .iter()
            .flat_map(|h| h.history.iter().map(|s| s.step.as_str()))
            .collect();
        for step in [
            "queued",
            "offered",
            "accepted",
            "declined",
            "offer_expired",
            "taken",
            "transferred",
            "handed_back",
            "resolved",
        ] {
            assert!(
                steps.contains(step),
                "{backend:?}: no {step} step in {steps:?}"
            );
        }
    }
}
