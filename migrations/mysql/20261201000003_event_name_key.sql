-- The name lower-cased by the server, for the dashboard's search by name (the same rule on
-- both databases). Rows from before are lower-cased here.
ALTER TABLE event ADD COLUMN name_key VARCHAR(480) NOT NULL DEFAULT '';
UPDATE event SET name_key = LOWER(name);
