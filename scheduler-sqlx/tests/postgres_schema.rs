//! The PostgreSQL schema on its own: constraints that hold against raw SQL,
//! rows that survive a reconnect, and the free-slot listing's index plan.
#![cfg(feature = "postgres")]

mod pg_support;

use chrono::TimeDelta;
use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::store::ReservationStore;
use scheduler_core::{Actor, ClientId, ListQuery, ManualClock, ProviderId, ReservationStatus};
use scheduler_sqlx::PostgresStore;
use sqlx::{AssertSqlSafe, PgPool};

/// Inserts a reservation row by hand, bypassing the store; a held or
/// confirmed row occupies its slot, as the store writes them.
async fn insert_raw(
    pool: &PgPool,
    schema: &str,
    id: &[u8],
    status: &str,
) -> Result<(), sqlx::Error> {
    insert_raw_occupying(
        pool,
        schema,
        id,
        status,
        matches!(status, "held" | "confirmed"),
    )
    .await
}

/// [`insert_raw`] with `occupying` chosen by the caller.
async fn insert_raw_occupying(
    pool: &PgPool,
    schema: &str,
    id: &[u8],
    status: &str,
    occupying: bool,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {schema}.reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us, occupying)
         VALUES ($1, 'dr-raw', 'amy', 1894525200, 1894526100, $2, 0, 1800000000, $3, $4)"
    );
    let confirmed_us = (status == "confirmed").then_some(1_i64);
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(status)
        .bind(confirmed_us)
        .bind(occupying)
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
    // A held or confirmed row always occupies its slot, and a cancelled one
    // never does, so the index above sees every live reservation.
    for (id, status, occupying) in [
        ([9; 16], "held", false),
        ([10; 16], "confirmed", false),
        ([11; 16], "cancelled", true),
    ] {
        let err = insert_raw_occupying(pool, &schema, &id, status, occupying)
            .await
            .expect_err("a row that misstates whether it occupies its slot");
        assert_eq!(sql_state(&err), "23514", "check_violation: {err}");
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
             created_us, expires_us, confirmed_us, occupying)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 6), 'c' || n,
                $1 + 900 * (n / 6), $1 + 900 * (n / 6 + 1),
                CASE WHEN n / 6 % 4 = 0 THEN 'confirmed' ELSE 'expired' END,
                0, 1, CASE WHEN n / 6 % 4 = 0 THEN 1 END,
                -- Confirmed rows, and swept holds no hold has replaced yet.
                n / 6 % 8 IN (0, 2, 4)
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
/// default batch and for both halves of a batch of 10,000: it must pick the
/// batch from the queue `hold_expiries` and reach each row through the
/// primary key, never scan every held row per batch.
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
             created_us, expires_us, confirmed_us, occupying)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 6), 'c' || n,
                {first} + 900 * (n / 6), {first} + 900 * (n / 6 + 1),
                'held', 0, 1 + n, NULL, true
         FROM generate_series(0, 99999) n;
         INSERT INTO {schema}.hold_expiries (expires_us, id)
         SELECT expires_us, id FROM {schema}.reservations;
         ANALYZE {schema}.reservations; ANALYZE {schema}.hold_expiries;"
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
    // The default batch, and both halves of a split batch of 10,000.
    for (limit, skip) in [(batch, 0), (5_000, 0), (5_000, 5_000)] {
        let explain = format!(
            "EXPLAIN EXECUTE sweep({}, {limit}, {skip})",
            epoch().timestamp_micros()
        );
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        eprintln!("{plan}");
        assert!(
            plan.contains("using hold_expiries_pkey"),
            "the batch must come from the queue's index:\n{plan}"
        );
        assert!(
            plan.contains("using reservations_pkey"),
            "each row must be reached through the primary key:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "no sequential scan:\n{plan}");
    }
}

/// Rows of `reservations` whose status and place in the sweeper's queue
/// disagree: a row is queued exactly when it is stored as held.
async fn misqueued(db: &TestDb, schema: &str) -> i64 {
    count(
        db,
        format!(
            "SELECT count(*) FROM {schema}.reservations r
             FULL JOIN {schema}.hold_expiries q ON q.id = r.id AND q.expires_us = r.expires_us
             WHERE (r.status = 'held') IS DISTINCT FROM (q.id IS NOT NULL)"
        ),
    )
    .await
}

/// Confirming, sweeping, cancelling and replacing a lapsed hold keep the
/// sweeper's queue exact, and confirming and sweeping change no indexed
/// column, so on the table's half-empty pages they are heap-only updates:
/// PostgreSQL writes no index entry for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_keep_the_queue_exact_and_confirm_and_sweep_are_heap_only() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(PostgresStore::from_pool(db.pool(&schema, 2).await), &clock);
    let provider = ProviderId::new("dr-heap").unwrap();
    let slots = open(&scheduler, &provider, bookable(), 400).await;
    let amy = ClientId::new("amy").unwrap();
    let mut held = Vec::new();
    for (n, slot) in slots.iter().enumerate() {
        let hold = scheduler.reserve(&slot.id, &amy, None).await.unwrap();
        match n % 4 {
            0 | 1 => {
                scheduler.confirm(hold.id, &amy).await.unwrap();
            }
            _ => held.push(hold),
        }
    }
    assert_eq!(misqueued(&db, &schema).await, 0, "after holds and confirms");
    let queued = format!("SELECT count(*) FROM {schema}.hold_expiries");
    assert_eq!(count(&db, queued.clone()).await, 200);

    // One hold cancelled, then the rest lapse and are swept.
    let by_amy = Actor::Client(amy.clone());
    scheduler.cancel(held[0].id, &by_amy).await.unwrap();
    assert_eq!(misqueued(&db, &schema).await, 0, "after a cancel");
    clock.advance(scheduler.policy().hold_ttl());
    assert_eq!(scheduler.expire_due(1_000).await.unwrap(), 199);
    assert_eq!(count(&db, queued.clone()).await, 0);
    assert_eq!(misqueued(&db, &schema).await, 0, "after the sweep");

    // A lapsed hold nobody swept is replaced by the next hold on its slot.
    let again = slots.iter().find(|s| s.id == held[1].slot_id).unwrap();
    let lapsed = scheduler.reserve(&again.id, &amy, None).await.unwrap();
    clock.advance(scheduler.policy().hold_ttl());
    scheduler.reserve(&again.id, &amy, None).await.unwrap();
    let stored = scheduler
        .store()
        .reservation(lapsed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ReservationStatus::Expired);
    assert_eq!(misqueued(&db, &schema).await, 0, "after a replacement");
    assert_eq!(count(&db, queued).await, 1, "only the new hold is queued");

    // A backend reports its counts when it ends: close every connection.
    drop(scheduler);
    let updates = format!(
        "SELECT coalesce(sum(n_tup_upd), 0)::bigint, coalesce(sum(n_tup_hot_upd), 0)::bigint
         FROM pg_stat_user_tables WHERE schemaname = '{schema}' AND relname = 'reservations'"
    );
    // 200 confirms, a cancel, 199 sweeps and two replacements: the swept
    // hold's and the lapsed one's.
    let (mut total, mut heap_only) = (0, 0);
    for _ in 0..150 {
        (total, heap_only) = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(updates.clone()))
            .fetch_one(db.admin())
            .await
            .unwrap();
        if total >= 402 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(total, 402, "every update reported");
    // The cancel and the replacements give up the slot's index entry, so
    // they are the three updates that may not be heap-only.
    assert!(
        heap_only >= total - 3,
        "{heap_only} of {total} updates were heap-only"
    );
}
