//! The weekly schedule: its builder, the rules every schedule obeys, and
//! its conversions from and to the JSON shape (`json`).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::json::{ExceptionJson, Object, RangeJson, ScheduleJson, WeekJson};
use super::local::{LocalRange, LocalTime};
use crate::error::{Error, Result};

/// A provider's opening hours in wall-clock time: an IANA time zone, ranges per
/// weekday, and dates whose ranges differ (or that are closed).
///
/// Every schedule is valid: the zone is known, every range ends after it
/// starts, no two ranges of one day overlap (touching ones are fine, and read
/// as one), and no date is given twice among the exceptions. Within a day,
/// ranges are kept in order of start.
///
/// It reads and writes the JSON of the design, and refuses unknown fields:
///
/// ```
/// use chrono::{NaiveDate, Weekday};
/// use scheduler_core::WeeklySchedule;
///
/// let json = r#"{
///     "timeZone": "Europe/Berlin",
///     "weekly": {"mon": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "12:00"}]},
///     "exceptions": [{"date": "2027-12-27", "ranges": []}]
/// }"#;
/// let schedule: WeeklySchedule = serde_json::from_str(json).unwrap();
/// assert_eq!(schedule.time_zone().name(), "Europe/Berlin");
/// assert_eq!(schedule.weekday(Weekday::Mon)[0].to_string(), "09:00-12:00");
/// assert!(schedule.ranges_on(NaiveDate::from_ymd_opt(2027, 12, 27).unwrap()).is_empty());
///
/// let bad = r#"{"timeZone": "Europe/Berlin", "weekly": {"mon": [{"start": "17:00", "end": "09:00"}]}}"#;
/// let err = serde_json::from_str::<WeeklySchedule>(bad).unwrap_err();
/// assert!(err.to_string().contains("weekly.mon[0] must end after it starts"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Object<ScheduleJson>", into = "ScheduleJson")]
pub struct WeeklySchedule {
    zone: Tz,
    /// Ranges per weekday, Monday first, each list in order of start.
    weekly: [Vec<LocalRange>; 7],
    exceptions: BTreeMap<NaiveDate, Vec<LocalRange>>,
}

impl WeeklySchedule {
    /// A builder for a schedule in the IANA zone `time_zone` (checked by
    /// [`build`](WeeklyScheduleBuilder::build)).
    ///
    /// ```
    /// use chrono::{NaiveDate, Weekday};
    /// use scheduler_core::WeeklySchedule;
    ///
    /// let christmas = NaiveDate::from_ymd_opt(2027, 12, 25).unwrap();
    /// let schedule = WeeklySchedule::builder("America/New_York")
    ///     .weekday(Weekday::Mon, [("09:00", "12:00"), ("13:00", "17:00")])
    ///     .weekday(Weekday::Sat, [("10:00", "24:00")])
    ///     .closed(christmas)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(schedule.weekday(Weekday::Mon).len(), 2);
    ///
    /// let err = WeeklySchedule::builder("Mars/Olympus_Mons").build().unwrap_err();
    /// assert_eq!(err.code(), "invalid_schedule");
    /// assert!(err.to_string().starts_with("invalid schedule: timeZone"));
    /// ```
    pub fn builder(time_zone: impl Into<String>) -> WeeklyScheduleBuilder {
        WeeklyScheduleBuilder {
            json: ScheduleJson {
                time_zone: time_zone.into(),
                weekly: WeekJson::default(),
                exceptions: Vec::new(),
            },
        }
    }

    /// The IANA time zone the ranges are read in.
    pub fn time_zone(&self) -> Tz {
        self.zone
    }

    /// The ranges of every `day` that is not an exception, in order of start.
    pub fn weekday(&self, day: Weekday) -> &[LocalRange] {
        &self.weekly[day.num_days_from_monday() as usize]
    }

    /// The dates whose ranges replace their weekday's, in date order; an empty
    /// list means closed.
    pub fn exceptions(&self) -> impl Iterator<Item = (NaiveDate, &[LocalRange])> + '_ {
        self.exceptions
            .iter()
            .map(|(date, ranges)| (*date, ranges.as_slice()))
    }

    /// The ranges that apply on the local `date`: its exception if it has one,
    /// else its weekday's.
    pub fn ranges_on(&self, date: NaiveDate) -> &[LocalRange] {
        match self.exceptions.get(&date) {
            Some(ranges) => ranges,
            None => self.weekday(date.weekday()),
        }
    }
}

