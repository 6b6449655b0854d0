//! `PUT`, `GET` and `DELETE /v1/providers/{providerId}/schedule`, and the slot
//! listing read in a time zone (`?tz=`).

use axum::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::support::{Reply, TestApp, at, keys};

const PATH: &str = "/v1/providers/dr-grey/schedule";
const SLOTS: &str = "/v1/providers/dr-grey/slots";

/// Wednesdays 09:00-12:00 in London, closed on Christmas Day 2030 (a Wednesday).
fn wednesdays() -> Value {
    json!({
        "timeZone": "Europe/London",
        "weekly": { "wed": [{ "start": "09:00", "end": "12:00" }] },
        "exceptions": [{ "date": "2030-12-25", "ranges": [] }]
    })
}

async fn put(app: &TestApp, provider: &str, token: &str, body: Value) -> Reply {
    app.call(Method::PUT, &format!("/v1/providers/{provider}/schedule"))
        .bearer(token)
        .json(body)
        .send()
        .await
}

async fn put_as_owner(app: &TestApp, body: Value) -> Reply {
    put(app, "dr-grey", &app.provider("dr-grey"), body).await
}

async fn get(app: &TestApp) -> Reply {
    app.get(PATH).bearer(&app.client("alice")).send().await
}

/// The listing of `[from, to)` (`from` and `to` in RFC 3339 with `Z`), `tz` appended when given.
async fn list(app: &TestApp, from: &str, to: &str, tz: Option<&str>) -> Reply {
    let mut uri = format!("{SLOTS}?from={from}&to={to}&limit=500");
    if let Some(tz) = tz {
        uri.push_str(&format!("&tz={tz}"));
    }
    app.get(&uri).bearer(&app.client("alice")).send().await
}

fn field<'a>(items: &'a Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_schedule_put_becomes_slots_and_reads_back_with_the_same_etag() {
    let app = TestApp::new();
    get(&app)
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found")
        .field("providerId");

    let reply = put_as_owner(&app, wednesdays())
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        keys(&reply.body),
        ["added", "conflicts", "removed", "schedule", "through"]
    );
    assert_eq!(reply.body["schedule"], wednesdays());
    // A year from Monday 2030-03-04 08:00: 52 Wednesdays, one closed, 12 slots each.
    assert_eq!(reply.body["through"], "2031-03-04T08:00:00Z");
    let added = field(&reply.body["added"], "start");
    assert_eq!(added.len(), 51 * 12);
    assert_eq!(added[0], "2030-03-06T09:00:00Z");
    assert_eq!(added[11], "2030-03-06T11:45:00Z");
    // London's clocks go forward on 31 March: 09:00 is then 08:00 UTC.
    assert_eq!(added[3 * 12], "2030-03-27T09:00:00Z");
    assert_eq!(added[4 * 12], "2030-04-03T08:00:00Z");
    assert!(!added.iter().any(|start| start.starts_with("2030-12-25")));
    assert_eq!(
        keys(&reply.body["added"][0]),
        ["end", "id", "providerId", "start"]
    );
    assert_eq!(reply.body["removed"], json!([]));
    assert_eq!(reply.body["conflicts"], json!([]));
    let etag = reply.header("etag").to_owned();
    assert_eq!(etag, "\"2\"", "the slots, then the schedule itself");

    // Read back by anyone, in either role, with the calendar's ETag.
    for token in [app.client("alice"), app.provider("dr-who")] {
        let read = app
            .get(PATH)
            .bearer(&token)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            read.body,
            json!({ "schedule": wednesdays(), "through": "2031-03-04T08:00:00Z" })
        );
        assert_eq!(read.header("etag"), etag);
        assert_eq!(read.header("content-type"), "application/json");
    }
    // The slot listing carries the same ETag.
    let listed = list(&app, &at(6, 0, 0), &at(7, 0, 0), None).await;
    assert_eq!(listed.header("etag"), etag);
    assert_eq!(field(&listed.body["slots"], "start").len(), 12);

    // The same schedule again changes nothing, not even the version.
    let again = put_as_owner(&app, wednesdays())
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (&again.body["added"], &again.body["removed"]),
        (&json!([]), &json!([]))
    );
    assert_eq!(again.header("etag"), etag);
}

