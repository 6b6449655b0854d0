//! Moving a live reservation's claim to another start, in one transaction.

use chrono::{DateTime, Utc};
use scheduler_core::store::RescheduleOutcome;
use scheduler_core::{Claim, ReservationId, Result, SlotId};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{Connection, PgConnection, Postgres};

use super::hold::{blocked_cells, is_unique_violation, occupied_slots, retire_lapsed};
use super::settle_claims;
use crate::row::{ReservationRow, id_bytes, limit, micros, storage};

/// Locks reservation `$4` and says whether it is live at `$3`. Its lock
/// comes first, as in every statement that moves a reservation and its
/// claims.
const LOCK_LIVE: &str = "
    SELECT status = 'confirmed' OR (status = 'held' AND expires_us > $3)
    FROM reservations WHERE id = $4
    FOR UPDATE";

/// Locks the new appointment's slots in order (as a hold does) and counts
/// them, then retires the lapsed holds in the way.
const TARGET_STATE: &str = concat!(
    "WITH slot AS (
        SELECT start_s FROM slots
        WHERE provider_id = $1 AND start_s >= $2 AND start_s < $6 AND start_s = ANY(",
    occupied_slots!(),
    ")
        ORDER BY start_s
        FOR UPDATE
    ),
    ",
    retire_lapsed!(),
    "
    SELECT (SELECT count(*) FROM slot) = $12,
        CASE WHEN ",
    missed_claims!("stale", "released"),
    " THEN ARRAY(SELECT id FROM stale) END"
);

/// Whether a live claim of another reservation is on a cell of `[$10, $11)`.
/// In a statement of its own, so its snapshot sees the retirements above.
const TAKEN: &str = "
    SELECT EXISTS (
        SELECT 1 FROM claims
        WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11 AND reservation_id <> $4
          AND (expires_us IS NULL OR expires_us > $3))";

const RELEASE: &str = "DELETE FROM claims WHERE reservation_id = $4";

/// Claims `[$10, $11)` for `$4` with its expiry, and moves it there. A claim
/// committed meanwhile by another transaction makes the insert fail with a
/// unique violation, which rolls the move back.
const MOVE: &str = concat!(
    "WITH moved AS (
        UPDATE reservations SET start_s = $2, end_s = $6, buffer_before_s = $7,
                                buffer_after_s = $8
        WHERE id = $4
        RETURNING ",
    reservation_columns!(),
    "),
    claimed AS (
        INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
        SELECT $1, cell, $4, CASE moved.status WHEN 'held' THEN moved.expires_us END
        FROM moved, unnest(",
    blocked_cells!(),
    ") AS cell
    )
    SELECT ",
    reservation_columns!(),
    " FROM moved"
);

pub(super) async fn reschedule_on(
    conn: &mut PgConnection,
    id: ReservationId,
    slot: &SlotId,
    claim: Claim,
    now: DateTime<Utc>,
) -> Result<RescheduleOutcome> {
    let mut tx = conn.begin().await.map_err(storage)?;
    let outcome = match steps(&mut tx, id, slot, &claim, now).await {
        Ok(outcome) => outcome,
        Err(err) if is_unique_violation(&err) => Err(RescheduleOutcome::SlotTaken),
        Err(err) => return Err(storage(err)),
    };
    match outcome {
        Ok(moved) => {
            tx.commit().await.map_err(storage)?;
            Ok(RescheduleOutcome::Moved(moved.into_reservation()?))
        }
        Err(refusal) => {
            // Explicitly, so the locks go now and the connection is reusable.
            tx.rollback().await.map_err(storage)?;
            Ok(refusal)
        }
    }
}

/// The move's statements: the moved row, or the refusal.
async fn steps(
    tx: &mut PgConnection,
    id: ReservationId,
    slot: &SlotId,
    claim: &Claim,
    now: DateTime<Utc>,
) -> std::result::Result<std::result::Result<ReservationRow, RescheduleOutcome>, sqlx::Error> {
    let live: Option<bool> = bind_move(sqlx::query_as(LOCK_LIVE), slot, id, claim, now)
        .fetch_optional(&mut *tx)
        .await?
        .map(|(live,)| live);
    if live != Some(true) {
        return Ok(Err(RescheduleOutcome::NotLive));
    }
    let (published, unsettled): (bool, Option<Vec<Vec<u8>>>) =
        bind_move(sqlx::query_as(TARGET_STATE), slot, id, claim, now)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(ids) = unsettled {
        settle_claims(tx, &ids).await?;
    }
    if !published {
        return Ok(Err(RescheduleOutcome::NoSuchSlot));
    }
    let (taken,): (bool,) = bind_move(sqlx::query_as(TAKEN), slot, id, claim, now)
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        return Ok(Err(RescheduleOutcome::SlotTaken));
    }
    sqlx::query(RELEASE)
        .bind(None::<&str>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(id_bytes(id))
        .execute(&mut *tx)
        .await?;
    let moved: Option<ReservationRow> = bind_move(sqlx::query_as(MOVE), slot, id, claim, now)
        .fetch_optional(&mut *tx)
        .await?;
    moved.map(Ok).ok_or(sqlx::Error::RowNotFound)
}

/// Binds a move's values: `$1` provider, `$2` start, `$3` now, `$4` id, `$6`
/// end, `$7` and `$8` the buffers, `$10`-`$13` the claim as a hold binds it.
fn bind_move<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    slot: &'q SlotId,
    id: ReservationId,
    claim: &Claim,
    now: DateTime<Utc>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let (occupied, blocked) = (claim.occupied(), claim.blocked());
    let (start, end) = (occupied.first().timestamp(), occupied.end().timestamp());
    let (first, last) = (blocked.first().timestamp(), blocked.end().timestamp());
    query
        .bind(slot.provider().as_str())
        .bind(start)
        .bind(micros(now))
        .bind(id_bytes(id))
        .bind(None::<i64>)
        .bind(end)
        .bind(start - first)
        .bind(last - end)
        .bind(None::<i64>)
        .bind(first)
        .bind(last)
        .bind(limit(occupied.len()))
        .bind((last - first) / limit(blocked.len()))
}
