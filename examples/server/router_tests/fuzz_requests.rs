//! Request fuzzing through the whole in-process router: valid requests from the
//! committed corpus (`tests/corpus/*.http`), mutated in method, path, query,
//! headers and body with hostile values (extreme instants, huge numbers,
//! traversals, invalid UTF-8, forged ids and tokens), interleaved with clock
//! jumps of up to the end of time.
//!
//! Every answer must be a success (JSON, unless 204 with no body) or a 4xx
//! problem (503 is the only 5xx a healthy store may give), nothing may panic, and after every request the
//! store must still hold no slot with two live reservations.
//!
//! The run lasts `FUZZ_SECONDS` (default 2; CI runs 60) and prints how many
//! inputs it tried. A failing case is shrunk and saved to
//! `fuzz_requests.proptest-regressions`, which later runs replay first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::matrix_harness::{Harness, Raw, Seed, forged_slot_id};
use super::support::{Reply, SECRET};
use crate::auth::{JwtKeys, Role};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/server/router_tests/corpus");
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/server/router_tests/fuzz_requests.proptest-regressions"
);

/// A request of the corpus, with `{placeholders}` for the seeded ids and tokens.
#[derive(Debug, Clone)]
struct SeedRequest {
    name: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// Reads `tests/corpus/*.http`: a request line, headers, a blank line, a body.
fn corpus() -> Vec<SeedRequest> {
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("the corpus directory exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "http"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut lines = head.lines();
            let (method, target) = lines.next().unwrap().split_once(' ').unwrap();
            SeedRequest {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                method: method.to_owned(),
                target: target.trim().to_owned(),
                headers: lines
                    .map(|line| {
                        let (name, value) = line.split_once(':').unwrap();
                        (name.trim().to_owned(), value.trim().to_owned())
                    })
                    .collect(),
                body: body.trim_end().to_owned(),
            }
        })
        .collect()
}

const METHODS: [&str; 9] = [
    "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "FUZZ",
];

/// Path segments: traversals, bad bytes, forged and foreign ids, other routes' words.
fn segments() -> Vec<String> {
    let utc = |y, mo, d, h, mi, s| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp()
    };
    let mut values: Vec<String> = [
        "",
        ".",
        "..",
        "%2E%2E",
        "..%2F..%2Fetc%2Fpasswd",
        "%FF",
        "%00",
        "%C0%AF",
        "%20",
        "'%20OR%20'1'='1",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "_____________________w",
        "dr-grey",
        "dr-who",
        "alice",
        "v1",
        "providers",
        "slots",
        "reservations",
        "me",
        "confirm",
        "availability",
        "schedule",
        "services",
        "visit",
        "reschedule",
        "healthz",
        "docs",
        "openapi.json",
        "index.html",
        "feed-tokens",
        "bookings.ics",
        "{feed_token_id}",
        "{slot:0}",
        "{slot:3}",
        "{slot:11}",
        "{held}",
        "{confirmed}",
        "{cancelled}",
        "{other}",
    ]
    .map(str::to_owned)
    .to_vec();
    values.push("a".repeat(129));
    values.push("A".repeat(5000));
    for secs in [
        i64::MAX,
        i64::MIN,
        0,
        -900,
        utc(0, 1, 1, 0, 0, 0),
        utc(9999, 12, 31, 23, 45, 0),
        utc(2030, 3, 6, 9, 0, 1),
        utc(2030, 3, 6, 12, 0, 0),
        chrono::DateTime::<Utc>::MAX_UTC.timestamp(),
        chrono::DateTime::<Utc>::MIN_UTC.timestamp(),
    ] {
        values.push(forged_slot_id(secs, b"dr-grey"));
    }
    values.push(forged_slot_id(utc(2030, 3, 6, 9, 0, 0), b"x' OR '1'='1"));
    values.push(forged_slot_id(utc(2030, 3, 6, 9, 0, 0), &[0xff; 4]));
    values
}

const QUERY_NAMES: [&str; 9] = [
    "from", "to", "limit", "cursor", "service", "form", "", "from[]", "%FF",
];

const QUERY_VALUES: [&str; 26] = [
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2030-03-06T09:00:00%2B14:00",
    "2030-03-06T09:00:00-23:59",
    "2030-03-06T09:00:00+01:00",
    "2030-03-06T09:00:00.123456789Z",
    "%2B262143-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "2030-03-04T08:00:00Z",
    "2031-03-04T08:00:00Z",
    "",
    "0",
    "-1",
    "1",
    "500",
    "501",
    "4294967296",
    "18446744073709551616",
    "%FF%FE",
    "'%20OR%201=1--",
    "..%2F..%2F",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "_____________________w",
];

