//! Races: many tasks at once on one scheduler, released together by a barrier.

use std::sync::Arc;

use tokio::sync::Barrier;

use crate::error::Error;
use crate::ids::IdempotencyKey;
use crate::model::{Actor, ReservationStatus};
use crate::store::Store;
use crate::testkit::Harness;

const RACERS: usize = 64;

pub async fn many_clients_race_for_one_slot<S: Store + 'static>(h: Harness<S>) {
    let p = h.provider("p");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (scheduler, barrier, slot) = (h.scheduler.clone(), barrier.clone(), slot.clone());
        let client = h.client(&format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, None).await
        }));
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(held) => won.push(held),
            Err(Error::SlotUnavailable { .. }) => lost += 1,
            Err(err) => panic!("a racer got {err:?}"),
        }
    }
    assert_eq!(
        (won.len(), lost),
        (1, RACERS - 1),
        "exactly one hold: {won:?}"
    );
    assert_eq!(h.provider_bookings(&p).await, won, "one reservation stored");
}

pub async fn many_clients_reserve_distinct_slots<S: Store + 'static>(h: Harness<S>) {
    let p = h.provider("p");
    // 64 slots: 16 hours.
    let slots = h
        .open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 16, 0, 0))
        .await;
    assert_eq!(slots.len(), RACERS);
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let (scheduler, barrier, slot) = (h.scheduler.clone(), barrier.clone(), slot.id.clone());
        let client = h.client(&format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, None).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let held = task.await.expect("task ran");
        let held = held.unwrap_or_else(|err| panic!("racer {i} on its own slot: {err:?}"));
        assert_eq!(held.slot_id, slots[i].id);
    }
    assert!(h.reservable(&p).await.is_empty());
    assert_eq!(h.provider_bookings(&p).await.len(), RACERS);
}

pub async fn same_key_at_once_makes_one_hold<S: Store + 'static>(h: Harness<S>) {
    const RETRIES: usize = 16;
    let p = h.provider("p");
    let c = h.client("c");
    let key = IdempotencyKey::new("double-click").expect("valid key");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let barrier = Arc::new(Barrier::new(RETRIES));
    let mut tasks = Vec::new();
    for _ in 0..RETRIES {
        let (scheduler, barrier) = (h.scheduler.clone(), barrier.clone());
        let (slot, client, key) = (slot.clone(), c.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, Some(&key)).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let held = task.await.expect("task ran");
        ids.push(held.unwrap_or_else(|err| panic!("a retry got {err:?}")).id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers one reservation: {ids:?}");
    let stored = h.provider_bookings(&p).await;
    assert_eq!(stored.len(), 1, "exactly one hold stored: {stored:?}");
    assert_eq!(stored[0].id, ids[0]);
}

pub async fn same_key_on_different_slots_at_once_conflicts<S: Store + 'static>(h: Harness<S>) {
    const TRIES: usize = 16;
    let p = h.provider("p");
    let c = h.client("c");
    let key = IdempotencyKey::new("one-key").expect("valid key");
    // 16 slots: 4 hours; each task sends the one key for its own slot.
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 13, 0, 0))
        .await;
    let barrier = Arc::new(Barrier::new(TRIES));
    let mut tasks = Vec::new();
    for slot in slots.iter().take(TRIES) {
        let (scheduler, barrier) = (h.scheduler.clone(), barrier.clone());
        let (slot, client, key) = (slot.id.clone(), c.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, Some(&key)).await
        }));
    }
    let (mut won, mut conflicts) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(held) => won.push(held),
            Err(Error::IdempotencyConflict { reservation, .. }) => conflicts.push(reservation),
            Err(err) => panic!("a try got {err:?}"),
        }
    }
    assert_eq!(won.len(), 1, "the key binds one reservation: {won:?}");
    assert!(
        conflicts.iter().all(|&id| id == won[0].id),
        "every conflict names the winner {}: {conflicts:?}",
        won[0].id
    );
    assert_eq!(h.provider_bookings(&p).await, won, "one hold stored");
}

