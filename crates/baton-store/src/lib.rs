//! Persistence for Baton: accounts, customers, staff, conversations and their event logs.
//!
//! One interface, [`Store`], with two implementations: SQLite (the embedded default, a single
//! file) and PostgreSQL (for several Baton processes behind a load balancer). Both pass the
//! same test suite (`tests/store_suite.rs`). The store also carries the event bus: after an
//! event is durably stored, every subscriber of this process (and, on PostgreSQL, of every
//! process sharing the database) is notified. It also keeps the knowledge base: articles as
//! opaque JSON documents, versioned by KB revision (see [`kb`]).

use std::sync::Arc;

use async_trait::async_trait;
use baton_core::handoff::{Handoff, HandoffChange, HandoffStatus, Names, Refusal};
use baton_core::routing::Presence;
use baton_core::{
    Account, Agent, Brief, Conversation, ConversationState, Customer, Event, NewEvent, PageContext,
    Staff, StaffRole, Visibility,
};
use chrono::{DateTime, Utc};

pub mod bus;
mod codec;
pub mod doctor;
pub mod kb;
mod postgres;
mod sqlite;
mod step;

pub use bus::{EventBus, EventNotice};
pub use kb::{KbDocument, KbRevision, KbWrite, KbWriteResult};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// How durable an acknowledged write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Survives a crash of the Baton process (SQLite: WAL with `synchronous = NORMAL`).
    #[default]
    Process,
    /// Survives a power loss (SQLite: WAL with `synchronous = FULL`).
    Fsync,
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("conversation {0} not found")]
    ConversationNotFound(String),
    #[error("cannot move conversation from {from} to {to}")]
    InvalidTransition {
        from: ConversationState,
        to: ConversationState,
    },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not prepare the database location: {0}")]
    Io(#[from] std::io::Error),
    #[error("the store is shutting down")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The outcome of appending an event that may carry an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// The event was new and is now stored.
    Created(Event),
    /// An event with the same `client_msg_id` was already stored in this conversation; it is
    /// returned unchanged and nothing was written.
    Existing(Event),
}

impl Appended {
    pub fn event(&self) -> &Event {
        match self {
            Appended::Created(e) | Appended::Existing(e) => e,
        }
    }
    pub fn into_event(self) -> Event {
        match self {
            Appended::Created(e) | Appended::Existing(e) => e,
        }
    }
    pub fn is_created(&self) -> bool {
        matches!(self, Appended::Created(_))
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub state: Option<ConversationState>,
    pub customer_id: Option<String>,
    /// At most this many, newest activity first (0: the default, 100).
    pub limit: u32,
}

/// Where a page of conversations in creation order resumes: just after this conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

impl CreationCursor {
    /// The cursor just after `conversation`.
    pub fn after(conversation: &Conversation) -> Self {
        CreationCursor {
            created_at: conversation.created_at,
            id: conversation.id.clone(),
        }
    }
}

/// One page of conversations in creation order, for exports and back-tests that read every
/// conversation of a period without holding them all: ask again with
/// [`CreationCursor::after`] the last one until a page comes back short.
#[derive(Debug, Clone, Default)]
pub struct CreationPage {
    /// Only conversations in one of these states (empty: any state).
    pub states: Vec<ConversationState>,
    /// Only conversations created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Only conversations created before this instant (exclusive).
    pub created_before: Option<DateTime<Utc>>,
    /// Only conversations after this one in (`created_at`, `id`) order.
    pub after: Option<CreationCursor>,
    /// At most this many (0: the default, 100).
    pub limit: u32,
}

/// A new member of staff, with the hash of their API key.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub name: String,
    pub role: StaffRole,
    pub key_hash: String,
}

/// Which handoffs to list.
#[derive(Debug, Clone, Default)]
pub struct HandoffFilter {
    /// Only these statuses (empty: any).
    pub statuses: Vec<HandoffStatus>,
    /// Only this conversation's.
    pub conversation_id: Option<String>,
    /// Only those this agent holds (offered to them or assigned to them).
    pub agent_id: Option<String>,
    /// At most this many (0: the default, 1000).
    pub limit: u32,
    /// Most recently changed first, instead of queue order (for recent closed handoffs).
    pub recent_first: bool,
}

