//! Knowledge-base storage: articles as opaque JSON documents, versioned by KB revision.
//!
//! The store knows nothing about what an article contains: each is a [`serde_json::Value`]
//! under a string id. Writes come in sets ([`KbWrite`]), each applied in one transaction.
//! A write that changes something gets the next KB revision (1, 2, 3… per database, without
//! gaps), a row in the revision log ([`KbRevision`]) and, for every article it created,
//! updated or retired, a row in that article's history. A write that changes nothing leaves
//! the revision where it was.
//!
//! This module also holds the part of a write both backends share: checking and normalizing
//! it (`PreparedWrite`) and deciding, from what is stored, what it changes (`plan`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Result, StoreError, codec};

/// The page of [`crate::Store::kb_revisions`] when the caller asks for `0`.
pub(crate) const DEFAULT_REVISION_LIMIT: u32 = 100;

/// An active (not retired) article as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KbDocument {
    /// The article's id, chosen by the caller.
    pub id: String,
    /// The article itself; the store does not look inside.
    pub content: Value,
    /// The KB revision that last changed this article.
    pub revision: i64,
    /// When that revision was written.
    pub updated_at: DateTime<Utc>,
}

/// One set of changes to the knowledge base, applied in one transaction.
///
/// Ids are compared exactly (case and whitespace included) and must not be empty. An id may
/// not be both upserted and listed in `retire`; when it is upserted more than once, the last
/// content counts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KbWrite {
    /// Articles to create or replace, by id. Content equal to what is stored changes
    /// nothing; an upserted article that was retired is revived.
    pub upserts: Vec<(String, Value)>,
    /// Articles to retire. Unknown or already retired ids are ignored.
    pub retire: Vec<String>,
    /// Prune: when set, every active article whose id is neither listed here nor upserted
    /// by this write is retired (an import of a whole folder passes the ids it found).
    pub retire_all_except: Option<Vec<String>>,
    /// Why, for the revision log: `"import examples/kb"`, `"admin edit by <staff id>"`.
    pub note: String,
}

/// What a [`KbWrite`] did. Each list is sorted by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KbWriteResult {
    /// The KB revision after the write: a new one when anything changed, otherwise the
    /// current one (0 while the knowledge base has never been written).
    pub revision: i64,
    /// Upserted articles that did not exist before.
    pub created: Vec<String>,
    /// Upserted articles whose content changed, or which were retired and are now revived.
    pub updated: Vec<String>,
    /// Upserted active articles whose content was already the same.
    pub unchanged: Vec<String>,
    /// Active articles this write retired.
    pub retired: Vec<String>,
}

impl KbWriteResult {
    /// Whether the write changed anything (and so created a revision).
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.updated.is_empty() && self.retired.is_empty())
    }
}

/// One entry of the revision log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KbRevision {
    /// The revision number: 1, 2, 3… in the order the writes committed.
    pub revision: i64,
    /// The `now` of the write that made it.
    pub at: DateTime<Utc>,
    /// The write's [`KbWrite::note`].
    pub note: String,
    /// How many articles it created.
    pub created: i64,
    /// How many articles it updated, revived ones included.
    pub updated: i64,
    /// How many articles it retired.
    pub retired: i64,
}

// --- shared by both backends ---

/// One upserted article, serialized before any lock is taken.
#[derive(Debug, Clone)]
pub(crate) struct Upsert {
    pub id: String,
    pub content: Value,
    /// `content` as JSON text, as it is written.
    pub json: String,
}

/// A [`KbWrite`] checked and normalized: upserts deduplicated (last wins), sorted by id and
/// serialized; `now` truncated to what the database keeps.
#[derive(Debug, Clone)]
pub(crate) struct PreparedWrite {
    pub upserts: Vec<Upsert>,
    /// Sorted, without duplicates.
    pub retire: Vec<String>,
    /// The ids a prune keeps (upserted ones included); `None` when not pruning.
    pub keep: Option<HashSet<String>>,
    pub note: String,
    pub now: DateTime<Utc>,
}

