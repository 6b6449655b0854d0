//! Identifiers: user ids validated at the boundary, and opaque slot and reservation ids.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;
use crate::error::{Error, Result};

/// The longest user id accepted.
pub const MAX_USER_ID_LEN: usize = 128;

const USER_ID_RULE: &str = "must be 1-128 characters of ASCII letters, digits and -_.@:";

fn check_user_id(field: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= MAX_USER_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId {
            field,
            rule: USER_ID_RULE,
        })
    }
}

macro_rules! user_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        // Shared text: ids are copied into every slot, reservation and index
        // entry that names them, and a clone must not allocate.
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `value`: 1-128 characters of ASCII letters, digits and `-_.@:`.
            pub fn new(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                check_user_id($field, &value)?;
                Ok(Self(Arc::from(value)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

user_id!(
    /// A provider's id: who publishes availability.
    ///
    /// ```
    /// use scheduler_core::ProviderId;
    /// assert!(ProviderId::new("dr.smith@clinic").is_ok());
    /// let err = ProviderId::new("no spaces").unwrap_err();
    /// assert_eq!(err.to_string(), "invalid providerId: must be 1-128 characters of ASCII letters, digits and -_.@:");
    /// ```
    ProviderId,
    "providerId"
);

user_id!(
    /// A client's id: who reserves slots.
    ///
    /// ```
    /// use scheduler_core::ClientId;
    /// assert_eq!(ClientId::new("client-42").unwrap().as_str(), "client-42");
    /// assert!(ClientId::new("").is_err());
    /// ```
    ClientId,
    "clientId"
);

user_id!(
    /// A service's id, unique among its provider's services: what kind of
    /// appointment a booking is (`intake`, `follow-up`).
    ///
    /// ```
    /// use scheduler_core::ServiceId;
    /// assert_eq!(ServiceId::new("intake").unwrap().as_str(), "intake");
    /// assert_eq!(ServiceId::new("").unwrap_err().to_string(), "invalid serviceId: must be 1-128 characters of ASCII letters, digits and -_.@:");
    /// ```
    ServiceId,
    "serviceId"
);

/// A client-chosen key that makes a reserve request safe to retry.
///
/// 1-255 visible ASCII characters. Keys are scoped to the client that sends
/// them and stay bound to their reservation for as long as it is stored.
///
/// ```
/// use scheduler_core::IdempotencyKey;
/// assert!(IdempotencyKey::new("4f1c-retry-1").is_ok());
/// assert_eq!(IdempotencyKey::new("has space").unwrap_err().code(), "invalid_id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 255;

    /// Validates `value`: 1-255 visible ASCII characters.
    pub fn new(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(value))
        } else {
            Err(Error::InvalidId {
                field: "idempotencyKey",
                rule: "must be 1-255 visible ASCII characters",
            })
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> String {
        key.0
    }
}

/// The opaque, URL-safe and stable id of one provider's slot, or of one
/// start of one of the provider's services.
///
/// It names a provider, a start instant and, for a service's start, the
/// service; whether such a slot exists is for the scheduler to say. Clients
/// receive it from listings and pass it back.
///
/// ```
/// use scheduler_core::{ProviderId, ServiceId, SlotId};
/// use chrono::{TimeZone, Utc};
///
/// let id = SlotId::new(ProviderId::new("p1").unwrap(), Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap());
/// let text = id.to_string();
/// assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// assert_eq!(text.parse::<SlotId>().unwrap(), id);
/// assert_eq!(id.service(), None);
///
/// let intake = id.clone().for_service(ServiceId::new("intake").unwrap());
/// assert_eq!(intake.to_string().parse::<SlotId>().unwrap(), intake);
/// assert_ne!(intake.to_string(), text);
/// assert_eq!(intake.service().unwrap().as_str(), "intake");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotId {
    provider: ProviderId,
    start: DateTime<Utc>,
    service: Option<ServiceId>,
}

impl SlotId {
    /// The id of `provider`'s slot starting at `start` (sub-second parts dropped).
    pub fn new(provider: ProviderId, start: DateTime<Utc>) -> Self {
        // Listings make one id per slot: skip the rebuild when there is
        // nothing to drop, as for every start on the grid.
        let start = if start.timestamp_subsec_nanos() == 0 {
            start
        } else {
            DateTime::from_timestamp(start.timestamp(), 0).unwrap_or(start)
        };
        Self {
            provider,
            start,
            service: None,
        }
    }

    /// The id of `service`'s start at this id's instant.
    pub fn for_service(mut self, service: ServiceId) -> Self {
        self.service = Some(service);
        self
    }

    /// The service this id books, or `None` for a plain one-slot booking.
    pub fn service(&self) -> Option<&ServiceId> {
        self.service.as_ref()
    }

    /// The provider the slot belongs to.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// The slot's start.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }
}

const SLOT_ID_RULE: &str = "must be a slot id issued by this service";

impl FromStr for SlotId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidId {
            field: "slotId",
            rule: SLOT_ID_RULE,
        };
        let bytes = codec::decode(s).ok_or_else(invalid)?;
        if bytes.len() < 9 {
            return Err(invalid());
        }
        let (secs, rest) = bytes.split_at(8);
        let secs = i64::from_be_bytes(secs.try_into().map_err(|_| invalid())?);
        let start = DateTime::from_timestamp(secs, 0).ok_or_else(invalid)?;
        // A NUL, which no user id holds, separates a service from the provider.
        let (provider, service) = match rest.iter().position(|&b| b == 0) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let text = |bytes| std::str::from_utf8(bytes).map_err(|_| invalid());
        let provider = ProviderId::new(text(provider)?).map_err(|_| invalid())?;
        let service = match service {
            Some(service) => Some(ServiceId::new(text(service)?).map_err(|_| invalid())?),
            None => None,
        };
        Ok(Self {
            provider,
            start,
            service,
        })
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every listed slot is shown through here: build the bytes on the
        // stack (a provider id is at most MAX_USER_ID_LEN bytes) and encode
        // straight into the formatter, allocating nothing.
        let mut bytes = [0u8; 8 + MAX_USER_ID_LEN + 1 + MAX_USER_ID_LEN];
        bytes[..8].copy_from_slice(&self.start.timestamp().to_be_bytes());
        let mut len = 8;
        let mut push = |part: &[u8]| {
            let part = &part[..part.len().min(MAX_USER_ID_LEN + 1)];
            bytes[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        };
        push(self.provider.as_str().as_bytes());
        if let Some(service) = &self.service {
            push(&[0]);
            push(service.as_str().as_bytes());
        }
        codec::encode_to(&bytes[..len], f)
    }
}

