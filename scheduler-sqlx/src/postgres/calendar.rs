//! Calendar versions: read one, or lock and bump it inside a write transaction.

use scheduler_core::{ProviderId, Result};
use sqlx::PgConnection;

use super::conns::Conns;
use crate::row::{storage, version};

/// Creates the row at version 0 if missing, locks it until the transaction
/// ends (the no-op update takes the row lock), and returns the version. Two
/// availability writes to one calendar therefore run one after the other.
const CURRENT_FOR_WRITE: &str = "
    INSERT INTO calendars (provider_id, version) VALUES ($1, 0)
    ON CONFLICT (provider_id) DO UPDATE SET version = calendars.version
    RETURNING version";

const BUMP: &str =
    "UPDATE calendars SET version = version + 1 WHERE provider_id = $1 RETURNING version";

const CURRENT: &str = "SELECT version FROM calendars WHERE provider_id = $1";

/// The provider's calendar version, 0 if it was never written.
pub(super) async fn current(conns: &Conns, provider: &ProviderId) -> Result<u64> {
    let mut conn = conns.get().await?;
    let stored = sqlx::query_scalar(CURRENT)
        .bind(provider.as_str())
        .fetch_optional(&mut *conn)
        .await;
    let stored: Option<i64> = conn.settle(stored)?;
    version(stored.unwrap_or(0))
}

/// The version at the start of a write transaction, with the calendar locked.
pub(super) async fn lock(tx: &mut PgConnection, provider: &ProviderId) -> Result<u64> {
    let stored: i64 = sqlx::query_scalar(CURRENT_FOR_WRITE)
        .bind(provider.as_str())
        .fetch_one(tx)
        .await
        .map_err(storage)?;
    version(stored)
}

/// Counts a write that changed the set of slots; returns the new version.
pub(super) async fn bump(tx: &mut PgConnection, provider: &ProviderId) -> Result<u64> {
    let stored: i64 = sqlx::query_scalar(BUMP)
        .bind(provider.as_str())
        .fetch_one(tx)
        .await
        .map_err(storage)?;
    version(stored)
}
