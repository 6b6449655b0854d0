//! The harness of the bad-input and auth matrices and the request fuzzer: the
//! router over a memory store the test keeps a handle on, a seeded calendar with
//! a reservation in every state, raw requests (any bytes in headers and bodies),
//! and a snapshot of everything stored, so "nothing changed" is checked, not assumed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use chrono::{DateTime, Utc};
use scheduler_core::store::{
    CalendarStore, ReservationPage, ReservationStore, ScheduleStore, ServiceStore, SlotBounds,
    StoredSchedule,
};
use scheduler_core::{ClientId, Clock, ManualClock, Policy, ProviderId, Reservation, Service};
use scheduler_memory::MemoryStore;
use serde_json::{Value, json};

use super::support::{Options, Reply, SECRET, TestApp, at};
use crate::auth::{JwtKeys, Role};
use crate::feeds::{FeedToken, FeedTokenStore, MemoryFeedTokens};

/// The providers and clients the seeded calendar knows.
pub const PROVIDERS: [&str; 2] = ["dr-grey", "dr-who"];
pub const CLIENTS: [&str; 3] = ["alice", "bob", "carol"];

/// The idempotency key alice's hold was taken with.
pub const ALICE_KEY: &str = "alice-key-1";

/// The seeded calendar's ids.
#[derive(Debug, Clone)]
pub struct Seed {
    /// dr-grey's twelve slots of 2030-03-06 09:00-12:00, in order.
    pub slots: Vec<String>,
    /// alice's hold on `slots[0]` (taken with [`ALICE_KEY`]).
    pub held: String,
    /// alice's booking of `slots[1]`.
    pub confirmed: String,
    /// bob's cancelled reservation of `slots[2]`.
    pub cancelled: String,
    /// carol's hold on dr-who's first slot.
    pub other: String,
    /// dr-grey's live feed token, `<id>.<secret>`.
    pub feed_token: String,
    /// Its id.
    pub feed_token_id: String,
    /// dr-who's live feed token.
    pub other_feed_token: String,
}

/// dr-grey's seeded service.
pub const SEEDED_SERVICE: &str = "/v1/providers/dr-grey/services/visit";

/// A service dr-grey may store: half an hour.
pub fn valid_service() -> Value {
    json!({ "name": "Visit", "durationMinutes": 30 })
}

/// A move of alice's hold to dr-grey's 10:00 slot, free in the seed.
pub fn valid_reschedule() -> Value {
    let ten = chrono::TimeZone::with_ymd_and_hms(&Utc, 2030, 3, 6, 10, 0, 0).unwrap();
    let slot = scheduler_core::SlotId::new(ProviderId::new("dr-grey").unwrap(), ten);
    json!({ "slotId": slot.to_string() })
}

/// dr-who's weekly schedule: UTC, open only on 2030-03-06 09:00-12:00, so
/// setting it keeps exactly the slots the seed published.
pub fn seeded_schedule() -> Value {
    json!({
        "timeZone": "UTC",
        "weekly": {},
        "exceptions": [{ "date": "2030-03-06", "ranges": [{ "start": "09:00", "end": "12:00" }] }]
    })
}

/// Everything the store holds, read through the `Store` trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    slot_count: usize,
    /// Per known provider: calendar version, free slot starts, reservations.
    calendars: Vec<(u64, Vec<DateTime<Utc>>, Vec<Reservation>)>,
    /// Per known client: their reservations.
    clients: Vec<Vec<Reservation>>,
    /// Per known provider: the stored weekly schedule.
    schedules: Vec<Option<StoredSchedule>>,
    /// alice's idempotency key, still bound to her hold.
    alice_key: Option<Reservation>,
    /// Per known provider: their feed tokens.
    feed_tokens: Vec<Vec<FeedToken>>,
    /// Per known provider: their services.
    services: Vec<Vec<Service>>,
}

