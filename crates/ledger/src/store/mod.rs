//! Storage on disk: `records.log` (the append-only source of truth) and
//! indexes derived from it. The only module that touches sled, and the only
//! one that writes files in the data directory.
//!
//! Layout of a data directory:
//! - `records.log`: [`LOG_MAGIC`], then one frame per record (see `frame`).
//!   Appended with `pwrite` and made durable with `fdatasync` before any
//!   append is acknowledged.
//! - `offsets.idx`, `ids.idx`, `tree.idx`: fixed-width files of frame
//!   offsets, record ids and perfect Merkle subtree hashes (see `flat`),
//!   written after the log. Which record has an id is found through a table
//!   in memory over `ids.idx` (see `ids`).
//! - `format`: the store's format version (see `directory`, which also
//!   keeps the directory private: 0700, its files 0600).
//! - `index/`: sled 0.34.7, one tree `index` with two keys: `h` the
//!   acknowledged head; `s` how many records the fixed-width files are known
//!   to hold durably (u64 LE); and the side tables (`side/<name>`). Older
//!   versions also kept every record's id there (`i`+uuid); an open moves
//!   them out (see `upgrade`).
//!
//! sled's `flush` does not empty the disk's write cache (sled issue 1452),
//! so the log file, which we fsync ourselves, is what makes a write durable;
//! everything else is rebuilt from the log for whatever it lost. The head
//! kept in sled is a second witness: a log shorter than it is refused.

pub mod directory;
mod flat;
mod ids;
mod snapshot;
mod upgrade;
pub use directory::{Contents, FORMAT, contents};
pub use snapshot::{Loaded, SnapshotBody, SnapshotWriter};

use flat::{FixedFile, nodes_before, tree_position};
use ids::{ID_WIDTH, IdTable, MAX_RECORDS};

use super::chain::{ChainChecker, ChainProblem, Checked};
use super::digest::Digest;
use super::frame::{self, Entry, FRAME_HEADER_LEN, FrameError, LOG_MAGIC};
use super::merkle::{CompactRange, NodeId, NodeSource, TreeSize};
use super::record::{Record, Seq, Timestamp};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use uuid::Uuid;

const LOG_FILE: &str = "records.log";
const INDEX_DIR: &str = "index";
/// The sled tree of the head and how far the derived files are durable.
const INDEX_TREE: &str = "index";
const OFFSETS_FILE: &str = "offsets.idx";
const IDS_FILE: &str = "ids.idx";
const LOCK_FILE: &str = "lock";
const TREE_FILE: &str = "tree.idx";
const HEAD_KEY: &[u8] = b"h";
const SYNCED_KEY: &[u8] = b"s";
/// The fixed-width files are fsync'd at least this often (in records), which
/// bounds what must be re-derived from the log after a crash.
const DERIVED_SYNC_EVERY: u64 = 1 << 16;
/// Bytes of the log read at once by a scan of all of it.
const SCAN_BUFFER: usize = 1 << 20;

/// What can go wrong with the store. Messages say what to do where they can.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("the index database failed: {0}")]
    Index(String),
    #[error(
        "the data directory {dir} is in use by another jointly process (or its lock is stale); stop that process first"
    )]
    Locked { dir: PathBuf },
    #[error(
        "records were lost: {acknowledged} records were acknowledged but {log} holds only {held}; restore the data directory from a backup or an export"
    )]
    Lost {
        acknowledged: u64,
        held: u64,
        log: PathBuf,
    },
    #[error(
        "the store is damaged at record {seq}: {what}; restore the data directory from a backup or an export"
    )]
    Damaged { seq: Seq, what: String },
    #[error("{0} is not a jointly record log (its first bytes are wrong)")]
    NotALog(PathBuf),
    #[error(
        "the store refused further writes after a disk failure it could not undo; restart jointly so it can re-check the log"
    )]
    Poisoned,
    #[error("batch does not continue the log: {0}")]
    NotContinuous(String),
    #[error("the log holds {held} records and this version indexes at most {limit}")]
    Full { held: u64, limit: u64 },
    #[error(
        "the data directory {dir} is open to other users of this machine (mode {mode:04o}), and a store holds personal data; make it private with `chmod -R go-rwx {word}`, then start jointly again",
        word = directory::shell_word(.dir)
    )]
    Exposed { dir: PathBuf, mode: u32 },
    #[error(
        "the data directory {dir} holds a store in format {found}, which a newer version of jointly wrote; this version reads format {reads} and older. Run the newer version; to go back to this one, export the store with the newer version and import the bundle with this one"
    )]
    NewerFormat {
        dir: PathBuf,
        found: u32,
        reads: u32,
    },
    #[error(
        "{path} should hold the store's format version (a number, {FORMAT} for this version) but holds {text:?}; restore the data directory from a backup"
    )]
    BadFormat { path: PathBuf, text: String },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

fn index_err(e: sled::Error) -> StoreError {
    StoreError::Index(e.to_string())
}

/// The log's acknowledged end: what has been made durable and answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of records (the next sequence number).
    pub size: u64,
    /// Byte offset just past the last frame in `records.log`.
    pub end: u64,
    /// Chain hash of the last record (zero for the empty log).
    pub last_hash: Digest,
    /// Merkle root of the whole log.
    pub root: Digest,
}

impl Head {
    fn empty() -> Self {
        Head {
            size: 0,
            end: LOG_MAGIC.len() as u64,
            last_hash: Digest::ZERO,
            root: super::merkle::empty_root(),
        }
    }
    fn encode(&self) -> [u8; 80] {
        let mut b = [0u8; 80];
        b[0..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..16].copy_from_slice(&self.end.to_le_bytes());
        b[16..48].copy_from_slice(&self.last_hash.0);
        b[48..80].copy_from_slice(&self.root.0);
        b
    }
    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        if b.len() != 80 {
            return Err(StoreError::Index(format!(
                "head entry has {} bytes, not 80",
                b.len()
            )));
        }
        Ok(Head {
            size: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            end: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            last_hash: Digest(b[16..48].try_into().unwrap()),
            root: Digest(b[48..80].try_into().unwrap()),
        })
    }
}

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Records found in the log beyond the index and indexed again.
    pub reindexed: u64,
    /// A torn, never-acknowledged tail moved aside: (file, bytes).
    pub torn_tail: Option<(PathBuf, u64)>,
    /// Files and folders in the directory that others could read, made
    /// private (see `directory`).
    pub made_private: u64,
    /// Those that could not be made private, each with why.
    pub left_open: Vec<(PathBuf, String)>,
}

/// A record ready to be written: its entry and what was computed from it.
pub struct Prepared {
    pub entry: Entry,
    pub checked: Checked,
}

