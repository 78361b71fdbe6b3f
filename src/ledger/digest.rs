//! 32-byte digests, salts, and the BLAKE3 chain with its domain separation.
//!
//! The chain hash and the payload commitment use BLAKE3; the Merkle tree
//! (see `merkle`) uses SHA-256 as RFC 6962 requires. Each use of a hash has
//! its own prefix so that no byte string means two things.

use super::lanes::Message;
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
        // By table: this runs twice per record during verification.
        const BAD: u8 = 0xff;
        const TABLE: [u8; 256] = {
            let mut t = [BAD; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        let bytes = text.as_bytes();
        let bad = || format!("{text:?} is not 64 lowercase hex digits");
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        let mut invalid = 0u8;
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = (TABLE[pair[0] as usize], TABLE[pair[1] as usize]);
            invalid |= (hi | lo) & 0xf0;
            *o = hi << 4 | lo;
        }
        if invalid != 0 {
            return Err(bad());
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
    record_hash_input(canonical_record).blake3()
}

/// `BLAKE3(salt || canonical payload)`: what a record says of its payload.
pub fn payload_commitment(salt: &Salt, canonical_payload: &[u8]) -> Digest {
    payload_commitment_input(&salt.0, canonical_payload).blake3()
}

/// What [`record_hash`] hashes, for hashing many at once.
pub fn record_hash_input(canonical_record: &[u8]) -> Message<'_> {
    Message {
        prefix: RECORD_HASH_TAG,
        body: canonical_record,
    }
}

/// What [`payload_commitment`] hashes, for hashing many at once.
pub fn payload_commitment_input<'a>(
    salt: &'a [u8; 32],
    canonical_payload: &'a [u8],
) -> Message<'a> {
    Message {
        prefix: salt,
        body: canonical_payload,
    }
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

    #[test]
    fn base64_roots_round_trip() {
        let d = Digest([0xab; 32]);
        assert_eq!(Digest::from_base64(&d.to_base64()).unwrap(), d);
        assert!(Digest::from_base64("AAAA").is_err());
    }
}
