//! Who is calling: HS256 bearer tokens, and extractors for any user, a provider,
//! a client and a calendar's owner. The caller's id comes from the token, never the body.

use std::fmt;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use scheduler_core::{Actor, ClientId, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{PathId, ServicePath};
use crate::state::AppState;
use crate::telemetry;

/// What a token lets its bearer be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes availability and sees the reservations on it.
    Provider,
    /// Reserves slots.
    Client,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Client => "client",
        }
    }
}

/// The claims of a token: who (`sub`), as what (`role`), until when (`exp`, Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's role.
    pub role: Role,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
}

/// The signing and verifying keys for one shared secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys are the secret: never print them.
        f.write_str("JwtKeys { .. }")
    }
}

impl JwtKeys {
    /// Keys for HS256 with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256: a token naming `none` or any other algorithm is refused
        // before its signature is looked at. `exp` is required and checked;
        // `nbf`, when present, is checked too (the library skips it by default).
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `sub` as `role`, valid for `ttl` from the wall clock.
    pub fn mint(&self, role: Role, sub: &str, ttl: Duration) -> String {
        self.sign(&Claims {
            sub: sub.to_owned(),
            role,
            exp: jsonwebtoken::get_current_timestamp().saturating_add(ttl.as_secs()),
        })
    }

    /// Signs `claims` as they are (tests use it for expired tokens).
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a valid token: right algorithm, right signature, not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the bearer token has expired")
                }
                ErrorKind::ImmatureSignature => ApiError::unauthorized(
                    "token_not_yet_valid",
                    "the bearer token is not valid yet: its nbf is in the future",
                ),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    ApiError::unauthorized("invalid_token", "the token must be signed with HS256")
                }
                ErrorKind::InvalidSignature => ApiError::unauthorized(
                    "invalid_token",
                    "the token's signature does not match this server's secret",
                ),
                _ => ApiError::unauthorized(
                    "invalid_token",
                    format!("the bearer token is not a valid JWT with sub, role and exp: {err}"),
                ),
            })
    }
}

/// Any authenticated user. Extracting it also charges the user's rate limit.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The token's `sub`, checked against the user id rule.
    pub id: String,
    /// The token's role.
    pub role: Role,
}

impl AuthUser {
    /// The user as the core sees a party to a reservation.
    pub fn actor(&self) -> Result<Actor, ApiError> {
        Ok(match self.role {
            Role::Provider => Actor::Provider(ProviderId::new(&self.id)?),
            Role::Client => Actor::Client(ClientId::new(&self.id)?),
        })
    }

    fn wrong_role(&self, needed: Role) -> ApiError {
        ApiError::forbidden(
            "wrong_role",
            format!(
                "this route is for {}s; the token's role is {}",
                needed.as_str(),
                self.role.as_str()
            ),
        )
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "send `Authorization: Bearer <token>`; `server token` mints one",
            )
        })?;
        // The scheme name is case-insensitive (RFC 9110 section 11.1).
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid_token",
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        let claims = state.keys.verify(token.trim())?;
        // The id rule is the same for both roles; checking it here means every
        // handler can trust `id`.
        ClientId::new(&claims.sub).map_err(|_| {
            ApiError::unauthorized("invalid_token", "the token's sub is not a valid user id")
        })?;
        telemetry::record_user(&claims.sub);
        if let Some(limit) = &state.rate_limit {
            limit.check(&claims.sub)?;
        }
        Ok(AuthUser {
            id: claims.sub,
            role: claims.role,
        })
    }
}

/// A user with the provider role.
#[derive(Debug, Clone)]
pub struct AuthProvider(pub ProviderId);

impl FromRequestParts<AppState> for AuthProvider {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        match user.role {
            Role::Provider => Ok(AuthProvider(ProviderId::new(user.id)?)),
            Role::Client => Err(user.wrong_role(Role::Provider)),
        }
    }
}

/// A user with the client role.
#[derive(Debug, Clone)]
pub struct AuthClient(pub ClientId);

impl FromRequestParts<AppState> for AuthClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        match user.role {
            Role::Client => Ok(AuthClient(ClientId::new(user.id)?)),
            Role::Provider => Err(user.wrong_role(Role::Client)),
        }
    }
}

/// The provider named by the route's `{providerId}`, when that is the caller.
#[derive(Debug, Clone)]
pub struct CalendarOwner(pub ProviderId);

impl FromRequestParts<AppState> for CalendarOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthProvider(caller) = AuthProvider::from_request_parts(parts, state).await?;
        let PathId(provider) = PathId::<ProviderId>::from_request_parts(parts, state).await?;
        owner(caller, provider).map(CalendarOwner)
    }
}

/// The `{providerId}` and `{serviceId}` of a service's route, when that
/// provider is the caller.
#[derive(Debug, Clone)]
pub struct ServiceOwner {
    /// The caller, whose service it is.
    pub provider: ProviderId,
    /// The service.
    pub service: ServiceId,
}

impl FromRequestParts<AppState> for ServiceOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthProvider(caller) = AuthProvider::from_request_parts(parts, state).await?;
        let ServicePath { provider, service } =
            ServicePath::from_request_parts(parts, state).await?;
        Ok(ServiceOwner {
            provider: owner(caller, provider)?,
            service,
        })
    }
}

/// `provider`, if it is the `caller`; otherwise a 403.
fn owner(caller: ProviderId, provider: ProviderId) -> Result<ProviderId, ApiError> {
    if caller != provider {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("provider {caller} may not act on provider {provider}'s calendar"),
        ));
    }
    Ok(provider)
}