impl PreparedWrite {
    /// Checks the write; fails with [`StoreError::Conflict`] when an id is empty or both
    /// upserted and retired.
    pub fn new(write: KbWrite, now: DateTime<Utc>) -> Result<Self> {
        let KbWrite {
            upserts,
            retire,
            retire_all_except,
            note,
        } = write;
        let upserts: BTreeMap<String, Value> = upserts.into_iter().collect();
        let retire: BTreeSet<String> = retire.into_iter().collect();
        if upserts.contains_key("") || retire.contains("") {
            return Err(StoreError::Conflict(
                "a knowledge-base article id must not be empty".into(),
            ));
        }
        if let Some(id) = retire.iter().find(|id| upserts.contains_key(id.as_str())) {
            return Err(StoreError::Conflict(format!(
                "knowledge-base article {id:?} is both upserted and retired"
            )));
        }
        let keep = retire_all_except.map(|ids| {
            ids.into_iter()
                .chain(upserts.keys().cloned())
                .collect::<HashSet<_>>()
        });
        let upserts = upserts
            .into_iter()
            .map(|(id, content)| {
                Ok(Upsert {
                    json: codec::to_json(&content)?,
                    id,
                    content,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PreparedWrite {
            upserts,
            retire: retire.into_iter().collect(),
            keep,
            note,
            now: codec::truncate_to_micros(now),
        })
    }

    /// The ids whose stored state [`plan`] needs: those upserted and those retired by name.
    pub fn named_ids(&self) -> Vec<&str> {
        self.upserts
            .iter()
            .map(|u| u.id.as_str())
            .chain(self.retire.iter().map(String::as_str))
            .collect()
    }

    /// Whether [`plan`] needs the ids of all active articles.
    pub fn prunes(&self) -> bool {
        self.keep.is_some()
    }
}

/// What the database holds for one article: its content as JSON text, and whether it is
/// retired.
pub(crate) type Stored = (String, bool);

/// What a write changes, decided before anything is written.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub created: Vec<&'a Upsert>,
    pub updated: Vec<&'a Upsert>,
    pub unchanged: Vec<&'a str>,
    /// Sorted by id.
    pub retired: Vec<String>,
}

impl Plan<'_> {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty() && self.retired.is_empty()
    }

    /// The articles written, created ones first.
    pub fn written(&self) -> impl Iterator<Item = &Upsert> {
        self.created.iter().chain(&self.updated).copied()
    }

    /// The new revision's log entry.
    pub fn revision(&self, revision: i64, write: &PreparedWrite) -> KbRevision {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        KbRevision {
            revision,
            at: write.now,
            note: write.note.clone(),
            created: count(self.created.len()),
            updated: count(self.updated.len()),
            retired: count(self.retired.len()),
        }
    }

    /// The caller's answer, once the write stands at `revision`.
    pub fn result(&self, revision: i64) -> KbWriteResult {
        let ids = |upserts: &[&Upsert]| upserts.iter().map(|u| u.id.clone()).collect();
        KbWriteResult {
            revision,
            created: ids(&self.created),
            updated: ids(&self.updated),
            unchanged: self.unchanged.iter().map(|id| id.to_string()).collect(),
            retired: self.retired.clone(),
        }
    }
}

/// Decides what `write` changes, given the stored state of the ids it names (`stored`,
/// missing ones unknown) and, when it prunes, the ids of all active articles.
pub(crate) fn plan<'a>(
    write: &'a PreparedWrite,
    stored: &HashMap<String, Stored>,
    active: &[String],
) -> Plan<'a> {
    let mut plan = Plan {
        created: Vec::new(),
        updated: Vec::new(),
        unchanged: Vec::new(),
        retired: Vec::new(),
    };
    for upsert in &write.upserts {
        match stored.get(&upsert.id) {
            None => plan.created.push(upsert),
            Some((json, retired)) if !retired && same_content(json, upsert) => {
                plan.unchanged.push(&upsert.id);
            }
            Some(_) => plan.updated.push(upsert),
        }
    }
    let mut retired: BTreeSet<&str> = write
        .retire
        .iter()
        .filter(|id| matches!(stored.get(id.as_str()), Some((_, false))))
        .map(String::as_str)
        .collect();
    if let Some(keep) = &write.keep {
        retired.extend(
            active
                .iter()
                .filter(|id| !keep.contains(id.as_str()))
                .map(String::as_str),
        );
    }
    plan.retired = retired.into_iter().map(str::to_string).collect();
    plan
}

/// Whether stored JSON text holds the same document as the upsert. The text usually
/// matches exactly (SQLite keeps what was written); otherwise (PostgreSQL's `jsonb`
/// reformats) the documents are compared. Unreadable stored content counts as different,
/// so the upsert replaces it.
fn same_content(stored: &str, upsert: &Upsert) -> bool {
    stored == upsert.json
        || serde_json::from_str::<Value>(stored).is_ok_and(|value| value == upsert.content)
}

/// `id, content, revision, updated_at` of an active row of `kb_articles`.
pub(crate) type DocumentRow = (String, String, i64, i64);

