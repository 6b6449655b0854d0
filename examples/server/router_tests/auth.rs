//! Authentication (401) and authorization (403): tokens, roles and ownership.

use axum::http::StatusCode;
use serde_json::json;

use super::support::{SECRET, TestApp, at};
use crate::auth::{Claims, JwtKeys, Role};

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::new();
    let reply = app
        .get("/v1/providers/dr-grey/slots")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert_eq!(
        reply.header("www-authenticate"),
        "Bearer realm=\"scheduler\""
    );
}

#[tokio::test]
async fn a_header_that_is_not_bearer_is_401() {
    let app = TestApp::new();
    app.get("/v1/providers/dr-grey/slots")
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    app.get("/v1/providers/dr-grey/slots")
        .bearer("not.a.jwt")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::new();
    app.get("/v1/providers/dr-grey/slots")
        .header("authorization", &format!("bearer {}", app.client("alice")))
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401() {
    let app = TestApp::new();
    let forged = JwtKeys::new(b"someone-else's-secret").mint(
        Role::Client,
        "alice",
        std::time::Duration::from_secs(60),
    );
    app.get("/v1/providers/dr-grey/slots")
        .bearer(&forged)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = TestApp::new();
    let expired = JwtKeys::new(SECRET).sign(&Claims {
        sub: "alice".into(),
        role: Role::Client,
        // Well past the validation's leeway for clock skew.
        exp: jsonwebtoken::get_current_timestamp() - 3600,
    });
    app.get("/v1/providers/dr-grey/slots")
        .bearer(&expired)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "token_expired");
}

/// The classic forgery: a valid token's claims under `alg: none`, unsigned.
#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    // base64url of {"alg":"none","typ":"JWT"}
    const NONE: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let app = TestApp::new();
    let genuine = app.client("alice");
    let claims = genuine.split('.').nth(1).unwrap();
    for token in [format!("{NONE}.{claims}."), format!("{NONE}.{claims}")] {
        app.get("/v1/providers/dr-grey/slots")
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn a_token_without_a_role_or_with_a_bad_sub_is_401() {
    let app = TestApp::new();
    let keys = JwtKeys::new(SECRET);
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let no_role = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "alice", "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let bad_sub = keys.sign(&Claims {
        sub: "alice smith".into(),
        role: Role::Client,
        exp,
    });
    for token in [no_role, bad_sub] {
        app.get("/v1/providers/dr-grey/slots")
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn a_client_cannot_publish_and_a_provider_cannot_reserve() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    app.post("/v1/providers/dr-grey/availability")
        .bearer(&app.client("dr-grey"))
        .json(json!({ "windows": [] }))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "wrong_role");
    app.post(&format!("/v1/slots/{}/reservations", slots[0]))
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "wrong_role");
    app.get("/v1/me/reservations")
        .bearer(&app.provider("dr-grey"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "wrong_role");
}

#[tokio::test]
async fn a_provider_acts_only_on_their_own_calendar() {
    let app = TestApp::new();
    let intruder = app.provider("dr-who");
    app.post("/v1/providers/dr-grey/availability")
        .bearer(&intruder)
        .json(json!({ "windows": [{ "start": at(6, 9, 0), "end": at(6, 10, 0) }] }))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete("/v1/providers/dr-grey/availability")
        .bearer(&intruder)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/v1/providers/dr-grey/reservations")
        .bearer(&intruder)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn another_users_reservation_is_403() {
    let app = TestApp::new();
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    let path = format!("/v1/reservations/{}", hold["id"].as_str().unwrap());
    for token in [app.client("bob"), app.provider("dr-who")] {
        app.get(&path)
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
        app.delete(&path)
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
    }
    app.post(&format!("{path}/confirm"))
        .bearer(&app.client("bob"))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}

/// The caller is whoever the token says: a body cannot name someone else.
#[tokio::test]
async fn ids_come_from_the_token_never_the_body() {
    let app = TestApp::new();
    app.post("/v1/providers/dr-grey/availability")
        .bearer(&app.provider("dr-grey"))
        .json(json!({
            "providerId": "dr-who",
            "windows": [{ "start": at(6, 9, 0), "end": at(6, 10, 0) }]
        }))
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_body");
    let slots = app.morning("dr-grey").await;
    let hold = app.reserve("alice", &slots[0]).await;
    assert_eq!(hold["clientId"], "alice");
}

#[test]
fn minted_tokens_verify_and_carry_their_claims() {
    let keys = JwtKeys::new(SECRET);
    let token = keys.mint(
        Role::Provider,
        "dr-grey",
        std::time::Duration::from_secs(60),
    );
    let claims = keys.verify(&token).unwrap();
    assert_eq!(claims.sub, "dr-grey");
    assert_eq!(claims.role, Role::Provider);
    assert!(claims.exp > jsonwebtoken::get_current_timestamp());
}
