//! Keyset cursors: opaque positions in a listing, never offsets.

use chrono::DateTime;

use crate::codec;
use crate::error::{Error, Result};
use crate::grid::{Grid, SlotStart};
use crate::ids::ReservationId;

const SLOT_TAG: u8 = b'S';
const RESERVATION_TAG: u8 = b'R';

/// The cursor that resumes a slot listing after `start`.
pub(crate) fn after_slot(start: SlotStart) -> String {
    let mut bytes = vec![SLOT_TAG];
    bytes.extend_from_slice(&start.timestamp().to_be_bytes());
    codec::encode(&bytes)
}

/// The position a slot cursor names.
pub(crate) fn parse_slot(text: &str, grid: Grid) -> Result<SlotStart> {
    let bytes = codec::decode(text).ok_or(Error::InvalidCursor)?;
    match bytes.split_first() {
        Some((&SLOT_TAG, rest)) => instant(rest, grid),
        _ => Err(Error::InvalidCursor),
    }
}

/// The cursor that resumes a reservation listing after `(start, id)`.
pub(crate) fn after_reservation(start: SlotStart, id: ReservationId) -> String {
    let mut bytes = vec![RESERVATION_TAG];
    bytes.extend_from_slice(&start.timestamp().to_be_bytes());
    bytes.extend_from_slice(&id.to_u128().to_be_bytes());
    codec::encode(&bytes)
}

/// The position a reservation cursor names.
pub(crate) fn parse_reservation(text: &str, grid: Grid) -> Result<(SlotStart, ReservationId)> {
    let bytes = codec::decode(text).ok_or(Error::InvalidCursor)?;
    match bytes.split_first() {
        Some((&RESERVATION_TAG, rest)) if rest.len() == 24 => {
            let (start, id) = rest.split_at(8);
            let id = u128::from_be_bytes(id.try_into().map_err(|_| Error::InvalidCursor)?);
            Ok((instant(start, grid)?, ReservationId::from_u128(id)))
        }
        _ => Err(Error::InvalidCursor),
    }
}

fn instant(bytes: &[u8], grid: Grid) -> Result<SlotStart> {
    let secs = i64::from_be_bytes(bytes.try_into().map_err(|_| Error::InvalidCursor)?);
    DateTime::from_timestamp(secs, 0)
        .and_then(|t| grid.slot_at(t))
        .ok_or(Error::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    #[test]
    fn cursors_round_trip_and_do_not_cross_listings() {
        let grid = Policy::default().grid();
        let start = grid
            .slot_at(DateTime::from_timestamp(1_900_000_800, 0).unwrap())
            .unwrap();
        let id = ReservationId::generate();
        assert_eq!(parse_slot(&after_slot(start), grid).unwrap(), start);
        assert_eq!(
            parse_reservation(&after_reservation(start, id), grid).unwrap(),
            (start, id)
        );
        assert!(parse_slot(&after_reservation(start, id), grid).is_err());
        assert!(parse_reservation(&after_slot(start), grid).is_err());
        assert!(parse_slot("garbage!", grid).is_err());
        let off_grid = codec::encode(&[&[SLOT_TAG][..], &1_900_000_801i64.to_be_bytes()].concat());
        assert!(parse_slot(&off_grid, grid).is_err());
    }
}
