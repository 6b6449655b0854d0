//! A migrated store in a schema of its own on the server named by
//! `SCHEDULER_TEST_POSTGRES_URL`, for tests that look at the store's own
//! connection (its prepared statements and their plans).

use chrono::{DateTime, TimeZone, Utc};
use scheduler_core::{ManualClock, Policy, Scheduler};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

use super::PostgresStore;
use super::conns::tests::server;

/// The store, its scheduler and the schema they live in.
pub(super) struct TestSchema {
    admin: PgPool,
    pub(super) pool: PgPool,
    pub(super) store: PostgresStore,
    pub(super) scheduler: Scheduler<PostgresStore, ManualClock>,
    pub(super) name: String,
}

/// Where the test clock stands.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

impl TestSchema {
    /// A fresh schema `name` with the migrations applied, over a pool of one
    /// connection, so every operation runs on the one session a test
    /// inspects; `None` to skip (see `server`).
    pub(super) async fn new(name: &str) -> Option<Self> {
        let (admin, options) = server().await?;
        let name = format!("{name}_{}", std::process::id());
        let fresh = format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}");
        sqlx::raw_sql(AssertSqlSafe(fresh))
            .execute(&admin)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.options([("search_path", name.as_str())]))
            .await
            .unwrap();
        let store = PostgresStore::from_pool(pool.clone());
        store.migrate().await.unwrap();
        let scheduler = Scheduler::new(store.clone(), ManualClock::new(now()), Policy::default());
        Some(Self {
            admin,
            pool,
            store,
            scheduler,
            name,
        })
    }

    /// Runs `sql` (schema-qualify its tables) on the test's own pool.
    pub(super) async fn run(&self, sql: String) {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Closes the store's connections and drops the schema.
    pub(super) async fn drop(self) {
        drop(self.scheduler);
        drop(self.store);
        self.pool.close().await;
        let drop_schema = format!("DROP SCHEMA {} CASCADE", self.name);
        sqlx::raw_sql(AssertSqlSafe(drop_schema))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}
