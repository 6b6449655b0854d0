//! Fault suite: the database goes away under load and comes back.
//!
//! The server runs on a private PostgreSQL cluster (its own data directory
//! and port, see `support/cluster.rs`), which is stopped twice under a mixed
//! load: once cleanly (`pg_ctl stop -m fast`), once as a crash (`-m
//! immediate`, crash recovery on restart). While it is down the server
//! answers 503 problems within its request time limit, never hangs; once it
//! is back the same server process serves again by itself. The database then
//! holds every answered write whole and no write in part: each published
//! window has all of its slots or none, the calendar version counts exactly
//! the windows stored, and every reservation is as its client was answered.

// Each test binary uses only part of the shared harness.
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use support::cluster::Cluster;
use support::faults::{
    Client, Load, Plan, Rng, Settled, Style, Target, at, check, figures, hours_ahead, publish,
    read_stored,
};
use support::{Reply, Role, Server, TestDatabase, mint, mint_many};

const PROVIDER: &str = "dr-outage";

/// The server's request time limit: a request waiting on a dead database is
/// answered 503 after this.
const REQUEST_TIMEOUT: &str = "2s";

/// How long any answer may take during the outage: the time limit and slack.
const ANSWER_WITHIN: Duration = Duration::from_secs(6);

/// How long the server may take to serve again once the database is back.
const RECOVER_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_restart_under_load() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let db = TestDatabase::external(cluster.url());
    let server = Arc::new(
        Server::start(
            &db,
            &[
                "--hold-ttl",
                "1h",
                "--min-lead",
                "0s",
                "--request-timeout",
                REQUEST_TIMEOUT,
            ],
        )
        .await,
    );
    let provider = mint(Role::Provider, PROVIDER).await;
    let start = hours_ahead(48);
    let slots = publish(
        &server,
        &provider,
        PROVIDER,
        start,
        start + TimeDelta::hours(16),
    )
    .await;
    let names: Vec<String> = (0..16).map(|i| format!("patient-{i}")).collect();
    let tokens = mint_many(Role::Client, &names).await;
    let target = Target::new(&server);
    let clients: Vec<Client> = names
        .into_iter()
        .zip(tokens.iter().cloned())
        .map(|(name, token)| Client {
            name,
            token,
            target: target.clone(),
        })
        .collect();
    let seed = Rng::seed();
    let load = Load::start(
        Plan {
            slots: slots.clone(),
            style: Style::Churn,
            retry: true,
            reserve_budget: None,
            keys: true,
        },
        clients,
        seed,
    );
    let ledger = load.ledger().clone();

    // The provider publishes a new one-hour window (four slots) at a time,
    // each once and never retried, so a write cut off by the outage stays
    // as the database left it: whole or absent.
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = tokio::spawn(publish_windows(
        Arc::clone(&server),
        provider.clone(),
        Arc::clone(&publishing),
    ));

    let mut outage_answers = 0;
    for mode in ["fast", "immediate"] {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let won_before = ledger.answers(support::faults::Op::Reserve, 201);
        cluster.stop(mode).await;

        // Down: every kind of request is answered 503 with a problem, in time.
        for _ in 0..3 {
            // All at once, so the outage is probed while it lasts.
            let reserve_path = format!("/v1/slots/{}/reservations", slots[0].id);
            let slots_path = format!("/v1/providers/{PROVIDER}/slots");
            let (health, reserve, list) = tokio::join!(
                timed(server.send(reqwest::Method::GET, "/healthz", None, None, &[])),
                timed(server.post(&reserve_path, &tokens[0], None)),
                timed(server.get(&slots_path, &tokens[1])),
            );
            let probes = [health, reserve, list];
            for probe in &probes {
                assert_eq!(probe.status, 503, "PostgreSQL is down ({mode}): {probe:?}");
                assert!(
                    probe.content_type.starts_with("application/problem+json"),
                    "a 503 is a problem: {probe:?}"
                );
                assert!(
                    probe.header("retry-after").is_some(),
                    "a 503 says when to retry: {probe:?}"
                );
                outage_answers += 1;
            }
        }

        cluster.pg_ctl_start().await;
        // Back: the same process serves again, by itself, soon.
        let back = Instant::now();
        loop {
            let health = server
                .send(reqwest::Method::GET, "/healthz", None, None, &[])
                .await;
            if health.status == 200 {
                break;
            }
            assert!(
                back.elapsed() < RECOVER_WITHIN,
                "the server did not recover within {RECOVER_WITHIN:?} of PostgreSQL's \
                 restart ({mode}): {health:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let deadline = Instant::now() + RECOVER_WITHIN;
        while ledger.answers(support::faults::Op::Reserve, 201) <= won_before {
            assert!(
                Instant::now() < deadline,
                "no reservation succeeded after PostgreSQL's restart ({mode}): {}",
                ledger.summary()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    tokio::time::sleep(Duration::from_millis(1000)).await;
    publishing.store(false, Ordering::SeqCst);
    let windows = publisher.await.expect("the publisher panicked");
    let ledger = load.stop().await;

    // Every reservation as answered, none doubled, none half-made.
    let stored = read_stored(db.url()).await;
    let settled = check(&ledger, &stored, Settled::All);
    let unexpected = ledger.unexpected();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert_eq!(ledger.answers_with(500), 0, "{}", ledger.summary());
    let load_503 = ledger.answers_with(503);
    assert!(
        load_503 > 0,
        "the load met the outage: {}",
        ledger.summary()
    );

    // Every window whole or absent; the version counts the stored ones.
    let (per_window, version) = stored_windows(db.url(), &windows).await;
    let mut whole = 0;
    for (window, count) in windows.iter().zip(&per_window) {
        match (window.answer, count) {
            (201, 4) => whole += 1,
            (201, _) => panic!("window {window:?} was answered 201 but has {count} of 4 slots"),
            (_, 0) => {}
            (_, 4) => whole += 1,
            (_, _) => panic!("partial write: window {window:?} has {count} of 4 slots"),
        }
    }
    // The first publish (the load's slots) is version 1.
    assert_eq!(
        version,
        1 + whole as i64,
        "the calendar version counts every stored window and nothing else"
    );
    let cut_off = windows.iter().filter(|w| w.answer != 201).count();
    assert!(cut_off > 0, "some publishes met the outage: {windows:?}");
    assert!(
        windows.iter().any(|w| w.answer == 201),
        "some publishes succeeded"
    );
    figures(&format!(
        "database_restart_under_load (seed {seed}): 2 PostgreSQL restarts (fast, immediate) \
         survived without restarting the server; {outage_answers} probes answered 503 problems \
         in time; load: {load_503} 503 answers retried, {} reservations won, {} confirmed, {} \
         cancelled; {} windows published, {} refused or cut off, {} partial; lost 0, doubled 0",
        settled.won,
        settled.confirmed,
        settled.cancelled,
        windows.len(),
        cut_off,
        0,
    ));
}

/// A request during the outage, which must be answered (by 503) in time.
async fn timed(request: impl std::future::Future<Output = Reply>) -> Reply {
    let began = Instant::now();
    let reply = tokio::time::timeout(ANSWER_WITHIN, request)
        .await
        .unwrap_or_else(|_| panic!("a request hung for {ANSWER_WITHIN:?} with the database down"));
    assert!(began.elapsed() < ANSWER_WITHIN);
    reply
}

/// One publish the provider sent, and the status it got (0: no answer).
#[derive(Debug, Clone)]
struct Window {
    start: DateTime<Utc>,
    answer: u16,
}

/// Publishes distinct one-hour windows, ten days out and later, until told
/// to stop; each once, never retried.
async fn publish_windows(
    server: Arc<Server>,
    token: String,
    running: Arc<AtomicBool>,
) -> Vec<Window> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(ANSWER_WITHIN)
        .build()
        .expect("an HTTP client");
    let first = hours_ahead(24 * 10);
    let mut windows = Vec::new();
    while running.load(Ordering::SeqCst) {
        let start = first + TimeDelta::hours(windows.len() as i64);
        let body =
            json!({ "windows": [{ "start": at(start), "end": at(start + TimeDelta::hours(1)) }] });
        let answer = http
            .post(format!(
                "{}/v1/providers/{PROVIDER}/availability",
                server.base()
            ))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .map_or(0, |response| response.status().as_u16());
        assert!(
            matches!(answer, 201 | 503 | 0),
            "a publish is answered 201, or 503 while the database is down: {answer}"
        );
        windows.push(Window { start, answer });
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    windows
}

/// How many of each window's four slots are stored, and the calendar version.
async fn stored_windows(url: &str, windows: &[Window]) -> (Vec<i64>, i64) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let mut counts = Vec::new();
    for window in windows {
        let first = window.start.timestamp();
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM slots WHERE provider_id = $1 AND start_s >= $2 AND start_s < $3",
        )
        .bind(PROVIDER)
        .bind(first)
        .bind(first + 3600)
        .fetch_one(&mut conn)
        .await
        .expect("count a window's slots");
        counts.push(count);
    }
    let version: i64 = sqlx::query_scalar("SELECT version FROM calendars WHERE provider_id = $1")
        .bind(PROVIDER)
        .fetch_one(&mut conn)
        .await
        .expect("read the calendar version");
    conn.close().await.expect("close");
    (counts, version)
}
