//! Reading reservations, the same statements on every database (SQLite
//! reads `$n` as PostgreSQL does).

/// The reservation with id `$1`.
pub(crate) const BY_ID: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE id = $1"
);

/// The reservation client `$1` made with idempotency key `$2`, through the
/// unique index that binds each key to one reservation.
pub(crate) const BY_KEY: &str = concat!(
    "SELECT ",
    reservation_columns!(),
    " FROM reservations WHERE client_id = $1 AND idempotency_key = $2"
);
