//! The one place that decides whether an entry validly continues a log:
//! canonical record bytes, sequence continuity, the previous-record link,
//! the payload commitment (where the payload is present), and the Merkle
//! tree. Verification, import and recovery at open all go through it.

use super::canonical::CanonicalPayload;
use super::digest::{self, Digest};
use super::frame::Entry;
use super::merkle::{self, CompactRange};
use super::record::{Record, Seq, Timestamp};

/// An entry that passed, with what was computed from it.
#[derive(Clone, Debug)]
pub struct Checked {
    pub record: Record,
    /// Chain hash: `BLAKE3(tag || canonical record)`.
    pub hash: Digest,
    /// Merkle leaf hash: `SHA-256(0x00 || canonical record)`.
    pub leaf: Digest,
}

/// The first thing wrong, and at which sequence number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("record {seq}: {what}")]
pub struct ChainProblem {
    pub seq: Seq,
    pub what: String,
    /// The record's previous-hash link failed: record `seq` or the one
    /// before it was changed, and the chain alone cannot tell which.
    pub broken_link: bool,
}

/// Walks a log from its start (or from a trusted point) entry by entry.
#[derive(Clone, Debug)]
pub struct ChainChecker {
    next_seq: Seq,
    last_hash: Digest,
    frontier: CompactRange,
    last_at: Option<Timestamp>,
    redacted: u64,
}

impl Default for ChainChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainChecker {
    pub fn new() -> Self {
        ChainChecker {
            next_seq: 0,
            last_hash: Digest::ZERO,
            frontier: CompactRange::default(),
            last_at: None,
            redacted: 0,
        }
    }

    /// Continues after `size` records whose last hash, time and tree are known.
    pub fn resume(
        size: u64,
        last_hash: Digest,
        last_at: Option<Timestamp>,
        frontier: CompactRange,
    ) -> Self {
        debug_assert_eq!(frontier.size().0, size);
        ChainChecker {
            next_seq: size,
            last_hash,
            frontier,
            last_at,
            redacted: 0,
        }
    }

    pub fn check(&mut self, entry: &Entry) -> Result<Checked, ChainProblem> {
        self.check_with(entry, |_, _| {})
    }

    /// [`check`](Self::check), also handing over each perfect Merkle
    /// subtree the entry completes (the leaf first), for comparison with
    /// what the store keeps.
    pub fn check_with(
        &mut self,
        entry: &Entry,
        on_node: impl FnMut(merkle::NodeId, Digest),
    ) -> Result<Checked, ChainProblem> {
        let seq = self.next_seq;
        let problem = |what: String| ChainProblem {
            seq,
            what,
            broken_link: false,
        };
        let record = Record::from_canonical(&entry.record).map_err(|e| problem(e.to_string()))?;
        if record.seq() != seq {
            return Err(problem(format!(
                "holds sequence number {} where {seq} was expected (a record is missing, repeated or out of order)",
                record.seq()
            )));
        }
        if record.prev() != self.last_hash {
            return Err(ChainProblem {
                broken_link: seq > 0,
                ..problem(if seq == 0 {
                    "the first record's previous hash is not all zeros".to_string()
                } else {
                    format!(
                        "its previous hash does not match the hash of record {}",
                        seq - 1
                    )
                })
            });
        }
        if let Some(last) = self.last_at.filter(|last| record.at() < *last) {
            return Err(problem(format!(
                "its time {} is earlier than the time of record {} ({last})",
                record.at(),
                seq - 1
            )));
        }
        match &entry.payload {
            Some((salt, payload)) => {
                if digest::payload_commitment(salt, payload) != record.commitment() {
                    return Err(problem("the payload does not match the record's commitment (the payload or its salt was changed)".into()));
                }
                CanonicalPayload::check_canonical(payload)
                    .map_err(|e| problem(format!("the stored payload is not valid: {e}")))?;
            }
            None => self.redacted += 1,
        }
        let hash = digest::record_hash(&entry.record);
        let leaf = merkle::leaf_hash(&entry.record);
        self.frontier.push(leaf, on_node);
        self.last_hash = hash;
        self.last_at = Some(record.at());
        self.next_seq += 1;
        Ok(Checked { record, hash, leaf })
    }

    /// Records checked so far (including any before a resume point).
    pub fn size(&self) -> u64 {
        self.next_seq
    }
    pub fn last_hash(&self) -> Digest {
        self.last_hash
    }
    pub fn root(&self) -> Digest {
        self.frontier.root()
    }
    /// Entries seen without their payload.
    pub fn redacted(&self) -> u64 {
        self.redacted
    }
}
