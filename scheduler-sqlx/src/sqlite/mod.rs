//! [`SqliteStore`]: the scheduler's storage in one SQLite database.

mod calendar;
mod connect;
mod feed_tokens;
mod group_commit;
mod hold;
mod lifecycle;
#[cfg(test)]
mod plans;
mod reads;
mod rows;
mod schedules;
mod slots;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarWrite, FeedToken, HoldOutcome, HoldRequest, ReservationPage, SlotBounds, Store,
    StoreWithdrawal, StoredSchedule,
};
use scheduler_core::{
    ClientId, Error, FeedTokenId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result,
    SlotStart,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use group_commit::HoldQueue;

/// Every transaction that reads before it writes takes the write lock first,
/// so it waits (up to the busy timeout) instead of failing at its first write
/// with "database is locked" when another connection wrote in between.
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] in an SQLite database: a file, or memory.
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
/// use scheduler_core::{ClientId, ListQuery, ManualClock, Policy, ProviderId, ReservationStatus, Scheduler, Window};
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
/// let added = scheduler.add_availability(&provider, &[window]).await?;
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

#[async_trait]
impl Store for SqliteStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        calendar::current(&self.reader, provider).await
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        slots::add(&self.writer, provider, starts, expected).await
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        slots::withdraw(&self.writer, provider, bounds, expected, now).await
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        slots::free(&self.reader, provider, bounds, limit, now).await
    }

    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        slots::versioned_free(&self.reader, provider, bounds, limit, now).await
    }

    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        self.holds.hold(request, now).await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        reads::by_id(&self.reader, id).await
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        reads::by_key(&self.reader, client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::confirm(&self.writer, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::cancel(&self.writer, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        lifecycle::expire_due(&self.writer, now, batch).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        reads::page(
            &self.reader,
            reads::PROVIDER_PAGE.as_str(),
            provider.as_str(),
            page,
        )
        .await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        reads::page(
            &self.reader,
            reads::CLIENT_PAGE.as_str(),
            client.as_str(),
            page,
        )
        .await
    }

    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        schedules::put(&self.writer, provider, json, through, version).await
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        schedules::get(&self.reader, provider).await
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        schedules::delete(&self.writer, provider).await
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        schedules::due(&self.reader, before, limit).await
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        schedules::advance(&self.writer, provider, from, to).await
    }

    async fn put_feed_token(&self, token: &FeedToken) -> Result<bool> {
        feed_tokens::put(&self.writer, token).await
    }

    async fn feed_token(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
        feed_tokens::get(&self.reader, id).await
    }

    async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
        feed_tokens::of(&self.reader, provider).await
    }

    async fn revoke_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>> {
        feed_tokens::revoke(&self.writer, provider, id, now).await
    }
}
