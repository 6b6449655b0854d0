//! The JSON the API speaks: request and response bodies, and their OpenAPI schemas.
//!
//! The core types serialize to these shapes too; the server keeps its own
//! copies so that the served JSON and the published schema come from one
//! type each and cannot drift apart.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use scheduler_core::{AddedSlots, Page, Reservation, ReservationStatus, Slot, Withdrawal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

mod instant;
mod local;
mod schedule;
mod service;

pub use local::{LocalSlotPage, SlotListingPage};
pub use schedule::{ScheduleAppliedBody, ScheduleDoc, StoredScheduleBody};
pub use scheduler_core::local_time::json::Object;
pub use service::{RescheduleBody, ServiceBody, ServiceInput, ServiceList};

/// A reservable slot of one provider: `[start, end)`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Slot)]
pub struct SlotBody {
    /// Opaque slot id, to pass back when reserving.
    #[schema(example = "AAAAAHEwtxBkci1ncmV5")]
    pub id: String,
    /// Whose slot it is.
    #[schema(example = "dr-grey")]
    pub provider_id: String,
    /// The service this start books: present only in a listing for a
    /// service (`?service=`), whose `end` is then the appointment's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "intake")]
    pub service_id: Option<String>,
    /// Start, RFC 3339 in UTC.
    #[serde(serialize_with = "instant::rfc3339")]
    pub start: DateTime<Utc>,
    /// End (exclusive), RFC 3339 in UTC.
    #[serde(serialize_with = "instant::rfc3339")]
    pub end: DateTime<Utc>,
}

impl From<Slot> for SlotBody {
    fn from(slot: Slot) -> Self {
        Self {
            id: slot.id.to_string(),
            service_id: slot.id.service().map(ToString::to_string),
            provider_id: slot.provider_id.into(),
            start: slot.start,
            end: slot.end,
        }
    }
}

/// Where a reservation stands, derived at the instant it is read.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReservationStatus)]
pub enum StatusBody {
    /// Reserved, awaiting confirmation until `expiresAt`.
    Held,
    /// Booked.
    Confirmed,
    /// The hold lapsed unconfirmed.
    Expired,
    /// Cancelled by its client or provider.
    Cancelled,
}

impl From<ReservationStatus> for StatusBody {
    fn from(status: ReservationStatus) -> Self {
        match status {
            ReservationStatus::Held => StatusBody::Held,
            ReservationStatus::Confirmed => StatusBody::Confirmed,
            ReservationStatus::Expired => StatusBody::Expired,
            ReservationStatus::Cancelled => StatusBody::Cancelled,
        }
    }
}

/// A client's claim on a slot.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Reservation)]
pub struct ReservationBody {
    /// Opaque reservation id.
    pub id: String,
    /// The slot reserved.
    pub slot_id: String,
    /// The slot's provider.
    pub provider_id: String,
    /// The client who reserved.
    pub client_id: String,
    /// The service booked; `null` for a plain one-slot reservation.
    #[schema(required = true)]
    pub service_id: Option<String>,
    /// Start of the appointment.
    #[serde(serialize_with = "instant::rfc3339")]
    pub start: DateTime<Utc>,
    /// End of the appointment (its buffers are not included).
    #[serde(serialize_with = "instant::rfc3339")]
    pub end: DateTime<Utc>,
    /// The status as of this response.
    pub status: StatusBody,
    /// When the hold was taken.
    pub created_at: DateTime<Utc>,
    /// When the hold lapses unless confirmed.
    pub expires_at: DateTime<Utc>,
    /// When it was confirmed; `null` until then.
    #[schema(required = true)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl From<Reservation> for ReservationBody {
    fn from(r: Reservation) -> Self {
        Self {
            id: r.id.to_string(),
            slot_id: r.slot_id.to_string(),
            provider_id: r.provider_id.into(),
            client_id: r.client_id.into(),
            service_id: r.service_id.map(String::from),
            start: r.start,
            end: r.end,
            status: r.status.into(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            confirmed_at: r.confirmed_at,
        }
    }
}

/// One availability window `[start, end)`; any RFC 3339 offset, converted to UTC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Window)]
pub struct WindowBody {
    /// Start; rounded up to the slot grid.
    #[schema(example = "2030-03-06T09:00:00Z")]
    pub start: DateTime<Utc>,
    /// End (exclusive); rounded down to the slot grid.
    #[schema(example = "2030-03-06T12:00:00+00:00")]
    pub end: DateTime<Utc>,
}

/// Availability to publish. The provider is the one in the path, which must be the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// The windows; all are checked before any is added.
    pub windows: Vec<WindowBody>,
}

/// The slots an availability request created (repeats of existing slots are left out).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AddedSlots)]
pub struct AddedSlotsBody {
    /// The new slots, in order of start.
    pub added: Vec<SlotBody>,
}

impl From<AddedSlots> for AddedSlotsBody {
    fn from(added: AddedSlots) -> Self {
        Self {
            added: added.added.into_iter().map(Into::into).collect(),
        }
    }
}

/// What a withdrawal did: free slots removed, held or booked ones kept.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Withdrawal)]
pub struct WithdrawalBody {
    /// The free slots removed, in order of start.
    pub removed: Vec<SlotBody>,
    /// The reservations whose slots were kept, in order of start.
    pub conflicts: Vec<ReservationBody>,
}

impl From<Withdrawal> for WithdrawalBody {
    fn from(w: Withdrawal) -> Self {
        Self {
            removed: w.removed.into_iter().map(Into::into).collect(),
            conflicts: w.conflicts.into_iter().map(Into::into).collect(),
        }
    }
}

/// One page of reservable slots.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlotPage {
    /// The slots, in order of start.
    pub slots: Vec<SlotBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl SlotPage {
    /// About how many bytes the page's JSON takes, so that it is written
    /// into one buffer instead of one grown a doubling at a time.
    pub fn json_size_hint(&self) -> usize {
        let per_slot = self.slots.first().map_or(0, |slot| {
            // The id is base64 of 8 bytes and the provider id; the rest is
            // two instants, the provider id and the keys.
            (8 + slot.provider_id.len()).div_ceil(3) * 4 + slot.provider_id.len() + 96
        });
        64 + self.slots.len() * per_slot
    }
}

impl From<Page<Slot>> for SlotPage {
    fn from(page: Page<Slot>) -> Self {
        Self {
            slots: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// One page of reservations, every status included.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservationPage {
    /// The reservations, in order of slot start, then id.
    pub reservations: Vec<ReservationBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<Page<Reservation>> for ReservationPage {
    fn from(page: Page<Reservation>) -> Self {
        Self {
            reservations: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// The answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process serves and its storage answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// A JSON body written into a buffer of a size given up front.
///
/// `axum::Json` starts from a small buffer and grows it as it writes; a page
/// of 50 slots is several kilobytes, which would take several regrowths and
/// copies.
#[derive(Debug)]
pub struct SizedJson<T>(pub T, pub usize);

impl<T: Serialize> IntoResponse for SizedJson<T> {
    fn into_response(self) -> Response {
        let SizedJson(value, size) = self;
        let mut body = Vec::with_capacity(size);
        match serde_json::to_writer(&mut body, &value) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(err) => {
                tracing::error!(error = %err, "a response body failed to serialize");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the server failed to handle the request",
                )
                .into_response()
            }
        }
    }
}