struct Writer {
    log: File,
    /// The three derived files, written and synced together (see
    /// [`Writer::write_derived`] and [`Writer::sync_derived`]).
    offsets: FixedFile,
    ids: FixedFile,
    tree: FixedFile,
    /// Records the fixed-width files hold durably.
    synced: u64,
    head: Head,
    frontier: CompactRange,
    last_at: Option<Timestamp>,
    poisoned: bool,
    /// Set once `open` has finished: only then may Drop mark files durable.
    opened: bool,
}

/// The data directory, open. Cheap to share behind an `Arc`; reads never
/// take the writer's lock.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    index: sled::Tree,
    reader: File,
    offsets: FixedFile,
    ids: FixedFile,
    /// Which record has each id; only the writer, holding its lock,
    /// changes it.
    id_table: RwLock<IdTable>,
    tree: FixedFile,
    writer: Mutex<Writer>,
    head: RwLock<Head>,
    /// Fault injection for tests: how many coming writes at each [`Fault`]
    /// point fail as if the disk were full.
    failing_writes: [AtomicU32; Fault::COUNT],
    /// Held by a snapshot being saved, and by an erasure while it removes
    /// the snapshots (see `snapshot`).
    snapshot_lock: Mutex<()>,
    /// The lock on the data directory (`lock`), held while open: taken
    /// before anything in the directory is changed, even sled's.
    _lock: File,
}

/// Where a test can make the next writes fail as a full disk would.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// `records.log` (part of the batch reaches the file first).
    RecordLog = 0,
    /// `offsets.idx`, `ids.idx` and `tree.idx`, after the log was made
    /// durable.
    DerivedFiles = 1,
    /// The sled index, after the derived files were written.
    Index = 2,
}

impl Fault {
    const COUNT: usize = 3;
}

impl Store {
    /// Opens (creating if needed) the data directory, checks the stored head
    /// against the log, and indexes any durable records the index missed.
    /// A directory an older version wrote, with the record ids in sled and
    /// no `ids.idx`, gets its derived files rebuilt from the log once and
    /// the ids taken out of sled.
    pub fn open(dir: &Path) -> Result<(Arc<Store>, OpenReport), StoreError> {
        directory::prepare(dir)?;
        let log_path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&log_path)
            .map_err(io_err(format!("cannot open {}", log_path.display())))?;
        let lock = lock_dir(dir)?;
        let format = directory::check_format(dir)?;
        let tightened = directory::tighten(dir)?;
        upgrade::settle(dir)?;
        let db = upgrade::without_old_ids(dir, open_index(dir)?)?;
        let index = db.open_tree(INDEX_TREE).map_err(index_err)?;
        let log_len = ensure_magic(&mut log, &log_path)?;
        let reader = log
            .try_clone()
            .map_err(io_err(format!("cannot open {}", log_path.display())))?;

