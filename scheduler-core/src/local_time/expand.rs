//! Expansion: from local ranges on local dates to UTC windows and grid slots.
//!
//! The zone's UTC offset is a step function of the instant. Over each step
//! (a span where the offset is constant) the wall-clock reading is the instant
//! plus that offset, so the instants whose reading falls in `[a, b)` on date D
//! are `[D a - offset, D b - offset)` cut to the step. The union over the
//! steps is the exact UTC image of the range: a gap contributes nothing for
//! its missing wall time, and a fold contributes its repeated span twice.

use chrono::{DateTime, Days, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::local::LocalRange;
use super::weekly::WeeklySchedule;
use crate::grid::{Grid, SlotStart, TimeRange, Window};

/// Longer than any UTC offset a zone has ever had (the largest are about 15 h):
/// instants whose wall-clock reading lies in a span lie within this of it.
const MAX_OFFSET_SECS: i64 = 26 * 3600;

/// Distance between two probes when looking for the zone's offset changes.
/// A change between probes is then pinned to the second by bisection. Time
/// zone data never changes an offset and changes it back within an hour, so
/// no pair of changes can hide between two probes.
const PROBE_SECS: i64 = 3600;

/// A span of UTC seconds `[start, end)` during which the zone's offset is `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    start: i64,
    end: i64,
    offset: i64,
}

/// The zone's offset, in seconds east of UTC, at the UTC second `t`.
fn offset_at(zone: Tz, t: i64) -> i64 {
    let instant = DateTime::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
    i64::from(
        zone.offset_from_utc_datetime(&instant.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// The zone's offset steps covering the UTC seconds `[from, to)`, in order.
fn steps(zone: Tz, from: i64, to: i64) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut start = from;
    let mut offset = offset_at(zone, from);
    let mut probe = from;
    while probe < to {
        let next = (probe + PROBE_SECS).min(to);
        if offset_at(zone, next) == offset {
            probe = next;
            continue;
        }
        // The offset is `offset` at `low` and differs at `high`: bisect to the
        // first second of the new offset.
        let (mut low, mut high) = (probe, next);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if offset_at(zone, middle) == offset {
                low = middle;
            } else {
                high = middle;
            }
        }
        steps.push(Step {
            start,
            end: high,
            offset,
        });
        start = high;
        offset = offset_at(zone, high);
        probe = high;
    }
    steps.push(Step {
        start,
        end: to,
        offset,
    });
    steps
}

/// Seconds of the wall-clock reading `date 00:00`, counted as if it were UTC.
fn local_midnight(date: NaiveDate) -> i64 {
    date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()
}

/// Sorts half-open second spans and joins the ones that overlap or touch.
fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

impl WeeklySchedule {
    /// The UTC windows the schedule stands for on the local dates `first` to
    /// `last` (both included; none if `last < first`): sorted, and merged where
    /// they touch, so a slot is offered exactly when it lies inside one window.
    ///
    /// Each date is read with its own offsets. See the [module
    /// docs](crate::local_time) for the gap and fold rules.
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc, Weekday};
    /// use scheduler_core::WeeklySchedule;
    ///
    /// let schedule = WeeklySchedule::builder("Europe/London")
    ///     .weekday(Weekday::Mon, [("09:00", "17:00")])
    ///     .build()
    ///     .unwrap();
    /// // A winter Monday (GMT) and a summer one (BST).
    /// let winter = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
    /// let summer = NaiveDate::from_ymd_opt(2027, 7, 5).unwrap();
    /// let utc = |d: NaiveDate, h| Utc.from_utc_datetime(&d.and_hms_opt(h, 0, 0).unwrap());
    /// assert_eq!(schedule.windows(winter, winter)[0].start(), utc(winter, 9));
    /// assert_eq!(schedule.windows(summer, summer)[0].start(), utc(summer, 8));
    /// ```
    pub fn windows(&self, first: NaiveDate, last: NaiveDate) -> Vec<Window> {
        if last < first {
            return Vec::new();
        }
        let day_after = last.checked_add_days(Days::new(1)).unwrap_or(last);
        let steps = steps(
            self.time_zone(),
            local_midnight(first) - MAX_OFFSET_SECS,
            local_midnight(day_after) + MAX_OFFSET_SECS,
        );
        let mut spans = Vec::new();
        for date in first.iter_days().take_while(|date| *date <= last) {
            let midnight = local_midnight(date);
            for range in self.ranges_on(date) {
                utc_image(&steps, midnight, range, &mut spans);
            }
        }
        merge(spans)
            .into_iter()
            .filter_map(|(start, end)| {
                Window::new(
                    DateTime::from_timestamp(start, 0)?,
                    DateTime::from_timestamp(end, 0)?,
                )
                .ok()
            })
            .collect()
    }

    /// The slot starts on `grid` whose whole slot lies in the schedule's
    /// windows for the local dates `first` to `last`, ascending and distinct.
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeDelta, Weekday};
    /// use scheduler_core::{Grid, WeeklySchedule};
    ///
    /// let schedule = WeeklySchedule::builder("Asia/Kathmandu")
    ///     .weekday(Weekday::Tue, [("09:00", "10:00")])
    ///     .build()
    ///     .unwrap();
    /// let day = NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    /// // 09:00 in Kathmandu (+05:45) is 03:15 UTC: four 15-minute slots, one
    /// // whole 30-minute slot (03:30-04:00) and no whole hour.
    /// let count = |minutes| {
    ///     schedule.slot_starts(Grid::new(TimeDelta::minutes(minutes)).unwrap(), day, day).len()
    /// };
    /// assert_eq!((count(15), count(30), count(60)), (4, 1, 0));
    /// ```
    pub fn slot_starts(&self, grid: Grid, first: NaiveDate, last: NaiveDate) -> Vec<SlotStart> {
        let mut starts = Vec::new();
        for window in self.windows(first, last) {
            push_slots(grid, window, &mut starts);
        }
        starts
    }

    /// The slot starts on `grid` that lie wholly in the schedule's windows
    /// and in `range` (each slot starts at or after `range.from()` and ends at
    /// or before `range.to()`), ascending and distinct.
    ///
    /// The result does not depend on where `range` cuts the schedule: windows
    /// are computed from whole local dates around it and cut afterwards. The
    /// work grows with the number of days in `range`.
    pub fn slot_starts_within(&self, grid: Grid, range: TimeRange) -> Vec<SlotStart> {
        // Every local date whose ranges can reach into `range`: a day's
        // readings lie within MAX_OFFSET_SECS of its UTC reading.
        let margin = chrono::TimeDelta::seconds(MAX_OFFSET_SECS);
        let first = range
            .from()
            .checked_sub_signed(margin)
            .map_or(NaiveDate::MIN, |t| t.date_naive());
        let last = range
            .to()
            .checked_add_signed(margin)
            .map_or(NaiveDate::MAX, |t| t.date_naive());
        let Ok(range_window) = Window::new(range.from(), range.to()) else {
            return Vec::new();
        };
        let mut starts = Vec::new();
        for window in self.windows(first, last) {
            let start = window.start().max(range_window.start());
            let end = window.end().min(range_window.end());
            if let Ok(cut) = Window::new(start, end) {
                push_slots(grid, cut, &mut starts);
            }
        }
        starts
    }
}

