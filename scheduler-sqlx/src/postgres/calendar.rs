//! [`CalendarStore`] on PostgreSQL: a provider's slots (adding, listing
//! the free ones, withdrawing) and the version that counts its writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarStore, CalendarWrite, SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};
#[cfg(test)]
use sqlx::AssertSqlSafe;
use sqlx::{Connection, PgConnection};

use super::PostgresStore;
use crate::row::{self, check_version, from_seconds, micros, reservations, storage, version};
use crate::versions;

impl PostgresStore {
    /// Gathers the statistics of `slots` now if `added` rows are a tenth of
    /// the table or more, as autovacuum would within a minute or so.
    ///
    /// Each connection keeps one plan per statement for any parameters (the
    /// generic plan) until the statistics of its tables change. Made while
    /// the table was small, the listing's generic plan scans the whole table
    /// and sorts it, and a calendar published in bulk right after would be
    /// listed that way until autovacuum came round: 76 ms a page for 100,800
    /// slots instead of well under one. `ANALYZE` makes every connection plan
    /// its statements again. A role that may not analyze the table gets a
    /// warning from the server and nothing changes.
    async fn refresh_statistics(&self, added: usize) -> Result<()> {
        let mut conn = self.conns.get().await?;
        let refreshed = async {
            let grew: bool = sqlx::query_scalar(GREW)
                .bind(i64::try_from(added).unwrap_or(i64::MAX))
                .fetch_one(&mut *conn)
                .await
                .map_err(storage)?;
            if grew {
                (sqlx::query("ANALYZE slots").execute(&mut *conn))
                    .await
                    .map_err(storage)?;
            }
            Ok(())
        }
        .await;
        conn.finish(refreshed)
    }
}

/// A write of at least this many slots may refresh the statistics.
const BIG_WRITE: usize = 1_000;

/// Whether `$1` new rows are a tenth of `slots` or more, as the table's
/// statistics last counted it (`reltuples` is -1 before any).
const GREW: &str = "
    SELECT $1 >= reltuples / 10 FROM pg_class WHERE oid = 'slots'::regclass";

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
        let written = conn.finish(written)?;
        if let CalendarWrite::Applied { outcome, .. } = &written
            && outcome.len() >= BIG_WRITE
        {
            // The slots are stored whatever becomes of this; autovacuum
            // would gather the statistics later anyway.
            let _ = self.refresh_statistics(outcome.len()).await;
        }
        Ok(written)
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

/// The listing's plan on the server named by `SCHEDULER_TEST_POSTGRES_URL`.
#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use scheduler_core::{ListQuery, ManualClock, Precondition, Scheduler, Window};

    use super::*;
    use crate::postgres::test_schema::{TestSchema, now};

    /// Publishes `days` of round-the-clock slots for `provider`, from the
    /// day after tomorrow, in one write.
    async fn publish(scheduler: &Scheduler<PostgresStore, ManualClock>, provider: &str, days: i64) {
        let provider = ProviderId::new(provider).unwrap();
        let first = now() + TimeDelta::days(2);
        let windows: Vec<Window> = (0..days)
            .map(|d| {
                let day = first + TimeDelta::days(d);
                Window::new(day, day + TimeDelta::days(1)).unwrap()
            })
            .collect();
        (scheduler.add_availability(&provider, &windows, Precondition::Any))
            .await
            .unwrap();
    }

    /// The name and generic plan count of the listing's prepared statement
    /// on the store's one connection.
    async fn listing_statement(store: &PostgresStore) -> (String, i64) {
        let mut conn = store.conns.get().await.unwrap();
        let found = sqlx::query_as(
            "SELECT name, generic_plans FROM pg_prepared_statements WHERE statement = $1",
        )
        .bind(FREE)
        .fetch_one(&mut *conn)
        .await;
        conn.settle(found).unwrap()
    }

    /// A connection keeps a generic plan for the listing, made while the
    /// table was small; a publish that grows the table by more than a tenth
    /// refreshes its statistics, so that plan is made again and walks the
    /// primary key instead of scanning and sorting the whole table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_big_publish_replaces_a_plan_made_on_a_small_table() {
        let Some(db) = TestSchema::new("listing_plans").await else {
            return;
        };
        publish(&db.scheduler, "small", 2).await;
        // Statistics of the small tables, as autovacuum would gather them.
        db.run(format!("ANALYZE {0}.slots; ANALYZE {0}.claims", db.name))
            .await;
        let small = ProviderId::new("small").unwrap();
        for _ in 0..8 {
            (db.scheduler.list_slots(&small, ListQuery::all()))
                .await
                .unwrap();
        }
        let (_, generic) = listing_statement(&db.store).await;
        assert!(generic > 0, "the listing runs a generic plan");

        publish(&db.scheduler, "big", 360).await;
        let (name, _) = listing_statement(&db.store).await;
        let explain = format!(
            "EXPLAIN EXECUTE {name}('big', {}, {}, {}, 51)",
            now().timestamp(),
            (now() + TimeDelta::days(2000)).timestamp(),
            now().timestamp_micros()
        );
        let mut conn = db.store.conns.get().await.unwrap();
        let plan = sqlx::query_scalar(AssertSqlSafe(explain))
            .fetch_all(&mut *conn)
            .await;
        let plan: Vec<String> = conn.settle(plan).unwrap();
        let plan = plan.join("\n");
        assert!(
            !plan.contains("Seq Scan on slots"),
            "the listing must not scan the table:\n{plan}"
        );
        assert!(
            plan.contains("using slots_pkey on slots"),
            "the listing walks the primary key:\n{plan}"
        );
        db.drop().await;
    }
}