        let head = match index.get(HEAD_KEY).map_err(index_err)? {
            Some(bytes) => Head::decode(&bytes)?,
            None => Head::empty(),
        };
        let synced = match index.get(SYNCED_KEY).map_err(index_err)? {
            Some(b) if b.len() == 8 => u64::from_le_bytes(b.as_ref().try_into().unwrap()),
            _ => 0,
        };
        let open_flat = |name: &str, width| FixedFile::open(&dir.join(name), width);
        let (offsets_w, ids_w, tree_w) = (
            open_flat(OFFSETS_FILE, 8)?,
            open_flat(IDS_FILE, ID_WIDTH)?,
            open_flat(TREE_FILE, 32)?,
        );
        let ids = open_flat(IDS_FILE, ID_WIDTH)?;
        if log_len < head.end {
            let held = count_frames(&reader, log_len).unwrap_or(0);
            return Err(StoreError::Lost {
                acknowledged: head.size,
                held,
                log: log_path,
            });
        }
        let store = Store {
            dir: dir.to_path_buf(),
            db,
            index,
            reader,
            offsets: open_flat(OFFSETS_FILE, 8)?,
            id_table: RwLock::new(IdTable::build(&ids, 0)?),
            ids,
            tree: open_flat(TREE_FILE, 32)?,
            writer: Mutex::new(Writer {
                log,
                offsets: offsets_w,
                ids: ids_w,
                tree: tree_w,
                synced,
                head,
                frontier: CompactRange::default(),
                last_at: None,
                poisoned: false,
                opened: false,
            }),
            head: RwLock::new(head),
            failing_writes: Default::default(),
            snapshot_lock: Mutex::new(()),
            _lock: lock,
        };
        store.rederive(&head, false)?;
        if store.check_head(&head).is_err() {
            // The derived files may be what is damaged: rebuild them all from
            // the log, and blame a record only if the log itself is wrong.
            store.rederive(&head, true)?;
            store.check_head(&head)?;
        }
        *store.id_table.write().expect("id table lock") = IdTable::build(&store.ids, head.size)?;
        let mut report = store.recover_tail(log_len)?;
        // Only once everything above holds: a directory an older version
        // wrote is now in this version's format.
        if format != Some(directory::FORMAT) {
            directory::write_format(dir)?;
        }
        report.made_private = tightened.made_private;
        report.left_open = tightened.left_open;
        store.writer.lock().expect("writer lock").opened = true;
        Ok((Arc::new(store), report))
    }

    /// Rebuilds the fixed-width files for the records past the point they
    /// were last known durable, from the log, and checks the result against
    /// the head. After a clean close there is nothing to do.
    fn rederive(&self, head: &Head, from_scratch: bool) -> Result<(), StoreError> {
        let mut w = self.writer.lock().expect("writer lock");
        let mut trusted = w
            .synced
            .min(head.size)
            .min(w.offsets.len()?)
            .min(w.ids.len()?);
        let tree_items = w.tree.len()?;
        while nodes_before(trusted) > tree_items {
            trusted -= 1;
        }
        if from_scratch {
            trusted = 0;
            w.synced = 0;
        }
        if trusted < head.size {
            let damaged = |seq, what: &str| StoreError::Damaged {
                seq,
                what: what.into(),
            };
            let (start, last_hash, last_at) = if trusted == 0 {
                (LOG_MAGIC.len() as u64, Digest::ZERO, None)
            } else {
                let (frame, entry) = self
                    .read_entry_at_seq(trusted - 1)?
                    .ok_or(damaged(trusted - 1, "no offset"))?;
                let record = Record::from_canonical(&entry.record)
                    .map_err(|e| damaged(trusted - 1, &e.to_string()))?;
                (
                    frame.end,
                    super::digest::record_hash(&entry.record),
                    Some(record.at()),
                )
            };
            let frontier = CompactRange::load(self, TreeSize(trusted))?;
            let mut checker = ChainChecker::resume(trusted, last_hash, last_at, frontier.clone());
            let mut edge = frontier;
            let mut scan = self.scan_from(start, head.end, SCAN_BUFFER)?;
            scan.next_seq = trusted;
            let (mut offs, mut ids, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
            let mut first_seq = trusted;
            loop {
                let offset = scan.offset;
                let Some((_, entry)) = scan
                    .next_entry()
                    .map_err(|e| damaged(e.seq(), &e.to_string()))?
                else {
                    break;
                };
                let checked = checker.check(&entry)?;
                offs.extend_from_slice(&offset.to_le_bytes());
                ids.extend_from_slice(checked.record.id().as_bytes());
                edge.push(checked.leaf, |_, h| nodes.extend_from_slice(&h.0));
                if offs.len() >= 8 << 16 {
                    w.write_derived(first_seq, &offs, &ids, &nodes)?;
                    first_seq += (offs.len() / 8) as u64;
                    offs.clear();
                    ids.clear();
                    nodes.clear();
                }
            }
            w.write_derived(first_seq, &offs, &ids, &nodes)?;
            if checker.size() != head.size
                || checker.last_hash() != head.last_hash
                || checker.root() != head.root
            {
                return Err(damaged(
                    head.size.saturating_sub(1),
                    "the log does not lead to the acknowledged head",
                ));
            }
        }
        w.offsets.truncate(head.size)?;
        w.ids.truncate(head.size)?;
        w.tree.truncate(nodes_before(head.size))?;
        // Sync what was rebuilt even where the files were said to be
        // durable already (an older version's directory had no ids.idx).
        if trusted < head.size || w.synced != head.size || from_scratch {
            w.sync_derived()?;
            self.index
                .insert(SYNCED_KEY, &head.size.to_le_bytes())
                .map_err(index_err)?;
            self.db.flush().map_err(index_err)?;
            w.synced = head.size;
        }
        Ok(())
    }

    /// The quick check at open: the last indexed record is where the head
    /// says, hashes to the head's hash, and the stored tree has its root.
    fn check_head(&self, head: &Head) -> Result<(), StoreError> {
        let frontier = CompactRange::load(self, TreeSize(head.size))?;
        if frontier.root() != head.root {
            return Err(StoreError::Damaged {
                seq: head.size.saturating_sub(1),
                what: "the stored Merkle tree does not match the stored head".into(),
            });
        }
        let mut last_at = None;
        if head.size > 0 {
            let seq = head.size - 1;
            let (frame, entry) = self.read_entry_at_seq(seq)?.ok_or(StoreError::Damaged {
                seq,
                what: "the index has no entry for the last record".into(),
            })?;
            let damaged = |what: &str| StoreError::Damaged {
                seq,
                what: what.into(),
            };
            let record = Record::from_canonical(&entry.record)
                .map_err(|e| damaged(&format!("the last record cannot be read: {e}")))?;
            if record.seq() != seq {
                return Err(damaged("the last record has another sequence number"));
            }
            if record.hash() != head.last_hash {
                return Err(damaged("the last record does not hash to the stored head"));
            }
            if frame.end != head.end {
                return Err(damaged("the last record does not end where the head says"));
            }
            let mut id = [0u8; ID_WIDTH as usize];
            if self.ids.read(seq, &mut id).is_err() || id != *record.id().as_bytes() {
                return Err(damaged("ids.idx does not hold the last record's id"));
            }
            last_at = Some(record.at());
        }
        let mut w = self.writer.lock().expect("writer lock");
        w.frontier = frontier;
        w.last_at = last_at;
        Ok(())
    }

    /// Indexes durable frames past the indexed head; moves a torn final
    /// frame (one that was never acknowledged) aside instead of serving it.
    fn recover_tail(&self, log_len: u64) -> Result<OpenReport, StoreError> {
        let mut report = OpenReport::default();
        let head = self.head();
        if log_len == head.end {
            return Ok(report);
        }
        let mut w = self.writer.lock().expect("writer lock");
        let mut checker =
            ChainChecker::resume(head.size, head.last_hash, w.last_at, w.frontier.clone());
        let mut scan = self.scan_from(head.end, log_len, SCAN_BUFFER)?;
        let mut batch = Vec::new();
        let mut bad_at = None;
        loop {
            match scan.next_entry() {
                Ok(None) => break,
                Ok(Some((_, entry))) => match checker.check(&entry) {
                    Ok(checked) => batch.push(Prepared { entry, checked }),
                    Err(_) => {
                        bad_at = Some(scan.last_offset);
                        break;
                    }
                },
                Err(_) => {
                    bad_at = Some(scan.last_offset);
                    break;
                }
            }
        }
        if let Some(at) = bad_at {
            let stamp = Timestamp::now().unix_micros();
            let torn = self.dir.join(format!("torn-tail-at-{at}-{stamp}.bin"));
            let mut bytes = vec![0u8; (log_len - at) as usize];
            self.reader
                .read_exact_at(&mut bytes, at)
                .map_err(io_err("cannot read the log's tail"))?;
            // Keep the bytes durably before cutting them from the log.
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&torn)
                .and_then(|mut f| {
                    io::Write::write_all(&mut f, &bytes)?;
                    f.sync_all()
                })
                .and_then(|()| File::open(&self.dir)?.sync_all())
                .map_err(io_err(format!("cannot write {}", torn.display())))?;
            w.log
                .set_len(at)
                .map_err(io_err("cannot truncate the torn tail of the log"))?;
            w.log.sync_all().map_err(io_err("cannot sync the log"))?;
            report.torn_tail = Some((torn, bytes.len() as u64));
        }
        report.reindexed = batch.len() as u64;
        if !batch.is_empty() {
            // These frames are in the log but perhaps not yet on disk (the
            // writer died before its fsync): make them durable, then index.
            w.log.sync_data().map_err(io_err("cannot sync the log"))?;
            self.commit_locked(&mut w, batch, false)?;
        }
        Ok(report)
    }

    /// The acknowledged head.
    pub fn head(&self) -> Head {
        *self.head.read().expect("head lock")
    }

    /// Takes the single writer's lock for one batch.
    pub(crate) fn writer(&self) -> WriterGuard<'_> {
        WriterGuard {
            store: self,
            w: self.writer.lock().expect("writer lock"),
        }
    }

    /// Writes a checked batch: log frames and fdatasync; offsets, ids and
    /// tree nodes (synced every [`DERIVED_SYNC_EVERY`] records); the head
    /// in sled (flushed by sled within half a second); the ids in the
    /// table; then publishes the new head. Nothing is visible before.
    fn commit_locked(
        &self,
        w: &mut Writer,
        batch: Vec<Prepared>,
        write_log: bool,
    ) -> Result<Head, StoreError> {
        if w.poisoned {
            return Err(StoreError::Poisoned);
        }
        let start = w.head;
        if start.size + batch.len() as u64 > MAX_RECORDS {
            return Err(StoreError::Full {
                held: start.size,
                limit: MAX_RECORDS,
            });
        }
        let mut frontier = w.frontier.clone();
        let mut ids = Vec::with_capacity(batch.len() * ID_WIDTH as usize);
        let mut buf = Vec::with_capacity(batch.iter().map(|p| p.entry.encoded_len()).sum());
        let mut offs = Vec::with_capacity(batch.len() * 8);
        let mut nodes = Vec::with_capacity(batch.len() * 64 + 64 * 32);
        let mut end = start.end;
        let mut last_hash = start.last_hash;
        let mut last_at = w.last_at;
        for (i, p) in batch.iter().enumerate() {
            let seq = start.size + i as u64;
            if p.checked.record.seq() != seq || p.checked.record.prev() != last_hash {
                return Err(StoreError::NotContinuous(format!(
                    "record {} does not follow record {}",
                    p.checked.record.seq(),
                    seq.wrapping_sub(1)
                )));
            }
            offs.extend_from_slice(&end.to_le_bytes());
            ids.extend_from_slice(p.checked.record.id().as_bytes());
            frontier.push(p.checked.leaf, |_, h| nodes.extend_from_slice(&h.0));
            p.entry.encode_into(&mut buf);
            end += p.entry.encoded_len() as u64;
            last_hash = p.checked.hash;
            last_at = Some(p.checked.record.at());
        }
        let head = Head {
            size: start.size + batch.len() as u64,
            end,
            last_hash,
            root: frontier.root(),
        };
        if write_log {
            let injected = self.injected(Fault::RecordLog).is_err();
            let written = if injected {
                // Half the batch reaches the file, then the disk is "full".
                let _ = w.log.write_all_at(&buf[..buf.len() / 2], start.end);
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ))
            } else {
                w.log.write_all_at(&buf, start.end)
            };
            if let Err(e) = written {
                // Leave no partial frame behind (a full disk, say); the next
                // append can try again once there is room.
                let _ = w.log.set_len(start.end);
                return Err(io_err("cannot write to the record log")(e));
            }
            if let Err(e) = w.log.sync_data() {
                // After a failed fsync the kernel's view of the file cannot be
                // trusted; refuse writes until a restart re-checks the log.
                w.poisoned = true;
                return Err(io_err("cannot flush the record log to disk")(e));
            }
        }
        // The log is durable, but nothing is acknowledged until the derived
        // files and the index hold the batch too. If writing them fails (a
        // full disk), the batch is taken back off the log, so the error is
        // the whole truth and the next append can simply try again.
        let written = w
            .write_derived(start.size, &offs, &ids, &nodes)
            .and_then(|()| self.injected(Fault::DerivedFiles));
        if let Err(e) = written {
            return Err(self.take_back(w, start, e));
        }
        let mut synced = w.synced;
        if head.size - w.synced >= DERIVED_SYNC_EVERY {
            // A failed fsync leaves the page cache untrustworthy: refuse
            // writes until a restart rebuilds the derived files from the log.
            if let Err(e) = w.sync_derived() {
                w.poisoned = true;
                return Err(e);
            }
            synced = head.size;
        }
        // How far the derived files are durable, then the head. Not a
        // sled::Batch: sled writes out its whole buffer before and after
        // every batch (two writes and a wake-up of its seven I/O threads),
        // which cost more than anything else in a commit. Single inserts are
        // as safe here: sled recovers a prefix of its writes.
        // No flush: the log is already durable and the rest is derived from
        // it. sled writes it out within half a second, and a start after a
        // crash indexes whatever durable frames it lacks (`recover_tail`).
        let indexed = match synced == w.synced {
            true => Ok(()),
            false => self
                .index
                .insert(SYNCED_KEY, &synced.to_le_bytes())
                .map(drop),
        }
        .and_then(|()| {
            self.index
                .insert(HEAD_KEY, head.encode().as_slice())
                .map(drop)
        })
        .map_err(index_err)
        .and_then(|()| self.injected(Fault::Index));
        if let Err(e) = indexed {
            return Err(self.take_back(w, start, e));
        }
        if let Err(e) = self.place_ids(&ids, start.size) {
            return Err(self.take_back(w, start, e));
        }
        w.head = head;
        w.synced = synced;
        w.frontier = frontier;
        w.last_at = last_at;
        *self.head.write().expect("head lock") = head;
        Ok(head)
    }

    /// The frame offset of record `seq`, if it is indexed.
    fn offset_of(&self, seq: Seq) -> Result<Option<u64>, StoreError> {
        if seq >= self.offsets.len()? {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        self.offsets.read(seq, &mut b)?;
        Ok(Some(u64::from_le_bytes(b)))
    }

    /// Record `seq`'s entry and where its frame lies in the log. The frame
    /// can be longer than the entry's encoding: an erased frame keeps the
    /// room its payload took.
    fn read_entry_at_seq(&self, seq: Seq) -> Result<Option<(Range<u64>, Entry)>, StoreError> {
        let Some(offset) = self.offset_of(seq)? else {
            return Ok(None);
        };
        let damaged = |e: FrameError| StoreError::Damaged {
            seq,
            what: e.to_string(),
        };
        let mut header = [0u8; FRAME_HEADER_LEN];
        self.reader
            .read_exact_at(&mut header, offset)
            .map_err(io_err(format!("cannot read record {seq}")))?;
        let len = frame::frame_len(&header).map_err(damaged)?;
        let mut bytes = vec![0u8; len];
        self.reader
            .read_exact_at(&mut bytes, offset)
            .map_err(io_err(format!("cannot read record {seq}")))?;
        let entry = frame::decode(&bytes).map_err(damaged)?;
        Ok(Some((offset..offset + len as u64, entry)))
    }

    /// For fault-injection tests: the next `n` writes at `point` fail as
    /// they would on a full disk.
    #[doc(hidden)]
    pub fn fail_next_writes(&self, point: Fault, n: u32) {
        self.failing_writes[point as usize].store(n, Ordering::SeqCst);
    }

    /// The injected failure at `point`, if one is due.
    fn injected(&self, point: Fault) -> Result<(), StoreError> {
        let due = self.failing_writes[point as usize]
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        match due {
            false => Ok(()),
            true => Err(io_err(format!("cannot write the {point:?} (injected)"))(
                io::Error::new(io::ErrorKind::StorageFull, "no space left on device"),
            )),
        }
    }

    /// Undoes a batch that reached the log but was never acknowledged, and
    /// returns `cause` for the caller to report. The index goes back first,
    /// durably, so it never names frames the log no longer holds; then the
    /// frames come off the log. Bytes the derived files hold past the head
    /// are harmless: the next batch overwrites them. If the undo fails too,
    /// the writer refuses further writes until a restart re-checks the log.
    fn take_back(&self, w: &mut Writer, start: Head, cause: StoreError) -> StoreError {
        // The head first, so no restart trusts the derived files past it
        // (readers never look past the published head).
        let undone = self
            .index
            .insert(HEAD_KEY, start.encode().as_slice())
            .and_then(|_| self.index.insert(SYNCED_KEY, &w.synced.to_le_bytes()))
            .and_then(|_| self.db.flush().map(drop))
            .map_err(index_err)
            .and_then(|()| {
                w.log
                    .set_len(start.end)
                    .and_then(|()| w.log.sync_data())
                    .map_err(io_err("cannot take unacknowledged records off the log"))
            });
        if undone.is_err() {
            w.poisoned = true;
        }
        cause
    }

    /// Erases the salt and payload of each record in `seqs` where it lies:
    /// overwrites them with zeros, marks the frame erased, and flushes. The
    /// record, and so the chain and the tree, stay as they were. Erasing a
    /// record twice does nothing the second time. Not atomic across a crash:
    /// callers keep a journal and call again (see `coproduction::privacy`).
    pub fn erase_payloads(&self, seqs: &[Seq]) -> Result<(), StoreError> {
        // A snapshot may hold the text about to be erased: it goes first,
        // and none is saved until the payloads are zeros.
        let _snapshots = self
            .snapshot_lock
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        self.remove_snapshots()?;
        let writer = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        for &seq in seqs {
            if seq >= self.head().size {
                return Err(StoreError::Damaged {
                    seq,
                    what: "there is no such record to erase".into(),
                });
            }
            let offset = self.offset_of(seq)?.ok_or(StoreError::Damaged {
                seq,
                what: "no offset for this record".into(),
            })?;
            let mut header = [0u8; FRAME_HEADER_LEN];
            self.reader
                .read_exact_at(&mut header, offset)
                .map_err(io_err(format!("cannot read record {seq}")))?;
            let (record_len, payload_len) = frame::part_lens(&header);
            let start = offset + (FRAME_HEADER_LEN + record_len) as u64;
            let zeros = vec![0u8; 32 + payload_len];
            let write = |bytes: &[u8], at: u64| {
                self.reader
                    .write_all_at(bytes, at)
                    .map_err(io_err(format!("cannot erase record {seq}")))
            };
            // Zeros first: a crash between the two leaves a frame that reads
            // as damaged, never one that still holds the payload.
            write(&zeros, start)?;
            if payload_len > 0 || header[8] == 0 {
                write(&[frame::STATE_ERASED], offset + frame::STATE_OFFSET)?;
            }
        }
        self.reader
            .sync_data()
            .map_err(io_err("cannot flush records.log".to_string()))?;
        drop(writer);
        Ok(())
    }

    /// Record `seq` as stored, or `None` past the head.
    pub fn read(&self, seq: Seq) -> Result<Option<Entry>, StoreError> {
        if seq >= self.head().size {
            return Ok(None);
        }
        Ok(self.read_entry_at_seq(seq)?.map(|(_, e)| e))
    }

    /// The sequence number of the record with this id.
    pub fn seq_of(&self, id: &Uuid) -> Result<Option<Seq>, StoreError> {
        let below = self.head().size;
        self.id_table
            .read()
            .map_err(|_| StoreError::Poisoned)?
            .find(id, below, &self.ids)
    }

    /// Places a committed batch's ids, `ids` from record `from` on, in
    /// the table of ids; a new table twice the size when it would be
    /// more than half full, built while readers use the old one.
    fn place_ids(&self, ids: &[u8], from: Seq) -> Result<(), StoreError> {
        let n = ids.len() as u64 / ID_WIDTH;
        let grown = {
            let table = self.id_table.read().map_err(|_| StoreError::Poisoned)?;
            match table.has_room(n) {
                true => None,
                false => Some(table.grown(&self.ids, from + n)?),
            }
        };
        let mut table = self.id_table.write().map_err(|_| StoreError::Poisoned)?;
        match grown {
            Some(grown) => *table = grown,
            None => {
                for (i, id) in ids.chunks_exact(ID_WIDTH as usize).enumerate() {
                    table.place(id.try_into().expect("16 bytes"), from + i as u64);
                }
            }
        }
        Ok(())
    }

    /// Streams the log from record `from` up to the head as it is now.
    pub fn scan(&self, from: Seq) -> Result<Scan, StoreError> {
        self.scan_to(from, &self.head())
    }

    /// Streams the log from record `from` up to a head read earlier.
    pub fn scan_to(&self, from: Seq, head: &Head) -> Result<Scan, StoreError> {
        self.scan_to_with(from, head, SCAN_BUFFER)
    }

    /// [`scan_to`](Self::scan_to) reading `buffer` bytes at a time: a page
    /// of a hundred records needs a fraction of the megabyte a whole scan
    /// reads at once, and four readers at once held four of them.
    pub fn scan_to_with(&self, from: Seq, head: &Head, buffer: usize) -> Result<Scan, StoreError> {
        let mut scan = self.scan_from(self.scan_start(from, head)?, head.end, buffer)?;
        scan.next_seq = from.min(head.size);
        Ok(scan)
    }

    /// Reads the log from record `from` up to a head read earlier, in blocks
    /// of whole frames, for a verifier that checks blocks in parallel.
    pub fn frame_blocks_to(&self, from: Seq, head: &Head) -> Result<FrameBlocks, StoreError> {
        let start = self.scan_start(from, head)?;
        let mut file =
            File::open(self.dir.join(LOG_FILE)).map_err(io_err("cannot open the record log"))?;
        io::Seek::seek(&mut file, io::SeekFrom::Start(start))
            .map_err(io_err("cannot seek in the record log"))?;
        Ok(FrameBlocks {
            file,
            offset: start,
            read_to: start,
            end: head.end,
            next_seq: from.min(head.size),
            carry: Vec::new(),
            block_bytes: BLOCK_BYTES,
        })
    }

    /// Where record `from` starts, for a read up to `head`.
    fn scan_start(&self, from: Seq, head: &Head) -> Result<u64, StoreError> {
        Ok(if from == 0 {
            // Never trust an index for where the log begins.
            LOG_MAGIC.len() as u64
        } else if from >= head.size {
            head.end
        } else {
            self.offset_of(from)?.ok_or(StoreError::Damaged {
                seq: from,
                what: "the index has no entry for it".into(),
            })?
        })
    }

    fn scan_from(&self, start: u64, end: u64, buffer: usize) -> Result<Scan, StoreError> {
        // A file of its own: a clone would share the file offset with every
        // other scan, and concurrent scans would read each other's bytes.
        let file =
            File::open(self.dir.join(LOG_FILE)).map_err(io_err("cannot open the record log"))?;
        let mut reader = BufReader::with_capacity(buffer, file);
        io::Seek::seek(&mut reader, io::SeekFrom::Start(start))
            .map_err(io_err("cannot seek in the record log"))?;
        Ok(Scan {
            reader,
            offset: start,
            end,
            last_offset: start,
            next_seq: 0,
        })
    }

    /// Reads `offsets.idx`, `ids.idx` and `tree.idx` in order from record
    /// `from`, so a verifier can compare every item with what the records
    /// give; `buffer` bytes of each at a time.
    pub fn derived_scan(&self, from: Seq, buffer: usize) -> Result<DerivedScan, StoreError> {
        let open = |name: &str, at: u64| -> Result<BufReader<File>, StoreError> {
            let file =
                File::open(self.dir.join(name)).map_err(io_err(format!("cannot open {name}")))?;
            let mut r = BufReader::with_capacity(buffer, file);
            io::Seek::seek(&mut r, io::SeekFrom::Start(at))
                .map_err(io_err(format!("cannot seek in {name}")))?;
            Ok(r)
        };
        Ok(DerivedScan {
            offsets: open(OFFSETS_FILE, 8 * from)?,
            ids: open(IDS_FILE, ID_WIDTH * from)?,
            tree: open(TREE_FILE, 32 * nodes_before(from))?,
        })
    }

    /// Size of the data directory's files, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            match fs::metadata(p) {
                Ok(m) if m.is_dir() => fs::read_dir(p)
                    .map(|rd| rd.flatten().map(|e| walk(&e.path())).sum())
                    .unwrap_or(0),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        }
        walk(&self.dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file's length in bytes.
    pub fn log_len(&self) -> Result<u64, StoreError> {
        Ok(self
            .reader
            .metadata()
            .map_err(io_err("cannot read the log's size"))?
            .len())
    }

    /// The number of whole frames the log file holds (slow: reads each header).
    pub fn count_log_frames(&self) -> Result<u64, StoreError> {
        let len = self
            .reader
            .metadata()
            .map_err(io_err("cannot read the log's size"))?
            .len();
        count_frames(&self.reader, len)
    }
}

