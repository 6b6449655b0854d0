//! `/v1/providers/{providerId}/availability`: a provider publishes and withdraws availability.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use scheduler_core::Precondition;
use scheduler_core::Window;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CalendarOwner;
use crate::error::{ApiError, Problem};
use crate::etag::{IfMatch, etag};
use crate::extract::{ApiJson, Range, RangeParams};
use crate::state::AppState;
use crate::wire::{AddedSlotsBody, AvailabilityRequest, WithdrawalBody};

/// The availability routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(publish, withdraw))
}

/// Publish availability windows.
///
/// Each window snaps inward to the slot grid and becomes slots; slots are a
/// set, so repeats and overlaps change nothing. If any window is refused,
/// nothing is added and the problem's `field` names it (`windows[2]`).
/// With `If-Match`, the write applies only if the calendar is still at that
/// ETag (from the slot listing or an earlier write); otherwise 412.
#[utoipa::path(
    post,
    path = "/v1/providers/{providerId}/availability",
    tag = "availability",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("If-Match" = Option<String>, Header, description = "The calendar's ETag, quotes included (`\"3\"`), or `*`"),
    ),
    request_body = AvailabilityRequest,
    responses(
        (status = 201, description = "The slots that are new, in order", body = AddedSlotsBody,
            headers(("ETag" = String, description = "The calendar's version after the write"))),
        (status = 403, response = Problem),
        (status = 413, response = Problem),
        (status = 412, response = Problem),
        (status = 415, response = Problem),
        (status = 422, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn publish(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
    IfMatch(expected): IfMatch,
    ApiJson(request): ApiJson<AvailabilityRequest>,
) -> Result<
    (
        StatusCode,
        [(HeaderName, HeaderValue); 1],
        Json<AddedSlotsBody>,
    ),
    ApiError,
> {
    let windows = request
        .windows
        .iter()
        .enumerate()
        .map(|(index, w)| {
            Window::new(w.start, w.end)
                .map_err(|err| ApiError::from(err).field(format!("windows[{index}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scheduler = &state.scheduler;
    let added = scheduler
        .add_availability(&provider, &windows, Precondition::from(expected))
        .await?;
    Ok((StatusCode::CREATED, etag(added.version), Json(added.into())))
}

/// Withdraw free slots.
///
/// Removes the provider's free slots that start in `[from, to)` (all time when
/// left out). Held and booked slots stay: they come back as `conflicts`, with
/// the reservation on each, so a booking is never deleted silently.
/// With `If-Match`, the write applies only if the calendar is still at that ETag.
#[utoipa::path(
    delete,
    path = "/v1/providers/{providerId}/availability",
    tag = "availability",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("If-Match" = Option<String>, Header, description = "The calendar's ETag, quotes included (`\"3\"`), or `*`"),
        RangeParams,
    ),
    responses(
        (status = 200, description = "Slots removed, and the reservations that kept theirs", body = WithdrawalBody,
            headers(("ETag" = String, description = "The calendar's version after the write"))),
        (status = 403, response = Problem),
        (status = 412, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn withdraw(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
    IfMatch(expected): IfMatch,
    Range(range): Range,
) -> Result<([(HeaderName, HeaderValue); 1], Json<WithdrawalBody>), ApiError> {
    let scheduler = &state.scheduler;
    let withdrawal = scheduler
        .withdraw_availability(&provider, range, Precondition::from(expected))
        .await?;
    Ok((etag(withdrawal.version), Json(withdrawal.into())))
}
