//! Reserving: lead time, existence, freedom of the slot, and the hold it makes.

use crate::Precondition;
use chrono::TimeDelta;

use crate::error::Error;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn lead_of_exactly_min_lead_is_accepted<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let start = h.day_at(2, 9, 0, 0);
    let slot = h.open_slot(&p, start).await;
    h.set(start - h.scheduler.policy().min_lead());
    let held = h.scheduler.reserve(&slot, &c, None).await;
    let held = held.unwrap_or_else(|err| panic!("start - now == 24h must be accepted: {err:?}"));
    assert_eq!(held.status, ReservationStatus::Held);
}

pub async fn lead_one_second_short_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let start = h.day_at(2, 9, 0, 0);
    let slot = h.open_slot(&p, start).await;
    let min_lead = h.scheduler.policy().min_lead();
    h.set(start - min_lead + TimeDelta::seconds(1));
    let result = h.scheduler.reserve(&slot, &c, None).await;
    let err = expect_err!(
        result,
        Error::LeadTime { .. },
        "start - now == 24h - 1s must be refused"
    );
    if let Error::LeadTime {
        start: s,
        now,
        min_lead: m,
        ..
    } = err
    {
        assert_eq!((s, now, m), (start, h.now(), min_lead));
    }
    assert!(h.provider_bookings(&p).await.is_empty(), "no hold was made");
}

pub async fn unknown_slot_is_not_found<S: Store>(h: Harness<S>) {
    let (p, stranger) = (h.provider("p"), h.provider("stranger"));
    let c = h.client("c");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    for slot in [
        h.slot_id(&p, h.day_at(2, 12, 0, 0)),
        h.slot_id(&stranger, h.day_at(2, 9, 0, 0)),
    ] {
        let result = h.scheduler.reserve(&slot, &c, None).await;
        expect_err!(
            result,
            Error::SlotNotFound { .. },
            "never offered: {slot:?}"
        );
    }
}

pub async fn off_grid_slot_is_not_found<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let slot = h.slot_id(&p, h.day_at(2, 9, 7, 0));
    let result = h.scheduler.reserve(&slot, &c, None).await;
    expect_err!(
        result,
        Error::SlotNotFound { .. },
        "09:07 lies inside the window but off the grid"
    );
    assert_eq!(h.reservable(&p).await.len(), 4, "nothing was held");
}

pub async fn withdrawn_slot_is_not_found<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let range = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    h.scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await
        .expect("withdraw");
    let result = h.scheduler.reserve(&slot, &c, None).await;
    expect_err!(result, Error::SlotNotFound { .. }, "a withdrawn slot");
}

pub async fn held_slot_is_unavailable<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    for who in [&other, &c] {
        let result = h.scheduler.reserve(&slot, who, None).await;
        expect_err!(
            result,
            Error::SlotUnavailable { .. },
            "{who} reserving a slot {c} holds"
        );
    }
    assert_eq!(h.provider_bookings(&p).await, vec![held]);
}

pub async fn confirmed_slot_is_unavailable<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.scheduler.confirm(held.id, &c).await.expect("confirm");
    // Well past the hold time: a booking does not lapse.
    h.advance(TimeDelta::hours(2));
    for who in [&other, &c] {
        let result = h.scheduler.reserve(&slot, who, None).await;
        expect_err!(
            result,
            Error::SlotUnavailable { .. },
            "{who} reserving a booked slot"
        );
    }
}

pub async fn slot_is_reservable_exactly_when_its_hold_expires<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let first = h.hold(&slot, &c).await;
    h.set(first.expires_at - TimeDelta::seconds(1));
    let result = h.scheduler.reserve(&slot, &other, None).await;
    expect_err!(
        result,
        Error::SlotUnavailable { .. },
        "1s before the hold expires at {}",
        first.expires_at
    );
    h.set(first.expires_at);
    let second = h.hold(&slot, &other).await;
    assert_ne!(second.id, first.id);
    assert_eq!(second.status, ReservationStatus::Held);
    let old = h
        .scheduler
        .reservation(first.id, &Actor::Client(c.clone()))
        .await
        .expect("first hold readable");
    assert_eq!(old.status, ReservationStatus::Expired);
}

pub async fn cancelled_slot_is_reservable_again<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");
    let booked = h.hold(&slot, &other).await;
    h.scheduler
        .confirm(booked.id, &other)
        .await
        .expect("confirm");
    h.scheduler
        .cancel(booked.id, &Actor::Provider(p.clone()))
        .await
        .expect("provider cancels");
    // The first client may come back too.
    let again = h.hold(&slot, &c).await;
    assert_eq!(again.status, ReservationStatus::Held);
    assert_eq!(h.provider_bookings(&p).await.len(), 3);
}

pub async fn new_hold_has_the_expected_fields<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let start = h.day_at(2, 9, 30, 0);
    let slot = h.open_slot(&p, start).await;
    // An instant off the grid, so nothing lines up by accident.
    h.set(h.day_at(0, 3, 7, 11));
    let held = h.hold(&slot, &c).await;
    assert_eq!(held.status, ReservationStatus::Held);
    assert_eq!(held.slot_id, slot);
    assert_eq!(held.provider_id, p);
    assert_eq!(held.client_id, c);
    assert_eq!(
        (held.start, held.end),
        (start, start + TimeDelta::minutes(15))
    );
    assert_eq!(held.created_at, h.now());
    assert_eq!(held.expires_at, h.now() + TimeDelta::minutes(30));
    assert_eq!(held.confirmed_at, None);
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable"), held, "stored as returned");
}

pub async fn instants_are_kept_to_the_microsecond<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    // A clock reading finer than a microsecond: the scheduler works in whole
    // microseconds, so what it returns is exactly what every store can keep.
    h.set(h.now() + TimeDelta::nanoseconds(123_456_789));
    let held = h.hold(&slot, &c).await;
    let micros = h.now() - TimeDelta::nanoseconds(789);
    assert_eq!(
        held.created_at, micros,
        "created_at is now, cut to the microsecond"
    );
    assert_eq!(held.expires_at, micros + h.scheduler.policy().hold_ttl());
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await
        .unwrap();
    assert_eq!(read, held, "the store returns the instants it was given");

    // The clock is cut down, never up: 1ns before expiry is still before it.
    h.set(held.expires_at - TimeDelta::nanoseconds(1));
    let confirmed = h
        .scheduler
        .confirm(held.id, &c)
        .await
        .expect("still held 1ns before expiry");
    assert_eq!(
        confirmed.confirmed_at,
        Some(held.expires_at - TimeDelta::microseconds(1))
    );
}
