//! [`PostgresStore`]: the [`Store`](scheduler_core::Store) primitives as single conditional statements
//! on PostgreSQL, safe for many server processes sharing one database.
//!
//! Each store trait is implemented in the module of its name (`calendar`,
//! `reservations`, `schedules`), beside its statements; this module owns the
//! connection pool and the migrations, and `conns` the connections the
//! statements run on.

use std::sync::Arc;

use scheduler_core::{Error, Result};

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use conns::Conns;

/// The CTE `unqueued`: takes the holds that the CTE `$moved` moved on (it
/// returns their `id` and `expires_us`) off the sweeper's queue,
/// `hold_expiries`. Every statement that moves a hold includes it, after its
/// `UPDATE` has locked the reservation, so the queue is always locked second.
macro_rules! unqueued {
    ($moved:literal) => {
        concat!(
            "unqueued AS (DELETE FROM hold_expiries q USING ",
            $moved,
            " WHERE q.expires_us = ",
            $moved,
            ".expires_us AND q.id = ",
            $moved,
            ".id)"
        )
    };
}

/// Whether `$changed` (a CTE returning a row per claim it dropped or
/// changed) missed claims of the reservations `$moved` returned.
///
/// A statement finds a reservation's claims with the snapshot it started
/// with. If it waited for the reservation's row lock meanwhile, and the
/// lock's holder was a reschedule, that reschedule replaced the claims with
/// new ones, committed after the snapshot was taken, so the statement can
/// neither see nor change them: it finds the old claims already gone. The
/// count of claims the snapshot shows then differs from the count changed,
/// and `settle_claims` finishes the work with a snapshot of its own.
macro_rules! missed_claims {
    ($moved:literal, $changed:literal) => {
        concat!(
            "(SELECT count(*) FROM ",
            $changed,
            ") <> (SELECT count(*) FROM claims WHERE reservation_id = ANY(ARRAY(SELECT id FROM ",
            $moved,
            ")))"
        )
    };
}

crate::versions::version_reads!(sqlx::PgConnection);

mod calendar;
mod conns;
mod reservations;
mod schedules;
mod services;
#[cfg(test)]
mod test_schema;

/// The embedded migrations of `migrations/postgres`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`](scheduler_core::Store) on PostgreSQL (feature `postgres`).
///
/// Every primitive is one conditional statement (withdrawal is one short
/// transaction), with `now` passed in as a parameter; SQL never reads the
/// server's clock. The schema backs the statements up: a unique partial index
/// lets at most one held or confirmed reservation exist per slot, so any number
/// of processes may share the database without double-booking.
///
/// Run [`migrate`](Self::migrate) (or apply [`migrator`](Self::migrator) with
/// your own tooling) before first use.
///
/// The primitives run on connections the store takes out of the pool and
/// keeps, so each statement costs one round trip: sqlx's pool would ping a
/// connection when handing it out and again when it comes back. The store
/// keeps at most the pool's `max_connections` of them, respects its
/// `acquire_timeout`, `max_lifetime` and `idle_timeout`, pings a connection
/// idle for more than a second before reusing it, and closes (never reuses)
/// a connection whose operation failed in the database or on the wire, or
/// was cancelled mid-statement. [`pool`](Self::pool) stays available for
/// other queries; the connections it opens for them come on top.
///
/// ```no_run
/// # async fn example() -> Result<(), scheduler_core::Error> {
/// use scheduler_core::{ListQuery, Policy, ProviderId, Scheduler, SystemClock};
/// use scheduler_sqlx::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://scheduler@localhost/scheduler").await?;
/// store.migrate().await?;
///
/// let scheduler = Scheduler::new(store, SystemClock, Policy::default());
/// let provider = ProviderId::new("dr-who")?;
/// let page = scheduler.list_slots(&provider, ListQuery::all()).await?;
/// println!("{} reservable slots", page.items.len());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    conns: Arc<Conns>,
}

impl PostgresStore {
    /// Connects a pool with sqlx's default options to the database at `url`
    /// (`postgres://user:password@host/database`). An unreachable server is
    /// retried until sqlx's default acquire timeout (30 s) before it fails.
    ///
    /// For pool sizes, timeouts or TLS settings, build a [`PgPool`] yourself
    /// and use [`from_pool`](Self::from_pool).
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPool::connect(url).await.map_err(crate::row::storage)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool. The pool's connections must see the
    /// migrated tables on their `search_path`.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            conns: Arc::new(Conns::new(pool)),
        }
    }

    /// The pool, for health checks or queries of your own. Closing it also
    /// closes the store's idle connections, on its next operation, which then
    /// fails as the pool's would.
    pub fn pool(&self) -> &PgPool {
        self.conns.pool()
    }

    /// Applies the pending embedded migrations. Safe to call on every start
    /// and from several processes at once: sqlx serializes them with an
    /// advisory lock and skips the applied ones.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(self.pool()).await.map_err(Error::storage)
    }

    /// The embedded migrations (`migrations/postgres`), to run with your own
    /// tooling instead of [`migrate`](Self::migrate).
    pub fn migrator() -> &'static Migrator {
        &MIGRATOR
    }
}
