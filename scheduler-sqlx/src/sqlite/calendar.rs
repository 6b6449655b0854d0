//! [`CalendarStore`] on SQLite: a provider's slots (adding, listing the
//! free ones, withdrawing) and the version that counts its writes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarStore, CalendarWrite, SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};
use sqlx::{QueryBuilder, Sqlite};

use super::{BEGIN_IMMEDIATE, SqliteStore, starts};
use crate::row::{self, check_version, micros, reservations, storage, version};
use crate::versions;

#[async_trait]
impl CalendarStore for SqliteStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        let mut conn = self.reader.acquire().await.map_err(storage)?;
        super::read_version(&mut conn, versions::CURRENT, provider).await
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        // One transaction for every batch: a failure adds none of the slots.
        let mut tx = self
            .writer
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(storage)?;
        let current = super::read_version(&mut tx, versions::LOCK, provider).await?;
        if let Err(current) = check_version(expected, current) {
            return Ok(CalendarWrite::VersionMismatch { current });
        }
        let mut added = Vec::with_capacity(starts.len());
        for batch in starts.chunks(INSERT_BATCH) {
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT INTO slots (provider_id, start_s) ");
            insert.push_values(batch, |mut row, start| {
                row.push_bind(provider.as_str().to_owned())
                    .push_bind(start.timestamp());
            });
            insert.push(" ON CONFLICT DO NOTHING RETURNING start_s");
            added.extend(insert.build().fetch_all(&mut *tx).await.map_err(storage)?);
        }
        let version = super::version_after(&mut tx, provider, current, !added.is_empty()).await?;
        tx.commit().await.map_err(storage)?;
        Ok(CalendarWrite::Applied {
            outcome: starts::of_rows(&added)?,
            version,
        })
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        let (from, to, now) = (bounds.from.timestamp(), bounds.to.timestamp(), micros(now));
        // IMMEDIATE: the conflicts read must see the same calendar the delete left.
        let mut tx = self
            .writer
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(storage)?;
        let current = super::read_version(&mut tx, versions::LOCK, provider).await?;
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
        let conflicts = sqlx::query_as(LIVE_IN_RANGE)
            .bind(provider.as_str())
            .bind(from)
            .bind(to)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(storage)?;
        let version = super::version_after(&mut tx, provider, current, !removed.is_empty()).await?;
        tx.commit().await.map_err(storage)?;
        let outcome = StoreWithdrawal {
            removed: starts::of_rows(&removed)?,
            conflicts: reservations(conflicts)?,
        };
        Ok(CalendarWrite::Applied { outcome, version })
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let joined: Option<String> = sqlx::query_scalar(FREE_SLOTS_JOINED)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(micros(now))
            .bind(row::limit(limit))
            .fetch_one(&self.reader)
            .await
            .map_err(storage)?;
        starts::joined(joined.as_deref().unwrap_or(""))
    }

    /// The calendar's version and a page of free slots, from one snapshot.
    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        let (stored, joined): (Option<i64>, Option<String>) = sqlx::query_as(VERSIONED_FREE_SLOTS)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(micros(now))
            .bind(row::limit(limit))
            .fetch_one(&self.reader)
            .await
            .map_err(storage)?;
        let starts = starts::joined(joined.as_deref().unwrap_or(""))?;
        Ok((version(stored.unwrap_or(0))?, starts))
    }
}

/// Rows per `INSERT`: two bind parameters each keeps a statement under 999,
/// the lowest variable limit SQLite has shipped with.
const INSERT_BATCH: usize = 400;

/// The free slots: `$1` provider, `[$2, $3)` start seconds, `$4` now in
/// microseconds, `$5` limit.
///
/// The range walks the slots' primary key in order and stops after the
/// limit; each slot costs one probe of the claims' primary key. The limit is an expression,
/// not a bare `$5`: SQLite plans a bare `LIMIT ?` for the value bound, and so
/// parses and plans the statement again every time it is bound anew.
macro_rules! free_slots {
    () => {
        "SELECT s.start_s FROM slots AS s
WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
  AND NOT EXISTS (
    SELECT 1 FROM claims AS c
    WHERE c.provider_id = s.provider_id AND c.cell_s = s.start_s
      AND (c.expires_us IS NULL OR c.expires_us > $4))
ORDER BY s.start_s
LIMIT CAST($5 AS INTEGER)"
    };
}

/// The free slots (`free_slots!`) as one row: the starts joined by commas,
/// NULL for none.
///
/// The connection's worker thread hands every result row to the caller
/// separately, a cross-thread wake-up each; one text of a page's starts costs
/// one hand-over whatever the page size.
pub(super) const FREE_SLOTS_JOINED: &str =
    concat!("SELECT group_concat(start_s) FROM (", free_slots!(), ")");

/// The calendar's version (NULL before any write) beside
/// [`FREE_SLOTS_JOINED`]'s page: one statement reads both from one snapshot,
/// in one hand-over to the connection's worker thread instead of two.
pub(super) const VERSIONED_FREE_SLOTS: &str = concat!(
    "SELECT (SELECT version FROM calendars WHERE provider_id = $1), ",
    "(SELECT group_concat(start_s) FROM (",
    free_slots!(),
    "))"
);

/// `$1` provider, `[$2, $3)` start seconds, `$4` now in microseconds:
/// removes every slot but those inside the appointment of a reservation
/// live at `$4` (a slot under a buffer goes).
const DELETE_FREE: &str = "
DELETE FROM slots AS s
WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
  AND NOT EXISTS (
    SELECT 1 FROM claims AS c JOIN reservations AS r ON r.id = c.reservation_id
    WHERE c.provider_id = s.provider_id AND c.cell_s = s.start_s
      AND (c.expires_us IS NULL OR c.expires_us > $4)
      AND r.start_s <= s.start_s AND s.start_s < r.end_s)
RETURNING start_s";

/// The reservations whose appointments kept `$1`'s slots in `[$2, $3)` at
/// `$4`, each once: run after [`DELETE_FREE`], every slot left in the range
/// is inside one, and its cell's live claim names it.
const LIVE_IN_RANGE: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations
     WHERE id IN (
       SELECT c.reservation_id FROM slots AS s
       JOIN claims AS c ON c.provider_id = s.provider_id AND c.cell_s = s.start_s
       WHERE s.provider_id = $1 AND s.start_s >= $2 AND s.start_s < $3
         AND (c.expires_us IS NULL OR c.expires_us > $4))
     ORDER BY start_s"
);