/// The application under test and direct access to its storage.
pub struct Harness {
    pub clock: ManualClock,
    store: Arc<MemoryStore>,
    feed_tokens: Arc<MemoryFeedTokens>,
    keys: JwtKeys,
    app: TestApp,
}

impl Harness {
    /// An empty application at [`start`], with the default policy and limits.
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let feed_tokens = Arc::new(MemoryFeedTokens::default());
        let app = TestApp::with(Options {
            store: Box::new(Arc::clone(&store)),
            feed_tokens: feed_tokens.clone(),
            ..Options::default()
        });
        Self {
            clock: app.clock.clone(),
            store,
            feed_tokens,
            keys: JwtKeys::new(SECRET),
            app,
        }
    }

    /// An application whose calendar holds a reservation in every state.
    pub async fn seeded() -> (Self, Seed) {
        let harness = Self::new();
        let seed = harness.seed().await;
        (harness, seed)
    }

    async fn seed(&self) -> Seed {
        let slots = self.publish_morning("dr-grey").await;
        let theirs = self.publish_morning("dr-who").await;
        let held = self.reserve("alice", &slots[0], Some(ALICE_KEY)).await;
        let confirmed = self.reserve("alice", &slots[1], None).await;
        self.expect_ok(
            self.request(
                Method::POST,
                &format!("/v1/reservations/{confirmed}/confirm"),
            )
            .bearer(&self.token(Role::Client, "alice")),
        )
        .await;
        let cancelled = self.reserve("bob", &slots[2], None).await;
        self.expect_ok(
            self.request(Method::DELETE, &format!("/v1/reservations/{cancelled}"))
                .bearer(&self.token(Role::Client, "bob")),
        )
        .await;
        let other = self.reserve("carol", &theirs[0], None).await;
        self.expect_ok(
            self.request(Method::PUT, SEEDED_SERVICE)
                .bearer(&self.token(Role::Provider, "dr-grey"))
                .body("application/json", valid_service().to_string()),
        )
        .await;
        let feed_token = self.issue_feed_token("dr-grey").await;
        let other_feed_token = self.issue_feed_token("dr-who").await;
        self.expect_ok(
            self.request(Method::PUT, "/v1/providers/dr-who/schedule")
                .bearer(&self.token(Role::Provider, "dr-who"))
                .body("application/json", seeded_schedule().to_string()),
        )
        .await;
        Seed {
            slots,
            held,
            confirmed,
            cancelled,
            other,
            feed_token_id: feed_token.split_once('.').unwrap().0.to_owned(),
            feed_token,
            other_feed_token,
        }
    }

    /// Issues a feed token for `provider`; returns it, `<id>.<secret>`.
    async fn issue_feed_token(&self, provider: &str) -> String {
        let reply = self
            .expect_ok(
                self.request(
                    Method::POST,
                    &format!("/v1/providers/{provider}/feed-tokens"),
                )
                .bearer(&self.token(Role::Provider, provider)),
            )
            .await;
        reply.body["token"].as_str().unwrap().to_owned()
    }

    async fn publish_morning(&self, provider: &str) -> Vec<String> {
        let body = json!({ "windows": [{ "start": at(6, 9, 0), "end": at(6, 12, 0) }] });
        let reply = self
            .expect_ok(
                self.request(
                    Method::POST,
                    &format!("/v1/providers/{provider}/availability"),
                )
                .bearer(&self.token(Role::Provider, provider))
                .body("application/json", body.to_string()),
            )
            .await;
        reply.body["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|slot| slot["id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn reserve(&self, client: &str, slot: &str, key: Option<&str>) -> String {
        let mut request = self
            .request(Method::POST, &format!("/v1/slots/{slot}/reservations"))
            .bearer(&self.token(Role::Client, client));
        if let Some(key) = key {
            request = request.header("idempotency-key", key.as_bytes());
        }
        let reply = self.expect_ok(request).await;
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn expect_ok(&self, request: Raw) -> Reply {
        let reply = self.send(request).await;
        assert!(reply.status.is_success(), "seeding failed: {}", reply.text);
        reply
    }

    /// A valid token for `sub` as `role`, good for an hour of wall-clock time.
    pub fn token(&self, role: Role, sub: &str) -> String {
        self.keys.mint(role, sub, Duration::from_secs(3600))
    }

    /// A request to `uri`, which may hold any percent-encoded bytes.
    pub fn request(&self, method: Method, uri: &str) -> Raw {
        Raw {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Sends `request` through the whole router, as the server would.
    pub async fn send(&self, request: Raw) -> Reply {
        let uri = format!("{} {:.80}", request.method, request.uri);
        let request = request
            .build()
            .unwrap_or_else(|| panic!("HTTP cannot carry {uri}"));
        self.send_built(request).await
    }

    /// Sends an already built request.
    pub async fn send_built(&self, request: Request<Body>) -> Reply {
        self.app.send(request).await
    }

    /// Everything stored, as of the clock's instant.
    pub async fn snapshot(&self) -> Snapshot {
        let store = &self.store;
        let now = self.clock.now();
        let grid = Policy::default().grid();
        let all = SlotBounds {
            from: grid.ceil(DateTime::<Utc>::MIN_UTC).unwrap(),
            to: grid.floor(DateTime::<Utc>::MAX_UTC).unwrap(),
        };
        let page = ReservationPage {
            bounds: all,
            after: None,
            limit: 100_000,
        };
        let mut calendars = Vec::new();
        let mut feed_tokens = Vec::new();
        let mut services = Vec::new();
        for provider in PROVIDERS {
            let provider = ProviderId::new(provider).unwrap();
            services.push(store.services(&provider).await.unwrap());
            calendars.push((
                store.calendar_version(&provider).await.unwrap(),
                store
                    .free_slots(&provider, all, 100_000, now)
                    .await
                    .unwrap(),
                store.provider_reservations(&provider, page).await.unwrap(),
            ));
            feed_tokens.push(self.feed_tokens.of(&provider).await.unwrap());
        }
        let mut schedules = Vec::new();
        for provider in PROVIDERS {
            let provider = ProviderId::new(provider).unwrap();
            schedules.push(store.schedule(&provider).await.unwrap());
        }
        let mut clients = Vec::new();
        for client in CLIENTS {
            let client = ClientId::new(client).unwrap();
            clients.push(store.client_reservations(&client, page).await.unwrap());
        }
        let alice_key = store
            .reservation_by_key(
                &ClientId::new("alice").unwrap(),
                &scheduler_core::IdempotencyKey::new(ALICE_KEY).unwrap(),
            )
            .await
            .unwrap();
        Snapshot {
            slot_count: store.slot_count(),
            calendars,
            clients,
            schedules,
            alice_key,
            feed_tokens,
            services,
        }
    }

    /// Checks the store's invariants: no slot has two live reservations, and
    /// every reservation sits on a slot start of the grid.
    pub async fn check_invariants(&self) -> Result<(), String> {
        let now = self.clock.now();
        let grid = Policy::default().grid();
        let snapshot = self.snapshot().await;
        for (_, free, reservations) in &snapshot.calendars {
            let mut live: Vec<DateTime<Utc>> = reservations
                .iter()
                .filter(|r| r.is_live_at(now))
                .map(|r| r.start)
                .collect();
            let count = live.len();
            live.sort_unstable();
            live.dedup();
            if live.len() != count {
                return Err(format!(
                    "a slot has two live reservations: {reservations:?}"
                ));
            }
            if let Some(taken) = free.iter().find(|start| live.contains(start)) {
                return Err(format!("slot {taken} is listed free but is taken"));
            }
            if let Some(off) = reservations
                .iter()
                .find(|r| grid.slot_at(r.start).is_none())
            {
                return Err(format!("reservation off the grid: {off:?}"));
            }
        }
        Ok(())
    }
}

/// A request under construction: any method, URI, header bytes and body.
#[derive(Debug, Clone)]
pub struct Raw {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}").as_bytes())
    }

    pub fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((name.to_owned(), value.to_vec()));
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut request = self.header("content-type", content_type.as_bytes());
        request.body = body.into();
        request
    }

    /// The HTTP request, or `None` if HTTP itself cannot carry it (a URI or
    /// header a server's HTTP layer would refuse before any route runs).
    pub fn build(self) -> Option<Request<Body>> {
        let mut builder = Request::builder().method(self.method).uri(self.uri);
        for (name, value) in self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(&value).ok()?;
            builder = builder.header(name, value);
        }
        builder.body(Body::from(self.body)).ok()
    }
}

