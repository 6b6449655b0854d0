//! The storage contract: atomic primitives that every backend implements.
//!
//! A store keeps facts and applies conditions atomically; it never decides
//! policy and never reads a clock. Every method that depends on time takes
//! `now` from the [`Scheduler`](crate::Scheduler), which reads its clock once
//! per operation. Rules (lead time, ownership, windows) live in the scheduler.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::grid::SlotStart;
use crate::ids::{ClientId, FeedTokenId, IdempotencyKey, ProviderId, ReservationId};
use crate::model::Reservation;

/// A half-open span of slot starts `[from, to)`, both on the grid.
///
/// `from >= to` is an empty span; the scheduler does not send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotBounds {
    /// First start included.
    pub from: SlotStart,
    /// First start excluded.
    pub to: SlotStart,
}

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

/// What [`Store::hold`] did.
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

/// What [`Store::withdraw_slots`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreWithdrawal {
    /// Starts of the free slots removed, ascending.
    pub removed: Vec<DateTime<Utc>>,
    /// Live reservations whose slots were kept, ascending by start.
    pub conflicts: Vec<Reservation>,
}

/// The result of a write to a provider's calendar guarded by its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarWrite<T> {
    /// The write happened.
    Applied {
        /// What it did.
        outcome: T,
        /// The calendar's version after it.
        version: u64,
    },
    /// The calendar was at another version than expected; nothing changed.
    VersionMismatch {
        /// The calendar's version.
        current: u64,
    },
}

/// A provider's weekly schedule as a store keeps it: the schedule's JSON text,
/// and how far its slots have been published.
///
/// Stores keep the text exactly as given and never parse it, so they need no
/// time-zone support; the scheduler (feature `tz`) reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    /// The schedule as JSON, byte for byte as it was put.
    pub json: String,
    /// The schedule's slots are published for every slot ending by this instant.
    pub through: DateTime<Utc>,
}

/// A calendar-feed token as a store keeps it.
///
/// A feed token lets a calendar application read one provider's bookings feed
/// without a bearer token. The store keeps only a digest of the token's
/// secret, computed by the caller; it compares nothing and never sees the
/// secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedToken {
    /// The token's public id: how it is found, listed and revoked.
    pub id: FeedTokenId,
    /// The provider whose feed the token opens, and nothing else.
    pub provider: ProviderId,
    /// A digest of the token's secret, as the caller computed it.
    pub digest: String,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked; `None` while it is valid.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Persistent state of slots and reservations, as atomic primitives.
///
/// A slot is *free at `now`* when no reservation on it is confirmed or held
/// with `expires_at > now`. Reservations are returned as stored: deriving the
/// status a reader sees is the scheduler's job. Every method must be safe to
/// call concurrently from many tasks and, for shared databases, many processes.
#[async_trait]
pub trait Store: Send + Sync {
    /// The version of `provider`'s calendar: 0 before any write, then one more
    /// for each [`add_slots`](Store::add_slots) or
    /// [`withdraw_slots`](Store::withdraw_slots) that changed its set of slots,
    /// and for each [`put_schedule`](Store::put_schedule) or
    /// [`delete_schedule`](Store::delete_schedule) that changed its stored
    /// schedule's text.
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64>;

    /// In one atomic step: if `expected` is given and the calendar's version
    /// differs, changes nothing and reports the current version; otherwise
    /// adds `starts` (ascending, distinct) as slots of `provider`, leaving
    /// existing slots and their reservations untouched, and bumps the version
    /// if any slot was new. The outcome is the new starts, ascending.
    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>>;

    /// In one atomic step: if `expected` is given and the calendar's version
    /// differs, changes nothing and reports the current version; otherwise
    /// removes `provider`'s slots in `bounds` that are free at `now`, reports
    /// the live reservations on the others, and bumps the version if any slot
    /// was removed.
    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>>;

    /// Starts of `provider`'s slots in `bounds` that are free at `now`,
    /// ascending, at most `limit`. Cost grows with the page, not the calendar.
    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>>;

