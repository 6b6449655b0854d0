//! Proves, by random operation sequences checked against a small reference model, that
//! `Scheduler<MemoryStore, ManualClock>` answers every operation as the design says and
//! never double-books a slot, never loses a booking, lists only reservable slots and
//! never confirms an expired hold.

use scheduler_core::Precondition;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use scheduler_core::{
    Actor, ClientId, Error, IdempotencyKey, ListQuery, ManualClock, Policy, ProviderId,
    Reservation, ReservationId, ReservationStatus, Scheduler, SlotId, TimeRange, Window,
};
use scheduler_memory::MemoryStore;

const PROVIDERS: usize = 2;
const CLIENTS: usize = 3;
const KEYS: [&str; 2] = ["k1", "k2"];

/// Monday 2030-01-07 00:00:00 UTC.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap()
}

fn slot_len() -> TimeDelta {
    TimeDelta::minutes(15)
}

/// The slot starts operations refer to, over two days: two already in the past (as seen
/// from a clock starting up to an hour after the epoch), one inside the 24 h lead window,
/// a run across its boundary, and later ones that stay reservable for hours.
fn universe() -> [DateTime<Utc>; 12] {
    let at = |h: i64, m: i64| epoch() + TimeDelta::hours(h) + TimeDelta::minutes(m);
    [
        at(0, -15),
        at(0, 0),
        at(23, 45),
        at(24, 0),
        at(24, 15),
        at(24, 30),
        at(30, 0),
        at(30, 15),
        at(30, 30),
        at(40, 0),
        at(40, 15),
        at(47, 45),
    ]
}

/// A universe index, mostly among the slots that can be reservable.
fn slot_index() -> impl Strategy<Value = usize> {
    prop_oneof![1 => 0usize..6, 4 => 6usize..12]
}

/// A provider, mostly the first so that requests meet on its slots.
fn provider_index() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 1 => Just(1usize)]
}

/// A reservation index: values from [`UNKNOWN`] up name an id the scheduler never issued.
fn reservation_index() -> impl Strategy<Value = usize> {
    0usize..64
}

const UNKNOWN: usize = 60;

fn provider(i: usize) -> ProviderId {
    ProviderId::new(format!("provider-{i}")).unwrap()
}

fn client(i: usize) -> ClientId {
    ClientId::new(format!("client-{i}")).unwrap()
}

fn key(i: usize) -> IdempotencyKey {
    IdempotencyKey::new(KEYS[i]).unwrap()
}

// ---------------------------------------------------------------------------------------
// Operations

/// Who acts on a reservation, relative to it.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// The reservation's own client.
    OwnClient,
    /// The provider of the reservation's slot.
    OwnProvider,
    /// Client `i`, whoever that is.
    Client(usize),
    /// Provider `i`, whoever that is.
    Provider(usize),
}

#[derive(Debug, Clone)]
enum Op {
    /// Publishes `[u[from] (+1 s), u[to] + L (- 1 s))` for a provider.
    AddWindow {
        provider: usize,
        from: usize,
        to: usize,
        late_start: bool,
        early_end: bool,
    },
    /// Withdraws `[u[from] + from_off, u[to] + to_off)`.
    Withdraw {
        provider: usize,
        from: usize,
        from_off: i64,
        to: usize,
        to_off: i64,
    },
    Reserve {
        provider: usize,
        slot: usize,
        client: usize,
        key: Option<usize>,
    },
    /// `reservation` modulo the known reservations, or an unknown id from [`UNKNOWN`] up.
    Confirm {
        reservation: usize,
        who: Who,
    },
    Cancel {
        reservation: usize,
        who: Who,
    },
    /// Moves the clock forward by seconds.
    Advance(i64),
    /// Moves the clock to a reservation's `expires_at` plus `delta` seconds, if that is
    /// not in the past.
    ToExpiry {
        reservation: usize,
        delta: i64,
    },
    /// Moves the clock to the instant slot `u[slot]` leaves the lead window, plus `delta`
    /// seconds, if that is not in the past.
    ToLead {
        slot: usize,
        delta: i64,
    },
    Sweep(usize),
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        4 => Just(Who::OwnClient),
        2 => Just(Who::OwnProvider),
        1 => (0..CLIENTS).prop_map(Who::Client),
        1 => (0..PROVIDERS).prop_map(Who::Provider),
    ]
}

