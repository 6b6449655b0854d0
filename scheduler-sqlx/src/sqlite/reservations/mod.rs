//! [`ReservationStore`] on SQLite: reading reservations (by id, by
//! idempotency key, in keyset pages); the hold (`hold`, run in shared
//! transactions by `group_commit`) and the moves that follow it
//! (`lifecycle`) each have a module.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest, ReservationPage, ReservationStore};
use scheduler_core::{ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result};
use sqlx::sqlite::SqliteExecutor;

use super::{SqliteStore, rows};
use crate::row::{RESERVATION_COLUMNS, id_bytes, storage};

pub(super) mod group_commit;
pub(super) mod hold;
pub(super) mod lifecycle;

#[async_trait]
impl ReservationStore for SqliteStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        self.holds.hold(request, now).await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        by_id(&self.reader, id).await
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        by_key(&self.reader, client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::confirm(&self.writer, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::cancel(&self.writer, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        lifecycle::expire_due(&self.writer, now, batch).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self::page(
            &self.reader,
            PROVIDER_PAGE.as_str(),
            provider.as_str(),
            page,
        )
        .await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self::page(&self.reader, CLIENT_PAGE.as_str(), client.as_str(), page).await
    }
}

static BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {RESERVATION_COLUMNS} FROM reservations WHERE id = ?1"));

static BY_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations
         WHERE client_id = ?1 AND idempotency_key = ?2"
    )
});

/// A page of one party's reservations: `?1` the party, positions after
/// `(?2, ?3)` (start seconds, id bytes) with starts before `?4`, at most `?5`.
/// The row-value comparison is a range on the `(party, start_s, id)` index,
/// so a page costs its own length whatever came before it. The limit is cast
/// so that SQLite keeps one plan instead of planning again for each value
/// bound (see `slots::FREE_SLOTS`).
fn page_sql(party: &str) -> String {
    format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations
         WHERE {party} = ?1 AND (start_s, id) > (?2, ?3) AND start_s < ?4
         ORDER BY start_s, id
         LIMIT CAST(?5 AS INTEGER)"
    )
}

pub(crate) static PROVIDER_PAGE: LazyLock<String> = LazyLock::new(|| page_sql("provider_id"));
pub(crate) static CLIENT_PAGE: LazyLock<String> = LazyLock::new(|| page_sql("client_id"));

pub(super) async fn by_id<'e>(
    db: impl SqliteExecutor<'e>,
    id: ReservationId,
) -> Result<Option<Reservation>> {
    let row = sqlx::query(BY_ID.as_str())
        .bind(id_bytes(id))
        .fetch_optional(db)
        .await
        .map_err(storage)?;
    row.as_ref().map(rows::reservation).transpose()
}

pub(super) async fn by_key<'e>(
    db: impl SqliteExecutor<'e>,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let row = sqlx::query(BY_KEY.as_str())
        .bind(client.as_str())
        .bind(key.as_str())
        .fetch_optional(db)
        .await
        .map_err(storage)?;
    row.as_ref().map(rows::reservation).transpose()
}

/// The page `sql` (one of [`PROVIDER_PAGE`], [`CLIENT_PAGE`]) gives for `party`.
async fn page<'e>(
    db: impl SqliteExecutor<'e>,
    sql: &'static str,
    party: &str,
    page: ReservationPage,
) -> Result<Vec<Reservation>> {
    let from = page.bounds.from.timestamp();
    let (after_start, after_id) = match page.after {
        Some((start, id)) if start.timestamp() >= from => (start.timestamp(), id_bytes(id)),
        // The position just before `from`: no 16-byte id sorts after sixteen
        // 0xff bytes, so every reservation starting at `from` follows it.
        _ => (from - 1, vec![0xff; 16]),
    };
    let found = sqlx::query(sql)
        .bind(party)
        .bind(after_start)
        .bind(after_id)
        .bind(page.bounds.to.timestamp())
        .bind(rows::count(page.limit))
        .fetch_all(db)
        .await
        .map_err(storage)?;
    rows::reservations(&found)
}
