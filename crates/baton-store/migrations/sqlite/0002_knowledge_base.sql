-- The knowledge base (SQLite): articles as opaque JSON documents under caller-chosen ids,
-- versioned by KB revision.
--
-- A write that changes something takes the next revision (kb_head), logs it (kb_revisions)
-- and records each article it created, updated or retired in kb_history, all in one
-- transaction. Timestamps are INTEGER microseconds since the Unix epoch (UTC).

-- One row: the current KB revision, 0 until the first change.
CREATE TABLE kb_head (
    id       INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    revision INTEGER NOT NULL
);

INSERT INTO kb_head (id, revision) VALUES (1, 0);

CREATE TABLE kb_revisions (
    revision INTEGER PRIMARY KEY NOT NULL,
    at       INTEGER NOT NULL,
    note     TEXT NOT NULL,
    -- How many articles the revision created, updated (revivals included) and retired.
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    retired  INTEGER NOT NULL
);

-- Every article ever written, retired ones included (with their last content).
CREATE TABLE kb_articles (
    id         TEXT PRIMARY KEY NOT NULL,
    content    TEXT NOT NULL,
    retired    INTEGER NOT NULL DEFAULT 0,
    -- The revision that last changed the article, and when it was written.
    revision   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Each revision's change to each article: the new content, or NULL where it was retired.
CREATE TABLE kb_history (
    id       TEXT NOT NULL,
    revision INTEGER NOT NULL REFERENCES kb_revisions (revision),
    content  TEXT,
    PRIMARY KEY (id, revision)
);

-- Calibrations fitted on a revision's articles, opaque JSON like the articles.
CREATE TABLE kb_calibrations (
    revision    INTEGER PRIMARY KEY NOT NULL,
    calibration TEXT NOT NULL,
    saved_at    INTEGER NOT NULL
);
