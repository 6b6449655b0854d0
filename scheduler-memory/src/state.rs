//! The indexed state behind the lock, and each primitive as a plain method on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarWrite, HoldOutcome, HoldRequest, ReservationPage, SlotBounds, StoreWithdrawal,
};
use scheduler_core::{
    ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, ReservationStatus, SlotStart,
};

/// One provider's slots: start (epoch seconds) to the reservation that last
/// occupied it, if it may still be live. A stale occupant (an expired hold) is
/// judged at read time and overwritten by the next hold.
type Calendar = BTreeMap<i64, Option<ReservationId>>;

/// A position in a reservation listing: slot start (epoch seconds), then id.
type Position = (i64, ReservationId);

#[derive(Debug, Default)]
pub(crate) struct State {
    calendars: HashMap<ProviderId, Calendar>,
    /// Each provider's calendar version; absent means 0.
    versions: HashMap<ProviderId, u64>,
    reservations: HashMap<ReservationId, Reservation>,
    keys: HashMap<ClientId, HashMap<IdempotencyKey, ReservationId>>,
    /// Holds still stored as `held`, by expiry: what the sweeper walks.
    holds_by_expiry: BTreeSet<(DateTime<Utc>, ReservationId)>,
    by_provider: HashMap<ProviderId, BTreeSet<Position>>,
    by_client: HashMap<ClientId, BTreeSet<Position>>,
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("slot starts come from valid instants")
}

impl State {
    pub(crate) fn slot_count(&self) -> usize {
        self.calendars.values().map(BTreeMap::len).sum()
    }

    pub(crate) fn reservation(&self, id: ReservationId) -> Option<&Reservation> {
        self.reservations.get(&id)
    }

    pub(crate) fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Option<&Reservation> {
        let id = self.keys.get(client)?.get(key)?;
        self.reservations.get(id)
    }

    fn occupied(
        &self,
        occupant: Option<ReservationId>,
        now: DateTime<Utc>,
    ) -> Option<&Reservation> {
        occupant
            .and_then(|id| self.reservations.get(&id))
            .filter(|r| r.is_live_at(now))
    }

    pub(crate) fn calendar_version(&self, provider: &ProviderId) -> u64 {
        self.versions.get(provider).copied().unwrap_or(0)
    }

    /// Counts a change of the provider's stored schedule; returns the new version.
    pub(crate) fn bump_version(&mut self, provider: &ProviderId) -> u64 {
        let version = self.versions.entry(provider.clone()).or_insert(0);
        *version += 1;
        *version
    }

    /// The version check every calendar write starts with.
    fn check_version(&self, provider: &ProviderId, expected: Option<u64>) -> Result<(), u64> {
        let current = self.calendar_version(provider);
        match expected {
            Some(expected) if expected != current => Err(current),
            _ => Ok(()),
        }
    }

    /// Bumps the version if the write changed anything, and reports it.
    fn written<T>(&mut self, provider: &ProviderId, changed: bool, outcome: T) -> CalendarWrite<T> {
        let version = self.versions.entry(provider.clone()).or_insert(0);
        *version += u64::from(changed);
        CalendarWrite::Applied {
            outcome,
            version: *version,
        }
    }