/// Builds a [`WeeklySchedule`]; the rules are checked by [`build`](Self::build),
/// with the same errors as reading the JSON.
#[derive(Debug, Clone)]
pub struct WeeklyScheduleBuilder {
    json: ScheduleJson,
}

impl WeeklyScheduleBuilder {
    /// Sets `day`'s ranges, as `("HH:MM", "HH:MM")` pairs; replaces any given before.
    pub fn weekday<'a>(
        mut self,
        day: Weekday,
        ranges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        *self.json.weekly.day_mut(day) = range_json(ranges);
        self
    }

    /// Gives `date` its own ranges instead of its weekday's.
    pub fn exception<'a>(
        mut self,
        date: NaiveDate,
        ranges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        self.json.exceptions.push(ExceptionJson {
            date: date.format("%Y-%m-%d").to_string(),
            ranges: range_json(ranges),
        });
        self
    }

    /// Closes `date`: an exception without ranges.
    pub fn closed(self, date: NaiveDate) -> Self {
        self.exception(date, std::iter::empty())
    }

    /// Checks every rule and returns the schedule, or the first fault found
    /// as [`Error::InvalidSchedule`] naming its field.
    pub fn build(self) -> Result<WeeklySchedule> {
        WeeklySchedule::try_from(self.json)
    }
}

fn range_json<'a>(ranges: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<RangeJson> {
    ranges
        .into_iter()
        .map(|(start, end)| RangeJson {
            start: start.to_owned(),
            end: end.to_owned(),
        })
        .collect()
}

fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Error {
    Error::InvalidSchedule {
        field: field.into(),
        rule: rule.into(),
    }
}

impl TryFrom<Object<ScheduleJson>> for WeeklySchedule {
    type Error = Error;

    fn try_from(Object(json): Object<ScheduleJson>) -> Result<Self> {
        Self::try_from(json)
    }
}

impl TryFrom<ScheduleJson> for WeeklySchedule {
    type Error = Error;

    fn try_from(json: ScheduleJson) -> Result<Self> {
        let zone: Tz = json.time_zone.parse().map_err(|_| {
            invalid(
                "timeZone",
                format!(
                    "must be an IANA time zone name such as Europe/Berlin, got {:?}",
                    json.time_zone
                ),
            )
        })?;
        let mut weekly: [Vec<LocalRange>; 7] = Default::default();
        for ((key, ranges), out) in super::json::DAY_KEYS
            .iter()
            .zip(json.weekly.into_days())
            .zip(&mut weekly)
        {
            *out = day_ranges(&format!("weekly.{key}"), &ranges)?;
        }
        let mut exceptions = BTreeMap::new();
        let mut first_index = BTreeMap::new();
        for (index, exception) in json.exceptions.iter().enumerate() {
            let field = format!("exceptions[{index}]");
            let date = parse_date(&format!("{field}.date"), &exception.date)?;
            if let Some(earlier) = first_index.insert(date, index) {
                return Err(invalid(
                    format!("{field}.date"),
                    format!("repeats {date}, already given by exceptions[{earlier}]"),
                ));
            }
            exceptions.insert(
                date,
                day_ranges(&format!("{field}.ranges"), &exception.ranges)?,
            );
        }
        Ok(Self {
            zone,
            weekly,
            exceptions,
        })
    }
}

/// One day's ranges, checked and put in order of start. `field` names the list.
fn day_ranges(field: &str, json: &[RangeJson]) -> Result<Vec<LocalRange>> {
    let mut ranges = Vec::with_capacity(json.len());
    for (index, range) in json.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let start = parse_time(&format!("{at}.start"), &range.start)?;
        if start == LocalTime::END_OF_DAY {
            return Err(invalid(
                format!("{at}.start"),
                "may not be 24:00: that time only ends a range",
            ));
        }
        let end = parse_time(&format!("{at}.end"), &range.end)?;
        let range = LocalRange::new(start, end).ok_or_else(|| {
            invalid(
                at.clone(),
                format!("must end after it starts, got {start}-{end}"),
            )
        })?;
        ranges.push((range, index));
    }
    ranges.sort_unstable();
    // Sorted by start, a range overlaps another exactly when it starts before
    // its predecessor ends; touching ranges (`end == start`) are allowed.
    for pair in ranges.windows(2) {
        let [(before, first), (after, second)] = pair else {
            unreachable!("windows of two")
        };
        if after.start() < before.end() {
            return Err(invalid(
                format!("{field}[{second}]"),
                format!("({after}) overlaps {field}[{first}] ({before})"),
            ));
        }
    }
    Ok(ranges.into_iter().map(|(range, _)| range).collect())
}

