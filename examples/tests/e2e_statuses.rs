//! End-to-end status tests of the `server` example: every route and every
//! error status the API documents, over a real socket to the real binary.
//!
//! Each error is checked for its status, `application/problem+json` and its
//! stable `code`. Most cases share one SQLite server with the default policy;
//! hold expiry and the rate limit need their own flags, and lost storage
//! (503) runs on PostgreSQL, skipped loudly without
//! `SCHEDULER_TEST_POSTGRES_URL` (and failing when `CI` is set).

// The harness is shared with e2e.rs; this file uses most, not all, of it.
#[allow(dead_code)]
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use scheduler_core::{ProviderId, ReservationId, SlotId};
use serde_json::{Value, json};
use support::{Backend, Reply, Role, SECRET, Server, mint};

const PROVIDER: &str = "dr-grey";
const OTHER_PROVIDER: &str = "dr-house";

/// The main SQLite server, default policy (24 h lead, 30 min holds, 365 days
/// horizon): routes that answer 200/201 and every 400, 401, 403, 404, 409,
/// 412, 413 and 422, plus a withdrawal that keeps a held slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_and_error_status_on_sqlite() {
    let db = Backend::Sqlite
        .database()
        .await
        .expect("SQLite is always there");
    let server = Server::start(&db, &[]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let other_provider = mint(Role::Provider, OTHER_PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
    let bob = mint(Role::Client, "bob").await;
    let carol = mint(Role::Client, "carol").await;

    public_routes(&server).await;
    unauthenticated(&server).await;

    // 412, then success with the current ETag; the ETag moves on every write.
    let start = hours_ahead(48);
    let spare = hours_ahead(72);
    let stale = "\"999\"";
    let window = windows(&[(start, start + TimeDelta::hours(1))]);
    let both = windows(&[
        (start, start + TimeDelta::hours(1)),
        (spare, spare + TimeDelta::hours(1)),
    ]);
    server
        .send(
            Method::POST,
            &availability_path(PROVIDER),
            Some(&provider),
            Some(&both),
            &[("if-match", stale)],
        )
        .await
        .expect_problem(412, "calendar_changed");
    server
        .send(
            Method::DELETE,
            &availability_path(PROVIDER),
            Some(&provider),
            None,
            &[("if-match", stale)],
        )
        .await
        .expect_problem(412, "calendar_changed");
    let before = etag_of(&server.get(&slots_path(PROVIDER), &alice).await);
    let published = server
        .send(
            Method::POST,
            &availability_path(PROVIDER),
            Some(&provider),
            Some(&both),
            &[("if-match", &before)],
        )
        .await;
    let added = published.expect(201)["added"]
        .as_array()
        .expect("added is an array")
        .clone();
    assert_eq!(
        added.len(),
        8,
        "two hours of 15-minute slots: {published:?}"
    );
    let after_publish = etag_of(&published);
    assert_ne!(after_publish, before, "a write moves the ETag");
    assert_eq!(
        etag_of(&server.get(&slots_path(PROVIDER), &alice).await),
        after_publish,
        "the listing serves the ETag the write answered with"
    );
    // The old ETag is stale now, for either write.
    server
        .send(
            Method::DELETE,
            &format!(
                "{}?from={}&to={}",
                availability_path(PROVIDER),
                at(spare),
                at(spare + TimeDelta::hours(1))
            ),
            Some(&provider),
            None,
            &[("if-match", &before)],
        )
        .await
        .expect_problem(412, "calendar_changed");
    let withdrawn = server
        .send(
            Method::DELETE,
            &format!(
                "{}?from={}&to={}",
                availability_path(PROVIDER),
                at(spare),
                at(spare + TimeDelta::hours(1))
            ),
            Some(&provider),
            None,
            &[("if-match", &after_publish)],
        )
        .await;
    assert_eq!(
        withdrawn.expect(200)["removed"].as_array().map(Vec::len),
        Some(4),
        "the spare hour's four slots are withdrawn: {withdrawn:?}"
    );
    let after_withdraw = etag_of(&withdrawn);
    assert_ne!(after_withdraw, after_publish, "a withdrawal moves the ETag");
    assert_eq!(
        etag_of(&server.get(&slots_path(PROVIDER), &alice).await),
        after_withdraw
    );
    // Publishing the same hour again adds nothing, unconditionally.
    server
        .post(&availability_path(PROVIDER), &provider, Some(&window))
        .await
        .expect(201);

    let slots: Vec<String> = added[..4]
        .iter()
        .map(|slot| slot["id"].as_str().expect("a slot id").to_owned())
        .collect();

    bad_requests(&server, &provider, &alice, start).await;

    // 403: the wrong role, another provider's calendar.
    server
        .post(&availability_path(PROVIDER), &alice, Some(&window))
        .await
        .expect_problem(403, "wrong_role");
    server
        .post(&availability_path(PROVIDER), &other_provider, Some(&window))
        .await
        .expect_problem(403, "forbidden");

    // 409 slot_unavailable and idempotency_conflict.
    let held = reserve(&server, &alice, &slots[0], Some("key-1")).await;
    let held = held.expect(201).clone();
    let held_id = held["id"].as_str().expect("an id").to_owned();
    reserve(&server, &bob, &slots[0], None)
        .await
        .expect_problem(409, "slot_unavailable");
    reserve(&server, &alice, &slots[1], Some("key-1"))
        .await
        .expect_problem(409, "idempotency_conflict");

    // 403: a stranger reads alice's reservation; her provider may.
    let held_path = format!("/v1/reservations/{held_id}");
    server
        .get(&held_path, &carol)
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(server.get(&held_path, &provider).await.expect(200), &held);

    // 409 cancelled: confirming a cancelled reservation.
    let doomed = reserve(&server, &bob, &slots[1], None).await;
    let doomed_id = doomed.expect(201)["id"].as_str().expect("an id").to_owned();
    let cancelled = server
        .delete(&format!("/v1/reservations/{doomed_id}"), &bob)
        .await;
    assert_eq!(cancelled.expect(200)["status"], "cancelled");
    server
        .post(&format!("/v1/reservations/{doomed_id}/confirm"), &bob, None)
        .await
        .expect_problem(409, "cancelled");

    // 404: a well-formed reservation id nobody holds; a slot never published.
    server
        .get(
            &format!("/v1/reservations/{}", ReservationId::generate()),
            &alice,
        )
        .await
        .expect_problem(404, "reservation_not_found");
    let never = SlotId::new(
        ProviderId::new(PROVIDER).expect("a provider id"),
        start + TimeDelta::hours(5),
    );
    reserve(&server, &alice, &never.to_string(), None)
        .await
        .expect_problem(404, "slot_not_found");
    // An unknown route is a problem too.
    server
        .get("/v1/nowhere", &alice)
        .await
        .expect_problem(404, "not_found");

    // 413: ten megabytes to the availability route.
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

    // 422: the window rules and the lead time.
    let now = Utc::now();
    server
        .post(
            &availability_path(PROVIDER),
            &provider,
            Some(&windows(&[(
                now - TimeDelta::hours(3),
                now - TimeDelta::hours(2),
            )])),
        )
        .await
        .expect_problem(422, "window_in_past");
    let far = hours_ahead(24 * 400);
    server
        .post(
            &availability_path(PROVIDER),
            &provider,
            Some(&windows(&[(far, far + TimeDelta::hours(1))])),
        )
        .await
        .expect_problem(422, "beyond_horizon");
    let soon = hours_ahead(2);
    let soon_added = server
        .post(
            &availability_path(PROVIDER),
            &provider,
            Some(&windows(&[(soon, soon + TimeDelta::minutes(15))])),
        )
        .await;
    let soon_slot = soon_added.expect(201)["added"][0]["id"]
        .as_str()
        .expect("the slot 2 h ahead is published")
        .to_owned();
    reserve(&server, &alice, &soon_slot, None)
        .await
        .expect_problem(422, "lead_time");

    // Withdrawing the hour removes its free slots and lists the held one as
    // a conflict, with alice's reservation on it.
    let withdrawal = server
        .delete(
            &format!(
                "{}?from={}&to={}",
                availability_path(PROVIDER),
                at(start),
                at(start + TimeDelta::hours(1))
            ),
            &provider,
        )
        .await;
    let body = withdrawal.expect(200);
    let removed: Vec<&str> = body["removed"]
        .as_array()
        .expect("removed is an array")
        .iter()
        .map(|slot| slot["id"].as_str().expect("a slot id"))
        .collect();
    assert_eq!(
        removed,
        slots[1..].iter().map(String::as_str).collect::<Vec<_>>(),
        "the three free slots go (the cancelled one is free again): {withdrawal:?}"
    );
    let conflicts = body["conflicts"].as_array().expect("conflicts is an array");
    assert_eq!(conflicts.len(), 1, "{withdrawal:?}");
    assert_eq!(conflicts[0]["id"], held_id.as_str());
    assert_eq!(conflicts[0]["slotId"], slots[0].as_str());
    assert_eq!(conflicts[0]["status"], "held");
    assert!(withdrawal.header("etag").is_some(), "{withdrawal:?}");
    // The held reservation is untouched, and alice can still confirm it.
    let confirmed = server
        .post(&format!("{held_path}/confirm"), &alice, None)
        .await;
    assert_eq!(confirmed.expect(200)["status"], "confirmed");
}

/// `/healthz`, `/openapi.json` and `/docs` with the assets it references,
/// all served by the binary itself.
async fn public_routes(server: &Server) {
    let health = server.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.expect(200)["status"], "ok");

    let spec = server
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await;
    let version = spec.expect(200)["openapi"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(version.starts_with("3.1"), "OpenAPI 3.1: {version:?}");

    let docs = server.send(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(docs.status, 200, "{docs:?}");
    assert!(
        docs.content_type.starts_with("text/html"),
        "the docs are HTML: {docs:?}"
    );
    let assets = referenced(&docs.text);
    assert!(
        !assets.is_empty(),
        "the docs page references its assets: {docs:?}"
    );
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "the docs page references {asset}, which is not served locally"
        );
    }
    let mut scripts = 0;
    for asset in &assets {
        let path = match asset.strip_prefix("./") {
            Some(relative) => format!("/docs/{relative}"),
            None if asset.starts_with('/') => asset.clone(),
            None => format!("/docs/{asset}"),
        };
        let fetched = server.send(Method::GET, &path, None, None, &[]).await;
        assert_eq!(fetched.status, 200, "the docs asset {path}: {fetched:?}");
        assert!(!fetched.text.is_empty(), "the docs asset {path} is empty");
        if path.ends_with(".js") {
            scripts += 1;
        }
    }
    assert!(scripts > 0, "the docs page loads a script: {assets:?}");
    // The Swagger UI set-up names the local spec.
    let init = server
        .send(Method::GET, "/docs/swagger-initializer.js", None, None, &[])
        .await;
    assert_eq!(init.status, 200, "{init:?}");
    assert!(init.text.contains("/openapi.json"), "{init:?}");
}

