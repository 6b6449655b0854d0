-- The scheduler's schema for SQLite. Tables are STRICT so a column holds only
-- its declared type: an instant stored as text by mistake is refused, not kept.

-- One row per provider and slot start. Starts are epoch seconds on the
-- scheduler's grid; the primary key makes a slot unique by its start, and is
-- the index the free-slot listing walks in order.
CREATE TABLE slots (
    provider_id TEXT    NOT NULL,
    start_s     INTEGER NOT NULL,
    PRIMARY KEY (provider_id, start_s)
) STRICT, WITHOUT ROWID;

-- One row per reservation, whatever became of it. Instants other than the
-- slot's start and end are epoch microseconds, the scheduler's resolution.
--
-- There is deliberately no foreign key to `slots`: withdrawing availability
-- deletes free slots, and a slot whose reservations all lapsed or were
-- cancelled is free, so its past reservations must outlive it and stay
-- readable. Live reservations keep their slot because withdrawal only removes
-- slots that are free.
CREATE TABLE reservations (
    -- The id's 16 big-endian bytes, so that byte order is id order.
    id              BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    provider_id     TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    start_s         INTEGER NOT NULL,
    end_s           INTEGER NOT NULL CHECK (end_s > start_s),
    status          TEXT    NOT NULL
        CHECK (status IN ('held', 'confirmed', 'expired', 'cancelled')),
    created_us      INTEGER NOT NULL,
    expires_us      INTEGER NOT NULL,
    confirmed_us    INTEGER,
    idempotency_key TEXT,
    CHECK (status <> 'confirmed' OR confirmed_us IS NOT NULL)
) STRICT;

-- At most one live reservation per slot, whatever the caller does: the hold's
-- conditional insert is the first line of defence, this index the last. A
-- hold past its expiry is still stored as 'held' until something marks it
-- 'expired'; the hold statement does that for the slot it takes.
CREATE UNIQUE INDEX reservations_one_live_per_slot
    ON reservations (provider_id, start_s)
    WHERE status IN ('held', 'confirmed');

-- Each idempotency key belongs to one reservation of its client.
CREATE UNIQUE INDEX reservations_client_key
    ON reservations (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Keyset pages of a provider's and a client's reservations, in (start, id) order.
CREATE INDEX reservations_by_provider ON reservations (provider_id, start_s, id);
CREATE INDEX reservations_by_client ON reservations (client_id, start_s, id);

-- The sweeper walks only the holds still stored as 'held', soonest first.
CREATE INDEX reservations_due_holds ON reservations (expires_us) WHERE status = 'held';
