//! Services: keeping a provider's kinds of appointment, listing the starts
//! where one fits, and moving a booking to another start.

use chrono::{DateTime, Utc};

use super::reservations::no_longer_live;
use super::{ListQuery, SCAN_PAGE, Scheduler};
use crate::clock::Clock;
use crate::cursor;
use crate::error::{Error, Result};
use crate::grid::{SlotStart, saturating_add};
use crate::ids::ReservationId;
use crate::ids::{ProviderId, ServiceId, SlotId};
use crate::model::{Actor, Page, Reservation, Slot};
use crate::service::{Claim, Service};
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
        let service = self.service(provider, service).await?;
        let grid = self.policy.grid();
        let mut from = query
            .range
            .from()
            .max(saturating_add(now, service.notice(&self.policy)));
        if let Some(cursor) = &query.cursor {
            match cursor::parse_slot(cursor, grid)?.next(grid) {
                Some(next) => from = from.max(next.instant()),
                None => return Ok(Page::default()),
            }
        }
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
        let mut starts = self
            .fitting_starts(&service, bounds, limit + 1, now)
            .await?;
        let next_cursor = if starts.len() > limit {
            starts.truncate(limit);
            starts.last().map(|&start| cursor::after_slot(start))
        } else {
            None
        };
        let items = starts
            .into_iter()
            .map(|start| self.service_slot(&service, start))
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Up to `limit` starts in `bounds` where `service` fits at `now`,
    /// ascending: the published slots are read in batches, and with each
    /// batch the blocked cells around it.
    async fn fitting_starts(
        &self,
        service: &Service,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlotStart>> {
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
        let batch = (limit * length as usize).clamp(length as usize + 1, SCAN_PAGE);
        let Some(read_to) = self.offset(bounds.to, length - 1) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut next = bounds.from;
        while next < bounds.to && found.len() < limit {
            let read = SlotBounds {
                from: next,
                to: read_to,
            };
            let published: Vec<i64> = self
                .store
                .slot_starts(&service.provider_id, read, batch)
                .await?
                .iter()
                .map(DateTime::timestamp)
                .collect();
            let (Some(&first), Some(&last)) = (published.first(), published.last()) else {
                break;
            };
            let complete = published.len() < batch;
            let blocked: Vec<i64> = match (
                self.offset_secs(first, -before),
                self.offset_secs(last, length + after),
            ) {
                (Some(from), Some(to)) => self
                    .store
                    .blocked_cells(&service.provider_id, SlotBounds { from, to }, now)
                    .await?
                    .iter()
                    .map(DateTime::timestamp)
                    .collect(),
                _ => Vec::new(),
            };
            let mut resume = None;
            for (i, &start) in published.iter().enumerate() {
                if start >= bounds.to.timestamp() || found.len() == limit {
                    break;
                }
                let end = start + (length - 1) * step;
                if !complete && end > last {
                    // The batch stops inside this appointment: read on from here.
                    resume = Some(start);
                    break;
                }
                let whole = published.get(i + length as usize - 1) == Some(&end);
                let span = start - before * step..end + (1 + after) * step;
                let free = blocked
                    .get(blocked.partition_point(|&cell| cell < span.start))
                    .is_none_or(|&cell| cell >= span.end);
                if whole && free {
                    found.push(self.start_at(start)?);
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

    /// The listed start of `service` at `start`.
    fn service_slot(&self, service: &Service, start: SlotStart) -> Slot {
        Slot {
            id: SlotId::new(service.provider_id.clone(), start.instant())
                .for_service(service.id.clone()),
            provider_id: service.provider_id.clone(),
            start: start.instant(),
            end: saturating_add(start.instant(), service.duration),
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
