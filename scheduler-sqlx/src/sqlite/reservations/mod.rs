//! [`ReservationStore`] on SQLite: reading reservations (by id, by
//! idempotency key, in keyset pages) and the blocked cells here; the hold
//! (`hold`, run in shared transactions by `group_commit`), the moves that
//! follow it (`lifecycle`) and rescheduling (`reschedule`) each have a
//! module.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, ReservationStore, SlotBounds,
};
use scheduler_core::{
    Claim, ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result, SlotId,
};
use sqlx::sqlite::SqliteExecutor;

use super::SqliteStore;
use crate::reservations::{BY_ID, BY_KEY};
use crate::row::{self, ReservationRow, id_bytes, storage};

pub(super) mod group_commit;
pub(super) mod hold;
pub(super) mod lifecycle;
mod reschedule;

#[async_trait]
impl ReservationStore for SqliteStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        self.holds.hold(request, now).await
    }

    async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<RescheduleOutcome> {
        reschedule::reschedule(&self.writer, id, slot, claim, now).await
    }

    async fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let joined: Option<String> = sqlx::query_scalar(BLOCKED_CELLS_JOINED)
            .bind(provider.as_str())
            .bind(bounds.from.timestamp())
            .bind(bounds.to.timestamp())
            .bind(crate::row::micros(now))
            .fetch_one(&self.reader)
            .await
            .map_err(storage)?;
        super::starts::joined(joined.as_deref().unwrap_or(""))
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        let row = sqlx::query_as(BY_ID)
            .bind(id_bytes(id))
            .fetch_optional(&self.reader)
            .await
            .map_err(storage)?;
        row::reservation(row)
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        by_key(&self.reader, client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::transition(&self.writer, lifecycle::CONFIRM, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::transition(&self.writer, lifecycle::CANCEL, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        let done = sqlx::query(lifecycle::EXPIRE_DUE)
            .bind(crate::row::micros(now))
            .bind(row::limit(batch))
            .execute(&self.writer)
            .await
            .map_err(storage)?;
        Ok(done.rows_affected())
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.page(PROVIDER_PAGE, provider.as_str(), page).await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.page(CLIENT_PAGE, client.as_str(), page).await
    }
}

/// The cells of `$1` in `[$2, $3)` that a reservation live at `$4` claims,
/// ascending, as one comma-joined text (see `calendar::FREE_SLOTS_JOINED`).
const BLOCKED_CELLS_JOINED: &str = "
SELECT group_concat(cell_s) FROM (
  SELECT cell_s FROM claims
  WHERE provider_id = $1 AND cell_s >= $2 AND cell_s < $3
    AND (expires_us IS NULL OR expires_us > $4)
  ORDER BY cell_s)";

/// A page of one party's reservations: `$1` the party, positions after
/// `($2, $3)` (start seconds, id bytes) with starts before `$4`, at most `$5`.
/// The row-value comparison is a range on the `(party, start_s, id)` index,
/// so a page costs its own length whatever came before it. The limit is cast
/// so that SQLite keeps one plan instead of planning again for each value
/// bound (see `calendar::free_slots!`).
macro_rules! page {
    ($party:literal) => {
        concat!(
            "SELECT ",
            reservation_columns!(),
            " FROM reservations WHERE ",
            $party,
            " = $1 AND (start_s, id) > ($2, $3) AND start_s < $4
             ORDER BY start_s, id
             LIMIT CAST($5 AS INTEGER)"
        )
    };
}

/// A provider's page, through the index `(provider_id, start_s, id)`.
pub(crate) const PROVIDER_PAGE: &str = page!("provider_id");

/// A client's page, through the index `(client_id, start_s, id)`.
pub(crate) const CLIENT_PAGE: &str = page!("client_id");

impl SqliteStore {
    /// The page `sql` ([`PROVIDER_PAGE`] or [`CLIENT_PAGE`]) gives for `party`.
    async fn page(
        &self,
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
        let found = sqlx::query_as(sql)
            .bind(party)
            .bind(after_start)
            .bind(after_id)
            .bind(page.bounds.to.timestamp())
            .bind(row::limit(page.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(storage)?;
        row::reservations(found)
    }
}

/// The reservation `client` made with `key`, through `db`: the readers, or
/// a hold's write transaction.
pub(super) async fn by_key<'e>(
    db: impl SqliteExecutor<'e>,
    client: &ClientId,
    key: &IdempotencyKey,
) -> Result<Option<Reservation>> {
    let row: Option<ReservationRow> = sqlx::query_as(BY_KEY)
        .bind(client.as_str())
        .bind(key.as_str())
        .fetch_optional(db)
        .await
        .map_err(storage)?;
    row::reservation(row)
}
