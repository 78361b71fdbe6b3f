//! Verification of a stored log: in full from the first record, or from a
//! trusted (size, root) that an auditor already holds.
//!
//! Full verification streams the log once (it never loads it), checking
//! every entry with [`ChainChecker`], then compares the result with the
//! acknowledged head and with the stored Merkle tree that proofs are made
//! from. The first problem found is reported with its sequence number.

use super::chain::{ChainChecker, ChainProblem, Prechecked};
use super::digest::Digest;
use super::frame::EntryRef;
use super::log::Ledger;
use super::merkle::{self, CompactRange, LeafIndex, Subtrees, TreeSize};
use super::record::Seq;
use super::store::StoreError;
use super::store::{DerivedScan, FrameBlocks, ScanError};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A log that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub size: u64,
    pub head: Digest,
    pub root: Digest,
    /// Records whose payload is no longer held.
    pub redacted: u64,
    /// Records checked by this run (fewer than `size` when incremental).
    pub checked: u64,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error("record {seq}: {what}")]
    At { seq: Seq, what: String },
    #[error("{0}")]
    Whole(String),
    #[error(
        "{file} disagrees with the records at record {seq}, which check out: the index file is damaged, not the history. Stop jointly, delete offsets.idx, ids.idx and tree.idx from the data directory, and open it again to rebuild them"
    )]
    Index { seq: Seq, file: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks every record from the first.
pub fn verify_full(
    ledger: &Ledger,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    verify_tail(ledger, ChainChecker::new(), 0, None, progress)
}

/// [`verify_full`], reading the log in blocks of about `block_bytes`
/// rather than the usual 256 KiB: tests use small blocks to spread a short
/// log over many blocks and so over every worker.
#[doc(hidden)]
pub fn verify_full_in_blocks(
    ledger: &Ledger,
    block_bytes: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    verify_tail(ledger, ChainChecker::new(), 0, Some(block_bytes), progress)
}

/// Checks the log against a trusted `(size, root)`: the stored tree at that
/// size must have that root, the record before it must be included in it,
/// and every record after it must continue the chain and the tree.
pub fn verify_from(
    ledger: &Ledger,
    trusted_size: u64,
    trusted_root: &Digest,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    let head = ledger.head();
    if trusted_size > head.size {
        return Err(VerifyFailure::Whole(format!(
            "the log holds {} records, fewer than the {trusted_size} you trust: records were removed or the log was rolled back",
            head.size
        )));
    }
    if trusted_size == 0 {
        if *trusted_root != merkle::empty_root() {
            return Err(VerifyFailure::Whole(
                "a log of 0 records has the root of the empty tree, not the root given".into(),
            ));
        }
        return verify_full(ledger, progress);
    }
    let store = ledger.store();
    let frontier = CompactRange::load(&**store, TreeSize(trusted_size))?;
    if frontier.root() != *trusted_root {
        return Err(VerifyFailure::Whole(format!(
            "the log's tree at size {trusted_size} does not have the root you trust: the history up to there was changed"
        )));
    }
    let last = trusted_size - 1;
    let entry = store.read(last)?.ok_or_else(|| VerifyFailure::At {
        seq: last,
        what: "missing".into(),
    })?;
    let leaf = merkle::leaf_hash(&entry.record);
    let proof = ledger
        .inclusion_proof(last, trusted_size)
        .map_err(|e| VerifyFailure::Whole(e.to_string()))?;
    merkle::verify_inclusion(
        LeafIndex(last),
        TreeSize(trusted_size),
        &leaf,
        &proof,
        trusted_root,
    )
    .map_err(|_| VerifyFailure::At {
        seq: last,
        what: "this record is not the one the trusted root includes".into(),
    })?;
    let last_at = super::record::Record::from_canonical(&entry.record)
        .map_err(|e| VerifyFailure::At {
            seq: last,
            what: e.to_string(),
        })?
        .at();
    let checker = ChainChecker::resume(
        trusted_size,
        super::digest::record_hash(&entry.record),
        Some(last_at),
        frontier,
    );
    verify_tail(ledger, checker, trusted_size, None, progress)
}

/// A broken link between records N-1 and N means one of the two changed.
/// The stored leaf hashes, written when each record was appended, say which.
fn locate_broken_link(ledger: &Ledger, p: super::chain::ChainProblem) -> VerifyFailure {
    if p.broken_link {
        let before = p.seq - 1;
        let stored = ledger.node(merkle::NodeId::leaf(LeafIndex(before)));
        let now = ledger.store().read(before);
        if let (Ok(stored), Ok(Some(entry))) = (stored, now)
            && merkle::leaf_hash(&entry.record) != stored
        {
            return VerifyFailure::At {
                seq: before,
                what: format!(
                    "the record was changed after it was appended: it no longer matches the link in record {} nor the Merkle tree",
                    p.seq
                ),
            };
        }
    }
    VerifyFailure::At {
        seq: p.seq,
        what: p.what,
    }
}

/// A block's records, prechecked, each with its offset in the log; and the
/// Merkle subtrees wholly inside the block.
type PrecheckedBlock = (Vec<(Seq, u64, Result<Prechecked, ChainProblem>)>, Subtrees);

/// The log, handed out a block at a time in order.
struct Reading {
    blocks: FrameBlocks,
    /// The number of the next block.
    next: usize,
    /// The log ended, or a frame could not be read.
    ended: bool,
}

/// What links blocks in the log's order, whichever worker finished them.
struct Linking<'l> {
    ledger: &'l Ledger,
    checker: ChainChecker,
    derived: DerivedScan,
    /// Blocks prechecked ahead of their turn; each with the frame that
    /// could not be read right after its records, if that is where reading
    /// stopped.
    waiting: BTreeMap<usize, (PrecheckedBlock, Option<ScanError>)>,
    next: usize,
    /// A record whose leaf differs from tree.idx, or whose id differs
    /// from ids.idx: either the record changed (and the next record's link
    /// will say so) or that file is wrong.
    suspect: Option<(Seq, &'static str)>,
    checked: u64,
    failure: Option<VerifyFailure>,
}

impl Linking<'_> {
    /// Links each waiting block whose turn it is.
    fn link_ready(&mut self) -> Result<(), VerifyFailure> {
        while let Some(((chunk, subtrees), unreadable)) = self.waiting.remove(&self.next) {
            self.next += 1;
            for (seq, offset, alone) in chunk {
                self.link(seq, offset, alone, &subtrees)?;
            }
            if let Some(e) = unreadable {
                return Err(VerifyFailure::At {
                    seq: e.seq(),
                    what: e
                        .to_string()
                        .split_once(": ")
                        .map_or(e.to_string(), |(_, w)| w.to_string()),
                });
            }
        }
        Ok(())
    }

    fn link(
        &mut self,
        seq: Seq,
        offset: u64,
        alone: Result<Prechecked, ChainProblem>,
        subtrees: &Subtrees,
    ) -> Result<(), VerifyFailure> {
        if self.derived.next_offset() != Some(offset) {
            return Err(VerifyFailure::Index {
                seq,
                file: "offsets.idx",
            });
        }
        let id_differs = self.derived.next_id() != alone.as_ref().ok().map(|a| a.id());
        let mut first_bad = None;
        let derived = &mut self.derived;
        alone
            .and_then(|alone| {
                self.checker.link_known(alone, subtrees, |id, hash| {
                    let stored = derived.next_node();
                    if first_bad.is_none() && stored != Some(hash) {
                        first_bad = Some(id);
                    }
                })
            })
            .map_err(|p| locate_broken_link(self.ledger, p))?;
        if let Some((seq, file)) = self.suspect.take() {
            // This record links to that one as it is now.
            return Err(VerifyFailure::Index { seq, file });
        }
        match first_bad {
            Some(id) if id.level == 0 => self.suspect = Some((seq, "tree.idx")),
            Some(_) => {
                return Err(VerifyFailure::Index {
                    seq,
                    file: "tree.idx",
                });
            }
            None if id_differs => self.suspect = Some((seq, "ids.idx")),
            None => {}
        }
        self.checked += 1;
        Ok(())
    }
}

