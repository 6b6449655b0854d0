//! The hold: the compare-and-set at the heart of double-booking prevention.

use chrono::{DateTime, Utc};
use scheduler_core::store::{HoldOutcome, HoldRequest};
use scheduler_core::{Result, ServiceId};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres, Row};

use super::{by_key_on, settle_claims};
use crate::row::{ReservationRow, buffers, id_bytes, limit, micros, storage};

/// The cells `[$10, $11)` that a claim blocks, `$13` seconds apart, and the
/// slots `[$2, $6)` its appointment occupies, as arrays that the conditions
/// of the hold's statements match with `= ANY`.
///
/// Not ranges (`cell_s >= $10 AND cell_s < $11`), and not `generate_series`
/// as a row source, because of how PostgreSQL plans a prepared statement:
/// after five plans for the parameters at hand (custom plans), it keeps one
/// plan for any parameters (the generic plan) only if that is estimated to
/// cost no more than they did. A range of unknown bounds is estimated at
/// 0.5% of the table, thousands of rows, so the hold was planned afresh on
/// every call, and planning cost more than running it. An array computed by
/// a subquery is unknown to both kinds of plan alike, so their estimates
/// agree and the generic plan is kept.
macro_rules! blocked_cells {
    () => {
        "ARRAY(SELECT generate_series($10::bigint, $11::bigint - $13::bigint, $13::bigint))"
    };
}
pub(in crate::postgres) use blocked_cells;

/// See [`blocked_cells!`]. The statements that lock these slots also name
/// their range, `start_s >= $2 AND start_s < $6`: estimated for a provider
/// the statistics do not know yet (one row, by the estimate), a custom plan
/// would otherwise search the primary key by provider alone and filter
/// every one of its slots against the array, on every hold.
macro_rules! occupied_slots {
    () => {
        "ARRAY(SELECT generate_series($2::bigint, $6::bigint - $13::bigint, $13::bigint))"
    };
}
pub(in crate::postgres) use occupied_slots;

