//! A provider's bookings as an RFC 5545 calendar, rendered with `icalendar`
//! (which writes CRLF line ends and folds lines at 75 octets).

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use scheduler_core::{ProviderId, Reservation, ReservationStatus, Service};

/// The media type of a feed.
pub const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

/// The calendar's `PRODID`.
const PRODID: &str = "-//scheduler-rs//scheduler server//EN";

/// The right-hand side of every `UID`: reservation ids are unique on their
/// own, so a fixed name keeps a booking's `UID` the same in every response.
const UID_DOMAIN: &str = "scheduler-rs";

/// How often a subscribed calendar application should fetch the feed again.
const REFRESH: TimeDelta = TimeDelta::minutes(15);

/// Whether `reservation` is a booking: it was confirmed at some point,
/// whether it still is or was cancelled since. A hold never confirmed is not.
pub fn is_booking(reservation: &Reservation) -> bool {
    reservation.confirmed_at.is_some()
        && matches!(
            reservation.status,
            ReservationStatus::Confirmed | ReservationStatus::Cancelled
        )
}

/// The `VCALENDAR` of `provider`'s `bookings` (other reservations are
/// skipped), stamped `now`; a booking of one of `services` is named after it.
///
/// The calendar says `METHOD:PUBLISH`, so each `DTSTAMP` is, as RFC 5545
/// section 3.8.7.2 defines it for that case, the instant the calendar was
/// produced. Each booking is one `VEVENT`: `UID` `<reservationId>@scheduler-rs`,
/// `DTSTART`/`DTEND` in UTC, `STATUS:CONFIRMED` with `SEQUENCE:0`, or
/// `STATUS:CANCELLED` with `SEQUENCE:1` once cancelled, so a calendar
/// application that saw the booking replaces it with its cancellation. An
/// event spans the appointment, not its buffers; its `SUMMARY` names the
/// service (by its id, once the service is deleted) and the client.
pub fn render<'a>(
    provider: &ProviderId,
    bookings: impl IntoIterator<Item = &'a Reservation>,
    services: &[Service],
    now: DateTime<Utc>,
) -> String {
    let now = now.trunc_subsecs(0);
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", PRODID))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name(&format!("Bookings of {provider}"))
        .ttl(&REFRESH);
    for booking in bookings.into_iter().filter(|r| is_booking(r)) {
        calendar.push(event(booking, services, now));
    }
    calendar.to_string()
}

fn event(booking: &Reservation, services: &[Service], now: DateTime<Utc>) -> Event {
    let cancelled = booking.status == ReservationStatus::Cancelled;
    let (status, sequence) = match cancelled {
        true => (EventStatus::Cancelled, 1),
        false => (EventStatus::Confirmed, 0),
    };
    Event::new()
        .uid(&format!("{}@{UID_DOMAIN}", booking.id))
        .timestamp(now)
        .starts(booking.start.trunc_subsecs(0))
        .ends(booking.end.trunc_subsecs(0))
        .summary(&summary(booking, services))
        .status(status)
        .sequence(sequence)
        .done()
}

/// `Appointment with <client>`, or `<service> with <client>`.
fn summary(booking: &Reservation, services: &[Service]) -> String {
    let Some(id) = &booking.service_id else {
        return format!("Appointment with {}", booking.client_id);
    };
    let name = services
        .iter()
        .find(|service| service.id == *id)
        .map_or(id.as_str(), |service| service.name.as_str());
    format!("{name} with {}", booking.client_id)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use scheduler_core::{ClientId, ReservationId, SlotId};

    use super::*;

    fn booking(client: &str, status: ReservationStatus, confirmed: bool) -> Reservation {
        let provider = ProviderId::new("dr-grey").unwrap();
        let start = Utc.with_ymd_and_hms(2030, 3, 6, 9, 0, 0).unwrap();
        let created = Utc.with_ymd_and_hms(2030, 3, 4, 8, 0, 0).unwrap();
        Reservation {
            id: ReservationId::generate(),
            slot_id: SlotId::new(provider.clone(), start),
            provider_id: provider,
            client_id: ClientId::new(client).unwrap(),
            service_id: None,
            start,
            end: start + chrono::TimeDelta::minutes(15),
            blocked_start: start,
            blocked_end: start + chrono::TimeDelta::minutes(15),
            status,
            created_at: created,
            expires_at: created + chrono::TimeDelta::minutes(30),
            confirmed_at: confirmed.then_some(created),
        }
    }

    #[test]
    fn only_reservations_ever_confirmed_are_bookings() {
        use ReservationStatus as S;
        assert!(is_booking(&booking("a", S::Confirmed, true)));
        assert!(is_booking(&booking("a", S::Cancelled, true)));
        assert!(!is_booking(&booking("a", S::Cancelled, false)));
        assert!(!is_booking(&booking("a", S::Held, false)));
        assert!(!is_booking(&booking("a", S::Expired, false)));
    }

    #[test]
    fn every_line_ends_in_crlf_and_fits_in_75_octets() {
        // A 128-character client id makes SUMMARY longer than one line.
        let long = "c".repeat(128);
        let provider = ProviderId::new("p".repeat(128)).unwrap();
        let bookings = [booking(&long, ReservationStatus::Confirmed, true)];
        let now = Utc.with_ymd_and_hms(2030, 3, 4, 8, 0, 0).unwrap();
        let text = render(&provider, &bookings, &[], now);
        assert!(text.ends_with("END:VCALENDAR\r\n"), "{text}");
        let body = text.strip_suffix("\r\n").unwrap();
        let mut folded = 0;
        for line in body.split("\r\n") {
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            folded += usize::from(line.starts_with(' '));
        }
        assert!(folded >= 2, "the long lines were folded: {text}");
        // Unfolded, the long summary is whole again.
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:Appointment with {long}\r\n")));
        assert!(unfolded.contains(&format!("X-WR-CALNAME:Bookings of {}\r\n", "p".repeat(128))));
    }

    #[test]
    fn a_service_booking_is_named_after_its_service_even_once_deleted() {
        let mut intake = booking("amy", ReservationStatus::Confirmed, true);
        let id = scheduler_core::ServiceId::new("intake").unwrap();
        intake.service_id = Some(id.clone());
        let service = Service::new(
            intake.provider_id.clone(),
            id,
            "Intake",
            chrono::TimeDelta::minutes(45),
        );
        assert_eq!(summary(&intake, &[service]), "Intake with amy");
        assert_eq!(summary(&intake, &[]), "intake with amy");
        let plain = booking("amy", ReservationStatus::Confirmed, true);
        assert_eq!(summary(&plain, &[]), "Appointment with amy");
    }
}
