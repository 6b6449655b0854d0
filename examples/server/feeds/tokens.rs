//! Feed tokens: what one is, how it is made and checked.
//!
//! A feed token is `<id>.<secret>`: `id` is 16 random hex digits, the token's
//! public name; `secret` is 32 random bytes in hex. Only the SHA-256 digest of
//! the secret's text is stored, so the token is shown once, when issued.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use scheduler_core::{Error, ProviderId, Result};
use sha2::{Digest, Sha256};

use super::store::FeedTokenStore;
use crate::error::ApiError;

/// The public id of a feed token: how a provider lists and revokes it. Same
/// rule as user ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedTokenId(String);

impl FeedTokenId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FeedTokenId {
    type Err = Error;

    /// Validates `text` by the rule of user ids, naming the field `tokenId`.
    fn from_str(text: &str) -> Result<Self> {
        match ProviderId::new(text) {
            Ok(_) => Ok(Self(text.to_owned())),
            Err(Error::InvalidId { rule, .. }) => Err(Error::InvalidId {
                field: "tokenId",
                rule,
            }),
            Err(other) => Err(other),
        }
    }
}

impl fmt::Display for FeedTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<FeedTokenId> for String {
    fn from(id: FeedTokenId) -> String {
        id.0
    }
}

/// A feed token as the server keeps it: never its secret, only a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedToken {
    /// The token's public id.
    pub id: FeedTokenId,
    /// The provider whose feed the token opens, and nothing else.
    pub provider: ProviderId,
    /// The SHA-256 digest of the token's secret, in hex.
    pub digest: String,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked; `None` while it is valid.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How many times issuing retries when a random token id is already taken.
const ISSUE_ATTEMPTS: usize = 3;

/// A new token for `provider`, stored at `now`; with its secret, which is
/// shown only now.
pub async fn issue(
    store: &dyn FeedTokenStore,
    provider: &ProviderId,
    now: DateTime<Utc>,
) -> Result<(FeedToken, String), ApiError> {
    for _ in 0..ISSUE_ATTEMPTS {
        let id: FeedTokenId = random_hex::<8>()?.parse()?;
        let secret = random_hex::<32>()?;
        let token = FeedToken {
            id,
            provider: provider.clone(),
            digest: digest(&secret),
            created_at: now,
            revoked_at: None,
        };
        // 64 random bits repeat about never; if they do, draw again.
        if store.put(&token).await? {
            return Ok((token, secret));
        }
    }
    Err(Error::InvalidId {
        field: "tokenId",
        rule: "is already used by another feed token",
    }
    .into())
}

/// Revokes `provider`'s token `id` at `now`; revoking it again changes
/// nothing. `None` if `provider` has no such token.
pub async fn revoke(
    store: &dyn FeedTokenStore,
    provider: &ProviderId,
    id: &FeedTokenId,
    now: DateTime<Utc>,
) -> Result<FeedToken, ApiError> {
    store
        .revoke(provider, id, now)
        .await?
        .ok_or_else(|| not_found(provider, id))
}

/// Whether `token` (`<id>.<secret>`) is a live token of `provider`. Every
/// other case (malformed, unknown, revoked, another provider's) answers
/// `false` alike, so a caller learns nothing about other providers' tokens.
pub async fn opens(store: &dyn FeedTokenStore, provider: &ProviderId, token: &str) -> Result<bool> {
    let Some((id, secret)) = split(token) else {
        return Ok(false);
    };
    Ok(matches!(
        store.get(&id).await?,
        Some(stored) if stored.provider == *provider
            && stored.revoked_at.is_none()
            && stored.digest == digest(secret)
    ))
}

/// 404 `feed_token_not_found`: `provider` has no token `id`.
fn not_found(provider: &ProviderId, id: &FeedTokenId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "feed_token_not_found",
        "Feed token not found",
        format!("feed token {id} is not a valid feed token of provider {provider}"),
    )
    .field("tokenId")
}

/// The token id and secret of `<16 hex digits>.<64 hex digits>`, the only
/// shape this server issues; anything else is no token.
fn split(token: &str) -> Option<(FeedTokenId, &str)> {
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
    Some((id.parse().ok()?, secret))
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
    getrandom::fill(&mut bytes).map_err(|err| internal(&err.to_string()))?;
    Ok(hex(&bytes))
}

/// 500: the operating system's random source failed.
fn internal(cause: &str) -> ApiError {
    tracing::error!(error = cause, "the random source failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the server failed to handle the request",
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}
