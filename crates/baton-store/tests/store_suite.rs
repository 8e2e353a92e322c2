//! The behaviour every store must have, written once and run against both backends.
//!
//! Each test below is an `async fn` taking a [`TestDb`]; the `suite!` macro at the bottom
//! instantiates it for SQLite (a fresh file per test) and for PostgreSQL (a fresh schema per
//! test in the database `BATON_TEST_DATABASE_URL` names; skipped when it is unset).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use baton_core::decision::Action;
use baton_core::handoff::{
    Cooldown, Handoff, HandoffChange, HandoffStatus, HandoverNotice, Names, NoticeKind, Outcome,
    Priority, Refusal, Step,
};
use baton_core::routing::Presence;
use baton_core::staff::DEFAULT_AGENT_CAPACITY;
use baton_core::{
    Account, Agent, Brief, BriefInput, Conversation, ConversationState, Customer, Decision, Event,
    EventBody, NewEvent, PageContext, Role, Staff, StaffRole, Visibility,
};
use baton_store::{
    Appended, Changed, ConversationFilter, CreationCursor, CreationPage, Durability, EventNotice,
    HandoffFilter, KbDocument, KbRevision, KbWrite, KbWriteResult, NewStaff, Store, StoreError,
};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use tokio::sync::broadcast;

/// Generous: the suite runs on busy two-core machines next to other builds.
const WAIT: Duration = Duration::from_secs(10);

// --- fixtures ---

/// One test's database, and how to reach it again.
struct TestDb {
    store: Arc<dyn Store>,
    /// The URL that opens this same database again.
    url: String,
    backend: Backend,
    /// Stores opened with [`TestDb::open_again`], closed at the end.
    others: std::sync::Mutex<Vec<Arc<dyn Store>>>,
    /// Whether [`TestDb::finish`] ran; a failed test skips it.
    finished: bool,
}

enum Backend {
    /// The folder is deleted when the test ends.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        schema: String,
    },
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        // A folder that does not exist yet: opening must create it.
        let url = format!("sqlite://{}/data/baton.db", dir.path().display());
        let store = baton_store::open(&url, Durability::Process).await.unwrap();
        TestDb {
            store,
            url,
            backend: Backend::Sqlite { _dir: dir },
            others: Default::default(),
            finished: false,
        }
    }

    /// `None`, after saying so, when no PostgreSQL server is configured.
    async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("BATON_TEST_DATABASE_URL") else {
            println!("skipping PostgreSQL store tests: BATON_TEST_DATABASE_URL is not set");
            return None;
        };
        let (store, schema) = open_isolated_postgres(&admin_url).await;
        Some(TestDb {
            store,
            url: url_with_search_path(&admin_url, &schema),
            backend: Backend::Postgres { admin_url, schema },
            others: Default::default(),
            finished: false,
        })
    }

    /// Another store on the same database, as a second Baton process would open it.
    async fn open_again(&self) -> Arc<dyn Store> {
        let store = baton_store::open(&self.url, Durability::Process)
            .await
            .unwrap();
        self.others.lock().unwrap().push(store.clone());
        store
    }

    /// Runs SQL that both backends understand, outside the store (to stage odd data).
    async fn execute_raw(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match &self.backend {
            Backend::Sqlite { .. } => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Backend::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    async fn finish(mut self) {
        self.finished = true;
        self.store.close().await;
        let others = std::mem::take(&mut *self.others.lock().unwrap());
        for other in others {
            other.close().await;
        }
        if let Backend::Postgres { admin_url, schema } = &self.backend {
            drop_schema(admin_url, schema).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A failed test still drops its schema, from a thread of its own: this may run
        // while the test's runtime is unwinding.
        if let Backend::Postgres { admin_url, schema } = &self.backend
            && !self.finished
        {
            let (admin_url, schema) = (admin_url.clone(), schema.clone());
            let cleanup = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(drop_schema(&admin_url, &schema));
            });
            let _ = cleanup.join();
        }
    }
}

/// Opens a store in a schema of its own, created for the occasion, so that tests sharing
/// one PostgreSQL database never see each other's rows (nor each other's notices).
/// Returns the store and the schema's name; drop the schema with `DROP SCHEMA ... CASCADE`.
pub async fn open_isolated_postgres(url: &str) -> (Arc<dyn Store>, String) {
    let schema = format!("baton_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let store = baton_store::open(&url_with_search_path(url, &schema), Durability::Process)
        .await
        .unwrap();
    (store, schema)
}

/// `url` with `options=-c search_path=SCHEMA`, which sqlx passes to the server at connect:
/// every connection of the pool, and the listener's, then works in that schema.
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    // Percent-encoded: the value holds a space and an `=`.
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

async fn drop_schema(admin_url: &str, schema: &str) {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
}

// --- building blocks ---

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_445_600 + seconds, 0).unwrap()
}

fn message(text: &str, client_msg_id: Option<&str>) -> EventBody {
    EventBody::Message {
        role: Role::Customer,
        text: text.to_string(),
        client_msg_id: client_msg_id.map(str::to_string),
        author: None,
        page: None,
        articles: Vec::new(),
        choices: Vec::new(),
        handover: None,
    }
}

fn new_event(seconds: i64, body: EventBody) -> NewEvent {
    NewEvent {
        at: at(seconds),
        body,
    }
}

/// A customer with a fresh conversation; returns the conversation's id.
async fn conversation(store: &dyn Store) -> String {
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    conversation.id
}

async fn all_events(store: &dyn Store, conversation_id: &str) -> Vec<Event> {
    store
        .events_after(conversation_id, 0, 100_000, None)
        .await
        .unwrap()
}

async fn next_notice(receiver: &mut broadcast::Receiver<Arc<EventNotice>>) -> Arc<EventNotice> {
    tokio::time::timeout(WAIT, receiver.recv())
        .await
        .expect("no notice arrived in time")
        .unwrap()
}

/// The first notice at or past `seq`: a notice from another process may arrive late, after
/// the subscription that was meant to start after it.
async fn notice_reaching(
    receiver: &mut broadcast::Receiver<Arc<EventNotice>>,
    seq: i64,
) -> Arc<EventNotice> {
    loop {
        let notice = next_notice(receiver).await;
        if notice.seq >= seq {
            return notice;
        }
    }
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

// --- the suite ---

async fn conversation_starts_with_its_started_event_as_seq_1(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let page = PageContext {
        url: Some("https://app.example.com/billing".into()),
        title: Some("Billing".into()),
        referrer: None,
    };
    let (conversation, started) = store
        .create_conversation(&customer.id, Some(page.clone()), at(0))
        .await
        .unwrap();
    assert_eq!(conversation.state, ConversationState::Ai);
    assert_eq!(conversation.last_seq, 1);
    assert_eq!(conversation.page, Some(page.clone()));
    assert_eq!(started.seq, 1);
    assert_eq!(
        started.body,
        EventBody::ConversationStarted { page: Some(page) }
    );
    assert_eq!(
        store.conversation(&conversation.id).await.unwrap(),
        Some(conversation.clone())
    );
    assert_eq!(all_events(store, &conversation.id).await, vec![started]);
    assert!(uuid::Uuid::parse_str(&conversation.id).is_ok());
}

async fn appended_events_are_numbered_without_gaps(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    for i in 0..10 {
        let appended = store
            .append_event(&id, new_event(i, message(&format!("hello {i}"), None)))
            .await
            .unwrap();
        assert!(appended.is_created());
        assert_eq!(appended.event().seq, i + 2);
    }
    let events = all_events(store, &id).await;
    assert_eq!(seqs(&events), (1..=11).collect::<Vec<_>>());
    assert_eq!(store.conversation(&id).await.unwrap().unwrap().last_seq, 11);

    let page = store.events_after(&id, 5, 3, None).await.unwrap();
    assert_eq!(seqs(&page), vec![6, 7, 8]);
    assert!(
        store
            .events_after(&id, 11, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn appending_to_an_unknown_conversation_fails(db: &TestDb) {
    let error = db
        .store
        .append_event("no-such-conversation", new_event(0, message("hi", None)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::ConversationNotFound(ref id) if id == "no-such-conversation"),
        "{error:?}"
    );
}

async fn conversation_needs_an_existing_customer(db: &TestDb) {
    let error = db
        .store
        .create_conversation("no-such-customer", None, at(0))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
}

async fn timestamps_round_trip_to_the_microsecond(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    let precise = at(5) + TimeDelta::nanoseconds(123_456_789);
    let appended = store
        .append_event(
            &id,
            NewEvent {
                at: precise,
                body: message("now", None),
            },
        )
        .await
        .unwrap()
        .into_event();
    assert_eq!(appended.at, at(5) + TimeDelta::microseconds(123_456));
    let stored = store.events_after(&id, 1, 1, None).await.unwrap();
    assert_eq!(stored, vec![appended]);
    let conversation = store.conversation(&id).await.unwrap().unwrap();
    assert_eq!(
        conversation.updated_at,
        at(5) + TimeDelta::microseconds(123_456)
    );
}

async fn repeated_client_msg_id_returns_the_stored_event(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    let first = store
        .append_event(
            &id,
            new_event(1, message("my invoice is wrong", Some("m-1"))),
        )
        .await
        .unwrap();
    assert!(first.is_created());
    // A retry, even with different content, gets the original back and writes nothing.
    let retry = store
        .append_event(
            &id,
            new_event(2, message("my invoice is wrong!", Some("m-1"))),
        )
        .await
        .unwrap();
    assert_eq!(retry, Appended::Existing(first.event().clone()));
    assert_eq!(seqs(&all_events(store, &id).await), vec![1, 2]);
    assert_eq!(store.conversation(&id).await.unwrap().unwrap().last_seq, 2);

    // The key is per conversation.
    let other = conversation(store).await;
    let elsewhere = store
        .append_event(&other, new_event(3, message("same key", Some("m-1"))))
        .await
        .unwrap();
    assert!(elsewhere.is_created());
}

async fn concurrent_duplicates_store_one_event(db: &TestDb) {
    let id = conversation(&*db.store).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = db.store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                store
                    .append_event(&id, new_event(i, message("double click", Some("dup"))))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut stored = HashSet::new();
    for task in tasks {
        let appended = task.await.unwrap();
        created += usize::from(appended.is_created());
        stored.insert(appended.event().seq);
    }
    assert_eq!(created, 1);
    assert_eq!(stored, HashSet::from([2]));
    assert_eq!(seqs(&all_events(&*db.store, &id).await), vec![1, 2]);
}

async fn concurrent_appends_get_consecutive_seqs(db: &TestDb) {
    const TASKS: i64 = 20;
    const EACH: i64 = 50;
    let id = conversation(&*db.store).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = db.store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    // Half of them carry a key, which takes the duplicate check's path.
                    let key = (i % 2 == 0).then(|| format!("t{t}-m{i}"));
                    let body = message(&format!("task {t} message {i}"), key.as_deref());
                    let appended = store.append_event(&id, new_event(i, body)).await.unwrap();
                    assert!(appended.is_created());
                    seqs.push(appended.event().seq);
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        // One task's appends are answered in order.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    let last = 1 + TASKS * EACH;
    assert_eq!(all, (2..=last).collect::<Vec<_>>());
    assert_eq!(
        seqs(&all_events(&*db.store, &id).await),
        (1..=last).collect::<Vec<_>>()
    );
    let conversation = db.store.conversation(&id).await.unwrap().unwrap();
    assert_eq!(conversation.last_seq, last);
}

async fn a_failing_write_fails_only_its_caller(db: &TestDb) {
    let key = NewStaff {
        name: "Alice".into(),
        role: StaffRole::Agent,
        key_hash: "taken".into(),
    };
    db.store.create_staff(key.clone(), at(0)).await.unwrap();
    let id = conversation(&*db.store).await;

    // Queued together, so on SQLite they tend to share a batch with the failing writes.
    let appends: Vec<_> = (0..200)
        .map(|i| {
            let store = db.store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let body = message(&format!("message {i}"), None);
                store.append_event(&id, new_event(i, body)).await
            })
        })
        .collect();
    let store = db.store.clone();
    let duplicate_key = tokio::spawn(async move { store.create_staff(key, at(1)).await });
    let store = db.store.clone();
    let unknown = tokio::spawn(async move {
        store
            .append_event("no-such-conversation", new_event(1, message("hi", None)))
            .await
    });

    let mut seqs = Vec::new();
    for append in appends {
        seqs.push(append.await.unwrap().unwrap().event().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=201).collect::<Vec<_>>());
    let error = duplicate_key.await.unwrap().unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let error = unknown.await.unwrap().unwrap_err();
    assert!(
        matches!(error, StoreError::ConversationNotFound(_)),
        "{error:?}"
    );
    assert_eq!(db.store.list_staff().await.unwrap().len(), 1);
}

async fn customer_sees_only_customer_visible_events(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    store
        .append_event(&id, new_event(1, message("question", None)))
        .await
        .unwrap();
    // No event type is staff-only yet, so stage one the way a future type would be stored.
    db.execute_raw(&format!(
        r#"INSERT INTO events (conversation_id, seq, type, visibility, client_msg_id, at, body)
           VALUES ('{id}', 3, 'message', 'staff', NULL, 1772445602000000,
                   '{{"type": "message", "role": "system", "text": "internal note"}}');
           UPDATE conversations SET last_seq = 3 WHERE id = '{id}';"#
    ))
    .await;
    store
        .append_event(&id, new_event(4, message("answer", None)))
        .await
        .unwrap();

    let customer = store
        .events_after(&id, 0, 100, Some(Visibility::Customer))
        .await
        .unwrap();
    assert_eq!(seqs(&customer), vec![1, 2, 4]);
    let staff = store
        .events_after(&id, 0, 100, Some(Visibility::Staff))
        .await
        .unwrap();
    assert_eq!(seqs(&staff), vec![1, 2, 3, 4]);
    assert_eq!(seqs(&all_events(store, &id).await), vec![1, 2, 3, 4]);
    // The limit counts visible events only.
    let page = store
        .events_after(&id, 1, 1, Some(Visibility::Customer))
        .await
        .unwrap();
    let after_gap = store
        .events_after(&id, 2, 1, Some(Visibility::Customer))
        .await
        .unwrap();
    assert_eq!((seqs(&page), seqs(&after_gap)), (vec![2], vec![4]));
}

async fn state_changes_follow_the_state_machine(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    let error = store
        .change_state(&id, ConversationState::Human, None, at(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::InvalidTransition {
                from: ConversationState::Ai,
                to: ConversationState::Human
            }
        ),
        "{error:?}"
    );

    let changed = store
        .change_state(
            &id,
            ConversationState::WaitingHuman,
            Some("asked for a person"),
            at(2),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.seq, 2);
    assert_eq!(
        changed.body,
        EventBody::StateChanged {
            from: ConversationState::Ai,
            to: ConversationState::WaitingHuman,
            reason: Some("asked for a person".into()),
        }
    );
    // Already there: nothing happens.
    assert_eq!(
        store
            .change_state(&id, ConversationState::WaitingHuman, None, at(3))
            .await
            .unwrap(),
        None
    );
    let conversation = store.conversation(&id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::WaitingHuman);
    assert_eq!(conversation.last_seq, 2);
    assert_eq!(conversation.updated_at, at(2));
    assert_eq!(all_events(store, &id).await.last(), Some(&changed));

    let error = store
        .change_state(
            "no-such-conversation",
            ConversationState::Resolved,
            None,
            at(4),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::ConversationNotFound(_)),
        "{error:?}"
    );
}

async fn conversations_are_listed_newest_activity_first(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let other_customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let (conversation, _) = store
            .create_conversation(&customer.id, None, at(i))
            .await
            .unwrap();
        ids.push(conversation.id);
    }
    let (theirs, _) = store
        .create_conversation(&other_customer.id, None, at(10))
        .await
        .unwrap();
    // New activity moves the oldest to the top.
    store
        .append_event(&ids[0], new_event(20, message("still there?", None)))
        .await
        .unwrap();
    store
        .change_state(&ids[1], ConversationState::WaitingHuman, None, at(5))
        .await
        .unwrap();

    let listed = |filter: ConversationFilter| async move {
        store
            .list_conversations(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(ConversationFilter::default()).await,
        vec![
            ids[0].clone(),
            theirs.id.clone(),
            ids[1].clone(),
            ids[2].clone()
        ]
    );
    assert_eq!(
        listed(ConversationFilter {
            limit: 2,
            ..Default::default()
        })
        .await,
        vec![ids[0].clone(), theirs.id.clone()]
    );
    assert_eq!(
        listed(ConversationFilter {
            customer_id: Some(customer.id.clone()),
            ..Default::default()
        })
        .await,
        vec![ids[0].clone(), ids[1].clone(), ids[2].clone()]
    );
    assert_eq!(
        listed(ConversationFilter {
            state: Some(ConversationState::Ai),
            ..Default::default()
        })
        .await,
        vec![ids[0].clone(), theirs.id.clone(), ids[2].clone()]
    );
    assert_eq!(
        listed(ConversationFilter {
            state: Some(ConversationState::Ai),
            customer_id: Some(other_customer.id.clone()),
            limit: 10,
        })
        .await,
        vec![theirs.id.clone()]
    );
}

/// Every page of `page` (its `limit` per page), cursor after cursor, as ids.
async fn all_pages(store: &dyn Store, page: CreationPage) -> (Vec<String>, usize) {
    let mut page = page;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let got = store.conversations_by_creation(&page).await.unwrap();
        pages += 1;
        assert!(pages < 100, "paging does not end");
        ids.extend(got.iter().map(|c| c.id.clone()));
        match got.last() {
            Some(last) if got.len() == page.limit as usize => {
                page.after = Some(CreationCursor::after(last));
            }
            _ => return (ids, pages),
        }
    }
}

