//! Time-boxed fuzzing of the scheduler's state machine over `MemoryStore`, with
//! random policies, clocks anywhere in `DateTime`'s range (the ends included)
//! and instants at, beside and far from the grid, down to the nanosecond.
//!
//! Where `state_machine.rs` checks every answer against a model over one
//! fixed, ordinary calendar, this run looks for what no model predicts:
//! panics and overflows at the ends of time, errors that blame the store,
//! and states that break the invariants (a slot with two live reservations, a
//! slot off the grid, a listing out of order, out of range or inside the lead).
//! Normalization is fuzzed on its own as well.
//!
//! The run lasts `FUZZ_SECONDS` (default 2; CI runs 60) and prints the
//! operations tried. A failure is shrunk and saved to
//! `fuzz_state_machine.proptest-regressions`, which later runs replay first.

use scheduler_core::Precondition;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use scheduler_core::store::{CalendarStore, ReservationPage, ReservationStore, SlotBounds};
use scheduler_core::{
    Actor, ClientId, Clock, Error, IdempotencyKey, ListQuery, ManualClock, Policy, ProviderId,
    Reservation, ReservationId, ReservationStatus, Scheduler, SlotId, TimeRange, Window, normalize,
};
use scheduler_memory::MemoryStore;

const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fuzz_state_machine.proptest-regressions"
);

const PROVIDERS: [&str; 2] = ["p0", "p1"];
const CLIENTS: [&str; 3] = ["c0", "c1", "c2"];

// ---------------------------------------------------------------------------------------
// Instants

/// An instant, resolved against the clock and the grid when an operation runs.
#[derive(Debug, Clone, Copy)]
enum At {
    Min,
    Max,
    /// Seconds and nanoseconds since the epoch (clamped into range).
    Abs(i64, u32),
    /// The grid slot `n` slots from the one holding now, plus nanoseconds.
    Slots(i64, i64),
}

fn min_secs() -> i64 {
    DateTime::<Utc>::MIN_UTC.timestamp()
}

fn max_secs() -> i64 {
    DateTime::<Utc>::MAX_UTC.timestamp()
}

fn nudge() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => Just(0i64),
        1 => Just(1),
        1 => Just(-1),
        1 => Just(1_000_000_000),
        1 => Just(-1_000_000_000),
        1 => -1_000_000_000_000i64..1_000_000_000_000,
    ]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        1 => Just(At::Min),
        1 => Just(At::Max),
        2 => (min_secs()..=max_secs(), 0u32..1_000_000_000).prop_map(|(s, n)| At::Abs(s, n)),
        1 => prop::sample::select(vec![
            -62_167_219_200i64, // 0000-01-01
            -1,
            0,
            253_402_300_799, // 9999-12-31T23:59:59
        ])
        .prop_map(|s| At::Abs(s, 0)),
        8 => (-200i64..400, nudge()).prop_map(|(n, d)| At::Slots(n, d)),
    ]
}