fn offset() -> impl Strategy<Value = i64> {
    // Seconds: on the start, one second after, or a whole slot after.
    prop::sample::select(vec![0i64, 1, 15 * 60])
}

fn op() -> impl Strategy<Value = Op> {
    let n = universe().len();
    prop_oneof![
        4 => (provider_index(), slot_index(), 0usize..4, prop::bool::weighted(0.15), prop::bool::weighted(0.15))
            .prop_map(move |(provider, from, span, late_start, early_end)| Op::AddWindow {
                provider, from, to: (from + span).min(n - 1), late_start, early_end,
            }),
        1 => (provider_index(), slot_index(), offset(), 0usize..4, offset()).prop_map(
            move |(provider, from, from_off, span, to_off)| Op::Withdraw {
                provider, from, from_off, to: (from + span).min(n - 1), to_off,
            }
        ),
        8 => (provider_index(), slot_index(), 0..CLIENTS, prop::option::weighted(0.5, 0..KEYS.len()))
            .prop_map(|(provider, slot, client, key)| Op::Reserve { provider, slot, client, key }),
        4 => (reservation_index(), who())
            .prop_map(|(reservation, who)| Op::Confirm { reservation, who }),
        3 => (reservation_index(), who())
            .prop_map(|(reservation, who)| Op::Cancel { reservation, who }),
        2 => prop::sample::select(vec![1i64, 60, 15 * 60, 29 * 60, 30 * 60, 31 * 60, 2 * 3600, 6 * 3600])
            .prop_map(Op::Advance),
        2 => (reservation_index(), -1i64..=1)
            .prop_map(|(reservation, delta)| Op::ToExpiry { reservation, delta }),
        1 => (0..n, -1i64..=1).prop_map(|(slot, delta)| Op::ToLead { slot, delta }),
        2 => (0usize..4).prop_map(Op::Sweep),
    ]
}

/// A sequence: one to three windows published first, then anything.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    let n = universe().len();
    let setup = (provider_index(), 0..n, 0..n).prop_map(|(provider, a, b)| Op::AddWindow {
        provider,
        from: a.min(b),
        to: a.max(b),
        late_start: false,
        early_end: false,
    });
    (
        prop::collection::vec(setup, 1..=3),
        prop::collection::vec(op(), 1..60),
    )
        .prop_map(|(mut setup, ops)| {
            setup.extend(ops);
            setup
        })
}

/// Minutes after the epoch the clock starts at.
fn start_offset() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 0i64..60]
}

// ---------------------------------------------------------------------------------------
// Reference model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    Held,
    Confirmed,
    Cancelled,
    /// Marked expired by a sweep, or by a new hold displacing it.
    Swept,
}

#[derive(Debug, Clone)]
struct MRes {
    id: ReservationId,
    provider: usize,
    client: usize,
    start: DateTime<Utc>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    stored: Stored,
}

impl MRes {
    fn status_at(&self, now: DateTime<Utc>) -> ReservationStatus {
        match self.stored {
            Stored::Held if now >= self.expires_at => ReservationStatus::Expired,
            Stored::Held => ReservationStatus::Held,
            Stored::Confirmed => ReservationStatus::Confirmed,
            Stored::Cancelled => ReservationStatus::Cancelled,
            Stored::Swept => ReservationStatus::Expired,
        }
    }

    fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status_at(now),
            ReservationStatus::Held | ReservationStatus::Confirmed
        )
    }
}

#[derive(Debug)]
struct Model {
    now: DateTime<Utc>,
    policy: Policy,
    slots: [BTreeSet<DateTime<Utc>>; PROVIDERS],
    reservations: Vec<MRes>,
    keys: HashMap<(usize, usize), usize>,
}

/// What the model predicts for an operation: success, or the error's code.
type Prediction = Result<(), &'static str>;

impl Model {
    fn new(now: DateTime<Utc>, policy: Policy) -> Self {
        Self {
            now,
            policy,
            slots: Default::default(),
            reservations: Vec::new(),
            keys: HashMap::new(),
        }
    }

