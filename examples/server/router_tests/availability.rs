//! `POST` and `DELETE /v1/providers/{providerId}/availability`, with ETag and If-Match.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::support::{Options, TestApp, at, keys};
use crate::state::Limits;

const PATH: &str = "/v1/providers/dr-grey/availability";

#[tokio::test]
async fn publishing_answers_201_with_the_new_slots_and_the_calendar_etag() {
    let app = TestApp::new();
    let reply = app.publish("dr-grey", &[(at(6, 9, 0), at(6, 10, 0))]).await;
    assert_eq!(reply.header("etag"), "\"1\"");
    assert_eq!(keys(&reply.body), ["added"]);
    let added = reply.body["added"].as_array().unwrap();
    assert_eq!(added.len(), 4);
    assert_eq!(keys(&added[0]), ["end", "id", "providerId", "start"]);
    assert_eq!(added[0]["providerId"], "dr-grey");
    assert_eq!(added[0]["start"], "2030-03-06T09:00:00Z");
    assert_eq!(added[0]["end"], "2030-03-06T09:15:00Z");
    assert_eq!(added[3]["start"], "2030-03-06T09:45:00Z");

    // Slots are a set: the same window again adds nothing and keeps the version.
    let again = app.publish("dr-grey", &[(at(6, 9, 0), at(6, 10, 0))]).await;
    assert_eq!(again.body, json!({ "added": [] }));
    assert_eq!(again.header("etag"), "\"1\"");
}

