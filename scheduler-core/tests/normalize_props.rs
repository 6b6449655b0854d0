//! Proves `normalize` follows the design's grid rules exactly: for random policies, clocks
//! and windows (sub-second parts included), an accepted window yields the maximal on-grid
//! span inside the window and not before now, normalizing that span again changes nothing,
//! and a refusal is exactly the one an independent nanosecond brute force predicts.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use scheduler_core::{Error, Policy, SlotSpan, SlotStart, Window, normalize};

/// Slot lengths, in minutes, that divide 24 hours.
const SLOT_MINUTES: [i64; 9] = [1, 5, 10, 15, 20, 30, 60, 120, 1440];

const NANOS_PER_SEC: i128 = 1_000_000_000;
const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

/// Nanoseconds since the Unix epoch: the reference works in plain integers, never
/// through the library's grid.
fn nanos(t: DateTime<Utc>) -> i128 {
    i128::from(t.timestamp()) * NANOS_PER_SEC + i128::from(t.timestamp_subsec_nanos())
}

fn from_nanos(n: i128) -> DateTime<Utc> {
    let secs = n.div_euclid(NANOS_PER_SEC) as i64;
    let sub = n.rem_euclid(NANOS_PER_SEC) as u32;
    DateTime::from_timestamp(secs, sub).expect("test instants stay in range")
}

fn delta_nanos(d: TimeDelta) -> i128 {
    i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
}

/// The raw inputs of one case; everything is derived from them in the test body so that
/// shrinking works on plain numbers.
#[derive(Debug, Clone)]
struct Case {
    slot_minutes: i64,
    /// `None`: the default 31 days.
    max_window_minutes: Option<i64>,
    /// `None`: the default 365 days.
    max_horizon_minutes: Option<i64>,
    /// Seconds from the epoch to now's grid anchor, and nanoseconds past it.
    now_secs: i64,
    now_offset: Offset,
    start: Anchored,
    end: EndSpec,
    index: usize,
}

/// A small offset added to an anchor: often exactly on it, or one nanosecond off.
#[derive(Debug, Clone, Copy)]
enum Offset {
    Zero,
    PlusNano,
    MinusNano,
    Nanos(i64),
}

impl Offset {
    fn nanos(self) -> i128 {
        match self {
            Offset::Zero => 0,
            Offset::PlusNano => 1,
            Offset::MinusNano => -1,
            Offset::Nanos(n) => i128::from(n),
        }
    }
}

fn offset(spread: i64) -> impl Strategy<Value = Offset> + Clone {
    prop_oneof![
        2 => Just(Offset::Zero),
        1 => Just(Offset::PlusNano),
        1 => Just(Offset::MinusNano),
        4 => (-spread..=spread).prop_map(Offset::Nanos),
    ]
}

/// An instant described relative to now and the policy's limits.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// Now itself.
    Now,
    /// The grid point at or below now, plus whole slots.
    GridNearNow(i64),
    /// Now plus (or minus) whole days.
    DaysFromNow(i64),
    /// The horizon (now + max_horizon) plus whole slots.
    Horizon(i64),
    /// The grid point at or below the horizon, plus whole slots.
    GridNearHorizon(i64),
}

#[derive(Debug, Clone, Copy)]
struct Anchored {
    anchor: Anchor,
    offset: Offset,
}

fn anchored() -> impl Strategy<Value = Anchored> {
    let anchor = prop_oneof![
        Just(Anchor::Now),
        (-6i64..6).prop_map(Anchor::GridNearNow),
        (-3i64..420).prop_map(Anchor::DaysFromNow),
        (-6i64..6).prop_map(Anchor::Horizon),
        (-6i64..6).prop_map(Anchor::GridNearHorizon),
    ];
    (anchor, offset(3 * 60 * NANOS_PER_SEC as i64))
        .prop_map(|(anchor, offset)| Anchored { anchor, offset })
}

