//! Export bundles: a whole log as self-contained JSON Lines, payloads as
//! readable JSON, that anyone can verify and that `import` restores.
//!
//! Line 1 is the header `{"format":"jointly-export","head":..,"root":..,
//! "size":..,"version":1}`; each further line is one record as
//! `{"payload":{..}|null,"record":{..},"salt":"<hex>"|null}`, every line in
//! canonical JSON. See docs/FORMAT.md.

use super::canonical::{self, CanonicalPayload};
use super::chain::ChainChecker;
use super::digest::{Digest, Salt};
use super::frame::Entry;
use super::log::{Ledger, LedgerError};
use super::record::Record;
use serde_json::Value;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const BUNDLE_FORMAT: &str = "jointly-export";
pub const BUNDLE_VERSION: u64 = 1;
const IMPORT_BATCH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}, line {line}: {what}")]
    Line {
        path: PathBuf,
        line: u64,
        what: String,
    },
    #[error("{path}: {what}")]
    Whole { path: PathBuf, what: String },
    #[error(
        "cannot import into {0}: it already holds a store; import restores into a new, empty data directory"
    )]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> BundleError {
    let context = context.into();
    move |source| BundleError::Io { context, source }
}

/// What an export or import covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSummary {
    pub size: u64,
    pub head: Digest,
    pub root: Digest,
}

fn header_line(s: &BundleSummary) -> Vec<u8> {
    let v = serde_json::json!({
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "size": s.size,
        "head": s.head.to_hex(),
        "root": s.root.to_base64(),
    });
    canonical::canonical_bytes(&v)
}

fn entry_line(entry: &Entry, out: &mut Vec<u8>) {
    // Keys in canonical order; record and payload are already canonical.
    out.extend_from_slice(b"{\"payload\":");
    match &entry.payload {
        Some((_, p)) => out.extend_from_slice(p),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"record\":");
    out.extend_from_slice(&entry.record);
    out.extend_from_slice(b",\"salt\":");
    match &entry.payload {
        Some((salt, _)) => {
            out.push(b'"');
            out.extend_from_slice(hex::encode(salt.0).as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// Writes the whole log to `out`, checking every record on the way; the
/// file appears only when complete.
pub fn export(ledger: &Ledger, out: &Path) -> Result<BundleSummary, BundleError> {
    let head = ledger.head();
    let summary = BundleSummary {
        size: head.size,
        head: head.last_hash,
        root: head.root,
    };
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".partial");
    let tmp = PathBuf::from(tmp_name);
    // A bundle holds everything the log does, personal data included:
    // for its owner alone, whatever the umask.
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(format!("cannot create {}", tmp.display())))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let write_err = || io_err(format!("cannot write {}", tmp.display()));
    let mut line = header_line(&summary);
    line.push(b'\n');
    w.write_all(&line).map_err(write_err())?;
    let mut checker = ChainChecker::new();
    let mut scan = ledger.store().scan(0).map_err(LedgerError::from)?;
    for _ in 0..head.size {
        let (seq, entry) = scan
            .next_entry()
            .map_err(|e| LedgerError::Corrupt {
                seq: e.seq(),
                what: e.to_string(),
            })?
            .ok_or(LedgerError::Corrupt {
                seq: checker.size(),
                what: "the log ended early".into(),
            })?;
        checker
            .check(&entry)
            .map_err(|p| LedgerError::Corrupt { seq, what: p.what })?;
        line.clear();
        entry_line(&entry, &mut line);
        line.push(b'\n');
        w.write_all(&line).map_err(write_err())?;
    }
    if checker.last_hash() != summary.head || checker.root() != summary.root {
        drop(w);
        let _ = fs::remove_file(&tmp);
        return Err(LedgerError::Corrupt {
            seq: head.size.saturating_sub(1),
            what: "the records do not lead to the acknowledged head; run `jointly verify`".into(),
        }
        .into());
    }
    let file = w.into_inner().map_err(|e| write_err()(e.into_error()))?;
    file.sync_all().map_err(write_err())?;
    fs::rename(&tmp, out).map_err(io_err(format!(
        "cannot rename {} to {}",
        tmp.display(),
        out.display()
    )))?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err("cannot sync the bundle's directory"))?;
    }
    Ok(summary)
}

