//! End-to-end tests of the `server` example: the real binary on a free
//! loopback port, over SQLite and over PostgreSQL, driven over HTTP.
//!
//! Each scenario runs once per database (`<scenario>::sqlite`,
//! `<scenario>::postgres`). Without `SCHEDULER_TEST_POSTGRES_URL` the
//! PostgreSQL runs say loudly that they were skipped, or fail when `CI` is set.
//! `cargo test --workspace --all-features` builds the binary first; with
//! `--test e2e` alone, run `cargo build --example server` before (a missing or
//! stale binary fails with that advice).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use support::{Backend, Reply, Role, Server, mint, mint_many};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Runs a scenario `async fn(Backend)` as two tests, one per database.
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$scenario(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$scenario(Backend::Postgres).await;
            }
        }
    )*};
}

on_both_databases!(
    lifecycle,
    expiry,
    lead_rule,
    forty_clients_one_slot,
    crash_safety,
    two_servers_one_database,
    calendar_feed,
    schedule_survives_restart,
    services_on_two_servers,
);

const PROVIDER: &str = "dr-grey";

/// The whole life of a booking, with every party's view of it along the way.
async fn lifecycle(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let bob = mint(Role::Client, "bob").await;

    // Auth comes first, and its refusals are problems too.
    let anonymous = server
        .send(reqwest::Method::GET, &slots_path(PROVIDER), None, None, &[])
        .await;
    anonymous.expect_problem(401, "missing_token");
    let start = hours_ahead(48);
    let window =
        json!({ "windows": [{ "start": at(start), "end": at(start + TimeDelta::hours(1)) }] });
    server
        .post(&availability_path(PROVIDER), &alice, Some(&window))
        .await
        .expect_problem(403, "wrong_role");

    // One hour on the default 15-minute grid is four slots.
    let added = publish(&server, &provider, start, start + TimeDelta::hours(1)).await;
    assert_eq!(added.len(), 4, "{added:?}");
    for (index, slot) in added.iter().enumerate() {
        let slot_start = start + TimeDelta::minutes(15 * index as i64);
        assert_eq!(slot["providerId"], PROVIDER);
        assert_eq!(slot["start"], at(slot_start));
        assert_eq!(slot["end"], at(slot_start + TimeDelta::minutes(15)));
    }
    let listed = slot_ids(&server, &alice, PROVIDER).await;
    assert_eq!(listed, ids(&added), "every new slot is listed, in order");
    let slot = &listed[0];

    // Reserve, and replay the same request as a client whose answer was lost would.
    let held = reserve(&server, &alice, slot, Some("booking-1")).await;
    let reservation = held.expect(201).clone();
    assert_eq!(reservation["status"], "held");
    assert_eq!(reservation["slotId"], slot.as_str());
    assert_eq!(reservation["providerId"], PROVIDER);
    assert_eq!(reservation["clientId"], "alice");
    assert_eq!(reservation["start"], added[0]["start"]);
    assert_eq!(reservation["end"], added[0]["end"]);
    assert_eq!(reservation["confirmedAt"], Value::Null);
    assert_eq!(
        instant(&reservation["expiresAt"]) - instant(&reservation["createdAt"]),
        TimeDelta::minutes(30),
        "the default hold lasts 30 minutes"
    );
    let id = reservation["id"].as_str().expect("an id").to_owned();
    let replay = reserve(&server, &alice, slot, Some("booking-1")).await;
    assert_eq!(
        replay.expect(201),
        &reservation,
        "a replay returns the original"
    );
    reserve(&server, &alice, &listed[1], Some("booking-1"))
        .await
        .expect_problem(409, "idempotency_conflict");

    // The slot is taken for everyone else, and gone from the listing.
    reserve(&server, &bob, slot, None)
        .await
        .expect_problem(409, "slot_unavailable");
    assert_eq!(slot_ids(&server, &bob, PROVIDER).await, listed[1..]);

    // Only the holder confirms; confirming twice changes nothing.
    let confirm_path = format!("/v1/reservations/{id}/confirm");
    server
        .post(&confirm_path, &bob, None)
        .await
        .expect_problem(403, "forbidden");
    let confirmed = server
        .post(&confirm_path, &alice, None)
        .await
        .expect(200)
        .clone();
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["id"], id.as_str());
    let confirmed_at = instant(&confirmed["confirmedAt"]);
    assert!(confirmed_at >= instant(&reservation["createdAt"]));
    assert!(confirmed_at < instant(&reservation["expiresAt"]));
    let again = server.post(&confirm_path, &alice, None).await;
    assert_eq!(again.expect(200), &confirmed, "confirming is idempotent");

    // Its client and its provider read it; another client may not.
    let path = format!("/v1/reservations/{id}");
    assert_eq!(server.get(&path, &alice).await.expect(200), &confirmed);
    assert_eq!(server.get(&path, &provider).await.expect(200), &confirmed);
    server
        .get(&path, &bob)
        .await
        .expect_problem(403, "forbidden");

    // The provider's appointments and the client's own list show it; bob's doesn't.
    let appointments =
        reservations(&server, &provider, &provider_reservations_path(PROVIDER)).await;
    assert_eq!(appointments, vec![confirmed.clone()]);
    assert_eq!(
        reservations(&server, &alice, "/v1/me/reservations").await,
        vec![confirmed.clone()]
    );
    assert!(
        reservations(&server, &bob, "/v1/me/reservations")
            .await
            .is_empty()
    );

    // Cancelling frees the slot at once.
    let cancelled = server.delete(&path, &alice).await.expect(200).clone();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        server.get(&path, &provider).await.expect(200)["status"],
        "cancelled"
    );
    assert_eq!(
        slot_ids(&server, &bob, PROVIDER).await,
        listed,
        "the slot is listed again"
    );
    let rebooked = reserve(&server, &bob, slot, None).await;
    assert_eq!(rebooked.expect(201)["clientId"], "bob");
    assert_ne!(
        rebooked.body["id"],
        id.as_str(),
        "a new reservation, not the old one"
    );
}

