//! A provider's calendar: adding, listing free and withdrawing slots.

use chrono::{DateTime, Utc};
use scheduler_core::store::{SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};
use sqlx::PgPool;

use super::decode;
use crate::row::{from_seconds, micros, storage};

/// Inserts the whole batch in one statement; the primary key makes a repeat a
/// no-op, and `RETURNING` yields only the rows that were new.
const ADD: &str = "
    INSERT INTO slots (provider_id, start_s)
    SELECT $1, unnest($2::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING start_s";

/// The free slots in `[$2, $3)` at `$4`, ascending, at most `$5`.
///
/// The `status IN (...)` test repeats the predicate of the unique partial
/// index `reservations_one_live_per_slot`, so the anti-join can probe it. On
/// a calendar of 20,000 slots (out of 120,000, half of them reserved) the plan
/// walks the primary key in order and stops at the page, so the cost follows
/// the page, not the calendar (`tests/postgres_schema.rs` checks it):
///
/// ```text
/// Limit  (cost=0.70..39.72 rows=51 width=8)
///   ->  Nested Loop Anti Join  (cost=0.70..13724.71 rows=17941 width=8)
///         ->  Index Only Scan using slots_pkey on slots s  (cost=0.42..3338.52 rows=20448 width=11)
///               Index Cond: ((provider_id = 'p0'::text) AND (start_s >= '1894179600'::bigint)
///                            AND (start_s < '1912179600'::bigint))
///         ->  Index Scan using reservations_one_live_per_slot on reservations r  (cost=0.29..0.51 rows=1 width=11)
///               Index Cond: ((provider_id = s.provider_id) AND (provider_id = 'p0'::text COLLATE "C")
///                            AND (start_s = s.start_s))
///               Filter: ((status = 'confirmed'::text) OR (expires_us > '1894003200000000'::bigint))
/// ```
const FREE: &str = "
    SELECT s.start_s FROM slots s
    WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
      AND NOT EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.provider_id = s.provider_id AND r.start_s = s.start_s
          AND r.status IN ('held', 'confirmed')
          AND (r.status = 'confirmed' OR r.expires_us > $4)
      )
    ORDER BY s.start_s
    LIMIT $5";

/// Locks every slot in the range, in start order (so two withdrawals cannot
/// deadlock): a hold in flight on one of them finishes first, and no new hold
/// can start on them until the transaction ends.
const LOCK_RANGE: &str = "
    SELECT start_s FROM slots
    WHERE provider_id = $1 AND start_s >= $2 AND start_s < $3
    ORDER BY start_s
    FOR UPDATE";

/// Deletes the locked slots that are free at `$4`. Under READ COMMITTED this
/// statement takes a fresh snapshot, after the locks, so it sees every hold
/// that committed while the lock was awaited.
const DELETE_FREE: &str = "
    DELETE FROM slots s
    WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
      AND NOT EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.provider_id = s.provider_id AND r.start_s = s.start_s
          AND r.status IN ('held', 'confirmed')
          AND (r.status = 'confirmed' OR r.expires_us > $4)
      )
    RETURNING s.start_s";

/// The live reservations on the slots kept, as conflicts.
const LIVE_IN_RANGE: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations
     WHERE provider_id = $1 AND start_s >= $2 AND start_s < $3
       AND status IN ('held', 'confirmed')
       AND (status = 'confirmed' OR expires_us > $4)
     ORDER BY start_s, id"
);

pub(super) async fn add(
    pool: &PgPool,
    provider: &ProviderId,
    starts: &[SlotStart],
) -> Result<Vec<DateTime<Utc>>> {
    let seconds: Vec<i64> = starts.iter().map(|start| start.timestamp()).collect();
    let mut added: Vec<i64> = sqlx::query_scalar(ADD)
        .bind(provider.as_str())
        .bind(seconds)
        .fetch_all(pool)
        .await
        .map_err(storage)?;
    // RETURNING follows no order.
    added.sort_unstable();
    added.into_iter().map(from_seconds).collect()
}

pub(super) async fn free(
    pool: &PgPool,
    provider: &ProviderId,
    bounds: SlotBounds,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let starts: Vec<i64> = sqlx::query_scalar(FREE)
        .bind(provider.as_str())
        .bind(bounds.from.timestamp())
        .bind(bounds.to.timestamp())
        .bind(micros(now))
        .bind(decode::bigint(limit))
        .fetch_all(pool)
        .await
        .map_err(storage)?;
    starts.into_iter().map(from_seconds).collect()
}

pub(super) async fn withdraw(
    pool: &PgPool,
    provider: &ProviderId,
    bounds: SlotBounds,
    now: DateTime<Utc>,
) -> Result<StoreWithdrawal> {
    let (from, to) = (bounds.from.timestamp(), bounds.to.timestamp());
    let mut tx = pool.begin().await.map_err(storage)?;
    sqlx::query(LOCK_RANGE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let mut removed: Vec<i64> = sqlx::query_scalar(DELETE_FREE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let conflicts = sqlx::query(LIVE_IN_RANGE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    tx.commit().await.map_err(storage)?;
    removed.sort_unstable();
    Ok(StoreWithdrawal {
        removed: removed
            .into_iter()
            .map(from_seconds)
            .collect::<Result<_>>()?,
        conflicts: decode::reservations(&conflicts)?,
    })
}