/// Expires the lapsed holds that claim a cell of `[$10, $11)` of provider
/// `$1` at `$3`, as the CTE `stale`, then drops their claims (`released`)
/// and takes them off the sweeper's queue (`unqueued`). The `UPDATE`
/// re-checks each hold after waiting for its row lock, so a hold confirmed
/// meanwhile is left alone with its claims. Shared with rescheduling.
///
/// The ids are collected into an array (an init plan), not matched with
/// `IN (subquery)`: the planner may hash such a subquery and scan the whole
/// table, on every hold.
///
/// Each step is gated by a condition that does not depend on a row (a
/// one-time filter): unless a lapsed claim is in the way, which is rare,
/// neither `reservations` nor the claims' reservation index is read. The
/// generic plan is made once per connection and kept until the tables'
/// statistics change; made while a table was small, it may scan that table
/// whole, and the gates keep such a plan off the common path.
macro_rules! retire_lapsed {
    () => {
        concat!(
            "stale AS (
        UPDATE reservations SET status = 'expired'
        WHERE EXISTS (
            SELECT 1 FROM claims
            WHERE provider_id = $1 AND cell_s >= $10 AND cell_s < $11 AND expires_us <= $3)
          AND id = ANY(ARRAY(
            SELECT reservation_id FROM claims
            WHERE provider_id = $1 AND cell_s = ANY(",
            blocked_cells!(),
            ") AND expires_us <= $3))
          AND status = 'held' AND expires_us <= $3
        RETURNING id, expires_us
    ),
    released AS (
        DELETE FROM claims
        WHERE EXISTS (SELECT 1 FROM stale)
          AND reservation_id = ANY(ARRAY(SELECT id FROM stale))
        RETURNING cell_s
    ),
    ",
            unqueued!("stale")
        )
    };
}
pub(in crate::postgres) use retire_lapsed;

/// A hold statement: it takes the hold, or changes nothing.
///
/// - `slot` locks the appointment's slot rows in order, so holds that share
///   a slot run one at a time and a withdrawal (which locks the rows it
///   deletes) cannot slip in between; it also counts them, all `$12` of
///   which must be published.
/// - `$steps` come next: none, or `retire_lapsed!` and what the claim must
///   wait for (see [`HOLD_RETIRING`]).
/// - `claimed` inserts one claim per blocked cell `[$10, $11)`, `$13`
///   seconds apart, if the slots are published and `$free` holds. Its
///   snapshot predates the lock wait, so a claim committed meanwhile is
///   invisible to `$free`; the primary key then refuses the insert with a
///   unique violation, which aborts the whole statement (as a used
///   idempotency key does for `held`). The caller reads either as "nothing
///   inserted" and says why.
/// - `held` inserts the reservation once its claims are in, and `queued`
///   puts it on the sweeper's queue, `hold_expiries`.
/// - The one row returned is the new hold or, when nothing was inserted
///   without an error, `published` (whether all the appointment's slots are
///   published) and `$why`, so a refusal costs no second round trip.
macro_rules! hold {
    ($steps:expr, $free:expr, $why:expr) => {
        concat!(
            "WITH slot AS (
        SELECT start_s FROM slots
        WHERE provider_id = $1 AND start_s >= $2 AND start_s < $6 AND start_s = ANY(",
            occupied_slots!(),
            ")
        ORDER BY start_s
        FOR UPDATE
    ),
    ",
            $steps,
            "claimed AS (
        INSERT INTO claims (provider_id, cell_s, reservation_id, expires_us)
        SELECT $1, cell, $4, $8
        FROM unnest(",
            blocked_cells!(),
            ") AS cell
        WHERE (SELECT count(*) FROM slot) = $12
          AND ",
            $free,
            "
        RETURNING cell_s
    ),
    held AS (
        INSERT INTO reservations (
            id, provider_id, client_id, service_id, start_s, end_s, buffer_before_s,
            buffer_after_s, status, created_us, expires_us, confirmed_us, idempotency_key
        )
        SELECT $4, $1, $5, $14, $2, $6, $15, $16, 'held', $7, $8, NULL, $9
        WHERE EXISTS (SELECT 1 FROM claimed)
        RETURNING ",
            reservation_columns!(),
            "),
    queued AS (
        INSERT INTO hold_expiries (expires_us, id) SELECT expires_us, id FROM held
    )
    SELECT ",
            reservation_columns!(),
            ",
        CASE WHEN id IS NULL THEN (SELECT count(*) FROM slot) = $12 END AS published, ",
            $why,
            "
    FROM (VALUES (1)) AS one (x) LEFT JOIN held ON true"
        )
    };
}

/// The hold as almost every hold runs: the cells must hold no claim at all.
/// Retiring lapsed holds is left out, as even skipped, its steps cost about
/// a seventh of the statement; when a claim in the way has lapsed (its
/// hold was not swept yet), `lapsed` says so and [`HOLD_RETIRING`] runs.
const HOLD: &str = hold!(
    "",
    "NOT EXISTS (
              SELECT 1 FROM claims c
              WHERE c.provider_id = $1 AND c.cell_s >= $10 AND c.cell_s < $11
          )",
    "CASE WHEN id IS NULL THEN EXISTS (
              SELECT 1 FROM claims c
              WHERE c.provider_id = $1 AND c.cell_s >= $10 AND c.cell_s < $11
                AND c.expires_us <= $3
          ) END AS lapsed, NULL::bytea[] AS unsettled"
);

/// The hold that first retires the lapsed holds in the way
/// (`retire_lapsed!`); the cells must then hold no live claim. `claimed`
/// reads `released` in full first: PostgreSQL runs a data-modifying CTE
/// that nothing reads only after the main statement, and the insert would
/// then meet the lapsed claims still in the primary key.
const HOLD_RETIRING: &str = hold!(
    concat!(retire_lapsed!(), ",\n    "),
    "(SELECT count(*) FROM released) >= 0
          AND NOT EXISTS (
              SELECT 1 FROM claims c
              WHERE c.provider_id = $1 AND c.cell_s >= $10 AND c.cell_s < $11
                AND (c.expires_us IS NULL OR c.expires_us > $3)
          )",
    concat!(
        "false AS lapsed, CASE WHEN ",
        missed_claims!("stale", "released"),
        " THEN ARRAY(SELECT id FROM stale) END AS unsettled"
    )
);

/// Whether every slot of the appointment `[$2, $6)` of `$1` is published:
/// `$12` of them. Asked after a unique violation aborted the hold.
const PUBLISHED: &str = "
    SELECT (SELECT count(*) FROM slots WHERE provider_id = $1 AND start_s >= $2 AND start_s < $6) = $12";

/// The row a hold statement returns: the new hold or, when it inserted
/// nothing, whether the appointment's slots are published and whether a
/// lapsed claim was in the way.
enum HoldRow {
    Held(ReservationRow),
    Refused { published: bool, lapsed: bool },
}

/// A [`HoldRow`], and the retired holds whose claims need settling (see
/// `missed_claims!`), if any.
struct HoldReply(HoldRow, Option<Vec<Vec<u8>>>);

impl<'r> FromRow<'r, PgRow> for HoldReply {
    fn from_row(row: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        let hold = match row.try_get::<Option<bool>, _>("published")? {
            Some(published) => HoldRow::Refused {
                published,
                lapsed: row.try_get::<Option<bool>, _>("lapsed")?.unwrap_or(false),
            },
            None => HoldRow::Held(ReservationRow::from_row(row)?),
        };
        Ok(Self(hold, row.try_get("unsettled")?))
    }
}

/// The hold and, when it inserted nothing, the statements that say why, all
/// on one connection.
pub(super) async fn hold_on(
    conn: &mut PgConnection,
    request: HoldRequest<'_>,
    now: DateTime<Utc>,
) -> Result<HoldOutcome> {
    let new = request.reservation;
    let (before, after) = buffers(new);
    // No key lookup first: the scheduler has just made one, and a key used
    // since then makes the insert fail, which is reported below. One round
    // trip for the common case; two when a lapsed hold is in the way.
    let mut retiring = false;
    let held = loop {
        let statement = if retiring { HOLD_RETIRING } else { HOLD };
        let held = claim_params(sqlx::query_as::<_, HoldReply>(statement), &request, now)
            .bind(new.service_id.as_ref().map(ServiceId::as_str))
            .bind(before)
            .bind(after)
            .fetch_one(&mut *conn)
            .await;
        let held = match held {
            Ok(HoldReply(held, Some(unsettled))) => {
                settle_claims(conn, &unsettled).await.map_err(storage)?;
                Ok(held)
            }
            Ok(HoldReply(held, None)) => Ok(held),
            Err(err) => Err(err),
        };
        match held {
            Ok(HoldRow::Refused {
                published: true,
                lapsed: true,
            }) if !retiring => retiring = true,
            held => break held,
        }
    };
    let published = match held {
        Ok(HoldRow::Held(row)) => return Ok(HoldOutcome::Held(row.into_reservation()?)),
        Ok(HoldRow::Refused { published, .. }) => Some(published),
        // It waited for the concurrent request it met to commit, so a used
        // key or a claim is visible to the statements below.
        Err(err) if is_unique_violation(&err) => None,
        Err(err) => return Err(storage(err)),
    };
    // Nothing inserted: say why, in the order the contract ranks the reasons.
    if let Some(key) = request.key
        && let Some(original) = by_key_on(conn, &new.client_id, key).await?
    {
        return Ok(HoldOutcome::KeyUsed(original));
    }
    let published = match published {
        Some(published) => published,
        None => {
            let (published,): (bool,) = claim_params(sqlx::query_as(PUBLISHED), &request, now)
                .fetch_one(conn)
                .await
                .map_err(storage)?;
            published
        }
    };
    Ok(if published {
        HoldOutcome::SlotTaken
    } else {
        HoldOutcome::NoSuchSlot
    })
}

/// Binds `$1`-`$13` of the hold's statements: the provider, the
/// appointment, now, the new reservation and its claim.
fn claim_params<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    request: &HoldRequest<'q>,
    now: DateTime<Utc>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let new = request.reservation;
    let blocked = request.claim.blocked();
    let (first, end) = (blocked.first().timestamp(), blocked.end().timestamp());
    query
        .bind(new.provider_id.as_str())
        .bind(new.start.timestamp())
        .bind(micros(now))
        .bind(id_bytes(new.id))
        .bind(new.client_id.as_str())
        .bind(new.end.timestamp())
        .bind(micros(new.created_at))
        .bind(micros(new.expires_at))
        .bind(request.key.map(|key| key.as_str()))
        .bind(first)
        .bind(end)
        .bind(limit(request.claim.occupied().len()))
        .bind((end - first) / limit(blocked.len()))
}

