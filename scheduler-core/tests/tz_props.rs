//! Expansion against a brute force: for a random zone, weekly schedule,
//! exceptions, grid and local date range, the slots the library offers are
//! exactly those a reference finds by walking every minute, asking the zone
//! for its wall-clock reading, and keeping each grid slot whose minutes all
//! read inside a range of their own local date. Expansion is deterministic,
//! and cutting it to a UTC range equals cutting the reference.
//!
//! Minutes suffice: since 1990 every zone's offsets and changes fall on whole
//! minutes, as do the ranges, so membership is constant within each minute.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use proptest::prelude::*;
use scheduler_core::{Grid, TimeRange, Tz, WeeklySchedule};

/// Slot lengths, in minutes, that divide 24 hours.
const SLOT_MINUTES: [i64; 9] = [1, 5, 10, 15, 20, 30, 60, 120, 1440];
const DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];
/// Zones worth drawing more often than the rest for their oddities.
const ODD_ZONES: [&str; 10] = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Africa/Casablanca",
    "Pacific/Chatham",
    "America/St_Johns",
    "Antarctica/Troll",
];

/// Ranges as minute pairs `[start, end)`, valid by construction.
type Ranges = Vec<(u16, u16)>;

#[derive(Debug, Clone)]
struct Case {
    zone: Tz,
    weekly: [Ranges; 7],
    /// Offsets in days from `first`, and that date's ranges.
    exceptions: Vec<(u64, Ranges)>,
    slot_minutes: i64,
    first: NaiveDate,
    days: u64,
    /// Where the UTC cut starts and how long it is, in minutes from the walk's start.
    cut: (i64, i64),
}

impl Case {
    fn last(&self) -> NaiveDate {
        self.first + chrono::Days::new(self.days - 1)
    }

