//! [`CalendarStore`] for [`MemoryStore`]: slots and versions, read and
//! written under the state's lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{CalendarStore, CalendarWrite, SlotBounds, StoreWithdrawal};
use scheduler_core::{ProviderId, Result, SlotStart};

use crate::MemoryStore;

#[async_trait]
impl CalendarStore for MemoryStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        Ok(self.read().calendar_version(provider))
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        Ok(self.write().add_slots(provider, starts, expected))
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        Ok(self.write().withdraw_slots(provider, bounds, expected, now))
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        Ok(self.read().free_slots(provider, bounds, limit, now))
    }
}
