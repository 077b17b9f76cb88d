-- The name lower-cased by the server (Unicode, not only ASCII as SQLite's LOWER), for the
-- dashboard's search by name. Rows from before are lower-cased here as well as SQL can.
ALTER TABLE event ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE event SET name_key = LOWER(name);
