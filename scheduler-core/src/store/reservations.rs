//! [`ReservationStore`]: reservations, from the hold that takes a slot to
//! the sweep that tidies lapsed holds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SlotBounds;
use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId, SlotId};
use crate::model::Reservation;
use crate::service::Claim;

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

/// A new hold for a store to take if its cells are free.
#[derive(Debug, Clone, Copy)]
pub struct HoldRequest<'a> {
    /// The reservation to insert, complete and with status `held`.
    pub reservation: &'a Reservation,
    /// The cells it occupies and blocks, which match its spans.
    pub claim: Claim,
    /// The client's idempotency key, if they sent one.
    pub key: Option<&'a IdempotencyKey>,
}

/// What [`ReservationStore::hold`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The hold was taken; the stored reservation.
    Held(Reservation),
    /// A slot of the occupied span is not published.
    NoSuchSlot,
    /// A live reservation blocks one of the cells.
    SlotTaken,
    /// The client already used the idempotency key; the reservation it belongs to.
    KeyUsed(Reservation),
}

/// What [`ReservationStore::reschedule`] did.
// Returned once per call and never kept: boxing the moved reservation would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RescheduleOutcome {
    /// The reservation now claims the new cells; as stored.
    Moved(Reservation),
    /// The reservation does not exist or is no longer live; nothing changed.
    NotLive,
    /// A slot of the new occupied span is not published.
    NoSuchSlot,
    /// A live reservation other than this one blocks one of the new cells.
    SlotTaken,
}

/// Reservations and their moves, each one atomic.
///
/// A reservation is *live at `now`* when it is confirmed, or held with
/// `expires_at > now`. Each reservation *blocks* a run of grid cells (its
/// [`Claim`]); a cell is *free at `now`* when no live reservation blocks it.
/// At no moment may two live reservations of a provider block a common
/// cell: the store enforces that itself, across processes, whatever callers
/// do.
#[async_trait]
pub trait ReservationStore: Send + Sync {
    /// In one atomic step: if the client already used `request.key`, report
    /// that reservation; else if a slot of the occupied span is not
    /// published, or a blocked cell is not free at `now`, say so; else insert
    /// the reservation. Lapsed holds blocking the new one's cells may be
    /// marked expired in the same step.
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome>;

    /// In one atomic step: if the reservation is live at `now`, and every slot
    /// of `claim`'s occupied span is published, and no other live
    /// reservation blocks a cell of `claim`, moves the reservation there: its
    /// start, end and blocked span become `claim`'s, and nothing else of it
    /// changes. `slot` is the id it is moved with (it names the service).
    async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<RescheduleOutcome>;

    /// The cells in `bounds` that a reservation live at `now` blocks,
    /// ascending. Cost grows with the cells in `bounds`, not the calendar.
    async fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>>;

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

    /// If the reservation is live at `now`, marks it cancelled and returns it,
    /// freeing its cells; otherwise returns `None`.
    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>>;

    /// Marks up to `batch` holds with `expires_at <= now` as expired, freeing
    /// their cells; returns how many. Safe to run from many processes at once.
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