/// A hold lapses by the clock alone: after `expiresAt` it cannot be confirmed
/// and its slot is offered again.
async fn expiry(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Server::start(
        &db,
        &[
            "--hold-ttl",
            "2s",
            "--min-lead",
            "0s",
            "--sweep-interval",
            "1s",
        ],
    )
    .await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let bob = mint(Role::Client, "bob").await;
    let start = hours_ahead(2);
    let added = publish(&server, &provider, start, start + TimeDelta::minutes(30)).await;
    let slot = added[0]["id"].as_str().expect("a slot id").to_owned();

    let held = reserve(&server, &alice, &slot, None)
        .await
        .expect(201)
        .clone();
    let expires_at = instant(&held["expiresAt"]);
    assert_eq!(
        expires_at - instant(&held["createdAt"]),
        TimeDelta::seconds(2)
    );
    let path = format!("/v1/reservations/{}", held["id"].as_str().expect("an id"));

    // A real process keeps real time: poll, bounded, until it reads expired.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = server.get(&path, &alice).await.expect(200)["status"].clone();
        if status == "expired" {
            break;
        }
        assert_eq!(status, "held", "a hold only lapses");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hold still reads held long after its expiresAt {expires_at}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        Utc::now() >= expires_at,
        "expired only once expiresAt has passed"
    );

    server
        .post(&format!("{path}/confirm"), &alice, None)
        .await
        .expect_problem(410, "hold_expired");
    assert!(
        slot_ids(&server, &bob, PROVIDER).await.contains(&slot),
        "the lapsed hold's slot is listed again"
    );
    let mine = reservations(&server, &alice, "/v1/me/reservations").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "expired");
    assert_eq!(
        reserve(&server, &bob, &slot, None).await.expect(201)["clientId"],
        "bob"
    );
}

