-- Calendar-feed tokens: each opens one provider's bookings feed. Only a
-- digest of the token's secret is kept; a revoked token keeps its row, with
-- the instant it was revoked, so listing shows it and its id is never issued
-- again.
--
-- `IF NOT EXISTS`: databases made before the server kept its own tables
-- have this table from the library's migration 0004, tokens and all, and
-- keep it as it is.
CREATE TABLE IF NOT EXISTS feed_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    provider_id TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER NULL
) STRICT;

-- A provider's tokens, oldest first.
CREATE INDEX IF NOT EXISTS feed_tokens_by_provider ON feed_tokens (provider_id, created_us, id);
