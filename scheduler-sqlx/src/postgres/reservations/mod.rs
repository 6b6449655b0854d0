//! [`ReservationStore`] on PostgreSQL: reading reservations (by id, by
//! idempotency key, in keyset pages); the hold (`hold`) and the moves that
//! follow it (`lifecycle`) each have a module.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest, ReservationPage, ReservationStore};
use scheduler_core::{ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result};
use sqlx::PgConnection;

use super::PostgresStore;
use super::conns::Conns;
use super::decode;
use crate::row::{id_bytes, storage};

mod hold;
mod lifecycle;

#[async_trait]
impl ReservationStore for PostgresStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        hold::hold(&self.conns, request, now).await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        by_id(&self.conns, id).await
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        by_key(&self.conns, client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::confirm(&self.conns, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::cancel(&self.conns, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        lifecycle::expire_due(&self.conns, now, batch).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        by_provider(&self.conns, provider, page).await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        by_client(&self.conns, client, page).await
    }
}

const BY_ID: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE id = $1"
);

const BY_KEY: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE client_id = $1 AND idempotency_key = $2"
);

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

async fn by_provider(
    conns: &Conns,
    provider: &ProviderId,
    page: ReservationPage,
) -> Result<Vec<Reservation>> {
    fetch(conns, BY_PROVIDER, provider.as_str(), page).await
}

async fn by_client(
    conns: &Conns,
    client: &ClientId,
    page: ReservationPage,
) -> Result<Vec<Reservation>> {
    fetch(conns, BY_CLIENT, client.as_str(), page).await
}

async fn fetch(
    conns: &Conns,
    sql: &'static str,
    owner: &str,
    page: ReservationPage,
) -> Result<Vec<Reservation>> {
    let from = page.bounds.from.timestamp();
    let (after_s, after_id) = match page.after {
        Some((start, id)) => (start.timestamp(), id_bytes(id)),
        None => (from, Vec::new()),
    };
    let mut conn = conns.get().await?;
    let rows = sqlx::query(sql)
        .bind(owner)
        .bind(from)
        .bind(page.bounds.to.timestamp())
        .bind(after_s)
        .bind(after_id)
        .bind(decode::bigint(page.limit))
        .fetch_all(&mut *conn)
        .await;
    decode::reservations(&conn.settle(rows)?)
}

async fn by_id(conns: &Conns, id: ReservationId) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query(BY_ID)
        .bind(id_bytes(id))
        .fetch_optional(&mut *conn)
        .await;
    conn.settle(row)?
        .as_ref()
        .map(decode::reservation)
        .transpose()
}

async fn by_key(
    conns: &Conns,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let mut conn = conns.get().await?;
    let found = by_key_on(&mut conn, client, key).await;
    conn.finish(found)
}

/// [`by_key`] on a connection an operation already holds.
pub(super) async fn by_key_on(
    conn: &mut PgConnection,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let row = sqlx::query(BY_KEY)
        .bind(client.as_str())
        .bind(key.as_str())
        .fetch_optional(conn)
        .await
        .map_err(storage)?;
    row.as_ref().map(decode::reservation).transpose()
}