/// With a 24-hour lead, a slot sooner than that is refused with `lead_time`
/// and is not listed; one just past it is reservable.
async fn lead_rule(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Server::start(&db, &["--min-lead", "24h"]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let start = hours_ahead(2);
    let added = publish(&server, &provider, start, start + TimeDelta::hours(24)).await;
    assert_eq!(added.len(), 96);

    // A margin either side of now + 24h keeps the test off the boundary
    // instant, which moves while the requests travel.
    let lead_ends = Utc::now() + TimeDelta::hours(24);
    let margin = TimeDelta::minutes(1);
    let too_soon: Vec<&Value> = added
        .iter()
        .filter(|slot| instant(&slot["start"]) < lead_ends - margin)
        .collect();
    let soonest_allowed = added
        .iter()
        .find(|slot| instant(&slot["start"]) > lead_ends + margin)
        .expect("the window reaches past the lead");

    for slot in [too_soon[0], too_soon[too_soon.len() - 1]] {
        reserve(&server, &alice, slot["id"].as_str().expect("an id"), None)
            .await
            .expect_problem(422, "lead_time");
    }
    let listed = slot_ids(&server, &alice, PROVIDER).await;
    for slot in &too_soon {
        assert!(
            !listed.contains(&slot["id"].as_str().expect("an id").to_owned()),
            "a slot inside the lead is not offered: {slot}"
        );
    }
    let booked = reserve(
        &server,
        &alice,
        soonest_allowed["id"].as_str().expect("an id"),
        None,
    )
    .await;
    assert_eq!(booked.expect(201)["start"], soonest_allowed["start"]);
}

/// Forty clients fire at one slot at once: exactly one wins.
async fn forty_clients_one_slot(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let server = Arc::new(Server::start(&db, &[]).await);
    let provider = mint(Role::Provider, PROVIDER).await;
    let start = hours_ahead(48);
    let added = publish(&server, &provider, start, start + TimeDelta::minutes(15)).await;
    let slot = added[0]["id"].as_str().expect("a slot id").to_owned();
    let names: Vec<String> = (0..40).map(|i| format!("client-{i}")).collect();
    let tokens = mint_many(Role::Client, &names).await;

    let replies = fire_together(
        tokens
            .into_iter()
            .map(|token| (Arc::clone(&server), token, slot.clone()))
            .collect(),
    )
    .await;

    let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one 201: {replies:#?}");
    for loser in replies.iter().filter(|r| r.status != 201) {
        loser.expect_problem(409, "slot_unavailable");
    }
    let booked = reservations(&server, &provider, &provider_reservations_path(PROVIDER)).await;
    assert_eq!(
        booked,
        vec![winners[0].body.clone()],
        "one reservation, the winner's"
    );
    assert!(slot_ids(&server, &provider, PROVIDER).await.is_empty());
}

/// Everything a server acknowledged survives a SIGKILL: a restart on the same
/// database shows every reservation with the same status and instants.
async fn crash_safety(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let mut server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let names: Vec<String> = (0..6).map(|i| format!("patient-{i}")).collect();
    let clients = mint_many(Role::Client, &names).await;
    let start = hours_ahead(48);
    let added = publish(&server, &provider, start, start + TimeDelta::hours(2)).await;

    // Three confirmed, two held (one under an idempotency key), one cancelled.
    let mut ids = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        let key = (index == 3).then_some("before-the-crash");
        let slot = added[index]["id"].as_str().expect("a slot id");
        let reservation = reserve(&server, client, slot, key)
            .await
            .expect(201)
            .clone();
        let id = reservation["id"].as_str().expect("an id").to_owned();
        if index < 3 {
            server
                .post(&format!("/v1/reservations/{id}/confirm"), client, None)
                .await
                .expect(200);
        }
        if index == 5 {
            server
                .delete(&format!("/v1/reservations/{id}"), client)
                .await
                .expect(200);
        }
        ids.push(id);
    }
    let before = snapshot(&server, &provider, &ids).await;
    let statuses: Vec<&Value> = before.reservations.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [
            "confirmed",
            "confirmed",
            "confirmed",
            "held",
            "held",
            "cancelled"
        ]
    );

    server.kill().await;
    let server = Server::start(&db, &[]).await;

    let after = snapshot(&server, &provider, &ids).await;
    assert_eq!(
        after.reservations, before.reservations,
        "every reservation, unchanged"
    );
    assert_eq!(
        after.appointments, before.appointments,
        "the provider's list, unchanged"
    );
    assert_eq!(
        after.free_slots, before.free_slots,
        "the free slots, unchanged"
    );

    // And they still act as what they are: holds confirm, bookings block,
    // idempotency keys replay.
    reserve(
        &server,
        &clients[4],
        added[0]["id"].as_str().expect("an id"),
        None,
    )
    .await
    .expect_problem(409, "slot_unavailable");
    let replay = reserve(
        &server,
        &clients[3],
        added[3]["id"].as_str().expect("an id"),
        Some("before-the-crash"),
    )
    .await;
    assert_eq!(replay.expect(201)["id"], ids[3].as_str());
    let confirmed = server
        .post(
            &format!("/v1/reservations/{}/confirm", ids[4]),
            &clients[4],
            None,
        )
        .await;
    assert_eq!(confirmed.expect(200)["status"], "confirmed");
}

