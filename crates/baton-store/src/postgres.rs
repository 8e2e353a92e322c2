//! The PostgreSQL backend, for several Baton processes sharing one database.
//!
//! Every write is its own transaction. Appends to one conversation queue up on the row lock
//! that bumping `conversations.last_seq` takes, which keeps seqs gap-free across processes.
//! Committed events reach the other processes through `NOTIFY` (see [`notify`]). Knowledge-base
//! writes queue up on a lock of their own (see [`kb`]) and are not announced: other processes
//! poll the KB revision.

mod handoff;
mod kb;
mod notify;

use std::collections::HashMap;

use async_trait::async_trait;
use baton_core::handoff::{Handoff, HandoffChange, Names};
use baton_core::routing::Presence;
use baton_core::{
    Account, Agent, Brief, Conversation, ConversationState, Customer, Event, EventBody, NewEvent,
    PageContext, Staff, Visibility,
};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use self::notify::Notifier;

use crate::codec::{
    self, AccountRow, ConversationRow, CreationBounds, CustomerRow, EventRecord, EventRow, StaffRow,
};
use crate::kb::PreparedWrite;
use crate::step::Escalation;
use crate::{
    Appended, ConversationFilter, CreationPage, EventBus, EventNotice, HandoffFilter,
    HandoffResult, KbDocument, KbRevision, KbWrite, KbWriteResult, NewStaff, Result, Store,
    StoreError,
};

/// Connections for queries; notices have their own.
const POOL_SIZE: u32 = 16;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL implementation of [`Store`].
///
/// Tables are created unqualified, so the schema is the connection's `search_path`: add
/// `options=-c%20search_path%3DNAME` to the URL to keep one installation (or one test) in
/// its own schema.
pub struct PostgresStore {
    pool: PgPool,
    bus: EventBus,
    /// The schema the tables live in, from `current_schema()`.
    schema: String,
    notifier: Notifier,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database `postgres://...` names, brings its schema up to date and
    /// starts listening for other processes' events. Durability is PostgreSQL's own.
    pub async fn open(url: &str) -> Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        let schema = schema.unwrap_or_else(|| "public".to_string());
        let bus = EventBus::default();
        let notifier = Notifier::start(&options, bus.clone(), schema.clone()).await?;
        Ok(PostgresStore {
            pool,
            bus,
            schema,
            notifier,
        })
    }

    /// Tells this process's subscribers and the other processes about a committed event.
    fn publish(&self, conversation_id: &str, event: &Event) {
        self.publish_with(conversation_id, event, None);
    }

    /// Publishes the events a handoff's write appended, its `handoff` events with the
    /// handoff as the write left it.
    fn publish_handoff_events(&self, handoff: &Handoff, events: &[Event]) {
        for event in events {
            let attached = matches!(event.body, EventBody::Handoff { .. }).then_some(handoff);
            self.publish_with(&handoff.conversation_id, event, attached);
        }
    }

    /// Publishes a `handoff` event with the handoff as its change left it.
    fn publish_with(&self, conversation_id: &str, event: &Event, handoff: Option<&Handoff>) {
        self.notifier.announce(conversation_id, event.seq);
        self.bus.publish(EventNotice {
            conversation_id: conversation_id.to_string(),
            seq: event.seq,
            event: Some(event.clone()),
            handoff: handoff.cloned(),
        });
    }
}

async fn insert_event(
    conn: &mut PgConnection,
    conversation_id: &str,
    seq: i64,
    record: &EventRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (conversation_id, seq, type, visibility, client_msg_id, at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
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

/// Appends one event inside the caller's transaction: locks the conversation, bumps its
/// `last_seq` (and `updated_at`) and inserts the event at the new seq.
async fn append_one(
    conn: &mut PgConnection,
    conversation_id: &str,
    record: EventRecord,
) -> Result<Event> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1,
            updated_at = GREATEST(updated_at, $2)
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(record.at_micros())
    .fetch_optional(&mut *conn)
    .await?;
    let seq = seq.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))?;
    insert_event(conn, conversation_id, seq, &record).await?;
    Ok(record.into_event(seq))
}

