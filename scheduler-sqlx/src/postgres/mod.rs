//! [`PostgresStore`]: the [`Store`] primitives as single conditional statements
//! on PostgreSQL, safe for many server processes sharing one database.
//!
//! Each submodule owns one family of statements; this module owns the
//! connection pool, the migrations and the dispatch of the trait, and
//! `conns` the connections the statements run on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarWrite, FeedToken, HoldOutcome, HoldRequest, ReservationPage, SlotBounds,
    StoreWithdrawal, StoredSchedule,
};
use scheduler_core::{
    ClientId, Error, FeedTokenId, IdempotencyKey, ProviderId, Reservation, ReservationId, Result,
    SlotStart, Store,
};
use std::sync::Arc;

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use conns::Conns;

/// The reservation columns as a literal, so statements can be built with
/// `concat!` (sqlx only takes `&'static str` SQL without an audit wrapper).
/// Checked below against [`crate::row::RESERVATION_COLUMNS`].
macro_rules! reservation_columns {
    () => {
        "id, provider_id, client_id, start_s, end_s, status, created_us, expires_us, confirmed_us"
    };
}

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

mod calendar;
mod conns;
mod decode;
mod feed_tokens;
mod hold;
mod lifecycle;
mod listing;
mod schedules;
mod slots;

const _: () = assert!(
    decode::same_text(reservation_columns!(), crate::row::RESERVATION_COLUMNS),
    "reservation_columns! must list the columns row::ReservationRow decodes"
);

/// The embedded migrations of `migrations/postgres`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`] on PostgreSQL (feature `postgres`).
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

#[async_trait]
impl Store for PostgresStore {
    async fn calendar_version(&self, provider: &ProviderId) -> Result<u64> {
        calendar::current(&self.conns, provider).await
    }

    async fn add_slots(
        &self,
        provider: &ProviderId,
        starts: &[SlotStart],
        expected: Option<u64>,
    ) -> Result<CalendarWrite<Vec<DateTime<Utc>>>> {
        slots::add(&self.conns, provider, starts, expected).await
    }

    async fn withdraw_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CalendarWrite<StoreWithdrawal>> {
        slots::withdraw(&self.conns, provider, bounds, expected, now).await
    }

    async fn free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        slots::free(&self.conns, provider, bounds, limit, now).await
    }

    async fn versioned_free_slots(
        &self,
        provider: &ProviderId,
        bounds: SlotBounds,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<DateTime<Utc>>)> {
        slots::versioned_free(&self.conns, provider, bounds, limit, now).await
    }

    async fn hold(&self, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<HoldOutcome> {
        hold::hold(&self.conns, request, now).await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Option<Reservation>> {
        lifecycle::by_id(&self.conns, id).await
    }

    async fn reservation_by_key(
        &self,
        client: &ClientId,
        key: &IdempotencyKey,
    ) -> Result<Option<Reservation>> {
        lifecycle::by_key(&self.conns, client, key).await
    }

    async fn confirm(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::confirm(&self.conns, id, now).await
    }

    async fn cancel(&self, id: ReservationId, now: DateTime<Utc>) -> Result<Option<Reservation>> {
        lifecycle::cancel(&self.conns, id, now).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> Result<u64> {
        lifecycle::expire_due(&self.conns, now, batch).await
    }

    async fn provider_reservations(
        &self,
        provider: &ProviderId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        listing::by_provider(&self.conns, provider, page).await
    }

    async fn client_reservations(
        &self,
        client: &ClientId,
        page: ReservationPage,
    ) -> Result<Vec<Reservation>> {
        listing::by_client(&self.conns, client, page).await
    }

    async fn put_schedule(
        &self,
        provider: &ProviderId,
        json: &str,
        through: DateTime<Utc>,
        version: u64,
    ) -> Result<CalendarWrite<()>> {
        schedules::put(&self.conns, provider, json, through, version).await
    }

    async fn schedule(&self, provider: &ProviderId) -> Result<Option<StoredSchedule>> {
        schedules::get(&self.conns, provider).await
    }

    async fn delete_schedule(&self, provider: &ProviderId) -> Result<bool> {
        schedules::delete(&self.conns, provider).await
    }

    async fn schedules_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ProviderId, StoredSchedule)>> {
        schedules::due(&self.conns, before, limit).await
    }

    async fn advance_schedule(
        &self,
        provider: &ProviderId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool> {
        schedules::advance(&self.conns, provider, from, to).await
    }

    async fn put_feed_token(&self, token: &FeedToken) -> Result<bool> {
        feed_tokens::put(&self.conns, token).await
    }

    async fn feed_token(&self, id: &FeedTokenId) -> Result<Option<FeedToken>> {
        feed_tokens::get(&self.conns, id).await
    }

    async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
        feed_tokens::of(&self.conns, provider).await
    }

    async fn revoke_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>> {
        feed_tokens::revoke(&self.conns, provider, id, now).await
    }
}
