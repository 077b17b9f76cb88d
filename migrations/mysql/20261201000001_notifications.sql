-- Telling people (issue 14). A user may give an e-mail address (verified by a signed link),
-- a time zone for the times in their mails, and opt out of kinds of mail (`mail_opt_out`, one
-- bit per kind, server/src/notify/mod.rs). A deleted account keeps its row, emptied
-- (`deleted_at`), so the events it took part in still name a participant.
ALTER TABLE user
    ADD COLUMN email VARCHAR(254) NULL,
    ADD COLUMN email_key VARCHAR(254) NULL,
    ADD COLUMN email_verified_at DATETIME(6) NULL,
    ADD COLUMN time_zone VARCHAR(64) NULL,
    ADD COLUMN mail_opt_out INT NOT NULL DEFAULT 0,
    ADD COLUMN deleted_at DATETIME(6) NULL,
    ADD KEY user_email_key (email_key);

-- The organizer's reminder: how long before the deadline (0: none), and when it is due
-- (cleared in the transaction that writes the reminders). `everyone_answered_at`: the
-- organizer was told that everyone answered (once per event).
ALTER TABLE event
    ADD COLUMN reminder_minutes INT NOT NULL DEFAULT 0,
    ADD COLUMN reminder_due_at DATETIME(6) NULL,
    ADD COLUMN everyone_answered_at DATETIME(6) NULL,
    ADD KEY event_reminder_due (reminder_due_at);

-- What a user is told: the in-app list and the outbox of mails in one row, written in the
-- transaction of the change that causes it. `mail_due_at` is set while the mail is to be sent
-- (the next attempt, or the end of a sender's claim) and cleared when it is settled
-- (`mail_state` sent, skipped or failed).
CREATE TABLE notification (
    notification_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    event_id BIGINT NULL,
    kind VARCHAR(24) CHARACTER SET ascii NOT NULL,
    created_at DATETIME(6) NOT NULL,
    read_at DATETIME(6) NULL,
    mail_state VARCHAR(8) CHARACTER SET ascii NOT NULL,
    mail_due_at DATETIME(6) NULL,
    mail_attempts INT NOT NULL DEFAULT 0,
    mail_settled_at DATETIME(6) NULL,
    mail_error VARCHAR(500) NULL,
    KEY notification_mail_due (mail_due_at),
    KEY notification_user (user_id, notification_id),
    CONSTRAINT notification_user_fk FOREIGN KEY (user_id) REFERENCES user (user_id),
    CONSTRAINT notification_event_fk FOREIGN KEY (event_id) REFERENCES event (event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Which sessions belong to whom, so a password change, a reset or a deleted account can end
-- a user's other sessions (the session table holds only opaque data).
CREATE TABLE user_session (
    session_id VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY user_session_user (user_id)
) ENGINE = InnoDB;
