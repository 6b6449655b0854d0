//! Appointment scheduling: providers publish availability, it becomes slots on
//! a UTC grid, clients hold a slot well ahead of time, and a hold lapses unless
//! confirmed.
//!
//! This crate holds the rules and the types. Storage is a [`Store`], the
//! union of one trait per concern ([`store`]): use `scheduler-memory` in
//! process, or `scheduler-sqlx` for SQLite and PostgreSQL.
//!
//! - [`Scheduler`] is the service: every rule lives there, once.
//! - [`Policy`] sets slot length, lead time, hold time and limits.
//! - [`Clock`] tells the time: [`SystemClock`], or [`ManualClock`] in tests.
//! - [`Error`] names every refusal with a stable [`Error::code`].
//!
//! # Time
//!
//! Instants are `DateTime<Utc>`. A slot is `[start, start + slot_length)` and
//! starts on a multiple of the slot length counted from the Unix epoch. An
//! availability window snaps inward to that grid ([`normalize`]). The
//! scheduler reads its clock once per operation, cut down to whole
//! microseconds, so every backend keeps the instants it is given exactly.
//!
//! # Reservations
//!
//! A hold lasts [`Policy::hold_ttl`] and expires at the instant `now >=
//! expires_at`, whether or not anything has swept it: expiry is derived at read
//! time ([`Reservation::status_at`]), so a restart loses nothing.
//!
//! # Features
//!
//! - `tokio`: [`spawn_sweeper`], a background task that tidies due holds.
//! - `testkit`: [`conformance_tests!`], the suite every backend must pass, one
//!   test per case ([`testkit`]).
//! - `tz`: [`WeeklySchedule`], opening hours in a provider's IANA time zone,
//!   expanded onto the grid with exact daylight-saving rules ([`local_time`]),
//!   [`Scheduler::set_schedule`] to publish and store one, and the rolling
//!   extension the sweeper runs ([`Scheduler::extend_due_schedules`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod codec;
mod cursor;
mod error;
mod grid;
mod ids;
#[cfg(feature = "tz")]
pub mod local_time;
mod model;
mod policy;
mod scheduler;
mod service;
pub mod store;
#[cfg(feature = "tokio")]
mod sweeper;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BoxError, Error, Result};
pub use grid::{Grid, SlotSpan, SlotStart, TimeRange, Window, normalize};
pub use ids::{
    ClientId, IdempotencyKey, MAX_USER_ID_LEN, ProviderId, ReservationId, ServiceId, SlotId,
};
#[cfg(feature = "tz")]
pub use local_time::{LocalRange, LocalTime, Tz, WeeklySchedule, WeeklyScheduleBuilder};
pub use model::{Actor, AddedSlots, Page, Reservation, ReservationStatus, Slot, Withdrawal};
pub use policy::{Policy, PolicyBuilder};
#[cfg(feature = "tz")]
pub use scheduler::{ExtendedSchedules, ProviderSchedule, ScheduleApplied};
pub use scheduler::{ListQuery, Precondition, Scheduler};
pub use service::{Claim, MAX_SERVICE_NAME_CHARS, Service};
pub use store::Store;
#[cfg(feature = "tokio")]
pub use sweeper::{SweepReport, SweeperConfig, spawn_sweeper};
