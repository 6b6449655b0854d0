//! The one error type of the API: every refusal as `application/problem+json` (RFC 9457).

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scheduler_core::Error;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Prefix of every problem `type`: a tag URI, so the type names the problem
/// without promising a page to fetch.
const TYPE_PREFIX: &str = "tag:scheduler-rs,2026:problem:";

/// A refused request: status, stable code and a message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    title: &'static str,
    detail: String,
    field: Option<String>,
    retry_after: Option<Duration>,
}

/// The body of every error response (RFC 9457 problem details).
#[derive(Debug, Serialize, ToSchema, ToResponse)]
#[response(
    description = "The request was refused; `code` says why, `detail` says what to change.",
    content_type = "application/problem+json"
)]
pub struct Problem {
    /// The problem type: `tag:scheduler-rs,2026:problem:` followed by `code`.
    #[serde(rename = "type")]
    #[schema(example = "tag:scheduler-rs,2026:problem:slot_unavailable")]
    pub kind: String,
    /// A short summary of the problem type.
    #[schema(example = "Slot unavailable")]
    pub title: &'static str,
    /// The HTTP status.
    #[schema(example = 409)]
    pub status: u16,
    /// What happened to this request, with the facts needed to act on it.
    pub detail: String,
    /// The stable machine-readable code, such as `slot_unavailable` or `lead_time`.
    #[schema(example = "slot_unavailable")]
    pub code: String,
    /// The input at fault, where one is (`windows[0].end`, `from`, `slotId`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

impl ApiError {
    /// A refusal with `status`, stable `code`, summary `title` and `detail`.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            title,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the input at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Tells the client when to try again (`Retry-After`, in whole seconds).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// 401: no usable credentials.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Not authenticated", detail)
    }

    /// 403: authenticated, but not allowed here.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "Not allowed", detail)
    }

    /// 400: input that cannot be read.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Malformed request", detail)
    }

    /// The body this error answers with.
    fn problem(&self) -> Problem {
        Problem {
            kind: format!("{TYPE_PREFIX}{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.clone().into_owned(),
            field: self.field.clone(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        use StatusCode as S;
        let (status, title) = match &err {
            Error::InvalidId { .. } => (S::BAD_REQUEST, "Invalid identifier"),
            Error::InvalidWindow { .. } => (S::BAD_REQUEST, "Invalid window"),
            Error::InvalidRange { .. } => (S::BAD_REQUEST, "Invalid range"),
            Error::InvalidLimit { .. } => (S::BAD_REQUEST, "Invalid page size"),
            Error::InvalidCursor => (S::BAD_REQUEST, "Invalid cursor"),
            Error::InvalidSchedule { .. } => (S::BAD_REQUEST, "Invalid schedule"),
            Error::WindowTooLong { .. }
            | Error::WindowInPast { .. }
            | Error::BeyondHorizon { .. }
            | Error::EmptyWindow { .. } => (S::UNPROCESSABLE_ENTITY, "Window refused"),
            Error::LeadTime { .. } => (S::UNPROCESSABLE_ENTITY, "Too late to reserve"),
            Error::SlotNotFound { .. } => (S::NOT_FOUND, "Slot not found"),
            Error::ReservationNotFound { .. } => (S::NOT_FOUND, "Reservation not found"),
            Error::Forbidden { .. } => (S::FORBIDDEN, "Not allowed"),
            Error::SlotUnavailable { .. } => (S::CONFLICT, "Slot unavailable"),
            Error::IdempotencyConflict { .. } => (S::CONFLICT, "Idempotency key reused"),
            Error::Cancelled { .. } => (S::CONFLICT, "Reservation cancelled"),
            Error::HoldExpired { .. } => (S::GONE, "Hold expired"),
            Error::CalendarChanged { .. } => (S::PRECONDITION_FAILED, "Calendar changed"),
            Error::InvalidService { .. } => (S::BAD_REQUEST, "Invalid service"),
            Error::ServiceNotFound { .. } => (S::NOT_FOUND, "Service not found"),
            Error::ServiceMismatch { .. } => (S::UNPROCESSABLE_ENTITY, "Service mismatch"),
            Error::TooFarAhead { .. } => (S::UNPROCESSABLE_ENTITY, "Too far ahead"),
            Error::Storage(_) => return storage_failure(&err),
            // A policy error is the server's own configuration, and any variant
            // added to core later is unknown here: neither is the client's fault.
            _ => return internal(&err),
        };
        let field = match &err {
            Error::InvalidId { field, .. } => Some((*field).to_owned()),
            Error::WindowTooLong { index, .. }
            | Error::WindowInPast { index, .. }
            | Error::BeyondHorizon { index, .. }
            | Error::EmptyWindow { index, .. } => Some(format!("windows[{index}]")),
            Error::InvalidRange { .. } => Some("to".to_owned()),
            Error::SlotNotFound { .. }
            | Error::SlotUnavailable { .. }
            | Error::LeadTime { .. }
            | Error::TooFarAhead { .. }
            | Error::ServiceMismatch { .. } => Some("slotId".to_owned()),
            Error::ServiceNotFound { .. } => Some("serviceId".to_owned()),
            // The body spells lengths in minutes (days for the horizon).
            Error::InvalidService { field, .. } => Some(
                match *field {
                    "duration" => "durationMinutes",
                    "bufferBefore" => "bufferBeforeMinutes",
                    "bufferAfter" => "bufferAfterMinutes",
                    "minNotice" => "minNoticeMinutes",
                    "maxAdvance" => "maxAdvanceDays",
                    other => other,
                }
                .to_owned(),
            ),
            Error::ReservationNotFound { .. } => Some("reservationId".to_owned()),
            Error::IdempotencyConflict { .. } => Some("idempotencyKey".to_owned()),
            Error::InvalidLimit { .. } => Some("limit".to_owned()),
            Error::InvalidCursor => Some("cursor".to_owned()),
            Error::InvalidSchedule { field, .. } => Some(field.clone()),
            Error::CalendarChanged { .. } => Some("If-Match".to_owned()),
            _ => None,
        };
        let mut api = ApiError::new(status, err.code(), title, err.to_string());
        api.field = field;
        api
    }
}

/// 503 for a failed backend: the cause goes to the log, never to the client.
fn storage_failure(err: &Error) -> ApiError {
    tracing::error!(error = %err, source = ?std::error::Error::source(err), "storage failure");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        err.code(),
        "Storage unavailable",
        "the scheduler's storage did not answer; try again shortly",
    )
    .retry_after(Duration::from_secs(1))
}

fn internal(err: &Error) -> ApiError {
    tracing::error!(error = %err, code = err.code(), "unexpected error");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the server failed to handle the request",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(wait) = self.retry_after {
            // Round up: a client that waits the advertised time must then be let in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell the client which scheme to use.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scheduler\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_schedule_is_a_bad_request_naming_its_field() {
        let err = ApiError::from(Error::InvalidSchedule {
            field: "weekly.mon[1]".to_owned(),
            rule: "overlaps weekly.mon[0]".to_owned(),
        });
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "invalid_schedule");
        assert_eq!(err.field.as_deref(), Some("weekly.mon[1]"));
    }
}
