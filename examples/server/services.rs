//! `/v1/providers/{providerId}/services`: the kinds of appointment a provider
//! offers, each a run of slots with buffer time around it.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use scheduler_core::ProviderId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthUser, ServiceOwner};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PathId, ServicePath};
use crate::state::AppState;
use crate::wire::{ServiceBody, ServiceInput, ServiceList};

/// The service routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_service, get_service, delete_service))
        .routes(routes!(list_services))
}

/// Store a service.
///
/// Creates the provider's service with this id (201), or replaces it (200).
/// Bookings already made keep the time they were made with. Every length is
/// a multiple of the slot length; a rule broken is a 400 `invalid_service`
/// whose `field` names it.
#[utoipa::path(
    put,
    path = "/v1/providers/{providerId}/services/{serviceId}",
    tag = "services",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("serviceId" = String, Path, description = "The service's id: 1-128 ASCII letters, digits and -_.@:"),
    ),
    request_body = ServiceInput,
    responses(
        (status = 200, description = "The service, replaced", body = ServiceBody),
        (status = 201, description = "The service, created", body = ServiceBody,
            headers(("Location" = String, description = "The service's URL"))),
        (status = 403, response = Problem),
        (status = 413, response = Problem),
        (status = 415, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn put_service(
    State(state): State<AppState>,
    ServiceOwner { provider, service }: ServiceOwner,
    ApiJson(input): ApiJson<ServiceInput>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<ServiceBody>,
    ),
    ApiError,
> {
    let service = input.into_service(provider, service)?;
    let created = state.scheduler.put_service(&service).await?;
    let location = format!(
        "/v1/providers/{}/services/{}",
        service.provider_id, service.id
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::LOCATION, location)], Json(service.into())))
}

/// Read a service.
///
/// Any user may read a provider's services, as they may list its slots.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/services/{serviceId}",
    tag = "services",
    params(
        ("providerId" = String, Path, description = "The provider"),
        ("serviceId" = String, Path, description = "The service's id"),
    ),
    responses(
        (status = 200, description = "The service", body = ServiceBody),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn get_service(
    State(state): State<AppState>,
    _caller: AuthUser,
    ServicePath { provider, service }: ServicePath,
) -> Result<Json<ServiceBody>, ApiError> {
    let service = state.scheduler.service(&provider, &service).await?;
    Ok(Json(service.into()))
}

/// Delete a service.
///
/// Its bookings stay as they are; its slot ids can no longer be reserved,
/// and its bookings can no longer be moved.
#[utoipa::path(
    delete,
    path = "/v1/providers/{providerId}/services/{serviceId}",
    tag = "services",
    params(
        ("providerId" = String, Path, description = "The provider: must be the caller"),
        ("serviceId" = String, Path, description = "The service's id"),
    ),
    responses(
        (status = 204, description = "The service is gone; its bookings stay"),
        (status = 403, response = Problem),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn delete_service(
    State(state): State<AppState>,
    ServiceOwner { provider, service }: ServiceOwner,
) -> Result<StatusCode, ApiError> {
    state.scheduler.delete_service(&provider, &service).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a provider's services.
///
/// Any user may list them, ascending by id.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/services",
    tag = "services",
    params(("providerId" = String, Path, description = "The provider")),
    responses(
        (status = 200, description = "The provider's services", body = ServiceList),
    ),
    security(("bearer" = []))
)]
async fn list_services(
    State(state): State<AppState>,
    _caller: AuthUser,
    PathId(provider): PathId<ProviderId>,
) -> Result<Json<ServiceList>, ApiError> {
    let services = state.scheduler.services(&provider).await?;
    Ok(Json(ServiceList {
        services: services.into_iter().map(Into::into).collect(),
    }))
}
