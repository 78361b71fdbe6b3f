//! C2SP signed notes (the format of Go's `golang.org/x/mod/sumdb/note`):
//! a UTF-8 text ending in a newline, a blank line, then one line per
//! signature, `— <key name> <base64(key id || signature)>`. Keys are Ed25519;
//! the key id is the first four bytes of SHA-256(name || "\n" || 0x01 ||
//! public key). Verifier keys are written `<name>+<hex id>+<base64(0x01 ||
//! public key)>`, signer keys `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ||
//! seed)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The signature algorithm byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// What starts a signature line: an em dash and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("the key is malformed: {0}")]
    BadKey(String),
    #[error("the note is malformed: {0}")]
    Malformed(String),
    #[error("the note has no valid signature by {0}")]
    NotSigned(String),
}

/// `SHA-256(name || "\n" || alg || key)[..4]`, as C2SP signed-note defines.
pub fn key_id(name: &str, alg_and_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(alg_and_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Checks a key name (a log's origin, a witness's name): not empty, no
/// `+`, no whitespace.
pub fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadKey(format!(
            "key name {name:?} must be non-empty, without '+' or spaces"
        )));
    }
    Ok(())
}

/// A key that checks signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Reads `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("{text:?}: {why}"));
        // The base64 key may itself contain '+', so split at the first two.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected name+id+key"));
        };
        check_name(name)?;
        if hex_id.len() != 8
            || !hex_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(bad("the id is not 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(hex_id, 16).map_err(|_| bad("bad id"))?;
        let raw = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key"));
        }
        if key_id(name, &raw) != id {
            return Err(bad("the id does not match the name and key"));
        }
        let key = VerifyingKey::from_bytes(raw[1..].try_into().expect("32 bytes"))
            .map_err(|_| bad("not a valid Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_string(),
            id,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    fn check(&self, text: &[u8], sig: &[u8; 64]) -> bool {
        self.key
            .verify_strict(text, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

/// A key that makes signatures.
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_string(),
            id: key_id(name, &raw),
            key,
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("signer key: {why}"));
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("it must start PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected PRIVATE+KEY+name+id+key"));
        };
        let raw = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad("not an Ed25519 key"));
        }
        let signer = Signer::from_seed(name, raw[1..].try_into().expect("32 bytes"))?;
        if format!("{:08x}", signer.id) != hex_id {
            return Err(bad("the id does not match the name and key"));
        }
        Ok(signer)
    }

    /// The signer key in its text form (a secret).
    pub fn to_secret_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line for `text` (ending in a newline).
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }

    /// The signed note: the text, a blank line, and this key's signature.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        Ok(format!("{text}\n{}", self.signature_line(text)))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text must end with a newline".into(),
        ));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed(
            "the text must not contain a blank line".into(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "the text must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// One signature line, undecoded beyond its key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub id: u32,
    /// Everything after the key id: a plain Ed25519 signature (64 bytes),
    /// a witness cosignature (8 + 64), or another algorithm's.
    pub blob: Vec<u8>,
}

/// A note split into its text and signature lines, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    /// (key name, key id, signature) of each plain Ed25519 signature line.
    pub signatures: Vec<(String, u32, [u8; 64])>,
    /// Every signature line, in order, including cosignatures.
    pub lines: Vec<SignatureLine>,
}

