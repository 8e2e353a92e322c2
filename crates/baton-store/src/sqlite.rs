//! The embedded default backend: one SQLite file in WAL mode.
//!
//! Reads use a small pool of read-only connections. Every write goes through one writer task
//! that owns the only writing connection: it takes all the writes queued since its last
//! commit, applies them in one transaction (group commit) and answers each caller only once
//! `COMMIT` has returned. One commit per batch rather than per write, and a few statements per
//! run of appends rather than per append (see [`append`]), is what lets tens of thousands of
//! appends per second through, at either durability. Knowledge-base writes are writer
//! commands too (see [`kb`]).

mod append;
mod checkpoint;
mod handoff;
mod kb;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use baton_core::handoff::{Handoff, HandoffChange, Names};
use baton_core::routing::Presence;
use baton_core::{
    Account, Agent, Brief, Conversation, ConversationState, Customer, Event, EventBody, NewEvent,
    PageContext, Staff, Visibility,
};
use chrono::{DateTime, Utc};
use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use self::append::AppendEvent;
use self::handoff::{ChangeHandoff, CreateHandoff, SetAgentProfile, TouchAgent};
use self::kb::{KbWriteCommand, SaveCalibration};
use self::writer::{Command, Message, Pending};
use crate::codec::{
    self, AccountRow, ConversationRow, CreationBounds, CustomerRow, EventRecord, EventRow, StaffRow,
};
use crate::kb::PreparedWrite;
use crate::step::Escalation;
use crate::{
    Appended, ConversationFilter, CreationPage, Durability, EventBus, EventNotice, HandoffFilter,
    HandoffResult, KbDocument, KbRevision, KbWrite, KbWriteResult, NewStaff, Result, Store,
    StoreError,
};

/// Read connections; WAL lets them run alongside the writer.
const READERS: u32 = 4;
/// Writes waiting for the writer before callers are made to wait (back-pressure).
const QUEUE_CAPACITY: usize = 4096;
/// How long a connection waits for a lock another process holds (e.g. `baton admin`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    readers: SqlitePool,
    writes: mpsc::Sender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
    bus: EventBus,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating when needed) the database `sqlite://PATH` names, relative to the
    /// working directory unless absolute, and brings its schema up to date.
    pub async fn open(url: &str, durability: Durability) -> Result<Self> {
        let options: SqliteConnectOptions = url
            .parse()
            .map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Process => SqliteSynchronous::Normal,
                Durability::Fsync => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        create_parent_folder(options.get_filename())?;

        // The writer keeps the bulk append statements (a few dozen shapes) prepared and a
        // large page cache, and leaves checkpoints to their own task (see [`checkpoint`]).
        let mut writer = options
            .clone()
            .statement_cache_capacity(256)
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "0")
            .connect()
            .await?;
        MIGRATOR.run(&mut writer).await?;
        let checkpoints = options.clone().connect().await?;
        // Readers never write: the single writer is what keeps batches free of lock waits.
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.pragma("query_only", "ON"))
            .await?;

        let bus = EventBus::default();
        let (writes, queue) = mpsc::channel(QUEUE_CAPACITY);
        // One pending wake-up is enough: a checkpoint copies all that is committed.
        let (commits, committed) = mpsc::channel(1);
        let (gone, writer_gone) = oneshot::channel();
        let checkpointer = tokio::spawn(checkpoint::run(
            checkpoints,
            committed,
            writer_gone,
            writes.downgrade(),
        ));
        let writer = tokio::spawn(writer::run(writer, queue, bus.clone(), commits, gone));
        Ok(SqliteStore {
            readers,
            writes,
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some(checkpointer)),
            bus,
        })
    }

    /// Queues a write and waits until it is committed.
    async fn write<C: Command>(&self, command: C) -> Result<C::Output> {
        let (job, answer) = Pending::job(command);
        self.writes
            .send(Message::Write(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Waits for one of the store's tasks to end, once.
async fn join(task: &Mutex<Option<JoinHandle<()>>>, name: &str) {
    let handle = task
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(handle) = handle
        && let Err(error) = handle.await
    {
        tracing::warn!(%error, "the SQLite {name} task failed");
    }
}

fn create_parent_folder(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => Ok(std::fs::create_dir_all(parent)?),
        _ => Ok(()),
    }
}

// --- the commands ---

/// The conversation's state as stored (inside the writer's batch: nothing can change it
/// before the batch commits).
async fn conversation_state(conn: &mut SqliteConnection, conversation_id: &str) -> Result<String> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM conversations WHERE id = ?")
        .bind(conversation_id)
        .fetch_optional(&mut *conn)
        .await?;
    state.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))
}