fn parse_time(field: &str, text: &str) -> Result<LocalTime> {
    LocalTime::parse(text).ok_or_else(|| {
        invalid(
            field,
            format!("must be a time as HH:MM from 00:00 to 24:00, got {text:?}"),
        )
    })
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        // The parser accepts unpadded fields; the API promises exactly YYYY-MM-DD.
        .filter(|date| date.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| invalid(field, format!("must be a date as YYYY-MM-DD, got {text:?}")))
}

impl From<WeeklySchedule> for ScheduleJson {
    fn from(schedule: WeeklySchedule) -> Self {
        let to_json = |ranges: &[LocalRange]| -> Vec<RangeJson> {
            ranges
                .iter()
                .map(|range| RangeJson {
                    start: range.start().to_string(),
                    end: range.end().to_string(),
                })
                .collect()
        };
        Self {
            time_zone: schedule.zone.name().to_owned(),
            weekly: WeekJson::from_days(schedule.weekly.each_ref().map(|day| to_json(day))),
            exceptions: schedule
                .exceptions
                .iter()
                .map(|(date, ranges)| ExceptionJson {
                    date: date.format("%Y-%m-%d").to_string(),
                    ranges: to_json(ranges),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: serde_json::Value) -> std::result::Result<WeeklySchedule, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    fn fault(build: WeeklyScheduleBuilder) -> (String, String) {
        match build.build() {
            Err(Error::InvalidSchedule { field, rule }) => (field, rule),
            other => panic!("expected an invalid schedule, got {other:?}"),
        }
    }

    fn berlin() -> WeeklyScheduleBuilder {
        WeeklySchedule::builder("Europe/Berlin")
    }

    #[test]
    fn an_array_where_an_object_belongs_is_refused() {
        let range = json!({"start": "09:00", "end": "12:00"});
        for (bad, place) in [
            (json!(["UTC", {}]), "the schedule"),
            (json!({"timeZone": "UTC", "weekly": []}), "weekly"),
            (
                json!({"timeZone": "UTC", "weekly": {"mon": [["09:00", "12:00"]]}}),
                "a range",
            ),
            (
                json!({"timeZone": "UTC", "weekly": {}, "exceptions": [["2030-01-01", []]]}),
                "an exception",
            ),
            (
                json!({"timeZone": "UTC", "weekly": {},
                    "exceptions": [{"date": "2030-01-01", "ranges": [["09:00", "12:00"]]}]}),
                "an exception's range",
            ),
        ] {
            let err = read(bad).expect_err(place);
            assert!(err.contains("expected a JSON object"), "{place}: {err}");
        }
        // The same shapes as objects are read.
        let good = json!({"timeZone": "UTC", "weekly": {"mon": [range.clone()]},
                          "exceptions": [{"date": "2030-01-01", "ranges": [range]}]});
        read(good).expect("objects are read");
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (WeeklySchedule::builder("Europe/Atlantis"), "timeZone"),
            (WeeklySchedule::builder("europe/berlin"), "timeZone"),
            (
                berlin().weekday(Weekday::Tue, [("9:00", "12:00")]),
                "weekly.tue[0].start",
            ),
            (
                berlin().weekday(Weekday::Tue, [("09:00", "24:30")]),
                "weekly.tue[0].end",
            ),
            (
                berlin().weekday(Weekday::Tue, [("24:00", "24:00")]),
                "weekly.tue[0].start",
            ),
            (
                berlin().weekday(Weekday::Sun, [("12:00", "09:00")]),
                "weekly.sun[0]",
            ),
            (
                berlin().weekday(Weekday::Sun, [("09:00", "09:00")]),
                "weekly.sun[0]",
            ),
            (
                berlin().weekday(Weekday::Mon, [("13:00", "17:00"), ("09:00", "13:30")]),
                "weekly.mon[0]",
            ),
            (
                berlin().weekday(Weekday::Mon, [("09:00", "17:00"), ("10:00", "11:00")]),
                "weekly.mon[1]",
            ),
        ];
        for (builder, field) in cases {
            assert_eq!(fault(builder).0, field);
        }
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let (_, rule) =
            fault(berlin().weekday(Weekday::Mon, [("09:00", "17:00"), ("10:00", "11:00")]));
        assert_eq!(rule, "(10:00-11:00) overlaps weekly.mon[0] (09:00-17:00)");
        let err = berlin()
            .weekday(Weekday::Fri, [("18:00", "08:00")])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schedule: weekly.fri[0] must end after it starts, got 18:00-08:00"
        );
        assert_eq!(err.code(), "invalid_schedule");
    }

    #[test]
    fn touching_ranges_are_allowed_and_sorted() {
        let schedule = berlin()
            .weekday(Weekday::Wed, [("12:00", "24:00"), ("00:00", "12:00")])
            .build()
            .unwrap();
        let texts: Vec<_> = schedule
            .weekday(Weekday::Wed)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(texts, ["00:00-12:00", "12:00-24:00"]);
    }

    #[test]
    fn exceptions_are_checked() {
        let date = NaiveDate::from_ymd_opt(2027, 12, 25).unwrap();
        let (field, rule) = fault(berlin().closed(date).exception(date, [("10:00", "12:00")]));
        assert_eq!(field, "exceptions[1].date");
        assert_eq!(rule, "repeats 2027-12-25, already given by exceptions[0]");
        let (field, _) = fault(berlin().exception(date, [("10:00", "12:00"), ("11:00", "13:00")]));
        assert_eq!(field, "exceptions[0].ranges[1]");
        let err =
            read(json!({"timeZone": "UTC", "weekly": {}, "exceptions": [{"date": "2027-1-05"}]}))
                .unwrap_err();
        assert!(
            err.contains("exceptions[0].date must be a date as YYYY-MM-DD"),
            "{err}"
        );
        let err =
            read(json!({"timeZone": "UTC", "weekly": {}, "exceptions": [{"date": "2027-02-30"}]}))
                .unwrap_err();
        assert!(err.contains("exceptions[0].date"), "{err}");
    }

    #[test]
    fn an_exception_replaces_its_weekday() {
        let christmas = NaiveDate::from_ymd_opt(2027, 12, 25).unwrap(); // a Saturday
        let schedule = berlin()
            .weekday(Weekday::Sat, [("09:00", "12:00")])
            .exception(christmas, [("10:00", "11:00")])
            .build()
            .unwrap();
        assert_eq!(schedule.ranges_on(christmas)[0].to_string(), "10:00-11:00");
        let next_saturday = christmas + chrono::Days::new(7);
        assert_eq!(
            schedule.ranges_on(next_saturday)[0].to_string(),
            "09:00-12:00"
        );
        assert!(schedule.ranges_on(christmas.pred_opt().unwrap()).is_empty());
    }

    #[test]
    fn json_round_trips_in_the_design_shape() {
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
        let schedule = read(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&schedule).unwrap(), value);
    }

