-- Event codes and username keys compare byte for byte. Without a declared collation they took
-- the table's default (utf8mb4_general_ci): case- and accent-insensitive, so an event code
-- matched in any case (about 7 bits of its randomness lost) and `alicé` found `alice`'s
-- account past its per-account throttle. Usernames are ASCII by rule and their key is lower
-- case, codes are generated: no existing rows collide under the stricter comparison.
ALTER TABLE event MODIFY code VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE user MODIFY username_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