/// Two processes on one database behave as one: each of 20 slots, reserved
/// through both at once by four clients, is won exactly once.
async fn two_servers_one_database(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let first = Arc::new(Server::start(&db, &[]).await);
    let second = Arc::new(Server::start(&db, &[]).await);
    let provider = mint(Role::Provider, PROVIDER).await;
    let names: Vec<String> = ["ann", "ben", "cat", "dan"].map(String::from).to_vec();
    let clients = mint_many(Role::Client, &names).await;
    let start = hours_ahead(48);
    let added = publish(&first, &provider, start, start + TimeDelta::hours(5)).await;
    assert_eq!(added.len(), 20);
    let slots = ids(&added);
    assert_eq!(
        slot_ids(&second, &provider, PROVIDER).await,
        slots,
        "one calendar"
    );

    // Two clients through each server, every slot, all at once.
    let mut attempts = Vec::new();
    for slot in &slots {
        for (index, client) in clients.iter().enumerate() {
            let server = if index % 2 == 0 { &first } else { &second };
            attempts.push((Arc::clone(server), client.clone(), slot.clone()));
        }
    }
    let replies = fire_together(attempts).await;

    let mut winners: BTreeMap<String, usize> = BTreeMap::new();
    for reply in &replies {
        match reply.status {
            201 => {
                *winners
                    .entry(reply.body["slotId"].as_str().expect("a slot id").to_owned())
                    .or_default() += 1
            }
            _ => reply.expect_problem(409, "slot_unavailable"),
        }
    }
    let expected: BTreeMap<String, usize> = slots.iter().map(|slot| (slot.clone(), 1)).collect();
    assert_eq!(
        winners, expected,
        "each slot won exactly once across both servers"
    );

    // Both servers read the same single live reservation per slot.
    for server in [&first, &second] {
        let booked = reservations(server, &provider, &provider_reservations_path(PROVIDER)).await;
        let live: Vec<&Value> = booked.iter().filter(|r| r["status"] == "held").collect();
        assert_eq!(live.len(), booked.len(), "nothing but holds: {booked:#?}");
        let per_slot: BTreeSet<&str> = live
            .iter()
            .map(|r| r["slotId"].as_str().expect("an id"))
            .collect();
        assert_eq!(
            per_slot.len(),
            20,
            "one live reservation per slot: {booked:#?}"
        );
        assert_eq!(live.len(), 20, "one live reservation per slot: {booked:#?}");
        assert!(slot_ids(server, &provider, PROVIDER).await.is_empty());
    }
}

