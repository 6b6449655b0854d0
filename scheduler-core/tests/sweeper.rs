//! Proves `spawn_sweeper` on paused Tokio time: it sweeps holds that are due on each
//! interval tick (and only then), a failed sweep is counted and the next tick sweeps
//! again, one tick drains more than one batch, and shutdown stops it and hands back
//! its report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduler_core::store::{
    Composed, HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, ReservationStore,
    SlotBounds,
};
use scheduler_core::{
    Claim, ClientId, Error, IdempotencyKey, ListQuery, ManualClock, Policy, Precondition,
    ProviderId, Reservation, ReservationId, ReservationStatus, Result, Scheduler, SlotId,
    SweepReport, SweeperConfig, Window, spawn_sweeper,
};
use scheduler_memory::MemoryStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const INTERVAL: Duration = Duration::from_secs(30);

/// A `MemoryStore`'s reservations that count `expire_due` calls and fail
/// the next ones on demand.
#[derive(Debug, Default)]
struct FlakyReservations {
    inner: Arc<MemoryStore>,
    /// How many of the coming `expire_due` calls fail.
    fail_next: AtomicUsize,
    /// `expire_due` calls so far, failed ones included.
    sweep_calls: AtomicU64,
}

/// The memory store with its reservations flaky; its calendar, schedules
/// and services as they are.
type FlakyStore = Composed<Arc<MemoryStore>, FlakyReservations, Arc<MemoryStore>, Arc<MemoryStore>>;

fn flaky_store() -> FlakyStore {
    let inner = Arc::new(MemoryStore::new());
    Composed {
        calendar: inner.clone(),
        reservations: FlakyReservations {
            inner: inner.clone(),
            ..FlakyReservations::default()
        },
        schedules: inner.clone(),
        services: inner,
    }
}

#[async_trait]
impl ReservationStore for FlakyReservations {
    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        self.sweep_calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::storage("injected failure: the database went away"));
        }
        self.inner.expire_due(now, batch).await
    }

    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        self.inner.hold(request, now).await
    }

    async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<RescheduleOutcome> {
        self.inner.reschedule(id, slot, claim, now).await
    }

    async fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        self.inner.blocked_cells(provider, bounds, now).await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        self.inner.reservation(id).await
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        self.inner.reservation_by_key(client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        self.inner.confirm(id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        self.inner.cancel(id, now).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.inner.provider_reservations(provider, page).await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.inner.client_reservations(client, page).await
    }
}

/// A scheduler over a `FlakyStore`, its clock, and the ids the tests use.
struct Fixture {
    scheduler: Arc<Scheduler<FlakyStore, ManualClock>>,
    clock: ManualClock,
    provider: ProviderId,
    client: ClientId,
}

impl Fixture {
    /// Monday 2030-01-07 00:00 UTC, with 12 slots the next day from 09:00.
    async fn new() -> Self {
        let start = Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let scheduler = Arc::new(Scheduler::new(
            flaky_store(),
            clock.clone(),
            Policy::default(),
        ));
        let provider = ProviderId::new("dr-sweep").unwrap();
        let window =
            Window::new(start + TimeDelta::hours(33), start + TimeDelta::hours(36)).unwrap();
        let added = scheduler
            .add_availability(&provider, &[window], Precondition::Any)
            .await
            .unwrap();
        assert_eq!(added.added.len(), 12);
        Self {
            scheduler,
            clock,
            provider,
            client: ClientId::new("sweepee").unwrap(),
        }
    }

    /// Places `n` holds on free slots; they expire `hold_ttl` from now.
    async fn hold(&self, n: usize) -> Vec<ReservationId> {
        let page = self
            .scheduler
            .list_slots(&self.provider, ListQuery::all())
            .await
            .unwrap();
        assert!(page.items.len() >= n, "not enough free slots");
        let mut ids = Vec::new();
        for slot in &page.items[..n] {
            let held = self
                .scheduler
                .reserve(&slot.id, &self.client, None)
                .await
                .unwrap();
            assert_eq!(held.status, ReservationStatus::Held);
            ids.push(held.id);
        }
        ids
    }

    /// Moves the manual clock past every current hold's expiry.
    fn expire_holds(&self) {
        self.clock
            .advance(self.scheduler.policy().hold_ttl() + TimeDelta::seconds(1));
    }

