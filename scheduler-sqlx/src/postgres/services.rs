//! [`ServiceStore`](scheduler_core::store::ServiceStore) on PostgreSQL,
//! over the store's own connections; the statements are the crate's
//! `services`.

crate::services::service_store!(
    super::PostgresStore,
    sqlx::Postgres,
    self => reader: self.conns.get().await?, writer: self.conns.get().await?
);
