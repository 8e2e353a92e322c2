//! The HTTP and WebSocket API, driven over loopback against the real binary, on SQLite and
//! (when `BATON_TEST_DATABASE_URL` is set) PostgreSQL.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn posting_the_same_client_msg_id_twice_stores_one_message() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start(&db).await;
        let (id, token) = server.open_conversation(json!({})).await;

        let (first, body1) = server
            .post_message(&id, &token, "m-1", "Where is my invoice?")
            .await;
        let (second, body2) = server
            .post_message(&id, &token, "m-1", "Where is my invoice?")
            .await;
        assert_eq!(first, 201, "{backend:?}: {body1}");
        assert_eq!(
            second, 200,
            "{backend:?}: a retry is acknowledged, not stored again"
        );
        assert_eq!(body1["message"], body2["message"]);
        assert_eq!(
            body1["replies"], body2["replies"],
            "a retry gets the same replies"
        );
        assert_eq!(body1["message"]["type"], "message");
        assert_eq!(body1["message"]["role"], "customer");
        assert_eq!(body1["message"]["client_msg_id"], "m-1");

        let (status, page) = server
            .get(&format!("/v1/conversations/{id}/events"), Some(&token))
            .await;
        assert_eq!(status, 200);
        let messages: Vec<&Value> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["role"] == "customer")
            .collect();
        assert_eq!(messages.len(), 1, "{backend:?}: exactly one message stored");
    }
}

/// The customer-visible events after `after`, as the events endpoint lists them.
async fn visible_after(server: &Server, id: &str, token: &str, after: i64) -> Vec<i64> {
    let (status, page) = server
        .get(
            &format!("/v1/conversations/{id}/events?after={after}"),
            Some(token),
        )
        .await;
    assert_eq!(status, 200);
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn stream_replays_then_goes_live_and_resumes_without_gap_or_duplicate() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start(&db).await;
        let (id, token) = server
            .open_conversation(json!({"page": {"url": "https://app.example.com/billing"}}))
            .await;
        for n in 0..5 {
            let (s, _) = server
                .post_message(&id, &token, &format!("a{n}"), &format!("first {n}"))
                .await;
            assert_eq!(s, 201);
        }
        let expected = visible_after(&server, &id, &token, 0).await;
        assert!(
            expected.len() >= 6,
            "{backend:?}: started + 5 messages (+ replies)"
        );
        let url = format!(
            "{}/v1/conversations/{id}/stream?after=0&token={token}",
            server.ws_base
        );
        let mut stream = Stream::connect(&url).await;
        let replayed = stream
            .collect_until_seq(*expected.last().unwrap(), 20)
            .await;
        assert_eq!(seqs(&replayed), expected, "{backend:?}: replay");

        // Live: new messages arrive on the open stream.
        let last = *expected.last().unwrap();
        for n in 0..3 {
            server
                .post_message(&id, &token, &format!("b{n}"), &format!("live {n}"))
                .await;
        }
        let expected = visible_after(&server, &id, &token, last).await;
        let live = stream
            .collect_until_seq(*expected.last().unwrap(), 20)
            .await;
        assert_eq!(seqs(&live), expected, "{backend:?}: live");
        stream.close().await;

        // Messages sent while disconnected arrive on reconnect from `after`, exactly once.
        let last = *expected.last().unwrap();
        for n in 0..4 {
            server
                .post_message(&id, &token, &format!("c{n}"), &format!("offline {n}"))
                .await;
        }
        let expected = visible_after(&server, &id, &token, last).await;
        let url = format!(
            "{}/v1/conversations/{id}/stream?after={last}&token={token}",
            server.ws_base
        );
        let mut stream = Stream::connect(&url).await;
        let resumed = stream
            .collect_until_seq(*expected.last().unwrap(), 20)
            .await;
        assert_eq!(seqs(&resumed), expected, "{backend:?}: resume");
        assert!(resumed.iter().any(|e| e["text"] == "offline 3"));
        // Staff-only events never reach the customer's stream.
        assert!(resumed.iter().all(|e| e["type"] != "ai_reply"));
        // No stored event is pending (a waiting customer may hear where they stand).
        while let Some(frame) = stream.next_json(1).await {
            assert!(frame.get("seq").is_none(), "{backend:?}: {frame}");
        }
    }
}

