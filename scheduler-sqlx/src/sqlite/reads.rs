//! Reading reservations: by id, by idempotency key, and in keyset pages.

use std::sync::LazyLock;

use scheduler_core::store::ReservationPage;
use scheduler_core::{ClientId, IdempotencyKey, Reservation, ReservationId, Result};
use sqlx::sqlite::SqliteExecutor;

use super::rows;
use crate::row::{RESERVATION_COLUMNS, id_bytes, storage};

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

pub(super) static PROVIDER_PAGE: LazyLock<String> = LazyLock::new(|| page_sql("provider_id"));
pub(super) static CLIENT_PAGE: LazyLock<String> = LazyLock::new(|| page_sql("client_id"));

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
pub(super) async fn page<'e>(
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
