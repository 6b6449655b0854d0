//! Weekly schedules on the wire. The JSON is the core's one encoding,
//! [`ScheduleJson`]: a body is read into it first, so that a type error or an
//! unknown member names its path like any other body, and the core's
//! conversion then judges the values and names the field it faults
//! (`weekly.mon[1].end`, `timeZone`, `exceptions[0].date`).
//!
//! What the server owns here is the document: the schemas below describe
//! that JSON for OpenAPI, and are never read or written themselves.
#![allow(dead_code)] // The schema types' fields are read by `ToSchema` only.

use chrono::{DateTime, Utc};
use scheduler_core::local_time::json::ScheduleJson;
use scheduler_core::{ProviderSchedule, ScheduleApplied, WeeklySchedule};
use serde::Serialize;
use utoipa::ToSchema;

use super::instant;
use super::{ReservationBody, SlotBody};

/// A provider's opening hours in wall-clock time: an IANA time zone, ranges
/// per weekday, and dates whose ranges differ (or that are closed).
///
/// Each date is read with its own offsets: a range across a spring-forward
/// gap loses the missing hour, one across a fall-back fold offers the
/// repeated hour twice. Ranges of one day may touch but not overlap.
#[derive(ToSchema)]
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
pub struct ScheduleDoc {
    /// The IANA time zone the ranges are read in, such as `Europe/London`.
    #[schema(example = "Europe/London")]
    time_zone: String,
    /// The ranges of each weekday; a weekday left out is closed.
    weekly: WeeklyRangesDoc,
    /// Dates whose ranges replace their weekday's; no two give the same date.
    #[serde(default)]
    exceptions: Vec<ScheduleExceptionDoc>,
}

/// The ranges of each weekday, in the provider's time zone.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WeeklyRanges)]
struct WeeklyRangesDoc {
    /// Mondays.
    #[serde(default)]
    mon: Vec<LocalRangeDoc>,
    /// Tuesdays.
    #[serde(default)]
    tue: Vec<LocalRangeDoc>,
    /// Wednesdays.
    #[serde(default)]
    wed: Vec<LocalRangeDoc>,
    /// Thursdays.
    #[serde(default)]
    thu: Vec<LocalRangeDoc>,
    /// Fridays.
    #[serde(default)]
    fri: Vec<LocalRangeDoc>,
    /// Saturdays.
    #[serde(default)]
    sat: Vec<LocalRangeDoc>,
    /// Sundays.
    #[serde(default)]
    sun: Vec<LocalRangeDoc>,
}

/// A wall-clock range `[start, end)` within one day.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LocalRange)]
struct LocalRangeDoc {
    /// Start, `HH:MM` from `00:00` to `23:59`.
    #[schema(example = "09:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    start: String,
    /// End (exclusive), `HH:MM` after the start; `24:00` ends the day.
    #[schema(example = "17:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    end: String,
}

/// A date with its own ranges instead of its weekday's.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleException)]
struct ScheduleExceptionDoc {
    /// The local date, `YYYY-MM-DD`.
    #[schema(format = Date, example = "2030-12-25")]
    date: String,
    /// Its ranges; left out or empty, the date is closed.
    #[serde(default)]
    ranges: Vec<LocalRangeDoc>,
}

/// A provider's stored schedule.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StoredSchedule)]
pub struct StoredScheduleBody {
    /// The schedule, as it reads back (ranges of a day in order of start).
    #[schema(value_type = ScheduleDoc)]
    pub schedule: ScheduleJson,
    /// Its slots are published for every slot ending by this instant; the
    /// server rolls it forward as the horizon moves.
    #[serde(serialize_with = "instant::rfc3339")]
    pub through: DateTime<Utc>,
}

impl From<&ProviderSchedule> for StoredScheduleBody {
    fn from(stored: &ProviderSchedule) -> Self {
        Self {
            schedule: stored.schedule.clone().into(),
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
    #[schema(value_type = ScheduleDoc)]
    pub schedule: ScheduleJson,
}

impl ScheduleAppliedBody {
    /// The answer to setting `schedule`, which did `applied`.
    pub fn new(applied: ScheduleApplied, schedule: &WeeklySchedule) -> Self {
        Self {
            added: applied.added.into_iter().map(Into::into).collect(),
            removed: applied.removed.into_iter().map(Into::into).collect(),
            conflicts: applied.conflicts.into_iter().map(Into::into).collect(),
            through: applied.through,
            schedule: schedule.clone().into(),
        }
    }
}