#[tokio::test]
async fn ranges_read_back_in_order_and_weekdays_without_ranges_are_left_out() {
    let app = TestApp::new();
    let body = json!({
        "timeZone": "UTC",
        "weekly": {
            "mon": [],
            "thu": [{ "start": "13:00", "end": "24:00" }, { "start": "09:00", "end": "12:00" }]
        }
    });
    let reply = put_as_owner(&app, body).await.expect(StatusCode::OK);
    let expected = json!({
        "timeZone": "UTC",
        "weekly": {
            "thu": [{ "start": "09:00", "end": "12:00" }, { "start": "13:00", "end": "24:00" }]
        },
        "exceptions": []
    });
    assert_eq!(reply.body["schedule"], expected);
    assert_eq!(get(&app).await.body["schedule"], expected);
    // 24:00 ends the day: the last slot of Thursday 7 March is 23:45.
    let thursday = list(&app, &at(7, 0, 0), &at(8, 0, 0), None).await;
    let starts = field(&thursday.body["slots"], "start");
    assert_eq!(starts.len(), 12 + 44);
    assert_eq!(starts.last(), Some(&"2030-03-07T23:45:00Z"));
}

#[tokio::test]
async fn held_and_booked_slots_the_new_schedule_drops_stay_and_are_reported() {
    let app = TestApp::new();
    let added = put_as_owner(&app, wednesdays())
        .await
        .expect(StatusCode::OK);
    let ids = field(&added.body["added"], "id");
    let hold = app.reserve("alice", ids[0]).await;
    let booking = app.reserve("bob", ids[1]).await;
    let booking_id = booking["id"].as_str().unwrap();
    app.post(&format!("/v1/reservations/{booking_id}/confirm"))
        .bearer(&app.client("bob"))
        .send()
        .await
        .expect(StatusCode::OK);

    // From 10:00 instead of 09:00: the first hour goes, but not the two
    // slots of Wednesday 6 March that are held and booked.
    let later = json!({
        "timeZone": "Europe/London",
        "weekly": { "wed": [{ "start": "10:00", "end": "12:00" }] },
        "exceptions": [{ "date": "2030-12-25", "ranges": [] }]
    });
    let reply = put_as_owner(&app, later.clone())
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["added"], json!([]));
    let conflicts = reply.body["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 2);
    assert_eq!(conflicts[0]["id"], hold["id"]);
    assert_eq!(conflicts[0]["status"], "held");
    assert_eq!(conflicts[0]["start"], at(6, 9, 0));
    assert_eq!(conflicts[1]["id"], booking["id"]);
    assert_eq!(conflicts[1]["status"], "confirmed");
    assert_eq!(conflicts[1]["clientId"], "bob");
    assert_eq!(
        keys(&conflicts[1]),
        [
            "clientId",
            "confirmedAt",
            "createdAt",
            "end",
            "expiresAt",
            "id",
            "providerId",
            "serviceId",
            "slotId",
            "start",
            "status"
        ]
    );
    // Removed: the two free slots of that first hour, and the whole first
    // hour of every later open Wednesday.
    let removed = field(&reply.body["removed"], "start");
    assert_eq!(removed.len(), 2 + 50 * 4);
    assert_eq!(&removed[..3], [at(6, 9, 30), at(6, 9, 45), at(13, 9, 0)]);
    assert_eq!(reply.body["schedule"], later);

    // The booking stands, and the provider still sees both appointments.
    let read = app
        .get(&format!("/v1/reservations/{booking_id}"))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.body["status"], "confirmed");
    let appointments = app
        .get("/v1/providers/dr-grey/reservations")
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        field(&appointments.body["reservations"], "start"),
        [at(6, 9, 0), at(6, 9, 15)]
    );
    // Wednesday 6 March now lists from 10:00.
    let listed = list(&app, &at(6, 0, 0), &at(7, 0, 0), None).await;
    assert_eq!(field(&listed.body["slots"], "start")[0], at(6, 10, 0));
}

