//! Rescheduling: moving a live booking to another start of its kind in one
//! atomic step (design section 8).

use chrono::TimeDelta;

use super::minutes;
use crate::error::Error;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn reschedule_moves_the_claim_and_keeps_the_rest<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 30, 0, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let held = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    h.advance(minutes(5));
    let to = h.service_slot(&visit, h.day_at(2, 11, 0, 0));
    let moved = h
        .scheduler
        .reschedule(held.id, &to, &Actor::Client(c.clone()))
        .await
        .unwrap();
    assert_eq!(
        (
            moved.start,
            moved.end,
            moved.blocked_start,
            moved.blocked_end
        ),
        (
            h.day_at(2, 11, 0, 0),
            h.day_at(2, 11, 30, 0),
            h.day_at(2, 11, 0, 0),
            h.day_at(2, 11, 45, 0)
        )
    );
    assert_eq!(moved.slot_id, to);
    assert_eq!(
        (&moved.id, &moved.client_id, &moved.service_id, moved.status),
        (
            &held.id,
            &held.client_id,
            &held.service_id,
            ReservationStatus::Held
        )
    );
    assert_eq!(
        (moved.created_at, moved.expires_at),
        (held.created_at, held.expires_at)
    );
    let reservable = h.reservable_starts(&p).await;
    assert!(
        reservable.contains(&h.day_at(2, 9, 0, 0)),
        "the old time is free"
    );
    assert!(
        reservable.contains(&h.day_at(2, 9, 30, 0)),
        "and its buffer"
    );
    assert!(
        !reservable.contains(&h.day_at(2, 11, 30, 0)),
        "the new buffer is not"
    );
    assert_eq!(h.provider_bookings(&p).await, std::slice::from_ref(&moved));
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Provider(p.clone()))
        .await
        .unwrap();
    assert_eq!(read, moved, "the move is stored");
}

pub async fn reschedule_to_where_it_is_returns_it_unchanged<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let again = h
        .scheduler
        .reschedule(held.id, &slot, &Actor::Client(c))
        .await
        .unwrap();
    assert_eq!(again, held);
}

pub async fn reschedule_may_overlap_its_own_time<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 45, 15, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let held = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &c)
        .await;
    let later = h.service_slot(&visit, h.day_at(2, 9, 15, 0));
    let moved = h
        .scheduler
        .reschedule(held.id, &later, &Actor::Client(c.clone()))
        .await
        .unwrap();
    assert_eq!(moved.start, h.day_at(2, 9, 15, 0));
    let back = h.service_slot(&visit, h.day_at(2, 9, 0, 0));
    let moved = h
        .scheduler
        .reschedule(held.id, &back, &Actor::Client(c))
        .await
        .unwrap();
    assert_eq!(
        (moved.start, moved.blocked_start),
        (held.start, held.blocked_start)
    );
}

pub async fn reschedule_onto_another_booking_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (amy, bob) = (h.client("amy"), h.client("bob"));
    let visit = h.put_service(&p, "visit", 30, 0, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let first = h
        .hold(&h.service_slot(&visit, h.day_at(2, 9, 0, 0)), &amy)
        .await;
    let second = h
        .hold(&h.service_slot(&visit, h.day_at(2, 10, 0, 0)), &bob)
        .await;
    // 09:30 would block 09:30-10:15, over the second booking.
    let onto = h.service_slot(&visit, h.day_at(2, 9, 30, 0));
    expect_err!(
        h.scheduler
            .reschedule(first.id, &onto, &Actor::Client(amy.clone()))
            .await,
        Error::SlotUnavailable { .. },
        "moving into another booking's time"
    );
    let missing = h.service_slot(&visit, h.day_at(2, 11, 45, 0));
    expect_err!(
        h.scheduler
            .reschedule(first.id, &missing, &Actor::Client(amy))
            .await,
        Error::SlotNotFound { .. },
        "an appointment past the published slots"
    );
    assert_eq!(
        h.provider_bookings(&p).await,
        [first, second],
        "nothing moved"
    );
}

