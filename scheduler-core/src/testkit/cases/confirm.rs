//! Confirming a hold: the expiry boundary, idempotence, refusals, and permanence.

use crate::Precondition;
use chrono::TimeDelta;

use crate::error::Error;
use crate::ids::ReservationId;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn confirm_one_second_before_expiry<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at - TimeDelta::seconds(1));
    let confirmed = h.scheduler.confirm(held.id, &c).await;
    let confirmed = confirmed.unwrap_or_else(|err| panic!("1s before expiry: {err:?}"));
    assert_eq!(confirmed.status, ReservationStatus::Confirmed);
    assert_eq!(confirmed.confirmed_at, Some(h.now()));
    assert_eq!(
        (confirmed.id, confirmed.created_at, confirmed.expires_at),
        (held.id, held.created_at, held.expires_at),
        "confirming changes status and confirmed_at only"
    );
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable"), confirmed);
}

pub async fn confirm_at_expiry_is_expired<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at);
    let result = h.scheduler.confirm(held.id, &c).await;
    let err = expect_err!(
        result,
        Error::HoldExpired { .. },
        "confirm at expires_at ({})",
        held.expires_at
    );
    if let Error::HoldExpired {
        reservation,
        expired_at,
    } = err
    {
        assert_eq!((reservation, expired_at), (held.id, held.expires_at));
    }
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 9, 0, 0)]);
}

pub async fn confirm_after_sweep_is_expired<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at + TimeDelta::minutes(5));
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 1);
    let result = h.scheduler.confirm(held.id, &c).await;
    expect_err!(result, Error::HoldExpired { .. }, "confirm of a swept hold");
}

pub async fn confirm_twice_returns_it_unchanged<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.advance(TimeDelta::minutes(5));
    let first = h.scheduler.confirm(held.id, &c).await.expect("confirm");
    // Later, and past the hold's expiry: still the same booking.
    h.advance(TimeDelta::hours(1));
    let second = h.scheduler.confirm(held.id, &c).await;
    let second = second.unwrap_or_else(|err| panic!("second confirm: {err:?}"));
    assert_eq!(second, first, "same confirmed_at, same everything");
}

pub async fn confirm_cancelled_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0))
        .await;
    let held = h.hold(&slots[0].id, &c).await;
    h.scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel hold");
    let booked = h.hold(&slots[1].id, &c).await;
    h.scheduler.confirm(booked.id, &c).await.expect("confirm");
    h.scheduler
        .cancel(booked.id, &Actor::Provider(p.clone()))
        .await
        .expect("provider cancels booking");
    for id in [held.id, booked.id] {
        let result = h.scheduler.confirm(id, &c).await;
        expect_err!(result, Error::Cancelled { .. }, "confirm of cancelled {id}");
    }
}

pub async fn confirm_by_another_client_is_forbidden<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let result = h.scheduler.confirm(held.id, &other).await;
    expect_err!(
        result,
        Error::Forbidden { .. },
        "{other} confirming {c}'s hold"
    );
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable"), held, "left untouched");
    h.scheduler
        .confirm(held.id, &c)
        .await
        .expect("its own client still can");
}

pub async fn confirm_unknown_is_not_found<S: Store>(h: Harness<S>) {
    let c = h.client("c");
    let id = ReservationId::generate();
    let result = h.scheduler.confirm(id, &c).await;
    let err = expect_err!(result, Error::ReservationNotFound { .. }, "unknown {id}");
    if let Error::ReservationNotFound { reservation } = err {
        assert_eq!(reservation, id);
    }
}

pub async fn confirmed_never_expires<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let start = h.day_at(300, 9, 0, 0);
    let slot = h.open_slot(&p, start).await;
    let held = h.hold(&slot, &c).await;
    let booked = h.scheduler.confirm(held.id, &c).await.expect("confirm");

    // Months later, with the slot still reservable by lead time: still taken.
    h.set(start - TimeDelta::days(1));
    let result = h.scheduler.reserve(&slot, &other, None).await;
    expect_err!(result, Error::SlotUnavailable { .. }, "a booking months on");
    assert!(h.reservable_starts(&p).await.is_empty());

    // A year later: still confirmed, and the sweeper leaves it alone.
    h.set(held.created_at + TimeDelta::days(366));
    assert_eq!(h.scheduler.expire_due(1000).await.expect("sweep"), 0);
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable"), booked);
    let range = Harness::<S>::range(start, start + TimeDelta::minutes(15));
    let withdrawal = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await;
    let withdrawal = withdrawal.expect("withdraw");
    assert!(
        withdrawal.removed.is_empty(),
        "a booked slot is never removed"
    );
    assert_eq!(withdrawal.conflicts, vec![booked]);
}

/// The scheduler checks expiry before it asks the store, but only the store's
/// conditional update stops a confirm that raced past that check.
pub async fn store_confirm_is_conditional_at_expiry<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let store = h.scheduler.store();
    let at_expiry = store.confirm(held.id, held.expires_at).await;
    assert_eq!(at_expiry.expect("store confirm"), None, "now == expires_at");
    let just_before = held.expires_at - TimeDelta::seconds(1);
    let confirmed = store.confirm(held.id, just_before).await;
    let confirmed = confirmed.expect("store confirm").expect("1s before expiry");
    assert_eq!(
        (confirmed.status, confirmed.confirmed_at),
        (ReservationStatus::Confirmed, Some(just_before))
    );
    let again = store.confirm(held.id, just_before).await;
    assert_eq!(again.expect("store confirm"), None, "no longer held");
    let stored = store.reservation(held.id).await.expect("store read");
    assert_eq!(stored, Some(confirmed));
}
