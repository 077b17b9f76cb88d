-- Telling people (issue 14). A user may give an e-mail address (verified by a signed link),
-- a time zone for the times in their mails, and opt out of kinds of mail (`mail_opt_out`, one
-- bit per kind, server/src/notify/mod.rs). A deleted account keeps its row, emptied
-- (`deleted_at`), so the events it took part in still name a participant.
ALTER TABLE user ADD COLUMN email TEXT;
ALTER TABLE user ADD COLUMN email_key TEXT;
ALTER TABLE user ADD COLUMN email_verified_at TEXT;
ALTER TABLE user ADD COLUMN time_zone TEXT;
ALTER TABLE user ADD COLUMN mail_opt_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user ADD COLUMN deleted_at TEXT;
CREATE INDEX user_email_key ON user (email_key);

-- The organizer's reminder: how long before the deadline (0: none), and when it is due
-- (cleared in the transaction that writes the reminders). `everyone_answered_at`: the
-- organizer was told that everyone answered (once per event).
ALTER TABLE event ADD COLUMN reminder_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event ADD COLUMN reminder_due_at TEXT;
ALTER TABLE event ADD COLUMN everyone_answered_at TEXT;
CREATE INDEX event_reminder_due ON event (reminder_due_at);

-- What a user is told: the in-app list and the outbox of mails in one row, written in the
-- transaction of the change that causes it. `mail_due_at` is set while the mail is to be sent
-- (the next attempt, or the end of a sender's claim) and cleared when it is settled
-- (`mail_state` sent, skipped or failed).
CREATE TABLE notification (
    notification_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user (user_id),
    event_id INTEGER REFERENCES event (event_id),
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    mail_state TEXT NOT NULL,
    mail_due_at TEXT,
    mail_attempts INTEGER NOT NULL DEFAULT 0,
    mail_settled_at TEXT,
    mail_error TEXT
);
CREATE INDEX notification_mail_due ON notification (mail_due_at);
CREATE INDEX notification_user ON notification (user_id, notification_id);

-- Which sessions belong to whom, so a password change, a reset or a deleted account can end
-- a user's other sessions (the session table holds only opaque data).
CREATE TABLE user_session (
    session_id TEXT NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX user_session_user ON user_session (user_id);
