//! The PostgreSQL schema on its own: constraints that hold against raw SQL,
//! rows that survive a reconnect, and the free-slot listing's index plan.
#![cfg(feature = "postgres")]

mod pg_support;

use chrono::TimeDelta;
use pg_support::{TestDb, bookable, epoch, open, scheduler};
use scheduler_core::{ClientId, ListQuery, ManualClock, ProviderId, ReservationStatus, Store};
use scheduler_sqlx::PostgresStore;
use sqlx::{AssertSqlSafe, PgPool};

/// Inserts a reservation row by hand, bypassing the store.
async fn insert_raw(
    pool: &PgPool,
    schema: &str,
    id: &[u8],
    status: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {schema}.reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us)
         VALUES ($1, 'dr-raw', 'amy', 1894525200, 1894526100, $2, 0, 1800000000, $3)"
    );
    let confirmed_us = (status == "confirmed").then_some(1_i64);
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(status)
        .bind(confirmed_us)
        .execute(pool)
        .await
        .map(drop)
}

fn sql_state(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_a_second_live_reservation_on_a_slot() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let pool = db.admin();
    insert_raw(pool, &schema, &[1; 16], "held").await.unwrap();

    for (id, status) in [([2; 16], "held"), ([3; 16], "confirmed")] {
        let err = insert_raw(pool, &schema, &id, status)
            .await
            .expect_err("a second live reservation on the slot");
        assert_eq!(sql_state(&err), "23505", "unique_violation: {err}");
    }
    // Dead reservations do not occupy the slot; any number may stay.
    for id in [[4; 16], [5; 16]] {
        insert_raw(pool, &schema, &id, "expired").await.unwrap();
    }
    insert_raw(pool, &schema, &[6; 16], "cancelled")
        .await
        .unwrap();

    // The other checks: 16-byte ids, known statuses, a confirmation instant.
    let short = insert_raw(pool, &schema, &[7; 15], "expired")
        .await
        .unwrap_err();
    assert_eq!(sql_state(&short), "23514", "check_violation: {short}");
    let unknown = insert_raw(pool, &schema, &[8; 16], "pending")
        .await
        .unwrap_err();
    assert_eq!(sql_state(&unknown), "23514", "check_violation: {unknown}");
    let sql = format!(
        "UPDATE {schema}.reservations SET status = 'confirmed', confirmed_us = NULL
         WHERE id = $1"
    );
    let unconfirmed = sqlx::query(AssertSqlSafe(sql))
        .bind([1_u8; 16].as_slice())
        .execute(pool)
        .await
        .unwrap_err();
    assert_eq!(
        sql_state(&unconfirmed),
        "23514",
        "check_violation: {unconfirmed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_read_back_exactly_after_reconnecting() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    // Microseconds in the clock, so expires_at must survive to the microsecond.
    let clock = ManualClock::new(epoch() + TimeDelta::microseconds(123_457));
    let scheduler = scheduler(PostgresStore::from_pool(db.pool(&schema, 2).await), &clock);
    let provider = ProviderId::new("dr-durable").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 3).await;
    let amy = ClientId::new("amy").unwrap();
    let held = scheduler.reserve(&slots[0].id, &amy, None).await.unwrap();
    let booked = scheduler.reserve(&slots[1].id, &amy, None).await.unwrap();
    clock.advance(TimeDelta::minutes(7) + TimeDelta::microseconds(11));
    let booked = scheduler.confirm(booked.id, &amy).await.unwrap();
    assert_eq!(booked.status, ReservationStatus::Confirmed);
    scheduler.store().pool().close().await;

    let reopened = PostgresStore::from_pool(db.pool(&schema, 2).await);
    assert_eq!(
        reopened.reservation(held.id).await.unwrap(),
        Some(held.clone())
    );
    assert_eq!(
        reopened.reservation(booked.id).await.unwrap(),
        Some(booked.clone())
    );
    assert_eq!(
        held.expires_at,
        epoch() + TimeDelta::microseconds(123_457) + TimeDelta::minutes(30)
    );
    let scheduler = pg_support::scheduler(reopened, &clock);
    let free = scheduler
        .list_slots(&provider, ListQuery::all())
        .await
        .unwrap();
    assert_eq!(
        free.items,
        slots[2..].to_vec(),
        "only the untouched slot is free"
    );
}

