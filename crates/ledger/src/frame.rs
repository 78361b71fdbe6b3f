//! The byte layout of one entry in `records.log`, the append-only file that
//! is the source of truth (indexes in sled are derived from it).
//!
//! ```text
//! u32 LE record_len | u32 LE payload_len | u8 state | record | salt (32) | payload
//! ```
//! `state` is 0 when the payload is present, 1 when it was redacted before
//! it was written (an imported bundle's redacted records), and 2 when it was
//! erased in place. A frame is always `9 + record_len + 32 + payload_len`
//! bytes. A state-1 frame has `payload_len` 0 and 32 zero bytes where the
//! salt was; a state-2 frame keeps its `payload_len` (so no later frame
//! moves) and every salt and payload byte is zero. Anything else in a
//! redacted frame is damage.

use super::canonical::MAX_PAYLOAD_BYTES;
use super::digest::Salt;
use super::record::MAX_RECORD_BYTES;

/// First bytes of `records.log`: name and format version.
pub const LOG_MAGIC: &[u8; 16] = b"jointly-log-v1\0\n";
/// Bytes before the record in each frame.
pub const FRAME_HEADER_LEN: usize = 9;
const STATE_PRESENT: u8 = 0;
const STATE_REDACTED: u8 = 1;
/// Erased where it lay: the salt and payload bytes overwritten with zeros.
pub const STATE_ERASED: u8 = 2;
/// Where the state byte is in a frame.
pub const STATE_OFFSET: u64 = 8;

/// One log entry as stored: the canonical record, and its salt and
/// canonical payload unless they were redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub record: Vec<u8>,
    pub payload: Option<(Salt, Vec<u8>)>,
}

/// Why bytes in the log are not a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("the log ends in the middle of an entry ({have} of {need} bytes)")]
    Truncated { have: usize, need: usize },
    #[error("entry header is damaged: {0}")]
    BadHeader(String),
}

impl Entry {
    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef {
            record: &self.record,
            payload: self
                .payload
                .as_ref()
                .map(|(salt, p)| (&salt.0, p.as_slice())),
        }
    }

    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN
            + self.record.len()
            + 32
            + self.payload.as_ref().map_or(0, |(_, p)| p.len())
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.record.len() as u32).to_le_bytes());
        match &self.payload {
            Some((salt, payload)) => {
                out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                out.push(STATE_PRESENT);
                out.extend_from_slice(&self.record);
                out.extend_from_slice(&salt.0);
                out.extend_from_slice(payload);
            }
            None => {
                out.extend_from_slice(&0u32.to_le_bytes());
                out.push(STATE_REDACTED);
                out.extend_from_slice(&self.record);
                out.extend_from_slice(&[0u8; 32]);
            }
        }
    }
}

/// Reads a frame header: the whole frame's length, validated.
pub fn frame_len(header: &[u8; FRAME_HEADER_LEN]) -> Result<usize, FrameError> {
    let record_len = u32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    let payload_len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
    let state = header[8];
    if record_len == 0 || record_len > MAX_RECORD_BYTES {
        return Err(FrameError::BadHeader(format!("record length {record_len}")));
    }
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::BadHeader(format!(
            "payload length {payload_len}"
        )));
    }
    match state {
        STATE_PRESENT => Ok(FRAME_HEADER_LEN + record_len + 32 + payload_len),
        STATE_REDACTED if payload_len == 0 => Ok(FRAME_HEADER_LEN + record_len + 32),
        STATE_REDACTED => Err(FrameError::BadHeader(format!(
            "a redacted entry with payload length {payload_len}"
        ))),
        STATE_ERASED => Ok(FRAME_HEADER_LEN + record_len + 32 + payload_len),
        _ => Err(FrameError::BadHeader(format!("state byte {state}"))),
    }
}

/// Builds an entry from a frame's parts, read separately by a streaming
/// reader (saves copying each frame twice). `header` is already checked.
pub fn assemble(
    header: &[u8; FRAME_HEADER_LEN],
    record: Vec<u8>,
    salt: [u8; 32],
    payload: Vec<u8>,
) -> Result<Entry, FrameError> {
    if header[8] == STATE_PRESENT {
        Ok(Entry {
            record,
            payload: Some((Salt(salt), payload)),
        })
    } else if salt == [0; 32] && payload.iter().all(|b| *b == 0) {
        Ok(Entry {
            record,
            payload: None,
        })
    } else {
        Err(FrameError::BadHeader(
            "a redacted entry whose salt or payload bytes are not zero".into(),
        ))
    }
}

