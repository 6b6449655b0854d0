//! [`CalendarStore`] on PostgreSQL: a provider's slots (adding, listing
//! the free ones, withdrawing) and the version that counts its writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarStore, CalendarWrite, SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};
use sqlx::{Connection, PgConnection};

use super::PostgresStore;
use crate::row::{self, check_version, from_seconds, micros, reservations, storage, version};
use crate::versions;

#[async_trait]
impl CalendarStore for PostgresStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        let mut conn = self.conns.get().await?;
        let read = super::read_version(&mut conn, versions::CURRENT, provider).await;
        conn.finish(read)
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        let mut conn = self.conns.get().await?;
        let written = add_on(&mut conn, provider, starts, expected).await;
        conn.finish(written)
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        let mut conn = self.conns.get().await?;
        let written = withdraw_on(&mut conn, provider, bounds, expected, now).await;
        conn.finish(written)
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let mut conn = self.conns.get().await?;
        let starts = sqlx::query_scalar(FREE)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(micros(now))
            .bind(row::limit(limit))
            .fetch_all(&mut *conn)
            .await;
        let starts: Vec<i64> = conn.settle(starts)?;
        starts.into_iter().map(from_seconds).collect()
    }

    /// The calendar's version and a page of free slots, from one snapshot.
    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        let mut conn = self.conns.get().await?;
        let row = sqlx::query_as(VERSIONED_FREE)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(micros(now))
            .bind(row::limit(limit))
            .fetch_one(&mut *conn)
            .await;
        let (stored, starts): (Option<i64>, Vec<i64>) = conn.settle(row)?;
        let starts = starts
            .into_iter()
            .map(from_seconds)
            .collect::<Result<_>>()?;
        Ok((version(stored.unwrap_or(0))?, starts))
    }
}

