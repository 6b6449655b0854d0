//! Library costs on `SqliteStore`, on a temporary database file in WAL mode
//! (the store's default options: `synchronous = NORMAL`): reserve plus
//! confirm on distinct slots, listing a page of 50 from a provider with
//! 100,800 slots, and sweeping 100,000 due holds in batches of 10,000.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use scheduler_core::{
    ClientId, ListQuery, ManualClock, Policy, ProviderId, Scheduler, SlotId, Window,
};
use scheduler_sqlx::SqliteStore;
use tokio::runtime::Runtime;

/// Days of round-the-clock 15-minute slots that make 100,800 slots.
const BIG_CALENDAR_DAYS: i64 = 1050;
/// Holds the sweep bench expires.
const DUE_HOLDS: usize = 100_000;
/// Holds expired per `expire_due` call.
const SWEEP_BATCH: usize = 10_000;

type SqliteScheduler = Scheduler<SqliteStore, ManualClock>;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

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

/// A scheduler on a fresh store whose policy's horizon holds `days` of
/// availability from tomorrow.
async fn scheduler(db: &TempDb, days: i64) -> SqliteScheduler {
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(days + 2))
        .build()
        .unwrap();
    Scheduler::new(db.store().await, ManualClock::new(start()), policy)
}

/// Publishes `days` of round-the-clock availability for `provider` from
/// tomorrow, in 31-day windows; returns the new slots.
async fn publish(scheduler: &SqliteScheduler, provider: &ProviderId, days: i64) -> Vec<SlotId> {
    let windows: Vec<Window> = (0..days)
        .step_by(31)
        .map(|d| {
            let from = start() + TimeDelta::days(1 + d);
            let to = (from + TimeDelta::days(31)).min(start() + TimeDelta::days(1 + days));
            Window::new(from, to).unwrap()
        })
        .collect();
    let added = scheduler
        .add_availability(provider, &windows)
        .await
        .unwrap();
    added.added.into_iter().map(|slot| slot.id).collect()
}

fn reserve_and_confirm(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("reserve");
    let scheduler = rt.block_on(scheduler(&db, 31));
    let client = ClientId::new("bench-client").unwrap();
    let mut providers = 0;
    c.bench_function("sqlite/reserve+confirm", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // A fresh provider with a 31-day calendar (2,976 slots) per
                // round, published outside the timing.
                providers += 1;
                let provider = ProviderId::new(format!("bench-provider-{providers}")).unwrap();
                let slots = rt.block_on(publish(&scheduler, &provider, 31));
                let round = slots.len().min((iters - done) as usize);
                let started = Instant::now();
                rt.block_on(async {
                    for slot in &slots[..round] {
                        let held = scheduler.reserve(slot, &client, None).await.unwrap();
                        black_box(scheduler.confirm(held.id, &client).await.unwrap());
                    }
                });
                spent += started.elapsed();
                done += round as u64;
            }
            spent
        });
    });
    rt.block_on(scheduler.store().close());
}

fn list_page(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = TempDb::new("list");
    let scheduler = rt.block_on(scheduler(&db, BIG_CALENDAR_DAYS));
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
    let scheduler = scheduler(db, BIG_CALENDAR_DAYS).await;
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

criterion_group!(benches, reserve_and_confirm, list_page, sweep);
criterion_main!(benches);