/// Adds to `spans` the UTC seconds whose wall-clock reading lies in `range`
/// on the date whose midnight reads `midnight`.
fn utc_image(steps: &[Step], midnight: i64, range: &LocalRange, spans: &mut Vec<(i64, i64)>) {
    let from = midnight + i64::from(range.start().minutes()) * 60;
    let to = midnight + i64::from(range.end().minutes()) * 60;
    // Steps that can hold such an instant end after `from - MAX_OFFSET_SECS`.
    let first = steps.partition_point(|step| step.end <= from - MAX_OFFSET_SECS);
    for step in &steps[first..] {
        if step.start >= to + MAX_OFFSET_SECS {
            break;
        }
        let start = (from - step.offset).max(step.start);
        let end = (to - step.offset).min(step.end);
        if start < end {
            spans.push((start, end));
        }
    }
}

/// Appends the starts of the whole slots of `grid` inside `window`.
fn push_slots(grid: Grid, window: Window, starts: &mut Vec<SlotStart>) {
    let mut next = grid.ceil(window.start());
    while let Some(start) = next {
        if grid.end_of(start) > window.end() {
            break;
        }
        starts.push(start);
        next = start.next(grid);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .timestamp()
    }

    #[test]
    fn steps_pin_each_change_to_the_second() {
        let zone = chrono_tz::America::New_York;
        let from = at(zone, 2027, 1, 1, 0, 0);
        let to = at(zone, 2028, 1, 1, 0, 0);
        let found = steps(zone, from, to);
        assert_eq!(found.len(), 3, "{found:?}");
        // 2027-03-14 07:00 UTC and 2027-11-07 06:00 UTC.
        assert_eq!(
            found[0].end,
            Utc.with_ymd_and_hms(2027, 3, 14, 7, 0, 0)
                .unwrap()
                .timestamp()
        );
        assert_eq!(
            found[1].end,
            Utc.with_ymd_and_hms(2027, 11, 7, 6, 0, 0)
                .unwrap()
                .timestamp()
        );
        assert_eq!(
            found.iter().map(|s| s.offset / 3600).collect::<Vec<_>>(),
            [-5, -4, -5]
        );
        assert_eq!((found[0].start, found[2].end), (from, to));
    }

    #[test]
    fn merge_joins_touching_and_overlapping_spans() {
        assert_eq!(
            merge(vec![(5, 7), (0, 2), (2, 3), (6, 9), (10, 11)]),
            [(0, 3), (5, 9), (10, 11)]
        );
    }
}
