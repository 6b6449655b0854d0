//! The indexed state behind the lock, and each primitive as a plain method on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use scheduler_core::store::{
    CalendarWrite, HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, SlotBounds,
    StoreWithdrawal,
};
use scheduler_core::{
    Claim, ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, ReservationStatus,
    SlotId, SlotStart,
};

/// A position in a reservation listing: slot start (epoch seconds), then id.
type Position = (i64, ReservationId);

/// A map keyed by reservation id, hashed by [`IdHasher`].
type ById<V> = HashMap<ReservationId, V, BuildHasherDefault<IdHasher>>;

/// Hashes a reservation id by its low 64 bits. Ids are 128 bits that the
/// scheduler draws from a randomly keyed hash, never chosen by a client, so
/// they are already spread evenly and need no keyed hash of their own; every
/// reserve, confirm and listed occupant looks one up.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, n: u128) {
        self.0 ^= n as u64;
    }

    // Only reached if the id's `Hash` ever writes something other than its
    // number: fold the bytes in, FNV-1a style, so it still hashes well.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Everything kept about one provider.
///
/// Slots are a bare set of starts (epoch seconds), so a free slot costs only
/// its key in a B-tree leaf. Claims sit in a side map from the start of each
/// blocked span to the rest of it: one entry per reservation stored as held
/// or confirmed, whatever its length, and nothing else. Its cells need not
/// be slots (buffers need no availability). A stale claim (a lapsed hold's)
/// is judged at read time and retired by the next hold that needs one of
/// its cells.
///
/// The stored spans never intersect: a claim goes in only once every claim
/// it meets has been retired (see `State::clear_for`). So they are ordered by
/// their ends as by their starts, and the spans meeting a range are the one
/// that starts before it, if it reaches in, then those starting inside it.
#[derive(Debug, Default)]
struct Calendar {
    /// The calendar version; 0 until a write changes the set of slots or the
    /// stored schedule.
    version: u64,
    starts: BTreeSet<i64>,
    claims: BTreeMap<i64, Blocked>,
    /// The provider's reservations, every status, for its listing.
    reservations: BTreeSet<Position>,
}

/// The rest of a claim keyed by the start of its blocked span.
#[derive(Debug, Clone, Copy)]
struct Blocked {
    /// The end of the blocked span, exclusive.
    end: i64,
    /// The length of its cells, so that they can be listed one by one.
    step: i64,
    id: ReservationId,
}

impl Calendar {
    /// The slots starting in `[from, to)` with their occupant, in order: one
    /// walk over both maps in step, so a page costs `O(log n + page)`.
    fn slots(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, Option<ReservationId>)> {
        let starts = self.starts.range(from..to.max(from));
        let mut claims = self.claims(from, to).peekable();
        starts.map(move |&start| {
            // Both walks ascend; claims that end before the slot (on
            // buffers, between slots) are passed over on the way.
            while claims
                .next_if(|&(_, blocked)| blocked.end <= start)
                .is_some()
            {}
            let occupant = claims
                .peek()
                .filter(|&&(first, _)| first <= start)
                .map(|(_, blocked)| blocked.id);
            (start, occupant)
        })
    }

    /// The claims whose blocked span meets `[from, to)`, ascending.
    fn claims(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, Blocked)> + '_ {
        let reaching_in = self
            .claims
            .range(..from)
            .next_back()
            .filter(|(_, blocked)| blocked.end > from);
        let range = match reaching_in {
            _ if from >= to => from..from,
            Some((&first, _)) => first..to,
            None => from..to,
        };
        self.claims
            .range(range)
            .map(|(&first, &blocked)| (first, blocked))
    }

    /// Whether every slot of `[from, to)`, `count` of them, is published.
    fn publishes(&self, from: i64, to: i64, count: usize) -> bool {
        from < to && self.starts.range(from..to).count() == count
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    calendars: HashMap<ProviderId, Calendar>,
    reservations: ById<Reservation>,
    keys: HashMap<ClientId, HashMap<IdempotencyKey, ReservationId>>,
    /// Holds still stored as `held`, by expiry: what the sweeper walks.
    holds_by_expiry: BTreeSet<(DateTime<Utc>, ReservationId)>,
    by_client: HashMap<ClientId, BTreeSet<Position>>,
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("slot starts come from valid instants")
}

const DAY_SECONDS: i64 = 24 * 60 * 60;

