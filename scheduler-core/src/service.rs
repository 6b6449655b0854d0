//! Services: kinds of appointment, each a run of consecutive slots with
//! buffer time before and after, and the rules that place one on the grid.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, span};
use crate::grid::{Grid, SlotSpan, SlotStart};
use crate::ids::{ProviderId, ServiceId};
use crate::policy::Policy;

/// The longest service name, in characters.
pub const MAX_SERVICE_NAME_CHARS: usize = 200;

/// The longest service: one day.
pub(crate) const MAX_DURATION: TimeDelta = TimeDelta::hours(24);
/// The longest buffer on either side.
const MAX_BUFFER: TimeDelta = TimeDelta::hours(4);
/// The longest notice a service may ask for.
const MAX_NOTICE: TimeDelta = TimeDelta::days(365);
/// The farthest ahead a service may allow.
const MAX_ADVANCE: TimeDelta = TimeDelta::days(3650);

/// A kind of appointment a provider offers: `duration` of the provider's
/// time, with `buffer_before` and `buffer_after` kept free around it.
///
/// Every length is a whole number of slots on the scheduler's grid;
/// [`Scheduler::put_service`](crate::Scheduler::put_service) checks the
/// rules and names the field that breaks one.
///
/// ```
/// use chrono::TimeDelta;
/// use scheduler_core::{Policy, ProviderId, Service, ServiceId};
///
/// let intake = Service::new(
///     ProviderId::new("dr-who").unwrap(),
///     ServiceId::new("intake").unwrap(),
///     "Intake",
///     TimeDelta::minutes(45),
/// )
/// .buffer_after(TimeDelta::minutes(15));
/// assert!(intake.check(&Policy::default()).is_ok());
///
/// let odd = intake.clone().buffer_before(TimeDelta::minutes(10));
/// let err = odd.check(&Policy::default()).unwrap_err();
/// assert_eq!(err.to_string(), "invalid service: bufferBefore must be a multiple of the 15m slot length, from 0s to 4h; got 10m");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Whose service it is.
    pub provider_id: ProviderId,
    /// Its id among the provider's services.
    pub id: ServiceId,
    /// What people call it: 1 to 200 characters, no control characters.
    pub name: String,
    /// How long the appointment occupies the provider: a positive multiple
    /// of the slot length, at most 24 h.
    pub duration: TimeDelta,
    /// Time kept free before the appointment (preparation): a multiple of
    /// the slot length, 0 to 4 h.
    pub buffer_before: TimeDelta,
    /// Time kept free after the appointment (notes): a multiple of the slot
    /// length, 0 to 4 h.
    pub buffer_after: TimeDelta,
    /// The least time between booking and start, if the service asks for
    /// more than the policy's lead time: whole minutes, at most 365 days.
    pub min_notice: Option<TimeDelta>,
    /// The farthest ahead of now a start may be booked, if the service
    /// allows less than the policy's horizon: whole minutes, positive, at
    /// most 3650 days.
    pub max_advance: Option<TimeDelta>,
}

impl Service {
    /// A service of `duration` without buffers or limits of its own.
    pub fn new(
        provider_id: ProviderId,
        id: ServiceId,
        name: impl Into<String>,
        duration: TimeDelta,
    ) -> Self {
        Self {
            provider_id,
            id,
            name: name.into(),
            duration,
            buffer_before: TimeDelta::zero(),
            buffer_after: TimeDelta::zero(),
            min_notice: None,
            max_advance: None,
        }
    }

    /// With `buffer` kept free before each appointment.
    pub fn buffer_before(mut self, buffer: TimeDelta) -> Self {
        self.buffer_before = buffer;
        self
    }

    /// With `buffer` kept free after each appointment.
    pub fn buffer_after(mut self, buffer: TimeDelta) -> Self {
        self.buffer_after = buffer;
        self
    }

    /// Booked at least `notice` before its start.
    pub fn min_notice(mut self, notice: TimeDelta) -> Self {
        self.min_notice = Some(notice);
        self
    }

    /// Booked at most `advance` ahead of now.
    pub fn max_advance(mut self, advance: TimeDelta) -> Self {
        self.max_advance = Some(advance);
        self
    }

