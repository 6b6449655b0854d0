//! Conversions between stored columns and domain values, shared by both databases.
//!
//! Slot starts are stored as epoch seconds, other instants as epoch
//! microseconds (the scheduler's resolution), reservation ids as their 16
//! big-endian bytes so that byte order is id order.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use chrono::{DateTime, Utc};
use scheduler_core::{
    ClientId, Error, ProviderId, Reservation, ReservationId, ReservationStatus, Result, ServiceId,
    SlotId,
};

/// A reservation row as read from either database, by the columns
/// `reservation_columns!()` lists.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReservationRow {
    pub id: Vec<u8>,
    pub provider_id: String,
    pub client_id: String,
    pub service_id: Option<String>,
    pub start_s: i64,
    pub end_s: i64,
    pub buffer_before_s: i64,
    pub buffer_after_s: i64,
    pub status: String,
    pub created_us: i64,
    pub expires_us: i64,
    pub confirmed_us: Option<i64>,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::storage(format!("corrupt row in reservations: {what}"))
}

pub(crate) fn id_bytes(id: ReservationId) -> Vec<u8> {
    id.to_u128().to_be_bytes().to_vec()
}

pub(crate) fn id_from_bytes(bytes: &[u8]) -> Result<ReservationId> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| corrupt("id is not 16 bytes"))?;
    Ok(ReservationId::from_u128(u128::from_be_bytes(bytes)))
}

/// Epoch microseconds of `instant`; the scheduler never produces finer instants.
pub(crate) fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(format!("instant {us} out of range")))
}

pub(crate) fn from_seconds(s: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0).ok_or_else(|| corrupt(format!("start {s} out of range")))
}

impl ReservationRow {
    pub(crate) fn into_reservation(self) -> Result<Reservation> {
        let provider_id = ProviderId::new(self.provider_id).map_err(corrupt)?;
        let service_id = self
            .service_id
            .map(ServiceId::new)
            .transpose()
            .map_err(corrupt)?;
        let start = from_seconds(self.start_s)?;
        let slot_id = SlotId::new(provider_id.clone(), start);
        Ok(Reservation {
            id: id_from_bytes(&self.id)?,
            slot_id: match &service_id {
                Some(service) => slot_id.for_service(service.clone()),
                None => slot_id,
            },
            provider_id,
            client_id: ClientId::new(self.client_id).map_err(corrupt)?,
            service_id,
            start,
            end: from_seconds(self.end_s)?,
            blocked_start: from_seconds(self.start_s - self.buffer_before_s)?,
            blocked_end: from_seconds(self.end_s + self.buffer_after_s)?,
            status: ReservationStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("status {:?}", self.status)))?,
            created_at: from_micros(self.created_us)?,
            expires_at: from_micros(self.expires_us)?,
            confirmed_at: self.confirmed_us.map(from_micros).transpose()?,
        })
    }
}

/// Every row as a reservation, in order.
pub(crate) fn reservations(rows: Vec<ReservationRow>) -> Result<Vec<Reservation>> {
    rows.into_iter()
        .map(ReservationRow::into_reservation)
        .collect()
}

/// The row, if any, as a reservation.
pub(crate) fn reservation(row: Option<ReservationRow>) -> Result<Option<Reservation>> {
    row.map(ReservationRow::into_reservation).transpose()
}

/// The buffers of `reservation` in seconds, before and after its
/// appointment, as the `buffer_before_s` and `buffer_after_s` columns keep them.
pub(crate) fn buffers(reservation: &Reservation) -> (i64, i64) {
    (
        reservation.start.timestamp() - reservation.blocked_start.timestamp(),
        reservation.blocked_end.timestamp() - reservation.end.timestamp(),
    )
}

/// A count or page size as the 64-bit integer SQL compares it with
/// (anything beyond `i64::MAX` is as good as unlimited).
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A database failure as the scheduler's storage error, keeping the source.
pub(crate) fn storage(error: sqlx::Error) -> Error {
    Error::storage(error)
}

/// A stored calendar version; the schema keeps it non-negative.
pub(crate) fn version(stored: i64) -> Result<u64> {
    u64::try_from(stored).map_err(|_| Error::storage(format!("corrupt calendar version {stored}")))
}

/// The answer of a version-guarded write: `Err(current)` when `expected`
/// names another version than `current`.
pub(crate) fn check_version(expected: Option<u64>, current: u64) -> std::result::Result<(), u64> {
    match expected {
        Some(expected) if expected != current => Err(current),
        _ => Ok(()),
    }
}

/// A row of `schedules` as the provider and its stored schedule.
pub(crate) fn stored_schedule(
    provider_id: String,
    json: String,
    through_us: i64,
) -> Result<(ProviderId, scheduler_core::store::StoredSchedule)> {
    let provider = ProviderId::new(provider_id)
        .map_err(|e| Error::storage(format!("corrupt row in schedules: {e}")))?;
    let through = DateTime::from_timestamp_micros(through_us).ok_or_else(|| {
        Error::storage(format!(
            "corrupt row in schedules: through {through_us} out of range"
        ))
    })?;
    Ok((
        provider,
        scheduler_core::store::StoredSchedule { json, through },
    ))
}
