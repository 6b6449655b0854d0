//! A provider's calendar: publishing and withdrawing availability, its
//! version, and listing the reservable slots.

use chrono::{DateTime, Utc};

use super::{ListQuery, Precondition, Scheduler, applied};
use crate::clock::Clock;
use crate::cursor;
use crate::error::Result;
use crate::grid::{TimeRange, Window, normalize};
use crate::ids::ProviderId;
use crate::model::{AddedSlots, Page, Slot, Withdrawal};
use crate::store::{CalendarWrite, SlotBounds, Store, StoreWithdrawal};

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// Publishes `windows` as `provider`'s availability, if the calendar
    /// meets `precondition`.
    ///
    /// Each window is normalized (see [`normalize`](crate::normalize)); if any
    /// is refused, nothing is added and the error names its index. Slots are a
    /// set: repeats and overlaps change nothing. Returns the slots that are new
    /// and the calendar's version after the write.
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
    /// let hour = Window::new(nine, nine + TimeDelta::hours(1)).unwrap();
    ///
    /// let added = scheduler.add_availability(&provider, &[hour], Precondition::Any).await.unwrap();
    /// assert_eq!((added.added.len(), added.version), (4, 1));
    ///
    /// // Conditional on a version the calendar has left: refused.
    /// let err = scheduler
    ///     .add_availability(&provider, &[hour], Precondition::Version(0))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.code(), "calendar_changed");
    /// # });
    /// ```
    pub async fn add_availability(
        &self,
        provider: &ProviderId,
        windows: &[Window],
        precondition: Precondition,
    ) -> Result<AddedSlots> {
        let now = self.now();
        let expected = precondition.expected();
        let mut starts = Vec::new();
        for (index, window) in windows.iter().enumerate() {
            starts.extend(normalize(&self.policy, window, index, now)?.starts());
        }
        starts.sort_unstable();
        starts.dedup();
        let write = self.store.add_slots(provider, &starts, expected).await?;
        let (added, version) = applied(write, provider, expected)?;
        Ok(AddedSlots {
            added: self.slots(provider, added),
            version,
        })
    }

    /// Removes `provider`'s free slots that start in `range`, if the calendar
    /// meets `precondition`. Held and booked slots stay, and come back as
    /// conflicts with their reservations.
    pub async fn withdraw_availability(
        &self,
        provider: &ProviderId,
        range: TimeRange,
        precondition: Precondition,
    ) -> Result<Withdrawal> {
        let now = self.now();
        let expected = precondition.expected();
        let write = match self.bounds(range.from(), range.to()) {
            Some(bounds) => {
                self.store
                    .withdraw_slots(provider, bounds, expected, now)
                    .await?
            }
            // No slot can start in the range: nothing to remove, but the
            // precondition is still answered.
            None => {
                let current = self.store.calendar_version(provider).await?;
                match expected {
                    Some(expected) if expected != current => {
                        CalendarWrite::VersionMismatch { current }
                    }
                    _ => CalendarWrite::Applied {
                        outcome: StoreWithdrawal::default(),
                        version: current,
                    },
                }
            }
        };
        let (outcome, version) = applied(write, provider, expected)?;
        Ok(Withdrawal {
            removed: self.slots(provider, outcome.removed),
            conflicts: outcome
                .conflicts
                .into_iter()
                .map(|r| r.observed_at(now))
                .collect(),
            version,
        })
    }

    /// The version of `provider`'s calendar: it changes exactly when an
    /// availability write adds or removes a slot, so it serves as an ETag.
    /// Reservations do not change it.
    pub async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        self.store.calendar_version(provider).await
    }

    /// `provider`'s reservable slots starting in the query's range: at least the
    /// minimum lead after now, neither booked nor under an unexpired hold; in
    /// order of start, one page at a time.
    pub async fn list_slots(&self, provider: &ProviderId, query: ListQuery) -> Result<Page<Slot>> {
        let now = self.now();
        let Some((bounds, limit)) = self.slot_page_request(&query, now)? else {
            return Ok(Page::default());
        };
        let starts = self
            .store
            .free_slots(provider, bounds, limit + 1, now)
            .await?;
        Ok(self.slot_page(provider, starts, limit))
    }

    /// [`list_slots`](Self::list_slots) with the calendar's version, read no
    /// later than the page (in one round trip where the store can): the
    /// version a client may send back to make a write conditional. A write
    /// landing in between makes the version older than the page, so that a
    /// conditional write fails safe rather than blessing a page never seen.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use scheduler_core::{ListQuery, ManualClock, Policy, Precondition, ProviderId, Scheduler, Window};
    /// # use scheduler_memory::MemoryStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
    /// let scheduler = Scheduler::new(MemoryStore::new(), clock, Policy::default());
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// let day = Utc.with_ymd_and_hms(2030, 1, 3, 9, 0, 0).unwrap();
    /// let window = Window::new(day, day + chrono::TimeDelta::hours(1)).unwrap();
    /// scheduler.add_availability(&provider, &[window], Precondition::Any).await.unwrap();
    ///
    /// let (version, page) = scheduler
    ///     .list_slots_versioned(&provider, ListQuery::all())
    ///     .await
    ///     .unwrap();
    /// assert_eq!((version, page.items.len()), (1, 4));
    /// # });
    /// ```
    pub async fn list_slots_versioned(
        &self,
        provider: &ProviderId,
        query: ListQuery,
    ) -> Result<(u64, Page<Slot>)> {
        let now = self.now();
        let Some((bounds, limit)) = self.slot_page_request(&query, now)? else {
            let version = self.store.calendar_version(provider).await?;
            return Ok((version, Page::default()));
        };
        let (version, starts) = self
            .store
            .versioned_free_slots(provider, bounds, limit + 1, now)
            .await?;
        Ok((version, self.slot_page(provider, starts, limit)))
    }

    /// The slot bounds and page size a listing asks the store for, one more
    /// than the page to learn whether another follows; `None` when the page
    /// is empty whatever the store holds.
    fn slot_page_request(
        &self,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Option<(SlotBounds, usize)>> {
        let limit = self.policy.page_size(query.limit)? as usize;
        let mut from = query.range.from().max(self.earliest_reservable(now));
        if let Some(cursor) = &query.cursor {
            let after = cursor::parse_slot(cursor, self.policy.grid())?;
            match after.next(self.policy.grid()) {
                Some(next) => from = from.max(next.instant()),
                None => return Ok(None),
            }
        }
        Ok(self
            .bounds(from, query.range.to())
            .map(|bounds| (bounds, limit)))
    }

    /// A page of `limit` slots from `starts` (which may hold one more, the
    /// sign that another page follows).
    fn slot_page(
        &self,
        provider: &ProviderId,
        mut starts: Vec<DateTime<Utc>>,
        limit: usize,
    ) -> Page<Slot> {
        let next_cursor = if starts.len() > limit {
            starts.truncate(limit);
            starts
                .last()
                .and_then(|&t| self.policy.grid().slot_at(t))
                .map(cursor::after_slot)
        } else {
            None
        };
        Page {
            items: self.slots(provider, starts),
            next_cursor,
        }
    }
}
