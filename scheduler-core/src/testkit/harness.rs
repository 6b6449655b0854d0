//! What every conformance case starts from: a scheduler on a manual clock.

use crate::Precondition;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::clock::ManualClock;
use crate::grid::{TimeRange, Window};
use crate::ids::{ClientId, ProviderId, ServiceId, SlotId};
use crate::model::{Reservation, Slot};
use crate::policy::Policy;
use crate::scheduler::{ListQuery, Scheduler};
use crate::service::Service;
use crate::store::Store;

/// A scheduler over a fresh store, its manual clock, and helpers for cases.
///
/// The clock starts at [`Harness::epoch`], Monday 2030-01-07 00:00:00 UTC.
/// Ids it makes are unique per harness, so backends that share a database
/// between cases still see each case alone.
#[derive(Debug)]
pub struct Harness<S> {
    /// The service under test, shareable across tasks.
    pub scheduler: Arc<Scheduler<S, ManualClock>>,
    /// The clock the scheduler reads.
    pub clock: ManualClock,
    tag: u64,
}

impl<S: Store> Harness<S> {
    /// A harness over `store` with the default policy.
    pub fn new(store: S) -> Self {
        Self::with_policy(store, Policy::default())
    }

    /// A harness over `store` with `policy`.
    pub fn with_policy(store: S, policy: Policy) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let clock = ManualClock::new(Self::epoch());
        let scheduler = Arc::new(Scheduler::new(store, clock.clone(), policy));
        let tag = u64::from(std::process::id()) << 32 | NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            scheduler,
            clock,
            tag,
        }
    }

    /// Rebuilds the harness with another policy, keeping the store's clock at its epoch.
    pub fn into_policy(self, policy: Policy) -> Self
    where
        S: Sized,
    {
        let store = Arc::try_unwrap(self.scheduler)
            .unwrap_or_else(|_| panic!("into_policy needs the only handle on the scheduler"))
            .into_store();
        let mut harness = Self::with_policy(store, policy);
        harness.tag = self.tag;
        harness
    }

    /// The instant the clock starts at: Monday 2030-01-07 00:00:00 UTC.
    pub fn epoch() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap()
    }

    /// The clock's current instant.
    pub fn now(&self) -> DateTime<Utc> {
        use crate::clock::Clock;
        self.clock.now()
    }

    /// `epoch + days` at `hh:mm:ss`.
    pub fn day_at(&self, days: i64, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Self::epoch()
            + TimeDelta::days(days)
            + TimeDelta::hours(h.into())
            + TimeDelta::minutes(m.into())
            + TimeDelta::seconds(s.into())
    }

    /// A provider id unique to this harness.
    pub fn provider(&self, name: &str) -> ProviderId {
        ProviderId::new(format!("{name}-{:x}", self.tag)).expect("valid provider id")
    }

    /// A client id unique to this harness.
    pub fn client(&self, name: &str) -> ClientId {
        ClientId::new(format!("{name}-{:x}", self.tag)).expect("valid client id")
    }

    /// Publishes `[start, end)` for `provider`, panicking on refusal; returns the new slots.
    pub async fn open(
        &self,
        provider: &ProviderId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<Slot> {
        let window = Window::new(start, end).expect("valid window");
        self.scheduler
            .add_availability(provider, &[window], Precondition::Any)
            .await
            .expect("availability accepted")
            .added
    }

    /// Every reservable slot of `provider` now, following cursors to the end.
    pub async fn reservable(&self, provider: &ProviderId) -> Vec<Slot> {
        let mut all = Vec::new();
        let mut query = ListQuery::new(TimeRange::all()).limit(self.scheduler.policy().max_page());
        loop {
            let page = self
                .scheduler
                .list_slots(provider, query.clone())
                .await
                .expect("listing works");
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query = query.cursor(cursor),
                None => return all,
            }
        }
    }

    /// Publishes the single slot starting at `start` and returns its id.
    pub async fn open_slot(&self, provider: &ProviderId, start: DateTime<Utc>) -> SlotId {
        let end = start + self.scheduler.policy().slot_length();
        let added = self.open(provider, start, end).await;
        assert_eq!(added.len(), 1, "one slot opened at {start}, got {added:?}");
        added[0].id.clone()
    }

    /// The id of `provider`'s slot starting at `start`, as a client would pass it back.
    pub fn slot_id(&self, provider: &ProviderId, start: DateTime<Utc>) -> SlotId {
        SlotId::new(provider.clone(), start)
    }

    /// Reserves `slot` for `client` without a key, panicking on refusal.
    pub async fn hold(&self, slot: &SlotId, client: &ClientId) -> Reservation {
        self.scheduler
            .reserve(slot, client, None)
            .await
            .unwrap_or_else(|err| {
                panic!("reserving {slot:?} for {client} at {}: {err:?}", self.now())
            })
    }

    /// The starts of every reservable slot of `provider` now.
    pub async fn reservable_starts(&self, provider: &ProviderId) -> Vec<DateTime<Utc>> {
        self.reservable(provider)
            .await
            .into_iter()
            .map(|slot| slot.start)
            .collect()
    }

    /// Every reservation on `provider`'s slots, statuses derived now, following cursors.
    pub async fn provider_bookings(&self, provider: &ProviderId) -> Vec<Reservation> {
        let mut all = Vec::new();
        let mut query = ListQuery::all().limit(self.scheduler.policy().max_page());
        loop {
            let page = self
                .scheduler
                .provider_reservations(provider, query.clone())
                .await
                .expect("reservation listing works");
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query = query.cursor(cursor),
                None => return all,
            }
        }
    }

    /// Stores `provider`'s service `id`: `minutes` long, with `before` and
    /// `after` minutes of buffer; panics on refusal.
    pub async fn put_service(
        &self,
        provider: &ProviderId,
        id: &str,
        minutes: i64,
        before: i64,
        after: i64,
    ) -> Service {
        let service = Service::new(
            provider.clone(),
            ServiceId::new(id).expect("valid service id"),
            id,
            TimeDelta::minutes(minutes),
        )
        .buffer_before(TimeDelta::minutes(before))
        .buffer_after(TimeDelta::minutes(after));
        self.scheduler
            .put_service(&service)
            .await
            .unwrap_or_else(|err| panic!("service {id} refused: {err:?}"));
        service
    }

    /// Every start of `service` reservable now, following cursors to the end,
    /// `limit` a page.
    pub async fn service_starts_paged(&self, service: &Service, limit: u32) -> Vec<Slot> {
        let mut all = Vec::new();
        let mut query = ListQuery::all().limit(limit);
        loop {
            let page = self
                .scheduler
                .list_service_starts(&service.provider_id, &service.id, query.clone())
                .await
                .expect("service listing works");
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query = query.cursor(cursor),
                None => return all,
            }
        }
    }

    /// The instants at which `service` can start now.
    pub async fn service_starts(&self, service: &Service) -> Vec<DateTime<Utc>> {
        let page = self.scheduler.policy().max_page();
        self.service_start_times_paged(service, page).await
    }

    /// As [`service_starts`](Self::service_starts), read in pages of `limit`.
    pub async fn service_start_times_paged(
        &self,
        service: &Service,
        limit: u32,
    ) -> Vec<DateTime<Utc>> {
        let starts = self.service_starts_paged(service, limit).await;
        starts.into_iter().map(|slot| slot.start).collect()
    }

    /// The id that books `service` at `start`.
    pub fn service_slot(&self, service: &Service, start: DateTime<Utc>) -> SlotId {
        SlotId::new(service.provider_id.clone(), start).for_service(service.id.clone())
    }

    /// The range `[from, to)`, panicking unless `from < to`.
    pub fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeRange {
        TimeRange::new(from, to).expect("valid range")
    }

    /// Moves the clock by `delta`.
    pub fn advance(&self, delta: TimeDelta) {
        self.clock.advance(delta);
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: DateTime<Utc>) {
        self.clock.set(instant);
    }
}