const HEADER_NAMES: [&str; 7] = [
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
    "x-request-id",
    "content-length",
    "accept",
];

const HEADER_VALUES: [&[u8]; 27] = [
    b"Bearer {token:client:alice}",
    b"Bearer {token:client:bob}",
    b"Bearer {token:provider:dr-grey}",
    b"Bearer {token:provider:dr-who}",
    b"Bearer {token:expired}",
    b"Bearer {token:future}",
    b"Bearer {token:none}",
    b"Bearer {token:forged}",
    b"Bearer",
    b"Basic YWxpY2U6c2VjcmV0",
    b"application/json",
    b"application/merge-patch+json; charset=utf-8",
    b"text/plain",
    b"*",
    b"\"0\"",
    b"\"1\"",
    b"W/\"1\"",
    b"\"99999999999999999999\"",
    b"k1",
    b"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    b"\xff\xfe",
    b"",
    b"' OR 1=1",
    b"0",
    b"99999999999",
    b"18446744073709551616",
    b"alice-key-1",
];

/// JSON values a body member may be replaced with.
fn json_values() -> Vec<Value> {
    let mut values = vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(""),
        json!([]),
        json!({}),
        json!("'; DROP TABLE slots;--"),
        json!("../../etc/passwd"),
        json!({ "start": "2030-03-06T09:00:00Z", "end": "2030-03-06T09:00:00Z" }),
        json!({ "start": "9999-12-31T23:00:00Z", "end": "9999-12-31T23:59:59.999999999Z" }),
        json!({ "start": "-262144-01-01T00:00:00Z", "end": "+262143-12-31T23:59:59Z" }),
    ];
    for instant in [
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "1969-12-31T23:59:59Z",
        "2030-03-06T09:00:00+14:00",
        "2030-03-06T09:00:00-12:00",
        "2030-03-06T09:00:00.000000001Z",
        "2030-03-06T09:14:59.999999999Z",
        "2030-03-04T08:00:00Z",
        "2030-03-04T08:15:00Z",
        "2031-03-04T08:00:00Z",
        "2031-03-04T08:00:00.000000001Z",
        "+262143-12-31T23:59:59Z",
        "2030-03-06T09:00:00",
        "2030-03-06 09:00:00Z",
    ] {
        values.push(json!(instant));
    }
    let window = json!({ "start": "2030-03-06T09:00:00Z", "end": "2030-03-06T10:00:00Z" });
    values.push(json!(vec![window; 800]));
    values.push(json!("x".repeat(70_000)));
    values
}

/// Raw text spliced into a body.
const SPLICES: [&[u8]; 16] = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"\"",
    b"\\u0000",
    b"\\ud800",
    b"1e400",
    b"-0",
    b"\xff",
    b"\x00",
    b"null",
    b"//",
    b"\xef\xbb\xbf",
    b"99999999999999999999999999",
];

/// One change to a seed request; indices wrap around their dictionaries.
#[derive(Debug, Clone)]
enum Mutation {
    Method(usize),
    Segment(usize, usize),
    DropSegment(usize),
    Query(usize, usize),
    ClearQuery,
    Header(usize, usize),
    DropHeader(usize),
    Json(usize, usize),
    Byte(usize, u8),
    Splice(usize, usize),
    Truncate(usize),
}

