//! Who may read a feed, and the paths and security scheme of the feed routes.

use std::str::FromStr;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use scheduler_core::{Error, ProviderId};
use serde::Deserialize;
use utoipa::Modify;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

use super::tokens::{self, FeedTokenId};
use crate::auth::CalendarOwner;
use crate::error::ApiError;
use crate::extract::{PathId, query};
use crate::state::AppState;
use crate::telemetry;

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
        if !tokens::opens(state.feed_tokens.as_ref(), &provider, &token).await? {
            return Err(invalid());
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

/// The `{providerId}` and `{tokenId}` of a token's path, the provider
/// checked by the core's rule and the token id left raw, so the caller is
/// told whose calendar it is not before what is wrong with the id.
#[derive(Debug)]
pub struct TokenPath(pub ProviderId, pub String);

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
