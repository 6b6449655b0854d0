//! [`ServiceStore`](scheduler_core::store::ServiceStore) on SQLite: writes
//! on the writer, reads on the readers; the statements are the crate's
//! `services`.

use scheduler_core::Result;
use sqlx::SqlitePool;

use crate::row::storage;

crate::services::service_store!(
    super::SqliteStore,
    sqlx::Sqlite,
    self => reader: Pooled(&self.reader), writer: Pooled(&self.writer)
);

/// One operation on a pool, in the shape `service_store!` expects: sqlx's
/// SQLite pool needs no care when an operation ends.
struct Pooled<'a>(&'a SqlitePool);

impl<'a> Pooled<'a> {
    fn executor(&mut self) -> &'a SqlitePool {
        self.0
    }

    fn settle<T>(self, result: std::result::Result<T, sqlx::Error>) -> Result<T> {
        result.map_err(storage)
    }

    fn finish<T>(self, result: Result<T>) -> Result<T> {
        result
    }
}
