//! Reading one reservation and moving it through its states.
//!
//! Each transition is one statement around an `UPDATE ... WHERE <allowed at
//! now> RETURNING`: the row lock PostgreSQL takes for the update, and its
//! re-check of the `WHERE` after waiting on a concurrent writer, make each one
//! a compare-and-set. The same statement keeps the sweeper's queue
//! (`hold_expiries`) exact: a reservation is on it while stored as held.

use chrono::{DateTime, Utc};
use scheduler_core::{Reservation, ReservationId, Result};

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use super::settle_claims;
use crate::postgres::conns::Conns;
use crate::row::{self, ReservationRow, id_bytes, micros, storage};

/// A change of a reservation's state, `$1` its id and `$2` now: `moved` is
/// the `UPDATE` (its `SET` and `WHERE` come from the caller), `claimed` does
/// to its claims what the change means for them, and `unqueued!` takes a
/// hold it moved off the sweeper's queue. `missed` says whether `claimed`
/// missed claims (see `missed_claims!`).
macro_rules! transition {
    ($set:literal, $condition:literal, $claims:literal) => {
        concat!(
            "WITH moved AS (
                UPDATE reservations SET ",
            $set,
            " WHERE id = $1 AND ",
            $condition,
            " RETURNING ",
            reservation_columns!(),
            "), ",
            unqueued!("moved"),
            ", claimed AS (",
            $claims,
            " WHERE reservation_id = ANY(ARRAY(SELECT id FROM moved)) RETURNING 1)",
            " SELECT ",
            reservation_columns!(),
            ", ",
            missed_claims!("moved", "claimed"),
            " AS missed FROM moved"
        )
    };
}

/// A reservation a transition moved, and whether its claims need settling.
struct Moved {
    row: ReservationRow,
    missed: bool,
}

impl<'r> FromRow<'r, PgRow> for Moved {
    fn from_row(row: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            row: ReservationRow::from_row(row)?,
            missed: row.try_get("missed")?,
        })
    }
}

/// A confirmed hold's claims never lapse.
pub(super) const CONFIRM: &str = transition!(
    "status = 'confirmed', confirmed_us = $2",
    "status = 'held' AND expires_us > $2",
    "UPDATE claims SET expires_us = NULL"
);

/// Cancelling frees the reservation's cells at once.
pub(super) const CANCEL: &str = transition!(
    "status = 'cancelled'",
    "(status = 'confirmed' OR (status = 'held' AND expires_us > $2))",
    "DELETE FROM claims"
);

/// Marks up to `$2` due holds expired, skipping the first `$3` of them, and
/// returns how many it marked.
///
/// The batch comes from the sweeper's queue `hold_expiries`, soonest expiry
/// first, and its rows are reached through the primary key of
/// `reservations`. The ids are collected once (an init plan): written as
/// `id IN (subquery)`, or as a join with a CTE, the planner chose to hash
/// the batch and scan every held row of the table, on every call.
///
/// The update changes only `status`, which no index of `reservations` holds,
/// so on a page with room (the table's fillfactor leaves it) the new row
/// version is heap-only: no index entry is written. The holds' claims go in
/// the same statement.
///
/// The queue is read without locks; a hold that a concurrent statement
/// confirms, cancels or sweeps first is waited for, found no longer held and
/// left alone. Sweepers lock reservations in id order (the primary key's),
/// so two sweeping the same batch wait on each other but never deadlock.
const EXPIRE_DUE: &str = concat!(
    "WITH swept AS (
        UPDATE reservations SET status = 'expired'
        WHERE id = ANY(ARRAY(
            SELECT id FROM hold_expiries
            WHERE expires_us <= $1
            ORDER BY expires_us, id
            LIMIT $2 OFFSET $3
        ))
        AND status = 'held' AND expires_us <= $1
        RETURNING id, expires_us
    ), ",
    unqueued!("swept"),
    ", released AS (
        DELETE FROM claims WHERE reservation_id = ANY(ARRAY(SELECT id FROM swept)) RETURNING 1
    )
    SELECT count(*), CASE WHEN ",
    missed_claims!("swept", "released"),
    " THEN ARRAY(SELECT id FROM swept) END FROM swept"
);

/// Runs one conditional status change (`$1` id, `$2` now) and returns the
/// reservation it changed, if its condition held.
pub(super) async fn transition(
    conns: &Conns,
    statement: &'static str,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let moved = transition_on(&mut conn, statement, id, now).await;
    row::reservation(conn.finish(moved)?)
}

async fn transition_on(
    conn: &mut PgConnection,
    statement: &'static str,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<ReservationRow>> {
    let moved: Option<Moved> = sqlx::query_as(statement)
        .bind(id_bytes(id))
        .bind(micros(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(storage)?;
    if moved.as_ref().is_some_and(|moved| moved.missed) {
        settle_claims(conn, &[id_bytes(id)])
            .await
            .map_err(storage)?;
    }
    Ok(moved.map(|moved| moved.row))
}

/// Batches from this size up are swept by two statements at once.
///
/// PostgreSQL runs a statement on one core, and a sweep's cost is all in its
/// row updates. Two statements on two connections share that work between
/// two backends: the first takes the batch's first half of the queue, the
/// second the rest. Below this size the second round trip costs more than it
/// saves.
const SPLIT_FROM: usize = 1_000;

pub(super) async fn expire_due(conns: &Conns, now: DateTime<Utc>, batch: usize) -> Result<u64> {
    if batch < SPLIT_FROM {
        return expire_some(conns, now, batch, 0).await;
    }
    let first = batch - batch / 2;
    // Each half takes its own connection. If one fails, `try_join!` drops
    // the other mid-statement, and its connection is closed, not reused.
    let (early, late) = tokio::try_join!(
        expire_some(conns, now, first, 0),
        expire_some(conns, now, batch - first, first)
    )?;
    Ok(early + late)
}

/// Marks up to `limit` due holds expired in one statement, passing over the
/// `skip` due soonest.
async fn expire_some(conns: &Conns, now: DateTime<Utc>, limit: usize, skip: usize) -> Result<u64> {
    let mut conn = conns.get().await?;
    let swept = expire_some_on(&mut conn, now, limit, skip).await;
    conn.finish(swept)
}

async fn expire_some_on(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: usize,
    skip: usize,
) -> Result<u64> {
    let (swept, missed): (i64, Option<Vec<Vec<u8>>>) = sqlx::query_as(EXPIRE_DUE)
        .bind(micros(now))
        .bind(row::limit(limit))
        .bind(row::limit(skip))
        .fetch_one(&mut *conn)
        .await
        .map_err(storage)?;
    if let Some(ids) = missed {
        settle_claims(conn, &ids).await.map_err(storage)?;
    }
    // A count is never negative.
    Ok(u64::try_from(swept).unwrap_or(0))
}
