//! `Ledger`: appending events and reading them back, over the store.
//!
//! Appending builds each record (sequence number, UUID v7, time, salt,
//! commitment, previous hash) under the writer's lock, so a batch is always
//! built against the head it will extend.

use super::canonical::CanonicalPayload;
use super::chain::ChainChecker;
use super::digest::{self, Digest, Salt};
use super::frame::Entry;
use super::merkle::{self, NodeSource, TreeSize};
use super::record::{Actor, EventType, Record, Seq, Timestamp};
use super::store::{Head, OpenReport, Prepared, Store, StoreError};
use super::tiles;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

/// An event to append: the server supplies the actor, never the client.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The sequence number the caller expects to be the last of the stream
    /// this event belongs to (optimistic concurrency); what a stream is,
    /// the admission decides.
    pub expected: Option<Seq>,
    pub event_type: EventType,
    pub actor: Actor,
    pub payload: CanonicalPayload,
}

/// The answer to an append, once durable.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Appended {
    pub seq: Seq,
    pub id: Uuid,
    pub hash: Digest,
}

/// A record read back, with its payload unless redacted.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub record: Record,
    pub hash: Digest,
    pub payload: Option<CanonicalPayload>,
    /// The salt of the payload's commitment (with the payload, so that a
    /// reader who has the payload can check it against the record).
    pub salt: Option<Salt>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record {seq}: {what}; run `jointly verify`")]
    Corrupt { seq: Seq, what: String },
    #[error(transparent)]
    Proof(#[from] merkle::ProofError),
}

/// Decides, event by event, whether an append may be made. It sees each
/// event with the record it would become, against a state that includes
/// the earlier events of the same batch, and applies what it admits.
pub trait Admission {
    type Refusal;
    fn admit(
        &mut self,
        record: &Record,
        payload: &CanonicalPayload,
        expected: Option<Seq>,
    ) -> Result<(), Self::Refusal>;
    /// The batch whose events were admitted was not written: forget them.
    fn discard_batch(&mut self) {}
    /// The batch is settled: what was admitted is on disk (or nothing
    /// was). Called once per batch that was not discarded.
    fn batch_done(&mut self) {}
    /// Stored records changed under the admission (payloads erased): read
    /// them again, so nothing erased stays in memory.
    fn reload(&mut self) {}
}

/// Admits every event (a plain log with no rules).
pub struct AdmitAll;

impl Admission for AdmitAll {
    type Refusal = std::convert::Infallible;
    fn admit(
        &mut self,
        _: &Record,
        _: &CanonicalPayload,
        _: Option<Seq>,
    ) -> Result<(), Self::Refusal> {
        Ok(())
    }
}

/// An open log.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<Store>,
}