/// What a layer above the ledger checks in a bundle besides the chain
/// (for example, that every erased payload was authorised): it sees every
/// record in order, and may refuse one line or the whole bundle. Import
/// asks it before writing anything.
pub trait Inspect {
    /// One record, with its canonical payload bytes unless redacted.
    fn record(&mut self, record: &Record, payload: Option<&[u8]>) -> Result<(), String>;
    /// After the last record.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Checks nothing beyond the chain.
impl Inspect for () {
    fn record(&mut self, _: &Record, _: Option<&[u8]>) -> Result<(), String> {
        Ok(())
    }
}

/// Reads a bundle line by line. Lines end in LF alone, and so does the
/// file: a CR before the LF, or a last line without one (a file cut
/// short), is refused at that line.
struct BundleReader {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line_no: u64,
}

impl BundleReader {
    fn open(path: &Path) -> Result<(Self, BundleSummary), BundleError> {
        let file = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
        let mut r = BundleReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::new(),
            line_no: 0,
        };
        let first = r.next_line()?.ok_or_else(|| BundleError::Whole {
            path: path.to_path_buf(),
            what: "the file is empty; an export bundle starts with a header line".into(),
        })?;
        let summary = r.header(&first)?;
        Ok((r, summary))
    }

    fn bad(&self, what: impl Into<String>) -> BundleError {
        BundleError::Line {
            path: self.path.clone(),
            line: self.line_no,
            what: what.into(),
        }
    }

    fn next_line(&mut self) -> Result<Option<String>, BundleError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(io_err(format!("cannot read {}", self.path.display())))?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let Some(line) = self.buf.strip_suffix(b"\n") else {
            return Err(self.bad(
                "the file does not end with a newline: it may have been cut short (every line, the last too, ends in LF)",
            ));
        };
        if line.ends_with(b"\r") {
            return Err(self.bad(
                "the line ends in CR LF; bundle lines end in LF alone (was it opened and saved on Windows?)",
            ));
        }
        match std::str::from_utf8(line) {
            Ok(text) => Ok(Some(text.to_string())),
            Err(_) => Err(self.bad("the line is not valid UTF-8")),
        }
    }

    fn header(&self, line: &str) -> Result<BundleSummary, BundleError> {
        let v: Value =
            canonical::parse_strict_line(line.as_bytes()).map_err(|e| self.bad(e.to_string()))?;
        let field = |k: &str| {
            v.get(k)
                .ok_or_else(|| self.bad(format!("the header has no {k:?}")))
        };
        if field("format")?.as_str() != Some(BUNDLE_FORMAT) {
            return Err(self.bad(format!(
                "this is not a {BUNDLE_FORMAT} bundle (its header's \"format\" is wrong)"
            )));
        }
        if field("version")?.as_u64() != Some(BUNDLE_VERSION) {
            return Err(self.bad(format!(
                "bundle version {} is not one this program reads ({BUNDLE_VERSION})",
                field("version")?
            )));
        }
        let size = field("size")?
            .as_u64()
            .ok_or_else(|| self.bad("the header's \"size\" is not a whole number"))?;
        let head = Digest::from_hex(field("head")?.as_str().unwrap_or_default())
            .map_err(|e| self.bad(format!("the header's \"head\": {e}")))?;
        let root = Digest::from_base64(field("root")?.as_str().unwrap_or_default())
            .map_err(|e| self.bad(format!("the header's \"root\": {e}")))?;
        Ok(BundleSummary { size, head, root })
    }

    /// The next entry with its record, or `None` at the end.
    fn next_entry(&mut self) -> Result<Option<(Record, Entry)>, BundleError> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        let v = canonical::parse_strict_line(line.as_bytes())
            .map_err(|e| self.bad(format!("the line is not valid JSON: {e}")))?;
        // Export writes canonical lines; anything else was edited.
        if canonical::canonical_bytes(&v) != line.as_bytes() {
            return Err(self.bad("the line is not in canonical form (it was edited after export)"));
        }
        let Value::Object(mut map) = v else {
            return Err(self.bad("each line after the header must be a JSON object"));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !["payload", "record", "salt"].contains(&k.as_str()))
        {
            return Err(self.bad(format!("unexpected field {k:?}")));
        }
        if map.len() != 3 {
            return Err(
                self.bad("each record line must have exactly \"payload\", \"record\" and \"salt\"")
            );
        }
        let record_value = map
            .remove("record")
            .ok_or_else(|| self.bad("the line has no \"record\""))?;
        // Exactly the bytes that were hashed: no other spelling of an id or time.
        let record = Record::from_canonical(&canonical::canonical_bytes(&record_value))
            .map_err(|e| self.bad(format!("\"record\": {e}")))?;
        let payload = match (map.remove("salt"), map.remove("payload")) {
            (Some(Value::String(salt)), Some(p @ Value::Object(_))) => {
                let salt =
                    Digest::from_hex(&salt).map_err(|e| self.bad(format!("\"salt\": {e}")))?;
                let p = CanonicalPayload::from_value(&p).map_err(|e| self.bad(e.to_string()))?;
                Some((Salt(salt.0), p.into_bytes()))
            }
            (None | Some(Value::Null), None | Some(Value::Null)) => None,
            _ => {
                return Err(self.bad(
                    "\"payload\" must be an object with a \"salt\" of 64 hex digits, or both must be null (redacted)",
                ));
            }
        };
        let entry = Entry {
            record: record.canonical_bytes(),
            payload,
        };
        Ok(Some((record, entry)))
    }
}