/// Inserts the whole batch in one statement; the primary key makes a repeat a
/// no-op, and `RETURNING` yields only the rows that were new.
const ADD: &str = "
    INSERT INTO slots (provider_id, start_s)
    SELECT $1, unnest($2::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING start_s";

/// The text of [`FREE`], for [`VERSIONED_FREE`] to embed.
macro_rules! free_slots {
    () => {
        "
    SELECT s.start_s FROM slots s
    WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
      AND NOT coalesce((
        SELECT c.expires_us IS NULL OR c.expires_us > $4 FROM claims c
        WHERE c.provider_id = s.provider_id AND c.cell_s = s.start_s
      ), false)
    ORDER BY s.start_s
    LIMIT $5"
    };
}

/// The free slots in `[$2, $3)` at `$4`, ascending, at most `$5`.
///
/// The plan walks the slots' primary key in order, probes the claims'
/// primary key once for each slot, and stops at the page, so the cost
/// follows the page, not the calendar (`tests/postgres_schema.rs` checks
/// it). The probe is a scalar subquery (a cell has at most one claim), not
/// `NOT EXISTS`: PostgreSQL may plan an anti-join as a merge join that sorts
/// every claim of the provider first, whatever the page.
const FREE: &str = free_slots!();

/// The calendar's version (NULL before any write) and [`FREE`]'s page as an
/// array: one statement, so one snapshot and one round trip for both.
const VERSIONED_FREE: &str = concat!(
    "SELECT (SELECT version FROM calendars WHERE provider_id = $1), ARRAY(",
    free_slots!(),
    ")"
);

const READ_COMMITTED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Locks every slot in the range, in start order (so two withdrawals cannot
/// deadlock): a hold in flight on one of them finishes first, and no new hold
/// can start on them until the transaction ends.
const LOCK_RANGE: &str = "
    SELECT start_s FROM slots
    WHERE provider_id = $1 AND start_s >= $2 AND start_s < $3
    ORDER BY start_s
    FOR UPDATE";

/// Deletes the locked slots (`$5`) except those inside the appointment of a
/// reservation live at `$4` (a slot under a buffer goes). Under READ
/// COMMITTED this statement takes a fresh snapshot, after the locks, so it
/// sees every hold that committed while the lock was awaited; limiting it to
/// the locked starts keeps it from judging a slot it holds no lock on.
const DELETE_FREE: &str = "
    DELETE FROM slots s
    WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
      AND s.start_s = ANY($5)
      AND NOT EXISTS (
        SELECT 1 FROM claims c JOIN reservations r ON r.id = c.reservation_id
        WHERE c.provider_id = s.provider_id AND c.cell_s = s.start_s
          AND (c.expires_us IS NULL OR c.expires_us > $4)
          AND r.start_s <= s.start_s AND s.start_s < r.end_s
      )
    RETURNING s.start_s";

/// The reservations whose appointments kept slots in the range, each once:
/// after [`DELETE_FREE`], every slot left in the range is inside one, and
/// its cell's live claim names it.
const LIVE_IN_RANGE: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations
     WHERE id IN (
       SELECT c.reservation_id FROM slots s
       JOIN claims c ON c.provider_id = s.provider_id AND c.cell_s = s.start_s
       WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
         AND (c.expires_us IS NULL OR c.expires_us > $4))
     ORDER BY start_s, id"
);

async fn add_on(
    conn: &mut PgConnection,
    provider: &ProviderId,
    starts: &[SlotStart],
    expected: Option<u64>,
) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
    let mut tx = conn.begin().await.map_err(storage)?;
    let current = super::read_version(&mut tx, versions::LOCK, provider).await?;
    if let Err(current) = check_version(expected, current) {
        // Explicitly, so the lock is released now and the connection is
        // reusable (a dropped transaction only queues its rollback).
        tx.rollback().await.map_err(storage)?;
        return Ok(CalendarWrite::VersionMismatch { current });
    }
    let seconds: Vec<i64> = starts.iter().map(|start| start.timestamp()).collect();
    let mut added: Vec<i64> = sqlx::query_scalar(ADD)
        .bind(provider.as_str())
        .bind(seconds)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let version = super::version_after(&mut tx, provider, current, !added.is_empty()).await?;
    tx.commit().await.map_err(storage)?;
    // RETURNING follows no order.
    added.sort_unstable();
    let outcome = added.into_iter().map(from_seconds).collect::<Result<_>>()?;
    Ok(CalendarWrite::Applied { outcome, version })
}

async fn withdraw_on(
    conn: &mut PgConnection,
    provider: &ProviderId,
    bounds: SlotBounds,
    expected: Option<u64>,
    now: DateTime<Utc>,
) -> Result<CalendarWrite<StoreWithdrawal>> {
    let (from, to) = (bounds.from.timestamp(), bounds.to.timestamp());
    // READ COMMITTED whatever the server's default: the delete below relies on
    // taking a fresh snapshot after the row locks are granted.
    let mut tx = conn.begin_with(READ_COMMITTED).await.map_err(storage)?;
    // The calendar first, then its slots: the same order as `add`, and holds
    // lock only slots, so no two writers wait on each other in a cycle.
    let current = super::read_version(&mut tx, versions::LOCK, provider).await?;
    if let Err(current) = check_version(expected, current) {
        // Explicitly, so the lock is released now and the connection is
        // reusable (a dropped transaction only queues its rollback).
        tx.rollback().await.map_err(storage)?;
        return Ok(CalendarWrite::VersionMismatch { current });
    }
    let locked: Vec<i64> = sqlx::query_scalar(LOCK_RANGE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let mut removed: Vec<i64> = sqlx::query_scalar(DELETE_FREE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(micros(now))
        .bind(locked)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let conflicts = sqlx::query_as(LIVE_IN_RANGE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let version = super::version_after(&mut tx, provider, current, !removed.is_empty()).await?;
    tx.commit().await.map_err(storage)?;
    removed.sort_unstable();
    let outcome = StoreWithdrawal {
        removed: removed
            .into_iter()
            .map(from_seconds)
            .collect::<Result<_>>()?,
        conflicts: reservations(conflicts)?,
    };
    Ok(CalendarWrite::Applied { outcome, version })
}
