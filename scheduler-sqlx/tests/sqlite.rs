//! `SqliteStore` against the conformance suite, and under concurrent writers.
#![cfg(feature = "sqlite")]

mod sqlite_support;

use std::sync::Arc;

use scheduler_core::testkit::Harness;
use scheduler_core::{Error, Reservation, Result};
use sqlite_support::{TempDb, count, memory_store};
use tokio::sync::Barrier;

/// Every case on a database file of its own: the sweeper cases count rows
/// database-wide. The file goes when the case ends.
mod on_database_files {
    use super::*;
    scheduler_core::conformance_tests!(with_guard async {
        let db = TempDb::new("conformance");
        let store = db.store(4).await;
        Some((store, db))
    });
}

mod in_memory {
    use super::*;
    scheduler_core::conformance_tests!(async { Some(memory_store().await) });
}

/// Releases `tasks` futures together and returns their results in order.
async fn race<F>(tasks: Vec<F>) -> Vec<Result<Reservation>>
where
    F: Future<Output = Result<Reservation>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(tasks.len()));
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                task.await
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task ran"));
    }
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn one_of_64_clients_racing_for_a_slot_wins_with_16_readers() {
    let db = TempDb::new("race-one");
    let h = Harness::new(db.store(16).await);
    let p = h.provider("p");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let tasks = (0..64)
        .map(|i| {
            let (scheduler, slot, client) = (
                h.scheduler.clone(),
                slot.clone(),
                h.client(&format!("c{i}")),
            );
            async move { scheduler.reserve(&slot, &client, None).await }
        })
        .collect();
    let results = race(tasks).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let lost = results
        .iter()
        .filter(|r| matches!(r, Err(Error::SlotUnavailable { .. })))
        .count();
    assert_eq!((won, lost), (1, 63), "{results:?}");
    assert_eq!(count(h.scheduler.store(), "reservations").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_two_writers_on_distinct_slots_all_succeed() {
    let db = TempDb::new("race-many");
    let h = Harness::new(db.store(16).await);
    let p = h.provider("p");
    let slots = h.open(&p, h.day_at(2, 0, 0, 0), h.day_at(2, 8, 0, 0)).await;
    assert_eq!(slots.len(), 32);
    let tasks = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let (scheduler, slot, client) = (
                h.scheduler.clone(),
                slot.id.clone(),
                h.client(&format!("c{i}")),
            );
            async move { scheduler.reserve(&slot, &client, None).await }
        })
        .collect();
    for result in race(tasks).await {
        result.expect("every writer gets its slot, none sees a locked database");
    }
    assert_eq!(count(h.scheduler.store(), "reservations").await, 32);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stores_on_one_file_never_double_book() {
    // Two stores stand for two processes: each has its own writer connection,
    // so they meet at SQLite's lock, which IMMEDIATE transactions wait for.
    let db = TempDb::new("two-stores");
    let a = Harness::new(db.store(4).await);
    let b = Harness::new(db.store(4).await);
    let p = a.provider("p");
    let slots = a.open(&p, a.day_at(2, 0, 0, 0), a.day_at(2, 4, 0, 0)).await;
    assert_eq!(slots.len(), 16);
    let contested = slots[0].id.clone();
    let mut tasks = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        for (name, h) in [("a", &a), ("b", &b)] {
            let client = a.client(&format!("{name}{i}"));
            // Every slot but the first goes to one store; the first to both.
            let wanted = if i == 0 || name == "a" {
                slot.id.clone()
            } else {
                continue;
            };
            let scheduler = h.scheduler.clone();
            tasks.push(async move { scheduler.reserve(&wanted, &client, None).await });
        }
    }
    let results = race(tasks).await;
    let on_contested = |r: &&Result<Reservation>| match r {
        Ok(held) => held.slot_id == contested,
        Err(Error::SlotUnavailable { slot }) => *slot == contested,
        Err(_) => false,
    };
    let contest: Vec<_> = results.iter().filter(on_contested).collect();
    assert_eq!(contest.len(), 2, "{results:?}");
    assert_eq!(
        contest.iter().filter(|r| r.is_ok()).count(),
        1,
        "{contest:?}"
    );
    for result in results.iter().filter(|r| !on_contested(r)) {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(count(a.scheduler.store(), "reservations").await, 16);
}
