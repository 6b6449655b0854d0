//! Request input: JSON bodies, path ids, query ranges and headers, each refused
//! as a problem that names the field at fault instead of axum's plain-text rejections.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use scheduler_core::{IdempotencyKey, ListQuery, ProviderId, ServiceId, TimeRange, Tz};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::error::ApiError;

/// A JSON body, read as `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(axum::http::header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "send the body as JSON, with `Content-Type: application/json`",
            )
            .field("Content-Type"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "Body too large",
                    "the request body is larger than this server accepts; send fewer windows per request",
                )
                .field("body")
            } else {
                ApiError::bad_request("unreadable_body", rejection.body_text()).field("body")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
    else {
        return false;
    };
    // Structured syntax suffix (RFC 6839): `application/problem+json` is JSON too.
    let bytes = essence.as_bytes();
    essence.eq_ignore_ascii_case("application/json")
        || (bytes.len() > 5 && bytes[bytes.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// Parses `bytes` as one JSON value of type `T`; a type error names its path (`windows[0].end`).
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |inner: serde_json::Error| {
        ApiError::bad_request("malformed_json", format!("the body is not JSON: {inner}"))
            .field("body")
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if !inner.is_data() {
            return malformed(inner);
        }
        let field = json_field(&path, &inner.to_string());
        ApiError::bad_request("invalid_body", format!("{path}: {inner}")).field(field)
    })?;
    de.end().map_err(malformed)?;
    Ok(value)
}

/// The input a JSON type error is about: the member a missing-field error names
/// (the path alone stops at the object that lacks it), else the path; the
/// whole `body` at the root.
fn json_field(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(member, _)| member);
    match (path, missing) {
        (".", Some(member)) => member.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(member)) => format!("{path}.{member}"),
        (path, None) => path.to_owned(),
    }
}

/// A path parameter parsed by the core's own rules: `ProviderId`, `SlotId`, `ReservationId`.
///
/// The handler's route has exactly one parameter; a bad one is a 400 whose
/// `field` the core names (`providerId`, `slotId`, `reservationId`).
#[derive(Debug)]
pub struct PathId<T>(pub T);

impl<T, S> FromRequestParts<S> for PathId<T>
where
    T: FromStr<Err = scheduler_core::Error> + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // A parameter that does not decode (percent-escaped bytes that are not
        // UTF-8) is judged as U+FFFD, which no id allows: the core's rule then
        // names the field and the rule, as for any other bad id.
        let raw = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => raw,
            Err(_) => "\u{fffd}".to_owned(),
        };
        Ok(PathId(raw.parse()?))
    }
}

/// The `{providerId}` and `{serviceId}` of a service's route, each parsed by
/// the core's rules; a bad one is a 400 naming it.
#[derive(Debug)]
pub struct ServicePath {
    /// Whose service.
    pub provider: ProviderId,
    /// Which one.
    pub service: ServiceId,
}

impl<S: Send + Sync> FromRequestParts<S> for ServicePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // As for `PathId`: undecodable bytes are judged as U+FFFD, which no
        // id allows. axum refuses both parameters when one does not decode,
        // so each is then decoded from the path on its own, to blame the
        // right one (`/v1/providers/{providerId}/services/{serviceId}`).
        let (provider, service) =
            match Path::<(String, String)>::from_request_parts(parts, state).await {
                Ok(Path(pair)) => pair,
                Err(_) => {
                    let segments: Vec<&str> = parts.uri.path().split('/').collect();
                    let segment = |i: usize| lossy_percent_decoded(segments.get(i).unwrap_or(&""));
                    (segment(3), segment(5))
                }
            };
        Ok(ServicePath {
            provider: provider.parse()?,
            service: service.parse()?,
        })
    }
}

/// `segment` with its `%XX` escapes decoded, bytes that are not UTF-8 read
/// as U+FFFD.
fn lossy_percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Declares a query-parameter struct that begins with `from` and `to`, said
/// once here, followed by the fields given. Each struct stays its own type
/// with `deny_unknown_fields`, so a parameter one route does not take (`tz`
/// on a reservation listing) is refused by name, as serde cannot do through
/// `#[serde(flatten)]`.
macro_rules! range_query {
    ($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Start (inclusive), RFC 3339 with any offset (encode `+` as `%2B`). Default: the earliest instant.
            #[param(value_type = Option<String>, format = DateTime, example = "2030-03-06T00:00:00Z")]
            from: Option<String>,
            /// End (exclusive), RFC 3339 with any offset. Default: the latest instant.
            #[param(value_type = Option<String>, format = DateTime, example = "2030-03-07T00:00:00Z")]
            to: Option<String>,
            $($fields)*
        }
    };
}

