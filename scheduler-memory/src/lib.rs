//! An in-process [`Store`](scheduler_core::Store) for [`scheduler_core`]: indexed, lock-based, no I/O.
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
//! use scheduler_core::{ListQuery, ManualClock, Policy, Precondition, ProviderId, Scheduler, Window};
//! use scheduler_memory::MemoryStore;
//!
//! let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
//! let scheduler = Scheduler::new(MemoryStore::new(), clock, Policy::default());
//! let provider = ProviderId::new("p1").unwrap();
//! let window = Window::new(
//!     Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap(),
//!     Utc.with_ymd_and_hms(2030, 1, 3, 17, 0, 0).unwrap(),
//! ).unwrap();
//! scheduler.add_availability(&provider, &[window], Precondition::Any).await.unwrap();
//! let page = scheduler.list_slots(&provider, ListQuery::all()).await.unwrap();
//! assert_eq!(page.items.len(), 32);
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod calendar;
mod reservations;
mod schedules;
mod services;
mod state;

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use schedules::Schedules;
use state::State;

/// Slots and reservations in process memory, safe to share between tasks.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    /// Taken after `state` when both are needed, never before it.
    schedules: Mutex<Schedules>,
    /// Services, which no other primitive reads: a lock of their own.
    services: RwLock<services::Services>,
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
}
