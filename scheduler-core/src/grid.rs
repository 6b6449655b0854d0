//! The UTC slot grid, windows and ranges, and the normalization of availability.

use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::policy::Policy;

const DAY_SECONDS: i64 = 24 * 60 * 60;

/// The grid every provider shares: slot starts are whole multiples of the slot
/// length counted from the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grid {
    length: i64,
}

impl Grid {
    /// A grid of `slot_length`: a whole number of minutes that divides 24 hours.
    pub fn new(slot_length: TimeDelta) -> Result<Self> {
        let secs = slot_length.num_seconds();
        let whole_minutes = slot_length.subsec_nanos() == 0 && secs > 0 && secs % 60 == 0;
        if !whole_minutes || DAY_SECONDS % secs != 0 {
            return Err(Error::InvalidPolicy {
                field: "slot_length",
                rule: format!(
                    "must be a whole number of minutes that divides 24h, got {slot_length}"
                ),
            });
        }
        Ok(Self { length: secs })
    }

    /// The length of one slot.
    pub fn slot_length(&self) -> TimeDelta {
        TimeDelta::seconds(self.length)
    }

    /// The slot starting exactly at `instant`, or `None` if it is off the grid.
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use scheduler_core::Grid;
    ///
    /// let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
    /// assert!(grid.slot_at(Utc.with_ymd_and_hms(2030, 1, 1, 9, 45, 0).unwrap()).is_some());
    /// assert!(grid.slot_at(Utc.with_ymd_and_hms(2030, 1, 1, 9, 46, 0).unwrap()).is_none());
    /// ```
    pub fn slot_at(&self, instant: DateTime<Utc>) -> Option<SlotStart> {
        let on_grid = instant.timestamp_subsec_nanos() == 0
            && instant.timestamp().rem_euclid(self.length) == 0;
        on_grid.then_some(SlotStart(instant))
    }

    /// The first slot start at or after `instant` (sub-second parts count).
    pub fn ceil(&self, instant: DateTime<Utc>) -> Option<SlotStart> {
        let floor = self.floor(instant)?;
        if floor.0 == instant {
            Some(floor)
        } else {
            floor.next(*self)
        }
    }

    /// The last slot start at or before `instant`.
    pub fn floor(&self, instant: DateTime<Utc>) -> Option<SlotStart> {
        let secs = instant.timestamp();
        let start = secs - secs.rem_euclid(self.length);
        DateTime::from_timestamp(start, 0).map(SlotStart)
    }

    /// The end of the slot starting at `start`.
    pub fn end_of(&self, start: SlotStart) -> DateTime<Utc> {
        self.end_after(start.0)
    }

    /// `start` plus one slot length, saturating at the end of time.
    ///
    /// Listings compute one end per slot, so a slot that ends on the day it
    /// starts (all but the day's last) is built from the start's date and a
    /// new time of day, skipping chrono's general calendar arithmetic.
    pub(crate) fn end_after(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        // `naive_utc`, not `time`/`date_naive`: those add the (zero) offset.
        let naive = start.naive_utc();
        let time = naive.time();
        let end_secs = i64::from(time.num_seconds_from_midnight()) + self.length;
        if time.nanosecond() == 0
            && end_secs < DAY_SECONDS
            && let Some(end) = NaiveTime::from_num_seconds_from_midnight_opt(end_secs as u32, 0)
        {
            return naive.date().and_time(end).and_utc();
        }
        saturating_add(start, self.slot_length())
    }
}

/// `instant + delta`, held at the end of `DateTime`'s range instead of
/// overflowing: only a clock set absurdly far ahead gets there.
pub(crate) fn saturating_add(instant: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    instant
        .checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The start of a slot: an instant always on the grid it was made with.
///
/// Only a [`Grid`] makes one, so a storage backend can trust every start it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SlotStart(DateTime<Utc>);

impl SlotStart {
    /// The instant.
    pub fn instant(self) -> DateTime<Utc> {
        self.0
    }

    /// Seconds since the Unix epoch (a slot start has no sub-second part).
    pub fn timestamp(self) -> i64 {
        self.0.timestamp()
    }

    /// The next slot start on `grid`, if still within `DateTime`'s range.
    pub fn next(self, grid: Grid) -> Option<SlotStart> {
        self.0.checked_add_signed(grid.slot_length()).map(SlotStart)
    }
}

/// A half-open span of time `[start, end)` with `start < end`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use scheduler_core::Window;
///
/// let nine = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
/// let five = Utc.with_ymd_and_hms(2030, 1, 1, 17, 0, 0).unwrap();
/// assert!(Window::new(nine, five).is_ok());
/// assert_eq!(Window::new(five, nine).unwrap_err().code(), "invalid_window");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWindow")]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<RawWindow> for Window {
    type Error = Error;
    fn try_from(raw: RawWindow) -> Result<Self> {
        Window::new(raw.start, raw.end)
    }
}

