//! `PostgresStore` against a real server: the backend conformance suite, and
//! what is particular to the SQL store (stale holds, migrations, connecting).
//!
//! Needs `SCHEDULER_TEST_POSTGRES_URL`; see `pg_support` for skipping rules.
#![cfg(feature = "postgres")]

mod pg_support;

use scheduler_core::Precondition;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::store::{CalendarStore, CalendarWrite, ReservationStore, ScheduleStore};
use scheduler_core::{ClientId, Error, ListQuery, ManualClock, ProviderId, ReservationStatus};
use scheduler_sqlx::PostgresStore;
use sqlx::postgres::PgPoolOptions;

/// Every case on a fresh schema, dropped with the test database when the
/// case ends: the sweeper cases count expired rows globally.
mod conformance {
    use super::*;
    scheduler_core::conformance_tests!(with_guard async {
        let db = TestDb::connect().await?;
        let (store, _schema) = db.store(8).await;
        Some((store, db))
    });
}

/// A lapsed hold that no sweeper has touched still sits in the unique index as
/// `held`; the hold statement must retire it and insert in the same statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_unswept_hold_gives_way_to_a_new_hold() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(4).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-stale").unwrap();
    let slot = open(&scheduler, &provider, bookable(), 1).await[0]
        .id
        .clone();
    let (amy, rory) = (
        ClientId::new("amy").unwrap(),
        ClientId::new("rory").unwrap(),
    );

    let first = scheduler.reserve(&slot, &amy, None).await.unwrap();
    clock.advance(scheduler.policy().hold_ttl());
    let second = scheduler
        .reserve(&slot, &rory, None)
        .await
        .expect("the lapsed hold frees the slot without a sweep");
    assert_eq!(second.status, ReservationStatus::Held);

    let old = scheduler
        .store()
        .reservation(first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, ReservationStatus::Expired, "retired in storage");
    let live = count(
        &db,
        format!("SELECT count(*) FROM {schema}.reservations WHERE status IN ('held', 'confirmed')"),
    )
    .await;
    assert_eq!(live, 1);
    assert_eq!(
        scheduler.expire_due(100).await.unwrap(),
        0,
        "nothing left to sweep"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_embedded_and_rerun_as_no_ops() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(2).await;
    assert!(PostgresStore::migrator().iter().count() >= 1);
    store.migrate().await.expect("a second migrate is a no-op");
    PostgresStore::migrator()
        .run(store.pool())
        .await
        .expect("the public migrator runs with other tooling");
    let applied = count(
        &db,
        format!("SELECT count(*) FROM {schema}._sqlx_migrations WHERE success"),
    )
    .await;
    assert_eq!(applied as usize, PostgresStore::migrator().iter().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_by_url_and_report_an_unreachable_server_as_storage() {
    let Some(_db) = TestDb::connect().await else {
        return;
    };
    let url = std::env::var(pg_support::URL_VAR).unwrap();
    let store = PostgresStore::connect(&url).await.expect("connects");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(one, 1);

    let err = PostgresStore::connect("mysql://not-postgres")
        .await
        .expect_err("not a PostgreSQL URL");
    assert_storage_with_source(&err);

    // Port 1 is never a PostgreSQL server. (`connect` itself would retry for
    // sqlx's 30 s acquire timeout; a lazy pool with a short one fails fast.)
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://nobody@127.0.0.1:1/nothing")
        .unwrap();
    let provider = ProviderId::new("dr-nowhere").unwrap();
    let err = scheduler(PostgresStore::from_pool(pool), &ManualClock::new(epoch()))
        .list_slots(&provider, ListQuery::all())
        .await
        .expect_err("nothing listens on port 1");
    assert_storage_with_source(&err);
}

fn assert_storage_with_source(err: &Error) {
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(std::error::Error::source(err).is_some(), "{err:?}");
}

/// Expiry is judged at the caller's `now`, never the server's clock: in 2010
/// by the scheduler's clock, a hold is live and confirms although the server
/// lives years after its expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_comes_from_the_caller_not_the_server() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, _schema) = db.store(2).await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2010, 1, 7, 8, 0, 0).unwrap());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-past").unwrap();
    let start = Utc.with_ymd_and_hms(2010, 1, 9, 9, 0, 0).unwrap();
    let slot = open(&scheduler, &provider, start, 1).await[0].id.clone();
    let amy = ClientId::new("amy").unwrap();
    let held = scheduler.reserve(&slot, &amy, None).await.unwrap();
    clock.advance(TimeDelta::minutes(29));
    let confirmed = scheduler.confirm(held.id, &amy).await.unwrap();
    assert_eq!(confirmed.status, ReservationStatus::Confirmed);
    assert_eq!(scheduler.expire_due(100).await.unwrap(), 0);
}

/// A batch of 1,000 or more is swept by two statements at once; with several
/// sweepers racing besides, every due hold is still expired exactly once,
/// counted once, and no hold that is not due is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_sweeps_racing_expire_each_due_hold_once() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(8).await;
    let clock = ManualClock::new(epoch());
    let now_us = epoch().timestamp_micros();
    let first = bookable().timestamp();
    // 5,000 holds; the even ones lapsed at `now` exactly, the odd ones a
    // microsecond later.
    let fill = format!(
        "INSERT INTO {schema}.reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 5), 'c' || n,
                {first} + 900 * (n / 5), {first} + 900 * (n / 5 + 1),
                'held', 0, {now_us} + n % 2, NULL
         FROM generate_series(0, 4999) n;
         INSERT INTO {schema}.hold_expiries (expires_us, id)
         SELECT expires_us, id FROM {schema}.reservations;
         INSERT INTO {schema}.claims (provider_id, cell_s, reservation_id, expires_us)
         SELECT provider_id, start_s, id, expires_us FROM {schema}.reservations"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(fill))
        .execute(db.admin())
        .await
        .unwrap();
    let scheduler = std::sync::Arc::new(scheduler(store, &clock));
    let sweepers: Vec<_> = (0..3)
        .map(|_| {
            let scheduler = std::sync::Arc::clone(&scheduler);
            tokio::spawn(async move {
                let mut expired = 0;
                loop {
                    match scheduler.expire_due(1_000).await.unwrap() {
                        0 => break expired,
                        n => {
                            assert!(n <= 1_000, "a call expires at most its batch: {n}");
                            expired += n;
                        }
                    }
                }
            })
        })
        .collect();
    let mut counted = 0;
    for sweeper in sweepers {
        counted += sweeper.await.unwrap();
    }
    assert_eq!(counted, 2_500, "each due hold counted once");
    let by_status = |status: &str| {
        count(
            &db,
            format!("SELECT count(*) FROM {schema}.reservations WHERE status = '{status}'"),
        )
    };
    assert_eq!(by_status("expired").await, 2_500);
    assert_eq!(
        by_status("held").await,
        2_500,
        "holds not yet due stay held"
    );
    assert_eq!(
        count(
            &db,
            format!(
                "SELECT count(*) FROM {schema}.reservations
                 WHERE status = 'expired' AND expires_us > {now_us}"
            )
        )
        .await,
        0,
        "only due holds were expired"
    );
}

/// The store's backends, as `pg_stat_activity` shows them.
async fn backends(db: &TestDb, schema: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(schema)
        .fetch_one(db.admin())
        .await
        .unwrap()
}

/// Polls until `n` of the store's backends wait on a lock.
async fn until_waiting_on_locks(db: &TestDb, schema: &str, n: i64) {
    for _ in 0..3000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(schema)
        .fetch_one(db.admin())
        .await
        .unwrap();
        if waiting == n {
            return;
        }
        // Paces the polling on the server; nothing here waits for a deadline.
        pace(db).await;
    }
    panic!("{n} of the store's statements never waited on the lock together");
}

