//! Where the server keeps feed tokens: [`FeedTokenStore`], in memory, on
//! SQLite or on PostgreSQL, beside the scheduler's own store and over the
//! same database.
//!
//! Feed tokens are the server's business, not scheduling, so they are not
//! part of the library's store: the server has its own trait, its own table
//! and its own migrations (`examples/server/migrations`), recorded in a
//! migrations table of their own so that they never mix with the library's.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::{Error, ProviderId, Result};
use sqlx::migrate::Migrator;
use sqlx::{PgPool, SqlitePool};

use super::tokens::{FeedToken, FeedTokenId};

/// Stored feed tokens. Every method is one atomic step.
#[async_trait]
pub trait FeedTokenStore: Send + Sync {
    /// Stores a new token. Returns `false`, storing nothing, if a token with
    /// the same id is stored already (whoever its provider).
    async fn put(&self, token: &FeedToken) -> Result<bool>;

    /// The token with this id, revoked or not.
    async fn get(&self, id: &FeedTokenId) -> Result<Option<FeedToken>>;

    /// Every token of `provider`, revoked ones included, ordered by
    /// `created_at` and then id.
    async fn of(&self, provider: &ProviderId) -> Result<Vec<FeedToken>>;

    /// If `provider` has a token with this id, marks it revoked at `now`
    /// unless it already was, and returns it as stored after; `None` if
    /// `provider` has no such token. Revoking twice keeps the first instant.
    async fn revoke(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>>;
}

/// The name of the server's migrations table, beside the library's
/// `_sqlx_migrations`.
const MIGRATIONS_TABLE: &str = "_scheduler_server_migrations";

/// The server's own migrations for `sqlite` or `postgres`, recorded in
/// [`MIGRATIONS_TABLE`].
fn migrator(mut migrator: Migrator) -> Migrator {
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Brings the server's tables on SQLite up to date, through `writer`.
pub async fn migrate_sqlite(writer: &SqlitePool) -> Result<()> {
    migrator(sqlx::migrate!("./server/migrations/sqlite"))
        .run(writer)
        .await
        .map_err(Error::storage)
}

/// Brings the server's tables on PostgreSQL up to date.
pub async fn migrate_postgres(pool: &PgPool) -> Result<()> {
    migrator(sqlx::migrate!("./server/migrations/postgres"))
        .run(pool)
        .await
        .map_err(Error::storage)
}

/// Feed tokens in process memory, for `--database-url memory:`.
#[derive(Debug, Default)]
pub struct MemoryFeedTokens(Mutex<TokenIndex>);

#[derive(Debug, Default)]
struct TokenIndex {
    by_id: HashMap<FeedTokenId, FeedToken>,
    /// Each provider's tokens as `(created_at, id)`: the listing order.
    by_provider: HashMap<ProviderId, BTreeSet<(DateTime<Utc>, FeedTokenId)>>,
}

#[async_trait]
impl FeedTokenStore for MemoryFeedTokens {
    async fn put(&self, token: &FeedToken) -> Result<bool> {
        let mut index = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if index.by_id.contains_key(&token.id) {
            return Ok(false);
        }
        index.by_id.insert(token.id.clone(), token.clone());
        index
            .by_provider
            .entry(token.provider.clone())
            .or_default()
            .insert((token.created_at, token.id.clone()));
        Ok(true)
    }

    async fn get(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
        let index = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(index.by_id.get(id).cloned())
    }

    async fn of(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
        let index = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(index
            .by_provider
            .get(provider)
            .into_iter()
            .flatten()
            .filter_map(|(_, id)| index.by_id.get(id).cloned())
            .collect())
    }

    async fn revoke(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>> {
        let mut index = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(token) = index.by_id.get_mut(id).filter(|t| t.provider == *provider) else {
            return Ok(None);
        };
        token.revoked_at.get_or_insert(now);
        Ok(Some(token.clone()))
    }
}

/// An id already taken inserts nothing, whoever holds it.
const INSERT: &str = "
    INSERT INTO feed_tokens (id, provider_id, digest, created_us, revoked_us)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO NOTHING";

const ONE: &str =
    "SELECT id, provider_id, digest, created_us, revoked_us FROM feed_tokens WHERE id = $1";

/// Walks `feed_tokens_by_provider` in order.
const OF_PROVIDER: &str = "
    SELECT id, provider_id, digest, created_us, revoked_us FROM feed_tokens
    WHERE provider_id = $1 ORDER BY created_us, id";

/// The first revocation's instant stays.
const REVOKE: &str = "
    UPDATE feed_tokens SET revoked_us = COALESCE(revoked_us, $3)
    WHERE provider_id = $1 AND id = $2
    RETURNING id, provider_id, digest, created_us, revoked_us";

/// A `feed_tokens` row: id, provider_id, digest, created_us, revoked_us.
type Row = (String, String, String, i64, Option<i64>);

fn decode((id, provider, digest, created_us, revoked_us): Row) -> Result<FeedToken> {
    let corrupt = |what: String| Error::storage(format!("corrupt row in feed_tokens: {what}"));
    let instant = |us: i64| {
        DateTime::from_timestamp_micros(us)
            .ok_or_else(|| corrupt(format!("instant {us} out of range")))
    };
    Ok(FeedToken {
        id: id.parse().map_err(|e: Error| corrupt(e.to_string()))?,
        provider: ProviderId::new(provider).map_err(|e| corrupt(e.to_string()))?,
        digest,
        created_at: instant(created_us)?,
        revoked_at: revoked_us.map(instant).transpose()?,
    })
}

/// Implements [`FeedTokenStore`] over sqlx pools of one database, with the
/// statements above (SQLite reads `$n` as PostgreSQL does).
macro_rules! sql_feed_tokens {
    ($(#[$doc:meta])* $name:ident, $pool:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// Where reads go.
            pub reader: $pool,
            /// Where writes go.
            pub writer: $pool,
        }

        #[async_trait]
        impl FeedTokenStore for $name {
            async fn put(&self, token: &FeedToken) -> Result<bool> {
                let done = sqlx::query(INSERT)
                    .bind(token.id.as_str())
                    .bind(token.provider.as_str())
                    .bind(&token.digest)
                    .bind(token.created_at.timestamp_micros())
                    .bind(token.revoked_at.map(|at| at.timestamp_micros()))
                    .execute(&self.writer)
                    .await
                    .map_err(Error::storage)?;
                Ok(done.rows_affected() == 1)
            }

            async fn get(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
                let row: Option<Row> = sqlx::query_as(ONE)
                    .bind(id.as_str())
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(Error::storage)?;
                row.map(decode).transpose()
            }

            async fn of(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
                let rows: Vec<Row> = sqlx::query_as(OF_PROVIDER)
                    .bind(provider.as_str())
                    .fetch_all(&self.reader)
                    .await
                    .map_err(Error::storage)?;
                rows.into_iter().map(decode).collect()
            }

            async fn revoke(
                &self,
                provider: &ProviderId,
                id: &FeedTokenId,
                now: DateTime<Utc>,
            ) -> Result<Option<FeedToken>> {
                let row: Option<Row> = sqlx::query_as(REVOKE)
                    .bind(provider.as_str())
                    .bind(id.as_str())
                    .bind(now.timestamp_micros())
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(Error::storage)?;
                row.map(decode).transpose()
            }
        }
    };
}

sql_feed_tokens!(
    /// Feed tokens in the SQLite database the scheduler's store uses.
    SqliteFeedTokens,
    SqlitePool
);

sql_feed_tokens!(
    /// Feed tokens in the PostgreSQL database the scheduler's store uses.
    PostgresFeedTokens,
    PgPool
);
