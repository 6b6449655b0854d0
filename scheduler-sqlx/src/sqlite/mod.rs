//! [`SqliteStore`]: the scheduler's storage in one SQLite database.
//!
//! Each store trait is implemented in the module of its name (`calendar`,
//! `reservations`, `schedules`, `services`), beside its statements; this module owns the
//! connections and the migrations.

crate::versions::version_reads!(sqlx::SqliteConnection);

mod calendar;
mod connect;
#[cfg(test)]
mod plans;
mod reservations;
mod schedules;
mod services;
mod starts;

use std::sync::Arc;

use scheduler_core::{Error, Result};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use reservations::group_commit::HoldQueue;

/// Every transaction that reads before it writes takes the write lock first,
/// so it waits (up to the busy timeout) instead of failing at its first write
/// with "database is locked" when another connection wrote in between.
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`](scheduler_core::Store) in an SQLite database: a file, or memory.
///
/// Writes go through one writer connection and reads through a pool of
/// reader connections beside it (WAL lets them run while the writer writes).
/// Within a process, writes queue for the writer instead of racing for
/// SQLite's lock; between processes, each write transaction takes the lock up
/// front (`BEGIN IMMEDIATE`) and waits out a 5 s busy timeout, so normal use
/// never sees "database is locked". Every statement gets the scheduler's `now`
/// as a parameter, and a hold is one conditional insert backed by a unique
/// index, so no slot is ever double-booked.
///
/// Holds that arrive while the writer is busy share its next transaction
/// (group commit): one commit for many holds, each still checked at its own
/// `now` and answered only once committed. Should any hold of such a batch
/// fail, each is run again alone, so every caller gets its own outcome. The
/// task that runs them is started by the first hold, on the Tokio runtime it
/// runs on.
///
/// An in-memory database (`sqlite::memory:`) exists only as long as its
/// connections and only for them, so it gets a single connection for reads
/// and writes, kept open for the store's life.
///
/// Cloning is cheap and shares the connections.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use chrono::{TimeZone, Utc};
/// use scheduler_core::{ClientId, ListQuery, ManualClock, Policy, Precondition, ProviderId, ReservationStatus, Scheduler, Window};
/// use scheduler_sqlx::SqliteStore;
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
///
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap());
/// let scheduler = Scheduler::new(store, clock, Policy::default());
/// let provider = ProviderId::new("dr-who")?;
/// let window = Window::new(
///     Utc.with_ymd_and_hms(2030, 1, 2, 9, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2030, 1, 2, 10, 0, 0).unwrap(),
/// )?;
/// let added = scheduler.add_availability(&provider, &[window], Precondition::Any).await?;
/// assert_eq!(added.added.len(), 4);
///
/// let slot = &added.added[0].id;
/// let held = scheduler.reserve(slot, &ClientId::new("amy")?, None).await?;
/// assert_eq!(held.status, ReservationStatus::Held);
/// let listed = scheduler.list_slots(&provider, ListQuery::all()).await?;
/// assert_eq!(listed.items.len(), 3, "the held slot is no longer listed");
/// # Ok::<(), scheduler_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Holds queue here and share write transactions (group commit).
    holds: Arc<HoldQueue>,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path/to/file.db`,
    /// `sqlite::memory:`, ...), creating the file if it is missing, with the
    /// options of [`SqliteStore::connect_options`], one writer connection and
    /// up to 8 reader connections; a database without a file (in memory, in
    /// any spelling) gets one connection for both. Run [`SqliteStore::migrate`] before first use.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(Self::connect_options(url)?, connect::DEFAULT_READERS).await
    }

    /// The options [`SqliteStore::connect`] uses for `url`: create the file if
    /// missing, WAL journal, `synchronous = NORMAL` and a 5 s busy timeout. A starting point for [`SqliteStore::connect_with`] or
    /// for pools of your own.
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions> {
        connect::options(url)
    }

    /// Opens the database with `options` as given, one writer connection and
    /// up to `readers` reader connections. With `readers == 0` the writer's
    /// connection serves reads too and stays open for the store's life; a
    /// database without a file is always opened that way, since each
    /// connection to it would otherwise be another database.
    pub async fn connect_with(options: SqliteConnectOptions, readers: u32) -> Result<Self> {
        let (reader, writer) = connect::pools(options, readers).await?;
        Ok(Self::from_pools(reader, writer))
    }

    /// A store over one pool for both reads and writes.
    ///
    /// Writes then share the pool's connections and contend for SQLite's lock
    /// through its busy timeout; prefer [`SqliteStore::from_pools`] with a
    /// single-connection writer. For an in-memory database, give a pool that
    /// keeps exactly one connection open.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self::from_pools(pool.clone(), pool)
    }

    /// A store that reads through `reader` and writes through `writer`.
    ///
    /// `writer` should hold one connection (`max_connections(1)`), so that
    /// this process's writes queue rather than contend; both should use WAL
    /// and a busy timeout, as [`SqliteStore::connect_options`] does.
    pub fn from_pools(reader: SqlitePool, writer: SqlitePool) -> Self {
        let holds = Arc::new(HoldQueue::new(writer.clone()));
        Self {
            reader,
            writer,
            holds,
        }
    }

    /// The migrations that create and update this store's schema, embedded
    /// from `migrations/sqlite`, for running with your own tooling.
    pub fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// Brings the schema up to date, through the writer connection.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.writer).await.map_err(Error::storage)
    }

    /// The pool reads go through. Opened by [`SqliteStore::connect`] on a
    /// file, its connections are query-only: nothing writes behind the writer.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The pool writes go through.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Closes every connection, waiting for those in use to be returned.
    /// Every operation after this fails with [`Error::Storage`].
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
