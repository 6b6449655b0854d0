//! What every handler shares: the scheduler, the feed tokens, the token keys
//! and the limits.

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
