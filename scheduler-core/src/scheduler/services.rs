//! Services: keeping a provider's kinds of appointment, listing the starts
//! where one fits, and moving a booking to another start.

use chrono::{DateTime, Utc};
use futures_util::future::join;

use super::reservations::no_longer_live;
use super::{ListQuery, SCAN_PAGE, Scheduler};
use crate::clock::Clock;
use crate::cursor;
use crate::error::{Error, Result};
use crate::grid::{SlotStart, saturating_add};
use crate::ids::ReservationId;
use crate::ids::{ProviderId, ServiceId, SlotId};
use crate::model::{Actor, Page, Reservation, Slot};
use crate::service::{Claim, MAX_DURATION, Service};
use crate::store::{RescheduleOutcome, SlotBounds, Store};

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// Stores `service` under its provider, replacing the service with its
    /// id if there is one; `true` if it is new. Bookings already made keep
    /// the spans they were made with.
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
    /// let intake = Service::new(provider.clone(), ServiceId::new("intake").unwrap(), "Intake", TimeDelta::minutes(45))
    ///     .buffer_after(TimeDelta::minutes(15));
    /// assert!(scheduler.put_service(&intake).await.unwrap());
    ///
    /// // Three slots 09:00-09:45 and nothing after: the notes need no availability.
    /// let nine = Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap();
    /// let window = Window::new(nine, nine + TimeDelta::minutes(45)).unwrap();
    /// scheduler.add_availability(&provider, &[window], Precondition::Any).await.unwrap();
    ///
    /// let starts = scheduler.list_service_starts(&provider, &intake.id, ListQuery::all()).await.unwrap();
    /// assert_eq!(starts.items.len(), 1);
    /// assert_eq!((starts.items[0].start, starts.items[0].end), (nine, nine + TimeDelta::minutes(45)));
    ///
    /// let client = ClientId::new("amy").unwrap();
    /// let held = scheduler.reserve(&starts.items[0].id, &client, None).await.unwrap();
    /// assert_eq!(held.service_id, Some(intake.id.clone()));
    /// assert_eq!(held.blocked_end, nine + TimeDelta::hours(1));
    /// # });
    /// ```
    pub async fn put_service(&self, service: &Service) -> Result<bool> {
        service.check(&self.policy)?;
        self.store.put_service(service).await
    }

    /// The provider's service with this id.
    pub async fn service(&self, provider: &ProviderId, id: &ServiceId) -> Result<Service> {
        self.store
            .service(provider, id)
            .await?
            .ok_or_else(|| Error::ServiceNotFound {
                provider: provider.clone(),
                service: id.clone(),
            })
    }

    /// The provider's services, ascending by id.
    pub async fn services(&self, provider: &ProviderId) -> Result<Vec<Service>> {
        self.store.services(provider).await
    }

    /// Removes the provider's service. Its bookings stay as they are; its
    /// slot ids can no longer be reserved.
    pub async fn delete_service(&self, provider: &ProviderId, id: &ServiceId) -> Result<()> {
        if self.store.delete_service(provider, id).await? {
            Ok(())
        } else {
            Err(Error::ServiceNotFound {
                provider: provider.clone(),
                service: id.clone(),
            })
        }
    }

    /// The starts in the query's range where the service can be booked now,
    /// ascending, one page at a time: on the grid, every slot of the
    /// appointment published, at least the service's notice and at most its
    /// horizon ahead, and no live booking's blocked time (appointment or
    /// buffers) meeting this one's. Each item's `end` is the appointment's
    /// end and its id books the service.
    ///
    /// Cost grows with the page and the slots it inspects, not the calendar.
    pub async fn list_service_starts(
        &self,
        provider: &ProviderId,
        service: &ServiceId,
        query: ListQuery,
    ) -> Result<Page<Slot>> {
        let now = self.now();
        let limit = self.policy.page_size(query.limit)? as usize;
        let grid = self.policy.grid();
        let after_cursor = (query.cursor.as_ref())
            .map(|cursor| cursor::parse_slot(cursor, grid).map(|last| last.next(grid)));
        // The service and the first free slots are read at once, so that the
        // page costs one round trip to a database, not two. That first read
        // starts where the policy's notice allows (a service's is never
        // shorter) and reaches a day past the range (an appointment is at
        // most a day long); the service then trims it.
        let mut from = query
            .range
            .from()
            .max(saturating_add(now, self.policy.min_lead()));
        if let Some(Ok(Some(next))) = &after_cursor {
            from = from.max(next.instant());
        }
        let early = self.bounds(from, saturating_add(query.range.to(), MAX_DURATION));
        let first_batch = async {
            match (early, &after_cursor) {
                (Some(early), None | Some(Ok(Some(_)))) => self
                    .free_batch(provider, early, BATCH_FACTOR * (limit + 1), now)
                    .await
                    .map(Some),
                _ => Ok(None),
            }
        };
        let (service, first_batch) = join(self.service(provider, service), first_batch).await;
        let service = service?;
        if let Some(after_cursor) = after_cursor
            && after_cursor?.is_none()
        {
            return Ok(Page::default());
        }
        let Some(first_batch) = first_batch? else {
            return Ok(Page::default());
        };
        let from = from.max(saturating_add(now, service.notice(&self.policy)));
        // `t <= now + horizon`: the first start excluded is the one after it.
        let last = saturating_add(now, service.horizon(&self.policy));
        let to = grid
            .floor(last)
            .and_then(|last| last.next(grid))
            .map_or(query.range.to(), |after| {
                after.instant().min(query.range.to())
            });
        let Some(bounds) = self.bounds(from, to) else {
            return Ok(Page::default());
        };
        let mut spans = self
            .fitting_spans(&service, bounds, limit + 1, now, first_batch)
            .await?;
        let next_cursor = if spans.len() > limit {
            spans.truncate(limit);
            match spans.last() {
                Some(&(start, _)) => Some(cursor::after_slot(self.start_at(start.timestamp())?)),
                None => None,
            }
        } else {
            None
        };
        let items = spans
            .into_iter()
            .map(|(start, end)| self.service_slot(&service, start, end))
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Up to `limit` appointments (start and end) in `bounds` where
    /// `service` fits at `now`, ascending. The free slots are read in batches, from `first_batch` on:
    /// a start fits where its appointment's slots are all free. A service
    /// with buffers also reads, with each batch, the blocked cells around
    /// it: a buffer needs no published slot, only no other booking's time.
    async fn fitting_spans(
        &self,
        service: &Service,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
        first_batch: FreeBatch,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        let grid = self.policy.grid();
        let step = grid.slot_length().num_seconds();
        let cells = |span: chrono::TimeDelta| span.num_seconds() / step;
        let (length, before, after) = (
            cells(service.duration),
            cells(service.buffer_before),
            cells(service.buffer_after),
        );
        // A batch always holds a whole appointment, so each one decides at
        // least its first start.
        let batch =
            (BATCH_FACTOR * (limit + length as usize - 1)).clamp(length as usize + 1, SCAN_PAGE);
        let Some(read_to) = self.offset(bounds.to, length - 1) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut next = bounds.from;
        let mut prefetched = Some(first_batch);
        while next < bounds.to && found.len() < limit {
            let FreeBatch {
                mut instants,
                cells: mut free,
                complete,
            } = match prefetched.take() {
                Some(prefetched) => prefetched,
                None => {
                    let read = SlotBounds {
                        from: next,
                        to: read_to,
                    };
                    self.free_batch(&service.provider_id, read, batch, now)
                        .await?
                }
            };
            // The first batch may begin before the service's notice allows.
            let early = free.partition_point(|&cell| cell < next.timestamp());
            free.drain(..early);
            instants.drain(..early);
            let (Some(&first), Some(&last)) = (free.first(), free.last()) else {
                if complete {
                    break;
                }
                continue;
            };
            let blocked = if before + after == 0 {
                Vec::new()
            } else {
                let (from, to) = (first - before * step, last + (length + after) * step);
                self.blocked_between(service, from, to, now).await?
            };
            let mut resume = None;
            for (i, &start) in free.iter().enumerate() {
                if start >= bounds.to.timestamp() || found.len() == limit {
                    break;
                }
                let end = start + (length - 1) * step;
                if !complete && end > last {
                    // The batch stops inside this appointment: read on from here.
                    resume = Some(start);
                    break;
                }
                // Free cells are ascending and distinct, so the appointment's
                // last cell where it belongs means all of them are free.
                let whole = free.get(i + length as usize - 1) == Some(&end);
                let span = start - before * step..end + (1 + after) * step;
                let clear = blocked
                    .get(blocked.partition_point(|&cell| cell < span.start))
                    .is_none_or(|&cell| cell >= span.end);
                if whole && clear {
                    // The store's own instants: the slot's start, and the
                    // end of the appointment's last slot.
                    let last = instants[i + length as usize - 1];
                    found.push((instants[i], grid.end_after(last)));
                }
            }
            match resume {
                Some(start) => next = self.start_at(start)?,
                None if complete => break,
                None => match self.offset_secs(last, 1) {
                    Some(after_last) => next = after_last,
                    None => break,
                },
            }
        }
        Ok(found)
    }

    /// Up to `limit` free slots of `provider` in `bounds` at `now`.
    async fn free_batch(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<FreeBatch> {
        let instants = self.store.free_slots(provider, bounds, limit, now).await?;
        Ok(FreeBatch {
            complete: instants.len() < limit,
            cells: instants.iter().map(DateTime::timestamp).collect(),
            instants,
        })
    }

    /// The cells from `from` up to `to` (epoch seconds) that a booking live
    /// at `now` blocks, ascending.
    async fn blocked_between(
        &self,
        service: &Service,
        from: i64,
        to: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        let (Some(from), Some(to)) = (self.offset_secs(from, 0), self.offset_secs(to, 0)) else {
            return Ok(Vec::new());
        };
        let cells = self
            .store
            .blocked_cells(&service.provider_id, SlotBounds { from, to }, now)
            .await?;
        Ok(cells.iter().map(DateTime::timestamp).collect())
    }

    /// Moves a live reservation to the start `slot` names, for its client or
    /// its provider, in one atomic step: the id, client, service, status and
    /// (for a hold) expiry stay; the start, end and blocked time change.
    ///
    /// `slot` must name the same service, or be a plain slot for a plain
    /// reservation ([`Error::ServiceMismatch`]); a slot of another provider
    /// is not found among this provider's ([`Error::SlotNotFound`]). It must
    /// be reservable now as a new
    /// booking would be, except that the reservation's own time does not
    /// stand in its way. The reservation's service is read as it is now.
    /// Moving a reservation to where it is returns it unchanged.
    pub async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        actor: &Actor,
    ) -> Result<Reservation> {
        let now = self.now();
        let reservation = self.party_reservation(id, actor).await?;
        if !reservation.is_live_at(now) {
            return Err(no_longer_live(&reservation, now));
        }
        if *slot.provider() != reservation.provider_id {
            return Err(Error::SlotNotFound { slot: slot.clone() });
        }
        if slot.service() != reservation.service_id.as_ref() {
            return Err(Error::ServiceMismatch {
                slot: slot.clone(),
                slot_service: slot.service().cloned(),
                reservation: id,
                reservation_service: reservation.service_id.clone(),
            });
        }
        if slot.start() == reservation.start {
            return Ok(reservation.observed_at(now));
        }
        let claim = self.bookable_claim(slot, now).await?.1;
        match self.store.reschedule(id, slot, claim, now).await? {
            RescheduleOutcome::Moved(moved) => Ok(moved.observed_at(now)),
            RescheduleOutcome::NoSuchSlot => Err(Error::SlotNotFound { slot: slot.clone() }),
            RescheduleOutcome::SlotTaken => Err(Error::SlotUnavailable { slot: slot.clone() }),
            RescheduleOutcome::NotLive => {
                let stored = self.stored(id).await?;
                if stored.is_live_at(now) {
                    return Err(Error::storage(format!(
                        "the store refused to move reservation {id}, which is live"
                    )));
                }
                Err(no_longer_live(&stored, now))
            }
        }
    }

    /// What booking `slot` would claim at `now`, with its service, once the
    /// rules a new booking meets before storage are checked: the start on the
    /// grid, the notice, and (for a service) the horizon.
    pub(super) async fn bookable_claim(
        &self,
        slot: &SlotId,
        now: DateTime<Utc>,
    ) -> Result<(Option<Service>, Claim)> {
        let grid = self.policy.grid();
        let not_found = || Error::SlotNotFound { slot: slot.clone() };
        let start = grid.slot_at(slot.start()).ok_or_else(not_found)?;
        let Some(service_id) = slot.service() else {
            self.check_notice(slot, now, self.policy.min_lead())?;
            return Ok((None, Claim::slot(start, grid)));
        };
        let service = self.service(slot.provider(), service_id).await?;
        self.check_notice(slot, now, service.notice(&self.policy))?;
        let horizon = service.horizon(&self.policy);
        if slot.start() > saturating_add(now, horizon) {
            return Err(Error::TooFarAhead {
                slot: slot.clone(),
                start: slot.start(),
                now,
                max_advance: horizon,
            });
        }
        let claim = service.claim_at(start, grid).ok_or_else(not_found)?;
        Ok((Some(service), claim))
    }

    /// The notice rule: a start may be booked while `start - now >= notice`.
    fn check_notice(
        &self,
        slot: &SlotId,
        now: DateTime<Utc>,
        notice: chrono::TimeDelta,
    ) -> Result<()> {
        if slot.start() < saturating_add(now, notice) {
            return Err(Error::LeadTime {
                slot: slot.clone(),
                start: slot.start(),
                now,
                min_lead: notice,
            });
        }
        Ok(())
    }

    /// The listed start of `service` at `start`, its appointment ending at `end`.
    fn service_slot(&self, service: &Service, start: DateTime<Utc>, end: DateTime<Utc>) -> Slot {
        Slot {
            id: SlotId::new(service.provider_id.clone(), start).for_service(service.id.clone()),
            provider_id: service.provider_id.clone(),
            start,
            end,
        }
    }

    /// The slot start `cells` slots after `start` (before, if negative).
    fn offset(&self, start: SlotStart, cells: i64) -> Option<SlotStart> {
        self.offset_secs(start.timestamp(), cells)
    }

    /// The slot start `cells` slots after the start at `secs`.
    fn offset_secs(&self, secs: i64, cells: i64) -> Option<SlotStart> {
        let step = self.policy.grid().slot_length().num_seconds();
        let instant = DateTime::from_timestamp(secs.checked_add(cells.checked_mul(step)?)?, 0)?;
        self.policy.grid().slot_at(instant)
    }

    /// The slot start at `secs`, which came from the store.
    fn start_at(&self, secs: i64) -> Result<SlotStart> {
        DateTime::from_timestamp(secs, 0)
            .and_then(|instant| self.policy.grid().slot_at(instant))
            .ok_or_else(|| Error::storage(format!("the store gave a start off the grid: {secs}")))
    }
}

/// How many times its minimum a batch of free slots reads: a page of `n`
/// starts of an appointment of `k` slots needs at least `n + k - 1` free
/// slots, and more where bookings cut the free time into short runs. The
/// first batch, read before the service's length is known, counts `k` as 1.
const BATCH_FACTOR: usize = 2;

/// Free slots read for a service listing, ascending: as the store gave
/// them, and as epoch seconds for the arithmetic.
struct FreeBatch {
    instants: Vec<DateTime<Utc>>,
    cells: Vec<i64>,
    /// Whether the read found every free slot of its range.
    complete: bool,
}