/// One worker: takes the next block, prechecks it (parsing, hashing), and
/// links whatever is now in order. Every worker does all three, so no
/// thread waits on another's queue; the locks are held only to read a
/// block and to link. `after_block` is told how many records are linked.
fn work(
    reading: &Mutex<Reading>,
    linking: &Mutex<Linking<'_>>,
    stop: &AtomicBool,
    after_block: &mut dyn FnMut(u64),
) {
    let mut buffer = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (n, block, unreadable) = {
            let mut r = reading.lock().expect("the log reader panicked");
            if r.ended {
                return;
            }
            let (block, unreadable) = r.blocks.next_block(std::mem::take(&mut buffer));
            r.ended = block.is_empty() || unreadable.is_some();
            r.next += 1;
            (r.next - 1, block, unreadable)
        };
        if block.is_empty() && unreadable.is_none() {
            return; // the end of the log
        }
        let entries: Vec<(Seq, EntryRef<'_>)> = block.entries().collect();
        let (checked, subtrees) = Prechecked::many(&entries);
        let checked = entries
            .iter()
            .zip(block.offsets())
            .zip(checked)
            .map(|(((seq, _), offset), result)| (*seq, offset, result))
            .collect();
        drop(entries);
        buffer = block.into_buffer();
        let mut l = linking.lock().expect("a linker panicked");
        if l.failure.is_some() {
            return;
        }
        l.waiting.insert(n, ((checked, subtrees), unreadable));
        if let Err(failure) = l.link_ready() {
            l.failure = Some(failure);
            stop.store(true, Ordering::Relaxed);
            return;
        }
        let linked = l.checked;
        drop(l);
        after_block(linked);
    }
}