/// A key and its value in a [`SideTable`].
pub type SideEntry = (Vec<u8>, Vec<u8>);

/// A small key-value table beside the log for what is not history
/// (credentials, remembered answers): kept in sled, flushed on every write.
/// Names are the caller's; keys and values are bytes.
#[derive(Clone)]
pub struct SideTable {
    db: sled::Db,
    tree: sled::Tree,
}

impl SideTable {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key).map_err(index_err)?.map(|v| v.to_vec()))
    }

    /// Stores `value` under `key`, durably (as far as sled's flush goes).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, value).map_err(index_err)?;
        self.db.flush().map_err(index_err)?;
        Ok(())
    }

    /// Stores `value` under `key` without waiting for it to reach the disk:
    /// it becomes durable with the store's next flush (the next append's, or
    /// sled's own within half a second). For values that can be rebuilt if
    /// lost, like a checkpoint over records that were already flushed.
    pub fn put_deferred(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, value).map_err(index_err)?;
        Ok(())
    }

    /// Stores `value` under `key` only if the key is absent; returns the
    /// value already there otherwise.
    pub fn put_new(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let swapped = self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))
            .map_err(index_err)?;
        self.db.flush().map_err(index_err)?;
        Ok(swapped.err().and_then(|e| e.current.map(|v| v.to_vec())))
    }

    /// [`put_new`](Self::put_new) without waiting for the disk: durable
    /// with the next [`flush`](Self::flush), or sled's own within half a
    /// second. sled keeps a prefix of its writes through a crash, so of
    /// several writes the later are never kept without the earlier.
    pub fn put_new_deferred(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let swapped = self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))
            .map_err(index_err)?;
        Ok(swapped.err().and_then(|e| e.current.map(|v| v.to_vec())))
    }

    /// Makes the deferred writes durable (as far as sled's flush goes).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(index_err)?;
        Ok(())
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.tree.remove(key).map_err(index_err)?;
        self.db.flush().map_err(index_err)?;
        Ok(())
    }

    /// Removes `key` and returns what it held, in one step: of two callers
    /// taking the same key at once, one gets the value and one `None`.
    pub fn take(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.tree.remove(key).map_err(index_err)?;
        self.db.flush().map_err(index_err)?;
        Ok(old.map(|v| v.to_vec()))
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<SideEntry>, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(index_err))
            .collect()
    }
}

