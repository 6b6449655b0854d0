//! Limits and failures: the per-user rate limit (429), the request timeout and
//! storage failures (503), and routes or methods that do not exist (404, 405).

use std::time::Duration;

use axum::http::StatusCode;

use super::faults::{Fault, FaultyStore, INTERNALS};
use super::support::{Options, TestApp};
use crate::state::Limits;

#[tokio::test]
async fn the_rate_limit_is_per_user_and_says_when_to_retry() {
    let app = TestApp::with(Options {
        rate_limit: Some(1),
        ..Options::default()
    });
    let path = "/v1/providers/dr-grey/slots";
    let alice = app.client("alice");
    app.get(path)
        .bearer(&alice)
        .send()
        .await
        .expect(StatusCode::OK);
    let limited = app
        .get(path)
        .bearer(&alice)
        .send()
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    // A forwarded-for header names nobody: the limit follows the token.
    app.get(path)
        .bearer(&alice)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another user has a bucket of their own.
    app.get(path)
        .bearer(&app.client("bob"))
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn a_storage_failure_is_503_without_its_internals() {
    let app = TestApp::with(Options {
        store: Box::new(FaultyStore(Fault::Fail)),
        ..Options::default()
    });
    let reply = app
        .get("/v1/me/reservations")
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "storage");
    assert!(!reply.text.contains("10.0.0.7"), "{}", reply.text);
    assert!(!reply.text.contains(INTERNALS), "{}", reply.text);
    assert_eq!(reply.header("retry-after"), "1");
    app.get("/healthz")
        .send()
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "storage");
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_503() {
    let app = TestApp::with(Options {
        store: Box::new(FaultyStore(Fault::Stall)),
        limits: Limits {
            request_timeout: Duration::from_millis(50),
            ..Limits::default()
        },
        ..Options::default()
    });
    app.get("/v1/providers/dr-grey/slots")
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "timeout");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = TestApp::new();
    app.get("/v1/nowhere")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let reply = app
        .call(axum::http::Method::PUT, "/v1/reservations/x")
        .send()
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(reply.header("allow"), "GET,HEAD,DELETE");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new();
    let reply = app.get("/healthz").send().await.expect(StatusCode::OK);
    assert_eq!(reply.header("x-request-id").len(), 36);
    let given = app
        .get("/healthz")
        .header("x-request-id", "trace-me")
        .send()
        .await;
    assert_eq!(given.header("x-request-id"), "trace-me");
}
