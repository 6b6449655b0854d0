//! Reading reservation rows, and the conversions every SQLite statement binds.

use chrono::{DateTime, Utc};
use scheduler_core::{Error, Reservation, Result};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::row::{ReservationRow, from_seconds, storage};

/// The reservation in a row that selected [`RESERVATION_COLUMNS`](crate::row::RESERVATION_COLUMNS).
pub(super) fn reservation(row: &SqliteRow) -> Result<Reservation> {
    let get = |column: &str| -> Result<i64> { row.try_get(column).map_err(storage) };
    ReservationRow {
        id: row.try_get("id").map_err(storage)?,
        provider_id: row.try_get("provider_id").map_err(storage)?,
        client_id: row.try_get("client_id").map_err(storage)?,
        start_s: get("start_s")?,
        end_s: get("end_s")?,
        status: row.try_get("status").map_err(storage)?,
        created_us: get("created_us")?,
        expires_us: get("expires_us")?,
        confirmed_us: row.try_get("confirmed_us").map_err(storage)?,
    }
    .into_reservation()
}

/// Every reservation in `rows`, in order.
pub(super) fn reservations(rows: &[SqliteRow]) -> Result<Vec<Reservation>> {
    rows.iter().map(reservation).collect()
}

/// The slot starts in `rows`' first column, ascending whatever order SQLite
/// returned them in (`RETURNING` promises none).
pub(super) fn starts(rows: &[SqliteRow]) -> Result<Vec<DateTime<Utc>>> {
    let mut seconds = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0).map_err(storage))
        .collect::<Result<Vec<_>>>()?;
    seconds.sort_unstable();
    seconds.into_iter().map(from_seconds).collect()
}

/// The slot starts in `joined`, epoch seconds separated by commas (SQLite's
/// `group_concat`), ascending whatever order they were joined in.
pub(super) fn joined_starts(joined: &str) -> Result<Vec<DateTime<Utc>>> {
    let mut seconds = joined
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<i64>()
                .map_err(|_| Error::storage(format!("corrupt slot start {part:?} in a listing")))
        })
        .collect::<Result<Vec<_>>>()?;
    seconds.sort_unstable();
    seconds.into_iter().map(from_seconds).collect()
}

/// A row count or page size as SQLite's integer; no page is that long.
pub(super) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
