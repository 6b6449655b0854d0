-- Services, and reservations that span several slots with buffers around them.
--
-- No double booking, enforced by the database: every live reservation (held
-- or confirmed) owns one row of `claims` per grid cell it blocks (its
-- appointment and its buffers), and the primary key admits one row per
-- provider and cell. Two live reservations can therefore never block a
-- common cell, whatever a caller does. A claim keeps its hold's expiry (NULL
-- once confirmed), so "is this cell free at now?" reads one row. A lapsed
-- hold's claims stay until the sweeper expires it or a hold that needs one
-- of its cells retires it in the same transaction; the triggers below drop a
-- reservation's claims whenever it stops being live, so the rule "claims
-- exist exactly for the cells of held and confirmed rows" holds however the
-- status changes.
--
-- This replaces `reservations_one_live_per_slot`: a plain reservation claims
-- its one cell, so the primary key of `claims` says the same and more.

CREATE TABLE services (
    provider_id     TEXT    NOT NULL,
    service_id      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    duration_s      INTEGER NOT NULL CHECK (duration_s > 0),
    buffer_before_s INTEGER NOT NULL CHECK (buffer_before_s >= 0),
    buffer_after_s  INTEGER NOT NULL CHECK (buffer_after_s >= 0),
    min_notice_s    INTEGER CHECK (min_notice_s >= 0),
    max_advance_s   INTEGER CHECK (max_advance_s > 0),
    PRIMARY KEY (provider_id, service_id)
) STRICT, WITHOUT ROWID;

-- A reservation keeps its service and its own buffers, so that editing or
-- deleting the service never moves it. Existing rows are plain: no service,
-- no buffers.
ALTER TABLE reservations ADD COLUMN service_id TEXT;
ALTER TABLE reservations ADD COLUMN buffer_before_s INTEGER NOT NULL DEFAULT 0
    CHECK (buffer_before_s >= 0);
ALTER TABLE reservations ADD COLUMN buffer_after_s INTEGER NOT NULL DEFAULT 0
    CHECK (buffer_after_s >= 0);

CREATE TABLE claims (
    provider_id    TEXT    NOT NULL,
    cell_s         INTEGER NOT NULL,
    reservation_id BLOB    NOT NULL,
    -- The hold's expiry in epoch microseconds; NULL once confirmed.
    expires_us     INTEGER,
    PRIMARY KEY (provider_id, cell_s)
) STRICT, WITHOUT ROWID;

-- A reservation's claims are found by its provider and blocked span, a
-- range of the primary key: no second index to write with every claim.

-- Existing live reservations keep their one-slot claim. The unique index
-- dropped below admitted at most one per slot, so these rows never collide.
INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
SELECT provider_id, start_s, id, CASE status WHEN 'held' THEN expires_us END
FROM reservations
WHERE status IN ('held', 'confirmed');

DROP INDEX reservations_one_live_per_slot;

-- A confirmed hold's claims never lapse.
CREATE TRIGGER reservations_confirm_claims
AFTER UPDATE OF status ON reservations
WHEN new.status = 'confirmed' AND old.status = 'held'
BEGIN
    UPDATE claims SET expires_us = NULL
    WHERE provider_id = new.provider_id
      AND cell_s >= new.start_s - new.buffer_before_s
      AND cell_s < new.end_s + new.buffer_after_s
      AND reservation_id = new.id;
END;

-- A reservation that is cancelled or expires frees its cells.
CREATE TRIGGER reservations_release_claims
AFTER UPDATE OF status ON reservations
WHEN new.status IN ('cancelled', 'expired') AND old.status IN ('held', 'confirmed')
BEGIN
    DELETE FROM claims
    WHERE provider_id = new.provider_id
      AND cell_s >= new.start_s - new.buffer_before_s
      AND cell_s < new.end_s + new.buffer_after_s
      AND reservation_id = new.id;
END;