/// The `src` and `href` values of an HTML page.
fn referenced(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(index) = rest.find(attribute) {
            rest = &rest[index + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

/// 401: no token, a bad signature, an expired token.
async fn unauthenticated(server: &Server) {
    let path = slots_path(PROVIDER);
    let none = server.send(Method::GET, &path, None, None, &[]).await;
    none.expect_problem(401, "missing_token");
    assert!(
        none.header("www-authenticate")
            .is_some_and(|value| value.starts_with("Bearer")),
        "a 401 names the scheme: {none:?}"
    );
    let forged = jwt(b"not-the-server-secret-not-the-server", "alice", 3600);
    server
        .get(&path, &forged)
        .await
        .expect_problem(401, "invalid_token");
    let genuine = mint(Role::Client, "alice").await;
    // Change the signature's first character (the last one holds padding
    // bits): same header and claims, a signature that does not match.
    let dot = genuine.rfind('.').expect("a JWT has a signature part");
    let first = &genuine[dot + 1..dot + 2];
    let tampered = format!(
        "{}{}{}",
        &genuine[..=dot],
        if first == "A" { "B" } else { "A" },
        &genuine[dot + 2..]
    );
    server
        .get(&path, &tampered)
        .await
        .expect_problem(401, "invalid_token");
    // Past the validator's default leeway of 60 s.
    let expired = jwt(SECRET.as_bytes(), "alice", -3600);
    server
        .get(&path, &expired)
        .await
        .expect_problem(401, "token_expired");
}

/// 400: malformed JSON, an empty window, bad path ids, bad listing
/// parameters, a malformed `If-Match`.
async fn bad_requests(server: &Server, provider: &str, client: &str, start: DateTime<Utc>) {
    let path = availability_path(PROVIDER);
    server
        .send_bytes(
            Method::POST,
            &path,
            Some(provider),
            "application/json",
            b"{\"windows\": [".to_vec(),
            &[],
        )
        .await
        .expect_problem(400, "malformed_json");
    for end in [start, start - TimeDelta::hours(1)] {
        let refused = server
            .post(&path, provider, Some(&windows(&[(start, end)])))
            .await;
        refused.expect_problem(400, "invalid_window");
        assert_eq!(refused.body["field"], "windows[0]", "{refused:?}");
    }
    let bad_slot = server.post("/v1/slots/x/reservations", client, None).await;
    bad_slot.expect_problem(400, "invalid_id");
    assert_eq!(bad_slot.body["field"], "slotId", "{bad_slot:?}");
    let bad_reservation = server.get("/v1/reservations/not-an-id!", client).await;
    bad_reservation.expect_problem(400, "invalid_id");
    assert_eq!(
        bad_reservation.body["field"], "reservationId",
        "{bad_reservation:?}"
    );
    for limit in ["0", "501", "ten"] {
        let refused = server
            .get(&format!("{}?limit={limit}", slots_path(PROVIDER)), client)
            .await;
        refused.expect_problem(400, "invalid_limit");
        assert_eq!(refused.body["field"], "limit", "{refused:?}");
    }
    let garbage = server
        .get(
            &format!("{}?cursor=garbage-cursor", slots_path(PROVIDER)),
            client,
        )
        .await;
    garbage.expect_problem(400, "invalid_cursor");
    assert_eq!(garbage.body["field"], "cursor", "{garbage:?}");
    let unquoted = server
        .send(
            Method::POST,
            &path,
            Some(provider),
            Some(&windows(&[(start, start + TimeDelta::hours(1))])),
            &[("if-match", "7")],
        )
        .await;
    unquoted.expect_problem(400, "invalid_if_match");
    assert_eq!(unquoted.body["field"], "If-Match", "{unquoted:?}");
}

/// 410: with a 1 s hold and no lead time, a hold left alone lapses, its slot
/// is offered again, and confirming it then is refused as gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirming_a_lapsed_hold_is_gone() {
    let db = Backend::Sqlite
        .database()
        .await
        .expect("SQLite is always there");
    let server = Server::start(&db, &["--hold-ttl", "1s", "--min-lead", "0s"]).await;
    let provider = mint(Role::Provider, PROVIDER).await;
    let alice = mint(Role::Client, "alice").await;
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
    let held = reserve(&server, &alice, &slot, None).await;
    let id = held.expect(201)["id"].as_str().expect("an id").to_owned();
    // Bounded polling: the slot comes back to the listing once the hold lapses.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let listing = server.get(&slots_path(PROVIDER), &alice).await;
        let listed = listing.expect(200)["slots"]
            .as_array()
            .is_some_and(|slots| slots.iter().any(|s| s["id"] == slot.as_str()));
        if listed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a 1 s hold still blocked its slot after 15 s: {listing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
        .post(&format!("/v1/reservations/{id}/confirm"), &alice, None)
        .await
        .expect_problem(410, "hold_expired");
}

/// 429: two requests a second per user; a burst of one user is limited with
/// `Retry-After`, while another user is let in at that very moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_is_per_user() {
    let db = Backend::Sqlite
        .database()
        .await
        .expect("SQLite is always there");
    let alice = mint(Role::Client, "alice").await;
    let bob = mint(Role::Client, "bob").await;
    let server = Server::start(&db, &["--rate-limit", "2"]).await;
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

/// An HS256 token for client `sub`, signed with `secret`, expiring
/// `ttl_secs` from now (negative: already expired).
fn jwt(secret: &[u8], sub: &str, ttl_secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let exp = now.saturating_add_signed(ttl_secs);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": sub, "role": "client", "exp": exp }),
        &EncodingKey::from_secret(secret),
    )
    .expect("sign a token")
}

/// The `ETag` of a reply, which must have one.
#[track_caller]
fn etag_of(reply: &Reply) -> String {
    let etag = reply
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {reply:?}"))
        .to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    etag
}

async fn reserve(server: &Server, token: &str, slot: &str, key: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = key
        .map(|key| ("idempotency-key", key))
        .into_iter()
        .collect();
    server
        .send(
            Method::POST,
            &format!("/v1/slots/{slot}/reservations"),
            Some(token),
            None,
            &headers,
        )
        .await
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
