//! Snapshots: a state derived from the log (the co-production model),
//! saved beside it at a known size, so that opening need not fold the
//! whole log again.
//!
//! The bytes are the caller's. The store writes them with the size and
//! Merkle root they were made at, the caller's format key, and a hash of
//! the bytes, and offers them back only while all of these still hold:
//! a log rewritten, truncated or restored elsewhere, a damaged file, or a
//! program that folds differently, each makes the snapshot unused (and
//! removed), never wrong.
//!
//! A snapshot may hold free text copied from payloads, so
//! [`Store::erase_payloads`] removes every snapshot before it zeroes a
//! payload, under the lock a save holds from before the caller reads its
//! state until the file is in place: a save cannot put back text that an
//! erasure has removed.
//!
//! The body is in sections, each read by its own reader, so that a
//! caller can decode them on several cores at once.
//!
//! File layout: magic (8 bytes), format key (32), size (8, LE), root (32);
//! the sections, one after another; then for each section its length
//! (8, LE) and BLAKE3 hash (32); then the number of sections (8, LE).

use super::{Store, StoreError, io_err};
use crate::digest::Digest;
use crate::merkle::{self, TreeSize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::MutexGuard;

const DIR: &str = "snapshots";
const MAGIC: &[u8; 8] = b"JLYSNAP1";
const HEADER_LEN: u64 = 8 + 32 + 8 + 32;
/// Per section, in the trailer.
const SECTION_LEN: u64 = 8 + 32;
const MAX_SECTIONS: u64 = 64;

/// What [`Store::load_snapshot`] found.
#[derive(Debug)]
pub enum Loaded<T> {
    /// The state as saved after the first `size` records.
    Used { size: u64, state: T },
    /// There is no snapshot of that name.
    Absent,
    /// There was one, no longer usable (and now removed): why.
    Discarded(String),
}

/// A snapshot being written. Holds the snapshot lock from
/// [`Store::begin_snapshot`] until [`finish`](Self::finish) or drop; the
/// temporary file is removed if it is dropped unfinished.
pub struct SnapshotWriter<'s> {
    store: &'s Store,
    _lock: MutexGuard<'s, ()>,
    name: String,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    hasher: blake3::Hasher,
    section_len: u64,
    /// Length and hash of each section finished.
    sections: Vec<(u64, [u8; 32])>,
    started: bool,
}

impl Store {
    fn snapshot_path(&self, name: &str) -> PathBuf {
        self.dir.join(DIR).join(format!("{name}.snapshot"))
    }

    /// Starts a snapshot called `name`. Read the state to save only after
    /// this returns: until the writer is finished or dropped, an erasure
    /// waits.
    pub fn begin_snapshot(&self, name: &str) -> Result<SnapshotWriter<'_>, StoreError> {
        let lock = self
            .snapshot_lock
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        let dir = self.dir.join(DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(format!("cannot create {}", dir.display())))?;
        let tmp = dir.join(format!("{name}.snapshot.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(format!("cannot create {}", tmp.display())))?;
        Ok(SnapshotWriter {
            store: self,
            _lock: lock,
            name: name.to_owned(),
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: blake3::Hasher::new(),
            section_len: 0,
            sections: Vec::new(),
            started: false,
        })
    }

    /// The snapshot called `name`, if it was made with `format` from a
    /// prefix of this log, read by `read` from its sections (in the order
    /// written; each must be read to its end). A snapshot that fails any
    /// check is removed and `Discarded` says why.
    pub fn load_snapshot<T>(
        &self,
        name: &str,
        format: &[u8; 32],
        read: impl FnOnce(&mut [SnapshotBody]) -> Result<T, String>,
    ) -> Result<Loaded<T>, StoreError> {
        let path = self.snapshot_path(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Absent),
            Err(e) => return Err(io_err(format!("cannot open {}", path.display()))(e)),
        };
        match self.check_snapshot(&file, format, read) {
            Ok((size, state)) => Ok(Loaded::Used { size, state }),
            Err(why) => {
                self.remove_snapshot_file(&path)?;
                Ok(Loaded::Discarded(why))
            }
        }
    }