/// The listing's plan on a calendar big enough that a sequential scan would
/// be a real choice: it must walk `slots_pkey` and stop at the page.
///
/// The statement is the one the store really sent: with a pool of one
/// connection, `pg_stat_activity` shows it as that connection's last query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_free_slot_listing_walks_the_primary_key() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let pool = db.pool(&schema, 1).await;
    // 20,000 slots for the provider asked about, 100,000 for others, and a
    // reservation on every other slot: half of them confirmed, half expired.
    let first = bookable().timestamp();
    let fill = format!(
        "INSERT INTO {schema}.slots (provider_id, start_s)
         SELECT 'p' || (n % 6), $1 + 900 * (n / 6) FROM generate_series(0, 119999) n;
         INSERT INTO {schema}.reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 6), 'c' || n,
                $1 + 900 * (n / 6), $1 + 900 * (n / 6 + 1),
                CASE WHEN n / 6 % 4 = 0 THEN 'confirmed' ELSE 'expired' END,
                0, 1, CASE WHEN n / 6 % 4 = 0 THEN 1 END
         FROM generate_series(0, 119999) n WHERE n / 6 % 2 = 0;
         ANALYZE {schema}.slots; ANALYZE {schema}.reservations;"
    );
    sqlx::raw_sql(AssertSqlSafe(fill.replace("$1", &first.to_string())))
        .execute(&pool)
        .await
        .unwrap();

    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(pool.clone()), &clock);
    let provider = ProviderId::new("p0").unwrap();
    let page = scheduler
        .list_slots(&provider, ListQuery::all())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    assert_eq!(page.items[0].start, bookable() + TimeDelta::minutes(15));

    let sent: String = sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'",
    )
    .bind(&schema)
    .fetch_one(db.admin())
    .await
    .unwrap();
    assert!(
        sent.contains("FROM slots s"),
        "the listing statement: {sent}"
    );

    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("PREPARE free_slots AS {sent}")))
        .execute(&mut *conn)
        .await
        .unwrap();
    let explain = format!(
        "EXPLAIN EXECUTE free_slots('p0', {first}, {}, {}, 51)",
        first + 900 * 20_000,
        epoch().timestamp_micros()
    );
    let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let plan = plan.join("\n");
    eprintln!("{plan}");
    assert!(
        plan.contains("Index Only Scan using slots_pkey on slots")
            || plan.contains("Index Scan using slots_pkey on slots"),
        "the listing must walk the primary key:\n{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "no sequential scan:\n{plan}");
}

/// The sweep's plan on a table of 100,000 held rows, for the sweeper's
/// default batch and for a batch of 10,000: it must pick the batch from
/// `reservations_held_by_expiry` and reach each row through the primary key,
/// never scan every held row per batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_reads_only_the_batch_it_expires() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let pool = db.pool(&schema, 1).await;
    let first = bookable().timestamp();
    let fill = format!(
        "INSERT INTO {schema}.reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 6), 'c' || n,
                {first} + 900 * (n / 6), {first} + 900 * (n / 6 + 1),
                'held', 0, 1 + n, NULL
         FROM generate_series(0, 99999) n;
         ANALYZE {schema}.reservations;"
    );
    sqlx::raw_sql(AssertSqlSafe(fill))
        .execute(&pool)
        .await
        .unwrap();

    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(pool.clone()), &clock);
    let batch = scheduler_core::SweeperConfig::default().batch;
    assert_eq!(scheduler.expire_due(batch).await.unwrap(), batch as u64);

    let sent: String = sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'",
    )
    .bind(&schema)
    .fetch_one(db.admin())
    .await
    .unwrap();
    assert!(sent.contains("'expired'"), "the sweep statement: {sent}");

    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("PREPARE sweep AS {sent}")))
        .execute(&mut *conn)
        .await
        .unwrap();
    for limit in [batch, 10_000] {
        let explain = format!(
            "EXPLAIN EXECUTE sweep({}, {limit})",
            epoch().timestamp_micros()
        );
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        eprintln!("{plan}");
        assert!(
            plan.contains("using reservations_held_by_expiry"),
            "the batch must come from the expiry index:\n{plan}"
        );
        assert!(
            plan.contains("using reservations_pkey"),
            "each row must be reached through the primary key:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "no sequential scan:\n{plan}");
    }
}
