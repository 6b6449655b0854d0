//! Library costs on `MemoryStore`: reserve plus confirm, listing a page from
//! large calendars, and normalizing the longest window.

use scheduler_core::Precondition;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scheduler_core::{
    ClientId, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Window, normalize,
};
use scheduler_memory::MemoryStore;
use tokio::runtime::Runtime;

// The service benches are shared with the SQL stores; the rest of `common`
// is theirs alone.
#[allow(dead_code)]
mod common;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// A scheduler whose provider has `days` of round-the-clock availability,
/// published in 31-day windows, with a horizon long enough to hold it.
fn calendar(rt: &Runtime, days: i64) -> (Scheduler<MemoryStore, ManualClock>, ProviderId) {
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(days + 2))
        .build()
        .unwrap();
    let scheduler = Scheduler::new(MemoryStore::new(), ManualClock::new(start()), policy);
    let provider = ProviderId::new("bench-provider").unwrap();
    let windows: Vec<Window> = (0..days)
        .step_by(31)
        .map(|d| {
            let from = start() + TimeDelta::days(1 + d);
            let to = (from + TimeDelta::days(31)).min(start() + TimeDelta::days(1 + days));
            Window::new(from, to).unwrap()
        })
        .collect();
    rt.block_on(scheduler.add_availability(&provider, &windows, Precondition::Any))
        .unwrap();
    (scheduler, provider)
}

fn reserve_and_confirm(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let client = ClientId::new("bench-client").unwrap();
    c.bench_function("memory/reserve+confirm", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // A fresh 31-day calendar per round, built outside the timing.
                let (scheduler, provider) = calendar(&rt, 31);
                let page = rt
                    .block_on(scheduler.list_slots(&provider, ListQuery::all().limit(500)))
                    .unwrap();
                let round = page.items.len().min((iters - done) as usize);
                let started = Instant::now();
                rt.block_on(async {
                    for slot in &page.items[..round] {
                        let held = scheduler.reserve(&slot.id, &client, None).await.unwrap();
                        black_box(scheduler.confirm(held.id, &client).await.unwrap());
                    }
                });
                spent += started.elapsed();
                done += round as u64;
            }
            spent
        });
    });
}

fn list_page(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("memory/list-50");
    for years in [1, 10] {
        let (scheduler, provider) = calendar(&rt, 365 * years);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{years}y")),
            &years,
            |b, _| {
                b.iter(|| {
                    rt.block_on(scheduler.list_slots(&provider, ListQuery::all().limit(50)))
                        .unwrap()
                });
            },
        );
    }
    group.finish();
}

fn service_reserve_and_confirm(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut providers = 0;
    c.bench_function("memory/service-reserve+confirm/4-slots", |b| {
        b.iter_custom(|iters| {
            // A fresh store per 31-day calendar (744 hour-long starts), as
            // the one-slot bench has: otherwise the store would hold
            // millions of reservations by the end, and the figure would
            // measure their maps, not the hold.
            let mut spent = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let scheduler = common::scheduler(MemoryStore::new(), 31);
                let round = (iters - done).min(31 * 24);
                spent +=
                    common::service_reserve_and_confirm(&rt, &scheduler, &mut providers, round);
                done += round;
            }
            spent
        });
    });
}

fn list_beside_service(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let scheduler = common::scheduler(MemoryStore::new(), common::BIG_CALENDAR_DAYS);
    common::list_beside_service(c, &rt, &scheduler, "memory");
}

fn normalize_longest_window(c: &mut Criterion) {
    let policy = Policy::default();
    let now = start();
    let window = Window::new(now + TimeDelta::days(1), now + TimeDelta::days(32)).unwrap();
    c.bench_function("core/normalize-31d", |b| {
        b.iter(|| {
            let span = normalize(&policy, black_box(&window), 0, now).unwrap();
            black_box(span.starts().count())
        });
    });
}

criterion_group!(
    benches,
    reserve_and_confirm,
    service_reserve_and_confirm,
    list_page,
    list_beside_service,
    normalize_longest_window
);
criterion_main!(benches);
