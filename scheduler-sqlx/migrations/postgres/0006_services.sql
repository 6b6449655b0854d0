-- Services, and reservations that span several slots with buffers around them.
--
-- No double booking, enforced by the database: every live reservation (held
-- or confirmed) owns one row of `claims` per grid cell it blocks (its
-- appointment and its buffers), and the primary key admits one row per
-- provider and cell, across every connection and process. A claim keeps its
-- hold's expiry (NULL once confirmed), so "is this cell free at now?" reads
-- one row. A lapsed hold's claims stay until the sweeper expires it or a
-- hold that needs one of its cells retires it in the same statement.
--
-- Why rows per cell and not an exclusion constraint over a range: an
-- exclusion constraint on (provider, range) needs the btree_gist extension,
-- which not every database lets an application create, and its GiST checks
-- cost more per hold than a B-tree probe; a day holds at most 96 cells of 15
-- minutes, so a claim is a handful of rows. The same table works on every
-- database this crate supports.
--
-- Every statement that changes a reservation's status changes its claims in
-- the same statement, always locking the reservation first and its claims
-- second. The claims table replaces `reservations_one_live_per_slot` and the
-- `occupying` flag that kept it: a plain reservation claims its one cell, so
-- the primary key of `claims` says the same and more.

CREATE TABLE services (
    provider_id     TEXT COLLATE "C" NOT NULL,
    service_id      TEXT COLLATE "C" NOT NULL,
    name            TEXT   NOT NULL,
    duration_s      BIGINT NOT NULL CHECK (duration_s > 0),
    buffer_before_s BIGINT NOT NULL CHECK (buffer_before_s >= 0),
    buffer_after_s  BIGINT NOT NULL CHECK (buffer_after_s >= 0),
    min_notice_s    BIGINT CHECK (min_notice_s >= 0),
    max_advance_s   BIGINT CHECK (max_advance_s > 0),
    PRIMARY KEY (provider_id, service_id)
);

-- A reservation keeps its service and its own buffers, so that editing or
-- deleting the service never moves it. Existing rows are plain: no service,
-- no buffers.
ALTER TABLE reservations ADD COLUMN service_id TEXT COLLATE "C";
ALTER TABLE reservations ADD COLUMN buffer_before_s BIGINT NOT NULL DEFAULT 0
    CHECK (buffer_before_s >= 0);
ALTER TABLE reservations ADD COLUMN buffer_after_s BIGINT NOT NULL DEFAULT 0
    CHECK (buffer_after_s >= 0);

CREATE TABLE claims (
    provider_id    TEXT COLLATE "C" NOT NULL,
    cell_s         BIGINT NOT NULL,
    reservation_id BYTEA  NOT NULL,
    -- The hold's expiry in epoch microseconds; NULL once confirmed.
    expires_us     BIGINT,
    PRIMARY KEY (provider_id, cell_s)
);

-- A reservation's claims, to confirm or drop them together.
CREATE INDEX claims_by_reservation ON claims (reservation_id);

-- Existing live reservations keep their one-slot claim: the unique index
-- dropped below admitted one occupying row per slot, so none collide. A
-- lapsed hold that still occupies its slot keeps its claim too; the next
-- hold on the cell retires it, as it would have before.
INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
SELECT provider_id, start_s, id, CASE status WHEN 'held' THEN expires_us END
FROM reservations
WHERE occupying AND status IN ('held', 'confirmed');

-- A swept hold stored `expired` may still hold its slot's entry in the old
-- index; its claim is not needed: it is not live.
DROP INDEX reservations_one_live_per_slot;
ALTER TABLE reservations DROP CONSTRAINT reservations_live_rows_occupy;
ALTER TABLE reservations DROP CONSTRAINT reservations_cancelled_rows_vacate;
ALTER TABLE reservations DROP COLUMN occupying;
