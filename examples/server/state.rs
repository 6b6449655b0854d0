//! What every handler shares: the scheduler, the feed tokens, the token keys
//! and the limits.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::{Clock, Scheduler, Store};

use crate::auth::JwtKeys;
use crate::feeds::FeedTokenStore;
use crate::limits::RateLimit;

/// The scheduler the server runs: the store and the clock are chosen at start-up
/// (tests use a memory store and a manual clock).
pub type AppScheduler = Scheduler<Box<dyn Store>, Arc<dyn Clock>>;

/// The application state, cheap to clone into every request.
#[derive(Clone)]
pub struct AppState {
    /// The scheduling service.
    pub scheduler: Arc<AppScheduler>,
    /// The calendar-feed tokens, kept by the server beside the scheduler's store.
    pub feed_tokens: Arc<dyn FeedTokenStore>,
    /// Verifies bearer tokens.
    pub keys: Arc<JwtKeys>,
    /// Requests per second per user; `None` when off.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// Size and time limits of one request.
    pub limits: Limits,
}

impl AppState {
    /// The state of a server running `scheduler` beside `feed_tokens`,
    /// verifying bearer tokens signed with `secret`, limiting each user to
    /// `rate_limit` requests a second (none when `None`), and each request to
    /// `limits`. The one place the state is put together: the server and its
    /// in-process tests alike.
    pub fn new(
        scheduler: AppScheduler,
        feed_tokens: Arc<dyn FeedTokenStore>,
        secret: &[u8],
        rate_limit: Option<NonZeroU32>,
        limits: Limits,
    ) -> Self {
        Self {
            scheduler: Arc::new(scheduler),
            feed_tokens,
            keys: Arc::new(JwtKeys::new(secret)),
            rate_limit: rate_limit.map(|per_second| Arc::new(RateLimit::per_second(per_second))),
            limits,
        }
    }
}

/// Size and time limits of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body read, in bytes.
    pub body_bytes: usize,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
}

impl Default for Limits {
    /// 64 KiB bodies (a thousand windows fit in a quarter of that), 10 s per request.
    fn default() -> Self {
        Self {
            body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}
