//! What the SQL store benches share: the calendar they publish, and the
//! reserve-plus-confirm loop, generic over the store.

use scheduler_core::Precondition;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduler_core::{ClientId, ManualClock, Policy, ProviderId, Scheduler, SlotId, Store, Window};
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
    let client = ClientId::new("bench-client").unwrap();
    let mut spent = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        *providers += 1;
        let provider = ProviderId::new(format!("bench-provider-{providers}")).unwrap();
        let slots = rt.block_on(publish(scheduler, &provider, 31));
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
