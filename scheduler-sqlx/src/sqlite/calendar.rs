//! [`CalendarStore`] on SQLite: a provider's slots (adding, listing the
//! free ones, withdrawing) and the version that counts its writes.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarStore, CalendarWrite, SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{QueryBuilder, Sqlite};

use super::{BEGIN_IMMEDIATE, SqliteStore, rows};
use crate::row::{RESERVATION_COLUMNS, check_version, micros, storage, version};

#[async_trait]
impl CalendarStore for SqliteStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        current(&self.reader, provider).await
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        add(&self.writer, provider, starts, expected).await
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        withdraw(&self.writer, provider, bounds, expected, now).await
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        free(&self.reader, provider, bounds, limit, now).await
    }

    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        versioned_free(&self.reader, provider, bounds, limit, now).await
    }
}

/// Rows per `INSERT`: two bind parameters each keeps a statement under 999,
/// the lowest variable limit SQLite has shipped with.
const INSERT_BATCH: usize = 400;

/// `?1` provider, `[?2, ?3)` start seconds, `?4` now in microseconds, `?5` limit.
///
/// The range walks the slots' primary key in order and stops after the
/// limit; each slot costs one probe of the live-reservation index, which the
/// `status IN (...)` term lets the planner use. The limit is an expression,
/// not a bare `?5`: SQLite plans a bare `LIMIT ?` for the value bound, and so
/// parses and plans the statement again every time it is bound anew.
const FREE_SLOTS: &str = "\
SELECT s.start_s FROM slots AS s
WHERE s.provider_id = ?1 AND s.start_s >= ?2 AND s.start_s < ?3
  AND NOT EXISTS (
    SELECT 1 FROM reservations AS r
    WHERE r.provider_id = s.provider_id AND r.start_s = s.start_s
      AND r.status IN ('held', 'confirmed')
      AND (r.status = 'confirmed' OR r.expires_us > ?4))
ORDER BY s.start_s
LIMIT CAST(?5 AS INTEGER)";

/// [`FREE_SLOTS`] as one row: the starts joined by commas, NULL for none.
///
/// The connection's worker thread hands every result row to the caller
/// separately, a cross-thread wake-up each; one text of a page's starts costs
/// one hand-over whatever the page size.
pub(super) static FREE_SLOTS_JOINED: LazyLock<String> =
    LazyLock::new(|| format!("SELECT group_concat(start_s) FROM ({FREE_SLOTS})"));

/// The calendar's version (NULL before any write) beside
/// [`FREE_SLOTS_JOINED`]'s page: one statement reads both from one snapshot,
/// in one hand-over to the connection's worker thread instead of two.
pub(super) static VERSIONED_FREE_SLOTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT version FROM calendars WHERE provider_id = ?1), \
         (SELECT group_concat(start_s) FROM ({FREE_SLOTS}))"
    )
});

/// `?1` provider, `[?2, ?3)` start seconds, `?4` now in microseconds.
const DELETE_FREE: &str = "\
DELETE FROM slots AS s
WHERE s.provider_id = ?1 AND s.start_s >= ?2 AND s.start_s < ?3
  AND NOT EXISTS (
    SELECT 1 FROM reservations AS r
    WHERE r.provider_id = s.provider_id AND r.start_s = s.start_s
      AND r.status IN ('held', 'confirmed')
      AND (r.status = 'confirmed' OR r.expires_us > ?4))
RETURNING start_s";

/// The live reservations on `?1`'s slots in `[?2, ?3)` at `?4`: run after
/// [`DELETE_FREE`], they are exactly the slots it kept.
static LIVE_IN_RANGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations
         WHERE provider_id = ?1 AND start_s >= ?2 AND start_s < ?3
           AND status IN ('held', 'confirmed')
           AND (status = 'confirmed' OR expires_us > ?4)
         ORDER BY start_s"
    )
});

async fn add(
    writer: &SqlitePool,
    provider: &ProviderId,
    starts: &[SlotStart],
    expected: Option<u64>,
) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
    // One transaction for every batch: a failure adds none of the slots.
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let current = lock(&mut tx, provider).await?;
    if let Err(current) = check_version(expected, current) {
        return Ok(CalendarWrite::VersionMismatch { current });
    }
    let mut added = Vec::with_capacity(starts.len());
    for batch in starts.chunks(INSERT_BATCH) {
        let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO slots (provider_id, start_s) ");
        insert.push_values(batch, |mut row, start| {
            row.push_bind(provider.as_str().to_owned())
                .push_bind(start.timestamp());
        });
        insert.push(" ON CONFLICT DO NOTHING RETURNING start_s");
        added.extend(insert.build().fetch_all(&mut *tx).await.map_err(storage)?);
    }
    let version = if added.is_empty() {
        current
    } else {
        bump(&mut tx, provider).await?
    };
    tx.commit().await.map_err(storage)?;
    Ok(CalendarWrite::Applied {
        outcome: rows::starts(&added)?,
        version,
    })
}

