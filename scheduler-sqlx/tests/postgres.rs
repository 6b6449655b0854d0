//! `PostgresStore` against a real server: the backend conformance suite, and
//! what is particular to the SQL store (stale holds, migrations, connecting).
//!
//! Needs `SCHEDULER_TEST_POSTGRES_URL`; see `pg_support` for skipping rules.
#![cfg(feature = "postgres")]

mod pg_support;

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::{
    ClientId, Error, ListQuery, ManualClock, ProviderId, ReservationStatus, Store,
};
use scheduler_sqlx::PostgresStore;
use sqlx::postgres::PgPoolOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let db = &db;
    // A fresh schema per case: the sweeper cases count expired rows globally.
    scheduler_core::testkit::run_conformance(|| async move { db.store(8).await.0 }).await;
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
         FROM generate_series(0, 4999) n"
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