impl Store {
    /// A small secret file in the data directory (mode 0600), made by
    /// `make` the first time and read back ever after.
    pub fn secret_file(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let path = self.dir.join(name);
        if let Ok(text) = fs::read_to_string(&path) {
            return Ok(text.trim_end().to_string());
        }
        let text = make();
        write_durably(&path, format!("{text}\n").as_bytes(), 0o600)
            .map_err(io_err(format!("cannot write {}", path.display())))?;
        Ok(text)
    }

    /// The names of the side tables the store holds (for a complete
    /// backup, which carries them all).
    pub fn side_table_names(&self) -> Vec<String> {
        self.db
            .tree_names()
            .iter()
            .filter_map(|n| {
                std::str::from_utf8(n)
                    .ok()?
                    .strip_prefix("side/")
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The side table called `name` (created if new). Its contents are not
    /// part of the log and are not verified or exported.
    pub fn side_table(&self, name: &str) -> Result<SideTable, StoreError> {
        Ok(SideTable {
            db: self.db.clone(),
            tree: self
                .db
                .open_tree(format!("side/{name}"))
                .map_err(index_err)?,
        })
    }
}

impl Writer {
    /// Writes the derived items of records from `seq` on: their frame
    /// offsets and ids, and the tree nodes their leaves completed.
    fn write_derived(
        &self,
        seq: Seq,
        offsets: &[u8],
        ids: &[u8],
        nodes: &[u8],
    ) -> Result<(), StoreError> {
        self.offsets.write(seq, offsets)?;
        self.ids.write(seq, ids)?;
        self.tree.write(nodes_before(seq), nodes)
    }

    /// Makes the three derived files durable.
    fn sync_derived(&self) -> Result<(), StoreError> {
        self.offsets.sync()?;
        self.ids.sync()?;
        self.tree.sync()
    }
}

impl Drop for Store {
    /// A clean close makes the fixed-width files durable and says so, so the
    /// next open has nothing to rebuild.
    fn drop(&mut self) {
        let Ok(w) = self.writer.get_mut() else {
            return;
        };
        if !w.opened || w.poisoned || w.synced == w.head.size {
            return;
        }
        let synced = w.head.size;
        let done = w.sync_derived().and_then(|()| {
            self.index
                .insert(SYNCED_KEY, &synced.to_le_bytes())
                .map_err(index_err)?;
            self.db.flush().map_err(index_err)
        });
        if done.is_ok() {
            w.synced = synced;
        }
    }
}

impl NodeSource for Store {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Digest, StoreError> {
        let mut hash = [0u8; 32];
        match self.tree.read(tree_position(id), &mut hash) {
            Ok(()) => Ok(Digest(hash)),
            Err(_) => Err(StoreError::Damaged {
                seq: id.index << id.level,
                what: format!(
                    "the Merkle node at level {} index {} is missing",
                    id.level, id.index
                ),
            }),
        }
    }
}

/// The writer's lock, held while a batch is prepared and committed, so the
/// head it was prepared against cannot move.
pub struct WriterGuard<'a> {
    store: &'a Store,
    w: MutexGuard<'a, Writer>,
}

impl WriterGuard<'_> {
    pub fn head(&self) -> Head {
        self.w.head
    }
    pub fn frontier(&self) -> &CompactRange {
        &self.w.frontier
    }
    /// Time of the last record, so new records never go back in time.
    pub fn last_at(&self) -> Option<Timestamp> {
        self.w.last_at
    }
    pub(crate) fn commit(mut self, batch: Vec<Prepared>) -> Result<Head, StoreError> {
        self.store.commit_locked(&mut self.w, batch, true)
    }
}

/// Sequential readers of the fixed-width files (see [`Store::derived_scan`]).
pub struct DerivedScan {
    offsets: BufReader<File>,
    ids: BufReader<File>,
    tree: BufReader<File>,
}

impl DerivedScan {
    /// The next frame offset, or `None` if the file ends.
    pub fn next_offset(&mut self) -> Option<u64> {
        let mut b = [0u8; 8];
        self.offsets.read_exact(&mut b).ok()?;
        Some(u64::from_le_bytes(b))
    }
    /// The next record id, or `None` if the file ends.
    pub fn next_id(&mut self) -> Option<Uuid> {
        let mut b = [0u8; ID_WIDTH as usize];
        self.ids.read_exact(&mut b).ok()?;
        Some(Uuid::from_bytes(b))
    }
    /// The next perfect subtree hash, or `None` if the file ends.
    pub fn next_node(&mut self) -> Option<Digest> {
        let mut b = [0u8; 32];
        self.tree.read_exact(&mut b).ok()?;
        Some(Digest(b))
    }
}

/// Reads frames in order from the log with a large buffer.
pub struct Scan {
    reader: BufReader<File>,
    offset: u64,
    end: u64,
    /// Offset of the frame most recently started.
    pub last_offset: u64,
    next_seq: Seq,
}

impl Scan {
    /// The next frame and the sequence number it should hold.
    pub fn next_entry(&mut self) -> Result<Option<(Seq, Entry)>, ScanError> {
        if self.offset >= self.end {
            return Ok(None);
        }
        self.last_offset = self.offset;
        let seq = self.next_seq;
        let available = self.end - self.offset;
        let mut header = [0u8; FRAME_HEADER_LEN];
        if available < FRAME_HEADER_LEN as u64 {
            return Err(ScanError::Frame(
                seq,
                FrameError::Truncated {
                    have: available as usize,
                    need: FRAME_HEADER_LEN,
                },
            ));
        }
        self.reader
            .read_exact(&mut header)
            .map_err(|e| ScanError::Io(seq, e))?;
        let len = frame::frame_len(&header).map_err(|e| ScanError::Frame(seq, e))?;
        if (len as u64) > available {
            return Err(ScanError::Frame(
                seq,
                FrameError::Truncated {
                    have: available as usize,
                    need: len,
                },
            ));
        }
        let (record_len, payload_len) = frame::part_lens(&header);
        let mut record = vec![0u8; record_len];
        let mut salt = [0u8; 32];
        let mut payload = vec![0u8; payload_len];
        self.reader
            .read_exact(&mut record)
            .and_then(|()| self.reader.read_exact(&mut salt))
            .and_then(|()| self.reader.read_exact(&mut payload))
            .map_err(|e| ScanError::Io(seq, e))?;
        let entry = frame::assemble(&header, record, salt, payload)
            .map_err(|e| ScanError::Frame(seq, e))?;
        self.offset += len as u64;
        self.next_seq += 1;
        Ok(Some((seq, entry)))
    }

