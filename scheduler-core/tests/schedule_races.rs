//! Rolling a schedule forward while another process replaces it: whichever
//! step of the roll the replacement lands after, the old schedule's slots
//! never join the new one's. A store wrapper stores the replacement right
//! after the chosen store call returns, as another process would.
//!
//! And the other way round: a slot published between a schedule's slots and
//! the schedule itself (as a roll of the old schedule would) makes
//! `set_schedule` apply the schedule again, or refuse when it is conditional.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc, Weekday};
use scheduler_core::store::{
    CalendarStore, CalendarWrite, Composed, ScheduleStore, SlotBounds, StoreWithdrawal,
    StoredSchedule,
};
use scheduler_core::{
    ManualClock, Policy, Precondition, ProviderId, Result, Scheduler, SlotStart, WeeklySchedule,
};
use scheduler_memory::MemoryStore;

/// The store call after which the replacement lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The due list was read.
    Due,
    /// The calendar version was read.
    Version,
    /// The schedule was read again.
    Reread,
}

/// A `MemoryStore` that stores `replacement` once, right after the call `at`.
struct Racing {
    inner: Arc<MemoryStore>,
    at: Mutex<Option<After>>,
    provider: ProviderId,
    replacement: String,
    /// How many of the coming `put_schedule` calls a stray slot precedes.
    strays: Mutex<u32>,
}

/// Wednesday 3 March 2027 09:00 UTC: a slot no schedule here offers.
fn stray() -> SlotStart {
    let grid = scheduler_core::Grid::new(TimeDelta::minutes(15)).unwrap();
    grid.slot_at(Utc.with_ymd_and_hms(2027, 3, 3, 9, 0, 0).unwrap())
        .unwrap()
}

impl Racing {
    async fn after(&self, call: After) {
        let due = {
            let mut at = self.at.lock().unwrap();
            let due = *at == Some(call);
            if due {
                *at = None;
            }
            due
        };
        if due {
            let stored = self.inner.schedule(&self.provider).await.unwrap().unwrap();
            let version = self.inner.calendar_version(&self.provider).await.unwrap();
            let through = stored.through + TimeDelta::days(1);
            let write = self
                .inner
                .put_schedule(&self.provider, &self.replacement, through, version)
                .await
                .unwrap();
            assert!(matches!(write, CalendarWrite::Applied { .. }));
        }
    }
}

/// The racing store: its calendar and schedules race, its reservations and
/// services are the memory store's own.
type RacingStore = Composed<Arc<Racing>, Arc<MemoryStore>, Arc<Racing>, Arc<MemoryStore>>;

fn racing_store(racing: Racing) -> RacingStore {
    let racing = Arc::new(racing);
    Composed {
        calendar: racing.clone(),
        reservations: racing.inner.clone(),
        services: racing.inner.clone(),
        schedules: racing,
    }
}

#[async_trait]
impl CalendarStore for Racing {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        let version = self.inner.calendar_version(provider).await;
        self.after(After::Version).await;
        version
    }
    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        self.inner.add_slots(provider, starts, expected).await
    }
    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        self.inner
            .withdraw_slots(provider, bounds, expected, now)
            .await
    }
    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        self.inner.free_slots(provider, bounds, limit, now).await
    }
}

#[async_trait]
impl ScheduleStore for Racing {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        let inject = {
            let mut strays = self.strays.lock().unwrap();
            let inject = *strays > 0;
            *strays = strays.saturating_sub(1);
            inject
        };
        if inject {
            self.inner.add_slots(provider, &[stray()], None).await?;
        }
        self.inner
            .put_schedule(provider, json, through, version)
            .await
    }
    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        let stored = self.inner.schedule(provider).await;
        self.after(After::Reread).await;
        stored
    }
    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        self.inner.delete_schedule(provider).await
    }
    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        let due = self.inner.schedules_due(before, limit).await;
        self.after(After::Due).await;
        due
    }
    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        self.inner.advance_schedule(provider, from, to).await
    }
}

fn schedule(day: Weekday) -> WeeklySchedule {
    WeeklySchedule::builder("Europe/Paris")
        .weekday(day, [("09:00", "10:00")])
        .build()
        .unwrap()
}

