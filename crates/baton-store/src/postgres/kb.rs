//! The knowledge base on PostgreSQL.
//!
//! A KB write is one transaction that first locks the single row of `kb_head`: KB writes
//! from every process sharing the database queue up on that lock, and once a write holds
//! it, READ COMMITTED hands each of its statements the latest committed articles. The head
//! moves only when a write commits a change, so revision numbers have no gaps. Rows travel
//! as arrays (`unnest`), a few thousand per statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnection, PgPool};

use crate::kb::{self, KbDocument, KbRevision, KbWriteResult, Plan, PreparedWrite, Stored};
use crate::{Result, StoreError, codec};

/// Most rows per statement: keeps each message to the server moderate even when articles
/// are large.
const CHUNK: usize = 4096;

/// Applies a [`PreparedWrite`] in one transaction.
pub(super) async fn write(pool: &PgPool, write: &PreparedWrite) -> Result<KbWriteResult> {
    let mut tx = pool.begin().await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM kb_head WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?;
    let current = current.ok_or_else(missing_head)?;
    let stored = stored(&mut tx, &write.named_ids()).await?;
    let active: Vec<String> = if write.prunes() {
        sqlx::query_scalar("SELECT id FROM kb_articles WHERE NOT retired")
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    let plan = kb::plan(write, &stored, &active);
    if plan.is_empty() {
        // Nothing was written; committing just releases the lock.
        tx.commit().await?;
        return Ok(plan.result(current));
    }

    let revision = current + 1;
    insert_revision(&mut tx, &plan.revision(revision, write)).await?;
    upsert_articles(&mut tx, &plan, revision, write.now).await?;
    retire_articles(&mut tx, &plan.retired, revision, write.now).await?;
    insert_history(&mut tx, &plan, revision).await?;
    sqlx::query("UPDATE kb_head SET revision = $1 WHERE id = 1")
        .bind(revision)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(plan.result(revision))
}

fn missing_head() -> StoreError {
    StoreError::Corrupt("the knowledge-base head row is missing".into())
}

/// The stored content and retirement of each of `ids` that exists.
async fn stored(conn: &mut PgConnection, ids: &[&str]) -> Result<HashMap<String, Stored>> {
    let mut stored = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT id, content::text, retired FROM kb_articles WHERE id = ANY($1::text[])",
        )
        .bind(chunk)
        .fetch_all(&mut *conn)
        .await?;
        for (id, content, retired) in rows {
            stored.insert(id, (content, retired));
        }
    }
    Ok(stored)
}

