//! [`ScheduleStore`] on SQLite: weekly schedules, stored as their JSON text beside the calendar they
//! publish, and rolled forward by compare-and-set on `through_us`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarWrite, ScheduleStore, StoredSchedule};
use scheduler_core::{ProviderId, Result};
use sqlx::sqlite::SqlitePool;

use super::{BEGIN_IMMEDIATE, SqliteStore, calendar, rows};
use crate::row::{micros, storage, stored_schedule};

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        put(&self.writer, provider, json, through, version).await
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        get(&self.reader, provider).await
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        delete(&self.writer, provider).await
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        due(&self.reader, before, limit).await
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        advance(&self.writer, provider, from, to).await
    }
}

const TEXT: &str = "SELECT json FROM schedules WHERE provider_id = ?1";

const UPSERT: &str = "\
INSERT INTO schedules (provider_id, json, through_us) VALUES (?1, ?2, ?3)
ON CONFLICT (provider_id) DO UPDATE SET json = excluded.json, through_us = excluded.through_us";

const ONE: &str = "SELECT provider_id, json, through_us FROM schedules WHERE provider_id = ?1";

const DELETE: &str = "DELETE FROM schedules WHERE provider_id = ?1 RETURNING provider_id";

/// Walks the `schedules_due` index from its start and stops at the limit.
const DUE: &str = "\
SELECT provider_id, json, through_us FROM schedules
WHERE through_us < ?1
ORDER BY through_us, provider_id
LIMIT ?2";

const ADVANCE: &str = "\
UPDATE schedules SET through_us = ?3 WHERE provider_id = ?1 AND through_us = ?2";

async fn put(
    writer: &SqlitePool,
    provider: &ProviderId,
    json: &str,
    through: DateTime<Utc>,
    version: u64,
) -> Result<CalendarWrite<()>> {
    // IMMEDIATE: the version read and the write it guards form one step.
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    let current = calendar::lock(&mut tx, provider).await?;
    if current != version {
        return Ok(CalendarWrite::VersionMismatch { current });
    }
    let before: Option<String> = sqlx::query_scalar(TEXT)
        .bind(provider.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(storage)?;
    sqlx::query(UPSERT)
        .bind(provider.as_str())
        .bind(json)
        .bind(micros(through))
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let version = if before.as_deref() == Some(json) {
        current
    } else {
        calendar::bump(&mut tx, provider).await?
    };
    tx.commit().await.map_err(storage)?;
    Ok(CalendarWrite::Applied {
        outcome: (),
        version,
    })
}

async fn get(reader: &SqlitePool, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
    let row: Option<(String, String, i64)> = sqlx::query_as(ONE)
        .bind(provider.as_str())
        .fetch_optional(reader)
        .await
        .map_err(storage)?;
    row.map(|(id, json, through)| stored_schedule(id, json, through).map(|(_, stored)| stored))
        .transpose()
}

async fn delete(writer: &SqlitePool, provider: &ProviderId) -> Result<bool> {
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await.map_err(storage)?;
    calendar::lock(&mut tx, provider).await?;
    let deleted = sqlx::query(DELETE)
        .bind(provider.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(storage)?
        .is_some();
    if deleted {
        calendar::bump(&mut tx, provider).await?;
    }
    tx.commit().await.map_err(storage)?;
    Ok(deleted)
}

async fn due(
    reader: &SqlitePool,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(ProviderId, StoredSchedule)>> {
    let found: Vec<(String, String, i64)> = sqlx::query_as(DUE)
        .bind(micros(before))
        .bind(rows::count(limit))
        .fetch_all(reader)
        .await
        .map_err(storage)?;
    found
        .into_iter()
        .map(|(id, json, through)| stored_schedule(id, json, through))
        .collect()
}

async fn advance(
    writer: &SqlitePool,
    provider: &ProviderId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(ADVANCE)
        .bind(provider.as_str())
        .bind(micros(from))
        .bind(micros(to))
        .execute(writer)
        .await
        .map_err(storage)?;
    Ok(done.rows_affected() == 1)
}