#[derive(Debug, Clone)]
enum Step {
    Request(usize, Vec<Mutation>),
    /// Moves the clock forward by this many seconds (saturating at the end of
    /// time). Never back: a hold that lapsed would read as held again while its
    /// slot has been taken since, which no forward-moving clock can show.
    Advance(i64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = || any::<usize>();
    prop_oneof![
        1 => i().prop_map(Mutation::Method),
        3 => (i(), i()).prop_map(|(a, b)| Mutation::Segment(a, b)),
        1 => i().prop_map(Mutation::DropSegment),
        3 => (i(), i()).prop_map(|(a, b)| Mutation::Query(a, b)),
        1 => Just(Mutation::ClearQuery),
        3 => (i(), i()).prop_map(|(a, b)| Mutation::Header(a, b)),
        1 => i().prop_map(Mutation::DropHeader),
        4 => (i(), i()).prop_map(|(a, b)| Mutation::Json(a, b)),
        2 => (i(), any::<u8>()).prop_map(|(a, b)| Mutation::Byte(a, b)),
        2 => (i(), i()).prop_map(|(a, b)| Mutation::Splice(a, b)),
        1 => i().prop_map(Mutation::Truncate),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let seconds = prop::sample::select(vec![
        1i64,
        59,
        60 * 29,
        60 * 30,
        86_400,
        86_400 * 366,
        10_000_000_000,
        8_000_000_000_000,
    ]);
    prop_oneof![
        8 => (any::<usize>(), prop::collection::vec(mutation(), 0..5))
            .prop_map(|(seed, mutations)| Step::Request(seed, mutations)),
        1 => seconds.prop_map(Step::Advance),
    ]
}

/// The request a seed becomes once mutated.
#[derive(Debug, Clone)]
struct Draft {
    method: String,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Draft {
    fn from_seed(seed: &SeedRequest) -> Self {
        let (path, query) = seed.target.split_once('?').unwrap_or((&seed.target, ""));
        Self {
            method: seed.method.clone(),
            segments: path.split('/').skip(1).map(str::to_owned).collect(),
            query: query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (name.to_owned(), value.to_owned())
                })
                .collect(),
            headers: seed
                .headers
                .iter()
                .map(|(name, value)| (name.to_lowercase(), value.clone().into_bytes()))
                .collect(),
            body: seed.body.clone().into_bytes(),
        }
    }

    fn apply(&mut self, mutation: &Mutation, dict: &Dictionaries) {
        let pick = |n: usize, len: usize| n % len.max(1);
        match *mutation {
            Mutation::Method(m) => self.method = METHODS[pick(m, METHODS.len())].to_owned(),
            Mutation::Segment(at, value) => {
                let value = dict.segments[pick(value, dict.segments.len())].clone();
                match self.segments.len() {
                    0 => self.segments.push(value),
                    n => self.segments[pick(at, n)] = value,
                }
            }
            Mutation::DropSegment(at) if !self.segments.is_empty() => {
                let at = pick(at, self.segments.len());
                self.segments.remove(at);
            }
            Mutation::DropSegment(_) => {}
            Mutation::Query(name, value) => self.query.push((
                QUERY_NAMES[pick(name, QUERY_NAMES.len())].to_owned(),
                QUERY_VALUES[pick(value, QUERY_VALUES.len())].to_owned(),
            )),
            Mutation::ClearQuery => self.query.clear(),
            Mutation::Header(name, value) => {
                let name = HEADER_NAMES[pick(name, HEADER_NAMES.len())];
                self.headers.retain(|(n, _)| n != name);
                let value = HEADER_VALUES[pick(value, HEADER_VALUES.len())].to_vec();
                self.headers.push((name.to_owned(), value));
            }
            Mutation::DropHeader(at) if !self.headers.is_empty() => {
                let at = pick(at, self.headers.len());
                self.headers.remove(at);
            }
            Mutation::DropHeader(_) => {}
            Mutation::Json(at, value) => {
                let Ok(mut body) = serde_json::from_slice::<Value>(&self.body) else {
                    return;
                };
                let value = dict.json[pick(value, dict.json.len())].clone();
                replace_node(&mut body, at, value);
                self.body = body.to_string().into_bytes();
            }
            Mutation::Byte(at, byte) if !self.body.is_empty() => {
                let at = pick(at, self.body.len());
                self.body[at] = byte;
            }
            Mutation::Byte(_, byte) => self.body.push(byte),
            Mutation::Splice(at, text) => {
                let at = pick(at, self.body.len() + 1);
                let text = SPLICES[pick(text, SPLICES.len())];
                self.body.splice(at..at, text.iter().copied());
            }
            Mutation::Truncate(at) => {
                let at = pick(at, self.body.len() + 1);
                self.body.truncate(at);
            }
        }
    }

    fn into_raw(self, harness: &Harness, ids: &Ids) -> Raw {
        let mut uri = format!("/{}", self.segments.join("/"));
        if !self.query.is_empty() {
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            uri = format!("{uri}?{}", pairs.join("&"));
        }
        let method = Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut raw = harness.request(method, &ids.resolve(&uri));
        for (name, value) in self.headers {
            let value = match String::from_utf8(value) {
                Ok(text) => ids.resolve(&text).into_bytes(),
                Err(bytes) => bytes.into_bytes(),
            };
            raw = raw.header(&name, &value);
        }
        // Placeholders resolve in a body too (a slot id to move to).
        raw.body = match String::from_utf8(self.body) {
            Ok(text) => ids.resolve(&text).into_bytes(),
            Err(bytes) => bytes.into_bytes(),
        };
        raw
    }
}

/// Replaces the `at`-th node (pre-order, wrapping) of `root` with `value`; the
/// root itself only when it is the sole node.
fn replace_node(root: &mut Value, at: usize, value: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(members) => members.values().map(count).sum(),
            _ => 0,
        }
    }
    fn visit(v: &mut Value, target: &mut usize, value: &mut Option<Value>) {
        if *target == 0 {
            if let Some(value) = value.take() {
                *v = value;
            }
            return;
        }
        *target -= 1;
        let children: Vec<&mut Value> = match v {
            Value::Array(items) => items.iter_mut().collect(),
            Value::Object(members) => members.values_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            if value.is_none() {
                return;
            }
            visit(child, target, value);
        }
    }
    let nodes = count(root);
    let mut target = at % nodes;
    visit(root, &mut target, &mut Some(value));
}