/// A calendar application's view: a feed token issued once opens the feed
/// with no header at all, keeps doing so across a restart, and stops the
/// moment it is revoked.
async fn calendar_feed(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let mut server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let issued = server
        .post(
            &format!("/v1/providers/{PROVIDER}/feed-tokens"),
            &provider,
            None,
        )
        .await
        .expect(201)
        .clone();
    let feed_url = issued["feedUrl"].as_str().expect("a feed URL").to_owned();
    let token = issued["token"].as_str().expect("a token");
    assert_eq!(
        feed_url,
        format!("/v1/providers/{PROVIDER}/bookings.ics?token={token}")
    );

    let start = hours_ahead(48);
    let added = publish(&server, &provider, start, start + TimeDelta::hours(1)).await;
    let held = reserve(
        &server,
        &alice,
        added[0]["id"].as_str().expect("an id"),
        None,
    )
    .await;
    let id = held.expect(201)["id"].as_str().expect("an id").to_owned();
    server
        .post(&format!("/v1/reservations/{id}/confirm"), &alice, None)
        .await
        .expect(200);
    // A hold never confirmed is no booking.
    reserve(
        &server,
        &alice,
        added[1]["id"].as_str().expect("an id"),
        None,
    )
    .await
    .expect(201);

    let uid = format!("UID:{id}@scheduler-rs\r\n");
    let dtstart = format!("DTSTART:{}\r\n", start.format("%Y%m%dT%H%M%SZ"));
    let before = read_feed(&server, &feed_url).await;
    assert_eq!(before.status, 200, "{before:?}");
    assert_eq!(before.content_type, "text/calendar; charset=utf-8");
    let text = before.text.replace("\r\n ", "");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 1, "{text}");
    assert!(text.contains(&uid), "{text}");
    assert!(text.contains(&dtstart), "{text}");
    assert!(text.contains("STATUS:CONFIRMED\r\n"), "{text}");

    server.kill().await;
    server = Server::start(&db, &[]).await;
    let after = read_feed(&server, &feed_url).await;
    assert_eq!(
        after.status, 200,
        "the token outlives the process: {after:?}"
    );
    let text = after.text.replace("\r\n ", "");
    assert!(text.contains(&uid), "{text}");

    let tokens = format!("/v1/providers/{PROVIDER}/feed-tokens");
    let revoked = server
        .delete(
            &format!("{tokens}/{}", issued["id"].as_str().expect("an id")),
            &provider,
        )
        .await
        .expect(200)
        .clone();
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    read_feed(&server, &feed_url)
        .await
        .expect_problem(401, "invalid_feed_token");
    let listed = server.get(&tokens, &provider).await.expect(200).clone();
    assert_eq!(listed["tokens"][0]["revokedAt"], revoked["revokedAt"]);
}

/// `GET url` with no header at all, as a calendar application sends it.
async fn read_feed(server: &Server, url: &str) -> Reply {
    server
        .send(reqwest::Method::GET, url, None, None, &[])
        .await
}

/// What a crash must not change, read through the API.
struct Snapshot {
    reservations: Vec<Value>,
    appointments: Vec<Value>,
    free_slots: Vec<String>,
}

async fn snapshot(server: &Server, provider: &str, ids: &[String]) -> Snapshot {
    let mut each = Vec::new();
    for id in ids {
        let path = format!("/v1/reservations/{id}");
        each.push(server.get(&path, provider).await.expect(200).clone());
    }
    Snapshot {
        reservations: each,
        appointments: reservations(server, provider, &provider_reservations_path(PROVIDER)).await,
        free_slots: slot_ids(server, provider, PROVIDER).await,
    }
}

/// Sends each `(server, client token, slot)` reserve at once: every task
/// waits at a barrier, so the requests leave together. Replies in input order.
async fn fire_together(attempts: Vec<(Arc<Server>, String, String)>) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(attempts.len()));
    let mut tasks = JoinSet::new();
    for (index, (server, token, slot)) in attempts.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            (index, reserve(&server, &token, &slot, None).await)
        });
    }
    let mut replies: Vec<(usize, Reply)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        replies.push(joined.expect("a reserve task panicked"));
    }
    replies.sort_by_key(|(index, _)| *index);
    replies.into_iter().map(|(_, reply)| reply).collect()
}