    #[test]
    fn unknown_fields_are_refused() {
        for value in [
            json!({"timeZone": "UTC", "weekly": {}, "extra": 1}),
            json!({"timeZone": "UTC", "weekly": {"monday": []}}),
            json!({"timeZone": "UTC", "weekly": {"mon": [{"start": "09:00", "end": "10:00", "x": 1}]}}),
            json!({"timeZone": "UTC", "weekly": {}, "exceptions": [{"date": "2027-01-01", "closed": true}]}),
        ] {
            let err = read(value).unwrap_err();
            assert!(err.contains("unknown field"), "{err}");
        }
        assert!(
            read(json!({"timeZone": "UTC"}))
                .unwrap_err()
                .contains("weekly")
        );
    }

    /// The conversion from the JSON reports the first fault in the order of
    /// the document: the zone, the weekdays, then each exception in turn.
    #[test]
    fn faults_are_found_in_the_order_of_the_document() {
        let fault = |value: serde_json::Value| -> (String, String) {
            let json: ScheduleJson = serde_json::from_value(value).expect("well-typed JSON");
            match WeeklySchedule::try_from(json) {
                Err(Error::InvalidSchedule { field, rule }) => (field, rule),
                other => panic!("expected an invalid schedule, got {other:?}"),
            }
        };
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