/// `range_query!` with a page's `limit` and `cursor` after the range.
macro_rules! page_query {
    ($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        range_query! {
            $(#[$meta])*
            pub struct $name {
                /// Page size: 1 to the server's maximum (500 by default); 50 when left out.
                #[param(value_type = Option<u32>, minimum = 1)]
                limit: Option<String>,
                /// The `nextCursor` of the previous page.
                cursor: Option<String>,
                $($fields)*
            }
        }
    };
}

range_query! {
    /// `?from=&to=`: the range of slot starts to act on; all time when left out.
    pub struct RangeParams {}
}

page_query! {
    /// `?from=&to=&limit=&cursor=`: one page of a listing.
    pub struct ListParams {}
}

page_query! {
    /// `?from=&to=&limit=&cursor=&tz=&service=`: one page of a provider's
    /// slots, or of a service's starts, each also read in a time zone if one
    /// is named.
    pub struct SlotListParams {
        /// An IANA time zone name (`Europe/London`): each slot then also carries
        /// `localStart` and `offset`, its start as read in that zone.
        #[param(example = "Europe/London")]
        tz: Option<String>,
        /// A service of the provider: the listing is then the starts where
        /// that service fits, each `end` the appointment's end and each id
        /// booking the service.
        #[param(example = "intake")]
        service: Option<String>,
    }
}

/// The range of a `?from=&to=` query.
#[derive(Debug)]
pub struct Range(pub TimeRange);

impl<S: Send + Sync> FromRequestParts<S> for Range {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params: RangeParams = query(parts, state).await?;
        Ok(Range(range(params.from, params.to)?))
    }
}

/// The listing request of a `?from=&to=&limit=&cursor=` query.
#[derive(Debug)]
pub struct Listing(pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for Listing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params: ListParams = query(parts, state).await?;
        list_query(params.from, params.to, params.limit, params.cursor).map(Listing)
    }
}

/// The slot listing request of a `?from=&to=&limit=&cursor=&tz=` query.
#[derive(Debug)]
pub struct SlotListing {
    /// The page asked for.
    pub query: ListQuery,
    /// The zone to read each slot's start in, when `tz` is given.
    pub zone: Option<Tz>,
    /// The service whose starts to list, when `service` is given.
    pub service: Option<ServiceId>,
}

impl<S: Send + Sync> FromRequestParts<S> for SlotListing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params: SlotListParams = query(parts, state).await?;
        let query = list_query(params.from, params.to, params.limit, params.cursor)?;
        let zone = params.tz.map(|tz| time_zone(&tz)).transpose()?;
        let service = params
            .service
            .map(|service| {
                service.parse().map_err(|err: scheduler_core::Error| {
                    ApiError::bad_request("invalid_query", format!("invalid service: {err}"))
                        .field("service")
                })
            })
            .transpose()?;
        Ok(SlotListing {
            query,
            zone,
            service,
        })
    }
}

/// An IANA time zone name, exactly as the database spells it.
fn time_zone(name: &str) -> Result<Tz, ApiError> {
    name.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "invalid tz: {name:?} is not an IANA time zone name such as Europe/London or America/New_York"
            ),
        )
        .field("tz")
    })
}

/// The listing of `[from, to)`, `limit` at a time, from `cursor`.
fn list_query(
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<ListQuery, ApiError> {
    let mut listing = ListQuery::new(range(from, to)?);
    if let Some(limit) = limit {
        // The policy judges the size; here it only has to be a number.
        let limit = limit.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_limit",
                format!("invalid limit: {limit:?} is not a whole number"),
            )
            .field("limit")
        })?;
        listing = listing.limit(limit);
    }
    if let Some(cursor) = cursor {
        listing = listing.cursor(cursor);
    }
    Ok(listing)
}

/// The query string as `T`; an unknown, repeated or unreadable parameter is a
/// 400 `invalid_query` naming it.
pub async fn query<T: DeserializeOwned, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, ApiError> {
    let Query(params) =
        Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                let detail = rejection.body_text();
                // serde names an unknown or repeated parameter in backquotes.
                let field = detail
                    .split_once('`')
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map_or("query", |(name, _)| name)
                    .to_owned();
                ApiError::bad_request("invalid_query", detail).field(field)
            })?;
    Ok(params)
}

fn range(from: Option<String>, to: Option<String>) -> Result<TimeRange, ApiError> {
    let all = TimeRange::all();
    let from = instant("from", from)?.unwrap_or(all.from());
    let to = instant("to", to)?.unwrap_or(all.to());
    Ok(TimeRange::new(from, to)?)
}

/// An RFC 3339 instant with any offset, as UTC.
fn instant(field: &'static str, raw: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    // An unencoded `+02:00` offset arrives as ` 02:00` (form decoding reads `+`
    // as a space); no RFC 3339 instant holds a space, so the `+` is restored.
    let text = raw.replace(' ', "+");
    DateTime::parse_from_rfc3339(&text)
        .map(|at| Some(at.to_utc()))
        .map_err(|err| {
            ApiError::bad_request(
                "invalid_query",
                format!("invalid {field}: {raw:?} is not an RFC 3339 instant ({err})"),
            )
            .field(field)
        })
}

/// The optional `Idempotency-Key` header of a reserve request.
#[derive(Debug)]
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

/// The header's name.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Ok(IdempotencyKeyHeader(None));
        };
        // Non-ASCII bytes fail here and fall to the core's rule for the message.
        let text = value.to_str().unwrap_or("\u{fffd}");
        Ok(IdempotencyKeyHeader(Some(IdempotencyKey::new(text)?)))
    }
}
