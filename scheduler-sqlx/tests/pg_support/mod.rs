//! What every PostgreSQL test starts from: the server named by
//! `SCHEDULER_TEST_POSTGRES_URL`, and a fresh schema per store so tests (and
//! conformance cases) run in parallel without seeing each other's rows.
//!
//! Without a reachable server the tests are skipped, loudly; with `CI` set
//! they fail instead, so a broken CI database cannot pass as green.
#![allow(dead_code)] // Each test binary uses its own part of this module.

use scheduler_core::Precondition;
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use scheduler_core::{
    BoxError, ManualClock, Policy, ProviderId, ReservationId, Scheduler, Slot, Window,
};
use scheduler_sqlx::PostgresStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "SCHEDULER_TEST_POSTGRES_URL";

/// The test server, and the schemas made on it, dropped with this value.
pub struct TestDb {
    options: PgConnectOptions,
    admin: PgPool,
    schemas: Mutex<Vec<String>>,
}

/// Skips the calling test (returns `None`), or fails it when `CI` is set.
fn skip<T>(reason: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so the PostgreSQL tests must run, but {reason}");
    }
    // Straight to the stderr handle: `eprintln!` output of a passing test is
    // swallowed by the test harness, and a skip must not go unnoticed.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {reason}; PostgreSQL tests did not run"
    );
    None
}

impl TestDb {
    /// The test server, or `None` if the test should skip.
    pub async fn connect() -> Option<Self> {
        let url = match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => return skip(&format!("{URL_VAR} is not set")),
        };
        let options = match PgConnectOptions::from_str(&url) {
            Ok(options) => options,
            Err(error) => return skip(&format!("{URL_VAR} is not a valid URL: {error}")),
        };
        // One plain connection first: it reports why it failed at once, where
        // a pool would retry until its timeout. The URL may hold a password,
        // so only the error is shown.
        match PgConnection::connect_with(&options).await {
            Ok(probe) => drop(probe.close().await),
            Err(error) => {
                return skip(&format!("the server in {URL_VAR} is unreachable: {error}"));
            }
        }
        let admin = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .expect("the server answered a moment ago");
        Some(Self {
            options,
            admin,
            schemas: Mutex::new(Vec::new()),
        })
    }

    /// A pool on the server's default schema, for inspecting and sabotaging.
    pub fn admin(&self) -> &PgPool {
        &self.admin
    }

    /// Creates a fresh schema with no tables, dropped with the `TestDb`;
    /// returns its name.
    pub async fn empty_schema(&self) -> String {
        let name = format!(
            "sched_test_{:x}",
            ReservationId::generate().to_u128() as u64
        );
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&self.admin)
            .await
            .expect("create a test schema");
        self.schemas.lock().unwrap().push(name.clone());
        name
    }

    /// Creates a fresh schema with the migrations applied; returns its name.
    pub async fn schema(&self) -> String {
        let name = self.empty_schema().await;
        let pool = self.pool(&name, 1).await;
        PostgresStore::from_pool(pool.clone())
            .migrate()
            .await
            .expect("migrations apply to a fresh schema");
        pool.close().await;
        name
    }

    /// A pool of up to `max` connections whose `search_path` is `schema`, each
    /// connection named `schema` in `pg_stat_activity`.
    pub async fn pool(&self, schema: &str, max: u32) -> PgPool {
        let options = self
            .options
            .clone()
            .application_name(schema)
            .options([("search_path", schema)]);
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .expect("connect to the test schema")
    }

    /// A store on a fresh schema, with a pool of up to `max` connections.
    pub async fn store(&self, max: u32) -> (PostgresStore, String) {
        let schema = self.schema().await;
        let store = PostgresStore::from_pool(self.pool(&schema, max).await);
        (store, schema)
    }
}

impl Drop for TestDb {
    /// Drops the schemas, even when the test panicked. Drop cannot await, so
    /// a short-lived thread with its own runtime does it.
    fn drop(&mut self) {
        let schemas = std::mem::take(&mut *self.schemas.lock().unwrap_or_else(|e| e.into_inner()));
        if schemas.is_empty() {
            return;
        }
        let options = self.options.clone();
        let dropped = std::thread::spawn(move || -> Result<(), BoxError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&options).await?;
                // A lock left by a failed test must not hang the cleanup.
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await?;
                for name in schemas {
                    sqlx::query(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await?;
                }
                Ok(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("warning: could not drop the test schemas: {error}");
        }
    }
}

/// A scheduler over a PostgreSQL store, on a manual clock.
pub type PgScheduler = Scheduler<PostgresStore, ManualClock>;

/// Where test clocks start: Monday 2030-01-07 08:00:00 UTC.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 8, 0, 0).unwrap()
}

/// Two days after [`epoch`] at 09:00, well past the default 24 h lead.
pub fn bookable() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 9, 9, 0, 0).unwrap()
}

/// A scheduler with the default policy over `store`, reading `clock`.
pub fn scheduler(store: PostgresStore, clock: &ManualClock) -> Arc<PgScheduler> {
    Arc::new(Scheduler::new(store, clock.clone(), Policy::default()))
}

/// Publishes `count` consecutive slots of `provider` from `first`.
pub async fn open(
    scheduler: &PgScheduler,
    provider: &ProviderId,
    first: DateTime<Utc>,
    count: i64,
) -> Vec<Slot> {
    let end = first + scheduler.policy().slot_length() * count as i32;
    let window = Window::new(first, end).expect("a valid window");
    let added = scheduler
        .add_availability(provider, &[window], Precondition::Any)
        .await
        .expect("availability accepted")
        .added;
    assert_eq!(added.len() as i64, count, "slots opened from {first}");
    added
}

/// Counts rows of `sql`, run on the admin pool (schema-qualify its tables).
pub async fn count(db: &TestDb, sql: String) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(db.admin())
        .await
        .expect("a counting query")
}