    /// Checks every rule of a service on `policy`'s grid; the error names the
    /// first field that breaks one (`name`, `duration`, `bufferBefore`,
    /// `bufferAfter`, `minNotice`, `maxAdvance`).
    pub fn check(&self, policy: &Policy) -> Result<()> {
        let slot = policy.slot_length();
        let chars = self.name.chars().count();
        if chars == 0 || chars > MAX_SERVICE_NAME_CHARS || self.name.chars().any(char::is_control) {
            return Err(invalid(
                "name",
                format!(
                    "must be 1 to {MAX_SERVICE_NAME_CHARS} characters without control characters; got {chars}"
                ),
            ));
        }
        let whole_slots = |value: TimeDelta| {
            value.num_seconds() % slot.num_seconds() == 0 && value.subsec_nanos() == 0
        };
        if !(whole_slots(self.duration)
            && self.duration > TimeDelta::zero()
            && self.duration <= MAX_DURATION)
        {
            return Err(invalid(
                "duration",
                format!(
                    "must be a positive multiple of the {} slot length, at most 24h; got {}",
                    span(&slot),
                    span(&self.duration)
                ),
            ));
        }
        for (field, buffer) in [
            ("bufferBefore", self.buffer_before),
            ("bufferAfter", self.buffer_after),
        ] {
            if !(whole_slots(buffer) && buffer >= TimeDelta::zero() && buffer <= MAX_BUFFER) {
                return Err(invalid(
                    field,
                    format!(
                        "must be a multiple of the {} slot length, from 0s to 4h; got {}",
                        span(&slot),
                        span(&buffer)
                    ),
                ));
            }
        }
        let whole_minutes =
            |value: TimeDelta| value.subsec_nanos() == 0 && value.num_seconds() % 60 == 0;
        if let Some(notice) = self.min_notice
            && !(whole_minutes(notice) && notice >= TimeDelta::zero() && notice <= MAX_NOTICE)
        {
            return Err(invalid(
                "minNotice",
                format!(
                    "must be whole minutes from 0s to 365 days; got {}",
                    span(&notice)
                ),
            ));
        }
        if let Some(advance) = self.max_advance
            && !(whole_minutes(advance) && advance > TimeDelta::zero() && advance <= MAX_ADVANCE)
        {
            return Err(invalid(
                "maxAdvance",
                format!(
                    "must be whole minutes, positive, at most 3650 days; got {}",
                    span(&advance)
                ),
            ));
        }
        Ok(())
    }

    /// The least time between booking and start: the policy's lead time, or
    /// the service's notice if that is longer. A service can only be stricter.
    pub fn notice(&self, policy: &Policy) -> TimeDelta {
        self.min_notice
            .map_or(policy.min_lead(), |notice| notice.max(policy.min_lead()))
    }

    /// How far ahead of now a start may be booked: the policy's horizon, or
    /// the service's limit if that is shorter.
    pub fn horizon(&self, policy: &Policy) -> TimeDelta {
        self.max_advance.map_or(policy.max_horizon(), |advance| {
            advance.min(policy.max_horizon())
        })
    }

    /// The time a booking starting at `start` occupies and the time it blocks.
    pub fn claim_at(&self, start: SlotStart, grid: Grid) -> Option<Claim> {
        Claim::new(
            start,
            self.duration,
            self.buffer_before,
            self.buffer_after,
            grid,
        )
    }
}

fn invalid(field: &'static str, rule: String) -> Error {
    Error::InvalidService { field, rule }
}

/// The grid cells a reservation takes: the slots its appointment *occupies*,
/// and the wider run it *blocks* (the occupied slots and the buffers around
/// them). No two live reservations of a provider block a common cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    occupied: SlotSpan,
    blocked: SlotSpan,
}

impl Claim {
    /// The claim of a plain reservation: it occupies and blocks one slot.
    pub fn slot(start: SlotStart, grid: Grid) -> Self {
        let one = SlotSpan::run(start, 1, grid);
        Self {
            occupied: one,
            blocked: one,
        }
    }

    /// `duration` from `start`, with the buffers around it; `None` when a
    /// span would leave `DateTime`'s range.
    fn new(
        start: SlotStart,
        duration: TimeDelta,
        before: TimeDelta,
        after: TimeDelta,
        grid: Grid,
    ) -> Option<Self> {
        let slot = grid.slot_length().num_seconds();
        let cells = |span: TimeDelta| usize::try_from(span.num_seconds() / slot).ok();
        let first_blocked = grid.slot_at(start.instant().checked_sub_signed(before)?)?;
        let occupied = SlotSpan::run(start, cells(duration)?, grid);
        let blocked = SlotSpan::run(first_blocked, cells(before + duration + after)?, grid);
        // Both must end inside `DateTime`'s range, or a store could not keep them.
        start.instant().checked_add_signed(duration + after)?;
        Some(Self { occupied, blocked })
    }

    /// The slots the appointment takes, each of which must be published.
    pub fn occupied(&self) -> SlotSpan {
        self.occupied
    }

    /// The cells no other live reservation may take: `occupied` and the buffers.
    pub fn blocked(&self) -> SlotSpan {
        self.blocked
    }

    /// The appointment's start.
    pub fn start(&self) -> SlotStart {
        self.occupied.first()
    }

