//! A store that fails or stalls on every call, for the 503 paths.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarStore, CalendarWrite, HoldOutcome, HoldRequest, RescheduleOutcome, ReservationPage,
    ReservationStore, ScheduleStore, ServiceStore, SlotBounds, StoreWithdrawal, StoredSchedule,
};
use scheduler_core::{
    Claim, ClientId, Error, IdempotencyKey, ProviderId, Reservation, ReservationId, Result,
    Service, ServiceId, SlotId, SlotStart,
};

/// How every call of a [`FaultyStore`] goes wrong.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Fails at once, with a message that must never reach a client.
    Fail,
    /// Never answers.
    Stall,
}

/// The secret-looking text a failing store reports.
pub const INTERNALS: &str = "connection to 10.0.0.7:5432 refused (password for admin)";

#[derive(Debug)]
pub struct FaultyStore(pub Fault);

impl FaultyStore {
    async fn fault<T>(&self) -> Result<T> {
        match self.0 {
            Fault::Fail => Err(Error::storage(INTERNALS)),
            Fault::Stall => std::future::pending().await,
        }
    }
}

#[async_trait]
impl CalendarStore for FaultyStore {
    async fn calendar_version(&self, _: &ProviderId) -> Result<u64> {
        self.fault().await
    }
    async fn add_slots(
        &self,
        _: &ProviderId,
        _: &[SlotStart],
        _: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        self.fault().await
    }
    async fn withdraw_slots(
        &self,
        _: &ProviderId,
        _: SlotBounds,
        _: Option<u64>,
        _: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        self.fault().await
    }
    async fn free_slots(
        &self,
        _: &ProviderId,
        _: SlotBounds,
        _: usize,
        _: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        self.fault().await
    }
}

#[async_trait]
impl ReservationStore for FaultyStore {
    async fn hold(&self, _: HoldRequest<'_>, _: DateTime<Utc>) -> Result<HoldOutcome> {
        self.fault().await
    }
    async fn reschedule(
        &self,
        _: ReservationId,
        _: &SlotId,
        _: Claim,
        _: DateTime<Utc>,
    ) -> Result<RescheduleOutcome> {
        self.fault().await
    }
    async fn blocked_cells(
        &self,
        _: &ProviderId,
        _: SlotBounds,
        _: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        self.fault().await
    }
    async fn reservation(&self, _: ReservationId) -> Result<Option<Reservation>> {
        self.fault().await
    }
    async fn reservation_by_key(
        &self,
        _: &ClientId,
        _: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        self.fault().await
    }
    async fn confirm(&self, _: ReservationId, _: DateTime<Utc>) -> Result<Option<Reservation>> {
        self.fault().await
    }
    async fn cancel(&self, _: ReservationId, _: DateTime<Utc>) -> Result<Option<Reservation>> {
        self.fault().await
    }
    async fn expire_due(&self, _: DateTime<Utc>, _: usize) -> Result<u64> {
        self.fault().await
    }
    async fn provider_reservations(
        &self,
        _: &ProviderId,
        _: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.fault().await
    }
    async fn client_reservations(
        &self,
        _: &ClientId,
        _: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        self.fault().await
    }
}

#[async_trait]
impl ScheduleStore for FaultyStore {
    async fn put_schedule(
        &self,
        _: &ProviderId,
        _: &str,
        _: DateTime<Utc>,
        _: u64,
    ) -> Result<CalendarWrite<()>> {
        self.fault().await
    }
    async fn schedule(&self, _: &ProviderId) -> Result<Option<StoredSchedule>> {
        self.fault().await
    }
    async fn delete_schedule(&self, _: &ProviderId) -> Result<bool> {
        self.fault().await
    }
    async fn schedules_due(
        &self,
        _: DateTime<Utc>,
        _: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        self.fault().await
    }
    async fn advance_schedule(
        &self,
        _: &ProviderId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool> {
        self.fault().await
    }
}

#[async_trait]
impl ServiceStore for FaultyStore {
    async fn put_service(&self, _: &Service) -> Result<bool> {
        self.fault().await
    }
    async fn service(&self, _: &ProviderId, _: &ServiceId) -> Result<Option<Service>> {
        self.fault().await
    }
    async fn services(&self, _: &ProviderId) -> Result<Vec<Service>> {
        self.fault().await
    }
    async fn delete_service(&self, _: &ProviderId, _: &ServiceId) -> Result<bool> {
        self.fault().await
    }
}
