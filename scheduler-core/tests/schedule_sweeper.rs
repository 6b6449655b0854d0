//! The sweeper rolls stored weekly schedules forward as time passes: on paused
//! Tokio time with a manual clock, a scheduled provider's slots reach one day
//! further once the clock has moved a day, and two sweepers sharing a store
//! extend it once between them.

use scheduler_core::Precondition;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc, Weekday};
use scheduler_core::{
    ListQuery, ManualClock, Policy, ProviderId, Scheduler, SweepReport, SweeperConfig, TimeRange,
    WeeklySchedule, spawn_sweeper,
};
use scheduler_memory::MemoryStore;
use tokio::sync::oneshot;

const INTERVAL: Duration = Duration::from_secs(30);

type Service = Scheduler<Arc<MemoryStore>, ManualClock>;

fn utc(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, d, h, 0, 0).unwrap()
}

/// 09:00-10:00 in Paris every day: 08:00-09:00 UTC all of early March.
fn daily() -> WeeklySchedule {
    let mut builder = WeeklySchedule::builder("Europe/Paris");
    for day in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ] {
        builder = builder.weekday(day, [("09:00", "10:00")]);
    }
    builder.build().unwrap()
}

fn spawn(scheduler: &Arc<Service>) -> (oneshot::Sender<()>, tokio::task::JoinHandle<SweepReport>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let config = SweeperConfig {
        interval: INTERVAL,
        schedule_margin: Duration::from_secs(60 * 60),
        ..SweeperConfig::default()
    };
    let handle = spawn_sweeper(Arc::clone(scheduler), config, async move {
        stopped.await.ok();
    });
    (stop, handle)
}

async fn through(scheduler: &Service, provider: &ProviderId) -> DateTime<Utc> {
    scheduler.schedule(provider).await.unwrap().unwrap().through
}

/// Lets the sweeper tasks run until `provider`'s schedule reaches `expected`,
/// without moving time, then a few turns more so an extra roll would show.
async fn until_through(scheduler: &Service, provider: &ProviderId, expected: DateTime<Utc>) {
    for _ in 0..200 {
        if through(scheduler, provider).await == expected {
            break;
        }
        tokio::task::yield_now().await;
    }
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert_eq!(through(scheduler, provider).await, expected);
}

async fn slot_starts(scheduler: &Service, provider: &ProviderId) -> Vec<DateTime<Utc>> {
    let range = TimeRange::new(utc(1, 0), utc(31, 0)).unwrap();
    let page = scheduler
        .list_slots(provider, ListQuery::new(range).limit(500))
        .await
        .unwrap();
    page.items.into_iter().map(|slot| slot.start).collect()
}

#[tokio::test(start_paused = true)]
async fn slots_reach_a_day_further_once_the_clock_moves_a_day() {
    let clock = ManualClock::new(utc(1, 0));
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(7))
        .min_lead(TimeDelta::zero())
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let scheduler = Arc::new(Scheduler::new(store.clone(), clock.clone(), policy));
    let provider = ProviderId::new("dr-who").unwrap();
    let applied = scheduler
        .set_schedule(&provider, &daily(), Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.added.len(), 7 * 4, "1 to 7 March");
    assert_eq!(applied.through, utc(8, 0));

    let (stop, handle) = spawn(&scheduler);
    // The first sweep runs at once and finds nothing due.
    until_through(&scheduler, &provider, utc(8, 0)).await;
    assert_eq!(store.slot_count(), 28);

    // Fifty-nine minutes on, the horizon is still within the margin.
    clock.advance(TimeDelta::minutes(59));
    tokio::time::advance(INTERVAL).await;
    until_through(&scheduler, &provider, utc(8, 0)).await;

    // A day on, the next tick publishes 8 March.
    clock.set(utc(2, 0));
    tokio::time::advance(INTERVAL).await;
    until_through(&scheduler, &provider, utc(9, 0)).await;
    let starts = slot_starts(&scheduler, &provider).await;
    assert_eq!(starts.len(), 6 * 4 + 4, "2 to 8 March");
    assert_eq!(starts.first(), Some(&utc(2, 8)));
    assert_eq!(
        starts.last(),
        Some(&(utc(8, 8) + TimeDelta::minutes(45))),
        "the last slot of 8 March"
    );
    assert_eq!(store.slot_count(), 32);

    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            sweeps: 3,
            failures: 0,
            expired: 0,
            extended: 1,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn two_sweepers_on_one_store_extend_a_schedule_once() {
    let clock = ManualClock::new(utc(1, 0));
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(7))
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let first = Arc::new(Scheduler::new(store.clone(), clock.clone(), policy.clone()));
    let second = Arc::new(Scheduler::new(store.clone(), clock.clone(), policy));
    let provider = ProviderId::new("dr-who").unwrap();
    first
        .set_schedule(&provider, &daily(), Precondition::Any)
        .await
        .unwrap();

    clock.set(utc(2, 0));
    let (stop_a, a) = spawn(&first);
    let (stop_b, b) = spawn(&second);
    until_through(&first, &provider, utc(9, 0)).await;
    stop_a.send(()).unwrap();
    stop_b.send(()).unwrap();
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a.extended + b.extended, 1, "{a:?} {b:?}");
    assert_eq!(a.failures + b.failures, 0);
    assert_eq!(store.slot_count(), 32, "8 March published once");
}
