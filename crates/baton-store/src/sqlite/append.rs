//! Appending events in bulk: the hot path.
//!
//! Each statement costs a round trip to SQLite's worker thread, and those thread switches,
//! not SQLite itself, dominate the cost of an append. So a run of queued appends is applied
//! with a handful of statements whatever its length: one read of the conversations' last
//! seqs, one of the idempotency keys already stored, multi-row inserts and one multi-row
//! update of the conversations. Statement shapes are rounded to powers of two so that only a
//! few prepared statements exist.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteConnection;

use super::writer::{Command, Job, Pending};
use crate::codec::{self, EventRecord};
use crate::{Appended, EventNotice, Result, StoreError};

/// One event to append to one conversation.
pub(crate) struct AppendEvent {
    pub conversation_id: String,
    pub record: EventRecord,
}

#[async_trait]
impl Command for AppendEvent {
    type Output = Appended;

    /// The writer applies appends in runs (see [`apply_run`]); this is a run of one.
    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Appended> {
        let mut outcomes = apply_run(conn, &[self]).await?;
        outcomes
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("an append produced no outcome".into())))
    }

    fn notices(&self, output: &Appended) -> Vec<EventNotice> {
        match output {
            Appended::Created(event) => vec![EventNotice {
                conversation_id: self.conversation_id.clone(),
                seq: event.seq,
                event: Some(event.clone()),
                handoff: None,
            }],
            Appended::Existing(_) => Vec::new(),
        }
    }

    fn into_job(pending: Pending<Self>) -> Job {
        Job::Append(Box::new(pending))
    }
}

/// A conversation touched by the run.
struct Tally {
    last_seq: i64,
    /// The newest `at` appended, when anything was.
    latest_at: Option<i64>,
}

/// Applies appends in order inside the caller's transaction and returns one outcome per
/// append. The writer holds the write lock, so nothing can slip in between the reads and
/// the writes. `Err` only for a database failure, which aborts the batch.
pub(super) async fn apply_run(
    conn: &mut SqliteConnection,
    appends: &[&AppendEvent],
) -> Result<Vec<Result<Appended>>, sqlx::Error> {
    let mut tallies = last_seqs(conn, appends).await?;
    let mut stored = stored_keys(conn, appends, &tallies).await?;

    let mut outcomes: Vec<Result<Appended>> = Vec::with_capacity(appends.len());
    // Keys created earlier in this run, with the index of their outcome.
    let mut created: HashMap<(&str, &str), usize> = HashMap::new();
    let mut inserts: Vec<(&AppendEvent, i64)> = Vec::with_capacity(appends.len());
    for (index, append) in appends.iter().enumerate() {
        let conversation_id = append.conversation_id.as_str();
        let key = append
            .record
            .client_msg_id()
            .map(|id| (conversation_id, id));
        let earlier = key.and_then(|key| created.get(&key)).copied();
        let repeated = key.and_then(|(conversation_id, client_msg_id)| {
            stored.get_mut(conversation_id)?.remove(client_msg_id)
        });
        let outcome = if let Some(row) = repeated {
            // Decoded once; a second duplicate in the run finds it in `created`.
            let outcome = codec::event(row).map(Appended::Existing);
            if let Some(key) = key {
                created.insert(key, index);
            }
            outcome
        } else if let Some(earlier) = earlier {
            match &outcomes[earlier] {
                Ok(appended) => Ok(Appended::Existing(appended.event().clone())),
                Err(error) => Err(StoreError::Corrupt(error.to_string())),
            }
        } else if let Some(tally) = tallies.get_mut(conversation_id) {
            tally.last_seq += 1;
            let at = append.record.at_micros();
            tally.latest_at = Some(tally.latest_at.map_or(at, |latest| latest.max(at)));
            inserts.push((append, tally.last_seq));
            if let Some(key) = key {
                created.insert(key, index);
            }
            Ok(Appended::Created(
                append.record.clone().into_event(tally.last_seq),
            ))
        } else {
            Err(StoreError::ConversationNotFound(
                conversation_id.to_string(),
            ))
        };
        outcomes.push(outcome);
    }

    insert_events(conn, &inserts).await?;
    bump_conversations(conn, &tallies).await?;
    Ok(outcomes)
}

/// The current `last_seq` of each existing conversation the appends name.
async fn last_seqs<'a>(
    conn: &mut SqliteConnection,
    appends: &[&'a AppendEvent],
) -> Result<HashMap<&'a str, Tally>, sqlx::Error> {
    let mut ids: Vec<&str> = appends.iter().map(|a| a.conversation_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tallies = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_ROWS) {
        let sql = format!(
            "SELECT id, last_seq FROM conversations WHERE id IN ({})",
            rows(padded(chunk.len()), 1)
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
        for id in pad(chunk) {
            query = query.bind(*id);
        }
        for (id, last_seq) in query.fetch_all(&mut *conn).await? {
            // Borrow the caller's string rather than keep the row's.
            if let Ok(index) = chunk.binary_search(&id.as_str()) {
                tallies.insert(
                    chunk[index],
                    Tally {
                        last_seq,
                        latest_at: None,
                    },
                );
            }
        }
    }
    Ok(tallies)
}

