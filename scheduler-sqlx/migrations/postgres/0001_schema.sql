-- The scheduler's schema for PostgreSQL.
--
-- Slot starts are epoch seconds (every start is on a whole-minute grid);
-- other instants are epoch microseconds, the scheduler's resolution.
-- Identifiers compare byte-wise (COLLATE "C"): they are ASCII, only ever
-- matched for equality, and "C" keeps index comparisons cheap.

-- A provider's calendar: one row per slot, keyed by start, so a slot is a set
-- member and adding it twice changes nothing. The primary key also serves the
-- free-slot listing, which walks it in start order.
CREATE TABLE slots (
    provider_id TEXT COLLATE "C" NOT NULL,
    start_s     BIGINT NOT NULL,
    PRIMARY KEY (provider_id, start_s)
);

-- One row per reservation, whatever became of it.
--
-- There is deliberately no foreign key to `slots`: withdrawing availability
-- deletes free slots, and the past reservations of a withdrawn slot (expired
-- or cancelled) must stay readable. Nothing is lost by it: the store inserts
-- a hold only while it holds the slot's row lock, and withdrawal deletes only
-- slots it has locked and found free, so a live reservation keeps its slot.
CREATE TABLE reservations (
    -- The reservation id as 16 big-endian bytes, so byte order is id order.
    id              BYTEA PRIMARY KEY CHECK (octet_length(id) = 16),
    provider_id     TEXT COLLATE "C" NOT NULL,
    client_id       TEXT COLLATE "C" NOT NULL,
    start_s         BIGINT NOT NULL,
    end_s           BIGINT NOT NULL,
    -- As stored; a `held` row read at or after `expires_us` is expired
    -- whatever this says, so the sweeper is never needed for correctness.
    status          TEXT NOT NULL
                    CHECK (status IN ('held', 'confirmed', 'expired', 'cancelled')),
    created_us      BIGINT NOT NULL,
    expires_us      BIGINT NOT NULL,
    confirmed_us    BIGINT NULL,
    idempotency_key TEXT COLLATE "C" NULL,
    CHECK (end_s > start_s),
    -- A confirmed reservation says when; a cancelled one may keep it.
    CHECK (status <> 'confirmed' OR confirmed_us IS NOT NULL)
);

-- The database itself refuses a second live reservation on a slot: whatever
-- a caller does, at most one row per slot is held or confirmed. The hold
-- statement first marks a lapsed hold on the slot expired, so a stale row
-- never blocks a new hold. This index also answers "is the slot taken?".
CREATE UNIQUE INDEX reservations_one_live_per_slot
    ON reservations (provider_id, start_s)
    WHERE status IN ('held', 'confirmed');

-- An idempotency key belongs to one reservation of its client.
CREATE UNIQUE INDEX reservations_client_key
    ON reservations (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- A provider's appointments and a client's reservations, paged by the
-- keyset (start_s, id).
CREATE INDEX reservations_by_provider ON reservations (provider_id, start_s, id);
CREATE INDEX reservations_by_client ON reservations (client_id, start_s, id);

-- The sweeper: holds still stored as held, soonest expiry first.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_us)
    WHERE status = 'held';
