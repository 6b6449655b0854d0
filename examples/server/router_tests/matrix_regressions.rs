//! Regressions found by the bad-input and auth matrices, pinned one by one.

use axum::http::StatusCode;
use serde_json::json;

use super::support::{SECRET, TestApp, at};

/// Problems name the input at fault: a missing member, an unknown query
/// parameter, an undecodable path id, a reversed range, an unknown id.
#[tokio::test]
async fn every_refused_input_is_named_in_the_problems_field() {
    let app = TestApp::new();
    let provider = app.provider("dr-grey");
    let alice = app.client("alice");
    let publish = "/v1/providers/dr-grey/availability";
    app.post(publish)
        .bearer(&provider)
        .json(json!({}))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body")
        .field("windows");
    app.post(publish)
        .bearer(&provider)
        .raw("application/json", "{")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json")
        .field("body");
    app.post(publish)
        .bearer(&provider)
        .raw("text/plain", "{}")
        .send()
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        .field("Content-Type");
    app.get(&format!("/v1/providers/dr-grey/slots?form={}", at(6, 9, 0)))
        .bearer(&alice)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("form");
    app.get(&format!(
        "/v1/providers/dr-grey/slots?from={}&to={}",
        at(6, 10, 0),
        at(6, 9, 0)
    ))
    .bearer(&alice)
    .send()
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid_range")
    .field("to");
    // Percent-escaped bytes that are not UTF-8 used to be a field-less `invalid_path`.
    app.get("/v1/providers/%FF/slots")
        .bearer(&alice)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("providerId");
    app.get("/v1/reservations/AAAAAAAAAAAAAAAAAAAAAA")
        .bearer(&alice)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "reservation_not_found")
        .field("reservationId");
    let slots = app.morning("dr-grey").await;
    app.reserve("bob", &slots[0]).await;
    app.post(&format!("/v1/slots/{}/reservations", slots[0]))
        .bearer(&alice)
        .send()
        .await
        .problem(StatusCode::CONFLICT, "slot_unavailable")
        .field("slotId");
}

/// Swagger UI's own refusals (an unknown asset, an undecodable name) used to
/// be a bare 404 and a plain-text 400.
#[tokio::test]
async fn documentation_errors_are_problems_too() {
    let app = TestApp::new();
    app.get("/docs/..%2F..%2FCargo.toml")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "not_found")
        .field("path");
    app.get("/docs/index%FF.html")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_path")
        .field("path");
    app.get("/docs/index.html")
        .send()
        .await
        .expect(StatusCode::OK);
}

/// A token whose `nbf` lies ahead used to be accepted: the JWT library skips
/// `nbf` unless told to check it.
#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_401() {
    let app = TestApp::new();
    let now = jsonwebtoken::get_current_timestamp();
    let early = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "alice", "role": "client", "exp": now + 7200, "nbf": now + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    app.get("/v1/me/reservations")
        .bearer(&early)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "token_not_yet_valid");
    // A past nbf is fine.
    let ready = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "alice", "role": "client", "exp": now + 7200, "nbf": now - 60 }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    app.get("/v1/me/reservations")
        .bearer(&ready)
        .send()
        .await
        .expect(StatusCode::OK);
}