/// How the window's end is chosen.
#[derive(Debug, Clone, Copy)]
enum EndSpec {
    /// Anywhere, independently of the start (may come out before it).
    Anchored(Anchored),
    /// The start plus whole slots plus an offset.
    SlotsAfterStart(i64, Offset),
    /// The start plus the policy's max_window plus an offset.
    MaxWindowAfterStart(Offset),
    /// The grid point at or below start + max_window, plus whole slots and an offset.
    GridNearMaxWindow(i64, Offset),
}

fn end_spec() -> impl Strategy<Value = EndSpec> {
    let small = offset(3 * 60 * NANOS_PER_SEC as i64);
    prop_oneof![
        2 => anchored().prop_map(EndSpec::Anchored),
        3 => (0i64..12, small.clone()).prop_map(|(n, o)| EndSpec::SlotsAfterStart(n, o)),
        1 => small.clone().prop_map(EndSpec::MaxWindowAfterStart),
        1 => (-3i64..3, small).prop_map(|(n, o)| EndSpec::GridNearMaxWindow(n, o)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(SLOT_MINUTES.to_vec()),
        prop::option::weighted(0.5, 1i64..=60 * 24 * 60),
        prop::option::weighted(0.5, 1i64..=400 * 24 * 60),
        // 1950 to 2100, so the grid is exercised on both sides of the epoch.
        -631_152_000i64..4_102_444_800,
        offset(DAY_NANOS),
        anchored(),
        end_spec(),
        0usize..8,
    )
        .prop_map(
            |(slot_minutes, mw, mh, now_secs, now_offset, start, end, index)| Case {
                slot_minutes,
                max_window_minutes: mw,
                max_horizon_minutes: mh,
                now_secs,
                now_offset,
                start,
                end,
                index,
            },
        )
}

/// A case made concrete: the policy, the instant and the window bounds.
#[derive(Debug)]
struct Concrete {
    policy: Policy,
    now: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    index: usize,
}

fn floor_to(n: i128, step: i128) -> i128 {
    n.div_euclid(step) * step
}

fn ceil_to(n: i128, step: i128) -> i128 {
    -floor_to(-n, step)
}

impl Case {
    fn concrete(&self) -> Concrete {
        let slot = TimeDelta::minutes(self.slot_minutes);
        let mut builder = Policy::builder().slot_length(slot);
        // Limits below one slot are invalid policies; lift them to one slot.
        if let Some(m) = self.max_window_minutes {
            builder = builder.max_window(TimeDelta::minutes(m.max(self.slot_minutes)));
        }
        if let Some(m) = self.max_horizon_minutes {
            builder = builder.max_horizon(TimeDelta::minutes(m.max(self.slot_minutes)));
        }
        let policy = builder.build().expect("generated policies are valid");
        let l = delta_nanos(slot);
        let now_n = i128::from(self.now_secs) * NANOS_PER_SEC + self.now_offset.nanos();
        let horizon_n = now_n + delta_nanos(policy.max_horizon());
        let resolve = |a: Anchored| -> i128 {
            let base = match a.anchor {
                Anchor::Now => now_n,
                Anchor::GridNearNow(k) => floor_to(now_n, l) + i128::from(k) * l,
                Anchor::DaysFromNow(d) => now_n + i128::from(d) * i128::from(DAY_NANOS),
                Anchor::Horizon(k) => horizon_n + i128::from(k) * l,
                Anchor::GridNearHorizon(k) => floor_to(horizon_n, l) + i128::from(k) * l,
            };
            base + a.offset.nanos()
        };
        let start_n = resolve(self.start);
        let max_window = delta_nanos(policy.max_window());
        let end_n = match self.end {
            EndSpec::Anchored(a) => resolve(a),
            EndSpec::SlotsAfterStart(k, o) => start_n + i128::from(k) * l + o.nanos(),
            EndSpec::MaxWindowAfterStart(o) => start_n + max_window + o.nanos(),
            EndSpec::GridNearMaxWindow(k, o) => {
                floor_to(start_n + max_window, l) + i128::from(k) * l + o.nanos()
            }
        };
        Concrete {
            policy,
            now: from_nanos(now_n),
            start: from_nanos(start_n),
            end: from_nanos(end_n),
            index: self.index,
        }
    }
}

/// What the rules of the design predict for a window, computed on integers.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    TooLong,
    InPast,
    BeyondHorizon,
    Empty,
    /// First start (ns since the epoch) and number of slots.
    Slots(i128, i128),
}