/// Every route the server answers, as listed in its OpenAPI document and router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    Publish,
    Withdraw,
    Slots,
    Reserve,
    Confirm,
    Read,
    Cancel,
    ProviderReservations,
    MyReservations,
    Health,
    OpenApi,
    Docs,
    PutSchedule,
    GetSchedule,
    DeleteSchedule,
    IssueFeedToken,
    FeedTokens,
    RevokeFeedToken,
    Feed,
    PutService,
    GetService,
    DeleteService,
    Services,
    Reschedule,
}

impl Route {
    pub const ALL: [Route; 24] = [
        Route::Publish,
        Route::Withdraw,
        Route::Slots,
        Route::Reserve,
        Route::Confirm,
        Route::Read,
        Route::Cancel,
        Route::ProviderReservations,
        Route::MyReservations,
        Route::Health,
        Route::OpenApi,
        Route::Docs,
        Route::IssueFeedToken,
        Route::FeedTokens,
        Route::RevokeFeedToken,
        Route::Feed,
        Route::PutSchedule,
        Route::GetSchedule,
        Route::DeleteSchedule,
        Route::PutService,
        Route::GetService,
        Route::DeleteService,
        Route::Services,
        Route::Reschedule,
    ];

    pub fn method(self) -> Method {
        match self {
            Route::Publish
            | Route::Reserve
            | Route::Confirm
            | Route::IssueFeedToken
            | Route::Reschedule => Method::POST,
            Route::Withdraw
            | Route::Cancel
            | Route::DeleteSchedule
            | Route::RevokeFeedToken
            | Route::DeleteService => Method::DELETE,
            Route::PutSchedule | Route::PutService => Method::PUT,
            _ => Method::GET,
        }
    }

