//! Weekly schedules on the wire: the JSON of a provider's opening hours, and
//! what setting one did.
//!
//! The body is read into plain strings first, so that a type error or an
//! unknown member names its path like any other body; the core's rules then
//! judge the values ([`ScheduleBody::to_schedule`]) and name the field they
//! fault (`weekly.mon[1].end`, `timeZone`, `exceptions[0].date`).

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use scheduler_core::{Error, LocalRange, ProviderSchedule, ScheduleApplied, WeeklySchedule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instant;
use super::object::{object, objects};
use super::{ReservationBody, SlotBody};

/// The weekdays as the JSON names them, Monday first.
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A provider's opening hours in wall-clock time: an IANA time zone, ranges
/// per weekday, and dates whose ranges differ (or that are closed).
///
/// Each date is read with its own offsets: a range across a spring-forward
/// gap loses the missing hour, one across a fall-back fold offers the
/// repeated hour twice. Ranges of one day may touch but not overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Schedule, example = json!({
    "timeZone": "Europe/London",
    "weekly": {
        "mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
        "tue": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
        "sat": [{"start": "20:00", "end": "24:00"}]
    },
    "exceptions": [
        {"date": "2030-12-24", "ranges": [{"start": "09:00", "end": "11:00"}]},
        {"date": "2030-12-25", "ranges": []}
    ]
}))]
pub struct ScheduleBody {
    /// The IANA time zone the ranges are read in, such as `Europe/London`.
    #[schema(example = "Europe/London")]
    pub time_zone: String,
    /// The ranges of each weekday; a weekday left out is closed.
    #[serde(deserialize_with = "object")]
    pub weekly: WeekBody,
    /// Dates whose ranges replace their weekday's; no two give the same date.
    #[serde(default, deserialize_with = "objects")]
    pub exceptions: Vec<ExceptionBody>,
}

/// The ranges of each weekday, in the provider's time zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WeeklyRanges)]
pub struct WeekBody {
    /// Mondays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mon: Vec<LocalRangeBody>,
    /// Tuesdays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tue: Vec<LocalRangeBody>,
    /// Wednesdays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub wed: Vec<LocalRangeBody>,
    /// Thursdays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub thu: Vec<LocalRangeBody>,
    /// Fridays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub fri: Vec<LocalRangeBody>,
    /// Saturdays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sat: Vec<LocalRangeBody>,
    /// Sundays.
    #[serde(
        default,
        deserialize_with = "objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sun: Vec<LocalRangeBody>,
}