    /// The schedule through the public builder.
    fn schedule(&self) -> WeeklySchedule {
        let text = |ranges: &Ranges| -> Vec<(String, String)> {
            ranges.iter().map(|&(a, b)| (hhmm(a), hhmm(b))).collect()
        };
        let mut builder = WeeklySchedule::builder(self.zone.name());
        for (day, ranges) in DAYS.iter().zip(&self.weekly) {
            let owned = text(ranges);
            builder = builder.weekday(*day, owned.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        }
        for (offset, ranges) in self.exception_map() {
            let owned = text(&ranges);
            builder = builder.exception(
                self.first + chrono::Days::new(offset),
                owned.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            );
        }
        builder.build().expect("generated schedules are valid")
    }

    /// Exceptions by date offset; a repeated offset keeps its first ranges.
    fn exception_map(&self) -> BTreeMap<u64, Ranges> {
        let mut map = BTreeMap::new();
        for (offset, ranges) in &self.exceptions {
            map.entry(*offset).or_insert_with(|| ranges.clone());
        }
        map
    }

    /// The reference's own reading of the schedule: the ranges of a local date.
    fn ranges_on(&self, date: NaiveDate) -> Ranges {
        let offset = (date - self.first).num_days();
        if offset >= 0
            && let Some(ranges) = self.exception_map().get(&(offset as u64))
        {
            return ranges.clone();
        }
        self.weekly[date.weekday().num_days_from_monday() as usize].clone()
    }
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn local_seconds(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

/// The brute force: which UTC minutes of `[from, to)` (in seconds) read
/// inside a range of their local date, for dates `dates` (all dates if `None`).
fn member_minutes(
    case: &Case,
    from: i64,
    to: i64,
    dates: Option<(NaiveDate, NaiveDate)>,
) -> Vec<bool> {
    let mut cache: BTreeMap<NaiveDate, Ranges> = BTreeMap::new();
    (from..to)
        .step_by(60)
        .map(|t| {
            let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap();
            let local = case.zone.from_utc_datetime(&utc.naive_utc()).naive_local();
            let date = local.date();
            if let Some((first, last)) = dates
                && (date < first || date > last)
            {
                return false;
            }
            let minute = (local.hour() * 60 + local.minute()) as u16;
            cache
                .entry(date)
                .or_insert_with(|| case.ranges_on(date))
                .iter()
                .any(|&(a, b)| a <= minute && minute < b)
        })
        .collect()
}

/// Grid slots of `slot` minutes whose minutes are all members; `from` is on the grid.
fn reference_slots(members: &[bool], from: i64, slot: i64) -> Vec<DateTime<Utc>> {
    let per = slot as usize;
    members
        .chunks_exact(per)
        .enumerate()
        .filter(|(_, chunk)| chunk.iter().all(|m| *m))
        .map(|(i, _)| DateTime::from_timestamp(from + i as i64 * slot * 60, 0).unwrap())
        .collect()
}

/// The UTC seconds the walk covers: every instant that can read as a date of
/// the case, rounded out to whole days so it starts on every grid.
fn walk_span(case: &Case) -> (i64, i64) {
    let from = local_seconds(case.first) - 2 * 86_400;
    let to = local_seconds(case.last()) + 3 * 86_400;
    (from, to)
}

fn minute_strategy() -> impl Strategy<Value = u16> {
    // Round times meet the zones' changes (at 00:00, 01:00, 02:00 ...) often.
    prop_oneof![
        (0u16..=24).prop_map(|h| h * 60),
        (0u16..=96).prop_map(|q| q * 15),
        0u16..=1440,
    ]
}

fn ranges_strategy() -> impl Strategy<Value = Ranges> {
    (
        proptest::collection::btree_set(minute_strategy(), 0..=6),
        any::<bool>(),
    )
        .prop_map(|(cuts, touching)| {
            let cuts: Vec<u16> = cuts.into_iter().collect();
            if touching {
                // Consecutive ranges that touch: they must read as one.
                cuts.windows(2).map(|w| (w[0], w[1])).collect()
            } else {
                cuts.chunks_exact(2).map(|c| (c[0], c[1])).collect()
            }
        })
}

fn zone_strategy() -> impl Strategy<Value = Tz> {
    prop_oneof![
        proptest::sample::select(ODD_ZONES.to_vec()).prop_map(|name| name.parse().unwrap()),
        proptest::sample::select(chrono_tz::TZ_VARIANTS.to_vec()),
    ]
}

prop_compose! {
    fn case_strategy()(
        zone in zone_strategy(),
        weekly in proptest::array::uniform7(ranges_strategy()),
        exceptions in proptest::collection::vec((0u64..20, ranges_strategy()), 0..3),
        slot_minutes in proptest::sample::select(SLOT_MINUTES.to_vec()),
        year in 1990i32..2040,
        ordinal in 1u32..=365,
        days in 1u64..=20,
        cut in (0i64..=40 * 1440, 1i64..=30 * 1440),
        near_change in any::<bool>(),
    ) -> Case {
        let mut first = NaiveDate::from_yo_opt(year, ordinal).unwrap();
        // Half the cases start a few days before one of the zone's offset
        // changes of that year, so gaps and folds come up often.
        if near_change
            && let Some(change) = first_change_after(zone, first)
        {
            first = change - chrono::Days::new(u64::from(ordinal) % days);
        }
        Case { zone, weekly, exceptions, slot_minutes, first, days, cut }
    }
}

/// The UTC date of the zone's first offset change within a year after `from`,
/// found day by day.
fn first_change_after(zone: Tz, from: NaiveDate) -> Option<NaiveDate> {
    let offset = |date: NaiveDate| {
        let noon = date.and_hms_opt(12, 0, 0).unwrap();
        zone.offset_from_utc_datetime(&noon).fix().local_minus_utc()
    };
    let start = offset(from);
    from.iter_days()
        .take(366)
        .find(|date| offset(*date) != start)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn expansion_matches_the_brute_force(case in case_strategy()) {
        let schedule = case.schedule();
        let grid = Grid::new(TimeDelta::minutes(case.slot_minutes)).unwrap();
        let got: Vec<_> = schedule
            .slot_starts(grid, case.first, case.last())
            .into_iter()
            .map(|s| s.instant())
            .collect();
        let again: Vec<_> = schedule
            .slot_starts(grid, case.first, case.last())
            .into_iter()
            .map(|s| s.instant())
            .collect();
        prop_assert_eq!(&got, &again, "expansion is deterministic");

        let (from, to) = walk_span(&case);
        let members = member_minutes(&case, from, to, Some((case.first, case.last())));
        let expected = reference_slots(&members, from, case.slot_minutes);
        prop_assert_eq!(got, expected);

        // Windows are sorted, disjoint and never touch: they are merged.
        let windows = schedule.windows(case.first, case.last());
        prop_assert!(windows.windows(2).all(|w| w[0].end() < w[1].start()));
    }

    #[test]
    fn a_utc_cut_matches_the_brute_force(case in case_strategy()) {
        let schedule = case.schedule();
        let grid = Grid::new(TimeDelta::minutes(case.slot_minutes)).unwrap();
        let (walk_from, walk_to) = walk_span(&case);
        let from = walk_from + case.cut.0 % ((walk_to - walk_from) / 60) * 60;
        let to = (from + case.cut.1 * 60).min(walk_to);
        prop_assume!(from < to);
        let range = TimeRange::new(
            DateTime::from_timestamp(from, 0).unwrap(),
            DateTime::from_timestamp(to, 0).unwrap(),
        )
        .unwrap();
        let got: Vec<_> = schedule
            .slot_starts_within(grid, range)
            .into_iter()
            .map(|s| s.instant())
            .collect();

        // The reference walks whole grid slots from the walk's start (on
        // every grid) and keeps those inside the cut.
        let members = member_minutes(&case, walk_from, walk_to, None);
        let slot = TimeDelta::minutes(case.slot_minutes);
        let expected: Vec<_> = reference_slots(&members, walk_from, case.slot_minutes)
            .into_iter()
            .filter(|s| *s >= range.from() && *s + slot <= range.to())
            .collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn the_walk_starts_on_every_grid() {
    // `reference_slots` counts slots from the walk's start: it must be a
    // multiple of a day, which every slot length divides.
    let case = Case {
        zone: "UTC".parse().unwrap(),
        weekly: Default::default(),
        exceptions: Vec::new(),
        slot_minutes: 15,
        first: NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
        days: 1,
        cut: (0, 1),
    };
    assert_eq!(walk_span(&case).0.rem_euclid(86_400), 0);
}
