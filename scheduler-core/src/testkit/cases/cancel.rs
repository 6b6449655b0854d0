//! Cancelling: who may, what it frees, and what cannot be cancelled.

use chrono::TimeDelta;

use crate::error::Error;
use crate::ids::ReservationId;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn client_cancels_a_hold_and_the_slot_is_free<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let cancelled = h
        .scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("client cancels");
    assert_eq!(cancelled.status, ReservationStatus::Cancelled);
    assert_eq!(
        (
            cancelled.id,
            cancelled.created_at,
            cancelled.expires_at,
            cancelled.confirmed_at
        ),
        (held.id, held.created_at, held.expires_at, None)
    );
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 9, 0, 0)]);
    h.hold(&slot, &other).await;
}

pub async fn provider_cancels_a_booking<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let booked = h.scheduler.confirm(held.id, &c).await.expect("confirm");
    h.advance(TimeDelta::hours(3));
    let cancelled = h
        .scheduler
        .cancel(held.id, &Actor::Provider(p.clone()))
        .await
        .expect("provider cancels");
    assert_eq!(cancelled.status, ReservationStatus::Cancelled);
    assert_eq!(cancelled.confirmed_at, booked.confirmed_at, "history kept");
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable").status, ReservationStatus::Cancelled);
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 9, 0, 0)]);
}

pub async fn strangers_cannot_cancel<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    for actor in [Actor::Client(other), Actor::Provider(q)] {
        let result = h.scheduler.cancel(held.id, &actor).await;
        expect_err!(result, Error::Forbidden { .. }, "{actor:?} cancelling");
    }
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable"), held, "left untouched");
    assert!(h.reservable_starts(&p).await.is_empty());
}

pub async fn cancelling_an_expired_hold_is_refused<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0))
        .await;
    let first = h.hold(&slots[0].id, &c).await;
    let second = h.hold(&slots[1].id, &c).await;
    h.set(first.expires_at);
    // A sweep of one marks one hold in storage; the other is merely past its
    // expiry. Both are expired for every purpose.
    assert_eq!(h.scheduler.expire_due(1).await.expect("sweep"), 1);
    for held in [&first, &second] {
        let result = h.scheduler.cancel(held.id, &Actor::Client(c.clone())).await;
        expect_err!(
            result,
            Error::HoldExpired { .. },
            "cancel at expires_at of {}",
            held.id
        );
        let read = h
            .scheduler
            .reservation(held.id, &Actor::Client(c.clone()))
            .await;
        assert_eq!(read.expect("readable").status, ReservationStatus::Expired);
    }
}

pub async fn cancel_twice_returns_it_unchanged<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let first = h
        .scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");
    h.advance(TimeDelta::hours(1));
    for actor in [Actor::Client(c.clone()), Actor::Provider(p.clone())] {
        let again = h.scheduler.cancel(held.id, &actor).await;
        let again = again.unwrap_or_else(|err| panic!("{actor:?} cancelling again: {err:?}"));
        assert_eq!(again, first);
    }
}

pub async fn cancel_unknown_is_not_found<S: Store>(h: Harness<S>) {
    let c = h.client("c");
    let id = ReservationId::generate();
    let result = h.scheduler.cancel(id, &Actor::Client(c)).await;
    expect_err!(result, Error::ReservationNotFound { .. }, "unknown {id}");
}

/// As with confirm, the store's own condition is what settles a cancel that
/// raced past the scheduler's expiry check.
pub async fn store_cancel_is_conditional_at_expiry<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 9, 30, 0))
        .await;
    let held = h.hold(&slots[0].id, &c).await;
    let booked = h.hold(&slots[1].id, &c).await;
    let booked = h.scheduler.confirm(booked.id, &c).await.expect("confirm");
    let store = h.scheduler.store();
    let at_expiry = store.cancel(held.id, held.expires_at).await;
    assert_eq!(at_expiry.expect("store cancel"), None, "now == expires_at");
    let stored = store.reservation(held.id).await.expect("store read");
    assert_eq!(stored.map(|r| r.status), Some(ReservationStatus::Held));
    let just_before = held.expires_at - TimeDelta::seconds(1);
    let cancelled = store.cancel(held.id, just_before).await;
    let cancelled = cancelled.expect("store cancel").expect("1s before expiry");
    assert_eq!(cancelled.status, ReservationStatus::Cancelled);
    let again = store.cancel(held.id, just_before).await;
    assert_eq!(again.expect("store cancel"), None, "already cancelled");
    // A booking has no expiry: cancellable a year on.
    let late = held.expires_at + TimeDelta::days(365);
    let cancelled = store.cancel(booked.id, late).await.expect("store cancel");
    assert_eq!(
        cancelled.map(|r| r.status),
        Some(ReservationStatus::Cancelled)
    );
}