    /// Bytes of the log this scan covers.
    pub fn remaining_bytes(&self) -> u64 {
        self.end - self.offset
    }
}

/// Bytes a [`FrameBlocks`] reads at a time.
const BLOCK_BYTES: usize = 1 << 18;

/// Reads the log in blocks of whole frames (see [`Store::frame_blocks_to`]).
pub struct FrameBlocks {
    file: File,
    /// Where the next frame starts, and its sequence number.
    offset: u64,
    next_seq: Seq,
    /// How far the file has been read, and where to stop.
    read_to: u64,
    end: u64,
    /// Bytes read past the last whole frame handed out (they start at `offset`).
    carry: Vec<u8>,
    block_bytes: usize,
}

/// Whole frames read together, checked as frames (lengths, state, zeros
/// where a payload was erased) but not yet as records.
pub struct FrameBlock {
    bytes: Vec<u8>,
    frames: Vec<(Seq, u64, Range<usize>)>,
}

impl FrameBlock {
    pub fn len(&self) -> usize {
        self.frames.len()
    }
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
    /// Each frame's sequence number and entry.
    pub fn entries(&self) -> impl Iterator<Item = (Seq, frame::EntryRef<'_>)> {
        self.frames.iter().map(|(seq, _, range)| {
            let entry = frame::view(&self.bytes[range.clone()]).expect("checked when read");
            (*seq, entry)
        })
    }
    /// Each frame's offset in the log, in the same order.
    pub fn offsets(&self) -> impl Iterator<Item = u64> {
        self.frames.iter().map(|(_, offset, _)| *offset)
    }
    /// The block's buffer, to read the next block into.
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }
}

