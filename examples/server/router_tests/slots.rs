//! `GET /v1/providers/{providerId}/slots`: shape, lead rule, pages and bad queries.

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::{Value, json};

use super::support::{TestApp, at, keys};

const PATH: &str = "/v1/providers/dr-grey/slots";

fn starts(page: &Value) -> Vec<String> {
    page["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["start"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn any_user_lists_reservable_slots_in_the_exact_shape() {
    let app = TestApp::new();
    let ids = app.morning("dr-grey").await;
    app.reserve("alice", &ids[0]).await;
    for token in [app.client("bob"), app.provider("dr-who")] {
        let reply = app
            .get(&format!("{PATH}?limit=2"))
            .bearer(&token)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(
            reply.body,
            json!({
                "slots": [
                    { "id": ids[1], "providerId": "dr-grey", "start": at(6, 9, 15), "end": at(6, 9, 30) },
                    { "id": ids[2], "providerId": "dr-grey", "start": at(6, 9, 30), "end": at(6, 9, 45) },
                ],
                "nextCursor": reply.body["nextCursor"],
            })
        );
        assert!(reply.body["nextCursor"].is_string());
    }
}

#[tokio::test]
async fn the_cursor_walks_every_page_once() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    let token = app.client("alice");
    let mut seen = Vec::new();
    let mut uri = format!("{PATH}?limit=5");
    loop {
        let page = app
            .get(&uri)
            .bearer(&token)
            .send()
            .await
            .expect(StatusCode::OK);
        seen.extend(starts(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(cursor) => uri = format!("{PATH}?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.first().unwrap(), &at(6, 9, 0));
    assert_eq!(seen.last().unwrap(), &at(6, 11, 45));
}

#[tokio::test]
async fn from_and_to_bound_the_listing_and_any_offset_is_read_as_utc() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    let reply = app
        .get(&format!(
            "{PATH}?from=2030-03-06T11:30:00%2B01:00&to={}",
            at(6, 11, 0)
        ))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(starts(&reply.body), [at(6, 10, 30), at(6, 10, 45)]);
    assert_eq!(reply.body["nextCursor"], Value::Null);
}

#[tokio::test]
async fn slots_inside_the_minimum_lead_are_not_listed() {
    let app = TestApp::new();
    app.morning("dr-grey").await;
    // 24h before 09:30 on the 6th: 09:00 and 09:15 are now too close.
    app.clock
        .advance(TimeDelta::hours(25) + TimeDelta::minutes(30));
    let reply = app
        .get(&format!("{PATH}?limit=1"))
        .bearer(&app.client("alice"))
        .send()
        .await;
    assert_eq!(starts(&reply.body), [at(6, 9, 30)]);
}

#[tokio::test]
async fn bad_queries_are_400_naming_the_parameter() {
    let app = TestApp::new();
    let token = app.client("alice");
    let cases = [
        ("limit=0", "invalid_limit", Some("limit")),
        ("limit=501", "invalid_limit", Some("limit")),
        ("limit=ten", "invalid_limit", Some("limit")),
        ("cursor=bogus", "invalid_cursor", Some("cursor")),
        ("to=2030-13-01T00:00:00Z", "invalid_query", Some("to")),
        (
            "from=2030-03-07T00:00:00Z&to=2030-03-06T00:00:00Z",
            "invalid_range",
            None,
        ),
        ("page=2", "invalid_query", None),
    ];
    for (query, code, field) in cases {
        let reply = app
            .get(&format!("{PATH}?{query}"))
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, code);
        if let Some(field) = field {
            reply.field(field);
        }
    }
    app.get("/v1/providers/not%20an%20id/slots")
        .bearer(&token)
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id")
        .field("providerId");
}

#[tokio::test]
async fn the_page_size_is_capped_by_the_policy() {
    let app = TestApp::new();
    app.publish("dr-grey", &[(at(6, 0, 0), at(12, 0, 0))]).await;
    let reply = app
        .get(&format!("{PATH}?limit=500"))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["slots"].as_array().unwrap().len(), 500);
    let default = app.get(PATH).bearer(&app.client("alice")).send().await;
    assert_eq!(default.body["slots"].as_array().unwrap().len(), 50);
    assert_eq!(keys(&default.body), ["nextCursor", "slots"]);
}