async fn conversations_page_in_creation_order_with_filters(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    // Two share a creation time: the id breaks the tie.
    let mut created = Vec::new();
    for seconds in [0, 10, 10, 20, 30, 40] {
        let (conversation, _) = store
            .create_conversation(&customer.id, None, at(seconds))
            .await
            .unwrap();
        created.push((conversation.created_at, conversation.id));
    }
    created.sort();
    let ids: Vec<String> = created.iter().map(|(_, id)| id.clone()).collect();
    // Activity and state changes move conversations in `list_conversations`, not here.
    store
        .append_event(&ids[0], new_event(50, message("still there?", None)))
        .await
        .unwrap();
    store
        .change_state(&ids[1], ConversationState::WaitingHuman, None, at(51))
        .await
        .unwrap();
    store
        .change_state(&ids[4], ConversationState::Resolved, None, at(52))
        .await
        .unwrap();

    let page = |limit: u32| CreationPage {
        limit,
        ..Default::default()
    };
    let first = store.conversations_by_creation(&page(0)).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(first[1].state, ConversationState::WaitingHuman);
    assert_eq!(first[0].created_at, at(0));
    assert_eq!(first[0].updated_at, at(50));

    // Pages of two, then of four, cover everything once, in order; a full last page is
    // followed by an empty one.
    assert_eq!(all_pages(store, page(2)).await, (ids.clone(), 4));
    assert_eq!(all_pages(store, page(4)).await, (ids.clone(), 2));

    // From is inclusive, before exclusive.
    let window = CreationPage {
        created_from: Some(at(10)),
        created_before: Some(at(30)),
        limit: 1,
        ..Default::default()
    };
    assert_eq!(all_pages(store, window.clone()).await.0, ids[1..4].to_vec());
    // A cursor earlier than the start does not bring earlier conversations back.
    let early_cursor = CreationPage {
        after: Some(CreationCursor::after(&first[0])),
        limit: 10,
        ..window.clone()
    };
    assert_eq!(all_pages(store, early_cursor).await.0, ids[1..4].to_vec());
    let one_instant = CreationPage {
        created_from: Some(at(10)),
        created_before: Some(at(10) + TimeDelta::microseconds(1)),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(all_pages(store, one_instant).await.0, ids[1..3].to_vec());

    // States: any of those listed.
    let in_states = |states: Vec<ConversationState>| CreationPage {
        states,
        limit: 1,
        ..Default::default()
    };
    assert_eq!(
        all_pages(
            store,
            in_states(vec![
                ConversationState::Resolved,
                ConversationState::WaitingHuman
            ])
        )
        .await
        .0,
        vec![ids[1].clone(), ids[4].clone()]
    );
    assert_eq!(
        all_pages(store, in_states(vec![ConversationState::Ai]))
            .await
            .0,
        vec![
            ids[0].clone(),
            ids[2].clone(),
            ids[3].clone(),
            ids[5].clone()
        ]
    );
    assert!(
        all_pages(store, in_states(vec![ConversationState::Human]))
            .await
            .0
            .is_empty()
    );
    let everything = CreationPage {
        states: ConversationState::ALL.to_vec(),
        created_from: Some(at(30)),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(all_pages(store, everything).await.0, ids[4..].to_vec());
}

async fn secret_is_generated_once_and_shared(db: &TestDb) {
    let store = &*db.store;
    assert_eq!(store.secret("token-key", "first").await.unwrap(), "first");
    assert_eq!(store.secret("token-key", "second").await.unwrap(), "first");

    // Two processes starting at once agree on one value.
    let other = db.open_again().await;
    let (a, b) = tokio::join!(
        db.store.secret("webhook-key", "from-a"),
        other.secret("webhook-key", "from-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == "from-a" || a == "from-b");
    assert_eq!(other.secret("token-key", "third").await.unwrap(), "first");
}

async fn staff_are_created_disabled_and_rotated(db: &TestDb) {
    let store = &*db.store;
    let alice = store
        .create_staff(
            NewStaff {
                name: "Alice".into(),
                role: StaffRole::Admin,
                key_hash: "hash-a".into(),
            },
            at(0),
        )
        .await
        .unwrap();
    assert!(!alice.disabled);
    let bob = store
        .create_staff(
            NewStaff {
                name: "Bob".into(),
                role: StaffRole::Agent,
                key_hash: "hash-b".into(),
            },
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.list_staff().await.unwrap(),
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(store.staff(&bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store.staff_by_key_hash("hash-b").await.unwrap(),
        Some(bob.clone())
    );

    let duplicate = store
        .create_staff(
            NewStaff {
                name: "Mallory".into(),
                role: StaffRole::Agent,
                key_hash: "hash-a".into(),
            },
            at(2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict(_)),
        "{duplicate:?}"
    );

    // Disabled staff are still found by key: the server decides what to do with them.
    let disabled = store
        .set_staff_disabled(&bob.id, true)
        .await
        .unwrap()
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(
        store.staff_by_key_hash("hash-b").await.unwrap(),
        Some(disabled.clone())
    );
    let enabled = store
        .set_staff_disabled(&bob.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(!enabled.disabled);

    let rotated = store.set_staff_key_hash(&bob.id, "hash-b2").await.unwrap();
    assert_eq!(rotated, Some(enabled.clone()));
    assert_eq!(store.staff_by_key_hash("hash-b").await.unwrap(), None);
    assert_eq!(
        store.staff_by_key_hash("hash-b2").await.unwrap(),
        Some(enabled)
    );
    let taken = store
        .set_staff_key_hash(&bob.id, "hash-a")
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");

    assert_eq!(
        store.set_staff_disabled("nobody", true).await.unwrap(),
        None
    );
    assert_eq!(store.set_staff_key_hash("nobody", "x").await.unwrap(), None);
    assert_eq!(store.staff("nobody").await.unwrap(), None);
}

async fn identified_customer_is_upserted_by_external_id(db: &TestDb) {
    let store = &*db.store;
    let account = Account {
        id: "acme".into(),
        name: Some("Acme".into()),
        tier: Some("enterprise".into()),
        signup_at: Some(at(-86_400 * 400)),
        owner: Some("dana@vendor.example".into()),
        attrs: serde_json::json!({"plan": "scale", "seats": 40})
            .as_object()
            .unwrap()
            .clone(),
    };
    store.upsert_account(&account, at(0)).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(account.clone()));
    let upgraded = Account {
        tier: Some("vip".into()),
        ..account
    };
    store.upsert_account(&upgraded, at(1)).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(upgraded));
    assert_eq!(store.account("nobody").await.unwrap(), None);

    let first = store
        .upsert_identified_customer(
            "u-42",
            Some("Ann"),
            Some("ann@acme.example"),
            Some("acme"),
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(first.external_id.as_deref(), Some("u-42"));
    assert!(!first.is_anonymous());
    let again = store
        .upsert_identified_customer("u-42", Some("Ann Lee"), None, Some("acme"), at(9))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(again.name.as_deref(), Some("Ann Lee"));
    // A token without an email keeps the one already known.
    assert_eq!(again.email.as_deref(), Some("ann@acme.example"));
    assert_eq!(store.customer(&first.id).await.unwrap(), Some(again));

    let someone_else = store
        .upsert_identified_customer("u-43", None, None, None, at(0))
        .await
        .unwrap();
    assert_ne!(someone_else.id, first.id);

    let a = store.create_anonymous_customer(at(0)).await.unwrap();
    let b = store.create_anonymous_customer(at(0)).await.unwrap();
    assert!(a.is_anonymous() && b.is_anonymous());
    assert_ne!(a.id, b.id);
    assert_eq!(store.customer(&a.id).await.unwrap(), Some(a));
    assert_eq!(store.customer("nobody").await.unwrap(), None);
}

async fn data_survives_close_and_reopen(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    store
        .append_event(&id, new_event(1, message("remember me", Some("m-1"))))
        .await
        .unwrap();
    store
        .change_state(&id, ConversationState::WaitingHuman, None, at(2))
        .await
        .unwrap();
    let before = all_events(store, &id).await;
    let conversation = store.conversation(&id).await.unwrap();
    store.close().await;
    // Closed means closed.
    assert!(matches!(
        store
            .append_event(&id, new_event(3, message("late", None)))
            .await,
        Err(StoreError::Closed) | Err(StoreError::Database(_))
    ));

    let reopened = db.open_again().await;
    assert_eq!(reopened.conversation(&id).await.unwrap(), conversation);
    assert_eq!(all_events(&*reopened, &id).await, before);
    let retry = reopened
        .append_event(&id, new_event(4, message("remember me", Some("m-1"))))
        .await
        .unwrap();
    assert!(!retry.is_created());
    let next = reopened
        .append_event(&id, new_event(5, message("and more", None)))
        .await
        .unwrap();
    assert_eq!(next.event().seq, 4);
}

async fn bus_delivers_committed_events(db: &TestDb) {
    let store = &*db.store;
    let id = conversation(store).await;
    let other = conversation(store).await;
    let mut mine = store.bus().subscribe(&id);
    let mut everything = store.bus().subscribe_all();

    store
        .append_event(&other, new_event(1, message("not yours", None)))
        .await
        .unwrap();
    let appended = store
        .append_event(&id, new_event(2, message("hello", Some("m-1"))))
        .await
        .unwrap()
        .into_event();
    let notice = next_notice(&mut mine).await;
    assert_eq!(notice.conversation_id, id);
    assert_eq!(notice.seq, appended.seq);
    assert_eq!(notice.event.as_ref(), Some(&appended));
    // Published after the commit: a reader finds the event.
    let stored = store
        .events_after(&id, notice.seq - 1, 1, None)
        .await
        .unwrap();
    assert_eq!(stored, vec![appended.clone()]);

    // A duplicate announces nothing; the next notice is the state change.
    store
        .append_event(&id, new_event(3, message("hello", Some("m-1"))))
        .await
        .unwrap();
    let changed = store
        .change_state(&id, ConversationState::WaitingHuman, None, at(4))
        .await
        .unwrap()
        .unwrap();
    let notice = next_notice(&mut mine).await;
    assert_eq!(notice.event.as_ref(), Some(&changed));

    let global: Vec<(String, i64)> = [
        next_notice(&mut everything).await,
        next_notice(&mut everything).await,
        next_notice(&mut everything).await,
    ]
    .iter()
    .map(|n| (n.conversation_id.clone(), n.seq))
    .collect();
    assert_eq!(global, vec![(other, 2), (id.clone(), 2), (id, 3)]);
}

/// PostgreSQL only: a second process on the same database hears about the first's events.
async fn second_store_hears_events_of_the_first(db: &TestDb) {
    let first = &*db.store;
    let second = db.open_again().await;
    let id = conversation(first).await;
    let mut theirs = second.bus().subscribe(&id);

    let appended = first
        .append_event(&id, new_event(1, message("over here", None)))
        .await
        .unwrap()
        .into_event();
    let notice = notice_reaching(&mut theirs, 2).await;
    assert_eq!(
        (notice.conversation_id.as_str(), notice.seq),
        (id.as_str(), 2)
    );
    // Other processes' notices carry no event: subscribers read it from the store.
    assert_eq!(notice.event, None);
    let read = second.events_after(&id, 1, 10, None).await.unwrap();
    assert_eq!(read, vec![appended]);

    // And the other way round, with the seq continuing across processes.
    let mut ours = first.bus().subscribe(&id);
    let reply = second
        .append_event(&id, new_event(2, message("hi", None)))
        .await
        .unwrap();
    assert_eq!(reply.event().seq, 3);
    let notice = notice_reaching(&mut ours, 3).await;
    assert_eq!((notice.seq, notice.event.as_ref()), (3, None));
}

// --- the knowledge base ---

fn article(title: &str, body: &str) -> serde_json::Value {
    serde_json::json!({"title": title, "body": body, "tags": ["billing"], "views": 3})
}

fn kb_write(upserts: &[(&str, serde_json::Value)], retire: &[&str], note: &str) -> KbWrite {
    KbWrite {
        upserts: upserts
            .iter()
            .map(|(id, content)| (id.to_string(), content.clone()))
            .collect(),
        retire: retire.iter().map(|id| id.to_string()).collect(),
        retire_all_except: None,
        note: note.to_string(),
    }
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

async fn kb_ids(store: &dyn Store) -> Vec<String> {
    let documents = store.kb_documents().await.unwrap();
    documents.into_iter().map(|d| d.id).collect()
}

async fn kb_upserts_are_counted_and_only_changes_make_revisions(db: &TestDb) {
    let store = &*db.store;
    assert_eq!(store.kb_revision().await.unwrap(), 0);
    assert!(store.kb_documents().await.unwrap().is_empty());
    assert!(store.kb_revisions(0).await.unwrap().is_empty());

    let first = store
        .kb_write(
            kb_write(
                &[
                    ("refunds", article("Refunds", "Within 30 days.")),
                    ("invoices", article("Invoices", "Monthly.")),
                ],
                &[],
                "import examples/kb",
            ),
            at(1) + TimeDelta::nanoseconds(1_234_567),
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        KbWriteResult {
            revision: 1,
            created: ids(&["invoices", "refunds"]),
            ..Default::default()
        }
    );
    assert!(first.changed());
    assert_eq!(store.kb_revision().await.unwrap(), 1);

    // The same content again, keys in another order: nothing changes, no revision.
    let reordered: serde_json::Value = serde_json::from_str(
        r#"{"views": 3, "tags": ["billing"], "body": "Within 30 days.", "title": "Refunds"}"#,
    )
    .unwrap();
    let again = store
        .kb_write(kb_write(&[("refunds", reordered)], &[], "re-import"), at(2))
        .await
        .unwrap();
    assert_eq!(
        again,
        KbWriteResult {
            revision: 1,
            unchanged: ids(&["refunds"]),
            ..Default::default()
        }
    );
    assert!(!again.changed());
    // Retiring what does not exist is no change either.
    let nothing = store
        .kb_write(kb_write(&[], &["no-such-article"], "prune"), at(3))
        .await
        .unwrap();
    assert_eq!(nothing.revision, 1);
    assert!(!nothing.changed());
    assert_eq!(store.kb_revision().await.unwrap(), 1);

    let edited = store
        .kb_write(
            kb_write(
                &[
                    ("refunds", article("Refunds", "Within 60 days.")),
                    ("invoices", article("Invoices", "Monthly.")),
                    ("vat", article("VAT", "Shown on invoices.")),
                ],
                &[],
                "admin edit by s-1",
            ),
            at(4),
        )
        .await
        .unwrap();
    assert_eq!(
        edited,
        KbWriteResult {
            revision: 2,
            created: ids(&["vat"]),
            updated: ids(&["refunds"]),
            unchanged: ids(&["invoices"]),
            retired: vec![],
        }
    );

    let documents = store.kb_documents().await.unwrap();
    assert_eq!(
        documents,
        vec![
            KbDocument {
                id: "invoices".into(),
                content: article("Invoices", "Monthly."),
                revision: 1,
                // Kept to the microsecond.
                updated_at: at(1) + TimeDelta::microseconds(1_234),
            },
            KbDocument {
                id: "refunds".into(),
                content: article("Refunds", "Within 60 days."),
                revision: 2,
                updated_at: at(4),
            },
            KbDocument {
                id: "vat".into(),
                content: article("VAT", "Shown on invoices."),
                revision: 2,
                updated_at: at(4),
            },
        ]
    );
    assert_eq!(
        store.kb_document("refunds").await.unwrap().as_ref(),
        Some(&documents[1])
    );
    assert_eq!(store.kb_document("nope").await.unwrap(), None);
    assert_eq!(
        store.kb_revisions(0).await.unwrap(),
        vec![
            KbRevision {
                revision: 2,
                at: at(4),
                note: "admin edit by s-1".into(),
                created: 1,
                updated: 1,
                retired: 0,
            },
            KbRevision {
                revision: 1,
                at: at(1) + TimeDelta::microseconds(1_234),
                note: "import examples/kb".into(),
                created: 2,
                updated: 0,
                retired: 0,
            },
        ]
    );
    assert_eq!(store.kb_revisions(1).await.unwrap().len(), 1);

    // Another process sees the same revision and articles.
    let other = db.open_again().await;
    assert_eq!(other.kb_revision().await.unwrap(), 2);
    assert_eq!(other.kb_documents().await.unwrap(), documents);
}

async fn kb_ids_sort_by_bytes_and_duplicates_keep_the_last(db: &TestDb) {
    let store = &*db.store;
    let written = store
        .kb_write(
            kb_write(
                &[
                    ("b", serde_json::json!(1)),
                    ("a-2", serde_json::json!(2)),
                    ("B", serde_json::json!(3)),
                    ("a_1", serde_json::json!(4)),
                    ("b", serde_json::json!(5)),
                ],
                &[],
                "ids",
            ),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(written.created, ids(&["B", "a-2", "a_1", "b"]));
    assert_eq!(kb_ids(store).await, ids(&["B", "a-2", "a_1", "b"]));
    let b = store.kb_document("b").await.unwrap().unwrap();
    assert_eq!(b.content, serde_json::json!(5));

    // A write that contradicts itself is refused whole.
    for bad in [
        kb_write(&[("c", serde_json::json!(1))], &["c"], "both"),
        kb_write(&[("", serde_json::json!(1))], &[], "empty id"),
    ] {
        let error = store.kb_write(bad, at(2)).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    }
    assert_eq!(store.kb_revision().await.unwrap(), 1);
    assert_eq!(store.kb_document("c").await.unwrap(), None);
}

async fn kb_prune_retires_the_rest_and_upserts_revive(db: &TestDb) {
    let store = &*db.store;
    let upserts: Vec<(String, serde_json::Value)> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| (id.to_string(), article(id, "v1")))
        .collect();
    store
        .kb_write(
            KbWrite {
                upserts,
                note: "import".into(),
                ..Default::default()
            },
            at(1),
        )
        .await
        .unwrap();

    // An import that found only b (unchanged) and e (new), keeping c by name.
    let pruned = store
        .kb_write(
            KbWrite {
                upserts: vec![
                    ("b".into(), article("b", "v1")),
                    ("e".into(), article("e", "v1")),
                ],
                retire: vec![],
                retire_all_except: Some(ids(&["c"])),
                note: "import with prune".into(),
            },
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(
        pruned,
        KbWriteResult {
            revision: 2,
            created: ids(&["e"]),
            updated: vec![],
            unchanged: ids(&["b"]),
            retired: ids(&["a", "d"]),
        }
    );
    assert_eq!(kb_ids(store).await, ids(&["b", "c", "e"]));
    assert_eq!(store.kb_document("a").await.unwrap(), None);

    // Retiring again (by name or by prune) is no change.
    let again = store
        .kb_write(
            KbWrite {
                retire: ids(&["a"]),
                retire_all_except: Some(ids(&["b", "c", "e"])),
                note: "prune again".into(),
                ..Default::default()
            },
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(again.revision, 2);
    assert!(!again.changed());

    // Upserting a retired article revives it, even with its old content.
    let revived = store
        .kb_write(
            kb_write(
                &[("a", article("a", "v1")), ("d", article("d", "v2"))],
                &["c"],
                "revive",
            ),
            at(4),
        )
        .await
        .unwrap();
    assert_eq!(
        revived,
        KbWriteResult {
            revision: 3,
            created: vec![],
            updated: ids(&["a", "d"]),
            unchanged: vec![],
            retired: ids(&["c"]),
        }
    );
    assert_eq!(kb_ids(store).await, ids(&["a", "b", "d", "e"]));
    let a = store.kb_document("a").await.unwrap().unwrap();
    assert_eq!((a.revision, a.updated_at), (3, at(4)));

    // An empty prune list retires everything not upserted.
    let emptied = store
        .kb_write(
            KbWrite {
                upserts: vec![("b".into(), article("b", "v1"))],
                retire_all_except: Some(vec![]),
                note: "only b".into(),
                ..Default::default()
            },
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(emptied.retired, ids(&["a", "d", "e"]));
    assert_eq!(kb_ids(store).await, ids(&["b"]));
    let log: Vec<(i64, i64, i64, i64)> = store
        .kb_revisions(10)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.revision, r.created, r.updated, r.retired))
        .collect();
    assert_eq!(
        log,
        vec![(4, 0, 0, 3), (3, 0, 2, 1), (2, 1, 0, 2), (1, 4, 0, 0)]
    );
}

async fn kb_history_keeps_each_revision(db: &TestDb) {
    let store = &*db.store;
    let write = |upserts: &[(&str, serde_json::Value)], retire: &[&str]| {
        kb_write(upserts, retire, "history")
    };
    store
        .kb_write(write(&[("faq", article("FAQ", "one"))], &[]), at(1))
        .await
        .unwrap();
    // Unchanged: no history entry.
    store
        .kb_write(write(&[("faq", article("FAQ", "one"))], &[]), at(2))
        .await
        .unwrap();
    // A change to another article leaves this history alone.
    store
        .kb_write(write(&[("other", article("Other", "x"))], &[]), at(3))
        .await
        .unwrap();
    store
        .kb_write(write(&[("faq", article("FAQ", "two"))], &[]), at(4))
        .await
        .unwrap();
    store.kb_write(write(&[], &["faq"]), at(5)).await.unwrap();
    store
        .kb_write(write(&[("faq", article("FAQ", "two"))], &[]), at(6))
        .await
        .unwrap();

    assert_eq!(
        store.kb_history("faq").await.unwrap(),
        vec![
            (1, Some(article("FAQ", "one")), at(1)),
            (3, Some(article("FAQ", "two")), at(4)),
            (4, None, at(5)),
            (5, Some(article("FAQ", "two")), at(6)),
        ]
    );
    assert_eq!(
        store.kb_history("other").await.unwrap(),
        vec![(2, Some(article("Other", "x")), at(3))]
    );
    assert!(store.kb_history("unknown").await.unwrap().is_empty());
}

async fn kb_calibration_is_the_newest_not_past_the_current_revision(db: &TestDb) {
    let store = &*db.store;
    assert_eq!(store.kb_calibration().await.unwrap(), None);
    // Saved for revision 0, the empty knowledge base.
    store
        .kb_save_calibration(0, serde_json::json!({"fitted_on": 0}), at(0))
        .await
        .unwrap();
    assert_eq!(
        store.kb_calibration().await.unwrap(),
        Some((0, serde_json::json!({"fitted_on": 0})))
    );
    for i in 1..=2 {
        let body = format!("v{i}");
        store
            .kb_write(kb_write(&[("a", article("A", &body))], &[], "edit"), at(i))
            .await
            .unwrap();
    }
    let one = serde_json::json!({"fitted_on": 1, "weights": [0.25, 0.5], "bias": -1.5});
    store
        .kb_save_calibration(1, one.clone(), at(3))
        .await
        .unwrap();
    // Saved ahead of the revision it belongs to (say by another process that already
    // saw revision 3): not used until the knowledge base gets there.
    let three = serde_json::json!({"fitted_on": 3});
    store
        .kb_save_calibration(3, three.clone(), at(4))
        .await
        .unwrap();
    assert_eq!(store.kb_calibration().await.unwrap(), Some((1, one)));

    // Saving again for a revision replaces it.
    let one_again = serde_json::json!({"fitted_on": 1, "refit": true});
    store
        .kb_save_calibration(1, one_again.clone(), at(5))
        .await
        .unwrap();
    assert_eq!(store.kb_calibration().await.unwrap(), Some((1, one_again)));

    store
        .kb_write(kb_write(&[("a", article("A", "v3"))], &[], "edit"), at(6))
        .await
        .unwrap();
    assert_eq!(store.kb_revision().await.unwrap(), 3);
    assert_eq!(store.kb_calibration().await.unwrap(), Some((3, three)));
    let other = db.open_again().await;
    assert_eq!(other.kb_calibration().await.unwrap().map(|c| c.0), Some(3));
}

async fn kb_large_single_write_completes(db: &TestDb) {
    const ARTICLES: usize = 10_000;
    let store = &*db.store;
    let upserts: Vec<(String, serde_json::Value)> = (0..ARTICLES)
        .map(|i| {
            let id = format!("article-{i:05}");
            let content = article(&format!("Article {i}"), &format!("Body of article {i}."));
            (id, content)
        })
        .collect();
    let write = KbWrite {
        upserts: upserts.clone(),
        retire_all_except: Some(vec![]),
        note: "bulk import".into(),
        ..Default::default()
    };
    let result = store.kb_write(write.clone(), at(1)).await.unwrap();
    assert_eq!((result.revision, result.created.len()), (1, ARTICLES));
    let documents = store.kb_documents().await.unwrap();
    assert_eq!(documents.len(), ARTICLES);
    assert_eq!(documents[4_321].id, "article-04321");
    assert_eq!(documents[4_321].content, upserts[4_321].1);

    // Importing the same folder again changes nothing.
    let again = store.kb_write(write, at(2)).await.unwrap();
    assert_eq!((again.revision, again.unchanged.len()), (1, ARTICLES));

    // Half of them edited, the other half gone.
    let edited: Vec<(String, serde_json::Value)> = upserts
        .iter()
        .step_by(2)
        .map(|(id, _)| (id.clone(), serde_json::json!({"edited": id})))
        .collect();
    let result = store
        .kb_write(
            KbWrite {
                upserts: edited,
                retire_all_except: Some(vec![]),
                note: "bulk edit".into(),
                ..Default::default()
            },
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(
        (result.revision, result.updated.len(), result.retired.len()),
        (2, ARTICLES / 2, ARTICLES / 2)
    );
    assert_eq!(store.kb_documents().await.unwrap().len(), ARTICLES / 2);
    assert_eq!(store.kb_history("article-00001").await.unwrap().len(), 2);
}

async fn kb_concurrent_writers_get_distinct_revisions_without_gaps(db: &TestDb) {
    const TASKS: usize = 8;
    const EACH: usize = 5;
    let stores = [db.store.clone(), db.open_again().await];
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            // Half the writers in each "process".
            let store = stores[t % 2].clone();
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for i in 0..EACH {
                    let id = format!("t{t}-{i}");
                    let upserts = vec![(id.clone(), serde_json::json!({"task": t, "i": i}))];
                    let write = KbWrite {
                        upserts,
                        note: format!("task {t}"),
                        ..Default::default()
                    };
                    let created = store.kb_write(write.clone(), at(1)).await.unwrap();
                    assert_eq!(created.created, vec![id], "{created:?}");
                    revisions.push(created.revision);
                    // The same again: no change, so no revision number is used up.
                    let unchanged = store.kb_write(write, at(2)).await.unwrap();
                    assert!(!unchanged.changed());
                    assert!(unchanged.revision >= created.revision);
                }
                revisions
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    let last = i64::try_from(TASKS * EACH).unwrap();
    assert_eq!(all, (1..=last).collect::<Vec<_>>());
    for store in &stores {
        assert_eq!(store.kb_revision().await.unwrap(), last);
    }
    let log = db.store.kb_revisions(1000).await.unwrap();
    let logged: Vec<i64> = log.iter().map(|r| r.revision).collect();
    assert_eq!(logged, (1..=last).rev().collect::<Vec<_>>());
    assert_eq!(db.store.kb_documents().await.unwrap().len(), TASKS * EACH);
}

// --- handoffs and agents ---

/// A queued handoff to Billing, waiting since `seconds`, as the router creates it.
fn queued(conversation_id: &str, seconds: i64, priority: Priority) -> Handoff {
    Handoff::new(
        uuid::Uuid::now_v7().to_string(),
        conversation_id.to_string(),
        Some("billing".into()),
        priority,
        vec!["human_request".into()],
        Some("billing".into()),
        None,
        "billing questions go to Billing".into(),
        at(seconds),
    )
}

/// The brief of a conversation without messages, escalated at `seconds`.
fn brief_of(conversation: &Conversation, customer: &Customer, seconds: i64) -> Brief {
    let decision = Decision {
        action: Action::Escalate,
        triggers: Vec::new(),
        explanation: "the customer asked for a person".into(),
        policy_version: "builtin".into(),
        kb_revision: None,
        segments: Vec::new(),
    };
    Brief::build(&BriefInput {
        conversation,
        customer,
        account: None,
        events: &[],
        decision: &decision,
        signals: None,
        summary: None,
        now: at(seconds),
    })
}

/// A fresh conversation handed off at `seconds`: the stored handoff and its brief.
async fn handed_off(store: &dyn Store, seconds: i64, priority: Priority) -> (Handoff, Brief) {
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    let handoff = queued(&conversation.id, seconds, priority);
    let brief = brief_of(&conversation, &customer, seconds);
    store
        .create_handoff(&handoff, &brief, None, None)
        .await
        .unwrap();
    (handoff, brief)
}

/// A member of staff without a routing profile.
async fn staff_member(store: &dyn Store, name: &str, seconds: i64) -> Staff {
    store
        .create_staff(
            NewStaff {
                name: name.into(),
                role: StaffRole::Agent,
                key_hash: format!("hash-{name}"),
            },
            at(seconds),
        )
        .await
        .unwrap()
}

/// An agent of Billing with this capacity, online since 1 s.
async fn online_agent(store: &dyn Store, name: &str, capacity: u32) -> String {
    let staff = staff_member(store, name, 0).await;
    let teams = ["billing".to_string()];
    store
        .set_agent_profile(&staff.id, &teams, capacity, at(0))
        .await
        .unwrap()
        .unwrap();
    store
        .touch_agent(&staff.id, Some(Presence::Online), at(1))
        .await
        .unwrap()
        .unwrap();
    staff.id
}

fn offer_to(agent_id: &str) -> HandoffChange {
    HandoffChange::Offer {
        agent_id: agent_id.to_string(),
        expires_at: at(3600),
        reason: "least loaded in Billing".into(),
        one_at_a_time: false,
    }
}

fn accept(agent_id: &str) -> HandoffChange {
    HandoffChange::Accept {
        agent_id: agent_id.to_string(),
    }
}

fn take(agent_id: &str) -> HandoffChange {
    HandoffChange::Take {
        agent_id: agent_id.to_string(),
        any_team: false,
    }
}

/// The offer lapsed unanswered at `seconds`: the agent cools down for a second, and is set
/// away after `away_after` such misses in a row.
fn lapse(seconds: i64, away_after: u32) -> HandoffChange {
    HandoffChange::ExpireOffer {
        reason: "not accepted within 30 s".into(),
        cooldown_until: Some(at(seconds + 1)),
        away_after_missed: away_after,
    }
}

/// The names the customer knows: the Billing team, and Dana as the person concerned.
fn names() -> Names {
    Names {
        teams: [("billing".to_string(), "Billing".to_string())].into(),
        agent: Some("Dana".into()),
    }
}

/// Applies a change to a handoff that exists: what the change wrote, or the refusal.
async fn step(
    store: &dyn Store,
    handoff_id: &str,
    change: &HandoffChange,
    seconds: i64,
) -> Result<Changed, Refusal> {
    store
        .change_handoff(handoff_id, change, &names(), at(seconds))
        .await
        .unwrap()
        .expect("the handoff exists")
}

/// Applies a change to a handoff that exists.
async fn change(
    store: &dyn Store,
    handoff_id: &str,
    change: HandoffChange,
    seconds: i64,
) -> Result<Handoff, Refusal> {
    step(store, handoff_id, &change, seconds)
        .await
        .map(|changed| changed.handoff)
}

fn handoff_ids(handoffs: &[Handoff]) -> Vec<String> {
    handoffs.iter().map(|h| h.id.clone()).collect()
}

async fn listed_handoffs(store: &dyn Store, filter: HandoffFilter) -> Vec<String> {
    handoff_ids(&store.handoffs(&filter).await.unwrap())
}

async fn handoffs_are_stored_with_their_brief_and_listed_in_queue_order(db: &TestDb) {
    let store = &*db.store;
    let (late_normal, brief) = handed_off(store, 10, Priority::Normal).await;
    let (urgent, _) = handed_off(store, 20, Priority::Urgent).await;
    let (early_normal, _) = handed_off(store, 5, Priority::Normal).await;
    let (low, _) = handed_off(store, 0, Priority::Low).await;

    assert_eq!(
        store.handoff(&late_normal.id).await.unwrap(),
        Some(late_normal.clone())
    );
    assert_eq!(
        store.handoff_brief(&late_normal.id).await.unwrap(),
        Some(brief)
    );
    assert_eq!(store.handoff("no-such-handoff").await.unwrap(), None);
    assert_eq!(store.handoff_brief("no-such-handoff").await.unwrap(), None);

    // Highest priority first, then longest waiting.
    let queue = vec![
        urgent.id.clone(),
        early_normal.id.clone(),
        late_normal.id.clone(),
        low.id.clone(),
    ];
    assert_eq!(
        listed_handoffs(store, HandoffFilter::default()).await,
        queue
    );
    assert_eq!(
        listed_handoffs(
            store,
            HandoffFilter {
                limit: 2,
                ..Default::default()
            }
        )
        .await,
        queue[..2].to_vec()
    );

    let dana = online_agent(store, "Dana", 3).await;
    change(store, &early_normal.id, offer_to(&dana), 30)
        .await
        .unwrap();
    let close = HandoffChange::Close {
        outcome: Outcome::HandedBack,
        by: "admin".into(),
        note: None,
        tags: Vec::new(),
    };
    change(store, &low.id, close, 31).await.unwrap();

    let only = |statuses: Vec<HandoffStatus>| HandoffFilter {
        statuses,
        ..Default::default()
    };
    assert_eq!(
        listed_handoffs(store, only(vec![HandoffStatus::Queued])).await,
        vec![urgent.id.clone(), late_normal.id.clone()]
    );
    assert_eq!(
        listed_handoffs(
            store,
            only(vec![
                HandoffStatus::Offered,
                HandoffStatus::Closed,
                HandoffStatus::Offered
            ])
        )
        .await,
        vec![early_normal.id.clone(), low.id.clone()]
    );
    assert_eq!(
        listed_handoffs(
            store,
            HandoffFilter {
                agent_id: Some(dana.clone()),
                ..Default::default()
            }
        )
        .await,
        vec![early_normal.id.clone()]
    );
    assert_eq!(
        listed_handoffs(
            store,
            HandoffFilter {
                conversation_id: Some(urgent.conversation_id.clone()),
                statuses: vec![HandoffStatus::Queued, HandoffStatus::Assigned],
                ..Default::default()
            }
        )
        .await,
        vec![urgent.id.clone()]
    );
    assert!(
        listed_handoffs(
            store,
            HandoffFilter {
                conversation_id: Some(urgent.conversation_id.clone()),
                agent_id: Some(dana),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    // Most recently changed first: the closed one (at 31), then the offered one (at 30).
    assert_eq!(
        listed_handoffs(
            store,
            HandoffFilter {
                recent_first: true,
                limit: 2,
                ..Default::default()
            }
        )
        .await,
        vec![low.id.clone(), early_normal.id.clone()]
    );
}

/// The handoff, the conversation's state and the timeline move together: creating a handoff
/// records `waiting_human` and the `queued` step; a change records its step with the agent;
/// a refused change or an impossible creation writes nothing. Subscribers get the handoff
/// with its step.
async fn handoff_steps_are_recorded_with_the_change(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    let mut everything = store.bus().subscribe_all();
    let handoff = queued(&conversation.id, 5, Priority::High);
    let brief = brief_of(&conversation, &customer, 5);
    let created = store
        .create_handoff(&handoff, &brief, None, None)
        .await
        .unwrap();
    let timeline = store
        .events_after(&conversation.id, 1, 0, None)
        .await
        .unwrap();
    assert_eq!(created, timeline);
    match &timeline[..] {
        [
            Event {
                seq: 2,
                body: EventBody::StateChanged { from, to, reason },
                ..
            },
            Event {
                seq: 3,
                body:
                    EventBody::Handoff {
                        handoff_id,
                        step,
                        status,
                        reason: queued_reason,
                        ..
                    },
                ..
            },
        ] => {
            assert_eq!(
                (*from, *to),
                (ConversationState::Ai, ConversationState::WaitingHuman)
            );
            // Customer-facing: the routing rule stays with the staff.
            assert_eq!(reason.as_deref(), Some("waiting for a person"));
            assert_eq!((handoff_id, *step), (&handoff.id, Step::Queued));
            assert_eq!(*status, HandoffStatus::Queued);
            assert_eq!(queued_reason, "billing questions go to Billing");
        }
        other => panic!("unexpected timeline {other:?}"),
    }
    let state_notice = everything.recv().await.unwrap();
    assert_eq!(
        (state_notice.seq, state_notice.handoff.is_none()),
        (2, true)
    );
    let queued_notice = everything.recv().await.unwrap();
    assert_eq!(queued_notice.seq, 3);
    assert_eq!(
        queued_notice.handoff.as_ref().map(|h| h.id.as_str()),
        Some(handoff.id.as_str())
    );

    let dana = online_agent(store, "Dana", 2).await;
    let changed = step(store, &handoff.id, &offer_to(&dana), 6)
        .await
        .expect("the offer is allowed");
    assert_eq!(changed.handoff.status, HandoffStatus::Offered);
    assert_eq!(changed.set_away, None);
    // An offer is routing's business: no state change, nothing for the customer.
    assert_eq!(seqs(&changed.events), vec![4]);
    match &changed.step_event().body {
        EventBody::Handoff {
            step,
            agent_id,
            status,
            reason,
            ..
        } => {
            assert_eq!(*step, Step::Offered);
            assert_eq!(agent_id.as_deref(), Some(dana.as_str()));
            assert_eq!(*status, HandoffStatus::Offered);
            assert_eq!(reason, "least loaded in Billing");
        }
        other => panic!("expected a handoff step, got {other:?}"),
    }
    let offered_notice = everything.recv().await.unwrap();
    assert_eq!(offered_notice.seq, 4);
    assert_eq!(offered_notice.handoff.as_ref(), Some(&changed.handoff));

    // Refused: Dana cannot be offered what she already holds; nothing is appended.
    let refused = step(store, &handoff.id, &offer_to(&dana), 7).await;
    assert!(refused.is_err(), "{refused:?}");
    let conversation_now = store.conversation(&conversation.id).await.unwrap().unwrap();
    assert_eq!(conversation_now.last_seq, 4);

    // A resolved conversation cannot wait for a person: nothing is written.
    let (other, _) = store
        .create_conversation(&customer.id, None, at(8))
        .await
        .unwrap();
    store
        .change_state(&other.id, ConversationState::Resolved, None, at(9))
        .await
        .unwrap();
    let late = queued(&other.id, 10, Priority::Normal);
    let error = store
        .create_handoff(&late, &brief, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::InvalidTransition { .. }),
        "{error:?}"
    );
    assert_eq!(store.handoff(&late.id).await.unwrap(), None);
    let other_now = store.conversation(&other.id).await.unwrap().unwrap();
    assert_eq!(
        (other_now.state, other_now.last_seq),
        (ConversationState::Resolved, 2)
    );
}

async fn a_conversation_has_at_most_one_open_handoff(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    let brief = brief_of(&conversation, &customer, 1);
    let first = queued(&conversation.id, 1, Priority::Normal);
    store
        .create_handoff(&first, &brief, None, None)
        .await
        .unwrap();

    let second = queued(&conversation.id, 2, Priority::High);
    let error = store
        .create_handoff(&second, &brief, None, None)
        .await
        .unwrap_err();
    match &error {
        StoreError::Conflict(message) => {
            assert!(message.contains("already has an open handoff"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.handoff(&second.id).await.unwrap(), None);

    // Once the first is closed (handed back to the AI), the conversation may be handed off
    // again.
    let close = HandoffChange::Close {
        outcome: Outcome::HandedBack,
        by: "admin".into(),
        note: None,
        tags: Vec::new(),
    };
    change(store, &first.id, close, 3).await.unwrap();
    store
        .create_handoff(&second, &brief, None, None)
        .await
        .unwrap();
    let filter = HandoffFilter {
        conversation_id: Some(conversation.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        listed_handoffs(store, filter).await,
        vec![second.id.clone(), first.id.clone()]
    );

    let orphan = queued("no-such-conversation", 4, Priority::Normal);
    let error = store
        .create_handoff(&orphan, &brief, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::ConversationNotFound(_)),
        "{error:?}"
    );
}

async fn handoff_is_offered_accepted_closed_and_rated(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 10, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;

    let offered = change(store, &handoff.id, offer_to(&dana), 20)
        .await
        .unwrap();
    assert_eq!(offered.status, HandoffStatus::Offered);
    assert_eq!(offered.holder(), Some(dana.as_str()));
    assert_eq!(store.handoff(&handoff.id).await.unwrap(), Some(offered));
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!(
        (agent.active, agent.offered, agent.last_assigned_at),
        (1, 1, None)
    );

    let assigned = change(store, &handoff.id, accept(&dana), 30).await.unwrap();
    assert_eq!(assigned.status, HandoffStatus::Assigned);
    assert_eq!(assigned.agent_id.as_deref(), Some(dana.as_str()));
    assert_eq!(assigned.assigned_at, Some(at(30)));
    assert_eq!(store.handoff(&handoff.id).await.unwrap(), Some(assigned));
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!(
        (agent.active, agent.offered, agent.last_assigned_at),
        (1, 0, Some(at(30)))
    );
    let held = HandoffFilter {
        agent_id: Some(dana.clone()),
        ..Default::default()
    };
    assert_eq!(
        listed_handoffs(store, held.clone()).await,
        vec![handoff.id.clone()]
    );

    let close = HandoffChange::Close {
        outcome: Outcome::Resolved,
        by: dana.clone(),
        note: Some("refund issued".into()),
        tags: vec!["refund".into()],
    };
    let closed = change(store, &handoff.id, close, 40).await.unwrap();
    assert_eq!(closed.status, HandoffStatus::Closed);
    assert_eq!(closed.holder(), None);
    assert_eq!(closed.closed_at, Some(at(40)));
    // The owner is remembered, but holds it no more.
    assert_eq!(closed.agent_id.as_deref(), Some(dana.as_str()));
    assert!(listed_handoffs(store, held).await.is_empty());
    assert_eq!(store.agent(&dana).await.unwrap().unwrap().active, 0);

    let rate = |score: u8| HandoffChange::Rate {
        score,
        comment: Some("quick".into()),
    };
    assert_eq!(
        change(store, &handoff.id, rate(9), 50).await,
        Err(Refusal::BadScore(9))
    );
    let rated = change(store, &handoff.id, rate(5), 50).await.unwrap();
    assert_eq!(rated.csat.as_ref().map(|c| c.score), Some(5));
    assert_eq!(
        change(store, &handoff.id, rate(1), 51).await,
        Err(Refusal::AlreadyRated)
    );
    let stored = store.handoff(&handoff.id).await.unwrap().unwrap();
    assert_eq!(stored, rated);
    let steps: Vec<Step> = stored.history.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        vec![
            Step::Queued,
            Step::Offered,
            Step::Accepted,
            Step::Resolved,
            Step::Rated
        ]
    );
    let conversation = store
        .conversation(&handoff.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.state, ConversationState::Resolved);

    assert_eq!(
        store
            .change_handoff("no-such-handoff", &offer_to(&dana), &names(), at(60))
            .await
            .unwrap(),
        None
    );
}

async fn an_agent_at_capacity_gets_no_more_offers(db: &TestDb) {
    let store = &*db.store;
    let (first, _) = handed_off(store, 1, Priority::Normal).await;
    let (second, _) = handed_off(store, 2, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 1).await;

    change(store, &first.id, offer_to(&dana), 10).await.unwrap();
    let refused = change(store, &second.id, offer_to(&dana), 11).await;
    assert!(
        matches!(&refused, Err(Refusal::AgentUnavailable { reason, .. }) if reason.contains("capacity")),
        "{refused:?}"
    );
    // A refusal writes nothing.
    assert_eq!(
        store.handoff(&second.id).await.unwrap(),
        Some(second.clone())
    );
    // Nor may a supervisor push past it.
    let reassign = HandoffChange::Reassign {
        agent_id: dana.clone(),
        by: "admin".into(),
        reason: "she knows the customer".into(),
    };
    assert!(matches!(
        change(store, &second.id, reassign.clone(), 12).await,
        Err(Refusal::AgentUnavailable { .. })
    ));

    // Once she declines the first, the second can be hers.
    let decline = HandoffChange::Decline {
        agent_id: dana.clone(),
        cooldown_until: at(73),
    };
    change(store, &first.id, decline, 13).await.unwrap();
    let assigned = change(store, &second.id, reassign, 14).await.unwrap();
    assert_eq!(assigned.status, HandoffStatus::Assigned);
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!((agent.active, agent.last_assigned_at), (1, Some(at(14))));
    // Not offered again to whoever declined it, for a while.
    assert_eq!(
        store.handoff(&first.id).await.unwrap().unwrap().declined,
        vec![Cooldown {
            agent_id: dana,
            until: at(73)
        }]
    );
}

async fn an_offline_agent_gets_no_offer(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let sam = staff_member(store, "Sam", 0).await;

    // Without a profile, an agent is offline.
    let refused = change(store, &handoff.id, offer_to(&sam.id), 10).await;
    assert_eq!(
        refused,
        Err(Refusal::AgentUnavailable {
            agent_id: sam.id.clone(),
            reason: "offline".into()
        })
    );
    store
        .touch_agent(&sam.id, Some(Presence::Away), at(11))
        .await
        .unwrap();
    assert!(matches!(
        change(store, &handoff.id, offer_to(&sam.id), 12).await,
        Err(Refusal::AgentUnavailable { reason, .. }) if reason == "away"
    ));
    let unknown = change(store, &handoff.id, offer_to("no-such-agent"), 13).await;
    assert!(
        matches!(&unknown, Err(Refusal::AgentUnavailable { reason, .. }) if reason == "not an agent"),
        "{unknown:?}"
    );
    store
        .touch_agent(&sam.id, Some(Presence::Online), at(14))
        .await
        .unwrap();
    store.set_staff_disabled(&sam.id, true).await.unwrap();
    assert!(matches!(
        change(store, &handoff.id, offer_to(&sam.id), 15).await,
        Err(Refusal::AgentUnavailable { reason, .. }) if reason == "disabled"
    ));
    assert_eq!(
        store.handoff(&handoff.id).await.unwrap(),
        Some(handoff.clone())
    );

    store.set_staff_disabled(&sam.id, false).await.unwrap();
    let offered = change(store, &handoff.id, offer_to(&sam.id), 16)
        .await
        .unwrap();
    assert_eq!(offered.holder(), Some(sam.id.as_str()));
}

async fn only_the_offered_agent_can_accept(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;
    let lee = online_agent(store, "Lee", 3).await;
    change(store, &handoff.id, offer_to(&dana), 10)
        .await
        .unwrap();

    assert_eq!(
        change(store, &handoff.id, accept(&lee), 11).await,
        Err(Refusal::OfferedToSomeoneElse)
    );
    assert_eq!(store.agent(&lee).await.unwrap().unwrap().active, 0);
    // Too late, even for her: the offer ran out at 3600 s.
    assert_eq!(
        change(store, &handoff.id, accept(&dana), 3600).await,
        Err(Refusal::OfferExpired)
    );
    let assigned = change(store, &handoff.id, accept(&dana), 12).await.unwrap();
    assert_eq!(assigned.agent_id.as_deref(), Some(dana.as_str()));
    assert_eq!(
        change(store, &handoff.id, accept(&dana), 13).await,
        Err(Refusal::WrongStatus {
            status: "assigned".into(),
            expected: "offered".into()
        })
    );
}

async fn agent_profiles_have_defaults_and_update(db: &TestDb) {
    let store = &*db.store;
    let sam = staff_member(store, "Sam", 5).await;
    let dana = staff_member(store, "Dana", 6).await;

    // Staff without a profile: no team, the default capacity, offline since created.
    let agents = store.agents().await.unwrap();
    assert_eq!(
        agents.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![sam.id.clone(), dana.id.clone()]
    );
    let fresh = store.agent(&sam.id).await.unwrap().unwrap();
    assert_eq!(fresh, agents[0]);
    assert_eq!(fresh.name, "Sam");
    assert_eq!(fresh.role, StaffRole::Agent);
    assert!(fresh.teams.is_empty());
    assert_eq!(fresh.capacity, DEFAULT_AGENT_CAPACITY);
    assert_eq!(fresh.presence, Presence::Offline);
    assert_eq!((fresh.presence_at, fresh.last_seen_at), (at(5), at(5)));
    assert_eq!((fresh.last_assigned_at, fresh.active), (None, 0));

    let teams = vec!["billing".to_string(), "tech".to_string()];
    let updated = store
        .set_agent_profile(&sam.id, &teams, 5, at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        updated,
        Agent {
            teams: teams.clone(),
            capacity: 5,
            ..fresh.clone()
        }
    );
    let again = store
        .set_agent_profile(&sam.id, &["tech".to_string()], 2, at(21))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.teams, again.capacity), (vec!["tech".to_string()], 2));
    assert_eq!(store.agent(&sam.id).await.unwrap().unwrap().capacity, 2);
    // Others are untouched.
    assert_eq!(
        store.agent(&dana.id).await.unwrap().unwrap().capacity,
        DEFAULT_AGENT_CAPACITY
    );

    assert_eq!(
        store
            .set_agent_profile("no-such-staff", &teams, 1, at(22))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.agent("no-such-staff").await.unwrap(), None);
    assert_eq!(store.agents().await.unwrap().len(), 2);
}

async fn touch_agent_moves_presence_at_only_when_presence_changes(db: &TestDb) {
    let store = &*db.store;
    let sam = staff_member(store, "Sam", 5).await;
    let touch = |presence: Option<Presence>, seconds: i64| {
        let id = sam.id.clone();
        async move {
            store
                .touch_agent(&id, presence, at(seconds))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let times = |agent: &Agent| (agent.presence, agent.presence_at, agent.last_seen_at);

    // A heartbeat without a profile creates one, still offline since creation.
    assert_eq!(
        times(&touch(None, 10).await),
        (Presence::Offline, at(5), at(10))
    );
    assert_eq!(
        times(&touch(Some(Presence::Offline), 15).await),
        (Presence::Offline, at(5), at(15))
    );
    assert_eq!(
        times(&touch(Some(Presence::Online), 20).await),
        (Presence::Online, at(20), at(20))
    );
    assert_eq!(
        times(&touch(Some(Presence::Online), 30).await),
        (Presence::Online, at(20), at(30))
    );
    assert_eq!(
        times(&touch(None, 40).await),
        (Presence::Online, at(20), at(40))
    );
    assert_eq!(
        times(&touch(Some(Presence::Away), 50).await),
        (Presence::Away, at(50), at(50))
    );
    assert_eq!(
        times(&store.agent(&sam.id).await.unwrap().unwrap()),
        (Presence::Away, at(50), at(50))
    );

    // The profile survives heartbeats, and heartbeats survive profile changes.
    let teams = vec!["billing".to_string()];
    store
        .set_agent_profile(&sam.id, &teams, 4, at(60))
        .await
        .unwrap();
    let agent = touch(Some(Presence::Online), 70).await;
    assert_eq!((agent.teams, agent.capacity), (teams, 4));
    assert_eq!(
        (agent.presence, agent.presence_at, agent.last_seen_at),
        (Presence::Online, at(70), at(70))
    );

    // The first heartbeat of an agent with no profile may bring them online at once.
    let dana = staff_member(store, "Dana", 6).await;
    let agent = store
        .touch_agent(&dana.id, Some(Presence::Online), at(80))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(times(&agent), (Presence::Online, at(80), at(80)));
    assert_eq!(agent.capacity, DEFAULT_AGENT_CAPACITY);

    assert_eq!(
        store
            .touch_agent("no-such-staff", Some(Presence::Online), at(90))
            .await
            .unwrap(),
        None
    );
}

async fn customer_email_is_recorded(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let updated = store
        .set_customer_email(&customer.id, "ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("ana@example.com"));
    assert_eq!(store.customer(&customer.id).await.unwrap(), Some(updated));
    assert_eq!(
        store
            .set_customer_email("no-such-customer", "x@example.com")
            .await
            .unwrap(),
        None
    );
}

async fn concurrent_offers_never_exceed_capacity_nor_share_a_handoff(db: &TestDb) {
    const HANDOFFS: usize = 40;
    const AGENTS: usize = 4;
    const CAPACITY: u32 = 3;
    const TASKS: u64 = 8;
    const ATTEMPTS: usize = 60;
    let store = &*db.store;
    let mut handoffs = Vec::new();
    for i in 0..HANDOFFS {
        let seconds = i64::try_from(i).unwrap();
        handoffs.push(handed_off(store, seconds, Priority::Normal).await.0.id);
    }
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        agents.push(online_agent(store, &format!("agent-{i}"), CAPACITY).await);
    }
    let (handoffs, agents) = (Arc::new(handoffs), Arc::new(agents));

    // Half the tasks in each of two "processes"; each tries random pairs.
    let stores = [db.store.clone(), db.open_again().await];
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = stores[usize::from(t % 2 == 1)].clone();
            let (handoffs, agents) = (handoffs.clone(), agents.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(t);
                let mut won = Vec::new();
                for _ in 0..ATTEMPTS {
                    let handoff = &handoffs[rng.random_range(0..HANDOFFS)];
                    let agent = &agents[rng.random_range(0..AGENTS)];
                    let outcome = store
                        .change_handoff(handoff, &offer_to(agent), &names(), at(100))
                        .await
                        .unwrap()
                        .expect("the handoff exists");
                    match outcome.map(|changed| changed.handoff) {
                        Ok(offered) => {
                            assert_eq!(offered.holder(), Some(agent.as_str()));
                            won.push((handoff.clone(), agent.clone()));
                        }
                        Err(
                            Refusal::AgentUnavailable { .. }
                            | Refusal::WrongStatus { .. }
                            | Refusal::Busy,
                        ) => {}
                        Err(other) => panic!("unexpected refusal: {other}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        won.extend(task.await.unwrap());
    }

    let capacity = AGENTS * CAPACITY as usize;
    assert_eq!(won.len(), capacity, "{won:?}");
    let distinct: HashSet<&String> = won.iter().map(|(handoff, _)| handoff).collect();
    assert_eq!(distinct.len(), won.len(), "a handoff was offered twice");

    let all = store.handoffs(&HandoffFilter::default()).await.unwrap();
    assert_eq!(all.len(), HANDOFFS);
    let offered: Vec<&Handoff> = all
        .iter()
        .filter(|h| h.status == HandoffStatus::Offered)
        .collect();
    assert_eq!(offered.len(), capacity);
    for handoff in &all {
        let winners: Vec<&String> = won
            .iter()
            .filter(|(id, _)| id == &handoff.id)
            .map(|(_, agent)| agent)
            .collect();
        assert_eq!(
            handoff.holder(),
            winners.first().map(|agent| agent.as_str()),
            "{handoff:?}"
        );
        // Queued, then offered once at most.
        assert_eq!(handoff.history.len(), 1 + winners.len());
    }
    for agent in agents.iter() {
        let held = offered
            .iter()
            .filter(|h| h.holder() == Some(agent.as_str()))
            .count();
        assert_eq!(held, CAPACITY as usize, "agent {agent}");
        assert_eq!(store.agent(agent).await.unwrap().unwrap().active, CAPACITY);
        let filter = HandoffFilter {
            agent_id: Some(agent.clone()),
            ..Default::default()
        };
        assert_eq!(
            listed_handoffs(store, filter).await.len(),
            CAPACITY as usize
        );
    }
}

/// PostgreSQL only: SQLite's single writer never finds a handoff locked.
async fn an_offer_skips_a_handoff_another_transaction_holds(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;

    // Another process is in the middle of changing it.
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT 1 FROM handoffs WHERE id = $1 FOR UPDATE")
        .bind(&handoff.id)
        .execute(&mut other)
        .await
        .unwrap();
    let busy = tokio::time::timeout(
        WAIT,
        store.change_handoff(&handoff.id, &offer_to(&dana), &names(), at(10)),
    )
    .await
    .expect("an offer does not wait for the lock")
    .unwrap();
    assert_eq!(busy, Some(Err(Refusal::Busy)));
    assert_eq!(
        store.handoff(&handoff.id).await.unwrap(),
        Some(handoff.clone())
    );
    assert_eq!(store.agent(&dana).await.unwrap().unwrap().active, 0);

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    let offered = change(store, &handoff.id, offer_to(&dana), 11)
        .await
        .unwrap();
    assert_eq!(offered.holder(), Some(dana.as_str()));
}

/// What a step wrote, for matching: `(seq, type, visibility)` of each event.
fn shapes(events: &[Event]) -> Vec<(i64, &'static str, Visibility)> {
    events
        .iter()
        .map(|e| (e.seq, e.body.type_name(), e.visibility()))
        .collect()
}

async fn escalation_creates_the_handoff_moves_the_conversation_and_tells_the_customer_in_one_write(
    db: &TestDb,
) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    let mut everything = store.bus().subscribe_all();
    // Nobody in Billing is on: the handoff waits as an offline ticket.
    let handoff = queued(&conversation.id, 5, Priority::High)
        .apply(
            &HandoffChange::MarkOffline {
                reason: "nobody in Billing is online".into(),
            },
            None,
            at(5),
        )
        .unwrap();
    let notice = HandoverNotice {
        team: Some("Billing".into()),
        ..HandoverNotice::new(NoticeKind::Unavailable)
    };
    let told = NewEvent {
        at: at(5),
        body: EventBody::message(Role::System, notice.escalation_text(at(5)))
            .with_handover(notice.clone()),
    };
    let brief = brief_of(&conversation, &customer, 5);
    let created = store
        .create_handoff(&handoff, &brief, None, Some(told.clone()))
        .await
        .unwrap();

    assert_eq!(created, all_events(store, &conversation.id).await[1..]);
    assert_eq!(
        shapes(&created),
        vec![
            (2, "state_changed", Visibility::Customer),
            (3, "handoff", Visibility::Staff),
            (4, "handoff", Visibility::Staff),
            (5, "message", Visibility::Customer),
        ]
    );
    assert_eq!(
        created[0].body,
        EventBody::StateChanged {
            from: ConversationState::Ai,
            to: ConversationState::WaitingHuman,
            reason: Some("waiting for Billing".into()),
        }
    );
    let steps: Vec<(Step, String)> = created[1..3]
        .iter()
        .map(|event| match &event.body {
            EventBody::Handoff {
                handoff_id,
                step,
                status,
                reason,
                ..
            } => {
                assert_eq!((handoff_id, *status), (&handoff.id, HandoffStatus::Queued));
                (*step, reason.clone())
            }
            other => panic!("expected a handoff step, got {other:?}"),
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (Step::Queued, "billing questions go to Billing".to_string()),
            (Step::Offline, "nobody in Billing is online".to_string()),
        ]
    );
    assert_eq!(created[3].body, told.body);

    let stored = store.conversation(&conversation.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.last_seq),
        (ConversationState::WaitingHuman, 5)
    );
    assert_eq!(
        store.handoff(&handoff.id).await.unwrap(),
        Some(handoff.clone())
    );
    // The customer sees the move and the message, not the routing.
    let theirs = store
        .events_after(&conversation.id, 1, 0, Some(Visibility::Customer))
        .await
        .unwrap();
    assert_eq!(seqs(&theirs), vec![2, 5]);
    // Published after the commit, in order; the steps carry the handoff.
    for event in &created {
        let published = notice_reaching(&mut everything, event.seq).await;
        assert_eq!(published.event.as_ref(), Some(event));
        let carries_handoff = matches!(event.body, EventBody::Handoff { .. });
        assert_eq!(
            published.handoff.as_ref(),
            carries_handoff.then_some(&handoff)
        );
    }
}

async fn accepting_moves_the_conversation_and_tells_the_customer_in_the_same_write(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;
    change(store, &handoff.id, offer_to(&dana), 10)
        .await
        .unwrap();
    let mut mine = store.bus().subscribe(&handoff.conversation_id);

    let changed = step(store, &handoff.id, &accept(&dana), 11).await.unwrap();
    assert_eq!(
        shapes(&changed.events),
        vec![
            (5, "handoff", Visibility::Staff),
            (6, "state_changed", Visibility::Customer),
            (7, "message", Visibility::Customer),
        ]
    );
    assert_eq!(changed.step_event(), &changed.events[0]);
    assert!(matches!(
        &changed.events[0].body,
        EventBody::Handoff { step: Step::Accepted, status: HandoffStatus::Assigned, agent_id, .. }
            if agent_id.as_deref() == Some(dana.as_str())
    ));
    assert_eq!(
        changed.events[1].body,
        EventBody::StateChanged {
            from: ConversationState::WaitingHuman,
            to: ConversationState::Human,
            reason: Some("Dana joined".into()),
        }
    );
    match &changed.events[2].body {
        EventBody::Message {
            role: Role::System,
            text,
            handover: Some(notice),
            ..
        } => {
            assert_eq!(text, "Dana from Billing joined the conversation.");
            assert_eq!(notice.kind, NoticeKind::Joined);
            assert_eq!(
                (notice.agent.as_deref(), notice.team.as_deref()),
                (Some("Dana"), Some("Billing"))
            );
        }
        other => panic!("expected the customer's message, got {other:?}"),
    }
    assert!(changed.events.iter().all(|e| e.at == at(11)));

    assert_eq!(
        all_events(store, &handoff.conversation_id).await[4..],
        changed.events
    );
    let conversation = store
        .conversation(&handoff.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (conversation.state, conversation.last_seq),
        (ConversationState::Human, 7)
    );
    for event in &changed.events {
        let published = next_notice(&mut mine).await;
        assert_eq!(published.event.as_ref(), Some(event));
        assert_eq!(
            published.handoff.is_some(),
            event.seq == 5,
            "only the step carries the handoff"
        );
    }
    assert!(mine.try_recv().is_err(), "nothing more");
}

async fn a_step_the_conversation_cannot_take_writes_nothing(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;
    let offered = change(store, &handoff.id, offer_to(&dana), 10)
        .await
        .unwrap();
    // Meanwhile the conversation was resolved without the handoff.
    store
        .change_state(
            &handoff.conversation_id,
            ConversationState::Resolved,
            Some("resolved by the test"),
            at(11),
        )
        .await
        .unwrap();
    let before = all_events(store, &handoff.conversation_id).await;

    let error = store
        .change_handoff(&handoff.id, &accept(&dana), &names(), at(12))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::InvalidTransition {
                from: ConversationState::Resolved,
                to: ConversationState::Human
            }
        ),
        "{error:?}"
    );
    assert_eq!(store.handoff(&handoff.id).await.unwrap(), Some(offered));
    assert_eq!(all_events(store, &handoff.conversation_id).await, before);
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!(
        (agent.active, agent.offered, agent.last_assigned_at),
        (1, 1, None)
    );
    let conversation = store
        .conversation(&handoff.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.state, ConversationState::Resolved);

    // A step that leaves the conversation where it is still goes through.
    let declined = step(
        store,
        &handoff.id,
        &HandoffChange::Decline {
            agent_id: dana.clone(),
            cooldown_until: at(60),
        },
        13,
    )
    .await
    .unwrap();
    assert_eq!(declined.handoff.status, HandoffStatus::Queued);
    assert_eq!(seqs(&declined.events), vec![before.len() as i64 + 1]);
}

async fn an_agent_who_lets_offers_lapse_in_a_row_is_set_away_and_their_own_presence_clears_it(
    db: &TestDb,
) {
    let store = &*db.store;
    let dana = online_agent(store, "Dana", 3).await;
    let lee = online_agent(store, "Lee", 3).await;
    let mut missed = Vec::new();
    for round in 0..3 {
        let seconds = 10 * (round + 1);
        let (handoff, _) = handed_off(store, seconds, Priority::Normal).await;
        change(store, &handoff.id, offer_to(&dana), seconds)
            .await
            .unwrap();
        let lapsed = step(store, &handoff.id, &lapse(seconds + 5, 3), seconds + 5)
            .await
            .unwrap();
        // Routing's business: the step, and nothing for the customer.
        assert_eq!(lapsed.events.len(), 1);
        assert!(matches!(
            lapsed.step_event().body,
            EventBody::Handoff {
                step: Step::OfferExpired,
                ..
            }
        ));
        let agent = store.agent(&dana).await.unwrap().unwrap();
        missed.push((
            agent.missed_offers,
            agent.presence,
            agent.presence_reason,
            lapsed.set_away,
        ));
    }
    assert_eq!(
        missed,
        vec![
            (1, Presence::Online, None, None),
            (2, Presence::Online, None, None),
            (
                3,
                Presence::Away,
                Some("missed 3 offers in a row".to_string()),
                Some(dana.clone())
            ),
        ]
    );
    let away = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!((away.presence_at, away.active), (at(35), 0));

    // An offer that ends because its agent went away is not a miss.
    let (handoff, _) = handed_off(store, 40, Priority::Normal).await;
    change(store, &handoff.id, offer_to(&lee), 40)
        .await
        .unwrap();
    let ended = HandoffChange::ExpireOffer {
        reason: "Lee went away".into(),
        cooldown_until: None,
        away_after_missed: 1,
    };
    let ended = step(store, &handoff.id, &ended, 41).await.unwrap();
    assert_eq!(ended.set_away, None);
    let lee_now = store.agent(&lee).await.unwrap().unwrap();
    assert_eq!(
        (lee_now.missed_offers, lee_now.presence),
        (0, Presence::Online)
    );

    // A heartbeat changes nothing; her own presence clears Baton's reason and the count.
    let beat = store
        .touch_agent(&dana, None, at(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            beat.presence,
            beat.missed_offers,
            beat.presence_reason.as_deref()
        ),
        (Presence::Away, 3, Some("missed 3 offers in a row"))
    );
    let back = store
        .touch_agent(&dana, Some(Presence::Online), at(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            back.presence,
            back.presence_at,
            back.missed_offers,
            back.presence_reason.clone()
        ),
        (Presence::Online, at(60), 0, None)
    );
    assert_eq!(store.agent(&dana).await.unwrap().unwrap(), back);
}

async fn declining_resets_the_missed_offer_count(db: &TestDb) {
    let store = &*db.store;
    let dana = online_agent(store, "Dana", 3).await;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let missed = || async { store.agent(&dana).await.unwrap().unwrap().missed_offers };
    // Each cool-down lasts a second, so the same handoff is offered to her again.
    let offer_and = |change: HandoffChange, seconds: i64| {
        let (handoff, dana) = (handoff.id.clone(), dana.clone());
        async move {
            self::change(store, &handoff, offer_to(&dana), seconds)
                .await
                .unwrap();
            self::change(store, &handoff, change, seconds + 1)
                .await
                .unwrap();
        }
    };

    offer_and(lapse(11, 5), 10).await;
    offer_and(lapse(21, 5), 20).await;
    assert_eq!(missed().await, 2);
    let decline = HandoffChange::Decline {
        agent_id: dana.clone(),
        cooldown_until: at(32),
    };
    offer_and(decline, 30).await;
    assert_eq!(missed().await, 0);
    offer_and(lapse(41, 5), 40).await;
    assert_eq!(missed().await, 1);
    // Accepting starts the count again too.
    offer_and(accept(&dana), 50).await;
    assert_eq!(missed().await, 0);
    assert_eq!(
        store.agent(&dana).await.unwrap().unwrap().presence,
        Presence::Online
    );
}

async fn an_agent_takes_from_the_queue_within_capacity_and_team(db: &TestDb) {
    let store = &*db.store;
    let (first, _) = handed_off(store, 1, Priority::Normal).await;
    let (second, _) = handed_off(store, 2, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 1).await;
    let lee = staff_member(store, "Lee", 0).await.id;
    store
        .set_agent_profile(&lee, &["tech".to_string()], 3, at(0))
        .await
        .unwrap();

    let taken = step(store, &first.id, &take(&dana), 10).await.unwrap();
    assert_eq!(taken.handoff.status, HandoffStatus::Assigned);
    assert_eq!(taken.handoff.agent_id.as_deref(), Some(dana.as_str()));
    assert!(matches!(
        taken.step_event().body,
        EventBody::Handoff {
            step: Step::Taken,
            ..
        }
    ));
    assert_eq!(
        shapes(&taken.events[1..]),
        vec![
            (5, "state_changed", Visibility::Customer),
            (6, "message", Visibility::Customer),
        ]
    );
    let conversation = store
        .conversation(&first.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.state, ConversationState::Human);
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!((agent.active, agent.last_assigned_at), (1, Some(at(10))));

    // Full: she cannot take another.
    assert!(matches!(
        change(store, &second.id, take(&dana), 11).await,
        Err(Refusal::AgentUnavailable { reason, .. }) if reason.contains("capacity")
    ));
    // Lee works in Tech, not Billing; as a supervisor he may take from any team, even
    // while offline.
    assert_eq!(
        change(store, &second.id, take(&lee), 12).await,
        Err(Refusal::NotInTeam {
            agent_id: lee.clone(),
            team: "billing".into()
        })
    );
    assert_eq!(
        store.handoff(&second.id).await.unwrap(),
        Some(second.clone())
    );
    let any_team = HandoffChange::Take {
        agent_id: lee.clone(),
        any_team: true,
    };
    let taken = change(store, &second.id, any_team, 13).await.unwrap();
    assert_eq!(taken.holder(), Some(lee.as_str()));
}

async fn the_doctor_finds_nothing_on_a_healthy_store_and_names_a_disagreement(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let mut conversations = Vec::new();
    for n in 0..3 {
        let (conversation, _) = store
            .create_conversation(&customer.id, None, at(n))
            .await
            .unwrap();
        let handoff = queued(&conversation.id, n + 1, Priority::Normal);
        store
            .create_handoff(
                &handoff,
                &brief_of(&conversation, &customer, n + 1),
                None,
                None,
            )
            .await
            .unwrap();
        conversations.push((conversation, handoff));
    }
    let report = baton_store::doctor::check(store).await.unwrap();
    assert_eq!((report.open_handoffs, report.conversations_checked), (3, 3));
    assert!(report.findings.is_empty(), "{:?}", report.findings);

    // A conversation moved behind its handoff's back (not through a handoff step) is named.
    let (conversation, handoff) = &conversations[1];
    store
        .change_state(&conversation.id, ConversationState::Ai, Some("test"), at(9))
        .await
        .unwrap();
    let report = baton_store::doctor::check(store).await.unwrap();
    assert!(report.has_errors());
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.code, "handoff_state_mismatch");
    assert_eq!(finding.handoff_id.as_deref(), Some(handoff.id.as_str()));
}

async fn the_escalating_turns_decision_and_its_handoff_are_one_write(db: &TestDb) {
    let store = &*db.store;
    let customer = store.create_anonymous_customer(at(0)).await.unwrap();
    let (conversation, _) = store
        .create_conversation(&customer.id, None, at(0))
        .await
        .unwrap();
    let decision = NewEvent {
        at: at(3),
        body: EventBody::Decision {
            message_seq: 1,
            decision: Box::new(Decision {
                action: Action::Escalate,
                triggers: Vec::new(),
                explanation: "the customer asked for a person".into(),
                policy_version: "builtin".into(),
                kb_revision: None,
                segments: Vec::new(),
            }),
            signals: Box::default(),
        },
    };
    let handoff = queued(&conversation.id, 3, Priority::Normal);
    let brief = brief_of(&conversation, &customer, 3);
    let created = store
        .create_handoff(&handoff, &brief, Some(decision.clone()), None)
        .await
        .unwrap();
    assert_eq!(
        shapes(&created),
        vec![
            (2, "decision", Visibility::Staff),
            (3, "state_changed", Visibility::Customer),
            (4, "handoff", Visibility::Staff),
        ]
    );
    assert_eq!(created[0].body, decision.body);
    // A second escalation of the conversation writes nothing, its decision included.
    let error = store
        .create_handoff(
            &queued(&conversation.id, 4, Priority::Normal),
            &brief,
            Some(decision),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    assert_eq!(all_events(store, &conversation.id).await.len(), 4);
}

async fn releasing_puts_the_customer_back_in_line(db: &TestDb) {
    let store = &*db.store;
    let (handoff, _) = handed_off(store, 1, Priority::Normal).await;
    let dana = online_agent(store, "Dana", 3).await;
    change(store, &handoff.id, take(&dana), 10).await.unwrap();
    let release = HandoffChange::Release {
        reason: "Dana went offline".into(),
    };
    let released = step(store, &handoff.id, &release, 20).await.unwrap();
    assert_eq!(released.handoff.status, HandoffStatus::Queued);
    assert_eq!(
        released.events[1].body,
        EventBody::StateChanged {
            from: ConversationState::Human,
            to: ConversationState::WaitingHuman,
            reason: Some("back in line for a person".into()),
        }
    );
    assert!(matches!(
        &released.events[2].body,
        EventBody::Message { handover: Some(notice), .. } if notice.kind == NoticeKind::Released
    ));
    assert_eq!(store.agent(&dana).await.unwrap().unwrap().active, 0);
}

async fn the_latest_customer_message_of_each_conversation(db: &TestDb) {
    let store = &*db.store;
    let said = EventBody::message;
    let chatty = conversation(store).await;
    let quiet = conversation(store).await;
    let noted = conversation(store).await;
    for (seconds, body) in [
        (1, message("my card was charged twice", None)),
        (2, said(Role::Ai, "Let me check.")),
        (3, message("and the refund never came", Some("m-2"))),
        (4, said(Role::Ai, "I'm passing this on.")),
        (5, said(Role::System, "You're next in line for Billing.")),
    ] {
        store
            .append_event(&chatty, new_event(seconds, body))
            .await
            .unwrap();
    }
    store
        .append_event(&quiet, new_event(1, said(Role::Ai, "Hello!")))
        .await
        .unwrap();
    store
        .append_event(&noted, new_event(1, message("hi", None)))
        .await
        .unwrap();
    store
        .append_event(
            &noted,
            new_event(
                2,
                EventBody::Note {
                    author: "dana".into(),
                    text: "customer text mentions a refund".into(),
                },
            ),
        )
        .await
        .unwrap();

    let ids = vec![
        chatty.clone(),
        quiet.clone(),
        noted.clone(),
        "no-such-conversation".to_string(),
    ];
    let latest = store.last_customer_messages(&ids).await.unwrap();
    let found: std::collections::BTreeMap<&str, (i64, &EventBody)> = latest
        .iter()
        .map(|(id, event)| (id.as_str(), (event.seq, &event.body)))
        .collect();
    let chatty_latest = message("and the refund never came", Some("m-2"));
    let noted_latest = message("hi", None);
    assert_eq!(
        found,
        [
            (chatty.as_str(), (4, &chatty_latest)),
            (noted.as_str(), (2, &noted_latest)),
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(latest[&chatty].at, at(3));
    assert!(store.last_customer_messages(&[]).await.unwrap().is_empty());
}

/// Agents race to take one handoff while the router offers it to others, from two
/// processes: for each handoff exactly one of them wins.
async fn concurrent_takes_and_offers_of_one_handoff_have_one_winner(db: &TestDb) {
    const HANDOFFS: usize = 12;
    let store = &*db.store;
    let mut handoffs = Vec::new();
    for i in 0..HANDOFFS {
        let seconds = i64::try_from(i).unwrap();
        handoffs.push(handed_off(store, seconds, Priority::Normal).await.0.id);
    }
    let capacity = u32::try_from(HANDOFFS).unwrap();
    let takers = [
        online_agent(store, "taker-1", capacity).await,
        online_agent(store, "taker-2", capacity).await,
    ];
    let offered_to = [
        online_agent(store, "offered-1", capacity).await,
        online_agent(store, "offered-2", capacity).await,
    ];
    let stores = [db.store.clone(), db.open_again().await];
    let mut tasks = Vec::new();
    for (i, handoff) in handoffs.iter().enumerate() {
        let attempts = [
            take(&takers[0]),
            offer_to(&offered_to[0]),
            take(&takers[1]),
            offer_to(&offered_to[1]),
        ];
        for (j, attempt) in attempts.into_iter().enumerate() {
            let store = stores[(i + j) % 2].clone();
            let handoff = handoff.clone();
            tasks.push(tokio::spawn(async move {
                let outcome = store
                    .change_handoff(&handoff, &attempt, &names(), at(100))
                    .await
                    .unwrap()
                    .expect("the handoff exists");
                match outcome {
                    Ok(changed) => Some((handoff, changed.handoff)),
                    Err(
                        Refusal::WrongStatus { .. } | Refusal::OfferedToSomeoneElse | Refusal::Busy,
                    ) => None,
                    Err(other) => panic!("unexpected refusal: {other}"),
                }
            }));
        }
    }
    let mut winners: std::collections::HashMap<String, Handoff> = Default::default();
    for task in tasks {
        if let Some((id, won)) = task.await.unwrap() {
            assert!(
                winners.insert(id.clone(), won).is_none(),
                "handoff {id} was won twice"
            );
        }
    }
    assert_eq!(winners.len(), HANDOFFS, "every handoff has a winner");
    for (id, won) in &winners {
        let stored = store.handoff(id).await.unwrap().unwrap();
        assert_eq!(&stored, won);
        assert_eq!(stored.history.len(), 2, "queued, then one step");
        let events = all_events(store, &stored.conversation_id).await;
        assert_eq!(
            seqs(&events),
            (1..=i64::try_from(events.len()).unwrap()).collect::<Vec<_>>()
        );
    }
    let mut held = 0;
    for agent in takers.iter().chain(&offered_to) {
        held += store.agent(agent).await.unwrap().unwrap().active;
    }
    assert_eq!(held, capacity);
}

/// One offer at a time: however many offers race for one agent, from two processes, at
/// most one is pending.
async fn concurrent_one_at_a_time_offers_leave_an_agent_at_most_one_pending(db: &TestDb) {
    const HANDOFFS: usize = 12;
    let store = &*db.store;
    let mut handoffs = Vec::new();
    for i in 0..HANDOFFS {
        let seconds = i64::try_from(i).unwrap();
        handoffs.push(handed_off(store, seconds, Priority::Normal).await.0.id);
    }
    let dana = online_agent(store, "Dana", 5).await;
    let stores = [db.store.clone(), db.open_again().await];
    let tasks: Vec<_> = handoffs
        .iter()
        .enumerate()
        .map(|(i, handoff)| {
            let store = stores[i % 2].clone();
            let (handoff, dana) = (handoff.clone(), dana.clone());
            tokio::spawn(async move {
                let offer = HandoffChange::Offer {
                    agent_id: dana,
                    expires_at: at(3600),
                    reason: "the only one on".into(),
                    one_at_a_time: true,
                };
                match store
                    .change_handoff(&handoff, &offer, &names(), at(100))
                    .await
                    .unwrap()
                    .expect("the handoff exists")
                {
                    Ok(_) => true,
                    Err(Refusal::AgentUnavailable { reason, .. }) => {
                        assert_eq!(reason, "another offer is waiting for them");
                        false
                    }
                    Err(other) => panic!("unexpected refusal: {other}"),
                }
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    let agent = store.agent(&dana).await.unwrap().unwrap();
    assert_eq!((agent.offered, agent.active), (1, 1));
}

macro_rules! suite {
    (shared: [$($test:ident),* $(,)?], postgres_only: [$($pg_test:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = super::TestDb::sqlite().await;
                    super::$test(&db).await;
                    db.finish().await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$test(&db).await;
                    db.finish().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $pg_test() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$pg_test(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

suite! {
    shared: [
        conversation_starts_with_its_started_event_as_seq_1,
        appended_events_are_numbered_without_gaps,
        appending_to_an_unknown_conversation_fails,
        conversation_needs_an_existing_customer,
        timestamps_round_trip_to_the_microsecond,
        repeated_client_msg_id_returns_the_stored_event,
        concurrent_duplicates_store_one_event,
        concurrent_appends_get_consecutive_seqs,
        a_failing_write_fails_only_its_caller,
        customer_sees_only_customer_visible_events,
        state_changes_follow_the_state_machine,
        conversations_are_listed_newest_activity_first,
        conversations_page_in_creation_order_with_filters,
        secret_is_generated_once_and_shared,
        staff_are_created_disabled_and_rotated,
        identified_customer_is_upserted_by_external_id,
        data_survives_close_and_reopen,
        bus_delivers_committed_events,
        kb_upserts_are_counted_and_only_changes_make_revisions,
        kb_ids_sort_by_bytes_and_duplicates_keep_the_last,
        kb_prune_retires_the_rest_and_upserts_revive,
        kb_history_keeps_each_revision,
        kb_calibration_is_the_newest_not_past_the_current_revision,
        kb_large_single_write_completes,
        kb_concurrent_writers_get_distinct_revisions_without_gaps,
        handoffs_are_stored_with_their_brief_and_listed_in_queue_order,
        a_conversation_has_at_most_one_open_handoff,
        handoff_steps_are_recorded_with_the_change,
        handoff_is_offered_accepted_closed_and_rated,
        an_agent_at_capacity_gets_no_more_offers,
        an_offline_agent_gets_no_offer,
        only_the_offered_agent_can_accept,
        agent_profiles_have_defaults_and_update,
        touch_agent_moves_presence_at_only_when_presence_changes,
        customer_email_is_recorded,
        concurrent_offers_never_exceed_capacity_nor_share_a_handoff,
        escalation_creates_the_handoff_moves_the_conversation_and_tells_the_customer_in_one_write,
        accepting_moves_the_conversation_and_tells_the_customer_in_the_same_write,
        a_step_the_conversation_cannot_take_writes_nothing,
        an_agent_who_lets_offers_lapse_in_a_row_is_set_away_and_their_own_presence_clears_it,
        declining_resets_the_missed_offer_count,
        an_agent_takes_from_the_queue_within_capacity_and_team,
        releasing_puts_the_customer_back_in_line,
        the_escalating_turns_decision_and_its_handoff_are_one_write,
        the_doctor_finds_nothing_on_a_healthy_store_and_names_a_disagreement,
        the_latest_customer_message_of_each_conversation,
        concurrent_takes_and_offers_of_one_handoff_have_one_winner,
        concurrent_one_at_a_time_offers_leave_an_agent_at_most_one_pending,
    ],
    postgres_only: [
        second_store_hears_events_of_the_first,
        an_offer_skips_a_handoff_another_transaction_holds,
    ],
}