    fn live_on(&self, provider: usize, start: DateTime<Utc>) -> Option<&MRes> {
        self.reservations
            .iter()
            .find(|r| r.provider == provider && r.start == start && r.is_live_at(self.now))
    }

    fn earliest_reservable(&self) -> DateTime<Utc> {
        self.now + self.policy.min_lead()
    }

    /// The slots a listing must show: existing, free, and at least the lead away.
    fn reservable(&self, provider: usize) -> Vec<DateTime<Utc>> {
        self.slots[provider]
            .iter()
            .copied()
            .filter(|&s| s >= self.earliest_reservable() && self.live_on(provider, s).is_none())
            .collect()
    }

    fn party(&self, r: &MRes, actor: &ResolvedActor) -> bool {
        match *actor {
            ResolvedActor::Client(c) => r.client == c,
            ResolvedActor::Provider(p) => r.provider == p,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum ResolvedActor {
    Client(usize),
    Provider(usize),
}

impl ResolvedActor {
    fn actor(self) -> Actor {
        match self {
            ResolvedActor::Client(c) => Actor::Client(client(c)),
            ResolvedActor::Provider(p) => Actor::Provider(provider(p)),
        }
    }
}

fn resolve_who(who: Who, r: Option<&MRes>) -> ResolvedActor {
    match (who, r) {
        (Who::OwnClient, Some(r)) => ResolvedActor::Client(r.client),
        (Who::OwnProvider, Some(r)) => ResolvedActor::Provider(r.provider),
        (Who::OwnClient, None) => ResolvedActor::Client(0),
        (Who::OwnProvider, None) => ResolvedActor::Provider(0),
        (Who::Client(c), _) => ResolvedActor::Client(c),
        (Who::Provider(p), _) => ResolvedActor::Provider(p),
    }
}

fn code_of<T>(result: &Result<T, Error>) -> Prediction {
    match result {
        Ok(_) => Ok(()),
        Err(err) => Err(err.code()),
    }
}

// ---------------------------------------------------------------------------------------
// The run

struct World {
    scheduler: Scheduler<MemoryStore, ManualClock>,
    clock: ManualClock,
    model: Model,
    /// Holds marked expired by sweeps so far.
    swept: u64,
}

impl World {
    fn new(start: DateTime<Utc>) -> Self {
        let clock = ManualClock::new(start);
        let policy = Policy::default();
        Self {
            scheduler: Scheduler::new(MemoryStore::new(), clock.clone(), policy.clone()),
            clock,
            model: Model::new(start, policy),
            swept: 0,
        }
    }

    /// Which reservation an index names: a known one, or an unknown id.
    fn pick(&self, index: usize) -> Option<usize> {
        let known = self.model.reservations.len();
        (index < UNKNOWN && known > 0).then(|| index % known)
    }

    fn set_clock(&mut self, to: DateTime<Utc>) {
        if to > self.model.now {
            self.clock.set(to);
            self.model.now = to;
        }
    }

    /// Checks a reservation returned by the scheduler against the model's record.
    fn check_reservation(&self, got: &Reservation, want: &MRes) -> Result<(), TestCaseError> {
        let now = self.model.now;
        prop_assert_eq!(got.id, want.id);
        prop_assert_eq!(&got.provider_id, &provider(want.provider));
        prop_assert_eq!(&got.client_id, &client(want.client));
        prop_assert_eq!(
            &got.slot_id,
            &SlotId::new(provider(want.provider), want.start)
        );
        prop_assert_eq!(got.start, want.start);
        prop_assert_eq!(got.end, want.start + slot_len());
        prop_assert_eq!(got.created_at, want.created_at);
        prop_assert_eq!(got.expires_at, want.expires_at);
        prop_assert_eq!(got.confirmed_at, want.confirmed_at);
        prop_assert_eq!(got.status, want.status_at(now), "status of {}", want.id);
        Ok(())
    }

    /// Applies `op` to both the scheduler and the model, checking the scheduler's answer
    /// against the model's prediction; returns the answer's outcome.
    async fn apply(&mut self, op: &Op) -> Result<Prediction, TestCaseError> {
        let u = universe();
        let now = self.model.now;
        let mut outcome: Prediction = Ok(());
        match *op {
            Op::AddWindow {
                provider: p,
                from,
                to,
                late_start,
                early_end,
            } => {
                let start = u[from] + TimeDelta::seconds(i64::from(late_start));
                let end = u[to] + slot_len() - TimeDelta::seconds(i64::from(early_end));
                let window = Window::new(start, end).unwrap();
                // Walk the grid from the window's first whole-minute mark.
                let candidates: Vec<_> =
                    std::iter::successors(Some(u[from]), |&s| Some(s + slot_len()))
                        .take_while(|&s| s + slot_len() <= end)
                        .filter(|&s| s >= start && s >= now)
                        .collect();
                let predicted: Prediction = if end <= now {
                    Err("window_in_past")
                } else if candidates.is_empty() {
                    Err("empty_window")
                } else {
                    Ok(())
                };
                let result = self
                    .scheduler
                    .add_availability(&provider(p), &[window], Precondition::Any)
                    .await;
                prop_assert_eq!(code_of(&result), predicted, "{:?}", result);
                outcome = predicted;
                if let Ok(added) = result {
                    let new: Vec<_> = candidates
                        .into_iter()
                        .filter(|s| self.model.slots[p].insert(*s))
                        .collect();
                    let got: Vec<_> = added.added.iter().map(|s| s.start).collect();
                    prop_assert_eq!(got, new);
                    for slot in &added.added {
                        prop_assert_eq!(&slot.provider_id, &provider(p));
                        prop_assert_eq!(&slot.id, &SlotId::new(provider(p), slot.start));
                        prop_assert_eq!(slot.end, slot.start + slot_len());
                    }
                }
            }
            Op::Withdraw {
                provider: p,
                from,
                from_off,
                to,
                to_off,
            } => {
                let a = u[from] + TimeDelta::seconds(from_off);
                let b = u[to] + TimeDelta::seconds(to_off);
                let Ok(range) = TimeRange::new(a, b) else {
                    return Ok(Err("invalid_range"));
                };
                let in_range: Vec<_> = self.model.slots[p].range(a..b).copied().collect();
                let mut removed = Vec::new();
                let mut conflicts = Vec::new();
                for s in in_range {
                    match self.model.live_on(p, s) {
                        Some(r) => conflicts.push(r.id),
                        None => removed.push(s),
                    }
                }
                let result = self
                    .scheduler
                    .withdraw_availability(&provider(p), range, Precondition::Any)
                    .await;
                prop_assert!(result.is_ok(), "{:?}", result);
                let withdrawal = result.unwrap();
                for s in &removed {
                    self.model.slots[p].remove(s);
                }
                let got_removed: Vec<_> = withdrawal.removed.iter().map(|s| s.start).collect();
                prop_assert_eq!(got_removed, removed);
                let got_conflicts: Vec<_> = withdrawal.conflicts.iter().map(|r| r.id).collect();
                prop_assert_eq!(got_conflicts, conflicts);
                for got in &withdrawal.conflicts {
                    let want = self.model.reservations.iter().find(|r| r.id == got.id);
                    self.check_reservation(got, want.unwrap())?;
                }
            }
            Op::Reserve {
                provider: p,
                slot,
                client: c,
                key: k,
            } => {
                let start = u[slot];
                let slot_id = SlotId::new(provider(p), start);
                let replay = k.and_then(|k| self.model.keys.get(&(c, k)).copied());
                let predicted: Prediction = match replay {
                    Some(i) => {
                        let r = &self.model.reservations[i];
                        if r.provider == p && r.start == start {
                            Ok(())
                        } else {
                            Err("idempotency_conflict")
                        }
                    }
                    None if start < self.model.earliest_reservable() => Err("lead_time"),
                    None if !self.model.slots[p].contains(&start) => Err("slot_not_found"),
                    None if self.model.live_on(p, start).is_some() => Err("slot_unavailable"),
                    None => Ok(()),
                };
                let k_value = k.map(key);
                let result = self
                    .scheduler
                    .reserve(&slot_id, &client(c), k_value.as_ref())
                    .await;
                prop_assert_eq!(code_of(&result), predicted, "{:?}", result);
                outcome = predicted;
                match (result, replay) {
                    (Ok(got), Some(i)) => {
                        self.check_reservation(&got, &self.model.reservations[i])?;
                    }
                    (Ok(got), None) => {
                        let record = MRes {
                            id: got.id,
                            provider: p,
                            client: c,
                            start,
                            created_at: now,
                            expires_at: now + self.model.policy.hold_ttl(),
                            confirmed_at: None,
                            stored: Stored::Held,
                        };
                        self.check_reservation(&got, &record)?;
                        prop_assert!(
                            self.model.reservations.iter().all(|r| r.id != got.id),
                            "a fresh hold reused an id"
                        );
                        if let Some(k) = k {
                            self.model
                                .keys
                                .insert((c, k), self.model.reservations.len());
                        }
                        // A lapsed hold the new one displaces is stored
                        // expired at once, not left for the sweeper.
                        for r in self.model.reservations.iter_mut() {
                            if r.provider == p && r.start == start && r.stored == Stored::Held {
                                r.stored = Stored::Swept;
                            }
                        }
                        self.model.reservations.push(record);
                    }
                    (Err(err), Some(i)) => {
                        let r = &self.model.reservations[i];
                        let original = SlotId::new(provider(r.provider), r.start);
                        let ok = matches!(
                            &err,
                            Error::IdempotencyConflict { original_slot, reservation, .. }
                                if *original_slot == original && *reservation == r.id
                        );
                        prop_assert!(ok, "{:?}", err);
                    }
                    (Err(_), None) => {}
                }
            }
            Op::Confirm { reservation, who } => {
                let index = self.pick(reservation);
                let record = index.map(|i| &self.model.reservations[i]);
                let actor = resolve_who(who, record);
                let id = record.map_or_else(ReservationId::generate, |r| r.id);
                let predicted: Prediction = match (record, actor) {
                    (None, _) => Err("reservation_not_found"),
                    (Some(_), ResolvedActor::Provider(_)) => Err("forbidden"),
                    (Some(r), ResolvedActor::Client(c)) if r.client != c => Err("forbidden"),
                    (Some(r), _) => match r.status_at(now) {
                        ReservationStatus::Held | ReservationStatus::Confirmed => Ok(()),
                        ReservationStatus::Expired => Err("hold_expired"),
                        ReservationStatus::Cancelled => Err("cancelled"),
                    },
                };
                // Confirming is a client's act: a provider actor stands for a client who
                // is not party to it.
                let as_client = match actor {
                    ResolvedActor::Client(c) => client(c),
                    ResolvedActor::Provider(_) => ClientId::new("not-a-party").unwrap(),
                };
                let result = self.scheduler.confirm(id, &as_client).await;
                prop_assert_eq!(code_of(&result), predicted, "{:?}", result);
                outcome = predicted;
                if let Some(i) = index {
                    let r = &mut self.model.reservations[i];
                    if result.is_ok() && r.stored == Stored::Held {
                        r.stored = Stored::Confirmed;
                        r.confirmed_at = Some(now);
                    }
                    if let Err(Error::HoldExpired { expired_at, .. }) = &result {
                        prop_assert_eq!(*expired_at, r.expires_at);
                    }
                    let r = self.model.reservations[i].clone();
                    if let Ok(got) = &result {
                        self.check_reservation(got, &r)?;
                    }
                }
            }
            Op::Cancel { reservation, who } => {
                let index = self.pick(reservation);
                let record = index.map(|i| &self.model.reservations[i]);
                let actor = resolve_who(who, record);
                let id = record.map_or_else(ReservationId::generate, |r| r.id);
                let predicted: Prediction = match record {
                    None => Err("reservation_not_found"),
                    Some(r) if !self.model.party(r, &actor) => Err("forbidden"),
                    Some(r) => match r.status_at(now) {
                        ReservationStatus::Held
                        | ReservationStatus::Confirmed
                        | ReservationStatus::Cancelled => Ok(()),
                        ReservationStatus::Expired => Err("hold_expired"),
                    },
                };
                let result = self.scheduler.cancel(id, &actor.actor()).await;
                prop_assert_eq!(code_of(&result), predicted, "{:?}", result);
                outcome = predicted;
                if let Some(i) = index {
                    if result.is_ok() {
                        self.model.reservations[i].stored = Stored::Cancelled;
                    }
                    let r = self.model.reservations[i].clone();
                    if let Ok(got) = &result {
                        self.check_reservation(got, &r)?;
                    }
                }
            }
            Op::Advance(secs) => self.set_clock(now + TimeDelta::seconds(secs)),
            Op::ToExpiry { reservation, delta } => {
                if let Some(i) = self.pick(reservation) {
                    let to = self.model.reservations[i].expires_at + TimeDelta::seconds(delta);
                    self.set_clock(to);
                }
            }
            Op::ToLead { slot, delta } => {
                let to = u[slot] - self.model.policy.min_lead() + TimeDelta::seconds(delta);
                self.set_clock(to);
            }
            Op::Sweep(batch) => {
                let mut due: Vec<_> = self
                    .model
                    .reservations
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.stored == Stored::Held && r.expires_at <= now)
                    .map(|(i, r)| (r.expires_at, r.id, i))
                    .collect();
                due.sort();
                due.truncate(batch);
                let result = self.scheduler.expire_due(batch).await;
                prop_assert!(result.is_ok(), "{:?}", result);
                prop_assert_eq!(result.unwrap(), due.len() as u64);
                self.swept += due.len() as u64;
                for (_, _, i) in due {
                    self.model.reservations[i].stored = Stored::Swept;
                }
            }
        }
        Ok(outcome)
    }

    /// The invariants, checked after every step.
    async fn check_invariants(&self) -> Result<(), TestCaseError> {
        let now = self.model.now;
        let all = TimeRange::all();
        for p in 0..PROVIDERS {
            // Listing shows exactly the reservable slots, across small pages.
            let mut listed = Vec::new();
            let mut query = ListQuery::new(all).limit(3);
            loop {
                let page = self.scheduler.list_slots(&provider(p), query.clone()).await;
                prop_assert!(page.is_ok(), "{:?}", page);
                let page = page.unwrap();
                prop_assert!(page.items.len() <= 3);
                listed.extend(page.items.iter().map(|s| s.start));
                match page.next_cursor {
                    Some(cursor) => query = query.cursor(cursor),
                    None => break,
                }
            }
            prop_assert_eq!(
                &listed,
                &self.model.reservable(p),
                "listing of provider {}",
                p
            );
            for &s in &listed {
                prop_assert!(
                    s >= now + self.model.policy.min_lead(),
                    "listed inside the lead"
                );
            }

            // The provider's reservations, every status, ordered by (start, id).
            let mut seen = Vec::new();
            let mut query = ListQuery::new(all).limit(2);
            loop {
                let page = self
                    .scheduler
                    .provider_reservations(&provider(p), query.clone())
                    .await;
                prop_assert!(page.is_ok(), "{:?}", page);
                let page = page.unwrap();
                seen.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => query = query.cursor(cursor),
                    None => break,
                }
            }
            let mut want: Vec<_> = self
                .model
                .reservations
                .iter()
                .filter(|r| r.provider == p)
                .collect();
            want.sort_by_key(|r| (r.start, r.id));
            prop_assert_eq!(seen.len(), want.len(), "provider {} reservations", p);
            for (got, want) in seen.iter().zip(&want) {
                self.check_reservation(got, want)?;
            }
            // Never two live reservations on one slot.
            let mut live = BTreeSet::new();
            for r in seen.iter().filter(|r| r.is_live_at(now)) {
                prop_assert!(live.insert(r.start), "two live reservations at {}", r.start);
                prop_assert!(
                    self.model.slots[p].contains(&r.start),
                    "a live reservation's slot was removed"
                );
            }
        }
        for c in 0..CLIENTS {
            let page = self
                .scheduler
                .client_reservations(&client(c), ListQuery::all().limit(500))
                .await;
            prop_assert!(page.is_ok(), "{:?}", page);
            let page = page.unwrap();
            prop_assert!(page.next_cursor.is_none());
            let mut want: Vec<_> = self
                .model
                .reservations
                .iter()
                .filter(|r| r.client == c)
                .collect();
            want.sort_by_key(|r| (r.start, r.id));
            prop_assert_eq!(page.items.len(), want.len(), "client {} reservations", c);
            for (got, want) in page.items.iter().zip(&want) {
                self.check_reservation(got, want)?;
            }
        }
        for r in &self.model.reservations {
            // Every reservation reads as the model says; a booking is never lost.
            let got = self
                .scheduler
                .reservation(r.id, &Actor::Client(client(r.client)))
                .await;
            prop_assert!(got.is_ok(), "{:?}", got);
            self.check_reservation(&got.unwrap(), r)?;
            // An expired hold can never be confirmed.
            if r.status_at(now) == ReservationStatus::Expired {
                let confirm = self.scheduler.confirm(r.id, &client(r.client)).await;
                prop_assert!(
                    matches!(confirm, Err(Error::HoldExpired { .. })),
                    "an expired hold answered {:?}",
                    confirm
                );
            }
        }
        Ok(())
    }
}

/// Runs `ops` from a clock `start_offset_minutes` after the epoch, checking every answer
/// and the invariants after every step; returns each operation's outcome and how many
/// holds sweeps marked expired.
async fn run(
    start_offset_minutes: i64,
    ops: Vec<Op>,
) -> Result<(Vec<Prediction>, u64), TestCaseError> {
    let mut world = World::new(epoch() + TimeDelta::minutes(start_offset_minutes));
    world.check_invariants().await?;
    let mut outcomes = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let outcome = world
            .apply(op)
            .await
            .map_err(|e| TestCaseError::fail(format!("step {step} {op:?}: {e}")))?;
        outcomes.push(outcome);
        world
            .check_invariants()
            .await
            .map_err(|e| TestCaseError::fail(format!("after step {step} {op:?}: {e}")))?;
    }
    Ok((outcomes, world.swept))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scheduler_matches_the_model(
        start_offset in start_offset(),
        ops in ops(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run(start_offset, ops))?;
    }
}

