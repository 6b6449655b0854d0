//! [`ReservationStore`] on PostgreSQL: reading reservations (by id, by
//! idempotency key, in keyset pages) and the blocked cells here; the hold
//! (`hold`), the moves that follow it (`lifecycle`) and rescheduling
//! (`reschedule`) each have a module.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, ReservationStore, SlotBounds,
};
use scheduler_core::{
    Claim, ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result, SlotId,
};
use sqlx::PgConnection;

use super::PostgresStore;
use crate::reservations::{BY_ID, BY_KEY};
use crate::row::{self, ReservationRow, id_bytes, storage};

mod hold;
mod lifecycle;
mod reschedule;

/// Makes the claims of reservations `$1` agree with their stored status:
/// none for a cancelled or expired one, none that lapse for a confirmed one.
/// A statement of its own, so its snapshot sees every claim committed before
/// it; see `missed_claims!` for when it is needed.
const SETTLE_CLAIMS: &str = "
    WITH r AS (SELECT id, status FROM reservations WHERE id = ANY($1)),
    freed AS (
        DELETE FROM claims USING r
        WHERE claims.reservation_id = r.id AND r.status IN ('cancelled', 'expired')
    ),
    kept AS (
        UPDATE claims SET expires_us = NULL FROM r
        WHERE claims.reservation_id = r.id AND r.status = 'confirmed'
          AND claims.expires_us IS NOT NULL
    )
    SELECT count(*) FROM r";

/// Runs [`SETTLE_CLAIMS`] for `ids`.
async fn settle_claims(conn: &mut PgConnection, ids: &[Vec<u8>]) -> sqlx::Result<()> {
    sqlx::query(SETTLE_CLAIMS).bind(ids).execute(conn).await?;
    Ok(())
}

#[async_trait]
impl ReservationStore for PostgresStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        let mut conn = self.conns.get().await?;
        let outcome = hold::hold_on(&mut conn, request, now).await;
        conn.finish(outcome)
    }

    async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<RescheduleOutcome> {
        let mut conn = self.conns.get().await?;
        let outcome = reschedule::reschedule_on(&mut conn, id, slot, claim, now).await;
        conn.finish(outcome)
    }

    async fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let mut conn = self.conns.get().await?;
        let cells = sqlx::query_scalar(BLOCKED_CELLS)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(row::micros(now))
            .fetch_all(&mut *conn)
            .await;
        let cells: Vec<i64> = conn.settle(cells)?;
        cells.into_iter().map(row::from_seconds).collect()
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

/// The cells of `$1` in `[$2, $3)` that a reservation live at `$4` claims,
/// ascending: a range of the claims' primary key.
const BLOCKED_CELLS: &str = "
    SELECT cell_s FROM claims
    WHERE provider_id = $1 AND cell_s >= $2 AND cell_s < $3
      AND (expires_us IS NULL OR expires_us > $4)
    ORDER BY cell_s";

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
