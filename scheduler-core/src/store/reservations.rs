//! [`ReservationStore`]: reservations, from the hold that takes a slot to
//! the sweep that tidies lapsed holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SlotBounds;
use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId};
use crate::model::Reservation;

/// A page request over reservations, ordered by `(start, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationPage {
    /// The reservations' slot starts must lie in these bounds.
    pub bounds: SlotBounds,
    /// Only reservations strictly after this `(start, id)` position.
    pub after: Option<(SlotStart, ReservationId)>,
    /// At most this many.
    pub limit: usize,
}

/// A new hold for a store to take if the slot is free.
#[derive(Debug, Clone, Copy)]
pub struct HoldRequest<'a> {
    /// The reservation to insert, complete and with status `held`.
    pub reservation: &'a Reservation,
    /// The slot's start, which is the reservation's start.
    pub slot: SlotStart,
    /// The client's idempotency key, if they sent one.
    pub key: Option<&'a IdempotencyKey>,
}

/// What [`ReservationStore::hold`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The hold was taken; the stored reservation.
    Held(Reservation),
    /// The provider has no slot at that start.
    NoSuchSlot,
    /// The slot has a confirmed reservation or an unexpired hold.
    SlotTaken,
    /// The client already used the idempotency key; the reservation it belongs to.
    KeyUsed(Reservation),
}

/// Reservations and their moves, each one atomic.
///
/// A slot is *free at `now`* when no reservation on it is confirmed or held
/// with `expires_at > now`.
#[async_trait]
pub trait ReservationStore: Send + Sync {
    /// In one atomic step: if the client already used `request.key`, report
    /// that reservation; else if the slot does not exist or is not free at
    /// `now`, say so; else insert the reservation. A lapsed hold the new one
    /// displaces may be marked expired in the same step.
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome>;

    /// The reservation with this id.
    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>>;

    /// The reservation `client` made with `key`.
    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>>;

    /// If the reservation is held with `expires_at > now`, marks it confirmed at
    /// `now` and returns it; otherwise changes nothing and returns `None`.
    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>>;

    /// If the reservation is confirmed, or held with `expires_at > now`, marks
    /// it cancelled and returns it, freeing its slot; otherwise returns `None`.
    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>>;

    /// Marks up to `batch` holds with `expires_at <= now` as expired; returns
    /// how many. Safe to run from many processes at once.
    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64>;

    /// `provider`'s reservations in the page's bounds, ordered by `(start, id)`.
    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>>;

    /// `client`'s reservations in the page's bounds, ordered by `(start, id)`.
    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>>;
}
