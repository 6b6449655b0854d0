//! Withdrawing availability: free slots go, held and booked ones stay as conflicts.

use crate::Precondition;
use chrono::TimeDelta;

use crate::error::Error;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

pub async fn withdraw_removes_free_slots_and_reports_conflicts<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let held = h.hold(&slots[1].id, &c).await;
    let booked = h.hold(&slots[2].id, &other).await;
    let booked = h
        .scheduler
        .confirm(booked.id, &other)
        .await
        .expect("confirm");
    let range = Harness::<S>::range(h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0));

    let withdrawal = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await;
    let withdrawal = withdrawal.expect("withdraw");
    assert_eq!(withdrawal.removed, vec![slots[0].clone(), slots[3].clone()]);
    assert_eq!(withdrawal.conflicts, vec![held.clone(), booked.clone()]);
    let statuses: Vec<_> = withdrawal.conflicts.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![ReservationStatus::Held, ReservationStatus::Confirmed]
    );
    assert!(h.reservable(&p).await.is_empty());

    // Again: nothing left to remove, the same conflicts.
    let again = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await;
    let again = again.expect("withdraw again");
    assert!(
        again.removed.is_empty(),
        "removed twice: {:?}",
        again.removed
    );
    assert_eq!(again.conflicts, vec![held, booked]);
}

pub async fn expired_hold_is_not_a_conflict<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at);
    let range = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    let withdrawal = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await;
    let withdrawal = withdrawal.expect("withdraw");
    let removed: Vec<_> = withdrawal.removed.iter().map(|s| s.start).collect();
    assert_eq!(
        removed,
        vec![h.day_at(2, 9, 0, 0)],
        "the lapsed hold's slot goes"
    );
    assert!(
        withdrawal.conflicts.is_empty(),
        "{:?}",
        withdrawal.conflicts
    );
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(
        read.expect("still readable").status,
        ReservationStatus::Expired
    );
    // Sweeping the lapsed hold of a removed slot is harmless.
    assert_eq!(h.scheduler.expire_due(10).await.expect("sweep"), 1);
}

pub async fn booking_survives_withdrawal<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    let booked = h.scheduler.confirm(held.id, &c).await.expect("confirm");
    let range = Harness::<S>::range(h.day_at(2, 0, 0, 0), h.day_at(3, 0, 0, 0));
    h.scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await
        .expect("withdraw");
    h.advance(TimeDelta::hours(2));
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Provider(p.clone()))
        .await;
    assert_eq!(
        read.expect("readable"),
        booked,
        "confirmed, same confirmed_at"
    );
    assert_eq!(h.provider_bookings(&p).await, vec![booked]);
    // The kept slot is a real slot: cancelling frees it for others.
    h.scheduler
        .cancel(held.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 9, 0, 0)]);
}

pub async fn removed_slots_are_gone_and_the_range_is_half_open<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    h.open(&q, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let range = Harness::<S>::range(h.day_at(2, 9, 15, 0), h.day_at(2, 9, 45, 0));
    let withdrawal = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await;
    let withdrawal = withdrawal.expect("withdraw");
    assert_eq!(withdrawal.removed, slots[1..3].to_vec(), "[09:15, 09:45)");
    assert_eq!(
        h.reservable(&p).await,
        vec![slots[0].clone(), slots[3].clone()]
    );
    for slot in &slots[1..3] {
        let result = h.scheduler.reserve(&slot.id, &c, None).await;
        expect_err!(result, Error::SlotNotFound { .. }, "removed {:?}", slot.id);
    }
    assert_eq!(h.reservable(&q).await.len(), 4, "other providers untouched");
    // Publishing again brings them back.
    let back = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    assert_eq!(back, slots[1..3].to_vec());
}