pub async fn concurrent_sweepers_expire_each_hold_once<S: Store + 'static>(h: Harness<S>) {
    const SWEEPERS: usize = 8;
    let p = h.provider("p");
    let c = h.client("c");
    // 100 slots: 25 hours.
    let slots = h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(3, 1, 0, 0)).await;
    assert_eq!(slots.len(), 100);
    for slot in &slots {
        h.hold(&slot.id, &c).await;
    }
    h.advance(h.scheduler.policy().hold_ttl());
    let barrier = Arc::new(Barrier::new(SWEEPERS));
    let mut tasks = Vec::new();
    for _ in 0..SWEEPERS {
        let (scheduler, barrier) = (h.scheduler.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut total = 0;
            loop {
                match scheduler.expire_due(7).await.expect("sweep") {
                    0 => return total,
                    n => total += n,
                }
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task ran");
    }
    assert_eq!(total, 100, "each due hold expired by exactly one sweeper");
    assert_eq!(h.scheduler.expire_due(1000).await.expect("sweep"), 0);
    assert_eq!(h.reservable(&p).await, slots);
}

pub async fn many_clients_race_for_a_lapsed_hold<S: Store + 'static>(h: Harness<S>) {
    let p = h.provider("p");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let lapsed = h.hold(&slot, &h.client("first")).await;
    h.set(lapsed.expires_at);
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (scheduler, barrier, slot) = (h.scheduler.clone(), barrier.clone(), slot.clone());
        let client = h.client(&format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, None).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(_) => won += 1,
            Err(Error::SlotUnavailable { .. }) => {}
            Err(err) => panic!("a racer got {err:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one racer replaces the lapsed hold");
}

pub async fn confirm_and_cancel_race_consistently<S: Store + 'static>(h: Harness<S>) {
    const ROUNDS: usize = 32;
    let p = h.provider("p");
    let c = h.client("c");
    // 32 slots: 8 hours; one race per slot, to see both orders.
    let slots = h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 8, 0, 0)).await;
    for (round, slot) in slots.iter().take(ROUNDS).enumerate() {
        let held = h.hold(&slot.id, &c).await;
        let barrier = Arc::new(Barrier::new(2));
        let confirm = {
            let (scheduler, barrier, c) = (h.scheduler.clone(), barrier.clone(), c.clone());
            async move {
                barrier.wait().await;
                scheduler.confirm(held.id, &c).await
            }
        };
        let cancel = {
            let (scheduler, barrier) = (h.scheduler.clone(), barrier.clone());
            let actor = Actor::Client(c.clone());
            async move {
                barrier.wait().await;
                scheduler.cancel(held.id, &actor).await
            }
        };
        // Alternate which task is spawned first, so both orders get a chance.
        let (confirm, cancel) = if round % 2 == 0 {
            let confirm = tokio::spawn(confirm);
            (confirm, tokio::spawn(cancel))
        } else {
            let cancel = tokio::spawn(cancel);
            (tokio::spawn(confirm), cancel)
        };
        let confirmed = confirm.await.expect("confirm task ran");
        let cancelled = cancel.await.expect("cancel task ran");
        // Cancel always succeeds (a booking may be cancelled too); the race
        // decides whether the confirm came first.
        let cancelled = cancelled.unwrap_or_else(|err| panic!("cancel lost: {err:?}"));
        assert_eq!(cancelled.status, ReservationStatus::Cancelled);
        match confirmed {
            Ok(booked) => {
                assert_eq!(booked.status, ReservationStatus::Confirmed);
                assert_eq!(
                    cancelled.confirmed_at, booked.confirmed_at,
                    "confirm won, so the cancel cancelled the booking"
                );
            }
            Err(Error::Cancelled { .. }) => assert_eq!(
                cancelled.confirmed_at, None,
                "cancel won, so nothing was ever confirmed"
            ),
            Err(err) => panic!("confirm got {err:?}"),
        }
        let stored = h
            .scheduler
            .reservation(held.id, &Actor::Client(c.clone()))
            .await;
        assert_eq!(
            stored.expect("readable"),
            cancelled,
            "final state as reported"
        );
    }
    assert_eq!(h.reservable(&p).await, slots, "every slot free again");
}

