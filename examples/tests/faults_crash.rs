//! Fault suite: the real `server` binary is SIGKILLed ten times under a
//! sustained mixed load (reserve, confirm, cancel from 32 clients) and
//! restarted on the same database, on SQLite and on PostgreSQL.
//!
//! After every crash, with the server dead, and once more after the load has
//! drained, the database is read directly and held against every answer the
//! clients saw: each 201 and 200 is stored as answered, no confirmed booking
//! is lost, no slot has two live reservations, no row is one nobody asked for.
//!
//! PostgreSQL runs need `SCHEDULER_TEST_POSTGRES_URL` (skipped loudly
//! without it, failed when `CI` is set).

// Each test binary uses only part of the shared harness.
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use support::faults::{
    Client, Load, Op, Plan, Rng, Settled, Style, Target, check, figures, hours_ahead, publish,
    read_stored,
};
use support::{Backend, Role, Server, mint, mint_many};

/// How many times the server is killed.
const CRASHES: usize = 10;

/// How many clients run the load.
const CLIENTS: usize = 32;

/// The flags of every server: holds outlive the test, so a hold changes only
/// when a client changes it, and slots two days out are reservable.
const FLAGS: &[&str] = &["--hold-ttl", "1h", "--min-lead", "0s"];

const PROVIDER: &str = "dr-crash";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_under_load_sqlite() {
    crash_under_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_under_load_postgres() {
    crash_under_load(Backend::Postgres).await;
}

async fn crash_under_load(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let mut server = Server::start(&db, FLAGS).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    // 128 slots for 32 clients: enough that wins, confirms and cancels keep
    // coming, few enough that clients keep colliding.
    let start = hours_ahead(48);
    let slots = publish(
        &server,
        &provider,
        PROVIDER,
        start,
        start + TimeDelta::hours(32),
    )
    .await;
    assert_eq!(slots.len(), 128);
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("patient-{i}")).collect();
    let tokens = mint_many(Role::Client, &names).await;
    let target = Target::new(&server);
    let clients = names
        .into_iter()
        .zip(tokens)
        .map(|(name, token)| Client {
            name,
            token,
            target: target.clone(),
        })
        .collect();
    let seed = Rng::seed();
    let mut rng = Rng::new(seed);
    let load = Load::start(
        Plan {
            slots,
            style: Style::Churn,
            retry: true,
            reserve_budget: None,
            keys: true,
        },
        clients,
        seed,
    );
    let ledger = load.ledger().clone();

    for crash in 1..=CRASHES {
        // Let the load run, for a different while each time, so the kill
        // lands at a different point of the clients' requests, and at least
        // until the restarted server has answered a hundred of them.
        let answered = ledger.answered();
        tokio::time::sleep(Duration::from_millis(700 + rng.below(1300) as u64)).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while ledger.answered() < answered + 100 {
            assert!(
                Instant::now() < deadline,
                "crash {crash}: the load made no progress since the restart: {}",
                ledger.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill().await;
        // Checked with the server dead: nothing changes while it is read.
        let stored = read_stored(db.url()).await;
        let seen = check(&ledger, &stored, Settled::InFlight);
        assert!(
            seen.live > 0,
            "crash {crash}: the crash is meant to land on live reservations"
        );
        server = Server::start(&db, FLAGS).await;
        target.point_at(&server);
    }

    // Let the clients finish on the last server, so every request is answered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ledger = load.stop().await;
    server.kill().await;
    let stored = read_stored(db.url()).await;
    let settled = check(&ledger, &stored, Settled::All);
    let unexpected = ledger.unexpected();
    assert!(
        unexpected.is_empty(),
        "answers the API does not allow here: {unexpected:#?}"
    );
    assert_eq!(
        ledger.answers_with(500),
        0,
        "no request may fail with 500: {}",
        ledger.summary()
    );
    assert!(
        settled.won > 0 && settled.confirmed > 0 && settled.cancelled > 0,
        "the load reserved, confirmed and cancelled: {settled:?}"
    );
    assert!(
        ledger.unanswered() > 0,
        "the crashes cut off requests in flight: {}",
        ledger.summary()
    );
    figures(&format!(
        "crash_under_load {backend:?} (seed {seed}): {CRASHES} crashes survived; {} reserve \
         attempts, {} confirm and {} cancel requests; {} reservations won, {} confirmed, {} \
         cancelled, {} live at the end; {} requests cut off or refused by a dead server and \
         retried; lost 0, doubled 0",
        ledger.sent(Op::Reserve),
        ledger.sent(Op::Confirm),
        ledger.sent(Op::Cancel),
        settled.won,
        settled.confirmed,
        settled.cancelled,
        settled.live,
        ledger.unanswered(),
    ));
}
