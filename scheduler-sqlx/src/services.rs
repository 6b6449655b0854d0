//! Services, the same on every database: one row per provider and service,
//! lengths in seconds. Each backend's `services` module implements
//! [`ServiceStore`](scheduler_core::store::ServiceStore) with
//! [`service_store!`] over its own pools.

use chrono::TimeDelta;
use scheduler_core::{Error, ProviderId, Result, Service, ServiceId};

/// Inserts `$1`'s service `$2` unless there is one: a row affected means
/// the service is new.
pub(crate) const INSERT: &str = "
    INSERT INTO services (provider_id, service_id, name, duration_s, buffer_before_s,
                          buffer_after_s, min_notice_s, max_advance_s)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (provider_id, service_id) DO NOTHING";

/// Replaces `$1`'s service `$2`: run when [`INSERT`] found one.
pub(crate) const REPLACE: &str = "
    UPDATE services SET name = $3, duration_s = $4, buffer_before_s = $5,
                        buffer_after_s = $6, min_notice_s = $7, max_advance_s = $8
    WHERE provider_id = $1 AND service_id = $2";

macro_rules! service_columns {
    () => {
        "provider_id, service_id, name, duration_s, buffer_before_s, buffer_after_s, \
         min_notice_s, max_advance_s"
    };
}

pub(crate) const ONE: &str = concat!(
    "SELECT ",
    service_columns!(),
    " FROM services WHERE provider_id = $1 AND service_id = $2"
);

pub(crate) const ALL: &str = concat!(
    "SELECT ",
    service_columns!(),
    " FROM services WHERE provider_id = $1 ORDER BY service_id"
);

pub(crate) const DELETE: &str = "DELETE FROM services WHERE provider_id = $1 AND service_id = $2";

/// A row of `services`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ServiceRow {
    provider_id: String,
    service_id: String,
    name: String,
    duration_s: i64,
    buffer_before_s: i64,
    buffer_after_s: i64,
    min_notice_s: Option<i64>,
    max_advance_s: Option<i64>,
}

impl ServiceRow {
    pub(crate) fn into_service(self) -> Result<Service> {
        let corrupt = |e: Error| Error::storage(format!("corrupt row in services: {e}"));
        let seconds = TimeDelta::seconds;
        Ok(Service {
            provider_id: ProviderId::new(self.provider_id).map_err(corrupt)?,
            id: ServiceId::new(self.service_id).map_err(corrupt)?,
            name: self.name,
            duration: seconds(self.duration_s),
            buffer_before: seconds(self.buffer_before_s),
            buffer_after: seconds(self.buffer_after_s),
            min_notice: self.min_notice_s.map(seconds),
            max_advance: self.max_advance_s.map(seconds),
        })
    }
}

/// Implements `ServiceStore` for `$store`. `$reader` and `$writer` are
/// expressions of the receiver `$this` (spelled `self` at the call site, so
/// that they may use it) that open one operation's connection: a value with
/// `executor()` to run statements on, and `settle` (one statement's result)
/// or `finish` (an operation's) to end the operation. On PostgreSQL that is
/// the store's own connection cache, one round trip per statement where
/// sqlx's pool would ping twice around it: a service is read with every
/// service listing and booking. A macro, not a generic function: a future
/// generic over the database's executor cannot be shown `Send` for every
/// lifetime, as the store traits need.
macro_rules! service_store {
    ($store:ty, $db:ty, $this:ident => reader: $reader:expr, writer: $writer:expr) => {
        #[async_trait::async_trait]
        impl scheduler_core::store::ServiceStore for $store {
            async fn put_service(
                &$this,
                service: &scheduler_core::Service,
            ) -> scheduler_core::Result<bool> {
                use $crate::row::storage;
                let bind = |sql| {
                    sqlx::query::<$db>(sql)
                        .bind(service.provider_id.as_str())
                        .bind(service.id.as_str())
                        .bind(service.name.as_str())
                        .bind(service.duration.num_seconds())
                        .bind(service.buffer_before.num_seconds())
                        .bind(service.buffer_after.num_seconds())
                        .bind(service.min_notice.map(|notice| notice.num_seconds()))
                        .bind(service.max_advance.map(|advance| advance.num_seconds()))
                };
                let mut conn = $writer;
                // Insert first: the row it adds, if any, says the service is
                // new, whatever runs beside it. A delete between the two
                // statements only sends the loop round again.
                let put = async {
                    loop {
                        let inserted = bind($crate::services::INSERT)
                            .execute(conn.executor())
                            .await
                            .map_err(storage)?;
                        if inserted.rows_affected() == 1 {
                            return Ok(true);
                        }
                        let replaced = bind($crate::services::REPLACE)
                            .execute(conn.executor())
                            .await
                            .map_err(storage)?;
                        if replaced.rows_affected() == 1 {
                            return Ok(false);
                        }
                    }
                }
                .await;
                conn.finish(put)
            }

            async fn service(
                &$this,
                provider: &scheduler_core::ProviderId,
                id: &scheduler_core::ServiceId,
            ) -> scheduler_core::Result<Option<scheduler_core::Service>> {
                let mut conn = $reader;
                let row = sqlx::query_as($crate::services::ONE)
                    .bind(provider.as_str())
                    .bind(id.as_str())
                    .fetch_optional(conn.executor())
                    .await;
                let row: Option<$crate::services::ServiceRow> = conn.settle(row)?;
                row.map($crate::services::ServiceRow::into_service).transpose()
            }

            async fn services(
                &$this,
                provider: &scheduler_core::ProviderId,
            ) -> scheduler_core::Result<Vec<scheduler_core::Service>> {
                let mut conn = $reader;
                let rows = sqlx::query_as($crate::services::ALL)
                    .bind(provider.as_str())
                    .fetch_all(conn.executor())
                    .await;
                let rows: Vec<$crate::services::ServiceRow> = conn.settle(rows)?;
                rows.into_iter()
                    .map($crate::services::ServiceRow::into_service)
                    .collect()
            }

            async fn delete_service(
                &$this,
                provider: &scheduler_core::ProviderId,
                id: &scheduler_core::ServiceId,
            ) -> scheduler_core::Result<bool> {
                let mut conn = $writer;
                let deleted = sqlx::query($crate::services::DELETE)
                    .bind(provider.as_str())
                    .bind(id.as_str())
                    .execute(conn.executor())
                    .await;
                Ok(conn.settle(deleted)?.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use service_store;
