//! The bad-input matrix: every route against every kind of bad input. Each row
//! must be answered with a 4xx problem whose `code` is the rule broken and whose
//! `field` names the input at fault, and the store must read exactly as before
//! (compared through the `Store` trait, not assumed).
//!
//! A kind a route cannot receive is listed with the reason in
//! [`not_applicable`]; the coverage test fails if any pair is neither tried nor
//! explained.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use serde_json::json;

use super::matrix_harness::{Harness, Raw, Route, Seed, forged_slot_id};
use super::support::{Reply, at};

/// The kinds of bad input, as the reliability promise lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Malformed JSON; on routes without a body, malformed syntax of what they read.
    Malformed,
    WrongType,
    UnknownField,
    /// A required member left out, or a value left empty.
    MissingField,
    Year0,
    Year9999,
    BeforeEpoch,
    NonUtcOffset,
    SubSecond,
    HugeNumber,
    /// A 10 MB body; on routes without a body, a 10 MB value in what they read.
    TenMegabytes,
    InvalidUtf8,
    SqlLooking,
    PathTraversal,
    VeryLongId,
}

const KINDS: [Kind; 15] = [
    Kind::Malformed,
    Kind::WrongType,
    Kind::UnknownField,
    Kind::MissingField,
    Kind::Year0,
    Kind::Year9999,
    Kind::BeforeEpoch,
    Kind::NonUtcOffset,
    Kind::SubSecond,
    Kind::HugeNumber,
    Kind::TenMegabytes,
    Kind::InvalidUtf8,
    Kind::SqlLooking,
    Kind::PathTraversal,
    Kind::VeryLongId,
];

/// The status, code and field a row must be answered with.
type Expect = (StatusCode, &'static str, &'static str);

const TEN_MB: usize = 10 * 1024 * 1024;

/// The longest path or query value tried: a URI holds at most 64 KiB (the
/// `http` crate's limit; servers refuse far shorter request lines).
const LONGEST: usize = 60_000;

/// Why `route` can receive no input of `kind`, if it cannot.
fn not_applicable(route: Route, kind: Kind) -> Option<&'static str> {
    use Kind as K;
    use Route as R;
    match (route, kind) {
        (R::Health | R::OpenApi, _) => {
            Some("reads no input: no path parameter, query, header or body")
        }
        (R::Docs, K::InvalidUtf8 | K::PathTraversal | K::VeryLongId) => None,
        (R::Docs, _) => Some("reads only the asset name in its path"),
        (R::Reserve | R::Confirm | R::Read | R::Cancel, K::UnknownField) => {
            Some("reads no query or body; unknown query parameters and headers are ignored")
        }
        (R::Confirm | R::Read | R::Cancel, K::MissingField) => {
            Some("its one input is the path id; without it no route matches")
        }
        (
            R::Confirm | R::Read | R::Cancel,
            K::Year0 | K::Year9999 | K::BeforeEpoch | K::NonUtcOffset | K::SubSecond,
        ) => Some("a reservation id is an opaque 128-bit number: it holds no instant"),
        (
            R::Slots
            | R::ProviderReservations
            | R::MyReservations
            | R::Confirm
            | R::Read
            | R::Cancel,
            K::TenMegabytes,
        ) => Some(
            "reads no body and no header but the token, and a URI holds at most 64 KiB: its longest values are tried as very long ids",
        ),
        (R::Reserve, K::NonUtcOffset) => {
            Some("a slot id holds UTC epoch seconds: no offset can be written in it")
        }
        (
            R::IssueFeedToken | R::FeedTokens,
            K::Malformed | K::InvalidUtf8 | K::SqlLooking | K::PathTraversal | K::VeryLongId,
        ) => None,
        (R::IssueFeedToken | R::FeedTokens, _) => Some(
            "reads only the provider id in its path (no query, header or body): a user id holds no instant, number or structure",
        ),
        (
            R::RevokeFeedToken | R::Feed,
            K::Year0 | K::Year9999 | K::BeforeEpoch | K::NonUtcOffset | K::SubSecond,
        ) => Some("its inputs are ids and a token: none holds an instant"),
        (R::RevokeFeedToken, K::UnknownField) => {
            Some("reads no query or body; unknown query parameters and headers are ignored")
        }
        (R::RevokeFeedToken, K::MissingField) => {
            Some("without a token id the path is the token listing, which DELETE does not serve")
        }
        (R::RevokeFeedToken, K::HugeNumber) => {
            Some("a token id is a user id, not a number: digits are only characters in it")
        }
        (R::RevokeFeedToken | R::Feed, K::TenMegabytes) => Some(
            "reads no body and no header but the token, and a URI holds at most 64 KiB: its longest values are tried as very long ids",
        ),
        (R::Feed, K::HugeNumber) => {
            Some("a feed token is two hex strings, not a number: digits are only characters in it")
        }
        (R::GetSchedule | R::DeleteSchedule, K::UnknownField) => {
            Some("reads no query or body; unknown query parameters and headers are ignored")
        }
        (R::GetSchedule, K::MissingField) => {
            Some("its one input is the path id; without it no route matches")
        }
        (
            R::GetSchedule | R::DeleteSchedule,
            K::Year0 | K::Year9999 | K::BeforeEpoch | K::NonUtcOffset | K::SubSecond,
        ) => Some("reads only a provider id (and If-Match): neither holds an instant"),
        (R::GetSchedule, K::TenMegabytes) => Some(
            "reads no body and no header but the token, and a URI holds at most 64 KiB: its longest values are tried as very long ids",
        ),
        (
            R::PutService | R::GetService | R::DeleteService | R::Services,
            K::Year0 | K::Year9999 | K::BeforeEpoch | K::NonUtcOffset | K::SubSecond,
        ) => Some("a service holds ids, a name and lengths in whole minutes or days: no instant"),
        (R::GetService | R::DeleteService | R::Services, K::UnknownField | K::WrongType) => Some(
            "reads no query or body, only ids in its path; unknown query parameters and headers are ignored",
        ),
        (R::GetService | R::DeleteService | R::Services, K::MissingField) => {
            Some("its inputs are the path ids; without one the path is another route")
        }
        (R::GetService | R::DeleteService | R::Services, K::HugeNumber) => {
            Some("its ids are user ids, not numbers: digits are only characters in them")
        }
        (R::GetService | R::DeleteService | R::Services, K::TenMegabytes) => Some(
            "reads no body and no header but the token, and a URI holds at most 64 KiB: its longest values are tried as very long ids",
        ),
        (R::Reschedule, K::NonUtcOffset) => {
            Some("a slot id holds UTC epoch seconds: no offset can be written in it")
        }
        _ => None,
    }
}

/// One bad request and the answer it must get.
struct Row {
    route: Route,
    kind: Kind,
    case: String,
    request: Raw,
    status: StatusCode,
    code: &'static str,
    field: String,
}

/// Rows for one route, built against the seeded calendar.
struct Rows<'a> {
    harness: &'a Harness,
    seed: &'a Seed,
    rows: Vec<Row>,
}

