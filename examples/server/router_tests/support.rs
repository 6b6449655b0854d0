//! The test harness: the router over a memory store and a manual clock, and a
//! small request builder whose answers are checked field by field.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeZone, Utc};
use scheduler_core::{Clock, ManualClock, Policy, Scheduler, Store};
use scheduler_memory::MemoryStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::app;
use crate::auth::{JwtKeys, Role};
use crate::feeds::{FeedTokenStore, MemoryFeedTokens};
use crate::state::{AppState, Limits};

/// The secret every test token is signed with.
pub const SECRET: &[u8] = b"a-test-secret-of-thirty-two-bytes!!";

/// The instant the manual clock starts at: Monday 2030-03-04 08:00 UTC.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, 8, 0, 0).unwrap()
}

/// `2030-03-DDTHH:MM:00Z`.
pub fn at(day: u32, hour: u32, minute: u32) -> String {
    Utc.with_ymd_and_hms(2030, 3, day, hour, minute, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How a test app differs from the default one.
pub struct Options {
    pub store: Box<dyn Store>,
    pub feed_tokens: Arc<dyn FeedTokenStore>,
    pub rate_limit: Option<u32>,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: Box::new(MemoryStore::new()),
            feed_tokens: Arc::new(MemoryFeedTokens::default()),
            rate_limit: None,
            limits: Limits::default(),
        }
    }
}

/// The application under test, and the clock it reads.
pub struct TestApp {
    pub clock: ManualClock,
    keys: JwtKeys,
    router: Router,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> Self {
        let clock = ManualClock::new(start());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let scheduler = Scheduler::new(options.store, shared, Policy::default());
        let state = AppState::new(
            scheduler,
            options.feed_tokens,
            SECRET,
            options.rate_limit.and_then(NonZeroU32::new),
            options.limits,
        );
        Self {
            clock,
            keys: JwtKeys::new(SECRET),
            router: app::router(state),
        }
    }

    /// A token for client `sub`.
    pub fn client(&self, sub: &str) -> String {
        self.keys.mint(Role::Client, sub, Duration::from_secs(3600))
    }

    /// A token for provider `sub`.
    pub fn provider(&self, sub: &str) -> String {
        self.keys
            .mint(Role::Provider, sub, Duration::from_secs(3600))
    }

    /// Sends `request` through the whole router, as the server would.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn call(&self, method: Method, uri: &str) -> Call<'_> {
        Call {
            app: self,
            request: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    pub fn get(&self, uri: &str) -> Call<'_> {
        self.call(Method::GET, uri)
    }

    pub fn post(&self, uri: &str) -> Call<'_> {
        self.call(Method::POST, uri)
    }

    pub fn delete(&self, uri: &str) -> Call<'_> {
        self.call(Method::DELETE, uri)
    }

    /// Publishes `windows` for `provider` and returns the answer (201 expected).
    pub async fn publish(&self, provider: &str, windows: &[(String, String)]) -> Reply {
        let windows: Vec<Value> = windows
            .iter()
            .map(|(start, end)| json!({ "start": start, "end": end }))
            .collect();
        self.post(&format!("/v1/providers/{provider}/availability"))
            .bearer(&self.provider(provider))
            .json(json!({ "windows": windows }))
            .send()
            .await
            .expect(StatusCode::CREATED)
    }

    /// Publishes 2030-03-06 09:00-12:00 for `provider`: twelve slots, two days out.
    pub async fn morning(&self, provider: &str) -> Vec<String> {
        let reply = self.publish(provider, &[(at(6, 9, 0), at(6, 12, 0))]).await;
        reply.body["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|slot| slot["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `client` reserves `slot` and gets the hold (201 expected).
    pub async fn reserve(&self, client: &str, slot: &str) -> Value {
        self.post(&format!("/v1/slots/{slot}/reservations"))
            .bearer(&self.client(client))
            .send()
            .await
            .expect(StatusCode::CREATED)
            .body
    }
}

/// A request being built.
pub struct Call<'a> {
    app: &'a TestApp,
    request: axum::http::request::Builder,
    body: Body,
}

impl Call<'_> {
    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: impl TryInto<HeaderName>, value: &str) -> Self {
        let name = name.try_into().ok().expect("a valid header name");
        self.request = self
            .request
            .header(name, HeaderValue::from_str(value).unwrap());
        self
    }

    pub fn json(self, value: Value) -> Self {
        self.raw("application/json", value.to_string())
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self = self.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Reply {
        let request = self.request.body(self.body).unwrap();
        self.app.send(request).await
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the reply.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }

    /// Asserts an RFC 9457 problem with `status` and `code`, and returns it.
    #[track_caller]
    pub fn problem(self, status: StatusCode, code: &str) -> Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert_eq!(self.header("content-type"), "application/problem+json");
        let body = self.body.as_object().expect("a JSON object");
        assert_eq!(body["code"], code, "{}", self.text);
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(
            body["type"],
            format!("tag:scheduler-rs,2026:problem:{code}")
        );
        assert!(!body["title"].as_str().unwrap().is_empty());
        assert!(!body["detail"].as_str().unwrap().is_empty());
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let expected: &[&str] = if body.contains_key("field") {
            &["code", "detail", "field", "status", "title", "type"]
        } else {
            &["code", "detail", "status", "title", "type"]
        };
        assert_eq!(keys, expected);
        self
    }

    /// Asserts the problem's `field`.
    #[track_caller]
    pub fn field(self, field: &str) -> Self {
        assert_eq!(self.body["field"], field, "{}", self.text);
        self
    }

    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    keys
}
