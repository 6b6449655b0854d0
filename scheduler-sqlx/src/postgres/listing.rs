//! Keyset pages of a provider's or a client's reservations.

use super::conns::Conns;
use super::decode;
use crate::row::id_bytes;
use scheduler_core::store::ReservationPage;
use scheduler_core::{ClientId, ProviderId, Reservation, Result};

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

pub(super) async fn by_provider(
    conns: &Conns,
    provider: &ProviderId,
    page: ReservationPage,
) -> Result<Vec<Reservation>> {
    fetch(conns, BY_PROVIDER, provider.as_str(), page).await
}

pub(super) async fn by_client(
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