#[tokio::test]
async fn if_match_applies_the_schedule_only_at_the_current_version() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    let conditional = |body: Value, tag: &str| {
        app.call(Method::PUT, PATH)
            .bearer(&token)
            .header("if-match", tag)
            .json(body)
    };
    // Version 0 is a calendar never written.
    let first = conditional(wednesdays(), "\"0\"")
        .send()
        .await
        .expect(StatusCode::OK);
    let current = first.header("etag").to_owned();
    let before = list(&app, &at(6, 0, 0), &at(7, 0, 0), None).await;

    let other =
        json!({ "timeZone": "UTC", "weekly": { "thu": [{ "start": "09:00", "end": "10:00" }] } });
    for stale in ["\"0\"", "\"1\"", "\"99\""] {
        conditional(other.clone(), stale)
            .send()
            .await
            .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed")
            .field("If-Match");
    }
    // Nothing changed: the same schedule, the same slots, the same version.
    let read = get(&app).await.expect(StatusCode::OK);
    assert_eq!(read.body["schedule"], wednesdays());
    assert_eq!(read.header("etag"), current);
    let after = list(&app, &at(6, 0, 0), &at(8, 0, 0), None).await;
    assert_eq!(after.body, before.body);

    let applied = conditional(other.clone(), &current)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(applied.body["schedule"]["timeZone"], "UTC");
    assert_eq!(field(&applied.body["removed"], "start").len(), 51 * 12);
    let next = applied.header("etag");
    assert_ne!(next, current);
    assert_eq!(get(&app).await.header("etag"), next);
    // `*` asks for nothing; a malformed tag is refused.
    conditional(wednesdays(), "*")
        .send()
        .await
        .expect(StatusCode::OK);
    conditional(wednesdays(), "3")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_if_match")
        .field("If-Match");
}

#[tokio::test]
async fn only_the_calendars_owner_sets_or_forgets_its_schedule() {
    let app = TestApp::new();
    put(&app, "dr-grey", &app.provider("dr-who"), wednesdays())
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    put(&app, "dr-grey", &app.client("dr-grey"), wednesdays())
        .await
        .problem(StatusCode::FORBIDDEN, "wrong_role");
    put(&app, "dr-grey", "not-a-token", wednesdays())
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    app.get(PATH)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "missing_token");
    get(&app)
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found");

    put_as_owner(&app, wednesdays())
        .await
        .expect(StatusCode::OK);
    for (token, code) in [
        (app.provider("dr-who"), "forbidden"),
        (app.client("alice"), "wrong_role"),
    ] {
        app.delete(PATH)
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, code);
    }
    assert_eq!(get(&app).await.body["schedule"], wednesdays());
}

#[tokio::test]
async fn forgetting_a_schedule_keeps_its_slots() {
    let app = TestApp::new();
    let owner = app.provider("dr-grey");
    app.delete(PATH)
        .bearer(&owner)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found")
        .field("providerId");
    put_as_owner(&app, wednesdays())
        .await
        .expect(StatusCode::OK);
    let before = list(&app, &at(1, 0, 0), "2031-04-01T00:00:00Z", None).await;

    // A version cannot guard this write: a tag is refused, not ignored.
    app.delete(PATH)
        .bearer(&owner)
        .header("if-match", "\"2\"")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "if_match_unsupported")
        .field("If-Match");
    get(&app).await.expect(StatusCode::OK);

    let gone = app
        .delete(PATH)
        .bearer(&owner)
        .header("if-match", "*")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(gone.text.is_empty());
    get(&app)
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found");
    let after = list(&app, &at(1, 0, 0), "2031-04-01T00:00:00Z", None).await;
    assert_eq!(after.body, before.body, "the slots stay");
    assert_ne!(after.header("etag"), before.header("etag"));
    app.delete(PATH)
        .bearer(&owner)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found");
}