    /// The calendar's version and the page [`free_slots`](Store::free_slots)
    /// would return, the version read no later than the page: a write landing
    /// in between can only make the version older than the page, never newer.
    ///
    /// The default reads [`calendar_version`](Store::calendar_version), then
    /// the page. A store that can read both in one round trip (one statement,
    /// one snapshot) overrides it: listing is the hottest read.
    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        let version = self.calendar_version(provider).await?;
        let starts = self.free_slots(provider, bounds, limit, now).await?;
        Ok((version, starts))
    }

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

    /// In one atomic step: if `provider`'s calendar is not at `version` (the
    /// version the schedule's slots were published at), changes nothing and
    /// reports the current version; otherwise stores `json` as the provider's
    /// schedule with `through`, replacing any schedule stored before, and
    /// bumps the version if the text differs from the one stored (or none
    /// was). The outcome's version is the calendar's after the write.
    ///
    /// The version check ties the schedule to its slots: a schedule is never
    /// stored beside slots that another write published after them.
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>>;

    /// `provider`'s stored schedule, if any.
    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>>;

    /// Removes `provider`'s schedule, bumping the calendar version if there
    /// was one; returns whether there was. Slots stay as they are.
    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool>;

    /// Up to `limit` stored schedules whose `through` is strictly before
    /// `before`, ordered by `through` and then provider id (oldest first):
    /// those the rolling horizon has left behind.
    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>>;

    /// In one atomic step: if `provider`'s schedule is stored with `through`
    /// equal to `from`, sets it to `to` and returns `true`; otherwise (another
    /// process moved it, the schedule was replaced or deleted) changes nothing
    /// and returns `false`. The text and the calendar version are untouched.
    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool>;

    /// Stores a new feed token. Returns `false`, storing nothing, if a token
    /// with the same id is stored already (whoever its provider).
    async fn put_feed_token(&self, token: &FeedToken) -> Result<bool>;

    /// The feed token with this id, revoked or not, if any.
    async fn feed_token(&self, id: &FeedTokenId) -> Result<Option<FeedToken>>;

    /// Every feed token of `provider`, revoked ones included, ordered by
    /// `created_at` and then id.
    async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>>;

    /// In one atomic step: if `provider` has a token with this id, marks it
    /// revoked at `now` unless it already was, and returns it as stored
    /// after; `None` if `provider` has no such token. Revoking twice keeps
    /// the first instant.
    async fn revoke_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>>;
}

/// Forwards every primitive to the store behind a smart pointer, so a
/// scheduler can hold `Arc<S>`, or `Box<dyn Store>` chosen at run time.
macro_rules! forward_store {
    ($($pointer:ident),*) => {$(
        #[async_trait]
        impl<S: Store + ?Sized> Store for $pointer<S> {
            async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
                (**self).calendar_version(provider).await
            }
            async fn add_slots(&self, provider: &ProviderId, starts: &[SlotStart], expected: Option<u64>) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
                (**self).add_slots(provider, starts, expected).await
            }
            async fn withdraw_slots(&self, provider: &ProviderId, bounds: SlotBounds, expected: Option<u64>, now: DateTime<Utc>) -> Result<CalendarWrite<StoreWithdrawal>> {
                (**self).withdraw_slots(provider, bounds, expected, now).await
            }
            async fn free_slots(&self, provider: &ProviderId, bounds: SlotBounds, limit: usize, now: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
                (**self).free_slots(provider, bounds, limit, now).await
            }
            async fn versioned_free_slots(&self, provider: &ProviderId, bounds: SlotBounds, limit: usize, now: DateTime<Utc>) -> Result<(u64, Vec<DateTime<Utc>>)> {
                (**self).versioned_free_slots(provider, bounds, limit, now).await
            }
            async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
                (**self).hold(request, now).await
            }
            async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
                (**self).reservation(id).await
            }
            async fn reservation_by_key(&self, client: &ClientId, key: &IdempotencyKey) -> Result<Option<Reservation>> {
                (**self).reservation_by_key(client, key).await
            }
            async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
                (**self).confirm(id, now).await
            }
            async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
                (**self).cancel(id, now).await
            }
            async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
                (**self).expire_due(now, batch).await
            }
            async fn provider_reservations(&self, provider: &ProviderId, page: ReservationPage) -> Result<Vec<Reservation>> {
                (**self).provider_reservations(provider, page).await
            }
            async fn client_reservations(&self, client: &ClientId, page: ReservationPage) -> Result<Vec<Reservation>> {
                (**self).client_reservations(client, page).await
            }
            async fn put_schedule(&self, provider: &ProviderId, json: &str, through: DateTime<Utc>, version: u64) -> Result<CalendarWrite<()>> {
                (**self).put_schedule(provider, json, through, version).await
            }
            async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
                (**self).schedule(provider).await
            }
            async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
                (**self).delete_schedule(provider).await
            }
            async fn schedules_due(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<(ProviderId, StoredSchedule)>> {
                (**self).schedules_due(before, limit).await
            }
            async fn advance_schedule(&self, provider: &ProviderId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<bool> {
                (**self).advance_schedule(provider, from, to).await
            }
            async fn put_feed_token(&self, token: &FeedToken) -> Result<bool> {
                (**self).put_feed_token(token).await
            }
            async fn feed_token(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
                (**self).feed_token(id).await
            }
            async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
                (**self).feed_tokens(provider).await
            }
            async fn revoke_feed_token(&self, provider: &ProviderId, id: &FeedTokenId, now: DateTime<Utc>) -> Result<Option<FeedToken>> {
                (**self).revoke_feed_token(provider, id, now).await
            }
        }
    )*};
}

forward_store!(Arc, Box);
