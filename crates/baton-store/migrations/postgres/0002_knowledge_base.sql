-- The knowledge base (PostgreSQL): articles as opaque JSON documents under caller-chosen
-- ids, versioned by KB revision.
--
-- A write locks the kb_head row first, so KB writes from every process queue up behind
-- each other; it takes the next revision, logs it (kb_revisions) and records each article
-- it created, updated or retired in kb_history, all in one transaction. The head is bumped
-- only by a write that commits a change, so revisions have no gaps. Timestamps are BIGINT
-- microseconds since the Unix epoch (UTC).

-- One row: the current KB revision, 0 until the first change.
CREATE TABLE kb_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);

INSERT INTO kb_head (id, revision) VALUES (1, 0);

CREATE TABLE kb_revisions (
    revision BIGINT PRIMARY KEY,
    at       BIGINT NOT NULL,
    note     TEXT NOT NULL,
    -- How many articles the revision created, updated (revivals included) and retired.
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL,
    retired  BIGINT NOT NULL
);

-- Every article ever written, retired ones included (with their last content). Ids use
-- the "C" collation so they sort by bytes, as on SQLite, whatever the database's locale.
CREATE TABLE kb_articles (
    id         TEXT COLLATE "C" PRIMARY KEY,
    content    JSONB NOT NULL,
    retired    BOOLEAN NOT NULL DEFAULT FALSE,
    -- The revision that last changed the article, and when it was written.
    revision   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each revision's change to each article: the new content, or NULL where it was retired.
CREATE TABLE kb_history (
    id       TEXT COLLATE "C" NOT NULL,
    revision BIGINT NOT NULL REFERENCES kb_revisions (revision),
    content  JSONB,
    PRIMARY KEY (id, revision)
);

-- Calibrations fitted on a revision's articles, opaque JSON like the articles.
CREATE TABLE kb_calibrations (
    revision    BIGINT PRIMARY KEY,
    calibration JSONB NOT NULL,
    saved_at    BIGINT NOT NULL
);
