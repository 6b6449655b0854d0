//! The data the scheduler hands out: slots, reservations, pages and reports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, ProviderId, ReservationId, ServiceId, SlotId};

/// A reservable slot of one provider, `[start, end)`: one grid slot, or a
/// service's start, when `end` is the appointment's end and the id names
/// the service ([`SlotId::service`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// The slot's opaque id.
    pub id: SlotId,
    /// Whose slot it is.
    pub provider_id: ProviderId,
    /// Start of the slot.
    pub start: DateTime<Utc>,
    /// End of the slot (exclusive).
    pub end: DateTime<Utc>,
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    /// Reserved, awaiting confirmation until `expires_at`.
    Held,
    /// Booked.
    Confirmed,
    /// The hold lapsed unconfirmed.
    Expired,
    /// Cancelled by its client or provider.
    Cancelled,
}

impl ReservationStatus {
    /// The status as stored and shown: `held`, `confirmed`, `expired` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Cancelled => "cancelled",
        }
    }

    /// The status from its stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "held" => ReservationStatus::Held,
            "confirmed" => ReservationStatus::Confirmed,
            "expired" => ReservationStatus::Expired,
            "cancelled" => ReservationStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A client's claim on a slot, or on a service's run of slots.
///
/// It keeps its own spans: editing or deleting its service later never
/// moves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// The reservation's opaque id.
    pub id: ReservationId,
    /// The slot reserved: the id it was booked (or last rescheduled) with.
    pub slot_id: SlotId,
    /// The slot's provider.
    pub provider_id: ProviderId,
    /// The client who reserved.
    pub client_id: ClientId,
    /// The service booked, or `None` for a plain one-slot reservation.
    pub service_id: Option<ServiceId>,
    /// Start of the appointment: the time it occupies is `[start, end)`.
    pub start: DateTime<Utc>,
    /// End of the appointment.
    pub end: DateTime<Utc>,
    /// Start of the time it keeps free of other bookings: `start` less the
    /// service's buffer before.
    pub blocked_start: DateTime<Utc>,
    /// End of the time it keeps free: `end` plus the buffer after.
    pub blocked_end: DateTime<Utc>,
    /// The status, as of the instant the reservation was read.
    pub status: ReservationStatus,
    /// When the hold was taken.
    pub created_at: DateTime<Utc>,
    /// When the hold lapses unless confirmed.
    pub expires_at: DateTime<Utc>,
    /// When it was confirmed, if it was.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Reservation {
    /// The status at `now`: a hold read at or after its `expires_at` is expired,
    /// whatever storage still says.
    pub fn status_at(&self, now: DateTime<Utc>) -> ReservationStatus {
        match self.status {
            ReservationStatus::Held if now >= self.expires_at => ReservationStatus::Expired,
            status => status,
        }
    }

    /// Whether the reservation occupies its slot at `now` (confirmed, or held and unexpired).
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status_at(now),
            ReservationStatus::Held | ReservationStatus::Confirmed
        )
    }

    /// The reservation as seen at `now`, with its status derived.
    pub fn observed_at(mut self, now: DateTime<Utc>) -> Self {
        self.status = self.status_at(now);
        self
    }
}

/// Who is acting on a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A client, acting on their own reservations.
    Client(ClientId),
    /// A provider, acting on reservations of their own slots.
    Provider(ProviderId),
}

impl Actor {
    /// Whether this actor is the reservation's client or its slot's provider.
    pub fn is_party_to(&self, reservation: &Reservation) -> bool {
        match self {
            Actor::Client(client) => *client == reservation.client_id,
            Actor::Provider(provider) => *provider == reservation.provider_id,
        }
    }
}

/// One page of a listing, and the cursor for the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in listing order.
    pub items: Vec<T>,
    /// Pass this back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Default for Page<T> {
    /// An empty last page.
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}

/// What [`Scheduler::add_availability`](crate::Scheduler::add_availability) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedSlots {
    /// The slots that did not exist before, in order; repeats of existing slots are left out.
    pub added: Vec<Slot>,
    /// The provider's calendar version after the write.
    pub version: u64,
}

/// What [`Scheduler::withdraw_availability`](crate::Scheduler::withdraw_availability) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// The free slots removed, in order.
    pub removed: Vec<Slot>,
    /// The slots kept because they are held or booked, with the reservation on each.
    pub conflicts: Vec<Reservation>,
    /// The provider's calendar version after the write.
    pub version: u64,
}
