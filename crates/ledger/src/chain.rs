//! The one place that decides whether an entry validly continues a log:
//! canonical record bytes, sequence continuity, the previous-record link,
//! the payload commitment (where the payload is present), and the Merkle
//! tree. Verification, import and recovery at open all go through it.

use super::canonical::CanonicalPayload;
use super::digest::{self, Digest, Salt};
use super::frame::{Entry, EntryRef};
use super::merkle::{self, CompactRange, LeafIndex, Subtrees};
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

/// The checks of one entry that need nothing but the entry: its record
/// parses, its payload matches the commitment and is canonical, and its
/// hashes. They are most of the work, and entries can be prechecked in
/// parallel; [`ChainChecker::link_with`] then links them in order.
/// It holds only what linking needs, not the record, so that a verifier
/// moves little between threads.
#[derive(Clone, Debug)]
pub struct Prechecked {
    seq: Seq,
    /// The record's id, for comparing with `ids.idx`.
    id: uuid::Uuid,
    prev: Digest,
    at: Timestamp,
    hash: Digest,
    leaf: Digest,
    redacted: bool,
    /// Reported only after the sequence and link checks, so a record in the
    /// wrong place is reported as that first, as a serial check would.
    payload_problem: Option<String>,
}

impl Prechecked {
    /// The record's id.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// Checks `entry`, expected at `seq` (for the message if it fails),
    /// and gives its decoded record too.
    fn one(seq: Seq, entry: &EntryRef<'_>) -> Result<(Prechecked, Record), ChainProblem> {
        Self::with_hashes(seq, entry, Hashes::of(entry))
    }

    /// Checks many entries, each with the sequence number it is expected
    /// at: what verification does with each block of the log it reads,
    /// the blocks spread over a worker a core (see `verify`). The entries
    /// are consecutive; also gives the Merkle subtrees wholly among them,
    /// for linking.
    pub fn many(
        entries: &[(Seq, EntryRef<'_>)],
    ) -> (Vec<Result<Prechecked, ChainProblem>>, Subtrees) {
        let hashes: Vec<Hashes> = entries.iter().map(|(_, e)| Hashes::of(e)).collect();
        let leaves: Vec<Digest> = hashes.iter().map(|h| h.leaf).collect();
        let first = entries.first().map_or(0, |(seq, _)| *seq);
        debug_assert!(entries.iter().zip(first..).all(|((seq, _), n)| *seq == n));
        let subtrees = Subtrees::build(LeafIndex(first), &leaves);
        let checked = entries
            .iter()
            .zip(hashes)
            .map(|((seq, e), hashes)| Self::with_hashes(*seq, e, hashes).map(|(alone, _)| alone))
            .collect();
        (checked, subtrees)
    }

    /// The checks, given the entry's hashes; with the decoded record.
    fn with_hashes(
        seq: Seq,
        entry: &EntryRef<'_>,
        hashes: Hashes,
    ) -> Result<(Prechecked, Record), ChainProblem> {
        let record = Record::from_canonical(entry.record).map_err(|e| ChainProblem {
            seq,
            what: e.to_string(),
            broken_link: false,
        })?;
        let payload_problem = match (entry.payload, hashes.commitment) {
            (Some((_, payload)), Some(commitment)) => {
                if commitment != record.commitment() {
                    Some("the payload does not match the record's commitment (the payload or its salt was changed)".into())
                } else {
                    CanonicalPayload::check_canonical(payload)
                        .err()
                        .map(|e| format!("the stored payload is not valid: {e}"))
                }
            }
            _ => None,
        };
        let alone = Prechecked {
            seq: record.seq(),
            id: record.id(),
            prev: record.prev(),
            at: record.at(),
            hash: hashes.chain,
            leaf: hashes.leaf,
            redacted: entry.payload.is_none(),
            payload_problem,
        };
        Ok((alone, record))
    }
}

/// What is computed from an entry's bytes to check it.
struct Hashes {
    /// The chain hash of the record.
    chain: Digest,
    /// The Merkle leaf hash of the record.
    leaf: Digest,
    /// The commitment to the payload, if it is present.
    commitment: Option<Digest>,
}

impl Hashes {
    fn of(entry: &EntryRef<'_>) -> Hashes {
        Hashes {
            chain: digest::record_hash(entry.record),
            leaf: merkle::leaf_hash(entry.record),
            commitment: entry
                .payload
                .map(|(salt, p)| digest::payload_commitment(&Salt(*salt), p)),
        }
    }
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
        let (alone, record) = Prechecked::one(self.next_seq, &entry.as_ref())?;
        let hash = alone.hash;
        let leaf = self.link_with(alone, on_node)?;
        Ok(Checked { record, hash, leaf })
    }

    /// The second half of [`check_with`](Self::check_with): what depends on
    /// the records before (sequence, link, time, tree), for an entry whose
    /// own checks were done by [`Prechecked::many`], perhaps on another thread.
    pub fn link_with(
        &mut self,
        alone: Prechecked,
        on_node: impl FnMut(merkle::NodeId, Digest),
    ) -> Result<Digest, ChainProblem> {
        self.link_known(alone, &Subtrees::default(), on_node)
    }

    /// [`link_with`](Self::link_with), taking subtree hashes from `known`
    /// (built by [`Prechecked::many`] from the same leaves) where it can.
    pub fn link_known(
        &mut self,
        alone: Prechecked,
        known: &Subtrees,
        on_node: impl FnMut(merkle::NodeId, Digest),
    ) -> Result<Digest, ChainProblem> {
        let seq = self.next_seq;
        let problem = |what: String| ChainProblem {
            seq,
            what,
            broken_link: false,
        };
        let Prechecked {
            seq: record_seq,
            id: _,
            prev,
            at,
            hash,
            leaf,
            redacted,
            payload_problem,
        } = alone;
        if record_seq != seq {
            return Err(problem(format!(
                "holds sequence number {record_seq} where {seq} was expected (a record is missing, repeated or out of order)"
            )));
        }
        if prev != self.last_hash {
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
        if let Some(last) = self.last_at.filter(|last| at < *last) {
            return Err(problem(format!(
                "its time {at} is earlier than the time of record {} ({last})",
                seq - 1
            )));
        }
        if let Some(what) = payload_problem {
            return Err(problem(what));
        }
        self.redacted += redacted as u64;
        self.frontier.push_known(leaf, known, on_node);
        self.last_hash = hash;
        self.last_at = Some(at);
        self.next_seq += 1;
        Ok(leaf)
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
