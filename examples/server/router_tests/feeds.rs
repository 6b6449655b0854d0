//! Calendar feeds over HTTP: feed tokens issued, listed and revoked; the
//! `.ics` read by bearer or by feed token, parsed back with an iCalendar
//! parser; and a feed token refused everywhere but its own feed.

use scheduler_core::Precondition;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{TimeDelta, TimeZone, Utc};
use icalendar::parser::{read_calendar, unfold};
use scheduler_core::{
    ClientId, Clock, ListQuery, Policy, ProviderId, Scheduler, TimeRange, Window,
};
use scheduler_memory::MemoryStore;
use serde_json::{Value, json};

use super::support::{Options, Reply, TestApp, keys, start};
use crate::feeds::{FeedTokenStore, MemoryFeedTokens};

/// An event's properties, by name.
type Props = BTreeMap<String, String>;

/// The calendar's own properties and its `VEVENT`s, read by the parser from
/// the unfolded body; panics unless the body is one `VCALENDAR` of events.
fn parse(text: &str) -> (Props, Vec<Props>) {
    let unfolded = unfold(text);
    let calendar = read_calendar(&unfolded).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let props = |properties: &[icalendar::parser::Property<'_>]| {
        properties
            .iter()
            .map(|p| (p.name.as_str().to_owned(), p.val.as_str().to_owned()))
            .collect::<Props>()
    };
    let mut events = Vec::new();
    for component in &calendar.components {
        assert_eq!(component.name.as_str(), "VEVENT", "{text}");
        events.push(props(&component.properties));
    }
    (props(&calendar.properties), events)
}

fn feed_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/bookings.ics")
}

fn tokens_path(provider: &str) -> String {
    format!("/v1/providers/{provider}/feed-tokens")
}

/// Issues a feed token for `provider`; returns the answer's body.
async fn issue(app: &TestApp, provider: &str) -> Value {
    app.post(&tokens_path(provider))
        .bearer(&app.provider(provider))
        .send()
        .await
        .expect(StatusCode::CREATED)
        .body
}

/// Reads `provider`'s feed with feed token `token` and no header.
async fn by_token(app: &TestApp, provider: &str, token: &str) -> Reply {
    app.get(&format!("{}?token={token}", feed_path(provider)))
        .send()
        .await
}

/// Reads `provider`'s feed with their bearer token; asserts a calendar.
async fn by_bearer(app: &TestApp, provider: &str) -> Reply {
    let reply = app
        .get(&feed_path(provider))
        .bearer(&app.provider(provider))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "text/calendar; charset=utf-8");
    reply
}

