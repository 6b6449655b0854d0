//! The one error type of the library, with a stable machine code per refusal.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::ids::{ProviderId, ReservationId, ServiceId, SlotId};

/// The error type of every fallible operation in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The boxed source of a storage failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every refusal the scheduler can give, each with the facts needed to act on it.
///
/// [`Error::code`] gives a stable, machine-readable name for each variant, fit
/// for an API's error payload; the `Display` text is for people and may change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A user id, key or other identifier broke its format rule.
    #[error("invalid {field}: {rule}")]
    InvalidId {
        /// The name of the offending field, as the API spells it (`providerId`, ...).
        field: &'static str,
        /// The rule it broke.
        rule: &'static str,
    },
    /// A policy setting is out of its allowed range.
    #[error("invalid policy: {field} {rule}")]
    InvalidPolicy {
        /// The policy setting.
        field: &'static str,
        /// The rule it broke.
        rule: String,
    },
    /// A window whose end is not after its start.
    #[error("invalid window: end {} is not after start {}", at(.end), at(.start))]
    InvalidWindow {
        /// The window's start.
        start: DateTime<Utc>,
        /// The window's end.
        end: DateTime<Utc>,
    },
    /// A query range whose end is not after its start.
    #[error("invalid range: `to` {} is not after `from` {}", at(.to), at(.from))]
    InvalidRange {
        /// The range's start.
        from: DateTime<Utc>,
        /// The range's end.
        to: DateTime<Utc>,
    },
    /// A window longer than [`Policy::max_window`](crate::Policy::max_window).
    #[error("window {index} is too long: {} exceeds the longest allowed window of {}", span(.length), span(.max))]
    WindowTooLong {
        /// Position of the window in the submitted batch.
        index: usize,
        /// The window's length.
        length: TimeDelta,
        /// The longest window allowed.
        max: TimeDelta,
    },
    /// A window that ends at or before the current instant.
    #[error("window {index} is in the past: it ends at {}, not after now ({})", at(.end), at(.now))]
    WindowInPast {
        /// Position of the window in the submitted batch.
        index: usize,
        /// The window's end.
        end: DateTime<Utc>,
        /// The instant of the request.
        now: DateTime<Utc>,
    },
    /// A window that ends beyond [`Policy::max_horizon`](crate::Policy::max_horizon).
    #[error("window {index} ends at {}, after the booking horizon {}", at(.end), at(.horizon))]
    BeyondHorizon {
        /// Position of the window in the submitted batch.
        index: usize,
        /// The window's end.
        end: DateTime<Utc>,
        /// The latest end accepted now.
        horizon: DateTime<Utc>,
    },
    /// A window that holds no whole slot once snapped to the grid and cut at now.
    #[error(
        "window {index} holds no whole {} slot between {} and {} \
         once snapped to the grid and cut at the current instant",
        span(.slot_length), at(.start), at(.end)
    )]
    EmptyWindow {
        /// Position of the window in the submitted batch.
        index: usize,
        /// The window's start as submitted.
        start: DateTime<Utc>,
        /// The window's end as submitted.
        end: DateTime<Utc>,
        /// The slot length of the grid.
        slot_length: TimeDelta,
    },
    /// A page size of zero or above [`Policy::max_page`](crate::Policy::max_page).
    #[error("invalid limit: {limit} is not between 1 and {max}")]
    InvalidLimit {
        /// The requested page size.
        limit: u32,
        /// The largest page size allowed.
        max: u32,
    },
    /// A cursor this library did not issue, or one from another kind of listing.
    #[error("invalid cursor: it was not issued by this listing")]
    InvalidCursor,
    /// No such slot: never offered, withdrawn, or not on the grid.
    #[error("slot {slot} does not exist")]
    SlotNotFound {
        /// The slot asked for.
        slot: SlotId,
    },
    /// A reservation attempted later than the minimum lead time allows.
    #[error(
        "slot {slot} starts at {}, less than the minimum lead of {} after now ({})",
        at(.start), span(.min_lead), at(.now)
    )]
    LeadTime {
        /// The slot asked for.
        slot: SlotId,
        /// The slot's start.
        start: DateTime<Utc>,
        /// The instant of the request.
        now: DateTime<Utc>,
        /// The minimum lead time.
        min_lead: TimeDelta,
    },
    /// The slot is booked or under a hold that has not expired.
    #[error("slot {slot} is not available: it is booked or held")]
    SlotUnavailable {
        /// The slot asked for.
        slot: SlotId,
    },
    /// An idempotency key already used by this client for another slot.
    #[error(
        "idempotency key {key:?} was already used for slot {original_slot} (reservation {reservation})"
    )]
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The slot the key was first used for.
        original_slot: SlotId,
        /// The reservation the key belongs to.
        reservation: ReservationId,
    },
    /// No such reservation.
    #[error("reservation {reservation} does not exist")]
    ReservationNotFound {
        /// The reservation asked for.
        reservation: ReservationId,
    },
    /// The caller is neither the reservation's client nor (where allowed) its provider.
    #[error("reservation {reservation} belongs to someone else")]
    Forbidden {
        /// The reservation asked for.
        reservation: ReservationId,
    },
    /// The hold lapsed before the operation.
    #[error("the hold on reservation {reservation} expired at {}", at(.expired_at))]
    HoldExpired {
        /// The reservation.
        reservation: ReservationId,
        /// The instant the hold lapsed.
        expired_at: DateTime<Utc>,
    },
    /// The reservation was cancelled.
    #[error("reservation {reservation} is cancelled")]
    Cancelled {
        /// The reservation.
        reservation: ReservationId,
    },
    /// A conditional availability write expected another calendar version.
    #[error(
        "the calendar of provider {provider} is at version {current}, not the expected {expected}"
    )]
    CalendarChanged {
        /// Whose calendar.
        provider: ProviderId,
        /// The version the caller expected.
        expected: u64,
        /// The version it is at.
        current: u64,
    },
    /// A weekly schedule broke one of its rules: an unknown time zone, a bad
    /// `HH:MM`, a range that ends before it starts, overlapping ranges, or a
    /// date given twice among the exceptions.
    #[error("invalid schedule: {field} {rule}")]
    InvalidSchedule {
        /// Where the fault is, as the JSON spells it: `timeZone`, `weekly.mon[1].end`,
        /// `exceptions[0].date`, ...
        field: String,
        /// The rule it broke.
        rule: String,
    },
    /// A service broke one of its rules.
    #[error("invalid service: {field} {rule}")]
    InvalidService {
        /// The field at fault: `name`, `duration`, `bufferBefore`,
        /// `bufferAfter`, `minNotice` or `maxAdvance`.
        field: &'static str,
        /// The rule it broke, with the value given.
        rule: String,
    },
    /// The provider has no service with this id.
    #[error("provider {provider} has no service {service}")]
    ServiceNotFound {
        /// Whose services were searched.
        provider: ProviderId,
        /// The service asked for.
        service: ServiceId,
    },
    /// A slot id of one kind used where another is needed: a start of another
    /// service, or a plain slot to move a service booking (and back).
    #[error(
        "slot {slot} books {}, but reservation {reservation} is for {}",
        service_name(.slot_service), service_name(.reservation_service)
    )]
    ServiceMismatch {
        /// The slot id given.
        slot: SlotId,
        /// The service it books, if any.
        slot_service: Option<ServiceId>,
        /// The reservation to move.
        reservation: ReservationId,
        /// The service the reservation is for, if any.
        reservation_service: Option<ServiceId>,
    },
    /// A service's start later than the service lets anyone book ahead.
    #[error(
        "slot {slot} starts at {}, more than the {} a booking may be made ahead of now ({})",
        at(.start), span(.max_advance), at(.now)
    )]
    TooFarAhead {
        /// The slot asked for.
        slot: SlotId,
        /// The slot's start.
        start: DateTime<Utc>,
        /// The instant of the request.
        now: DateTime<Utc>,
        /// How far ahead a start may be.
        max_advance: TimeDelta,
    },
    /// The storage backend failed; the source says how.
    #[error("storage failure: {0}")]
    Storage(#[source] BoxError),
}

