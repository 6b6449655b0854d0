//! The reservation lifecycle over HTTP: reserve, idempotency, confirm, read,
//! cancel, expiry, and both listings.

use axum::http::StatusCode;
use chrono::{TimeDelta, TimeZone, Utc};
use scheduler_core::{ProviderId, SlotId};
use serde_json::{Value, json};

use super::support::{TestApp, at, keys};

fn id(reservation: &Value) -> &str {
    reservation["id"].as_str().unwrap()
}

#[tokio::test]
async fn reserving_answers_201_with_the_hold_in_the_exact_shape() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let reply = app
        .post(&format!("/v1/slots/{}/reservations", slots[0]))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let hold = &reply.body;
    assert_eq!(
        reply.header("location"),
        format!("/v1/reservations/{}", id(hold))
    );
    assert_eq!(
        keys(hold),
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
    assert_eq!(
        *hold,
        json!({
            "id": id(hold),
            "slotId": slots[0],
            "providerId": "dr-grey",
            "clientId": "alice",
            "serviceId": null,
            "start": "2030-03-06T09:00:00Z",
            "end": "2030-03-06T09:15:00Z",
            "status": "held",
            "createdAt": "2030-03-04T08:00:00Z",
            "expiresAt": "2030-03-04T08:30:00Z",
            "confirmedAt": null,
        })
    );
}

#[tokio::test]
async fn a_taken_slot_is_409_slot_unavailable() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    app.reserve("alice", &slots[0]).await;
    app.post(&format!("/v1/slots/{}/reservations", slots[0]))
        .bearer(&app.client("bob"))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "slot_unavailable");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_original_and_refuses_another_slot() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let reserve = |slot: &str, key: &str| {
        app.post(&format!("/v1/slots/{slot}/reservations"))
            .bearer(&app.client("alice"))
            .header("idempotency-key", key)
    };
    let first = reserve(&slots[0], "retry-1")
        .send()
        .await
        .expect(StatusCode::CREATED);
    app.clock.advance(TimeDelta::minutes(5));
    let replay = reserve(&slots[0], "retry-1")
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(replay.body, first.body);
    reserve(&slots[1], "retry-1")
        .send()
        .await
        .problem(StatusCode::CONFLICT, "idempotency_conflict");
    // Keys are scoped to their client: bob's "retry-1" is his own.
    app.post(&format!("/v1/slots/{}/reservations", slots[1]))
        .bearer(&app.client("bob"))
        .header("idempotency-key", "retry-1")
        .send()
        .await
        .expect(StatusCode::CREATED);
    reserve(&slots[2], "has space")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("idempotencyKey");
}

#[tokio::test]
async fn unknown_and_malformed_slots() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    // Well-formed, but dr-grey never offered 13:00.
    let never = SlotId::new(
        ProviderId::new("dr-grey").unwrap(),
        Utc.with_ymd_and_hms(2030, 3, 6, 13, 0, 0).unwrap(),
    );
    app.post(&format!("/v1/slots/{never}/reservations"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "slot_not_found");
    app.post("/v1/slots/not-a-slot/reservations")
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("slotId");
}

#[tokio::test]
async fn reserving_inside_the_minimum_lead_is_422() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    app.clock
        .advance(TimeDelta::hours(25) + TimeDelta::minutes(1));
    app.post(&format!("/v1/slots/{}/reservations", slots[0]))
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "lead_time");
}

#[tokio::test]
async fn the_holder_confirms_within_the_hold_and_confirming_again_changes_nothing() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    app.clock.advance(TimeDelta::minutes(29));
    let path = format!("/v1/reservations/{}/confirm", id(&hold));
    let confirmed = app
        .post(&path)
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["confirmedAt"], "2030-03-04T08:29:00Z");
    assert_eq!(keys(&confirmed), keys(&hold));
    app.clock.advance(TimeDelta::hours(1));
    let again = app
        .post(&path)
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.body, confirmed);
}

#[tokio::test]
async fn a_lapsed_hold_is_410_and_reads_expired() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    app.clock.advance(TimeDelta::minutes(30));
    let path = format!("/v1/reservations/{}", id(&hold));
    app.post(&format!("{path}/confirm"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::GONE, "hold_expired");
    app.delete(&path)
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::GONE, "hold_expired");
    let read = app.get(&path).bearer(&app.client("alice")).send().await;
    assert_eq!(read.body["status"], "expired");
    // The slot is free again at once.
    app.reserve("bob", &slots[0]).await;
}

#[tokio::test]
async fn its_client_or_provider_reads_and_cancels_and_the_slot_frees() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    let path = format!("/v1/reservations/{}", id(&hold));
    for token in [app.client("alice"), app.provider("dr-grey")] {
        let read = app
            .get(&path)
            .bearer(&token)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(read.body, hold);
    }
    let cancelled = app
        .delete(&path)
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(cancelled["status"], "cancelled");
    // Cancelling again returns it unchanged; confirming it is a conflict.
    let again = app.delete(&path).bearer(&app.client("alice")).send().await;
    assert_eq!(again.body, cancelled);
    app.post(&format!("{path}/confirm"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "cancelled");
    app.reserve("bob", &slots[0]).await;
}

#[tokio::test]
async fn unknown_and_malformed_reservations() {
    let app = TestApp::new();
    let token = app.client("alice");
    let unknown = "/v1/reservations/AAAAAAAAAAAAAAAAAAAAAA";
    app.get(unknown)
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "reservation_not_found");
    app.post(&format!("{unknown}/confirm"))
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "reservation_not_found");
    app.delete(unknown)
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "reservation_not_found");
    app.get("/v1/reservations/nope")
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("reservationId");
}

#[tokio::test]
async fn a_provider_lists_their_appointments_a_page_at_a_time() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let others = app.morning("dr-who").await;
    let a = app.reserve("alice", &slots[2]).await;
    let b = app.reserve("bob", &slots[0]).await;
    let c = app.reserve("carol", &slots[5]).await;
    app.reserve("alice", &others[0]).await;
    let token = app.provider("dr-grey");
    let path = "/v1/providers/dr-grey/reservations";
    let first = app
        .get(&format!("{path}?limit=2"))
        .bearer(&token)
        .send()
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(keys(&first), ["nextCursor", "reservations"]);
    assert_eq!(first["reservations"], json!([b, a]));
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .get(&format!("{path}?limit=2&cursor={cursor}"))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(second, json!({ "reservations": [c], "nextCursor": null }));
    let ranged = app
        .get(&format!("{path}?from={}&to={}", at(6, 9, 15), at(6, 10, 0)))
        .bearer(&token)
        .send()
        .await
        .body;
    assert_eq!(ranged["reservations"], json!([a]));
    app.get(&format!("{path}?cursor=bogus"))
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn a_client_lists_only_their_own_reservations() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let others = app.morning("dr-who").await;
    let mine = [
        app.reserve("alice", &slots[3]).await,
        app.reserve("alice", &others[1]).await,
    ];
    app.reserve("bob", &slots[0]).await;
    let reply = app
        .get("/v1/me/reservations")
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    // Ordered by start: dr-who's 09:15 before dr-grey's 09:45.
    assert_eq!(
        reply.body,
        json!({ "reservations": [mine[1], mine[0]], "nextCursor": null })
    );
    app.get("/v1/me/reservations?limit=0")
        .bearer(&app.client("alice"))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_limit");
}