/// `client` reserves and confirms `slot`; returns the reservation id.
async fn book(app: &TestApp, client: &str, slot: &str) -> String {
    let id = app.reserve(client, slot).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/v1/reservations/{id}/confirm"))
        .bearer(&app.client(client))
        .send()
        .await
        .expect(StatusCode::OK);
    id
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test]
async fn an_issued_token_is_shown_once_and_listed_without_its_secret() {
    let app = TestApp::new();
    let issued = issue(&app, "dr-grey").await;
    assert_eq!(keys(&issued), ["createdAt", "feedUrl", "id", "token"]);
    let id = issued["id"].as_str().unwrap();
    let token = issued["token"].as_str().unwrap();
    let (token_id, secret) = token.split_once('.').unwrap();
    assert_eq!(token_id, id);
    assert!(is_hex(id, 16), "{id}");
    assert!(is_hex(secret, 64), "{secret}");
    assert_eq!(
        issued["feedUrl"],
        format!("/v1/providers/dr-grey/bookings.ics?token={token}")
    );
    assert_eq!(issued["createdAt"], "2030-03-04T08:00:00Z");

    // A second token is another id and another secret.
    app.clock.advance(TimeDelta::seconds(1));
    let second = issue(&app, "dr-grey").await;
    assert_ne!(second["id"], issued["id"]);
    assert_ne!(
        second["token"].as_str().unwrap().split_once('.').unwrap().1,
        secret
    );

    let listed = app
        .get(&tokens_path("dr-grey"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        listed.body,
        json!({ "tokens": [
            { "id": id, "createdAt": "2030-03-04T08:00:00Z", "revokedAt": null },
            { "id": second["id"], "createdAt": "2030-03-04T08:00:01Z", "revokedAt": null },
        ] })
    );
    assert!(!listed.text.contains(secret), "{}", listed.text);
    // Each provider sees only their own.
    let theirs = app
        .get(&tokens_path("dr-who"))
        .bearer(&app.provider("dr-who"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(theirs.body, json!({ "tokens": [] }));
}

#[tokio::test]
async fn the_token_routes_are_for_the_calendars_owner_only() {
    let app = TestApp::new();
    for (method, path) in [
        (axum::http::Method::POST, tokens_path("dr-grey")),
        (axum::http::Method::GET, tokens_path("dr-grey")),
        (
            axum::http::Method::DELETE,
            format!("{}/0123456789abcdef", tokens_path("dr-grey")),
        ),
    ] {
        app.call(method.clone(), &path)
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "missing_token");
        app.call(method.clone(), &path)
            .bearer(&app.client("dr-grey"))
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "wrong_role");
        app.call(method.clone(), &path)
            .bearer(&app.provider("dr-who"))
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn a_confirmed_booking_is_one_confirmed_event_and_a_cancellation_updates_it() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let theirs = app.morning("dr-who").await;
    let booked = book(&app, "alice", &slots[0]).await;
    // Not bookings: a hold, a hold cancelled before it was confirmed, and a
    // hold that lapsed.
    app.reserve("bob", &slots[1]).await;
    let dropped = app.reserve("carol", &slots[2]).await;
    app.delete(&format!(
        "/v1/reservations/{}",
        dropped["id"].as_str().unwrap()
    ))
    .bearer(&app.client("carol"))
    .send()
    .await
    .expect(StatusCode::OK);
    app.reserve("dave", &slots[3]).await;
    // Another provider's booking, by the same client.
    book(&app, "alice", &theirs[0]).await;
    app.clock.advance(TimeDelta::minutes(31));

    let token = issue(&app, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = by_bearer(&app, "dr-grey").await;
    let tokened = by_token(&app, "dr-grey", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        tokened.header("content-type"),
        "text/calendar; charset=utf-8"
    );
    assert_eq!(tokened.header("cache-control"), "private, no-store");
    assert_eq!(tokened.text, bearer.text, "both credentials read one feed");

    let (calendar, events) = parse(&bearer.text);
    assert_eq!(calendar["VERSION"], "2.0");
    assert_eq!(calendar["PRODID"], "-//scheduler-rs//scheduler server//EN");
    assert_eq!(calendar["CALSCALE"], "GREGORIAN");
    assert_eq!(calendar["METHOD"], "PUBLISH");
    assert_eq!(calendar["X-WR-CALNAME"], "Bookings of dr-grey");
    assert_eq!(events.len(), 1, "{}", bearer.text);
    let event = &events[0];
    let uid = format!("{booked}@scheduler-rs");
    assert_eq!(event["UID"], uid);
    assert_eq!(event["STATUS"], "CONFIRMED");
    assert_eq!(event["SEQUENCE"], "0");
    assert_eq!(event["DTSTART"], "20300306T090000Z");
    assert_eq!(event["DTEND"], "20300306T091500Z");
    assert_eq!(event["DTSTAMP"], "20300304T083100Z");
    assert_eq!(event["SUMMARY"], "Appointment with alice");

    // Cancelled by its client: the same event, cancelled, one sequence on.
    app.clock.advance(TimeDelta::minutes(5));
    app.delete(&format!("/v1/reservations/{booked}"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    let (_, events) = parse(&by_bearer(&app, "dr-grey").await.text);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["UID"], uid);
    assert_eq!(event["STATUS"], "CANCELLED");
    assert_eq!(event["SEQUENCE"], "1");
    assert_eq!(event["DTSTART"], "20300306T090000Z");
    assert_eq!(event["DTEND"], "20300306T091500Z");
    assert_eq!(event["DTSTAMP"], "20300304T083600Z");

    // dr-who's feed has only dr-who's booking.
    let (_, events) = parse(&by_bearer(&app, "dr-who").await.text);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["STATUS"], "CONFIRMED");
    assert_ne!(events[0]["UID"], uid);
}

#[tokio::test]
async fn the_feed_reaches_from_30_days_back_to_the_horizon() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let first = book(&app, "alice", &slots[0]).await;
    // The last slot the horizon allows: it ends 365 days from now.
    let horizon_end = start() + Policy::default().max_horizon();
    let far = app
        .publish(
            "dr-grey",
            &[(
                (horizon_end - TimeDelta::minutes(15)).to_rfc3339(),
                horizon_end.to_rfc3339(),
            )],
        )
        .await;
    let far_id = book(&app, "bob", far.body["added"][0]["id"].as_str().unwrap()).await;
    let uids = |text: &str| -> Vec<String> {
        parse(text)
            .1
            .iter()
            .map(|event| event["UID"].clone())
            .collect()
    };
    assert_eq!(
        uids(&by_bearer(&app, "dr-grey").await.text),
        [
            format!("{first}@scheduler-rs"),
            format!("{far_id}@scheduler-rs")
        ]
    );

    // 30 days after the first booking's start it is still served...
    let starts = Utc.with_ymd_and_hms(2030, 3, 6, 9, 0, 0).unwrap();
    app.clock.set(starts + TimeDelta::days(30));
    let served = uids(&by_bearer(&app, "dr-grey").await.text);
    assert_eq!(served[0], format!("{first}@scheduler-rs"));
    // ...and a second later it is not.
    app.clock.advance(TimeDelta::seconds(1));
    let served = uids(&by_bearer(&app, "dr-grey").await.text);
    assert_eq!(served, [format!("{far_id}@scheduler-rs")]);
}

#[tokio::test]
async fn the_feed_pages_through_every_booking() {
    let store = Arc::new(MemoryStore::new());
    let app = TestApp::with(Options {
        store: Box::new(Arc::clone(&store)),
        ..Options::default()
    });
    // More bookings than the largest page (500), made through the core on
    // the same store and clock.
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let core = Scheduler::new(Arc::clone(&store), clock, Policy::default());
    let provider = ProviderId::new("dr-grey").unwrap();
    let from = Utc.with_ymd_and_hms(2030, 3, 6, 0, 0, 0).unwrap();
    let window = Window::new(from, from + TimeDelta::days(6)).unwrap();
    core.add_availability(&provider, &[window], Precondition::Any)
        .await
        .unwrap();
    let range = TimeRange::new(from, from + TimeDelta::minutes(15 * 501)).unwrap();
    let slots = core
        .list_slots(&provider, ListQuery::new(range).limit(500))
        .await
        .unwrap();
    let mut slot_ids: Vec<_> = slots.items.iter().map(|slot| slot.id.clone()).collect();
    let rest = core
        .list_slots(
            &provider,
            ListQuery::new(range).cursor(slots.next_cursor.unwrap()),
        )
        .await
        .unwrap();
    slot_ids.extend(rest.items.iter().map(|slot| slot.id.clone()));
    assert_eq!(slot_ids.len(), 501);
    let client = ClientId::new("alice").unwrap();
    for slot in &slot_ids {
        let held = core.reserve(slot, &client, None).await.unwrap();
        core.confirm(held.id, &client).await.unwrap();
    }

    let (_, events) = parse(&by_bearer(&app, "dr-grey").await.text);
    assert_eq!(events.len(), 501);
    assert_eq!(events[0]["DTSTART"], "20300306T000000Z");
    assert_eq!(events[500]["DTSTART"], "20300311T050000Z");
}

#[tokio::test]
async fn long_lines_are_folded_at_75_octets_with_crlf() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let client = "c".repeat(128);
    book(&app, &client, &slots[0]).await;
    let text = by_bearer(&app, "dr-grey").await.text;
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"), "{text}");
    let mut continued = 0;
    for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
        assert!(!line.contains(['\r', '\n']), "a bare line end: {line:?}");
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        continued += usize::from(line.starts_with(' '));
    }
    assert!(continued >= 2, "SUMMARY is folded: {text}");
    let (_, events) = parse(&text);
    assert_eq!(events[0]["SUMMARY"], format!("Appointment with {client}"));
}

