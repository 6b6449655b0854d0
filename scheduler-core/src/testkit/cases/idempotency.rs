//! Idempotency keys: replays, conflicts, per-client scope, and replays of settled holds.

use chrono::TimeDelta;

use crate::error::Error;
use crate::ids::IdempotencyKey;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).expect("valid key")
}

pub async fn same_key_same_slot_replays<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let k = key("retry-1");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let first = h.scheduler.reserve(&slot, &c, Some(&k)).await;
    let first = first.expect("first reserve");
    h.advance(TimeDelta::minutes(10));
    let again = h.scheduler.reserve(&slot, &c, Some(&k)).await;
    assert_eq!(again.expect("replay"), first, "the original, unchanged");
    let all = h.provider_bookings(&p).await;
    assert_eq!(all, vec![first], "one hold, not two");
}

pub async fn same_key_other_slot_conflicts<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let k = key("retry-1");
    let a = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let b = h.open_slot(&p, h.day_at(2, 10, 0, 0)).await;
    let first = h.scheduler.reserve(&a, &c, Some(&k)).await;
    let first = first.expect("first reserve");
    let result = h.scheduler.reserve(&b, &c, Some(&k)).await;
    let err = expect_err!(
        result,
        Error::IdempotencyConflict { .. },
        "key reused for another slot"
    );
    if let Error::IdempotencyConflict {
        key: used,
        original_slot,
        reservation,
    } = err
    {
        assert_eq!(
            (used.as_str(), original_slot, reservation),
            ("retry-1", a, first.id)
        );
    }
    assert_eq!(h.reservable_starts(&p).await, vec![h.day_at(2, 10, 0, 0)]);
}

pub async fn keys_are_scoped_per_client<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let k = key("same-key");
    let a = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let b = h.open_slot(&p, h.day_at(2, 10, 0, 0)).await;
    let mine = h.scheduler.reserve(&a, &c, Some(&k)).await;
    let mine = mine.expect("c reserves a");
    // The other client's key is theirs: no replay of c's hold, no conflict.
    let result = h.scheduler.reserve(&a, &other, Some(&k)).await;
    expect_err!(
        result,
        Error::SlotUnavailable { .. },
        "another client's key must not replay {}",
        mine.id
    );
    let theirs = h.scheduler.reserve(&b, &other, Some(&k)).await;
    let theirs = theirs.expect("other reserves b with the same key");
    assert_ne!(theirs.id, mine.id);
    assert_eq!(theirs.client_id, other);
}

pub async fn replay_after_expiry_returns_the_expired_original<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let (c, other) = (h.client("c"), h.client("other"));
    let (k, k2) = (key("near"), key("far"));
    // Reservable now, inside the lead time an hour later.
    let near = h.open_slot(&p, h.day_at(1, 0, 30, 0)).await;
    let far = h.open_slot(&p, h.day_at(3, 9, 0, 0)).await;
    let near_hold = h.scheduler.reserve(&near, &c, Some(&k)).await;
    let near_hold = near_hold.expect("near reserve");
    let far_hold = h.scheduler.reserve(&far, &c, Some(&k2)).await;
    let far_hold = far_hold.expect("far reserve");

    h.advance(TimeDelta::hours(1));
    let result = h.scheduler.reserve(&near, &other, None).await;
    expect_err!(result, Error::LeadTime { .. }, "a fresh reserve of near");
    let replay = h.scheduler.reserve(&near, &c, Some(&k)).await;
    let replay = replay.unwrap_or_else(|err| panic!("replay must not check lead time: {err:?}"));
    assert_eq!(replay.id, near_hold.id);
    assert_eq!(replay.status, ReservationStatus::Expired);
    assert_eq!(replay.expires_at, near_hold.expires_at);

    // Someone else took the far slot since: the replay still names the original.
    h.hold(&far, &other).await;
    let replay = h.scheduler.reserve(&far, &c, Some(&k2)).await;
    let replay = replay.expect("replay of far");
    assert_eq!(
        (replay.id, replay.status),
        (far_hold.id, ReservationStatus::Expired)
    );
}

pub async fn replay_of_settled_reservations_reports_them<S: Store>(h: Harness<S>) {
    let p = h.provider("p");
    let c = h.client("c");
    let (k, k2) = (key("to-confirm"), key("to-cancel"));
    let a = h.open_slot(&p, h.day_at(3, 9, 0, 0)).await;
    let b = h.open_slot(&p, h.day_at(3, 10, 0, 0)).await;
    let held = h.scheduler.reserve(&a, &c, Some(&k)).await.expect("a");
    let confirmed = h.scheduler.confirm(held.id, &c).await.expect("confirm");
    let other = h.scheduler.reserve(&b, &c, Some(&k2)).await.expect("b");
    let cancelled = h
        .scheduler
        .cancel(other.id, &Actor::Client(c.clone()))
        .await
        .expect("cancel");
    // Keys live at least 24 hours.
    h.advance(TimeDelta::hours(25));
    let replay = h.scheduler.reserve(&a, &c, Some(&k)).await;
    assert_eq!(replay.expect("replay of a"), confirmed);
    let replay = h.scheduler.reserve(&b, &c, Some(&k2)).await;
    assert_eq!(replay.expect("replay of b"), cancelled);
    assert_eq!(h.provider_bookings(&p).await.len(), 2, "no new holds");
}
