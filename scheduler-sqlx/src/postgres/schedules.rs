//! [`ScheduleStore`] on PostgreSQL: each operation on a connection the
//! store keeps; the statements and steps are the crate's `schedules`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarWrite, ScheduleStore, StoredSchedule};
use scheduler_core::{ProviderId, Result};
use sqlx::Connection;

use super::PostgresStore;
use crate::row::{limit, micros, storage};
use crate::schedules::{self, ADVANCE, DUE, ONE, Row};

crate::schedules::schedule_writes!(sqlx::Postgres);

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        let mut conn = self.conns.get().await?;
        let written = match conn.begin().await {
            Ok(tx) => put(tx, provider, json, through, version).await,
            Err(error) => Err(storage(error)),
        };
        conn.finish(written)
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        let mut conn = self.conns.get().await?;
        let row = sqlx::query_as(ONE)
            .bind(provider.as_str())
            .fetch_optional(&mut *conn)
            .await;
        let row: Option<Row> = conn.settle(row)?;
        schedules::one(row)
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        let mut conn = self.conns.get().await?;
        let deleted = match conn.begin().await {
            Ok(tx) => delete(tx, provider).await,
            Err(error) => Err(storage(error)),
        };
        conn.finish(deleted)
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        let mut conn = self.conns.get().await?;
        let found = sqlx::query_as(DUE)
            .bind(micros(before))
            .bind(limit(max))
            .fetch_all(&mut *conn)
            .await;
        let found: Vec<Row> = conn.settle(found)?;
        schedules::due(found)
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conns.get().await?;
        let done = sqlx::query(ADVANCE)
            .bind(provider.as_str())
            .bind(micros(from))
            .bind(micros(to))
            .execute(&mut *conn)
            .await;
        Ok(conn.settle(done)?.rows_affected() == 1)
    }
}
