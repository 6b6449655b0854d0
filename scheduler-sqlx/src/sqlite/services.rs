//! [`ServiceStore`](scheduler_core::store::ServiceStore) on SQLite: writes
//! on the writer, reads on the readers; the statements are the crate's
//! `services`.

crate::services::service_store!(
    super::SqliteStore,
    sqlx::Sqlite,
    self => reader: &self.reader, writer: &self.writer
);
