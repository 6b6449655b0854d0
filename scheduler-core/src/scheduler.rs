//! The scheduling service: every rule of the design, enforced once, over any store.

use chrono::{DateTime, SubsecRound, Utc};

use crate::clock::Clock;
use crate::cursor;
use crate::error::{Error, Result};
use crate::grid::{TimeRange, Window, normalize, saturating_add};
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId, SlotId};
use crate::model::{Actor, AddedSlots, Page, Reservation, ReservationStatus, Slot, Withdrawal};
use crate::policy::Policy;
use crate::store::{
    CalendarWrite, HoldOutcome, HoldRequest, ReservationPage, SlotBounds, Store, StoreWithdrawal,
};

mod feeds;
#[cfg(feature = "tz")]
mod materialize;
#[cfg(feature = "tz")]
mod stored;
#[cfg(feature = "tz")]
pub use materialize::ScheduleApplied;
#[cfg(feature = "tz")]
pub use stored::{ExtendedSchedules, ProviderSchedule};

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
/// scheduler.add_availability(&provider, &[window]).await.unwrap();
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

    /// Publishes `windows` as `provider`'s availability.
    ///
    /// Each window is normalized (see [`normalize`](crate::normalize)); if any
    /// is refused, nothing is added and the error names its index. Slots are a
    /// set: repeats and overlaps change nothing. Returns the slots that are new
    /// and the calendar's version after the write.
    pub async fn add_availability(
        &self,
        provider: &ProviderId,
        windows: &[Window],
    ) -> Result<AddedSlots> {
        self.publish(provider, windows, None).await
    }

    /// [`add_availability`](Self::add_availability), applied only if the
    /// provider's calendar is still at `expected_version` (an HTTP `If-Match`);
    /// otherwise [`Error::CalendarChanged`] and nothing changes.
    pub async fn add_availability_if(
        &self,
        provider: &ProviderId,
        windows: &[Window],
        expected_version: u64,
    ) -> Result<AddedSlots> {
        self.publish(provider, windows, Some(expected_version))
            .await
    }

    /// Removes `provider`'s free slots that start in `range`. Held and booked
    /// slots stay, and come back as conflicts with their reservations.
    pub async fn withdraw_availability(
        &self,
        provider: &ProviderId,
        range: TimeRange,
    ) -> Result<Withdrawal> {
        self.withdraw(provider, range, None).await
    }

    /// [`withdraw_availability`](Self::withdraw_availability), applied only if
    /// the provider's calendar is still at `expected_version`; otherwise
    /// [`Error::CalendarChanged`] and nothing changes.
    pub async fn withdraw_availability_if(
        &self,
        provider: &ProviderId,
        range: TimeRange,
        expected_version: u64,
    ) -> Result<Withdrawal> {
        self.withdraw(provider, range, Some(expected_version)).await
    }

    /// The version of `provider`'s calendar: it changes exactly when an
    /// availability write adds or removes a slot, so it serves as an ETag.
    /// Reservations do not change it.
    pub async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        self.store.calendar_version(provider).await
    }

    async fn publish(
        &self,
        provider: &ProviderId,
        windows: &[Window],
        expected: Option<u64>,
    ) -> Result<AddedSlots> {
        let now = self.now();
        let mut starts = Vec::new();
        for (index, window) in windows.iter().enumerate() {
            starts.extend(normalize(&self.policy, window, index, now)?.starts());
        }
        starts.sort_unstable();
        starts.dedup();
        let write = self.store.add_slots(provider, &starts, expected).await?;
        let (added, version) = applied(write, provider, expected)?;
        Ok(AddedSlots {
            added: added
                .into_iter()
                .map(|start| self.slot(provider, start))
                .collect(),
            version,
        })
    }

    async fn withdraw(
        &self,
        provider: &ProviderId,
        range: TimeRange,
        expected: Option<u64>,
    ) -> Result<Withdrawal> {
        let now = self.now();
        let write = match self.bounds(range.from(), range.to()) {
            Some(bounds) => {
                self.store
                    .withdraw_slots(provider, bounds, expected, now)
                    .await?
            }
            // No slot can start in the range: nothing to remove, but the
            // precondition is still answered.
            None => {
                let current = self.store.calendar_version(provider).await?;
                match expected {
                    Some(expected) if expected != current => {
                        CalendarWrite::VersionMismatch { current }
                    }
                    _ => CalendarWrite::Applied {
                        outcome: StoreWithdrawal::default(),
                        version: current,
                    },
                }
            }
        };
        let (outcome, version) = applied(write, provider, expected)?;
        Ok(Withdrawal {
            removed: outcome
                .removed
                .into_iter()
                .map(|start| self.slot(provider, start))
                .collect(),
            conflicts: outcome
                .conflicts
                .into_iter()
                .map(|r| r.observed_at(now))
                .collect(),
            version,
        })
    }

    /// `provider`'s reservable slots starting in the query's range: at least the
    /// minimum lead after now, neither booked nor under an unexpired hold; in
    /// order of start, one page at a time.
    pub async fn list_slots(&self, provider: &ProviderId, query: ListQuery) -> Result<Page<Slot>> {
        let now = self.now();
        let Some((bounds, limit)) = self.slot_page_request(&query, now)? else {
            return Ok(Page::default());
        };
        let starts = self
            .store
            .free_slots(provider, bounds, limit + 1, now)
            .await?;
        Ok(self.slot_page(provider, starts, limit))
    }

    /// [`list_slots`](Self::list_slots) with the calendar's version, read no
    /// later than the page (in one round trip where the store can): the
    /// version a client may send back to make a write conditional. A write
    /// landing in between makes the version older than the page, so that a
    /// conditional write fails safe rather than blessing a page never seen.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use scheduler_core::{ListQuery, ManualClock, Policy, ProviderId, Scheduler, Window};
    /// # use scheduler_memory::MemoryStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
    /// let scheduler = Scheduler::new(MemoryStore::new(), clock, Policy::default());
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// let day = Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap();
    /// let window = Window::new(day, day + chrono::TimeDelta::hours(1)).unwrap();
    /// scheduler.add_availability(&provider, &[window]).await.unwrap();
    ///
    /// let (version, page) = scheduler
    ///     .list_slots_versioned(&provider, ListQuery::all())
    ///     .await
    ///     .unwrap();
    /// assert_eq!((version, page.items.len()), (1, 4));
    /// # });
    /// ```
    pub async fn list_slots_versioned(
        &self,
        provider: &ProviderId,
        query: ListQuery,
    ) -> Result<(u64, Page<Slot>)> {
        let now = self.now();
        let Some((bounds, limit)) = self.slot_page_request(&query, now)? else {
            let version = self.store.calendar_version(provider).await?;
            return Ok((version, Page::default()));
        };
        let (version, starts) = self
            .store
            .versioned_free_slots(provider, bounds, limit + 1, now)
            .await?;
        Ok((version, self.slot_page(provider, starts, limit)))
    }

    /// The slot bounds and page size a listing asks the store for, one more
    /// than the page to learn whether another follows; `None` when the page
    /// is empty whatever the store holds.
    fn slot_page_request(
        &self,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Option<(SlotBounds, usize)>> {
        let limit = self.policy.page_size(query.limit)? as usize;
        let mut from = query.range.from().max(self.earliest_reservable(now));
        if let Some(cursor) = &query.cursor {
            let after = cursor::parse_slot(cursor, self.policy.grid())?;
            match after.next(self.policy.grid()) {
                Some(next) => from = from.max(next.instant()),
                None => return Ok(None),
            }
        }
        Ok(self
            .bounds(from, query.range.to())
            .map(|bounds| (bounds, limit)))
    }

    /// A page of `limit` slots from `starts` (which may hold one more, the
    /// sign that another page follows).
    fn slot_page(
        &self,
        provider: &ProviderId,
        mut starts: Vec<DateTime<Utc>>,
        limit: usize,
    ) -> Page<Slot> {
        let next_cursor = if starts.len() > limit {
            starts.truncate(limit);
            starts
                .last()
                .and_then(|&t| self.policy.grid().slot_at(t))
                .map(cursor::after_slot)
        } else {
            None
        };
        let items = starts
            .into_iter()
            .map(|start| self.slot(provider, start))
            .collect();
        Page { items, next_cursor }
    }

    /// Places a hold on the slot for `client`, lasting the policy's hold time.
    ///
    /// With an idempotency `key`, a repeat of the same request returns the
    /// original reservation (as it stands now), and the same key for another
    /// slot is an [`Error::IdempotencyConflict`].
    pub async fn reserve(
        &self,
        slot: &SlotId,
        client: &ClientId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Reservation> {
        let now = self.now();
        if let Some(key) = key
            && let Some(original) = self.store.reservation_by_key(client, key).await?
        {
            return replay(original, slot, key, now);
        }
        let start = self
            .policy
            .grid()
            .slot_at(slot.start())
            .ok_or_else(|| Error::SlotNotFound { slot: slot.clone() })?;
        self.check_lead_time(slot, now)?;
        let reservation = Reservation {
            id: ReservationId::generate(),
            slot_id: slot.clone(),
            provider_id: slot.provider().clone(),
            client_id: client.clone(),
            start: start.instant(),
            end: self.policy.grid().end_of(start),
            status: ReservationStatus::Held,
            created_at: now,
            expires_at: saturating_add(now, self.policy.hold_ttl()),
            confirmed_at: None,
        };
        let request = HoldRequest {
            reservation: &reservation,
            slot: start,
            key,
        };
        match self.store.hold(request, now).await? {
            HoldOutcome::Held(held) => Ok(held),
            HoldOutcome::NoSuchSlot => Err(Error::SlotNotFound { slot: slot.clone() }),
            HoldOutcome::SlotTaken => Err(Error::SlotUnavailable { slot: slot.clone() }),
            HoldOutcome::KeyUsed(original) => match key {
                Some(key) => replay(original, slot, key, now),
                None => Err(Error::storage(
                    "the store reported a used key for a request without one",
                )),
            },
        }
    }

    /// Confirms `client`'s hold while it is unexpired (`now < expires_at`).
    /// Confirming a confirmed reservation returns it unchanged.
    pub async fn confirm(&self, id: ReservationId, client: &ClientId) -> Result<Reservation> {
        let now = self.now();
        let reservation = self
            .party_reservation(id, &Actor::Client(client.clone()))
            .await?;
        if reservation.status_at(now) != ReservationStatus::Held {
            return settled(reservation, now, ReservationStatus::Confirmed);
        }
        match self.store.confirm(id, now).await? {
            Some(confirmed) => Ok(confirmed),
            None => {
                self.after_lost_race(id, now, ReservationStatus::Confirmed)
                    .await
            }
        }
    }

    /// Cancels a held or confirmed reservation, by its client or its slot's
    /// provider; the slot is free at once. Cancelling again returns it unchanged.
    pub async fn cancel(&self, id: ReservationId, actor: &Actor) -> Result<Reservation> {
        let now = self.now();
        let reservation = self.party_reservation(id, actor).await?;
        if !reservation.is_live_at(now) {
            return settled(reservation, now, ReservationStatus::Cancelled);
        }
        match self.store.cancel(id, now).await? {
            Some(cancelled) => Ok(cancelled),
            None => {
                self.after_lost_race(id, now, ReservationStatus::Cancelled)
                    .await
            }
        }
    }

    /// The reservation, as it stands now, for its client or its slot's provider.
    pub async fn reservation(&self, id: ReservationId, actor: &Actor) -> Result<Reservation> {
        let now = self.now();
        Ok(self.party_reservation(id, actor).await?.observed_at(now))
    }

    /// `provider`'s reservations whose slots start in the query's range, every
    /// status included, ordered by start.
    pub async fn provider_reservations(
        &self,
        provider: &ProviderId,
        query: ListQuery,
    ) -> Result<Page<Reservation>> {
        let now = self.now();
        let Some(page) = self.reservation_page(&query)? else {
            return Ok(Page::default());
        };
        let found = self.store.provider_reservations(provider, page).await?;
        Ok(self.reservations_page(found, page.limit, now))
    }

    /// `client`'s reservations whose slots start in the query's range, every
    /// status included, ordered by start.
    pub async fn client_reservations(
        &self,
        client: &ClientId,
        query: ListQuery,
    ) -> Result<Page<Reservation>> {
        let now = self.now();
        let Some(page) = self.reservation_page(&query)? else {
            return Ok(Page::default());
        };
        let found = self.store.client_reservations(client, page).await?;
        Ok(self.reservations_page(found, page.limit, now))
    }

    /// Marks up to `batch` due holds as expired in storage; returns how many.
    ///
    /// Only tidies: a due hold already reads as expired everywhere.
    pub async fn expire_due(&self, batch: usize) -> Result<u64> {
        let now = self.now();
        self.store.expire_due(now, batch).await
    }

    /// The instant of one operation: the clock read once, at whole microseconds
    /// so that every backend stores the instants it is given exactly.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The minimum-lead rule: a slot may be reserved while `start - now >= min_lead`.
    fn check_lead_time(&self, slot: &SlotId, now: DateTime<Utc>) -> Result<()> {
        if slot.start() < self.earliest_reservable(now) {
            return Err(Error::LeadTime {
                slot: slot.clone(),
                start: slot.start(),
                now,
                min_lead: self.policy.min_lead(),
            });
        }
        Ok(())
    }

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

    fn slot(&self, provider: &ProviderId, start: DateTime<Utc>) -> Slot {
        Slot {
            id: SlotId::new(provider.clone(), start),
            provider_id: provider.clone(),
            start,
            end: self.policy.grid().end_after(start),
        }
    }

    async fn stored(&self, id: ReservationId) -> Result<Reservation> {
        self.store
            .reservation(id)
            .await?
            .ok_or(Error::ReservationNotFound { reservation: id })
    }

    /// The reservation, if `actor` is its client or its slot's provider.
    async fn party_reservation(&self, id: ReservationId, actor: &Actor) -> Result<Reservation> {
        let reservation = self.stored(id).await?;
        if !actor.is_party_to(&reservation) {
            return Err(Error::Forbidden { reservation: id });
        }
        Ok(reservation)
    }

    /// A conditional update matched nothing: another writer got there first, so
    /// the reservation is read again and judged as it now stands.
    async fn after_lost_race(
        &self,
        id: ReservationId,
        now: DateTime<Utc>,
        goal: ReservationStatus,
    ) -> Result<Reservation> {
        settled(self.stored(id).await?, now, goal)
    }

    fn reservation_page(&self, query: &ListQuery) -> Result<Option<ReservationPage>> {
        let limit = self.policy.page_size(query.limit)? as usize;
        let after = match &query.cursor {
            Some(text) => Some(cursor::parse_reservation(text, self.policy.grid())?),
            None => None,
        };
        Ok(self
            .bounds(query.range.from(), query.range.to())
            .map(|bounds| ReservationPage {
                bounds,
                after,
                limit: limit + 1,
            }))
    }

    fn reservations_page(
        &self,
        mut found: Vec<Reservation>,
        asked: usize,
        now: DateTime<Utc>,
    ) -> Page<Reservation> {
        let limit = asked - 1;
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found.last().and_then(|r| {
                let start = self.policy.grid().slot_at(r.start)?;
                Some(cursor::after_reservation(start, r.id))
            })
        } else {
            None
        };
        Page {
            items: found.into_iter().map(|r| r.observed_at(now)).collect(),
            next_cursor,
        }
    }
}

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