/// Publishes `[start, end)` for [`PROVIDER`]; returns the slots added.
async fn publish(
    server: &Server,
    token: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Value> {
    let body = json!({ "windows": [{ "start": at(start), "end": at(end) }] });
    let reply = server
        .post(&availability_path(PROVIDER), token, Some(&body))
        .await;
    reply.expect(201)["added"]
        .as_array()
        .unwrap_or_else(|| panic!("no `added` array: {reply:?}"))
        .clone()
}

async fn reserve(server: &Server, token: &str, slot: &str, key: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = key
        .map(|key| ("Idempotency-Key", key))
        .into_iter()
        .collect();
    let path = format!("/v1/slots/{slot}/reservations");
    server
        .send(reqwest::Method::POST, &path, Some(token), None, &headers)
        .await
}

/// The ids of `provider`'s reservable slots, all of them, in order.
async fn slot_ids(server: &Server, token: &str, provider: &str) -> Vec<String> {
    let reply = server
        .get(&format!("{}?limit=500", slots_path(provider)), token)
        .await;
    let page = reply.expect(200);
    assert_eq!(
        page["nextCursor"],
        Value::Null,
        "one page holds them all: {reply:?}"
    );
    ids(page["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("no `slots`: {reply:?}")))
}

/// One page (up to 500) of a reservation listing.
async fn reservations(server: &Server, token: &str, path: &str) -> Vec<Value> {
    let reply = server.get(&format!("{path}?limit=500"), token).await;
    let page = reply.expect(200);
    assert_eq!(
        page["nextCursor"],
        Value::Null,
        "one page holds them all: {reply:?}"
    );
    page["reservations"]
        .as_array()
        .unwrap_or_else(|| panic!("no `reservations`: {reply:?}"))
        .clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            item["id"]
                .as_str()
                .expect("every item has an id")
                .to_owned()
        })
        .collect()
}

fn availability_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/availability")
}

fn slots_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/slots")
}

fn provider_reservations_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/reservations")
}

/// The whole hour `hours` from now: on every grid, so windows start on a slot.
fn hours_ahead(hours: i64) -> DateTime<Utc> {
    (Utc::now() + TimeDelta::hours(hours))
        .duration_trunc(TimeDelta::hours(1))
        .expect("an hour divides any instant")
}

/// RFC 3339 with `Z`, as the API writes instants.
fn at(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not an instant"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .to_utc()
}

/// A weekly schedule becomes slots read back in its zone, and it and its
/// slots survive a restart: the server reads the schedule back from storage.
async fn schedule_survives_restart(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let mut server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let path = format!("/v1/providers/{PROVIDER}/schedule");
    server
        .get(&path, &alice)
        .await
        .expect_problem(404, "schedule_not_found");

    // Every day 09:00-10:00 in New York: four slots a day, whatever the date.
    let ranges = json!([{ "start": "09:00", "end": "10:00" }]);
    let schedule = json!({
        "timeZone": "America/New_York",
        "weekly": {
            "mon": ranges, "tue": ranges, "wed": ranges, "thu": ranges,
            "fri": ranges, "sat": ranges, "sun": ranges
        },
        "exceptions": []
    });
    let put = server
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&provider),
            Some(&schedule),
            &[],
        )
        .await;
    let applied = put.expect(200).clone();
    let etag = put.header("etag").expect("an ETag").to_owned();
    assert_eq!(applied["schedule"], schedule);
    let added = applied["added"].as_array().expect("the slots added");
    assert!(added.len() >= 4 * 360, "a year of days: {}", added.len());
    let through = applied["through"].clone();

    // Listed in the zone: each slot starts between 09:00 and 09:45 on New
    // York's clocks, and its reading and offset give back its instant.
    // Whole UTC days: their midnights are evenings in New York, far from the
    // open hour, so a week holds seven of them across a clock change too.
    let day = hours_ahead(48)
        .duration_trunc(TimeDelta::days(1))
        .expect("a day divides any instant");
    let (from, to) = (at(day), at(day + TimeDelta::days(7)));
    let listing = format!(
        "{}?from={from}&to={to}&limit=500&tz=America/New_York",
        slots_path(PROVIDER)
    );
    let listed = server.get(&listing, &alice).await.expect(200).clone();
    let slots = listed["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 7 * 4, "{listed}");
    for slot in slots {
        let local = slot["localStart"].as_str().expect("a localStart");
        let offset = slot["offset"].as_str().expect("an offset");
        assert!(["-05:00", "-04:00"].contains(&offset), "{slot}");
        let time = &local[11..];
        assert!(
            ["09:00:00", "09:15:00", "09:30:00", "09:45:00"].contains(&time),
            "{slot}"
        );
        let read_back = DateTime::parse_from_rfc3339(&format!("{local}{offset}"))
            .expect("a reading and an offset make an instant");
        assert_eq!(read_back, instant(&slot["start"]), "{slot}");
    }

    server.kill().await;
    let server = Server::start(&db, &[]).await;

    let read = server.get(&path, &alice).await;
    assert_eq!(
        read.expect(200),
        &json!({ "schedule": schedule, "through": through })
    );
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    let again = server.get(&listing, &alice).await.expect(200).clone();
    assert_eq!(again, listed, "the same slots, read the same way");
}