/// Whether `err` is a unique violation: a claim or key taken by a
/// transaction that committed while this statement waited.
pub(in crate::postgres) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// The hold's plans on the server named by `SCHEDULER_TEST_POSTGRES_URL`.
#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use scheduler_core::{ClientId, Precondition, ProviderId, Service, Window};

    use super::*;
    use crate::postgres::test_schema::{TestSchema, now};

    /// From its sixth execution on a connection, the hold runs PostgreSQL's
    /// generic plan, for plain holds and four-slot service holds alike,
    /// instead of being planned afresh each time (planning cost more than
    /// running it). `pg_prepared_statements` counts both kinds of plan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holds_run_a_generic_plan_after_five_executions() {
        let Some(db) = TestSchema::new("hold_plans").await else {
            return;
        };
        let provider = ProviderId::new("p").unwrap();
        let first = now() + TimeDelta::days(2);
        let window = Window::new(first, first + TimeDelta::hours(12)).unwrap();
        let slots = (db.scheduler)
            .add_availability(&provider, &[window], Precondition::Any)
            .await
            .unwrap()
            .added;
        // Other calendars, so that the table is big enough for the estimate
        // of a range of unknown bounds (0.5% of its rows) to be far off.
        db.run(format!(
            "INSERT INTO {schema}.slots (provider_id, start_s)
             SELECT 'other' || (n % 10), {} + 900 * n FROM generate_series(0, 99999) n;
             ANALYZE {schema}.slots",
            first.timestamp(),
            schema = db.name
        ))
        .await;
        let hour = Service::new(
            provider.clone(),
            ServiceId::new("hour").unwrap(),
            "Hour",
            TimeDelta::hours(1),
        );
        db.scheduler.put_service(&hour).await.unwrap();

        // Eight one-slot holds, then eight of four slots.
        let client = ClientId::new("amy").unwrap();
        let plain = slots[..8].iter().map(|slot| slot.id.clone());
        let services = (slots[8..].iter().step_by(4).take(8))
            .map(|slot| slot.id.clone().for_service(hour.id.clone()));
        for id in plain.chain(services) {
            db.scheduler.reserve(&id, &client, None).await.unwrap();
        }

        let mut conn = db.store.conns.get().await.unwrap();
        let plans = sqlx::query_as(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
        )
        .bind(HOLD)
        .fetch_one(&mut *conn)
        .await;
        let plans: (i64, i64) = conn.settle(plans).unwrap();
        assert_eq!(plans, (11, 5), "(generic, custom) plans of 16 holds");
        db.drop().await;
    }

    /// A provider the statistics of `slots` do not know yet (published since
    /// the last `ANALYZE`, in batches too small to refresh them) is held
    /// through the whole primary key: its slots are found by provider and
    /// start, not by provider alone and then filtered one by one. Before
    /// the hold named the range of its slots, PostgreSQL estimated such a
    /// provider at one row, kept custom plans that searched by provider
    /// alone, and each hold read all of the provider's slots.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_provider_newer_than_the_statistics_is_held_by_its_slots() {
        let Some(db) = TestSchema::new("hold_new_provider").await else {
            return;
        };
        let first = now() + TimeDelta::days(2);
        db.run(format!(
            "INSERT INTO {schema}.slots (provider_id, start_s)
             SELECT 'known', {first} + 900 * n FROM generate_series(0, 99999) n;
             ANALYZE {schema}.slots;
             INSERT INTO {schema}.slots (provider_id, start_s)
             SELECT 'new', {first} + 900 * n FROM generate_series(0, 99999) n;",
            first = first.timestamp(),
            schema = db.name
        ))
        .await;
        let (provider, client) = (
            ProviderId::new("new").unwrap(),
            ClientId::new("amy").unwrap(),
        );
        let grid = db.scheduler.policy().grid();
        let slot = |n: i64| {
            let start = first + TimeDelta::minutes(15 * n);
            scheduler_core::SlotId::new(provider.clone(), grid.slot_at(start).unwrap().instant())
        };
        for n in 0..8 {
            db.scheduler.reserve(&slot(n), &client, None).await.unwrap();
        }

        // The plan the next hold would run, on the connection that prepared it.
        let mut conn = db.store.conns.get().await.unwrap();
        let name: std::result::Result<String, _> =
            sqlx::query_scalar("SELECT name FROM pg_prepared_statements WHERE statement = $1")
                .bind(HOLD)
                .fetch_one(&mut *conn)
                .await;
        let name = name.unwrap();
        let start = (first + TimeDelta::hours(12)).timestamp();
        let explain = format!(
            "EXPLAIN EXECUTE {name}('new', {start}, 0, '\\x{id}', 'amy', {end}, 0, 1, NULL, \
             {start}, {end}, 1, 900, NULL, 0, 0)",
            id = "00".repeat(16),
            end = start + 900,
        );
        let plan: std::result::Result<Vec<String>, _> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
                .fetch_all(&mut *conn)
                .await;
        let plan = conn.settle(plan).unwrap().join("\n");
        let slots_scan = plan
            .lines()
            .skip_while(|line| !line.contains("on slots"))
            .nth(1)
            .unwrap_or_default();
        assert!(
            slots_scan.contains("Index Cond") && slots_scan.contains("start_s"),
            "the slots are found by provider and start:\n{plan}"
        );
        db.drop().await;
    }
}
