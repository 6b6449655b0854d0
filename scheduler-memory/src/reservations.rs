//! [`ReservationStore`] for [`MemoryStore`]: each primitive one step under
//! the state's lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage, ReservationStore, SlotBounds,
};
use scheduler_core::{
    Claim, ClientId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result, SlotId,
};

use crate::MemoryStore;

#[async_trait]
impl ReservationStore for MemoryStore {
    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        Ok(self.write().hold(request, now))
    }

    async fn reschedule(
        &self,
        id: ReservationId,
        slot: &SlotId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<RescheduleOutcome> {
        Ok(self.write().reschedule(id, slot, &claim, now))
    }

    async fn blocked_cells(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        Ok(self.read().blocked_cells(provider, bounds, now))
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        Ok(self.read().reservation(id).cloned())
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        Ok(self.read().reservation_by_key(client, key).cloned())
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        Ok(self.write().confirm(id, now))
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        Ok(self.write().cancel(id, now))
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        Ok(self.write().expire_due(now, batch))
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        Ok(self.read().provider_reservations(provider, page))
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        Ok(self.read().client_reservations(client, page))
    }
}
