-- Secrets the server signs with (`server::site_key`), shared by every server process on this
-- database so that what one signs another accepts, and kept across restarts. One row per
-- purpose; the first process that needs a key creates it.
CREATE TABLE site_key (
    purpose VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    secret VARBINARY(64) NOT NULL
);
