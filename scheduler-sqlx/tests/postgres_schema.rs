//! The PostgreSQL schema on its own: constraints that hold against raw SQL,
//! rows that survive a reconnect, and the free-slot listing's index plan.
#![cfg(feature = "postgres")]

mod pg_support;
mod upgrade_support;

use chrono::TimeDelta;
use pg_support::{TestDb, bookable, count, epoch, open, scheduler};
use scheduler_core::store::ReservationStore;
use scheduler_core::{Actor, ClientId, ListQuery, ManualClock, ProviderId, ReservationStatus};
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

/// Inserts a claim of `dr-raw`'s cell at `cell` by hand, for reservation `id`.
async fn claim_raw(pool: &PgPool, schema: &str, id: &[u8], cell: i64) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {schema}.claims (provider_id, cell_s, reservation_id, expires_us)
         VALUES ('dr-raw', $1, $2, NULL)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(cell)
        .bind(id)
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
async fn the_schema_refuses_a_second_claim_on_a_cell() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.schema().await;
    let pool = db.admin();
    insert_raw(pool, &schema, &[1; 16], "held").await.unwrap();
    // An hour-long booking with its buffers: four cells.
    for cell in 0..4 {
        claim_raw(pool, &schema, &[1; 16], 1894525200 + 900 * cell)
            .await
            .unwrap();
    }
    // Another reservation's claim on any of them, raw SQL or not, is refused.
    for cell in [0, 3] {
        let err = claim_raw(pool, &schema, &[2; 16], 1894525200 + 900 * cell)
            .await
            .expect_err("a second claim on a cell");
        assert_eq!(sql_state(&err), "23505", "unique_violation: {err}");
    }
    claim_raw(pool, &schema, &[2; 16], 1894525200 + 900 * 4)
        .await
        .unwrap();

    // Reservation rows themselves no longer guard the slot: any number may stay.
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
         -- The confirmed rows' claims, and lapsed holds' claims nothing has
         -- retired yet.
         INSERT INTO {schema}.claims (provider_id, cell_s, reservation_id, expires_us)
         SELECT provider_id, start_s, id, CASE status WHEN 'confirmed' THEN NULL ELSE 1 END
         FROM {schema}.reservations WHERE (start_s - $1) / 900 % 8 IN (0, 2, 4);
         ANALYZE {schema}.slots; ANALYZE {schema}.reservations; ANALYZE {schema}.claims;"
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
    assert!(
        plan.contains("using claims_pkey on claims"),
        "each slot must probe the claims' primary key:\n{plan}"
    );
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
             created_us, expires_us, confirmed_us)
         SELECT decode(lpad(to_hex(n), 32, '0'), 'hex'), 'p' || (n % 6), 'c' || n,
                {first} + 900 * (n / 6), {first} + 900 * (n / 6 + 1),
                'held', 0, 1 + n, NULL
         FROM generate_series(0, 99999) n;
         INSERT INTO {schema}.hold_expiries (expires_us, id)
         SELECT expires_us, id FROM {schema}.reservations;
         INSERT INTO {schema}.claims (provider_id, cell_s, reservation_id, expires_us)
         SELECT provider_id, start_s, id, expires_us FROM {schema}.reservations;
         ANALYZE {schema}.reservations; ANALYZE {schema}.hold_expiries;
         ANALYZE {schema}.claims;"
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
        assert!(
            plan.contains("using claims_by_reservation"),
            "each hold's claims must be reached through their index:\n{plan}"
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
/// sweeper's queue exact, and none of them changes an indexed column of
/// `reservations` (liveness is kept in `claims`), so on the table's
/// half-empty pages they are heap-only updates: PostgreSQL writes no index
/// entry for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_keep_the_queue_exact_and_are_heap_only() {
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
    // 200 confirms, a cancel, 199 sweeps and the lapsed hold's replacement
    // (the swept hold has no claim left, so taking its slot changes nothing
    // of it).
    let (mut total, mut heap_only) = (0, 0);
    for _ in 0..150 {
        (total, heap_only) = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(updates.clone()))
            .fetch_one(db.admin())
            .await
            .unwrap();
        if total >= 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(total, 401, "every update reported");
    assert_eq!(heap_only, total, "every update was heap-only");
}

/// A database from before services: its live holds and bookings keep their
/// slots through the migration that adds claims, its dead ones free theirs,
/// and a lapsed hold still gives way to the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reservations_keep_their_slots_through_the_services_migration() {
    let Some(db) = TestDb::connect().await else {
        return;
    };
    let schema = db.empty_schema().await;
    let pool = db.pool(&schema, 2).await;
    let before: Vec<_> = PostgresStore::migrator()
        .iter()
        .filter(|m| m.version < 6)
        .cloned()
        .collect();
    sqlx::migrate::Migrator::with_migrations(before)
        .run(&pool)
        .await
        .unwrap();
    let s = bookable().timestamp();
    let live_until = (epoch() + TimeDelta::hours(1)).timestamp_micros();
    let old = format!(
        "INSERT INTO slots (provider_id, start_s)
         SELECT 'p-old', {s} + 900 * n FROM generate_series(0, 3) n;
         INSERT INTO reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us, occupying)
         VALUES
            ('\\x01010101010101010101010101010101', 'p-old', 'amy', {s}, {s} + 900,
             'held', 0, {live_until}, NULL, true),
            ('\\x02020202020202020202020202020202', 'p-old', 'bob', {s} + 900, {s} + 1800,
             'confirmed', 0, 1, 1, true),
            ('\\x03030303030303030303030303030303', 'p-old', 'cat', {s} + 1800, {s} + 2700,
             'expired', 0, 1, NULL, false),
            ('\\x04040404040404040404040404040404', 'p-old', 'dan', {s} + 2700, {s} + 3600,
             'held', 0, 1, NULL, true);
         INSERT INTO hold_expiries (expires_us, id)
         SELECT expires_us, id FROM reservations WHERE status = 'held';"
    );
    sqlx::raw_sql(AssertSqlSafe(old))
        .execute(&pool)
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    store.migrate().await.unwrap();
    let clock = ManualClock::new(epoch());
    let scheduler = scheduler(store, &clock);
    upgrade_support::upgraded_calendar_behaves(&scheduler, bookable()).await;
}