/// Moves the conversation to `state` and bumps its `last_seq` (and `updated_at`),
/// returning the new seq.
async fn move_to(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    state: ConversationState,
    at: DateTime<Utc>,
) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET state = ?, last_seq = last_seq + 1,
            updated_at = MAX(updated_at, ?)
         WHERE id = ? RETURNING last_seq",
    )
    .bind(state.as_str())
    .bind(codec::micros(at))
    .bind(conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    seq.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))
}

async fn insert_event(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    seq: i64,
    record: &EventRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (conversation_id, seq, type, visibility, client_msg_id, at, body)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(conversation_id)
    .bind(seq)
    .bind(record.type_name())
    .bind(record.visibility())
    .bind(record.client_msg_id())
    .bind(record.at_micros())
    .bind(&record.body_json)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends one event to a conversation (bumping its `last_seq` and `updated_at`) inside
/// the writer's transaction.
async fn append_one(
    conn: &mut SqliteConnection,
    conversation_id: &str,
    record: EventRecord,
) -> Result<Event> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = MAX(updated_at, ?)
         WHERE id = ? RETURNING last_seq",
    )
    .bind(record.at_micros())
    .bind(conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let seq = seq.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))?;
    insert_event(conn, conversation_id, seq, &record).await?;
    Ok(record.into_event(seq))
}

fn notice_of(conversation_id: &str, event: &Event) -> EventNotice {
    EventNotice {
        conversation_id: conversation_id.to_string(),
        seq: event.seq,
        event: Some(event.clone()),
        handoff: None,
    }
}

struct CreateConversation {
    conversation: Conversation,
    page_json: Option<String>,
    record: EventRecord,
}

#[async_trait]
impl Command for CreateConversation {
    type Output = (Conversation, Event);

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Self::Output> {
        let c = &self.conversation;
        let customer: Option<i64> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = ?")
            .bind(&c.customer_id)
            .fetch_optional(&mut *conn)
            .await?;
        if customer.is_none() {
            return Err(StoreError::Conflict(format!(
                "customer {} does not exist",
                c.customer_id
            )));
        }
        sqlx::query(
            "INSERT INTO conversations
                (id, customer_id, state, page, last_seq, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.customer_id)
        .bind(c.state.as_str())
        .bind(&self.page_json)
        .bind(c.last_seq)
        .bind(codec::micros(c.created_at))
        .bind(codec::micros(c.updated_at))
        .execute(&mut *conn)
        .await?;
        insert_event(conn, &c.id, c.last_seq, &self.record).await?;
        Ok((c.clone(), self.record.clone().into_event(c.last_seq)))
    }

    fn notices(&self, (conversation, event): &Self::Output) -> Vec<EventNotice> {
        vec![notice_of(&conversation.id, event)]
    }
}

struct ChangeState {
    conversation_id: String,
    to: ConversationState,
    reason: Option<String>,
    at: DateTime<Utc>,
}

#[async_trait]
impl Command for ChangeState {
    type Output = Option<Event>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<Event>> {
        let state = conversation_state(conn, &self.conversation_id).await?;
        let Some(record) = codec::state_change(&state, self.to, self.reason.clone(), self.at)?
        else {
            return Ok(None);
        };
        let seq = move_to(conn, &self.conversation_id, self.to, record.at).await?;
        insert_event(conn, &self.conversation_id, seq, &record).await?;
        Ok(Some(record.into_event(seq)))
    }

    fn notices(&self, output: &Option<Event>) -> Vec<EventNotice> {
        output
            .iter()
            .map(|event| notice_of(&self.conversation_id, event))
            .collect()
    }
}

struct Secret {
    name: String,
    generated: String,
}

#[async_trait]
impl Command for Secret {
    type Output = String;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<String> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&self.name)
        .bind(&self.generated)
        .execute(&mut *conn)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
                .bind(&self.name)
                .fetch_one(&mut *conn)
                .await?,
        )
    }
}

