//! The warm handoff end to end, over HTTP and WebSocket against the real binary: the offer
//! with its brief, accept, the agent's reply reaching the customer, resolve and rating; the
//! AI staying quiet while a person owns the conversation; offers that time out, agents who
//! disconnect, after-hours tickets, transfers and hand-backs; and 200 escalations at once.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Two always-open teams; billing questions go to billing.
const TWO_TEAMS: &str = r#"
default_team = "support"

[[teams]]
name = "support"
display_name = "Support"

[[teams]]
name = "billing"
display_name = "Billing"
skills = ["billing_question", "billing_dispute", "refund"]
"#;

/// The same teams, offering agents as many conversations at once as they have room for.
const TWO_TEAMS_SEVERAL_OFFERS: &str = r#"
default_team = "support"

[[teams]]
name = "support"
display_name = "Support"
offers = "up_to_capacity"

[[teams]]
name = "billing"
display_name = "Billing"
skills = ["billing_question", "billing_dispute", "refund"]
offers = "up_to_capacity"
"#;

async fn agent_stream(server: &Server, agent: &Agent) -> Stream {
    let mut stream = Stream::connect(&format!(
        "{}/v1/agent/stream?token={}",
        server.ws_base, agent.key
    ))
    .await;
    let hello = stream.next_json(10).await.expect("hello frame");
    assert_eq!(hello["type"], "hello", "{hello}");
    stream
}

/// Frames until one of `kind` arrives (others skipped); panics after `secs`.
async fn next_of(stream: &mut Stream, kind: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "no {kind} frame within {secs} s");
        if let Some(frame) = stream.next_json(left.as_secs().max(1)).await
            && frame["type"] == kind
        {
            return frame;
        }
    }
}

/// Customer stream frames until a message whose text contains `needle`.
async fn customer_sees(stream: &mut Stream, needle: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "the customer never saw {needle:?}");
        if let Some(frame) = stream.next_json(left.as_secs().max(1)).await
            && frame["type"] == "message"
            && frame["text"].as_str().is_some_and(|t| t.contains(needle))
        {
            return frame;
        }
    }
}

async fn escalate(server: &Server, text: &str) -> (String, String, Value) {
    let (id, token) = server.open_conversation(json!({})).await;
    let (status, body) = server.post_message(&id, &token, "m1", text).await;
    assert_eq!(status, 201, "{body}");
    (id, token, body)
}

/// Accepts an offer as the agent with `key`; the handoff as it now stands.
async fn accept(server: &Server, key: &str, handoff_id: &str) -> Value {
    let (status, body) = server
        .post(
            &format!("/v1/agent/handoffs/{handoff_id}/accept"),
            Some(key),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "accept {handoff_id}: {body}");
    body
}

