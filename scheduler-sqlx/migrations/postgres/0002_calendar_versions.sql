-- A version per provider calendar, the ETag behind If-Match on availability
-- writes. It counts writes that changed the set of slots; a provider without
-- a row is at version 0. Reservations never touch it, so holds never contend
-- on this row: only availability writes lock it.
CREATE TABLE calendars (
    provider_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL CHECK (version >= 0)
);
