//! What survives a restart, and what a failure leaves behind: nothing half-written.
#![cfg(feature = "sqlite")]

mod sqlite_support;

use chrono::TimeDelta;
use scheduler_core::Precondition;
use scheduler_core::store::ReservationStore;
use scheduler_core::testkit::Harness;
use scheduler_core::{Error, IdempotencyKey, ListQuery};
use scheduler_sqlx::SqliteStore;
use sqlite_support::{TempDb, count};

/// Asserts that `result` failed in storage and kept the database's error as its source.
fn assert_storage_error<T: std::fmt::Debug>(result: scheduler_core::Result<T>, what: &str) {
    match result {
        Err(err @ Error::Storage(_)) => assert!(
            std::error::Error::source(&err).is_some(),
            "{what}: the storage error lost its source: {err:?}"
        ),
        other => panic!("{what}: expected a storage error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn holds_and_bookings_read_back_exactly_after_reopening() {
    let db = TempDb::new("durable");
    let h = Harness::new(db.store(4).await);
    let (p, amy, bob) = (h.provider("p"), h.client("amy"), h.client("bob"));
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let key = IdempotencyKey::new("amy-first").expect("key");
    let held = h
        .scheduler
        .reserve(&slots[0].id, &amy, Some(&key))
        .await
        .expect("hold");
    let pending = h.hold(&slots[1].id, &bob).await;
    h.advance(TimeDelta::minutes(7));
    let booked = h
        .scheduler
        .confirm(pending.id, &bob)
        .await
        .expect("confirm");
    h.scheduler.store().close().await;
    drop(h);

    let store = SqliteStore::connect(&db.url()).await.expect("reopen");
    store
        .migrate()
        .await
        .expect("migrating again changes nothing");
    assert_eq!(
        store.reservation(held.id).await.expect("read"),
        Some(held.clone())
    );
    assert_eq!(
        store.reservation(booked.id).await.expect("read"),
        Some(booked)
    );
    assert_eq!(
        store.reservation_by_key(&amy, &key).await.expect("read"),
        Some(held.clone())
    );
    // The slots came back too, and the reopened store still sees them taken.
    let h = Harness::new(store);
    h.advance(TimeDelta::minutes(7));
    let free = h
        .scheduler
        .list_slots(&p, ListQuery::all())
        .await
        .expect("listing");
    let starts: Vec<_> = free.items.iter().map(|slot| slot.start).collect();
    assert_eq!(starts, vec![slots[2].start, slots[3].start]);
    assert_eq!(count(h.scheduler.store(), "reservations").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_store_fails_with_its_cause_and_writes_nothing() {
    let db = TempDb::new("closed");
    let h = Harness::new(db.store(4).await);
    let (p, c) = (h.provider("p"), h.client("c"));
    let slots = h
        .open(&p, h.day_at(2, 9, 0, 0), h.day_at(2, 10, 0, 0))
        .await;
    let held = h.hold(&slots[0].id, &c).await;
    h.scheduler.store().close().await;

    let s = &h.scheduler;
    assert_storage_error(s.reserve(&slots[1].id, &c, None).await, "reserve");
    assert_storage_error(s.confirm(held.id, &c).await, "confirm");
    assert_storage_error(s.list_slots(&p, ListQuery::all()).await, "list");
    assert_storage_error(s.expire_due(10).await, "sweep");
    let window = scheduler_core::Window::new(h.day_at(3, 9, 0, 0), h.day_at(3, 10, 0, 0));
    assert_storage_error(
        s.add_availability(&p, &[window.expect("window")], Precondition::Any)
            .await,
        "add availability",
    );

    let store = db.store(1).await;
    assert_eq!(count(&store, "reservations").await, 1);
    assert_eq!(count(&store, "slots").await, 4);
    assert_eq!(store.reservation(held.id).await.expect("read"), Some(held));
}

/// Makes the database refuse inserts into `table` that match `when`, as a
/// disk or constraint failure would, in the middle of a statement.
async fn refuse_inserts(store: &SqliteStore, table: &str, when: &str) {
    let sql = format!(
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when}
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(store.writer())
        .await
        .expect("trigger");
}

async fn allow_inserts(store: &SqliteStore, table: &str) {
    let sql = format!("DROP TRIGGER refuse_{table}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(store.writer())
        .await
        .expect("drop trigger");
}

#[tokio::test(flavor = "multi_thread")]
async fn availability_failing_in_a_later_batch_adds_no_slot() {
    let db = TempDb::new("batch");
    let h = Harness::new(db.store(2).await);
    let p = h.provider("p");
    let store = h.scheduler.store().clone();
    // A week is 672 slots, more than one insert batch; refuse one near the end.
    let (from, to) = (h.day_at(2, 0, 0, 0), h.day_at(9, 0, 0, 0));
    let refused = (to - TimeDelta::hours(1)).timestamp();
    refuse_inserts(&store, "slots", &format!("NEW.start_s = {refused}")).await;
    let window = scheduler_core::Window::new(from, to).expect("window");
    assert_storage_error(
        h.scheduler
            .add_availability(&p, &[window], Precondition::Any)
            .await,
        "add",
    );
    assert_eq!(
        count(&store, "slots").await,
        0,
        "the earlier batches rolled back"
    );

    allow_inserts(&store, "slots").await;
    assert_eq!(h.open(&p, from, to).await.len(), 672);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_hold_leaves_the_lapsed_hold_it_replaced_untouched() {
    let db = TempDb::new("hold-fails");
    let h = Harness::new(db.store(2).await);
    let (p, c, other) = (h.provider("p"), h.client("c"), h.client("other"));
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    let old = h.hold(&slot, &c).await;
    h.set(old.expires_at);
    let store = h.scheduler.store().clone();
    let stored_status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM reservations WHERE client_id = ?1")
            .bind(c.as_str())
            .fetch_one(store.writer())
            .await
            .expect("status")
    };

    refuse_inserts(&store, "reservations", "1").await;
    assert_storage_error(h.scheduler.reserve(&slot, &other, None).await, "reserve");
    assert_eq!(
        stored_status().await,
        "held",
        "marking it expired rolled back"
    );
    assert_eq!(count(&store, "reservations").await, 1);

    allow_inserts(&store, "reservations").await;
    h.hold(&slot, &other).await;
    assert_eq!(stored_status().await, "expired");
}
