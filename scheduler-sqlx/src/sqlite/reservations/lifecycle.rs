//! Moving reservations on: confirm, cancel, and the sweeper's expiry.
//!
//! Each is one conditional statement, atomic on its own: the condition is
//! checked and the row changed under the same write lock.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use scheduler_core::{Reservation, ReservationId, Result};
use sqlx::sqlite::SqlitePool;

use crate::row::{RESERVATION_COLUMNS, id_bytes, micros, storage};
use crate::sqlite::rows;

/// Confirms `?2` at `?1` if it is held and unexpired.
static CONFIRM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE reservations SET status = 'confirmed', confirmed_us = ?1
         WHERE id = ?2 AND status = 'held' AND expires_us > ?1
         RETURNING {RESERVATION_COLUMNS}"
    )
});

/// Cancels `?1` if it is live at `?2`.
static CANCEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE reservations SET status = 'cancelled'
         WHERE id = ?1
           AND (status = 'confirmed' OR (status = 'held' AND expires_us > ?2))
         RETURNING {RESERVATION_COLUMNS}"
    )
});

/// Expires up to `?2` holds due at `?1`, soonest first, walking the partial
/// index of stored holds. The limit is cast so that SQLite keeps one plan
/// instead of planning again for each value bound.
pub(crate) const EXPIRE_DUE: &str = "\
UPDATE reservations SET status = 'expired'
WHERE id IN (
  SELECT id FROM reservations
  WHERE status = 'held' AND expires_us <= ?1
  ORDER BY expires_us
  LIMIT CAST(?2 AS INTEGER))";

pub(super) async fn confirm(
    writer: &SqlitePool,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    // fetch_all steps the statement to its end; the update is the first step.
    let changed = sqlx::query(CONFIRM.as_str())
        .bind(micros(now))
        .bind(id_bytes(id))
        .fetch_all(writer)
        .await
        .map_err(storage)?;
    changed.first().map(rows::reservation).transpose()
}

pub(super) async fn cancel(
    writer: &SqlitePool,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    let changed = sqlx::query(CANCEL.as_str())
        .bind(id_bytes(id))
        .bind(micros(now))
        .fetch_all(writer)
        .await
        .map_err(storage)?;
    changed.first().map(rows::reservation).transpose()
}

pub(super) async fn expire_due(
    writer: &SqlitePool,
    now: DateTime<Utc>,
    batch: usize,
) -> Result<u64> {
    let done = sqlx::query(EXPIRE_DUE)
        .bind(micros(now))
        .bind(rows::count(batch))
        .execute(writer)
        .await
        .map_err(storage)?;
    Ok(done.rows_affected())
}
