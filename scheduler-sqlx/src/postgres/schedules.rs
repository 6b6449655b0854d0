//! [`ScheduleStore`] on PostgreSQL: weekly schedules, stored as their JSON text beside the calendar they
//! publish, and rolled forward by compare-and-set on `through_us`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarWrite, ScheduleStore, StoredSchedule};
use scheduler_core::{ProviderId, Result};
use sqlx::{Connection, PgConnection};

use super::conns::Conns;
use super::{PostgresStore, calendar, decode};
use crate::row::{micros, storage, stored_schedule};

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        put(&self.conns, provider, json, through, version).await
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        get(&self.conns, provider).await
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        delete(&self.conns, provider).await
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        due(&self.conns, before, limit).await
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        advance(&self.conns, provider, from, to).await
    }
}

const TEXT: &str = "SELECT json FROM schedules WHERE provider_id = $1";

const UPSERT: &str = "
    INSERT INTO schedules (provider_id, json, through_us) VALUES ($1, $2, $3)
    ON CONFLICT (provider_id) DO UPDATE SET json = excluded.json, through_us = excluded.through_us";

const ONE: &str = "SELECT provider_id, json, through_us FROM schedules WHERE provider_id = $1";

const DELETE: &str = "DELETE FROM schedules WHERE provider_id = $1 RETURNING provider_id";

/// Walks the `schedules_due` index from its start and stops at the limit.
const DUE: &str = "
    SELECT provider_id, json, through_us FROM schedules
    WHERE through_us < $1
    ORDER BY through_us, provider_id
    LIMIT $2";

/// One conditional statement: two sweepers that read the same `through`
/// cannot both move it.
const ADVANCE: &str =
    "UPDATE schedules SET through_us = $3 WHERE provider_id = $1 AND through_us = $2";

async fn put(
    conns: &Conns,
    provider: &ProviderId,
    json: &str,
    through: DateTime<Utc>,
    version: u64,
) -> Result<CalendarWrite<()>> {
    let mut conn = conns.get().await?;
    let written = put_on(&mut conn, provider, json, through, version).await;
    conn.finish(written)
}

async fn put_on(
    conn: &mut PgConnection,
    provider: &ProviderId,
    json: &str,
    through: DateTime<Utc>,
    version: u64,
) -> Result<CalendarWrite<()>> {
    let mut tx = conn.begin().await.map_err(storage)?;
    // The calendar's row lock serializes this with every other calendar
    // write, so the version checked is the version the schedule lands at.
    let current = calendar::lock(&mut tx, provider).await?;
    if current != version {
        // Explicitly, so the lock is released now and the connection is
        // reusable (a dropped transaction only queues its rollback).
        tx.rollback().await.map_err(storage)?;
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

async fn get(conns: &Conns, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query_as(ONE)
        .bind(provider.as_str())
        .fetch_optional(&mut *conn)
        .await;
    let row: Option<(String, String, i64)> = conn.settle(row)?;
    row.map(|(id, json, through)| stored_schedule(id, json, through).map(|(_, stored)| stored))
        .transpose()
}

async fn delete(conns: &Conns, provider: &ProviderId) -> Result<bool> {
    let mut conn = conns.get().await?;
    let deleted = delete_on(&mut conn, provider).await;
    conn.finish(deleted)
}

async fn delete_on(conn: &mut PgConnection, provider: &ProviderId) -> Result<bool> {
    let mut tx = conn.begin().await.map_err(storage)?;
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
    conns: &Conns,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(ProviderId, StoredSchedule)>> {
    let mut conn = conns.get().await?;
    let found = sqlx::query_as(DUE)
        .bind(micros(before))
        .bind(decode::bigint(limit))
        .fetch_all(&mut *conn)
        .await;
    let found: Vec<(String, String, i64)> = conn.settle(found)?;
    found
        .into_iter()
        .map(|(id, json, through)| stored_schedule(id, json, through))
        .collect()
}

async fn advance(
    conns: &Conns,
    provider: &ProviderId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool> {
    let mut conn = conns.get().await?;
    let done = sqlx::query(ADVANCE)
        .bind(provider.as_str())
        .bind(micros(from))
        .bind(micros(to))
        .execute(&mut *conn)
        .await;
    Ok(conn.settle(done)?.rows_affected() == 1)
}