async fn withdraw(
    writer: &SqlitePool,
    provider: &ProviderId,
    bounds: SlotBounds,
    expected: Option<u64>,
    now: DateTime<Utc>,
) -> Result<CalendarWrite<StoreWithdrawal>> {
    let (from, to, now) = (bounds.from.timestamp(), bounds.to.timestamp(), micros(now));
    // IMMEDIATE: the conflicts read must see the same calendar the delete left.
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let current = lock(&mut tx, provider).await?;
    if let Err(current) = check_version(expected, current) {
        return Ok(CalendarWrite::VersionMismatch { current });
    }
    let removed = sqlx::query(DELETE_FREE)
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let conflicts = sqlx::query(LIVE_IN_RANGE.as_str())
        .bind(provider.as_str())
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(storage)?;
    let version = if removed.is_empty() {
        current
    } else {
        bump(&mut tx, provider).await?
    };
    tx.commit().await.map_err(storage)?;
    let outcome = StoreWithdrawal {
        removed: rows::starts(&removed)?,
        conflicts: rows::reservations(&conflicts)?,
    };
    Ok(CalendarWrite::Applied { outcome, version })
}

async fn free(
    reader: &SqlitePool,
    provider: &ProviderId,
    bounds: SlotBounds,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let joined: Option<String> = sqlx::query_scalar(FREE_SLOTS_JOINED.as_str())
        .bind(provider.as_str())
        .bind(bounds.from.timestamp())
        .bind(bounds.to.timestamp())
        .bind(micros(now))
        .bind(rows::count(limit))
        .fetch_one(reader)
        .await
        .map_err(storage)?;
    rows::joined_starts(joined.as_deref().unwrap_or(""))
}

/// The calendar's version and a page of free slots, from one snapshot.
async fn versioned_free(
    reader: &SqlitePool,
    provider: &ProviderId,
    bounds: SlotBounds,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<(u64, Vec<DateTime<Utc>>)> {
    let (stored, joined): (Option<i64>, Option<String>) =
        sqlx::query_as(VERSIONED_FREE_SLOTS.as_str())
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(micros(now))
            .bind(rows::count(limit))
            .fetch_one(reader)
            .await
            .map_err(storage)?;
    let starts = rows::joined_starts(joined.as_deref().unwrap_or(""))?;
    Ok((version(stored.unwrap_or(0))?, starts))
}

/// Creates the row at version 0 if missing and returns the version; inside a
/// write transaction the upsert also makes this the transaction's first write.
const CURRENT_FOR_WRITE: &str = "\
INSERT INTO calendars (provider_id, version) VALUES (?1, 0)
ON CONFLICT (provider_id) DO UPDATE SET version = calendars.version
RETURNING version";

const BUMP: &str =
    "UPDATE calendars SET version = version + 1 WHERE provider_id = ?1 RETURNING version";

const CURRENT: &str = "SELECT version FROM calendars WHERE provider_id = ?1";

/// The provider's calendar version, 0 if it was never written.
async fn current(reader: &SqlitePool, provider: &ProviderId) -> Result<u64> {
    let stored: Option<i64> = sqlx::query_scalar(CURRENT)
        .bind(provider.as_str())
        .fetch_optional(reader)
        .await
        .map_err(storage)?;
    version(stored.unwrap_or(0))
}

/// The version at the start of a write transaction.
pub(super) async fn lock(tx: &mut SqliteConnection, provider: &ProviderId) -> Result<u64> {
    let stored: i64 = sqlx::query_scalar(CURRENT_FOR_WRITE)
        .bind(provider.as_str())
        .fetch_one(tx)
        .await
        .map_err(storage)?;
    version(stored)
}

/// Counts a write that changed the set of slots; returns the new version.
pub(super) async fn bump(tx: &mut SqliteConnection, provider: &ProviderId) -> Result<u64> {
    let stored: i64 = sqlx::query_scalar(BUMP)
        .bind(provider.as_str())
        .fetch_one(tx)
        .await
        .map_err(storage)?;
    version(stored)
}
