-- Every change to what an event's page shows (a join, a leave, an answer, the cancellation,
-- the outcome) bumps the event's generation in the transaction that makes the change. Caches
-- in any server process key their copies on it, and live pages learn of changes by it.
ALTER TABLE event ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
