-- Events, their participants, answers (the source of truth; nodes hold working copies), and
-- the event nodes the server knows. Times are UTC.
CREATE TABLE event (
    event_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code VARCHAR(16) NOT NULL,
    organizer_id BIGINT NOT NULL,
    name VARCHAR(120) NOT NULL,
    description TEXT NOT NULL,
    deadline DATETIME(6) NOT NULL,
    duration_minutes INT NOT NULL,
    window_start DATETIME(6) NULL,
    window_end DATETIME(6) NULL,
    capacity INT NULL,
    time_zone VARCHAR(64) NOT NULL,
    coordinator_node VARCHAR(64) NULL,
    coordinator_epoch BIGINT NOT NULL DEFAULT 0,
    outcome MEDIUMTEXT NULL,
    outcome_stored_at DATETIME(6) NULL,
    cancelled_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY event_code (code),
    KEY event_organizer (organizer_id),
    KEY event_unfinished_deadline (outcome_stored_at, deadline),
    KEY event_coordinator (coordinator_node),
    CONSTRAINT event_organizer_fk FOREIGN KEY (organizer_id) REFERENCES user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE participant (
    participant_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    joined_at DATETIME(6) NOT NULL,
    left_at DATETIME(6) NULL,
    UNIQUE KEY participant_event_user (event_id, user_id),
    KEY participant_user (user_id),
    CONSTRAINT participant_event_fk FOREIGN KEY (event_id) REFERENCES event (event_id),
    CONSTRAINT participant_user_fk FOREIGN KEY (user_id) REFERENCES user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE answer (
    participant_id BIGINT NOT NULL PRIMARY KEY,
    event_id BIGINT NOT NULL,
    intervals MEDIUMTEXT NOT NULL,
    version BIGINT NOT NULL,
    accepted_at DATETIME(6) NOT NULL,
    assigned_node VARCHAR(64) NULL,
    dispatched_version BIGINT NOT NULL DEFAULT 0,
    KEY answer_event (event_id),
    KEY answer_assigned_node (assigned_node),
    CONSTRAINT answer_participant_fk FOREIGN KEY (participant_id) REFERENCES participant (participant_id),
    CONSTRAINT answer_event_fk FOREIGN KEY (event_id) REFERENCES event (event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE node (
    node_id VARCHAR(64) NOT NULL PRIMARY KEY,
    address VARCHAR(128) NOT NULL,
    state VARCHAR(16) NOT NULL,
    strikes INT NOT NULL DEFAULT 0,
    last_seen_at DATETIME(6) NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
