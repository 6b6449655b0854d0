//! The schema's own guarantees, checked with raw SQL that bypasses the store,
//! and the connection settings and migrations the store promises.
#![cfg(feature = "sqlite")]

mod sqlite_support;

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

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_refuses_a_second_live_reservation_on_a_slot() {
    let store = memory_store().await;
    let pool = store.writer();
    insert(pool, 1, "held", None).await.expect("first hold");
    assert_refused(insert(pool, 2, "held", None).await, true, "second hold");
    assert_refused(
        insert(pool, 3, "confirmed", None).await,
        true,
        "booking over a hold",
    );
    // Only live rows count: any number of lapsed or cancelled ones may share the slot.
    insert(pool, 4, "expired", None).await.expect("expired");
    insert(pool, 5, "cancelled", None).await.expect("cancelled");
    sqlx::query("UPDATE reservations SET status = 'expired' WHERE status = 'held'")
        .execute(pool)
        .await
        .expect("expire the hold");
    insert(pool, 6, "confirmed", None)
        .await
        .expect("booking once the hold lapsed");
    assert_eq!(count(&store, "reservations").await, 4);
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