    /// The path with `id` in place of the route's one parameter (for
    /// revoking a feed token, its `{tokenId}`, on dr-grey's calendar).
    pub fn path_with(self, id: &str) -> String {
        match self {
            Route::Publish | Route::Withdraw => format!("/v1/providers/{id}/availability"),
            Route::Slots => format!("/v1/providers/{id}/slots"),
            Route::Reserve => format!("/v1/slots/{id}/reservations"),
            Route::Confirm => format!("/v1/reservations/{id}/confirm"),
            Route::Read | Route::Cancel => format!("/v1/reservations/{id}"),
            Route::ProviderReservations => format!("/v1/providers/{id}/reservations"),
            Route::MyReservations => "/v1/me/reservations".to_owned(),
            Route::Health => "/healthz".to_owned(),
            Route::OpenApi => "/openapi.json".to_owned(),
            Route::Docs => format!("/docs/{id}"),
            Route::PutSchedule | Route::GetSchedule | Route::DeleteSchedule => {
                format!("/v1/providers/{id}/schedule")
            }
            Route::IssueFeedToken | Route::FeedTokens => format!("/v1/providers/{id}/feed-tokens"),
            Route::RevokeFeedToken => format!("/v1/providers/dr-grey/feed-tokens/{id}"),
            Route::Feed => format!("/v1/providers/{id}/bookings.ics"),
            Route::PutService | Route::GetService | Route::DeleteService => {
                format!("/v1/providers/{id}/services/visit")
            }
            Route::Services => format!("/v1/providers/{id}/services"),
            Route::Reschedule => format!("/v1/reservations/{id}/reschedule"),
        }
    }