    fn check_snapshot<T>(
        &self,
        file: &File,
        format: &[u8; 32],
        read: impl FnOnce(&mut [SnapshotBody]) -> Result<T, String>,
    ) -> Result<(u64, T), String> {
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let short = || "the file is cut short".to_string();
        if len < HEADER_LEN + 8 {
            return Err(short());
        }
        let mut header = [0u8; HEADER_LEN as usize];
        let mut count = [0u8; 8];
        file.read_exact_at(&mut header, 0)
            .and_then(|()| file.read_exact_at(&mut count, len - 8))
            .map_err(|e| e.to_string())?;
        if &header[..8] != MAGIC {
            return Err("it is not a snapshot".into());
        }
        if &header[8..40] != format {
            return Err("it was made by a program that folds the log differently".into());
        }
        let size = u64::from_le_bytes(header[40..48].try_into().expect("8 bytes"));
        let root = Digest(header[48..80].try_into().expect("32 bytes"));
        let count = u64::from_le_bytes(count);
        if count > MAX_SECTIONS || len < HEADER_LEN + 8 + count * SECTION_LEN {
            return Err(short());
        }
        let trailer_at = len - 8 - count * SECTION_LEN;
        let mut trailer = vec![0u8; (count * SECTION_LEN) as usize];
        file.read_exact_at(&mut trailer, trailer_at)
            .map_err(|e| e.to_string())?;
        let sections: Vec<(u64, [u8; 32])> = trailer
            .chunks_exact(SECTION_LEN as usize)
            .map(|c| {
                let n = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                (n, c[8..].try_into().expect("32 bytes"))
            })
            .collect();
        if sections.iter().map(|(n, _)| *n).sum::<u64>() != trailer_at - HEADER_LEN {
            return Err(short());
        }
        let held = self.head().size;
        if size > held {
            return Err(format!(
                "it was made at {size} records; the log holds {held}"
            ));
        }
        match merkle::root(self, TreeSize(size)) {
            Ok(r) if r == root => {}
            Ok(_) => {
                return Err(format!(
                    "the log's first {size} records are not those it was made from"
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
        let mut bodies = Vec::with_capacity(sections.len());
        let mut at = HEADER_LEN;
        for (n, _) in &sections {
            let file = file.try_clone().map_err(|e| e.to_string())?;
            // Hashed in large pieces under the buffer (the reader above
            // takes a few bytes at a time).
            bodies.push(SnapshotBody(BufReader::with_capacity(
                1 << 20,
                Hashing {
                    inner: Span {
                        file,
                        at,
                        end: at + n,
                    },
                    hasher: blake3::Hasher::new(),
                },
            )));
            at += n;
        }
        let state = read(&mut bodies)?;
        for (i, (mut body, (_, hash))) in bodies.into_iter().zip(&sections).enumerate() {
            if io::copy(&mut body, &mut io::sink()).map_err(|e| e.to_string())? != 0 {
                return Err(format!("its section {i} has bytes its reader did not use"));
            }
            if body.0.into_inner().hasher.finalize().as_bytes() != hash {
                return Err(format!(
                    "its section {i} is not what was written (hash differs)"
                ));
            }
        }
        Ok((size, state))
    }

    /// Removes the snapshot called `name`, if there is one.
    pub fn remove_snapshot(&self, name: &str) -> Result<(), StoreError> {
        let _lock = self
            .snapshot_lock
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        self.remove_snapshot_file(&self.snapshot_path(name))
    }

    /// The size of the log the snapshot called `name` says it was made
    /// at, if there is one (unchecked: for deciding when to save again).
    pub fn snapshot_size(&self, name: &str) -> Option<u64> {
        let file = File::open(self.snapshot_path(name)).ok()?;
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut header, 0).ok()?;
        (&header[..8] == MAGIC)
            .then(|| u64::from_le_bytes(header[40..48].try_into().expect("8 bytes")))
    }

    /// Removes every snapshot (before an erasure: they may hold its text).
    pub(super) fn remove_snapshots(&self) -> Result<(), StoreError> {
        let dir = self.dir.join(DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("cannot read {}", dir.display()))(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(format!("cannot read {}", dir.display())))?;
            self.remove_snapshot_file(&entry.path())?;
        }
        Ok(())
    }

    fn remove_snapshot_file(&self, path: &std::path::Path) -> Result<(), StoreError> {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("cannot remove {}", path.display()))(e)),
        }
        let dir = path.parent().unwrap_or(&self.dir);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("cannot sync {}", dir.display())))
    }
}