impl Ledger {
    pub fn open(dir: &Path) -> Result<(Ledger, OpenReport), LedgerError> {
        let (store, report) = Store::open(dir)?;
        Ok((Ledger { store }, report))
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn head(&self) -> Head {
        self.store.head()
    }

    /// Appends events in order as one durable batch.
    pub fn append_batch(&self, events: Vec<NewEvent>) -> Result<Vec<Appended>, LedgerError> {
        let results = self.append_admitted(events, &mut AdmitAll)?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                Ok(a) => a,
                Err(never) => match never {},
            })
            .collect())
    }

    /// Appends the events that `admission` admits, in order, as one durable
    /// batch; each refused event gets its refusal and takes no number. If
    /// the batch cannot be written, `admission.discard_batch()` is called.
    pub fn append_admitted<A: Admission>(
        &self,
        events: Vec<NewEvent>,
        admission: &mut A,
    ) -> Result<Vec<Result<Appended, A::Refusal>>, LedgerError> {
        let writer = self.store.writer();
        let head = writer.head();
        let mut checker = ChainChecker::resume(
            head.size,
            head.last_hash,
            writer.last_at(),
            writer.frontier().clone(),
        );
        let mut at = writer.last_at();
        let mut batch = Vec::with_capacity(events.len());
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            // The server's clock, but never earlier than the record before.
            let now = Timestamp::now();
            let this_at = at.map_or(now, |last| last.max(now));
            let salt = Salt::random();
            let commitment = digest::payload_commitment(&salt, event.payload.as_bytes());
            let record = Record::new(
                checker.size(),
                Uuid::now_v7(),
                this_at,
                event.actor,
                event.event_type,
                checker.last_hash(),
                commitment,
            );
            if let Err(refusal) = admission.admit(&record, &event.payload, event.expected) {
                answers.push(Err(refusal));
                continue;
            }
            at = Some(this_at);
            let entry = Entry {
                record: record.canonical_bytes(),
                payload: Some((salt, event.payload.into_bytes())),
            };
            let checked = match checker.check(&entry) {
                Ok(c) => c,
                Err(p) => {
                    admission.discard_batch();
                    return Err(LedgerError::Corrupt {
                        seq: p.seq,
                        what: format!("a record built for appending does not check: {}", p.what),
                    });
                }
            };
            answers.push(Ok(Appended {
                seq: checked.record.seq(),
                id: checked.record.id(),
                hash: checked.hash,
            }));
            batch.push(Prepared { entry, checked });
        }
        if batch.is_empty() {
            admission.batch_done();
            return Ok(answers);
        }
        if let Err(e) = writer.commit(batch) {
            admission.discard_batch();
            return Err(e.into());
        }
        admission.batch_done();
        Ok(answers)
    }

    /// Runs `admission` over `events` as if they were appended next, in
    /// order, without writing anything (give it a copy: it applies what it
    /// admits). For refusing a whole file of events before any is written;
    /// the records it sees carry provisional ids, times and hashes. Returns
    /// the index of the first refused event and why.
    pub fn dry_run<A: Admission>(
        &self,
        events: &[NewEvent],
        admission: &mut A,
    ) -> Result<(), (usize, A::Refusal)> {
        let first = self.head().size;
        for (i, event) in events.iter().enumerate() {
            let record = Record::new(
                first + i as u64,
                Uuid::now_v7(),
                Timestamp::now(),
                event.actor.clone(),
                event.event_type.clone(),
                Digest::ZERO,
                Digest::ZERO,
            );
            admission
                .admit(&record, &event.payload, event.expected)
                .map_err(|r| (i, r))?;
        }
        Ok(())
    }

    /// Appends entries that already hold their records (an import): each
    /// must continue the log exactly.
    pub fn append_entries(&self, entries: Vec<Entry>) -> Result<Head, LedgerError> {
        let writer = self.store.writer();
        let head = writer.head();
        let mut checker = ChainChecker::resume(
            head.size,
            head.last_hash,
            writer.last_at(),
            writer.frontier().clone(),
        );
        let mut batch = Vec::with_capacity(entries.len());
        for entry in entries {
            let checked = checker.check(&entry).map_err(|p| LedgerError::Corrupt {
                seq: p.seq,
                what: p.what,
            })?;
            batch.push(Prepared { entry, checked });
        }
        Ok(writer.commit(batch)?)
    }

    /// Record `seq` and its payload. A payload that does not match the
    /// record's commitment is an error, never served.
    /// The record's bytes must also match the leaf hash stored when it was
    /// appended, so a record changed on disk is refused, not served.
    pub fn get(&self, seq: Seq) -> Result<Option<StoredEvent>, LedgerError> {
        let Some(entry) = self.store.read(seq)? else {
            return Ok(None);
        };
        self.check_leaf(seq, &entry)?;
        decode_entry(seq, entry).map(Some)
    }

    pub fn get_by_id(&self, id: &Uuid) -> Result<Option<StoredEvent>, LedgerError> {
        let Some(seq) = self.store.seq_of(id)? else {
            return Ok(None);
        };
        let event = self.get(seq)?;
        if let Some(e) = &event
            && e.record.id() != *id
        {
            return Err(LedgerError::Corrupt {
                seq,
                what: format!("the id index points record {id} at a record with another id"),
            });
        }
        Ok(event)
    }

    fn check_leaf(&self, seq: Seq, entry: &Entry) -> Result<(), LedgerError> {
        let stored = self
            .store
            .node(merkle::NodeId::leaf(merkle::LeafIndex(seq)))?;
        if merkle::leaf_hash(&entry.record) != stored {
            return Err(LedgerError::Corrupt {
                seq,
                what: "the record differs from the one appended".into(),
            });
        }
        Ok(())
    }

    /// Up to `limit` events from `from` on, in order.
    pub fn range(&self, from: Seq, limit: usize) -> Result<Vec<StoredEvent>, LedgerError> {
        let head = self.head();
        // Buffers for about `limit` records (a few hundred bytes each, two
        // tree nodes each), not for the whole log.
        let records = limit.clamp(16, 4096);
        let mut scan = self
            .store
            .scan_to_with(from, &head, (records * 1024).min(1 << 20))?;
        // Stored leaf hashes, read in order beside the log: pushing leaf k
        // completed 1 + trailing_ones(k) subtrees, the leaf first.
        let mut tree = self.store.derived_scan(from, records * 64)?;
        let mut out = Vec::new();
        while out.len() < limit {
            match scan.next_entry() {
                Ok(Some((seq, entry))) => {
                    let stored = tree.next_node();
                    for _ in 0..seq.trailing_ones() {
                        tree.next_node();
                    }
                    if stored != Some(merkle::leaf_hash(&entry.record)) {
                        return Err(LedgerError::Corrupt {
                            seq,
                            what: "the record differs from the one appended".into(),
                        });
                    }
                    out.push(decode_entry(seq, entry)?)
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(LedgerError::Corrupt {
                        seq: e.seq(),
                        what: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The Merkle root at any size up to the current one.
    pub fn root_at(&self, size: u64) -> Result<Digest, LedgerError> {
        self.check_size(size)?;
        Ok(merkle::root(&*self.store, TreeSize(size))?)
    }

    pub fn inclusion_proof(&self, seq: Seq, size: u64) -> Result<Vec<Digest>, LedgerError> {
        self.check_size(size)?;
        Ok(merkle::inclusion_proof(
            &*self.store,
            merkle::LeafIndex(seq),
            TreeSize(size),
        )??)
    }

    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Digest>, LedgerError> {
        self.check_size(to)?;
        Ok(merkle::consistency_proof(
            &*self.store,
            TreeSize(from),
            TreeSize(to),
        )??)
    }

    fn check_size(&self, size: u64) -> Result<(), LedgerError> {
        let current = self.head().size;
        if size > current {
            return Err(merkle::ProofError::SizeOutOfRange { size, current }.into());
        }
        Ok(())
    }

    /// The bytes of a C2SP tile or entry bundle, which the log must hold
    /// all of (see [`tiles::TileId::within`]).
    pub fn tile(&self, tile: tiles::TileId) -> Result<Vec<u8>, LedgerError> {
        self.check_size(tile_end(tile))?;
        if tile.kind() != tiles::Kind::Entries {
            return Ok(tiles::hash_tile(&*self.store, tile)?);
        }
        let first = tile.index() * tiles::TILE_WIDTH;
        let mut records = Vec::with_capacity(usize::from(tile.width()));
        for seq in first..first + u64::from(tile.width()) {
            let entry = self.store.read(seq)?.ok_or_else(|| LedgerError::Corrupt {
                seq,
                what: "the record is missing".into(),
            })?;
            records.push(entry.record);
        }
        Ok(tiles::entry_bundle(records.iter().map(Vec::as_slice)))
    }

    /// A stored perfect-subtree hash (for tests and tools).
    pub fn node(&self, id: merkle::NodeId) -> Result<Digest, LedgerError> {
        Ok(self.store.node(id)?)
    }
}

/// The smallest tree that holds all of `tile`.
fn tile_end(tile: tiles::TileId) -> u64 {
    let level = match tile.kind() {
        tiles::Kind::Hashes(l) => u32::from(l),
        tiles::Kind::Entries => 0,
    };
    (tile.index().saturating_mul(tiles::TILE_WIDTH))
        .saturating_add(u64::from(tile.width()))
        .saturating_mul(1u64.checked_shl(8 * level).unwrap_or(u64::MAX))
}

fn decode_entry(seq: Seq, entry: Entry) -> Result<StoredEvent, LedgerError> {
    let corrupt = |what: String| LedgerError::Corrupt { seq, what };
    let record = Record::from_canonical(&entry.record).map_err(|e| corrupt(e.to_string()))?;
    if record.seq() != seq {
        return Err(corrupt(format!("holds sequence number {}", record.seq())));
    }
    let salt = entry.payload.as_ref().map(|(salt, _)| *salt);
    let payload = match entry.payload {
        Some((salt, bytes)) => {
            if digest::payload_commitment(&salt, &bytes) != record.commitment() {
                return Err(corrupt(
                    "the payload does not match the record's commitment".into(),
                ));
            }
            // The commitment binds these bytes to the record, and the
            // record to the tree; their canonical form was checked when they
            // were appended and is checked again by `verify`.
            Some(CanonicalPayload::trusted(bytes))
        }
        None => None,
    };
    Ok(StoredEvent {
        hash: digest::record_hash(&entry.record),
        record,
        payload,
        salt,
    })
}
