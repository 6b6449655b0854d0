//! The scheduling service: every rule of the design, enforced once, over any
//! store. One module per concern, as the store's traits are cut:
//! `calendar` (availability and slot listings), `reservations` (the
//! lifecycle), `schedules` (weekly schedules, feature `tz`) and `services`
//! (kinds of appointment, their starts, and rescheduling).

use chrono::{DateTime, SubsecRound, Utc};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::grid::{TimeRange, saturating_add};
use crate::ids::{ProviderId, SlotId};
use crate::model::Slot;
use crate::policy::Policy;
use crate::store::{CalendarWrite, SlotBounds, Store};

mod calendar;
mod reservations;
#[cfg(feature = "tz")]
mod schedules;
mod services;

#[cfg(feature = "tz")]
pub use schedules::{ExtendedSchedules, ProviderSchedule, ScheduleApplied};

/// A listing request: a time range, an optional page size and an optional cursor.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use scheduler_core::{ListQuery, TimeRange};
///
/// let range = TimeRange::new(
///     Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2030, 2, 1, 0, 0, 0).unwrap(),
/// ).unwrap();
/// let query = ListQuery::new(range).limit(20);
/// assert_eq!(query.range, range);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Items whose slot starts in `[from, to)`.
    pub range: TimeRange,
    /// Page size; the policy's default when `None`.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The first page over `range`, of the default size.
    pub fn new(range: TimeRange) -> Self {
        Self {
            range,
            limit: None,
            cursor: None,
        }
    }

    /// A query over all time.
    pub fn all() -> Self {
        Self::new(TimeRange::all())
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Resumes after the page that returned `cursor`.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
}

/// The condition a write to a provider's calendar is applied under: the
/// library's side of an HTTP `If-Match`.
///
/// ```
/// use scheduler_core::Precondition;
/// assert_eq!(Precondition::from(Some(3)), Precondition::Version(3));
/// assert_eq!(Precondition::from(None), Precondition::Any);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precondition {
    /// Applied at whatever version the calendar is.
    #[default]
    Any,
    /// Applied only if the calendar is at this version; otherwise the write
    /// fails with [`Error::CalendarChanged`] and nothing changes.
    Version(u64),
}

impl Precondition {
    /// The version the write expects, if any.
    pub fn expected(self) -> Option<u64> {
        match self {
            Precondition::Any => None,
            Precondition::Version(version) => Some(version),
        }
    }
}

impl From<Option<u64>> for Precondition {
    fn from(expected: Option<u64>) -> Self {
        expected.map_or(Precondition::Any, Precondition::Version)
    }
}

/// The service applications call: availability, listings and the reservation lifecycle.
///
/// Generic over its [`Store`] and [`Clock`]; it reads the clock once per
/// operation, at microsecond resolution, and hands that instant to the store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use scheduler_core::*;
/// use scheduler_memory::MemoryStore;
///
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap());
/// let scheduler = Scheduler::new(MemoryStore::default(), clock.clone(), Policy::default());
/// let provider = ProviderId::new("dr-who").unwrap();
/// let client = ClientId::new("amy").unwrap();
///
/// let window = Window::new(
///     Utc.with_ymd_and_hms(2030, 1, 2, 9, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2030, 1, 2, 12, 0, 0).unwrap(),
/// ).unwrap();
/// scheduler.add_availability(&provider, &[window], Precondition::Any).await.unwrap();
///
/// let page = scheduler.list_slots(&provider, ListQuery::all()).await.unwrap();
/// let held = scheduler.reserve(&page.items[4].id, &client, None).await.unwrap();
/// assert_eq!(held.status, ReservationStatus::Held);
///
/// clock.advance(TimeDelta::minutes(29));
/// let booked = scheduler.confirm(held.id, &client).await.unwrap();
/// assert_eq!(booked.status, ReservationStatus::Confirmed);
/// # });
/// ```
#[derive(Debug)]
pub struct Scheduler<S, C> {
    store: S,
    clock: C,
    policy: Policy,
}

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// A scheduler over `store`, telling time by `clock`, applying `policy`.
    pub fn new(store: S, clock: C, policy: Policy) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    /// The rules in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store, for backend-specific operations.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Takes the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The instant of one operation: the clock read once, at whole microseconds
    /// so that every backend stores the instants it is given exactly.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The earliest start the minimum-lead rule lets a client reserve at `now`.
    fn earliest_reservable(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        saturating_add(now, self.policy.min_lead())
    }

    /// The grid-aligned bounds of starts in `[from, to)`, or `None` if there are none.
    fn bounds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<SlotBounds> {
        let grid = self.policy.grid();
        // For starts on the grid, `start < to` exactly when `start < ceil(to)`.
        let from = grid.ceil(from)?;
        let to = grid.ceil(to).or_else(|| grid.floor(to))?;
        (from < to).then_some(SlotBounds { from, to })
    }

    /// `provider`'s slot at `start`, as the API shows it.
    fn slot(&self, provider: &ProviderId, start: DateTime<Utc>) -> Slot {
        Slot {
            id: SlotId::new(provider.clone(), start),
            provider_id: provider.clone(),
            start,
            end: self.policy.grid().end_after(start),
        }
    }

    /// `provider`'s slots at `starts`, in order.
    fn slots(&self, provider: &ProviderId, starts: Vec<DateTime<Utc>>) -> Vec<Slot> {
        starts
            .into_iter()
            .map(|start| self.slot(provider, start))
            .collect()
    }
}

/// Rows read per store call when the scheduler walks every page itself.
const SCAN_PAGE: usize = 1000;

/// The outcome of a calendar write, or the refusal of its precondition.
fn applied<T>(
    write: CalendarWrite<T>,
    provider: &ProviderId,
    expected: Option<u64>,
) -> Result<(T, u64)> {
    match write {
        CalendarWrite::Applied { outcome, version } => Ok((outcome, version)),
        CalendarWrite::VersionMismatch { current } => Err(Error::CalendarChanged {
            provider: provider.clone(),
            expected: expected.unwrap_or(current),
            current,
        }),
    }
}
