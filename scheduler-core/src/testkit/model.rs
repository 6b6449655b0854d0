//! A brute-force model of one provider's calendar with services, to check a
//! store against: random steps (publish, withdraw, reserve a slot or a
//! service, confirm, cancel, reschedule, move the clock) run on the real
//! scheduler and on the model side by side. After every step the plain
//! listing and each service's listing must equal what the model computes
//! from scratch, every reserve and reschedule must succeed exactly when the
//! model says it may, and no two live reservations may block a common cell.
//!
//! The steps come from bytes ([`Step::from_bytes`]), so that a backend's
//! test can draw them with any generator (proptest, say) and shrink them.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use scheduler_core::testkit::{Harness, model};
//! use scheduler_memory::MemoryStore;
//!
//! let steps: Vec<_> = [[0, 0, 9], [2, 1, 4], [6, 3, 0], [3, 0, 0]]
//!     .iter()
//!     .map(|&bytes| model::Step::from_bytes(bytes))
//!     .collect();
//! model::check(&Harness::new(MemoryStore::new()), &steps).await;
//! # });
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::Harness;
use crate::Precondition;
use crate::error::Error;
use crate::ids::{ReservationId, SlotId};
use crate::model::Actor;
use crate::scheduler::ListQuery;
use crate::service::Service;
use crate::store::Store;

/// Cells of the morning the steps play on: 08:00 to 14:00, 15 minutes each.
const CELLS: i64 = 24;

/// The services: (id, slots long, slots before, slots after).
const SERVICES: [(&str, i64, i64, i64); 3] =
    [("visit", 2, 0, 1), ("intake", 3, 1, 0), ("quick", 1, 0, 0)];

/// One step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Publish `len` cells from `from`.
    Publish {
        /// First cell.
        from: i64,
        /// How many.
        len: i64,
    },
    /// Withdraw `len` cells from `from`.
    Withdraw {
        /// First cell.
        from: i64,
        /// How many.
        len: i64,
    },
    /// Reserve `service` (or a plain slot, `None`) at cell `at`.
    Reserve {
        /// Index into the services, or `None` for a plain slot.
        service: Option<usize>,
        /// The start cell.
        at: i64,
    },
    /// Confirm the `nth` reservation made (modulo how many there are).
    Confirm {
        /// Which reservation.
        nth: usize,
    },
    /// Cancel the `nth` reservation, as its provider.
    Cancel {
        /// Which reservation.
        nth: usize,
    },
    /// Move the `nth` reservation to cell `at`, as its client.
    Reschedule {
        /// Which reservation.
        nth: usize,
        /// The new start cell.
        at: i64,
    },
    /// Move the clock by `minutes`.
    Advance {
        /// How far.
        minutes: i64,
    },
}

impl Step {
    /// The step three bytes name: the first picks the kind, the others its
    /// arguments.
    pub fn from_bytes([kind, a, b]: [u8; 3]) -> Self {
        let (a, b) = (i64::from(a), i64::from(b));
        let cell = |n: i64| n % CELLS;
        let nth = a as usize;
        match kind % 8 {
            0 => Step::Publish {
                from: cell(a),
                len: 1 + b % 8,
            },
            1 => Step::Withdraw {
                from: cell(a),
                len: 1 + b % 4,
            },
            2 | 3 => Step::Reserve {
                service: (b % 4 < 3).then_some((b % 4) as usize),
                at: cell(a),
            },
            4 => Step::Confirm { nth },
            5 => Step::Cancel { nth },
            6 => Step::Reschedule { nth, at: cell(b) },
            _ => Step::Advance {
                minutes: [1, 29, 30, 31][(a % 4) as usize],
            },
        }
    }
}

/// A reservation as the model keeps it.
#[derive(Debug, Clone)]
struct Booking {
    id: ReservationId,
    service: Option<usize>,
    start: i64,
    confirmed: bool,
    cancelled: bool,
    expires_at: DateTime<Utc>,
}

