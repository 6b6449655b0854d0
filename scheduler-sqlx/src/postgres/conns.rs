//! The store's own connection cache: one round trip per statement.
//!
//! sqlx's pool costs two extra round trips per use: it pings a connection
//! before handing it out (`test_before_acquire`) and pings it again, always,
//! when it comes back. For a primitive that is a single statement that is
//! three round trips instead of one. So the store takes connections out of
//! its [`PgPool`] once (`acquire` then `detach`: the pool neither pings nor
//! counts them any more) and keeps them itself:
//!
//! - An idle list, most recently used last and handed out first, behind a
//!   `std::sync::Mutex` that is never held across an `.await`.
//! - A semaphore of the pool's `max_connections` permits: a connection is
//!   opened only while holding a permit and with the idle list empty, so the
//!   cache never has more connections, idle or in use, than the pool would.
//!   The pool itself only opens connections for [`PgPool`]'s own users
//!   (health checks, migrations, queries of the application's own) and for
//!   this cache when the idle list is empty.
//! - Waiting for a permit and opening a connection together take at most the
//!   pool's `acquire_timeout`, as acquiring from the pool did.
//!
//! # Why the release ping is not needed
//!
//! sqlx pings a returning connection because it cannot tell how its use
//! ended: a future dropped in the middle of a statement (the server times
//! requests out, so this is routine) leaves the connection with a statement
//! half sent or its answer half read, and the ping flushes or exposes that.
//! Here every use ends in one of three ways, and only the first one returns
//! the connection to the idle list:
//!
//! 1. The operation ran to its end and said so by calling
//!    [`Conn::settle`] (one statement: it returned `Ok`; rows it returned
//!    are decoded afterwards, so a corrupt row does not cost the connection)
//!    or [`Conn::finish`] (a sequence or
//!    transaction: it returned `Ok`, every transaction committed or rolled
//!    back explicitly). The protocol is then at a known point, between
//!    statements, with no transaction open.
//! 2. It failed in the database or on the wire (I/O, TLS, protocol, any error
//!    the server returned, an error anywhere inside a sequence): the
//!    connection is closed. A transaction dropped by `?` has only queued its
//!    `ROLLBACK`; closing the connection is what makes the server roll back
//!    at once and release the transaction's locks.
//! 3. The future was dropped before either call (cancellation): the guard's
//!    `Drop` closes the connection. Nothing half done is ever reused.
//!
//! A connection closed because of an I/O, protocol or fatal server error
//! hints that the server may have dropped the others too (a restart, a
//! failover, `pg_terminate_backend`): every connection that went idle before
//! such a failure is pinged before its next use. A connection idle for more
//! than [`PING_AFTER`] is pinged as well; under load connections never idle
//! that long, so the hot path makes exactly one round trip per statement.
//! A failed ping closes the connection and the next idle one (or a new one)
//! is tried. A connection that dies while idle less than that, with no
//! failure seen yet, fails the one operation that finds it.
//!
//! The pool's `max_lifetime` and `idle_timeout` still apply: a connection
//! older than the first is closed instead of reused, and one idle longer
//! than the second is closed when the idle list is next touched. Once the
//! pool is closed ([`PgPool::close`]) the cache closes its idle connections
//! and refuses new operations, like the pool.
//!
//! sqlx caches prepared statements per connection; a detached connection
//! keeps its cache, so statements stay prepared across uses.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use scheduler_core::{Error, Result};
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::row::storage;

#[cfg(test)]
pub(super) mod tests;

/// How long a connection may sit idle before it is pinged ahead of reuse.
pub(super) const PING_AFTER: Duration = Duration::from_secs(1);

/// The connections of one [`PostgresStore`](super::PostgresStore) and its
/// clones.
pub(super) struct Conns {
    pool: PgPool,
    /// One per connection in use (or being opened or pinged).
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
    /// Counts connections lost to the network or the server; an idle
    /// connection put back under an older count is pinged before reuse.
    failures: AtomicU64,
    ping_after: Duration,
    acquire_timeout: Duration,
    max_lifetime: Option<Duration>,
    idle_timeout: Option<Duration>,
}

/// A connection waiting in the idle list.
struct Idle {
    conn: PgConnection,
    opened: Instant,
    since: Instant,
    failures: u64,
}

impl Conns {
    /// A cache over `pool`, bounded by and following the pool's options.
    pub(super) fn new(pool: PgPool) -> Self {
        Self::with_ping_after(pool, PING_AFTER)
    }

    /// As [`new`](Self::new), pinging connections idle longer than
    /// `ping_after`.
    pub(super) fn with_ping_after(pool: PgPool, ping_after: Duration) -> Self {
        let options = pool.options();
        let max = usize::try_from(options.get_max_connections()).unwrap_or(usize::MAX);
        Self {
            permits: Semaphore::new(max.min(Semaphore::MAX_PERMITS)),
            idle: Mutex::new(Vec::new()),
            failures: AtomicU64::new(0),
            ping_after,
            acquire_timeout: options.get_acquire_timeout(),
            max_lifetime: options.get_max_lifetime(),
            idle_timeout: options.get_idle_timeout(),
            pool,
        }
    }