    /// The id a valid request names: dr-grey's calendar (dr-who's, which has
    /// a schedule, to read or forget one), dr-grey's fourth (free) slot,
    /// alice's hold, dr-grey's feed token, or Swagger UI's page.
    pub fn valid_id(self, seed: &Seed) -> String {
        match self {
            Route::Reserve => seed.slots[3].clone(),
            Route::Confirm | Route::Read | Route::Cancel | Route::Reschedule => seed.held.clone(),
            Route::Docs => "index.html".to_owned(),
            Route::RevokeFeedToken => seed.feed_token_id.clone(),
            Route::GetSchedule | Route::DeleteSchedule => "dr-who".to_owned(),
            _ => "dr-grey".to_owned(),
        }
    }

    /// Who may call it with the seeded ids: `None` for the public routes.
    pub fn caller(self) -> Option<(Role, &'static str)> {
        match self {
            Route::Publish
            | Route::Withdraw
            | Route::ProviderReservations
            | Route::PutSchedule
            | Route::IssueFeedToken
            | Route::FeedTokens
            | Route::RevokeFeedToken
            | Route::Feed
            | Route::PutService
            | Route::DeleteService => Some((Role::Provider, "dr-grey")),
            Route::DeleteSchedule => Some((Role::Provider, "dr-who")),
            Route::Slots
            | Route::GetSchedule
            | Route::Reserve
            | Route::Confirm
            | Route::Read
            | Route::Cancel
            | Route::MyReservations
            | Route::GetService
            | Route::Services
            | Route::Reschedule => Some((Role::Client, "alice")),
            Route::Health | Route::OpenApi | Route::Docs => None,
        }
    }

    /// A valid request: the right caller, the seeded ids, and for publishing
    /// a window of new slots (2030-03-07 09:00-10:00), or for a schedule
    /// the seeded morning and that hour.
    pub fn valid(self, harness: &Harness, seed: &Seed) -> Raw {
        self.with_id(harness, &self.valid_id(seed))
    }

    /// The valid request with `id` in the path instead.
    pub fn with_id(self, harness: &Harness, id: &str) -> Raw {
        let mut request = harness.request(self.method(), &self.path_with(id));
        if let Some((role, sub)) = self.caller() {
            request = request.bearer(&harness.token(role, sub));
        }
        if self == Route::Publish {
            let body = json!({ "windows": [{ "start": at(7, 9, 0), "end": at(7, 10, 0) }] });
            request = request.body("application/json", body.to_string());
        }
        if self == Route::PutSchedule {
            request = request.body("application/json", valid_schedule().to_string());
        }
        if self == Route::PutService {
            request = request.body("application/json", valid_service().to_string());
        }
        if self == Route::Reschedule {
            request = request.body("application/json", valid_reschedule().to_string());
        }
        request
    }
}

/// A schedule dr-grey may set: UTC, open on 2030-03-06 09:00-12:00 (the
/// seeded morning, kept) and 2030-03-07 09:00-10:00 (new slots).
pub fn valid_schedule() -> Value {
    json!({
        "timeZone": "UTC",
        "weekly": {},
        "exceptions": [
            { "date": "2030-03-06", "ranges": [{ "start": "09:00", "end": "12:00" }] },
            { "date": "2030-03-07", "ranges": [{ "start": "09:00", "end": "10:00" }] }
        ]
    })
}

/// A slot id as the server encodes one (base64url of the start's epoch seconds,
/// big-endian, then the provider's bytes), for any seconds and any bytes.
pub fn forged_slot_id(secs: i64, provider: &[u8]) -> String {
    let mut bytes = secs.to_be_bytes().to_vec();
    bytes.extend_from_slice(provider);
    base64url(&bytes)
}

/// Unpadded base64url (RFC 4648 section 5), the alphabet of every opaque id.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}