struct UpsertAccount {
    account: Account,
    attrs_json: String,
    now: DateTime<Utc>,
}

#[async_trait]
impl Command for UpsertAccount {
    type Output = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<()> {
        let a = &self.account;
        sqlx::query(
            "INSERT INTO accounts (id, name, tier, signup_at, owner, attrs, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, tier = excluded.tier,
                signup_at = excluded.signup_at, owner = excluded.owner, attrs = excluded.attrs,
                updated_at = excluded.updated_at",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.tier)
        .bind(a.signup_at.map(codec::micros))
        .bind(&a.owner)
        .bind(&self.attrs_json)
        .bind(codec::micros(self.now))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

struct UpsertIdentifiedCustomer {
    /// Used only when the customer is new.
    id: String,
    external_id: String,
    name: Option<String>,
    email: Option<String>,
    account_id: Option<String>,
    now: DateTime<Utc>,
}

#[async_trait]
impl Command for UpsertIdentifiedCustomer {
    type Output = Customer;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Customer> {
        // A token that leaves a field out keeps what an earlier token said.
        let row: CustomerRow = sqlx::query_as(
            "INSERT INTO customers (id, external_id, name, email, account_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (external_id) DO UPDATE SET
                name = COALESCE(excluded.name, customers.name),
                email = COALESCE(excluded.email, customers.email),
                account_id = COALESCE(excluded.account_id, customers.account_id)
             RETURNING id, external_id, name, email, account_id, created_at",
        )
        .bind(&self.id)
        .bind(&self.external_id)
        .bind(&self.name)
        .bind(&self.email)
        .bind(&self.account_id)
        .bind(codec::micros(self.now))
        .fetch_one(&mut *conn)
        .await?;
        codec::customer(row)
    }
}

struct InsertCustomer {
    customer: Customer,
}

#[async_trait]
impl Command for InsertCustomer {
    type Output = Customer;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Customer> {
        let c = &self.customer;
        sqlx::query(
            "INSERT INTO customers (id, external_id, name, email, account_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.external_id)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.account_id)
        .bind(codec::micros(c.created_at))
        .execute(&mut *conn)
        .await?;
        Ok(c.clone())
    }
}

struct SetCustomerEmail {
    id: String,
    email: String,
}

#[async_trait]
impl Command for SetCustomerEmail {
    type Output = Option<Customer>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<Customer>> {
        let row: Option<CustomerRow> = sqlx::query_as(
            "UPDATE customers SET email = ? WHERE id = ?
             RETURNING id, external_id, name, email, account_id, created_at",
        )
        .bind(&self.email)
        .bind(&self.id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(codec::customer).transpose()
    }
}

struct CreateStaff {
    staff: Staff,
    key_hash: String,
}

#[async_trait]
impl Command for CreateStaff {
    type Output = Staff;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Staff> {
        let s = &self.staff;
        sqlx::query(
            "INSERT INTO staff (id, name, role, disabled, key_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.name)
        .bind(s.role.as_str())
        .bind(s.disabled)
        .bind(&self.key_hash)
        .bind(codec::micros(s.created_at))
        .execute(&mut *conn)
        .await?;
        Ok(s.clone())
    }
}

/// A change to one member of staff.
enum StaffChange {
    Disabled(bool),
    KeyHash(String),
}

struct UpdateStaff {
    id: String,
    change: StaffChange,
}

#[async_trait]
impl Command for UpdateStaff {
    type Output = Option<Staff>;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Option<Staff>> {
        let row: Option<StaffRow> = match &self.change {
            StaffChange::Disabled(disabled) => {
                sqlx::query_as(
                    "UPDATE staff SET disabled = ? WHERE id = ?
                     RETURNING id, name, role, disabled, created_at",
                )
                .bind(disabled)
                .bind(&self.id)
                .fetch_optional(&mut *conn)
                .await?
            }
            StaffChange::KeyHash(key_hash) => {
                sqlx::query_as(
                    "UPDATE staff SET key_hash = ? WHERE id = ?
                     RETURNING id, name, role, disabled, created_at",
                )
                .bind(key_hash)
                .bind(&self.id)
                .fetch_optional(&mut *conn)
                .await?
            }
        };
        row.map(codec::staff).transpose()
    }
}

// --- the interface ---

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    fn bus(&self) -> &EventBus {
        &self.bus
    }

    async fn secret(&self, name: &str, generated: &str) -> Result<String> {
        let stored: Option<String> = sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.readers)
            .await?;
        match stored {
            Some(value) => Ok(value),
            None => {
                self.write(Secret {
                    name: name.to_string(),
                    generated: generated.to_string(),
                })
                .await
            }
        }
    }

    async fn upsert_account(&self, account: &Account, now: DateTime<Utc>) -> Result<()> {
        self.write(UpsertAccount {
            attrs_json: codec::to_json(&account.attrs)?,
            account: account.clone(),
            now,
        })
        .await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT id, name, tier, signup_at, owner, attrs FROM accounts WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.map(codec::account).transpose()
    }

    async fn upsert_identified_customer(
        &self,
        external_id: &str,
        name: Option<&str>,
        email: Option<&str>,
        account_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        self.write(UpsertIdentifiedCustomer {
            id: codec::new_id(),
            external_id: external_id.to_string(),
            name: name.map(str::to_string),
            email: email.map(str::to_string),
            account_id: account_id.map(str::to_string),
            now: codec::truncate_to_micros(now),
        })
        .await
    }

    async fn create_anonymous_customer(&self, now: DateTime<Utc>) -> Result<Customer> {
        let customer = Customer {
            id: codec::new_id(),
            external_id: None,
            name: None,
            email: None,
            account_id: None,
            created_at: codec::truncate_to_micros(now),
        };
        self.write(InsertCustomer { customer }).await
    }

    async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let row: Option<CustomerRow> = sqlx::query_as(
            "SELECT id, external_id, name, email, account_id, created_at
             FROM customers WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.map(codec::customer).transpose()
    }

    async fn set_customer_email(&self, id: &str, email: &str) -> Result<Option<Customer>> {
        self.write(SetCustomerEmail {
            id: id.to_string(),
            email: email.to_string(),
        })
        .await
    }

    async fn create_staff(&self, staff: NewStaff, now: DateTime<Utc>) -> Result<Staff> {
        self.write(CreateStaff {
            staff: Staff {
                id: codec::new_id(),
                name: staff.name,
                role: staff.role,
                disabled: false,
                created_at: codec::truncate_to_micros(now),
            },
            key_hash: staff.key_hash,
        })
        .await
    }

    async fn list_staff(&self) -> Result<Vec<Staff>> {
        let rows: Vec<StaffRow> = sqlx::query_as(
            "SELECT id, name, role, disabled, created_at FROM staff ORDER BY created_at, id",
        )
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(codec::staff).collect()
    }

    async fn staff(&self, id: &str) -> Result<Option<Staff>> {
        let row: Option<StaffRow> =
            sqlx::query_as("SELECT id, name, role, disabled, created_at FROM staff WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
        row.map(codec::staff).transpose()
    }

    async fn staff_by_key_hash(&self, key_hash: &str) -> Result<Option<Staff>> {
        let row: Option<StaffRow> = sqlx::query_as(
            "SELECT id, name, role, disabled, created_at FROM staff WHERE key_hash = ?",
        )
        .bind(key_hash)
        .fetch_optional(&self.readers)
        .await?;
        row.map(codec::staff).transpose()
    }

    async fn set_staff_disabled(&self, id: &str, disabled: bool) -> Result<Option<Staff>> {
        self.write(UpdateStaff {
            id: id.to_string(),
            change: StaffChange::Disabled(disabled),
        })
        .await
    }

    async fn set_staff_key_hash(&self, id: &str, key_hash: &str) -> Result<Option<Staff>> {
        self.write(UpdateStaff {
            id: id.to_string(),
            change: StaffChange::KeyHash(key_hash.to_string()),
        })
        .await
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        handoff::agents(&self.readers).await
    }

    async fn agent(&self, staff_id: &str) -> Result<Option<Agent>> {
        handoff::agent(&self.readers, staff_id).await
    }

    async fn set_agent_profile(
        &self,
        staff_id: &str,
        teams: &[String],
        capacity: u32,
        _now: DateTime<Utc>,
    ) -> Result<Option<Agent>> {
        self.write(SetAgentProfile {
            staff_id: staff_id.to_string(),
            teams_json: codec::teams_json(teams)?,
            capacity,
        })
        .await?
        .map(codec::agent)
        .transpose()
    }

    async fn touch_agent(
        &self,
        staff_id: &str,
        presence: Option<Presence>,
        now: DateTime<Utc>,
    ) -> Result<Option<Agent>> {
        self.write(TouchAgent {
            staff_id: staff_id.to_string(),
            presence: presence.map(Presence::as_str),
            now: codec::truncate_to_micros(now),
        })
        .await?
        .map(codec::agent)
        .transpose()
    }

    async fn create_handoff(
        &self,
        handoff: &Handoff,
        brief: &Brief,
        decision: Option<NewEvent>,
        message: Option<NewEvent>,
    ) -> Result<Vec<Event>> {
        // Serialized before queueing, like appends.
        let escalation = Escalation::new(handoff, brief, decision, message)?;
        self.write(CreateHandoff { escalation }).await
    }

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>> {
        handoff::handoff(&self.readers, id).await
    }

    async fn handoff_brief(&self, id: &str) -> Result<Option<Brief>> {
        handoff::brief(&self.readers, id).await
    }

    async fn handoffs(&self, filter: &HandoffFilter) -> Result<Vec<Handoff>> {
        handoff::handoffs(&self.readers, filter).await
    }

    async fn change_handoff(
        &self,
        id: &str,
        change: &HandoffChange,
        names: &Names,
        now: DateTime<Utc>,
    ) -> Result<Option<HandoffResult>> {
        self.write(ChangeHandoff {
            id: id.to_string(),
            change: change.clone(),
            names: names.clone(),
            now: codec::truncate_to_micros(now),
        })
        .await
    }

    async fn last_customer_messages(
        &self,
        conversation_ids: &[String],
    ) -> Result<HashMap<String, Event>> {
        handoff::last_customer_messages(&self.readers, conversation_ids).await
    }

    async fn create_conversation(
        &self,
        customer_id: &str,
        page: Option<PageContext>,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, Event)> {
        let now = codec::truncate_to_micros(now);
        let page_json = codec::page_json(page.as_ref())?;
        let record = EventRecord::new(NewEvent {
            at: now,
            body: EventBody::ConversationStarted { page: page.clone() },
        })?;
        let conversation = Conversation {
            id: codec::new_id(),
            customer_id: customer_id.to_string(),
            state: ConversationState::Ai,
            page,
            last_seq: 1,
            created_at: now,
            updated_at: now,
        };
        self.write(CreateConversation {
            conversation,
            page_json,
            record,
        })
        .await
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>> {
        let row: Option<ConversationRow> = sqlx::query_as(
            "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
             FROM conversations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.map(codec::conversation).transpose()
    }

    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>> {
        // One statement per filter shape, so each can use its index.
        let sql = match (filter.state.is_some(), filter.customer_id.is_some()) {
            (false, false) => {
                "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
                 FROM conversations
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            }
            (true, false) => {
                "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
                 FROM conversations WHERE state = ?
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            }
            (false, true) => {
                "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
                 FROM conversations WHERE customer_id = ?
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            }
            (true, true) => {
                "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
                 FROM conversations WHERE state = ? AND customer_id = ?
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            }
        };
        let mut query = sqlx::query_as::<_, ConversationRow>(sql);
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(customer_id) = &filter.customer_id {
            query = query.bind(customer_id);
        }
        let rows = query
            .bind(codec::limit_or(
                filter.limit,
                codec::DEFAULT_CONVERSATION_LIMIT,
            ))
            .fetch_all(&self.readers)
            .await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn idle_conversations(
        &self,
        state: ConversationState,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let rows = sqlx::query_as::<_, ConversationRow>(
            "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
             FROM conversations WHERE state = ? AND updated_at < ?
             ORDER BY updated_at, id LIMIT ?",
        )
        .bind(state.as_str())
        .bind(codec::micros(updated_before))
        .bind(codec::limit_or(limit, codec::DEFAULT_CONVERSATION_LIMIT))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn conversations_by_creation(&self, page: &CreationPage) -> Result<Vec<Conversation>> {
        let bounds = CreationBounds::new(page);
        // The row-value comparison walks the (created_at, id) index from the cursor. A state
        // filter binds every state slot, repeating the first name in the unused ones.
        let sql = if bounds.states.is_empty() {
            "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
             FROM conversations
             WHERE (created_at, id) > (?, ?) AND created_at < ?
             ORDER BY created_at, id LIMIT ?"
        } else {
            "SELECT id, customer_id, state, page, last_seq, created_at, updated_at
             FROM conversations
             WHERE (created_at, id) > (?, ?) AND created_at < ? AND state IN (?, ?, ?, ?)
             ORDER BY created_at, id LIMIT ?"
        };
        let mut query = sqlx::query_as::<_, ConversationRow>(sql)
            .bind(bounds.after_at)
            .bind(&bounds.after_id)
            .bind(bounds.before);
        if let Some(first) = bounds.states.first() {
            for slot in 0..ConversationState::ALL.len() {
                query = query.bind(*bounds.states.get(slot).unwrap_or(first));
            }
        }
        let rows = query.bind(bounds.limit).fetch_all(&self.readers).await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn append_event(&self, conversation_id: &str, event: NewEvent) -> Result<Appended> {
        // Serialize before queueing so the writer spends its time on SQL only.
        let record = EventRecord::new(event)?;
        self.write(AppendEvent {
            conversation_id: conversation_id.to_string(),
            record,
        })
        .await
    }

    async fn change_state(
        &self,
        conversation_id: &str,
        to: ConversationState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>> {
        self.write(ChangeState {
            conversation_id: conversation_id.to_string(),
            to,
            reason: reason.map(str::to_string),
            at: now,
        })
        .await
    }

    async fn events_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: u32,
        visibility: Option<Visibility>,
    ) -> Result<Vec<Event>> {
        let sql = match visibility {
            Some(Visibility::Customer) => {
                "SELECT seq, at, body FROM events
                 WHERE conversation_id = ? AND seq > ? AND visibility = 'customer'
                 ORDER BY seq LIMIT ?"
            }
            Some(Visibility::Staff) | None => {
                "SELECT seq, at, body FROM events
                 WHERE conversation_id = ? AND seq > ?
                 ORDER BY seq LIMIT ?"
            }
        };
        let rows: Vec<EventRow> = sqlx::query_as(sql)
            .bind(conversation_id)
            .bind(after)
            .bind(codec::limit_or(limit, codec::DEFAULT_EVENT_LIMIT))
            .fetch_all(&self.readers)
            .await?;
        rows.into_iter().map(codec::event).collect()
    }

    async fn kb_write(&self, write: KbWrite, now: DateTime<Utc>) -> Result<KbWriteResult> {
        // Checked and serialized before queueing, like appends.
        let write = PreparedWrite::new(write, now)?;
        self.write(KbWriteCommand { write }).await
    }

    async fn kb_documents(&self) -> Result<Vec<KbDocument>> {
        kb::documents(&self.readers).await
    }

    async fn kb_document(&self, id: &str) -> Result<Option<KbDocument>> {
        kb::document(&self.readers, id).await
    }

    async fn kb_history(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, Option<serde_json::Value>, DateTime<Utc>)>> {
        kb::history(&self.readers, id).await
    }

    async fn kb_revision(&self) -> Result<i64> {
        kb::revision(&self.readers).await
    }

    async fn kb_revisions(&self, limit: u32) -> Result<Vec<KbRevision>> {
        kb::revisions(&self.readers, limit).await
    }

    async fn kb_save_calibration(
        &self,
        revision: i64,
        calibration: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(SaveCalibration {
            revision,
            json: codec::to_json(&calibration)?,
            now,
        })
        .await
    }

    async fn kb_calibration(&self) -> Result<Option<(i64, serde_json::Value)>> {
        kb::calibration(&self.readers).await
    }

    async fn close(&self) {
        let (ack, acked) = oneshot::channel();
        if self.writes.send(Message::Close(ack)).await.is_ok() {
            let _ = acked.await;
        }
        join(&self.writer, "writer").await;
        // The writer is gone, so the checkpointer makes its last checkpoint and ends.
        join(&self.checkpointer, "checkpoint").await;
        self.readers.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Role, StaffRole};
    use sqlx::Connection;

    fn append(conversation_id: &str, text: &str) -> AppendEvent {
        let body = EventBody::message(Role::Customer, text);
        AppendEvent {
            conversation_id: conversation_id.to_string(),
            record: EventRecord::new(NewEvent {
                at: Utc::now(),
                body,
            })
            .unwrap(),
        }
    }

    #[tokio::test]
    async fn a_failing_write_in_a_batch_fails_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        let store = SqliteStore::open(&url, Durability::Process).await.unwrap();
        let staff = NewStaff {
            name: "Alice".into(),
            role: StaffRole::Agent,
            key_hash: "taken".into(),
        };
        store.create_staff(staff, Utc::now()).await.unwrap();
        let customer = store.create_anonymous_customer(Utc::now()).await.unwrap();
        let (conversation, _) = store
            .create_conversation(&customer.id, None, Utc::now())
            .await
            .unwrap();

        // Drive one batch by hand on a second connection, as the writer would.
        let options: SqliteConnectOptions = url.parse().unwrap();
        let mut conn = options.connect().await.unwrap();
        let (first, first_answer) = Pending::job(append(&conversation.id, "before"));
        let duplicate = CreateStaff {
            staff: Staff {
                id: codec::new_id(),
                name: "Mallory".into(),
                role: StaffRole::Agent,
                disabled: false,
                created_at: Utc::now(),
            },
            key_hash: "taken".into(),
        };
        let (failing, failing_answer) = Pending::job(duplicate);
        let (last, last_answer) = Pending::job(append(&conversation.id, "after"));
        let mut batch = vec![first, failing, last];
        writer::commit_batch(&mut conn, &mut batch, &store.bus).await;

        assert_eq!(first_answer.await.unwrap().unwrap().event().seq, 2);
        assert!(matches!(
            failing_answer.await.unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(last_answer.await.unwrap().unwrap().event().seq, 3);
        conn.close().await.unwrap();
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_checkpoints_the_whole_wal_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.db");
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::open(&url, Durability::Process).await.unwrap();
        let customer = store.create_anonymous_customer(Utc::now()).await.unwrap();
        let (conversation, _) = store
            .create_conversation(&customer.id, None, Utc::now())
            .await
            .unwrap();
        for i in 0..300 {
            store
                .write(append(&conversation.id, &format!("message {i}")))
                .await
                .unwrap();
        }
        // Checkpoints run beside the writer meanwhile; the writer never waits for one.
        store.close().await;
        let wal = dir.path().join("baton.db-wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "the WAL is left empty"
        );
        let store = SqliteStore::open(&url, Durability::Process).await.unwrap();
        let events = store
            .events_after(&conversation.id, 0, 0, None)
            .await
            .unwrap();
        assert_eq!(
            events.len(),
            301,
            "the conversation's first event and 300 messages"
        );
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_database_serves_concurrent_reads_and_writes() {
        let store = std::sync::Arc::new(
            SqliteStore::open("sqlite::memory:", Durability::Process)
                .await
                .unwrap(),
        );
        let customer = store.create_anonymous_customer(Utc::now()).await.unwrap();
        let (conversation, _) = store
            .create_conversation(&customer.id, None, Utc::now())
            .await
            .unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                let id = conversation.id.clone();
                tokio::spawn(async move {
                    for j in 0..10 {
                        let append = append(&id, &format!("{i}-{j}"));
                        let event = NewEvent {
                            at: append.record.at,
                            body: append.record.body,
                        };
                        store.append_event(&id, event).await.unwrap();
                        store.events_after(&id, 0, 5, None).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let stored = store.conversation(&conversation.id).await.unwrap().unwrap();
        assert_eq!(stored.last_seq, 201);
        store.close().await;
    }
}