async fn pace(db: &TestDb) {
    sqlx::query("SELECT pg_sleep(0.01)")
        .execute(db.admin())
        .await
        .unwrap();
}

/// Polls `op` at most `polls` times, yielding to the runtime in between, then
/// drops it wherever it got to: waiting for a connection, opening one,
/// sending the statement or reading its answer.
async fn cut_after<F: std::future::Future>(polls: usize, op: F) -> Option<F::Output> {
    let mut op = std::pin::pin!(op);
    for _ in 0..polls {
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(op.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(out) = polled {
            return Some(out);
        }
        tokio::task::yield_now().await;
    }
    None
}

/// Hundreds of holds and listings dropped at every stage of their flight
/// leave no connection behind that answers wrongly: afterwards every
/// operation succeeds and agrees with the rows in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_operations_do_not_poison_the_connections() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    const MAX: u32 = 4;
    let (store, schema) = db.store(MAX).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-cut").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 48).await;

    // Waves of twice as many operations as connections: a quarter cut off
    // after a few polls, a quarter left alone, half cut off at a deadline of
    // up to 100 ms: in the queue for a connection, opening one (every cut
    // closes one), mid-statement or not at all.
    let (mut finished, mut cut, mut in_time) = (0, 0, 0);
    for wave in 0..48 {
        let tasks: Vec<_> = (0..2 * MAX as usize)
            .map(|j| {
                let i = wave * 2 * MAX as usize + j;
                let (scheduler, provider) = (scheduler.clone(), provider.clone());
                let slot = slots[i % slots.len()].id.clone();
                tokio::spawn(async move {
                    let client = ClientId::new(format!("cut-{i}")).unwrap();
                    let op = async {
                        if i.is_multiple_of(2) {
                            scheduler.reserve(&slot, &client, None).await.map(drop)
                        } else {
                            scheduler
                                .list_slots(&provider, ListQuery::all())
                                .await
                                .map(drop)
                        }
                    };
                    let outcome = match i % 4 {
                        0 => cut_after(i % 24, op).await,
                        1 => Some(op.await),
                        _ => {
                            let deadline = Duration::from_micros((i as u64 * 397) % 100_000);
                            tokio::time::timeout(deadline, op).await.ok()
                        }
                    };
                    (i % 4 >= 2, outcome)
                })
            })
            .collect();
        for task in tasks {
            let (timed, outcome) = task.await.unwrap();
            match outcome {
                None => cut += 1,
                Some(Ok(())) | Some(Err(Error::SlotUnavailable { .. })) => {
                    in_time += usize::from(timed)
                }
                Some(Err(other)) => panic!("an operation that ran to its end failed: {other:?}"),
            }
            finished += 1;
        }
    }
    assert_eq!(finished, 384);
    eprintln!("{cut} of 384 operations cut off, {in_time} of 192 done before their deadline");
    assert!(cut >= 96, "{cut} cut off");
    assert!(
        in_time > 0 && in_time < 192,
        "the deadlines fall anywhere: {in_time} in time"
    );

    // A listing cut off while PostgreSQL runs it (it waits for a table lock):
    // its connection must not come back with the statement still pending.
    let mut locker = db.admin().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {schema}.reservations IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *locker)
    .await
    .unwrap();
    let stuck = {
        let (scheduler, provider) = (scheduler.clone(), provider.clone());
        tokio::spawn(async move {
            scheduler
                .provider_reservations(&provider, ListQuery::all())
                .await
        })
    };
    until_waiting_on_locks(&db, &schema, 1).await;
    stuck.abort();
    assert!(stuck.await.unwrap_err().is_cancelled());
    // Still locked: the calendar, which needs no lock on reservations, reads
    // at once on a connection that is not the abandoned one.
    let version = tokio::time::timeout(
        Duration::from_secs(30),
        scheduler.store().calendar_version(&provider),
    )
    .await
    .expect("no operation waits behind the abandoned statement")
    .unwrap();
    assert_eq!(version, 1);
    locker.rollback().await.unwrap();

    // Everything agrees with the rows: the free slots listed are exactly the
    // slots without a live reservation, each of them can be held, and every
    // other slot is refused.
    let live: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT start_s FROM {schema}.reservations
         WHERE status IN ('held', 'confirmed') ORDER BY start_s"
    )))
    .fetch_all(db.admin())
    .await
    .unwrap();
    let free = scheduler
        .list_slots(&provider, ListQuery::all())
        .await
        .unwrap()
        .items;
    assert_eq!(free.len() + live.len(), slots.len(), "{live:?}");
    let rory = ClientId::new("rory").unwrap();
    for slot in &slots {
        let taken = live.contains(&slot.start.timestamp());
        assert_eq!(free.contains(slot), !taken);
        match scheduler.reserve(&slot.id, &rory, None).await {
            Ok(held) => assert!(!taken && held.client_id == rory),
            Err(Error::SlotUnavailable { .. }) => assert!(taken),
            Err(other) => panic!("{other:?}"),
        }
    }
    let page = scheduler
        .provider_reservations(&provider, ListQuery::all().limit(500))
        .await
        .unwrap();
    let all = count(&db, format!("SELECT count(*) FROM {schema}.reservations")).await;
    assert_eq!(page.items.len() as i64, all);
    // The backends of closed connections exit once they notice; then the
    // store has no more than its maximum.
    let mut left = backends(&db, &schema).await;
    for _ in 0..1000 {
        if left <= i64::from(MAX) {
            break;
        }
        pace(&db).await;
        left = backends(&db, &schema).await;
    }
    assert!(left <= i64::from(MAX), "{left} backends");
}