pub async fn reschedule_respects_notice<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(3, 12, 0, 0))
        .await;
    let target = h.day_at(2, 10, 0, 0);
    // Held ten minutes before the edge, so that the hold outlives the test.
    h.set(target - h.scheduler.policy().min_lead() - minutes(10));
    let held = h.hold(&h.slot_id(&p, h.day_at(3, 9, 0, 0)), &c).await;
    h.set(target - h.scheduler.policy().min_lead() + TimeDelta::seconds(1));
    expect_err!(
        h.scheduler
            .reschedule(held.id, &h.slot_id(&p, target), &Actor::Client(c.clone()))
            .await,
        Error::LeadTime { .. },
        "a new start 24 h less a second ahead"
    );
    h.set(target - h.scheduler.policy().min_lead());
    let moved = h
        .scheduler
        .reschedule(held.id, &h.slot_id(&p, target), &Actor::Client(c))
        .await
        .unwrap();
    assert_eq!(moved.start, target);
}

pub async fn reschedule_across_kinds_is_a_mismatch<S: Store>(h: Harness<S>) {
    let (p, other) = (h.provider("p"), h.provider("other"));
    let c = h.client("c");
    let visit = h.put_service(&p, "visit", 30, 0, 0).await;
    let intake = h.put_service(&p, "intake", 30, 0, 0).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    h.open(&other, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let plain = h.hold(&h.slot_id(&p, h.day_at(2, 9, 0, 0)), &c).await;
    let booked = h
        .hold(&h.service_slot(&visit, h.day_at(2, 10, 0, 0)), &c)
        .await;
    let client = Actor::Client(c);
    let eleven = h.day_at(2, 11, 0, 0);
    for (id, slot) in [
        (plain.id, h.service_slot(&visit, eleven)),
        (booked.id, h.slot_id(&p, eleven)),
        (booked.id, h.service_slot(&intake, eleven)),
    ] {
        expect_err!(
            h.scheduler.reschedule(id, &slot, &client).await,
            Error::ServiceMismatch { .. },
            "{slot:?}"
        );
    }
    expect_err!(
        h.scheduler
            .reschedule(plain.id, &h.slot_id(&other, eleven), &client)
            .await,
        Error::SlotNotFound { .. },
        "another provider's slot"
    );
    assert_eq!(h.provider_bookings(&p).await, [plain, booked]);
}

pub async fn reschedule_of_a_settled_reservation_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let client = Actor::Client(c.clone());
    let to = h.slot_id(&p, h.day_at(2, 11, 0, 0));
    let cancelled = h.hold(&h.slot_id(&p, h.day_at(2, 9, 0, 0)), &c).await;
    h.scheduler.cancel(cancelled.id, &client).await.unwrap();
    expect_err!(
        h.scheduler.reschedule(cancelled.id, &to, &client).await,
        Error::Cancelled { .. },
        "a cancelled reservation"
    );
    let lapsing = h.hold(&h.slot_id(&p, h.day_at(2, 10, 0, 0)), &c).await;
    h.set(lapsing.expires_at - TimeDelta::seconds(1));
    let confirmed = h.scheduler.confirm(lapsing.id, &c).await.unwrap();
    let lapsed = h.hold(&h.slot_id(&p, h.day_at(2, 9, 30, 0)), &c).await;
    h.set(lapsed.expires_at);
    expect_err!(
        h.scheduler.reschedule(lapsed.id, &to, &client).await,
        Error::HoldExpired { .. },
        "a hold at its expiry instant"
    );
    let moved = h
        .scheduler
        .reschedule(confirmed.id, &to, &client)
        .await
        .unwrap();
    assert_eq!(
        (moved.status, moved.confirmed_at),
        (ReservationStatus::Confirmed, confirmed.confirmed_at),
        "a booking stays confirmed"
    );
}

pub async fn reschedule_is_for_its_client_and_provider_only<S: Store>(h: Harness<S>) {
    let (p, stranger) = (h.provider("p"), h.provider("stranger"));
    let (c, other) = (h.client("c"), h.client("other"));
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 12, 0, 0))
        .await;
    let held = h.hold(&h.slot_id(&p, h.day_at(2, 9, 0, 0)), &c).await;
    let to = h.slot_id(&p, h.day_at(2, 11, 0, 0));
    for actor in [Actor::Client(other), Actor::Provider(stranger)] {
        expect_err!(
            h.scheduler.reschedule(held.id, &to, &actor).await,
            Error::Forbidden { .. },
            "{actor:?}"
        );
    }
    let moved = h
        .scheduler
        .reschedule(held.id, &to, &Actor::Provider(p))
        .await
        .unwrap();
    assert_eq!(moved.start, h.day_at(2, 11, 0, 0));
}
