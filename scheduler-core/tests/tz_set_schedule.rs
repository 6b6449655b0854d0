//! `Scheduler::set_schedule`: a weekly schedule becomes the provider's
//! availability from now to the horizon, replacing free future slots while
//! held and booked ones stay and come back as conflicts.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use scheduler_core::Precondition;
use scheduler_core::{
    Actor, ClientId, Clock, Error, ListQuery, ManualClock, Policy, ProviderId, ReservationStatus,
    Scheduler, SlotId, TimeRange, WeeklySchedule, Window,
};
use scheduler_memory::MemoryStore;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Ten days of horizon and no lead time, so tests can hold any future slot.
fn setup(now: DateTime<Utc>) -> (Scheduler<MemoryStore, ManualClock>, ManualClock) {
    let clock = ManualClock::new(now);
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(10))
        .min_lead(TimeDelta::zero())
        .build()
        .unwrap();
    (
        Scheduler::new(MemoryStore::new(), clock.clone(), policy),
        clock,
    )
}

fn provider() -> ProviderId {
    ProviderId::new("dr-who").unwrap()
}

/// Mornings in New York, every day.
fn mornings() -> WeeklySchedule {
    let days = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    days.into_iter()
        .fold(WeeklySchedule::builder("America/New_York"), |b, d| {
            b.weekday(d, [("09:00", "10:00")])
        })
        .build()
        .unwrap()
}

async fn all_free(scheduler: &Scheduler<MemoryStore, ManualClock>) -> Vec<DateTime<Utc>> {
    let mut starts = Vec::new();
    let mut query = ListQuery::all().limit(500);
    loop {
        let page = scheduler
            .list_slots(&provider(), query.clone())
            .await
            .unwrap();
        starts.extend(page.items.iter().map(|s| s.start));
        match page.next_cursor {
            Some(cursor) => query = query.cursor(cursor),
            None => return starts,
        }
    }
}

#[tokio::test]
async fn publishes_the_schedule_up_to_the_horizon_with_each_dates_offset() {
    // 2027-03-10 12:00 UTC; New York springs forward on the 14th.
    let now = utc(2027, 3, 10, 12, 0);
    let (scheduler, _) = setup(now);
    let applied = scheduler
        .set_schedule(&provider(), &mornings(), Precondition::Any)
        .await
        .unwrap();

    assert_eq!(applied.through, now + TimeDelta::days(10));
    assert!(applied.removed.is_empty() && applied.conflicts.is_empty());
    // 09:00 New York on the 10th (14:00 UTC) is still ahead; the 20th's
    // morning (13:00 UTC) ends after the horizon (12:00 UTC).
    let starts: Vec<_> = applied.added.iter().map(|s| s.start).collect();
    assert_eq!(starts.len(), 10 * 4);
    assert_eq!(starts[0], utc(2027, 3, 10, 14, 0));
    assert_eq!(starts[4 * 3], utc(2027, 3, 13, 14, 0), "EST until the 14th");
    assert_eq!(starts[4 * 4], utc(2027, 3, 14, 13, 0), "EDT from the 14th");
    assert_eq!(*starts.last().unwrap(), utc(2027, 3, 19, 13, 45));
    assert_eq!(all_free(&scheduler).await, starts);
    assert_eq!(
        applied.version,
        scheduler.calendar_version(&provider()).await.unwrap()
    );
}

#[tokio::test]
async fn the_past_and_a_slot_in_progress_are_left_alone() {
    // 09:20 in New York on 2027-03-10: the 09:00 and 09:15 slots have started.
    let now = utc(2027, 3, 10, 14, 20);
    let (scheduler, _) = setup(now);
    let applied = scheduler
        .set_schedule(&provider(), &mornings(), Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.added[0].start, utc(2027, 3, 10, 14, 30));
    assert!(
        applied
            .added
            .iter()
            .all(|s| s.start >= now && s.end <= applied.through)
    );
}