/// Turns ascending slot starts into instants, keeping the date of the last
/// one: a page's starts mostly share a day, and deriving a date from a day
/// number is the costly part of chrono's conversion.
#[derive(Debug, Default)]
struct Instants {
    last: Option<(i64, NaiveDate)>,
}

impl Instants {
    fn at(&mut self, secs: i64) -> DateTime<Utc> {
        let day = secs.div_euclid(DAY_SECONDS);
        let date = match self.last {
            Some((last, date)) if last == day => date,
            _ => {
                let date = instant(secs).naive_utc().date();
                self.last = Some((day, date));
                date
            }
        };
        // The remainder is under a day, so the time always exists.
        match NaiveTime::from_num_seconds_from_midnight_opt(secs.rem_euclid(DAY_SECONDS) as u32, 0)
        {
            Some(time) => date.and_time(time).and_utc(),
            None => instant(secs),
        }
    }
}

/// Why a claim cannot go in.
enum Refusal {
    /// A slot of the appointment is not published.
    NoSuchSlot,
    /// A live reservation blocks a cell.
    Taken,
}

/// The reservation `occupant` names, if it holds its slot at `now`.
fn live(
    reservations: &ById<Reservation>,
    occupant: Option<ReservationId>,
    now: DateTime<Utc>,
) -> Option<&Reservation> {
    occupant
        .and_then(|id| reservations.get(&id))
        .filter(|r| r.is_live_at(now))
}

/// Frees the cells `reservation` blocks.
fn vacate(calendars: &mut HashMap<ProviderId, Calendar>, reservation: &Reservation) {
    if let Some(calendar) = calendars.get_mut(&reservation.provider_id) {
        release(calendar, reservation);
    }
}

/// Frees the cells of `calendar` that `reservation` blocks.
fn release(calendar: &mut Calendar, reservation: &Reservation) {
    let first = reservation.blocked_start.timestamp();
    if calendar
        .claims
        .get(&first)
        .is_some_and(|blocked| blocked.id == reservation.id)
    {
        calendar.claims.remove(&first);
    }
}

/// Marks `reservation`'s cells in `calendar` as blocked by it.
fn claim(calendar: &mut Calendar, reservation: &Reservation, claim: &Claim) {
    let span = claim.blocked();
    let (first, end) = (span.first().timestamp(), span.end().timestamp());
    let blocked = Blocked {
        end,
        step: (end - first) / span.len().max(1) as i64,
        id: reservation.id,
    };
    calendar.claims.insert(first, blocked);
}

impl State {
    pub(crate) fn slot_count(&self) -> usize {
        self.calendars.values().map(|c| c.starts.len()).sum()
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

    pub(crate) fn calendar_version(&self, provider: &ProviderId) -> u64 {
        self.calendars.get(provider).map_or(0, |c| c.version)
    }

    /// Counts a change of the provider's stored schedule; returns the new version.
    pub(crate) fn bump_version(&mut self, provider: &ProviderId) -> u64 {
        let calendar = self.calendars.entry(provider.clone()).or_default();
        calendar.version += 1;
        calendar.version
    }

    /// The version check every calendar write starts with.
    fn check_version(&self, provider: &ProviderId, expected: Option<u64>) -> Result<(), u64> {
        let current = self.calendar_version(provider);
        match expected {
            Some(expected) if expected != current => Err(current),
            _ => Ok(()),
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
            if calendar.starts.insert(start.timestamp()) {
                added.push(start.instant());
            }
        }
        calendar.version += u64::from(!added.is_empty());
        CalendarWrite::Applied {
            outcome: added,
            version: calendar.version,
        }
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
        let Some(calendar) = self.calendars.get_mut(provider) else {
            return CalendarWrite::Applied {
                outcome: StoreWithdrawal::default(),
                version: 0,
            };
        };
        let mut outcome = StoreWithdrawal::default();
        let mut free = Vec::new();
        for (start, occupant) in calendar.slots(bounds.from.timestamp(), bounds.to.timestamp()) {
            // Kept only inside an appointment: a slot under a buffer goes.
            match live(&self.reservations, occupant, now)
                .filter(|r| r.start.timestamp() <= start && start < r.end.timestamp())
            {
                Some(reservation) => {
                    if outcome.conflicts.last().map(|r| r.id) != Some(reservation.id) {
                        outcome.conflicts.push(reservation.clone());
                    }
                }
                None => free.push(start),
            }
        }
        for &start in &free {
            // A stale claim on the cell stays: the next hold there retires it.
            calendar.starts.remove(&start);
            outcome.removed.push(instant(start));
        }
        calendar.version += u64::from(!free.is_empty());
        CalendarWrite::Applied {
            outcome,
            version: calendar.version,
        }
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
        // A page is small and bounded by the policy: reserve it at once.
        let mut free = Vec::with_capacity(limit.min(1024));
        let mut instants = Instants::default();
        free.extend(
            calendar
                .slots(bounds.from.timestamp(), bounds.to.timestamp())
                .filter(|&(_, occupant)| live(&self.reservations, occupant, now).is_none())
                .take(limit)
                .map(|(start, _)| instants.at(start)),
        );
        free
    }

    pub(crate) fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let Some(calendar) = self.calendars.get(provider) else {
            return Vec::new();
        };
        let (from, to) = (bounds.from.timestamp(), bounds.to.timestamp());
        calendar
            .claims(from, to)
            .filter(|(_, blocked)| live(&self.reservations, Some(blocked.id), now).is_some())
            .flat_map(|(first, blocked)| {
                // The first of its cells at or after `from`.
                let skipped = (from - first).max(0);
                let first = first + (skipped + blocked.step - 1) / blocked.step * blocked.step;
                (first..blocked.end.min(to)).step_by(blocked.step as usize)
            })
            .map(instant)
            .collect()
    }