fn expected(c: &Concrete) -> Expected {
    let l = delta_nanos(c.policy.slot_length());
    let (start, end, now) = (nanos(c.start), nanos(c.end), nanos(c.now));
    if end - start > delta_nanos(c.policy.max_window()) {
        return Expected::TooLong;
    }
    if end <= now {
        return Expected::InPast;
    }
    if end > now + delta_nanos(c.policy.max_horizon()) {
        return Expected::BeyondHorizon;
    }
    let first = ceil_to(start.max(now), l);
    let last_end = floor_to(end, l);
    if last_end - first < l {
        return Expected::Empty;
    }
    Expected::Slots(first, (last_end - first) / l)
}

/// Checks the error's variant and every field it reports.
fn check_error(c: &Concrete, want: &Expected, err: &Error) -> Result<(), TestCaseError> {
    let horizon = from_nanos(nanos(c.now) + delta_nanos(c.policy.max_horizon()));
    match (want, err) {
        (Expected::TooLong, Error::WindowTooLong { index, length, max }) => {
            prop_assert_eq!(*index, c.index);
            prop_assert_eq!(*length, c.end - c.start);
            prop_assert_eq!(*max, c.policy.max_window());
        }
        (Expected::InPast, Error::WindowInPast { index, end, now }) => {
            prop_assert_eq!(*index, c.index);
            prop_assert_eq!(*end, c.end);
            prop_assert_eq!(*now, c.now);
        }
        (
            Expected::BeyondHorizon,
            Error::BeyondHorizon {
                index,
                end,
                horizon: h,
            },
        ) => {
            prop_assert_eq!(*index, c.index);
            prop_assert_eq!(*end, c.end);
            prop_assert_eq!(*h, horizon);
        }
        (
            Expected::Empty,
            Error::EmptyWindow {
                index,
                start,
                end,
                slot_length,
            },
        ) => {
            prop_assert_eq!(*index, c.index);
            prop_assert_eq!(*start, c.start);
            prop_assert_eq!(*end, c.end);
            prop_assert_eq!(*slot_length, c.policy.slot_length());
        }
        (want, err) => {
            return Err(TestCaseError::fail(format!(
                "expected {want:?}, got {err:?} ({})",
                err.code()
            )));
        }
    }
    Ok(())
}

/// The span's properties that hold for every accepted window.
fn check_span(c: &Concrete, window: &Window, span: &SlotSpan) -> Result<(), TestCaseError> {
    let grid = c.policy.grid();
    let l = c.policy.slot_length();
    let lower = c.start.max(c.now);
    prop_assert_ne!(span.len(), 0);
    prop_assert!(!span.is_empty());
    let starts: Vec<SlotStart> = span.starts().collect();
    prop_assert_eq!(starts.len(), span.len());
    prop_assert_eq!(starts[0], span.first());
    for (i, s) in starts.iter().enumerate() {
        let t = s.instant();
        prop_assert!(grid.slot_at(t).is_some(), "start {} is off the grid", t);
        prop_assert!(
            t >= lower,
            "start {} before max(window start, now) {}",
            t,
            lower
        );
        prop_assert!(
            t + l <= c.end,
            "slot at {} ends after the window end {}",
            t,
            c.end
        );
        prop_assert_eq!(grid.end_of(*s), t + l);
        if i > 0 {
            prop_assert_eq!(t - starts[i - 1].instant(), l, "starts are consecutive");
        }
    }
    prop_assert_eq!(span.end(), starts[starts.len() - 1].instant() + l);
    // Maximal: the grid slot before the first starts before the window or before now,
    // and the grid slot after the last ends after the window.
    let before = span.first().instant() - l;
    prop_assert!(before < lower, "slot at {} fits but was left out", before);
    prop_assert!(
        span.end() + l > c.end,
        "slot at {} fits but was left out",
        span.end()
    );
    // Idempotent: normalizing the span's own window gives the same span.
    let again = Window::new(span.first().instant(), span.end()).expect("a span is non-empty");
    let renormalized = normalize(&c.policy, &again, c.index, c.now);
    prop_assert_eq!(renormalized.as_ref().ok(), Some(span), "{:?}", renormalized);
    // Normalizing is a pure function of its inputs.
    let repeated = normalize(&c.policy, window, c.index, c.now).ok();
    prop_assert_eq!(repeated.as_ref(), Some(span));
    Ok(())
}

