-- Accounts. `username` keeps the case the user typed; `username_key` (lower case) enforces
-- case-insensitive uniqueness and is what log-in looks up.
CREATE TABLE user (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