impl HandoffFilter {
    /// Open handoffs, in queue order: queued, offered or assigned.
    pub fn open() -> Self {
        HandoffFilter {
            statuses: vec![
                HandoffStatus::Queued,
                HandoffStatus::Offered,
                HandoffStatus::Assigned,
            ],
            ..Default::default()
        }
    }

    /// Handoffs waiting for a person, in queue order: queued or offered.
    pub fn waiting() -> Self {
        HandoffFilter {
            statuses: vec![HandoffStatus::Queued, HandoffStatus::Offered],
            ..Default::default()
        }
    }
}

/// A handoff as a change left it, with the events the change appended, in `seq` order: the
/// staff-only `handoff` event of the step, then, when the step moves the conversation, its
/// `state_changed` event, then the customer's system message about it, if the step has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub handoff: Handoff,
    pub events: Vec<Event>,
    /// The agent this change set away (they let too many offers lapse in a row).
    pub set_away: Option<String>,
}

impl Changed {
    /// The staff-only `handoff` event recording the step.
    pub fn step_event(&self) -> &Event {
        &self.events[0]
    }
}

/// The outcome of [`Store::change_handoff`].
pub type HandoffResult = std::result::Result<Changed, Refusal>;

/// The persistence interface shared by the SQLite and PostgreSQL implementations.
///
/// Writes return only once they are durable at the configured [`Durability`].
///
/// Knowledge-base changes are detected by polling, independently of the [`EventBus`]:
/// [`Store::kb_revision`] is one cheap read of a committed counter, so a process that keeps
/// a copy of the knowledge base (a search index, say) polls it and reloads when it has
/// moved. Nothing is published for KB writes, on either backend; on PostgreSQL, polling is
/// how one process learns of another's writes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// The event bus fed by this store's appends (and, on PostgreSQL, other processes').
    fn bus(&self) -> &EventBus;

    /// Returns the named secret, creating it with `generated` when absent. Every process
    /// sharing the database gets the same value.
    async fn secret(&self, name: &str, generated: &str) -> Result<String>;

    // --- accounts and customers ---

    /// Inserts or updates an account (from a verified identity token).
    async fn upsert_account(&self, account: &Account, now: DateTime<Utc>) -> Result<()>;
    async fn account(&self, id: &str) -> Result<Option<Account>>;
    /// Finds the customer with this external id (the identity token's `sub`) and updates
    /// name, email and account, or creates them.
    async fn upsert_identified_customer(
        &self,
        external_id: &str,
        name: Option<&str>,
        email: Option<&str>,
        account_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Customer>;
    async fn create_anonymous_customer(&self, now: DateTime<Utc>) -> Result<Customer>;
    async fn customer(&self, id: &str) -> Result<Option<Customer>>;
    /// Records the email address a customer left (an offline ticket's way back to them);
    /// `None` for an unknown customer.
    async fn set_customer_email(&self, id: &str, email: &str) -> Result<Option<Customer>>;

    // --- staff ---

    async fn create_staff(&self, staff: NewStaff, now: DateTime<Utc>) -> Result<Staff>;
    async fn list_staff(&self) -> Result<Vec<Staff>>;
    async fn staff(&self, id: &str) -> Result<Option<Staff>>;
    /// The staff member whose API key hashes to `key_hash` (disabled ones included).
    async fn staff_by_key_hash(&self, key_hash: &str) -> Result<Option<Staff>>;
    async fn set_staff_disabled(&self, id: &str, disabled: bool) -> Result<Option<Staff>>;
    async fn set_staff_key_hash(&self, id: &str, key_hash: &str) -> Result<Option<Staff>>;

    // --- agents: staff as routing sees them ---

    /// Every member of staff with their routing profile (teams, capacity, presence) and the
    /// number of handoffs they hold; staff without a profile come with no team, the default
    /// capacity and `offline`.
    async fn agents(&self) -> Result<Vec<Agent>>;
    async fn agent(&self, staff_id: &str) -> Result<Option<Agent>>;
    /// Sets an agent's teams and capacity; `None` when there is no such staff member.
    async fn set_agent_profile(
        &self,
        staff_id: &str,
        teams: &[String],
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Agent>>;
    /// Records a heartbeat and, when given, a new presence (`presence_at` moves only when the
    /// presence changes; a presence the agent sets clears Baton's reason for the last one and
    /// their count of missed offers); `None` when there is no such staff member.
    async fn touch_agent(
        &self,
        staff_id: &str,
        presence: Option<Presence>,
        now: DateTime<Utc>,
    ) -> Result<Option<Agent>>;

    // --- handoffs ---

    /// Stores a new handoff with its brief in one transaction: first `decision` (the staff-only
    /// decision event of the escalating turn, when given, so that the turn's decision and its
    /// handoff are one write), then the conversation's move to `waiting_human` (its
    /// `state_changed` event gives a customer-facing reason: the `message`'s
    /// [`state_reason`](baton_core::HandoverNotice::state_reason) when it carries a handover
    /// notice), one staff-only `handoff` event per step of the handoff's history (`queued`,
    /// and `offline` when it was created as an offline ticket) and then `message` (what the
    /// customer is told); returns the events appended. Fails with [`StoreError::Conflict`]
    /// when the conversation already has an open handoff (at most one per conversation) and
    /// with [`StoreError::InvalidTransition`] when the conversation cannot wait for a person
    /// from its state; nothing is written then.
    async fn create_handoff(
        &self,
        handoff: &Handoff,
        brief: &Brief,
        decision: Option<NewEvent>,
        message: Option<NewEvent>,
    ) -> Result<Vec<Event>>;
    async fn handoff(&self, id: &str) -> Result<Option<Handoff>>;
    async fn handoff_brief(&self, id: &str) -> Result<Option<Brief>>;
    /// Handoffs in queue order: highest priority first, then longest waiting, then id.
    async fn handoffs(&self, filter: &HandoffFilter) -> Result<Vec<Handoff>>;

    /// Applies a change as one step, in one transaction: the handoff is read and written
    /// under a lock, and when the change takes an agent's capacity
    /// ([`HandoffChange::takes_capacity_of`]) that agent is locked too and their teams, their
    /// other open handoffs and their other pending offers read in the same transaction, so
    /// that concurrent changes from any number of tasks or processes never give one handoff to
    /// two agents, an agent more than their capacity, nor a second offer to an agent whose
    /// team offers one at a time. Offers skip a handoff another transaction holds (`SKIP
    /// LOCKED` on PostgreSQL) and are refused ([`Refusal::Busy`]) instead of waiting.
    ///
    /// The same transaction records the step the core's state machine named
    /// ([`Handoff::last_step`]) as the staff-only `handoff` event, moves the conversation to
    /// the state the step implies ([`baton_core::Step::conversation_state`]) with its
    /// `state_changed` event, and appends what the customer sees of it: Baton's system
    /// message about the step ([`baton_core::handoff::notice::for_step`], in the names of
    /// `names`), or, for a rating, their rating. An agent's
    /// `last_assigned_at` moves when a change assigns them; their count of offers missed in a
    /// row grows when an offer lapses unanswered (`ExpireOffer` with a cool-down), sets them
    /// away past the change's `away_after_missed`, and starts again when they accept, take
    /// or decline one. `Ok(Err(refusal))` when the state machine refuses: nothing was
    /// written. `None` for an unknown handoff. Fails with
    /// [`StoreError::InvalidTransition`], writing nothing, when the conversation cannot move
    /// to the step's state.
    async fn change_handoff(
        &self,
        id: &str,
        change: &HandoffChange,
        names: &Names,
        now: DateTime<Utc>,
    ) -> Result<Option<HandoffResult>>;

    /// The latest customer message of each of these conversations that has one (for queue
    /// previews), by conversation id.
    async fn last_customer_messages(
        &self,
        conversation_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Event>>;

    // --- conversations and their timelines ---

    /// Creates a conversation in state `ai` and appends its `conversation_started` event
    /// (seq 1) in the same transaction.
    async fn create_conversation(
        &self,
        customer_id: &str,
        page: Option<PageContext>,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, Event)>;
    async fn conversation(&self, id: &str) -> Result<Option<Conversation>>;
    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>>;

    /// Conversations in `state` without any new event since before `updated_before`, the
    /// longest idle first, at most `limit` (0: the default, 100). For closing conversations
    /// that went quiet.
    async fn idle_conversations(
        &self,
        state: ConversationState,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Conversation>>;

    /// Conversations ordered by (`created_at`, `id`), oldest first, as [`CreationPage`]
    /// filters and pages them. Keyset pagination: a page costs the same however deep into
    /// the store it starts, and conversations created meanwhile are not skipped.
    async fn conversations_by_creation(&self, page: &CreationPage) -> Result<Vec<Conversation>>;

    /// Appends one event with the next `seq`. When the event carries a `client_msg_id` that
    /// this conversation already has, nothing is written and the stored event comes back as
    /// [`Appended::Existing`].
    async fn append_event(&self, conversation_id: &str, event: NewEvent) -> Result<Appended>;

    /// Moves the conversation to `to` and appends the `state_changed` event in one
    /// transaction. Fails with [`StoreError::InvalidTransition`] when the state machine does
    /// not allow the move; returns `None` when the conversation was already in `to`.
    async fn change_state(
        &self,
        conversation_id: &str,
        to: ConversationState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>>;

    /// Events with `seq > after`, oldest first, at most `limit` (0: the default, 1000); only
    /// those `visibility` allows when given (`Visibility::Customer` hides staff-only events).
    async fn events_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: u32,
        visibility: Option<Visibility>,
    ) -> Result<Vec<Event>>;

    // --- the knowledge base: opaque JSON articles by id (see `kb`); changes are polled ---

    /// Applies a set of changes in one transaction.
    ///
    /// An upsert whose content equals the stored content is `unchanged`; a retired article
    /// upserted again is revived and counts as `updated`; retiring an unknown or already
    /// retired id does nothing. Only when something changed is a new revision written (the
    /// next of 1, 2, 3…: revision numbers have no gaps, even with several processes writing
    /// at once), with each changed article's new content (or its retirement) kept in its
    /// history under that revision. Fails with [`StoreError::Conflict`], writing nothing,
    /// when an id is empty or both upserted and retired.
    async fn kb_write(&self, write: KbWrite, now: DateTime<Utc>) -> Result<KbWriteResult>;

    /// The active (not retired) articles, ordered by id (byte order).
    async fn kb_documents(&self) -> Result<Vec<KbDocument>>;

    /// The article with this id, unless it is unknown or retired.
    async fn kb_document(&self, id: &str) -> Result<Option<KbDocument>>;

    /// Every revision that changed the article, oldest first: its content then (`None`
    /// where it was retired) and when the revision was written. Empty for an unknown id.
    async fn kb_history(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, Option<serde_json::Value>, DateTime<Utc>)>>;

    /// The current KB revision: 0 until the first change. Poll it to notice changes made
    /// by other processes.
    async fn kb_revision(&self) -> Result<i64>;

    /// The revision log, newest first, at most `limit` entries (0: the default, 100).
    async fn kb_revisions(&self, limit: u32) -> Result<Vec<KbRevision>>;

    /// Stores the calibration fitted on KB revision `revision`, replacing any saved for it.
    async fn kb_save_calibration(
        &self,
        revision: i64,
        calibration: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// The saved calibration with the highest revision not above the current KB revision,
    /// with that revision; `None` when there is none.
    async fn kb_calibration(&self) -> Result<Option<(i64, serde_json::Value)>>;

    /// Waits for in-flight writes and closes the database.
    async fn close(&self);
}

/// Opens the store a database URL names, creating the SQLite file and its folder when
/// needed, and applies migrations.
pub async fn open(url: &str, durability: Durability) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, durability).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
