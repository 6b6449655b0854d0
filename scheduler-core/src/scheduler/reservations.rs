//! The reservation lifecycle: hold, confirm, cancel, read, list and sweep.

use chrono::{DateTime, Utc};

use super::{ListQuery, SCAN_PAGE, Scheduler};
use crate::clock::Clock;
use crate::cursor;
use crate::error::{Error, Result};
use crate::grid::{TimeRange, saturating_add};
use crate::ids::{ClientId, IdempotencyKey, ProviderId, ReservationId, SlotId};
use crate::model::{Actor, Page, Reservation, ReservationStatus};
use crate::store::{HoldOutcome, HoldRequest, ReservationPage, SlotBounds, Store};

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// Places a hold on the slot for `client`, lasting the policy's hold time.
    ///
    /// With an idempotency `key`, a repeat of the same request returns the
    /// original reservation (as it stands now), and the same key for another
    /// slot is an [`Error::IdempotencyConflict`].
    pub async fn reserve(
        &self,
        slot: &SlotId,
        client: &ClientId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Reservation> {
        let now = self.now();
        if let Some(key) = key
            && let Some(original) = self.store.reservation_by_key(client, key).await?
        {
            return replay(original, slot, key, now);
        }
        let (service, claim) = self.bookable_claim(slot, now).await?;
        let (blocked_start, blocked_end) = claim.blocked_range();
        let reservation = Reservation {
            id: ReservationId::generate(),
            slot_id: slot.clone(),
            provider_id: slot.provider().clone(),
            client_id: client.clone(),
            service_id: service.map(|service| service.id),
            start: claim.start().instant(),
            end: claim.occupied().end(),
            blocked_start,
            blocked_end,
            status: ReservationStatus::Held,
            created_at: now,
            expires_at: saturating_add(now, self.policy.hold_ttl()),
            confirmed_at: None,
        };
        let request = HoldRequest {
            reservation: &reservation,
            claim,
            key,
        };
        match self.store.hold(request, now).await? {
            HoldOutcome::Held(held) => Ok(held),
            HoldOutcome::NoSuchSlot => Err(Error::SlotNotFound { slot: slot.clone() }),
            HoldOutcome::SlotTaken => Err(Error::SlotUnavailable { slot: slot.clone() }),
            HoldOutcome::KeyUsed(original) => match key {
                Some(key) => replay(original, slot, key, now),
                None => Err(Error::storage(
                    "the store reported a used key for a request without one",
                )),
            },
        }
    }

    /// Confirms `client`'s hold while it is unexpired (`now < expires_at`).
    /// Confirming a confirmed reservation returns it unchanged.
    pub async fn confirm(&self, id: ReservationId, client: &ClientId) -> Result<Reservation> {
        let now = self.now();
        let reservation = self
            .party_reservation(id, &Actor::Client(client.clone()))
            .await?;
        if reservation.status_at(now) != ReservationStatus::Held {
            return settled(reservation, now, ReservationStatus::Confirmed);
        }
        match self.store.confirm(id, now).await? {
            Some(confirmed) => Ok(confirmed),
            None => {
                self.after_lost_race(id, now, ReservationStatus::Confirmed)
                    .await
            }
        }
    }

    /// Cancels a held or confirmed reservation, by its client or its slot's
    /// provider; the slot is free at once. Cancelling again returns it unchanged.
    pub async fn cancel(&self, id: ReservationId, actor: &Actor) -> Result<Reservation> {
        let now = self.now();
        let reservation = self.party_reservation(id, actor).await?;
        if !reservation.is_live_at(now) {
            return settled(reservation, now, ReservationStatus::Cancelled);
        }
        match self.store.cancel(id, now).await? {
            Some(cancelled) => Ok(cancelled),
            None => {
                self.after_lost_race(id, now, ReservationStatus::Cancelled)
                    .await
            }
        }
    }

    /// The reservation, as it stands now, for its client or its slot's provider.
    pub async fn reservation(&self, id: ReservationId, actor: &Actor) -> Result<Reservation> {
        let now = self.now();
        Ok(self.party_reservation(id, actor).await?.observed_at(now))
    }

    /// `provider`'s reservations whose slots start in the query's range, every
    /// status included, ordered by start.
    pub async fn provider_reservations(
        &self,
        provider: &ProviderId,
        query: ListQuery,
    ) -> Result<Page<Reservation>> {
        let now = self.now();
        let Some(page) = self.reservation_page(&query)? else {
            return Ok(Page::default());
        };
        let found = self.store.provider_reservations(provider, page).await?;
        Ok(self.reservations_page(found, page.limit, now))
    }

    /// Every reservation of `provider` whose slot starts in `range`, every
    /// status included, ordered by start: all the pages of
    /// [`provider_reservations`](Self::provider_reservations) at once, for a
    /// reader that needs the whole span (a calendar feed, say).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use scheduler_core::*;
    /// use scheduler_memory::MemoryStore;
    ///
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
    /// let scheduler = Scheduler::new(MemoryStore::new(), clock, Policy::default());
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// let nine = Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap();
    /// let day = Window::new(nine, nine + TimeDelta::hours(8)).unwrap();
    /// let added = scheduler.add_availability(&provider, &[day], Precondition::Any).await.unwrap();
    /// for (n, slot) in added.added.iter().enumerate() {
    ///     let client = ClientId::new(format!("client-{n}")).unwrap();
    ///     scheduler.reserve(&slot.id, &client, None).await.unwrap();
    /// }
    ///
    /// let all = scheduler.all_provider_reservations(&provider, TimeRange::all()).await.unwrap();
    /// assert_eq!(all.len(), 32);
    /// # });
    /// ```
    pub async fn all_provider_reservations(
        &self,
        provider: &ProviderId,
        range: TimeRange,
    ) -> Result<Vec<Reservation>> {
        let now = self.now();
        let Some(bounds) = self.bounds(range.from(), range.to()) else {
            return Ok(Vec::new());
        };
        let found = self.each_provider_reservation(provider, bounds).await?;
        Ok(found.into_iter().map(|r| r.observed_at(now)).collect())
    }

    /// `client`'s reservations whose slots start in the query's range, every
    /// status included, ordered by start.
    pub async fn client_reservations(
        &self,
        client: &ClientId,
        query: ListQuery,
    ) -> Result<Page<Reservation>> {
        let now = self.now();
        let Some(page) = self.reservation_page(&query)? else {
            return Ok(Page::default());
        };
        let found = self.store.client_reservations(client, page).await?;
        Ok(self.reservations_page(found, page.limit, now))
    }

    /// Marks up to `batch` due holds as expired in storage; returns how many.
    ///
    /// Only tidies: a due hold already reads as expired everywhere.
    pub async fn expire_due(&self, batch: usize) -> Result<u64> {
        let now = self.now();
        self.store.expire_due(now, batch).await
    }

    /// Every stored reservation of `provider` in `bounds`, as stored, read a
    /// page at a time.
    pub(super) async fn each_provider_reservation(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
    ) -> Result<Vec<Reservation>> {
        let grid = self.policy.grid();
        let mut found = Vec::new();
        let mut page = ReservationPage {
            bounds,
            after: None,
            limit: SCAN_PAGE,
        };
        loop {
            let batch = self.store.provider_reservations(provider, page).await?;
            let full = batch.len() == SCAN_PAGE;
            page.after = batch
                .last()
                .and_then(|last| Some((grid.slot_at(last.start)?, last.id)));
            found.extend(batch);
            if !full || page.after.is_none() {
                return Ok(found);
            }
        }
    }

    pub(super) async fn stored(&self, id: ReservationId) -> Result<Reservation> {
        self.store
            .reservation(id)
            .await?
            .ok_or(Error::ReservationNotFound { reservation: id })
    }

    /// The reservation, if `actor` is its client or its slot's provider.
    pub(super) async fn party_reservation(
        &self,
        id: ReservationId,
        actor: &Actor,
    ) -> Result<Reservation> {
        let reservation = self.stored(id).await?;
        if !actor.is_party_to(&reservation) {
            return Err(Error::Forbidden { reservation: id });
        }
        Ok(reservation)
    }

    /// A conditional update matched nothing: another writer got there first, so
    /// the reservation is read again and judged as it now stands.
    async fn after_lost_race(
        &self,
        id: ReservationId,
        now: DateTime<Utc>,
        goal: ReservationStatus,
    ) -> Result<Reservation> {
        settled(self.stored(id).await?, now, goal)
    }

    fn reservation_page(&self, query: &ListQuery) -> Result<Option<ReservationPage>> {
        let limit = self.policy.page_size(query.limit)? as usize;
        let after = match &query.cursor {
            Some(text) => Some(cursor::parse_reservation(text, self.policy.grid())?),
            None => None,
        };
        Ok(self
            .bounds(query.range.from(), query.range.to())
            .map(|bounds| ReservationPage {
                bounds,
                after,
                limit: limit + 1,
            }))
    }

    fn reservations_page(
        &self,
        mut found: Vec<Reservation>,
        asked: usize,
        now: DateTime<Utc>,
    ) -> Page<Reservation> {
        let limit = asked - 1;
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found.last().and_then(|r| {
                let start = self.policy.grid().slot_at(r.start)?;
                Some(cursor::after_reservation(start, r.id))
            })
        } else {
            None
        };
        Page {
            items: found.into_iter().map(|r| r.observed_at(now)).collect(),
            next_cursor,
        }
    }
}

