//! Library costs on `PostgresStore`, on the server named by
//! `SCHEDULER_TEST_POSTGRES_URL`, each store in a fresh schema dropped
//! afterwards: reserve plus confirm on distinct slots, listing a page of 50
//! from a provider with 100,800 slots, and sweeping 100,000 due holds in
//! batches of 10,000.
//!
//! Without the variable the benches are skipped: the binary says so and
//! exits successfully.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use scheduler_core::{ClientId, ListQuery, ManualClock, ProviderId, ReservationId, Scheduler};
use scheduler_sqlx::PostgresStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use tokio::runtime::Runtime;

mod common;
use common::{BIG_CALENDAR_DAYS, DUE_HOLDS, SWEEP_BATCH, publish, scheduler};

/// The environment variable naming the server.
const URL_VAR: &str = "SCHEDULER_TEST_POSTGRES_URL";
/// Concurrent tasks (and pool connections) that seed the holds.
const SEEDERS: usize = 8;

type PgScheduler = Scheduler<PostgresStore, ManualClock>;

/// The server, and a way to make and drop schemas on it.
struct Server {
    options: PgConnectOptions,
    admin: PgPool,
}

impl Server {
    async fn connect(url: &str) -> Self {
        let options = PgConnectOptions::from_str(url)
            .unwrap_or_else(|e| panic!("{URL_VAR} is not a valid URL: {e}"));
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("the server in {URL_VAR} is unreachable: {e}"));
        Self { options, admin }
    }

    /// A migrated store in a fresh schema, over a pool of up to `max`
    /// connections whose `search_path` is that schema; returns the schema too.
    async fn store(&self, max: u32) -> (PostgresStore, String) {
        let schema = format!(
            "sched_bench_{:x}",
            ReservationId::generate().to_u128() as u64
        );
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&self.admin)
            .await
            .unwrap();
        let options = self
            .options
            .clone()
            .application_name(&schema)
            .options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .unwrap();
        let store = PostgresStore::from_pool(pool);
        store.migrate().await.unwrap();
        (store, schema)
    }

    /// Closes the store's pool and drops its schema.
    async fn drop_store(&self, store: &PostgresStore, schema: &str) {
        store.pool().close().await;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

fn reserve_and_confirm(c: &mut Criterion, rt: &Runtime, server: &Server) {
    let (store, schema) = rt.block_on(server.store(4));
    let scheduler = scheduler(store, 31);
    let mut providers = 0;
    c.bench_function("postgres/reserve+confirm", |b| {
        b.iter_custom(|iters| common::reserve_and_confirm(rt, &scheduler, &mut providers, iters));
    });
    rt.block_on(server.drop_store(scheduler.store(), &schema));
}

fn service_reserve_and_confirm(c: &mut Criterion, rt: &Runtime, server: &Server) {
    let (store, schema) = rt.block_on(server.store(4));
    let scheduler = scheduler(store, 31);
    let mut providers = 0;
    c.bench_function("postgres/service-reserve+confirm/4-slots", |b| {
        b.iter_custom(|iters| {
            common::service_reserve_and_confirm(rt, &scheduler, &mut providers, iters)
        });
    });
    rt.block_on(server.drop_store(scheduler.store(), &schema));
}

fn list_beside_service(c: &mut Criterion, rt: &Runtime, server: &Server) {
    let (store, schema) = rt.block_on(server.store(4));
    let scheduler = scheduler(store, BIG_CALENDAR_DAYS);
    common::list_beside_service(c, rt, &scheduler, "postgres");
    rt.block_on(server.drop_store(scheduler.store(), &schema));
}

fn list_page(c: &mut Criterion, rt: &Runtime, server: &Server) {
    let (store, schema) = rt.block_on(server.store(4));
    let scheduler = scheduler(store, BIG_CALENDAR_DAYS);
    let provider = ProviderId::new("bench-provider").unwrap();
    let slots = rt.block_on(publish(&scheduler, &provider, BIG_CALENDAR_DAYS));
    assert_eq!(slots.len(), 100_800);
    c.bench_function("postgres/list-50/100800-slots", |b| {
        b.iter(|| {
            let page = rt
                .block_on(scheduler.list_slots(&provider, ListQuery::all().limit(50)))
                .unwrap();
            assert_eq!(page.items.len(), 50);
            page
        });
    });
    rt.block_on(server.drop_store(scheduler.store(), &schema));
}

/// A fresh schema holding `DUE_HOLDS` holds on distinct slots, all due once
/// the clock is moved past the hold time. The holds are placed by
/// `SEEDERS` concurrent tasks.
async fn due_holds(server: &Server) -> (Arc<PgScheduler>, String) {
    let (store, schema) = server.store(SEEDERS as u32).await;
    let scheduler = Arc::new(scheduler(store, BIG_CALENDAR_DAYS));
    let provider = ProviderId::new("bench-provider").unwrap();
    let slots = publish(&scheduler, &provider, BIG_CALENDAR_DAYS).await;
    let per_task = DUE_HOLDS.div_ceil(SEEDERS);
    let tasks: Vec<_> = slots[..DUE_HOLDS]
        .chunks(per_task)
        .map(|chunk| {
            let scheduler = Arc::clone(&scheduler);
            let chunk = chunk.to_vec();
            tokio::spawn(async move {
                let client = ClientId::new("bench-client").unwrap();
                for slot in &chunk {
                    scheduler.reserve(slot, &client, None).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let ttl = scheduler.policy().hold_ttl();
    scheduler.clock().advance(ttl + TimeDelta::seconds(1));
    (scheduler, schema)
}

fn sweep(c: &mut Criterion, rt: &Runtime, server: &Server) {
    let mut group = c.benchmark_group("postgres");
    // Each iteration needs 100,000 fresh holds, seeded outside the timing.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("sweep-100k-due-holds", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let (scheduler, schema) = rt.block_on(due_holds(server));
                let started = Instant::now();
                let expired = rt.block_on(async {
                    let mut expired = 0;
                    loop {
                        let n = scheduler.expire_due(SWEEP_BATCH).await.unwrap();
                        if n == 0 {
                            break expired;
                        }
                        expired += n;
                    }
                });
                spent += started.elapsed();
                assert_eq!(expired, DUE_HOLDS as u64);
                rt.block_on(server.drop_store(scheduler.store(), &schema));
            }
            spent
        });
    });
    group.finish();
}

/// Every PostgreSQL bench, or none with a note when the server is not named.
fn postgres(c: &mut Criterion) {
    let url = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            eprintln!("SKIPPED: {URL_VAR} is not set; PostgreSQL benches did not run");
            return;
        }
    };
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(Server::connect(&url));
    reserve_and_confirm(c, &rt, &server);
    service_reserve_and_confirm(c, &rt, &server);
    list_page(c, &rt, &server);
    list_beside_service(c, &rt, &server);
    sweep(c, &rt, &server);
    rt.block_on(server.admin.close());
}

criterion_group!(benches, postgres);
criterion_main!(benches);
