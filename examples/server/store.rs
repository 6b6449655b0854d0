//! Opens the configured backend, migrated and ready: the scheduler's store
//! behind `Box<dyn Store>`, and the server's own feed tokens beside it, over
//! the same database.

use std::sync::Arc;

use scheduler_core::{Result, Store};
use scheduler_memory::MemoryStore;
use scheduler_sqlx::{PostgresStore, SqliteStore};

use crate::config::Database;
use crate::feeds::{
    FeedTokenStore, MemoryFeedTokens, PostgresFeedTokens, SqliteFeedTokens, migrate_postgres,
    migrate_sqlite,
};

/// Connects to `database` and brings its schema up to date: the library's
/// migrations, then the server's own.
///
/// Migrating on every start is safe: applied migrations are skipped, and on
/// PostgreSQL concurrent starts serialize on an advisory lock.
pub async fn open(database: &Database) -> Result<(Box<dyn Store>, Arc<dyn FeedTokenStore>)> {
    Ok(match database {
        Database::Memory => (
            Box::new(MemoryStore::new()),
            Arc::new(MemoryFeedTokens::default()),
        ),
        Database::Sqlite(url) => {
            let store = SqliteStore::connect(url).await?;
            store.migrate().await?;
            migrate_sqlite(store.writer()).await?;
            let tokens = SqliteFeedTokens {
                reader: store.reader().clone(),
                writer: store.writer().clone(),
            };
            (Box::new(store), Arc::new(tokens))
        }
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url).await?;
            store.migrate().await?;
            migrate_postgres(store.pool()).await?;
            let tokens = PostgresFeedTokens {
                reader: store.pool().clone(),
                writer: store.pool().clone(),
            };
            (Box::new(store), Arc::new(tokens))
        }
    })
}