/// The seeded ids and tokens placeholders stand for.
struct Ids {
    seed: Seed,
    keys: JwtKeys,
}

impl Ids {
    fn resolve(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let key = &rest[open + 1..open + close];
            match self.value(key) {
                Some(value) => {
                    out.push_str(&value);
                    rest = &rest[open + close + 1..];
                }
                // Not a placeholder (a JSON object's brace, say): keep the
                // brace and look for one inside it.
                None => {
                    out.push('{');
                    rest = &rest[open + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn value(&self, key: &str) -> Option<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = |extra: Value| {
            let mut claims = json!({ "sub": "alice", "role": "client", "exp": now + 3600 });
            claims.as_object_mut()?.extend(extra.as_object()?.clone());
            Some(claims)
        };
        let sign = |claims: Value, secret: &[u8]| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(secret),
            )
            .ok()
        };
        Some(match key.split(':').collect::<Vec<_>>().as_slice() {
            ["held"] => self.seed.held.clone(),
            ["confirmed"] => self.seed.confirmed.clone(),
            ["cancelled"] => self.seed.cancelled.clone(),
            ["other"] => self.seed.other.clone(),
            ["feed_token"] => self.seed.feed_token.clone(),
            ["feed_token_id"] => self.seed.feed_token_id.clone(),
            ["slot", n] => self.seed.slots.get(n.parse::<usize>().ok()?)?.clone(),
            ["token", "client", sub] => {
                self.keys.mint(Role::Client, sub, Duration::from_secs(3600))
            }
            ["token", "provider", sub] => {
                self.keys
                    .mint(Role::Provider, sub, Duration::from_secs(3600))
            }
            ["token", "expired"] => sign(claims(json!({ "exp": now - 3600 }))?, SECRET)?,
            ["token", "future"] => sign(claims(json!({ "nbf": now + 3600 }))?, SECRET)?,
            ["token", "forged"] => sign(claims(json!({}))?, b"not the server's secret")?,
            ["token", "none"] => {
                let genuine = self
                    .keys
                    .mint(Role::Client, "alice", Duration::from_secs(3600));
                let payload = genuine.split('.').nth(1)?;
                format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
            }
            _ => return None,
        })
    }
}

struct Dictionaries {
    segments: Vec<String>,
    json: Vec<Value>,
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static UNSENDABLE: AtomicU64 = AtomicU64::new(0);
static CASES: AtomicU64 = AtomicU64::new(0);
/// Answers by class (2xx, 3xx, 4xx, 5xx), to show the mutants reach the handlers.
static CLASSES: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// What is wrong with the answer to a `method` request, if anything.
fn judge(method: &str, uri: &str, reply: &Reply) -> Result<(), String> {
    let status = reply.status;
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return Err(format!("{method} {uri}: {status} {}", reply.text));
    }
    let content_type = reply.header("content-type");
    if status.is_client_error() || status.is_server_error() {
        if content_type != "application/problem+json" {
            return Err(format!(
                "{method} {uri}: {status} is not a problem: {content_type:?} {}",
                reply.text
            ));
        }
        if method != "HEAD" {
            let body = &reply.body;
            let code = body["code"].as_str().unwrap_or("");
            let ok = !code.is_empty()
                && body["status"] == status.as_u16()
                && body["type"] == format!("tag:scheduler-rs,2026:problem:{code}")
                && body["title"].as_str().is_some_and(|t| !t.is_empty())
                && body["detail"].as_str().is_some_and(|d| !d.is_empty());
            if !ok {
                return Err(format!("{method} {uri}: malformed problem {}", reply.text));
            }
        }
    } else if status == StatusCode::NO_CONTENT {
        if !reply.text.is_empty() {
            return Err(format!("{method} {uri}: 204 with a body {}", reply.text));
        }
    } else if status.is_success()
        && !uri.starts_with("/docs")
        && method != "HEAD"
        && content_type != "application/json"
        && !is_feed(uri, content_type)
    {
        return Err(format!("{method} {uri}: {status} as {content_type:?}"));
    }
    Ok(())
}

/// Whether a success is a calendar feed, the one non-JSON answer of the API.
fn is_feed(uri: &str, content_type: &str) -> bool {
    let path = uri.split('?').next().unwrap_or(uri);
    path.ends_with("/bookings.ics") && content_type == "text/calendar; charset=utf-8"
}

async fn run_case(
    steps: &[Step],
    corpus: &[SeedRequest],
    dict: &Dictionaries,
) -> Result<(), TestCaseError> {
    CASES.fetch_add(1, Ordering::Relaxed);
    let (harness, seed) = Harness::seeded().await;
    let ids = Ids {
        seed,
        keys: JwtKeys::new(SECRET),
    };
    for step in steps {
        match step {
            Step::Advance(seconds) => {
                let delta = TimeDelta::try_seconds(*seconds).unwrap_or(TimeDelta::MAX);
                harness.clock.advance(delta);
            }
            Step::Request(which, mutations) => {
                let mut draft = Draft::from_seed(&corpus[which % corpus.len()]);
                for mutation in mutations {
                    draft.apply(mutation, dict);
                }
                let method = draft.method.clone();
                let raw = draft.into_raw(&harness, &ids);
                let uri = raw.uri.clone();
                let Some(request) = raw.build() else {
                    // HTTP itself cannot carry it: a server never sees it.
                    UNSENDABLE.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                REQUESTS.fetch_add(1, Ordering::Relaxed);
                let reply = harness.send_built(request).await;
                let class = usize::from(reply.status.as_u16() / 100).clamp(2, 5) - 2;
                CLASSES[class].fetch_add(1, Ordering::Relaxed);
                judge(&method, &uri, &reply).map_err(TestCaseError::fail)?;
            }
        }
        harness
            .check_invariants()
            .await
            .map_err(TestCaseError::fail)?;
    }
    Ok(())
}

/// How long to fuzz: `FUZZ_SECONDS`, or 2 seconds.
pub fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    Duration::from_secs(seconds)
}

#[test]
fn mutated_requests_never_fail_the_server() {
    let corpus = corpus();
    let dict = Dictionaries {
        segments: segments(),
        json: json_values(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let strategy = prop::collection::vec(step(), 1..24);
    let started = Instant::now();
    let budget = budget();
    let mut rounds = 0;
    while rounds == 0 || started.elapsed() < budget {
        rounds += 1;
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
            ..Config::default()
        });
        let result = runner.run(&strategy, |steps| {
            runtime.block_on(run_case(&steps, &corpus, &dict))
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
    let class = |i: usize| CLASSES[i].load(Ordering::Relaxed);
    println!(
        "fuzz_requests: {} requests tried ({} cases, {} more that HTTP cannot carry) in {:.1?}; \
         answers 2xx {}, 3xx {}, 4xx {}, 5xx {}",
        REQUESTS.load(Ordering::Relaxed),
        CASES.load(Ordering::Relaxed),
        UNSENDABLE.load(Ordering::Relaxed),
        started.elapsed(),
        class(0),
        class(1),
        class(2),
        class(3),
    );
}

/// The seeds are valid requests: unmutated, each one succeeds, so mutations
/// start from requests that reach the handlers.
#[tokio::test]
async fn every_corpus_request_succeeds_as_written() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 12,
        "the corpus has {} requests",
        corpus.len()
    );
    for seed_request in &corpus {
        let (harness, seed) = Harness::seeded().await;
        let ids = Ids {
            seed,
            keys: JwtKeys::new(SECRET),
        };
        let raw = Draft::from_seed(seed_request).into_raw(&harness, &ids);
        let reply = harness.send(raw).await;
        assert!(
            reply.status.is_success(),
            "{}: {} {}",
            seed_request.name,
            reply.status,
            reply.text
        );
    }
}
