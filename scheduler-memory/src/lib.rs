//! An in-process [`Store`] for [`scheduler_core`]: indexed, lock-based, no I/O.
//!
//! Each provider's calendar is an ordered set of slot starts beside an ordered
//! map from the taken ones to the reservation occupying them, walked in step,
//! so listing a page costs `O(log n + page)` however large the calendar, and a
//! free slot costs about 20 bytes. Holds are indexed by expiry, so a sweep
//! touches only the holds that are due. One `RwLock` makes every primitive atomic: readers share
//! it, writers take it alone, and no lock is held across an `.await`.
//!
//! State lives as long as the store: use `scheduler-sqlx` when holds and
//! bookings must survive a restart.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use chrono::{TimeZone, Utc};
//! use scheduler_core::{ListQuery, ManualClock, Policy, ProviderId, Scheduler, Window};
//! use scheduler_memory::MemoryStore;
//!
//! let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
//! let scheduler = Scheduler::new(MemoryStore::new(), clock, Policy::default());
//! let provider = ProviderId::new("p1").unwrap();
//! let window = Window::new(
//!     Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap(),
//!     Utc.with_ymd_and_hms(2030, 1, 3, 17, 0, 0).unwrap(),
//! ).unwrap();
//! scheduler.add_availability(&provider, &[window]).await.unwrap();
//! let page = scheduler.list_slots(&provider, ListQuery::all()).await.unwrap();
//! assert_eq!(page.items.len(), 32);
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod feeds;
mod schedules;
mod state;

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarWrite, FeedToken, HoldOutcome, HoldRequest, ReservationPage, SlotBounds,
    StoreWithdrawal, StoredSchedule,
};
use scheduler_core::{
    ClientId, FeedTokenId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result,
    SlotStart, Store,
};

use feeds::FeedTokens;
use schedules::Schedules;
use state::State;

/// Slots and reservations in process memory, safe to share between tasks.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    /// Taken after `state` when both are needed, never before it.
    schedules: Mutex<Schedules>,
    /// Independent of the other two locks: never held with either.
    feed_tokens: Mutex<FeedTokens>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many slots the store holds across all providers.
    pub fn slot_count(&self) -> usize {
        self.read().slot_count()
    }

    // A panic inside a primitive happens before any mutation that could be left
    // half-done (each mutates only after its checks), so a poisoned lock still
    // guards consistent state and is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn schedules(&self) -> MutexGuard<'_, Schedules> {
        self.schedules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn token_index(&self) -> MutexGuard<'_, FeedTokens> {
        self.feed_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        Ok(self.read().calendar_version(provider))
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        Ok(self.write().add_slots(provider, starts, expected))
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        Ok(self.write().withdraw_slots(provider, bounds, expected, now))
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        Ok(self.read().free_slots(provider, bounds, limit, now))
    }

    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        Ok(self.write().hold(request, now))
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        Ok(self.read().reservation(id).cloned())
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        Ok(self.read().reservation_by_key(client, key).cloned())
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        Ok(self.write().confirm(id, now))
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        Ok(self.write().cancel(id, now))
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        Ok(self.write().expire_due(now, batch))
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        Ok(self.read().provider_reservations(provider, page))
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        Ok(self.read().client_reservations(client, page))
    }

    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        // The calendar's lock first: no calendar write can slip in between
        // the version check and the schedule it guards.
        let mut state = self.write();
        let current = state.calendar_version(provider);
        if current != version {
            return Ok(CalendarWrite::VersionMismatch { current });
        }
        let changed = self.schedules().put(provider, json, through);
        let version = if changed {
            state.bump_version(provider)
        } else {
            current
        };
        Ok(CalendarWrite::Applied {
            outcome: (),
            version,
        })
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        Ok(self.schedules().get(provider).cloned())
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        let mut state = self.write();
        let deleted = self.schedules().delete(provider);
        if deleted {
            state.bump_version(provider);
        }
        Ok(deleted)
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        Ok(self.schedules().due(before, limit))
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.schedules().advance(provider, from, to))
    }

    async fn put_feed_token(&self, token: &FeedToken) -> Result<bool> {
        Ok(self.token_index().put(token))
    }

    async fn feed_token(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
        Ok(self.token_index().get(id).cloned())
    }

    async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
        Ok(self.token_index().of(provider))
    }

    async fn revoke_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>> {
        Ok(self.token_index().revoke(provider, id, now))
    }
}
