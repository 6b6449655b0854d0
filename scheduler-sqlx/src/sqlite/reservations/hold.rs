//! Taking a hold: the one compare-and-set that keeps a provider's time from
//! being double-booked.

use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest};
use scheduler_core::{Claim, ServiceId};
use scheduler_core::{Error, IdempotencyKey, Result};
use sqlx::query::QueryAs;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool};
use sqlx::{FromRow, Row, Sqlite};

use super::by_key;
use crate::row::{ReservationRow, buffers, id_bytes, limit, micros, storage};
use crate::sqlite::BEGIN_IMMEDIATE;

/// Expires the lapsed holds that claim a cell of `[$10, $11)` of provider
/// `$1` at `$3`; a trigger drops their claims, so the new claim can go in.
/// Shared with rescheduling, which retires the same way.
macro_rules! retire_lapsed {
    () => {
        "UPDATE reservations SET status = 'expired'
WHERE status = 'held' AND id IN (
  SELECT reservation_id FROM claims
  WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11 AND expires_us <= $3)"
    };
}
pub(in crate::sqlite) use retire_lapsed;

/// Whether every slot of `[$2, $6)` of provider `$1` is published: `$12`
/// of them.
macro_rules! published {
    () => {
        "(SELECT count(*) FROM slots WHERE provider_id = $1 AND start_s >= $2 AND start_s < $6) = $12"
    };
}
pub(in crate::sqlite) use published;

/// The cells `[$10, $11)`, `$13` seconds apart, as the table `cells(cell)`.
macro_rules! cells {
    () => {
        "WITH RECURSIVE cells(cell) AS (
  SELECT $10 UNION ALL SELECT cell + $13 FROM cells WHERE cell + $13 < $11)"
    };
}
pub(in crate::sqlite) use cells;

/// Claims `[$10, $11)` for reservation `$4` (hold expiry `$8`) if the
/// appointment's slots are published, no claim is left on those cells once
/// lapsed holds are retired, and client `$5` has not used key `$9`. SQLite
/// reads the whole `SELECT` before inserting, so the `NOT EXISTS` sees the
/// table as it was.
macro_rules! claim_if_free {
    () => {
        concat!(
            cells!(),
            "
INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
SELECT $1, cell, $4, $8 FROM cells
WHERE ",
            published!(),
            "
  AND NOT EXISTS (
    SELECT 1 FROM claims WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11)
  AND NOT EXISTS (
    SELECT 1 FROM reservations WHERE client_id = $5 AND idempotency_key = $9)"
        )
    };
}

/// Inserts the hold if its claim went in: the reservation's own first cell
/// says so.
macro_rules! insert_if_claimed {
    () => {
        concat!(
            "INSERT INTO reservations
           (id, provider_id, client_id, service_id, start_s, end_s, buffer_before_s,
            buffer_after_s, status, created_us, expires_us, confirmed_us, idempotency_key)
         SELECT $4, $1, $5, $14, $2, $6, $15, $16, 'held', $7, $8, NULL, $9
         WHERE EXISTS (
           SELECT 1 FROM claims WHERE provider_id = $1 AND cell_s = $10 AND reservation_id = $4)
         RETURNING ",
            reservation_columns!()
        )
    };
}

/// The claim's insert, alone, for its query plan.
#[cfg(test)]
pub(crate) const CLAIM_IF_FREE: &str = claim_if_free!();

/// `retire_lapsed!`, `claim_if_free!`, `insert_if_claimed!` and, when the
/// insert added nothing (`changes()` counts the rows of the statement just
/// before), why: whether the appointment's slots are all published and
/// whether a live claim is in the way. One query: one round trip to the
/// connection's worker thread for a hold or a refusal. The statements number
/// their parameters alike, so each binds the same values.
const HOLD_IF_FREE: &str = concat!(
    retire_lapsed!(),
    ";\n",
    claim_if_free!(),
    ";\n",
    insert_if_claimed!(),
    ";\nSELECT ",
    published!(),
    " AS published,
  EXISTS (
    SELECT 1 FROM claims
    WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11
      AND (expires_us IS NULL OR expires_us > $3)) AS taken
WHERE changes() = 0"
);

/// A row of [`HOLD_IF_FREE`]: the new hold, or why there is none.
enum HoldRow {
    Held(ReservationRow),
    Refused { published: bool, taken: bool },
}

impl<'r> FromRow<'r, SqliteRow> for HoldRow {
    fn from_row(row: &'r SqliteRow) -> std::result::Result<Self, sqlx::Error> {
        if row.columns().len() == 2 {
            Ok(Self::Refused {
                published: row.try_get("published")?,
                taken: row.try_get("taken")?,
            })
        } else {
            ReservationRow::from_row(row).map(Self::Held)
        }
    }
}

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
    // fetch_all steps every statement to its end; the insert or the last
    // statement returns a row.
    let (before, after) = buffers(new);
    let rows: Vec<HoldRow> = claim_params(sqlx::query_as(HOLD_IF_FREE), &request, now)
        .bind(new.service_id.as_ref().map(ServiceId::as_str))
        .bind(before)
        .bind(after)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    match rows.into_iter().next() {
        Some(HoldRow::Held(row)) => Ok(HoldOutcome::Held(row.into_reservation()?)),
        Some(HoldRow::Refused { published, taken }) => refusal(tx, request, published, taken).await,
        None => Err(Error::storage(
            "the hold returned neither a row nor a reason",
        )),
    }
}

/// Names why the insert added no row: the key, the slot, or a taken slot.
async fn refusal(
    tx: &mut SqliteConnection,
    request: HoldRequest<'_>,
    published: bool,
    taken: bool,
) -> Result<HoldOutcome> {
    let new = request.reservation;
    // The key is asked about first, as the contract ranks the reasons.
    if let Some(key) = request.key
        && let Some(original) = by_key(&mut *tx, &new.client_id, key).await?
    {
        return Ok(HoldOutcome::KeyUsed(original));
    }
    match (published, taken) {
        (false, _) => Ok(HoldOutcome::NoSuchSlot),
        (true, true) => Ok(HoldOutcome::SlotTaken),
        // Free cells, unused key: only the id's primary key can have refused.
        (true, false) => Err(Error::storage(format!(
            "reservation id {} is already stored",
            new.id
        ))),
    }
}

/// Binds `$1`-`$13` of the hold's statements: the provider, the
/// appointment, now, the new reservation and its claim.
fn claim_params<'q, O>(
    query: QueryAs<'q, Sqlite, O, SqliteArguments>,
    request: &HoldRequest<'q>,
    now_us: i64,
) -> QueryAs<'q, Sqlite, O, SqliteArguments> {
    let new = request.reservation;
    let blocked = request.claim.blocked();
    query
        .bind(new.provider_id.as_str())
        .bind(new.start.timestamp())
        .bind(now_us)
        .bind(id_bytes(new.id))
        .bind(new.client_id.as_str())
        .bind(new.end.timestamp())
        .bind(micros(new.created_at))
        .bind(micros(new.expires_at))
        .bind(request.key.map(IdempotencyKey::as_str))
        .bind(blocked.first().timestamp())
        .bind(blocked.end().timestamp())
        .bind(limit(request.claim.occupied().len()))
        .bind(step(&request.claim))
}

/// The seconds between cells of `claim`'s grid.
pub(in crate::sqlite) fn step(claim: &Claim) -> i64 {
    let blocked = claim.blocked();
    (blocked.end().timestamp() - blocked.first().timestamp()) / limit(blocked.len())
}
