-- Baton's initial schema (PostgreSQL).
--
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC): exact, sortable and the
-- same on both backends. Unqualified names, so the schema comes from the search_path.

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    tier       TEXT,
    signup_at  BIGINT,
    owner      TEXT,
    attrs      JSONB NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    -- The host product's id (identity token `sub`); NULL for anonymous visitors.
    external_id TEXT UNIQUE,
    name        TEXT,
    email       TEXT,
    -- Not a foreign key: the host product names the account, which may arrive later.
    account_id  TEXT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX customers_account_id ON customers (account_id);

CREATE TABLE staff (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    state       TEXT NOT NULL,
    page        JSONB,
    -- The seq of the newest event. Appends bump it first: the row lock this takes
    -- serializes appends to one conversation across processes, so seqs have no gaps.
    last_seq    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX conversations_state_updated_at ON conversations (state, updated_at);
CREATE INDEX conversations_updated_at ON conversations (updated_at);
CREATE INDEX conversations_customer_id ON conversations (customer_id);

CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             BIGINT NOT NULL,
    type            TEXT NOT NULL,
    visibility      TEXT NOT NULL,
    client_msg_id   TEXT,
    at              BIGINT NOT NULL,
    -- The serialized EventBody, its `type` tag included.
    body            JSONB NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE UNIQUE INDEX events_client_msg_id ON events (conversation_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
