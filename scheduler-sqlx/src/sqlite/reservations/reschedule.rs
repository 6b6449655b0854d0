//! Moving a live reservation's claim to another start, in one transaction.

use chrono::{DateTime, Utc};
use scheduler_core::store::RescheduleOutcome;
use scheduler_core::{Claim, Error, ReservationId, Result, SlotId};
use sqlx::Sqlite;
use sqlx::query::QueryAs;
use sqlx::sqlite::{SqliteArguments, SqlitePool};

use super::hold::{cells, published, retire_lapsed, step};
use crate::row::{ReservationRow, id_bytes, limit, micros, storage};
use crate::sqlite::BEGIN_IMMEDIATE;

/// Retires the lapsed holds in the way, then says whether reservation `$4`
/// is live at `$3`, whether the new appointment's slots are published, and
/// whether another reservation claims a cell of the new blocked span (every
/// claim left is live once lapsed holds are retired).
const TARGET_STATE: &str = concat!(
    retire_lapsed!(),
    ";
SELECT
  EXISTS (
    SELECT 1 FROM reservations
    WHERE id = $4 AND (status = 'confirmed' OR (status = 'held' AND expires_us > $3))),
  ",
    published!(),
    ",
  EXISTS (
    SELECT 1 FROM claims
    WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11 AND reservation_id <> $4)"
);

/// Replaces `$4`'s claims (found by its current span, a range of the
/// primary key) by `[$10, $11)`, keeping their expiry, and moves the
/// reservation there.
const MOVE: &str = concat!(
    "DELETE FROM claims
WHERE provider_id = $1 AND reservation_id = $4
  AND cell_s >= (SELECT start_s - buffer_before_s FROM reservations WHERE id = $4)
  AND cell_s < (SELECT end_s + buffer_after_s FROM reservations WHERE id = $4);\n",
    cells!(),
    "
INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
SELECT $1, cell, $4, CASE r.status WHEN 'held' THEN r.expires_us END
FROM cells, reservations AS r WHERE r.id = $4;
UPDATE reservations SET start_s = $2, end_s = $6, buffer_before_s = $15, buffer_after_s = $16
WHERE id = $4
RETURNING ",
    reservation_columns!()
);

pub(super) async fn reschedule(
    writer: &SqlitePool,
    id: ReservationId,
    slot: &SlotId,
    claim: Claim,
    now: DateTime<Utc>,
) -> Result<RescheduleOutcome> {
    // IMMEDIATE: nothing may claim the target between the checks and the move.
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let (live, published, taken): (bool, bool, bool) =
        bind_move(sqlx::query_as(TARGET_STATE), slot, id, &claim, now)
            .fetch_one(&mut *tx)
            .await
            .map_err(storage)?;
    let outcome = match (live, published, taken) {
        (false, _, _) => RescheduleOutcome::NotLive,
        (true, false, _) => RescheduleOutcome::NoSuchSlot,
        (true, true, true) => RescheduleOutcome::SlotTaken,
        (true, true, false) => {
            let moved: Vec<ReservationRow> = bind_move(sqlx::query_as(MOVE), slot, id, &claim, now)
                .fetch_all(&mut *tx)
                .await
                .map_err(storage)?;
            let moved = moved.into_iter().next().ok_or_else(|| {
                Error::storage(format!("reservation {id} vanished while it was moved"))
            })?;
            RescheduleOutcome::Moved(moved.into_reservation()?)
        }
    };
    tx.commit().await.map_err(storage)?;
    Ok(outcome)
}

/// Binds a move's values as the hold numbers them (`$1` provider, `$2`
/// start, `$3` now, `$4` id, `$6` end, `$10`-`$13` the claim, `$15` and
/// `$16` the buffers); the hold's other numbers are NULL here.
fn bind_move<'q, O>(
    query: QueryAs<'q, Sqlite, O, SqliteArguments>,
    slot: &'q SlotId,
    id: ReservationId,
    claim: &Claim,
    now: DateTime<Utc>,
) -> QueryAs<'q, Sqlite, O, SqliteArguments> {
    let (occupied, blocked) = (claim.occupied(), claim.blocked());
    let (start, end) = (occupied.first().timestamp(), occupied.end().timestamp());
    let (first, last) = (blocked.first().timestamp(), blocked.end().timestamp());
    let none = None::<i64>;
    query
        .bind(slot.provider().as_str())
        .bind(start)
        .bind(micros(now))
        .bind(id_bytes(id))
        .bind(none)
        .bind(end)
        .bind(none)
        .bind(none)
        .bind(none)
        .bind(first)
        .bind(last)
        .bind(limit(occupied.len()))
        .bind(step(claim))
        .bind(none)
        .bind(start - first)
        .bind(last - end)
}
