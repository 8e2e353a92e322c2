//! WAL checkpoints beside the writer, not inside its commits.
//!
//! SQLite's automatic checkpoint runs in the commit that crosses the threshold: that commit,
//! and every write queued behind it, waits while the WAL is copied into the database file
//! (tens of milliseconds for a few megabytes). Here the writer's connection never
//! checkpoints on its own; after commits it wakes this task, which copies what is committed
//! on its own connection with a `PASSIVE` checkpoint (it takes no lock a writer or reader
//! waits on), at most every [`PERIOD`].
//!
//! SQLite starts the WAL over at a commit only when every frame in it has been copied, which
//! never holds under steady writes: commits land while the checkpoint copies. So once the WAL
//! has grown past [`SMALL_WAL_PAGES`], this task asks the writer to copy the few frames
//! committed since, on its own connection between two commits; its next commit then starts
//! the WAL over. Should the WAL still grow past [`RESTART_PAGES`] (readers that never pause),
//! a `RESTART` checkpoint holds writers up until it is done.

use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::writer::Message;

/// Least time between two checkpoints.
const PERIOD: Duration = Duration::from_millis(500);
/// WAL pages (4 KiB each by default) past which the writer is asked to finish a checkpoint.
const SMALL_WAL_PAGES: i64 = 2_048;
/// WAL pages past which the WAL is restarted even if writers wait.
const RESTART_PAGES: i64 = 32_768;

/// How the last checkpoint went: its mode and the WAL's pages, all and copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome {
    pub busy: bool,
    pub wal_pages: i64,
    pub copied_pages: i64,
}

/// SQLite's checkpoint modes used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Copies what it can without waiting for, or holding up, anyone.
    Passive,
    /// Copies everything, holding new writers up meanwhile, so the next commit starts the WAL
    /// over.
    Restart,
    /// As `Restart`, and truncates the WAL file.
    Truncate,
}

/// Runs `PRAGMA wal_checkpoint(mode)`.
pub(super) async fn checkpoint(
    conn: &mut SqliteConnection,
    mode: Mode,
) -> Result<Outcome, sqlx::Error> {
    let sql = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
        Mode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let row = sqlx::query(sql).fetch_one(conn).await?;
    Ok(Outcome {
        busy: row.try_get::<i64, _>(0)? != 0,
        wal_pages: row.try_get(1)?,
        copied_pages: row.try_get(2)?,
    })
}

/// The checkpoint task: one checkpoint after each burst of commits (each `()` on `commits`),
/// until the writer is gone (`commits` closes, `writer_gone` resolves); then a last one that
/// empties the WAL.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut commits: mpsc::Receiver<()>,
    mut writer_gone: oneshot::Receiver<()>,
    writer: mpsc::WeakSender<Message>,
) {
    while commits.recv().await.is_some() {
        match checkpoint(&mut conn, Mode::Passive).await {
            Ok(outcome) if outcome.wal_pages > RESTART_PAGES => {
                tracing::debug!(?outcome, "the WAL is large; restarting it");
                if let Err(error) = checkpoint(&mut conn, Mode::Restart).await {
                    tracing::warn!(%error, "restarting the SQLite WAL failed");
                }
            }
            Ok(outcome) if outcome.wal_pages > SMALL_WAL_PAGES => {
                // A full queue means the writer is busy: ask again after the next pass.
                if let Some(writer) = writer.upgrade() {
                    let _ = writer.try_send(Message::Checkpoint);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "SQLite checkpoint failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PERIOD) => {}
            _ = &mut writer_gone => break,
        }
    }
    if let Err(error) = checkpoint(&mut conn, Mode::Truncate).await {
        tracing::debug!(%error, "the last SQLite checkpoint failed");
    }
    if let Err(error) = conn.close().await {
        tracing::warn!(%error, "closing the SQLite checkpoint connection failed");
    }
}