impl SnapshotWriter<'_> {
    /// Writes the header: the state about to be written is that of the
    /// first `size` records. Call once, before the body.
    pub fn start(&mut self, size: u64, format: &[u8; 32]) -> Result<(), StoreError> {
        let held = self.store.head().size;
        if size > held || self.started {
            return Err(StoreError::NotContinuous(format!(
                "a snapshot at {size} records of a log of {held}"
            )));
        }
        let root = merkle::root(self.store, TreeSize(size))?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(format);
        header.extend_from_slice(&size.to_le_bytes());
        header.extend_from_slice(&root.0);
        self.out
            .as_mut()
            .expect("open until finished")
            .write_all(&header)
            .map_err(io_err(format!("cannot write {}", self.tmp.display())))?;
        self.started = true;
        Ok(())
    }

    /// Ends a section: what is written next is read by the next reader.
    pub fn next_section(&mut self) {
        let hasher = std::mem::replace(&mut self.hasher, blake3::Hasher::new());
        self.sections
            .push((self.section_len, *hasher.finalize().as_bytes()));
        self.section_len = 0;
    }

    /// Puts the snapshot in place, durably, replacing any before it.
    pub fn finish(mut self) -> Result<(), StoreError> {
        let ctx = format!("cannot write {}", self.tmp.display());
        if !self.started {
            return Err(StoreError::NotContinuous(
                "a snapshot with no header".into(),
            ));
        }
        self.next_section();
        let mut trailer = Vec::with_capacity(self.sections.len() * SECTION_LEN as usize + 8);
        for (n, hash) in &self.sections {
            trailer.extend_from_slice(&n.to_le_bytes());
            trailer.extend_from_slice(hash);
        }
        trailer.extend_from_slice(&(self.sections.len() as u64).to_le_bytes());
        let mut out = self.out.take().expect("open until finished");
        out.write_all(&trailer).map_err(io_err(ctx.clone()))?;
        let file = out
            .into_inner()
            .map_err(|e| io_err(ctx.clone())(e.into_error()))?;
        file.sync_all().map_err(io_err(ctx))?;
        let path = self.store.snapshot_path(&self.name);
        fs::rename(&self.tmp, &path).map_err(io_err(format!("cannot write {}", path.display())))?;
        let dir = self.store.dir.join(DIR);
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("cannot sync {}", dir.display())))
    }
}

impl Write for SnapshotWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.started {
            return Err(io::Error::other("a snapshot's body before its header"));
        }
        let n = self.out.as_mut().expect("open until finished").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.section_len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().expect("open until finished").flush()
    }
}

impl Drop for SnapshotWriter<'_> {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A snapshot's body, as its reader sees it: buffered, and hashed in
/// large pieces underneath. A concrete type (not `dyn Read`) so that a
/// decoder taking a byte at a time reads from the buffer without a call.
pub struct SnapshotBody(BufReader<Hashing<Span>>);

impl Read for SnapshotBody {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    #[inline]
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        // The common case, inline: all of it is in the buffer already.
        let held = self.0.buffer();
        if held.len() >= buf.len() {
            buf.copy_from_slice(&held[..buf.len()]);
            self.0.consume(buf.len());
            return Ok(());
        }
        self.0.read_exact(buf)
    }
}

/// Part of a file, read by position: sections read at once on several
/// threads share no file offset.
pub struct Span {
    file: File,
    at: u64,
    end: u64,
}

impl Read for Span {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.at) as usize);
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// A reader that hashes what passes through it.
pub struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