pub(crate) fn document((id, content, revision, updated_at): DocumentRow) -> Result<KbDocument> {
    Ok(KbDocument {
        content: from_json(&id, &content)?,
        id,
        revision,
        updated_at: codec::from_micros(updated_at)?,
    })
}

/// `revision, content (NULL once retired), at` of one article's history.
pub(crate) type HistoryRow = (i64, Option<String>, i64);

pub(crate) fn history_entry(
    id: &str,
    (revision, content, at): HistoryRow,
) -> Result<(i64, Option<Value>, DateTime<Utc>)> {
    Ok((
        revision,
        content.map(|json| from_json(id, &json)).transpose()?,
        codec::from_micros(at)?,
    ))
}

/// `revision, at, note, created, updated, retired` of `kb_revisions`.
pub(crate) type RevisionRow = (i64, i64, String, i64, i64, i64);

pub(crate) fn revision(
    (revision, at, note, created, updated, retired): RevisionRow,
) -> Result<KbRevision> {
    Ok(KbRevision {
        revision,
        at: codec::from_micros(at)?,
        note,
        created,
        updated,
        retired,
    })
}

/// `revision, calibration` of `kb_calibrations`.
pub(crate) type CalibrationRow = (i64, String);

pub(crate) fn calibration((revision, json): CalibrationRow) -> Result<(i64, Value)> {
    let value = serde_json::from_str(&json).map_err(|error| {
        StoreError::Corrupt(format!(
            "unreadable calibration of KB revision {revision}: {error}"
        ))
    })?;
    Ok((revision, value))
}

fn from_json(id: &str, json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|error| {
        StoreError::Corrupt(format!("unreadable knowledge-base article {id:?}: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(upserts: &[(&str, Value)], retire: &[&str], keep: Option<&[&str]>) -> KbWrite {
        KbWrite {
            upserts: upserts
                .iter()
                .map(|(id, content)| (id.to_string(), content.clone()))
                .collect(),
            retire: retire.iter().map(|id| id.to_string()).collect(),
            retire_all_except: keep.map(|ids| ids.iter().map(|id| id.to_string()).collect()),
            note: "test".into(),
        }
    }

    #[test]
    fn an_id_cannot_be_upserted_and_retired_at_once() {
        let error = PreparedWrite::new(write(&[("a", json!(1))], &["a"], None), Utc::now());
        assert!(matches!(error, Err(StoreError::Conflict(_))), "{error:?}");
        let error = PreparedWrite::new(write(&[("", json!(1))], &[], None), Utc::now());
        assert!(matches!(error, Err(StoreError::Conflict(_))), "{error:?}");
    }

    #[test]
    fn the_last_upsert_of_an_id_counts() {
        let prepared = PreparedWrite::new(
            write(
                &[("b", json!(1)), ("a", json!(2)), ("b", json!(3))],
                &[],
                None,
            ),
            Utc::now(),
        )
        .unwrap();
        let upserts: Vec<_> = prepared
            .upserts
            .iter()
            .map(|u| (u.id.as_str(), u.json.as_str()))
            .collect();
        assert_eq!(upserts, vec![("a", "2"), ("b", "3")]);
    }

    #[test]
    fn plan_sorts_articles_into_what_changes() {
        let prepared = PreparedWrite::new(
            write(
                &[
                    ("new", json!({"t": 1})),
                    ("same", json!({"a": 1, "b": 2})),
                    ("edited", json!({"t": 2})),
                    ("revived", json!({"t": 3})),
                ],
                &["gone", "unknown", "already-retired"],
                Some(&["kept"]),
            ),
            Utc::now(),
        )
        .unwrap();
        let stored: HashMap<String, Stored> = [
            // Reformatted text, same document: unchanged.
            ("same", r#"{"b": 2, "a": 1}"#, false),
            ("edited", r#"{"t": 1}"#, false),
            ("revived", r#"{"t": 3}"#, true),
            ("gone", "{}", false),
            ("already-retired", "{}", true),
        ]
        .into_iter()
        .map(|(id, json, retired)| (id.to_string(), (json.to_string(), retired)))
        .collect();
        let active: Vec<String> = ["same", "edited", "gone", "kept", "stale"]
            .into_iter()
            .map(str::to_string)
            .collect();
        let result = plan(&prepared, &stored, &active).result(7);
        assert_eq!(
            result,
            KbWriteResult {
                revision: 7,
                created: vec!["new".into()],
                updated: vec!["edited".into(), "revived".into()],
                unchanged: vec!["same".into()],
                retired: vec!["gone".into(), "stale".into()],
            }
        );
        assert!(result.changed());
    }
}
