//! Request limits: a rate limit per authenticated user, a time limit per request
//! (the body-size limit is axum's `DefaultBodyLimit`, answered by `ApiJson`).

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::task::JoinHandle;

use crate::error::ApiError;

/// A token bucket per user id: `per_second` requests a second, bursts of as many.
///
/// Keyed by the token's `sub`, which the server verified; never by a
/// forwarded-for header, which any client can write.
#[derive(Debug)]
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    per_second: NonZeroU32,
}

impl RateLimit {
    /// A limit of `per_second` requests a second for each user.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::dashmap(Quota::per_second(per_second)),
            per_second,
        }
    }

    /// Spends one of `user`'s requests, or says how long until the next is allowed.
    pub fn check(&self, user: &str) -> Result<(), ApiError> {
        self.limiter.check_key(&user.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                format!(
                    "user {user} exceeded {} requests per second; retry after the Retry-After delay",
                    self.per_second
                ),
            )
            .retry_after(wait)
        })
    }

    /// Forgets users whose buckets are full again, so idle users cost no memory.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Answers 503 with a problem when the rest of the stack takes longer than `limit`.
///
/// Dropping the handler's future cancels its work; every store operation is a
/// single statement or transaction, so a cancelled one leaves no half-state.
/// A write already under way may still commit (on SQLite a hold already run in
/// its group-commit batch commits with the batch): the 503 says "not known",
/// and a retry with the same `Idempotency-Key` returns that reservation.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!(
                "the request took longer than {}; try again",
                humantime::format_duration(limit)
            ),
        )
        .retry_after(Duration::from_secs(1))
        .into_response(),
    }
}

/// Every minute until `shutdown`, forgets the users whose buckets are full again.
pub fn spawn_idle_sweep(
    limit: Arc<RateLimit>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(60));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => limit.forget_idle(),
            }
        }
    })
}