    pub(crate) fn add_slots(
        &mut self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> CalendarWrite<Vec<DateTime<Utc>>> {
        if let Err(current) = self.check_version(provider, expected) {
            return CalendarWrite::VersionMismatch { current };
        }
        let calendar = self.calendars.entry(provider.clone()).or_default();
        let mut added = Vec::new();
        for start in starts {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                calendar.entry(start.timestamp())
            {
                slot.insert(None);
                added.push(start.instant());
            }
        }
        self.written(provider, !added.is_empty(), added)
    }

    pub(crate) fn withdraw_slots(
        &mut self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> CalendarWrite<StoreWithdrawal> {
        if let Err(current) = self.check_version(provider, expected) {
            return CalendarWrite::VersionMismatch { current };
        }
        let mut outcome = StoreWithdrawal::default();
        let mut free = Vec::new();
        if let Some(calendar) = self.calendars.get(provider) {
            for (&start, &occupant) in
                calendar.range(bounds.from.timestamp()..bounds.to.timestamp())
            {
                match self.occupied(occupant, now) {
                    Some(reservation) => outcome.conflicts.push(reservation.clone()),
                    None => free.push(start),
                }
            }
        }
        if let Some(calendar) = self.calendars.get_mut(provider) {
            for &start in &free {
                calendar.remove(&start);
                outcome.removed.push(instant(start));
            }
        }
        self.written(provider, !free.is_empty(), outcome)
    }

    pub(crate) fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let Some(calendar) = self.calendars.get(provider) else {
            return Vec::new();
        };
        calendar
            .range(bounds.from.timestamp()..bounds.to.timestamp())
            .filter(|&(_, &occupant)| self.occupied(occupant, now).is_none())
            .take(limit)
            .map(|(&start, _)| instant(start))
            .collect()
    }

    pub(crate) fn hold(&mut self, request: HoldRequest<'_>, now: DateTime<Utc>) -> HoldOutcome {
        let new = request.reservation;
        if let Some(key) = request.key
            && let Some(original) = self.reservation_by_key(&new.client_id, key)
        {
            return HoldOutcome::KeyUsed(original.clone());
        }
        let start = request.slot.timestamp();
        let Some(&occupant) = self
            .calendars
            .get(&new.provider_id)
            .and_then(|c| c.get(&start))
        else {
            return HoldOutcome::NoSuchSlot;
        };
        if self.occupied(occupant, now).is_some() {
            return HoldOutcome::SlotTaken;
        }
        let id = new.id;
        if let Some(slot) = self
            .calendars
            .get_mut(&new.provider_id)
            .and_then(|c| c.get_mut(&start))
        {
            *slot = Some(id);
        }
        if let Some(key) = request.key {
            self.keys
                .entry(new.client_id.clone())
                .or_default()
                .insert(key.clone(), id);
        }
        self.holds_by_expiry.insert((new.expires_at, id));
        self.by_provider
            .entry(new.provider_id.clone())
            .or_default()
            .insert((start, id));
        self.by_client
            .entry(new.client_id.clone())
            .or_default()
            .insert((start, id));
        self.reservations.insert(id, new.clone());
        HoldOutcome::Held(new.clone())
    }

    pub(crate) fn confirm(&mut self, id: ReservationId, now: DateTime<Utc>) -> Option<Reservation> {
        let reservation = self.reservations.get_mut(&id)?;
        if reservation.status != ReservationStatus::Held || reservation.expires_at <= now {
            return None;
        }
        reservation.status = ReservationStatus::Confirmed;
        reservation.confirmed_at = Some(now);
        self.holds_by_expiry.remove(&(reservation.expires_at, id));
        Some(reservation.clone())
    }

    pub(crate) fn cancel(&mut self, id: ReservationId, now: DateTime<Utc>) -> Option<Reservation> {
        let reservation = self.reservations.get_mut(&id)?;
        if !reservation.is_live_at(now) {
            return None;
        }
        if reservation.status == ReservationStatus::Held {
            self.holds_by_expiry.remove(&(reservation.expires_at, id));
        }
        reservation.status = ReservationStatus::Cancelled;
        let cancelled = reservation.clone();
        self.vacate(&cancelled);
        Some(cancelled)
    }

    pub(crate) fn expire_due(&mut self, now: DateTime<Utc>, batch: usize) -> u64 {
        let due: Vec<_> = self
            .holds_by_expiry
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= now)
            .take(batch)
            .copied()
            .collect();
        for entry in &due {
            self.holds_by_expiry.remove(entry);
            if let Some(reservation) = self.reservations.get_mut(&entry.1) {
                reservation.status = ReservationStatus::Expired;
                let expired = reservation.clone();
                self.vacate(&expired);
            }
        }
        due.len() as u64
    }

    /// Clears the slot's occupant if it is still this reservation.
    fn vacate(&mut self, reservation: &Reservation) {
        let slot = self
            .calendars
            .get_mut(&reservation.provider_id)
            .and_then(|c| c.get_mut(&reservation.start.timestamp()));
        if let Some(occupant) = slot
            && *occupant == Some(reservation.id)
        {
            *occupant = None;
        }
    }

    pub(crate) fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Vec<Reservation> {
        self.page(self.by_provider.get(provider), page)
    }

    pub(crate) fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Vec<Reservation> {
        self.page(self.by_client.get(client), page)
    }

    fn page(&self, index: Option<&BTreeSet<Position>>, page: ReservationPage) -> Vec<Reservation> {
        let Some(index) = index else {
            return Vec::new();
        };
        let lowest = ReservationId::from_u128(0);
        let floor = (page.bounds.from.timestamp(), lowest);
        let lower = match page.after {
            Some((start, id)) if (start.timestamp(), id) >= floor => {
                Bound::Excluded((start.timestamp(), id))
            }
            _ => Bound::Included(floor),
        };
        let upper = Bound::Excluded((page.bounds.to.timestamp(), lowest));
        if matches!((&lower, &upper), (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) if l >= u)
        {
            return Vec::new();
        }
        index
            .range((lower, upper))
            .take(page.limit)
            .filter_map(|(_, id)| self.reservations.get(id).cloned())
            .collect()
    }
}