impl Error {
    /// A stable, machine-readable code for the variant, such as `slot_unavailable`.
    ///
    /// ```
    /// use scheduler_core::Error;
    /// assert_eq!(Error::InvalidCursor.code(), "invalid_cursor");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "invalid_id",
            Error::InvalidPolicy { .. } => "invalid_policy",
            Error::InvalidWindow { .. } => "invalid_window",
            Error::InvalidRange { .. } => "invalid_range",
            Error::WindowTooLong { .. } => "window_too_long",
            Error::WindowInPast { .. } => "window_in_past",
            Error::BeyondHorizon { .. } => "beyond_horizon",
            Error::EmptyWindow { .. } => "empty_window",
            Error::InvalidLimit { .. } => "invalid_limit",
            Error::InvalidCursor => "invalid_cursor",
            Error::SlotNotFound { .. } => "slot_not_found",
            Error::LeadTime { .. } => "lead_time",
            Error::SlotUnavailable { .. } => "slot_unavailable",
            Error::IdempotencyConflict { .. } => "idempotency_conflict",
            Error::ReservationNotFound { .. } => "reservation_not_found",
            Error::Forbidden { .. } => "forbidden",
            Error::HoldExpired { .. } => "hold_expired",
            Error::Cancelled { .. } => "cancelled",
            Error::CalendarChanged { .. } => "calendar_changed",
            Error::InvalidSchedule { .. } => "invalid_schedule",
            Error::InvalidService { .. } => "invalid_service",
            Error::ServiceNotFound { .. } => "service_not_found",
            Error::ServiceMismatch { .. } => "service_mismatch",
            Error::TooFarAhead { .. } => "too_far_ahead",
            Error::Storage(_) => "storage",
        }
    }

    /// Wraps a backend failure, keeping it as the error's source.
    pub fn storage(source: impl Into<BoxError>) -> Self {
        Error::Storage(source.into())
    }
}

