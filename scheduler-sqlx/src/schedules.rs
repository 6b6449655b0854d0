//! Weekly schedules, the same on every database: stored as their JSON text
//! beside the calendar they publish, tied to its version, and rolled forward
//! by compare-and-set on `through_us`. Each backend's `schedules` module
//! opens the connection or transaction; the statements and the steps are
//! here, once (SQLite reads `$n` as PostgreSQL does).

use scheduler_core::store::StoredSchedule;
use scheduler_core::{ProviderId, Result};

use crate::row::stored_schedule;

pub(crate) const TEXT: &str = "SELECT json FROM schedules WHERE provider_id = $1";

pub(crate) const UPSERT: &str = "
    INSERT INTO schedules (provider_id, json, through_us) VALUES ($1, $2, $3)
    ON CONFLICT (provider_id) DO UPDATE SET json = excluded.json, through_us = excluded.through_us";

pub(crate) const ONE: &str =
    "SELECT provider_id, json, through_us FROM schedules WHERE provider_id = $1";

pub(crate) const DELETE: &str =
    "DELETE FROM schedules WHERE provider_id = $1 RETURNING provider_id";

/// Walks the `schedules_due` index from its start and stops at the limit.
pub(crate) const DUE: &str = "
    SELECT provider_id, json, through_us FROM schedules
    WHERE through_us < $1
    ORDER BY through_us, provider_id
    LIMIT $2";

/// One conditional statement: two sweepers that read the same `through`
/// cannot both move it.
pub(crate) const ADVANCE: &str =
    "UPDATE schedules SET through_us = $3 WHERE provider_id = $1 AND through_us = $2";

/// A row of [`ONE`] or [`DUE`]: provider_id, json, through_us.
pub(crate) type Row = (String, String, i64);

/// The stored schedule in a row of [`ONE`].
pub(crate) fn one(row: Option<Row>) -> Result<Option<StoredSchedule>> {
    row.map(|(id, json, through)| stored_schedule(id, json, through).map(|(_, stored)| stored))
        .transpose()
}

/// The providers and schedules in rows of [`DUE`].
pub(crate) fn due(rows: Vec<Row>) -> Result<Vec<(ProviderId, StoredSchedule)>> {
    rows.into_iter()
        .map(|(id, json, through)| stored_schedule(id, json, through))
        .collect()
}

/// Defines `put` and `delete` for the database `$db`, the steps of
/// [`ScheduleStore::put_schedule`](scheduler_core::store::ScheduleStore::put_schedule)
/// and `delete_schedule` inside a transaction the backend began. A macro,
/// not a generic function: a future generic over the database's executor
/// cannot be shown `Send` for every lifetime, as the store traits need.
macro_rules! schedule_writes {
    ($db:ty) => {
        /// In `tx`, which holds the database's write lock (SQLite) or is about to
        /// take the calendar's row lock (PostgreSQL): stores `json` at `version`,
        /// as [`ScheduleStore::put_schedule`](scheduler_core::store::ScheduleStore::put_schedule)
        /// says, then commits, or rolls back at once on a version mismatch (so the
        /// lock is released now, and the connection is reusable: a dropped
        /// transaction only queues its rollback).
        pub(super) async fn put(
            mut tx: sqlx::Transaction<'_, $db>,
            provider: &scheduler_core::ProviderId,
            json: &str,
            through: chrono::DateTime<chrono::Utc>,
            version: u64,
        ) -> scheduler_core::Result<scheduler_core::store::CalendarWrite<()>> {
            // The calendar's lock serializes this with every other calendar write,
            // so the version checked is the version the schedule lands at.
            let current = super::read_version(&mut tx, $crate::versions::LOCK, provider).await?;
            if current != version {
                tx.rollback().await.map_err($crate::row::storage)?;
                return Ok(scheduler_core::store::CalendarWrite::VersionMismatch { current });
            }
            let before: Option<String> = sqlx::query_scalar($crate::schedules::TEXT)
                .bind(provider.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::row::storage)?;
            sqlx::query($crate::schedules::UPSERT)
                .bind(provider.as_str())
                .bind(json)
                .bind($crate::row::micros(through))
                .execute(&mut *tx)
                .await
                .map_err($crate::row::storage)?;
            let version =
                super::version_after(&mut tx, provider, current, before.as_deref() != Some(json))
                    .await?;
            tx.commit().await.map_err($crate::row::storage)?;
            Ok(scheduler_core::store::CalendarWrite::Applied {
                outcome: (),
                version,
            })
        }

        /// In `tx`, as for [`put`]: removes the schedule, bumping the calendar
        /// version if there was one, then commits.
        pub(super) async fn delete(
            mut tx: sqlx::Transaction<'_, $db>,
            provider: &scheduler_core::ProviderId,
        ) -> scheduler_core::Result<bool> {
            super::read_version(&mut tx, $crate::versions::LOCK, provider).await?;
            let deleted = sqlx::query($crate::schedules::DELETE)
                .bind(provider.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::row::storage)?
                .is_some();
            if deleted {
                super::read_version(&mut tx, $crate::versions::BUMP, provider).await?;
            }
            tx.commit().await.map_err($crate::row::storage)?;
            Ok(deleted)
        }
    };
}
pub(crate) use schedule_writes;
