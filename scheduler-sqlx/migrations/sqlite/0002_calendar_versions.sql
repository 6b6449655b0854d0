-- A version per provider calendar, the ETag behind If-Match on availability
-- writes. It counts writes that changed the set of slots; a provider without
-- a row is at version 0. Reservations never touch it.
CREATE TABLE calendars (
    provider_id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 0)
) STRICT, WITHOUT ROWID;
