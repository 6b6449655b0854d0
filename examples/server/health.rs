//! `/healthz`: whether the process serves and its storage answers.

use axum::Json;
use axum::extract::State;
use scheduler_core::ReservationId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::Health;

/// The health route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Health check.
///
/// Answers 200 when the storage answers a read, 503 when it does not, so a
/// load balancer stops sending traffic to an instance that lost its database.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "Serving", body = Health),
    )
)]
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    // A lookup of an id nobody holds: one indexed read on every backend.
    state
        .scheduler
        .store()
        .reservation(ReservationId::generate())
        .await?;
    Ok(Json(Health { status: "ok" }))
}