/// Idempotent replay: the key's original reservation if it was for this slot.
fn replay(
    original: Reservation,
    slot: &SlotId,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    if original.slot_id == *slot {
        Ok(original.observed_at(now))
    } else {
        Err(Error::IdempotencyConflict {
            key: key.as_str().to_owned(),
            original_slot: original.slot_id,
            reservation: original.id,
        })
    }
}

/// The answer for a reservation that can no longer move: already at `goal`
/// (returned unchanged, making the operation idempotent), or the refusal.
fn settled(
    reservation: Reservation,
    now: DateTime<Utc>,
    goal: ReservationStatus,
) -> Result<Reservation> {
    let id = reservation.id;
    match reservation.status_at(now) {
        status if status == goal => Ok(reservation.observed_at(now)),
        // Still movable: the store refused a change the rules allow, which only
        // a broken backend does.
        status @ (ReservationStatus::Held | ReservationStatus::Confirmed) => {
            Err(Error::storage(format!(
                "the store refused to make reservation {id} {} although it is {}",
                goal.as_str(),
                status.as_str()
            )))
        }
        ReservationStatus::Cancelled | ReservationStatus::Expired => {
            Err(no_longer_live(&reservation, now))
        }
    }
}

/// The refusal for acting on a reservation that is not live at `now`: it
/// was cancelled, or its hold lapsed.
pub(super) fn no_longer_live(reservation: &Reservation, now: DateTime<Utc>) -> Error {
    match reservation.status_at(now) {
        ReservationStatus::Cancelled => Error::Cancelled {
            reservation: reservation.id,
        },
        _ => Error::HoldExpired {
            reservation: reservation.id,
            expired_at: reservation.expires_at,
        },
    }
}
