-- Baton's initial schema (SQLite).
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC): exact, sortable and the
-- same on both backends. JSON columns hold serde_json text.

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT,
    tier       TEXT,
    signup_at  INTEGER,
    owner      TEXT,
    attrs      TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY NOT NULL,
    -- The host product's id (identity token `sub`); NULL for anonymous visitors.
    external_id TEXT UNIQUE,
    name        TEXT,
    email       TEXT,
    -- Not a foreign key: the host product names the account, which may arrive later.
    account_id  TEXT,
    created_at  INTEGER NOT NULL
);

CREATE INDEX customers_account_id ON customers (account_id);

CREATE TABLE staff (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    state       TEXT NOT NULL,
    page        TEXT,
    -- The seq of the newest event; bumped in the same transaction as each insert.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX conversations_state_updated_at ON conversations (state, updated_at);
CREATE INDEX conversations_updated_at ON conversations (updated_at);
CREATE INDEX conversations_customer_id ON conversations (customer_id);

CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    visibility      TEXT NOT NULL,
    client_msg_id   TEXT,
    at              INTEGER NOT NULL,
    -- The serialized EventBody, its `type` tag included.
    body            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE UNIQUE INDEX events_client_msg_id ON events (conversation_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
