//! Weekly schedules (feature `tz`): publishing one (`publish`), reading it
//! back, forgetting it, and rolling every stored schedule forward as the
//! horizon moves.

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::grid::saturating_add;
use crate::ids::ProviderId;
use crate::local_time::WeeklySchedule;
use crate::scheduler::Scheduler;
use crate::store::{CalendarWrite, Store, StoredSchedule};

mod publish;

pub use publish::ScheduleApplied;

/// A provider's schedule as [`Scheduler::set_schedule`] stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSchedule {
    /// The schedule.
    pub schedule: WeeklySchedule,
    /// Its slots are published for every slot ending by this instant.
    pub through: DateTime<Utc>,
    /// The provider's calendar version, read before the schedule: an ETag
    /// that a write guarded by it ([`Scheduler::set_schedule`] with a
    /// [`Precondition::Version`](crate::Precondition::Version)) can only
    /// pass if nothing changed since.
    pub version: u64,
}

/// What [`Scheduler::extend_due_schedules`] did.
#[derive(Debug, Default)]
pub struct ExtendedSchedules {
    /// Schedules rolled forward to the horizon.
    pub extended: u64,
    /// Due schedules left for the next call because another write reached
    /// the provider's calendar or schedule meanwhile.
    pub deferred: u64,
    /// Due schedules that could not be rolled forward, and why: a store
    /// failure, or stored text that is not a valid schedule.
    pub failures: Vec<(ProviderId, Error)>,
}

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// The schedule [`set_schedule`](Self::set_schedule) last stored for
    /// `provider`, if any.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use chrono::{TimeZone, Utc, Weekday};
    /// use scheduler_core::*;
    /// use scheduler_memory::MemoryStore;
    ///
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    /// let scheduler = Scheduler::new(MemoryStore::default(), clock, Policy::default());
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// assert!(scheduler.schedule(&provider).await.unwrap().is_none());
    ///
    /// let schedule = WeeklySchedule::builder("Europe/Berlin")
    ///     .weekday(Weekday::Mon, [("09:00", "12:00")])
    ///     .build()
    ///     .unwrap();
    /// let applied = scheduler.set_schedule(&provider, &schedule, Precondition::Any).await.unwrap();
    /// let stored = scheduler.schedule(&provider).await.unwrap().unwrap();
    /// assert_eq!(stored.schedule, schedule);
    /// assert_eq!((stored.through, stored.version), (applied.through, applied.version));
    ///
    /// assert!(scheduler.clear_schedule(&provider).await.unwrap());
    /// assert!(scheduler.schedule(&provider).await.unwrap().is_none());
    /// # });
    /// ```
    pub async fn schedule(&self, provider: &ProviderId) -> Result<Option<ProviderSchedule>> {
        // The version first: should a write land between the two reads, the
        // version is the older one and a write guarded by it fails safely.
        let version = self.store.calendar_version(provider).await?;
        let Some(stored) = self.store.schedule(provider).await? else {
            return Ok(None);
        };
        Ok(Some(ProviderSchedule {
            schedule: parse(provider, &stored)?,
            through: stored.through,
            version,
        }))
    }

    /// Forgets `provider`'s schedule, so the horizon no longer rolls it
    /// forward; returns whether there was one. The slots it published stay,
    /// with their reservations: withdraw them with
    /// [`withdraw_availability`](Self::withdraw_availability) if they should go.
    pub async fn clear_schedule(&self, provider: &ProviderId) -> Result<bool> {
        self.store.delete_schedule(provider).await
    }

    /// Rolls stored schedules forward as the horizon moves: each of up to
    /// `batch` schedules whose slots reach less than `now + max_horizon -
    /// margin` (oldest first) gets its slots up to the horizon, as
    /// [`extend_schedule`](Self::extend_schedule) adds them. The sweeper runs
    /// this on every tick; it is safe from many processes at once.
    ///
    /// Each schedule is extended at the calendar version read just before it
    /// is re-read, and its `through` moved by compare-and-set: a schedule
    /// replaced, cleared or rolled by someone else meanwhile is left alone
    /// (counted as deferred), so the slots of a replaced schedule never join
    /// its successor's.
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
    /// scheduler.set_schedule(&provider, &schedule, Precondition::Any).await.unwrap();
    ///
    /// clock.advance(TimeDelta::days(7));
    /// let rolled = scheduler.extend_due_schedules(TimeDelta::hours(1), 100).await.unwrap();
    /// assert_eq!(rolled.extended, 1);
    /// let stored = scheduler.schedule(&provider).await.unwrap().unwrap();
    /// assert_eq!(stored.through, Utc.with_ymd_and_hms(2027, 3, 15, 0, 0, 0).unwrap());
    /// # });
    /// ```
    pub async fn extend_due_schedules(
        &self,
        margin: TimeDelta,
        batch: usize,
    ) -> Result<ExtendedSchedules> {
        let now = self.now();
        let before = saturating_add(now, self.policy.max_horizon())
            .checked_sub_signed(margin.max(TimeDelta::zero()))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let due = self.store.schedules_due(before, batch.max(1)).await?;
        let mut report = ExtendedSchedules::default();
        for (provider, stored) in due {
            match self.extend_stored(&provider, &stored, now).await {
                Ok(true) => report.extended += 1,
                Ok(false) => report.deferred += 1,
                Err(error) => report.failures.push((provider, error)),
            }
        }
        Ok(report)
    }

    /// Rolls one due schedule forward; `false` if someone else got there first.
    async fn extend_stored(
        &self,
        provider: &ProviderId,
        due: &StoredSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // The version, then the schedule again: a schedule stored after the
        // due list was read either shows up here (and differs) or bumps the
        // version after this read, so the guarded add below refuses.
        let version = self.store.calendar_version(provider).await?;
        if self.store.schedule(provider).await?.as_ref() != Some(due) {
            return Ok(false);
        }
        let schedule = parse(provider, due)?;
        let (starts, through) = self.extension(&schedule, due.through, now);
        let write = self
            .store
            .add_slots(provider, &starts, Some(version))
            .await?;
        if let CalendarWrite::VersionMismatch { .. } = write {
            return Ok(false);
        }
        self.store
            .advance_schedule(provider, due.through, through)
            .await
    }
}

/// The schedule in a stored text; text that is not one is a storage fault.
fn parse(provider: &ProviderId, stored: &StoredSchedule) -> Result<WeeklySchedule> {
    serde_json::from_str(&stored.json).map_err(|error| {
        Error::storage(format!(
            "the stored schedule of provider {provider} is not a valid schedule: {error}"
        ))
    })
}
