//! C2SP `tlog-cosignature` (cosignature/v1): a witness's timestamped
//! Ed25519 signature over a checkpoint it has checked. It is one more
//! signature line on the checkpoint's note, `— <witness name> <base64(key id
//! || big-endian u64 time || signature)>`, over
//! `cosignature/v1\ntime <time>\n<checkpoint text>`. The key id is the first
//! four bytes of SHA-256(name || "\n" || 0x04 || public key), so a witness
//! key can never be mistaken for a log key (0x01).

use super::note::{Note, NoteError, SIGNATURE_PREFIX, key_id};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

/// The signature type byte of timestamped Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// What the signed message starts with.
const MESSAGE_LABEL: &str = "cosignature/v1\ntime ";
/// Key id, timestamp and signature.
const BLOB_LEN: usize = 4 + 8 + 64;

/// The message a cosignature signs.
fn message(time: u64, checkpoint_text: &str) -> String {
    format!("{MESSAGE_LABEL}{time}\n{checkpoint_text}")
}

fn split_key(
    text: &str,
    bad: impl Fn(&str) -> NoteError,
) -> Result<(&str, &str, Vec<u8>), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hex_id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+id+key"));
    };
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(bad("the name must be non-empty, without spaces"));
    }
    let raw = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
    if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
        return Err(bad("not a cosignature/v1 (Ed25519, type 0x04) key"));
    }
    Ok((name, hex_id, raw))
}

/// A witness's public key: checks its cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// Reads `<name>+<hex id>+<base64(0x04 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("witness key {text:?}: {why}"));
        let (name, hex_id, raw) = split_key(text, bad)?;
        if format!("{:08x}", key_id(name, &raw)) != hex_id {
            return Err(bad("the id does not match the name and key"));
        }
        let key = VerifyingKey::from_bytes(raw[1..].try_into().expect("32 bytes"))
            .map_err(|_| bad("not a valid Ed25519 public key"))?;
        Ok(CosignatureVerifier {
            name: name.to_string(),
            id: key_id(name, &raw),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time of this witness's valid cosignature on `note`'s text, if it
    /// has one.
    pub fn cosigned(&self, note: &Note) -> Option<u64> {
        note.lines.iter().find_map(|line| {
            // The line's blob has the key id already taken off.
            if line.name != self.name || line.id != self.id || line.blob.len() != BLOB_LEN - 4 {
                return None;
            }
            let time = u64::from_be_bytes(line.blob[..8].try_into().expect("8 bytes"));
            let sig =
                ed25519_dalek::Signature::from_bytes(line.blob[8..].try_into().expect("64 bytes"));
            self.key
                .verify_strict(message(time, &note.text).as_bytes(), &sig)
                .is_ok()
                .then_some(time)
        })
    }
}

impl std::fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

/// A witness's private key: makes cosignatures.
pub struct Cosigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl Cosigner {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
            return Err(NoteError::BadKey(format!(
                "witness name {name:?} must be non-empty, without '+' or spaces"
            )));
        }
        let key = SigningKey::from_bytes(&seed);
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(key.verifying_key().as_bytes());
        Ok(Cosigner {
            name: name.to_string(),
            id: key_id(name, &raw),
            key,
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("witness private key: {why}"));
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("it must start PRIVATE+KEY+"))?;
        let (name, hex_id, raw) = split_key(rest, bad)?;
        let c = Cosigner::from_seed(name, raw[1..].try_into().expect("32 bytes"))?;
        if format!("{:08x}", c.id) != hex_id {
            return Err(bad("the id does not match the name and key"));
        }
        Ok(c)
    }

    pub fn to_secret_string(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line for a checkpoint's text, made at `time` (Unix seconds).
    pub fn cosign(&self, checkpoint_text: &str, time: u64) -> String {
        let sig = self.key.sign(message(time, checkpoint_text).as_bytes());
        let mut blob = Vec::with_capacity(BLOB_LEN);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../tests/data/cosignature/vectors.json")).unwrap()
    }

    fn s(v: &serde_json::Value, k: &str) -> String {
        v[k].as_str().unwrap().to_string()
    }

    /// Published witness keys parse, with their key ids as published.
    #[test]
    fn published_witness_keys_parse() {
        let v = vectors();
        for key in v["witness_keys"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            assert_eq!(CosignatureVerifier::parse(key).unwrap().to_string(), key);
        }
        for key in v["not_witness_keys"].as_array().unwrap() {
            assert!(CosignatureVerifier::parse(key.as_str().unwrap()).is_err());
        }
    }

    /// A witness key derived from a published seed cosigns exactly as an
    /// independent implementation computed (see the vectors' ORIGIN).
    #[test]
    fn cosignatures_reproduce_and_verify() {
        let v = vectors();
        let seed: [u8; 32] = hex::decode(s(&v, "witness_seed"))
            .unwrap()
            .try_into()
            .unwrap();
        let c = Cosigner::from_seed(&s(&v, "witness_name"), seed).unwrap();
        assert_eq!(c.verifier().to_string(), s(&v, "witness_key"));
        assert_eq!(Cosigner::parse(&c.to_secret_string()).unwrap().id, c.id);
        for case in v["cosignatures"].as_array().unwrap() {
            let text = s(case, "checkpoint_text");
            let time = case["time"].as_u64().unwrap();
            assert_eq!(c.cosign(&text, time), s(case, "line"));
            let note = format!(
                "{text}\n{}{}",
                s(case, "log_signature_line"),
                s(case, "line")
            );
            let parsed = Note::parse(&note).unwrap();
            assert_eq!(c.verifier().cosigned(&parsed), Some(time));
            // The same line does not vouch for another checkpoint.
            let other = text.replacen('\n', "x\n", 1);
            let forged = format!("{other}\n{}", s(case, "line"));
            assert_eq!(c.verifier().cosigned(&Note::parse(&forged).unwrap()), None);
        }
    }
}
