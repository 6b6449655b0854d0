//! [`ServiceStore`](scheduler_core::store::ServiceStore) on PostgreSQL, over
//! the pool (services are read once per service listing or booking, not in
//! the hot paths the store's own connections serve); the statements are the
//! crate's `services`.

crate::services::service_store!(
    super::PostgresStore,
    sqlx::Postgres,
    self => reader: self.conns.pool(), writer: self.conns.pool()
);
