//! The OpenAPI 3.1 document, served at `/openapi.json`, and Swagger UI at `/docs`
//! from assets compiled into the binary (nothing is fetched at build or view time).

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::Ref;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, Problem};
use crate::feeds::FeedTokenAuth;
use crate::state::AppState;

/// Where the document is served.
pub const SPEC_PATH: &str = "/openapi.json";

/// The document's fixed parts; the routers add every path and schema they serve.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "scheduler",
        description = "Appointment scheduling: providers publish availability as slots on a UTC grid; \
                       clients hold a slot well ahead and confirm it before the hold lapses. \
                       Every error is `application/problem+json` with a stable `code`.",
    ),
    modifiers(&BearerAuth, &FeedTokenAuth),
    components(schemas(Problem), responses(Problem)),
    tags(
        (name = "availability", description = "A provider's availability windows"),
        (name = "slots", description = "Reservable slots"),
        (name = "reservations", description = "Holds, bookings and their listings"),
        (name = "health", description = "Liveness and storage health"),
        (name = "feeds", description = "A provider's bookings as an iCalendar feed, and its feed tokens"),
        (name = "schedule", description = "A provider's weekly opening hours in their time zone"),
        (name = "services", description = "Kinds of appointment: runs of slots with buffer time around them"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the routes' `security` entries name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT with claims `sub` (user id), `role` (`provider` or `client`) \
                         and `exp`; `server token --role client --sub alice` mints one.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The problem responses every route can give, said once here instead of on
/// each route: 503 (storage unavailable) anywhere, and on every route that
/// needs credentials 400 (input that cannot be read), 401 (no usable
/// credentials) and 429 (rate limited). A route lists only the problems
/// particular to it.
pub struct CommonProblems;

impl CommonProblems {
    const EVERYWHERE: [u16; 1] = [503];
    const AUTHENTICATED: [u16; 3] = [400, 401, 429];
}

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let statuses = Self::EVERYWHERE
                    .iter()
                    .chain(Self::AUTHENTICATED.iter().filter(|_| authenticated));
                for status in statuses {
                    operation.responses.responses.insert(
                        status.to_string(),
                        Ref::from_response_name("Problem").into(),
                    );
                }
            }
        }
    }
}

/// `/openapi.json` and Swagger UI at `/docs`.
pub fn docs(spec: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url(SPEC_PATH, spec))
        .layer(middleware::map_response(asset_problem))
}

/// Swagger UI answers an unknown asset with a bare 404, and a name that is not
/// UTF-8 with a plain-text 400; every error of the API is a problem, so these
/// become one too.
async fn asset_problem(uri: Uri, response: Response) -> Response {
    let status = response.status();
    if !status.is_client_error() {
        return response;
    }
    let (code, title, detail) = if status == StatusCode::NOT_FOUND {
        ("not_found", "No such route", "no such document; see /docs")
    } else {
        (
            "invalid_path",
            "Malformed request",
            "the document name cannot be read",
        )
    };
    let detail = format!("{detail} (GET {})", uri.path());
    ApiError::new(status, code, title, detail)
        .field("path")
        .into_response()
}