impl WeekBody {
    fn day(&self, day: Weekday) -> &[LocalRangeBody] {
        match day {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    fn day_mut(&mut self, day: Weekday) -> &mut Vec<LocalRangeBody> {
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
}

/// A wall-clock range `[start, end)` within one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LocalRange)]
pub struct LocalRangeBody {
    /// Start, `HH:MM` from `00:00` to `23:59`.
    #[schema(example = "09:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub start: String,
    /// End (exclusive), `HH:MM` after the start; `24:00` ends the day.
    #[schema(example = "17:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub end: String,
}

impl From<&LocalRange> for LocalRangeBody {
    fn from(range: &LocalRange) -> Self {
        Self {
            start: range.start().to_string(),
            end: range.end().to_string(),
        }
    }
}

/// A date with its own ranges instead of its weekday's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleException)]
pub struct ExceptionBody {
    /// The local date, `YYYY-MM-DD`.
    #[schema(format = Date, example = "2030-12-25")]
    pub date: String,
    /// Its ranges; left out or empty, the date is closed.
    #[serde(default, deserialize_with = "objects")]
    pub ranges: Vec<LocalRangeBody>,
}

impl ScheduleBody {
    /// The schedule this body describes, or the first rule it breaks as
    /// [`Error::InvalidSchedule`] naming the field, in the order the core
    /// checks them: the zone, the weekdays, then the exceptions in order.
    pub fn to_schedule(&self) -> Result<WeeklySchedule, Error> {
        let mut builder = WeeklySchedule::builder(self.time_zone.as_str());
        for day in WEEKDAYS {
            builder = builder.weekday(day, pairs(self.weekly.day(day)));
        }
        // The builder takes dates already read: read them here, by the core's
        // rule, and report a bad one only after every field before it passed.
        let mut bad_date = None;
        for (index, exception) in self.exceptions.iter().enumerate() {
            let Some(date) = parse_date(&exception.date) else {
                bad_date = Some(Error::InvalidSchedule {
                    field: format!("exceptions[{index}].date"),
                    rule: format!("must be a date as YYYY-MM-DD, got {:?}", exception.date),
                });
                break;
            };
            builder = builder.exception(date, pairs(&exception.ranges));
        }
        let schedule = builder.build()?;
        match bad_date {
            Some(error) => Err(error),
            None => Ok(schedule),
        }
    }
}

/// The ranges as the builder takes them, `(start, end)`.
fn pairs(ranges: &[LocalRangeBody]) -> impl Iterator<Item = (&str, &str)> {
    ranges
        .iter()
        .map(|range| (range.start.as_str(), range.end.as_str()))
}

/// Exactly `YYYY-MM-DD`: chrono alone would also take unpadded fields.
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|date| date.format("%Y-%m-%d").to_string() == text)
}

impl From<&WeeklySchedule> for ScheduleBody {
    fn from(schedule: &WeeklySchedule) -> Self {
        let mut weekly = WeekBody::default();
        for day in WEEKDAYS {
            *weekly.day_mut(day) = schedule.weekday(day).iter().map(Into::into).collect();
        }
        Self {
            time_zone: schedule.time_zone().name().to_owned(),
            weekly,
            exceptions: schedule
                .exceptions()
                .map(|(date, ranges)| ExceptionBody {
                    date: date.format("%Y-%m-%d").to_string(),
                    ranges: ranges.iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

/// A provider's stored schedule.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StoredSchedule)]
pub struct StoredScheduleBody {
    /// The schedule, as it reads back (ranges of a day in order of start).
    pub schedule: ScheduleBody,
    /// Its slots are published for every slot ending by this instant; the
    /// server rolls it forward as the horizon moves.
    #[serde(serialize_with = "instant::rfc3339")]
    pub through: DateTime<Utc>,
}

impl From<&ProviderSchedule> for StoredScheduleBody {
    fn from(stored: &ProviderSchedule) -> Self {
        Self {
            schedule: (&stored.schedule).into(),
            through: stored.through,
        }
    }
}

/// What setting a schedule did to the provider's slots.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ScheduleApplied)]
pub struct ScheduleAppliedBody {
    /// The schedule's slots that did not exist before, in order of start.
    pub added: Vec<SlotBody>,
    /// The free slots removed because the schedule does not offer them, in order of start.
    pub removed: Vec<SlotBody>,
    /// Held or booked slots the schedule does not offer: kept, with the
    /// reservation on each, for the provider to settle.
    pub conflicts: Vec<ReservationBody>,
    /// The schedule's slots are in place for every slot ending by this
    /// instant (the horizon); later ones come as it rolls on.
    #[serde(serialize_with = "instant::rfc3339")]
    pub through: DateTime<Utc>,
    /// The schedule as stored.
    pub schedule: ScheduleBody,
}

impl ScheduleAppliedBody {
    /// The answer to setting `schedule`, which did `applied`.
    pub fn new(applied: ScheduleApplied, schedule: &WeeklySchedule) -> Self {
        Self {
            added: applied.added.into_iter().map(Into::into).collect(),
            removed: applied.removed.into_iter().map(Into::into).collect(),
            conflicts: applied.conflicts.into_iter().map(Into::into).collect(),
            through: applied.through,
            schedule: schedule.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: serde_json::Value) -> ScheduleBody {
        serde_json::from_value(value).expect("a well-typed body")
    }

    fn fault(value: serde_json::Value) -> (String, String) {
        match body(value).to_schedule() {
            Err(Error::InvalidSchedule { field, rule }) => (field, rule),
            other => panic!("expected an invalid schedule, got {other:?}"),
        }
    }

    #[test]
    fn reads_and_writes_the_design_json() {
        let value = json!({
            "timeZone": "Europe/Berlin",
            "weekly": {
                "mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
                "sat": [{"start": "20:00", "end": "24:00"}]
            },
            "exceptions": [
                {"date": "2027-12-24", "ranges": [{"start": "09:00", "end": "11:00"}]},
                {"date": "2027-12-25", "ranges": []}
            ]
        });
        let schedule = body(value.clone()).to_schedule().unwrap();
        // The same JSON the core writes, and back.
        assert_eq!(serde_json::to_value(&schedule).unwrap(), value);
        assert_eq!(
            serde_json::to_value(ScheduleBody::from(&schedule)).unwrap(),
            value
        );
    }

    #[test]
    fn faults_are_found_in_the_cores_order() {
        // A bad zone is reported before a bad date later in the body.
        let (field, _) = fault(json!({
            "timeZone": "Mars/Olympus_Mons", "weekly": {},
            "exceptions": [{"date": "2027-1-5"}]
        }));
        assert_eq!(field, "timeZone");
        // A repeated date before a malformed one is reported first.
        let (field, rule) = fault(json!({
            "timeZone": "UTC", "weekly": {},
            "exceptions": [{"date": "2027-01-05"}, {"date": "2027-01-05"}, {"date": "x"}]
        }));
        assert_eq!(field, "exceptions[1].date");
        assert_eq!(rule, "repeats 2027-01-05, already given by exceptions[0]");
        // A malformed date before a bad range is reported first.
        let (field, rule) = fault(json!({
            "timeZone": "UTC", "weekly": {},
            "exceptions": [
                {"date": "2027-02-30"},
                {"date": "2027-03-01", "ranges": [{"start": "10:00", "end": "09:00"}]}
            ]
        }));
        assert_eq!(field, "exceptions[0].date");
        assert_eq!(rule, "must be a date as YYYY-MM-DD, got \"2027-02-30\"");
        let (field, _) = fault(json!({
            "timeZone": "UTC", "weekly": {"fri": [{"start": "09:00", "end": "24:01"}]}
        }));
        assert_eq!(field, "weekly.fri[0].end");
    }
}
