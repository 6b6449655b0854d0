//! Calendar feeds: a provider's bookings as iCalendar at
//! `/v1/providers/{providerId}/bookings.ics`, and the feed tokens that let a
//! calendar application, which cannot send a bearer token, read it.
//!
//! A feed token is `<id>.<secret>`: `id` is 16 random hex digits, the token's
//! public name; `secret` is 32 random bytes in hex. Only the SHA-256 digest of
//! the secret's text is stored, so the token is shown once, when issued. It
//! opens one provider's feed and nothing else: it is not a JWT, so as a bearer
//! token it is refused everywhere, and no other route reads a `token` parameter.

use std::fmt::Write as _;
use std::str::FromStr;

use axum::Json;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use scheduler_core::store::FeedToken;
use scheduler_core::{Clock, Error, FeedTokenId, ListQuery, ProviderId, TimeRange};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthProvider, CalendarOwner};
use crate::error::ApiError;
use crate::extract::{PathId, query};
use crate::ics;
use crate::state::AppState;
use crate::telemetry;

/// How far back the feed reaches: bookings whose slots started up to this
/// long before now are still served, so a calendar keeps the recent past.
pub const FEED_PAST: TimeDelta = TimeDelta::days(30);

/// How many times issuing retries when a random token id is already taken.
const ISSUE_ATTEMPTS: usize = 3;

/// The feed routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_feed_token, list_feed_tokens))
        .routes(routes!(revoke_feed_token))
        .routes(routes!(bookings_feed))
}

/// A feed token as just issued: the only answer that holds its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedFeedToken {
    /// The token's public id, to list and revoke it by.
    #[schema(example = "9f3c2a1b7d4e6f80")]
    pub id: String,
    /// `<id>.<secret>`: pass it as `?token=` to the feed. Shown only now.
    #[schema(
        example = "9f3c2a1b7d4e6f80.4b1d0c3e9a8f7e6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a3928170605"
    )]
    pub token: String,
    /// The feed's URL relative to this server, token included: what a
    /// calendar application subscribes to.
    #[schema(
        example = "/v1/providers/dr-grey/bookings.ics?token=9f3c2a1b7d4e6f80.4b1d0c3e9a8f7e6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a3928170605"
    )]
    pub feed_url: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// A feed token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FeedToken)]
