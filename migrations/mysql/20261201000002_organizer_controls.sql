-- Organizer controls: answers hidden from the other participants (they see counts only).
ALTER TABLE event ADD COLUMN answers_hidden BOOLEAN NOT NULL DEFAULT FALSE;
