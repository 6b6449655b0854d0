//! `/v1/providers/{providerId}/schedule`: a provider's weekly opening hours in
//! their own time zone, kept as slots up to the horizon.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use scheduler_core::local_time::json::ScheduleJson;
use scheduler_core::{Precondition, ProviderId, WeeklySchedule};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthUser, CalendarOwner};
use crate::error::{ApiError, Problem};
use crate::etag::{IfMatch, etag};
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;
use crate::wire::{Object, ScheduleAppliedBody, ScheduleDoc, StoredScheduleBody};

/// The schedule routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_schedule, get_schedule, delete_schedule))
}

/// Set the weekly schedule.
///
/// The schedule becomes the provider's availability from now to the horizon:
/// every slot it offers is added, every free slot it does not offer is
/// removed. Held and booked slots always stay; those it no longer offers come
/// back as `conflicts`, with the reservation on each. The server then keeps
/// the slots reaching the horizon as it rolls forward. Setting the same
/// schedule again changes nothing. A rule broken is a 400 whose `field` names
/// it (`weekly.mon[1].end`, `timeZone`, `exceptions[0].date`).
/// With `If-Match`, the write applies only if the calendar is still at that
/// ETag; otherwise 412 and nothing changes.
#[utoipa::path(
    put,
    path = "/v1/providers/{providerId}/schedule",
    tag = "schedule",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("If-Match" = Option<String>, Header, description = "The calendar's ETag, quotes included (`\"3\"`), or `*`"),
    ),
    request_body = ScheduleDoc,
    responses(
        (status = 200, description = "The slots added and removed, the reservations that kept theirs, and the schedule stored",
            body = ScheduleAppliedBody,
            headers(("ETag" = String, description = "The calendar's version after the write"))),
        (status = 403, response = Problem),
        (status = 412, response = Problem),
        (status = 413, response = Problem),
        (status = 415, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn put_schedule(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
    IfMatch(expected): IfMatch,
    ApiJson(Object(body)): ApiJson<Object<ScheduleJson>>,
) -> Result<([(HeaderName, HeaderValue); 1], Json<ScheduleAppliedBody>), ApiError> {
    let schedule = WeeklySchedule::try_from(body)?;
    let scheduler = &state.scheduler;
    let applied = scheduler
        .set_schedule(&provider, &schedule, Precondition::from(expected))
        .await?;
    let version = applied.version;
    Ok((
        etag(version),
        Json(ScheduleAppliedBody::new(applied, &schedule)),
    ))
}

/// Read the weekly schedule.
///
/// Any user may read a provider's opening hours, as they may list its slots.
/// The `ETag` is the provider's calendar version, for `If-Match` on the next write.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/schedule",
    tag = "schedule",
    params(("providerId" = String, Path, description = "The provider")),
    responses(
        (status = 200, description = "The schedule, and how far its slots reach", body = StoredScheduleBody,
            headers(("ETag" = String, description = "The provider's calendar version, for If-Match on writes"))),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn get_schedule(
    State(state): State<AppState>,
    _caller: AuthUser,
    PathId(provider): PathId<ProviderId>,
) -> Result<([(HeaderName, HeaderValue); 1], Json<StoredScheduleBody>), ApiError> {
    let stored = state
        .scheduler
        .schedule(&provider)
        .await?
        .ok_or_else(|| not_found(&provider))?;
    Ok((etag(stored.version), Json((&stored).into())))
}

/// Forget the weekly schedule.
///
/// The schedule stops rolling forward; the slots it published stay, with
/// their reservations (withdraw them with `DELETE .../availability`).
/// This write takes no `If-Match`: a tag is refused (400), `*` is allowed.
#[utoipa::path(
    delete,
    path = "/v1/providers/{providerId}/schedule",
    tag = "schedule",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("If-Match" = Option<String>, Header, description = "Only `*`: this write is not conditional on a version"),
    ),
    responses(
        (status = 204, description = "The schedule is forgotten; its slots stay"),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn delete_schedule(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
    _unconditional: Unconditional,
) -> Result<StatusCode, ApiError> {
    match state.scheduler.clear_schedule(&provider).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(not_found(&provider)),
    }
}

fn not_found(provider: &ProviderId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "schedule_not_found",
        "Schedule not found",
        format!("provider {provider} has no weekly schedule; PUT one first"),
    )
    .field("providerId")
}

/// A write that cannot be made conditional: an `If-Match` naming a version
/// is refused rather than ignored, since ignoring it would apply the write
/// whatever the calendar's version. `*` asks for nothing and passes.
#[derive(Debug)]
pub struct Unconditional;

impl<S: Send + Sync> FromRequestParts<S> for Unconditional {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get(header::IF_MATCH) {
            None => Ok(Unconditional),
            Some(value) if value.as_bytes().trim_ascii() == b"*" => Ok(Unconditional),
            Some(_) => Err(ApiError::bad_request(
                "if_match_unsupported",
                "forgetting a schedule cannot be made conditional on a calendar version; \
                 send it without If-Match (or with If-Match: *)",
            )
            .field("If-Match")),
        }
    }
}
