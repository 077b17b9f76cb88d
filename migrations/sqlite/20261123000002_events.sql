-- Events, their participants, answers (the source of truth; nodes hold working copies), and
-- the event nodes the server knows. Times are UTC.
CREATE TABLE event (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    organizer_id INTEGER NOT NULL REFERENCES user (user_id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    deadline TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    window_start TEXT,
    window_end TEXT,
    capacity INTEGER,
    time_zone TEXT NOT NULL,
    coordinator_node TEXT,
    coordinator_epoch INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    outcome_stored_at TEXT,
    cancelled_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX event_organizer ON event (organizer_id);
CREATE INDEX event_unfinished_deadline ON event (outcome_stored_at, deadline);
CREATE INDEX event_coordinator ON event (coordinator_node);

CREATE TABLE participant (
    participant_id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES event (event_id),
    user_id INTEGER NOT NULL REFERENCES user (user_id),
    joined_at TEXT NOT NULL,
    left_at TEXT,
    UNIQUE (event_id, user_id)
);
CREATE INDEX participant_user ON participant (user_id);

CREATE TABLE answer (
    participant_id INTEGER PRIMARY KEY REFERENCES participant (participant_id),
    event_id INTEGER NOT NULL REFERENCES event (event_id),
    intervals TEXT NOT NULL,
    version INTEGER NOT NULL,
    accepted_at TEXT NOT NULL,
    assigned_node TEXT,
    dispatched_version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX answer_event ON answer (event_id);
CREATE INDEX answer_assigned_node ON answer (assigned_node);

CREATE TABLE node (
    node_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    strikes INTEGER NOT NULL DEFAULT 0,
    last_seen_at TEXT
);
