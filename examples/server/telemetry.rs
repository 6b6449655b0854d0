//! Logs: a `tracing` subscriber filtered by `RUST_LOG`, as text or JSON, and a
//! span per request with its method, matched route, user, status and latency.

use std::io::BufWriter;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing::field::Empty;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` filters (default `info`), lines
/// go to stderr so that stdout carries only what a person or script reads
/// (the listening address, the demo's commands).
///
/// Lines are handed to a writer thread instead of being written by the
/// request's own thread: under load that thread writes whatever has queued
/// up through one buffer and one `write` call, where each request used to
/// make its own. It never drops a line: a request waits if the queue is full.
/// Keep the returned guard alive until the process ends; dropping it writes
/// out what is still queued.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The worker flushes the buffer each time its queue runs empty, so a line
    // waits in it only while more lines are arriving behind it.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

/// The per-request tracing layer.
pub fn layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    (),
    LogResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
        // Failures are logged where they happen (storage errors in `error.rs`),
        // with their cause; a second line here would only repeat the status.
        .on_failure(())
}

/// Records the authenticated user on the current request's span.
pub fn record_user(id: &str) {
    Span::current().record("user", id);
}

/// Opens the `request` span; `user`, `status` and `latency_ms` are filled in later.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        // The route template, not the path: ids would make every line unique.
        // Nor the query string, which may hold a feed token's secret
        // (`tests/feeds.rs` checks that no log line carries one).
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %request.method(),
            route,
            request_id,
            user = Empty,
            status = Empty,
            latency_ms = Empty,
        )
    }
}

/// Logs one line per response, with its status and latency.
#[derive(Debug, Clone, Copy)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        // Whole microseconds as milliseconds: `0.119`, not `0.11945299999999999`.
        let latency_ms = latency.as_micros() as f64 / 1000.0;
        span.record("status", response.status().as_u16());
        span.record("latency_ms", latency_ms);
        tracing::info!("response");
    }
}