/// An instant as RFC 3339 with `Z`, as the API shows it.
fn at(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What a slot id or reservation books, in words.
fn service_name(service: &Option<ServiceId>) -> String {
    match service {
        Some(service) => format!("service {service}"),
        None => "a plain slot".to_owned(),
    }
}

/// A duration in whole units, largest first: `24h`, `1h30m`, `31d1s`, `1.5s`.
pub(crate) fn span(delta: &TimeDelta) -> String {
    let sign = if *delta < TimeDelta::zero() { "-" } else { "" };
    let delta = delta.abs();
    if delta.subsec_nanos() != 0 {
        return format!("{sign}{}s", delta.as_seconds_f64());
    }
    let mut secs = delta.num_seconds();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::from(sign);
    // Days only from two days up: "24h" reads better than "1d".
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let skip_days = usize::from(secs < 2 * 86_400);
    for &(unit, size) in &units[skip_days..] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(span(&TimeDelta::hours(24)), "24h");
        assert_eq!(span(&TimeDelta::hours(49)), "2d1h");
        assert_eq!(span(&TimeDelta::minutes(90)), "1h30m");
        assert_eq!(span(&TimeDelta::minutes(15)), "15m");
        assert_eq!(
            span(&(TimeDelta::days(31) + TimeDelta::seconds(1))),
            "31d1s"
        );
        assert_eq!(span(&TimeDelta::milliseconds(1500)), "1.5s");
        assert_eq!(span(&TimeDelta::zero()), "0s");
    }

    #[test]
    fn messages_carry_the_facts_in_rfc_3339() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        let err = Error::WindowInPast {
            index: 2,
            end: now,
            now,
        };
        assert_eq!(
            err.to_string(),
            "window 2 is in the past: it ends at 2030-01-01T09:00:00Z, not after now (2030-01-01T09:00:00Z)"
        );
        assert_eq!(err.code(), "window_in_past");
    }
}