async fn replaced_after(call: After) {
    let provider = ProviderId::new("dr-who").unwrap();
    let replacement = serde_json::to_string(&schedule(Weekday::Fri)).unwrap();
    let store = Racing {
        inner: Arc::new(MemoryStore::new()),
        at: Mutex::new(None),
        provider: provider.clone(),
        replacement: replacement.clone(),
        strays: Mutex::new(0),
    };
    // Monday 1 March 2027; the horizon of a week ends on Monday 8 March.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(7))
        .build()
        .unwrap();
    let scheduler = Scheduler::new(racing_store(store), clock.clone(), policy);
    let set = scheduler
        .set_schedule(&provider, &schedule(Weekday::Mon), Precondition::Any)
        .await
        .unwrap();
    assert_eq!(set.added.len(), 4, "Monday 1 March");

    // A day on, Monday 8 March is due to be published, but the schedule is
    // replaced by a Fridays-only one in the middle of the roll.
    clock.advance(TimeDelta::days(1));
    *scheduler.store().calendar.at.lock().unwrap() = Some(call);
    let rolled = scheduler
        .extend_due_schedules(TimeDelta::hours(1), 10)
        .await
        .unwrap();
    assert!(
        scheduler.store().calendar.at.lock().unwrap().is_none(),
        "the replacement landed after {call:?}"
    );
    assert_eq!(
        (rolled.extended, rolled.deferred, rolled.failures.len()),
        (0, 1, 0),
        "replaced after {call:?}: the roll stands back"
    );
    assert_eq!(
        scheduler.store().reservations.slot_count(),
        4,
        "replaced after {call:?}: no Monday 8 March slot was published"
    );
    let stored = scheduler
        .store()
        .schedule(&provider)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.json, replacement, "the replacement stands");
}

#[tokio::test]
async fn a_schedule_replaced_after_the_due_list_is_not_rolled() {
    replaced_after(After::Due).await;
}

#[tokio::test]
async fn a_schedule_replaced_after_the_version_read_is_not_rolled() {
    replaced_after(After::Version).await;
}

#[tokio::test]
async fn a_schedule_replaced_after_it_was_read_again_is_not_rolled() {
    replaced_after(After::Reread).await;
}

/// A scheduler over a fresh racing store on Monday 1 March 2027, with a
/// horizon of a week, whose next `strays` schedule writes meet a stray slot.
fn racing(strays: u32) -> (Scheduler<RacingStore, ManualClock>, ProviderId) {
    let provider = ProviderId::new("dr-who").unwrap();
    let store = Racing {
        inner: Arc::new(MemoryStore::new()),
        at: Mutex::new(None),
        provider: provider.clone(),
        replacement: String::new(),
        strays: Mutex::new(strays),
    };
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(7))
        .build()
        .unwrap();
    (Scheduler::new(racing_store(store), clock, policy), provider)
}

#[tokio::test]
async fn set_schedule_applies_again_when_a_slot_lands_before_the_schedule() {
    let (scheduler, provider) = racing(1);
    let mondays = schedule(Weekday::Mon);
    let applied = scheduler
        .set_schedule(&provider, &mondays, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.added.len(), 4, "Monday 1 March, reported once");
    let removed: Vec<_> = applied.removed.iter().map(|slot| slot.start).collect();
    assert_eq!(
        removed,
        [stray().instant()],
        "the second pass removed the stray"
    );
    assert_eq!(scheduler.store().reservations.slot_count(), 4);
    let stored = scheduler.schedule(&provider).await.unwrap().unwrap();
    assert_eq!(stored.schedule, mondays);
    assert_eq!(
        applied.version,
        scheduler.calendar_version(&provider).await.unwrap()
    );
}

#[tokio::test]
async fn set_schedule_gives_up_after_three_passes() {
    let (scheduler, provider) = racing(3);
    let err = scheduler
        .set_schedule(&provider, &schedule(Weekday::Mon), Precondition::Any)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "calendar_changed", "{err:?}");
    assert!(scheduler.schedule(&provider).await.unwrap().is_none());

    let (scheduler, provider) = racing(2);
    scheduler
        .set_schedule(&provider, &schedule(Weekday::Mon), Precondition::Any)
        .await
        .expect("the third pass stores it");
}

#[tokio::test]
async fn a_conditional_set_schedule_refuses_when_a_slot_lands_before_the_schedule() {
    let (scheduler, provider) = racing(1);
    let err = scheduler
        .set_schedule(&provider, &schedule(Weekday::Mon), Precondition::Version(0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "calendar_changed", "{err:?}");
    assert!(
        scheduler.schedule(&provider).await.unwrap().is_none(),
        "nothing stored"
    );
}
