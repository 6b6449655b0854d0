//! schedule, and `extend_due_schedules` rolls it forward at the boundary.

use crate::Precondition;
use chrono::{TimeDelta, Weekday};

use super::schedules::stored;
use crate::error::Error;
use crate::local_time::WeeklySchedule;
use crate::policy::Policy;
use crate::store::Store;
use crate::testkit::Harness;

fn short_horizon<S: Store>(h: Harness<S>) -> Harness<S> {
    let policy = Policy::builder()
        .max_horizon(TimeDelta::days(14))
        .build()
        .expect("policy");
    h.into_policy(policy)
}

fn mondays() -> WeeklySchedule {
    // 09:00-10:00 in Berlin is 08:00-09:00 UTC in winter.
    WeeklySchedule::builder("Europe/Berlin")
        .weekday(Weekday::Mon, [("09:00", "10:00")])
        .build()
        .expect("schedule")
}

pub async fn set_schedule_stores_it_and_the_sweep_rolls_it<S: Store>(h: Harness<S>) {
    let h = short_horizon(h);
    let p = h.provider("p");
    let s = &h.scheduler;
    let applied = s
        .set_schedule(&p, &mondays(), Precondition::Any)
        .await
        .expect("set");
    assert_eq!(applied.added.len(), 8, "Mondays 7 and 14 January");
    assert_eq!(applied.through, h.day_at(14, 0, 0, 0));
    let read = s.schedule(&p).await.unwrap().expect("stored");
    assert_eq!(read.schedule, mondays());
    assert_eq!(
        (read.through, read.version),
        (applied.through, applied.version)
    );
    assert_eq!(s.calendar_version(&p).await.unwrap(), applied.version);
    let text = stored(&h, &p).await.expect("stored").json;
    assert_eq!(text, serde_json::to_string(&mondays()).unwrap());

    // Due once `through` is strictly before now + horizon - margin.
    let margin = TimeDelta::hours(1);
    h.set(h.day_at(0, 1, 0, 0));
    let none = s.extend_due_schedules(margin, 10).await.expect("roll");
    assert_eq!(
        (none.extended, none.deferred),
        (0, 0),
        "through == before is not due"
    );
    h.advance(TimeDelta::microseconds(1));
    let one = s.extend_due_schedules(margin, 10).await.expect("roll");
    assert_eq!((one.extended, one.deferred), (1, 0));
    assert!(one.failures.is_empty());
    let moved = h.day_at(14, 1, 0, 0) + TimeDelta::microseconds(1);
    assert_eq!(s.schedule(&p).await.unwrap().unwrap().through, moved);

    // A day on, the Monday that entered the horizon gets its slots.
    h.advance(TimeDelta::days(1));
    let day = s.extend_due_schedules(margin, 10).await.expect("roll");
    assert_eq!(day.extended, 1);
    let starts = h.reservable_starts(&p).await;
    assert_eq!(starts.len(), 8, "14 and 21 January: {starts:?}");
    assert_eq!(starts[4], h.day_at(14, 8, 0, 0));
    assert_eq!(starts[7], h.day_at(14, 8, 45, 0));
    assert_eq!(
        s.extend_due_schedules(margin, 10).await.unwrap().extended,
        0,
        "nothing due right after a roll"
    );
}

pub async fn a_refused_or_cleared_schedule_is_not_rolled<S: Store>(h: Harness<S>) {
    let h = short_horizon(h);
    let p = h.provider("p");
    let s = &h.scheduler;
    let first = s
        .set_schedule(&p, &mondays(), Precondition::Any)
        .await
        .expect("set");
    let fridays = WeeklySchedule::builder("Europe/Berlin")
        .weekday(Weekday::Fri, [("09:00", "10:00")])
        .build()
        .unwrap();
    h.open(&p, h.day_at(5, 9, 0, 0), h.day_at(5, 10, 0, 0))
        .await;
    let err = s
        .set_schedule(&p, &fridays, Precondition::Version(first.version))
        .await
        .expect_err("stale version");
    assert!(matches!(err, Error::CalendarChanged { .. }), "{err:?}");
    assert_eq!(
        s.schedule(&p).await.unwrap().unwrap().schedule,
        mondays(),
        "the refused schedule was not stored"
    );

    assert!(s.clear_schedule(&p).await.unwrap());
    assert!(s.schedule(&p).await.unwrap().is_none());
    assert!(!s.clear_schedule(&p).await.unwrap());
    h.advance(TimeDelta::days(3));
    let rolled = s
        .extend_due_schedules(TimeDelta::hours(1), 10)
        .await
        .unwrap();
    assert_eq!(rolled.extended, 0, "a cleared schedule is not rolled");
    assert_eq!(
        h.reservable_starts(&p).await.len(),
        4 + 4,
        "its slots stay: Monday 14 January's, beside the window opened"
    );
}

/// Sunday 00:00-24:00, every Sunday, in `zone`.
fn sundays(zone: &str) -> WeeklySchedule {
    WeeklySchedule::builder(zone)
        .weekday(Weekday::Sun, [("00:00", "24:00")])
        .build()
        .expect("schedule")
}

/// A year of Sundays across daylight-saving transitions lands in the
/// store exactly as the schedule expands: each date at its own offset,
/// the spring gap lost and the autumn fold kept, on every backend.
pub async fn a_schedule_across_dst_stores_its_exact_expansion<S: Store>(h: Harness<S>) {
    use std::collections::BTreeMap;

    use chrono::{NaiveDate, TimeZone};

    use crate::grid::TimeRange;

    // Each transition falls on a Sunday of 2030: (zone, date, slots that day).
    let cases: [(&str, [(NaiveDate, usize); 2]); 2] = [
        // 23 and 25 hours.
        (
            "America/New_York",
            [(date(2030, 3, 10), 92), (date(2030, 11, 3), 100)],
        ),
        // Lord Howe moves by 30 minutes: 24.5 hours in April, 23.5 in October.
        (
            "Australia/Lord_Howe",
            [(date(2030, 4, 7), 98), (date(2030, 10, 6), 94)],
        ),
    ];
    let s = &h.scheduler;
    for (zone, transitions) in cases {
        let p = h.provider(&zone.replace('/', "-"));
        let schedule = sundays(zone);
        let applied = s
            .set_schedule(&p, &schedule, Precondition::Any)
            .await
            .expect("set");
        let stored = h.reservable_starts(&p).await;
        let bookable =
            TimeRange::new(h.now() + s.policy().min_lead(), applied.through).expect("range");
        let expected: Vec<_> = schedule
            .slot_starts_within(s.policy().grid(), bookable)
            .into_iter()
            .map(|start| start.instant())
            .collect();
        assert_eq!(stored.len(), expected.len(), "{zone}: slot count");
        assert!(
            stored == expected,
            "{zone}: the stored slots are the expansion"
        );

        let tz = schedule.time_zone();
        let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for start in &stored {
            *per_day
                .entry(tz.from_utc_datetime(&start.naive_utc()).date_naive())
                .or_default() += 1;
        }
        for (day, slots) in transitions {
            assert_eq!(per_day.get(&day), Some(&slots), "{zone} on {day}");
        }
        let ordinary = per_day.values().filter(|&&n| n == 96).count();
        assert_eq!(
            ordinary + transitions.len(),
            per_day.len(),
            "{zone}: every other Sunday has 96 slots: {per_day:?}"
        );
    }
}

fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date")
}
