//! [`CalendarStore`]: each provider's slots and the version that counts
//! the writes to them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CalendarWrite, SlotBounds};
use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::ProviderId;
use crate::model::Reservation;

/// What [`CalendarStore::withdraw_slots`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreWithdrawal {
    /// Starts of the free slots removed, ascending.
    pub removed: Vec<DateTime<Utc>>,
    /// Live reservations whose occupied span held a slot that was kept, each
    /// once, ascending by start.
    pub conflicts: Vec<Reservation>,
}

/// Each provider's calendar: a set of slots keyed by start, and a version.
///
/// A slot is *free at `now`* when no live reservation blocks its cell (see
/// [`ReservationStore`](super::ReservationStore)): neither its appointment
/// nor its buffers.
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// The version of `provider`'s calendar: 0 before any write, then one more
    /// for each [`add_slots`](Self::add_slots) or
    /// [`withdraw_slots`](Self::withdraw_slots) that changed its set of slots,
    /// and for each [`put_schedule`](super::ScheduleStore::put_schedule) or
    /// [`delete_schedule`](super::ScheduleStore::delete_schedule) that changed
    /// its stored schedule's text.
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64>;

    /// In one atomic step: if `expected` is given and the calendar's version
    /// differs, changes nothing and reports the current version; otherwise
    /// adds `starts` (ascending, distinct) as slots of `provider`, leaving
    /// existing slots and their reservations untouched, and bumps the version
    /// if any slot was new. The outcome is the new starts, ascending.
    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>>;

    /// In one atomic step: if `expected` is given and the calendar's version
    /// differs, changes nothing and reports the current version; otherwise
    /// removes `provider`'s slots in `bounds` except those inside the occupied
    /// span of a reservation live at `now`, reports those reservations, and
    /// bumps the version if any slot was removed. A slot only inside a
    /// buffer is removed: buffers need not be published.
    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>>;

    /// Starts of `provider`'s slots in `bounds` that are free at `now` (no
    /// reservation live then blocks their cell, with its appointment or its
    /// buffers), ascending, at most `limit`. Cost grows with the page, not
    /// the calendar.
    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>>;

    /// The calendar's version and the page [`free_slots`](Self::free_slots)
    /// would return, the version read no later than the page: a write landing
    /// in between can only make the version older than the page, never newer.
    ///
    /// The default reads [`calendar_version`](Self::calendar_version), then
    /// the page. A store that can read both in one round trip (one statement,
    /// one snapshot) overrides it: listing is the hottest read.
    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        let version = self.calendar_version(provider).await?;
        let starts = self.free_slots(provider, bounds, limit, now).await?;
        Ok((version, starts))
    }
}