impl Rows<'_> {
    /// Adds a row: `request` for `route`, expecting `status`, `code` and `field`.
    fn add(
        &mut self,
        route: Route,
        kind: Kind,
        case: impl Into<String>,
        request: Raw,
        (status, code, field): Expect,
    ) {
        self.rows.push(Row {
            route,
            kind,
            case: case.into(),
            request,
            status,
            code,
            field: field.to_owned(),
        });
    }

    /// The valid request with `id` in the path.
    fn path(&self, route: Route, id: &str) -> Raw {
        route.with_id(self.harness, id)
    }

    /// The valid request with `query` appended.
    fn query(&self, route: Route, query: &str) -> Raw {
        let mut request = route.valid(self.harness, self.seed);
        request.uri = format!("{}?{query}", request.uri);
        request
    }

    /// The valid request with one more header.
    fn header(&self, route: Route, name: &str, value: &[u8]) -> Raw {
        route.valid(self.harness, self.seed).header(name, value)
    }

    /// A publish request with a JSON `body` (raw bytes).
    fn body(&self, body: impl Into<Vec<u8>>) -> Raw {
        let mut request = Route::Publish.valid(self.harness, self.seed);
        request.body = body.into();
        request
    }

    /// A schedule request with a JSON `body` (raw bytes).
    fn schedule(&self, body: impl Into<Vec<u8>>) -> Raw {
        let mut request = Route::PutSchedule.valid(self.harness, self.seed);
        request.body = body.into();
        request
    }

    /// A publish request with one window.
    fn window(&self, start: &str, end: &str) -> Raw {
        self.body(json!({ "windows": [{ "start": start, "end": end }] }).to_string())
    }
}

fn bad(code: &'static str, field: &'static str) -> Expect {
    (StatusCode::BAD_REQUEST, code, field)
}

fn refused(code: &'static str, field: &'static str) -> Expect {
    (StatusCode::UNPROCESSABLE_ENTITY, code, field)
}

fn ten_mb(byte: u8) -> String {
    String::from_utf8(vec![byte; TEN_MB]).unwrap()
}

/// Every row of the matrix.
fn rows(harness: &Harness, seed: &Seed) -> Vec<Row> {
    let mut r = Rows {
        harness,
        seed,
        rows: Vec::new(),
    };
    publish_rows(&mut r);
    for route in [
        Route::Withdraw,
        Route::Slots,
        Route::ProviderReservations,
        Route::MyReservations,
    ] {
        query_rows(&mut r, route);
    }
    for route in [
        Route::Publish,
        Route::Withdraw,
        Route::Slots,
        Route::ProviderReservations,
        Route::IssueFeedToken,
        Route::FeedTokens,
        Route::Feed,
        Route::PutSchedule,
        Route::GetSchedule,
        Route::DeleteSchedule,
    ] {
        provider_path_rows(&mut r, route);
    }
    feed_rows(&mut r);
    revoke_feed_token_rows(&mut r);
    for route in [Route::Publish, Route::Withdraw, Route::PutSchedule] {
        if_match_rows(&mut r, route);
    }
    tz_rows(&mut r);
    schedule_rows(&mut r);
    get_schedule_rows(&mut r);
    unconditional_rows(&mut r);
    reserve_rows(&mut r);
    for route in [
        Route::Confirm,
        Route::Read,
        Route::Cancel,
        Route::Reschedule,
    ] {
        reservation_path_rows(&mut r, route);
    }
    for route in [
        Route::PutService,
        Route::GetService,
        Route::DeleteService,
        Route::Services,
    ] {
        provider_path_rows(&mut r, route);
    }
    for route in [Route::PutService, Route::GetService, Route::DeleteService] {
        service_path_rows(&mut r, route);
    }
    service_body_rows(&mut r);
    reschedule_rows(&mut r);
    docs_rows(&mut r);
    r.rows
}