    /// `[start, end)` of the blocked cells.
    pub fn blocked_range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.blocked.first().instant(), self.blocked.end())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn visit() -> Service {
        Service::new(
            ProviderId::new("p").unwrap(),
            ServiceId::new("visit").unwrap(),
            "Visit",
            TimeDelta::minutes(30),
        )
    }

    /// The field `service` is refused for, or `None` if it is accepted.
    fn refused(service: Service) -> Option<&'static str> {
        match service.check(&Policy::default()) {
            Ok(()) => None,
            Err(Error::InvalidService { field, .. }) => Some(field),
            Err(other) => panic!("not an invalid_service: {other:?}"),
        }
    }

    #[test]
    fn every_rule_holds_at_its_edge_and_breaks_one_step_past_it() {
        let (m, h, d) = (TimeDelta::minutes, TimeDelta::hours, TimeDelta::days);
        let cases: [(Service, Option<&str>); 22] = [
            (visit(), None),
            (
                Service {
                    name: "x".repeat(200),
                    ..visit()
                },
                None,
            ),
            (
                Service {
                    name: "x".repeat(201),
                    ..visit()
                },
                Some("name"),
            ),
            (
                Service {
                    name: "é".repeat(200),
                    ..visit()
                },
                None,
            ),
            (
                Service {
                    name: String::new(),
                    ..visit()
                },
                Some("name"),
            ),
            (
                Service {
                    name: "a\nb".into(),
                    ..visit()
                },
                Some("name"),
            ),
            (
                Service {
                    duration: h(24),
                    ..visit()
                },
                None,
            ),
            (
                Service {
                    duration: h(24) + m(15),
                    ..visit()
                },
                Some("duration"),
            ),
            (
                Service {
                    duration: m(15),
                    ..visit()
                },
                None,
            ),
            (
                Service {
                    duration: TimeDelta::zero(),
                    ..visit()
                },
                Some("duration"),
            ),
            (
                Service {
                    duration: m(-15),
                    ..visit()
                },
                Some("duration"),
            ),
            (
                Service {
                    duration: m(15) + TimeDelta::seconds(1),
                    ..visit()
                },
                Some("duration"),
            ),
            (visit().buffer_before(h(4)), None),
            (visit().buffer_before(h(4) + m(15)), Some("bufferBefore")),
            (visit().buffer_after(m(-15)), Some("bufferAfter")),
            (visit().min_notice(TimeDelta::zero()), None),
            (visit().min_notice(d(365)), None),
            (visit().min_notice(d(365) + m(1)), Some("minNotice")),
            (
                visit().min_notice(TimeDelta::seconds(30)),
                Some("minNotice"),
            ),
            (visit().max_advance(m(1)), None),
            (visit().max_advance(TimeDelta::zero()), Some("maxAdvance")),
            (visit().max_advance(d(3650) + m(1)), Some("maxAdvance")),
        ];
        for (service, field) in cases {
            assert_eq!(refused(service.clone()), field, "{service:?}");
        }
        assert_eq!(refused(visit().max_advance(d(3650))), None);
    }

    #[test]
    fn a_claim_blocks_the_buffers_around_what_it_occupies() {
        let grid = Policy::default().grid();
        let nine = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        let service = visit()
            .buffer_before(TimeDelta::minutes(15))
            .buffer_after(TimeDelta::minutes(30));
        let claim = service.claim_at(grid.slot_at(nine).unwrap(), grid).unwrap();
        assert_eq!(claim.start().instant(), nine);
        assert_eq!(claim.occupied().len(), 2);
        assert_eq!(claim.occupied().end(), nine + TimeDelta::minutes(30));
        assert_eq!(claim.blocked().len(), 5);
        assert_eq!(
            claim.blocked_range(),
            (nine - TimeDelta::minutes(15), nine + TimeDelta::hours(1))
        );
        let plain = Claim::slot(grid.slot_at(nine).unwrap(), grid);
        assert_eq!(plain.blocked(), plain.occupied());
        assert_eq!(plain.blocked_range(), (nine, nine + TimeDelta::minutes(15)));
    }

    #[test]
    fn the_stricter_of_policy_and_service_wins() {
        let policy = Policy::default();
        let lax = visit()
            .min_notice(TimeDelta::hours(1))
            .max_advance(TimeDelta::days(5000));
        assert_eq!(lax.notice(&policy), policy.min_lead());
        assert_eq!(lax.horizon(&policy), policy.max_horizon());
        let strict = visit()
            .min_notice(TimeDelta::hours(48))
            .max_advance(TimeDelta::days(7));
        assert_eq!(strict.notice(&policy), TimeDelta::hours(48));
        assert_eq!(strict.horizon(&policy), TimeDelta::days(7));
        assert_eq!(visit().notice(&policy), policy.min_lead());
        assert_eq!(visit().horizon(&policy), policy.max_horizon());
    }
}