impl Window {
    /// The window `[start, end)`; an error unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(Error::InvalidWindow { start, end })
        }
    }

    /// Where the window begins.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// Where the window ends (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// How long the window is.
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }
}

/// A half-open query range `[from, to)` with `from < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl TimeRange {
    /// The range `[from, to)`; an error unless `from < to`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self> {
        if from < to {
            Ok(Self { from, to })
        } else {
            Err(Error::InvalidRange { from, to })
        }
    }

    /// All of time that `DateTime<Utc>` can express.
    pub fn all() -> Self {
        Self {
            from: DateTime::<Utc>::MIN_UTC,
            to: DateTime::<Utc>::MAX_UTC,
        }
    }

    /// Start (inclusive).
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// End (exclusive).
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }
}

/// The slots a normalized window offers: consecutive starts from `first`, `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotSpan {
    first: SlotStart,
    count: usize,
    grid: Grid,
}

impl SlotSpan {
    /// `count` consecutive slots from `first`.
    pub(crate) fn run(first: SlotStart, count: usize, grid: Grid) -> Self {
        Self { first, count, grid }
    }

    /// The first slot start.
    pub fn first(&self) -> SlotStart {
        self.first
    }

    /// How many slots the span holds (at least one).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the span holds no slot: never for a normalized window, which
    /// must hold a whole slot; a service without buffers has empty buffers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The end of the last slot.
    pub fn end(&self) -> DateTime<Utc> {
        saturating_add(
            self.first.0,
            TimeDelta::seconds(self.grid.length * self.count as i64),
        )
    }

    /// Every slot start of the span, in order.
    pub fn starts(&self) -> impl Iterator<Item = SlotStart> + '_ {
        let step = self.grid.length;
        let first = self.first.timestamp();
        (0..self.count as i64).map(move |i| {
            SlotStart(DateTime::from_timestamp(first + i * step, 0).expect("inside the span"))
        })
    }
}

