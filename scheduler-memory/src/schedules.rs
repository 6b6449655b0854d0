//! [`ScheduleStore`] for [`MemoryStore`]: stored weekly schedules, indexed
//! by how far their slots are published so the sweeper finds the ones left
//! behind without a scan.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarWrite, ScheduleStore, StoredSchedule};
use scheduler_core::{ProviderId, Result};

use crate::MemoryStore;

#[derive(Debug, Default)]
pub(crate) struct Schedules {
    by_provider: HashMap<ProviderId, StoredSchedule>,
    /// Every stored schedule as `(through, provider)`: the due order.
    by_through: BTreeSet<(DateTime<Utc>, ProviderId)>,
}

impl Schedules {
    pub(crate) fn get(&self, provider: &ProviderId) -> Option<&StoredSchedule> {
        self.by_provider.get(provider)
    }

    /// Stores the schedule; returns whether its text differs from the one
    /// stored before (or none was).
    pub(crate) fn put(
        &mut self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
    ) -> bool {
        let stored = StoredSchedule {
            json: json.to_owned(),
            through,
        };
        let changed = match self.by_provider.insert(provider.clone(), stored) {
            Some(old) => {
                self.by_through.remove(&(old.through, provider.clone()));
                old.json != json
            }
            None => true,
        };
        self.by_through.insert((through, provider.clone()));
        changed
    }

    pub(crate) fn delete(&mut self, provider: &ProviderId) -> bool {
        match self.by_provider.remove(provider) {
            Some(old) => {
                self.by_through.remove(&(old.through, provider.clone()));
                true
            }
            None => false,
        }
    }

    pub(crate) fn due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(ProviderId, StoredSchedule)> {
        self.by_through
            .iter()
            .take_while(|(through, _)| *through < before)
            .take(limit)
            .filter_map(|(_, provider)| {
                let stored = self.by_provider.get(provider)?;
                Some((provider.clone(), stored.clone()))
            })
            .collect()
    }

    pub(crate) fn advance(
        &mut self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> bool {
        match self.by_provider.get_mut(provider) {
            Some(stored) if stored.through == from => {
                stored.through = to;
                self.by_through.remove(&(from, provider.clone()));
                self.by_through.insert((to, provider.clone()));
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl ScheduleStore for MemoryStore {
    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        // The calendar's lock first: no calendar write can slip in between
        // the version check and the schedule it guards.
        let mut state = self.write();
        let current = state.calendar_version(provider);
        if current != version {
            return Ok(CalendarWrite::VersionMismatch { current });
        }
        let changed = self.schedules().put(provider, json, through);
        let version = if changed {
            state.bump_version(provider)
        } else {
            current
        };
        Ok(CalendarWrite::Applied {
            outcome: (),
            version,
        })
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        Ok(self.schedules().get(provider).cloned())
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        let mut state = self.write();
        let deleted = self.schedules().delete(provider);
        if deleted {
            state.bump_version(provider);
        }
        Ok(deleted)
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        Ok(self.schedules().due(before, limit))
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.schedules().advance(provider, from, to))
    }
}
