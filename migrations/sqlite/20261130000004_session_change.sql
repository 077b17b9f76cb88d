-- Sessions changed (logged out, or their data rewritten), written in the transaction that
-- changes them. Every server process keeps the sessions in use in memory and reads the last
-- seconds of this table a few times a second to drop its copies (server/src/sessions/changes.rs);
-- rows older than a minute are deleted.
CREATE TABLE session_change (
    change_id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX session_change_at ON session_change (changed_at);
