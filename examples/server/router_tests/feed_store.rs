//! The server's feed-token stores, each held to the same rules: in memory,
//! on SQLite and on PostgreSQL; and a database made while the library kept
//! feed tokens keeps them when the server adopts the table.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use scheduler_core::ProviderId;
use scheduler_sqlx::{PostgresStore, SqliteStore};
use tokio::sync::Barrier;

use crate::config::Database;
use crate::feeds::{FeedToken, FeedTokenStore, MemoryFeedTokens};
use crate::store;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, 8, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

fn token(id: &str, provider: &str, digest: &str, minutes: i64) -> FeedToken {
    FeedToken {
        id: id.parse().unwrap(),
        provider: ProviderId::new(provider).unwrap(),
        digest: digest.to_owned(),
        created_at: at(minutes),
        revoked_at: None,
    }
}

/// Every rule of [`FeedTokenStore`], against `store`.
async fn holds_to_the_contract(store: Arc<dyn FeedTokenStore>) {
    let (p, q) = (ProviderId::new("p").unwrap(), ProviderId::new("q").unwrap());
    let first = token("t1", "p", "d1", 0);
    assert!(store.put(&first).await.unwrap(), "a new id is stored");
    assert_eq!(store.get(&first.id).await.unwrap(), Some(first.clone()));

    // An id is stored once, whoever asks.
    for again in [token("t1", "p", "d2", 1), token("t1", "q", "d3", 1)] {
        assert!(!store.put(&again).await.unwrap(), "{again:?} is refused");
    }
    assert_eq!(store.get(&first.id).await.unwrap(), Some(first.clone()));

    // Listed oldest first, then by id; each provider sees only its own.
    let later = token("t0", "p", "d4", 5);
    let same_time = token("t2", "p", "d5", 5);
    let theirs = token("t9", "q", "d6", 0);
    for t in [&same_time, &later, &theirs] {
        assert!(store.put(t).await.unwrap());
    }
    let ids = |tokens: Vec<FeedToken>| -> Vec<String> {
        tokens.into_iter().map(|t| t.id.to_string()).collect()
    };
    assert_eq!(ids(store.of(&p).await.unwrap()), ["t1", "t0", "t2"]);
    assert_eq!(ids(store.of(&q).await.unwrap()), ["t9"]);

    // Revoked once and for good: the first instant stays; another
    // provider's token is as unknown as none.
    let revoked = store.revoke(&p, &first.id, at(10)).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    let again = store.revoke(&p, &first.id, at(20)).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at(10)), "the first instant stays");
    assert_eq!(store.revoke(&q, &first.id, at(30)).await.unwrap(), None);
    assert_eq!(
        store.get(&first.id).await.unwrap().unwrap().revoked_at,
        Some(at(10))
    );

    // Issued at once under one id: exactly one is stored.
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .put(&token("race", "p", &format!("d{n}"), 0))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap());
    }
    assert_eq!(stored, 1, "one of the racing puts is stored");
}

/// A fresh SQLite file, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "scheduler-server-{name}-{}-{}.db",
            std::process::id(),
            scheduler_core::ReservationId::generate()
        ));
        Self(path)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The PostgreSQL URL of the tests, or `None` (said loudly) to skip; with
/// `CI` set, a missing database fails the test instead.
fn postgres_url() -> Option<String> {
    match std::env::var("SCHEDULER_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set, so SCHEDULER_TEST_POSTGRES_URL must name a database")
        }
        _ => {
            eprintln!("SKIPPED: SCHEDULER_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_store_holds_to_the_contract() {
    holds_to_the_contract(Arc::new(MemoryFeedTokens::default())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sqlite_store_holds_to_the_contract() {
    let file = TempFile::new("feed-tokens");
    let (_, tokens) = store::open(&Database::Sqlite(file.url())).await.unwrap();
    holds_to_the_contract(tokens).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgres_store_holds_to_the_contract() {
    let Some(url) = postgres_url() else { return };
    let (scheduler, tokens) = store::open(&Database::Postgres(url.clone())).await.unwrap();
    drop(scheduler);
    // Other tests share the database: start from no tokens.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM feed_tokens WHERE id IN ('t0', 't1', 't2', 't9', 'race')")
        .execute(&pool)
        .await
        .unwrap();
    holds_to_the_contract(tokens).await;
}

/// A database the library's migrations made, feed tokens included, keeps
/// its tokens when the server opens it: the server's migration adopts the
/// table, and opening it again changes nothing.
#[tokio::test]
async fn a_sqlite_database_from_before_keeps_its_feed_tokens() {
    let file = TempFile::new("adopted");
    let library = SqliteStore::connect(&file.url()).await.unwrap();
    library.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO feed_tokens (id, provider_id, digest, created_us, revoked_us)
         VALUES ('00112233aabbccdd', 'dr-grey', 'kept', 1893744000000000, NULL)",
    )
    .execute(library.writer())
    .await
    .unwrap();
    library.close().await;

    for _ in 0..2 {
        let (_, tokens) = store::open(&Database::Sqlite(file.url())).await.unwrap();
        let kept = tokens
            .of(&ProviderId::new("dr-grey").unwrap())
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(
            (kept[0].id.as_str(), kept[0].digest.as_str()),
            ("00112233aabbccdd", "kept")
        );
    }
}

/// The same on PostgreSQL.
#[tokio::test]
async fn a_postgres_database_from_before_keeps_its_feed_tokens() {
    let Some(url) = postgres_url() else { return };
    let library = PostgresStore::connect(&url).await.unwrap();
    library.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO feed_tokens (id, provider_id, digest, created_us, revoked_us)
         VALUES ('ffeeddccbbaa9988', 'dr-adopted', 'kept', 1893744000000000, NULL)
         ON CONFLICT (id) DO NOTHING",
    )
    .execute(library.pool())
    .await
    .unwrap();
    for _ in 0..2 {
        let (_, tokens) = store::open(&Database::Postgres(url.clone())).await.unwrap();
        let kept = tokens
            .of(&ProviderId::new("dr-adopted").unwrap())
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].digest, "kept");
    }
}
