//! Services over HTTP: storing and reading them, listing a service's starts,
//! booking one, and rescheduling.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::support::{TestApp, keys};

const INTAKE: &str = "/v1/providers/dr-grey/services/intake";

/// An intake of 45 minutes with 15 minutes of notes after.
fn intake() -> Value {
    json!({ "name": "Intake", "durationMinutes": 45, "bufferAfterMinutes": 15 })
}

async fn put(app: &TestApp, path: &str, body: Value) -> super::support::Reply {
    app.call(Method::PUT, path)
        .bearer(&app.provider("dr-grey"))
        .json(body)
        .send()
        .await
}

/// The starts `?service=intake` lists for dr-grey now.
async fn intake_starts(app: &TestApp) -> Vec<Value> {
    app.get("/v1/providers/dr-grey/slots?service=intake")
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK)
        .body["slots"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_service_is_created_then_replaced_and_read_by_anyone() {
    let app = TestApp::new();
    let created = put(&app, INTAKE, intake())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.header("location"), INTAKE);
    assert_eq!(
        created.body,
        json!({
            "id": "intake",
            "providerId": "dr-grey",
            "name": "Intake",
            "durationMinutes": 45,
            "bufferBeforeMinutes": 0,
            "bufferAfterMinutes": 15,
            "minNoticeMinutes": null,
            "maxAdvanceDays": null,
        })
    );
    let longer = json!({
        "name": "Intake", "durationMinutes": 60, "minNoticeMinutes": 2880, "maxAdvanceDays": 30
    });
    let replaced = put(&app, INTAKE, longer).await.expect(StatusCode::OK);
    assert_eq!(replaced.body["durationMinutes"], 60);
    let read = app
        .get(INTAKE)
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.body, replaced.body);
    put(
        &app,
        "/v1/providers/dr-grey/services/a-visit",
        json!({"name": "Visit", "durationMinutes": 15}),
    )
    .await
    .expect(StatusCode::CREATED);
    let listed = app
        .get("/v1/providers/dr-grey/services")
        .bearer(&app.provider("dr-who"))
        .send()
        .await
        .expect(StatusCode::OK);
    let ids: Vec<_> = listed.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["a-visit", "intake"]);
}

