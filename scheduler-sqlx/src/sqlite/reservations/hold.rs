//! Taking a hold: the one compare-and-set that keeps a slot from being double-booked.

use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest};
use scheduler_core::{Error, IdempotencyKey, Result};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::by_key;
use crate::row::{ReservationRow, id_bytes, micros, storage};
use crate::sqlite::BEGIN_IMMEDIATE;

/// Marks a lapsed hold on slot `($1, $2)` expired at `$3`, so that the unique
/// index on live reservations admits the next one.
macro_rules! expire_stale {
    () => {
        "UPDATE reservations SET status = 'expired'
WHERE provider_id = $1 AND start_s = $2 AND status = 'held' AND expires_us <= $3"
    };
}

/// Inserts the hold only if slot `($1, $2)` exists and nothing live is on it
/// at `$3`. `ON CONFLICT DO NOTHING` turns a unique-index refusal into no
/// row, which the caller then explains.
macro_rules! insert_if_free {
    () => {
        concat!(
            "INSERT INTO reservations
           (id, provider_id, client_id, start_s, end_s, status,
            created_us, expires_us, confirmed_us, idempotency_key)
         SELECT $4, $1, $5, $2, $6, 'held', $7, $8, NULL, $9
         WHERE EXISTS (SELECT 1 FROM slots WHERE provider_id = $1 AND start_s = $2)
           AND NOT EXISTS (
             SELECT 1 FROM reservations
             WHERE provider_id = $1 AND start_s = $2
               AND status IN ('held', 'confirmed')
               AND (status = 'confirmed' OR expires_us > $3))
         ON CONFLICT DO NOTHING
         RETURNING ",
            reservation_columns!()
        )
    };
}

/// The insert of [`HOLD_IF_FREE`], alone, for its query plan.
#[cfg(test)]
pub(crate) const INSERT_IF_FREE: &str = insert_if_free!();

/// `expire_stale!` then `insert_if_free!`, sent as one query: one round
/// trip to the connection's worker thread instead of two. Both number their
/// parameters alike, and the first uses `$1`-`$3` without gaps, so each
/// binds the same values.
const HOLD_IF_FREE: &str = concat!(expire_stale!(), ";\n", insert_if_free!());

/// Why slot `($1, $2)` refused a hold at `$3`.
const SLOT_STATE: &str = "
SELECT
  EXISTS (SELECT 1 FROM slots WHERE provider_id = $1 AND start_s = $2) AS slot_exists,
  EXISTS (
    SELECT 1 FROM reservations
    WHERE provider_id = $1 AND start_s = $2
      AND status IN ('held', 'confirmed')
      AND (status = 'confirmed' OR expires_us > $3)) AS taken";

pub(super) async fn hold(
    writer: &SqlitePool,
    request: HoldRequest<'_>,
    now: DateTime<Utc>,
) -> Result<HoldOutcome> {
    // IMMEDIATE takes the write lock before the first statement, so no other
    // connection can change the slot between retiring a lapsed hold, the
    // insert and explaining a refusal.
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let outcome = hold_in(&mut tx, request, now).await?;
    tx.commit().await.map_err(storage)?;
    Ok(outcome)
}

pub(super) async fn hold_in(
    tx: &mut SqliteConnection,
    request: HoldRequest<'_>,
    now: DateTime<Utc>,
) -> Result<HoldOutcome> {
    // No key lookup first: the scheduler has just made one, and a key used
    // since then makes the insert's `ON CONFLICT` refuse, explained below.
    let new = request.reservation;
    let now = micros(now);
    // fetch_all steps both statements to their ends; only the insert returns rows.
    let inserted: Vec<ReservationRow> = sqlx::query_as(HOLD_IF_FREE)
        .bind(new.provider_id.as_str())
        .bind(request.slot.timestamp())
        .bind(now)
        .bind(id_bytes(new.id))
        .bind(new.client_id.as_str())
        .bind(new.end.timestamp())
        .bind(micros(new.created_at))
        .bind(micros(new.expires_at))
        .bind(request.key.map(IdempotencyKey::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    if let Some(row) = inserted.into_iter().next() {
        return Ok(HoldOutcome::Held(row.into_reservation()?));
    }
    refusal(tx, request, now).await
}

/// Names why the insert added no row: the key, the slot, or a taken slot.
async fn refusal(
    tx: &mut SqliteConnection,
    request: HoldRequest<'_>,
    now_us: i64,
) -> Result<HoldOutcome> {
    let new = request.reservation;
    // The key's unique index refuses before the slot is judged, so it is
    // asked first, as the contract ranks the reasons.
    if let Some(key) = request.key
        && let Some(original) = by_key(&mut *tx, &new.client_id, key).await?
    {
        return Ok(HoldOutcome::KeyUsed(original));
    }
    let state = sqlx::query(SLOT_STATE)
        .bind(new.provider_id.as_str())
        .bind(request.slot.timestamp())
        .bind(now_us)
        .fetch_one(&mut *tx)
        .await
        .map_err(storage)?;
    let slot_exists: bool = state.try_get("slot_exists").map_err(storage)?;
    let taken: bool = state.try_get("taken").map_err(storage)?;
    match (slot_exists, taken) {
        (false, _) => Ok(HoldOutcome::NoSuchSlot),
        (true, true) => Ok(HoldOutcome::SlotTaken),
        // Free slot, unused key: only the id's primary key can have refused.
        (true, false) => Err(Error::storage(format!(
            "reservation id {} is already stored",
            new.id
        ))),
    }
}
