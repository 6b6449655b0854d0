//! Calendar-feed tokens: one row each, found by id or by provider, revoked
//! by one conditional update.

use super::conns::Conns;
use crate::row::{FeedTokenRow, feed_token, micros};
use chrono::{DateTime, Utc};
use scheduler_core::store::FeedToken;
use scheduler_core::{FeedTokenId, ProviderId, Result};

/// An id already taken inserts nothing, whoever holds it.
const INSERT: &str = "\
INSERT INTO feed_tokens (id, provider_id, digest, created_us, revoked_us)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO NOTHING";

const ONE: &str =
    "SELECT id, provider_id, digest, created_us, revoked_us FROM feed_tokens WHERE id = $1";

/// Walks `feed_tokens_by_provider` in order.
const OF_PROVIDER: &str = "\
SELECT id, provider_id, digest, created_us, revoked_us FROM feed_tokens
WHERE provider_id = $1 ORDER BY created_us, id";

/// The first revocation's instant stays.
const REVOKE: &str = "\
UPDATE feed_tokens SET revoked_us = COALESCE(revoked_us, $3)
WHERE provider_id = $1 AND id = $2
RETURNING id, provider_id, digest, created_us, revoked_us";

pub(super) async fn put(conns: &Conns, token: &FeedToken) -> Result<bool> {
    let mut conn = conns.get().await?;
    let done = sqlx::query(INSERT)
        .bind(token.id.as_str())
        .bind(token.provider.as_str())
        .bind(&token.digest)
        .bind(micros(token.created_at))
        .bind(token.revoked_at.map(micros))
        .execute(&mut *conn)
        .await;
    Ok(conn.settle(done)?.rows_affected() == 1)
}

pub(super) async fn get(conns: &Conns, id: &FeedTokenId) -> Result<Option<FeedToken>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query_as(ONE)
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await;
    let row: Option<FeedTokenRow> = conn.settle(row)?;
    row.map(feed_token).transpose()
}

pub(super) async fn of(conns: &Conns, provider: &ProviderId) -> Result<Vec<FeedToken>> {
    let mut conn = conns.get().await?;
    let rows = sqlx::query_as(OF_PROVIDER)
        .bind(provider.as_str())
        .fetch_all(&mut *conn)
        .await;
    let rows: Vec<FeedTokenRow> = conn.settle(rows)?;
    rows.into_iter().map(feed_token).collect()
}

pub(super) async fn revoke(
    conns: &Conns,
    provider: &ProviderId,
    id: &FeedTokenId,
    now: DateTime<Utc>,
) -> Result<Option<FeedToken>> {
    let mut conn = conns.get().await?;
    let row = sqlx::query_as(REVOKE)
        .bind(provider.as_str())
        .bind(id.as_str())
        .bind(micros(now))
        .fetch_optional(&mut *conn)
        .await;
    let row: Option<FeedTokenRow> = conn.settle(row)?;
    row.map(feed_token).transpose()
}
