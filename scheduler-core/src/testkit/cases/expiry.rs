//! The sweeper: which holds it marks, when, in what batches, and what it leaves alone.

use crate::Precondition;
use chrono::TimeDelta;

use crate::error::Error;
use crate::ids::ReservationId;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

/// The status as stored, before any derivation at read time.
async fn stored<S: Store>(h: &Harness<S>, id: ReservationId) -> ReservationStatus {
    let found = h.scheduler.store().reservation(id).await;
    found.expect("store read").expect("stored").status
}

pub async fn sweep_marks_only_due_holds<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let early = h.hold(&slots[0].id, &c).await;
    h.advance(TimeDelta::minutes(10));
    let late = h.hold(&slots[1].id, &c).await;
    let booked = h.hold(&slots[2].id, &c).await;
    h.scheduler.confirm(booked.id, &c).await.expect("confirm");
    let dropped = h.hold(&slots[3].id, &c).await;
    h.scheduler
        .cancel(dropped.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");

    h.set(early.expires_at);
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 1);
    assert_eq!(stored(&h, early.id).await, ReservationStatus::Expired);
    assert_eq!(stored(&h, late.id).await, ReservationStatus::Held);
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 0);

    h.set(late.expires_at + TimeDelta::days(1));
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 1);
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 0);
    assert_eq!(stored(&h, late.id).await, ReservationStatus::Expired);
    assert_eq!(stored(&h, booked.id).await, ReservationStatus::Confirmed);
    assert_eq!(stored(&h, dropped.id).await, ReservationStatus::Cancelled);
}

pub async fn sweep_one_second_early_expires_nothing<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let mut holds = Vec::new();
    for slot in &slots {
        holds.push(h.hold(&slot.id, &c).await);
    }
    h.set(holds[0].expires_at - TimeDelta::seconds(1));
    assert_eq!(h.scheduler.expire_due(100).await.expect("sweep"), 0);
    for held in &holds {
        assert_eq!(stored(&h, held.id).await, ReservationStatus::Held);
    }
    assert!(h.reservable_starts(&p).await.is_empty());
}

pub async fn sweep_respects_its_batch<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 15, 0))
        .await;
    assert_eq!(slots.len(), 5);
    for slot in &slots {
        h.hold(&slot.id, &c).await;
    }
    h.advance(TimeDelta::minutes(30));
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(h.scheduler.expire_due(2).await.expect("sweep"));
    }
    assert_eq!(counts, vec![2, 2, 1, 0], "5 due holds, batches of 2");
}

pub async fn swept_hold_is_stored_expired_and_its_slot_free<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let held = h.hold(&slot, &c).await;
    h.set(held.expires_at);
    assert_eq!(h.scheduler.expire_due(10).await.expect("sweep"), 1);
    assert_eq!(stored(&h, held.id).await, ReservationStatus::Expired);
    let read = h
        .scheduler
        .reservation(held.id, &Actor::Client(c.clone()))
        .await;
    assert_eq!(read.expect("readable").status, ReservationStatus::Expired);
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 9, 0, 0)]);
    let next = h.hold(&slot, &other).await;
    assert_eq!(h.scheduler.expire_due(10).await.expect("sweep"), 0);
    assert_eq!(stored(&h, next.id).await, ReservationStatus::Held);
}

pub async fn sweeping_a_replaced_hold_keeps_the_new_one<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other, third) = (h.client("c"), h.client("other"), h.client("third"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let old = h.hold(&slot, &c).await;
    // The old hold lapses unswept and another client takes the slot.
    h.set(old.expires_at);
    let new = h.hold(&slot, &other).await;
    // Tidying the old hold must not free the slot under the new one. A store
    // may already have marked it expired when the new hold displaced it.
    let swept = h.scheduler.expire_due(10).await.expect("sweep");
    assert!(
        swept <= 1,
        "only the old hold was due, yet {swept} were swept"
    );
    assert_eq!(stored(&h, old.id).await, ReservationStatus::Expired);
    assert_eq!(stored(&h, new.id).await, ReservationStatus::Held);
    assert!(h.reservable_starts(&p).await.is_empty());
    let result = h.scheduler.reserve(&slot, &third, None).await;
    expect_err!(
        result,
        Error::SlotUnavailable { .. },
        "the slot is under {}'s hold",
        new.id
    );
    h.scheduler
        .confirm(new.id, &other)
        .await
        .expect("the new hold confirms");
}

/// A hold displaced by a new one is stored expired at once, not left for the
/// sweeper: were the clock then set back before its expiry (a system clock
/// stepped back), it must not read as live beside the new hold.
pub async fn a_displaced_hold_is_stored_expired_at_once<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let old = h.hold(&slot, &c).await;
    h.set(old.expires_at);
    let new = h.hold(&slot, &other).await;
    assert_eq!(stored(&h, old.id).await, ReservationStatus::Expired);
    // Back to a microsecond before the old hold's expiry.
    h.set(old.expires_at - TimeDelta::microseconds(1));
    let now = h.now();
    let store = h.scheduler.store();
    let read = |id| async move { store.reservation(id).await.expect("read").expect("stored") };
    assert!(
        !read(old.id).await.is_live_at(now),
        "the displaced hold is not live"
    );
    assert!(read(new.id).await.is_live_at(now), "the new hold is");
}

/// The same when the lapsed hold's slot was withdrawn and published again
/// before the new hold: the slot is new, the old hold on it is still retired.
pub async fn a_hold_on_a_republished_slot_retires_the_lapsed_one<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let at = h.day_at(2, 9, 0, 0);
    let slot = h.open_slot(&p, at).await;
    let old = h.hold(&slot, &c).await;
    h.set(old.expires_at);
    let range = Harness::<S>::range(at, h.day_at(2, 10, 0, 0));
    let withdrawn = h
        .scheduler
        .withdraw_availability(&p, range, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(
        withdrawn.removed.len(),
        1,
        "a lapsed hold does not keep its slot"
    );
    h.open_slot(&p, at).await;
    let new = h.hold(&slot, &other).await;
    assert_eq!(stored(&h, old.id).await, ReservationStatus::Expired);
    h.set(old.expires_at - TimeDelta::microseconds(1));
    let now = h.now();
    let store = h.scheduler.store();
    let read = |id| async move { store.reservation(id).await.expect("read").expect("stored") };
    assert!(!read(old.id).await.is_live_at(now));
    assert!(read(new.id).await.is_live_at(now));
}