#[tokio::test]
async fn replaces_free_slots_and_keeps_held_and_booked_ones() {
    let now = utc(2027, 3, 10, 12, 0);
    let (scheduler, _) = setup(now);
    let p = provider();
    // Afternoons published by hand on the 11th, 13:00-15:00 UTC (08:00-10:00 local).
    let window = Window::new(utc(2027, 3, 11, 13, 0), utc(2027, 3, 11, 15, 0)).unwrap();
    scheduler
        .add_availability(&p, &[window], Precondition::Any)
        .await
        .unwrap();
    let client = ClientId::new("amy").unwrap();
    // Held and not in the schedule: kept and reported.
    let held = scheduler
        .reserve(
            &SlotId::new(p.clone(), utc(2027, 3, 11, 13, 15)),
            &client,
            None,
        )
        .await
        .unwrap();
    // Booked and in the schedule (09:15 local): kept, and not a conflict.
    let booked = scheduler
        .reserve(
            &SlotId::new(p.clone(), utc(2027, 3, 11, 14, 15)),
            &client,
            None,
        )
        .await
        .unwrap();
    scheduler.confirm(booked.id, &client).await.unwrap();

    let applied = scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    let removed: Vec<_> = applied.removed.iter().map(|s| s.start).collect();
    assert_eq!(
        removed,
        [
            utc(2027, 3, 11, 13, 0),
            utc(2027, 3, 11, 13, 30),
            utc(2027, 3, 11, 13, 45)
        ]
    );
    assert_eq!(applied.conflicts.len(), 1);
    assert_eq!(applied.conflicts[0].id, held.id);
    assert_eq!(applied.conflicts[0].status, ReservationStatus::Held);
    // The schedule's 09:00-10:00 on the 11th already existed: not "added".
    assert!(
        applied
            .added
            .iter()
            .all(|s| s.start.date_naive() != NaiveDate::from_ymd_opt(2027, 3, 11).unwrap())
    );

    let still = scheduler
        .reservation(held.id, &Actor::Client(client.clone()))
        .await
        .unwrap();
    assert_eq!(still.status, ReservationStatus::Held);
    let free = all_free(&scheduler).await;
    assert!(!free.contains(&utc(2027, 3, 11, 13, 0)));
    assert!(free.contains(&utc(2027, 3, 11, 14, 0)));
    assert!(!free.contains(&utc(2027, 3, 11, 14, 15)), "still booked");

    // Once the hold is cancelled the slot is free, and the next set removes it.
    scheduler
        .cancel(held.id, &Actor::Client(client))
        .await
        .unwrap();
    let again = scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    assert_eq!(again.removed.len(), 1);
    assert_eq!(again.removed[0].start, utc(2027, 3, 11, 13, 15));
    assert!(again.conflicts.is_empty());
}

#[tokio::test]
async fn setting_the_same_schedule_again_changes_nothing() {
    let (scheduler, _) = setup(utc(2027, 3, 10, 12, 0));
    let first = scheduler
        .set_schedule(&provider(), &mornings(), Precondition::Any)
        .await
        .unwrap();
    let second = scheduler
        .set_schedule(&provider(), &mornings(), Precondition::Any)
        .await
        .unwrap();
    assert!(second.added.is_empty() && second.removed.is_empty() && second.conflicts.is_empty());
    assert_eq!(second.version, first.version);
}

#[tokio::test]
async fn a_new_schedule_replaces_the_old_one() {
    let (scheduler, _) = setup(utc(2027, 3, 10, 12, 0));
    let p = provider();
    scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    let evenings = WeeklySchedule::builder("Europe/London")
        .weekday(Weekday::Fri, [("18:00", "19:00")])
        .build()
        .unwrap();
    let applied = scheduler
        .set_schedule(&p, &evenings, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.removed.len(), 40);
    // Fridays the 12th and 19th, 18:00 GMT.
    let free = all_free(&scheduler).await;
    assert_eq!(free.len(), 8);
    assert_eq!(free[0], utc(2027, 3, 12, 18, 0));
    assert_eq!(free[4], utc(2027, 3, 19, 18, 0));
}

#[tokio::test]
async fn the_rolling_horizon_adds_new_days_on_the_next_set() {
    let (scheduler, clock) = setup(utc(2027, 3, 10, 12, 0));
    let p = provider();
    scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    clock.advance(TimeDelta::days(2));
    let applied = scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    let added: Vec<_> = applied.added.iter().map(|s| s.start).collect();
    assert_eq!(added.len(), 8);
    assert_eq!(added[0], utc(2027, 3, 20, 13, 0));
    assert!(applied.removed.is_empty());
}

#[tokio::test]
async fn a_stale_version_changes_nothing() {
    let (scheduler, _) = setup(utc(2027, 3, 10, 12, 0));
    let p = provider();
    let first = scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    let evenings = WeeklySchedule::builder("UTC")
        .weekday(Weekday::Fri, [("18:00", "19:00")])
        .build()
        .unwrap();
    let err = scheduler
        .set_schedule(&p, &evenings, Precondition::Version(first.version + 1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CalendarChanged { current, .. } if current == first.version));
    assert_eq!(all_free(&scheduler).await.len(), 40);

    let applied = scheduler
        .set_schedule(&p, &evenings, Precondition::Version(first.version))
        .await
        .unwrap();
    assert_eq!(applied.removed.len(), 40);
    assert_eq!(all_free(&scheduler).await.len(), 8);
    // A withdrawal leaves the rest of the calendar to its version rules.
    let range = TimeRange::new(utc(2027, 3, 1, 0, 0), utc(2027, 4, 1, 0, 0)).unwrap();
    let withdrawn = scheduler
        .withdraw_availability(&p, range, Precondition::Version(applied.version))
        .await
        .unwrap();
    assert_eq!(withdrawn.removed.len(), 8);
}