#[tokio::test]
async fn every_broken_rule_is_a_400_naming_its_field_and_stores_nothing() {
    let app = TestApp::new();
    let day = |ranges: Value| json!({ "timeZone": "Europe/London", "weekly": { "mon": ranges } });
    let range = |start: &str, end: &str| json!({ "start": start, "end": end });
    let exceptions = |list: Value| json!({ "timeZone": "UTC", "weekly": {}, "exceptions": list });
    let schedule = "invalid_schedule";
    let body = "invalid_body";
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({ "timeZone": "Mars/Olympus_Mons", "weekly": {} }),
            schedule,
            "timeZone",
        ),
        (
            json!({ "timeZone": "europe/london", "weekly": {} }),
            schedule,
            "timeZone",
        ),
        (
            json!({ "timeZone": "+01:00", "weekly": {} }),
            schedule,
            "timeZone",
        ),
        (
            json!({ "timeZone": "", "weekly": {} }),
            schedule,
            "timeZone",
        ),
        (
            day(json!([range("09:00", "12:00"), range("13:00", "24:30")])),
            schedule,
            "weekly.mon[1].end",
        ),
        (
            day(json!([range("9:00", "12:00")])),
            schedule,
            "weekly.mon[0].start",
        ),
        (
            day(json!([range("09:00:00", "12:00")])),
            schedule,
            "weekly.mon[0].start",
        ),
        (
            day(json!([range("24:00", "24:00")])),
            schedule,
            "weekly.mon[0].start",
        ),
        (
            day(json!([range("12:00", "09:00")])),
            schedule,
            "weekly.mon[0]",
        ),
        (
            day(json!([range("09:00", "09:00")])),
            schedule,
            "weekly.mon[0]",
        ),
        (
            day(json!([range("09:00", "17:00"), range("12:00", "13:00")])),
            schedule,
            "weekly.mon[1]",
        ),
        (
            exceptions(json!([{ "date": "2030-02-30" }])),
            schedule,
            "exceptions[0].date",
        ),
        (
            exceptions(json!([{ "date": "2030-3-6" }])),
            schedule,
            "exceptions[0].date",
        ),
        (
            exceptions(json!([{ "date": "2030-03-06T00:00:00Z" }])),
            schedule,
            "exceptions[0].date",
        ),
        (
            exceptions(json!([{ "date": "2030-03-06" }, { "date": "2030-03-06", "ranges": [] }])),
            schedule,
            "exceptions[1].date",
        ),
        (
            exceptions(
                json!([{ "date": "2030-03-06", "ranges": [range("09:00", "12:00"), range("11:00", "13:00")] }]),
            ),
            schedule,
            "exceptions[0].ranges[1]",
        ),
        (
            exceptions(json!([{ "date": "2030-03-06", "closed": true }])),
            body,
            "exceptions[0].closed",
        ),
        (
            json!({ "timeZone": "UTC", "weekly": { "monday": [] } }),
            body,
            "weekly.monday",
        ),
        (
            json!({ "timeZone": "UTC", "weekly": {}, "providerId": "dr-who" }),
            body,
            "providerId",
        ),
        (
            json!({ "timeZone": "UTC", "weekly": { "mon": [{ "start": "09:00", "end": "10:00", "tz": "UTC" }] } }),
            body,
            "weekly.mon[0].tz",
        ),
        (json!({ "weekly": {} }), body, "timeZone"),
        (json!({ "timeZone": "UTC" }), body, "weekly"),
        (
            json!({ "timeZone": "UTC", "weekly": { "mon": [{ "start": "09:00" }] } }),
            body,
            "weekly.mon[0].end",
        ),
        (
            json!({ "timeZone": "UTC", "weekly": { "mon": [{ "start": 900, "end": "10:00" }] } }),
            body,
            "weekly.mon[0].start",
        ),
        (
            json!({ "timeZone": "UTC", "weekly": { "mon": { "start": "09:00", "end": "10:00" } } }),
            body,
            "weekly.mon",
        ),
        (json!({ "timeZone": 1, "weekly": {} }), body, "timeZone"),
        (json!([]), body, "body"),
        // Objects only: an array never stands for an object's members in order.
        (json!(["UTC", {}]), body, "body"),
        (json!({ "timeZone": "UTC", "weekly": [] }), body, "weekly"),
        (
            json!({ "timeZone": "UTC", "weekly": { "mon": [["09:00", "10:00"]] } }),
            body,
            "weekly.mon[0]",
        ),
        (
            exceptions(json!([["2030-03-06", []]])),
            body,
            "exceptions[0]",
        ),
        (
            exceptions(json!([{ "date": "2030-03-06", "ranges": [["09:00", "10:00"]] }])),
            body,
            "exceptions[0].ranges[0]",
        ),
    ];
    for (value, code, at_fault) in cases {
        let reply = put_as_owner(&app, value.clone()).await;
        assert_eq!(reply.body["field"], at_fault, "{value}: {}", reply.text);
        reply.problem(StatusCode::BAD_REQUEST, code);
    }
    app.call(Method::PUT, PATH)
        .bearer(&app.provider("dr-grey"))
        .raw("application/json", r#"{"timeZone": "UTC", "weekly": {"#)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json")
        .field("body");
    app.call(Method::PUT, PATH)
        .bearer(&app.provider("dr-grey"))
        .raw("text/plain", wednesdays().to_string())
        .send()
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        .field("Content-Type");
    // Nothing was stored, and no slot was made.
    get(&app)
        .await
        .problem(StatusCode::NOT_FOUND, "schedule_not_found");
    let listed = list(&app, &at(1, 0, 0), "2031-04-01T00:00:00Z", None).await;
    assert_eq!(listed.body["slots"], json!([]));
    assert_eq!(listed.header("etag"), "\"0\"");
}

