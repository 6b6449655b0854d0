//! Reading one reservation and moving it through its states.
//!
//! Each transition is one `UPDATE ... WHERE <allowed at now> RETURNING`: the
//! row lock PostgreSQL takes for the update, and its re-check of the `WHERE`
//! after waiting on a concurrent writer, make each one a compare-and-set.

use chrono::{DateTime, Utc};
use scheduler_core::{ClientId, IdempotencyKey, Reservation, ReservationId, Result};
use sqlx::PgConnection;

use super::conns::Conns;
use super::decode;
use crate::row::{id_bytes, micros, storage};

const BY_ID: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE id = $1"
);

const BY_KEY: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE client_id = $1 AND idempotency_key = $2"
);

const CONFIRM: &str = concat!(
    "UPDATE reservations SET status = 'confirmed', confirmed_us = $2
     WHERE id = $1 AND status = 'held' AND expires_us > $2
     RETURNING ",
    reservation_columns!()
);

const CANCEL: &str = concat!(
    "UPDATE reservations SET status = 'cancelled'
     WHERE id = $1
       AND (status = 'confirmed' OR (status = 'held' AND expires_us > $2))
     RETURNING ",
    reservation_columns!()
);

/// Due holds, soonest first, through `reservations_held_by_expiry`.
/// `SKIP LOCKED` lets sweepers in many processes share the work without
/// waiting on each other; a row some writer holds is left for the next sweep.
///
/// The batch's ids are collected once (an init plan) and the rows are then
/// reached through the primary key, so each call reads only the rows it
/// expires, whatever the table's size or statistics. Written as
/// `id IN (subquery)`, or as a join with a CTE, the planner chose to hash
/// the batch and scan every held row of the table, on every call.
/// The rows the subquery picks stay locked until the update, so they are
/// still held when it changes them.
const EXPIRE_DUE: &str = "
    UPDATE reservations SET status = 'expired'
    WHERE id = ANY(ARRAY(
        SELECT id FROM reservations
        WHERE status = 'held' AND expires_us <= $1
        ORDER BY expires_us
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ))
    AND status = 'held'";

pub(super) async fn by_id(conns: &Conns, id: ReservationId) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query(BY_ID)
        .bind(id_bytes(id))
        .fetch_optional(&mut *conn)
        .await;
    conn.settle(row)?
        .as_ref()
        .map(decode::reservation)
        .transpose()
}

pub(super) async fn by_key(
    conns: &Conns,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let found = by_key_on(&mut conn, client, key).await;
    conn.finish(found)
}

/// [`by_key`] on a connection an operation already holds.
pub(super) async fn by_key_on(
    conn: &mut PgConnection,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let row = sqlx::query(BY_KEY)
        .bind(client.as_str())
        .bind(key.as_str())
        .fetch_optional(conn)
        .await
        .map_err(storage)?;
    row.as_ref().map(decode::reservation).transpose()
}

pub(super) async fn confirm(
    conns: &Conns,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    transition(conns, CONFIRM, id, now).await
}

pub(super) async fn cancel(
    conns: &Conns,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    transition(conns, CANCEL, id, now).await
}

/// Runs one conditional status change (`$1` id, `$2` now) and returns the
/// reservation it changed, if its condition held.
async fn transition(
    conns: &Conns,
    statement: &'static str,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query(statement)
        .bind(id_bytes(id))
        .bind(micros(now))
        .fetch_optional(&mut *conn)
        .await;
    conn.settle(row)?
        .as_ref()
        .map(decode::reservation)
        .transpose()
}

/// Batches from this size up are swept by two statements at once.
///
/// PostgreSQL runs a statement on one core, and a sweep's cost is all in its
/// heap and index writes (an expired row leaves the partial indexes, so no
/// update can be heap-only). Two statements on two connections share that
/// work between two backends; `FOR UPDATE SKIP LOCKED` hands each its own
/// rows. Below this size the second round trip costs more than it saves.
const SPLIT_FROM: usize = 1_000;

pub(super) async fn expire_due(conns: &Conns, now: DateTime<Utc>, batch: usize) -> Result<u64> {
    if batch < SPLIT_FROM {
        return expire_some(conns, now, batch).await;
    }
    let half = batch / 2;
    // Each half takes its own connection. If one fails, `try_join!` drops
    // the other mid-statement, and its connection is closed, not reused.
    let (first, second) = tokio::try_join!(
        expire_some(conns, now, batch - half),
        expire_some(conns, now, half)
    )?;
    Ok(first + second)
}

/// Marks up to `limit` due holds expired in one statement.
async fn expire_some(conns: &Conns, now: DateTime<Utc>, limit: usize) -> Result<u64> {
    let mut conn = conns.get().await?;
    let done = sqlx::query(EXPIRE_DUE)
        .bind(micros(now))
        .bind(decode::bigint(limit))
        .execute(&mut *conn)
        .await;
    Ok(conn.settle(done)?.rows_affected())
}