/// Checks a whole bundle without writing anything: its lines, the chain,
/// the tree, the header, and whatever `inspect` checks.
pub fn check_bundle(
    path: &Path,
    progress: &mut dyn FnMut(u64),
    inspect: &mut dyn Inspect,
) -> Result<BundleSummary, BundleError> {
    let (mut reader, summary) = BundleReader::open(path)?;
    let mut checker = ChainChecker::new();
    // An event id names one record in a log.
    let mut ids = std::collections::HashSet::new();
    while let Some((record, entry)) = reader.next_entry()? {
        checker
            .check(&entry)
            .map_err(|p| reader.bad(format!("record {}: {}", p.seq, p.what)))?;
        if !ids.insert(record.id()) {
            return Err(reader.bad(format!(
                "record {}: its id {} is the id of an earlier record; an id names one record",
                record.seq(),
                record.id()
            )));
        }
        inspect
            .record(&record, entry.payload.as_ref().map(|(_, p)| p.as_slice()))
            .map_err(|what| reader.bad(format!("record {}: {what}", record.seq())))?;
        if checker.size().is_multiple_of(4096) {
            progress(checker.size());
        }
    }
    let whole = |what: String| BundleError::Whole {
        path: path.to_path_buf(),
        what,
    };
    if checker.size() != summary.size {
        return Err(whole(format!(
            "the header says {} records but the bundle holds {}",
            summary.size,
            checker.size()
        )));
    }
    if checker.last_hash() != summary.head {
        return Err(whole(
            "the last record's hash differs from the header's \"head\"".into(),
        ));
    }
    if checker.root() != summary.root {
        return Err(whole(
            "the records' Merkle root differs from the header's \"root\"".into(),
        ));
    }
    inspect.finish().map_err(whole)?;
    Ok(summary)
}

/// Verifies the whole bundle, then restores it into `dir`, which must not
/// hold a store yet. The store is built beside `dir` and moved into place
/// only when complete, so a failed import leaves nothing behind.
pub fn import(
    path: &Path,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
    inspect: &mut dyn Inspect,
) -> Result<BundleSummary, BundleError> {
    import_dropping(path, dir, progress, inspect, &|_| false)
}

/// [`import`], leaving out the payloads of the records `drop` names (an
/// erasure the bundle does not hold yet, whose authorising record will
/// follow it): those records are written erased.
pub fn import_dropping(
    path: &Path,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
    inspect: &mut dyn Inspect,
    drop: &dyn Fn(crate::record::Seq) -> bool,
) -> Result<BundleSummary, BundleError> {
    if dir.exists() {
        let empty = fs::read_dir(dir)
            .map_err(io_err(format!("cannot read {}", dir.display())))?
            .next()
            .is_none();
        if !empty {
            return Err(BundleError::NotEmpty(dir.to_path_buf()));
        }
    }
    let summary = check_bundle(path, progress, inspect)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let staging = dir.with_file_name(format!(".{name}.importing-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let result = (|| {
        let (ledger, _) = Ledger::open(&staging)?;
        let (mut reader, _) = BundleReader::open(path)?;
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        loop {
            let next = reader.next_entry()?;
            let done = next.is_none();
            batch.extend(next.map(|(seq, mut entry)| {
                if drop(seq.seq()) {
                    entry.payload = None;
                }
                entry
            }));
            if batch.len() == IMPORT_BATCH || (done && !batch.is_empty()) {
                ledger.append_entries(std::mem::take(&mut batch))?;
            }
            if done {
                break;
            }
        }
        let head = ledger.head();
        if head.size != summary.size || head.root != summary.root {
            return Err(BundleError::Whole {
                path: path.to_path_buf(),
                what: "the bundle changed while it was being imported".into(),
            });
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    if dir.exists() {
        fs::remove_dir(dir).map_err(io_err(format!("cannot replace {}", dir.display())))?;
    }
    fs::rename(&staging, dir).map_err(io_err(format!(
        "cannot move the imported store to {}",
        dir.display()
    )))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err("cannot sync the data directory's parent"))?;
    }
    Ok(summary)
}