#[tokio::test]
async fn extending_adds_what_a_fresh_set_would_and_nothing_twice() {
    // Off the grid on purpose: the slot straddling the first horizon must
    // come with the extension.
    let (scheduler, clock) = setup(utc(2027, 3, 10, 12, 7));
    let p = provider();
    let all_day = WeeklySchedule::builder("Australia/Lord_Howe")
        .weekday(Weekday::Sat, [("00:00", "24:00")])
        .weekday(Weekday::Sun, [("00:00", "24:00")])
        .weekday(Weekday::Mon, [("00:00", "12:00")])
        .build()
        .unwrap();
    let set = scheduler
        .set_schedule(&p, &all_day, Precondition::Any)
        .await
        .unwrap();
    clock.advance(TimeDelta::days(5));
    let rolled = scheduler
        .extend_schedule(&p, &all_day, set.through)
        .await
        .unwrap();
    assert!(rolled.added.iter().all(|s| s.end > set.through));
    assert_eq!(rolled.through, set.through + TimeDelta::days(5));

    // The calendar now equals what setting the schedule afresh gives.
    let (fresh, _) = setup(clock.now());
    fresh
        .set_schedule(&p, &all_day, Precondition::Any)
        .await
        .unwrap();
    let now = clock.now();
    let ours: Vec<_> = all_free(&scheduler)
        .await
        .into_iter()
        .filter(|s| *s >= now)
        .collect();
    assert_eq!(ours, all_free(&fresh).await);
    assert!(
        ours.contains(&utc(2027, 3, 20, 12, 0)),
        "the straddling slot"
    );

    // Extending again from the new horizon adds nothing.
    let again = scheduler
        .extend_schedule(&p, &all_day, rolled.through)
        .await
        .unwrap();
    assert!(again.added.is_empty());
    assert_eq!(again.version, rolled.version);
}

#[tokio::test]
async fn held_slots_are_conflicts_even_where_nothing_is_withdrawn() {
    let (scheduler, _) = setup(utc(2027, 3, 10, 12, 0));
    let p = provider();
    scheduler
        .set_schedule(&p, &mornings(), Precondition::Any)
        .await
        .unwrap();
    let client = ClientId::new("amy").unwrap();
    // Every slot of the 11th's morning is held: that day has no free slot to remove.
    let mut held = Vec::new();
    for minute in [0, 15, 30, 45] {
        let slot = SlotId::new(p.clone(), utc(2027, 3, 11, 14, minute));
        held.push(scheduler.reserve(&slot, &client, None).await.unwrap().id);
    }
    let evenings = WeeklySchedule::builder("UTC")
        .weekday(Weekday::Fri, [("18:00", "19:00")])
        .build()
        .unwrap();
    let applied = scheduler
        .set_schedule(&p, &evenings, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.removed.len(), 36);
    let conflicts: Vec<_> = applied.conflicts.iter().map(|r| r.id).collect();
    assert_eq!(conflicts, held);
}

#[tokio::test]
async fn long_calendars_are_read_page_by_page() {
    // Five-minute slots all day for ten days: 2,880 slots, several pages.
    let clock = ManualClock::new(utc(2027, 3, 10, 0, 0));
    let policy = Policy::builder()
        .slot_length(TimeDelta::minutes(5))
        .max_horizon(TimeDelta::days(10))
        .build()
        .unwrap();
    let scheduler = Scheduler::new(MemoryStore::new(), clock, policy);
    let p = provider();
    let mut always = WeeklySchedule::builder("Asia/Kathmandu");
    for day in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ] {
        always = always.weekday(day, [("00:00", "24:00")]);
    }
    let set = scheduler
        .set_schedule(&p, &always.clone().build().unwrap(), Precondition::Any)
        .await
        .unwrap();
    assert_eq!(set.added.len(), 2880);
    // Closing a day well past the first pages of free slots removes exactly it.
    let day = NaiveDate::from_ymd_opt(2027, 3, 18).unwrap();
    let one_day_off = always.closed(day).build().unwrap();
    let applied = scheduler
        .set_schedule(&p, &one_day_off, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(applied.removed.len(), 288);
    let kathmandu_midnight = utc(2027, 3, 17, 18, 15);
    assert_eq!(applied.removed[0].start, kathmandu_midnight);
    assert!(applied.added.is_empty());
}
