//! Opens the configured backend, migrated and ready, behind `Box<dyn Store>`.

use scheduler_core::{Result, Store};
use scheduler_memory::MemoryStore;
use scheduler_sqlx::{PostgresStore, SqliteStore};

use crate::config::Database;

/// Connects to `database` and brings its schema up to date.
///
/// Migrating on every start is safe: applied migrations are skipped, and on
/// PostgreSQL concurrent starts serialize on an advisory lock.
pub async fn open(database: &Database) -> Result<Box<dyn Store>> {
    Ok(match database {
        Database::Memory => Box::new(MemoryStore::new()),
        Database::Sqlite(url) => {
            let store = SqliteStore::connect(url).await?;
            store.migrate().await?;
            Box::new(store)
        }
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url).await?;
            store.migrate().await?;
            Box::new(store)
        }
    })
}
