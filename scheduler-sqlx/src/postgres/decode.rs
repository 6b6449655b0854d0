//! Reading reservation rows and converting the numbers sqlx binds.

use scheduler_core::{Reservation, Result};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::row::{ReservationRow, storage};

/// Whether two strings are equal, usable in a `const` assertion.
pub(super) const fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A row selected with `reservation_columns!()` as a reservation.
pub(super) fn reservation(row: &PgRow) -> Result<Reservation> {
    ReservationRow {
        id: row.try_get("id").map_err(storage)?,
        provider_id: row.try_get("provider_id").map_err(storage)?,
        client_id: row.try_get("client_id").map_err(storage)?,
        start_s: row.try_get("start_s").map_err(storage)?,
        end_s: row.try_get("end_s").map_err(storage)?,
        status: row.try_get("status").map_err(storage)?,
        created_us: row.try_get("created_us").map_err(storage)?,
        expires_us: row.try_get("expires_us").map_err(storage)?,
        confirmed_us: row.try_get("confirmed_us").map_err(storage)?,
    }
    .into_reservation()
}

/// Every row as a reservation, in order.
pub(super) fn reservations(rows: &[PgRow]) -> Result<Vec<Reservation>> {
    rows.iter().map(reservation).collect()
}

/// A count or page size as the `BIGINT` PostgreSQL compares it with
/// (anything beyond `i64::MAX` is as good as unlimited).
pub(super) fn bigint(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