    /// Whether a reservation other than `except`, live at `now`, blocks a
    /// cell of `claim`; if none does, retires the lapsed holds that still
    /// claim any, as the SQL stores do in the same statement, so that none
    /// can ever read as live beside the new claim, not even to a clock set
    /// back.
    fn clear_for(
        &mut self,
        provider: &ProviderId,
        claim: &Claim,
        except: Option<ReservationId>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let Some(calendar) = self.calendars.get(provider) else {
            return Err(Refusal::NoSuchSlot);
        };
        let occupied = claim.occupied();
        let (from, to) = (occupied.first().timestamp(), occupied.end().timestamp());
        if !calendar.publishes(from, to, occupied.len()) {
            return Err(Refusal::NoSuchSlot);
        }
        let (from, to) = claim.blocked_range();
        let mut lapsed = Vec::new();
        for (_, Blocked { id, .. }) in calendar.claims(from.timestamp(), to.timestamp()) {
            if Some(id) == except {
                continue;
            }
            match live(&self.reservations, Some(id), now) {
                Some(_) => return Err(Refusal::Taken),
                None => lapsed.push(id),
            }
        }
        for id in lapsed {
            if let Some(old) = self.reservations.get_mut(&id) {
                if old.status == ReservationStatus::Held {
                    old.status = ReservationStatus::Expired;
                    self.holds_by_expiry.remove(&(old.expires_at, id));
                }
                vacate(&mut self.calendars, old);
            }
        }
        Ok(())
    }

    pub(crate) fn hold(&mut self, request: HoldRequest<'_>, now: DateTime<Utc>) -> HoldOutcome {
        let new = request.reservation;
        if let Some(key) = request.key
            && let Some(original) = self.reservation_by_key(&new.client_id, key)
        {
            return HoldOutcome::KeyUsed(original.clone());
        }
        match self.clear_for(&new.provider_id, &request.claim, None, now) {
            Ok(()) => {}
            Err(Refusal::NoSuchSlot) => return HoldOutcome::NoSuchSlot,
            Err(Refusal::Taken) => return HoldOutcome::SlotTaken,
        }
        let Some(calendar) = self.calendars.get_mut(&new.provider_id) else {
            return HoldOutcome::NoSuchSlot;
        };
        let start = new.start.timestamp();
        let id = new.id;
        claim(calendar, new, &request.claim);
        calendar.reservations.insert((start, id));
        if let Some(key) = request.key {
            self.keys
                .entry(new.client_id.clone())
                .or_default()
                .insert(key.clone(), id);
        }
        self.holds_by_expiry.insert((new.expires_at, id));
        self.by_client
            .entry(new.client_id.clone())
            .or_default()
            .insert((start, id));
        self.reservations.insert(id, new.clone());
        HoldOutcome::Held(new.clone())
    }

