//! The cache's rules against the server named by
//! `SCHEDULER_TEST_POSTGRES_URL` (skipped without it, failed under `CI`):
//! which connections are reused, which are closed, which are pinged.
//! Each test names its connections in `pg_stat_activity` to find them.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::*;

/// The admin pool and the options to connect with, or `None` to skip.
pub(in crate::postgres) async fn server() -> Option<(PgPool, PgConnectOptions)> {
    let url = match std::env::var("SCHEDULER_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set, so the PostgreSQL tests must run"
            );
            eprintln!("SKIPPED: SCHEDULER_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let options = PgConnectOptions::from_str(&url).expect("a valid URL");
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await
        .expect("the test server answers");
    Some((admin, options))
}

/// A cache over a fresh pool of up to `max` connections named `name`.
async fn cache(options: &PgConnectOptions, name: &str, max: u32, ping_after: Duration) -> Conns {
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .connect_with(options.clone().application_name(name))
        .await
        .expect("connect");
    Conns::with_ping_after(pool, ping_after)
}

fn unique(what: &str) -> String {
    format!("conns_{what}_{}", std::process::id())
}

/// The backend serving the statement.
async fn backend(conns: &Conns) -> Result<i32> {
    let mut conn = conns.get().await?;
    let pid = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await;
    conn.settle(pid)
}

/// Terminates every backend named `name` and waits until they are gone;
/// returns how many there were.
async fn kill_all(admin: &PgPool, name: &str) -> usize {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(name)
    .fetch_all(admin)
    .await
    .unwrap();
    assert!(killed.iter().all(|&k| k));
    gone(admin, name).await;
    killed.len()
}

/// Waits until no backend named `name` is left.
async fn gone(admin: &PgPool, name: &str) {
    for _ in 0..1000 {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(name)
                .fetch_one(admin)
                .await
                .unwrap();
        if left == 0 {
            return;
        }
        // Paces the polling on the server; nothing here waits for a deadline.
        sqlx::query("SELECT pg_sleep(0.01)")
            .execute(admin)
            .await
            .unwrap();
    }
    panic!("the backends named {name} stayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_statements_keep_their_connection_and_failed_ones_close_it() {
    let Some((_admin, options)) = server().await else {
        return;
    };
    let conns = cache(&options, &unique("keep"), 2, PING_AFTER).await;
    let first = backend(&conns).await.unwrap();
    assert_eq!(backend(&conns).await.unwrap(), first, "reused");

    // No row for `fetch_one`: the exchange completed, the connection stays.
    let mut conn = conns.get().await.unwrap();
    let none = sqlx::query_scalar::<_, i32>("SELECT 1 WHERE false")
        .fetch_one(&mut *conn)
        .await;
    assert!(matches!(none, Err(sqlx::Error::RowNotFound)));
    assert!(conn.settle(none).is_err());
    assert_eq!(
        backend(&conns).await.unwrap(),
        first,
        "kept after RowNotFound"
    );

    // An error from the server: the connection is closed.
    let mut conn = conns.get().await.unwrap();
    let failed = sqlx::query_scalar::<_, i32>("SELECT 1 / 0")
        .fetch_one(&mut *conn)
        .await;
    assert!(matches!(failed, Err(sqlx::Error::Database(_))));
    assert!(matches!(conn.settle(failed), Err(Error::Storage(_))));
    assert_ne!(
        backend(&conns).await.unwrap(),
        first,
        "closed after an error"
    );

    // A sequence that failed anywhere: closed too.
    let kept = backend(&conns).await.unwrap();
    let conn = conns.get().await.unwrap();
    assert!(conn.finish::<()>(Err(Error::storage("anything"))).is_err());
    assert_ne!(backend(&conns).await.unwrap(), kept);
}

/// A statement dropped while the server still works on it (here: waiting
/// for an advisory lock) closes its connection. With one connection allowed,
/// the next statement runs on a new one at once; had the first been reused,
/// it would wait behind the abandoned statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_dropped_mid_flight_closes_its_connection() {
    let Some((admin, options)) = server().await else {
        return;
    };
    let name = unique("dropped");
    let conns = cache(&options, &name, 1, PING_AFTER).await;
    let first = backend(&conns).await.unwrap();
    let mut locker = admin.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(872365)")
        .execute(&mut *locker)
        .await
        .unwrap();
    {
        let blocked = async {
            let mut conn = conns.get().await?;
            let done = sqlx::query("SELECT pg_advisory_lock(872365)")
                .execute(&mut *conn)
                .await;
            conn.settle(done)
        };
        let waiting = async {
            for _ in 0..1000 {
                let waits: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                )
                .bind(&name)
                .fetch_one(&admin)
                .await
                .unwrap();
                if waits == 1 {
                    return;
                }
                sqlx::query("SELECT pg_sleep(0.01)")
                    .execute(&admin)
                    .await
                    .unwrap();
            }
            panic!("the statement never waited on the lock");
        };
        tokio::select! {
            _ = blocked => panic!("the lock is held elsewhere"),
            () = waiting => {}
        }
        // `blocked` is dropped here, mid-statement.
    }
    let second = tokio::time::timeout(Duration::from_secs(30), backend(&conns))
        .await
        .expect("the abandoned connection is not reused")
        .unwrap();
    assert_ne!(second, first);
    sqlx::query("SELECT pg_advisory_unlock(872365)")
        .execute(&mut *locker)
        .await
        .unwrap();
    assert_eq!(
        backend(&conns).await.unwrap(),
        second,
        "the new one is kept"
    );
}

/// Every connection killed while idle. Idle past the ping threshold, each is
/// pinged and replaced: no operation fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_idle_past_the_threshold_are_pinged_and_replaced() {
    let Some((admin, options)) = server().await else {
        return;
    };
    let name = unique("pinged");
    let conns = cache(&options, &name, 3, Duration::ZERO).await;
    let guards = tokio::join!(conns.get(), conns.get(), conns.get());
    for guard in [guards.0, guards.1, guards.2] {
        guard.unwrap().settle(Ok(())).unwrap();
    }
    assert_eq!(kill_all(&admin, &name).await, 3);
    for _ in 0..5 {
        backend(&conns).await.expect("pinged, found dead, replaced");
    }
}

/// Every connection killed while idle, within the ping threshold: the first
/// operation finds its connection dead and fails; that failure marks the
/// other idle connections suspect, so they are pinged and replaced and no
/// other operation fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_lost_connection_the_other_idle_ones_are_pinged() {
    let Some((admin, options)) = server().await else {
        return;
    };
    let name = unique("suspect");
    let conns = cache(&options, &name, 3, Duration::from_secs(3600)).await;
    let guards = tokio::join!(conns.get(), conns.get(), conns.get());
    for guard in [guards.0, guards.1, guards.2] {
        guard.unwrap().settle(Ok(())).unwrap();
    }
    assert_eq!(kill_all(&admin, &name).await, 3);
    let first = backend(&conns).await;
    assert!(matches!(first, Err(Error::Storage(_))), "{first:?}");
    for _ in 0..5 {
        backend(&conns).await.expect("pinged, found dead, replaced");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pool_closes_the_idle_connections_and_refuses() {
    let Some((admin, options)) = server().await else {
        return;
    };
    let name = unique("closed");
    let conns = cache(&options, &name, 2, PING_AFTER).await;
    backend(&conns).await.unwrap();
    conns.pool().close().await;
    assert!(matches!(backend(&conns).await, Err(Error::Storage(_))));
    assert!(conns.idle().is_empty());
    gone(&admin, &name).await;
}
