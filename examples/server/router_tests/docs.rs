//! `/openapi.json` (equal to the committed examples/server/openapi.json),
//! `/docs` and `/healthz`.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::support::TestApp;

/// The committed document. Regenerate it with
/// `UPDATE_OPENAPI=1 cargo test -p scheduler-examples --example server openapi`.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/server/openapi.json");

#[tokio::test]
async fn the_served_openapi_document_equals_the_committed_one() {
    let app = TestApp::new();
    let served = app
        .get("/openapi.json")
        .send()
        .await
        .expect(StatusCode::OK)
        .body;
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(COMMITTED, text).unwrap();
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(COMMITTED).expect("examples/server/openapi.json exists"),
    )
    .unwrap();
    assert!(
        served == committed,
        "the API changed: review it, then regenerate examples/server/openapi.json with \
         UPDATE_OPENAPI=1 cargo test -p scheduler-examples --example server openapi"
    );
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_covers_every_route() {
    let app = TestApp::new();
    let spec = app.get("/openapi.json").send().await.body;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut routes = BTreeSet::new();
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method != "parameters" {
                routes.insert(format!("{} {path}", method.to_uppercase()));
                let id = operation["operationId"].as_str().unwrap();
                assert!(operations.insert(id), "operationId {id} is not unique");
            }
        }
    }
    let expected: BTreeSet<String> = [
        "POST /v1/providers/{providerId}/availability",
        "DELETE /v1/providers/{providerId}/availability",
        "GET /v1/providers/{providerId}/slots",
        "POST /v1/slots/{slotId}/reservations",
        "POST /v1/reservations/{id}/confirm",
        "GET /v1/reservations/{id}",
        "DELETE /v1/reservations/{id}",
        "GET /v1/providers/{providerId}/reservations",
        "GET /v1/me/reservations",
        "GET /healthz",
        "POST /v1/providers/{providerId}/feed-tokens",
        "GET /v1/providers/{providerId}/feed-tokens",
        "DELETE /v1/providers/{providerId}/feed-tokens/{tokenId}",
        "GET /v1/providers/{providerId}/bookings.ics",
        "PUT /v1/providers/{providerId}/schedule",
        "GET /v1/providers/{providerId}/schedule",
        "DELETE /v1/providers/{providerId}/schedule",
        "PUT /v1/providers/{providerId}/services/{serviceId}",
        "GET /v1/providers/{providerId}/services/{serviceId}",
        "DELETE /v1/providers/{providerId}/services/{serviceId}",
        "GET /v1/providers/{providerId}/services",
        "POST /v1/reservations/{id}/reschedule",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for name in [
        "Slot",
        "Reservation",
        "ReservationStatus",
        "Window",
        "Problem",
        "FeedToken",
        "IssuedFeedToken",
        "Schedule",
        "StoredSchedule",
        "ScheduleApplied",
        "LocalSlot",
        "Service",
        "ServiceInput",
        "ServiceList",
        "RescheduleBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let feed_token = &spec["components"]["securitySchemes"]["feedToken"];
    assert_eq!(
        (&feed_token["type"], &feed_token["in"], &feed_token["name"]),
        (&json!("apiKey"), &json!("query"), &json!("token"))
    );
    let feed = &spec["paths"]["/v1/providers/{providerId}/bookings.ics"]["get"];
    assert!(
        feed["responses"]["200"]["content"]["text/calendar"].is_object(),
        "{feed}"
    );
    assert_eq!(
        feed["security"],
        json!([{ "bearer": [] }, { "feedToken": [] }])
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::new();
    let page = app.get("/docs/").send().await.expect(StatusCode::OK);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let config = app
        .get("/docs/swagger-initializer.js")
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(config.text.contains("/openapi.json"), "{}", config.text);
    let css = app.get("/docs/swagger-ui.css").send().await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        !css.text.contains("https://"),
        "the UI must not load remote assets"
    );
}

#[tokio::test]
async fn healthz_answers_ok_without_a_token() {
    let app = TestApp::new();
    let reply = app.get("/healthz").send().await.expect(StatusCode::OK);
    assert_eq!(reply.body, json!({ "status": "ok" }));
}
