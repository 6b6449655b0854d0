//! The schema's own guarantees, checked with raw SQL that bypasses the store,
//! and the connection settings and migrations the store promises.
#![cfg(feature = "sqlite")]

mod sqlite_support;
mod upgrade_support;

use scheduler_core::testkit::Harness;
use scheduler_sqlx::SqliteStore;
use sqlite_support::{TempDb, count, memory_store};
use sqlx::sqlite::SqlitePool;

/// Inserts a reservation row as a careless application might.
async fn insert(
    pool: &SqlitePool,
    id: u8,
    status: &str,
    key: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reservations (id, provider_id, client_id, start_s, end_s, status,
                                   created_us, expires_us, confirmed_us, idempotency_key)
         VALUES (?1, 'p', 'c', 1000, 1900, ?2, 0, 1800000000, ?3, ?4)",
    )
    .bind(vec![id; 16])
    .bind(status)
    .bind((status == "confirmed").then_some(1_i64))
    .bind(key)
    .execute(pool)
    .await
    .map(drop)
}

fn assert_refused(result: Result<(), sqlx::Error>, unique: bool, what: &str) {
    let err = result.expect_err(what);
    let db = err
        .as_database_error()
        .unwrap_or_else(|| panic!("{what}: {err:?}"));
    if unique {
        assert!(db.is_unique_violation(), "{what}: {db:?}");
    } else {
        assert!(db.is_check_violation(), "{what}: {db:?}");
    }
}

/// Claims cell `cell` of provider `p` for reservation `id`, as a careless
/// application might.
async fn claim(pool: &SqlitePool, id: u8, cell: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
         VALUES ('p', ?1, ?2, 1800000000)",
    )
    .bind(cell)
    .bind(vec![id; 16])
    .execute(pool)
    .await
    .map(drop)
}

