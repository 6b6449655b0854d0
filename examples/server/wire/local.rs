//! Slots read in a time zone: the slot listing with `?tz=`.
//!
//! Only asked-for listings go through here; the plain listing keeps its own
//! type and its size hint, and pays nothing for the option.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};
use scheduler_core::{Page, Slot, Tz};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use super::SlotPage;
use super::instant;

/// A reservable slot, with its start as read on a wall clock in the zone asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LocalSlot)]
pub struct LocalSlotBody {
    /// Opaque slot id, to pass back when reserving.
    #[schema(example = "AAAAAHEwtxBkci1ncmV5")]
    pub id: String,
    /// Whose slot it is.
    #[schema(example = "dr-grey")]
    pub provider_id: String,
    /// The service this start books: present only in a listing for a service.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "intake")]
    pub service_id: Option<String>,
    /// Start, RFC 3339 in UTC.
    #[serde(serialize_with = "instant::rfc3339")]
    pub start: DateTime<Utc>,
    /// End (exclusive), RFC 3339 in UTC.
    #[serde(serialize_with = "instant::rfc3339")]
    pub end: DateTime<Utc>,
    /// The start as a wall clock in the zone reads it, without offset.
    #[serde(serialize_with = "wall_clock")]
    #[schema(value_type = String, example = "2027-03-14T03:00:00")]
    pub local_start: NaiveDateTime,
    /// The zone's offset from UTC at the start, `±HH:MM`: `localStart` minus
    /// `offset` is `start`. Two slots of a fall-back fold share a `localStart`
    /// and differ in `offset`.
    #[serde(serialize_with = "utc_offset")]
    #[schema(value_type = String, example = "-04:00")]
    pub offset: FixedOffset,
}

impl LocalSlotBody {
    /// `slot`, with its start read in `zone` at the slot's own instant.
    pub fn new(slot: Slot, zone: Tz) -> Self {
        let local = slot.start.with_timezone(&zone);
        Self {
            id: slot.id.to_string(),
            service_id: slot.id.service().map(ToString::to_string),
            provider_id: slot.provider_id.into(),
            start: slot.start,
            end: slot.end,
            local_start: local.naive_local(),
            offset: local.offset().fix(),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS`, to the second (slot starts are whole minutes).
fn wall_clock<S: Serializer>(local: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&local.format("%Y-%m-%dT%H:%M:%S"))
}

/// `±HH:MM`, and `±HH:MM:SS` for the odd historical offset with seconds.
fn utc_offset<S: Serializer>(offset: &FixedOffset, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&OffsetText(offset.local_minus_utc()))
}

struct OffsetText(i32);

impl fmt::Display for OffsetText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let secs = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", secs / 3600, secs / 60 % 60)?;
        if !secs.is_multiple_of(60) {
            write!(f, ":{:02}", secs % 60)?;
        }
        Ok(())
    }
}

/// One page of reservable slots, each also read in the zone asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSlotPage {
    /// The slots, in order of start.
    pub slots: Vec<LocalSlotBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl LocalSlotPage {
    /// `page`, its slots read in `zone`.
    pub fn new(page: Page<Slot>, zone: Tz) -> Self {
        Self {
            slots: page
                .items
                .into_iter()
                .map(|slot| LocalSlotBody::new(slot, zone))
                .collect(),
            next_cursor: page.next_cursor,
        }
    }

    /// About how many bytes the page's JSON takes (see [`SlotPage::json_size_hint`]).
    pub fn json_size_hint(&self) -> usize {
        // `,"localStart":"2027-03-14T03:00:00","offset":"-04:00"` is 52 bytes.
        let per_slot = self.slots.first().map_or(0, |slot| {
            (8 + slot.provider_id.len()).div_ceil(3) * 4 + slot.provider_id.len() + 96 + 56
        });
        64 + self.slots.len() * per_slot
    }
}

/// A page of the slot listing: plain, or with `tz`, read in that zone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SlotListingPage {
    /// Without `tz`.
    Utc(SlotPage),
    /// With `tz`: every slot also carries `localStart` and `offset`.
    Local(LocalSlotPage),
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn offset(secs: i32) -> String {
        OffsetText(secs).to_string()
    }

    #[test]
    fn offsets_read_as_rfc_3339_writes_them() {
        assert_eq!(offset(0), "+00:00");
        assert_eq!(offset(-4 * 3600), "-04:00");
        assert_eq!(offset(5 * 3600 + 45 * 60), "+05:45");
        assert_eq!(offset(-(9 * 3600 + 30 * 60)), "-09:30");
        // Liberia until 1972: -00:44:30.
        assert_eq!(offset(-(44 * 60 + 30)), "-00:44:30");
    }

    #[test]
    fn a_local_reading_is_the_instant_in_the_zone() {
        let zone: Tz = "America/New_York".parse().unwrap();
        for (utc, local, off) in [
            ((2027, 3, 14, 6, 45), "2027-03-14T01:45:00", "-05:00"),
            ((2027, 3, 14, 7, 0), "2027-03-14T03:00:00", "-04:00"),
            ((2027, 11, 7, 5, 0), "2027-11-07T01:00:00", "-04:00"),
            ((2027, 11, 7, 6, 0), "2027-11-07T01:00:00", "-05:00"),
        ] {
            let (y, m, d, h, mi) = utc;
            let start = Utc.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap();
            let naive = start.with_timezone(&zone).naive_local();
            let fixed = start.with_timezone(&zone).offset().fix();
            #[derive(Serialize)]
            struct Probe {
                #[serde(serialize_with = "wall_clock")]
                local: NaiveDateTime,
                #[serde(serialize_with = "utc_offset")]
                offset: FixedOffset,
            }
            let json = serde_json::to_value(Probe {
                local: naive,
                offset: fixed,
            })
            .unwrap();
            assert_eq!(json["local"], local);
            assert_eq!(json["offset"], off);
            // The reading and the offset give back the instant.
            let back = DateTime::parse_from_rfc3339(&format!("{local}{off}")).unwrap();
            assert_eq!(back, start);
        }
    }
}