fn saturating(instant: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    instant
        .checked_add_signed(delta)
        .unwrap_or(if delta < TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

fn resolve(at: At, now: DateTime<Utc>, policy: &Policy) -> DateTime<Utc> {
    match at {
        At::Min => DateTime::<Utc>::MIN_UTC,
        At::Max => DateTime::<Utc>::MAX_UTC,
        At::Abs(secs, nanos) => {
            DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
        At::Slots(n, nanos) => {
            let base = policy
                .grid()
                .floor(now)
                .map_or(now, |start| start.instant());
            let slots = policy
                .slot_length()
                .checked_mul(i32::try_from(n).unwrap_or(0))
                .unwrap_or(TimeDelta::zero());
            saturating(saturating(base, slots), TimeDelta::nanoseconds(nanos))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Operations

#[derive(Debug, Clone)]
enum Op {
    Publish(usize, Vec<(At, At)>),
    Withdraw(usize, At, At),
    List(usize, At, At, Option<u32>, bool),
    /// Reserves the `n`-th slot of the provider's last listing, or one at `At`.
    Reserve(usize, usize, Option<At>, usize, Option<usize>),
    Confirm(usize, usize),
    Cancel(usize, usize, bool),
    Read(usize, usize),
    Appointments(usize, At, At, Option<u32>),
    Mine(usize, At, At, Option<u32>),
    Advance(i64),
    /// Moves the clock to `At` if that is not in the past.
    Jump(At),
    Sweep(usize),
    /// Normalizes a window directly, at the clock's instant.
    Normalize(At, At, usize),
}

/// A window: mostly a run of slots from a few slots to a few hundred ahead
/// (nudged off the grid), sometimes any two instants.
fn window() -> impl Strategy<Value = (At, At)> {
    prop_oneof![
        3 => (-5i64..300, 1i64..40, nudge(), nudge())
            .prop_map(|(first, len, a, b)| (At::Slots(first, a), At::Slots(first + len, b))),
        1 => (at(), at()),
    ]
}

fn limit() -> impl Strategy<Value = Option<u32>> {
    prop::option::of(prop::sample::select(vec![
        0u32,
        1,
        2,
        3,
        50,
        500,
        501,
        u32::MAX,
    ]))
}

fn op() -> impl Strategy<Value = Op> {
    let provider = || 0..PROVIDERS.len();
    let client = || 0..CLIENTS.len();
    prop_oneof![
        4 => (provider(), prop::collection::vec(window(), 1..4)).prop_map(|(p, w)| Op::Publish(p, w)),
        1 => (provider(), at(), at()).prop_map(|(p, a, b)| Op::Withdraw(p, a, b)),
        3 => (provider(), at(), at(), limit(), any::<bool>()).prop_map(|(p, a, b, l, c)| Op::List(p, a, b, l, c)),
        6 => (provider(), any::<usize>(), prop::option::weighted(0.3, at()), client(), prop::option::weighted(0.3, 0usize..2))
            .prop_map(|(p, n, a, c, k)| Op::Reserve(p, n, a, c, k)),
        3 => (any::<usize>(), client()).prop_map(|(r, c)| Op::Confirm(r, c)),
        2 => (any::<usize>(), 0..CLIENTS.len().max(PROVIDERS.len()), any::<bool>()).prop_map(|(r, w, p)| Op::Cancel(r, w, p)),
        1 => (any::<usize>(), client()).prop_map(|(r, c)| Op::Read(r, c)),
        1 => (provider(), at(), at(), limit()).prop_map(|(p, a, b, l)| Op::Appointments(p, a, b, l)),
        1 => (client(), at(), at(), limit()).prop_map(|(c, a, b, l)| Op::Mine(c, a, b, l)),
        2 => prop::sample::select(vec![1i64, 60, 899, 900, 1800, 86_400, 31_536_000, 10_000_000_000_000]).prop_map(Op::Advance),
        1 => at().prop_map(Op::Jump),
        1 => prop::sample::select(vec![0usize, 1, 2, usize::MAX]).prop_map(Op::Sweep),
        2 => (at(), at(), any::<usize>()).prop_map(|(a, b, i)| Op::Normalize(a, b, i)),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::sample::select(vec![1i64, 5, 15, 60, 1440]),
        // Up to the longest setting a policy takes: 100 years of 366 days.
        prop_oneof![4 => prop::sample::select(vec![0i64, 1, 3600, 86_400]), 1 => Just(3_162_240_000i64)],
        prop_oneof![4 => prop::sample::select(vec![1i64, 1800, 86_400]), 1 => Just(3_162_240_000i64)],
        prop::sample::select(vec![1i64, 2, 24]),
        prop_oneof![1 => Just(1i64), 4 => Just(365i64), 2 => Just(36_600i64)],
    )
        .prop_map(|(slot, lead, ttl, window_slots, horizon_days)| {
            let slot = TimeDelta::minutes(slot);
            Policy::builder()
                .slot_length(slot)
                .min_lead(TimeDelta::seconds(lead))
                .hold_ttl(TimeDelta::seconds(ttl))
                .max_window(slot * window_slots.try_into().unwrap_or(1) * 60)
                .max_horizon(TimeDelta::days(horizon_days))
                .build()
                .expect("every generated policy is valid")
        })
}

fn start() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC - TimeDelta::days(1)),
        1 => Just(DateTime::<Utc>::MAX_UTC),
        6 => (min_secs()..=max_secs(), 0u32..1_000_000_000)
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap()),
        6 => (1_893_456_000i64..1_900_000_000, 0u32..1_000_000_000)
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap()),
    ]
}

// ---------------------------------------------------------------------------------------
// The run

static OPERATIONS: AtomicU64 = AtomicU64::new(0);
static SEQUENCES: AtomicU64 = AtomicU64::new(0);
/// Operations answered with success, holds taken and holds confirmed: the run
/// must build real state, not only collect refusals.
static SUCCEEDED: AtomicU64 = AtomicU64::new(0);
static HELD: AtomicU64 = AtomicU64::new(0);
static CONFIRMED: AtomicU64 = AtomicU64::new(0);

struct World {
    scheduler: Scheduler<MemoryStore, ManualClock>,
    clock: ManualClock,
    policy: Policy,
    /// Every reservation the scheduler issued, and the last listing per provider.
    reservations: Vec<ReservationId>,
    /// Slots published or listed, per provider, for reserve to pick from.
    listed: [Vec<SlotId>; 2],
    cursors: [Option<String>; 2],
}

fn provider(i: usize) -> ProviderId {
    ProviderId::new(PROVIDERS[i % PROVIDERS.len()]).unwrap()
}

fn client(i: usize) -> ClientId {
    ClientId::new(CLIENTS[i % CLIENTS.len()]).unwrap()
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// Refuses an error that blames the store or breaks the error contract.
fn judge<T: std::fmt::Debug>(op: &Op, result: &Result<T, Error>) -> Result<(), TestCaseError> {
    if result.is_ok() {
        SUCCEEDED.fetch_add(1, Ordering::Relaxed);
    }
    if let Err(err) = result {
        if matches!(err, Error::Storage(_) | Error::InvalidPolicy { .. }) {
            return Err(fail(format!("{op:?} answered {err:?}")));
        }
        if err.to_string().is_empty() {
            return Err(fail(format!("{op:?}: an error without a message")));
        }
    }
    Ok(())
}

impl World {
    fn now(&self) -> DateTime<Utc> {
        // The scheduler reads the clock at whole microseconds.
        let now = self.clock.now();
        now.trunc_subsecs(6)
    }

    fn range(&self, a: At, b: At) -> Result<TimeRange, Error> {
        let now = self.now();
        TimeRange::new(resolve(a, now, &self.policy), resolve(b, now, &self.policy))
    }

    fn pick(&self, index: usize) -> ReservationId {
        match self.reservations.len() {
            0 => ReservationId::from_u128(index as u128),
            n => self.reservations[index % n],
        }
    }

    /// Checks a page of slots: in order, on the grid, in range, reservable.
    fn check_slots(
        &self,
        op: &Op,
        range: TimeRange,
        slots: &[scheduler_core::Slot],
    ) -> Result<(), TestCaseError> {
        let earliest = saturating(self.now(), self.policy.min_lead());
        for pair in slots.windows(2) {
            if pair[0].start >= pair[1].start {
                return Err(fail(format!("{op:?}: listing out of order {pair:?}")));
            }
        }
        for slot in slots {
            let on_grid = self.policy.grid().slot_at(slot.start).is_some();
            if !on_grid
                || slot.start < range.from()
                || slot.start >= range.to()
                || slot.start < earliest
            {
                return Err(fail(format!(
                    "{op:?}: listed {slot:?} (range {range:?}, earliest {earliest})"
                )));
            }
        }
        Ok(())
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        OPERATIONS.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let policy = self.policy.clone();
        let s = &self.scheduler;
        match op {
            Op::Publish(p, windows) => {
                let mut built = Vec::new();
                for &(a, b) in windows {
                    match Window::new(resolve(a, now, &policy), resolve(b, now, &policy)) {
                        Ok(window) => built.push(window),
                        Err(err) if err.code() == "invalid_window" => return Ok(()),
                        Err(err) => return Err(fail(format!("{op:?}: Window::new gave {err:?}"))),
                    }
                }
                let result = s
                    .add_availability(&provider(*p), &built, Precondition::Any)
                    .await;
                judge(op, &result)?;
                if let Ok(added) = result {
                    let known = &mut self.listed[*p];
                    known.extend(added.added.iter().map(|slot| slot.id.clone()));
                    let excess = known.len().saturating_sub(64);
                    known.drain(..excess);
                    for slot in &added.added {
                        let inside = built
                            .iter()
                            .any(|w| slot.start >= w.start() && slot.end <= w.end());
                        if policy.grid().slot_at(slot.start).is_none()
                            || slot.start < now
                            || !inside
                        {
                            return Err(fail(format!("{op:?}: added {slot:?} at {now}")));
                        }
                    }
                }
            }
            Op::Withdraw(p, a, b) => {
                let Ok(range) = self.range(*a, *b) else {
                    return Ok(());
                };
                let result = s
                    .withdraw_availability(&provider(*p), range, Precondition::Any)
                    .await;
                judge(op, &result)?;
                if let Ok(withdrawal) = result
                    && let Some(live) = withdrawal.conflicts.iter().find(|r| !r.is_live_at(now))
                {
                    return Err(fail(format!(
                        "{op:?}: a settled reservation kept its slot: {live:?}"
                    )));
                }
            }
            Op::List(p, a, b, limit, use_cursor) => {
                let Ok(range) = self.range(*a, *b) else {
                    return Ok(());
                };
                let mut query = ListQuery::new(range);
                if let Some(limit) = limit {
                    query = query.limit(*limit);
                }
                if *use_cursor && let Some(cursor) = &self.cursors[*p] {
                    query = query.cursor(cursor.clone());
                }
                let result = s.list_slots(&provider(*p), query).await;
                judge(op, &result)?;
                if let Ok(page) = result {
                    self.check_slots(op, range, &page.items)?;
                    if !page.items.is_empty() {
                        self.listed[*p] = page.items.iter().map(|slot| slot.id.clone()).collect();
                    }
                    self.cursors[*p] = page.next_cursor;
                }
            }
            Op::Reserve(p, n, at, c, key) => {
                let slot = match (at, self.listed[*p].len()) {
                    (None, len) if len > 0 => self.listed[*p][n % len].clone(),
                    (at, _) => {
                        let at = at.unwrap_or(At::Slots(0, 0));
                        SlotId::new(provider(*p), resolve(at, now, &policy))
                    }
                };
                let key = key.map(|k| IdempotencyKey::new(format!("key-{k}")).unwrap());
                let result = s.reserve(&slot, &client(*c), key.as_ref()).await;
                judge(op, &result)?;
                if let Ok(held) = result {
                    // A repeat of a used key returns its original, which may
                    // date from this same instant and be cancelled by now.
                    let fresh = !self.reservations.contains(&held.id);
                    if fresh
                        && (held.status != ReservationStatus::Held
                            || held.created_at != now
                            || held.expires_at != saturating(now, policy.hold_ttl()))
                    {
                        return Err(fail(format!("{op:?}: a new hold reads {held:?} at {now}")));
                    }
                    HELD.fetch_add(u64::from(fresh), Ordering::Relaxed);
                    if !self.reservations.contains(&held.id) {
                        self.reservations.push(held.id);
                    }
                }
            }
            Op::Confirm(r, c) => {
                let result = s.confirm(self.pick(*r), &client(*c)).await;
                judge(op, &result)?;
                if let Ok(confirmed) = result {
                    if confirmed.status != ReservationStatus::Confirmed {
                        return Err(fail(format!("{op:?}: confirmed as {confirmed:?}")));
                    }
                    CONFIRMED.fetch_add(1, Ordering::Relaxed);
                }
            }
            Op::Cancel(r, who, as_provider) => {
                let actor = match as_provider {
                    true => Actor::Provider(provider(*who)),
                    false => Actor::Client(client(*who)),
                };
                let result = s.cancel(self.pick(*r), &actor).await;
                judge(op, &result)?;
                if let Ok(cancelled) = result
                    && cancelled.status != ReservationStatus::Cancelled
                {
                    return Err(fail(format!("{op:?}: cancelled as {cancelled:?}")));
                }
            }
            Op::Read(r, c) => {
                let result = s
                    .reservation(self.pick(*r), &Actor::Client(client(*c)))
                    .await;
                judge(op, &result)?;
            }
            Op::Appointments(p, a, b, limit) | Op::Mine(p, a, b, limit) => {
                let Ok(range) = self.range(*a, *b) else {
                    return Ok(());
                };
                let mut query = ListQuery::new(range);
                if let Some(limit) = limit {
                    query = query.limit(*limit);
                }
                let result = match op {
                    Op::Appointments(..) => s.provider_reservations(&provider(*p), query).await,
                    _ => s.client_reservations(&client(*p), query).await,
                };
                judge(op, &result)?;
                if let Ok(page) = result
                    && let Some(out) = page
                        .items
                        .iter()
                        .find(|r| r.start < range.from() || r.start >= range.to())
                {
                    return Err(fail(format!("{op:?}: listed {out:?} outside {range:?}")));
                }
            }
            Op::Advance(seconds) => {
                self.clock
                    .advance(TimeDelta::try_seconds(*seconds).unwrap_or(TimeDelta::MAX));
            }
            Op::Jump(at) => {
                let to = resolve(*at, now, &policy);
                if to > self.clock.now() {
                    self.clock.set(to);
                }
            }
            Op::Sweep(batch) => {
                let result = s.expire_due(*batch).await;
                judge(op, &result)?;
            }
            Op::Normalize(a, b, index) => {
                let Ok(window) = Window::new(resolve(*a, now, &policy), resolve(*b, now, &policy))
                else {
                    return Ok(());
                };
                if let Ok(span) = normalize(&policy, &window, *index, now) {
                    let first = span.first().instant();
                    let bad = span.is_empty()
                        || first < window.start()
                        || first < now
                        || span.end() > window.end()
                        || policy.grid().slot_at(first).is_none();
                    if bad {
                        return Err(fail(format!("{op:?}: {window:?} at {now} became {span:?}")));
                    }
                }
            }
        }
        self.check_invariants(op).await
    }

    /// No slot with two live reservations, none off the grid, no free slot taken.
    async fn check_invariants(&self, op: &Op) -> Result<(), TestCaseError> {
        let store = self.scheduler.store();
        let now = self.now();
        let grid = self.policy.grid();
        let (Some(from), Some(to)) = (
            grid.ceil(DateTime::<Utc>::MIN_UTC),
            grid.floor(DateTime::<Utc>::MAX_UTC),
        ) else {
            return Err(fail("the grid cannot bound all of time".into()));
        };
        let bounds = SlotBounds { from, to };
        for p in 0..PROVIDERS.len() {
            let page = ReservationPage {
                bounds,
                after: None,
                limit: usize::MAX,
            };
            let reservations: Vec<Reservation> = store
                .provider_reservations(&provider(p), page)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let mut live: Vec<DateTime<Utc>> = reservations
                .iter()
                .filter(|r| r.is_live_at(now))
                .map(|r| r.start)
                .collect();
            let count = live.len();
            live.sort_unstable();
            live.dedup();
            if live.len() != count {
                return Err(fail(format!(
                    "after {op:?}: a slot has two live reservations at {now}: {reservations:?}"
                )));
            }
            if let Some(off) = reservations
                .iter()
                .find(|r| grid.slot_at(r.start).is_none())
            {
                return Err(fail(format!(
                    "after {op:?}: reservation off the grid {off:?}"
                )));
            }
            let free = store
                .free_slots(&provider(p), bounds, usize::MAX, now)
                .await
                .map_err(|e| fail(e.to_string()))?;
            if let Some(taken) = free.iter().find(|start| live.contains(start)) {
                return Err(fail(format!("after {op:?}: {taken} is free and taken")));
            }
        }
        Ok(())
    }
}

async fn run(policy: Policy, start: DateTime<Utc>, ops: &[Op]) -> Result<(), TestCaseError> {
    SEQUENCES.fetch_add(1, Ordering::Relaxed);
    let clock = ManualClock::new(start);
    let mut world = World {
        scheduler: Scheduler::new(MemoryStore::new(), clock.clone(), policy.clone()),
        clock,
        policy,
        reservations: Vec::new(),
        listed: Default::default(),
        cursors: Default::default(),
    };
    for op in ops {
        world.apply(op).await?;
    }
    Ok(())
}

/// How long to fuzz: `FUZZ_SECONDS`, or 2 seconds.
fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(seconds)
}

#[test]
fn random_operations_at_the_ends_of_time_keep_every_invariant() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Half the sequences start at an ordinary instant, so that publishing,
    // reserving and confirming succeed often enough to build state.
    let strategy = (policy(), start(), prop::collection::vec(op(), 1..40));
    let started = Instant::now();
    let budget = budget();
    let mut rounds = 0;
    while rounds == 0 || started.elapsed() < budget {
        rounds += 1;
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
            ..Config::default()
        });
        let result = runner.run(&strategy, |(policy, start, ops)| {
            runtime.block_on(run(policy, start, &ops))
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    println!(
        "fuzz_state_machine: {} operations tried ({} sequences) in {:.1?}; \
         {} succeeded, {} holds taken, {} confirmations",
        load(&OPERATIONS),
        load(&SEQUENCES),
        started.elapsed(),
        load(&SUCCEEDED),
        load(&HELD),
        load(&CONFIRMED),
    );
    assert!(
        load(&HELD) > 0 && load(&CONFIRMED) > 0,
        "the generated sequences never held or confirmed a slot"
    );
}