/// New York on a Sunday schedule of 01:00-04:00, from 1 March 2027.
async fn new_york_sundays() -> TestApp {
    let app = TestApp::new();
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    let body = json!({
        "timeZone": "America/New_York",
        "weekly": { "sun": [{ "start": "01:00", "end": "04:00" }] }
    });
    put_as_owner(&app, body).await.expect(StatusCode::OK);
    app
}

/// `(start, localStart, offset)` of every slot listed.
fn local_readings(reply: &Reply) -> Vec<(String, String, String)> {
    reply.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| {
            assert_eq!(
                keys(slot),
                ["end", "id", "localStart", "offset", "providerId", "start"]
            );
            let text = |key: &str| slot[key].as_str().unwrap().to_owned();
            (text("start"), text("localStart"), text("offset"))
        })
        .collect()
}

fn readings(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test]
async fn across_spring_forward_the_offset_changes_from_one_slot_to_the_next() {
    let app = new_york_sundays().await;
    // 14 March 2027: 02:00 EST jumps to 03:00 EDT, so 01:00-04:00 is two real hours.
    let reply = list(
        &app,
        "2027-03-14T00:00:00Z",
        "2027-03-15T00:00:00Z",
        Some("America/New_York"),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        local_readings(&reply),
        readings(&[
            ("2027-03-14T06:00:00Z", "2027-03-14T01:00:00", "-05:00"),
            ("2027-03-14T06:15:00Z", "2027-03-14T01:15:00", "-05:00"),
            ("2027-03-14T06:30:00Z", "2027-03-14T01:30:00", "-05:00"),
            ("2027-03-14T06:45:00Z", "2027-03-14T01:45:00", "-05:00"),
            ("2027-03-14T07:00:00Z", "2027-03-14T03:00:00", "-04:00"),
            ("2027-03-14T07:15:00Z", "2027-03-14T03:15:00", "-04:00"),
            ("2027-03-14T07:30:00Z", "2027-03-14T03:30:00", "-04:00"),
            ("2027-03-14T07:45:00Z", "2027-03-14T03:45:00", "-04:00"),
        ])
    );
    // The week before and after, each on its own offset.
    let before = list(
        &app,
        "2027-03-07T00:00:00Z",
        "2027-03-08T00:00:00Z",
        Some("America/New_York"),
    )
    .await;
    let before = local_readings(&before);
    assert_eq!(before.len(), 12);
    assert_eq!(
        before[0],
        readings(&[("2027-03-07T06:00:00Z", "2027-03-07T01:00:00", "-05:00")])[0]
    );
    let after = list(
        &app,
        "2027-03-21T00:00:00Z",
        "2027-03-22T00:00:00Z",
        Some("America/New_York"),
    )
    .await;
    let after = local_readings(&after);
    assert_eq!(after.len(), 12);
    assert_eq!(
        after[0],
        readings(&[("2027-03-21T05:00:00Z", "2027-03-21T01:00:00", "-04:00")])[0]
    );
}