    /// The status as stored, not as derived at read time: only a sweep changes it.
    async fn stored(&self, id: ReservationId) -> ReservationStatus {
        self.scheduler
            .store()
            .reservation(id)
            .await
            .unwrap()
            .expect("the reservation exists")
            .status
    }

    async fn stored_all(&self, ids: &[ReservationId]) -> Vec<ReservationStatus> {
        let mut statuses = Vec::new();
        for &id in ids {
            statuses.push(self.stored(id).await);
        }
        statuses
    }

    fn sweep_calls(&self) -> u64 {
        self.scheduler
            .store()
            .reservations
            .sweep_calls
            .load(Ordering::SeqCst)
    }

    fn spawn(&self, batch: usize) -> (oneshot::Sender<()>, JoinHandle<SweepReport>) {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = spawn_sweeper(
            Arc::clone(&self.scheduler),
            SweeperConfig {
                interval: INTERVAL,
                batch,
                ..SweeperConfig::default()
            },
            async move {
                stopped.await.ok();
            },
        );
        (stop, handle)
    }

    /// Lets the sweeper task run until `sweep_calls` reaches `calls`, without moving time.
    async fn until_calls(&self, calls: u64) {
        for _ in 0..100 {
            if self.sweep_calls() >= calls {
                break;
            }
            tokio::task::yield_now().await;
        }
        // A few more turns, so that a call beyond the expected one would show.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(self.sweep_calls(), calls, "store sweeps so far");
    }
}

fn all(status: ReservationStatus, n: usize) -> Vec<ReservationStatus> {
    vec![status; n]
}

