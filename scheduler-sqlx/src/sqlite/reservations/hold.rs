//! Taking a hold: the one compare-and-set that keeps a provider's time from
//! being double-booked.

use std::sync::OnceLock;

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
/// before), why: whether the appointment's slots are all published, whether
/// a live claim is in the way, and whether the client's key is used. Either
/// the insert or the last statement returns a row, never both. The
/// statements number their parameters alike, `$1` to `$16` ([`PARAMS`]), so
/// each binds the same values.
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
      AND (expires_us IS NULL OR expires_us > $3)) AS taken,
  EXISTS (
    SELECT 1 FROM reservations WHERE client_id = $5 AND idempotency_key = $9) AS key_used
WHERE changes() = 0"
);

/// The parameters [`HOLD_IF_FREE`] binds.
const PARAMS: usize = 16;

/// The most holds one query takes: a power of two, so that any number of
/// holds is a few queries of [`holds_if_free`]'s sizes.
pub(super) const MAX_PER_QUERY: usize = 32;

/// [`HOLD_IF_FREE`] `n` times over, copy `i`'s parameters shifted by
/// `PARAMS * i`: `n` holds in one query, so that they cost one round trip
/// to the connection's worker thread, not `n`. Each hold's statements run
/// after the previous hold's, as they would one query at a time. `n` is a
/// power of two up to [`MAX_PER_QUERY`]; each text is built once.
fn holds_if_free(n: usize) -> &'static str {
    const SIZES: usize = MAX_PER_QUERY.trailing_zeros() as usize + 1;
    static TEXTS: [OnceLock<String>; SIZES] = [const { OnceLock::new() }; SIZES];
    debug_assert!(n.is_power_of_two() && n <= MAX_PER_QUERY);
    TEXTS[n.trailing_zeros() as usize].get_or_init(|| {
        (0..n)
            .map(|i| shift_params(HOLD_IF_FREE, PARAMS * i))
            .collect::<Vec<_>>()
            .join(";\n")
    })
}

/// `sql` with every parameter `$k` renumbered `$(k + by)`.
fn shift_params(sql: &str, by: usize) -> String {
    let mut parts = sql.split('$');
    let mut shifted = String::from(parts.next().unwrap_or_default());
    for part in parts {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        shifted.push('$');
        match part[..digits].parse::<usize>() {
            Ok(k) => {
                shifted.push_str(&(k + by).to_string());
                shifted.push_str(&part[digits..]);
            }
            Err(_) => shifted.push_str(part),
        }
    }
    shifted
}

/// A row of [`HOLD_IF_FREE`]: the new hold, or why there is none.
enum HoldRow {
    Held(ReservationRow),
    Refused(Refusal),
}

/// What a refused hold found, at the moment it ran.
struct Refusal {
    published: bool,
    taken: bool,
    key_used: bool,
}

impl<'r> FromRow<'r, SqliteRow> for HoldRow {
    fn from_row(row: &'r SqliteRow) -> std::result::Result<Self, sqlx::Error> {
        if row.try_column("key_used").is_ok() {
            Ok(Self::Refused(Refusal {
                published: row.try_get("published")?,
                taken: row.try_get("taken")?,
                key_used: row.try_get("key_used")?,
            }))
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
    let mut outcomes = hold_all(tx, &[(request, now)]).await?;
    outcomes
        .pop()
        .ok_or_else(|| Error::storage("the hold returned no outcome"))
}

/// Takes `holds` in order, each at its own now, in as few queries as their
/// number has bits; returns their outcomes in the same order.
pub(super) async fn hold_all(
    tx: &mut SqliteConnection,
    holds: &[(HoldRequest<'_>, DateTime<Utc>)],
) -> Result<Vec<HoldOutcome>> {
    let mut outcomes = Vec::with_capacity(holds.len());
    let mut rest = holds;
    while !rest.is_empty() {
        // The largest power of two that fits: 13 holds are 8, 4 and 1.
        let n = (1 << rest.len().ilog2()).min(MAX_PER_QUERY);
        let (these, after) = rest.split_at(n);
        rest = after;
        // No key lookup first: the scheduler has just made one, and a key
        // used since then makes the insert refuse, explained below.
        let query = these
            .iter()
            .fold(sqlx::query_as(holds_if_free(n)), |query, (request, now)| {
                let new = request.reservation;
                let (before, after) = buffers(new);
                claim_params(query, request, micros(*now))
                    .bind(new.service_id.as_ref().map(ServiceId::as_str))
                    .bind(before)
                    .bind(after)
            });
        // Every statement runs to its end; each hold's insert or its last
        // statement returns its one row.
        let rows: Vec<HoldRow> = query.fetch_all(&mut *tx).await.map_err(storage)?;
        if rows.len() != n {
            return Err(Error::storage(format!(
                "{n} holds returned {} rows, not one each",
                rows.len()
            )));
        }
        for ((request, _), row) in these.iter().zip(rows) {
            outcomes.push(match row {
                HoldRow::Held(row) => HoldOutcome::Held(row.into_reservation()?),
                HoldRow::Refused(why) => refusal(tx, request, why).await?,
            });
        }
    }
    Ok(outcomes)
}

/// Names why the insert added no row: the key, the slot, or a taken slot.
async fn refusal(
    tx: &mut SqliteConnection,
    request: &HoldRequest<'_>,
    why: Refusal,
) -> Result<HoldOutcome> {
    let new = request.reservation;
    // The key is asked about first, as the contract ranks the reasons. It
    // was used when the hold ran, and a reservation is never deleted.
    if why.key_used
        && let Some(key) = request.key
        && let Some(original) = by_key(&mut *tx, &new.client_id, key).await?
    {
        return Ok(HoldOutcome::KeyUsed(original));
    }
    match (why.published, why.taken) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_shift_and_nothing_else_changes() {
        assert_eq!(
            shift_params("a = $1 AND b < $13, '$' || $2x $", 16),
            "a = $17 AND b < $29, '$' || $18x $"
        );
        assert_eq!(shift_params(HOLD_IF_FREE, 0), HOLD_IF_FREE);
    }

    #[test]
    fn each_copy_binds_its_own_parameters() {
        let four = holds_if_free(4);
        assert_eq!(four.matches("INSERT INTO claims").count(), 4);
        for k in 1..=4 * PARAMS {
            assert!(four.contains(&format!("${k}")), "${k} is bound");
        }
        assert!(!four.contains(&format!("${}", 4 * PARAMS + 1)));
        assert!(std::ptr::eq(four, holds_if_free(4)), "built once");
    }
}
