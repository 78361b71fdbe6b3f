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
use super::store::{FrameBlock, ScanError};
use std::collections::BTreeMap;
use std::sync::mpsc;

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
        "{file} disagrees with the records at record {seq}, which check out: the index file is damaged, not the history. Stop jointly, delete offsets.idx and tree.idx from the data directory, and open it again to rebuild them"
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
    verify_tail(ledger, ChainChecker::new(), 0, progress)
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
    verify_tail(ledger, checker, trusted_size, progress)
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

/// The log is read in blocks of whole frames by one thread, prechecked by
/// as many workers as there are cores, and linked in order by the caller's
/// thread.
type PrecheckedBlock = (Vec<(Seq, u64, Result<Prechecked, ChainProblem>)>, Subtrees);

fn verify_tail(
    ledger: &Ledger,
    mut checker: ChainChecker,
    from: Seq,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    let head = ledger.head();
    let mut blocks = ledger.store().frame_blocks_to(from, &head)?;
    let mut derived = ledger.store().derived_scan(from)?;
    let mut checked = 0u64;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let suspect_leaf = std::thread::scope(|s| -> Result<Option<Seq>, VerifyFailure> {
        // Blocks go to the workers in turn, each with its own queue: one
        // shared queue would need a lock they contend for.
        let (work_txs, work_rxs): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| mpsc::sync_channel::<(usize, FrameBlock)>(2))
            .unzip();
        let (done_tx, done_rx) = mpsc::sync_channel::<(usize, PrecheckedBlock)>(workers * 2);
        // Buffers go back to the reader, so the log is read into memory
        // that is already mapped.
        let (spare_tx, spare_rx) = mpsc::sync_channel::<Vec<u8>>(workers * 3);
        // The reader stops at the first frame it cannot read, after handing
        // over what came before it, so that problems are found in order.
        let reader = s.spawn(move || -> Result<(), ScanError> {
            for n in 0.. {
                let (block, failed) = blocks.next_block(spare_rx.try_recv().unwrap_or_default());
                let end = block.is_empty() || failed.is_some();
                if !block.is_empty() && work_txs[n % workers].send((n, block)).is_err() {
                    return Ok(()); // the linker stopped at a problem
                }
                if end {
                    return failed.map_or(Ok(()), Err);
                }
            }
            unreachable!("a log has fewer than usize::MAX blocks")
        });
        for work_rx in work_rxs {
            let (done_tx, spare_tx) = (done_tx.clone(), spare_tx.clone());
            s.spawn(move || {
                for (n, block) in work_rx {
                    let entries: Vec<(Seq, EntryRef<'_>)> = block.entries().collect();
                    let (checked, subtrees) = Prechecked::many(&entries);
                    let checked = entries
                        .iter()
                        .zip(block.offsets())
                        .zip(checked)
                        .map(|(((seq, _), offset), result)| (*seq, offset, result))
                        .collect();
                    let done = (checked, subtrees);
                    drop(entries);
                    let _ = spare_tx.try_send(block.into_buffer());
                    if done_tx.send((n, done)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((spare_tx, done_tx));
        // Linking, in order. Returning early drops the channels, which ends
        // the workers and then the reader.
        let mut link = |done_rx: mpsc::Receiver<(usize, PrecheckedBlock)>| {
            let mut waiting = BTreeMap::new();
            let mut next = 0;
            // A leaf that differs from tree.idx: either the record changed
            // (and the next record's link will say so) or tree.idx is wrong.
            let mut suspect_leaf: Option<Seq> = None;
            for (n, chunk) in done_rx {
                waiting.insert(n, chunk);
                while let Some((chunk, subtrees)) = waiting.remove(&next) {
                    next += 1;
                    for (seq, offset, alone) in chunk {
                        if derived.next_offset() != Some(offset) {
                            return Err(VerifyFailure::Index {
                                seq,
                                file: "offsets.idx",
                            });
                        }
                        let mut first_bad = None;
                        alone
                            .and_then(|alone| {
                                checker.link_known(alone, &subtrees, |id, hash| {
                                    let stored = derived.next_node();
                                    if first_bad.is_none() && stored != Some(hash) {
                                        first_bad = Some(id);
                                    }
                                })
                            })
                            .map_err(|p| locate_broken_link(ledger, p))?;
                        if let Some(leaf) = suspect_leaf.take() {
                            // This record links to that one as it is now.
                            return Err(VerifyFailure::Index {
                                seq: leaf,
                                file: "tree.idx",
                            });
                        }
                        match first_bad {
                            Some(id) if id.level == 0 => suspect_leaf = Some(seq),
                            Some(_) => {
                                return Err(VerifyFailure::Index {
                                    seq,
                                    file: "tree.idx",
                                });
                            }
                            None => {}
                        }
                        checked += 1;
                        if checked.is_multiple_of(4096) {
                            progress(checked);
                        }
                    }
                }
            }
            Ok(suspect_leaf)
        };
        let suspect_leaf = link(done_rx)?;
        if let Err(e) = reader.join().expect("the log reader panicked") {
            return Err(VerifyFailure::At {
                seq: e.seq(),
                what: e
                    .to_string()
                    .split_once(": ")
                    .map_or(e.to_string(), |(_, w)| w.to_string()),
            });
        }
        Ok(suspect_leaf)
    })?;
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
    if let Some(leaf) = suspect_leaf {
        return Err(VerifyFailure::Index {
            seq: leaf,
            file: "tree.idx",
        });
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