pub async fn overlapping_services_race_and_never_overlap<S: Store + 'static>(h: Harness<S>) {
    let p = h.provider("p");
    let visit = h.put_service(&p, "visit", 45, 15, 15).await;
    let quick = h.put_service(&p, "quick", 15, 0, 15).await;
    h.open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 13, 0, 0))
        .await;
    let (visits, quicks) = (
        h.service_starts(&visit).await,
        h.service_starts(&quick).await,
    );
    // Plain slots, visits and quick ones, all over one morning.
    let slots: Vec<_> = (0..RACERS)
        .map(|i| match i % 3 {
            0 => h.service_slot(&visit, visits[i % visits.len()]),
            1 => h.service_slot(&quick, quicks[i % quicks.len()]),
            _ => h.slot_id(&p, quicks[i % quicks.len()]),
        })
        .collect();
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for (i, slot) in slots.into_iter().enumerate() {
        let (scheduler, barrier) = (h.scheduler.clone(), barrier.clone());
        let client = h.client(&format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler.reserve(&slot, &client, None).await
        }));
    }
    let mut won = Vec::new();
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(held) => won.push(held),
            Err(Error::SlotUnavailable { .. }) => {}
            Err(err) => panic!("a racer got {err:?}"),
        }
    }
    assert!(!won.is_empty(), "someone wins");
    won.sort_by_key(|r| r.blocked_start);
    for pair in won.windows(2) {
        assert!(
            pair[0].blocked_end <= pair[1].blocked_start,
            "two live bookings overlap: {pair:?}"
        );
    }
    let mut stored = h.provider_bookings(&p).await;
    stored.sort_by_key(|r| r.blocked_start);
    assert_eq!(stored, won, "what was stored is what won");
    let free = h.reservable_starts(&p).await;
    for r in &stored {
        assert!(
            free.iter()
                .all(|&t| t < r.blocked_start || t >= r.blocked_end),
            "a slot listed inside a booking's time: {r:?}"
        );
    }
}

pub async fn a_reschedule_races_a_new_hold_for_one_start<S: Store + 'static>(h: Harness<S>) {
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    for round in 0..8 {
        let mover = h.client(&format!("mover{round}"));
        let held = h.hold(&slots[0].id, &mover).await;
        let target = slots[1 + round % 3].id.clone();
        let barrier = Arc::new(Barrier::new(2));
        let (scheduler, gate, to) = (h.scheduler.clone(), barrier.clone(), target.clone());
        let moving = tokio::spawn(async move {
            gate.wait().await;
            scheduler
                .reschedule(held.id, &to, &Actor::Client(mover))
                .await
        });
        let (scheduler, gate, to) = (h.scheduler.clone(), barrier, target.clone());
        let newcomer = h.client(&format!("new{round}"));
        let holding = tokio::spawn(async move {
            gate.wait().await;
            scheduler.reserve(&to, &newcomer, None).await
        });
        let (moved, taken) = (moving.await.expect("ran"), holding.await.expect("ran"));
        assert!(
            moved.is_ok() != taken.is_ok(),
            "exactly one of the move and the hold wins: {moved:?} {taken:?}"
        );
        for lost in [moved.as_ref().err(), taken.as_ref().err()]
            .into_iter()
            .flatten()
        {
            assert!(matches!(lost, Error::SlotUnavailable { .. }), "{lost:?}");
        }
        // Free the morning for the next round.
        for r in h.provider_bookings(&p).await {
            if r.is_live_at(h.now()) {
                h.scheduler
                    .cancel(r.id, &Actor::Provider(p.clone()))
                    .await
                    .unwrap();
            }
        }
    }
}

pub async fn reschedules_race_for_one_start<S: Store + 'static>(h: Harness<S>) {
    const MOVERS: usize = 16;
    let p = h.provider("p");
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 14, 0, 0))
        .await;
    let target = slots[MOVERS].id.clone();
    let barrier = Arc::new(Barrier::new(MOVERS));
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().take(MOVERS).enumerate() {
        let client = h.client(&format!("c{i}"));
        let held = h.hold(&slot.id, &client).await;
        let (scheduler, barrier, target) = (h.scheduler.clone(), barrier.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            scheduler
                .reschedule(held.id, &target, &Actor::Client(client))
                .await
        }));
    }
    let mut moved = Vec::new();
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(reservation) => moved.push(reservation),
            Err(Error::SlotUnavailable { .. }) => {}
            Err(err) => panic!("a mover got {err:?}"),
        }
    }
    assert_eq!(moved.len(), 1, "exactly one moves: {moved:?}");
    let on_target = h
        .provider_bookings(&p)
        .await
        .into_iter()
        .filter(|r| r.slot_id == target)
        .count();
    assert_eq!(on_target, 1);
}