#[tokio::test(start_paused = true)]
async fn sweeps_due_holds_on_each_tick_and_only_then() {
    let f = Fixture::new().await;
    let first = f.hold(3).await;
    let (stop, handle) = f.spawn(100);

    // The first sweep runs at once; nothing is due yet.
    f.until_calls(1).await;
    assert_eq!(f.stored_all(&first).await, all(ReservationStatus::Held, 3));

    // The holds fall due on the manual clock; storage changes only at the next tick.
    f.expire_holds();
    tokio::time::advance(INTERVAL - Duration::from_millis(1)).await;
    f.until_calls(1).await;
    assert_eq!(f.stored_all(&first).await, all(ReservationStatus::Held, 3));
    // Reads already derive expiry, with or without a sweep.
    let read = f
        .scheduler
        .reservation(first[0], &scheduler_core::Actor::Client(f.client.clone()))
        .await
        .unwrap();
    assert_eq!(read.status, ReservationStatus::Expired);

    tokio::time::advance(Duration::from_millis(1)).await;
    f.until_calls(2).await;
    assert_eq!(
        f.stored_all(&first).await,
        all(ReservationStatus::Expired, 3)
    );

    // New holds, due later: the next tick sweeps them too.
    let second = f.hold(2).await;
    tokio::time::advance(INTERVAL).await;
    f.until_calls(3).await;
    assert_eq!(f.stored_all(&second).await, all(ReservationStatus::Held, 2));
    f.expire_holds();
    tokio::time::advance(INTERVAL).await;
    f.until_calls(4).await;
    assert_eq!(
        f.stored_all(&second).await,
        all(ReservationStatus::Expired, 2)
    );

    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            sweeps: 4,
            failures: 0,
            expired: 5,
            extended: 0,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_sweep_is_counted_and_the_next_tick_sweeps() {
    let f = Fixture::new().await;
    let ids = f.hold(3).await;
    f.expire_holds();
    f.scheduler
        .store()
        .reservations
        .fail_next
        .store(1, Ordering::SeqCst);
    let (stop, handle) = f.spawn(100);

    // The first sweep fails: nothing is marked, and the task keeps running.
    f.until_calls(1).await;
    assert_eq!(f.stored_all(&ids).await, all(ReservationStatus::Held, 3));
    assert!(!handle.is_finished());

    // The next tick sweeps them.
    tokio::time::advance(INTERVAL).await;
    f.until_calls(2).await;
    assert_eq!(f.stored_all(&ids).await, all(ReservationStatus::Expired, 3));

    // Two failures in a row are both counted; the tick after still works.
    let more = f.hold(2).await;
    f.expire_holds();
    f.scheduler
        .store()
        .reservations
        .fail_next
        .store(2, Ordering::SeqCst);
    tokio::time::advance(INTERVAL).await;
    f.until_calls(3).await;
    tokio::time::advance(INTERVAL).await;
    f.until_calls(4).await;
    assert_eq!(f.stored_all(&more).await, all(ReservationStatus::Held, 2));
    tokio::time::advance(INTERVAL).await;
    f.until_calls(5).await;
    assert_eq!(
        f.stored_all(&more).await,
        all(ReservationStatus::Expired, 2)
    );

    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            sweeps: 5,
            failures: 3,
            expired: 5,
            extended: 0,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn one_tick_drains_more_than_one_batch() {
    let f = Fixture::new().await;
    let ids = f.hold(7).await;
    f.expire_holds();
    let (stop, handle) = f.spawn(3);

    // 7 due holds in batches of 3: calls expire 3, 3, then 1, which is short, so the
    // sweep ends; all within the first tick.
    f.until_calls(3).await;
    assert_eq!(f.stored_all(&ids).await, all(ReservationStatus::Expired, 7));

    // Exactly two full batches: the sweep needs a third, empty call to know it is done.
    let more = f.hold(4).await;
    let (stop_more, more_handle) = {
        // Stop the first sweeper so that calls are counted for the second alone.
        stop.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!(
            report,
            SweepReport {
                sweeps: 1,
                failures: 0,
                expired: 7,
                extended: 0,
            }
        );
        f.expire_holds();
        f.spawn(2)
    };
    f.until_calls(3 + 3).await;
    assert_eq!(
        f.stored_all(&more).await,
        all(ReservationStatus::Expired, 4)
    );
    stop_more.send(()).unwrap();
    assert_eq!(
        more_handle.await.unwrap(),
        SweepReport {
            sweeps: 1,
            failures: 0,
            expired: 4,
            extended: 0,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_batch_still_makes_progress() {
    let f = Fixture::new().await;
    let ids = f.hold(2).await;
    f.expire_holds();
    let (stop, handle) = f.spawn(0);
    // A batch of zero is taken as one: 1, 1, then an empty call.
    f.until_calls(3).await;
    assert_eq!(f.stored_all(&ids).await, all(ReservationStatus::Expired, 2));
    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!((report.sweeps, report.expired), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_it_and_returns_the_report() {
    let f = Fixture::new().await;
    let ids = f.hold(2).await;
    f.expire_holds();
    let (stop, handle) = f.spawn(100);
    f.until_calls(1).await;
    tokio::time::advance(INTERVAL).await;
    f.until_calls(2).await;

    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            sweeps: 2,
            failures: 0,
            expired: 2,
            extended: 0,
        }
    );

    // Stopped: later ticks never come, so new due holds stay as stored.
    let later = f.hold(2).await;
    f.expire_holds();
    tokio::time::advance(INTERVAL * 10).await;
    f.until_calls(2).await;
    assert_eq!(f.stored_all(&later).await, all(ReservationStatus::Held, 2));
    assert_eq!(f.stored_all(&ids).await, all(ReservationStatus::Expired, 2));
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_already_complete_sweeps_nothing() {
    let f = Fixture::new().await;
    let ids = f.hold(1).await;
    f.expire_holds();
    let handle = spawn_sweeper(
        Arc::clone(&f.scheduler),
        SweeperConfig::default(),
        std::future::ready(()),
    );
    let report = handle.await.unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(f.sweep_calls(), 0);
    assert_eq!(f.stored(ids[0]).await, ReservationStatus::Held);
}

#[tokio::test(start_paused = true)]
async fn missed_ticks_are_delayed_not_bunched() {
    let f = Fixture::new().await;
    let (stop, handle) = f.spawn(100);
    f.until_calls(1).await;
    let ids = f.hold(1).await;
    f.expire_holds();
    tokio::time::advance(INTERVAL * 100).await;
    // Missed ticks are delayed, not bunched: one sweep for the long jump.
    f.until_calls(2).await;
    assert_eq!(f.stored(ids[0]).await, ReservationStatus::Expired);
    stop.send(()).unwrap();
    let report = handle.await.unwrap();
    assert_eq!((report.sweeps, report.expired), (2, 1));
}