/// With a pool of at most N connections, 4N operations at once never have
/// more than N: N statements wait on a lock the test holds, the other 3N
/// wait for a connection, and no further backend appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_operations_stay_within_the_pool_maximum() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    const MAX: u32 = 3;
    let (store, schema) = db.store(MAX).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-bounded").unwrap();
    let slot = open(&scheduler, &provider, bookable(), 1).await[0].clone();

    let mut locker = db.admin().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT 1 FROM {schema}.slots WHERE start_s = $1 FOR UPDATE"
    )))
    .bind(slot.start.timestamp())
    .execute(&mut *locker)
    .await
    .unwrap();
    let holds: Vec<_> = (0..4 * MAX)
        .map(|i| {
            let (scheduler, slot) = (scheduler.clone(), slot.id.clone());
            let client = ClientId::new(format!("c-{i}")).unwrap();
            tokio::spawn(async move { scheduler.reserve(&slot, &client, None).await })
        })
        .collect();
    until_waiting_on_locks(&db, &schema, i64::from(MAX)).await;
    for _ in 0..20 {
        assert_eq!(backends(&db, &schema).await, i64::from(MAX));
        pace(&db).await;
    }
    locker.rollback().await.unwrap();
    let mut won = 0;
    for hold in holds {
        match hold.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::SlotUnavailable { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);

    // Free-running: 4N listings in a loop, sampled while they run.
    let listers: Vec<_> = (0..4 * MAX)
        .map(|_| {
            let (scheduler, provider) = (scheduler.clone(), provider.clone());
            tokio::spawn(async move {
                for _ in 0..50 {
                    scheduler
                        .list_slots(&provider, ListQuery::all())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut most = 0;
    while !listers.iter().all(|lister| lister.is_finished()) {
        most = most.max(backends(&db, &schema).await);
    }
    for lister in listers {
        lister.await.unwrap();
    }
    assert!(
        most <= i64::from(MAX),
        "{most} connections for a pool of {MAX}"
    );
}

/// Every backend of the store terminated while idle (a failover, a restart):
/// the store replaces them. A connection idle for less than a second is not
/// pinged, so the first operation may meet its dead connection and fail;
/// that failure makes the store ping the other idle ones, so it is the only
/// one. Observed: exactly one failure when the operations follow the kill at
/// once, none when more than a second passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_backends_are_replaced_after_at_most_one_failure() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    const MAX: u32 = 4;
    let (store, schema) = db.store(MAX).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-failover").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 8).await;
    // Several connections in the cache, all idle.
    let listers: Vec<_> = (0..2 * MAX)
        .map(|_| {
            let (scheduler, provider) = (scheduler.clone(), provider.clone());
            tokio::spawn(async move { scheduler.list_slots(&provider, ListQuery::all()).await })
        })
        .collect();
    for lister in listers {
        lister.await.unwrap().unwrap();
    }
    let before: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(&schema)
            .fetch_all(db.admin())
            .await
            .unwrap();
    assert!(!before.is_empty() && before.len() <= MAX as usize);
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&schema)
    .fetch_all(db.admin())
    .await
    .unwrap();
    assert!(killed.iter().all(|&k| k));
    while backends(&db, &schema).await > 0 {
        pace(&db).await;
    }

    let amy = ClientId::new("amy").unwrap();
    let mut failures = 0;
    let mut held = Vec::new();
    for slot in &slots {
        match scheduler.reserve(&slot.id, &amy, None).await {
            Ok(reservation) => held.push(reservation),
            Err(err @ Error::Storage(_)) => {
                assert!(std::error::Error::source(&err).is_some());
                assert!(held.is_empty(), "only the first operation may fail");
                failures += 1;
                // Nothing of it reached the database: the slot is still free.
                scheduler.reserve(&slot.id, &amy, None).await.unwrap();
                held.push(
                    scheduler
                        .client_reservations(&amy, ListQuery::all())
                        .await
                        .unwrap()
                        .items
                        .pop()
                        .unwrap(),
                );
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    eprintln!(
        "after terminating {} backends: {failures} failed operation(s)",
        killed.len()
    );
    assert!(failures <= 1, "{failures} failures");
    assert_eq!(held.len(), slots.len());
    assert!(
        scheduler
            .list_slots(&provider, ListQuery::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let after: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(&schema)
            .fetch_all(db.admin())
            .await
            .unwrap();
    assert!(!after.is_empty() && after.iter().all(|pid| !before.contains(pid)));
}

/// A calendar write refused for its version ends its transaction before the
/// connection is reused: nothing stays `idle in transaction` holding the
/// calendar's row lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_calendar_write_leaves_no_transaction_open() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let (store, schema) = db.store(1).await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    let provider = ProviderId::new("dr-versioned").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 2).await;
    let window =
        scheduler_core::Window::new(slots[1].end, slots[1].end + TimeDelta::hours(1)).unwrap();
    let range = scheduler_core::TimeRange::new(slots[0].start, slots[1].end).unwrap();

    let added = scheduler
        .add_availability(&provider, &[window], Precondition::Version(7))
        .await;
    assert!(
        matches!(added, Err(Error::CalendarChanged { .. })),
        "{added:?}"
    );
    no_transaction_left(&db, &schema).await;
    let withdrawn = scheduler
        .withdraw_availability(&provider, range, Precondition::Version(7))
        .await;
    assert!(
        matches!(withdrawn, Err(Error::CalendarChanged { .. })),
        "{withdrawn:?}"
    );
    no_transaction_left(&db, &schema).await;
    let put = scheduler
        .store()
        .put_schedule(&provider, "{}", bookable(), 7)
        .await;
    assert!(
        matches!(put, Ok(CalendarWrite::VersionMismatch { current: 1 })),
        "{put:?}"
    );
    no_transaction_left(&db, &schema).await;
    assert_eq!(
        scheduler.store().calendar_version(&provider).await.unwrap(),
        1
    );
}

/// The store's connections are all idle outside a transaction, and the
/// calendars' rows are not locked.
async fn no_transaction_left(db: &TestDb, schema: &str) {
    let busy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'",
    )
    .bind(schema)
    .fetch_one(db.admin())
    .await
    .unwrap();
    assert_eq!(busy, 0);
    let mut other = db.admin().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {schema}.calendars FOR UPDATE NOWAIT"
    )))
    .execute(&mut *other)
    .await
    .expect("the calendar's row is not locked");
    other.rollback().await.unwrap();
}
