//! [`ScheduleStore`] on SQLite: writes in `IMMEDIATE` transactions on the
//! writer, reads on the readers; the statements and steps are the crate's
//! `schedules`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarWrite, ScheduleStore, StoredSchedule};
use scheduler_core::{ProviderId, Result};

use super::{BEGIN_IMMEDIATE, SqliteStore};
use crate::row::{limit, micros, storage};
use crate::schedules::{self, ADVANCE, DUE, ONE, Row};

crate::schedules::schedule_writes!(sqlx::Sqlite);

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        // IMMEDIATE: the version read and the write it guards form one step.
        let tx = self
            .writer
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(storage)?;
        put(tx, provider, json, through, version).await
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        let row: Option<Row> = sqlx::query_as(ONE)
            .bind(provider.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(storage)?;
        schedules::one(row)
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        let tx = self
            .writer
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(storage)?;
        delete(tx, provider).await
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        let found: Vec<Row> = sqlx::query_as(DUE)
            .bind(micros(before))
            .bind(limit(max))
            .fetch_all(&self.reader)
            .await
            .map_err(storage)?;
        schedules::due(found)
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(ADVANCE)
            .bind(provider.as_str())
            .bind(micros(from))
            .bind(micros(to))
            .execute(&self.writer)
            .await
            .map_err(storage)?;
        Ok(done.rows_affected() == 1)
    }
}