async fn insert_revision(conn: &mut PgConnection, entry: &KbRevision) -> Result<()> {
    sqlx::query(
        "INSERT INTO kb_revisions (revision, at, note, created, updated, retired)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.revision)
    .bind(codec::micros(entry.at))
    .bind(&entry.note)
    .bind(entry.created)
    .bind(entry.updated)
    .bind(entry.retired)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ids and JSON texts of the articles `plan` writes, in chunks.
fn written_chunks<'a>(plan: &'a Plan<'_>) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
    let written: Vec<_> = plan.written().collect();
    written
        .chunks(CHUNK)
        .map(|chunk| {
            chunk
                .iter()
                .map(|upsert| (upsert.id.as_str(), upsert.json.as_str()))
                .unzip()
        })
        .collect()
}

/// Writes created and updated articles (reviving retired ones).
async fn upsert_articles(
    conn: &mut PgConnection,
    plan: &Plan<'_>,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    for (ids, contents) in written_chunks(plan) {
        sqlx::query(
            "INSERT INTO kb_articles (id, content, retired, revision, updated_at)
             SELECT a.id, a.content::jsonb, FALSE, $3, $4
             FROM unnest($1::text[], $2::text[]) AS a (id, content)
             ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, retired = FALSE,
                revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at",
        )
        .bind(ids)
        .bind(contents)
        .bind(revision)
        .bind(codec::micros(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn retire_articles(
    conn: &mut PgConnection,
    ids: &[String],
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        sqlx::query(
            "UPDATE kb_articles SET retired = TRUE, revision = $2, updated_at = $3
             WHERE id = ANY($1::text[])",
        )
        .bind(chunk)
        .bind(revision)
        .bind(codec::micros(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One history row per changed article: its new content, or NULL where it was retired.
async fn insert_history(conn: &mut PgConnection, plan: &Plan<'_>, revision: i64) -> Result<()> {
    for (ids, contents) in written_chunks(plan) {
        sqlx::query(
            "INSERT INTO kb_history (id, revision, content)
             SELECT h.id, $3, h.content::jsonb
             FROM unnest($1::text[], $2::text[]) AS h (id, content)",
        )
        .bind(ids)
        .bind(contents)
        .bind(revision)
        .execute(&mut *conn)
        .await?;
    }
    for chunk in plan.retired.chunks(CHUNK) {
        sqlx::query(
            "INSERT INTO kb_history (id, revision, content)
             SELECT id, $2, NULL FROM unnest($1::text[]) AS id",
        )
        .bind(chunk)
        .bind(revision)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores a calibration for a revision, replacing any saved for it.
pub(super) async fn save_calibration(
    pool: &PgPool,
    revision: i64,
    json: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO kb_calibrations (revision, calibration, saved_at) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (revision) DO UPDATE SET calibration = EXCLUDED.calibration,
            saved_at = EXCLUDED.saved_at",
    )
    .bind(revision)
    .bind(json)
    .bind(codec::micros(now))
    .execute(pool)
    .await?;
    Ok(())
}

// --- reads ---

pub(super) async fn documents(pool: &PgPool) -> Result<Vec<KbDocument>> {
    let rows: Vec<kb::DocumentRow> = sqlx::query_as(
        "SELECT id, content::text, revision, updated_at FROM kb_articles
         WHERE NOT retired ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(kb::document).collect()
}

pub(super) async fn document(pool: &PgPool, id: &str) -> Result<Option<KbDocument>> {
    let row: Option<kb::DocumentRow> = sqlx::query_as(
        "SELECT id, content::text, revision, updated_at FROM kb_articles
         WHERE id = $1 AND NOT retired",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(kb::document).transpose()
}

pub(super) async fn history(
    pool: &PgPool,
    id: &str,
) -> Result<Vec<(i64, Option<Value>, DateTime<Utc>)>> {
    let rows: Vec<kb::HistoryRow> = sqlx::query_as(
        "SELECT h.revision, h.content::text, r.at
         FROM kb_history AS h JOIN kb_revisions AS r ON r.revision = h.revision
         WHERE h.id = $1 ORDER BY h.revision",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| kb::history_entry(id, row))
        .collect()
}

pub(super) async fn revision(pool: &PgPool) -> Result<i64> {
    let revision: Option<i64> = sqlx::query_scalar("SELECT revision FROM kb_head WHERE id = 1")
        .fetch_optional(pool)
        .await?;
    revision.ok_or_else(missing_head)
}

pub(super) async fn revisions(pool: &PgPool, limit: u32) -> Result<Vec<KbRevision>> {
    let rows: Vec<kb::RevisionRow> = sqlx::query_as(
        "SELECT revision, at, note, created, updated, retired FROM kb_revisions
         ORDER BY revision DESC LIMIT $1",
    )
    .bind(codec::limit_or(limit, kb::DEFAULT_REVISION_LIMIT))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(kb::revision).collect()
}

pub(super) async fn calibration(pool: &PgPool) -> Result<Option<(i64, Value)>> {
    let row: Option<kb::CalibrationRow> = sqlx::query_as(
        "SELECT revision, calibration::text FROM kb_calibrations
         WHERE revision <= (SELECT revision FROM kb_head WHERE id = 1)
         ORDER BY revision DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    row.map(kb::calibration).transpose()
}