/// The record and payload lengths a checked header gives.
pub fn part_lens(header: &[u8; FRAME_HEADER_LEN]) -> (usize, usize) {
    (
        u32::from_le_bytes(header[0..4].try_into().unwrap()) as usize,
        u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize,
    )
}

/// One entry's parts, borrowed from the bytes of its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub record: &'a [u8],
    /// Salt and canonical payload, unless redacted.
    pub payload: Option<(&'a [u8; 32], &'a [u8])>,
}

impl EntryRef<'_> {
    pub fn to_entry(&self) -> Entry {
        Entry {
            record: self.record.to_vec(),
            payload: self.payload.map(|(salt, p)| (Salt(*salt), p.to_vec())),
        }
    }
}

/// Decodes one whole frame (as sized by [`frame_len`]).
pub fn decode(frame: &[u8]) -> Result<Entry, FrameError> {
    view(frame).map(|e| e.to_entry())
}

/// Reads one whole frame (as sized by [`frame_len`]) where it lies.
pub fn view(frame: &[u8]) -> Result<EntryRef<'_>, FrameError> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Truncated {
            have: frame.len(),
            need: FRAME_HEADER_LEN,
        });
    }
    let header: &[u8; FRAME_HEADER_LEN] = frame[..FRAME_HEADER_LEN].try_into().unwrap();
    let need = frame_len(header)?;
    if frame.len() != need {
        return Err(FrameError::Truncated {
            have: frame.len(),
            need,
        });
    }
    let record_len = u32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
    let record_end = FRAME_HEADER_LEN + record_len;
    let record = &frame[FRAME_HEADER_LEN..record_end];
    let salt: &[u8; 32] = frame[record_end..record_end + 32].try_into().unwrap();
    let payload = if header[8] == STATE_PRESENT {
        Some((salt, &frame[record_end + 32..]))
    } else if *salt == [0; 32] && frame[record_end + 32..].iter().all(|b| *b == 0) {
        None
    } else {
        return Err(FrameError::BadHeader(
            "a redacted entry whose salt or payload bytes are not zero".into(),
        ));
    };
    Ok(EntryRef { record, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for payload in [Some((Salt([3; 32]), b"{\"a\":1}".to_vec())), None] {
            let e = Entry {
                record: b"{\"r\":1}".to_vec(),
                payload,
            };
            let mut buf = Vec::new();
            e.encode_into(&mut buf);
            assert_eq!(buf.len(), e.encoded_len());
            assert_eq!(frame_len(buf[..9].try_into().unwrap()).unwrap(), buf.len());
            assert_eq!(decode(&buf).unwrap(), e);
            assert!(decode(&buf[..buf.len() - 1]).is_err());
        }
        let redacted = Entry {
            record: b"{}".to_vec(),
            payload: None,
        };
        let mut buf = Vec::new();
        redacted.encode_into(&mut buf);
        let last = buf.len() - 1;
        buf[last] = 1; // a salt byte where zeros must be
        assert!(decode(&buf).is_err());
    }

    #[test]
    fn frames_erased_in_place_keep_their_length() {
        let e = Entry {
            record: b"{\"r\":1}".to_vec(),
            payload: Some((Salt([3; 32]), b"{\"a\":1}".to_vec())),
        };
        let mut buf = Vec::new();
        e.encode_into(&mut buf);
        let len = buf.len();
        let record_end = FRAME_HEADER_LEN + e.record.len();
        buf[STATE_OFFSET as usize] = STATE_ERASED;
        // Half erased (a crash midway) is damage, not a redaction.
        buf[record_end..record_end + 32].fill(0);
        assert!(decode(&buf).is_err());
        buf[record_end..].fill(0);
        assert_eq!(frame_len(buf[..9].try_into().unwrap()).unwrap(), len);
        assert_eq!(decode(&buf).unwrap().payload, None);
    }

    #[test]
    fn damaged_headers_are_refused() {
        let mut h = [0u8; 9];
        assert!(frame_len(&h).is_err()); // zero-length record
        h[0] = 5;
        h[8] = 7;
        assert!(frame_len(&h).is_err()); // unknown state
        h[8] = 1;
        h[4] = 1;
        assert!(frame_len(&h).is_err()); // redacted, yet a payload length
        h[8] = 0;
        h[6] = 0x20;
        assert!(frame_len(&h).is_err()); // payload over the limit
    }
}