/// Applies the availability rules of the design to one window of a batch.
///
/// The window snaps inward to the grid (its start rounds up, its end rounds
/// down, sub-second parts included); slots starting before `now` are dropped.
/// It is refused if it is longer than the policy's `max_window`, ends at or
/// before `now`, ends more than `max_horizon` after `now`, or holds no whole
/// slot. `index` is the window's position in its batch, reported in errors.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use scheduler_core::{normalize, Policy, Window};
///
/// let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
/// let window = Window::new(
///     Utc.with_ymd_and_hms(2030, 1, 2, 9, 7, 0).unwrap(),
///     Utc.with_ymd_and_hms(2030, 1, 2, 10, 0, 0).unwrap(),
/// ).unwrap();
/// let span = normalize(&Policy::default(), &window, 0, now).unwrap();
/// assert_eq!(span.first().instant(), Utc.with_ymd_and_hms(2030, 1, 2, 9, 15, 0).unwrap());
/// assert_eq!(span.len(), 3);
/// ```
pub fn normalize(
    policy: &Policy,
    window: &Window,
    index: usize,
    now: DateTime<Utc>,
) -> Result<SlotSpan> {
    let grid = policy.grid();
    if window.length() > policy.max_window() {
        return Err(Error::WindowTooLong {
            index,
            length: window.length(),
            max: policy.max_window(),
        });
    }
    if window.end <= now {
        return Err(Error::WindowInPast {
            index,
            end: window.end,
            now,
        });
    }
    let horizon = saturating_add(now, policy.max_horizon());
    if window.end > horizon {
        return Err(Error::BeyondHorizon {
            index,
            end: window.end,
            horizon,
        });
    }
    let empty = || Error::EmptyWindow {
        index,
        start: window.start,
        end: window.end,
        slot_length: grid.slot_length(),
    };
    let first = grid.ceil(window.start.max(now)).ok_or_else(empty)?;
    let last_end = grid.floor(window.end).ok_or_else(empty)?;
    let count = (last_end.timestamp() - first.timestamp()).div_euclid(grid.length);
    if count < 1 {
        return Err(empty());
    }
    Ok(SlotSpan {
        first,
        count: count as usize,
        grid,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 2, h, m, s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
    }

    fn span(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<SlotSpan> {
        normalize(&Policy::default(), &Window::new(start, end)?, 0, now())
    }

    #[test]
    fn grid_rejects_bad_lengths() {
        for minutes in [7, 11, 0, -15, 25 * 60] {
            assert!(Grid::new(TimeDelta::minutes(minutes)).is_err(), "{minutes}");
        }
        assert!(Grid::new(TimeDelta::seconds(30)).is_err());
        assert!(Grid::new(TimeDelta::minutes(15) + TimeDelta::nanoseconds(1)).is_err());
    }

    #[test]
    fn ceil_counts_sub_seconds() {
        let grid = Policy::default().grid();
        let just_before = at(9, 14, 59) + TimeDelta::nanoseconds(999_999_999);
        assert_eq!(grid.ceil(just_before).unwrap().instant(), at(9, 15, 0));
        let just_after = at(9, 15, 0) + TimeDelta::nanoseconds(1);
        assert_eq!(grid.ceil(just_after).unwrap().instant(), at(9, 30, 0));
        assert_eq!(grid.floor(just_after).unwrap().instant(), at(9, 15, 0));
        assert_eq!(grid.ceil(at(9, 15, 0)).unwrap().instant(), at(9, 15, 0));
    }

    #[test]
    fn slot_ends_match_calendar_arithmetic() {
        let grid = Policy::default().grid();
        let day = Utc.with_ymd_and_hms(2030, 12, 31, 0, 0, 0).unwrap();
        // Every start of a year's last day, the one crossing into the next
        // year included, and a start that is not on a whole second.
        let starts = (0..96)
            .map(|i| day + TimeDelta::minutes(15 * i))
            .chain([at(9, 0, 0) + TimeDelta::nanoseconds(1)]);
        for start in starts {
            assert_eq!(
                grid.end_after(start),
                start + TimeDelta::minutes(15),
                "{start}"
            );
        }
        let last = DateTime::<Utc>::MAX_UTC;
        assert_eq!(grid.end_after(last), last, "saturates at the end of time");
    }

    #[test]
    fn grid_before_the_epoch() {
        let grid = Policy::default().grid();
        let t = Utc.with_ymd_and_hms(1969, 12, 31, 23, 50, 0).unwrap();
        assert_eq!(
            grid.floor(t).unwrap().instant(),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 45, 0).unwrap()
        );
        assert_eq!(
            grid.ceil(t).unwrap().instant(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn snaps_inward() {
        let s = span(at(9, 7, 30), at(10, 59, 59)).unwrap();
        assert_eq!(s.first().instant(), at(9, 15, 0));
        assert_eq!(s.end(), at(10, 45, 0));
        assert_eq!(s.len(), 6);
        let starts: Vec<_> = s.starts().map(SlotStart::instant).collect();
        assert_eq!(starts.last().copied(), Some(at(10, 30, 0)));
    }

    #[test]
    fn a_window_one_nanosecond_short_of_a_slot_is_empty() {
        let end = at(9, 15, 0) - TimeDelta::nanoseconds(1);
        assert!(matches!(
            span(at(9, 0, 0), end),
            Err(Error::EmptyWindow { .. })
        ));
        assert_eq!(span(at(9, 0, 0), at(9, 15, 0)).unwrap().len(), 1);
        let late_start = at(9, 0, 0) + TimeDelta::nanoseconds(1);
        assert!(matches!(
            span(late_start, at(9, 15, 0)),
            Err(Error::EmptyWindow { .. })
        ));
    }
}
