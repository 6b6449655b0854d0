//! Statuses and behaviours across routes: a zero-length window, the ETag the
//! listing serves after each write, a withdrawal across a hold and a
//! cancelled slot, a lapsed hold's slot listed again, and the documentation
//! page's local assets.

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::{Value, json};

use super::support::{TestApp, at, keys};

const AVAILABILITY: &str = "/v1/providers/dr-grey/availability";
const SLOTS: &str = "/v1/providers/dr-grey/slots";

fn ids(slots: &Value) -> Vec<&str> {
    slots
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_window_that_ends_where_it_starts_is_400_invalid_window() {
    let app = TestApp::new();
    app.post(AVAILABILITY)
        .bearer(&app.provider("dr-grey"))
        .json(json!({ "windows": [{ "start": at(6, 9, 0), "end": at(6, 9, 0) }] }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_window")
        .field("windows[0]");
}

/// Every write answers the calendar's new ETag, and the listing serves that
/// very ETag after it, a ranged withdrawal included; an ETag ahead of the
/// calendar matches nothing either.
#[tokio::test]
async fn the_listing_serves_the_etag_of_the_last_write() {
    let app = TestApp::new();
    let token = app.provider("dr-grey");
    let listed_etag = || async {
        app.get(SLOTS)
            .bearer(&app.client("alice"))
            .send()
            .await
            .expect(StatusCode::OK)
            .header("etag")
            .to_owned()
    };
    assert_eq!(listed_etag().await, "\"0\"");
    let both = json!({ "windows": [
        { "start": at(6, 9, 0), "end": at(6, 10, 0) },
        { "start": at(7, 9, 0), "end": at(7, 10, 0) },
    ] });
    app.post(AVAILABILITY)
        .bearer(&token)
        .header("if-match", "\"999\"")
        .json(both.clone())
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed");
    app.delete(AVAILABILITY)
        .bearer(&token)
        .header("if-match", "\"999\"")
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed");

    let published = app
        .post(AVAILABILITY)
        .bearer(&token)
        .header("if-match", "\"0\"")
        .json(both)
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        published.body["added"].as_array().unwrap().len(),
        8,
        "two hours of 15-minute slots: {}",
        published.text
    );
    assert_eq!(published.header("etag"), "\"1\"");
    assert_eq!(listed_etag().await, "\"1\"");

    let spare = format!("{AVAILABILITY}?from={}&to={}", at(7, 9, 0), at(7, 10, 0));
    app.delete(&spare)
        .bearer(&token)
        .header("if-match", "\"0\"")
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "calendar_changed");
    let withdrawn = app
        .delete(&spare)
        .bearer(&token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .expect(StatusCode::OK);
    let removed: Vec<&str> = withdrawn.body["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        removed,
        [at(7, 9, 0), at(7, 9, 15), at(7, 9, 30), at(7, 9, 45)]
    );
    assert_eq!(withdrawn.body["conflicts"], json!([]));
    assert_eq!(withdrawn.header("etag"), "\"2\"");
    assert_eq!(listed_etag().await, "\"2\"");
}

/// A client cancels their own hold, which then cannot be confirmed; a
/// withdrawal over the hour takes the cancelled slot with the free ones and
/// reports the held one, whose client may still confirm it.
#[tokio::test]
async fn a_withdrawal_takes_a_cancelled_slot_and_leaves_a_hold_confirmable() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    let doomed = app.reserve("bob", &slots[1]).await;
    let doomed_path = format!("/v1/reservations/{}", doomed["id"].as_str().unwrap());
    let cancelled = app
        .delete(&doomed_path)
        .bearer(&app.client("bob"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(cancelled.body["status"], "cancelled");
    app.post(&format!("{doomed_path}/confirm"))
        .bearer(&app.client("bob"))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "cancelled");

    let withdrawal = app
        .delete(&format!(
            "{AVAILABILITY}?from={}&to={}",
            at(6, 9, 0),
            at(6, 10, 0)
        ))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(keys(&withdrawal.body), ["conflicts", "removed"]);
    assert_eq!(
        ids(&withdrawal.body["removed"]),
        slots[1..4].iter().map(String::as_str).collect::<Vec<_>>(),
        "the cancelled slot goes with the free ones"
    );
    let conflicts = withdrawal.body["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{}", withdrawal.text);
    assert_eq!(conflicts[0]["id"], hold["id"]);
    assert_eq!(conflicts[0]["slotId"], slots[0].as_str());
    assert_eq!(conflicts[0]["status"], "held");
    assert!(!withdrawal.header("etag").is_empty());

    let confirmed = app
        .post(&format!(
            "/v1/reservations/{}/confirm",
            hold["id"].as_str().unwrap()
        ))
        .bearer(&app.client("alice"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(confirmed.body["status"], "confirmed");
}

/// A hold keeps its slot out of the listing until it lapses; from that very
/// instant the slot is listed again, swept or not.
#[tokio::test]
async fn a_lapsed_holds_slot_is_listed_again() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    app.reserve("alice", &slots[0]).await;
    let listed = || async {
        let reply = app
            .get(SLOTS)
            .bearer(&app.client("bob"))
            .send()
            .await
            .expect(StatusCode::OK);
        ids(&reply.body["slots"])
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(!listed().await.contains(&slots[0]));
    app.clock
        .advance(TimeDelta::minutes(30) - TimeDelta::seconds(1));
    assert!(!listed().await.contains(&slots[0]));
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(listed().await, slots);
}

/// `/docs/` is an HTML page whose every asset is served by the binary itself,
/// scripts included; none is fetched from elsewhere.
#[tokio::test]
async fn the_docs_page_loads_only_local_assets() {
    let app = TestApp::new();
    let page = app.get("/docs/").send().await.expect(StatusCode::OK);
    assert!(
        page.header("content-type").starts_with("text/html"),
        "the docs are HTML: {:?}",
        page.headers
    );
    let assets = referenced(&page.text);
    assert!(
        !assets.is_empty(),
        "the docs page references its assets: {}",
        page.text
    );
    let mut scripts = 0;
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "the docs page references {asset}, which is not served locally"
        );
        let path = match asset.strip_prefix("./") {
            Some(relative) => format!("/docs/{relative}"),
            None if asset.starts_with('/') => asset.clone(),
            None => format!("/docs/{asset}"),
        };
        let fetched = app.get(&path).send().await;
        assert_eq!(fetched.status, StatusCode::OK, "the docs asset {path}");
        assert!(!fetched.text.is_empty(), "the docs asset {path} is empty");
        if path.ends_with(".js") {
            scripts += 1;
        }
    }
    assert!(scripts > 0, "the docs page loads a script: {assets:?}");
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
