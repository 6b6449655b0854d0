//! `PostgresStore` when the server drops its connection mid-operation: the
//! operation fails with `Error::Storage` carrying the driver's error, the
//! server rolls the transaction back, and the pool recovers.
//!
//! To catch an operation in flight, a second connection holds a row lock the
//! operation needs, waits until `pg_stat_activity` shows the store's backend
//! waiting on it, and terminates that backend.
#![cfg(feature = "postgres")]

mod pg_support;

use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::Precondition;
use scheduler_core::store::ReservationStore;
use scheduler_core::{ClientId, Error, ManualClock, ProviderId, ReservationStatus, TimeRange};
use scheduler_sqlx::PostgresStore;
use sqlx::AssertSqlSafe;

/// The pid of the backend named `application` once it waits on a lock.
async fn backend_waiting_on_a_lock(db: &TestDb, application: &str) -> i32 {
    for _ in 0..3000 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(application)
        .fetch_optional(db.admin())
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        // Paces the polling on the server; nothing here waits for a deadline.
        sqlx::query("SELECT pg_sleep(0.01)")
            .execute(db.admin())
            .await
            .unwrap();
    }
    panic!("the store's statement never waited on the lock");
}

async fn terminate(db: &TestDb, pid: i32) {
    let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(db.admin())
        .await
        .unwrap();
    assert!(done, "backend {pid} terminated");
}

fn assert_storage_with_source<T: std::fmt::Debug>(result: scheduler_core::Result<T>) {
    match result {
        Err(err @ Error::Storage(_)) => assert!(
            std::error::Error::source(&err).is_some(),
            "the driver's error is kept as the source: {err:?}"
        ),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// The hold is killed after it locked the slot and while it retires a lapsed
/// hold: nothing of it remains, neither the new row nor the retirement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_cut_off_mid_statement_leaves_no_trace() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    // One connection, so the store's backend is the one named after the schema.
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(db.pool(&schema, 1).await), &clock);
    let provider = ProviderId::new("dr-flaky").unwrap();
    let slot = open(&scheduler, &provider, bookable(), 1).await[0]
        .id
        .clone();
    let (amy, rory) = (
        ClientId::new("amy").unwrap(),
        ClientId::new("rory").unwrap(),
    );
    let lapsed = scheduler.reserve(&slot, &amy, None).await.unwrap();
    clock.advance(scheduler.policy().hold_ttl());

    let mut blocker = db.admin().begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "SELECT 1 FROM {schema}.reservations WHERE client_id = 'amy' FOR UPDATE"
    )))
    .execute(&mut *blocker)
    .await
    .unwrap();
    let reserve = {
        let (scheduler, slot, rory) = (scheduler.clone(), slot.clone(), rory.clone());
        tokio::spawn(async move { scheduler.reserve(&slot, &rory, None).await })
    };
    terminate(&db, backend_waiting_on_a_lock(&db, &schema).await).await;
    assert_storage_with_source(reserve.await.unwrap());
    blocker.rollback().await.unwrap();

    let rows = format!("SELECT count(*) FROM {schema}.reservations");
    assert_eq!(count(&db, rows.clone()).await, 1, "no half-written hold");
    let untouched = format!(
        "SELECT count(*) FROM {schema}.reservations WHERE client_id = 'amy' AND status = 'held'"
    );
    assert_eq!(
        count(&db, untouched).await,
        1,
        "the retirement rolled back too"
    );

    // The pool replaces the dead connection; the retry goes through whole.
    let held = scheduler.reserve(&slot, &rory, None).await.unwrap();
    assert_eq!(held.client_id, rory);
    assert_eq!(count(&db, rows).await, 2);
    let retired = scheduler.store().reservation(lapsed.id).await.unwrap();
    assert_eq!(retired.map(|r| r.status), Some(ReservationStatus::Expired));
}

/// The withdrawal is killed holding the locks on some slots of its range:
/// the transaction rolls back and every slot is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_cut_off_mid_transaction_removes_nothing() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(db.pool(&schema, 1).await), &clock);
    let provider = ProviderId::new("dr-flaky").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 3).await;
    let range = TimeRange::new(slots[0].start, slots[2].end).unwrap();

    // Lock the last slot: the withdrawal locks the first two, then waits.
    let mut blocker = db.admin().begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "SELECT 1 FROM {schema}.slots WHERE start_s = $1 FOR UPDATE"
    )))
    .bind(slots[2].start.timestamp())
    .execute(&mut *blocker)
    .await
    .unwrap();
    let withdraw = {
        let (scheduler, provider) = (scheduler.clone(), provider.clone());
        tokio::spawn(async move {
            scheduler
                .withdraw_availability(&provider, range, Precondition::Any)
                .await
        })
    };
    terminate(&db, backend_waiting_on_a_lock(&db, &schema).await).await;
    assert_storage_with_source(withdraw.await.unwrap());
    blocker.rollback().await.unwrap();

    let kept = format!("SELECT count(*) FROM {schema}.slots");
    assert_eq!(count(&db, kept.clone()).await, 3, "nothing deleted");
    let withdrawal = scheduler
        .withdraw_availability(&provider, range, Precondition::Any)
        .await
        .unwrap();
    assert_eq!(withdrawal.removed, slots);
    assert_eq!(count(&db, kept).await, 0);
}

/// Every connection of the store killed while idle (a server restart, a
/// failover): the store reconnects. A connection idle for less than a second
/// is reused without a ping, so the first operation after the kill may find
/// its connection dead and fail, with nothing done; every later one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_whose_connections_were_killed_reconnects() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(db.pool(&schema, 4).await), &clock);
    let provider = ProviderId::new("dr-restarted").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 2).await;

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&schema)
    .fetch_all(db.admin())
    .await
    .unwrap();
    assert!(!killed.is_empty() && killed.iter().all(|&k| k));

    let amy = ClientId::new("amy").unwrap();
    if let Err(err) = scheduler.reserve(&slots[0].id, &amy, None).await {
        assert_storage_with_source::<()>(Err(err));
        scheduler.reserve(&slots[0].id, &amy, None).await.unwrap();
    }
    let page = scheduler
        .list_slots(&provider, scheduler_core::ListQuery::all())
        .await
        .unwrap();
    assert_eq!(page.items, slots[1..].to_vec());
}
