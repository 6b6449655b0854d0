//! Calendar versions as HTTP validators: the `ETag` a provider's calendar is
//! served with, and the `If-Match` precondition on writes to it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};

use crate::error::ApiError;

/// The `ETag` header of calendar `version`: strong and quoted, `"7"`.
pub fn etag(version: u64) -> [(HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&format!("\"{version}\""))
        .expect("a quoted number is a valid header value");
    [(header::ETAG, value)]
}

/// The calendar version an `If-Match` header requires, if it names one.
///
/// `*` and an absent header require nothing: a provider's calendar always
/// exists (at version 0 before its first write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        if text.starts_with("W/") {
            // RFC 9110 compares If-Match strongly: a weak tag never matches.
            return Err(mismatch(
                "If-Match compares strongly, so a weak ETag never matches; send the ETag as served",
            ));
        }
        let tag = text
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .filter(|tag| !tag.contains('"'))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_if_match",
                    format!(
                        "If-Match must be one ETag as served, quotes included (\"3\"), or *; got {text}"
                    ),
                )
                .field("If-Match")
            })?;
        // A well-formed tag this server never issued matches no version.
        let version = tag.parse().map_err(|_| {
            mismatch(&format!(
                "the ETag \"{tag}\" was not issued for this calendar"
            ))
        })?;
        Ok(IfMatch(Some(version)))
    }
}

/// 412 with the code the core gives a version mismatch: to the client it is
/// the same news (the calendar is not at the version it named; read it again).
fn mismatch(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "calendar_changed",
        "Calendar changed",
        detail,
    )
    .field("If-Match")
}
