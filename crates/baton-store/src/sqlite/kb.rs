//! The knowledge base on SQLite.
//!
//! A KB write is one command of the single writer, so it shares a group-commit transaction
//! with whatever else is queued, and the writer's lock keeps the head revision it reads
//! current until the commit. Like appends (see [`super::append`]), it reads and writes in
//! multi-row statements of power-of-two sizes, so a write of 100,000 articles costs a few
//! hundred statements rather than hundreds of thousands. Other writes wait while it runs:
//! about half a second for an import of 100,000 small articles into an empty knowledge
//! base, a second or two when all of them change.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::append::{MAX_ROWS, pad, padded, rows};
use super::writer::Command;
use crate::kb::{self, KbDocument, KbRevision, KbWriteResult, Plan, PreparedWrite, Stored};
use crate::{Result, StoreError, codec};

/// Applies a [`PreparedWrite`].
pub(super) struct KbWriteCommand {
    pub write: PreparedWrite,
}

#[async_trait]
impl Command for KbWriteCommand {
    type Output = KbWriteResult;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<KbWriteResult> {
        let write = &self.write;
        // Reads first: nothing is written unless every read succeeded.
        let current = head(&mut *conn).await?;
        let stored = stored(conn, &write.named_ids()).await?;
        let active: Vec<String> = if write.prunes() {
            sqlx::query_scalar("SELECT id FROM kb_articles WHERE retired = 0")
                .fetch_all(&mut *conn)
                .await?
        } else {
            Vec::new()
        };
        let plan = kb::plan(write, &stored, &active);
        if plan.is_empty() {
            return Ok(plan.result(current));
        }

        let revision = current + 1;
        insert_revision(conn, &plan.revision(revision, write)).await?;
        upsert_articles(conn, &plan, revision, write.now).await?;
        retire_articles(conn, &plan.retired, revision, write.now).await?;
        insert_history(conn, &plan, revision).await?;
        sqlx::query("UPDATE kb_head SET revision = ? WHERE id = 1")
            .bind(revision)
            .execute(&mut *conn)
            .await?;
        Ok(plan.result(revision))
    }
}

/// Stores a calibration for a revision, replacing any saved for it.
pub(super) struct SaveCalibration {
    pub revision: i64,
    pub json: String,
    pub now: DateTime<Utc>,
}

#[async_trait]
impl Command for SaveCalibration {
    type Output = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO kb_calibrations (revision, calibration, saved_at) VALUES (?, ?, ?)
             ON CONFLICT (revision) DO UPDATE SET calibration = excluded.calibration,
                saved_at = excluded.saved_at",
        )
        .bind(self.revision)
        .bind(&self.json)
        .bind(codec::micros(self.now))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The current revision, from the one row of `kb_head`.
async fn head<'c, E>(executor: E) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let revision: Option<i64> = sqlx::query_scalar("SELECT revision FROM kb_head WHERE id = 1")
        .fetch_optional(executor)
        .await?;
    revision.ok_or_else(|| StoreError::Corrupt("the knowledge-base head row is missing".into()))
}

/// The stored content and retirement of each of `ids` that exists.
async fn stored(conn: &mut SqliteConnection, ids: &[&str]) -> Result<HashMap<String, Stored>> {
    let mut stored = HashMap::new();
    for chunk in ids.chunks(MAX_ROWS) {
        let sql = format!(
            "SELECT id, content, retired FROM kb_articles WHERE id IN ({})",
            rows(padded(chunk.len()), 1)
        );
        let mut query = sqlx::query_as::<_, (String, String, bool)>(sqlx::AssertSqlSafe(sql));
        // Padding repeats an id; the row still comes back once.
        for id in pad(chunk) {
            query = query.bind(*id);
        }
        for (id, content, retired) in query.fetch_all(&mut *conn).await? {
            stored.insert(id, (content, retired));
        }
    }
    Ok(stored)
}