/// The opaque, URL-safe id of a reservation: 128 unpredictable bits.
///
/// ```
/// use scheduler_core::ReservationId;
/// let id = ReservationId::generate();
/// assert_eq!(id.to_string().len(), 22);
/// assert_eq!(id.to_string().parse::<ReservationId>().unwrap(), id);
/// assert_ne!(ReservationId::generate(), id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReservationId(u128);

impl ReservationId {
    /// A fresh id, unique across processes with overwhelming probability.
    ///
    /// The bits come from the standard library's randomly keyed SipHash over a
    /// process-wide counter: unpredictable to clients, though not meant as a
    /// cryptographic secret.
    pub fn generate() -> Self {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};

        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let keys = RandomState::new();
        let half = |salt: u8| {
            let mut hasher = keys.build_hasher();
            hasher.write_u64(n);
            hasher.write_u8(salt);
            hasher.finish()
        };
        Self((u128::from(half(1)) << 64) | u128::from(half(2)))
    }

    /// The id as a number, for storage backends with a native 128-bit column.
    pub fn to_u128(self) -> u128 {
        self.0
    }

    /// The id from its number, the inverse of [`ReservationId::to_u128`].
    pub fn from_u128(value: u128) -> Self {
        Self(value)
    }
}

impl FromStr for ReservationId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidId {
            field: "reservationId",
            rule: "must be a reservation id issued by this service",
        };
        if s.len() != 22 {
            return Err(invalid());
        }
        let bytes: [u8; 16] = codec::decode(s)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(invalid)?;
        Ok(Self(u128::from_be_bytes(bytes)))
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        codec::encode_to(&self.0.to_be_bytes(), f)
    }
}

macro_rules! serde_via_string {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_string!(SlotId);
serde_via_string!(ReservationId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_length_boundary() {
        assert!(ProviderId::new("a".repeat(128)).is_ok());
        let err = ProviderId::new("a".repeat(129)).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidId {
                field: "providerId",
                ..
            }
        ));
        assert!(ClientId::new("").is_err());
    }

    #[test]
    fn user_id_alphabet() {
        assert!(ClientId::new("Az09-_.@:").is_ok());
        for bad in ["a/b", "a b", "é", "a%2F", "a\0", "../x", "a'--"] {
            let err = ClientId::new(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidId {
                        field: "clientId",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn user_ids_deserialize_through_validation() {
        let ok: ProviderId = serde_json::from_str("\"p-1\"").unwrap();
        assert_eq!(ok.as_str(), "p-1");
        assert!(serde_json::from_str::<ProviderId>("\"p 1\"").is_err());
    }

    #[test]
    fn slot_id_round_trips_and_rejects_forgeries() {
        let id = SlotId::new(
            ProviderId::new("dr:who@x").unwrap(),
            DateTime::from_timestamp(-900, 0).unwrap(),
        );
        assert_eq!(id.to_string().parse::<SlotId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<SlotId>(&json).unwrap(), id);
        for bad in [
            "",
            "AAAA",
            "not base64!",
            &codec::encode(b"\0\0\0\0\0\0\0\0bad id"),
        ] {
            let err = bad.parse::<SlotId>().unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidId {
                        field: "slotId",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn reservation_id_rejects_wrong_lengths() {
        let id = ReservationId::generate();
        let text = id.to_string();
        assert!(text[1..].parse::<ReservationId>().is_err());
        assert!(format!("{text}A").parse::<ReservationId>().is_err());
        assert_eq!(ReservationId::from_u128(id.to_u128()), id);
    }
}
