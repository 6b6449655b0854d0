//! Instants as the API writes them: RFC 3339 in UTC with `Z`, byte for byte
//! what chrono's `Serialize` writes.
//!
//! A page of slots carries two instants per slot, and chrono writes each
//! through `core::fmt` and serde's `collect_str`, a character at a time.
//! Slot bounds are whole seconds, so they are written here from their digits
//! into a fixed buffer; anything else (sub-second parts, years outside
//! 0000-9999) is left to chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `serialize_with` for a `DateTime<Utc>` field.
pub fn rfc3339<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match whole_seconds(instant) {
        Some(text) => match std::str::from_utf8(&text) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => instant.serialize(serializer),
        },
        None => instant.serialize(serializer),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for an instant without a fraction of a second
/// (and so no leap second) in the years 0000-9999.
fn whole_seconds(instant: &DateTime<Utc>) -> Option<[u8; 20]> {
    // Split once: each accessor of a `DateTime` converts it again.
    let (date, time) = (instant.date_naive(), instant.time());
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    if time.nanosecond() != 0 {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for i in (0..digits).rev() {
            // `value % 10` is a single digit, so the cast cannot truncate.
            text[at + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, date.month(), 2);
    put(8, date.day(), 2);
    put(11, time.hour(), 2);
    put(14, time.minute(), 2);
    put(17, time.second(), 2);
    Some(text)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);

    /// Both ways of writing `instant`, as JSON.
    fn both(instant: DateTime<Utc>) -> (String, String) {
        let fast = serde_json::to_string(&Fast(instant)).expect("fast");
        let chrono = serde_json::to_string(&instant).expect("chrono");
        (fast, chrono)
    }

    #[test]
    fn writes_exactly_what_chrono_writes() {
        let mut instants = vec![
            DateTime::<Utc>::UNIX_EPOCH,
            Utc.with_ymd_and_hms(2030, 3, 6, 9, 15, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            // Left to chrono: fractions of a second, and years past 9999.
            Utc.with_ymd_and_hms(2030, 3, 6, 9, 15, 0).unwrap() + TimeDelta::microseconds(1),
            Utc.with_ymd_and_hms(2030, 3, 6, 9, 15, 0).unwrap() + TimeDelta::milliseconds(250),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
        ];
        // Every 7 hours 13 minutes 17 seconds across a few years.
        let mut at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        for _ in 0..10_000 {
            instants.push(at);
            at += TimeDelta::seconds(7 * 3600 + 13 * 60 + 17);
        }
        for instant in instants {
            let (fast, chrono) = both(instant);
            assert_eq!(fast, chrono, "{instant:?}");
        }
    }

    #[test]
    fn writes_whole_seconds_itself_and_leaves_the_rest_to_chrono() {
        let slot = Utc.with_ymd_and_hms(2030, 3, 6, 9, 15, 0).unwrap();
        assert_eq!(whole_seconds(&slot), Some(*b"2030-03-06T09:15:00Z"));
        assert_eq!(whole_seconds(&(slot + TimeDelta::microseconds(5))), None);
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(whole_seconds(&far), None);
    }
}
