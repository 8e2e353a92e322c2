//! How many events per second the store appends from many concurrent conversations.
//!
//! Ignored by default; run in release to get a meaningful number:
//! `cargo test -p baton-store --release --test append_throughput -- --ignored --nocapture`.
//! The PostgreSQL figure needs `BATON_TEST_DATABASE_URL` and is skipped without it.

use std::sync::Arc;
use std::time::Instant;

use baton_core::{EventBody, NewEvent, Role};
use baton_store::{Durability, Store};
use chrono::Utc;
use sqlx::Connection;

const APPENDS: usize = 50_000;
const TASKS: usize = 500;
/// Tasks share conversations, as customers and agents do, so appends also contend per row.
const CONVERSATIONS: usize = 100;

async fn measure(store: Arc<dyn Store>, label: &str) {
    let customer = store.create_anonymous_customer(Utc::now()).await.unwrap();
    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        let (conversation, _) = store
            .create_conversation(&customer.id, None, Utc::now())
            .await
            .unwrap();
        conversations.push(conversation.id);
    }
    let conversations = Arc::new(conversations);

    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            let conversations = conversations.clone();
            tokio::spawn(async move {
                for i in 0..APPENDS / TASKS {
                    let conversation = &conversations[(t + i) % CONVERSATIONS];
                    let body = EventBody::Message {
                        role: Role::Customer,
                        text: format!("message {i} from task {t}"),
                        client_msg_id: Some(format!("t{t}-{i}")),
                        author: None,
                        page: None,
                        articles: Vec::new(),
                        choices: Vec::new(),
                        handover: None,
                    };
                    let event = NewEvent {
                        at: Utc::now(),
                        body,
                    };
                    store.append_event(conversation, event).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{label}: {APPENDS} appends from {TASKS} tasks in {:.2} s = {:.0} appends/s",
        elapsed.as_secs_f64(),
        APPENDS as f64 / elapsed.as_secs_f64()
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn sqlite_append_throughput() {
    for durability in [Durability::Process, Durability::Fsync] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        let store = baton_store::open(&url, durability).await.unwrap();
        measure(store, &format!("sqlite ({durability:?})")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn postgres_append_throughput() {
    let Ok(url) = std::env::var("BATON_TEST_DATABASE_URL") else {
        println!("skipping PostgreSQL throughput: BATON_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("baton_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let isolated = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let store = baton_store::open(&isolated, Durability::Process)
        .await
        .unwrap();
    measure(store, "postgres").await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}