#[tokio::test]
async fn a_token_opens_its_feed_until_revoked_while_another_still_works() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    book(&app, "alice", &slots[0]).await;
    let first = issue(&app, "dr-grey").await;
    app.clock.advance(TimeDelta::seconds(1));
    let second = issue(&app, "dr-grey").await;
    let (token, other) = (
        first["token"].as_str().unwrap(),
        second["token"].as_str().unwrap(),
    );
    let invalid = |reply: Reply| {
        reply
            .problem(StatusCode::UNAUTHORIZED, "invalid_feed_token")
            .field("token");
    };
    by_token(&app, "dr-grey", token)
        .await
        .expect(StatusCode::OK);
    by_token(&app, "dr-grey", other)
        .await
        .expect(StatusCode::OK);

    // A wrong secret, and the right token on another provider's feed.
    let (id, secret) = token.split_once('.').unwrap();
    let mut flipped = secret.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let wrong = format!("{id}.{}", String::from_utf8(flipped).unwrap());
    invalid(by_token(&app, "dr-grey", &wrong).await);
    invalid(by_token(&app, "dr-who", token).await);

    // Revoked: refused from that instant; the other token still opens the feed.
    app.clock.advance(TimeDelta::minutes(1));
    let path = format!("{}/{id}", tokens_path("dr-grey"));
    let revoked = app
        .delete(&path)
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        revoked.body,
        json!({ "id": id, "createdAt": "2030-03-04T08:00:00Z", "revokedAt": "2030-03-04T08:01:01Z" })
    );
    invalid(by_token(&app, "dr-grey", token).await);
    by_token(&app, "dr-grey", other)
        .await
        .expect(StatusCode::OK);

    // Revoking again changes nothing; the listing shows when.
    app.clock.advance(TimeDelta::minutes(1));
    let again = app
        .delete(&path)
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.body, revoked.body);
    let listed = app
        .get(&tokens_path("dr-grey"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        listed.body["tokens"][0]["revokedAt"],
        "2030-03-04T08:01:01Z"
    );
    assert_eq!(listed.body["tokens"][1]["revokedAt"], Value::Null);

    // Unknown, and another provider's, are both 404 naming the token id.
    for (provider, token_id) in [("dr-grey", "0123456789abcdef"), ("dr-who", id)] {
        app.delete(&format!("{}/{token_id}", tokens_path(provider)))
            .bearer(&app.provider(provider))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "feed_token_not_found")
            .field("tokenId");
    }
    app.delete(&format!("{}/a%2Fb", tokens_path("dr-grey")))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("tokenId");
}