/// Services on two servers over one database: a service stored through one
/// is listed through the other; clients racing through both for
/// overlapping starts never get two bookings whose time (buffers included)
/// meets; a booking is rescheduled; and all of it survives a restart.
async fn services_on_two_servers(backend: Backend) {
    let Some(db) = backend.database().await else {
        return;
    };
    let first = Arc::new(Server::start(&db, &[]).await);
    let second = Arc::new(Server::start(&db, &[]).await);
    let provider = mint(Role::Provider, PROVIDER).await;
    let intake = json!({ "name": "Intake", "durationMinutes": 45, "bufferAfterMinutes": 15 });
    let path = format!("/v1/providers/{PROVIDER}/services/intake");
    first
        .send(
            reqwest::Method::PUT,
            &path,
            Some(&provider),
            Some(&intake),
            &[],
        )
        .await
        .expect(201);
    let start = hours_ahead(48);
    publish(&first, &provider, start, start + TimeDelta::hours(3)).await;
    let listing = format!("{}?service=intake&limit=500", slots_path(PROVIDER));
    let starts = second.get(&listing, &provider).await.expect(200)["slots"]
        .as_array()
        .expect("slots")
        .clone();
    assert_eq!(starts.len(), 10, "09:00 to 11:15 of a 3-hour window");

    let names: Vec<String> = (0..20).map(|i| format!("client-{i}")).collect();
    let clients = mint_many(Role::Client, &names).await;
    let attempts = clients
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let server = if i % 2 == 0 { &first } else { &second };
            let slot = starts[i % starts.len()]["id"].as_str().unwrap().to_owned();
            (Arc::clone(server), token.clone(), slot)
        })
        .collect();
    let replies = fire_together(attempts).await;
    let mut won: Vec<Value> = Vec::new();
    for reply in &replies {
        match reply.status {
            201 => won.push(reply.body.clone()),
            _ => reply.expect_problem(409, "slot_unavailable"),
        }
    }
    assert!(!won.is_empty(), "someone books");
    won.sort_by_key(|r| instant(&r["start"]));
    for pair in won.windows(2) {
        // 45 minutes and 15 of notes: starts at least an hour apart.
        let gap = instant(&pair[1]["start"]) - instant(&pair[0]["start"]);
        assert!(gap >= TimeDelta::hours(1), "bookings overlap: {pair:#?}");
    }

    // The first winner moves to the last start, if that is free now.
    let free = second.get(&listing, &provider).await.expect(200)["slots"]
        .as_array()
        .expect("slots")
        .clone();
    let mover = &won[0];
    let client = &clients[names
        .iter()
        .position(|name| *name == mover["clientId"])
        .expect("a known client")];
    if let Some(target) = free.last() {
        let moved = first
            .post(
                &format!(
                    "/v1/reservations/{}/reschedule",
                    mover["id"].as_str().unwrap()
                ),
                client,
                Some(&json!({ "slotId": target["id"] })),
            )
            .await;
        assert_eq!(moved.expect(200)["start"], target["start"]);
    }
    let before = reservations(&first, &provider, &provider_reservations_path(PROVIDER)).await;
    drop(first);
    drop(second);
    let restarted = Server::start(&db, &[]).await;
    let after = reservations(&restarted, &provider, &provider_reservations_path(PROVIDER)).await;
    assert_eq!(after, before, "every booking survives the restart");
    restarted.get(&path, &provider).await.expect(200);
}