/// A fixed walk through the lifecycle at its exact boundaries, with every answer spelled
/// out, so the edges are pinned independently of the model and whatever the generator draws.
#[test]
fn lifecycle_boundaries() {
    use Op::*;
    let reserve = |slot, client, key| Reserve {
        provider: 0,
        slot,
        client,
        key,
    };
    let window = |from, to| AddWindow {
        provider: 0,
        from,
        to,
        late_start: false,
        early_end: false,
    };
    let steps: Vec<(Op, Prediction)> = vec![
        // [now - 15 min, now): in the past; [now + 1 s, now + 15 min): no whole slot.
        (window(0, 0), Err("window_in_past")),
        (
            AddWindow {
                provider: 0,
                from: 1,
                to: 1,
                late_start: true,
                early_end: false,
            },
            Err("empty_window"),
        ),
        // The slot before now is dropped, the one starting at now is kept.
        (window(0, 1), Ok(())),
        (window(2, 5), Ok(())),
        (window(6, 8), Ok(())),
        // u[3] is exactly the minimum lead away: reservable; u[2] is not.
        (reserve(3, 0, None), Ok(())), // reservation 0
        (reserve(2, 1, None), Err("lead_time")),
        (reserve(6, 0, Some(0)), Ok(())), // reservation 1
        (reserve(6, 1, None), Err("slot_unavailable")),
        (reserve(6, 0, Some(0)), Ok(())), // replay
        (reserve(7, 0, Some(0)), Err("idempotency_conflict")),
        (reserve(10, 0, None), Err("slot_not_found")),
        // One second before expiry the hold still blocks the slot.
        (
            ToExpiry {
                reservation: 1,
                delta: -1,
            },
            Ok(()),
        ),
        (reserve(6, 1, None), Err("slot_unavailable")),
        // At the expiry instant it is expired for every purpose.
        (
            ToExpiry {
                reservation: 1,
                delta: 0,
            },
            Ok(()),
        ),
        (
            Confirm {
                reservation: 1,
                who: Who::OwnClient,
            },
            Err("hold_expired"),
        ),
        (
            Cancel {
                reservation: 1,
                who: Who::OwnProvider,
            },
            Err("hold_expired"),
        ),
        (reserve(6, 1, None), Ok(())),    // reservation 2
        (reserve(6, 0, Some(0)), Ok(())), // replays the expired reservation 1
        (
            Confirm {
                reservation: 2,
                who: Who::OwnClient,
            },
            Ok(()),
        ),
        (
            Confirm {
                reservation: 2,
                who: Who::OwnClient,
            },
            Ok(()),
        ), // idempotent
        (
            Confirm {
                reservation: 2,
                who: Who::Client(0),
            },
            Err("forbidden"),
        ),
        (
            Confirm {
                reservation: 2,
                who: Who::OwnProvider,
            },
            Err("forbidden"),
        ),
        (
            Withdraw {
                provider: 0,
                from: 6,
                from_off: 0,
                to: 8,
                to_off: 900,
            },
            Ok(()),
        ),
        (Sweep(5), Ok(())),
        (
            Cancel {
                reservation: 2,
                who: Who::Provider(1),
            },
            Err("forbidden"),
        ),
        (
            Cancel {
                reservation: 2,
                who: Who::OwnProvider,
            },
            Ok(()),
        ),
        (
            Cancel {
                reservation: 2,
                who: Who::OwnClient,
            },
            Ok(()),
        ), // idempotent
        (
            Confirm {
                reservation: 2,
                who: Who::OwnClient,
            },
            Err("cancelled"),
        ),
        (
            Confirm {
                reservation: UNKNOWN,
                who: Who::OwnClient,
            },
            Err("reservation_not_found"),
        ),
        (reserve(6, 2, None), Ok(())),
    ];
    let (ops, want): (Vec<_>, Vec<_>) = steps.into_iter().unzip();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (got, swept) = runtime.block_on(run(0, ops)).unwrap();
    assert_eq!(got, want);
    // Reservation 0 was due at the sweep; 1 was stored expired when 2 took
    // its slot, and 2 was confirmed.
    assert_eq!(swept, 1);
}