impl Note {
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        let split = note.rfind("\n\n").ok_or_else(|| {
            NoteError::Malformed("there is no blank line before the signatures".into())
        })?;
        let text = &note[..split + 1];
        check_text(text)?;
        let mut signatures = Vec::new();
        let mut lines = Vec::new();
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the last signature line must end with a newline".into(),
            ));
        }
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line
                .strip_prefix(SIGNATURE_PREFIX)
                .ok_or_else(|| NoteError::Malformed(format!("{line:?} is not a signature line")))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| NoteError::Malformed(format!("{line:?} is not a signature line")))?;
            check_name(name)?;
            let blob = B64.decode(b64).map_err(|_| {
                NoteError::Malformed(format!("{line:?}: the signature is not base64"))
            })?;
            if blob.len() < 5 {
                return Err(NoteError::Malformed(format!(
                    "{line:?}: the signature is too short"
                )));
            }
            let id = u32::from_be_bytes(blob[..4].try_into().expect("4 bytes"));
            // Other algorithms' signatures (other lengths) are skipped, not refused.
            if let Ok(sig) = <[u8; 64]>::try_from(&blob[4..]) {
                signatures.push((name.to_string(), id, sig));
            }
            lines.push(SignatureLine {
                name: name.to_string(),
                id,
                blob: blob[4..].to_vec(),
            });
        }
        if lines.is_empty() {
            return Err(NoteError::Malformed("the note has no signatures".into()));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
            lines,
        })
    }

    /// The text, if `verifier` signed it: at least one signature line is
    /// by its key (name and key id), and every line by its key verifies
    /// (C2SP signed-note: a failed signature from a known key rejects the
    /// whole note). Lines by other keys are ignored.
    pub fn open(note: &str, verifier: &Verifier) -> Result<Note, NoteError> {
        let n = Note::parse(note)?;
        let mut signed = false;
        for (name, id, sig) in &n.signatures {
            if name != &verifier.name || *id != verifier.id {
                continue;
            }
            if !verifier.check(n.text.as_bytes(), sig) {
                return Err(NoteError::NotSigned(verifier.name.clone()));
            }
            signed = true;
        }
        if !signed {
            return Err(NoteError::NotSigned(verifier.name.clone()));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../tests/data/note/peterneumann.json")).unwrap()
    }

    /// The Go reference implementation's example, reproduced exactly.
    #[test]
    fn the_reference_vectors_reproduce() {
        let v = vectors();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let signer = Signer::parse(&s("signer_key")).unwrap();
        assert_eq!(signer.to_secret_string(), s("signer_key"));
        assert_eq!(signer.verifier().to_string(), s("verifier_key"));
        assert_eq!(signer.signature_line(&s("text")), s("signature_line"));
        let verifier = Verifier::parse(&s("verifier_key")).unwrap();
        let note = format!("{}\n{}", s("text"), s("signature_line"));
        assert_eq!(Note::open(&note, &verifier).unwrap().text, s("text"));
        assert_eq!(signer.sign(&s("text")).unwrap(), note);
    }

    /// Two lines by the log's own key, one of them bad: the note is
    /// refused, whichever comes first.
    #[test]
    fn a_bad_line_by_the_key_refuses_the_note() {
        let v = vectors();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let verifier = Verifier::parse(&s("verifier_key")).unwrap();
        let good = s("signature_line");
        // The same key id, with the signature's last byte changed.
        let (head, b64) = good.trim_end().rsplit_once(' ').unwrap();
        use base64::Engine;
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        *raw.last_mut().unwrap() ^= 1;
        let bad = format!(
            "{head} {}\n",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        for lines in [format!("{good}{bad}"), format!("{bad}{good}")] {
            let note = format!("{}\n{lines}", s("text"));
            assert!(Note::open(&note, &verifier).is_err(), "{note}");
        }
        let note = format!("{}\n{good}", s("text"));
        assert!(Note::open(&note, &verifier).is_ok());
    }

    #[test]
    fn tampering_is_refused() {
        let v = vectors();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let verifier = Verifier::parse(&s("verifier_key")).unwrap();
        let note = format!("{}\n{}", s("text"), s("signature_line"));
        let changed = note.replacen("cryptography", "cryptographY", 1);
        assert_eq!(
            Note::open(&changed, &verifier),
            Err(NoteError::NotSigned("PeterNeumann".into()))
        );
        let other = Signer::from_seed("PeterNeumann", [7; 32]).unwrap();
        assert!(Note::open(&other.sign(&s("text")).unwrap(), &verifier).is_err());
        for bad in [
            "",
            "no blank line\n",
            "text\n\nnot a signature\n",
            "text\n\n\u{2014} name !!!\n",
        ] {
            assert!(Note::open(bad, &verifier).is_err(), "{bad:?}");
        }
        // Manglings of the verifier key are refused.
        let key = s("verifier_key");
        for i in 0..key.len() {
            let mut b = key.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            if let Ok(k) = String::from_utf8(b)
                && k != key
            {
                assert!(Verifier::parse(&k).is_err(), "{k}");
            }
        }
    }
}
