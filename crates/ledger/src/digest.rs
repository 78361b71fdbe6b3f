//! 32-byte digests, salts, and the BLAKE3 chain with its domain separation.
//!
//! The chain hash and the payload commitment use BLAKE3; the Merkle tree
//! (see `merkle`) uses SHA-256 as RFC 6962 requires. Each use of a hash has
//! its own prefix so that no byte string means two things.

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Prefix of the chain hash: `hash(record) = BLAKE3(RECORD_HASH_TAG || canonical record)`.
pub const RECORD_HASH_TAG: &[u8] = b"jointly/record/v1\0";

/// A 32-byte digest, written as 64 lowercase hex digits in records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub const ZERO: Digest = Digest([0; 32]);

    pub fn to_hex(&self) -> String {
        // By table: this runs several times per record during verification.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = Vec::with_capacity(64);
        for b in self.0 {
            out.push(DIGITS[(b >> 4) as usize]);
            out.push(DIGITS[(b & 15) as usize]);
        }
        String::from_utf8(out).expect("hex digits are ASCII")
    }

    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not 64 lowercase hex digits");
        let bytes: &[u8; 64] = text.as_bytes().try_into().map_err(|_| bad())?;
        let mut out = [0u8; 32];
        // Eight digits at a time: this runs twice per record verified.
        for (o, eight) in out.chunks_exact_mut(4).zip(bytes.chunks_exact(8)) {
            let four = hex_eight(u64::from_le_bytes(eight.try_into().expect("8 digits")));
            o.copy_from_slice(&four.ok_or_else(bad)?.to_le_bytes());
        }
        Ok(Digest(out))
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("{text:?} is not base64: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{text:?} does not decode to 32 bytes"))?;
        Ok(Digest(arr))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Eight lowercase hex digits (ASCII, first digit in the lowest byte) to
/// the four bytes they spell, first byte lowest; `None` if any is not one
/// of `0-9a-f`. Each byte is compared and converted without branches.
fn hex_eight(w: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if w & HIGH != 0 {
        return None;
    }
    // With every byte below 0x80, these set a byte's high bit, and borrow
    // nothing from the next byte, exactly when the byte is >= lo, <= hi.
    let at_least = |lo: u8| (w | HIGH).wrapping_sub(ONES * lo as u64) & HIGH;
    let at_most = |hi: u8| ((ONES * hi as u64) | HIGH).wrapping_sub(w) & HIGH;
    let digit = at_least(b'0') & at_most(b'9');
    let letter = at_least(b'a') & at_most(b'f');
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' keep their low four bits; 'a'..'f' (0x61..) get 9 added.
    let nibbles = (w & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pairs of nibbles to bytes, then the four bytes together.
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    Some((quads | (quads >> 16)) as u32)
}

/// The random 32 bytes mixed into a payload commitment, so that a short or
/// guessable payload cannot be found from its commitment once erased.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    pub fn random() -> Self {
        let mut s = [0u8; 32];
        rand::rng().fill_bytes(&mut s);
        Salt(s)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex::encode(self.0))
    }
}

/// `BLAKE3(RECORD_HASH_TAG || canonical record)`: the chain hash.
pub fn record_hash(canonical_record: &[u8]) -> Digest {
    blake3_of(RECORD_HASH_TAG, canonical_record)
}

/// `BLAKE3(salt || canonical payload)`: what a record says of its payload.
pub fn payload_commitment(salt: &Salt, canonical_payload: &[u8]) -> Digest {
    blake3_of(&salt.0, canonical_payload)
}

/// `BLAKE3(prefix || body)`, the two given to the hasher one after the
/// other rather than copied together first.
pub fn blake3_of(prefix: &[u8], body: &[u8]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(prefix);
    h.update(body);
    Digest(*h.finalize().as_bytes())
}

/// `SHA-256(prefix || body)`, the two given to the hasher one after the
/// other rather than copied together first.
pub fn sha256_of(prefix: &[u8], body: &[u8]) -> Digest {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(prefix);
    h.update(body);
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, ok: bool) {
        let parsed = Digest::from_hex(text);
        assert_eq!(parsed.is_ok(), ok, "{text:?}");
        if let Ok(d) = parsed {
            assert_eq!(d.to_hex(), text);
        }
    }

    #[test]
    fn hex_digests() {
        check(&"0".repeat(64), true);
        check(&"0123456789abcdef".repeat(4), true);
        check(&"0123456789ABCDEF".repeat(4), false);
        check(&"0".repeat(63), false);
        check(&"0".repeat(65), false);
        check(&format!("{}g", "0".repeat(63)), false);
        check(&format!("{}é", "0".repeat(62)), false);
    }

    /// Every byte value in every position among valid digits.
    #[test]
    fn hex_digits_eight_at_a_time() {
        let valid = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        for byte in 0..=255u8 {
            for at in 0..64 {
                let mut text = *b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
                text[at] = byte;
                let parsed = std::str::from_utf8(&text).map(Digest::from_hex);
                let ok = matches!(parsed, Ok(Ok(_)));
                assert_eq!(ok, valid(byte), "byte {byte:#04x} at {at}");
                if let Ok(Ok(d)) = parsed {
                    assert_eq!(
                        d.0.to_vec(),
                        hex::decode(text).unwrap(),
                        "byte {byte:#04x} at {at}"
                    );
                }
            }
        }
    }

    /// Published BLAKE3 vectors (see tests/data/blake3/ORIGIN.md): the
    /// bytes 0, 1, ..., 250, 0, 1, ... of each length, given to
    /// [`blake3_of`] split at every point, around one chunk (1 KiB).
    #[test]
    fn blake3_of_two_pieces_gives_the_published_hashes() {
        let vectors = include_str!("../../../tests/data/blake3/vectors.txt");
        let mut cases = 0;
        for line in vectors.lines() {
            let (len, hex) = line.split_once(' ').expect("length and hash");
            let input: Vec<u8> = (0..len.parse().expect("a length"))
                .map(|i: usize| (i % 251) as u8)
                .collect();
            for split in 0..=input.len() {
                let (prefix, body) = input.split_at(split);
                assert_eq!(
                    blake3_of(prefix, body).to_hex(),
                    hex,
                    "{len} bytes at {split}"
                );
            }
            cases += 1;
        }
        assert_eq!(cases, 5);
    }

    /// Published SHA-256 vectors (see tests/data/sha256/ORIGIN.md), given
    /// to [`sha256_of`] split at every point.
    #[test]
    fn sha256_of_two_pieces_gives_the_published_hashes() {
        let vectors = include_str!("../../../tests/data/sha256/vectors.txt");
        let mut cases = 0;
        for line in vectors.lines() {
            let (hex, message) = line.split_once(' ').expect("digest and message");
            for split in 0..=message.len() {
                let (prefix, body) = message.as_bytes().split_at(split);
                assert_eq!(
                    sha256_of(prefix, body).to_hex(),
                    hex,
                    "{message:?} at {split}"
                );
            }
            cases += 1;
        }
        assert_eq!(cases, 3);
    }

    #[test]
    fn base64_roots_round_trip() {
        let d = Digest([0xab; 32]);
        assert_eq!(Digest::from_base64(&d.to_base64()).unwrap(), d);
        assert!(Digest::from_base64("AAAA").is_err());
    }
}
