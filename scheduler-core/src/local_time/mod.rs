//! Weekly schedules in a provider's local time, and their expansion onto the
//! UTC grid (feature `tz`).
//!
//! Providers think in wall-clock time ("Mondays 09:00-17:00, Europe/Berlin");
//! slots live on the UTC grid. A [`WeeklySchedule`] holds an IANA time zone,
//! ranges per weekday and date exceptions; [`WeeklySchedule::windows`] turns
//! it into UTC windows and [`WeeklySchedule::slot_starts`] into grid slots.
//! [`Scheduler::set_schedule`](crate::Scheduler::set_schedule) publishes it.
//!
//! # What a range means
//!
//! A local range `[a, b)` on date D stands for every instant whose wall-clock
//! reading in the zone falls on D within `[a, b)`, and a slot is offered when
//! all of it lies in the union of those sets. Each date is read with *its own*
//! offsets, never today's, so a schedule starting at 13:00 or later lands on
//! the same wall-clock time on a transition day as on any other.
//!
//! - **Gap** (clocks spring forward): wall times that never happen are lost. A
//!   range across the gap is shorter by the missing span.
//! - **Fold** (clocks fall back): wall times that happen twice are offered
//!   twice. A range across the fold is longer by the repeated span.
//!
//! The offsets come from the zone's own offset changes, pinned to the second,
//! so the result is exact; the grid is never sampled.
//!
//! # Example: New York in 2027
//!
//! On Sunday 14 March 2027, New York's clocks jump from 02:00 EST to 03:00
//! EDT: a range of 01:00-04:00 covers two real hours, 06:00-08:00 UTC. On
//! Sunday 7 November 2027 they fall back from 02:00 EDT to 01:00 EST: a range
//! of 01:00-02:00 covers both 01:00s, 05:00-07:00 UTC.
//!
//! ```
//! use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
//! use scheduler_core::{Grid, WeeklySchedule};
//!
//! let spring = NaiveDate::from_ymd_opt(2027, 3, 14).unwrap();
//! let autumn = NaiveDate::from_ymd_opt(2027, 11, 7).unwrap();
//! let schedule = WeeklySchedule::builder("America/New_York")
//!     .exception(spring, [("01:00", "04:00")])
//!     .exception(autumn, [("01:00", "02:00")])
//!     .build()
//!     .unwrap();
//! let utc = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
//!
//! // The gap: three wall-clock hours, two real ones.
//! let lost = schedule.windows(spring, spring);
//! assert_eq!((lost[0].start(), lost[0].end()), (utc(2027, 3, 14, 6), utc(2027, 3, 14, 8)));
//!
//! // The fold: one wall-clock hour, both occurrences.
//! let kept = schedule.windows(autumn, autumn);
//! assert_eq!((kept[0].start(), kept[0].end()), (utc(2027, 11, 7, 5), utc(2027, 11, 7, 7)));
//!
//! // With 15-minute slots: 8 slots each, not the 12 and 4 a naive reading gives.
//! let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
//! assert_eq!(schedule.slot_starts(grid, spring, spring).len(), 8);
//! assert_eq!(schedule.slot_starts(grid, autumn, autumn).len(), 8);
//! ```

mod expand;
pub mod json;
mod local;
mod weekly;

pub use chrono_tz::Tz;
pub use local::{LocalRange, LocalTime};
pub use weekly::{WeeklySchedule, WeeklyScheduleBuilder};
