-- Sessions changed (logged out, or their data rewritten), written in the transaction that
-- changes them. Every server process keeps the sessions in use in memory and reads the last
-- seconds of this table a few times a second to drop its copies (server/src/sessions/changes.rs);
-- rows older than a minute are deleted.
CREATE TABLE session_change (
    change_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    session_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
    changed_at DATETIME(6) NOT NULL,
    INDEX session_change_at (changed_at)
);
