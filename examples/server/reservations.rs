//! Reservations: reserve a slot, confirm, read and cancel one, and list a
//! provider's appointments or a client's own.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use scheduler_core::{ReservationId, SlotId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthClient, AuthUser, CalendarOwner};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, IdempotencyKeyHeader, ListParams, Listing, PathId};
use crate::state::AppState;
use crate::wire::{RescheduleBody, ReservationBody, ReservationPage};

/// The reservation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reserve))
        .routes(routes!(confirm))
        .routes(routes!(reschedule))
        .routes(routes!(read, cancel))
        .routes(routes!(provider_reservations))
        .routes(routes!(my_reservations))
}

/// Reserve a slot.
///
/// Places a hold for the calling client, lasting the hold time (30 minutes by
/// default); confirm it before `expiresAt`. The slot must start at least the
/// minimum lead (24 h by default) from now. With an `Idempotency-Key`, a
/// repeat of the request returns the original reservation; the same key for
/// another slot is refused with `idempotency_conflict`.
#[utoipa::path(
    post,
    path = "/v1/slots/{slotId}/reservations",
    tag = "reservations",
    params(
        ("slotId" = String, Path, description = "A slot id from a listing"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 visible ASCII characters, scoped to the caller; makes a retry safe"),
    ),
    responses(
        (status = 201, description = "The hold (or, on a replay, the original reservation as it stands)", body = ReservationBody,
            headers(("Location" = String, description = "The reservation's URL"))),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, response = Problem),
        (status = 422, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn reserve(
    State(state): State<AppState>,
    AuthClient(client): AuthClient,
    PathId(slot): PathId<SlotId>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<ReservationBody>,
    ),
    ApiError,
> {
    let reservation = state
        .scheduler
        .reserve(&slot, &client, key.as_ref())
        .await?;
    let location = format!("/v1/reservations/{}", reservation.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(reservation.into()),
    ))
}

/// Confirm a hold.
///
/// Only the client holding it, before `expiresAt`. Confirming a confirmed
/// reservation returns it unchanged.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/confirm",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id")),
    responses(
        (status = 200, description = "The confirmed reservation", body = ReservationBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, response = Problem),
        (status = 410, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn confirm(
    State(state): State<AppState>,
    AuthClient(client): AuthClient,
    PathId(id): PathId<ReservationId>,
) -> Result<Json<ReservationBody>, ApiError> {
    let confirmed = state.scheduler.confirm(id, &client).await?;
    Ok(Json(confirmed.into()))
}

/// Reschedule a reservation.
///
/// Moves a live reservation, for its client or its provider, to the start
/// `slotId` names: a slot id from a listing of the same service
/// (`?service=`), or from the plain listing for a plain reservation. The
/// new start must be reservable now, except that the reservation's own time
/// does not stand in its way. One atomic step: the id, client, service,
/// status and (for a hold) `expiresAt` stay; `start` and `end` change.
/// Moving it to where it is returns it unchanged.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/reschedule",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id")),
    request_body = RescheduleBody,
    responses(
        (status = 200, description = "The reservation at its new start", body = ReservationBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 409, response = Problem),
        (status = 410, response = Problem),
        (status = 413, response = Problem),
        (status = 415, response = Problem),
        (status = 422, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn reschedule(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(id): PathId<ReservationId>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> Result<Json<ReservationBody>, ApiError> {
    let slot: SlotId = body.slot_id.parse()?;
    let moved = state
        .scheduler
        .reschedule(id, &slot, &caller.actor()?)
        .await?;
    Ok(Json(moved.into()))
}

/// Read a reservation.
///
/// For its client or its slot's provider; the status is as of now (a lapsed
/// hold reads `expired`).
#[utoipa::path(
    get,
    path = "/v1/reservations/{id}",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id")),
    responses(
        (status = 200, description = "The reservation", body = ReservationBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(id): PathId<ReservationId>,
) -> Result<Json<ReservationBody>, ApiError> {
    let reservation = state.scheduler.reservation(id, &caller.actor()?).await?;
    Ok(Json(reservation.into()))
}

/// Cancel a reservation.
///
/// By its client or its slot's provider; the slot is free at once.
/// Cancelling again returns it unchanged; a lapsed hold cannot be cancelled.
#[utoipa::path(
    delete,
    path = "/v1/reservations/{id}",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id")),
    responses(
        (status = 200, description = "The cancelled reservation", body = ReservationBody),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
        (status = 410, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn cancel(
    State(state): State<AppState>,
    caller: AuthUser,
    PathId(id): PathId<ReservationId>,
) -> Result<Json<ReservationBody>, ApiError> {
    let cancelled = state.scheduler.cancel(id, &caller.actor()?).await?;
    Ok(Json(cancelled.into()))
}

/// List a provider's appointments.
///
/// The caller's own reservations whose slots start in `[from, to)`, every
/// status included, in order of start.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/reservations",
    tag = "reservations",
    params(("providerId" = String, Path, description = "The provider: must be the caller"), ListParams),
    responses(
        (status = 200, description = "One page of reservations", body = ReservationPage),
        (status = 403, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn provider_reservations(
    State(state): State<AppState>,
    CalendarOwner(provider): CalendarOwner,
    Listing(query): Listing,
) -> Result<Json<ReservationPage>, ApiError> {
    let page = state
        .scheduler
        .provider_reservations(&provider, query)
        .await?;
    Ok(Json(page.into()))
}

/// List my reservations.
///
/// The calling client's reservations whose slots start in `[from, to)`, every
/// status included, in order of start.
#[utoipa::path(
    get,
    path = "/v1/me/reservations",
    tag = "reservations",
    params(ListParams),
    responses(
        (status = 200, description = "One page of reservations", body = ReservationPage),
        (status = 403, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn my_reservations(
    State(state): State<AppState>,
    AuthClient(client): AuthClient,
    Listing(query): Listing,
) -> Result<Json<ReservationPage>, ApiError> {
    let page = state.scheduler.client_reservations(&client, query).await?;
    Ok(Json(page.into()))
}