#[tokio::test]
async fn across_fall_back_the_repeated_hour_is_listed_twice_with_its_two_offsets() {
    let app = new_york_sundays().await;
    // 7 November 2027: 02:00 EDT falls back to 01:00 EST, so 01:00-04:00 is four real hours.
    let reply = list(
        &app,
        "2027-11-07T00:00:00Z",
        "2027-11-08T00:00:00Z",
        Some("America/New_York"),
    )
    .await
    .expect(StatusCode::OK);
    let all = local_readings(&reply);
    assert_eq!(all.len(), 16);
    assert_eq!(
        &all[..9],
        readings(&[
            ("2027-11-07T05:00:00Z", "2027-11-07T01:00:00", "-04:00"),
            ("2027-11-07T05:15:00Z", "2027-11-07T01:15:00", "-04:00"),
            ("2027-11-07T05:30:00Z", "2027-11-07T01:30:00", "-04:00"),
            ("2027-11-07T05:45:00Z", "2027-11-07T01:45:00", "-04:00"),
            ("2027-11-07T06:00:00Z", "2027-11-07T01:00:00", "-05:00"),
            ("2027-11-07T06:15:00Z", "2027-11-07T01:15:00", "-05:00"),
            ("2027-11-07T06:30:00Z", "2027-11-07T01:30:00", "-05:00"),
            ("2027-11-07T06:45:00Z", "2027-11-07T01:45:00", "-05:00"),
            ("2027-11-07T07:00:00Z", "2027-11-07T02:00:00", "-05:00"),
        ])
    );
    assert_eq!(
        all[15],
        readings(&[("2027-11-07T08:45:00Z", "2027-11-07T03:45:00", "-05:00")])[0]
    );
    // Read in another zone, the same slots carry that zone's readings.
    let utc = list(
        &app,
        "2027-11-07T00:00:00Z",
        "2027-11-08T00:00:00Z",
        Some("UTC"),
    )
    .await;
    assert_eq!(
        local_readings(&utc)[0],
        readings(&[("2027-11-07T05:00:00Z", "2027-11-07T05:00:00", "+00:00")])[0]
    );
    let kolkata = list(
        &app,
        "2027-11-07T00:00:00Z",
        "2027-11-08T00:00:00Z",
        Some("Asia/Kolkata"),
    )
    .await;
    assert_eq!(
        local_readings(&kolkata)[0],
        readings(&[("2027-11-07T05:00:00Z", "2027-11-07T10:30:00", "+05:30")])[0]
    );
}

#[tokio::test]
async fn without_tz_the_listing_is_exactly_the_plain_one() {
    let app = TestApp::new();
    let added = app.publish("dr-grey", &[(at(6, 9, 0), at(6, 9, 15))]).await;
    let id = added.body["added"][0]["id"].as_str().unwrap();
    let plain = list(&app, &at(6, 0, 0), &at(7, 0, 0), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        plain.text,
        format!(
            r#"{{"slots":[{{"id":"{id}","providerId":"dr-grey","start":"2030-03-06T09:00:00Z","end":"2030-03-06T09:15:00Z"}}],"nextCursor":null}}"#
        )
    );
    let local = list(&app, &at(6, 0, 0), &at(7, 0, 0), Some("Europe/London"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        local.text,
        format!(
            r#"{{"slots":[{{"id":"{id}","providerId":"dr-grey","start":"2030-03-06T09:00:00Z","end":"2030-03-06T09:15:00Z","localStart":"2030-03-06T09:00:00","offset":"+00:00"}}],"nextCursor":null}}"#
        )
    );
    assert_eq!(local.header("etag"), plain.header("etag"));
    // Pages walk the same way with tz: the cursor is the plain listing's.
    let first = app
        .get(&format!("{SLOTS}?limit=1&tz=Europe/London"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(first.body["nextCursor"], Value::Null);
}

#[tokio::test]
async fn an_unknown_tz_is_a_400_naming_tz() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    for tz in [
        "Mars/Olympus_Mons",
        "europe/london",
        "",
        "%2B02:00",
        "Europe%2F..%2F..%2Fetc%2Fpasswd",
        "%FF",
    ] {
        app.get(&format!("{SLOTS}?tz={tz}"))
            .bearer(&app.client("alice"))
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid_query")
            .field("tz");
    }
    app.get(&format!("{SLOTS}?tz=UTC&tz=UTC"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("tz");
    // Other listings take no tz.
    app.get("/v1/me/reservations?tz=UTC")
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("tz");
}