#[tokio::test]
async fn offsets_are_converted_to_utc_and_windows_snap_to_the_grid() {
    let app = TestApp::new();
    let reply = app
        .publish(
            "dr-grey",
            &[(
                "2030-03-06T11:07:00+02:00".into(),
                "2030-03-06T11:40:00+02:00".into(),
            )],
        )
        .await;
    let starts: Vec<&Value> = reply.body["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| &slot["start"])
        .collect();
    assert_eq!(starts, ["2030-03-06T09:15:00Z"]);
}

#[tokio::test]
async fn window_rules_are_422_naming_the_window() {
    let app = TestApp::new();
    let cases = [
        ((at(4, 6, 0), at(4, 7, 0)), "window_in_past"),
        (
            (
                "2031-03-10T09:00:00Z".to_owned(),
                "2031-03-10T10:00:00Z".to_owned(),
            ),
            "beyond_horizon",
        ),
        (
            (at(5, 9, 0), "2030-04-10T09:00:00Z".to_owned()),
            "window_too_long",
        ),
        ((at(6, 9, 1), at(6, 9, 14)), "empty_window"),
    ];
    for ((start, end), code) in cases {
        app.post(PATH)
            .bearer(&app.provider("dr-grey"))
            .json(json!({ "windows": [
                { "start": at(6, 9, 0), "end": at(6, 10, 0) },
                { "start": start, "end": end },
            ] }))
            .send()
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, code)
            .field("windows[1]");
    }
    // All or nothing: the valid first window was not added either.
    let listed = app
        .get("/v1/providers/dr-grey/slots")
        .bearer(&app.client("alice"))
        .send()
        .await;
    assert_eq!(listed.body["slots"], json!([]));
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_field() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    app.post(PATH)
        .bearer(&token)
        .json(json!({ "windows": [{ "start": at(6, 10, 0), "end": at(6, 9, 0) }] }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_window")
        .field("windows[0]");
    app.post(PATH)
        .bearer(&token)
        .json(json!({ "windows": [{ "start": "tomorrow", "end": at(6, 9, 0) }] }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body")
        .field("windows[0].start");
    app.post(PATH)
        .bearer(&token)
        .json(json!({ "windows": [{ "start": at(6, 9, 0) }] }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body")
        .field("windows[0].end");
    app.post(PATH)
        .bearer(&token)
        .json(json!({}))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body");
    app.post(PATH)
        .bearer(&token)
        .raw("application/json", r#"{"windows": ["#)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    app.post(PATH)
        .bearer(&token)
        .raw("application/json", r#"{"windows": []} trailing"#)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    app.post("/v1/providers/dr%20grey/availability")
        .bearer(&token)
        .json(json!({ "windows": [] }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("providerId");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::new();
    app.post(PATH)
        .bearer(&app.provider("dr-grey"))
        .raw("text/plain", "windows")
        .send()
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // A structured `+json` type is JSON too.
    app.post(PATH)
        .bearer(&app.provider("dr-grey"))
        .raw(
            "application/merge-patch+json; charset=utf-8",
            r#"{"windows":[]}"#,
        )
        .send()
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::with(Options {
        limits: Limits {
            body_bytes: 256,
            ..Limits::default()
        },
        ..Options::default()
    });
    let windows: Vec<Value> = (0..20)
        .map(|_| json!({ "start": at(6, 9, 0), "end": at(6, 10, 0) }))
        .collect();
    app.post(PATH)
        .bearer(&app.provider("dr-grey"))
        .json(json!({ "windows": windows }))
        .send()
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
}

#[tokio::test]
async fn withdrawing_removes_free_slots_and_reports_the_booked_ones() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[1]).await;
    let reply = app
        .delete(&format!("{PATH}?from={}&to={}", at(6, 9, 0), at(6, 10, 0)))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(keys(&reply.body), ["conflicts", "removed"]);
    let removed: Vec<&Value> = reply.body["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| &slot["start"])
        .collect();
    assert_eq!(
        removed,
        [
            "2030-03-06T09:00:00Z",
            "2030-03-06T09:30:00Z",
            "2030-03-06T09:45:00Z"
        ]
    );
    assert_eq!(reply.body["conflicts"], json!([hold]));
    assert_eq!(reply.header("etag"), "\"2\"");

    // With no range, everything free goes; the hold stays.
    let rest = app
        .delete(PATH)
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(rest.body["removed"].as_array().unwrap().len(), 8);
    assert_eq!(rest.body["conflicts"][0]["id"], hold["id"]);
}

#[tokio::test]
async fn withdrawal_ranges_are_checked() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    app.delete(&format!("{PATH}?from={}&to={}", at(6, 10, 0), at(6, 9, 0)))
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_range");
    app.delete(&format!("{PATH}?from=yesterday"))
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("from");
    // A misspelt parameter must not widen a withdrawal to all time.
    app.delete(&format!("{PATH}?form={}", at(6, 9, 0)))
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query");
    // An unencoded `+` offset arrives as a space; it still reads as the offset.
    app.delete(&format!("{PATH}?from=2030-03-06T09:00:00+01:00"))
        .bearer(&token)
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn if_match_makes_availability_writes_conditional() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    let listed = app
        .get("/v1/providers/dr-grey/slots")
        .bearer(&token)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed.header("etag"), "\"0\"");
    let window = json!({ "windows": [{ "start": at(6, 9, 0), "end": at(6, 10, 0) }] });

    let first = app
        .post(PATH)
        .bearer(&token)
        .header("if-match", "\"0\"")
        .json(window.clone())
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(first.header("etag"), "\"1\"");

    // A writer still holding the old ETag is refused, and nothing changes.
    app.post(PATH)
        .bearer(&token)
        .header("if-match", "\"0\"")
        .json(json!({ "windows": [{ "start": at(7, 9, 0), "end": at(7, 10, 0) }] }))
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed")
        .field("If-Match");
    app.delete(PATH)
        .bearer(&token)
        .header("if-match", "\"0\"")
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed");
    let now = app
        .get("/v1/providers/dr-grey/slots")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(now.header("etag"), "\"1\"");
    assert_eq!(now.body["slots"].as_array().unwrap().len(), 4);

    // The current ETag, or `*`, lets the write through.
    let withdrawn = app
        .delete(PATH)
        .bearer(&token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(withdrawn.header("etag"), "\"2\"");
    app.post(PATH)
        .bearer(&token)
        .header("if-match", "*")
        .json(window)
        .send()
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn if_match_values_that_cannot_match_are_refused() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    let body = json!({ "windows": [{ "start": at(6, 9, 0), "end": at(6, 10, 0) }] });
    for weak_or_foreign in ["W/\"0\"", "\"v0\""] {
        app.post(PATH)
            .bearer(&token)
            .header("if-match", weak_or_foreign)
            .json(body.clone())
            .send()
            .await
            .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed");
    }
    for malformed in ["0", "\"0\", \"1\""] {
        app.post(PATH)
            .bearer(&token)
            .header("if-match", malformed)
            .json(body.clone())
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid_if_match")
            .field("If-Match");
    }
}
