//! Library costs on `SqliteStore`, on a temporary database file in WAL mode
//! (the store's default options: `synchronous = NORMAL`): reserve plus
//! confirm on distinct slots, listing a page of 50 from a provider with
//! 100,800 slots, and sweeping 100,000 due holds in batches of 10,000.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use scheduler_core::{ClientId, ListQuery, ManualClock, ProviderId, Scheduler};
use scheduler_sqlx::SqliteStore;
use tokio::runtime::Runtime;

mod common;
use common::{BIG_CALENDAR_DAYS, DUE_HOLDS, SWEEP_BATCH, publish, scheduler};

type SqliteScheduler = Scheduler<SqliteStore, ManualClock>;

/// A database file in the temp directory, removed with its WAL files on drop.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new(name: &str) -> Self {
        let file = format!(
            "scheduler-bench-{name}-{}-{:x}.db",
            std::process::id(),
            scheduler_core::ReservationId::generate().to_u128() as u64
        );
        let db = Self {
            path: std::env::temp_dir().join(file),
        };
        db.remove();
        db
    }

    /// A migrated store on the file with the default options (WAL).
    async fn store(&self) -> SqliteStore {
        let store = SqliteStore::connect(&format!("sqlite://{}", self.path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

fn reserve_and_confirm(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("reserve");
    let scheduler = scheduler(rt.block_on(db.store()), 31);
    let mut providers = 0;
    c.bench_function("sqlite/reserve+confirm", |b| {
        b.iter_custom(|iters| common::reserve_and_confirm(&rt, &scheduler, &mut providers, iters));
    });
    rt.block_on(scheduler.store().close());
}

fn service_reserve_and_confirm(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("service-reserve");
    let scheduler = scheduler(rt.block_on(db.store()), 31);
    let mut providers = 0;
    c.bench_function("sqlite/service-reserve+confirm/4-slots", |b| {
        b.iter_custom(|iters| {
            common::service_reserve_and_confirm(&rt, &scheduler, &mut providers, iters)
        });
    });
    rt.block_on(scheduler.store().close());
}

fn list_beside_service(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("booked");
    let scheduler = scheduler(rt.block_on(db.store()), BIG_CALENDAR_DAYS);
    common::list_beside_service(c, &rt, &scheduler, "sqlite");
    rt.block_on(scheduler.store().close());
}

fn list_page(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("list");
    let scheduler = scheduler(rt.block_on(db.store()), BIG_CALENDAR_DAYS);
    let provider = ProviderId::new("bench-provider").unwrap();
    let slots = rt.block_on(publish(&scheduler, &provider, BIG_CALENDAR_DAYS));
    assert_eq!(slots.len(), 100_800);
    c.bench_function("sqlite/list-50/100800-slots", |b| {
        b.iter(|| {
            let page = rt
                .block_on(scheduler.list_slots(&provider, ListQuery::all().limit(50)))
                .unwrap();
            assert_eq!(page.items.len(), 50);
            page
        });
    });
    rt.block_on(scheduler.store().close());
}

/// A fresh store holding `DUE_HOLDS` holds on distinct slots, all due once
/// the clock is moved past the hold time.
async fn due_holds(db: &TempDb) -> SqliteScheduler {
    let scheduler = scheduler(db.store().await, BIG_CALENDAR_DAYS);
    let provider = ProviderId::new("bench-provider").unwrap();
    let client = ClientId::new("bench-client").unwrap();
    let slots = publish(&scheduler, &provider, BIG_CALENDAR_DAYS).await;
    for slot in &slots[..DUE_HOLDS] {
        scheduler.reserve(slot, &client, None).await.unwrap();
    }
    let ttl = scheduler.policy().hold_ttl();
    scheduler.clock().advance(ttl + TimeDelta::seconds(1));
    scheduler
}

fn sweep(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("sqlite");
    // Each iteration needs 100,000 fresh holds, seeded outside the timing.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("sweep-100k-due-holds", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let db = TempDb::new("sweep");
                let scheduler = rt.block_on(due_holds(&db));
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
                rt.block_on(scheduler.store().close());
            }
            spent
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    reserve_and_confirm,
    service_reserve_and_confirm,
    list_page,
    list_beside_service,
    sweep
);
criterion_main!(benches);
