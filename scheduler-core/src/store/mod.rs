//! The storage contract: atomic primitives, in one trait per concern.
//!
//! A store keeps facts and applies conditions atomically; it never decides
//! policy and never reads a clock. Every method that depends on time takes
//! `now` from the [`Scheduler`](crate::Scheduler), which reads its clock once
//! per operation. Rules (lead time, ownership, windows) live in the scheduler.
//!
//! | trait | what it keeps |
//! | --- | --- |
//! | [`CalendarStore`] | each provider's slots and its calendar version |
//! | [`ReservationStore`] | reservations: the hold, its moves, reads and the sweep |
//! | [`ScheduleStore`] | each provider's weekly schedule, as text |
//! | [`ServiceStore`] | each provider's services |
//!
//! [`Store`] is all of them: any type that implements the four is a store.
//! A backend implements each in its module of the same name (`calendar`,
//! `reservations`, `schedules`, `services`).
//!
//! Every method must be safe to call concurrently from many tasks and, for
//! shared databases, many processes. Reservations are returned as stored:
//! deriving the status a reader sees is the scheduler's job.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId, ServiceId, SlotId};
use crate::model::Reservation;
use crate::service::{Claim, Service};

mod calendar;
mod reservations;
mod schedules;
mod services;

pub use calendar::{CalendarStore, StoreWithdrawal};
pub use composed::Composed;
pub use reservations::{
    HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, ReservationStore,
};
pub use schedules::{ScheduleStore, StoredSchedule};
pub use services::ServiceStore;

/// Everything the [`Scheduler`](crate::Scheduler) needs of its storage: the
/// four stores by concern, in one type.
///
/// Implemented for every type that implements them; a backend never
/// implements it by hand.
pub trait Store: CalendarStore + ReservationStore + ScheduleStore + ServiceStore {}

impl<T: CalendarStore + ReservationStore + ScheduleStore + ServiceStore + ?Sized> Store for T {}

/// A half-open span of slot starts `[from, to)`, both on the grid.
///
/// `from >= to` is an empty span; the scheduler does not send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotBounds {
    /// First start included.
    pub from: SlotStart,
    /// First start excluded.
    pub to: SlotStart,
}

/// The result of a write to a provider's calendar guarded by its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarWrite<T> {
    /// The write happened.
    Applied {
        /// What it did.
        outcome: T,
        /// The calendar's version after it.
        version: u64,
    },
    /// The calendar was at another version than expected; nothing changed.
    VersionMismatch {
        /// The calendar's version.
        current: u64,
    },
}

