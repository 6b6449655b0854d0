//! The whole HTTP application: every resource's routes, the documentation and
//! the layers every request passes through.

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::{Router, middleware};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::openapi::{self, ApiDoc};
use crate::state::AppState;
use crate::{
    availability, feeds, health, limits, reservations, schedule, services, slots, telemetry,
};

/// The application over `state`.
pub fn router(state: AppState) -> Router {
    let (api, mut spec) = api().split_for_parts();
    openapi::CommonProblems.modify(&mut spec);
    let layers = ServiceBuilder::new()
        // Outermost first: every log line of a request carries its id, and the
        // time limit covers everything below the logging.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(telemetry::layer())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn_with_state(
            state.limits.request_timeout,
            limits::time_limit,
        ))
        .layer(DefaultBodyLimit::max(state.limits.body_bytes));
    api.merge(openapi::docs(spec))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers)
        .with_state(state)
}

/// The documented routes, with the OpenAPI document they make up.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(availability::router())
        .merge(slots::router())
        .merge(reservations::router())
        .merge(health::router())
        .merge(feeds::router())
        .merge(schedule::router())
        .merge(services::router())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such route",
        format!("no route for {method} {}; see /docs", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        format!("{} does not accept {method}; see /docs", uri.path()),
    )
}
