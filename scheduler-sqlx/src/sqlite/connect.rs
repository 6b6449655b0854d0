//! Connection options and the reader and writer pools built from them.

use std::str::FromStr;
use std::time::Duration;

use scheduler_core::Result;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::row::storage;

/// How long a statement waits for another process's write lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reader connections [`SqliteStore::connect`](super::SqliteStore::connect) opens at most.
pub(super) const DEFAULT_READERS: u32 = 8;

/// The options the store recommends for `url`.
pub(super) fn options(url: &str) -> Result<SqliteConnectOptions> {
    let options = SqliteConnectOptions::from_str(url).map_err(storage)?;
    Ok(options
        .create_if_missing(true)
        // WAL lets readers run beside the writer; NORMAL is durable across
        // application crashes and loses at most the last commits on power loss.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT))
}

/// Whether `url` names an in-memory database, read the way sqlx reads it.
/// Such a database lives only as long as its connections, and shares its
/// data between them only through SQLite's shared cache, whose table locks
/// the busy timeout does not cover: it is best served by one connection.
pub(super) fn is_memory_url(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|param| param == "mode=memory")
}

/// The reader and writer pools for `options`.
///
/// One writer connection, so that writes from this process queue for it
/// instead of racing for SQLite's lock, and up to `readers` reader
/// connections, which WAL lets run beside it. With no readers, the writer's
/// connection serves reads too; it is kept open for the pool's life, which
/// an in-memory database needs: that connection is the database.
pub(super) async fn pools(
    options: SqliteConnectOptions,
    readers: u32,
) -> Result<(SqlitePool, SqlitePool)> {
    let single = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None);
    if readers == 0 {
        let pool = single.connect_with(options).await.map_err(storage)?;
        return Ok((pool.clone(), pool));
    }
    // The writer connects first: it creates the file and switches it to WAL,
    // which needs a lock that readers opening at the same time could hold.
    let writer = single
        .connect_with(options.clone())
        .await
        .map_err(storage)?;
    let reader = SqlitePoolOptions::new()
        .max_connections(readers)
        .connect_with(options.pragma("query_only", "ON"))
        .await
        .map_err(storage)?;
    Ok((reader, writer))
}

#[cfg(test)]
mod tests {
    use super::is_memory_url;

    #[test]
    fn memory_urls_are_recognised_as_sqlx_parses_them() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            ":memory:",
            "sqlite://?mode=memory",
            "sqlite:x.db?cache=shared&mode=memory",
        ] {
            assert!(is_memory_url(url), "{url}");
        }
        for url in [
            "sqlite://x.db",
            "sqlite:/tmp/memory.db",
            "sqlite://x.db?mode=rwc",
            ":memory:.db",
        ] {
            assert!(!is_memory_url(url), "{url}");
        }
    }
}