/// The cells `claims` holds for reservation `id`.
async fn claimed(pool: &SqlitePool, id: u8) -> Vec<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT cell_s, expires_us FROM claims WHERE reservation_id = ?1 ORDER BY cell_s",
    )
    .bind(vec![id; 16])
    .fetch_all(pool)
    .await
    .expect("claims read")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_refuses_a_second_claim_on_a_cell() {
    let store = memory_store().await;
    let pool = store.writer();
    insert(pool, 1, "held", None).await.expect("first hold");
    for cell in [1000, 1900, 2800] {
        claim(pool, 1, cell).await.expect("the hold's cells");
    }
    for cell in [1000, 2800] {
        assert_refused(claim(pool, 2, cell).await, true, "a second claim on a cell");
    }
    claim(pool, 2, 3700).await.expect("the next cell is free");
    // Reservation rows no longer guard the slot: any number may share a start.
    insert(pool, 3, "held", None)
        .await
        .expect("a second row at the start");
    assert_eq!(count(&store, "reservations").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_changes_keep_the_claims_of_live_reservations_only() {
    let store = memory_store().await;
    let pool = store.writer();
    // The rows all span [1000, 1900); each claims a cell inside it, where
    // the triggers look (the store's claims always lie in their own span).
    for id in [1, 2, 3] {
        insert(pool, id, "held", None).await.expect("hold");
        claim(pool, id, 1000 + i64::from(id)).await.expect("claim");
    }
    let set = |id: u8, status: &'static str| {
        sqlx::query("UPDATE reservations SET status = ?2, confirmed_us = 1 WHERE id = ?1")
            .bind(vec![id; 16])
            .bind(status)
            .execute(pool)
    };
    set(1, "confirmed").await.expect("confirm");
    assert_eq!(
        claimed(pool, 1).await,
        [(1001, None)],
        "a booking's claim never lapses"
    );
    set(2, "cancelled").await.expect("cancel");
    assert!(
        claimed(pool, 2).await.is_empty(),
        "a cancelled reservation frees its cells"
    );
    set(3, "expired").await.expect("expire");
    assert!(
        claimed(pool, 3).await.is_empty(),
        "an expired hold frees its cells"
    );
    set(1, "cancelled").await.expect("cancel the booking");
    assert!(claimed(pool, 1).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_binds_a_key_to_one_reservation_and_checks_its_values() {
    let store = memory_store().await;
    let pool = store.writer();
    insert(pool, 1, "expired", Some("k")).await.expect("keyed");
    assert_refused(
        insert(pool, 2, "expired", Some("k")).await,
        true,
        "key reused",
    );
    insert(pool, 3, "expired", None).await.expect("no key");
    insert(pool, 4, "expired", None)
        .await
        .expect("many rows without a key");
    assert_refused(
        insert(pool, 5, "pending", None).await,
        false,
        "unknown status",
    );
    let short_id = sqlx::query(
        "INSERT INTO reservations (id, provider_id, client_id, start_s, end_s, status,
                                   created_us, expires_us)
         VALUES (x'00', 'p', 'c', 0, 900, 'expired', 0, 0)",
    )
    .execute(pool)
    .await
    .map(drop);
    assert_refused(short_id, false, "an id of one byte");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_creates_the_file_in_wal_mode_with_the_promised_settings() {
    let db = TempDb::new("settings");
    let store = SqliteStore::connect(&db.url())
        .await
        .expect("connect creates the file");
    for (name, pool) in [("writer", store.writer()), ("reader", store.reader())] {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("journal mode");
        assert_eq!(journal, "wal", "{name}");
        for (pragma, expected) in [
            ("PRAGMA synchronous", 1), // NORMAL
            ("PRAGMA foreign_keys", 1),
            ("PRAGMA busy_timeout", 5000),
        ] {
            let value: i64 = sqlx::query_scalar(pragma)
                .fetch_one(pool)
                .await
                .expect(pragma);
            assert_eq!(value, expected, "{name}: {pragma}");
        }
    }
    assert_eq!(
        store.writer().options().get_max_connections(),
        1,
        "one writer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_public_and_run_once() {
    let migrator = SqliteStore::migrator();
    assert!(migrator.iter().count() >= 1);
    // Users may run them with their own pool, then the store finds nothing to do.
    let db = TempDb::new("migrator");
    let options = SqliteStore::connect_options(&db.url()).expect("options");
    let pool = SqlitePool::connect_with(options).await.expect("own pool");
    migrator.run(&pool).await.expect("migrate with own pool");
    pool.close().await;
    let store = SqliteStore::connect(&db.url()).await.expect("connect");
    store.migrate().await.expect("nothing left to migrate");
    store.migrate().await.expect("still nothing");
    assert_eq!(count(&store, "slots").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_memory_store_is_its_own_database_and_keeps_its_data() {
    let (a, b) = (memory_store().await, memory_store().await);
    let h = Harness::new(a.clone());
    let p = h.provider("p");
    let slot = h.open_slot(&p, h.day_at(2, 9, 0, 0)).await;
    h.hold(&slot, &h.client("c")).await;
    // Many concurrent reads and writes all meet the one connection that is the database.
    let mut reads = Vec::new();
    for _ in 0..16 {
        let store = a.clone();
        reads.push(tokio::spawn(
            async move { count(&store, "reservations").await },
        ));
    }
    for read in reads {
        assert_eq!(read.await.expect("read"), 1);
    }
    assert_eq!(
        count(&b, "slots").await,
        0,
        "another memory store sees nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_spelling_of_a_fileless_database_reads_what_it_wrote() {
    for url in [
        "sqlite::memory:",
        "sqlite:file::memory:",
        "sqlite://:memory:",
        "sqlite:",
    ] {
        let store = SqliteStore::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let h = Harness::new(store.clone());
        let slot = h.open_slot(&h.provider("p"), h.day_at(2, 9, 0, 0)).await;
        h.hold(&slot, &h.client("c")).await;
        // Reads go to the same connection that wrote: one database, not one per connection.
        assert_eq!(count(&store, "reservations").await, 1, "{url}");
    }
}

/// A database from before services: its live holds and bookings keep their
/// slots through the migration that adds claims, its dead ones free theirs,
/// and a lapsed hold still gives way to the next.
#[tokio::test(flavor = "multi_thread")]
async fn live_reservations_keep_their_slots_through_the_services_migration() {
    use chrono::TimeDelta;
    let db = TempDb::new("upgrade");
    let options = SqliteStore::connect_options(&db.url()).expect("options");
    let pool = SqlitePool::connect_with(options).await.expect("own pool");
    let before: Vec<_> = SqliteStore::migrator()
        .iter()
        .filter(|m| m.version < 5)
        .cloned()
        .collect();
    sqlx::migrate::Migrator::with_migrations(before)
        .run(&pool)
        .await
        .expect("the migrations before services");
    let s = Harness::<SqliteStore>::epoch() + TimeDelta::days(2);
    let live_until = (Harness::<SqliteStore>::epoch() + TimeDelta::hours(1)).timestamp_micros();
    let old = format!(
        "INSERT INTO slots (provider_id, start_s) VALUES
            ('p-old', {0}), ('p-old', {0} + 900), ('p-old', {0} + 1800), ('p-old', {0} + 2700);
         INSERT INTO reservations
            (id, provider_id, client_id, start_s, end_s, status,
             created_us, expires_us, confirmed_us)
         VALUES
            (x'01010101010101010101010101010101', 'p-old', 'amy', {0}, {0} + 900,
             'held', 0, {live_until}, NULL),
            (x'02020202020202020202020202020202', 'p-old', 'bob', {0} + 900, {0} + 1800,
             'confirmed', 0, 1, 1),
            (x'03030303030303030303030303030303', 'p-old', 'cat', {0} + 1800, {0} + 2700,
             'expired', 0, 1, NULL),
            (x'04040404040404040404040404040404', 'p-old', 'dan', {0} + 2700, {0} + 3600,
             'held', 0, 1, NULL);",
        s.timestamp()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(old))
        .execute(&pool)
        .await
        .expect("rows of the old schema");
    pool.close().await;
    let store = SqliteStore::connect(&db.url()).await.expect("connect");
    store.migrate().await.expect("the services migration");

    let scheduler = Harness::new(store).scheduler;
    upgrade_support::upgraded_calendar_behaves(&scheduler, s).await;
}
