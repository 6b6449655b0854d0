//! The daylight-saving corpus: schedules expanded across every offset change of
//! 2020-2030 (and the years named below) in zones chosen for their oddities.
//!
//! For every local date of each period and every schedule, it checks that the
//! slots are distinct and ascending, that each slot's local start and end lie
//! in a range of its local date, and that the day's slot count equals its
//! wall-clock length divided by the slot length, adjusted by exactly the gap
//! or fold the zone's offset changes put into it. The expected counts come
//! from first principles: the changes are found here by scanning the zone's
//! offsets every 15 minutes, independently of the library's own search.
//!
//! Run with `--nocapture` to see, per zone, the transitions and days checked.

use std::collections::BTreeMap;

use chrono::{
    DateTime, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use scheduler_core::{Grid, LocalRange, SlotStart, Tz, WeeklySchedule};

const SLOT_MINUTES: i64 = 15;

/// A change of the zone's UTC offset at the UTC second `at`.
#[derive(Debug, Clone, Copy)]
struct Transition {
    at: i64,
    before: i64,
    after: i64,
}

impl Transition {
    /// The wall-clock span, in seconds counted as if local time were UTC,
    /// that the change skips (a gap, positive sign) or repeats (a fold, negative).
    fn local_span(&self) -> (i64, i64, i64) {
        if self.after > self.before {
            (self.at + self.before, self.at + self.after, -1)
        } else {
            (self.at + self.after, self.at + self.before, 1)
        }
    }
}

fn offset(zone: Tz, t: i64) -> i64 {
    let instant = DateTime::from_timestamp(t, 0).unwrap();
    i64::from(
        zone.offset_from_utc_datetime(&instant.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// Every offset change in `[from, to)`, found by a scan every 15 minutes and
/// a bisection to the second.
fn transitions(zone: Tz, from: i64, to: i64) -> Vec<Transition> {
    let mut found = Vec::new();
    let mut t = from;
    while t < to {
        let next = t + 900;
        let (before, after) = (offset(zone, t), offset(zone, next));
        if before != after {
            let (mut low, mut high) = (t, next);
            while high - low > 1 {
                let middle = (low + high) / 2;
                if offset(zone, middle) == before {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            found.push(Transition {
                at: high,
                before,
                after,
            });
        }
        t = next;
    }
    found
}

fn local_seconds(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// One schedule of the corpus: the same ranges on every day of the week.
struct Case {
    name: &'static str,
    ranges: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "office 09:00-17:00",
        ranges: &[("09:00", "17:00")],
    },
    Case {
        name: "afternoon to midnight 13:00-24:00",
        ranges: &[("13:00", "24:00")],
    },
    Case {
        name: "late afternoon 16:30-23:45",
        ranges: &[("16:30", "23:45")],
    },
    Case {
        name: "small hours 00:00-03:00",
        ranges: &[("00:00", "03:00")],
    },
    Case {
        name: "small hours 01:00-03:00",
        ranges: &[("01:00", "03:00")],
    },
    Case {
        name: "split 00:30-02:15, 02:45-09:00, 20:00-24:00",
        ranges: &[("00:30", "02:15"), ("02:45", "09:00"), ("20:00", "24:00")],
    },
    Case {
        name: "touching 01:00-02:00, 02:00-02:30, 02:30-04:00",
        ranges: &[("01:00", "02:00"), ("02:00", "02:30"), ("02:30", "04:00")],
    },
    Case {
        name: "all day 00:00-24:00",
        ranges: &[("00:00", "24:00")],
    },
];

fn schedule(zone: &str, ranges: &[(&str, &str)]) -> WeeklySchedule {
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
        .fold(WeeklySchedule::builder(zone), |b, day| {
            b.weekday(day, ranges.iter().copied())
        })
        .build()
        .unwrap()
}

/// What one zone's run covered.
#[derive(Debug, Default)]
struct Tally {
    transitions: usize,
    days: usize,
    slots: usize,
    /// Day-and-schedule pairs whose count a gap or fold changed.
    adjusted_days: usize,
}

/// Checks every case over the local dates `first..=last` of `zone`.
fn check_zone(zone_name: &str, first: NaiveDate, last: NaiveDate) -> (Tally, Vec<Transition>) {
    let zone: Tz = zone_name.parse().unwrap();
    let grid = Grid::new(TimeDelta::minutes(SLOT_MINUTES)).unwrap();
    let slot = SLOT_MINUTES * 60;
    let span_from = local_seconds(first) - 2 * 86_400;
    let span_to = local_seconds(last) + 3 * 86_400;
    let changes = transitions(zone, span_from, span_to);
    let mut tally = Tally {
        transitions: changes
            .iter()
            .filter(|t| {
                let (from, to, _) = t.local_span();
                to > local_seconds(first) && from < local_seconds(last) + 86_400
            })
            .count(),
        ..Tally::default()
    };

    for case in CASES {
        let schedule = schedule(zone_name, case.ranges);
        let starts = schedule.slot_starts(grid, first, last);
        assert!(
            starts.windows(2).all(|w| w[0] < w[1]),
            "{zone_name} / {}: slots not distinct and ascending",
            case.name
        );
        let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for start in &starts {
            let date = check_slot(zone, &schedule, *start, slot, case.name);
            *per_day.entry(date).or_default() += 1;
        }
        tally.slots += starts.len();

        for date in first.iter_days().take_while(|d| *d <= last) {
            let midnight = local_seconds(date);
            let mut expected = 0;
            let mut adjusted = false;
            for range in schedule.ranges_on(date) {
                let wall = (
                    midnight + i64::from(range.start().minutes()) * 60,
                    midnight + i64::from(range.end().minutes()) * 60,
                );
                let mut length = wall.1 - wall.0;
                for change in &changes {
                    let (from, to, sign) = change.local_span();
                    let shared = overlap(wall, (from, to));
                    length += sign * shared;
                    adjusted |= shared > 0;
                }
                assert_eq!(length % slot, 0, "{zone_name} {date}: uneven length");
                expected += length / slot;
            }
            let actual = per_day.get(&date).copied().unwrap_or(0) as i64;
            assert_eq!(
                actual, expected,
                "{zone_name} / {}: {date} has {actual} slots, expected {expected}",
                case.name
            );
            tally.adjusted_days += usize::from(adjusted);
        }
    }
    tally.days = first.iter_days().take_while(|d| *d <= last).count();
    println!(
        "{zone_name:<20} {first}..={last}: {} transitions, {} days x {} schedules checked, \
         {} slots, {} day counts adjusted for a gap or fold",
        tally.transitions,
        tally.days,
        CASES.len(),
        tally.slots,
        tally.adjusted_days
    );
    (tally, changes)
}

/// The slot's local start and its last second both read inside one range of
/// the start's local date; returns that date.
fn check_slot(
    zone: Tz,
    schedule: &WeeklySchedule,
    start: SlotStart,
    slot: i64,
    case: &str,
) -> NaiveDate {
    let local_start = zone
        .from_utc_datetime(&start.instant().naive_utc())
        .naive_local();
    let last_second = start.instant() + TimeDelta::seconds(slot - 1);
    let local_last = zone
        .from_utc_datetime(&last_second.naive_utc())
        .naive_local();
    let date = local_start.date();
    let minute = |t: NaiveDateTime| (t.hour() * 60 + t.minute()) as u16;
    let inside = |range: &LocalRange| {
        range.contains_minute(minute(local_start))
            && local_last.date() == date
            && range.contains_minute(minute(local_last))
    };
    assert!(
        schedule.ranges_on(date).iter().any(inside),
        "{} / {case}: slot at {} reads {local_start}..{local_last}, outside the ranges of {date}",
        zone.name(),
        start.instant()
    );
    date
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn years(first: i32, last: i32) -> (NaiveDate, NaiveDate) {
    (date(first, 1, 1), date(last, 12, 31))
}

#[test]
fn new_york() {
    let (first, last) = years(2020, 2030);
    let (tally, _) = check_zone("America/New_York", first, last);
    assert_eq!(tally.transitions, 22);
}

#[test]
fn london() {
    let (first, last) = years(2020, 2030);
    let (tally, _) = check_zone("Europe/London", first, last);
    assert_eq!(tally.transitions, 22);
}

#[test]
fn lord_howe_moves_half_an_hour() {
    let (first, last) = years(2020, 2030);
    let (tally, changes) = check_zone("Australia/Lord_Howe", first, last);
    assert_eq!(tally.transitions, 22);
    assert!(changes.iter().all(|c| (c.after - c.before).abs() == 1800));
}

#[test]
fn kathmandu_has_a_quarter_hour_offset_and_no_changes() {
    let (first, last) = years(2020, 2030);
    let (tally, _) = check_zone("Asia/Kathmandu", first, last);
    assert_eq!(tally.transitions, 0);
    assert_eq!(
        offset("Asia/Kathmandu".parse().unwrap(), 1_800_000_000),
        5 * 3600 + 45 * 60
    );
}

#[test]
fn sao_paulo_before_and_after_abolishing_dst() {
    // 2018-2019 hold its last changes, at midnight: a gap that removes 00:00
    // and folds that repeat 23:00.
    let (tally, changes) = check_zone("America/Sao_Paulo", date(2018, 1, 1), date(2030, 12, 31));
    assert_eq!(tally.transitions, 3);
    assert!(
        changes
            .iter()
            .all(|c| c.at < local_seconds(date(2019, 12, 31)))
    );
}

#[test]
fn apia_skipped_a_day_in_2011() {
    let (tally_2011, changes) = check_zone("Pacific/Apia", date(2011, 1, 1), date(2011, 12, 31));
    assert!(
        changes.iter().any(|c| c.after - c.before == 86_400),
        "the jump across the date line"
    );
    assert!(tally_2011.transitions >= 3);
    let (tally, _) = check_zone("Pacific/Apia", date(2020, 1, 1), date(2030, 12, 31));
    // Samoa kept DST until April 2021.
    assert_eq!(tally.transitions, 3);

    let all_day = schedule("Pacific/Apia", &[("00:00", "24:00")]);
    let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
    let skipped = date(2011, 12, 30);
    assert!(all_day.windows(skipped, skipped).is_empty());
    let around = all_day.slot_starts(grid, date(2011, 12, 29), date(2011, 12, 31));
    assert_eq!(
        around.len(),
        2 * 96,
        "the 29th and the 31st, nothing between"
    );
}

#[test]
fn casablanca_suspends_dst_for_ramadan() {
    let (first, last) = years(2020, 2030);
    let (tally, changes) = check_zone("Africa/Casablanca", first, last);
    assert!(tally.transitions >= 20, "{}", tally.transitions);
    // Morocco sits at +01 and steps back to +00 for Ramadan.
    assert!(changes.iter().all(|c| {
        let pair = (c.before.min(c.after), c.before.max(c.after));
        pair == (0, 3600)
    }));
}

/// Slots of a single local date, as UTC `(hour, minute)` pairs.
fn utc_slots(zone: &str, day: NaiveDate, ranges: &[(&str, &str)]) -> Vec<(u32, u32)> {
    let schedule = WeeklySchedule::builder(zone)
        .exception(day, ranges.iter().copied())
        .build()
        .unwrap();
    let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
    schedule
        .slot_starts(grid, day, day)
        .into_iter()
        .map(|s| (s.instant().hour(), s.instant().minute()))
        .collect()
}

#[test]
fn new_york_2027_pinned() {
    // Spring forward: 01:00-04:00 is 06:00-08:00 UTC, eight slots.
    let spring = utc_slots("America/New_York", date(2027, 3, 14), &[("01:00", "04:00")]);
    assert_eq!(spring.len(), 8);
    assert_eq!((spring[0], spring[7]), ((6, 0), (7, 45)));
    // Fall back: 01:00-02:00 happens twice, 05:00-07:00 UTC.
    let autumn = utc_slots("America/New_York", date(2027, 11, 7), &[("01:00", "02:00")]);
    assert_eq!(autumn.len(), 8);
    assert_eq!((autumn[0], autumn[7]), ((5, 0), (6, 45)));
    // A schedule from 13:00 uses the transition day's own offset, on both days.
    let afternoon = [("13:00", "14:00")];
    assert_eq!(
        utc_slots("America/New_York", date(2027, 3, 14), &afternoon)[0],
        (17, 0)
    );
    assert_eq!(
        utc_slots("America/New_York", date(2027, 3, 13), &afternoon)[0],
        (18, 0)
    );
    assert_eq!(
        utc_slots("America/New_York", date(2027, 11, 7), &afternoon)[0],
        (18, 0)
    );
    assert_eq!(
        utc_slots("America/New_York", date(2027, 11, 6), &afternoon)[0],
        (17, 0)
    );
}

#[test]
fn late_schedules_match_their_day_on_every_transition_day() {
    // A 13:00 or later start reads its own date's offset: the first slot is
    // exactly where the zone puts 13:00 (or 20:00) local on that date.
    for zone_name in [
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "Africa/Casablanca",
    ] {
        let zone: Tz = zone_name.parse().unwrap();
        let (first, last) = years(2020, 2030);
        let changes = transitions(zone, local_seconds(first), local_seconds(last));
        for change in changes {
            let utc = DateTime::<Utc>::from_timestamp(change.at, 0).unwrap();
            let day = zone.from_utc_datetime(&utc.naive_utc()).date_naive();
            for (hour, end) in [(13, "17:00"), (20, "24:00")] {
                let start = format!("{hour}:00");
                let schedule = WeeklySchedule::builder(zone_name)
                    .exception(day, [(start.as_str(), end)])
                    .build()
                    .unwrap();
                let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
                let slots = schedule.slot_starts(grid, day, day);
                let expected = zone
                    .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc);
                assert_eq!(slots[0].instant(), expected, "{zone_name} {day} {start}");
            }
        }
    }
}