/// The body of `POST /v1/providers/{providerId}/availability`.
fn publish_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let p = Route::Publish;
    let (nine, ten) = (at(7, 9, 0), at(7, 10, 0));
    let window = |start: serde_json::Value| json!({ "windows": [{ "start": start, "end": ten }] });

    r.add(
        p,
        K::Malformed,
        "unterminated JSON",
        r.body(r#"{"windows": ["#),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::Malformed,
        "trailing text",
        r.body(r#"{"windows": []} trailing"#),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::Malformed,
        "empty body",
        r.body(""),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::WrongType,
        "windows as an object",
        r.body(json!({ "windows": { "start": nine, "end": ten } }).to_string()),
        bad("invalid_body", "windows"),
    );
    r.add(
        p,
        K::WrongType,
        "start as a number",
        r.body(window(json!(1_899_363_600)).to_string()),
        bad("invalid_body", "windows[0].start"),
    );
    r.add(
        p,
        K::WrongType,
        "the body as an array",
        r.body("[]"),
        bad("invalid_body", "body"),
    );
    r.add(
        p,
        K::UnknownField,
        "a providerId in the body",
        r.body(json!({ "windows": [], "providerId": "dr-who" }).to_string()),
        bad("invalid_body", "providerId"),
    );
    r.add(
        p,
        K::UnknownField,
        "a time zone in a window",
        r.body(json!({ "windows": [{ "start": nine, "end": ten, "tz": "UTC" }] }).to_string()),
        bad("invalid_body", "windows[0].tz"),
    );
    r.add(
        p,
        K::MissingField,
        "no windows",
        r.body("{}"),
        bad("invalid_body", "windows"),
    );
    r.add(
        p,
        K::MissingField,
        "a window without an end",
        r.body(json!({ "windows": [{ "start": nine }] }).to_string()),
        bad("invalid_body", "windows[0].end"),
    );
    r.add(
        p,
        K::MissingField,
        "a null start",
        r.body(window(json!(null)).to_string()),
        bad("invalid_body", "windows[0].start"),
    );
    r.add(
        p,
        K::Year0,
        "a window in year 0",
        r.window("0000-03-07T09:00:00Z", "0000-03-07T10:00:00Z"),
        refused("window_in_past", "windows[0]"),
    );
    r.add(
        p,
        K::Year9999,
        "a window in year 9999",
        r.window("9999-12-31T09:00:00Z", "9999-12-31T10:00:00Z"),
        refused("beyond_horizon", "windows[0]"),
    );
    r.add(
        p,
        K::Year9999,
        "a window to the last instant of 9999",
        r.window(&nine, "9999-12-31T23:59:59.999999999Z"),
        refused("window_too_long", "windows[0]"),
    );
    r.add(
        p,
        K::BeforeEpoch,
        "a window across the epoch",
        r.window("1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z"),
        refused("window_in_past", "windows[0]"),
    );
    r.add(
        p,
        K::NonUtcOffset,
        "an offset beyond 24 h",
        r.window("2030-03-07T09:00:00+25:00", &ten),
        bad("invalid_body", "windows[0].start"),
    );
    // 09:30 at -01:00 is 10:30 UTC: after the end once converted, though not as text.
    r.add(
        p,
        K::NonUtcOffset,
        "an offset that puts start after end",
        r.window("2030-03-07T09:30:00-01:00", &ten),
        bad("invalid_window", "windows[0]"),
    );
    r.add(
        p,
        K::SubSecond,
        "a window a little short of one slot",
        r.window("2030-03-07T09:00:00.5Z", "2030-03-07T09:15:00.4Z"),
        refused("empty_window", "windows[0]"),
    );
    r.add(
        p,
        K::SubSecond,
        "an end one nanosecond before the start",
        r.window("2030-03-07T09:00:00.000000001Z", "2030-03-07T09:00:00Z"),
        bad("invalid_window", "windows[0]"),
    );
    r.add(
        p,
        K::HugeNumber,
        "an integer start beyond u64",
        r.body(r#"{"windows":[{"start":340282366920938463463374607431768211456,"end":"x"}]}"#),
        bad("invalid_body", "windows[0].start"),
    );
    r.add(
        p,
        K::HugeNumber,
        "a float start beyond f64",
        r.body(r#"{"windows":[{"start":1e400,"end":"x"}]}"#),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::HugeNumber,
        "a five-digit year",
        r.window("+10000-01-01T00:00:00Z", "+10000-01-01T01:00:00Z"),
        refused("beyond_horizon", "windows[0]"),
    );
    let many = format!(
        r#"{{"windows":[{}]}}"#,
        vec![format!(r#"{{"start":"{nine}","end":"{ten}"}}"#); TEN_MB / 60].join(",")
    );
    r.add(
        p,
        K::TenMegabytes,
        "10 MB of windows",
        r.body(many),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body"),
    );
    r.add(
        p,
        K::TenMegabytes,
        "a 10 MB start",
        r.window(&ten_mb(b'9'), &ten),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body"),
    );
    let mut latin1 = br#"{"windows":[{"start":""#.to_vec();
    latin1.extend_from_slice(b"2030-03-07T09:00:00Z\xff\xfe");
    latin1.extend_from_slice(br#"","end":"2030-03-07T10:00:00Z"}]}"#);
    r.add(
        p,
        K::InvalidUtf8,
        "bytes 0xFF 0xFE in a string",
        r.body(latin1),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::InvalidUtf8,
        "a lone surrogate escape",
        r.body(r#"{"windows":[{"start":"\udc00","end":"x"}]}"#),
        bad("malformed_json", "body"),
    );
    r.add(
        p,
        K::SqlLooking,
        "SQL in a start",
        r.window("2030-03-07T09:00:00Z'); DROP TABLE slots;--", &ten),
        bad("invalid_body", "windows[0].start"),
    );
    r.add(
        p,
        K::SqlLooking,
        "SQL as a member name",
        r.body(r#"{"windows":[],"1' OR '1'='1":1}"#),
        bad("invalid_body", "1' OR '1'='1"),
    );
    r.add(
        p,
        K::PathTraversal,
        "a traversal as a member name",
        r.body(r#"{"windows":[],"../../etc/passwd":1}"#),
        bad("invalid_body", "../../etc/passwd"),
    );
    r.add(
        p,
        K::VeryLongId,
        "a 64 KiB member name",
        r.body(format!(r#"{{"windows":[],"{}":1}}"#, "a".repeat(60_000))),
        bad("invalid_body", "a".repeat(60_000).leak()),
    );
    // Not JSON at all: the media type is the input at fault.
    r.add(
        p,
        K::Malformed,
        "a text/plain body",
        {
            let mut request = r.body("windows");
            request.headers.retain(|(name, _)| name != "content-type");
            request.header("content-type", b"text/plain")
        },
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type",
        ),
    );
}

/// `?from=&to=` (and `limit`, `cursor` on listings) of the routes that read a query.
fn query_rows(r: &mut Rows<'_>, route: Route) {
    use Kind as K;
    let listing = route != Route::Withdraw;
    let q = |query: &str| r.query(route, query);
    let mut rows = Vec::new();
    let mut add =
        |kind, case: &str, request, expect| rows.push(row(route, kind, case, request, expect));

    add(
        K::Malformed,
        "February 30th",
        q("from=2030-02-30T00:00:00Z"),
        bad("invalid_query", "from"),
    );
    add(
        K::Malformed,
        "a bad percent escape",
        q("to=2030-03-07T09:00:00Z%ZZ"),
        bad("invalid_query", "to"),
    );
    add(
        K::WrongType,
        "epoch seconds for from",
        q("from=1899363600"),
        bad("invalid_query", "from"),
    );
    add(
        K::UnknownField,
        "a misspelt parameter",
        q("form=2030-03-07T09:00:00Z"),
        bad("invalid_query", "form"),
    );
    add(
        K::UnknownField,
        "a repeated parameter",
        q("from=2030-03-07T09:00:00Z&from=2030-03-08T09:00:00Z"),
        bad("invalid_query", "from"),
    );
    add(
        K::MissingField,
        "an empty from",
        q("from=&to=2030-03-07T09:00:00Z"),
        bad("invalid_query", "from"),
    );
    add(
        K::Year0,
        "from year 0 to year 0",
        q("from=0000-01-01T00:00:00Z&to=0000-01-01T00:00:00Z"),
        bad("invalid_range", "to"),
    );
    add(
        K::Year9999,
        "from 9999 back to 2030",
        q("from=9999-12-31T23:59:59Z&to=2030-01-01T00:00:00Z"),
        bad("invalid_range", "to"),
    );
    add(
        K::BeforeEpoch,
        "to before the epoch, before from",
        q("from=1970-01-01T00:00:00Z&to=1969-12-31T23:59:59Z"),
        bad("invalid_range", "to"),
    );
    add(
        K::NonUtcOffset,
        "an offset beyond 24 h",
        q("from=2030-03-07T09:00:00%2B24:00"),
        bad("invalid_query", "from"),
    );
    // 10:00+02:00 is 08:00 UTC, after 09:00+03:00 (06:00 UTC).
    add(
        K::NonUtcOffset,
        "offsets that put to before from",
        q("from=2030-03-07T10:00:00%2B02:00&to=2030-03-07T09:00:00%2B03:00"),
        bad("invalid_range", "to"),
    );
    add(
        K::SubSecond,
        "to a nanosecond before from",
        q("from=2030-03-07T09:00:00.000000002Z&to=2030-03-07T09:00:00.000000001Z"),
        bad("invalid_range", "to"),
    );
    add(
        K::HugeNumber,
        "a five-digit year",
        q("to=%2B99999-01-01T00:00:00Z"),
        bad("invalid_query", "to"),
    );
    add(
        K::VeryLongId,
        "a 60 000-character from",
        q(&format!("from={}", "2".repeat(LONGEST))),
        bad("invalid_query", "from"),
    );
    add(
        K::InvalidUtf8,
        "byte 0xFF in from",
        q("from=2030-03-07T09:00:00Z%FF"),
        bad("invalid_query", "from"),
    );
    add(
        K::SqlLooking,
        "SQL in from",
        q("from=2030-03-07T09:00:00Z'%20OR%20'1'='1"),
        bad("invalid_query", "from"),
    );
    add(
        K::PathTraversal,
        "a traversal in to",
        q("to=..%2F..%2Fetc%2Fpasswd"),
        bad("invalid_query", "to"),
    );
    if listing {
        add(
            K::Malformed,
            "a cursor that is not base64url",
            q("cursor=!!!!"),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::WrongType,
            "a word for limit",
            q("limit=ten"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::WrongType,
            "a fraction for limit",
            q("limit=1.5"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::WrongType,
            "a negative limit",
            q("limit=-1"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::MissingField,
            "an empty limit",
            q("limit="),
            bad("invalid_limit", "limit"),
        );
        add(
            K::MissingField,
            "an empty cursor",
            q("cursor="),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::HugeNumber,
            "a limit beyond u32",
            q("limit=99999999999999999999"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::HugeNumber,
            "a limit of u32::MAX",
            q("limit=4294967295"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::HugeNumber,
            "a limit of zero",
            q("limit=0"),
            bad("invalid_limit", "limit"),
        );
        add(
            K::VeryLongId,
            "a 60 000-character cursor",
            q(&format!("cursor={}", "A".repeat(LONGEST))),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::InvalidUtf8,
            "byte 0xFF in the cursor",
            q("cursor=%FF%FE"),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::SqlLooking,
            "SQL as the cursor",
            q("cursor='%20OR%201=1--"),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::PathTraversal,
            "a traversal as the cursor",
            q("cursor=..%2F..%2F"),
            bad("invalid_cursor", "cursor"),
        );
        add(
            K::VeryLongId,
            "a 4 KiB cursor in the alphabet",
            q(&format!("cursor={}", "A".repeat(4096))),
            bad("invalid_cursor", "cursor"),
        );
    }
    r.rows.extend(rows);
}

fn row(route: Route, kind: Kind, case: &str, request: Raw, (status, code, field): Expect) -> Row {
    Row {
        route,
        kind,
        case: case.to_owned(),
        request,
        status,
        code,
        field: field.to_owned(),
    }
}

/// The `{providerId}` of the provider routes. The caller is dr-grey, so each
/// path names a provider the caller could be if the id were valid.
fn provider_path_rows(r: &mut Rows<'_>, route: Route) {
    id_path_rows(r, route, "providerId", "dr-grey", |r, id| r.path(route, id));
}

/// Bad ids where `route`'s path names a user id (`field`, valid as `valid`),
/// each put in place by `at`.
fn id_path_rows(
    r: &mut Rows<'_>,
    route: Route,
    field: &'static str,
    valid: &str,
    at: impl Fn(&Rows<'_>, &str) -> Raw,
) {
    use Kind as K;
    let cases: [(Kind, &str, String); 8] = [
        (K::Malformed, "a space in the id", format!("{valid}%20x")),
        (K::InvalidUtf8, "byte 0xFF", format!("{valid}%FF")),
        (
            K::InvalidUtf8,
            "an overlong encoding of /",
            "%C0%AF".to_owned(),
        ),
        (K::SqlLooking, "SQL", format!("{valid}'%20OR%20'1'='1")),
        (
            K::PathTraversal,
            "an encoded traversal",
            "..%2F..%2Fetc%2Fpasswd".to_owned(),
        ),
        (
            K::PathTraversal,
            "a backslash traversal",
            "..%5C..%5Cadmin".to_owned(),
        ),
        (K::VeryLongId, "129 characters", "a".repeat(129)),
        (K::VeryLongId, "60 000 characters", "a".repeat(LONGEST)),
    ];
    for (kind, case, id) in cases {
        let request = at(r, &id);
        r.add(route, kind, case, request, bad("invalid_id", field));
    }
}

/// The `If-Match` header of the availability writes.
fn if_match_rows(r: &mut Rows<'_>, route: Route) {
    use Kind as K;
    let failed = (
        StatusCode::PRECONDITION_FAILED,
        "calendar_changed",
        "If-Match",
    );
    let cases: [(Kind, &str, &[u8], _); 5] = [
        (
            K::Malformed,
            "an unquoted tag",
            b"3",
            bad("invalid_if_match", "If-Match"),
        ),
        (
            K::WrongType,
            "a tag this server never issued",
            b"\"v3\"",
            failed,
        ),
        (
            K::HugeNumber,
            "a version beyond u64",
            b"\"99999999999999999999999\"",
            failed,
        ),
        (
            K::HugeNumber,
            "version u64::MAX",
            b"\"18446744073709551615\"",
            failed,
        ),
        (
            K::InvalidUtf8,
            "byte 0xFF in the tag",
            b"\"3\xff\"",
            bad("invalid_if_match", "If-Match"),
        ),
    ];
    for (kind, case, value, expect) in cases {
        let request = r.header(route, "if-match", value);
        r.add(route, kind, case, request, expect);
    }
    let huge = format!("\"{}\"", "9".repeat(TEN_MB));
    let request = r.header(route, "if-match", huge.as_bytes());
    r.add(route, K::TenMegabytes, "a 10 MB tag", request, failed);
}

/// The `{slotId}` and `Idempotency-Key` of a reserve request.
/// Bad slot ids, as a reserve's path or a reschedule's body carries one, and
/// the answer each must get.
fn slot_id_cases() -> Vec<(Kind, &'static str, String, Expect)> {
    use Kind as K;
    let utc = |y, mo, d, h, mi, s| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp()
    };
    let slot = |secs: i64, provider: &[u8]| forged_slot_id(secs, provider);
    let not_found = (StatusCode::NOT_FOUND, "slot_not_found", "slotId");
    let too_late = refused("lead_time", "slotId");
    let bad_slot = bad("invalid_id", "slotId");
    vec![
        (
            K::Malformed,
            "not base64url",
            "not*a*slot".to_owned(),
            bad_slot,
        ),
        (
            K::Malformed,
            "non-canonical trailing bits",
            "AAAAAAAAAAAAAB".to_owned(),
            bad_slot,
        ),
        (
            K::WrongType,
            "a reservation id",
            "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            bad_slot,
        ),
        (
            K::MissingField,
            "a start with no provider",
            slot(utc(2030, 3, 6, 9, 0, 0), b""),
            bad_slot,
        ),
        (
            K::Year0,
            "a slot in year 0",
            slot(utc(0, 1, 1, 9, 0, 0), b"dr-grey"),
            too_late,
        ),
        (
            K::Year9999,
            "a slot in year 9999",
            slot(utc(9999, 12, 31, 23, 45, 0), b"dr-grey"),
            not_found,
        ),
        (
            K::BeforeEpoch,
            "a slot before the epoch",
            slot(-900, b"dr-grey"),
            too_late,
        ),
        (
            K::SubSecond,
            "a start off the grid by one second",
            slot(utc(2030, 3, 6, 9, 45, 1), b"dr-grey"),
            not_found,
        ),
        (
            K::HugeNumber,
            "start i64::MAX seconds",
            slot(i64::MAX, b"dr-grey"),
            bad_slot,
        ),
        (
            K::HugeNumber,
            "start i64::MIN seconds",
            slot(i64::MIN, b"dr-grey"),
            bad_slot,
        ),
        (
            K::VeryLongId,
            "a 60 000-character slot id",
            "A".repeat(LONGEST),
            bad_slot,
        ),
        (K::InvalidUtf8, "byte 0xFF", "%FF%FE".to_owned(), bad_slot),
        (
            K::InvalidUtf8,
            "a provider of bytes 0xFF",
            slot(utc(2030, 3, 6, 9, 45, 0), b"\xff\xfe"),
            bad_slot,
        ),
        (
            K::SqlLooking,
            "SQL as the id",
            "'%20OR%20'1'='1".to_owned(),
            bad_slot,
        ),
        (
            K::SqlLooking,
            "SQL as the provider inside",
            slot(utc(2030, 3, 6, 9, 45, 0), b"x' OR '1'='1"),
            bad_slot,
        ),
        (
            K::PathTraversal,
            "an encoded traversal",
            "..%2F..%2Fetc%2Fpasswd".to_owned(),
            bad_slot,
        ),
        (
            K::PathTraversal,
            "a traversal as the provider inside",
            slot(utc(2030, 3, 6, 9, 45, 0), b"../../etc"),
            bad_slot,
        ),
        (
            K::VeryLongId,
            "a provider of 129 characters inside",
            slot(utc(2030, 3, 6, 9, 45, 0), "a".repeat(129).as_bytes()),
            bad_slot,
        ),
    ]
}

fn reserve_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::Reserve;
    let bad_key = bad("invalid_id", "idempotencyKey");
    let cases = slot_id_cases();
    for (kind, case, id, expect) in cases {
        let request = r.path(route, &id);
        r.add(route, kind, case, request, expect);
    }
    let keys: [(Kind, &str, Vec<u8>); 6] = [
        (K::MissingField, "an empty key", Vec::new()),
        (K::Malformed, "a key with a space", b"retry 1".to_vec()),
        (K::InvalidUtf8, "a key of bytes 0xFF", b"\xff\xfe".to_vec()),
        (
            K::SqlLooking,
            "a SQL key with spaces",
            b"'; DROP TABLE reservations; --".to_vec(),
        ),
        (K::VeryLongId, "a key of 256 characters", vec![b'k'; 256]),
        (K::TenMegabytes, "a 10 MB key", vec![b'k'; TEN_MB]),
    ];
    for (kind, case, key) in keys {
        let request = r.header(route, "idempotency-key", &key);
        r.add(route, kind, case, request, bad_key);
    }
}

/// The `{id}` of confirm, read and cancel.
fn reservation_path_rows(r: &mut Rows<'_>, route: Route) {
    use Kind as K;
    let bad_id = bad("invalid_id", "reservationId");
    let unknown = (
        StatusCode::NOT_FOUND,
        "reservation_not_found",
        "reservationId",
    );
    let slot = r.seed.slots[3].clone();
    let longer = format!("{}A", r.seed.held);
    let cases: [(Kind, &str, String, _); 10] = [
        (
            K::Malformed,
            "not base64url",
            "!!!!!!!!!!!!!!!!!!!!!!".to_owned(),
            bad_id,
        ),
        (
            K::Malformed,
            "non-canonical trailing bits",
            "AAAAAAAAAAAAAAAAAAAAAB".to_owned(),
            bad_id,
        ),
        (K::WrongType, "a slot id", slot, bad_id),
        (
            K::HugeNumber,
            "u128::MAX, never issued",
            "_____________________w".to_owned(),
            unknown,
        ),
        (
            K::VeryLongId,
            "a 60 000-character id",
            "A".repeat(LONGEST),
            bad_id,
        ),
        (K::InvalidUtf8, "bytes 0xFF", "%FF".repeat(22), bad_id),
        (
            K::SqlLooking,
            "SQL",
            "'%20OR%20'1'='1'%20--".to_owned(),
            bad_id,
        ),
        (
            K::PathTraversal,
            "an encoded traversal",
            "..%2F..%2Fslots".to_owned(),
            bad_id,
        ),
        (
            K::VeryLongId,
            "an issued id and one more character",
            longer,
            bad_id,
        ),
        (
            K::VeryLongId,
            "10 000 characters",
            "A".repeat(10_000),
            bad_id,
        ),
    ];
    for (kind, case, id, expect) in cases {
        let request = r.path(route, &id);
        r.add(route, kind, case, request, expect);
    }
}

/// The asset name of `/docs/{*rest}`.
fn docs_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::Docs;
    let missing = (StatusCode::NOT_FOUND, "not_found", "path");
    let cases: [(Kind, &str, String, _); 4] = [
        (
            K::PathTraversal,
            "an encoded traversal",
            "..%2F..%2FCargo.toml".to_owned(),
            missing,
        ),
        (
            K::PathTraversal,
            "a literal traversal",
            "../../Cargo.toml".to_owned(),
            missing,
        ),
        (
            K::InvalidUtf8,
            "byte 0xFF",
            "index%FF.html".to_owned(),
            bad("invalid_path", "path"),
        ),
        (
            K::VeryLongId,
            "a 60 000-character name",
            "a".repeat(LONGEST),
            missing,
        ),
    ];
    for (kind, case, id, expect) in cases {
        let request = r.path(route, &id);
        r.add(route, kind, case, request, expect);
    }
}

/// The `?token=` of the feed, sent without a bearer token as a calendar
/// application would: every bad token is the same 401, naming `token`.
fn feed_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::Feed;
    let by_token = |query: &str| {
        r.harness.request(
            route.method(),
            &format!("{}?{query}", route.path_with("dr-grey")),
        )
    };
    let invalid = (StatusCode::UNAUTHORIZED, "invalid_feed_token", "token");
    let (id, secret) = r.seed.feed_token.split_once('.').unwrap();
    let jwt = r.harness.token(crate::auth::Role::Provider, "dr-grey");
    let cases: Vec<(Kind, &str, String, Expect)> = vec![
        (
            K::Malformed,
            "no separator",
            format!("token={id}{secret}"),
            invalid,
        ),
        (
            K::Malformed,
            "a secret one digit short",
            format!("token={id}.{}", &secret[1..]),
            invalid,
        ),
        (
            K::Malformed,
            "upper-case hex",
            format!("token={}", r.seed.feed_token.to_uppercase()),
            invalid,
        ),
        (
            K::WrongType,
            "the provider's JWT",
            format!("token={jwt}"),
            invalid,
        ),
        (
            K::WrongType,
            "another provider's feed token",
            format!("token={}", r.seed.other_feed_token),
            invalid,
        ),
        (
            K::UnknownField,
            "a range, which the feed does not take",
            "from=2030-03-06T00:00:00Z".to_owned(),
            bad("invalid_query", "from"),
        ),
        (
            K::UnknownField,
            "a repeated token",
            format!("token={0}&token={0}", r.seed.feed_token),
            bad("invalid_query", "token"),
        ),
        (
            K::MissingField,
            "an empty token",
            "token=".to_owned(),
            invalid,
        ),
        (
            K::MissingField,
            "the id alone",
            format!("token={id}"),
            invalid,
        ),
        (
            K::InvalidUtf8,
            "bytes 0xFF 0xFE",
            "token=%FF%FE".to_owned(),
            invalid,
        ),
        (
            K::InvalidUtf8,
            "the token with byte 0xFF",
            format!("token={}%FF", r.seed.feed_token),
            invalid,
        ),
        (
            K::SqlLooking,
            "SQL as the token",
            format!("token={id}.'%20OR%20'1'='1"),
            invalid,
        ),
        (
            K::PathTraversal,
            "a traversal as the token",
            format!("token={id}...%2F..%2Fetc%2Fpasswd"),
            invalid,
        ),
        (
            K::VeryLongId,
            "a 60 000-character token",
            format!("token={id}.{}", "a".repeat(LONGEST)),
            invalid,
        ),
    ];
    for (kind, case, query, expect) in cases {
        let request = by_token(&query);
        r.add(route, kind, case, request, expect);
    }
    // With a bearer token too, the request is ambiguous whatever the token.
    let both = r.query(route, &format!("token={}", r.seed.feed_token));
    r.add(
        route,
        K::UnknownField,
        "a feed token beside the bearer token",
        both,
        bad("ambiguous_credentials", "token"),
    );
    // A bad provider id is named before any token is looked at.
    let request = r.harness.request(
        route.method(),
        &format!(
            "{}?token={}",
            route.path_with("dr-grey'%20OR%20'1'='1"),
            r.seed.feed_token
        ),
    );
    r.add(
        route,
        K::SqlLooking,
        "SQL as the provider, with a feed token",
        request,
        bad("invalid_id", "providerId"),
    );
}

/// The `{providerId}` and `{tokenId}` of a revocation.
fn revoke_feed_token_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::RevokeFeedToken;
    let bad_id = bad("invalid_id", "tokenId");
    let unknown = (StatusCode::NOT_FOUND, "feed_token_not_found", "tokenId");
    let cases: [(Kind, &str, String, Expect); 9] = [
        (
            K::Malformed,
            "a space in the id",
            "0123%20abcd".to_owned(),
            bad_id,
        ),
        (
            K::WrongType,
            "a reservation id, never a token's",
            r.seed.held.clone(),
            unknown,
        ),
        (
            K::WrongType,
            "a whole token instead of its id",
            r.seed.feed_token.clone(),
            unknown,
        ),
        (K::InvalidUtf8, "byte 0xFF", "abc%FF".to_owned(), bad_id),
        (K::SqlLooking, "SQL", "x'%20OR%20'1'='1".to_owned(), bad_id),
        (
            K::PathTraversal,
            "an encoded traversal",
            "..%2F..%2Fetc%2Fpasswd".to_owned(),
            bad_id,
        ),
        (K::VeryLongId, "129 characters", "a".repeat(129), bad_id),
        (
            K::VeryLongId,
            "60 000 characters",
            "a".repeat(LONGEST),
            bad_id,
        ),
        (
            K::VeryLongId,
            "the id and one more character",
            format!("{}0", r.seed.feed_token_id),
            unknown,
        ),
    ];
    for (kind, case, id, expect) in cases {
        let request = r.path(route, &id);
        r.add(route, kind, case, request, expect);
    }
    // The provider's half of the path, as for the other provider routes.
    let provider_cases: [(Kind, &str, &str); 5] = [
        (K::Malformed, "a space in the provider", "dr%20grey"),
        (K::InvalidUtf8, "byte 0xFF in the provider", "dr-grey%FF"),
        (
            K::SqlLooking,
            "SQL as the provider",
            "dr-grey'%20OR%20'1'='1",
        ),
        (
            K::PathTraversal,
            "a traversal as the provider",
            "..%5C..%5Cadmin",
        ),
        (
            K::VeryLongId,
            "a provider of 129 characters",
            &"a".repeat(129),
        ),
    ];
    for (kind, case, provider) in provider_cases {
        let mut request = route.valid(r.harness, r.seed);
        request.uri = format!(
            "/v1/providers/{provider}/feed-tokens/{}",
            r.seed.feed_token_id
        );
        r.add(route, kind, case, request, bad("invalid_id", "providerId"));
    }
}

/// The `tz` of the slot listing, and a `tz` where no listing takes one.
fn tz_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::Slots;
    let tz = bad("invalid_query", "tz");
    let cases: [(Kind, &str, String); 9] = [
        (
            K::Malformed,
            "a zone in lower case",
            "europe/london".to_owned(),
        ),
        (K::MissingField, "an empty tz", String::new()),
        (
            K::NonUtcOffset,
            "an offset for a zone",
            "%2B02:00".to_owned(),
        ),
        (K::InvalidUtf8, "byte 0xFF", "Europe/London%FF".to_owned()),
        (K::SqlLooking, "SQL", "UTC'%20OR%20'1'='1".to_owned()),
        (
            K::PathTraversal,
            "a traversal out of the zone database",
            "..%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
        ),
        (
            K::PathTraversal,
            "a traversal inside a zone name",
            "Europe%2F..%2FEurope%2FLondon".to_owned(),
        ),
        (
            K::VeryLongId,
            "a 60 000-character zone",
            "E".repeat(LONGEST),
        ),
        (K::WrongType, "a number", "0".to_owned()),
    ];
    for (kind, case, value) in cases {
        let request = r.query(route, &format!("tz={value}"));
        r.add(route, kind, case, request, tz);
    }
    let request = r.query(route, "tz=UTC&tz=UTC");
    r.add(route, K::UnknownField, "a repeated tz", request, tz);
    let request = r.query(Route::MyReservations, "tz=UTC");
    r.add(
        Route::MyReservations,
        K::UnknownField,
        "a tz, which only the slot listing takes",
        request,
        tz,
    );
}

/// The body of `PUT /v1/providers/{providerId}/schedule`.
fn schedule_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let p = Route::PutSchedule;
    let invalid = |field| bad("invalid_schedule", field);
    let range = |start: &str, end: &str| json!({ "start": start, "end": end });
    let monday = |ranges: serde_json::Value| {
        json!({ "timeZone": "Europe/London", "weekly": { "mon": ranges } }).to_string()
    };
    let zone = |zone: &str| json!({ "timeZone": zone, "weekly": {} }).to_string();
    let exceptions = |list: serde_json::Value| {
        json!({ "timeZone": "UTC", "weekly": {}, "exceptions": list }).to_string()
    };
    let cases: Vec<(Kind, &str, Vec<u8>, Expect)> = vec![
        (
            K::Malformed,
            "unterminated JSON",
            br#"{"timeZone": "UTC", "weekly": {"#.to_vec(),
            bad("malformed_json", "body"),
        ),
        (K::Malformed, "empty body", Vec::new(), bad("malformed_json", "body")),
        (
            K::Malformed,
            "a time without a colon",
            monday(json!([range("0900", "1200")])).into(),
            invalid("weekly.mon[0].start"),
        ),
        (
            K::Malformed,
            "an unpadded date",
            exceptions(json!([{ "date": "2030-3-6" }])).into(),
            invalid("exceptions[0].date"),
        ),
        (
            K::WrongType,
            "weekly as a list",
            br#"{"timeZone": "UTC", "weekly": []}"#.to_vec(),
            bad("invalid_body", "weekly"),
        ),
        (
            K::WrongType,
            "a start as a number",
            monday(json!([{ "start": 900, "end": "12:00" }])).into(),
            bad("invalid_body", "weekly.mon[0].start"),
        ),
        (
            K::WrongType,
            "a day's ranges as one object",
            monday(range("09:00", "12:00")).into(),
            bad("invalid_body", "weekly.mon"),
        ),
        (
            K::WrongType,
            "an instant for a date",
            exceptions(json!([{ "date": "2030-03-06T00:00:00Z" }])).into(),
            invalid("exceptions[0].date"),
        ),
        (
            K::UnknownField,
            "a providerId in the body",
            br#"{"timeZone": "UTC", "weekly": {}, "providerId": "dr-who"}"#.to_vec(),
            bad("invalid_body", "providerId"),
        ),
        (
            K::UnknownField,
            "a weekday spelt out",
            br#"{"timeZone": "UTC", "weekly": {"monday": []}}"#.to_vec(),
            bad("invalid_body", "weekly.monday"),
        ),
        (
            K::UnknownField,
            "a closed flag on an exception",
            exceptions(json!([{ "date": "2030-03-06", "closed": true }])).into(),
            bad("invalid_body", "exceptions[0].closed"),
        ),
        (
            K::MissingField,
            "no timeZone",
            br#"{"weekly": {}}"#.to_vec(),
            bad("invalid_body", "timeZone"),
        ),
        (
            K::MissingField,
            "a range without an end",
            monday(json!([{ "start": "09:00" }])).into(),
            bad("invalid_body", "weekly.mon[0].end"),
        ),
        (
            K::MissingField,
            "an exception without a date",
            exceptions(json!([{ "ranges": [] }])).into(),
            bad("invalid_body", "exceptions[0].date"),
        ),
        (
            K::MissingField,
            "an empty timeZone",
            zone("").into(),
            invalid("timeZone"),
        ),
        (
            K::MissingField,
            "an empty start",
            monday(json!([range("", "12:00")])).into(),
            invalid("weekly.mon[0].start"),
        ),
        // Any real date may be an exception; these pass the date and meet the next rule.
        (
            K::Year0,
            "an exception in year 0 that ends before it starts",
            exceptions(json!([{ "date": "0000-01-01", "ranges": [range("10:00", "09:00")] }]))
                .into(),
            invalid("exceptions[0].ranges[0]"),
        ),
        (
            K::Year0,
            "February 29th of year 0, then a repeat",
            exceptions(json!([{ "date": "0000-02-29" }, { "date": "0000-02-29" }])).into(),
            invalid("exceptions[1].date"),
        ),
        (
            K::Year9999,
            "the last day of 9999 with overlapping ranges",
            exceptions(json!([{ "date": "9999-12-31", "ranges": [range("09:00", "24:00"), range("23:00", "24:00")] }]))
                .into(),
            invalid("exceptions[0].ranges[1]"),
        ),
        (
            K::BeforeEpoch,
            "the day before the epoch, twice",
            exceptions(json!([{ "date": "1969-12-31" }, { "date": "1969-12-31" }])).into(),
            invalid("exceptions[1].date"),
        ),
        (
            K::NonUtcOffset,
            "an offset for a zone",
            zone("+02:00").into(),
            invalid("timeZone"),
        ),
        (
            K::NonUtcOffset,
            "a time with an offset",
            monday(json!([range("09:00+01:00", "12:00")])).into(),
            invalid("weekly.mon[0].start"),
        ),
        (
            K::SubSecond,
            "a time with seconds",
            monday(json!([range("09:00:00", "12:00")])).into(),
            invalid("weekly.mon[0].start"),
        ),
        (
            K::SubSecond,
            "a time with a fraction of a second",
            monday(json!([range("09:00", "11:59:59.5")])).into(),
            invalid("weekly.mon[0].end"),
        ),
        (
            K::HugeNumber,
            "hour 99",
            monday(json!([range("09:00", "99:00")])).into(),
            invalid("weekly.mon[0].end"),
        ),
        (
            K::HugeNumber,
            "one minute past 24:00",
            monday(json!([range("09:00", "24:01")])).into(),
            invalid("weekly.mon[0].end"),
        ),
        (
            K::HugeNumber,
            "a five-digit year",
            exceptions(json!([{ "date": "10000-01-01" }])).into(),
            invalid("exceptions[0].date"),
        ),
        (
            K::HugeNumber,
            "an integer start beyond u64",
            br#"{"timeZone":"UTC","weekly":{"mon":[{"start":340282366920938463463374607431768211456,"end":"x"}]}}"#.to_vec(),
            bad("invalid_body", "weekly.mon[0].start"),
        ),
        (
            K::HugeNumber,
            "a float beyond f64",
            br#"{"timeZone":1e400,"weekly":{}}"#.to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::TenMegabytes,
            "10 MB of ranges",
            format!(
                r#"{{"timeZone":"UTC","weekly":{{"mon":[{}]}}}}"#,
                vec![r#"{"start":"09:00","end":"10:00"}"#; TEN_MB / 32].join(",")
            )
            .into(),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body"),
        ),
        (
            K::TenMegabytes,
            "a 10 MB zone",
            zone(&ten_mb(b'E')).into(),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body"),
        ),
        (
            K::InvalidUtf8,
            "bytes 0xFF 0xFE in the zone",
            b"{\"timeZone\":\"UTC\xff\xfe\",\"weekly\":{}}".to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::InvalidUtf8,
            "a lone surrogate escape",
            br#"{"timeZone":"\udc00","weekly":{}}"#.to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::SqlLooking,
            "SQL in the zone",
            zone("Europe/London'); DROP TABLE schedules;--").into(),
            invalid("timeZone"),
        ),
        (
            K::SqlLooking,
            "SQL as a member name",
            br#"{"timeZone":"UTC","weekly":{},"1' OR '1'='1":1}"#.to_vec(),
            bad("invalid_body", "1' OR '1'='1"),
        ),
        (
            K::PathTraversal,
            "a traversal out of the zone database",
            zone("../../../../etc/passwd").into(),
            invalid("timeZone"),
        ),
        (
            K::PathTraversal,
            "a traversal inside a zone name",
            zone("Europe/../Europe/London").into(),
            invalid("timeZone"),
        ),
        (
            K::VeryLongId,
            "a 60 000-character zone",
            zone(&"E".repeat(LONGEST)).into(),
            invalid("timeZone"),
        ),
    ];
    for (kind, case, body, expect) in cases {
        let request = r.schedule(body);
        r.add(p, kind, case, request, expect);
    }
    // Not JSON at all: the media type is the input at fault.
    let mut request = r.schedule(b"timeZone=UTC".to_vec());
    request.headers.retain(|(name, _)| name != "content-type");
    r.add(
        p,
        K::Malformed,
        "a form body",
        request.header("content-type", b"application/x-www-form-urlencoded"),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type",
        ),
    );
}

/// The `{providerId}` of reading a schedule, beyond the malformed ids: ids
/// that are valid names but have no schedule.
fn get_schedule_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::GetSchedule;
    let none = (StatusCode::NOT_FOUND, "schedule_not_found", "providerId");
    let held = r.seed.held.clone();
    let cases: [(Kind, &str, String); 3] = [
        (K::WrongType, "a reservation id", held),
        (
            K::HugeNumber,
            "u64::MAX + 1",
            "18446744073709551616".to_owned(),
        ),
        (K::HugeNumber, "128 nines", "9".repeat(128)),
    ];
    for (kind, case, id) in cases {
        let request = r.path(route, &id);
        r.add(route, kind, case, request, none);
    }
}

/// The `If-Match` of forgetting a schedule, which no version can guard.
fn unconditional_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::DeleteSchedule;
    let refused = bad("if_match_unsupported", "If-Match");
    let huge = format!("\"{}\"", "9".repeat(TEN_MB));
    let cases: [(Kind, &str, &[u8]); 7] = [
        (K::Malformed, "an unquoted tag", b"3"),
        (K::WrongType, "a weak tag", b"W/\"3\""),
        (K::MissingField, "an empty If-Match", b""),
        (
            K::HugeNumber,
            "a version beyond u64",
            b"\"99999999999999999999999\"",
        ),
        (K::InvalidUtf8, "byte 0xFF in the tag", b"\"3\xff\""),
        (K::SqlLooking, "SQL as the tag", b"\"3' OR '1'='1\""),
        (K::TenMegabytes, "a 10 MB tag", huge.as_bytes()),
    ];
    for (kind, case, value) in cases {
        let request = r.header(route, "if-match", value);
        r.add(route, kind, case, request, refused);
    }
}

/// What is wrong with `reply` for `row`, if anything.
fn mismatch(row: &Row, reply: &Reply) -> Option<String> {
    let body = &reply.body;
    let problem = reply.header("content-type") == "application/problem+json";
    let ok = reply.status == row.status
        && problem
        && body["code"] == row.code
        && body["status"] == row.status.as_u16()
        && body["field"] == row.field.as_str()
        && body["detail"].as_str().is_some_and(|d| !d.is_empty());
    (!ok).then(|| {
        let mut text = reply.text.clone();
        text.truncate(300);
        format!(
            "{:?} {:?} ({}): want {} {} field {:?}, got {} {}",
            row.route,
            row.kind,
            row.case,
            row.status,
            row.code,
            truncate(&row.field),
            reply.status,
            text
        )
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

#[tokio::test]
async fn every_bad_input_is_a_4xx_problem_naming_its_field_and_changes_nothing() {
    let (harness, seed) = Harness::seeded().await;
    let rows = rows(&harness, &seed);
    let mut failures = Vec::new();
    for row in &rows {
        let before = harness.snapshot().await;
        let reply = harness.send(row.request.clone()).await;
        if let Some(failure) = mismatch(row, &reply) {
            failures.push(failure);
        }
        if harness.snapshot().await != before {
            failures.push(format!(
                "{:?} {:?} ({}): the store changed",
                row.route, row.kind, row.case
            ));
        }
    }
    println!("bad-input matrix: {} inputs tried", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Every route meets every kind of bad input, or the matrix says why it cannot.
#[tokio::test]
async fn the_matrix_covers_every_route_and_kind() {
    let (harness, seed) = Harness::seeded().await;
    let mut tried: BTreeMap<(Route, Kind), usize> = BTreeMap::new();
    for row in rows(&harness, &seed) {
        *tried.entry((row.route, row.kind)).or_default() += 1;
    }
    let mut gaps = Vec::new();
    for route in Route::ALL {
        for kind in KINDS {
            match (
                tried.contains_key(&(route, kind)),
                not_applicable(route, kind),
            ) {
                (true, Some(reason)) => {
                    gaps.push(format!("{route:?} {kind:?}: tried, yet excused ({reason})"))
                }
                (false, None) => {
                    gaps.push(format!("{route:?} {kind:?}: neither tried nor excused"))
                }
                _ => {}
            }
        }
    }
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}

/// The control: each route's valid request succeeds, so the rows above fail
/// for their bad input and nothing else.
#[tokio::test]
async fn each_routes_valid_request_succeeds() {
    for route in Route::ALL {
        let (harness, seed) = Harness::seeded().await;
        let reply = harness.send(route.valid(&harness, &seed)).await;
        assert!(
            reply.status.is_success(),
            "{route:?}: {} {}",
            reply.status,
            reply.text
        );
    }
}

/// The `{serviceId}` of the service routes.
fn service_path_rows(r: &mut Rows<'_>, route: Route) {
    id_path_rows(r, route, "serviceId", "visit", |r, id| {
        let mut request = route.valid(r.harness, r.seed);
        request.uri = format!("/v1/providers/dr-grey/services/{id}");
        request
    });
}

/// The body of `PUT /v1/providers/{providerId}/services/{serviceId}`.
fn service_body_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::PutService;
    let invalid = |field| bad("invalid_service", field);
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body");
    let cases: Vec<(Kind, &str, Vec<u8>, Expect)> = vec![
        (
            K::Malformed,
            "unterminated JSON",
            br#"{"name": "#.to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::Malformed,
            "empty body",
            Vec::new(),
            bad("malformed_json", "body"),
        ),
        (
            K::WrongType,
            "duration as a string",
            json!({ "name": "Visit", "durationMinutes": "30" })
                .to_string()
                .into(),
            bad("invalid_body", "durationMinutes"),
        ),
        (
            K::WrongType,
            "duration as a fraction",
            json!({ "name": "Visit", "durationMinutes": 30.5 })
                .to_string()
                .into(),
            bad("invalid_body", "durationMinutes"),
        ),
        (
            K::UnknownField,
            "an id in the body",
            json!({ "name": "Visit", "durationMinutes": 30, "id": "other" })
                .to_string()
                .into(),
            bad("invalid_body", "id"),
        ),
        (
            K::MissingField,
            "no duration",
            json!({ "name": "Visit" }).to_string().into(),
            bad("invalid_body", "durationMinutes"),
        ),
        (
            K::MissingField,
            "an empty name",
            json!({ "name": "", "durationMinutes": 30 })
                .to_string()
                .into(),
            invalid("name"),
        ),
        (
            K::HugeNumber,
            "duration i64::MAX minutes",
            json!({ "name": "Visit", "durationMinutes": i64::MAX })
                .to_string()
                .into(),
            invalid("durationMinutes"),
        ),
        (
            K::HugeNumber,
            "horizon i64::MIN days",
            json!({ "name": "Visit", "durationMinutes": 30, "maxAdvanceDays": i64::MIN })
                .to_string()
                .into(),
            invalid("maxAdvanceDays"),
        ),
        (
            K::HugeNumber,
            "duration beyond i64",
            br#"{"name":"Visit","durationMinutes":99999999999999999999}"#.to_vec(),
            bad("invalid_body", "durationMinutes"),
        ),
        (
            K::TenMegabytes,
            "a 10 MB name",
            json!({ "name": ten_mb(b'n'), "durationMinutes": 30 })
                .to_string()
                .into(),
            too_large,
        ),
        (
            K::InvalidUtf8,
            "bytes 0xFF 0xFE in the name",
            b"{\"name\":\"Visit\xff\xfe\",\"durationMinutes\":30}".to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::SqlLooking,
            "SQL as the duration",
            json!({ "name": "Visit", "durationMinutes": "30; DROP TABLE services" })
                .to_string()
                .into(),
            bad("invalid_body", "durationMinutes"),
        ),
        (
            K::PathTraversal,
            "a traversal as the name, with a newline",
            json!({ "name": "../../etc/passwd\n", "durationMinutes": 30 })
                .to_string()
                .into(),
            invalid("name"),
        ),
        (
            K::VeryLongId,
            "a name of 201 characters",
            json!({ "name": "n".repeat(201), "durationMinutes": 30 })
                .to_string()
                .into(),
            invalid("name"),
        ),
    ];
    for (kind, case, body, expect) in cases {
        let mut request = route.valid(r.harness, r.seed);
        request.body = body;
        r.add(route, kind, case, request, expect);
    }
}

/// The body of `POST /v1/reservations/{id}/reschedule`: every bad slot id a
/// reserve's path is tried with, and bad JSON.
fn reschedule_rows(r: &mut Rows<'_>) {
    use Kind as K;
    let route = Route::Reschedule;
    let with_body = |body: Vec<u8>| {
        let mut request = route.valid(r.harness, r.seed);
        request.body = body;
        request
    };
    for (kind, case, id, expect) in slot_id_cases() {
        let request = with_body(json!({ "slotId": id }).to_string().into());
        r.add(route, kind, case, request, expect);
    }
    let cases: Vec<(Kind, &str, Vec<u8>, Expect)> = vec![
        (
            K::Malformed,
            "unterminated JSON",
            br#"{"slotId": "#.to_vec(),
            bad("malformed_json", "body"),
        ),
        (
            K::WrongType,
            "the slot id as a number",
            br#"{"slotId": 5}"#.to_vec(),
            bad("invalid_body", "slotId"),
        ),
        (
            K::UnknownField,
            "a start beside the slot id",
            json!({ "slotId": r.seed.slots[4], "start": "2030-03-06T10:00:00Z" })
                .to_string()
                .into(),
            bad("invalid_body", "start"),
        ),
        (
            K::MissingField,
            "no slot id",
            b"{}".to_vec(),
            bad("invalid_body", "slotId"),
        ),
        (
            K::TenMegabytes,
            "a 10 MB slot id",
            json!({ "slotId": ten_mb(b'A') }).to_string().into(),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "body"),
        ),
        (
            K::InvalidUtf8,
            "bytes 0xFF 0xFE in the slot id",
            b"{\"slotId\":\"AAAA\xff\xfe\"}".to_vec(),
            bad("malformed_json", "body"),
        ),
    ];
    for (kind, case, body, expect) in cases {
        let request = with_body(body);
        r.add(route, kind, case, request, expect);
    }
}