impl FrameBlocks {
    /// The next block of about [`BLOCK_BYTES`], reusing `buffer`. It stops
    /// at the first frame it cannot read, with the frames before it and the
    /// error; an empty block and no error is the end.
    pub fn next_block(&mut self, mut buffer: Vec<u8>) -> (FrameBlock, Option<ScanError>) {
        // The buffer keeps its length from block to block and only `filled`
        // bytes of it belong to this one, so reading never zeroes it again.
        let mut filled = self.carry.len();
        if buffer.len() < filled {
            buffer.resize(filled, 0);
        }
        buffer[..filled].copy_from_slice(&self.carry);
        let mut frames = Vec::new();
        let mut at = 0;
        let error = loop {
            if self.offset >= self.end {
                break None;
            }
            let seq = self.next_seq;
            let available = self.end - self.offset;
            let truncated = |need| {
                ScanError::Frame(
                    seq,
                    FrameError::Truncated {
                        have: available as usize,
                        need,
                    },
                )
            };
            if available < FRAME_HEADER_LEN as u64 {
                break Some(truncated(FRAME_HEADER_LEN));
            }
            let first = frames.is_empty();
            match self.holds(&mut buffer, &mut filled, at + FRAME_HEADER_LEN, first) {
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(ScanError::Io(seq, e)),
            }
            let header = buffer[at..at + FRAME_HEADER_LEN]
                .try_into()
                .expect("9 bytes");
            let len = match frame::frame_len(header) {
                Ok(len) => len,
                Err(e) => break Some(ScanError::Frame(seq, e)),
            };
            if len as u64 > available {
                break Some(truncated(len));
            }
            match self.holds(&mut buffer, &mut filled, at + len, first) {
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(ScanError::Io(seq, e)),
            }
            if let Err(e) = frame::view(&buffer[at..at + len]) {
                break Some(ScanError::Frame(seq, e));
            }
            frames.push((seq, self.offset, at..at + len));
            at += len;
            self.offset += len as u64;
            self.next_seq += 1;
        };
        self.carry.clear();
        self.carry.extend_from_slice(&buffer[at..filled]);
        (
            FrameBlock {
                bytes: buffer,
                frames,
            },
            error,
        )
    }

