//! Services as the API spells them: lengths in whole minutes, the horizon
//! in days.

use chrono::TimeDelta;
use scheduler_core::{Error, ProviderId, Service, ServiceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A service to store: `PUT /v1/providers/{providerId}/services/{serviceId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ServiceInput)]
pub struct ServiceInput {
    /// What people call it: 1 to 200 characters, no control characters.
    #[schema(example = "Intake")]
    pub name: String,
    /// How long the appointment takes: a positive multiple of the slot
    /// length (15 by default), at most 1440.
    #[schema(example = 45)]
    pub duration_minutes: i64,
    /// Time kept free before it: a multiple of the slot length, 0 to 240.
    #[serde(default)]
    #[schema(example = 0)]
    pub buffer_before_minutes: i64,
    /// Time kept free after it: a multiple of the slot length, 0 to 240.
    #[serde(default)]
    #[schema(example = 15)]
    pub buffer_after_minutes: i64,
    /// The least notice a booking needs, if more than the server's lead
    /// time: 0 to 525,600.
    #[schema(example = 2880)]
    pub min_notice_minutes: Option<i64>,
    /// How far ahead a booking may start, if less than the server's
    /// horizon: 1 to 3,650.
    #[schema(example = 60)]
    pub max_advance_days: Option<i64>,
}

impl ServiceInput {
    /// The service `id` of `provider` this input describes. The core judges
    /// every rule; here a number only has to fit a duration at all.
    pub fn into_service(self, provider: ProviderId, id: ServiceId) -> Result<Service, Error> {
        let span = |field: &'static str, value: i64, unit: fn(i64) -> Option<TimeDelta>| {
            unit(value).ok_or_else(|| Error::InvalidService {
                field,
                rule: format!("is out of range: {value}"),
            })
        };
        Ok(Service {
            provider_id: provider,
            id,
            name: self.name,
            duration: span("duration", self.duration_minutes, TimeDelta::try_minutes)?,
            buffer_before: span(
                "bufferBefore",
                self.buffer_before_minutes,
                TimeDelta::try_minutes,
            )?,
            buffer_after: span(
                "bufferAfter",
                self.buffer_after_minutes,
                TimeDelta::try_minutes,
            )?,
            min_notice: self
                .min_notice_minutes
                .map(|n| span("minNotice", n, TimeDelta::try_minutes))
                .transpose()?,
            max_advance: self
                .max_advance_days
                .map(|n| span("maxAdvance", n, TimeDelta::try_days))
                .transpose()?,
        })
    }
}

/// A stored service.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Service)]
pub struct ServiceBody {
    /// Its id among the provider's services.
    #[schema(example = "intake")]
    pub id: String,
    /// Whose service it is.
    #[schema(example = "dr-grey")]
    pub provider_id: String,
    /// What people call it.
    #[schema(example = "Intake")]
    pub name: String,
    /// How long the appointment takes.
    #[schema(example = 45)]
    pub duration_minutes: i64,
    /// Time kept free before it.
    #[schema(example = 0)]
    pub buffer_before_minutes: i64,
    /// Time kept free after it.
    #[schema(example = 15)]
    pub buffer_after_minutes: i64,
    /// The least notice a booking needs; `null`: the server's lead time.
    #[schema(required = true)]
    pub min_notice_minutes: Option<i64>,
    /// How far ahead a booking may start; `null`: the server's horizon.
    #[schema(required = true)]
    pub max_advance_days: Option<i64>,
}

impl From<Service> for ServiceBody {
    fn from(service: Service) -> Self {
        Self {
            id: service.id.into(),
            provider_id: service.provider_id.into(),
            name: service.name,
            duration_minutes: service.duration.num_minutes(),
            buffer_before_minutes: service.buffer_before.num_minutes(),
            buffer_after_minutes: service.buffer_after.num_minutes(),
            min_notice_minutes: service.min_notice.map(|n| n.num_minutes()),
            max_advance_days: service.max_advance.map(|n| n.num_days()),
        }
    }
}

/// A provider's services, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    /// Ascending by id.
    pub services: Vec<ServiceBody>,
}

/// Where to move a reservation: `POST /v1/reservations/{id}/reschedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleBody {
    /// A slot id from a listing of the reservation's service (a plain
    /// listing for a plain reservation).
    #[schema(example = "AAAAAHEwtxBkci1ncmV5AGludGFrZQ")]
    pub slot_id: String,
}
