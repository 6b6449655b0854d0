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
        .busy_timeout(BUSY_TIMEOUT))
}

/// Pool options shared by the reader and writer pools.
///
/// No ping before each use: a SQLite connection is a file handle inside this
/// process, with no peer that could have hung up, so the ping would only add
/// a round trip to the connection's worker thread to every statement.
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().test_before_acquire(false)
}

/// Asks SQLite for the file behind the connection: none for an in-memory or
/// temporary database, however the URL spelled it (`:memory:`,
/// `file::memory:`, `mode=memory`, an empty name).
const MAIN_FILE: &str = "SELECT file FROM pragma_database_list WHERE name = 'main'";

/// The reader and writer pools for `options`.
///
/// One writer connection, so that writes from this process queue for it
/// instead of racing for SQLite's lock, and up to `readers` reader
/// connections, which WAL lets run beside it. With no readers, or when the
/// database has no file, the writer's connection serves reads too; it is kept
/// open for the pool's life, which an in-memory database needs: that
/// connection is the database, and another connection would be another one.
pub(super) async fn pools(
    options: SqliteConnectOptions,
    readers: u32,
) -> Result<(SqlitePool, SqlitePool)> {
    let single = pool_options()
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
    let file: Option<String> = sqlx::query_scalar(MAIN_FILE)
        .fetch_optional(&writer)
        .await
        .map_err(storage)?;
    if file.unwrap_or_default().is_empty() {
        return Ok((writer.clone(), writer));
    }
    let reader = pool_options()
        .max_connections(readers)
        .connect_with(options.pragma("query_only", "ON"))
        .await
        .map_err(storage)?;
    Ok((reader, writer))
}
