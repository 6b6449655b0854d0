//! Moving reservations on: confirm, cancel, and the sweeper's expiry.
//!
//! Each is one conditional statement, atomic on its own: the condition is
//! checked and the row changed under the same write lock.

use chrono::{DateTime, Utc};
use scheduler_core::{Reservation, ReservationId, Result};
use sqlx::sqlite::SqlitePool;

use crate::row::{self, ReservationRow, id_bytes, micros, storage};

/// Confirms `$1` at `$2` if it is held and unexpired.
pub(super) const CONFIRM: &str = concat!(
    "UPDATE reservations SET status = 'confirmed', confirmed_us = $2
     WHERE id = $1 AND status = 'held' AND expires_us > $2
     RETURNING ",
    reservation_columns!()
);

/// Cancels `$1` if it is live at `$2`.
pub(super) const CANCEL: &str = concat!(
    "UPDATE reservations SET status = 'cancelled'
     WHERE id = $1
       AND (status = 'confirmed' OR (status = 'held' AND expires_us > $2))
     RETURNING ",
    reservation_columns!()
);

/// Expires up to `$2` holds due at `$1`, soonest first, walking the partial
/// index of stored holds. The limit is cast so that SQLite keeps one plan
/// instead of planning again for each value bound.
pub(crate) const EXPIRE_DUE: &str = "
UPDATE reservations SET status = 'expired'
WHERE id IN (
  SELECT id FROM reservations
  WHERE status = 'held' AND expires_us <= $1
  ORDER BY expires_us
  LIMIT CAST($2 AS INTEGER))";

/// Runs one conditional status change (`$1` id, `$2` now) and returns the
/// reservation it changed, if its condition held.
pub(super) async fn transition(
    writer: &SqlitePool,
    statement: &'static str,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    // fetch_all steps the statement to its end; the update is the first step.
    let changed: Vec<ReservationRow> = sqlx::query_as(statement)
        .bind(id_bytes(id))
        .bind(micros(now))
        .fetch_all(writer)
        .await
        .map_err(storage)?;
    row::reservation(changed.into_iter().next())
}
