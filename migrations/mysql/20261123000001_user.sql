-- Accounts. `username` keeps the case the user typed; `username_key` (lower case) enforces
-- case-insensitive uniqueness and is what log-in looks up.
CREATE TABLE user (
    user_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(32) NOT NULL,
    username_key VARCHAR(32) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY user_username_key (username_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