#[tokio::test]
async fn only_its_provider_writes_a_service() {
    let app = TestApp::new();
    for token in [app.provider("dr-who"), app.client("dr-grey")] {
        let reply = app
            .call(Method::PUT, INTAKE)
            .bearer(&token)
            .json(intake())
            .send()
            .await;
        assert!(
            matches!(reply.status, StatusCode::FORBIDDEN),
            "{:?}",
            reply.body
        );
    }
    put(&app, INTAKE, intake())
        .await
        .expect(StatusCode::CREATED);
    app.delete(INTAKE)
        .bearer(&app.provider("dr-who"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete(INTAKE)
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    for call in [app.get(INTAKE), app.delete(INTAKE)] {
        let token = app.provider("dr-grey");
        call.bearer(&token)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "service_not_found")
            .field("serviceId");
    }
}

#[tokio::test]
async fn a_bad_service_is_refused_naming_the_field() {
    let app = TestApp::new();
    for (body, field) in [
        (
            json!({"name": "Intake", "durationMinutes": 20}),
            "durationMinutes",
        ),
        (
            json!({"name": "Intake", "durationMinutes": 0}),
            "durationMinutes",
        ),
        (
            json!({"name": "Intake", "durationMinutes": 1455}),
            "durationMinutes",
        ),
        (
            json!({"name": "Intake", "durationMinutes": i64::MAX}),
            "durationMinutes",
        ),
        (json!({"name": "", "durationMinutes": 15}), "name"),
        (
            json!({"name": "x".repeat(201), "durationMinutes": 15}),
            "name",
        ),
        (
            json!({"name": "I", "durationMinutes": 15, "bufferBeforeMinutes": 255}),
            "bufferBeforeMinutes",
        ),
        (
            json!({"name": "I", "durationMinutes": 15, "bufferAfterMinutes": -15}),
            "bufferAfterMinutes",
        ),
        (
            json!({"name": "I", "durationMinutes": 15, "minNoticeMinutes": -1}),
            "minNoticeMinutes",
        ),
        (
            json!({"name": "I", "durationMinutes": 15, "maxAdvanceDays": 0}),
            "maxAdvanceDays",
        ),
        (
            json!({"name": "I", "durationMinutes": 15, "maxAdvanceDays": 3651}),
            "maxAdvanceDays",
        ),
    ] {
        put(&app, INTAKE, body)
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid_service")
            .field(field);
    }
    put(
        &app,
        INTAKE,
        json!({"name": "I", "durationMinutes": 15, "colour": "red"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid_body");
    put(&app, INTAKE, json!({"name": "I"}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body")
        .field("durationMinutes");
    put(&app, "/v1/providers/dr-grey/services/has%20space", intake())
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("serviceId");
    app.get(INTAKE)
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "service_not_found");
}

#[tokio::test]
async fn a_service_is_listed_booked_and_blocks_its_buffer() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    put(&app, INTAKE, intake())
        .await
        .expect(StatusCode::CREATED);
    let starts = intake_starts(&app).await;
    // 09:00-12:00 holds an intake from 09:00 to 11:15 (its notes after 12:00 need no slot).
    assert_eq!(starts.len(), 10);
    assert_eq!(
        starts[0],
        json!({
            "id": starts[0]["id"],
            "providerId": "dr-grey",
            "serviceId": "intake",
            "start": "2030-03-06T09:00:00Z",
            "end": "2030-03-06T09:45:00Z",
        })
    );
    let slot = starts[0]["id"].as_str().unwrap();
    let held = app.reserve("alice", slot).await;
    assert_eq!(held["serviceId"], "intake");
    assert_eq!(held["end"], "2030-03-06T09:45:00Z");
    assert_eq!(held["slotId"], slot);
    // The plain listing skips the appointment and its notes: 10:00 comes next.
    let plain = app
        .get("/v1/providers/dr-grey/slots")
        .bearer(&app.client("bob"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(plain.body["slots"][0]["start"], "2030-03-06T10:00:00Z");
    assert!(
        !keys(&plain.body["slots"][0]).contains(&"serviceId".to_owned()),
        "a plain listing is unchanged"
    );
    let after = intake_starts(&app).await;
    assert_eq!(after[0]["start"], "2030-03-06T10:00:00Z");
    app.get("/v1/providers/dr-grey/slots?service=nope")
        .bearer(&app.client("bob"))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "service_not_found")
        .field("serviceId");
    app.get("/v1/providers/dr-grey/slots?service=no%20pe")
        .bearer(&app.client("bob"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query")
        .field("service");
}

#[tokio::test]
async fn a_booking_is_rescheduled_by_its_client_or_provider() {
    let app = TestApp::new();
    let plain = app.morning("dr-grey").await;
    put(&app, INTAKE, intake())
        .await
        .expect(StatusCode::CREATED);
    let starts = intake_starts(&app).await;
    let held = app
        .reserve("alice", starts[0]["id"].as_str().unwrap())
        .await;
    let path = format!(
        "/v1/reservations/{}/reschedule",
        held["id"].as_str().unwrap()
    );
    let to = starts[6]["id"].as_str().unwrap();
    let moved = app
        .post(&path)
        .bearer(&app.client("alice"))
        .json(json!({ "slotId": to }))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(moved.body["start"], "2030-03-06T10:30:00Z");
    assert_eq!(moved.body["slotId"], to);
    assert_eq!(moved.body["expiresAt"], held["expiresAt"]);
    let back = starts[0]["id"].as_str().unwrap();
    app.post(&path)
        .bearer(&app.provider("dr-grey"))
        .json(json!({ "slotId": back }))
        .send()
        .await
        .expect(StatusCode::OK);
    for (token, body, status, code) in [
        (
            app.client("bob"),
            json!({ "slotId": to }),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            app.client("alice"),
            json!({ "slotId": plain[11] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "service_mismatch",
        ),
        (
            app.client("alice"),
            json!({ "slotId": "nope!" }),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            app.client("alice"),
            json!({ "slot": to }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ] {
        app.post(&path)
            .bearer(&token)
            .json(body)
            .send()
            .await
            .problem(status, code);
    }
    // Onto another booking: bob holds 11:00, so 10:30 (blocking to 11:30) is taken.
    app.reserve("bob", starts[8]["id"].as_str().unwrap()).await;
    app.post(&path)
        .bearer(&app.client("alice"))
        .json(json!({ "slotId": to }))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "slot_unavailable")
        .field("slotId");
}
