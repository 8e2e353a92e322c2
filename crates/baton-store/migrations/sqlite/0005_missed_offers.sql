-- Offers an agent let lapse in a row, and why Baton last changed their presence (SQLite).

-- Grows when an offer lapses unanswered; starts again when the agent accepts, takes or
-- declines one, or sets their own presence.
ALTER TABLE agents ADD COLUMN missed_offers INTEGER NOT NULL DEFAULT 0;
-- Set when Baton changed the presence ("missed 3 offers in a row"); the agent's own
-- presence change clears it.
ALTER TABLE agents ADD COLUMN presence_reason TEXT;
