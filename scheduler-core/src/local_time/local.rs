//! Wall-clock times of day (`HH:MM`) and the ranges a schedule lists for one date.

use std::fmt;

/// Minutes in a day: `24:00`, the latest a range may end.
pub(crate) const DAY_MINUTES: u16 = 24 * 60;

/// A wall-clock time of day to the minute, from `00:00` to `24:00`.
///
/// `24:00` is the end of the day: a range may end there, none may start there.
///
/// ```
/// use scheduler_core::LocalTime;
///
/// let nine = LocalTime::parse("09:00").unwrap();
/// assert_eq!(nine.minutes(), 540);
/// assert_eq!(LocalTime::parse("24:00").unwrap().to_string(), "24:00");
/// assert!(LocalTime::parse("9:00").is_none());
/// assert!(LocalTime::parse("24:01").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// Midnight at the start of the day, `00:00`.
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// Midnight at the end of the day, `24:00`.
    pub const END_OF_DAY: LocalTime = LocalTime(DAY_MINUTES);

    /// The time `hour:minute`, if it lies between `00:00` and `24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        let minutes = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && minutes <= DAY_MINUTES).then_some(Self(minutes))
    }

    /// Reads exactly `HH:MM` (two digits each, `00:00` to `24:00`).
    pub fn parse(text: &str) -> Option<Self> {
        let &[h1, h2, b':', m1, m2] = text.as_bytes() else {
            return None;
        };
        let digit = |b: u8| b.is_ascii_digit().then(|| b - b'0');
        let hour = digit(h1)? * 10 + digit(h2)?;
        let minute = digit(m1)? * 10 + digit(m2)?;
        Self::new(hour, minute)
    }

    /// Minutes since the start of the day (`0` to `1440`).
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A half-open wall-clock range `[start, end)` within one day, `start < end`.
///
/// ```
/// use scheduler_core::{LocalRange, LocalTime};
///
/// let morning = LocalRange::new(
///     LocalTime::parse("09:00").unwrap(),
///     LocalTime::parse("12:00").unwrap(),
/// ).unwrap();
/// assert_eq!(morning.to_string(), "09:00-12:00");
/// assert!(LocalRange::new(morning.end(), morning.start()).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalRange {
    start: LocalTime,
    end: LocalTime,
}

impl LocalRange {
    /// The range `[start, end)`, if `start < end`.
    pub fn new(start: LocalTime, end: LocalTime) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// Where the range begins.
    pub fn start(&self) -> LocalTime {
        self.start
    }

    /// Where the range ends (exclusive); `24:00` is the end of the day.
    pub fn end(&self) -> LocalTime {
        self.end
    }

    /// Whether the wall-clock minute-of-day `minutes` lies in the range.
    pub fn contains_minute(&self, minutes: u16) -> bool {
        self.start.0 <= minutes && minutes < self.end.0
    }
}

impl fmt::Display for LocalRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_two_digit_hours_and_minutes() {
        assert_eq!(LocalTime::parse("00:00"), Some(LocalTime::MIDNIGHT));
        assert_eq!(
            LocalTime::parse("23:59").map(LocalTime::minutes),
            Some(1439)
        );
        assert_eq!(LocalTime::parse("24:00"), Some(LocalTime::END_OF_DAY));
        for bad in [
            "", "9:00", "09:0", "09:60", "24:01", "25:00", "09-00", "09:00 ", "+9:00", "０9:00",
        ] {
            assert_eq!(LocalTime::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_as_parsed() {
        for text in ["00:00", "07:05", "13:45", "24:00"] {
            assert_eq!(LocalTime::parse(text).unwrap().to_string(), text);
        }
    }
}
