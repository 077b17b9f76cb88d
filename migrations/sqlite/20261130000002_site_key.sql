-- Secrets the server signs with (`server::site_key`), shared by every server process on this
-- database so that what one signs another accepts, and kept across restarts. One row per
-- purpose; the first process that needs a key creates it.
CREATE TABLE site_key (
    purpose TEXT NOT NULL PRIMARY KEY,
    secret BLOB NOT NULL
);