/// The stored events whose idempotency key an append repeats, by conversation and key.
type StoredKeys = HashMap<String, HashMap<String, codec::EventRow>>;

async fn stored_keys(
    conn: &mut SqliteConnection,
    appends: &[&AppendEvent],
    tallies: &HashMap<&str, Tally>,
) -> Result<StoredKeys, sqlx::Error> {
    let keys: Vec<(&str, &str)> = appends
        .iter()
        .filter(|a| tallies.contains_key(a.conversation_id.as_str()))
        .filter_map(|a| Some((a.conversation_id.as_str(), a.record.client_msg_id()?)))
        .collect();
    let mut stored = StoredKeys::new();
    for chunk in keys.chunks(MAX_ROWS) {
        let sql = format!(
            "SELECT e.conversation_id, e.client_msg_id, e.seq, e.at, e.body
             FROM (VALUES {}) AS k
             JOIN events AS e ON e.conversation_id = k.column1 AND e.client_msg_id = k.column2",
            rows(padded(chunk.len()), 2)
        );
        let mut query =
            sqlx::query_as::<_, (String, String, i64, i64, String)>(sqlx::AssertSqlSafe(sql));
        for (conversation_id, client_msg_id) in pad(chunk) {
            query = query.bind(*conversation_id).bind(*client_msg_id);
        }
        for (conversation_id, client_msg_id, seq, at, body) in query.fetch_all(&mut *conn).await? {
            stored
                .entry(conversation_id)
                .or_default()
                .insert(client_msg_id, (seq, at, body));
        }
    }
    Ok(stored)
}

async fn insert_events(
    conn: &mut SqliteConnection,
    inserts: &[(&AppendEvent, i64)],
) -> Result<(), sqlx::Error> {
    let mut rest = inserts;
    while !rest.is_empty() {
        // Largest power of two that fits: no padding rows can be inserted.
        let size = (1 << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(size);
        let sql = format!(
            "INSERT INTO events (conversation_id, seq, type, visibility, client_msg_id, at, body)
             VALUES {}",
            rows(size, 7)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (append, seq) in chunk {
            let record = &append.record;
            query = query
                .bind(append.conversation_id.as_str())
                .bind(*seq)
                .bind(record.type_name())
                .bind(record.visibility())
                .bind(record.client_msg_id())
                .bind(record.at_micros())
                .bind(record.body_json.as_str());
        }
        query.execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

async fn bump_conversations(
    conn: &mut SqliteConnection,
    tallies: &HashMap<&str, Tally>,
) -> Result<(), sqlx::Error> {
    let bumped: Vec<(&str, i64, i64)> = tallies
        .iter()
        .filter_map(|(id, tally)| Some((*id, tally.last_seq, tally.latest_at?)))
        .collect();
    for chunk in bumped.chunks(MAX_ROWS) {
        let sql = format!(
            "UPDATE conversations
             SET last_seq = v.column2, updated_at = MAX(conversations.updated_at, v.column3)
             FROM (VALUES {}) AS v
             WHERE conversations.id = v.column1",
            rows(padded(chunk.len()), 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        // Padding repeats a row; updating a conversation twice with the same values is
        // harmless.
        for (id, last_seq, at) in pad(chunk) {
            query = query.bind(*id).bind(*last_seq).bind(*at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Most rows per statement: keeps the bound values (7 per event) far below SQLite's limit.
pub(super) const MAX_ROWS: usize = 512;

/// `n` rounded up to a power of two.
pub(super) fn padded(n: usize) -> usize {
    n.next_power_of_two()
}

/// The chunk followed by copies of its last item up to the padded length.
pub(super) fn pad<T>(chunk: &[T]) -> impl Iterator<Item = &T> {
    let extra = padded(chunk.len()) - chunk.len();
    chunk
        .iter()
        .chain(chunk.last().into_iter().cycle().take(extra))
}

/// Placeholders for `count` rows of `width` values: `?` or `(?, ?), (?, ?)`.
pub(super) fn rows(count: usize, width: usize) -> String {
    let row = if width == 1 {
        "?".to_string()
    } else {
        format!("({})", vec!["?"; width].join(", "))
    };
    vec![row; count].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_shapes_are_powers_of_two() {
        assert_eq!(rows(2, 1), "?, ?");
        assert_eq!(rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(
            pad(&[1, 2, 3]).copied().collect::<Vec<_>>(),
            vec![1, 2, 3, 3]
        );
        assert_eq!(pad(&[1, 2]).count(), 2);
        assert_eq!(pad::<i32>(&[]).count(), 0);
    }
}
