//! End-to-end status tests of the `server` example: only what needs the real
//! binary over a real socket. Every other route and error status is asserted
//! in process by the router tests (examples/server/router_tests).
//!
//! Three things stay here: the binary's flags take effect in the running
//! server (`--hold-ttl`, `--min-lead`, `--rate-limit`); a body past the limit
//! is answered with 413 while the connection is closed under the client; and
//! storage lost under a running server is a 503, on PostgreSQL, skipped
//! loudly without `SCHEDULER_TEST_POSTGRES_URL` (and failing when `CI` is set).

// The harness is shared with e2e.rs; this file uses some, not all, of it.
#[allow(dead_code)]
mod support;

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use scheduler_core::ReservationId;
use serde_json::{Value, json};
use support::{Backend, Role, Server, mint};

const PROVIDER: &str = "dr-grey";

/// The flags reach the scheduler of the running binary, read without waiting
/// for anything to lapse: a hold lasts `--hold-ttl` from its creation, a slot
/// two hours ahead may be reserved under `--min-lead 0s` (the default lead is
/// 24 h), and `--rate-limit` refuses a burst of one user with 429 and
/// `Retry-After` while another user is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_flags_set_the_hold_ttl_and_the_rate_limit() {
    let db = Backend::Sqlite
        .database()
        .await
        .expect("SQLite is always there");
    let server = Server::start(
        &db,
        &["--hold-ttl", "7m", "--min-lead", "0s", "--rate-limit", "2"],
    )
    .await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let bob = mint(Role::Client, "bob").await;

    let start = hours_ahead(2);
    let added = server
        .post(
            &availability_path(PROVIDER),
            &provider,
            Some(&windows(&[(start, start + TimeDelta::minutes(15))])),
        )
        .await;
    let slot = added.expect(201)["added"][0]["id"]
        .as_str()
        .expect("a slot")
        .to_owned();
    let held = server
        .post(&format!("/v1/slots/{slot}/reservations"), &alice, None)
        .await;
    let hold = held.expect(201);
    let instant = |key: &str| {
        hold[key]
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .unwrap_or_else(|| panic!("the hold's {key} is an instant: {held:?}"))
    };
    assert_eq!(
        instant("expiresAt") - instant("createdAt"),
        TimeDelta::minutes(7),
        "a hold lasts --hold-ttl: {held:?}"
    );

    // Two requests a second per user: alice's burst is limited.
    let path = slots_path(PROVIDER);
    let mut limited = Vec::new();
    for _ in 0..20 {
        let reply = server.get(&path, &alice).await;
        match reply.status {
            200 => {}
            429 => limited.push(reply),
            _ => panic!("a burst answers 200 or 429: {reply:?}"),
        }
    }
    assert!(
        !limited.is_empty(),
        "20 quick requests at 2/s were all let in"
    );
    for reply in &limited {
        reply.expect_problem(429, "rate_limited");
        let wait: u64 = reply
            .header("retry-after")
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("a 429 says when to retry, in seconds: {reply:?}"));
        assert!(wait >= 1, "{reply:?}");
    }
    // Bob has his own bucket.
    server.get(&path, &bob).await.expect(200);
}

/// 413: ten megabytes to the availability route, over a real connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_past_the_limit_is_413_over_a_real_socket() {
    let db = Backend::Sqlite
        .database()
        .await
        .expect("SQLite is always there");
    let server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let huge = format!(
        "{{\"windows\":[],\"padding\":\"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    // The server answers as soon as the limit is passed and closes the
    // connection with the rest of the body unread; the kernel may then reset
    // it before the client reads the answer. A client sees the 413 or a
    // reset, never anything else: try a few times until the answer arrives.
    let mut answered = None;
    for _ in 0..8 {
        let attempt = server
            .try_send_bytes(
                Method::POST,
                &availability_path(PROVIDER),
                Some(&provider),
                "application/json",
                huge.clone().into_bytes(),
            )
            .await;
        if let Ok(reply) = attempt {
            answered = Some(reply);
            break;
        }
    }
    answered
        .expect("a 10 MB body got a reset 8 times in a row instead of a 413")
        .expect_problem(413, "body_too_large");
}

/// 503: the database goes away under a running server; requests that need
/// storage are refused as a problem that leaks nothing of the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_storage_is_503_on_postgres() {
    let Some(db) = Backend::Postgres.database().await else {
        return;
    };
    let server = Server::start(&db, &[]).await;
    let alice = mint(Role::Client, "alice").await;
    let path = slots_path(PROVIDER);
    server.get(&path, &alice).await.expect(200);
    server
        .send(Method::GET, "/healthz", None, None, &[])
        .await
        .expect(200);

    db.drop_postgres_now().await;

    for reply in [
        server.get(&path, &alice).await,
        server.send(Method::GET, "/healthz", None, None, &[]).await,
        server
            .get(
                &format!("/v1/reservations/{}", ReservationId::generate()),
                &alice,
            )
            .await,
    ] {
        reply.expect_problem(503, "storage");
        assert!(
            reply.header("retry-after").is_some(),
            "a 503 says when to retry: {reply:?}"
        );
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        let lowered = detail.to_lowercase();
        for leak in [
            "sql",
            "select",
            "postgres",
            "database \"",
            "sched_e2e",
            "relation",
            "pool",
        ] {
            assert!(
                !lowered.contains(leak),
                "the 503 detail leaks {leak:?}: {reply:?}"
            );
        }
    }
}

fn windows(spans: &[(DateTime<Utc>, DateTime<Utc>)]) -> Value {
    json!({
        "windows": spans
            .iter()
            .map(|(start, end)| json!({ "start": at(*start), "end": at(*end) }))
            .collect::<Vec<_>>()
    })
}

fn availability_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/availability")
}

fn slots_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/slots")
}

/// `hours` from now, on the hour (so on any slot grid).
fn hours_ahead(hours: i64) -> DateTime<Utc> {
    (Utc::now() + TimeDelta::hours(hours))
        .duration_trunc(TimeDelta::hours(1))
        .expect("truncate to the hour")
}

fn at(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}