/// Brute force: walk the grid from below the window, step by step, keeping every start
/// whose slot fits in `[max(start, now), end)`.
fn walk(c: &Concrete) -> Vec<DateTime<Utc>> {
    let l = delta_nanos(c.policy.slot_length());
    let lower = nanos(c.start).max(nanos(c.now));
    let end = nanos(c.end);
    let mut t = floor_to(nanos(c.start), l) - l;
    let mut found = Vec::new();
    while t < end {
        if t >= lower && t + l <= end {
            found.push(from_nanos(t));
        }
        t += l;
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn normalize_matches_the_rules(case in case()) {
        let c = case.concrete();
        let window = match Window::new(c.start, c.end) {
            Ok(window) => window,
            Err(err) => {
                prop_assert!(c.end <= c.start);
                prop_assert_eq!(err.code(), "invalid_window");
                return Ok(());
            }
        };
        let want = expected(&c);
        match normalize(&c.policy, &window, c.index, c.now) {
            Ok(span) => {
                prop_assert_eq!(
                    &want,
                    &Expected::Slots(nanos(span.first().instant()), span.len() as i128),
                    "accepted a window the rules predict differently"
                );
                check_span(&c, &window, &span)?;
            }
            Err(err) => check_error(&c, &want, &err)?,
        }
    }
}

/// Windows of at most a few hundred slots near now, compared with a step-by-step walk.
fn small_case() -> impl Strategy<Value = Concrete> {
    (
        prop::sample::select(SLOT_MINUTES.to_vec()),
        -631_152_000i64..4_102_444_800,
        0i64..DAY_NANOS,
        // Start: from 3 slots before now to 40 slots after, in nanoseconds of a slot.
        -3i64..40,
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            0i64..60 * NANOS_PER_SEC as i64
        ],
        // Length: up to 200 slots, with an offset of a nanosecond or up to a slot.
        0i64..200,
        prop_oneof![Just(0i64), Just(1), Just(-1), -59i64..60],
        0usize..3,
    )
        .prop_map(
            |(minutes, now_secs, now_sub, start_slots, start_off, len_slots, len_off, index)| {
                let policy = Policy::builder()
                    .slot_length(TimeDelta::minutes(minutes))
                    .max_window(TimeDelta::days(366))
                    .build()
                    .expect("valid policy");
                let l = i128::from(minutes) * 60 * NANOS_PER_SEC;
                let now_n = i128::from(now_secs) * NANOS_PER_SEC + i128::from(now_sub);
                let start_n =
                    floor_to(now_n, l) + i128::from(start_slots) * l + i128::from(start_off);
                // A length offset in whole seconds unless it is one of the nanosecond edges.
                let off = match len_off {
                    -1..=1 => i128::from(len_off),
                    s => i128::from(s) * NANOS_PER_SEC,
                };
                let end_n = start_n + i128::from(len_slots) * l + off;
                Concrete {
                    policy,
                    now: from_nanos(now_n),
                    start: from_nanos(start_n),
                    end: from_nanos(end_n),
                    index,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn small_windows_match_a_grid_walk(c in small_case()) {
        let Ok(window) = Window::new(c.start, c.end) else {
            prop_assert!(c.end <= c.start);
            return Ok(());
        };
        let walked = walk(&c);
        match normalize(&c.policy, &window, c.index, c.now) {
            Ok(span) => {
                let starts: Vec<_> = span.starts().map(SlotStart::instant).collect();
                prop_assert_eq!(starts, walked);
            }
            Err(Error::WindowInPast { .. }) => {
                prop_assert!(c.end <= c.now);
                prop_assert!(walked.is_empty());
            }
            Err(Error::EmptyWindow { index, .. }) => {
                prop_assert_eq!(index, c.index);
                prop_assert!(c.end > c.now);
                prop_assert!(walked.is_empty(), "refused as empty but {:?} fit", walked);
            }
            Err(other) => {
                return Err(TestCaseError::fail(format!("unexpected refusal {other:?}")));
            }
        }
    }
}

/// A few fixed edges, so that the boundaries are pinned even if generation drifts.
#[test]
fn fixed_edges() {
    let policy = Policy::default();
    let now = DateTime::from_timestamp(1_893_456_000, 0).unwrap(); // 2030-01-01T00:00:00Z
    let l = policy.slot_length();
    let w = |s: DateTime<Utc>, e: DateTime<Utc>| Window::new(s, e).unwrap();
    // A window ending exactly at now is in the past; one nanosecond later it is empty.
    let err = normalize(&policy, &w(now - l, now), 0, now).unwrap_err();
    assert_eq!(err.code(), "window_in_past");
    let err = normalize(
        &policy,
        &w(now - l, now + TimeDelta::nanoseconds(1)),
        0,
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "empty_window");
    // A slot starting exactly at now is kept; one starting before is dropped.
    let span = normalize(&policy, &w(now - l, now + l), 0, now).unwrap();
    assert_eq!((span.first().instant(), span.len()), (now, 1));
    // Ending exactly at the horizon is allowed, a nanosecond more is not.
    let horizon = now + policy.max_horizon();
    let span = normalize(&policy, &w(horizon - l, horizon), 0, now).unwrap();
    assert_eq!(span.end(), horizon);
    let err = normalize(
        &policy,
        &w(horizon - l, horizon + TimeDelta::nanoseconds(1)),
        0,
        now,
    )
    .unwrap_err();
    assert_eq!(err.code(), "beyond_horizon");
    // Exactly max_window long is allowed, a nanosecond more is not.
    let start = now + TimeDelta::days(1);
    let span = normalize(&policy, &w(start, start + policy.max_window()), 0, now).unwrap();
    assert_eq!(span.end() - span.first().instant(), policy.max_window());
    let err = normalize(
        &policy,
        &w(
            start,
            start + policy.max_window() + TimeDelta::nanoseconds(1),
        ),
        3,
        now,
    )
    .unwrap_err();
    assert!(matches!(err, Error::WindowTooLong { index: 3, .. }));
}

/// The generator reaches every outcome often, so the properties above are not vacuous.
#[test]
fn generated_cases_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for _ in 0..4096 {
        let c = strategy.new_tree(&mut runner).unwrap().current().concrete();
        let kind = match Window::new(c.start, c.end) {
            Err(_) => "invalid_window",
            Ok(window) => match normalize(&c.policy, &window, c.index, c.now) {
                Ok(span) if span.len() == 1 => "one_slot",
                Ok(_) => "slots",
                Err(err) => err.code(),
            },
        };
        *seen.entry(kind).or_default() += 1;
    }
    for kind in [
        "invalid_window",
        "one_slot",
        "slots",
        "window_too_long",
        "window_in_past",
        "beyond_horizon",
        "empty_window",
    ] {
        let n = seen.get(kind).copied().unwrap_or(0);
        assert!(n >= 40, "only {n} cases of {kind}: {seen:?}");
    }
}
