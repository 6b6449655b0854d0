-- A reservation's state changes without touching any index.
--
-- PostgreSQL writes a row's new version into every index of the table unless
-- no indexed column changed and the new version fits on the row's own page
-- (a heap-only update). Before this migration `status` sat in the
-- predicates of `reservations_one_live_per_slot` and
-- `reservations_held_by_expiry`, so confirming a hold or sweeping it wrote
-- three index entries (primary key and both listings), and sweeping 100,000
-- holds cost seconds. Now:
--
-- * `occupying` says which row owns the slot's entry in the unique index. A
--   hold takes it and keeps it while confirmed; cancelling gives it up, and
--   so does a lapsed hold when the next hold on its slot takes its place. The
--   sweeper marks a hold `expired` but leaves `occupying` alone: the hold
--   statement clears it in the same statement that inserts the next hold.
-- * `hold_expiries` lists the reservations stored as held, by expiry: the
--   sweeper's work queue, in a table of its own so that leaving it does not
--   change an indexed column of `reservations`.
-- * `fillfactor = 50` leaves each new page half empty, room for one new
--   version of each row on its own page: a reservation changes state about
--   once (confirmed, expired or cancelled), and that change is heap-only.

ALTER TABLE reservations ADD COLUMN occupying BOOLEAN NOT NULL DEFAULT false;
UPDATE reservations SET occupying = true WHERE status IN ('held', 'confirmed');
ALTER TABLE reservations ALTER COLUMN occupying DROP DEFAULT;
-- Held and confirmed rows always occupy their slot (so the unique index below
-- still admits one of them per slot), and a cancelled one never does.
ALTER TABLE reservations ADD CONSTRAINT reservations_live_rows_occupy
    CHECK (occupying OR status IN ('expired', 'cancelled'));
ALTER TABLE reservations ADD CONSTRAINT reservations_cancelled_rows_vacate
    CHECK (NOT (occupying AND status = 'cancelled'));

-- At most one row per slot owns it: whatever a caller does, a slot has at
-- most one held or confirmed reservation. This index also answers "is the
-- slot taken?".
DROP INDEX reservations_one_live_per_slot;
CREATE UNIQUE INDEX reservations_one_live_per_slot
    ON reservations (provider_id, start_s)
    WHERE occupying;

-- The sweeper's queue: one row per reservation stored as held, soonest
-- expiry first. The store adds the row with the hold and removes it in the
-- statement that moves the hold on (confirm, cancel, replacement, sweep).
CREATE TABLE hold_expiries (
    expires_us BIGINT NOT NULL,
    id         BYTEA NOT NULL,
    PRIMARY KEY (expires_us, id)
);
INSERT INTO hold_expiries (expires_us, id)
SELECT expires_us, id FROM reservations WHERE status = 'held';
DROP INDEX reservations_held_by_expiry;

ALTER TABLE reservations SET (fillfactor = 50);
