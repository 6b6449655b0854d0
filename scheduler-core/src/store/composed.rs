//! [`Composed`]: a store assembled from one part per concern.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    CalendarStore, CalendarWrite, HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage,
    ReservationStore, ScheduleStore, ServiceStore, SlotBounds, StoreWithdrawal, StoredSchedule,
};
use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId, ServiceId, SlotId};
use crate::model::Reservation;
use crate::service::{Claim, Service};

/// A [`Store`](super::Store) whose calendar, reservations, schedules and
/// services each come from a part of their own.
///
/// Each part only needs its own trait. This is how to change one concern of
/// a store and keep the rest: a wrapper that counts sweeps, say, implements
/// [`ReservationStore`] around the real store, and the other parts are
/// the real store itself, shared through an [`Arc`](std::sync::Arc).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use chrono::{TimeZone, Utc};
/// use scheduler_core::store::Composed;
/// use scheduler_core::{ListQuery, ManualClock, Policy, ProviderId, Scheduler};
/// use scheduler_memory::MemoryStore;
///
/// let shared = Arc::new(MemoryStore::new());
/// let store = Composed {
///     calendar: shared.clone(),
///     reservations: shared.clone(),
///     schedules: shared.clone(),
///     services: shared,
/// };
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
/// let scheduler = Scheduler::new(store, clock, Policy::default());
/// let provider = ProviderId::new("dr-who").unwrap();
/// let page = scheduler.list_slots(&provider, ListQuery::all()).await.unwrap();
/// assert!(page.items.is_empty());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Composed<C, R, S, V> {
    /// Slots and calendar versions.
    pub calendar: C,
    /// Reservations.
    pub reservations: R,
    /// Weekly schedules.
    pub schedules: S,
    /// Services.
    pub services: V,
}

delegate!(impl[C: CalendarStore, R: Send + Sync, S: Send + Sync, V: Send + Sync] CalendarStore for Composed<C, R, S, V>, self => self.calendar);
delegate!(impl[C: Send + Sync, R: ReservationStore, S: Send + Sync, V: Send + Sync] ReservationStore for Composed<C, R, S, V>, self => self.reservations);
delegate!(impl[C: Send + Sync, R: Send + Sync, S: ScheduleStore, V: Send + Sync] ScheduleStore for Composed<C, R, S, V>, self => self.schedules);
delegate!(impl[C: Send + Sync, R: Send + Sync, S: Send + Sync, V: ServiceStore] ServiceStore for Composed<C, R, S, V>, self => self.services);
