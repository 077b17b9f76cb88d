-- Versions never go back (DESIGN.md §2 step 8): leaving keeps the answer row as a withdrawal
-- (`withdrawn_at`, version + 1) instead of deleting it, so a rejoin's next answer gets a higher
-- version than anything a node holds. `needs_dispatch` replaces `dispatched_version`: set by
-- every change to the row, cleared when a node acknowledges that version or the event is over,
-- so the reconciler reads an index instead of comparing two columns over the whole table.
ALTER TABLE answer ADD COLUMN withdrawn_at TEXT;
ALTER TABLE answer ADD COLUMN needs_dispatch BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE answer SET needs_dispatch = (dispatched_version < version
    AND event_id IN (SELECT event_id FROM event WHERE outcome_stored_at IS NULL AND cancelled_at IS NULL));
ALTER TABLE answer DROP COLUMN dispatched_version;
CREATE INDEX answer_needs_dispatch ON answer (needs_dispatch, event_id);