    pub(crate) fn reschedule(
        &mut self,
        id: ReservationId,
        slot: &SlotId,
        to: &Claim,
        now: DateTime<Utc>,
    ) -> RescheduleOutcome {
        let Some(reservation) = self.reservations.get(&id).filter(|r| r.is_live_at(now)) else {
            return RescheduleOutcome::NotLive;
        };
        let provider = reservation.provider_id.clone();
        match self.clear_for(&provider, to, Some(id), now) {
            Ok(()) => {}
            Err(Refusal::NoSuchSlot) => return RescheduleOutcome::NoSuchSlot,
            Err(Refusal::Taken) => return RescheduleOutcome::SlotTaken,
        }
        let (Some(calendar), Some(reservation)) = (
            self.calendars.get_mut(&provider),
            self.reservations.get_mut(&id),
        ) else {
            return RescheduleOutcome::NotLive;
        };
        let (old, new) = (reservation.start.timestamp(), to.start().timestamp());
        release(calendar, reservation);
        claim(calendar, reservation, to);
        calendar.reservations.remove(&(old, id));
        calendar.reservations.insert((new, id));
        if let Some(positions) = self.by_client.get_mut(&reservation.client_id) {
            positions.remove(&(old, id));
            positions.insert((new, id));
        }
        let (blocked_start, blocked_end) = to.blocked_range();
        reservation.slot_id = slot.clone();
        reservation.start = to.start().instant();
        reservation.end = to.occupied().end();
        reservation.blocked_start = blocked_start;
        reservation.blocked_end = blocked_end;
        RescheduleOutcome::Moved(reservation.clone())
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
        vacate(&mut self.calendars, reservation);
        Some(reservation.clone())
    }

    pub(crate) fn expire_due(&mut self, now: DateTime<Utc>, batch: usize) -> u64 {
        let mut expired = 0;
        while expired < batch as u64
            && let Some(&(expires_at, id)) = self.holds_by_expiry.first()
            && expires_at <= now
        {
            self.holds_by_expiry.pop_first();
            if let Some(reservation) = self.reservations.get_mut(&id) {
                reservation.status = ReservationStatus::Expired;
                vacate(&mut self.calendars, reservation);
            }
            expired += 1;
        }
        expired
    }

    pub(crate) fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Vec<Reservation> {
        self.page(self.calendars.get(provider).map(|c| &c.reservations), page)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hash_to_their_low_bits() {
        use std::hash::{BuildHasher, Hash};
        let build = BuildHasherDefault::<IdHasher>::default();
        let id = ReservationId::from_u128((7 << 64) | 42);
        assert_eq!(build.hash_one(id), 42);
        let mut bytes = IdHasher::default();
        [1u8, 2].hash(&mut bytes);
        assert_ne!(bytes.finish(), 0, "other writes are folded in");
    }

    #[test]
    fn a_claim_reaching_into_a_range_is_found_and_covers_its_slots() {
        let (a, b) = (ReservationId::from_u128(1), ReservationId::from_u128(2));
        let mut calendar = Calendar::default();
        calendar.starts.extend((0..8).map(|i| i * 900));
        let blocked = |end, id| Blocked { end, step: 900, id };
        // `a` blocks 0..3600 (four cells); `b` one cell after a gap.
        calendar.claims.insert(0, blocked(3600, a));
        calendar.claims.insert(4500, blocked(5400, b));
        let ids = |from, to| -> Vec<ReservationId> {
            calendar.claims(from, to).map(|(_, c)| c.id).collect()
        };
        assert_eq!(ids(2700, 4500), vec![a], "reaches in from before");
        assert_eq!(
            ids(3600, 4500),
            Vec::<ReservationId>::new(),
            "ends where the range starts"
        );
        assert_eq!(ids(3600, 4501), vec![b]);
        assert_eq!(ids(900, 5400), vec![a, b]);
        assert_eq!(
            ids(4500, 900),
            Vec::<ReservationId>::new(),
            "an empty range"
        );
        let slots: Vec<_> = calendar.slots(1800, 7200).collect();
        assert_eq!(
            slots,
            vec![
                (1800, Some(a)),
                (2700, Some(a)),
                (3600, None),
                (4500, Some(b)),
                (5400, None),
                (6300, None),
            ]
        );
    }

    #[test]
    fn instants_match_chrono_across_days_and_the_epoch() {
        let mut instants = Instants::default();
        // Quarter hours from two days before the epoch to two days after,
        // then a jump far ahead and one back into the same day.
        let starts = (-192..192)
            .map(|i| i * 900)
            .chain([1_900_000_800, 1_900_001_700, -900]);
        for secs in starts {
            assert_eq!(instants.at(secs), instant(secs), "{secs}");
        }
    }
}