async fn insert_revision(conn: &mut SqliteConnection, entry: &KbRevision) -> Result<()> {
    sqlx::query(
        "INSERT INTO kb_revisions (revision, at, note, created, updated, retired)
         VALUES (?, ?, ?, ?, ?, ?)",
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

/// Writes created and updated articles (reviving retired ones).
async fn upsert_articles(
    conn: &mut SqliteConnection,
    plan: &Plan<'_>,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let written: Vec<_> = plan.written().collect();
    for chunk in exact_chunks(&written) {
        let sql = format!(
            "INSERT INTO kb_articles (id, content, revision, updated_at) VALUES {}
             ON CONFLICT (id) DO UPDATE SET content = excluded.content, retired = 0,
                revision = excluded.revision, updated_at = excluded.updated_at",
            rows(chunk.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for upsert in chunk {
            query = query
                .bind(upsert.id.as_str())
                .bind(upsert.json.as_str())
                .bind(revision)
                .bind(codec::micros(now));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn retire_articles(
    conn: &mut SqliteConnection,
    ids: &[String],
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    for chunk in ids.chunks(MAX_ROWS) {
        let sql = format!(
            "UPDATE kb_articles SET retired = 1, revision = ?, updated_at = ?
             WHERE id IN ({})",
            rows(padded(chunk.len()), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(revision)
            .bind(codec::micros(now));
        for id in pad(chunk) {
            query = query.bind(id.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One history row per changed article: its new content, or NULL where it was retired.
async fn insert_history(conn: &mut SqliteConnection, plan: &Plan<'_>, revision: i64) -> Result<()> {
    let entries: Vec<(&str, Option<&str>)> = plan
        .written()
        .map(|upsert| (upsert.id.as_str(), Some(upsert.json.as_str())))
        .chain(plan.retired.iter().map(|id| (id.as_str(), None)))
        .collect();
    for chunk in exact_chunks(&entries) {
        let sql = format!(
            "INSERT INTO kb_history (id, revision, content) VALUES {}",
            rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, content) in chunk {
            query = query.bind(*id).bind(revision).bind(*content);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `items` in chunks whose sizes are powers of two (the largest that fit, at most
/// [`MAX_ROWS`]): statements that insert cannot be padded with repeated rows.
fn exact_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = (1 << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

// --- reads, on the read-only pool ---

pub(super) async fn documents(readers: &SqlitePool) -> Result<Vec<KbDocument>> {
    let rows: Vec<kb::DocumentRow> = sqlx::query_as(
        "SELECT id, content, revision, updated_at FROM kb_articles
         WHERE retired = 0 ORDER BY id",
    )
    .fetch_all(readers)
    .await?;
    rows.into_iter().map(kb::document).collect()
}

pub(super) async fn document(readers: &SqlitePool, id: &str) -> Result<Option<KbDocument>> {
    let row: Option<kb::DocumentRow> = sqlx::query_as(
        "SELECT id, content, revision, updated_at FROM kb_articles
         WHERE id = ? AND retired = 0",
    )
    .bind(id)
    .fetch_optional(readers)
    .await?;
    row.map(kb::document).transpose()
}

pub(super) async fn history(
    readers: &SqlitePool,
    id: &str,
) -> Result<Vec<(i64, Option<Value>, DateTime<Utc>)>> {
    let rows: Vec<kb::HistoryRow> = sqlx::query_as(
        "SELECT h.revision, h.content, r.at
         FROM kb_history AS h JOIN kb_revisions AS r ON r.revision = h.revision
         WHERE h.id = ? ORDER BY h.revision",
    )
    .bind(id)
    .fetch_all(readers)
    .await?;
    rows.into_iter()
        .map(|row| kb::history_entry(id, row))
        .collect()
}

pub(super) async fn revision(readers: &SqlitePool) -> Result<i64> {
    head(readers).await
}

pub(super) async fn revisions(readers: &SqlitePool, limit: u32) -> Result<Vec<KbRevision>> {
    let rows: Vec<kb::RevisionRow> = sqlx::query_as(
        "SELECT revision, at, note, created, updated, retired FROM kb_revisions
         ORDER BY revision DESC LIMIT ?",
    )
    .bind(codec::limit_or(limit, kb::DEFAULT_REVISION_LIMIT))
    .fetch_all(readers)
    .await?;
    rows.into_iter().map(kb::revision).collect()
}

pub(super) async fn calibration(readers: &SqlitePool) -> Result<Option<(i64, Value)>> {
    let row: Option<kb::CalibrationRow> = sqlx::query_as(
        "SELECT revision, calibration FROM kb_calibrations
         WHERE revision <= (SELECT revision FROM kb_head WHERE id = 1)
         ORDER BY revision DESC LIMIT 1",
    )
    .fetch_optional(readers)
    .await?;
    row.map(kb::calibration).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_chunks_are_exact_powers_of_two() {
        let items: Vec<usize> = (0..1300).collect();
        let sizes: Vec<usize> = exact_chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![512, 512, 256, 16, 4]);
        assert_eq!(exact_chunks::<usize>(&[]).count(), 0);
    }
}
