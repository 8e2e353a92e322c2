-- Handoffs and the agents who take them (PostgreSQL).

-- Staff as routing sees them. A member of staff without a row here has no team, the
-- default capacity and is offline.
CREATE TABLE agents (
    staff_id         TEXT PRIMARY KEY REFERENCES staff (id),
    -- JSON array of policy team names.
    teams            JSONB NOT NULL DEFAULT '[]',
    capacity         INTEGER NOT NULL,
    presence         TEXT NOT NULL DEFAULT 'offline',
    presence_at      BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    last_assigned_at BIGINT
);

CREATE TABLE handoffs (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    status          TEXT NOT NULL,
    -- 0 low, 1 normal, 2 high, 3 urgent: the queue drains the highest first.
    priority        INTEGER NOT NULL,
    -- The agent an open handoff is offered or assigned to.
    holder          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- The whole handoff (baton_core::Handoff) as JSON; the columns above index it.
    body            JSONB NOT NULL,
    -- The brief (brief.v1) as JSON.
    brief           JSONB NOT NULL
);

-- At most one open handoff per conversation.
CREATE UNIQUE INDEX handoffs_open_conversation ON handoffs (conversation_id)
    WHERE status <> 'closed';
-- The queue: open handoffs by priority, then waiting time.
CREATE INDEX handoffs_queue ON handoffs (status, priority DESC, created_at, id);
-- What an agent holds (capacity checks).
CREATE INDEX handoffs_holder ON handoffs (holder, status) WHERE holder IS NOT NULL;
CREATE INDEX handoffs_conversation ON handoffs (conversation_id, created_at);
