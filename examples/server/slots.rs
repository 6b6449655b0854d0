//! `/v1/providers/{providerId}/slots`: the reservable slots of a provider, a page at a time.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use scheduler_core::ProviderId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::etag::etag;
use crate::extract::{PathId, SlotListParams, SlotListing};
use crate::state::AppState;
use crate::wire::{LocalSlotPage, SizedJson, SlotListingPage, SlotPage};

/// The slot routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// List reservable slots.
///
/// Slots starting in `[from, to)` that can be reserved now: at least the
/// minimum lead ahead, neither booked nor under an unexpired hold; in order
/// of start. Pass `nextCursor` back as `cursor` for the next page. The `ETag`
/// is the provider's calendar version, for `If-Match` on availability writes.
///
/// With `service`, the listing is the starts where that service fits: every
/// slot of the appointment published, the service's notice and horizon met,
/// and no other booking's time or buffers in the way. Each item then names
/// the service (`serviceId`), its `end` is the appointment's end, and its id
/// books the service. An unknown service is a 404 `service_not_found`.
///
/// With `tz` (an IANA zone name), each slot also carries `localStart`, its
/// start as a wall clock in that zone reads it, and `offset`, the zone's
/// offset from UTC at that instant: across a daylight-saving change the
/// offset changes from one slot to the next, and in a fall-back fold two
/// slots share a `localStart` with different offsets.
#[utoipa::path(
    get,
    path = "/v1/providers/{providerId}/slots",
    tag = "slots",
    params(("providerId" = String, Path, description = "The provider"), SlotListParams),
    responses(
        (status = 200, description = "One page of slots; with `tz`, each also read in that zone", body = SlotListingPage,
            headers(("ETag" = String, description = "The provider's calendar version, for If-Match on availability writes"))),
        (status = 404, response = Problem),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    _caller: AuthUser,
    PathId(provider): PathId<ProviderId>,
    SlotListing {
        query,
        zone,
        service,
    }: SlotListing,
) -> Result<([(HeaderName, HeaderValue); 1], SizedJson<SlotListingPage>), ApiError> {
    // The version is read no later than the page (on SQLite in the same
    // statement): if a write lands in between, the ETag is older than the
    // page and a conditional write fails safe (412), instead of a newer ETag
    // blessing a page the client never saw.
    let scheduler = &state.scheduler;
    let (version, page) = match service {
        None => scheduler.list_slots_versioned(&provider, query).await?,
        Some(service) => {
            let version = scheduler.calendar_version(&provider).await?;
            let page = scheduler
                .list_service_starts(&provider, &service, query)
                .await?;
            (version, page)
        }
    };
    let body = match zone {
        None => {
            let page = SlotPage::from(page);
            let size = page.json_size_hint();
            SizedJson(SlotListingPage::Utc(page), size)
        }
        Some(zone) => {
            let page = LocalSlotPage::new(page, zone);
            let size = page.json_size_hint();
            SizedJson(SlotListingPage::Local(page), size)
        }
    };
    Ok((etag(version), body))
}
