//! The hold: the compare-and-set at the heart of double-booking prevention.

use chrono::{DateTime, Utc};
use scheduler_core::Result;
use scheduler_core::store::{HoldOutcome, HoldRequest};
use sqlx::PgConnection;

use super::by_key_on;
use crate::row::{ReservationRow, id_bytes, micros, storage};

/// Takes the hold in one statement, or inserts nothing.
///
/// - `slot` locks the slot's row, so holds on one slot run one at a time and a
///   withdrawal (which locks the rows it deletes) cannot slip in between.
/// - `stale` vacates the slot of a lapsed hold (held past its expiry, or
///   already swept to `expired`), taking it out of the unique index
///   `reservations_one_live_per_slot` so the insert can go in, and `unqueued`
///   takes it off the sweeper's queue. The insert reads `freed`, an aggregate
///   over `stale`: PostgreSQL runs a data-modifying CTE that nothing reads
///   only after the main statement, and the insert would then collide with
///   the stale row still in the index.
/// - `NOT EXISTS` is the free-at-`now` test. Its snapshot predates the lock
///   wait, so a hold committed meanwhile is invisible to it; the unique index
///   catches that one, and `ON CONFLICT DO NOTHING` turns the collision (or a
///   concurrent use of the same idempotency key) into "no row".
/// - `queued` puts the new hold on the sweeper's queue, `hold_expiries`.
const HOLD: &str = concat!(
    "WITH slot AS (
        SELECT provider_id, start_s FROM slots
        WHERE provider_id = $1 AND start_s = $2
        FOR UPDATE
    ),
    stale AS (
        UPDATE reservations SET status = 'expired', occupying = false
        WHERE provider_id = $1 AND start_s = $2 AND occupying
          AND (status = 'expired' OR (status = 'held' AND expires_us <= $3))
          AND EXISTS (SELECT 1 FROM slot)
        RETURNING id, expires_us
    ),
    ",
    unqueued!("stale"),
    ",
    freed AS (SELECT count(*) AS n FROM stale),
    held AS (
        INSERT INTO reservations (
            id, provider_id, client_id, start_s, end_s, status,
            created_us, expires_us, confirmed_us, idempotency_key, occupying
        )
        SELECT $4, slot.provider_id, $5, slot.start_s, $6, 'held', $7, $8, NULL, $9, true
        FROM slot CROSS JOIN freed
        WHERE NOT EXISTS (
            SELECT 1 FROM reservations r
            WHERE r.provider_id = $1 AND r.start_s = $2 AND r.occupying
              AND r.status IN ('held', 'confirmed')
              AND (r.status = 'confirmed' OR r.expires_us > $3)
        )
        ON CONFLICT DO NOTHING
        RETURNING ",
    reservation_columns!(),
    "),
    queued AS (
        INSERT INTO hold_expiries (expires_us, id) SELECT expires_us, id FROM held
    )
    SELECT ",
    reservation_columns!(),
    " FROM held"
);

const SLOT_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM slots WHERE provider_id = $1 AND start_s = $2)";

/// The hold and, when it inserted nothing, the statements that say why, all
/// on one connection.
pub(super) async fn hold_on(
    conn: &mut PgConnection,
    request: HoldRequest<'_>,
    now: DateTime<Utc>,
) -> Result<HoldOutcome> {
    let new = request.reservation;
    // No key lookup first: the scheduler has just made one, and a key used
    // since then makes the insert's `ON CONFLICT` refuse, which is reported
    // below. One round trip for the common case.
    let inserted: Option<ReservationRow> = sqlx::query_as(HOLD)
        .bind(new.provider_id.as_str())
        .bind(request.slot.timestamp())
        .bind(micros(now))
        .bind(id_bytes(new.id))
        .bind(new.client_id.as_str())
        .bind(new.end.timestamp())
        .bind(micros(new.created_at))
        .bind(micros(new.expires_at))
        .bind(request.key.map(|key| key.as_str()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(storage)?;
    if let Some(row) = inserted {
        return Ok(HoldOutcome::Held(row.into_reservation()?));
    }
    // Nothing inserted: say why, in the order the contract ranks the reasons.
    // `ON CONFLICT` waited for any concurrent request with the same key to
    // commit, so a used key is visible now.
    if let Some(key) = request.key
        && let Some(original) = by_key_on(conn, &new.client_id, key).await?
    {
        return Ok(HoldOutcome::KeyUsed(original));
    }
    let exists: bool = sqlx::query_scalar(SLOT_EXISTS)
        .bind(new.provider_id.as_str())
        .bind(request.slot.timestamp())
        .fetch_one(conn)
        .await
        .map_err(storage)?;
    Ok(if exists {
        HoldOutcome::SlotTaken
    } else {
        HoldOutcome::NoSuchSlot
    })
}