/// Implements one store trait for a type by handing every call to the store
/// that `$target` reaches from the receiver `$this` (spelled `self` at the
/// call site, so that the target expression may use it).
macro_rules! delegate {
    (impl[$($generics:tt)*] CalendarStore for $type:ty, $this:ident => $($target:tt)+) => {
        #[async_trait]
        impl<$($generics)*> CalendarStore for $type {
            async fn calendar_version(&$this, provider: &ProviderId) -> Result<u64> {
                $($target)+.calendar_version(provider).await
            }
            async fn add_slots(&$this, provider: &ProviderId, starts: &[SlotStart], expected: Option<u64>) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
                $($target)+.add_slots(provider, starts, expected).await
            }
            async fn withdraw_slots(&$this, provider: &ProviderId, bounds: SlotBounds, expected: Option<u64>, now: DateTime<Utc>) -> Result<CalendarWrite<StoreWithdrawal>> {
                $($target)+.withdraw_slots(provider, bounds, expected, now).await
            }
            async fn free_slots(&$this, provider: &ProviderId, bounds: SlotBounds, limit: usize, now: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
                $($target)+.free_slots(provider, bounds, limit, now).await
            }
            async fn versioned_free_slots(&$this, provider: &ProviderId, bounds: SlotBounds, limit: usize, now: DateTime<Utc>) -> Result<(u64, Vec<DateTime<Utc>>)> {
                $($target)+.versioned_free_slots(provider, bounds, limit, now).await
            }
        }
    };
    (impl[$($generics:tt)*] ReservationStore for $type:ty, $this:ident => $($target:tt)+) => {
        #[async_trait]
        impl<$($generics)*> ReservationStore for $type {
            async fn hold(&$this, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
                $($target)+.hold(request, now).await
            }
            async fn reschedule(&$this, id: ReservationId, slot: &SlotId, claim: Claim, now: DateTime<Utc>) -> Result<RescheduleOutcome> {
                $($target)+.reschedule(id, slot, claim, now).await
            }
            async fn blocked_cells(&$this, provider: &ProviderId, bounds: SlotBounds, now: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
                $($target)+.blocked_cells(provider, bounds, now).await
            }
            async fn reservation(&$this, id: ReservationId) -> Result<Option<Reservation>> {
                $($target)+.reservation(id).await
            }
            async fn reservation_by_key(&$this, client: &ClientId, key: &IdempotencyKey) -> Result<Option<Reservation>> {
                $($target)+.reservation_by_key(client, key).await
            }
            async fn confirm(&$this, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
                $($target)+.confirm(id, now).await
            }
            async fn cancel(&$this, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
                $($target)+.cancel(id, now).await
            }
            async fn expire_due(&$this, now: DateTime<Utc>, batch: usize) -> Result<u64> {
                $($target)+.expire_due(now, batch).await
            }
            async fn provider_reservations(&$this, provider: &ProviderId, page: ReservationPage) -> Result<Vec<Reservation>> {
                $($target)+.provider_reservations(provider, page).await
            }
            async fn client_reservations(&$this, client: &ClientId, page: ReservationPage) -> Result<Vec<Reservation>> {
                $($target)+.client_reservations(client, page).await
            }
        }
    };
    (impl[$($generics:tt)*] ScheduleStore for $type:ty, $this:ident => $($target:tt)+) => {
        #[async_trait]
        impl<$($generics)*> ScheduleStore for $type {
            async fn put_schedule(&$this, provider: &ProviderId, json: &str, through: DateTime<Utc>, version: u64) -> Result<CalendarWrite<()>> {
                $($target)+.put_schedule(provider, json, through, version).await
            }
            async fn schedule(&$this, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
                $($target)+.schedule(provider).await
            }
            async fn delete_schedule(&$this, provider: &ProviderId) -> Result<bool> {
                $($target)+.delete_schedule(provider).await
            }
            async fn schedules_due(&$this, before: DateTime<Utc>, limit: usize) -> Result<Vec<(ProviderId, StoredSchedule)>> {
                $($target)+.schedules_due(before, limit).await
            }
            async fn advance_schedule(&$this, provider: &ProviderId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<bool> {
                $($target)+.advance_schedule(provider, from, to).await
            }
        }
    };
    (impl[$($generics:tt)*] ServiceStore for $type:ty, $this:ident => $($target:tt)+) => {
        #[async_trait]
        impl<$($generics)*> ServiceStore for $type {
            async fn put_service(&$this, service: &Service) -> Result<bool> {
                $($target)+.put_service(service).await
            }
            async fn service(&$this, provider: &ProviderId, id: &ServiceId) -> Result<Option<Service>> {
                $($target)+.service(provider, id).await
            }
            async fn services(&$this, provider: &ProviderId) -> Result<Vec<Service>> {
                $($target)+.services(provider).await
            }
            async fn delete_service(&$this, provider: &ProviderId, id: &ServiceId) -> Result<bool> {
                $($target)+.delete_service(provider, id).await
            }
        }
    };
}

// A scheduler can hold `Arc<S>`, or a `Box<dyn Store>` chosen at run time.
delegate!(impl[S: CalendarStore + ?Sized] CalendarStore for Arc<S>, self => (**self));
delegate!(impl[S: ReservationStore + ?Sized] ReservationStore for Arc<S>, self => (**self));
delegate!(impl[S: ScheduleStore + ?Sized] ScheduleStore for Arc<S>, self => (**self));
delegate!(impl[S: CalendarStore + ?Sized] CalendarStore for Box<S>, self => (**self));
delegate!(impl[S: ReservationStore + ?Sized] ReservationStore for Box<S>, self => (**self));
delegate!(impl[S: ScheduleStore + ?Sized] ScheduleStore for Box<S>, self => (**self));
delegate!(impl[S: ServiceStore + ?Sized] ServiceStore for Arc<S>, self => (**self));
delegate!(impl[S: ServiceStore + ?Sized] ServiceStore for Box<S>, self => (**self));

// After the macro, which it uses.
mod composed;
