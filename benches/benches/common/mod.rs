//! What the SQL store benches share: the calendar they publish, and the
//! reserve-plus-confirm loop, generic over the store.

use scheduler_core::Precondition;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduler_core::{
    ClientId, ListQuery, ManualClock, Policy, ProviderId, Scheduler, Service, ServiceId, SlotId,
    Store, Window,
};
use tokio::runtime::Runtime;

/// Days of round-the-clock 15-minute slots that make 100,800 slots.
pub const BIG_CALENDAR_DAYS: i64 = 1050;
/// Holds the sweep bench expires.
pub const DUE_HOLDS: usize = 100_000;
/// Holds expired per `expire_due` call.
pub const SWEEP_BATCH: usize = 10_000;

/// Where every bench's clock stands.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// A scheduler over `store` whose horizon holds `days` of availability from tomorrow.
pub fn scheduler<S: Store>(store: S, days: i64) -> Scheduler<S, ManualClock> {
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(days + 2))
        .build()
        .unwrap();
    Scheduler::new(store, ManualClock::new(start()), policy)
}

/// Publishes `days` of round-the-clock availability for `provider` from
/// tomorrow, in 31-day windows; returns the new slots.
pub async fn publish<S: Store>(
    scheduler: &Scheduler<S, ManualClock>,
    provider: &ProviderId,
    days: i64,
) -> Vec<SlotId> {
    let windows: Vec<Window> = (0..days)
        .step_by(31)
        .map(|d| {
            let from = start() + TimeDelta::days(1 + d);
            let to = (from + TimeDelta::days(31)).min(start() + TimeDelta::days(1 + days));
            Window::new(from, to).unwrap()
        })
        .collect();
    let added = scheduler
        .add_availability(provider, &windows, Precondition::Any)
        .await
        .unwrap();
    added.added.into_iter().map(|slot| slot.id).collect()
}

/// Time spent on `iters` reserve-plus-confirm pairs on distinct slots, for
/// `iter_custom`. Each round publishes a fresh provider with a 31-day
/// calendar (2,976 slots) outside the timing; `providers` numbers them.
pub fn reserve_and_confirm<S: Store>(
    rt: &Runtime,
    scheduler: &Scheduler<S, ManualClock>,
    providers: &mut u64,
    iters: u64,
) -> Duration {
    book_and_confirm(rt, scheduler, providers, iters, |_, slots| slots)
}

/// The service the service benches book: an hour, four slots.
pub fn hour_service(provider: &ProviderId) -> Service {
    Service::new(
        provider.clone(),
        ServiceId::new("hour").unwrap(),
        "Hour",
        TimeDelta::hours(1),
    )
}

/// As [`reserve_and_confirm`], for an hour-long service (a claim of four
/// slots) on back-to-back hours.
pub fn service_reserve_and_confirm<S: Store>(
    rt: &Runtime,
    scheduler: &Scheduler<S, ManualClock>,
    providers: &mut u64,
    iters: u64,
) -> Duration {
    book_and_confirm(rt, scheduler, providers, iters, |provider, slots| {
        let service = hour_service(provider);
        rt.block_on(scheduler.put_service(&service)).unwrap();
        slots
            .iter()
            .step_by(4)
            .map(|slot| slot.clone().for_service(service.id.clone()))
            .collect()
    })
}

/// Times reserve-plus-confirm pairs on the ids `bookable` makes of each
/// fresh provider's slots (outside the timing), until `iters` are done.
fn book_and_confirm<S: Store>(
    rt: &Runtime,
    scheduler: &Scheduler<S, ManualClock>,
    providers: &mut u64,
    iters: u64,
    bookable: impl Fn(&ProviderId, Vec<SlotId>) -> Vec<SlotId>,
) -> Duration {
    let client = ClientId::new("bench-client").unwrap();
    let mut spent = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        *providers += 1;
        let provider = ProviderId::new(format!("bench-provider-{providers}")).unwrap();
        let slots = bookable(&provider, rt.block_on(publish(scheduler, &provider, 31)));
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
}

/// A provider with [`BIG_CALENDAR_DAYS`] of slots, every seventh slot
/// booked, and the [`hour_service`]: the calendar the service listing is
/// measured on, beside the plain listing of the same calendar.
pub async fn booked_calendar<S: Store>(
    scheduler: &Scheduler<S, ManualClock>,
    provider: &ProviderId,
) -> Service {
    let slots = publish(scheduler, provider, BIG_CALENDAR_DAYS).await;
    assert_eq!(slots.len(), 100_800);
    let client = ClientId::new("bench-client").unwrap();
    for slot in slots.iter().step_by(7) {
        let held = scheduler.reserve(slot, &client, None).await.unwrap();
        scheduler.confirm(held.id, &client).await.unwrap();
    }
    let service = hour_service(provider);
    scheduler.put_service(&service).await.unwrap();
    service
}

/// Benches the plain and the service listing of 50 on a [`booked_calendar`].
pub fn list_beside_service<S: Store>(
    c: &mut criterion::Criterion,
    rt: &Runtime,
    scheduler: &Scheduler<S, ManualClock>,
    backend: &str,
) {
    let provider = ProviderId::new("bench-booked-provider").unwrap();
    let service = rt.block_on(booked_calendar(scheduler, &provider));
    let mut group = c.benchmark_group(format!("{backend}/every-7th-booked"));
    group.bench_function("list-50", |b| {
        b.iter(|| {
            let page = rt
                .block_on(scheduler.list_slots(&provider, ListQuery::all().limit(50)))
                .unwrap();
            assert_eq!(page.items.len(), 50);
            page
        });
    });
    group.bench_function("service-list-50", |b| {
        b.iter(|| {
            let page = rt
                .block_on(scheduler.list_service_starts(
                    &provider,
                    &service.id,
                    ListQuery::all().limit(50),
                ))
                .unwrap();
            assert_eq!(page.items.len(), 50);
            page
        });
    });
    group.finish();
}
