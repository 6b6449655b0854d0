//! Publishing a weekly schedule: its slots up to the horizon replace the
//! provider's free future ones (feature `tz`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::grid::{Grid, SlotStart, TimeRange, saturating_add};
use crate::ids::ProviderId;
use crate::local_time::WeeklySchedule;
use crate::model::{Reservation, Slot};
use crate::scheduler::{Precondition, SCAN_PAGE, Scheduler, applied};
use crate::store::{SlotBounds, Store};

/// What [`Scheduler::set_schedule`] or [`Scheduler::extend_schedule`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleApplied {
    /// The schedule's slots that did not exist before, in order.
    pub added: Vec<Slot>,
    /// The free slots removed because the schedule does not offer them, in order.
    pub removed: Vec<Slot>,
    /// Held or booked slots the schedule does not offer: kept, with the
    /// reservation on each, for the provider to settle.
    pub conflicts: Vec<Reservation>,
    /// The schedule's slots are in place for every slot ending by this instant
    /// (the horizon at the time of the call); later ones come as it rolls on.
    pub through: DateTime<Utc>,
    /// The provider's calendar version after the write.
    pub version: u64,
}

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// Makes `schedule` the provider's availability from now to the horizon.
    ///
    /// Every slot the schedule offers that starts at or after now and ends by
    /// now plus [`Policy::max_horizon`](crate::Policy::max_horizon) is added;
    /// every free slot in that span that it does not offer is removed. Held
    /// and booked slots always stay: those the schedule no longer offers are
    /// reported as conflicts. Setting the same schedule again changes nothing.
    ///
    /// The new slots are added first and the free slots between them removed
    /// after, one gap at a time, so a slot the schedule keeps never
    /// disappears, even for a moment. The conflicts are read last: every live
    /// reservation in the span on a slot the schedule does not offer.
    ///
    /// Then the schedule itself is stored, at the calendar version its slots
    /// left (see [`ScheduleStore::put_schedule`](crate::store::ScheduleStore::put_schedule)), so that the sweeper can roll it
    /// forward as the horizon moves ([`extend_due_schedules`](Self::extend_due_schedules))
    /// and [`schedule`](Self::schedule) can read it back. A schedule that
    /// differs from the one stored counts as a calendar write: the returned
    /// version is one more than the slots alone left. Should another write
    /// reach the calendar in between, the whole step is applied again (up to
    /// three times in all before it gives up with
    /// [`Error::CalendarChanged`](crate::Error::CalendarChanged)).
    ///
    /// With [`Precondition::Version`] (an HTTP `If-Match`), the calendar must
    /// be at that version, and each step is guarded by the version the one
    /// before it left, the schedule stored last: a write by anyone else in
    /// between stops it with `CalendarChanged`. The steps done stand, the
    /// schedule stored before stays, and setting the schedule again
    /// completes it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use chrono::{TimeZone, Utc, Weekday};
    /// use scheduler_core::*;
    /// use scheduler_memory::MemoryStore;
    ///
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    /// let policy = Policy::builder().max_horizon(chrono::TimeDelta::days(28)).build().unwrap();
    /// let scheduler = Scheduler::new(MemoryStore::default(), clock, policy);
    /// let provider = ProviderId::new("dr-who").unwrap();
    ///
    /// let schedule = WeeklySchedule::builder("America/New_York")
    ///     .weekday(Weekday::Mon, [("09:00", "12:00")])
    ///     .build()
    ///     .unwrap();
    /// let applied = scheduler.set_schedule(&provider, &schedule, Precondition::Any).await.unwrap();
    /// // Four Mondays of 12 quarter hours. Clocks spring forward on 14 March,
    /// // so from the 15th, 09:00 in New York is 13:00 UTC instead of 14:00.
    /// assert_eq!(applied.added.len(), 4 * 12);
    /// assert_eq!(applied.added[12].start, Utc.with_ymd_and_hms(2027, 3, 8, 14, 0, 0).unwrap());
    /// assert_eq!(applied.added[24].start, Utc.with_ymd_and_hms(2027, 3, 15, 13, 0, 0).unwrap());
    ///
    /// let again = scheduler.set_schedule(&provider, &schedule, Precondition::Any).await.unwrap();
    /// assert!(again.added.is_empty() && again.removed.is_empty());
    /// assert_eq!(again.version, applied.version);
    /// # });
    /// ```
    pub async fn set_schedule(
        &self,
        provider: &ProviderId,
        schedule: &WeeklySchedule,
        precondition: Precondition,
    ) -> Result<ScheduleApplied> {
        if let Precondition::Version(expected) = precondition {
            // Each step is guarded by the version the previous one produced,
            // so a write by anyone else in between stops it.
            let done = self.materialize(provider, schedule, Some(expected)).await?;
            let version = self.store_schedule(provider, schedule, &done).await?;
            return Ok(ScheduleApplied { version, ..done });
        }
        let mut done = self.materialize(provider, schedule, None).await?;
        let mut attempts = 1;
        loop {
            match self.store_schedule(provider, schedule, &done).await {
                Ok(version) => return Ok(ScheduleApplied { version, ..done }),
                // Another write landed between the slots and the schedule
                // (a sweeper rolling the old schedule forward, say). Applying
                // again removes whatever it added that this schedule does not
                // offer, so the stored schedule always matches its slots.
                Err(Error::CalendarChanged { .. }) if attempts < STORE_ATTEMPTS => {
                    attempts += 1;
                    let again = self.materialize(provider, schedule, None).await?;
                    done = merged(done, again);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Rolls `schedule` forward as the horizon moves: adds the schedule's
    /// slots that end after `through` (the [`ScheduleApplied::through`] of the
    /// last call) and by now plus the horizon. It only adds, so it needs no
    /// version check and may run from many processes at once; slots already
    /// there are left as they are. This is the step a periodic task runs for
    /// each scheduled provider.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use chrono::{TimeDelta, TimeZone, Utc, Weekday};
    /// use scheduler_core::*;
    /// use scheduler_memory::MemoryStore;
    ///
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    /// let policy = Policy::builder().max_horizon(TimeDelta::days(7)).build().unwrap();
    /// let scheduler = Scheduler::new(MemoryStore::default(), clock.clone(), policy);
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// let schedule = WeeklySchedule::builder("Europe/Paris")
    ///     .weekday(Weekday::Tue, [("09:00", "10:00")])
    ///     .build()
    ///     .unwrap();
    ///
    /// let set = scheduler.set_schedule(&provider, &schedule, Precondition::Any).await.unwrap();
    /// assert_eq!(set.added.len(), 4); // Tuesday 2 March
    /// clock.advance(TimeDelta::days(7));
    /// let rolled = scheduler.extend_schedule(&provider, &schedule, set.through).await.unwrap();
    /// assert_eq!(rolled.added.len(), 4); // Tuesday 9 March
    /// assert_eq!(rolled.through, set.through + TimeDelta::days(7));
    /// # });
    /// ```
    pub async fn extend_schedule(
        &self,
        provider: &ProviderId,
        schedule: &WeeklySchedule,
        through: DateTime<Utc>,
    ) -> Result<ScheduleApplied> {
        let now = self.now();
        let (starts, through) = self.extension(schedule, through, now);
        let write = self.store.add_slots(provider, &starts, None).await?;
        let (added, version) = applied(write, provider, None)?;
        Ok(ScheduleApplied {
            added: added
                .into_iter()
                .map(|start| self.slot(provider, start))
                .collect(),
            removed: Vec::new(),
            conflicts: Vec::new(),
            through,
            version,
        })
    }

    /// The slots that roll `schedule` forward from `through` at `now`, and
    /// the `through` they reach: the horizon, or `through` if that is later.
    pub(super) fn extension(
        &self,
        schedule: &WeeklySchedule,
        through: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Vec<SlotStart>, DateTime<Utc>) {
        let horizon = saturating_add(now, self.policy.max_horizon());
        let grid = self.policy.grid();
        // The last call left out any slot ending after `through`, the one
        // straddling it included: start from that slot.
        let from = grid
            .floor(through)
            .map_or(through, SlotStart::instant)
            .max(now);
        let starts = match TimeRange::new(from, horizon) {
            Ok(range) => schedule.slot_starts_within(grid, range),
            Err(_) => Vec::new(),
        };
        (starts, horizon.max(through))
    }

    /// Stores `schedule` at the version `done` left; returns the version after.
    async fn store_schedule(
        &self,
        provider: &ProviderId,
        schedule: &WeeklySchedule,
        done: &ScheduleApplied,
    ) -> Result<u64> {
        let json = serde_json::to_string(schedule).map_err(Error::storage)?;
        let write = self
            .store
            .put_schedule(provider, &json, done.through, done.version)
            .await?;
        let ((), version) = applied(write, provider, Some(done.version))?;
        Ok(version)
    }

    async fn materialize(
        &self,
        provider: &ProviderId,
        schedule: &WeeklySchedule,
        expected: Option<u64>,
    ) -> Result<ScheduleApplied> {
        let now = self.now();
        let through = saturating_add(now, self.policy.max_horizon());
        let grid = self.policy.grid();
        let starts = schedule.slot_starts_within(grid, TimeRange::new(now, through)?);

        let write = self.store.add_slots(provider, &starts, expected).await?;
        let (added, mut version) = applied(write, provider, expected)?;
        let mut removed = Vec::new();
        let mut conflicts = Vec::new();
        if let Some(span) = self.bounds(now, through) {
            // One withdrawal per gap that holds a free slot to remove: a
            // store call per night of the horizon would cost far more.
            let stale = self.free_starts(provider, span, now).await?;
            let stale: Vec<_> = stale
                .into_iter()
                .filter(|start| !offers(&starts, *start))
                .collect();
            for gap in gaps(grid, span, &starts) {
                let first = stale.partition_point(|start| *start < gap.from.instant());
                if stale
                    .get(first)
                    .is_none_or(|start| *start >= gap.to.instant())
                {
                    continue;
                }
                let guard = expected.map(|_| version);
                let write = self.store.withdraw_slots(provider, gap, guard, now).await?;
                let (outcome, after) = applied(write, provider, guard)?;
                version = after;
                removed.extend(outcome.removed);
            }
            conflicts = self.live_outside(provider, span, &starts, now).await?;
        }
        let slots = |starts: Vec<DateTime<Utc>>| -> Vec<Slot> {
            starts
                .into_iter()
                .map(|start| self.slot(provider, start))
                .collect()
        };
        Ok(ScheduleApplied {
            added: slots(added),
            removed: slots(removed),
            conflicts,
            through,
            version,
        })
    }

    /// Every start of `provider`'s slots in `span` that is free at `now`.
    async fn free_starts(
        &self,
        provider: &ProviderId,
        span: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let grid = self.policy.grid();
        let mut found = Vec::new();
        let mut bounds = span;
        loop {
            let page = self
                .store
                .free_slots(provider, bounds, SCAN_PAGE, now)
                .await?;
            let next = page
                .last()
                .and_then(|last| grid.slot_at(*last))
                .and_then(|last| last.next(grid));
            let full = page.len() == SCAN_PAGE;
            found.extend(page);
            match next {
                Some(from) if full && from < bounds.to => bounds.from = from,
                _ => return Ok(found),
            }
        }
    }

    /// The reservations live at `now` on `provider`'s slots in `span` that
    /// the schedule (`offered`) does not offer: kept, and to be settled.
    async fn live_outside(
        &self,
        provider: &ProviderId,
        span: SlotBounds,
        offered: &[SlotStart],
        now: DateTime<Utc>,
    ) -> Result<Vec<Reservation>> {
        let found = self.each_provider_reservation(provider, span).await?;
        Ok(found
            .into_iter()
            .filter(|r| r.is_live_at(now) && !offers(offered, r.start))
            .map(|r| r.observed_at(now))
            .collect())
    }
}

/// How many times [`Scheduler::set_schedule`] applies a schedule when other
/// writes keep reaching the calendar before it is stored.
const STORE_ATTEMPTS: u32 = 3;

/// Two applications of one schedule as one: the second only finishes the
/// first, so what either added or removed was added or removed (a schedule
/// never removes a slot it offers, nor adds one it does not).
fn merged(first: ScheduleApplied, second: ScheduleApplied) -> ScheduleApplied {
    let union = |mut a: Vec<Slot>, b: Vec<Slot>| {
        a.extend(b);
        a.sort_by_key(|slot| slot.start);
        a.dedup_by_key(|slot| slot.start);
        a
    };
    ScheduleApplied {
        added: union(first.added, second.added),
        removed: union(first.removed, second.removed),
        ..second
    }
}

/// Whether the ascending `offered` starts include `start`.
fn offers(offered: &[SlotStart], start: DateTime<Utc>) -> bool {
    offered
        .binary_search_by(|slot| slot.instant().cmp(&start))
        .is_ok()
}

/// The runs of slot starts in `span` that are not in `kept` (ascending,
/// distinct, inside `span`): what must be withdrawn to leave only `kept`.
fn gaps(grid: Grid, span: SlotBounds, kept: &[SlotStart]) -> Vec<SlotBounds> {
    let mut gaps = Vec::new();
    let mut from = span.from;
    for &start in kept {
        if from < start {
            gaps.push(SlotBounds { from, to: start });
        }
        match start.next(grid) {
            Some(next) => from = from.max(next),
            None => return gaps,
        }
    }
    if from < span.to {
        gaps.push(SlotBounds { from, to: span.to });
    }
    gaps
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    #[test]
    fn gaps_are_the_runs_between_kept_slots() {
        let grid = Grid::new(TimeDelta::minutes(15)).unwrap();
        let at = |m: i64| {
            grid.slot_at(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + TimeDelta::minutes(m))
                .unwrap()
        };
        let span = SlotBounds {
            from: at(0),
            to: at(120),
        };
        let kept = [at(0), at(15), at(60), at(90)];
        let found: Vec<_> = gaps(grid, span, &kept)
            .into_iter()
            .map(|g| (g.from, g.to))
            .collect();
        assert_eq!(
            found,
            [(at(30), at(60)), (at(75), at(90)), (at(105), at(120))]
        );
        let all: Vec<_> = gaps(grid, span, &[])
            .into_iter()
            .map(|g| (g.from, g.to))
            .collect();
        assert_eq!(all, [(at(0), at(120))]);
    }
}
