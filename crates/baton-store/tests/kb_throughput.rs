//! How long a knowledge-base import of 100,000 small articles takes, in one write.
//!
//! Ignored by default; run in release to get a meaningful number:
//! `cargo test -p baton-store --release --test kb_throughput -- --ignored --nocapture`.
//! The PostgreSQL figure needs `BATON_TEST_DATABASE_URL` and is skipped without it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_store::{Durability, KbWrite, Store};
use chrono::Utc;
use sqlx::Connection;

const ARTICLES: usize = 100_000;
/// What "well under a minute" means here, with room for a busy machine.
const LIMIT: Duration = Duration::from_secs(30);

fn folder(version: &str) -> Vec<(String, serde_json::Value)> {
    (0..ARTICLES)
        .map(|i| {
            let content = serde_json::json!({
                "title": format!("How to do thing {i}"),
                "body": format!("Open settings, choose thing {i}, then press save ({version})."),
                "tags": ["how-to", format!("area-{}", i % 50)],
            });
            (format!("articles/{i:06}.md"), content)
        })
        .collect()
}

fn import(upserts: Vec<(String, serde_json::Value)>, note: &str) -> KbWrite {
    let keep = upserts.iter().map(|(id, _)| id.clone()).collect();
    KbWrite {
        upserts,
        retire: vec![],
        retire_all_except: Some(keep),
        note: note.to_string(),
    }
}

/// Runs `step`, prints how long it took, and returns that.
async fn timed<T>(label: &str, step: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let output = step.await;
    let elapsed = started.elapsed();
    println!("  {label}: {:.2} s", elapsed.as_secs_f64());
    (output, elapsed)
}

async fn measure(store: Arc<dyn Store>, label: &str) {
    println!("{label}: {ARTICLES} articles");
    let (result, first) = timed(
        "first import (all created)",
        store.kb_write(import(folder("v1"), "import"), Utc::now()),
    )
    .await;
    let result = result.unwrap();
    assert_eq!((result.revision, result.created.len()), (1, ARTICLES));

    let (result, _) = timed(
        "same import again (all unchanged)",
        store.kb_write(import(folder("v1"), "import"), Utc::now()),
    )
    .await;
    let result = result.unwrap();
    assert_eq!((result.revision, result.unchanged.len()), (1, ARTICLES));

    let (result, _) = timed(
        "import with every article edited",
        store.kb_write(import(folder("v2"), "import"), Utc::now()),
    )
    .await;
    let result = result.unwrap();
    assert_eq!((result.revision, result.updated.len()), (2, ARTICLES));

    let mut one = folder("v3");
    one.truncate(1);
    let (result, _) = timed(
        "one edit",
        store.kb_write(
            KbWrite {
                upserts: one,
                note: "admin edit".into(),
                ..Default::default()
            },
            Utc::now(),
        ),
    )
    .await;
    assert_eq!(result.unwrap().revision, 3);

    let mut half = folder("v2");
    half.truncate(ARTICLES / 2);
    let (result, _) = timed(
        "import pruning half",
        store.kb_write(import(half, "import"), Utc::now()),
    )
    .await;
    assert_eq!(result.unwrap().retired.len(), ARTICLES / 2);

    let (documents, _) = timed("loading the active articles", store.kb_documents()).await;
    assert_eq!(documents.unwrap().len(), ARTICLES / 2);
    store.close().await;
    assert!(
        first < LIMIT,
        "importing {ARTICLES} articles took {first:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn sqlite_kb_import_throughput() {
    for durability in [Durability::Process, Durability::Fsync] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        let store = baton_store::open(&url, durability).await.unwrap();
        measure(store, &format!("sqlite ({durability:?})")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn postgres_kb_import_throughput() {
    let Ok(url) = std::env::var("BATON_TEST_DATABASE_URL") else {
        println!("skipping PostgreSQL KB import: BATON_TEST_DATABASE_URL is not set");
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
