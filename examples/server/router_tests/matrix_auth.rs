//! The auth matrix: every route against every kind of bad credential. Each
//! gets the answer the design gives it (401 with a bearer challenge, 403, 404,
//! or the public routes' 200), and the store reads exactly as before.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::matrix_harness::{
    ALICE_KEY, Harness, Route, Seed, base64url, valid_reschedule, valid_schedule, valid_service,
};
use super::support::SECRET;
use crate::auth::{JwtKeys, Role};

/// The kinds of bad credential, as the reliability promise lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    NoToken,
    Malformed,
    BadSignature,
    AlgNone,
    Expired,
    NotYetValid,
    WrongRole,
    OthersResource,
}

const KINDS: [Kind; 8] = [
    Kind::NoToken,
    Kind::Malformed,
    Kind::BadSignature,
    Kind::AlgNone,
    Kind::Expired,
    Kind::NotYetValid,
    Kind::WrongRole,
    Kind::OthersResource,
];

/// The answer a row must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A problem with this status and code.
    Problem(StatusCode, &'static str),
    /// The route's success: a public route ignores credentials, and any user
    /// may list a provider's slots.
    Ok,
}

const fn unauthorized(code: &'static str) -> Expect {
    Expect::Problem(StatusCode::UNAUTHORIZED, code)
}

const FORBIDDEN: Expect = Expect::Problem(StatusCode::FORBIDDEN, "forbidden");
const WRONG_ROLE: Expect = Expect::Problem(StatusCode::FORBIDDEN, "wrong_role");