    /// Whether the `filled` bytes of `buffer` hold `need`. A frame that is
    /// not all there ends the block, unless it is the block's `first`: then
    /// read on.
    fn holds(
        &mut self,
        buffer: &mut Vec<u8>,
        filled: &mut usize,
        need: usize,
        first: bool,
    ) -> io::Result<bool> {
        if *filled >= need {
            return Ok(true);
        }
        if !first {
            return Ok(false);
        }
        self.read_more(buffer, filled, need)?;
        Ok(true)
    }

    /// Reads on until `buffer` holds at least `need` bytes (the caller
    /// knows the log has them), and a block's worth if the log has that.
    /// One `read` a block: `read_to_end` would read in growing steps.
    fn read_more(
        &mut self,
        buffer: &mut Vec<u8>,
        filled: &mut usize,
        need: usize,
    ) -> io::Result<()> {
        let want = (need.max(self.block_bytes) - *filled).min((self.end - self.read_to) as usize);
        let until = *filled + want;
        if buffer.len() < until {
            buffer.resize(until, 0);
        }
        self.file
            .read_exact(&mut buffer[*filled..until])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the record log is shorter than its head says",
                ),
                _ => e,
            })?;
        self.read_to += want as u64;
        *filled = until;
        Ok(())
    }

    /// Reads blocks of about `bytes` instead of [`BLOCK_BYTES`]: tests use
    /// small blocks to spread a short log over many blocks.
    #[doc(hidden)]
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(1);
        self
    }
}

/// A frame that could not be read during a scan, with the seq it would hold.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("record {0}: {1}")]
    Frame(Seq, FrameError),
    #[error("record {0}: cannot read the log: {1}")]
    Io(Seq, io::Error),
}

impl ScanError {
    pub fn seq(&self) -> Seq {
        match self {
            ScanError::Frame(s, _) | ScanError::Io(s, _) => *s,
        }
    }
}

impl From<ChainProblem> for StoreError {
    fn from(p: ChainProblem) -> Self {
        StoreError::Damaged {
            seq: p.seq,
            what: p.what,
        }
    }
}

/// Takes the data directory's own lock, or says another process holds it.
/// Released when the store is dropped. A store of this same program being
/// closed (its last handle held a moment longer by a thread finishing) is
/// waited out briefly, as sled's lock is in [`open_index`].
fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(format!("cannot open {}", path.display())))?;
    waiting_out_a_close(dir, || match file.try_lock() {
        Ok(()) => Ok(Some(())),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => {
            Err(io_err(format!("cannot lock {}", path.display()))(e))
        }
    })?;
    Ok(file)
}

/// Tries `attempt` (`None`: the directory is locked) every 20 ms for up to
/// 3 s, so that a store of this same program that is closing is waited
/// out; after that, the directory is reported in use.
fn waiting_out_a_close<T>(
    dir: &Path,
    mut attempt: impl FnMut() -> Result<Option<T>, StoreError>,
) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Opens the sled index. sled releases its file lock from background
/// threads a moment after the last handle is dropped, so a lock held by
/// this same program closing is waited out briefly before giving up.
fn open_index(dir: &Path) -> Result<sled::Db, StoreError> {
    waiting_out_a_close(dir, || {
        let result = sled::Config::new()
            .path(dir.join(INDEX_DIR))
            .cache_capacity(16 << 20)
            .open();
        match result {
            Ok(db) => Ok(Some(db)),
            Err(sled::Error::Io(io))
                if io.kind() == io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
            {
                Ok(None)
            }
            Err(other) => Err(index_err(other)),
        }
    })
}

/// Writes the magic into a new log, or checks it in an existing one.
fn ensure_magic(log: &mut File, path: &Path) -> Result<u64, StoreError> {
    let len = log
        .metadata()
        .map_err(io_err(format!("cannot read {}", path.display())))?
        .len();
    if len == 0 {
        log.write_all_at(LOG_MAGIC, 0)
            .and_then(|()| log.sync_all())
            .map_err(io_err(format!("cannot write {}", path.display())))?;
        if let Some(parent) = path.parent() {
            // Make the new file's directory entry durable too.
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(io_err(format!("cannot sync {}", parent.display())))?;
        }
        return Ok(LOG_MAGIC.len() as u64);
    }
    let mut magic = [0u8; 16];
    if len < 16 || log.read_exact_at(&mut magic, 0).is_err() || &magic != LOG_MAGIC {
        return Err(StoreError::NotALog(path.to_path_buf()));
    }
    Ok(len)
}

/// Counts whole frames in the first `len` bytes (for loss reports).
fn count_frames(file: &File, len: u64) -> Result<u64, StoreError> {
    let mut offset = LOG_MAGIC.len() as u64;
    let mut n = 0;
    let mut header = [0u8; FRAME_HEADER_LEN];
    while offset + FRAME_HEADER_LEN as u64 <= len {
        file.read_exact_at(&mut header, offset)
            .map_err(io_err("cannot read the record log"))?;
        match frame::frame_len(&header) {
            Ok(l) if offset + l as u64 <= len => {
                offset += l as u64;
                n += 1;
            }
            _ => break,
        }
    }
    Ok(n)
}

/// Replaces the file at `path` with `bytes` so that a crash leaves either
/// the old file or the new one, never a mixture: a temporary file beside it,
/// synced, renamed over it, and the directory synced. New files get `mode`.
pub fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    // A temporary file of its own for every write: two writers of one
    // file must never share (and so interleave in) a temporary file.
    let mut nonce = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let tmp = dir.join(format!(".{name}.{}.new", hex::encode(nonce)));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)?.sync_all()
}
