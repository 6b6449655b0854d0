//! The query plans SQLite picks for the statements whose cost must grow with
//! the page, not with the calendar: each must search an index, never scan a
//! whole table. These live inside the crate to explain the very SQL it runs.

use sqlx::Row;

use super::SqliteStore;
use super::calendar as slots;
use super::reservations::{self as reads, hold, lifecycle};

/// The plan's detail lines for `sql`, its parameters left unbound (NULL).
async fn plan(store: &SqliteStore, sql: &str) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    sqlx::query(sqlx::AssertSqlSafe(explain))
        .fetch_all(store.reader())
        .await
        .expect("explain")
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect()
}

async fn store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Whether a plan step reads a whole table: a `SCAN` through no index. The
/// scan of a subquery's own few rows (`SCAN (subquery-2)`) and of the one row
/// of a `SELECT` without `FROM` (`SCAN CONSTANT ROW`) read no table.
fn scans_a_table(step: &str) -> bool {
    step.starts_with("SCAN")
        && !step.contains(" USING ")
        && !step.contains("subquery")
        && step != "SCAN CONSTANT ROW"
}

/// Asserts that no step of `sql`'s plan reads a table from end to end.
async fn assert_indexed(store: &SqliteStore, what: &str, sql: &str, index: &str) {
    let plan = plan(store, sql).await;
    let scans: Vec<_> = plan.iter().filter(|step| scans_a_table(step)).collect();
    assert!(scans.is_empty(), "{what} scans a table: {plan:#?}");
    assert!(
        plan.iter().any(|step| step.contains(index)),
        "{what} does not use {index}: {plan:#?}"
    );
}

#[tokio::test]
async fn free_slot_listing_walks_the_slot_key_and_probes_the_claims_key() {
    for sql in [slots::FREE_SLOTS_JOINED, slots::VERSIONED_FREE_SLOTS] {
        free_slot_plan(sql).await;
    }
}

async fn free_slot_plan(sql: &str) {
    let store = store().await;
    let plan = plan(&store, sql).await;
    assert!(
        plan.iter()
            .any(|step| step.starts_with("SEARCH s USING PRIMARY KEY")),
        "free slots do not search the slots' primary key: {plan:#?}"
    );
    assert!(!plan.iter().any(|step| step == "SCAN s"), "{plan:#?}");
    assert!(
        !plan.iter().any(|step| step.contains("TEMP B-TREE")),
        "free slots are sorted after the fact: {plan:#?}"
    );
    assert_indexed(&store, "free slots", sql, "SEARCH c USING PRIMARY KEY").await;
}

#[tokio::test]
async fn reservation_pages_walk_their_listing_index_in_order() {
    let store = store().await;
    for (what, sql, index) in [
        (
            "provider page",
            reads::PROVIDER_PAGE,
            "reservations_by_provider",
        ),
        ("client page", reads::CLIENT_PAGE, "reservations_by_client"),
    ] {
        assert_indexed(&store, what, sql, index).await;
        let plan = plan(&store, sql).await;
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{what} is sorted after the fact: {plan:#?}"
        );
    }
}

#[tokio::test]
async fn sweeper_walks_the_due_hold_index() {
    let store = store().await;
    assert_indexed(
        &store,
        "expire_due",
        lifecycle::EXPIRE_DUE,
        "reservations_due_holds",
    )
    .await;
}

#[tokio::test]
async fn hold_probes_the_slot_key_and_the_claims_key() {
    let store = store().await;
    let sql = hold::CLAIM_IF_FREE;
    let plan = plan(&store, sql).await;
    for table in ["slots", "claims"] {
        assert!(
            plan.iter()
                .any(|step| step.starts_with(&format!("SEARCH {table}"))
                    && step.contains("PRIMARY KEY")),
            "hold does not probe the primary key of {table}: {plan:#?}"
        );
    }
}