async fn wait_for_handoff(server: &Server, admin: &str, conversation: &str) -> Value {
    for _ in 0..100 {
        let (_, queue) = server.get("/v1/agent/queue", Some(admin)).await;
        if let Some(h) = queue["handoffs"]
            .as_array()
            .and_then(|a| a.iter().find(|h| h["conversation_id"] == conversation))
        {
            return h.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no handoff for {conversation}");
}

#[tokio::test]
async fn explicit_request_reaches_an_agent_with_the_brief_and_ends_rated() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, TWO_TEAMS, "offer_timeout_ms = 30000").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let dana = create_agent(&server, &admin, "Dana", &["support", "billing"], 2).await;
        let mut dana_stream = agent_stream(&server, &dana).await;
        online(&server, &dana).await;

        let (id, token) = server
            .open_conversation(json!({"page": {"url": "https://app.example.com/demo/billing", "title": "Billing"}}))
            .await;
        let mut customer = Stream::connect(&format!(
            "{}/v1/conversations/{id}/stream?token={token}",
            server.ws_base
        ))
        .await;
        let (status, _) = server
            .post(
                &format!("/v1/conversations/{id}/events"),
                Some(&token),
                json!({"kind": "page_view", "url": "https://app.example.com/demo/billing"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, first) = server
            .post_message(&id, &token, "m1", "How do I download last month's invoice?")
            .await;
        assert_eq!(status, 201, "{first}");
        let (status, asked) = server
            .post_message(&id, &token, "m2", "I want to talk to a real person please")
            .await;
        assert_eq!(status, 201, "{asked}");
        let told = asked["replies"][0]["text"].as_str().unwrap_or_default();
        // The invoice question makes it a billing matter.
        assert!(told.contains("our Billing team"), "{told}");
        assert!(told.contains("next in line"), "{told}");

        // The offer arrives with the brief: the page, the trigger, what the AI tried.
        let offer = next_of(&mut dana_stream, "offer", 10).await;
        let handoff_id = offer["handoff"]["id"].as_str().unwrap().to_string();
        assert_eq!(offer["handoff"]["conversation_id"], id.as_str());
        let brief = &offer["brief"];
        assert_eq!(brief["schema"], "brief.v1");
        assert!(
            brief.to_string().contains("/demo/billing"),
            "page URL in the brief: {brief}"
        );
        assert_eq!(brief["why"]["triggers"][0]["kind"], "explicit_request");
        assert!(
            !brief["ai_attempts"].as_array().unwrap().is_empty(),
            "{brief}"
        );
        assert!(offer["brief_text"].as_str().unwrap().contains("explicit"));

        // Accept: the customer sees who joined.
        let accepted = accept(&server, &dana.key, &handoff_id).await;
        assert_eq!(accepted["status"], "assigned");
        customer_sees(&mut customer, "Dana from Billing joined", 10).await;

        // The AI says nothing while a person owns the conversation.
        let (status, quiet) = server
            .post_message(&id, &token, "m3", "Thanks. It's invoice INV-2291.")
            .await;
        assert_eq!(status, 201);
        assert_eq!(quiet["replies"], json!([]), "{quiet}");
        let event = next_of(&mut dana_stream, "event", 10).await;
        assert_eq!(event["conversation_id"], id.as_str());

        // A second agent cannot write in Dana's conversation; Dana can.
        let sam = create_agent(&server, &admin, "Sam", &["support"], 2).await;
        let (status, _) = server
            .post(
                &format!("/v1/agent/conversations/{id}/messages"),
                Some(&sam.key),
                json!({"text": "hello"}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = server
            .post(
                &format!("/v1/agent/conversations/{id}/messages"),
                Some(&dana.key),
                json!({"text": "I found INV-2291 and re-sent it to you."}),
            )
            .await;
        assert_eq!(status, 201);
        let reply = customer_sees(&mut customer, "re-sent it", 10).await;
        assert_eq!(reply["role"], "agent");
        assert_eq!(reply["author"], "Dana");

        // An internal note never reaches the customer.
        let (status, _) = server
            .post(
                &format!("/v1/agent/conversations/{id}/notes"),
                Some(&dana.key),
                json!({"text": "customer was double-billed in March"}),
            )
            .await;
        assert_eq!(status, 201);
        let (_, page) = server
            .get(&format!("/v1/conversations/{id}/events"), Some(&token))
            .await;
        assert!(!page.to_string().contains("double-billed"), "{page}");

        // Resolve, then the customer rates it once.
        let (status, resolved) = server
            .post(
                &format!("/v1/agent/handoffs/{handoff_id}/resolve"),
                Some(&dana.key),
                json!({"note": "re-sent invoice", "tags": ["invoices"]}),
            )
            .await;
        assert_eq!(status, 200, "{resolved}");
        assert_eq!(resolved["outcome"], "resolved");
        customer_sees(&mut customer, "How did we do?", 10).await;
        let (status, rated) = server
            .post(
                &format!("/v1/conversations/{id}/rating"),
                Some(&token),
                json!({"score": 5, "comment": "quick and kind"}),
            )
            .await;
        assert_eq!(status, 201, "{rated}");
        let (status, again) = server
            .post(
                &format!("/v1/conversations/{id}/rating"),
                Some(&token),
                json!({"score": 1}),
            )
            .await;
        assert_eq!(status, 409, "{again}");
        let (status, stored) = server
            .get(&format!("/v1/agent/handoffs/{handoff_id}"), Some(&admin))
            .await;
        assert_eq!(status, 200);
        assert_eq!(stored["handoff"]["csat"]["score"], 5);
        assert_eq!(stored["handoff"]["csat"]["comment"], "quick and kind");
        assert_eq!(stored["handoff"]["tags"], json!(["invoices"]));
        let (_, conversation) = server
            .get(&format!("/v1/agent/conversations/{id}"), Some(&admin))
            .await;
        assert_eq!(conversation["conversation"]["state"], "resolved");
        dana_stream.close().await;
        customer.close().await;
    }
}

#[tokio::test]
async fn an_offer_not_accepted_in_time_goes_to_the_next_agent() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, TWO_TEAMS, "offer_timeout_ms = 1500").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let first = create_agent(&server, &admin, "Dana", &["support"], 2).await;
        let second = create_agent(&server, &admin, "Sam", &["support"], 2).await;
        let mut first_stream = agent_stream(&server, &first).await;
        let mut second_stream = agent_stream(&server, &second).await;
        online(&server, &first).await;
        online(&server, &second).await;

        let (id, _, _) = escalate(&server, "get me a human agent now").await;
        // Whoever gets it first lets it expire; the other gets it next.
        let (waiting, waiting_stream, other_stream) = tokio::select! {
            offer = next_of(&mut first_stream, "offer", 10) => (offer, &first, &mut second_stream),
            offer = next_of(&mut second_stream, "offer", 10) => (offer, &second, &mut first_stream),
        };
        assert_eq!(waiting["handoff"]["conversation_id"], id.as_str());
        let next = next_of(other_stream, "offer", 15).await;
        assert_eq!(next["handoff"]["id"], waiting["handoff"]["id"]);
        // The first agent cools down from it for a while (not for good).
        let cooling = next["handoff"]["declined"].as_array().unwrap();
        assert!(
            cooling
                .iter()
                .any(|c| c["agent_id"] == waiting_stream.id.as_str() && c["until"].is_string()),
            "{next}"
        );
        // Too late for the first agent.
        let (status, body) = server
            .post(
                &format!(
                    "/v1/agent/handoffs/{}/accept",
                    waiting["handoff"]["id"].as_str().unwrap()
                ),
                Some(&waiting_stream.key),
                json!({}),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
}

#[tokio::test]
async fn an_agent_who_disconnects_gives_the_conversation_back_to_the_queue() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(
            &db,
            TWO_TEAMS,
            "presence_timeout_ms = 1000\noffline_grace_ms = 500",
        )
        .await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let leaving = create_agent(&server, &admin, "Dana", &["support"], 2).await;
        let mut leaving_stream = agent_stream(&server, &leaving).await;
        online(&server, &leaving).await;

        let (id, token, _) = escalate(&server, "I need to speak to a person").await;
        let offer = next_of(&mut leaving_stream, "offer", 10).await;
        let handoff_id = offer["handoff"]["id"].as_str().unwrap().to_string();
        accept(&server, &leaving.key, &handoff_id).await;
        leaving_stream.close().await;

        // After the presence timeout and the grace period it is queued again...
        let mut requeued = false;
        for _ in 0..100 {
            let h = wait_for_handoff(&server, &admin, &id).await;
            if h["status"] == "queued" {
                requeued = true;
                assert!(
                    h["history"].to_string().contains("offline"),
                    "{}",
                    h["history"]
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(requeued, "the handoff never went back to the queue");
        let (_, me) = server.get("/v1/agent/me", Some(&leaving.key)).await;
        assert_eq!(me["agent"]["presence"], "offline");
        // ... the customer is told, and the next agent to come online gets it.
        let (_, events) = server
            .get(&format!("/v1/conversations/{id}/events"), Some(&token))
            .await;
        assert!(events.to_string().contains("back in line"), "{events}");
        let next = create_agent(&server, &admin, "Sam", &["support"], 2).await;
        let mut next_stream = agent_stream(&server, &next).await;
        online(&server, &next).await;
        let offer = next_of(&mut next_stream, "offer", 10).await;
        assert_eq!(offer["handoff"]["id"], handoff_id.as_str());
    }
}

#[tokio::test]
async fn after_hours_the_customer_is_told_when_and_the_ticket_waits_for_the_team() {
    // Closed for the next few days, whatever today is.
    let today = chrono::Utc::now().date_naive();
    let holidays: Vec<String> = (0..5)
        .map(|d| format!("\"{}\"", today + chrono::Days::new(d)))
        .collect();
    let policy = format!(
        "default_team = \"support\"\n\n[[teams]]\nname = \"support\"\ndisplay_name = \"Support\"\nhours = {{ timezone = \"UTC\", daily = \"09:00-17:00\", holidays = [{}] }}\n",
        holidays.join(", ")
    );
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, &policy, "").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let (id, token, body) = escalate(&server, "Can I talk to a human?").await;
        let told = body["replies"][0]["text"].as_str().unwrap_or_default();
        assert!(told.contains("back on"), "{told}");
        assert!(told.contains("reply here in this chat"), "{told}");
        assert!(told.contains("email address"), "{told}");
        assert!(!told.to_lowercase().contains("we will email"), "{told}");
        let handoff = wait_for_handoff(&server, &admin, &id).await;
        assert_eq!(handoff["status"], "queued");
        assert_eq!(handoff["offline"], true);
        assert_eq!(handoff["team"], "support");

        let (status, _) = server
            .post(
                &format!("/v1/conversations/{id}/contact"),
                Some(&token),
                json!({"email": "not an email"}),
            )
            .await;
        assert_eq!(status, 400);
        let (status, saved) = server
            .post(
                &format!("/v1/conversations/{id}/contact"),
                Some(&token),
                json!({"email": "pat@example.com"}),
            )
            .await;
        assert_eq!(status, 200, "{saved}");
        let (_, detail) = server
            .get(&format!("/v1/agent/conversations/{id}"), Some(&admin))
            .await;
        assert_eq!(detail["customer"]["email"], "pat@example.com");
        // The brief was written before the email came: the timeline says it, for the agent
        // (and the customer sees it confirmed).
        assert_eq!(saved["event"]["role"], "system", "{saved}");
        let (_, timeline) = server
            .get(
                &format!("/v1/agent/conversations/{id}/events"),
                Some(&admin),
            )
            .await;
        assert!(
            timeline["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "message"
                    && e["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("pat@example.com"))),
            "{timeline}"
        );

        // When someone from the team comes online, the ticket is offered to them.
        let dana = create_agent(&server, &admin, "Dana", &["support"], 2).await;
        let mut stream = agent_stream(&server, &dana).await;
        online(&server, &dana).await;
        let offer = next_of(&mut stream, "offer", 10).await;
        assert_eq!(offer["handoff"]["conversation_id"], id.as_str());
    }
}

#[tokio::test]
async fn transfer_re_routes_and_hand_back_returns_to_the_ai() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, TWO_TEAMS, "").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let dana = create_agent(&server, &admin, "Dana", &["support"], 2).await;
        let bill = create_agent(&server, &admin, "Bill", &["billing"], 2).await;
        let mut dana_stream = agent_stream(&server, &dana).await;
        let mut bill_stream = agent_stream(&server, &bill).await;
        online(&server, &dana).await;
        online(&server, &bill).await;

        let (id, token, _) = escalate(&server, "let me speak to a human").await;
        let offer = next_of(&mut dana_stream, "offer", 10).await;
        let handoff_id = offer["handoff"]["id"].as_str().unwrap().to_string();
        accept(&server, &dana.key, &handoff_id).await;
        let (status, body) = server
            .post(
                &format!("/v1/agent/handoffs/{handoff_id}/transfer"),
                Some(&dana.key),
                json!({"team": "nowhere"}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        let (status, moved) = server
            .post(
                &format!("/v1/agent/handoffs/{handoff_id}/transfer"),
                Some(&dana.key),
                json!({"team": "billing", "note": "double charge"}),
            )
            .await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(moved["team"], "billing");
        assert_eq!(moved["reroutes"], 1);
        let offer = next_of(&mut bill_stream, "offer", 10).await;
        assert_eq!(offer["handoff"]["id"], handoff_id.as_str());
        accept(&server, &bill.key, &handoff_id).await;
        let (status, back) = server
            .post(
                &format!("/v1/agent/handoffs/{handoff_id}/hand-back"),
                Some(&bill.key),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{back}");
        assert_eq!(back["outcome"], "handed_back");
        // The AI answers again.
        let (status, answered) = server
            .post_message(&id, &token, "m9", "How do I reset my password?")
            .await;
        assert_eq!(status, 201);
        assert!(
            answered["replies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["role"] == "ai"),
            "{answered}"
        );
    }
}

/// 200 escalations at once with 10 agents of capacity 3: nobody gets more than 3, no handoff
/// goes to two agents, every handoff is held or queued, and the queue drains in order.
#[tokio::test]
async fn two_hundred_simultaneous_escalations_never_overload_an_agent() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server =
            Server::start_with_policy(&db, TWO_TEAMS_SEVERAL_OFFERS, "offer_timeout_ms = 600000")
                .await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let mut agents = Vec::new();
        for n in 0..10 {
            let a = create_agent(&server, &admin, &format!("Agent {n}"), &["support"], 3).await;
            online(&server, &a).await;
            agents.push(a);
        }
        let mut tasks = Vec::new();
        for n in 0..200 {
            let base = server.base.clone();
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let opened: Value = http
                    .post(format!("{base}/v1/conversations"))
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let id = opened["id"].as_str().unwrap().to_string();
                let response = http
                    .post(format!("{base}/v1/conversations/{id}/messages"))
                    .bearer_auth(opened["token"].as_str().unwrap())
                    .json(&json!({"client_msg_id": format!("m{n}"), "text": "I want to talk to a human"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                id
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }

        // Wait for the dispatcher to fill every slot.
        let mut queue = Value::Null;
        for _ in 0..200 {
            let (_, q) = server.get("/v1/agent/queue", Some(&admin)).await;
            queue = q;
            let offered = count(&queue, "offered");
            if offered == 30 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check_invariants(&queue, &agents, 200);
        assert_eq!(count(&queue, "offered"), 30, "every slot offered");
        assert_eq!(count(&queue, "queued"), 170);

        // Agents accept and resolve; freed slots go to the longest-waiting handoffs first.
        let queued_order: Vec<String> = queue["handoffs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["status"] == "queued")
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
        let offered: Vec<(String, String)> = queue["handoffs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["status"] == "offered")
            .map(|h| {
                (
                    h["id"].as_str().unwrap().to_string(),
                    h["offer"]["agent_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (handoff, agent_id) in offered.iter().take(10) {
            let key = &agents.iter().find(|a| &a.id == agent_id).unwrap().key;
            accept(&server, key, handoff).await;
            let (status, body) = server
                .post(
                    &format!("/v1/agent/handoffs/{handoff}/resolve"),
                    Some(key),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        for _ in 0..200 {
            let (_, q) = server.get("/v1/agent/queue", Some(&admin)).await;
            queue = q;
            if count(&queue, "queued") == 160
                && count(&queue, "offered") + count(&queue, "assigned") == 30
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check_invariants(&queue, &agents, 190);
        assert_eq!(count(&queue, "queued"), 160, "ten freed slots were filled");
        let now_held: Vec<&str> = queue["handoffs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["status"] != "queued")
            .map(|h| h["id"].as_str().unwrap())
            .collect();
        for first in &queued_order[..10] {
            assert!(
                now_held.contains(&first.as_str()),
                "{first} waited longest and should have been offered"
            );
        }
    }
}

fn count(queue: &Value, status: &str) -> usize {
    queue["handoffs"]
        .as_array()
        .map(|a| a.iter().filter(|h| h["status"] == status).count())
        .unwrap_or(0)
}

fn check_invariants(queue: &Value, agents: &[Agent], open: usize) {
    let handoffs = queue["handoffs"].as_array().expect("handoffs");
    assert_eq!(handoffs.len(), open, "every handoff is held or queued");
    let mut conversations = std::collections::HashSet::new();
    for h in handoffs {
        assert!(
            conversations.insert(h["conversation_id"].as_str().unwrap().to_string()),
            "one open handoff per conversation"
        );
    }
    for agent in agents {
        let held = handoffs
            .iter()
            .filter(|h| {
                h["offer"]["agent_id"] == agent.id.as_str()
                    || (h["status"] == "assigned" && h["agent_id"] == agent.id.as_str())
            })
            .count();
        assert!(held <= 3, "agent {} holds {held}", agent.id);
    }
}

/// A local OpenAI-compatible chat-completions server: it writes handover notes when asked
/// for one and answers every other request with a short model answer.
async fn fake_model(note: &'static str) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |axum::Json(body): axum::Json<Value>| async move {
            let system = body["messages"][0]["content"].as_str().unwrap_or_default();
            let content = if system.contains("handover note") {
                json!({ "summary": note }).to_string()
            } else {
                json!({"answer": "Invoices are under Billing.", "confidence": 0.9,
                       "citations": [], "needs_human": false, "reason": "covered"})
                .to_string()
            };
            axum::Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}]
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn with_a_language_model_the_brief_carries_its_summary() {
    let note = "The customer needs invoice INV-77 corrected and asked for a person.";
    let base_url = fake_model(note).await;
    let responder = format!(
        "\n[responder]\nkind = \"llm\"\n\n[responder.llm]\nbase_url = {base_url:?}\nmodel = \"test-model\"\ntimeout_ms = 20000\n"
    );
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start_with_policy(&db, TWO_TEAMS, &responder).await;
    let admin = create_staff(&db.url, "admin", "Ada");
    let (id, _, _) = escalate(
        &server,
        "Invoice INV-77 lists 40 seats, we have 25. I want to talk to a person.",
    )
    .await;
    let handoff = wait_for_handoff(&server, &admin, &id).await;
    let (status, detail) = server
        .get(
            &format!("/v1/agent/handoffs/{}", handoff["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    let summary = &detail["brief"]["summary"];
    assert_eq!(summary["source"], "llm", "{summary}");
    assert_eq!(summary["text"], note);
    assert!(
        detail["brief_text"]
            .as_str()
            .unwrap_or_default()
            .contains(note),
        "{detail}"
    );
}

/// Transient frames (no `seq`) of `kind` on a stream, skipping everything else.
async fn next_transient(stream: &mut Stream, kind: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "no transient {kind} frame within {secs} s");
        if let Some(frame) = stream.next_json(left.as_secs().max(1)).await
            && frame["type"] == kind
        {
            assert!(frame.get("seq").is_none(), "transient: {frame}");
            return frame;
        }
    }
}

/// Posts "the agent is typing" once a second until the customer's stream shows it (10 s at
/// most); returns the typing frame.
async fn agent_typing_seen(
    server: &Server,
    key: &str,
    conversation: &str,
    stream: &mut Stream,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no transient typing frame within 10 s"
        );
        let (status, _) = server
            .post(
                &format!("/v1/agent/conversations/{conversation}/typing"),
                Some(key),
                json!({}),
            )
            .await;
        assert_eq!(status, 204);
        let round = tokio::time::Instant::now() + Duration::from_secs(1);
        while tokio::time::Instant::now() < round {
            match stream.next_json(1).await {
                Some(frame) if frame["type"] == "typing" => {
                    assert!(frame.get("seq").is_none(), "transient: {frame}");
                    return frame;
                }
                Some(_) => {}
                None => break,
            }
        }
    }
}

#[tokio::test]
async fn waiting_customers_hear_their_place_move_and_both_sides_see_typing() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, TWO_TEAMS, "").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let dana = create_agent(&server, &admin, "Dana", &["support"], 1).await;
        let mut dana_stream = agent_stream(&server, &dana).await;
        online(&server, &dana).await;

        // Dana takes the first customer; two more wait.
        let (first, first_token, _) = escalate(&server, "Can I talk to a human?").await;
        let offer = next_of(&mut dana_stream, "offer", 10).await;
        let first_handoff = offer["handoff"]["id"].as_str().unwrap().to_string();
        accept(&server, &dana.key, &first_handoff).await;
        let (_, _, told) = escalate(&server, "I need a person please").await;
        assert!(
            told["replies"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("next in line"),
            "{told}"
        );
        let (third, third_token, told) = escalate(&server, "Get me an agent").await;
        assert!(
            told["replies"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("2nd in line"),
            "{told}"
        );
        let mut third_stream = Stream::connect(&format!(
            "{}/v1/conversations/{third}/stream?token={third_token}",
            server.ws_base
        ))
        .await;

        // Dana writes to the first customer: they see her typing, and she sees them typing.
        let mut first_stream = Stream::connect(&format!(
            "{}/v1/conversations/{first}/stream?token={first_token}",
            server.ws_base
        ))
        .await;
        // Transient notices reach only streams already listening, and the server may still be
        // setting this one up: like a console, Dana says she is typing again until it shows.
        let typing = agent_typing_seen(&server, &dana.key, &first, &mut first_stream).await;
        assert_eq!(typing["role"], "agent");
        assert_eq!(typing["name"], "Dana");
        let (status, _) = server
            .post(
                &format!("/v1/conversations/{first}/typing"),
                Some(&first_token),
                json!({}),
            )
            .await;
        assert_eq!(status, 204);
        // (Dana's stream also carries where her customers stood while they waited.)
        let notice = loop {
            let notice = next_of(&mut dana_stream, "notice", 10).await;
            if notice["notice"]["type"] == "typing" {
                break notice;
            }
        };
        assert_eq!(notice["conversation_id"], first.as_str());
        assert_eq!(
            notice["notice"],
            json!({"type": "typing", "role": "customer"})
        );
        // Only the owner's typing shows; a customer cannot type for someone else's chat.
        let sam = create_agent(&server, &admin, "Sam", &["support"], 1).await;
        let (status, _) = server
            .post(
                &format!("/v1/agent/conversations/{first}/typing"),
                Some(&sam.key),
                json!({}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = server
            .post(
                &format!("/v1/conversations/{third}/typing"),
                Some(&first_token),
                json!({}),
            )
            .await;
        assert!(status == 401 || status == 403 || status == 404, "{status}");

        // The third customer's stream said where they stand when it opened: 2nd in line.
        let standing = next_transient(&mut third_stream, "queue", 10).await;
        assert_eq!(
            (standing["kind"].as_str(), standing["position"].as_i64()),
            (Some("in_line"), Some(2)),
            "{standing}"
        );

        // Dana resolves the first conversation and takes the second: the third customer moves
        // up and is told so, as data and in words.
        let (status, _) = server
            .post(
                &format!("/v1/agent/handoffs/{first_handoff}/resolve"),
                Some(&dana.key),
                json!({"note": "done"}),
            )
            .await;
        assert_eq!(status, 200);
        let second_offer = next_of(&mut dana_stream, "offer", 10).await;
        accept(
            &server,
            &dana.key,
            second_offer["handoff"]["id"].as_str().unwrap(),
        )
        .await;
        let moved = loop {
            let frame = next_transient(&mut third_stream, "queue", 10).await;
            if frame["position"] == 1 {
                break frame;
            }
        };
        assert_eq!(moved["kind"], "in_line", "{moved}");
        assert_eq!(moved["team"], "Support", "{moved}");
        assert!(
            moved["text"]
                .as_str()
                .unwrap_or_default()
                .contains("next in line"),
            "{moved}"
        );
        // Nothing transient is replayed: a reconnect sees stored events, and where the
        // customer stands now, once.
        third_stream.close().await;
        let mut again = Stream::connect(&format!(
            "{}/v1/conversations/{third}/stream?token={third_token}",
            server.ws_base
        ))
        .await;
        let mut standings = 0;
        while let Some(frame) = again.next_json(1).await {
            if frame["type"] == "queue" {
                standings += 1;
                assert_eq!(frame["position"], 1, "{frame}");
            } else {
                assert!(
                    frame["seq"].is_i64(),
                    "only stored events on replay: {frame}"
                );
            }
        }
        assert_eq!(standings, 1, "where the customer stands, once");
        again.close().await;
        first_stream.close().await;
        dana_stream.close().await;
        let _ = sam;
    }
}

// --- What the agent console relies on: the agent's own capacity, the customer's earlier
// conversations, following a conversation one does not hold, and access withdrawn. ---

#[tokio::test]
async fn an_agent_sets_their_own_capacity_and_routing_follows() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start_with_policy(&db, TWO_TEAMS, "offer_timeout_ms = 30000").await;
    let admin = create_staff(&db.url, "admin", "Ada");
    let dana = create_agent(&server, &admin, "Dana", &["support"], 1).await;

    // Out of bounds (400), the wrong type, unknown or missing fields (400 or 422, as every
    // JSON body): a JSON error.
    for (body, statuses) in [
        (json!({"capacity": 0}), &[400][..]),
        (json!({"capacity": 51}), &[400]),
        (json!({"capacity": "two"}), &[400, 422]),
        (json!({"capacity": 2, "teams": ["billing"]}), &[400, 422]),
        (json!({}), &[400, 422]),
    ] {
        let (status, error) = server
            .put("/v1/agent/capacity", Some(&dana.key), body.clone())
            .await;
        assert!(statuses.contains(&status), "{body}: {status} {error}");
        assert!(error["error"]["code"].is_string(), "{body}: {error}");
        assert!(error["error"]["message"].is_string(), "{body}: {error}");
    }
    let (_, error) = server
        .put(
            "/v1/agent/capacity",
            Some(&dana.key),
            json!({"capacity": 51}),
        )
        .await;
    assert_eq!(error["error"]["code"], "invalid_request", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("between 1 and 50")),
        "{error}"
    );
    let response = server
        .http
        .put(server.url("/v1/agent/capacity"))
        .json(&json!({"capacity": 2}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["code"], "unauthorized", "{error}");

    // At capacity 1, with the first customer taken, the second customer waits…
    let mut stream = agent_stream(&server, &dana).await;
    online(&server, &dana).await;
    let (first, _, _) = escalate(&server, "let me speak to a human").await;
    let offer = next_of(&mut stream, "offer", 10).await;
    assert_eq!(offer["handoff"]["conversation_id"], first.as_str());
    accept(&server, &dana.key, offer["handoff"]["id"].as_str().unwrap()).await;
    let (second, _, _) = escalate(&server, "I want to talk to a person").await;
    let waiting = wait_for_handoff(&server, &admin, &second).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");

    // …until the agent makes room: it is offered to them, and their teams stay as they were.
    let (status, me) = server
        .put(
            "/v1/agent/capacity",
            Some(&dana.key),
            json!({"capacity": 2}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["capacity"], 2);
    assert_eq!(me["teams"], json!(["support"]));
    let offer = next_of(&mut stream, "offer", 10).await;
    assert_eq!(offer["handoff"]["conversation_id"], second.as_str());
    let (_, agents) = server.get("/v1/admin/agents", Some(&admin)).await;
    let listed = agents["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == dana.id.as_str()))
        .cloned()
        .expect("Dana is listed");
    assert_eq!(listed["capacity"], 2);
    assert_eq!(listed["active"], 2);
}

#[tokio::test]
async fn the_customers_earlier_conversations_are_listed_and_readable() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start_with_policy(&db, TWO_TEAMS, "").await;
    let admin = create_staff(&db.url, "admin", "Ada");
    let dana = create_agent(&server, &admin, "Dana", &["support"], 2).await;
    let identity = identity_token(
        IDENTITY_SECRET,
        json!({"sub": "user-7", "name": "Grace Hopper", "exp": now_secs() + 600}),
    );
    let mut opened = Vec::new();
    for text in [
        "How do I download my invoice?",
        "Please let me talk to a person",
    ] {
        let (status, body) = server
            .post(
                "/v1/conversations",
                None,
                json!({"identity_token": identity}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (id, token) = (
            body["id"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
        );
        let (status, body) = server.post_message(&id, &token, "m1", text).await;
        assert_eq!(status, 201, "{body}");
        opened.push(id);
    }
    // Someone else's conversation is not theirs.
    let (stranger, _) = server.open_conversation(json!({})).await;
    let (earlier, latest) = (&opened[0], &opened[1]);

    let (status, history) = server
        .get(
            &format!("/v1/agent/conversations/{latest}/history"),
            Some(&dana.key),
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let ids: Vec<&str> = history["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![earlier.as_str()], "{history}");
    assert!(!ids.contains(&stranger.as_str()));
    let (_, back) = server
        .get(
            &format!("/v1/agent/conversations/{earlier}/history"),
            Some(&dana.key),
        )
        .await;
    assert_eq!(back["conversations"][0]["id"], latest.as_str(), "{back}");

    // The earlier conversation opens read-only for the agent: its transcript.
    let (status, events) = server
        .get(
            &format!("/v1/agent/conversations/{earlier}/events"),
            Some(&dana.key),
        )
        .await;
    assert_eq!(status, 200, "{events}");
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "message"
                && e["role"] == "customer"
                && e["text"] == "How do I download my invoice?"),
        "{events}"
    );

    // Unknown conversations, no key, a customer's token: JSON errors.
    let (status, error) = server
        .get("/v1/agent/conversations/c_nope/history", Some(&dana.key))
        .await;
    assert_eq!(status, 404, "{error}");
    assert!(error["error"]["code"].is_string(), "{error}");
    let (status, error) = server
        .get(&format!("/v1/agent/conversations/{latest}/history"), None)
        .await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_previewed_conversation_streams_live_to_its_team_and_supervisors_only() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start_with_policy(&db, TWO_TEAMS, "").await;
    let admin_key = create_staff(&db.url, "admin", "Ada");
    let dana = create_agent(&server, &admin_key, "Dana", &["support"], 2).await;
    let bill = create_agent(&server, &admin_key, "Bill", &["billing"], 2).await;
    let (_, me) = server.get("/v1/agent/me", Some(&admin_key)).await;
    let admin = Agent {
        id: me["agent"]["id"].as_str().unwrap().to_string(),
        key: admin_key.clone(),
    };
    // Nobody is online: the handoff waits in Support's queue.
    let (id, token, _) = escalate(&server, "let me speak to a human").await;
    let queued = wait_for_handoff(&server, &admin_key, &id).await;
    assert_eq!(queued["team"], "support");

    let watch = json!({"type": "watch", "conversation_id": id});
    let mut dana_stream = agent_stream(&server, &dana).await;
    dana_stream.send_json(&watch).await;
    let answer = next_of(&mut dana_stream, "watching", 10).await;
    assert_eq!(answer["conversation_id"], id.as_str());
    let mut admin_stream = agent_stream(&server, &admin).await;
    admin_stream.send_json(&watch).await;
    next_of(&mut admin_stream, "watching", 10).await;
    let mut bill_stream = agent_stream(&server, &bill).await;
    bill_stream.send_json(&watch).await;
    let refused = next_of(&mut bill_stream, "watch_refused", 10).await;
    assert_eq!(refused["conversation_id"], id.as_str());

    let (status, _) = server
        .post_message(&id, &token, "m2", "Are you still there? It's urgent")
        .await;
    assert_eq!(status, 201);
    for stream in [&mut dana_stream, &mut admin_stream] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the watched message never came"
            );
            let frame = next_of(stream, "event", 10).await;
            if frame["conversation_id"] == id.as_str()
                && frame["event"]["text"] == "Are you still there? It's urgent"
            {
                break;
            }
        }
    }
    // Bill's stream carries none of it (the message came well before this drains).
    while let Some(frame) = bill_stream.next_json(1).await {
        assert!(
            !(frame["type"] == "event" && frame["conversation_id"] == id.as_str()),
            "{frame}"
        );
    }
    // Stop watching: later messages no longer come to Dana.
    dana_stream
        .send_json(&json!({"type": "watch", "conversation_id": null}))
        .await;
    let (status, _) = server.post_message(&id, &token, "m3", "Hello?").await;
    assert_eq!(status, 201);
    // The admin still watching sees it, so by then Dana's would have come too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the admin missed it"
        );
        let frame = next_of(&mut admin_stream, "event", 10).await;
        if frame["event"]["text"] == "Hello?" {
            break;
        }
    }
    while let Some(frame) = dana_stream.next_json(1).await {
        assert!(frame["event"]["text"] != "Hello?", "{frame}");
    }
}

#[tokio::test]
async fn disabling_an_agent_closes_their_stream_and_gives_their_conversations_back() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(&db, TWO_TEAMS, "offer_timeout_ms = 30000").await;
        let admin = create_staff(&db.url, "admin", "Ada");
        let dana = create_agent(&server, &admin, "Dana", &["support"], 2).await;
        let sam = create_agent(&server, &admin, "Sam", &["support"], 2).await;
        let mut dana_stream = agent_stream(&server, &dana).await;
        online(&server, &dana).await;

        let (id, token, _) = escalate(&server, "let me speak to a human").await;
        let offer = next_of(&mut dana_stream, "offer", 10).await;
        let handoff_id = offer["handoff"]["id"].as_str().unwrap().to_string();
        accept(&server, &dana.key, &handoff_id).await;
        let mut customer = Stream::connect(&format!(
            "{}/v1/conversations/{id}/stream?token={token}",
            server.ws_base
        ))
        .await;
        let mut sam_stream = agent_stream(&server, &sam).await;
        online(&server, &sam).await;

        let (status, body) = server
            .post(
                &format!("/v1/admin/staff/{}/disable", dana.id),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(dana_stream.close_code(10).await, Some(4401));
        let (status, _) = server.get("/v1/agent/me", Some(&dana.key)).await;
        assert_eq!(status, 401);
        // The conversation goes back to the queue at once, and on to Sam.
        customer_sees(&mut customer, "had to step away", 10).await;
        let offer = next_of(&mut sam_stream, "offer", 10).await;
        assert_eq!(offer["handoff"]["id"], handoff_id.as_str());
        let (_, handoff) = server
            .get(&format!("/v1/agent/handoffs/{handoff_id}"), Some(&admin))
            .await;
        let steps: Vec<&str> = handoff["handoff"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["step"].as_str())
            .collect();
        assert!(steps.contains(&"released"), "{steps:?}");

        // A replaced key closes the streams opened with the old one; the new key works.
        let (status, rotated) = server
            .post(
                &format!("/v1/admin/staff/{}/rotate-key", sam.id),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{rotated}");
        assert_eq!(sam_stream.close_code(10).await, Some(4401));
        let (status, _) = server.get("/v1/agent/me", Some(&sam.key)).await;
        assert_eq!(status, 401);
        let (status, _) = server.get("/v1/agent/me", rotated["key"].as_str()).await;
        assert_eq!(status, 200);
    }
}

/// The scenario that stranded customers for good: twelve waiting, two agents who let their
/// offers lapse until Baton sets them away (and tells them why). Once they are back, every
/// conversation is still offered and taken: by offers, and by an agent pulling from the
/// queue.
#[tokio::test]
async fn twelve_waiting_whose_offers_lapse_on_both_agents_are_all_offered_and_taken() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let server = Server::start_with_policy(
            &db,
            TWO_TEAMS,
            "offer_timeout_ms = 1000\ndecline_cooldown_ms = 1500\nmissed_offers_before_away = 3",
        )
        .await;
        let admin = create_staff(&db.url, "admin", "Ada Admin");
        let ada = create_agent(&server, &admin, "Ada", &["support"], 4).await;
        let bo = create_agent(&server, &admin, "Bo", &["support"], 4).await;
        let mut ada_stream = agent_stream(&server, &ada).await;
        let mut bo_stream = agent_stream(&server, &bo).await;
        let mut waiting = Vec::new();
        for n in 0..12 {
            let (id, _, _) = escalate(&server, &format!("I want to talk to a person ({n})")).await;
            waiting.push(id);
        }
        online(&server, &ada).await;
        online(&server, &bo).await;

        // Nobody answers: after three lapsed offers in a row each is set away, and told why.
        for stream in [&mut ada_stream, &mut bo_stream] {
            let mut offers = 0;
            let presence = loop {
                let frame = stream.next_json(15).await.expect("a frame within 15 s");
                match frame["type"].as_str() {
                    Some("offer") => offers += 1,
                    Some("presence") => break frame,
                    _ => {}
                }
            };
            assert_eq!(offers, 3, "{backend:?}: three offers, then away");
            assert_eq!(presence["agent"]["presence"], "away", "{presence}");
            assert_eq!(
                presence["agent"]["presence_reason"], "missed 3 offers in a row",
                "{presence}"
            );
        }
        let (_, queue) = server.get("/v1/agent/queue", Some(&admin)).await;
        assert_eq!(
            count(&queue, "queued"),
            12,
            "{backend:?}: all twelve still wait"
        );

        // Back online, they answer: Bo pulls the newest conversation from the queue himself,
        // and every other one is offered and taken.
        online(&server, &ada).await;
        online(&server, &bo).await;
        let newest = wait_for_handoff(&server, &admin, waiting.last().unwrap()).await;
        let (status, taken) = server
            .post(
                &format!("/v1/agent/handoffs/{}/take", newest["id"].as_str().unwrap()),
                Some(&bo.key),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{backend:?}: {taken}");
        assert_eq!(taken["status"], "assigned");
        let mut served = std::collections::HashSet::new();
        served.insert(waiting.last().unwrap().clone());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while served.len() < 12 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend:?}: only {} of 12 taken",
                served.len()
            );
            for (stream, agent) in [(&mut ada_stream, &ada), (&mut bo_stream, &bo)] {
                let Some(frame) = stream.next_json(1).await else {
                    continue;
                };
                if frame["type"] != "offer" {
                    continue;
                }
                let id = frame["handoff"]["id"].as_str().unwrap();
                let (status, body) = server
                    .post(
                        &format!("/v1/agent/handoffs/{id}/accept"),
                        Some(&agent.key),
                        json!({}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                let (status, body) = server
                    .post(
                        &format!("/v1/agent/handoffs/{id}/resolve"),
                        Some(&agent.key),
                        json!({"note": "sorted"}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                served.insert(
                    frame["handoff"]["conversation_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
        let (_, queue) = server.get("/v1/agent/queue", Some(&admin)).await;
        assert_eq!(
            count(&queue, "queued") + count(&queue, "offered"),
            0,
            "{queue}"
        );
        for id in &waiting {
            assert!(served.contains(id), "{backend:?}: {id} was never taken");
        }
    }
}

/// Every console stays true without a reload: a handoff transferred out of an agent's teams
/// leaves their queue, one resolved by someone else closes there, and what a waiting
/// customer writes shows on the card.
#[tokio::test]
async fn an_agents_queue_follows_changes_made_by_others() {
    let db = TestDatabase::new(&Backend::Sqlite).await;
    let server = Server::start_with_policy(&db, TWO_TEAMS, "").await;
    let admin = create_staff(&db.url, "admin", "Ada");
    // Dana stays offline: nothing is offered to her, she only watches her queue.
    let dana = create_agent(&server, &admin, "Dana", &["support"], 2).await;
    let mut stream = agent_stream(&server, &dana).await;

    let (first, first_token, _) = escalate(&server, "Can I talk to a person?").await;
    let shown = next_of(&mut stream, "handoff", 10).await;
    assert_eq!(shown["handoff"]["conversation_id"], first.as_str());
    let first_id = shown["handoff"]["id"].as_str().unwrap().to_string();
    assert_eq!(shown["handoff"]["customer_name"], Value::Null, "{shown}");

    // The customer writes while they wait: the card's preview follows.
    server
        .post_message(
            &first,
            &first_token,
            "m2",
            "It's about my invoice from March",
        )
        .await;
    let preview = next_of(&mut stream, "preview", 10).await;
    assert_eq!(preview["conversation_id"], first.as_str());
    assert_eq!(
        preview["preview"]["text"],
        "It's about my invoice from March"
    );

    // A supervisor moves it to Billing, which Dana is not in: it leaves her queue.
    let (status, body) = server
        .post(
            &format!("/v1/agent/handoffs/{first_id}/transfer"),
            Some(&admin),
            json!({"team": "billing", "note": "invoice question"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["history"].as_array().unwrap().last().unwrap()["note"],
        "invoice question"
    );
    let left = next_of(&mut stream, "handoff_left", 10).await;
    assert_eq!(left["handoff_id"], first_id.as_str());
    assert_eq!(left["step"], "transferred");

    // Another waits in Support; the supervisor resolves it: it closes on Dana's queue.
    let (second, _, _) = escalate(&server, "I need a human").await;
    let shown = loop {
        let frame = next_of(&mut stream, "handoff", 10).await;
        if frame["handoff"]["conversation_id"] == second.as_str() {
            break frame;
        }
    };
    let second_id = shown["handoff"]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .post(
            &format!("/v1/agent/handoffs/{second_id}/resolve"),
            Some(&admin),
            json!({"note": "answered by phone"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let closed = loop {
        let frame = next_of(&mut stream, "handoff", 10).await;
        if frame["handoff"]["id"] == second_id.as_str() && frame["handoff"]["status"] != "queued" {
            break frame;
        }
    };
    assert_eq!(closed["handoff"]["status"], "closed", "{closed}");
    assert_eq!(closed["step"], "resolved");
    // The queue read afresh agrees: nothing of Dana's is left open.
    let (_, queue) = server.get("/v1/agent/queue", Some(&dana.key)).await;
    assert_eq!(queue["handoffs"].as_array().unwrap().len(), 0, "{queue}");
}
