//! `baton export` end to end: conversations held over HTTP come out as JSON Lines in the
//! `baton analyze` conversation format, in creation order, filtered by state and date, and
//! `baton analyze` replays the file as it is.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use baton_core::ConversationState;
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use serde_json::{Value, json};

fn demo_kb() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kb")
}

fn baton(args: &[&str], database: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--database", database])
        .env_remove("BATON_CONFIG")
        .env_remove("BATON_DATABASE_URL")
        .env("BATON_LOG", "warn")
        .output()
        .expect("run baton")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON lines of a successful `baton export` to standard output.
fn export(database: &str, flags: &[&str]) -> Vec<Value> {
    let mut args = vec!["export"];
    args.extend_from_slice(flags);
    let output = baton(&args, database);
    assert!(output.status.success(), "{flags:?}: {}", stderr(&output));
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn ids(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
}

/// Opens a conversation, posts `texts` as the customer (the AI answers each) and returns
/// the conversation's id.
async fn conversation(server: &Server, open: Value, texts: &[&str]) -> String {
    let (id, token) = server.open_conversation(open).await;
    for (n, text) in texts.iter().enumerate() {
        let (status, body) = server
            .post_message(&id, &token, &format!("m{n}"), text)
            .await;
        assert_eq!(status, 201, "{body}");
    }
    id
}

#[tokio::test]
async fn exported_conversations_are_analyzable_and_filter_by_state_and_date() {
    for backend in Backend::all() {
        let db = TestDatabase::new(&backend).await;
        let kb = demo_kb();
        let imported = baton(&["kb", "import", kb.to_str().unwrap()], &db.url);
        assert!(imported.status.success(), "{}", stderr(&imported));
        let server = Server::start(&db).await;

        let claims = json!({"sub": "user-42", "exp": now_secs() + 600,
            "account": {"id": "acme", "name": "Acme Inc", "tier": "enterprise",
                        "signup_at": "2026-01-05T00:00:00Z", "owner": "Sam",
                        "attrs": {"plan": "scale", "seats": 120}}});
        let token = identity_token(IDENTITY_SECRET, claims);
        let first = conversation(
            &server,
            json!({"identity_token": token,
                   "page": {"url": "https://app.example.com/billing", "title": "Billing"}}),
            &[
                "Where can I download my invoices?",
                "How do I change the card we pay with?",
            ],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let split = Utc::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = conversation(&server, json!({}), &["This is useless, get me a human"]).await;
        let third = conversation(&server, json!({}), &["How do I reset my password?"]).await;
        let _silent = server.open_conversation(json!({})).await;

        // Handoff endpoints are not this test's concern: move states in the store.
        let store = baton_store::open(&db.url, baton_store::Durability::Process)
            .await
            .expect("open the store");
        store
            .change_state(&first, ConversationState::WaitingHuman, None, Utc::now())
            .await
            .unwrap();
        store
            .change_state(&second, ConversationState::Resolved, None, Utc::now())
            .await
            .unwrap();
        store.close().await;

        // Everything, to a file.
        let file = db.dir.path().join("export.jsonl");
        let output = baton(&["export", "--output", file.to_str().unwrap()], &db.url);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(output.stdout.is_empty(), "data goes to the file only");
        assert!(
            stderr(&output).contains("exported 3 conversations")
                && stderr(&output).contains("1 without messages"),
            "{}",
            stderr(&output)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(ids(&lines), [&first, &second, &third], "{backend:?}");

        let mut previous_created = None;
        for line in &lines {
            let created = time(&line["created_at"]);
            assert!(previous_created <= Some(created), "creation order");
            previous_created = Some(created);
            assert!(time(&line["updated_at"]) >= created);
            let messages = line["messages"].as_array().unwrap();
            let mut previous_at = created;
            for message in messages {
                let at = time(&message["at"]);
                assert!(at >= previous_at, "messages in order: {line}");
                previous_at = at;
                assert!(message["text"].as_str().is_some_and(|t| !t.is_empty()));
                match message["role"].as_str().unwrap() {
                    "ai" => assert!(message["articles"].is_array(), "{message}"),
                    "customer" | "system" => assert!(message.get("articles").is_none()),
                    other => panic!("unexpected role {other}"),
                }
            }
            // Each customer message got a reply: the AI's, or the notice of a handover.
            let roles: Vec<&str> = messages
                .iter()
                .map(|m| m["role"].as_str().unwrap())
                .collect();
            assert_eq!(roles.len() % 2, 0, "{roles:?}");
            assert!(
                roles
                    .chunks(2)
                    .all(|pair| pair == ["customer", "ai"] || pair == ["customer", "system"]),
                "{roles:?}"
            );
        }

        let known = &lines[0];
        assert_eq!(known["state"], "waiting_human");
        assert_eq!(known["messages"].as_array().unwrap().len(), 4);
        assert_eq!(
            known["messages"][0]["text"],
            "Where can I download my invoices?"
        );
        assert_eq!(
            known["customer"],
            json!({"tier": "enterprise", "signup_at": "2026-01-05T00:00:00Z",
                   "attrs": {"plan": "scale", "seats": 120}, "owner": "Sam"})
        );
        assert_eq!(
            known["page"],
            json!({"url": "https://app.example.com/billing", "title": "Billing"})
        );
        let cited: Vec<&str> = known["messages"][1]["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            !cited.is_empty(),
            "the invoice answer cites an article: {known}"
        );
        assert!(
            cited.iter().all(|id| kb.join(format!("{id}.md")).exists()),
            "{cited:?} are demo articles"
        );
        assert_eq!(lines[1]["state"], "resolved");
        assert_eq!(lines[2]["state"], "ai");
        for anonymous in &lines[1..] {
            assert!(anonymous.get("customer").is_none(), "{anonymous}");
            assert!(anonymous.get("page").is_none(), "{anonymous}");
        }

        // The same lines to standard output.
        assert_eq!(export(&db.url, &[]), lines);

        // States.
        assert_eq!(ids(&export(&db.url, &["--state", "resolved"])), [&second]);
        assert_eq!(
            ids(&export(
                &db.url,
                &["--state", "ai", "--state", "waiting_human"]
            )),
            [&first, &third]
        );
        assert_eq!(
            ids(&export(&db.url, &["--state", "waiting_human,resolved"])),
            [&first, &second]
        );
        assert!(export(&db.url, &["--state", "human"]).is_empty());

        // Dates: instants split exactly; a day is the whole day.
        let split = split.to_rfc3339();
        assert_eq!(ids(&export(&db.url, &["--to", &split])), [&first]);
        assert_eq!(
            ids(&export(&db.url, &["--from", &split])),
            [&second, &third]
        );
        assert_eq!(
            ids(&export(&db.url, &["--from", &split, "--state", "ai"])),
            [&third]
        );
        let day = time(&known["created_at"]).date_naive();
        let day_before = (day - TimeDelta::days(1)).to_string();
        assert_eq!(
            ids(&export(&db.url, &["--from", &day.to_string()])),
            [&first, &second, &third]
        );
        assert_eq!(
            ids(&export(
                &db.url,
                &["--from", &day_before, "--to", &day.to_string()]
            ))[0],
            first.as_str()
        );
        assert!(export(&db.url, &["--to", &day_before]).is_empty());

        // `baton analyze` takes the file as it is: one result per conversation, in order.
        let analyzed = Command::new(BIN)
            .args(["analyze", "--input", file.to_str().unwrap()])
            .env_remove("BATON_CONFIG")
            .env_remove("BATON_DATABASE_URL")
            .output()
            .unwrap();
        assert!(analyzed.status.success(), "{}", stderr(&analyzed));
        let results: Vec<Value> = String::from_utf8(analyzed.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(ids(&results), ids(&lines));
        for (result, line) in results.iter().zip(&lines) {
            assert!(result.get("error").is_none(), "{result}");
            let customer_turns = line["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "customer")
                .count();
            assert_eq!(result["turns"].as_array().unwrap().len(), customer_turns);
        }
        assert_eq!(
            results[1]["signals"]["human_request"]["detected"], true,
            "{}",
            results[1]
        );
    }
}

#[test]
fn bad_export_flags_fail_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("baton.db").display());
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--from", "yesterday"],
            &["--from", "yesterday", "RFC 3339"],
        ),
        (&["--to", "2026-02-30"], &["--to", "2026-02-30"]),
        (&["--state", "open"], &["open", "waiting_human"]),
        (
            &["--from", "2026-03-02", "--to", "2026-03-01"],
            &["--from", "must be before --to"],
        ),
        (&["--output"], &["--output"]),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["export"];
        args.extend_from_slice(flags);
        let output = baton(&args, &database);
        assert!(!output.status.success(), "{flags:?} should fail");
        let message = stderr(&output);
        for part in expected {
            assert!(message.contains(part), "{flags:?}: {message}");
        }
    }
    // None of that touched the database, and a database that is not there is not created.
    assert!(!dir.path().join("baton.db").exists());
    let output = baton(&["export"], &database);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no database at"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("baton.db").exists());
}
