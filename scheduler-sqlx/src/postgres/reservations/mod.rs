//! [`ReservationStore`] on PostgreSQL: reading reservations (by id, by
//! idempotency key, in keyset pages) here; the hold (`hold`) and the moves
//! that follow it (`lifecycle`) each have a module.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest, ReservationPage, ReservationStore};
use scheduler_core::{ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result};
use sqlx::PgConnection;

use super::PostgresStore;
use crate::reservations::{BY_ID, BY_KEY};
use crate::row::{self, ReservationRow, id_bytes, storage};

mod hold;
mod lifecycle;

#[async_trait]
impl ReservationStore for PostgresStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        let mut conn = self.conns.get().await?;
        let outcome = hold::hold_on(&mut conn, request, now).await;
        conn.finish(outcome)
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        let mut conn = self.conns.get().await?;
        let row = sqlx::query_as(BY_ID)
            .bind(id_bytes(id))
            .fetch_optional(&mut *conn)
            .await;
        row::reservation(conn.settle(row)?)
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        let mut conn = self.conns.get().await?;
        let found = by_key_on(&mut conn, client, key).await;
        conn.finish(found)
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::transition(&self.conns, lifecycle::CONFIRM, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::transition(&self.conns, lifecycle::CANCEL, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        lifecycle::expire_due(&self.conns, now, batch).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.page(BY_PROVIDER, provider.as_str(), page).await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.page(BY_CLIENT, client.as_str(), page).await
    }
}

/// `$4, $5` is the position to resume after; the first page passes the lower
/// bound and an empty id, which sorts before every 16-byte id. The row
/// comparison lets the index `(provider_id, start_s, id)` start at the
/// position instead of skipping rows (no `OFFSET`).
const BY_PROVIDER: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations
     WHERE provider_id = $1 AND start_s >= $2 AND start_s < $3
       AND (start_s, id) > ($4, $5)
     ORDER BY start_s, id
     LIMIT $6"
);

/// As [`BY_PROVIDER`], through the index `(client_id, start_s, id)`.
const BY_CLIENT: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations
     WHERE client_id = $1 AND start_s >= $2 AND start_s < $3
       AND (start_s, id) > ($4, $5)
     ORDER BY start_s, id
     LIMIT $6"
);

impl PostgresStore {
    /// The page `sql` ([`BY_PROVIDER`] or [`BY_CLIENT`]) gives for `party`.
    async fn page(
        &self,
        sql: &'static str,
        party: &str,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        let from = page.bounds.from.timestamp();
        let (after_s, after_id) = match page.after {
            Some((start, id)) => (start.timestamp(), id_bytes(id)),
            None => (from, Vec::new()),
        };
        let mut conn = self.conns.get().await?;
        let rows = sqlx::query_as(sql)
            .bind(party)
            .bind(from)
            .bind(page.bounds.to.timestamp())
            .bind(after_s)
            .bind(after_id)
            .bind(row::limit(page.limit))
            .fetch_all(&mut *conn)
            .await;
        row::reservations(conn.settle(rows)?)
    }
}

/// The reservation `client` made with `key`, on a connection an operation
/// already holds.
async fn by_key_on(
    conn: &mut PgConnection,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let row: Option<ReservationRow> = sqlx::query_as(BY_KEY)
        .bind(client.as_str())
        .bind(key.as_str())
        .fetch_optional(conn)
        .await
        .map_err(storage)?;
    row::reservation(row)
}