#[tokio::test]
async fn events_page_with_after_and_limit() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;
    for n in 0..6 {
        server
            .post_message(&id, &token, &format!("m{n}"), "hello")
            .await;
    }
    let all = visible_after(&server, &id, &token, 0).await;
    let (status, page) = server
        .get(
            &format!("/v1/conversations/{id}/events?after={}&limit=3", all[1]),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let listed: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, all[2..5].to_vec());
    assert_eq!(page["next_after"], all[4]);
    let beyond = all.last().unwrap() + 10;
    let (status, page) = server
        .get(
            &format!("/v1/conversations/{id}/events?after={beyond}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next_after"], beyond);
    let (status, body) = server
        .get(
            &format!("/v1/conversations/{id}/events?limit=0"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn credentials_open_only_what_they_should() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start(&db).await;
        let (a, token_a) = server.open_conversation(json!({})).await;
        let (b, _token_b) = server.open_conversation(json!({})).await;

        // A customer token never reads another conversation.
        let (status, body) = server
            .get(&format!("/v1/conversations/{b}/events"), Some(&token_a))
            .await;
        assert_eq!(status, 404, "{backend:?}");
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _) = server.post_message(&b, &token_a, "x", "hi").await;
        assert_eq!(status, 404);
        // No credentials, or a forged token.
        let (status, body) = server
            .get(&format!("/v1/conversations/{a}/events"), None)
            .await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
        let forged = token_a.replace(&a, &b);
        let (status, _) = server
            .get(&format!("/v1/conversations/{b}/events"), Some(&forged))
            .await;
        assert_eq!(status, 401);

        // Staff: agent keys work on agent routes, not admin routes.
        let admin = create_staff(&server.database_url, "admin", "Ada Admin");
        let (status, created) = server
            .post(
                "/v1/admin/staff",
                Some(&admin),
                json!({"name": "Dana", "role": "agent"}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let agent_key = created["key"].as_str().unwrap().to_string();
        let agent_id = created["staff"]["id"].as_str().unwrap().to_string();
        let (status, list) = server
            .get("/v1/agent/conversations", Some(&agent_key))
            .await;
        assert_eq!(status, 200);
        assert_eq!(list["conversations"].as_array().unwrap().len(), 2);
        let (status, body) = server.get("/v1/admin/staff", Some(&agent_key)).await;
        assert_eq!(status, 403, "agent key on an admin route");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = server.get("/v1/agent/conversations", Some(&token_a)).await;
        assert_eq!(status, 401, "a conversation token is not a staff key");
        let (status, _) = server.get("/v1/agent/conversations", None).await;
        assert_eq!(status, 401);

        // Rotating a key retires the old one.
        let (status, rotated) = server
            .post(
                &format!("/v1/admin/staff/{agent_id}/rotate-key"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        let new_key = rotated["key"].as_str().unwrap().to_string();
        assert_eq!(
            server
                .get("/v1/agent/conversations", Some(&agent_key))
                .await
                .0,
            401
        );
        assert_eq!(
            server
                .get("/v1/agent/conversations", Some(&new_key))
                .await
                .0,
            200
        );

        // A disabled key gets 401 at once; enabling restores it.
        let (status, staff) = server
            .post(
                &format!("/v1/admin/staff/{agent_id}/disable"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(staff["disabled"], true);
        assert_eq!(
            server
                .get("/v1/agent/conversations", Some(&new_key))
                .await
                .0,
            401
        );
        server
            .post(
                &format!("/v1/admin/staff/{agent_id}/enable"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(
            server
                .get("/v1/agent/conversations", Some(&new_key))
                .await
                .0,
            200
        );

        // Staff read the full timeline of any conversation.
        let (status, page) = server
            .get(
                &format!("/v1/agent/conversations/{a}/events"),
                Some(&new_key),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(page["events"][0]["type"], "conversation_started");
    }
}

#[tokio::test]
async fn bad_input_gets_the_documented_json_errors() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;

    let (status, body) = server.post_message(&id, &token, "e1", "   ").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("text"));

    let long = "é".repeat(4001);
    let (status, body) = server.post_message(&id, &token, "e2", &long).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "text_too_long");
    let exactly = "é".repeat(4000);
    assert_eq!(
        server.post_message(&id, &token, "e3", &exactly).await.0,
        201
    );

    let response = server
        .http
        .post(server.url(&format!("/v1/conversations/{id}/messages")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"client_msg_id\": \"x\", \"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");

    let (status, body) = server
        .post(
            &format!("/v1/conversations/{id}/messages"),
            Some(&token),
            json!({"text": "no id"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid_request");

    // Unknown conversation: a valid-looking token for an id that does not exist.
    let (status, body) = server
        .post_message("does-not-exist", &token, "e4", "hi")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = server.get("/v1/no/such/route", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = server
        .post(
            &format!("/v1/conversations/{id}/events"),
            Some(&token),
            json!({"kind": "teleport"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // Nothing of the failed requests was stored.
    let (_, page) = server
        .get(&format!("/v1/conversations/{id}/events"), Some(&token))
        .await;
    let messages = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["role"] == "customer")
        .count();
    assert_eq!(messages, 1);
}

#[tokio::test]
async fn identity_tokens_decide_who_the_customer_is() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let claims = |exp: i64| {
        json!({"sub": "user-42", "name": "Ada Lovelace", "email": "ada@example.com", "exp": exp,
               "account": {"id": "acme", "name": "Acme Inc", "tier": "enterprise",
                           "signup_at": "2026-01-05T00:00:00Z", "owner": "Sam", "attrs": {"plan": "scale", "seats": 120}}})
    };
    let token = identity_token(IDENTITY_SECRET, claims(now_secs() + 600));
    let response = server
        .http
        .post(server.url("/v1/conversations"))
        .json(&json!({"identity_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let opened: Value = response.json().await.unwrap();
    assert_eq!(opened["anonymous"], false);
    assert_eq!(opened["state"], "ai");

    let admin = create_staff(&server.database_url, "admin", "Ada Admin");
    let id = opened["id"].as_str().unwrap();
    let (status, detail) = server
        .get(&format!("/v1/agent/conversations/{id}"), Some(&admin))
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["customer"]["external_id"], "user-42");
    assert_eq!(detail["customer"]["email"], "ada@example.com");
    assert_eq!(detail["account"]["tier"], "enterprise");
    assert_eq!(detail["account"]["attrs"]["seats"], 120);

    // Expired, badly signed and alg-swapped tokens get 401.
    let expired = identity_token(IDENTITY_SECRET, claims(now_secs() - 600));
    let forged = identity_token("not-the-right-secret-0123456789", claims(now_secs() + 600));
    let swapped = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims(now_secs() + 600),
        &jsonwebtoken::EncodingKey::from_secret(IDENTITY_SECRET.as_bytes()),
    )
    .unwrap();
    for bad in [expired, forged, swapped, "not-a-jwt".to_string()] {
        let (status, body) = server
            .post("/v1/conversations", None, json!({"identity_token": bad}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // Without a token the customer is an anonymous visitor.
    let (status, body) = server.post("/v1/conversations", None, json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(body["anonymous"], true);
}

#[tokio::test]
async fn page_activity_is_stored_and_shown_to_its_customer() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (id, token) = server
        .open_conversation(
            json!({"page": {"url": "https://app.example.com/billing", "title": "Billing"}}),
        )
        .await;
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{id}/events"),
            Some(&token),
            json!({"kind": "error", "url": "https://app.example.com/billing", "detail": "Payment failed: card declined", "at": "2026-03-02T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["event"]["type"], "page_event");
    assert_eq!(body["event"]["kind"], "error");
    assert_eq!(body["event"]["occurred_at"], "2026-03-02T10:00:00Z");
    let (_, page) = server
        .get(&format!("/v1/conversations/{id}/events"), Some(&token))
        .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "conversation_started");
    assert_eq!(events[0]["page"]["title"], "Billing");
    assert_eq!(events[1]["detail"], "Payment failed: card declined");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;
    server.post_message(&id, &token, "m", "hello").await;

    assert_eq!(
        server.get("/healthz", None).await,
        (200, json!({"status": "ok"}))
    );
    let (status, ready) = server.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(ready["database"], "sqlite");

    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("baton_messages_stored_total"), "{metrics}");
    assert!(metrics.contains("baton_http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("baton_http_request_duration_seconds"),
        "{metrics}"
    );

    let (status, doc) = server.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/conversations",
        "/v1/conversations/{id}/messages",
        "/v1/conversations/{id}/stream",
        "/v1/admin/staff",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let mut options = ServerOptions::default();
    options
        .env
        .push(("BATON_CORS_ORIGINS", "https://app.example.com".to_string()));
    let server = Server::start_with(&db, options).await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/v1/conversations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.example.com")
    );
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn two_processes_on_postgres_share_conversations_and_live_events() {
    let Some(Backend::Postgres(url)) = Backend::all()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("skipping: BATON_TEST_DATABASE_URL is not set");
        return;
    };
    let db = TestDatabase::new(&Backend::Postgres(url)).await;
    let a = Server::start(&db).await;
    let b = Server::start(&db).await;
    // A conversation opened on one process is served by the other: tokens are signed with a
    // secret both read from the database.
    let (id, token) = a.open_conversation(json!({})).await;
    let url = format!(
        "{}/v1/conversations/{id}/stream?after=1&token={token}",
        b.ws_base
    );
    let mut stream = Stream::connect(&url).await;
    // Messages posted to either process reach the stream on B, in order, once each.
    assert_eq!(
        a.post_message(&id, &token, "m1", "posted on A").await.0,
        201
    );
    assert_eq!(
        b.post_message(&id, &token, "m2", "posted on B").await.0,
        201
    );
    assert_eq!(
        a.post_message(&id, &token, "m3", "posted on A again")
            .await
            .0,
        201
    );
    // A retry on the other process is still the same message.
    assert_eq!(
        b.post_message(&id, &token, "m1", "posted on A").await.0,
        200
    );
    let expected = visible_after(&a, &id, &token, 1).await;
    let events = stream
        .collect_until_seq(*expected.last().unwrap(), 20)
        .await;
    assert_eq!(seqs(&events), expected);
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["role"] == "customer")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["posted on A", "posted on B", "posted on A again"]
    );
    assert!(stream.next_json(1).await.is_none());
}

#[tokio::test]
async fn stream_route_without_websocket_upgrade_is_a_json_error() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (id, token) = server.open_conversation(json!({})).await;
    let (status, body) = server
        .get(&format!("/v1/conversations/{id}/stream"), Some(&token))
        .await;
    assert!(status >= 400, "{status}");
    assert_eq!(body["error"]["code"], "websocket_required");
}

#[tokio::test]
async fn feedback_on_an_ai_answer_is_taken_once() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start(&db).await;
        let (id, token) = server.open_conversation(json!({})).await;
        let (status, body) = server
            .post_message(&id, &token, "m-1", "How do I reset my password?")
            .await;
        assert_eq!(status, 201, "{body}");
        let customer_seq = body["message"]["seq"].as_i64().unwrap();
        let answer = body["replies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["role"] == "ai")
            .unwrap_or_else(|| panic!("{backend:?}: an AI reply: {body}"));
        let seq = answer["seq"].as_i64().unwrap();
        let path = format!("/v1/conversations/{id}/feedback");

        // A double click: the clicks arrive together, one is stored, the other refused.
        let click = json!({"message_seq": seq, "helpful": false});
        let (a, b, c) = tokio::join!(
            server.post(&path, Some(&token), click.clone()),
            server.post(&path, Some(&token), click.clone()),
            server.post(&path, Some(&token), click.clone()),
        );
        let mut statuses = [a.0, b.0, c.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409, 409], "{backend:?}: {a:?} {b:?} {c:?}");
        let first = [a, b, c].into_iter().find(|(s, _)| *s == 201).unwrap().1;
        assert_eq!(first["event"]["type"], "feedback");
        // The same answer again, either way: refused, and only one feedback is stored.
        for helpful in [false, true] {
            let (status, again) = server
                .post(
                    &path,
                    Some(&token),
                    json!({"message_seq": seq, "helpful": helpful}),
                )
                .await;
            assert_eq!(status, 409, "{backend:?}: {again}");
            assert_eq!(again["error"]["code"], "feedback_already_given");
        }
        // Only AI answers take feedback.
        let (status, body) = server
            .post(
                &path,
                Some(&token),
                json!({"message_seq": customer_seq, "helpful": true}),
            )
            .await;
        assert_eq!(status, 400, "{backend:?}: {body}");
        let (_, page) = server
            .get(&format!("/v1/conversations/{id}/events"), Some(&token))
            .await;
        let stored = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "feedback")
            .count();
        assert_eq!(stored, 1, "{backend:?}: {page}");
    }
}

#[tokio::test]
async fn an_identified_customer_can_resume_without_opening_a_new_conversation() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let token = identity_token(
        IDENTITY_SECRET,
        json!({"sub": "user-7", "name": "Kim", "exp": now_secs() + 600}),
    );
    let resume_only = json!({"identity_token": token, "resume": true, "resume_only": true});
    // Nothing open yet: 404, and nothing is opened.
    let (status, body) = server
        .post("/v1/conversations", None, resume_only.clone())
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "no_open_conversation");
    let (status, body) = server
        .post(
            "/v1/conversations",
            None,
            json!({"resume_only": true, "identity_token": token}),
        )
        .await;
    assert_eq!(status, 400, "resume_only needs resume: {body}");

    let (status, opened) = server
        .post(
            "/v1/conversations",
            None,
            json!({"identity_token": token, "resume": true}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    // On another device: the same conversation, with its history.
    let (status, resumed) = server.post("/v1/conversations", None, resume_only).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["id"], opened["id"]);
    assert_eq!(resumed["resumed"], true);
}

#[tokio::test]
async fn the_demo_page_signs_no_identity_outside_baton_demo() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let response = server
        .http
        .get(server.url("/demo/billing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("script-src 'self'"))
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("src=\"/widget.js\""), "{html}");
    assert!(!html.contains("data-identity-token=\""), "{html}");
}

#[tokio::test]
async fn every_page_carries_the_content_security_policy() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let admin = create_staff(&db.url, "admin", "Ada Admin");
    let server = Server::start(&db).await;
    let article = json!({"id": "csp-check", "title": "Export your invoices",
        "body": "Open Billing, then Invoices, and choose Export.",
        "questions": ["how do I export invoices"]});
    let (status, saved) = server.post("/v1/kb/articles", Some(&admin), article).await;
    assert_eq!(status, 201, "{saved}");
    for path in ["/console", "/demo/billing", "/kb/csp-check"] {
        let response = server.http.get(server.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path} has no Content-Security-Policy"))
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        // Scripts (script-src, else default-src) never inline, evaluated or from elsewhere.
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.split_whitespace().next() == Some(name))
                .map(str::to_string)
        };
        let scripts = directive("script-src")
            .or_else(|| directive("default-src"))
            .unwrap_or_default();
        for unsafe_source in ["'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"] {
            assert!(
                !scripts.split_whitespace().any(|s| s == unsafe_source),
                "{path}: {csp}"
            );
        }
    }
}