/// The generated sequences reach every outcome of every operation, so the properties
/// above are not vacuous.
#[test]
fn generated_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (start_offset(), ops());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut seen = std::collections::BTreeMap::<(&str, &str), usize>::new();
    for _ in 0..256 {
        let (start, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let names: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                Op::AddWindow { .. } => "add",
                Op::Withdraw { .. } => "withdraw",
                Op::Reserve { .. } => "reserve",
                Op::Confirm { .. } => "confirm",
                Op::Cancel { .. } => "cancel",
                Op::Sweep(_) => "sweep",
                Op::Advance(_) | Op::ToExpiry { .. } | Op::ToLead { .. } => "clock",
            })
            .collect();
        let (outcomes, swept) = runtime.block_on(run(start, ops)).unwrap();
        *seen.entry(("sweep", "expired holds")).or_default() += swept as usize;
        for (name, outcome) in names.into_iter().zip(outcomes) {
            *seen
                .entry((name, outcome.err().unwrap_or("ok")))
                .or_default() += 1;
        }
    }
    for expected in [
        ("add", "ok"),
        ("add", "window_in_past"),
        ("add", "empty_window"),
        ("withdraw", "ok"),
        ("reserve", "ok"),
        ("reserve", "lead_time"),
        ("reserve", "slot_not_found"),
        ("reserve", "slot_unavailable"),
        ("reserve", "idempotency_conflict"),
        ("confirm", "ok"),
        ("confirm", "forbidden"),
        ("confirm", "hold_expired"),
        ("confirm", "cancelled"),
        ("confirm", "reservation_not_found"),
        ("cancel", "ok"),
        ("cancel", "forbidden"),
        ("cancel", "hold_expired"),
        ("cancel", "reservation_not_found"),
        ("sweep", "ok"),
        ("sweep", "expired holds"),
    ] {
        let n = seen.get(&expected).copied().unwrap_or(0);
        assert!(n >= 30, "only {n} of {expected:?}: {seen:?}");
    }
}