    /// The pool the connections come from.
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection for one operation: an idle one, pinged first if it idled
    /// long or a failure was seen since, or a new one from the pool.
    pub(super) async fn get(&self) -> Result<Conn<'_>> {
        match tokio::time::timeout(self.acquire_timeout, self.checkout()).await {
            Ok(conn) => conn.map_err(storage),
            Err(_elapsed) => Err(storage(sqlx::Error::PoolTimedOut)),
        }
    }

    async fn checkout(&self) -> std::result::Result<Conn<'_>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_closed| sqlx::Error::PoolClosed)?;
        if self.pool.is_closed() {
            drop(std::mem::take(&mut *self.idle()));
            return Err(sqlx::Error::PoolClosed);
        }
        while let Some(mut idle) = self.pop_idle() {
            let suspect = idle.failures != self.failures.load(Ordering::Acquire)
                || idle.since.elapsed() > self.ping_after;
            // Dropped mid-ping, `idle` closes its connection with it.
            if suspect && idle.conn.ping().await.is_err() {
                self.failures.fetch_add(1, Ordering::AcqRel);
                continue;
            }
            return Ok(Conn {
                conn: Some(idle.conn),
                opened: idle.opened,
                cache: self,
                _permit: permit,
            });
        }
        let conn = self.pool.acquire().await?.detach();
        Ok(Conn {
            conn: Some(conn),
            opened: Instant::now(),
            cache: self,
            _permit: permit,
        })
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // The list stays consistent whatever panicked while holding it.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used idle connection still within the pool's
    /// lifetime. Expired ones are closed outside the lock.
    fn pop_idle(&self) -> Option<Idle> {
        let mut expired = Vec::new();
        let found = {
            let mut idle = self.idle();
            loop {
                match idle.pop() {
                    Some(conn) if self.outlived(conn.opened) => expired.push(conn),
                    other => break other,
                }
            }
        };
        drop(expired);
        found
    }

    /// Puts a connection whose use ended cleanly back in the idle list, and
    /// closes the connections idle longer than the pool's `idle_timeout`.
    fn put_back(&self, conn: PgConnection, opened: Instant) {
        if self.pool.is_closed() || self.outlived(opened) {
            return;
        }
        let now = Instant::now();
        let failures = self.failures.load(Ordering::Acquire);
        let stale = {
            let mut idle = self.idle();
            // The list runs from least to most recently used.
            let stale = match self.idle_timeout {
                Some(timeout) => idle
                    .iter()
                    .take_while(|conn| now.duration_since(conn.since) > timeout)
                    .count(),
                None => 0,
            };
            let stale: Vec<Idle> = idle.drain(..stale).collect();
            idle.push(Idle {
                conn,
                opened,
                since: now,
                failures,
            });
            stale
        };
        drop(stale);
    }

    fn outlived(&self, opened: Instant) -> bool {
        self.max_lifetime
            .is_some_and(|lifetime| opened.elapsed() > lifetime)
    }

    /// Notes a connection lost to `error`, if it says the server or the
    /// network may have dropped the other connections too.
    fn lost(&self, error: &sqlx::Error) {
        if severs(error) {
            self.failures.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl fmt::Debug for Conns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conns")
            .field("pool", &self.pool)
            .field("idle", &self.idle().len())
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// Whether a failed statement says more than its own connection may be
/// gone: the network or the server failed, or the server ended the session.
fn severs(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|error| matches!(error.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

/// Whether a statement failed although its exchange with the server ran to
/// the end, which leaves the connection between statements. Only
/// `RowNotFound` is sure to: a column that fails to decode stops reading
/// in the middle of the rows, and the unread rest (with the statement's
/// implicit transaction, if the server is still sending it) would wait for
/// the connection's next use. Rows decoded after the statement returned (as
/// `decode` does) fail after the connection was already put back.
fn completed(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::RowNotFound)
}

/// One operation's connection. Dropped without [`settle`](Self::settle) or
/// [`finish`](Self::finish), as when the operation's future is dropped, it
/// closes the connection.
pub(super) struct Conn<'a> {
    /// `Some` until the guard is consumed.
    conn: Option<PgConnection>,
    opened: Instant,
    cache: &'a Conns,
    _permit: SemaphorePermit<'a>,
}

impl Conn<'_> {
    /// The connection, to run a statement on.
    pub(super) fn executor(&mut self) -> &mut PgConnection {
        self
    }

    /// Ends a one-statement operation with the statement's result: the
    /// connection is kept for reuse if the exchange completed (`Ok`, or
    /// `RowNotFound`), closed otherwise.
    pub(super) fn settle<T>(mut self, result: std::result::Result<T, sqlx::Error>) -> Result<T> {
        match &result {
            Ok(_) => self.keep(),
            Err(error) if completed(error) => self.keep(),
            Err(error) => self.cache.lost(error),
        }
        result.map_err(storage)
    }

    /// Ends an operation of several statements: the connection is kept only
    /// if it succeeded. Every transaction in it must have committed or rolled
    /// back explicitly, so no transaction stays open on an idle connection.
    pub(super) fn finish<T>(mut self, result: Result<T>) -> Result<T> {
        match &result {
            Ok(_) => self.keep(),
            Err(Error::Storage(source)) => {
                if let Some(error) = source.downcast_ref::<sqlx::Error>() {
                    self.cache.lost(error);
                }
            }
            Err(_) => {}
        }
        result
    }

    fn keep(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.cache.put_back(conn, self.opened);
        }
    }
}

impl Deref for Conn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_ref()
            .expect("a connection until the guard is consumed")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("a connection until the guard is consumed")
    }
}