fn verify_tail(
    ledger: &Ledger,
    checker: ChainChecker,
    from: Seq,
    block_bytes: Option<usize>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    let head = ledger.head();
    let mut blocks = ledger.store().frame_blocks_to(from, &head)?;
    if let Some(bytes) = block_bytes {
        blocks = blocks.with_block_bytes(bytes);
    }
    let reading = Mutex::new(Reading {
        blocks,
        next: 0,
        ended: false,
    });
    let linking = Mutex::new(Linking {
        ledger,
        checker,
        derived: ledger.store().derived_scan(from, 1 << 18)?,
        waiting: BTreeMap::new(),
        next: 0,
        suspect: None,
        checked: 0,
        failure: None,
    });
    let stop = AtomicBool::new(false);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // This thread is a worker too, and the one that reports progress.
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(|| work(&reading, &linking, &stop, &mut |_| {}));
        }
        let mut shown = 0;
        work(&reading, &linking, &stop, &mut |linked| {
            if linked >= shown + 4096 {
                shown = linked;
                progress(linked);
            }
        });
    });
    let Linking {
        checker,
        waiting,
        suspect,
        checked,
        failure,
        ..
    } = linking.into_inner().expect("a linker panicked");
    if let Some(failure) = failure {
        return Err(failure);
    }
    debug_assert!(waiting.is_empty(), "every block read was linked");
    progress(checked);
    if checker.size() != head.size || ledger.store().log_len()? < head.end {
        let held = ledger.store().count_log_frames()?;
        return Err(VerifyFailure::Whole(format!(
            "records were lost: {} were acknowledged but the log holds {}",
            head.size,
            checker.size().min(held)
        )));
    }
    if checker.last_hash() != head.last_hash {
        return Err(VerifyFailure::At {
            seq: head.size.saturating_sub(1),
            what: "the last record does not hash to the acknowledged head".into(),
        });
    }
    if let Some((seq, file)) = suspect {
        return Err(VerifyFailure::Index { seq, file });
    }
    if checker.root() != head.root {
        return Err(VerifyFailure::Whole(
            "the records' Merkle root differs from the acknowledged root".into(),
        ));
    }
    let stored = merkle::root(&**ledger.store(), TreeSize(head.size))?;
    if stored != head.root {
        return Err(VerifyFailure::Whole(
            "the stored Merkle tree, from which proofs are made, does not match the records".into(),
        ));
    }
    Ok(Verified {
        size: head.size,
        head: head.last_hash,
        root: head.root,
        redacted: checker.redacted(),
        checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, CanonicalPayload, EventType, NewEvent};

    /// A log of `n` records whose payloads run from a few bytes to past
    /// one BLAKE3 chunk (1 KiB), with every fourth payload erased.
    fn log_of(n: u64) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        let events: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent {
                expected: None,
                event_type: EventType::new(&format!("x.verify.{}", i % 3)).unwrap(),
                actor: Actor::new("test:verify").unwrap(),
                payload: CanonicalPayload::from_value(&serde_json::json!({
                    "n": i,
                    "text": "x".repeat((i as usize * 37) % 1200),
                }))
                .unwrap(),
            })
            .collect();
        if n > 0 {
            ledger.append_batch(events).unwrap();
        }
        let erased: Vec<Seq> = (0..n).step_by(4).collect();
        ledger.store().erase_payloads(&erased).unwrap();
        (dir, ledger)
    }

    /// Verification hashes blocks of records on a worker a core and links
    /// them in order. For counts of records that are none, one, fewer
    /// than the workers and not a multiple of them, in blocks of one
    /// record each up to the whole log, it must find what checking each
    /// record one at a time on one thread finds.
    #[test]
    fn verifying_on_every_core_agrees_with_checking_one_record_at_a_time() {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        for n in [0, 1, 2, 3, workers + 1, 3 * workers + 1, 17, 100, 257] {
            let (_dir, ledger) = log_of(n);
            let mut one_at_a_time = ChainChecker::new();
            for seq in 0..n {
                let entry = ledger.store().read(seq).unwrap().expect("a record");
                one_at_a_time.check(&entry).unwrap();
            }
            let expect = Verified {
                size: n,
                head: one_at_a_time.last_hash(),
                root: one_at_a_time.root(),
                redacted: one_at_a_time.redacted(),
                checked: n,
            };
            assert_eq!(expect.redacted, n.div_ceil(4), "{n} records");
            assert_eq!(verify_full(&ledger, &mut |_| {}).unwrap(), expect, "{n}");
            for block in [1, 700, 4096, 1 << 20] {
                let v = verify_full_in_blocks(&ledger, block, &mut |_| {}).unwrap();
                assert_eq!(v, expect, "{n} records in blocks of {block} bytes");
            }
        }
    }
}