pub struct FeedTokenBody {
    /// The token's public id.
    #[schema(example = "9f3c2a1b7d4e6f80")]
    pub id: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; `null` while it opens the feed.
    #[schema(required = true)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<FeedToken> for FeedTokenBody {
    fn from(token: FeedToken) -> Self {
        Self {
            id: token.id.into(),
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A provider's feed tokens, revoked ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedTokenList {
    /// Oldest first.
    pub tokens: Vec<FeedTokenBody>,
}

/// Issue a feed token.
///
/// A new token for the caller's own feed. The answer is the only time the
/// token's secret is shown: the server keeps only its SHA-256 digest. Any
/// number of tokens may be live at once (one per calendar application, say);
/// each is revoked on its own.
#[utoipa::path(
    post,
    path = "/v1/providers/{providerId}/feed-tokens",
    tag = "feeds",
    params(("providerId" = String, Path, description = "The provider: must be the caller")),
    responses(
        (status = 201, description = "The token, with its secret (shown only now)", body = IssuedFeedToken),
        (status = 400, response = crate::error::Problem),
        (status = 401, response = crate::error::Problem),
        (status = 403, response = crate::error::Problem),
        (status = 429, response = crate::error::Problem),
        (status = 503, response = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
async fn issue_feed_token(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
) -> Result<(StatusCode, Json<IssuedFeedToken>), ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = FeedTokenId::new(random_hex::<8>()?)?;
        let secret = random_hex::<32>()?;
        match state
            .scheduler
            .issue_feed_token(&provider, &id, digest(&secret))
            .await
        {
            Ok(stored) => {
                let token = format!("{id}.{secret}");
                return Ok((
                    StatusCode::CREATED,
                    Json(IssuedFeedToken {
                        feed_url: format!("/v1/providers/{provider}/bookings.ics?token={token}"),
                        id: id.into(),
                        token,
                        created_at: stored.created_at,
                    }),
                ));
            }
            // 64 random bits repeat about never; if they do, draw again.
            Err(Error::InvalidId {
                field: "tokenId", ..
            }) if attempt < ISSUE_ATTEMPTS => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// List feed tokens.
///
/// The caller's feed tokens, oldest first, revoked ones included; never their secrets.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/feed-tokens",
    tag = "feeds",
    params(("providerId" = String, Path, description = "The provider: must be the caller")),
    responses(
        (status = 200, description = "The tokens", body = FeedTokenList),
        (status = 400, response = crate::error::Problem),
        (status = 401, response = crate::error::Problem),
        (status = 403, response = crate::error::Problem),
        (status = 429, response = crate::error::Problem),
        (status = 503, response = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
async fn list_feed_tokens(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
) -> Result<Json<FeedTokenList>, ApiError> {
    let tokens = state.scheduler.feed_tokens(&provider).await?;
    Ok(Json(FeedTokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// Revoke a feed token.
///
/// From this instant the token opens nothing. Revoking it again returns it
/// unchanged, with its first `revokedAt`. Another provider's token is as
/// unknown as one never issued.
#[utoipa::path(
    delete,
    path = "/v1/providers/{providerId}/feed-tokens/{tokenId}",
    tag = "feeds",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("tokenId" = String, Path, description = "The token's id"),
    ),
    responses(
        (status = 200, description = "The revoked token", body = FeedTokenBody),
        (status = 400, response = crate::error::Problem),
        (status = 401, response = crate::error::Problem),
        (status = 403, response = crate::error::Problem),
        (status = 404, response = crate::error::Problem),
        (status = 429, response = crate::error::Problem),
        (status = 503, response = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
async fn revoke_feed_token(
    State(state): State<AppState>,
    AuthProvider(caller): AuthProvider,
    TokenPath(provider, id): TokenPath,
) -> Result<Json<FeedTokenBody>, ApiError> {
    if caller != provider {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("provider {caller} may not act on provider {provider}'s calendar"),
        ));
    }
    let id: FeedTokenId = id.parse()?;
    let revoked = state.scheduler.revoke_feed_token(&provider, &id).await?;
    Ok(Json(revoked.into()))
}

/// The provider's bookings as an iCalendar feed.
///
/// RFC 5545, `text/calendar`: one `VEVENT` per booking, that is per
/// reservation ever confirmed, whether still confirmed or cancelled since;
/// holds never confirmed are left out. Each event's `UID` is
/// `<reservationId>@scheduler-rs`, the same in every response; a booking is
/// `STATUS:CONFIRMED` with `SEQUENCE:0`, and once cancelled
/// `STATUS:CANCELLED` with `SEQUENCE:1`, so a subscribed calendar updates the
/// event it already has. `DTSTART` and `DTEND` are in UTC.
///
/// The range is fixed: slots starting from 30 days before now up to the
/// booking horizon ahead (`--max-horizon`). The calendar is
/// `METHOD:PUBLISH`, so every `DTSTAMP` is the instant the feed was produced.
///
/// Read it with the provider's bearer token, or, for a calendar application,
/// with a feed token as `?token=<id>.<secret>` and no `Authorization` header.
/// A feed token that is malformed, unknown, revoked or another provider's is
/// refused alike: 401 `invalid_feed_token`. Sending both credentials is
/// refused with 400 `ambiguous_credentials`, so no request is read under
/// credentials other than the ones its sender meant. Reads by feed token
/// count towards the provider's rate limit. The query string is never logged.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/bookings.ics",
    tag = "feeds",
    params(("providerId" = String, Path, description = "The provider: the bearer, or the feed token's provider")),
    responses(
        (status = 200, description = "The bookings, as an RFC 5545 calendar", body = String,
            content_type = "text/calendar",
            example = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//scheduler-rs//scheduler server//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nNAME:Bookings of dr-grey\r\nX-WR-CALNAME:Bookings of dr-grey\r\nREFRESH-INTERVAL;VALUE=DURATION:PT900S\r\nX-PUBLISHED-TTL:PT900S\r\nBEGIN:VEVENT\r\nDTEND:20300306T091500Z\r\nDTSTAMP:20300304T080000Z\r\nDTSTART:20300306T090000Z\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:Appointment with alice\r\nUID:AZJxTgXWcc2VZpXyAm5bsw@scheduler-rs\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
        (status = 400, response = crate::error::Problem),
        (status = 401, response = crate::error::Problem),
        (status = 403, response = crate::error::Problem),
        (status = 429, response = crate::error::Problem),
        (status = 503, response = crate::error::Problem),
    ),
    security(("bearer" = []), ("feedToken" = []))
)]
async fn bookings_feed(
    State(state): State<AppState>,
    FeedReader(provider): FeedReader,
) -> Result<([(HeaderName, &'static str); 2], String), ApiError> {
    let scheduler = &state.scheduler;
    let now = scheduler.clock().now();
    // Clamped, so that a clock at the ends of time still names a range.
    let from = now
        .checked_sub_signed(FEED_PAST)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = now
        .checked_add_signed(scheduler.policy().max_horizon())
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut query = ListQuery::new(TimeRange::new(from, to)?).limit(scheduler.policy().max_page());
    let mut bookings = Vec::new();
    loop {
        let page = scheduler
            .provider_reservations(&provider, query.clone())
            .await?;
        bookings.extend(page.items.into_iter().filter(ics::is_booking));
        match page.next_cursor {
            Some(cursor) => query = query.cursor(cursor),
            None => break,
        }
    }
    let body = ics::render(&provider, &bookings, now);
    // The URL may hold a secret: no shared cache may keep the answer.
    Ok((
        [
            (CONTENT_TYPE, ics::TEXT_CALENDAR),
            (CACHE_CONTROL, "private, no-store"),
        ],
        body,
    ))
}

/// `?token=`: the only query parameter of the feed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedParams {
    /// A feed token, `<id>.<secret>`, for a reader without a bearer token.
    token: Option<String>,
}

/// The provider whose feed may be read: by their own bearer token, or by one
/// of their live feed tokens in `?token=` (then charged to their rate limit).
#[derive(Debug)]
pub struct FeedReader(pub ProviderId);

impl FromRequestParts<AppState> for FeedReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let FeedParams { token } = query(parts, state).await?;
        let bearer = parts.headers.contains_key(AUTHORIZATION);
        let token = match (token, bearer) {
            (None, true) => {
                let CalendarOwner(provider) =
                    CalendarOwner::from_request_parts(parts, state).await?;
                return Ok(FeedReader(provider));
            }
            (None, false) => {
                return Err(ApiError::unauthorized(
                    "missing_token",
                    "send `Authorization: Bearer <token>`, or a feed token as `?token=`",
                ));
            }
            (Some(_), true) => {
                return Err(ApiError::bad_request(
                    "ambiguous_credentials",
                    "send either `Authorization` or `?token=`, not both",
                )
                .field("token"));
            }
            (Some(token), false) => token,
        };
        let PathId(provider) = PathId::<ProviderId>::from_request_parts(parts, state).await?;
        let invalid = || {
            ApiError::unauthorized(
                "invalid_feed_token",
                format!("the token is not a live feed token of provider {provider}"),
            )
            .field("token")
        };
        let (id, secret) = split_token(&token).ok_or_else(invalid)?;
        match state
            .scheduler
            .check_feed_token(&provider, &id, &digest(secret))
            .await
        {
            Ok(()) => {}
            Err(Error::FeedTokenNotFound { .. }) => return Err(invalid()),
            Err(err) => return Err(err.into()),
        }
        telemetry::record_user(provider.as_str());
        // Charged once the token is known good: a stranger's guesses must not
        // spend the provider's requests.
        if let Some(limit) = &state.rate_limit {
            limit.check(provider.as_str())?;
        }
        Ok(FeedReader(provider))
    }
}

/// The token id and secret of `<16 hex digits>.<64 hex digits>`, the only
/// shape this server issues; anything else is no token.
fn split_token(token: &str) -> Option<(FeedTokenId, &str)> {
    let (id, secret) = token.split_once('.')?;
    let hex = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(id, 16) || !hex(secret, 64) {
        return None;
    }
    Some((FeedTokenId::new(id).ok()?, secret))
}

/// The stored form of a secret: the SHA-256 of its text, in hex. Digests,
/// not secrets, are compared, so how long a comparison takes tells a caller
/// nothing about the secret.
fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// `N` bytes from the operating system's random source, in lowercase hex.
fn random_hex<const N: usize>() -> Result<String, ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| {
        tracing::error!(error = %err, "the random source failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to handle the request",
        )
    })?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The `{providerId}` and `{tokenId}` of a token's path, the provider
/// checked by the core's rule and the token id left raw, so the caller is
/// told whose calendar it is not before what is wrong with the id.
#[derive(Debug)]
struct TokenPath(ProviderId, String);

impl<S: Send + Sync> FromRequestParts<S> for TokenPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // As in `PathId`: a parameter that does not decode to UTF-8 is judged
        // as U+FFFD, which no id allows, so the core's rule names it.
        let (provider, id) = match Path::<(String, String)>::from_request_parts(parts, state).await
        {
            Ok(Path(pair)) => pair,
            Err(rejection) if names_token_id(&rejection) => {
                return Err(undecodable::<FeedTokenId>());
            }
            Err(_) => return Err(undecodable::<ProviderId>()),
        };
        Ok(TokenPath(provider.parse()?, id))
    }
}

/// Whether `rejection` is about `{tokenId}` (not UTF-8), not `{providerId}`.
fn names_token_id(rejection: &PathRejection) -> bool {
    match rejection {
        PathRejection::FailedToDeserializePathParams(err) => {
            matches!(err.kind(), ErrorKind::InvalidUtf8InPathParam { key } if key == "tokenId")
        }
        _ => false,
    }
}

/// The refusal of a path parameter of type `T` that is not UTF-8.
fn undecodable<T: FromStr<Err = Error>>() -> ApiError {
    match "\u{fffd}".parse::<T>() {
        Err(err) => err.into(),
        Ok(_) => ApiError::bad_request("invalid_id", "a path parameter is not UTF-8"),
    }
}

/// Declares the `feedToken` scheme the feed's `security` entry names.
pub struct FeedTokenAuth;

impl Modify for FeedTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "feedToken",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A feed token, `<id>.<secret>`, from `POST /v1/providers/{providerId}/feed-tokens`; \
                 it opens only that provider's `bookings.ics`, and only without an `Authorization` header.",
            ))),
        );
    }
}