/// The model's whole state.
#[derive(Debug, Default)]
struct World {
    published: BTreeSet<i64>,
    bookings: Vec<Booking>,
}

/// `(slots long, before, after)` of a service, or of a plain slot.
fn shape(service: Option<usize>) -> (i64, i64, i64) {
    service.map_or((1, 0, 0), |i| (SERVICES[i].1, SERVICES[i].2, SERVICES[i].3))
}

impl World {
    fn live(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Booking> {
        self.bookings
            .iter()
            .filter(move |b| !b.cancelled && (b.confirmed || b.expires_at > now))
    }

    /// The cells `[from, to)` booking `b` blocks.
    fn blocked(b: &Booking) -> (i64, i64) {
        let (len, before, after) = shape(b.service);
        (b.start - before, b.start + len + after)
    }

    /// Whether `service` fits at `at` now, `except` one booking's own time.
    fn fits(
        &self,
        service: Option<usize>,
        at: i64,
        now: DateTime<Utc>,
        except: Option<ReservationId>,
    ) -> bool {
        let (len, before, after) = shape(service);
        let (from, to) = (at - before, at + len + after);
        (at..at + len).all(|c| self.published.contains(&c))
            && self.live(now).filter(|b| Some(b.id) != except).all(|b| {
                let (f, t) = Self::blocked(b);
                t <= from || to <= f
            })
    }
}

/// Runs `steps` on `h`'s scheduler and on the model, checking after each
/// step; panics with the step and the difference on the first mismatch.
pub async fn check<S: Store>(h: &Harness<S>, steps: &[Step]) {
    let p = h.provider("model");
    let c = h.client("model");
    let morning = h.day_at(2, 8, 0, 0);
    let at = |cell: i64| morning + TimeDelta::minutes(15 * cell);
    let cell_of = |t: DateTime<Utc>| (t - morning).num_minutes() / 15;
    let mut services = Vec::new();
    for (id, len, before, after) in SERVICES {
        services.push(
            h.put_service(&p, id, 15 * len, 15 * before, 15 * after)
                .await,
        );
    }
    let slot = |service: Option<usize>, cell: i64| match service {
        Some(i) => h.service_slot(&services[i], at(cell)),
        None => SlotId::new(p.clone(), at(cell)),
    };
    let mut world = World::default();
    for (n, &step) in steps.iter().enumerate() {
        let now = h.now();
        let context = format!("step {n} {step:?} at {now}");
        match step {
            Step::Publish { from, len } => {
                let to = (from + len).min(CELLS);
                h.open(&p, at(from), at(to)).await;
                world.published.extend(from..to);
            }
            Step::Withdraw { from, len } => {
                let range = Harness::<S>::range(at(from), at(from + len));
                h.scheduler
                    .withdraw_availability(&p, range, Precondition::Any)
                    .await
                    .unwrap_or_else(|err| panic!("{context}: {err:?}"));
                let kept: Vec<(i64, i64)> = world
                    .live(now)
                    .map(|b| (b.start, b.start + shape(b.service).0))
                    .collect();
                world.published.retain(|&cell| {
                    cell < from
                        || cell >= from + len
                        || kept.iter().any(|&(s, e)| s <= cell && cell < e)
                });
            }
            Step::Reserve { service, at: cell } => {
                let expected = world.fits(service, cell, now, None);
                match h.scheduler.reserve(&slot(service, cell), &c, None).await {
                    Ok(held) => {
                        assert!(
                            expected,
                            "{context}: reserved what the model refuses: {held:?}"
                        );
                        world.bookings.push(Booking {
                            id: held.id,
                            service,
                            start: cell,
                            confirmed: false,
                            cancelled: false,
                            expires_at: held.expires_at,
                        });
                    }
                    Err(err) => {
                        assert!(
                            !expected,
                            "{context}: refused what the model allows: {err:?}"
                        );
                        assert!(
                            matches!(
                                err,
                                Error::SlotUnavailable { .. } | Error::SlotNotFound { .. }
                            ),
                            "{context}: {err:?}"
                        );
                    }
                }
            }
            Step::Confirm { .. } | Step::Cancel { .. } | Step::Reschedule { .. }
                if world.bookings.is_empty() => {}
            Step::Confirm { nth } => {
                let i = nth % world.bookings.len();
                let b = &mut world.bookings[i];
                let may = !b.cancelled && (b.confirmed || b.expires_at > now);
                let done = h.scheduler.confirm(b.id, &c).await;
                assert_eq!(done.is_ok(), may, "{context}: {done:?}");
                b.confirmed |= may;
            }
            Step::Cancel { nth } => {
                let i = nth % world.bookings.len();
                let b = &mut world.bookings[i];
                let live = !b.cancelled && (b.confirmed || b.expires_at > now);
                let done = h.scheduler.cancel(b.id, &Actor::Provider(p.clone())).await;
                // Cancelling a cancelled reservation returns it unchanged.
                assert_eq!(done.is_ok(), live || b.cancelled, "{context}: {done:?}");
                b.cancelled |= live;
            }
            Step::Reschedule { nth, at: cell } => {
                let i = nth % world.bookings.len();
                let b = world.bookings[i].clone();
                let live = !b.cancelled && (b.confirmed || b.expires_at > now);
                let expected =
                    live && (cell == b.start || world.fits(b.service, cell, now, Some(b.id)));
                let done = h
                    .scheduler
                    .reschedule(b.id, &slot(b.service, cell), &Actor::Client(c.clone()))
                    .await;
                assert_eq!(done.is_ok(), expected, "{context}: {done:?}");
                if let Ok(moved) = done {
                    assert_eq!(cell_of(moved.start), cell, "{context}");
                    world.bookings[i].start = cell;
                }
            }
            Step::Advance { minutes } => h.advance(TimeDelta::minutes(minutes)),
        }
        compare(h, &world, &services, &context, at, cell_of).await;
    }
}

/// The listings and the stored reservations against the model.
async fn compare<S: Store>(
    h: &Harness<S>,
    world: &World,
    services: &[Service],
    context: &str,
    at: impl Fn(i64) -> DateTime<Utc>,
    cell_of: impl Fn(DateTime<Utc>) -> i64,
) {
    let now = h.now();
    let p = &services[0].provider_id;
    let expected: Vec<_> = world
        .published
        .iter()
        .copied()
        .filter(|&cell| world.fits(None, cell, now, None))
        .map(&at)
        .collect();
    assert_eq!(
        h.reservable_starts(p).await,
        expected,
        "{context}: the plain listing"
    );
    for (i, service) in services.iter().enumerate() {
        let expected: Vec<_> = (0..CELLS)
            .filter(|&cell| world.fits(Some(i), cell, now, None))
            .map(&at)
            .collect();
        assert_eq!(
            h.service_starts(service).await,
            expected,
            "{context}: the listing of {}",
            service.id
        );
    }
    let page = h
        .scheduler
        .provider_reservations(p, ListQuery::all().limit(500))
        .await
        .unwrap_or_else(|err| panic!("{context}: {err:?}"));
    let mut live: Vec<_> = page.items.iter().filter(|r| r.is_live_at(now)).collect();
    assert_eq!(
        live.len(),
        world.live(now).count(),
        "{context}: live reservations"
    );
    live.sort_by_key(|r| r.blocked_start);
    for pair in live.windows(2) {
        assert!(
            pair[0].blocked_end <= pair[1].blocked_start,
            "{context}: two live reservations block a common cell: {pair:?}"
        );
    }
    for r in &live {
        let b = world
            .bookings
            .iter()
            .find(|b| b.id == r.id)
            .unwrap_or_else(|| panic!("{context}: unknown {r:?}"));
        assert_eq!(cell_of(r.start), b.start, "{context}: {r:?}");
    }
}
