-- Conversations in creation order (exports, back-tests): keyset pages by (created_at, id)
-- walk this index from the cursor instead of sorting the whole table for each page.

CREATE INDEX conversations_created_at_id ON conversations (created_at, id);
