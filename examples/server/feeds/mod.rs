//! Calendar feeds: a provider's bookings as iCalendar at
//! `/v1/providers/{providerId}/bookings.ics`, and the feed tokens that let a
//! calendar application, which cannot send a bearer token, read it.
//!
//! A feed token (`tokens`) opens one provider's feed and nothing else: it is
//! not a JWT, so as a bearer token it is refused everywhere, and no other
//! route reads a `token` parameter. The server keeps its tokens itself
//! (`store`); `reader` says who may read a feed.

mod reader;
mod store;
mod tokens;

pub use reader::FeedTokenAuth;
pub use store::{
    FeedTokenStore, MemoryFeedTokens, PostgresFeedTokens, SqliteFeedTokens, migrate_postgres,
    migrate_sqlite,
};

use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use scheduler_core::{Clock, TimeRange};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthProvider, CalendarOwner};
use crate::error::{ApiError, Problem};
use crate::ics;
use crate::state::AppState;
use reader::{FeedReader, TokenPath};
pub use tokens::{FeedToken, FeedTokenId};

/// How far back the feed reaches: bookings whose slots started up to this
/// long before now are still served, so a calendar keeps the recent past.
pub const FEED_PAST: TimeDelta = TimeDelta::days(30);

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
        (status = 403, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn issue_feed_token(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
) -> Result<(StatusCode, Json<IssuedFeedToken>), ApiError> {
    let now = state.scheduler.clock().now();
    let (stored, secret) = tokens::issue(state.feed_tokens.as_ref(), &provider, now).await?;
    let token = format!("{}.{secret}", stored.id);
    Ok((
        StatusCode::CREATED,
        Json(IssuedFeedToken {
            feed_url: format!("/v1/providers/{provider}/bookings.ics?token={token}"),
            id: stored.id.into(),
            token,
            created_at: stored.created_at,
        }),
    ))
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
        (status = 403, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn list_feed_tokens(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
) -> Result<Json<FeedTokenList>, ApiError> {
    let tokens = state.feed_tokens.of(&provider).await?;
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
        (status = 403, response = Problem),
        (status = 404, response = Problem),
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
    let now = state.scheduler.clock().now();
    let revoked = tokens::revoke(state.feed_tokens.as_ref(), &provider, &id, now).await?;
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
        (status = 403, response = Problem),
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
    let bookings: Vec<_> = scheduler
        .all_provider_reservations(&provider, TimeRange::new(from, to)?)
        .await?
        .into_iter()
        .filter(ics::is_booking)
        .collect();
    let services = scheduler.services(&provider).await?;
    let body = ics::render(&provider, &bookings, &services, now);
    // The URL may hold a secret: no shared cache may keep the answer.
    Ok((
        [
            (CONTENT_TYPE, ics::TEXT_CALENDAR),
            (CACHE_CONTROL, "private, no-store"),
        ],
        body,
    ))
}
