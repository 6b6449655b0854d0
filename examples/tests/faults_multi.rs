//! Fault suite: two and three server processes on one PostgreSQL database,
//! under contended load (many clients racing for few slots), make at least
//! 100,000 reserve attempts each with zero double bookings.
//!
//! Winners confirm half the time and always cancel, so every slot is raced
//! for again and again; a last sweep, every client at every slot, leaves
//! exactly one winner per slot. Double bookings are looked for three ways:
//! in the rows, by the database's own `GROUP BY`, and in the clients' answers
//! (two 201s for one slot whose holds were certainly live at once).
//!
//! Needs `SCHEDULER_TEST_POSTGRES_URL` (skipped loudly without it, failed
//! when `CI` is set).

// Each test binary uses only part of the shared harness.
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::TimeDelta;
use support::faults::{
    Client, Load, Op, Plan, Rng, Settled, Style, Target, check, figures, hours_ahead, publish,
    read_stored,
};
use support::{Backend, Role, Server, mint, mint_many};

/// Reserve attempts each configuration makes, at least.
const ATTEMPTS: u64 = 100_000;

/// Clients racing, spread over the servers.
const CLIENTS: usize = 48;

/// Slots they race for.
const SLOTS: usize = 8;

const PROVIDER: &str = "dr-multi";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_one_database() {
    servers_on_one_database(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_one_database() {
    servers_on_one_database(3).await;
}

/// The two configurations run one after the other: side by side they would
/// share the cores and the database's connections, and each would measure
/// the other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn servers_on_one_database(count: usize) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(db) = Backend::Postgres.database().await else {
        return;
    };
    let flags = ["--hold-ttl", "1h", "--min-lead", "0s"];
    let mut servers = Vec::new();
    for _ in 0..count {
        servers.push(Server::start(&db, &flags).await);
    }
    let provider = mint(Role::Provider, PROVIDER).await;
    let start = hours_ahead(48);
    let slots = publish(
        &servers[0],
        &provider,
        PROVIDER,
        start,
        start + TimeDelta::minutes(15 * SLOTS as i64),
    )
    .await;
    assert_eq!(slots.len(), SLOTS);
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("racer-{i}")).collect();
    let tokens = mint_many(Role::Client, &names).await;
    let targets: Vec<Target> = servers.iter().map(Target::new).collect();
    let clients: Vec<Client> = names
        .into_iter()
        .zip(tokens)
        .enumerate()
        .map(|(index, (name, token))| Client {
            name,
            token,
            target: targets[index % count].clone(),
        })
        .collect();

    let seed = Rng::seed();
    let began = Instant::now();
    let race = Load::start(
        Plan {
            slots: slots.clone(),
            style: Style::Race,
            retry: false,
            reserve_budget: Some(ATTEMPTS),
            keys: false,
        },
        clients.clone(),
        seed,
    );
    let ledger = race.finish().await;
    let raced = began.elapsed();
    // Every winner cancelled: all slots are free for the last sweep, which
    // must hand each to exactly one client.
    let before_sweep = ledger.answers(Op::Reserve, 201);
    let sweep = Load::start_with(
        Plan {
            slots: slots.clone(),
            style: Style::Sweep,
            retry: false,
            reserve_budget: None,
            keys: false,
        },
        clients,
        seed.wrapping_add(1),
        Arc::clone(&ledger),
    );
    let ledger = sweep.finish().await;
    assert_eq!(
        ledger.answers(Op::Reserve, 201) - before_sweep,
        SLOTS as u64,
        "the sweep wins each slot exactly once: {}",
        ledger.summary()
    );

    let unexpected = ledger.unexpected();
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    let stored = read_stored(db.url()).await;
    let settled = check(&ledger, &stored, Settled::All);
    assert_eq!(
        settled.live, SLOTS,
        "one live reservation per slot at the end"
    );
    let mut per_slot: HashMap<i64, usize> = HashMap::new();
    for row in stored.rows.iter().filter(|r| r.status == "held") {
        *per_slot.entry(row.start_s).or_default() += 1;
    }
    assert!(per_slot.values().all(|&n| n == 1) && per_slot.len() == SLOTS);

    let attempts = ledger.sent(Op::Reserve);
    assert!(
        attempts >= ATTEMPTS,
        "{attempts} reserve attempts, short of {ATTEMPTS}"
    );
    let won = ledger.answers(Op::Reserve, 201);
    let refused = ledger.answers(Op::Reserve, 409);
    assert_eq!(won + refused, attempts, "every attempt won or was refused");
    assert!(
        won > 100,
        "the slots were raced for again and again: {}",
        ledger.summary()
    );
    figures(&format!(
        "servers_on_one_database x{count} (seed {seed}): {attempts} reserve attempts from \
         {CLIENTS} clients at {SLOTS} slots in {raced:.1?}; {won} won (each cancelled before \
         the next win), {refused} refused 409; {} confirmed, {} cancelled; doubled 0",
        settled.confirmed, settled.cancelled,
    ));
}
