//! The JSON of a [`WeeklySchedule`](super::WeeklySchedule), its one
//! encoding: plain strings that the conversion into a schedule checks
//! (`WeeklySchedule::try_from(ScheduleJson)`), naming the field at fault.
//!
//! An application that reads the JSON itself (to report type errors by
//! path before the rules are judged, say) reads a [`ScheduleJson`] and
//! converts it. [`Object`] reads JSON objects and only objects: serde's
//! derived structs also read a sequence as their fields in order, so
//! `"weekly": []` would pass for an empty week and `["09:00", "12:00"]` for a
//! range; read through it, a sequence where an object belongs is an error.
//!
//! ```
//! use scheduler_core::WeeklySchedule;
//! use scheduler_core::local_time::json::ScheduleJson;
//!
//! let json: ScheduleJson = serde_json::from_str(
//!     r#"{"timeZone": "UTC", "weekly": {"mon": [{"start": "09:00", "end": "24:01"}]}}"#,
//! ).unwrap();
//! let err = WeeklySchedule::try_from(json).unwrap_err();
//! assert_eq!(err.to_string(), "invalid schedule: weekly.mon[0].end must be a time as HH:MM from 00:00 to 24:00, got \"24:01\"");
//! ```

use std::fmt;
use std::marker::PhantomData;

use chrono::Weekday;
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A `T` read from a JSON object (a map), never from a sequence.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnlyMaps<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMaps<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(OnlyMaps(PhantomData))
            .map(Object)
    }
}

/// `deserialize_with` for a field holding one object.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Object::deserialize(deserializer).map(|Object(value)| value)
}

/// `deserialize_with` for a field holding a list of objects.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    let list = Vec::<Object<T>>::deserialize(deserializer)?;
    Ok(list.into_iter().map(|Object(value)| value).collect())
}

/// The JSON keys of the weekdays, Monday first.
pub(super) const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A schedule as JSON: plain strings, checked by the conversion into a
/// [`WeeklySchedule`](super::WeeklySchedule).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleJson {
    /// The IANA time zone, such as `Europe/Berlin`.
    pub time_zone: String,
    /// The ranges of each weekday.
    #[serde(deserialize_with = "object")]
    pub weekly: WeekJson,
    /// Dates with their own ranges; left out, none.
    #[serde(default, deserialize_with = "objects")]
    pub exceptions: Vec<ExceptionJson>,
}

/// The ranges of each weekday; a weekday left out has none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekJson {
    /// Mondays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub mon: Vec<RangeJson>,
    /// Tuesdays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub tue: Vec<RangeJson>,
    /// Wednesdays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub wed: Vec<RangeJson>,
    /// Thursdays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub thu: Vec<RangeJson>,
    /// Fridays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub fri: Vec<RangeJson>,
    /// Saturdays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub sat: Vec<RangeJson>,
    /// Sundays.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "objects"
    )]
    pub sun: Vec<RangeJson>,
}

impl WeekJson {
    pub(super) fn day_mut(&mut self, day: Weekday) -> &mut Vec<RangeJson> {
        match day {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }

    /// The days Monday first, in the order of [`DAY_KEYS`].
    pub(super) fn into_days(self) -> [Vec<RangeJson>; 7] {
        [
            self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun,
        ]
    }

    pub(super) fn from_days(days: [Vec<RangeJson>; 7]) -> Self {
        let [mon, tue, wed, thu, fri, sat, sun] = days;
        Self {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        }
    }
}

/// A wall-clock range `[start, end)`, each `HH:MM`; `24:00` may end it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeJson {
    /// Start, `HH:MM`.
    pub start: String,
    /// End (exclusive), `HH:MM`.
    pub end: String,
}

/// A local date, `YYYY-MM-DD`, with its own ranges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionJson {
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// Left out or empty: the date is closed.
    #[serde(default, deserialize_with = "objects")]
    pub ranges: Vec<RangeJson>,
}