/// Idempotent replay: the key's original reservation if it was for this slot.
fn replay(
    original: Reservation,
    slot: &SlotId,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    if original.slot_id == *slot {
        Ok(original.observed_at(now))
    } else {
        Err(Error::IdempotencyConflict {
            key: key.as_str().to_owned(),
            original_slot: original.slot_id,
            reservation: original.id,
        })
    }
}

/// The answer for a reservation that can no longer move: already at `goal`
/// (returned unchanged, making the operation idempotent), or the refusal.
fn settled(
    reservation: Reservation,
    now: DateTime<Utc>,
    goal: ReservationStatus,
) -> Result<Reservation> {
    let id = reservation.id;
    match reservation.status_at(now) {
        status if status == goal => Ok(reservation.observed_at(now)),
        ReservationStatus::Cancelled => Err(Error::Cancelled { reservation: id }),
        ReservationStatus::Expired => Err(Error::HoldExpired {
            reservation: id,
            expired_at: reservation.expires_at,
        }),
        // Still movable: the store refused a change the rules allow, which only
        // a broken backend does.
        status @ (ReservationStatus::Held | ReservationStatus::Confirmed) => {
            Err(Error::storage(format!(
                "the store refused to make reservation {id} {} although it is {}",
                goal.as_str(),
                status.as_str()
            )))
        }
    }
}