#[tokio::test]
async fn malformed_feed_tokens_are_refused_alike() {
    let app = TestApp::new();
    let token = issue(&app, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (id, secret) = token.split_once('.').unwrap();
    for bad in [
        String::new(),
        id.to_owned(),
        format!("{id}."),
        format!(".{secret}"),
        secret.to_owned(),
        token.to_uppercase(),
        format!("{token}0"),
        format!("{id}.{}", &secret[1..]),
        format!("{id}x.{secret}"),
        format!("{id}.{secret}.{secret}"),
        "%FF%FE".to_owned(),
        "'%20OR%20'1'='1".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "a".repeat(10_000),
    ] {
        let reply = by_token(&app, "dr-grey", &bad).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{bad:.40}: {}",
            reply.text
        );
        let reply = reply
            .problem(StatusCode::UNAUTHORIZED, "invalid_feed_token")
            .field("token");
        assert_eq!(
            reply.header("www-authenticate"),
            "Bearer realm=\"scheduler\""
        );
        assert!(!reply.text.contains(secret));
    }
}

#[tokio::test]
async fn the_feed_by_bearer_follows_the_calendar_owner_rules() {
    let app = TestApp::new();
    let path = feed_path("dr-grey");
    app.get(&path)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "missing_token");
    app.get(&path)
        .bearer(&app.client("dr-grey"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "wrong_role");
    app.get(&path)
        .bearer(&app.provider("dr-who"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    // The feed takes no range: any parameter but `token` is refused.
    app.get(&format!("{path}?from=2030-03-06T00:00:00Z"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("from");
    // Both credentials at once: refused, whichever would have worked.
    let token = issue(&app, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("{path}?token={token}"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "ambiguous_credentials")
        .field("token");
    app.get(&format!("{path}?token={token}&token={token}"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("token");
}

#[tokio::test]
async fn a_feed_token_works_nowhere_else() {
    let app = TestApp::new();
    let token = issue(&app, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not a JWT: as a bearer token it is refused, on the feed itself too.
    for path in [
        "/v1/providers/dr-grey/reservations".to_owned(),
        "/v1/providers/dr-grey/slots".to_owned(),
        tokens_path("dr-grey"),
        feed_path("dr-grey"),
    ] {
        app.get(&path)
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    // In the query of another route it is an unknown parameter.
    app.get(&format!("/v1/providers/dr-grey/reservations?token={token}"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("token");
    // And alone, it authenticates nothing.
    app.get(&format!("/v1/providers/dr-grey/reservations?token={token}"))
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn reads_by_feed_token_are_charged_to_the_provider() {
    // The token is issued through an unlimited app on the same store, so the
    // limited one starts with every bucket full (one request a second).
    let store = Arc::new(MemoryStore::new());
    let tokens: Arc<dyn FeedTokenStore> = Arc::new(MemoryFeedTokens::default());
    let issuer = TestApp::with(Options {
        store: Box::new(Arc::clone(&store)),
        feed_tokens: Arc::clone(&tokens),
        ..Options::default()
    });
    let app = TestApp::with(Options {
        store: Box::new(Arc::clone(&store)),
        feed_tokens: tokens,
        rate_limit: Some(1),
        ..Options::default()
    });
    let token = issue(&issuer, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Guesses charge nobody: the provider's bucket is still full after them.
    let wrong = format!("{}.{}", &token[..16], "0".repeat(64));
    for _ in 0..3 {
        by_token(&app, "dr-grey", &wrong)
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_feed_token");
    }
    by_token(&app, "dr-grey", &token)
        .await
        .expect(StatusCode::OK);
    by_token(&app, "dr-grey", &token)
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // The read spent the same bucket as the provider's bearer requests.
    app.get(&tokens_path("dr-grey"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    app.get(&tokens_path("dr-who"))
        .bearer(&app.provider("dr-who"))
        .send()
        .await
        .expect(StatusCode::OK);
}

/// A writer the log lines of one test go to.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_the_logs() {
    let app = TestApp::new();
    let token = issue(&app, "dr-grey").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = token.split_once('.').unwrap().1.to_owned();
    let captured = Captured::default();
    let writer = captured.clone();
    // tracing caches each callsite's interest process-wide, computed by the
    // first thread to reach it; a test thread without a subscriber would cache
    // "never" and silence the callsite here too. A do-nothing global registry
    // makes every thread's answer "interested", and this test's scoped
    // subscriber then gets the lines of its own thread.
    static QUIET_GLOBAL: std::sync::Once = std::sync::Once::new();
    QUIET_GLOBAL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    {
        // This test's runtime is single-threaded: every span and event of
        // the requests below is on this thread.
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        by_token(&app, "dr-grey", &token)
            .await
            .expect(StatusCode::OK);
        by_token(&app, "dr-grey", &format!("{}0", token))
            .await
            .expect(StatusCode::UNAUTHORIZED);
        app.get(&format!("/v1/providers/dr-grey/reservations?token={token}"))
            .bearer(&app.provider("dr-grey"))
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST);
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The lines are there, with the route's template and the provider...
    assert!(
        logs.contains(r#"route="/v1/providers/{providerId}/bookings.ics""#),
        "{logs}"
    );
    assert!(logs.contains(r#"user="dr-grey""#), "{logs}");
    assert!(
        logs.contains("status=200") && logs.contains("status=401"),
        "{logs}"
    );
    // ...and neither the secret nor the query string that carried it.
    assert!(!logs.contains(&secret), "{logs}");
    assert!(!logs.contains("token="), "{logs}");
}