/// Locks the conversation's row for the rest of the transaction and returns its state.
async fn locked_state(conn: &mut PgConnection, conversation_id: &str) -> Result<String> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(conversation_id)
            .fetch_optional(&mut *conn)
            .await?;
    state.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))
}

/// Moves the (locked) conversation to `state` and bumps its `last_seq` (and `updated_at`),
/// returning the new seq.
async fn move_to(
    conn: &mut PgConnection,
    conversation_id: &str,
    state: ConversationState,
    at: DateTime<Utc>,
) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET state = $2, last_seq = last_seq + 1,
            updated_at = GREATEST(updated_at, $3)
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(state.as_str())
    .bind(codec::micros(at))
    .fetch_optional(&mut *conn)
    .await?;
    seq.ok_or_else(|| StoreError::ConversationNotFound(conversation_id.to_string()))
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn bus(&self) -> &EventBus {
        &self.bus
    }

    async fn secret(&self, name: &str, generated: &str) -> Result<String> {
        let read = || {
            sqlx::query_scalar::<_, String>("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
        };
        if let Some(value) = read().await? {
            return Ok(value);
        }
        // When two processes race, the loser's insert waits for the winner's and does
        // nothing; both then read the winner's value.
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generated)
        .execute(&self.pool)
        .await?;
        read()
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("secret {name:?} vanished")))
    }

    async fn upsert_account(&self, account: &Account, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, tier, signup_at, owner, attrs, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, tier = EXCLUDED.tier,
                signup_at = EXCLUDED.signup_at, owner = EXCLUDED.owner, attrs = EXCLUDED.attrs,
                updated_at = EXCLUDED.updated_at",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(&account.tier)
        .bind(account.signup_at.map(codec::micros))
        .bind(&account.owner)
        .bind(codec::to_json(&account.attrs)?)
        .bind(codec::micros(now))
        .execute(&self.pool)
        .await
        .map_err(codec::database_error)?;
        Ok(())
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT id, name, tier, signup_at, owner, attrs::text FROM accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
        // A token that leaves a field out keeps what an earlier token said.
        let row: CustomerRow = sqlx::query_as(
            "INSERT INTO customers (id, external_id, name, email, account_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (external_id) DO UPDATE SET
                name = COALESCE(EXCLUDED.name, customers.name),
                email = COALESCE(EXCLUDED.email, customers.email),
                account_id = COALESCE(EXCLUDED.account_id, customers.account_id)
             RETURNING id, external_id, name, email, account_id, created_at",
        )
        .bind(codec::new_id())
        .bind(external_id)
        .bind(name)
        .bind(email)
        .bind(account_id)
        .bind(codec::micros(now))
        .fetch_one(&self.pool)
        .await
        .map_err(codec::database_error)?;
        codec::customer(row)
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
        sqlx::query("INSERT INTO customers (id, created_at) VALUES ($1, $2)")
            .bind(&customer.id)
            .bind(codec::micros(customer.created_at))
            .execute(&self.pool)
            .await
            .map_err(codec::database_error)?;
        Ok(customer)
    }

    async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let row: Option<CustomerRow> = sqlx::query_as(
            "SELECT id, external_id, name, email, account_id, created_at
             FROM customers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::customer).transpose()
    }

    async fn set_customer_email(&self, id: &str, email: &str) -> Result<Option<Customer>> {
        let row: Option<CustomerRow> = sqlx::query_as(
            "UPDATE customers SET email = $2 WHERE id = $1
             RETURNING id, external_id, name, email, account_id, created_at",
        )
        .bind(id)
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::customer).transpose()
    }

    async fn create_staff(&self, staff: NewStaff, now: DateTime<Utc>) -> Result<Staff> {
        let created = Staff {
            id: codec::new_id(),
            name: staff.name,
            role: staff.role,
            disabled: false,
            created_at: codec::truncate_to_micros(now),
        };
        sqlx::query(
            "INSERT INTO staff (id, name, role, disabled, key_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&created.id)
        .bind(&created.name)
        .bind(created.role.as_str())
        .bind(created.disabled)
        .bind(&staff.key_hash)
        .bind(codec::micros(created.created_at))
        .execute(&self.pool)
        .await
        .map_err(codec::database_error)?;
        Ok(created)
    }

    async fn list_staff(&self) -> Result<Vec<Staff>> {
        let rows: Vec<StaffRow> = sqlx::query_as(
            "SELECT id, name, role, disabled, created_at FROM staff ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(codec::staff).collect()
    }

    async fn staff(&self, id: &str) -> Result<Option<Staff>> {
        let row: Option<StaffRow> =
            sqlx::query_as("SELECT id, name, role, disabled, created_at FROM staff WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(codec::staff).transpose()
    }

    async fn staff_by_key_hash(&self, key_hash: &str) -> Result<Option<Staff>> {
        let row: Option<StaffRow> = sqlx::query_as(
            "SELECT id, name, role, disabled, created_at FROM staff WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::staff).transpose()
    }

    async fn set_staff_disabled(&self, id: &str, disabled: bool) -> Result<Option<Staff>> {
        let row: Option<StaffRow> = sqlx::query_as(
            "UPDATE staff SET disabled = $2 WHERE id = $1
             RETURNING id, name, role, disabled, created_at",
        )
        .bind(id)
        .bind(disabled)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::staff).transpose()
    }

    async fn set_staff_key_hash(&self, id: &str, key_hash: &str) -> Result<Option<Staff>> {
        let row: Option<StaffRow> = sqlx::query_as(
            "UPDATE staff SET key_hash = $2 WHERE id = $1
             RETURNING id, name, role, disabled, created_at",
        )
        .bind(id)
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(codec::database_error)?;
        row.map(codec::staff).transpose()
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        handoff::agents(&self.pool).await
    }

    async fn agent(&self, staff_id: &str) -> Result<Option<Agent>> {
        handoff::agent(&self.pool, staff_id).await
    }

    async fn set_agent_profile(
        &self,
        staff_id: &str,
        teams: &[String],
        capacity: u32,
        _now: DateTime<Utc>,
    ) -> Result<Option<Agent>> {
        handoff::set_profile(&self.pool, staff_id, &codec::teams_json(teams)?, capacity).await
    }

    async fn touch_agent(
        &self,
        staff_id: &str,
        presence: Option<Presence>,
        now: DateTime<Utc>,
    ) -> Result<Option<Agent>> {
        let now = codec::truncate_to_micros(now);
        handoff::touch(&self.pool, staff_id, presence.map(Presence::as_str), now).await
    }

    async fn create_handoff(
        &self,
        handoff: &Handoff,
        brief: &Brief,
        decision: Option<NewEvent>,
        message: Option<NewEvent>,
    ) -> Result<Vec<Event>> {
        let escalation = Escalation::new(handoff, brief, decision, message)?;
        let events = handoff::create(&self.pool, &escalation).await?;
        self.publish_handoff_events(handoff, &events);
        Ok(events)
    }

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>> {
        handoff::handoff(&self.pool, id).await
    }

    async fn handoff_brief(&self, id: &str) -> Result<Option<Brief>> {
        handoff::brief(&self.pool, id).await
    }

    async fn handoffs(&self, filter: &HandoffFilter) -> Result<Vec<Handoff>> {
        handoff::handoffs(&self.pool, filter).await
    }

    async fn change_handoff(
        &self,
        id: &str,
        change: &HandoffChange,
        names: &Names,
        now: DateTime<Utc>,
    ) -> Result<Option<HandoffResult>> {
        let outcome = handoff::change(
            &self.pool,
            id,
            change,
            names,
            codec::truncate_to_micros(now),
        )
        .await?;
        if let Some(Ok(changed)) = &outcome {
            self.publish_handoff_events(&changed.handoff, &changed.events);
        }
        Ok(outcome)
    }

    async fn last_customer_messages(
        &self,
        conversation_ids: &[String],
    ) -> Result<HashMap<String, Event>> {
        handoff::last_customer_messages(&self.pool, conversation_ids).await
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

        let mut tx = self.pool.begin().await?;
        let customer: Option<i32> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(&mut *tx)
            .await?;
        if customer.is_none() {
            return Err(StoreError::Conflict(format!(
                "customer {customer_id} does not exist"
            )));
        }
        sqlx::query(
            "INSERT INTO conversations
                (id, customer_id, state, page, last_seq, created_at, updated_at)
             VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
        )
        .bind(&conversation.id)
        .bind(&conversation.customer_id)
        .bind(conversation.state.as_str())
        .bind(page_json)
        .bind(conversation.last_seq)
        .bind(codec::micros(conversation.created_at))
        .bind(codec::micros(conversation.updated_at))
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, &conversation.id, conversation.last_seq, &record).await?;
        tx.commit().await?;

        let event = record.into_event(conversation.last_seq);
        self.publish(&conversation.id, &event);
        Ok((conversation, event))
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>> {
        let row: Option<ConversationRow> = sqlx::query_as(
            "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
             FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::conversation).transpose()
    }

    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>> {
        // One statement per filter shape, so each can use its index.
        let sql = match (filter.state.is_some(), filter.customer_id.is_some()) {
            (false, false) => {
                "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
                 FROM conversations
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            }
            (true, false) => {
                "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
                 FROM conversations WHERE state = $2
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            }
            (false, true) => {
                "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
                 FROM conversations WHERE customer_id = $2
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            }
            (true, true) => {
                "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
                 FROM conversations WHERE state = $2 AND customer_id = $3
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            }
        };
        let mut query = sqlx::query_as::<_, ConversationRow>(sql).bind(codec::limit_or(
            filter.limit,
            codec::DEFAULT_CONVERSATION_LIMIT,
        ));
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(customer_id) = &filter.customer_id {
            query = query.bind(customer_id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn idle_conversations(
        &self,
        state: ConversationState,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let rows = sqlx::query_as::<_, ConversationRow>(
            "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
             FROM conversations WHERE state = $1 AND updated_at < $2
             ORDER BY updated_at, id LIMIT $3",
        )
        .bind(state.as_str())
        .bind(codec::micros(updated_before))
        .bind(codec::limit_or(limit, codec::DEFAULT_CONVERSATION_LIMIT))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn conversations_by_creation(&self, page: &CreationPage) -> Result<Vec<Conversation>> {
        let bounds = CreationBounds::new(page);
        // The row-value comparison walks the (created_at, id) index from the cursor.
        let sql = if bounds.states.is_empty() {
            "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
             FROM conversations
             WHERE (created_at, id) > ($1, $2) AND created_at < $3
             ORDER BY created_at, id LIMIT $4"
        } else {
            "SELECT id, customer_id, state, page::text, last_seq, created_at, updated_at
             FROM conversations
             WHERE (created_at, id) > ($1, $2) AND created_at < $3 AND state = ANY($5)
             ORDER BY created_at, id LIMIT $4"
        };
        let mut query = sqlx::query_as::<_, ConversationRow>(sql)
            .bind(bounds.after_at)
            .bind(&bounds.after_id)
            .bind(bounds.before)
            .bind(bounds.limit);
        if !bounds.states.is_empty() {
            query = query.bind(&bounds.states);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::conversation).collect()
    }

    async fn append_event(&self, conversation_id: &str, event: NewEvent) -> Result<Appended> {
        let record = EventRecord::new(event)?;
        // One statement, so one round trip and no transaction left open between them.
        // Locking the conversation row first queues concurrent appends (duplicates
        // included) behind each other; after the wait, READ COMMITTED hands this statement
        // the latest `last_seq`, and the insert sees a duplicate committed meanwhile. The
        // bump happens only when the insert did, so a duplicate leaves no gap.
        let seq: Option<i64> = sqlx::query_scalar(
            "WITH locked AS (
                SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE
             ), inserted AS (
                INSERT INTO events (conversation_id, seq, type, visibility, client_msg_id, at, body)
                SELECT $1, last_seq + 1, $2, $3, $4, $5, $6::jsonb FROM locked
                ON CONFLICT (conversation_id, client_msg_id) WHERE client_msg_id IS NOT NULL
                DO NOTHING
                RETURNING seq
             )
             UPDATE conversations
             SET last_seq = inserted.seq, updated_at = GREATEST(updated_at, $5)
             FROM inserted WHERE conversations.id = $1
             RETURNING inserted.seq",
        )
        .bind(conversation_id)
        .bind(record.type_name())
        .bind(record.visibility())
        .bind(record.client_msg_id())
        .bind(record.at_micros())
        .bind(&record.body_json)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(seq) = seq {
            let event = record.into_event(seq);
            self.publish(conversation_id, &event);
            return Ok(Appended::Created(event));
        }

        // Nothing written: the key was taken, or there is no such conversation.
        if let Some(client_msg_id) = record.client_msg_id() {
            let stored: Option<EventRow> = sqlx::query_as(
                "SELECT seq, at, body::text FROM events
                 WHERE conversation_id = $1 AND client_msg_id = $2",
            )
            .bind(conversation_id)
            .bind(client_msg_id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = stored {
                return Ok(Appended::Existing(codec::event(row)?));
            }
        }
        Err(StoreError::ConversationNotFound(
            conversation_id.to_string(),
        ))
    }

    async fn change_state(
        &self,
        conversation_id: &str,
        to: ConversationState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>> {
        let mut tx = self.pool.begin().await?;
        let state = locked_state(&mut tx, conversation_id).await?;
        let Some(record) = codec::state_change(&state, to, reason.map(str::to_string), now)? else {
            return Ok(None);
        };
        let seq = move_to(&mut tx, conversation_id, to, record.at).await?;
        insert_event(&mut tx, conversation_id, seq, &record).await?;
        tx.commit().await?;

        let event = record.into_event(seq);
        self.publish(conversation_id, &event);
        Ok(Some(event))
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
                "SELECT seq, at, body::text FROM events
                 WHERE conversation_id = $1 AND seq > $2 AND visibility = 'customer'
                 ORDER BY seq LIMIT $3"
            }
            Some(Visibility::Staff) | None => {
                "SELECT seq, at, body::text FROM events
                 WHERE conversation_id = $1 AND seq > $2
                 ORDER BY seq LIMIT $3"
            }
        };
        let rows: Vec<EventRow> = sqlx::query_as(sql)
            .bind(conversation_id)
            .bind(after)
            .bind(codec::limit_or(limit, codec::DEFAULT_EVENT_LIMIT))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(codec::event).collect()
    }

    async fn kb_write(&self, write: KbWrite, now: DateTime<Utc>) -> Result<KbWriteResult> {
        // Checked and serialized before the transaction takes the KB lock.
        let write = PreparedWrite::new(write, now)?;
        kb::write(&self.pool, &write).await
    }

    async fn kb_documents(&self) -> Result<Vec<KbDocument>> {
        kb::documents(&self.pool).await
    }

    async fn kb_document(&self, id: &str) -> Result<Option<KbDocument>> {
        kb::document(&self.pool, id).await
    }

    async fn kb_history(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, Option<serde_json::Value>, DateTime<Utc>)>> {
        kb::history(&self.pool, id).await
    }

    async fn kb_revision(&self) -> Result<i64> {
        kb::revision(&self.pool).await
    }

    async fn kb_revisions(&self, limit: u32) -> Result<Vec<KbRevision>> {
        kb::revisions(&self.pool, limit).await
    }

    async fn kb_save_calibration(
        &self,
        revision: i64,
        calibration: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        kb::save_calibration(&self.pool, revision, &codec::to_json(&calibration)?, now).await
    }

    async fn kb_calibration(&self) -> Result<Option<(i64, serde_json::Value)>> {
        kb::calibration(&self.pool).await
    }

    async fn close(&self) {
        self.notifier.stop().await;
        self.pool.close().await;
    }
}
