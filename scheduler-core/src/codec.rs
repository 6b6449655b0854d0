//! Base64url (RFC 4648 §5, no padding) for the opaque ids and cursors.
//!
//! Ids and cursors must be URL-safe and must not invite clients to build them
//! by hand, so their bytes are shown in this alphabet rather than as plain text.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes `bytes` as unpadded base64url.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    encode_to(bytes, &mut out).expect("writing to a String cannot fail");
    out
}

/// Writes `bytes` as unpadded base64url to `out`, through a small stack
/// buffer, so that ids are shown without an allocation of their own.
pub(crate) fn encode_to(bytes: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    const BUFFER: usize = 64;
    let mut buffer = [0u8; BUFFER];
    let mut len = 0;
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            buffer[len] = ALPHABET[index as usize];
            len += 1;
        }
        if len > BUFFER - 4 {
            out.write_str(ascii(&buffer[..len]))?;
            len = 0;
        }
    }
    out.write_str(ascii(&buffer[..len]))
}

/// The buffer as text: it only ever holds characters of the alphabet.
fn ascii(buffer: &[u8]) -> &str {
    std::str::from_utf8(buffer).expect("the alphabet is ASCII")
}

/// Decodes unpadded base64url; `None` for any other input, including
/// non-canonical trailing bits, so that every value has exactly one spelling.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let input = text.as_bytes();
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for chunk in input.chunks(4) {
        let mut n: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(sextet(c)?) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let produced = chunk.len() - 1;
        out.extend_from_slice(&bytes[1..=produced]);
        // Bits below the last produced byte must be zero.
        let unused_bits = 24 - 8 * produced as u32;
        if unused_bits < 24 && n & ((1 << unused_bits) - 1) != 0 {
            return None;
        }
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255).collect();
        // Long inputs make the encoder flush its stack buffer midway.
        for len in 0..200 {
            let encoded = encode(&data[..len]);
            assert!(encoded.bytes().all(|c| sextet(c).is_some()));
            assert_eq!(decode(&encoded).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn matches_rfc_4648_vectors() {
        assert_eq!(encode(b"foob"), "Zm9vYg");
        assert_eq!(encode(b"fooba"), "Zm9vYmE");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rejects_foreign_and_non_canonical_input() {
        assert_eq!(decode("Zm9v+g"), None);
        assert_eq!(decode("Z"), None);
        assert_eq!(decode("Zm9vYh"), None, "trailing bits set");
        assert_eq!(
            decode("Zm9vYg="),
            None,
            "padding is not part of the alphabet"
        );
    }
}