/// One credential (or `Authorization` header) and a path id, for one route.
struct Row {
    route: Route,
    kind: Kind,
    case: String,
    /// The raw `Authorization` header; `None` sends none.
    authorization: Option<Vec<u8>>,
    /// The path's id, when not the route's valid one.
    id: Option<String>,
    /// An extra header (alice's idempotency key, replayed by someone else).
    header: Option<(&'static str, &'static str)>,
    /// A query string (a feed token), without the `?`.
    query: Option<String>,
    expect: Expect,
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn sign(claims: &Value, algorithm: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// The credential kinds every protected route is tried with, for `caller`.
fn credential_rows((role, sub): (Role, &str)) -> Vec<(Kind, String, Option<Vec<u8>>)> {
    use jsonwebtoken::Algorithm::{HS256, HS512};
    let role_name = match role {
        Role::Provider => "provider",
        Role::Client => "client",
    };
    let claims = |extra: Value| {
        let mut claims = json!({ "sub": sub, "role": role_name, "exp": now() + 3600 });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let genuine = JwtKeys::new(SECRET).mint(role, sub, Duration::from_secs(3600));
    let (header, rest) = genuine.split_once('.').unwrap();
    let payload = rest.split_once('.').unwrap().0;
    let mut flipped = genuine.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let none_header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let bearer = |token: &str| Some(format!("Bearer {token}").into_bytes());
    vec![
        (Kind::NoToken, "no Authorization header".into(), None),
        (Kind::Malformed, "not a JWT".into(), bearer("not.a.jwt")),
        (
            Kind::Malformed,
            "Basic credentials".into(),
            Some(b"Basic YWxpY2U6c2VjcmV0".to_vec()),
        ),
        (
            Kind::Malformed,
            "Bearer with no token".into(),
            Some(b"Bearer ".to_vec()),
        ),
        (
            Kind::Malformed,
            "the scheme alone".into(),
            Some(b"Bearer".to_vec()),
        ),
        (
            Kind::Malformed,
            "bytes 0xFF".into(),
            Some(b"Bearer \xff\xfe".to_vec()),
        ),
        (
            Kind::Malformed,
            "a token without its signature".into(),
            bearer(&format!("{header}.{payload}")),
        ),
        (
            Kind::Malformed,
            "claims without a role".into(),
            bearer(&sign(
                &json!({ "sub": sub, "exp": now() + 3600 }),
                HS256,
                SECRET,
            )),
        ),
        (
            Kind::Malformed,
            "claims without exp".into(),
            bearer(&sign(
                &json!({ "sub": sub, "role": role_name }),
                HS256,
                SECRET,
            )),
        ),
        (
            Kind::Malformed,
            "a sub that is no user id".into(),
            bearer(&sign(
                &claims(json!({ "sub": "../../etc/passwd" })),
                HS256,
                SECRET,
            )),
        ),
        (
            Kind::Malformed,
            "an unknown role".into(),
            bearer(&sign(&claims(json!({ "role": "admin" })), HS256, SECRET)),
        ),
        (
            Kind::BadSignature,
            "signed with another secret".into(),
            bearer(&sign(
                &claims(json!({})),
                HS256,
                b"someone else's secret, 32 bytes!",
            )),
        ),
        (
            Kind::BadSignature,
            "a genuine token with its signature altered".into(),
            Some([b"Bearer ".as_slice(), &flipped].concat()),
        ),
        (
            Kind::BadSignature,
            "genuine claims swapped into another token".into(),
            bearer(&format!(
                "{header}.{}.{}",
                base64url(
                    claims(json!({ "role": "provider", "sub": "dr-grey" }))
                        .to_string()
                        .as_bytes()
                ),
                genuine.rsplit('.').next().unwrap()
            )),
        ),
        (
            Kind::AlgNone,
            "alg none, empty signature".into(),
            bearer(&format!("{none_header}.{payload}.")),
        ),
        (
            Kind::AlgNone,
            "alg none, no signature part".into(),
            bearer(&format!("{none_header}.{payload}")),
        ),
        (
            Kind::AlgNone,
            "HS512 with the right secret".into(),
            bearer(&sign(&claims(json!({})), HS512, SECRET)),
        ),
        (
            Kind::Expired,
            "expired an hour ago".into(),
            bearer(&sign(
                &claims(json!({ "exp": now() - 3600 })),
                HS256,
                SECRET,
            )),
        ),
        (
            Kind::Expired,
            "exp 0".into(),
            bearer(&sign(&claims(json!({ "exp": 0 })), HS256, SECRET)),
        ),
        (
            Kind::NotYetValid,
            "nbf in an hour".into(),
            bearer(&sign(
                &claims(json!({ "nbf": now() + 3600 })),
                HS256,
                SECRET,
            )),
        ),
        (
            Kind::NotYetValid,
            "nbf in a year".into(),
            bearer(&sign(
                &claims(json!({ "nbf": now() + 31_536_000 })),
                HS256,
                SECRET,
            )),
        ),
    ]
}

/// What a bad credential of `kind` gets.
fn credential_expect(kind: Kind) -> Expect {
    match kind {
        Kind::NoToken => unauthorized("missing_token"),
        Kind::Expired => unauthorized("token_expired"),
        Kind::NotYetValid => unauthorized("token_not_yet_valid"),
        _ => unauthorized("invalid_token"),
    }
}

/// A valid token of `role` for `sub`.
fn token(harness: &Harness, role: Role, sub: &str) -> Option<Vec<u8>> {
    Some(format!("Bearer {}", harness.token(role, sub)).into_bytes())
}

/// Every row of the matrix.
fn rows(harness: &Harness, seed: &Seed) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |route, kind, case: &str, authorization, id: Option<&str>, expect| {
        rows.push(Row {
            route,
            kind,
            case: case.to_owned(),
            authorization,
            id: id.map(str::to_owned),
            header: None,
            query: None,
            expect,
        });
    };
    for route in Route::ALL {
        let caller = route.caller().unwrap_or((Role::Client, "alice"));
        for (kind, case, authorization) in credential_rows(caller) {
            let expect = match route.caller() {
                Some(_) => credential_expect(kind),
                None => Expect::Ok,
            };
            add(route, kind, &case, authorization, None, expect);
        }
    }
    let h = harness;
    use Kind::{OthersResource as Others, WrongRole as Wrong};
    // The right user id under the wrong role.
    for route in [
        Route::Publish,
        Route::Withdraw,
        Route::ProviderReservations,
        Route::IssueFeedToken,
        Route::FeedTokens,
        Route::RevokeFeedToken,
        Route::Feed,
        Route::PutService,
        Route::DeleteService,
    ] {
        add(
            route,
            Wrong,
            "a client token for dr-grey",
            token(h, Role::Client, "dr-grey"),
            None,
            WRONG_ROLE,
        );
        add(
            route,
            Others,
            "another provider's calendar",
            token(h, Role::Provider, "dr-who"),
            None,
            FORBIDDEN,
        );
    }
    for route in [Route::Reserve, Route::Confirm, Route::MyReservations] {
        add(
            route,
            Wrong,
            "a provider token for alice",
            token(h, Role::Provider, "alice"),
            None,
            WRONG_ROLE,
        );
    }
    for route in [Route::Read, Route::Cancel, Route::Reschedule] {
        // Both roles may read, cancel and move, but a provider named alice is not alice.
        add(
            route,
            Wrong,
            "a provider token for alice",
            token(h, Role::Provider, "alice"),
            None,
            FORBIDDEN,
        );
        add(
            route,
            Others,
            "another provider",
            token(h, Role::Provider, "dr-who"),
            None,
            FORBIDDEN,
        );
        add(
            route,
            Others,
            "the provider of another's booking",
            token(h, Role::Provider, "dr-grey"),
            Some(&seed.other),
            FORBIDDEN,
        );
    }
    for route in [
        Route::Confirm,
        Route::Read,
        Route::Cancel,
        Route::Reschedule,
    ] {
        add(
            route,
            Others,
            "another client",
            token(h, Role::Client, "bob"),
            None,
            FORBIDDEN,
        );
        add(
            route,
            Others,
            "another client's booking",
            token(h, Role::Client, "alice"),
            Some(&seed.other),
            FORBIDDEN,
        );
        add(
            route,
            Others,
            "a reservation nobody holds",
            token(h, Role::Client, "alice"),
            Some("AAAAAAAAAAAAAAAAAAAAAA"),
            Expect::Problem(StatusCode::NOT_FOUND, "reservation_not_found"),
        );
    }
    add(
        Route::PutSchedule,
        Wrong,
        "a client token for dr-grey",
        token(h, Role::Client, "dr-grey"),
        None,
        WRONG_ROLE,
    );
    add(
        Route::PutSchedule,
        Others,
        "another provider's calendar",
        token(h, Role::Provider, "dr-who"),
        None,
        FORBIDDEN,
    );
    add(
        Route::DeleteSchedule,
        Wrong,
        "a client token for dr-who",
        token(h, Role::Client, "dr-who"),
        None,
        WRONG_ROLE,
    );
    add(
        Route::DeleteSchedule,
        Others,
        "another provider's calendar",
        token(h, Role::Provider, "dr-grey"),
        None,
        FORBIDDEN,
    );
    // Opening hours are as public as the slots they make.
    add(
        Route::GetSchedule,
        Wrong,
        "a provider token",
        token(h, Role::Provider, "alice"),
        None,
        Expect::Ok,
    );
    add(
        Route::GetSchedule,
        Others,
        "another provider's schedule",
        token(h, Role::Provider, "dr-grey"),
        None,
        Expect::Ok,
    );
    // Services are as public as the slots they book.
    for route in [Route::GetService, Route::Services] {
        add(
            route,
            Wrong,
            "a provider token",
            token(h, Role::Provider, "alice"),
            None,
            Expect::Ok,
        );
        add(
            route,
            Others,
            "another provider's services",
            token(h, Role::Provider, "dr-who"),
            None,
            Expect::Ok,
        );
    }
    // Slots are public to every user, in either role.
    add(
        Route::Slots,
        Wrong,
        "a provider token",
        token(h, Role::Provider, "alice"),
        None,
        Expect::Ok,
    );
    add(
        Route::Slots,
        Others,
        "another provider's calendar",
        token(h, Role::Provider, "dr-who"),
        None,
        Expect::Ok,
    );
    add(
        Route::MyReservations,
        Others,
        "bob lists his own, never alice's",
        token(h, Role::Client, "bob"),
        None,
        Expect::Ok,
    );
    for route in [Route::Health, Route::OpenApi, Route::Docs] {
        add(
            route,
            Wrong,
            "a provider token",
            token(h, Role::Provider, "alice"),
            None,
            Expect::Ok,
        );
        add(
            route,
            Others,
            "another user's token",
            token(h, Role::Client, "bob"),
            None,
            Expect::Ok,
        );
    }
    // A feed token is not a JWT: as a bearer token it opens no route, its
    // own feed included; the public routes ignore it.
    for route in Route::ALL {
        let expect = match route.caller() {
            Some(_) => unauthorized("invalid_token"),
            None => Expect::Ok,
        };
        add(
            route,
            Kind::Malformed,
            "a feed token as the bearer token",
            Some(format!("Bearer {}", seed.feed_token).into_bytes()),
            None,
            expect,
        );
    }
    // dr-grey revoking dr-who's token on dr-grey's own calendar: to dr-grey
    // it is a token that does not exist, and it stays live.
    let theirs = seed.other_feed_token.split_once('.').unwrap().0;
    add(
        Route::RevokeFeedToken,
        Others,
        "another provider's token id",
        token(h, Role::Provider, "dr-grey"),
        Some(theirs),
        Expect::Problem(StatusCode::NOT_FOUND, "feed_token_not_found"),
    );
    // Bob replays alice's idempotency key on the slot she holds: keys are
    // scoped to their client, so he meets a taken slot, not her reservation.
    rows.push(Row {
        route: Route::Reserve,
        kind: Others,
        case: "bob replays alice's idempotency key".into(),
        authorization: token(h, Role::Client, "bob"),
        id: Some(seed.slots[0].clone()),
        header: Some(("idempotency-key", ALICE_KEY)),
        query: None,
        expect: Expect::Problem(StatusCode::CONFLICT, "slot_unavailable"),
    });
    // The feed by feed token, with no Authorization header: another
    // provider's token, or this provider's with another credential beside it.
    let feed_token = |case: &str, token: &str, authorization, expect| Row {
        route: Route::Feed,
        kind: Others,
        case: case.to_owned(),
        authorization,
        id: None,
        header: None,
        query: Some(format!("token={token}")),
        expect,
    };
    rows.push(feed_token(
        "dr-who's feed token on dr-grey's feed",
        &seed.other_feed_token,
        None,
        Expect::Problem(StatusCode::UNAUTHORIZED, "invalid_feed_token"),
    ));
    rows.push(feed_token(
        "dr-grey's feed token with dr-who's bearer token",
        &seed.feed_token,
        token(h, Role::Provider, "dr-who"),
        Expect::Problem(StatusCode::BAD_REQUEST, "ambiguous_credentials"),
    ));
    rows.push(feed_token(
        "dr-grey's feed token on dr-who's feed",
        &seed.feed_token,
        None,
        Expect::Problem(StatusCode::UNAUTHORIZED, "invalid_feed_token"),
    ));
    rows.last_mut().unwrap().id = Some("dr-who".to_owned());
    rows
}

/// What is wrong with the answer to `row`, if anything.
fn mismatch(row: &Row, reply: &super::support::Reply, seed: &Seed) -> Option<String> {
    let wrong = |why: &str| {
        let mut text = reply.text.clone();
        text.truncate(200);
        Some(format!(
            "{:?} {:?} ({}): {why}; got {} {text}",
            row.route, row.kind, row.case, reply.status
        ))
    };
    // No refusal names a reservation the caller did not, and no one sees
    // another client's reservation: alice's and carol's ids stay out of them.
    let asked = row.id.clone().unwrap_or_else(|| row.route.valid_id(seed));
    let others_answer =
        matches!(row.expect, Expect::Problem(..)) || row.kind == Kind::OthersResource;
    if others_answer {
        for id in [&seed.held, &seed.confirmed, &seed.other] {
            if *id != asked && reply.text.contains(id.as_str()) {
                return wrong("the answer leaks a reservation");
            }
        }
    }
    match row.expect {
        Expect::Ok if !reply.status.is_success() => wrong("want success"),
        Expect::Ok => None,
        Expect::Problem(status, code) => {
            let problem = reply.header("content-type") == "application/problem+json"
                && reply.body["code"] == code
                && reply.body["status"] == status.as_u16();
            let challenge = status != StatusCode::UNAUTHORIZED
                || reply.header("www-authenticate") == "Bearer realm=\"scheduler\"";
            if reply.status != status || !problem {
                wrong(&format!("want {status} {code}"))
            } else if !challenge {
                wrong("a 401 must carry the Bearer challenge")
            } else {
                None
            }
        }
    }
}

#[tokio::test]
async fn every_bad_credential_gets_the_right_answer_and_changes_nothing() {
    let (harness, seed) = Harness::seeded().await;
    let rows = rows(&harness, &seed);
    let mut failures = Vec::new();
    for row in &rows {
        let id = row.id.clone().unwrap_or_else(|| row.route.valid_id(&seed));
        let mut path = row.route.path_with(&id);
        if let Some(query) = &row.query {
            path = format!("{path}?{query}");
        }
        let mut request = harness.request(row.route.method(), &path);
        if let Some(authorization) = &row.authorization {
            request = request.header("authorization", authorization);
        }
        if let Some((name, value)) = row.header {
            request = request.header(name, value.as_bytes());
        }
        if row.route == Route::Publish {
            let body = json!({ "windows": [{ "start": "2030-03-07T09:00:00Z", "end": "2030-03-07T10:00:00Z" }] });
            request = request.body("application/json", body.to_string());
        }
        if row.route == Route::PutSchedule {
            request = request.body("application/json", valid_schedule().to_string());
        }
        if row.route == Route::PutService {
            request = request.body("application/json", valid_service().to_string());
        }
        if row.route == Route::Reschedule {
            request = request.body("application/json", valid_reschedule().to_string());
        }
        let before = harness.snapshot().await;
        let reply = harness.send(request).await;
        failures.extend(mismatch(row, &reply, &seed));
        if harness.snapshot().await != before {
            failures.push(format!(
                "{:?} {:?} ({}): the store changed",
                row.route, row.kind, row.case
            ));
        }
    }
    println!("auth matrix: {} credentials tried", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Every route meets every kind of bad credential.
#[tokio::test]
async fn the_auth_matrix_covers_every_route_and_kind() {
    let (harness, seed) = Harness::seeded().await;
    let rows = rows(&harness, &seed);
    let mut gaps = Vec::new();
    for route in Route::ALL {
        for kind in KINDS {
            if !rows
                .iter()
                .any(|row| row.route == route && row.kind == kind)
            {
                gaps.push(format!("{route:?} {kind:?}"));
            }
        }
    }
    assert!(gaps.is_empty(), "untried: {}", gaps.join(", "));
}
