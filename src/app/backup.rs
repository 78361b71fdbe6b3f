//! A complete backup of a data directory, and bringing one back: the log
//! (an export bundle, verified on the way in and out), the people store
//! (names, emails, equality answers), the signing and mail keys, and every
//! side table beside the log (tokens, sessions, the email outbox, what is
//! kept of erased records...), in one tar archive, encrypted to the
//! operator's `age` key. Unencrypted, it holds the log alone: no keys, no
//! tokens, no personal data (docs/OPERATING.md).

use crate::ledger::Ledger;
use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The secret files of a data directory a restore needs to carry on the
/// same log: the checkpoint signing key (and with it the log's name) and
/// the key unsubscribe links are made with.
const KEYS: [&str; 2] = ["checkpoint.key", "mail.key"];

/// The people store's folder in a data directory.
const PEOPLE: &str = "people";

/// What the archive says of itself, its first entry.
#[derive(Serialize, Deserialize)]
pub struct Manifest {
    /// The archive's format.
    pub format: u32,
    pub records: u64,
    /// Whether it holds keys, tokens and personal data (only when
    /// encrypted).
    pub complete: bool,
}

/// How a backup is protected: encrypted to these `age` recipients, or
/// not at all (and then it holds no secrets).
pub enum Protection {
    To(Vec<age::x25519::Recipient>),
    Unencrypted,
}

/// Reads `age` recipients ("age1..."), one a line, `#` comments allowed.
pub fn recipients(text: &str) -> Result<Vec<age::x25519::Recipient>, Refusal> {
    let list: Result<Vec<_>, _> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<age::x25519::Recipient>().map_err(|e| {
                Refusal::invalid(format!("{l:?} is not an age recipient (age1...): {e}"))
            })
        })
        .collect();
    let list = list?;
    if list.is_empty() {
        return Err(Refusal::invalid("no age recipient given (age1...)"));
    }
    Ok(list)
}

/// What a backup holds.
pub struct Written {
    pub records: u64,
    pub complete: bool,
}

/// A new file at `out`, readable by its owner alone; never one that
/// exists.
fn new_file(out: &Path) -> Result<File, Refusal> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Refusal::invalid(format!(
                "{} exists already: a backup never overwrites a file; give a new name",
                out.display()
            )),
            _ => Refusal::failed(format!("cannot write {}: {e}", out.display())),
        })
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> Refusal + '_ {
    move |e| Refusal::failed(format!("{what}: {e}"))
}

/// Adds `bytes` to the archive as `name` (mode 0600).
fn add<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<(), Refusal> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
        .map_err(failed("cannot write the backup"))
}

/// Writes a backup of `ledger` (in the data directory `data`) to `out`,
/// a new file. The log is exported first; keys, people and side tables
/// are read after it, so nothing they name is missing from the log.
pub fn write(ledger: &Ledger, out: &Path, protection: &Protection) -> Result<Written, Refusal> {
    let data = ledger.store().dir().to_path_buf();
    let file = new_file(out)?;
    let done = (|| {
        let records = out.with_extension("records.partial");
        let _ = std::fs::remove_file(&records);
        let summary = crate::ledger::bundle::export(ledger, &records).map_err(Refusal::failed)?;
        let complete = matches!(protection, Protection::To(_));
        let sink = match protection {
            Protection::To(to) => {
                let to = to.iter().map(|r| r as &dyn age::Recipient);
                let enc = age::Encryptor::with_recipients(to).map_err(Refusal::failed)?;
                Sink::Age(
                    enc.wrap_output(BufWriter::new(&file))
                        .map_err(failed("cannot write the backup"))?,
                )
            }
            Protection::Unencrypted => Sink::Plain(BufWriter::new(&file)),
        };
        let mut tar = tar::Builder::new(sink);
        let manifest = Manifest {
            format: 1,
            records: summary.size,
            complete,
        };
        add(
            &mut tar,
            "manifest.json",
            &serde_json::to_vec(&manifest).expect("json"),
        )?;
        tar.append_path_with_name(&records, "records.bundle")
            .map_err(failed("cannot write the backup"))?;
        let _ = std::fs::remove_file(&records);
        if complete {
            for key in KEYS {
                if let Ok(bytes) = std::fs::read(data.join(key)) {
                    add(&mut tar, key, &bytes)?;
                }
            }
            if let Ok(entries) = std::fs::read_dir(data.join(PEOPLE)) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".json") {
                        let bytes = std::fs::read(e.path())
                            .map_err(failed("cannot read the people store"))?;
                        add(&mut tar, &format!("{PEOPLE}/{name}"), &bytes)?;
                    }
                }
            }
            for name in ledger.store().side_table_names() {
                let table = ledger.store().side_table(&name).map_err(Refusal::failed)?;
                let mut lines = Vec::new();
                for (k, v) in table.scan_prefix(b"").map_err(Refusal::failed)? {
                    serde_json::to_writer(&mut lines, &(hex::encode(k), hex::encode(v)))
                        .expect("json");
                    lines.push(b'\n');
                }
                add(&mut tar, &format!("side/{name}.jsonl"), &lines)?;
            }
        }
        let sink = tar
            .into_inner()
            .map_err(failed("cannot write the backup"))?;
        sink.finish().map_err(failed("cannot write the backup"))?;
        file.sync_all().map_err(failed("cannot write the backup"))?;
        Ok(Written {
            records: summary.size,
            complete,
        })
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(out);
    }
    done
}

/// Where the archive is written: through `age`, or straight to the file.
enum Sink<'f> {
    Age(age::stream::StreamWriter<BufWriter<&'f File>>),
    Plain(BufWriter<&'f File>),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Age(w) => w.write(buf),
            Sink::Plain(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Age(w) => w.flush(),
            Sink::Plain(w) => w.flush(),
        }
    }
}

impl Sink<'_> {
    /// Ends the stream: an encrypted one is truncated unless finished.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Age(w) => w.finish()?.flush(),
            Sink::Plain(mut w) => w.flush(),
        }
    }
}

/// What a restore brought back.
pub struct Restored {
    pub records: u64,
    pub complete: bool,
    pub people: usize,
    pub tables: usize,
    /// Records taken from a mirror, after the backup's.
    pub forward: u64,
    /// Of those, the records whose words the mirror did not hold.
    pub words_missing: Vec<u64>,
    /// People erased after the backup, erased again.
    pub erased_again: usize,
}

/// The identities in an `age` identity file (as `age-keygen` writes it).
pub fn identities(text: &str) -> Result<Vec<age::x25519::Identity>, Refusal> {
    let list: Result<Vec<_>, _> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<age::x25519::Identity>()
                .map_err(|e| Refusal::invalid(format!("the identity file holds a line that is not an age identity (AGE-SECRET-KEY-...): {e}")))
        })
        .collect();
    list
}

/// Brings a backup at `file` back into `data`, which must be new or
/// empty: the log first (all of it checked before anything is written),
/// then the keys, the people store and the side tables.
pub fn restore(
    file: &Path,
    data: &Path,
    identities: &[age::x25519::Identity],
) -> Result<Restored, Refusal> {
    restore_forward(file, data, identities, None)
}

/// [`restore`], then the records after the backup from a mirror
/// (`records_from`, its directory or address): checked against the
/// backup's key and root, with every erasure they hold applied before
/// anything is written (docs/OPERATING.md, "Recovering with a mirror").
pub fn restore_forward(
    file: &Path,
    data: &Path,
    identities: &[age::x25519::Identity],
    records_from: Option<&str>,
) -> Result<Restored, Refusal> {
    let mut input = BufReader::new(
        File::open(file)
            .map_err(|e| Refusal::invalid(format!("cannot read {}: {e}", file.display())))?,
    );
    let mut head = [0u8; 21];
    let n = input
        .read(&mut head)
        .map_err(failed("cannot read the backup"))?;
    let encrypted = &head[..n] == b"age-encryption.org/v1";
    let whole = std::io::Cursor::new(head[..n].to_vec()).chain(input);
    let reader: Box<dyn Read> = if encrypted {
        if identities.is_empty() {
            return Err(Refusal::invalid(
                "this backup is encrypted: give the key it was encrypted to with --identity FILE",
            ));
        }
        let dec = age::Decryptor::new(whole).map_err(|e| {
            Refusal::invalid(format!("{} is not a readable backup: {e}", file.display()))
        })?;
        let ids = identities.iter().map(|i| i as &dyn age::Identity);
        Box::new(dec.decrypt(ids).map_err(|e| {
            Refusal::invalid(format!(
                "the backup cannot be decrypted with the identity given: {e}"
            ))
        })?)
    } else {
        Box::new(whole)
    };
    let existed = data.exists();
    if std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Refusal::invalid(format!(
            "{} is not empty: restore into a new or empty directory",
            data.display()
        )));
    }
    let staging = data.with_extension("restoring");
    std::fs::create_dir_all(&staging).map_err(failed("cannot make a folder for the restore"))?;
    let result = unpack(reader, &staging, data, records_from);
    let _ = std::fs::remove_dir_all(&staging);
    // Nothing half restored is left behind.
    if result.is_err() {
        if existed {
            if let Ok(entries) = std::fs::read_dir(data) {
                for e in entries.flatten() {
                    let _ = std::fs::remove_dir_all(e.path())
                        .or_else(|_| std::fs::remove_file(e.path()));
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(data);
        }
    }
    result
}

/// Unpacks the archive: the log into `data`, the rest after it.
fn unpack(
    reader: Box<dyn Read>,
    staging: &Path,
    data: &Path,
    records_from: Option<&str>,
) -> Result<Restored, Refusal> {
    let mut archive = tar::Archive::new(reader);
    let mut manifest: Option<Manifest> = None;
    let mut restored = Restored {
        records: 0,
        complete: false,
        people: 0,
        tables: 0,
        forward: 0,
        words_missing: Vec::new(),
        erased_again: 0,
    };
    let mut bundle: Option<PathBuf> = None;
    let mut tables: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for entry in archive
        .entries()
        .map_err(failed("cannot read the backup"))?
    {
        let mut entry = entry.map_err(failed("cannot read the backup"))?;
        let name = entry
            .path()
            .map_err(failed("cannot read the backup"))?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(failed("cannot read the backup"))?;
        match name.as_str() {
            "manifest.json" => {
                manifest = Some(serde_json::from_slice(&bytes).map_err(|e| {
                    Refusal::invalid(format!("the backup's manifest cannot be read: {e}"))
                })?);
            }
            "records.bundle" => {
                let path = staging.join("records.bundle");
                std::fs::write(&path, &bytes).map_err(failed("cannot unpack the backup"))?;
                bundle = Some(path);
            }
            key if KEYS.contains(&key) => files.push((data.join(key), bytes)),
            person if person.starts_with("people/") && !person.contains("..") => {
                restored.people += 1;
                files.push((data.join(person), bytes));
            }
            table if table.starts_with("side/") && table.ends_with(".jsonl") => {
                let name = table["side/".len()..table.len() - ".jsonl".len()].to_string();
                tables.push((name, bytes));
            }
            other => {
                return Err(Refusal::invalid(format!(
                    "the backup holds {other:?}, which is not part of a jointly backup"
                )));
            }
        }
    }
    let manifest = manifest.ok_or_else(|| {
        Refusal::invalid("this file is not a jointly backup (it has no manifest)")
    })?;
    let bundle =
        bundle.ok_or_else(|| Refusal::invalid("the backup holds no log (records.bundle)"))?;
    // The records after the backup, read and checked before anything is
    // written, so that nothing an erasure since removed is ever written.
    let later = match records_from {
        Some(source) => Some(later_records(source, &bundle, &files)?),
        None => None,
    };
    let drop: std::collections::BTreeSet<u64> =
        later.as_ref().map(|l| l.erased.clone()).unwrap_or_default();
    let s = super::integrity::import_dropping(&bundle, data, &drop)?;
    restored.records = s.size;
    let gone: Vec<String> = later
        .as_ref()
        .map(|l| {
            l.people
                .iter()
                .map(|p| format!("{PEOPLE}/{p}.json"))
                .collect()
        })
        .unwrap_or_default();
    files.retain(|(path, _)| !gone.iter().any(|g| path.ends_with(g)));
    if restored.records != manifest.records {
        return Err(Refusal::invalid(format!(
            "the backup says it holds {} records, but its log holds {}",
            manifest.records, restored.records
        )));
    }
    restored.complete = manifest.complete;
    for (path, bytes) in files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed("cannot restore the people store"))?;
        }
        crate::ledger::store::write_durably(&path, &bytes, 0o600)
            .map_err(failed("cannot restore a file of the backup"))?;
    }
    let (ledger, _) = super::integrity::open_store(data)?;
    for (name, lines) in &tables {
        let table = ledger.store().side_table(name).map_err(Refusal::failed)?;
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let (k, v): (String, String) = serde_json::from_slice(line).map_err(|e| {
                Refusal::invalid(format!(
                    "side table {name} in the backup cannot be read: {e}"
                ))
            })?;
            let (k, v) = hex::decode(k)
                .and_then(|k| Ok((k, hex::decode(v)?)))
                .map_err(|e| {
                    Refusal::invalid(format!(
                        "side table {name} in the backup cannot be read: {e}"
                    ))
                })?;
            table.put_deferred(&k, &v).map_err(Refusal::failed)?;
        }
        table.flush().map_err(Refusal::failed)?;
        restored.tables += 1;
    }
    if let Some(later) = later {
        restored.forward = later.entries.len() as u64;
        restored.words_missing = later.missing.clone();
        ledger.append_entries(later.entries).map_err(|e| {
            Refusal::invalid(format!(
                "the mirror's records do not continue the backup's log: {e}"
            ))
        })?;
        let head = ledger.head();
        if head.size != later.size || head.root != later.root {
            return Err(Refusal::invalid(
                "the log brought forward does not have the mirror's size and root",
            ));
        }
        super::erasure::rebuild_kept(&ledger).map_err(Refusal::failed)?;
        if !later.missing.is_empty() {
            super::integrity::record_words_lost(
                &ledger,
                &later.missing,
                records_from.unwrap_or_default(),
            )?;
        }
        for who in &later.people {
            super::erasure::shut_out_again(&ledger, *who).map_err(|e| {
                Refusal::failed(format!("an erasure could not be applied again: {e}"))
            })?;
        }
        restored.erased_again = later.people.len();
    }
    Ok(restored)
}

/// The records a mirror holds after the backup's, checked against the
/// backup's key (its checkpoint.key) and its log's root.
fn later_records(
    source: &str,
    bundle: &Path,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<crate::tlog::forward::Later, Refusal> {
    let key = files
        .iter()
        .find(|(p, _)| p.ends_with(KEYS[0]))
        .ok_or_else(|| {
            Refusal::invalid(
                "--records-from needs a complete backup: this one holds no checkpoint key",
            )
        })?;
    let signer = crate::ledger::note::Signer::parse(String::from_utf8_lossy(&key.1).trim())
        .map_err(|e| {
            Refusal::invalid(format!("the backup's checkpoint key cannot be read: {e}"))
        })?;
    let summary = crate::ledger::bundle::check_bundle(
        bundle,
        &mut |_| {},
        &mut super::erasure::Authorisations::default(),
    )
    .map_err(|e| Refusal::invalid(format!("the backup's log: {e}")))?;
    // A runtime of its own, on a thread of its own: a restore may be
    // called from within another runtime (a test's) as from the command line.
    let verifier = signer.verifier();
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Refusal::failed(format!("cannot start the runtime: {e}")))?
                .block_on(crate::tlog::forward::later(
                    source,
                    &verifier,
                    summary.size,
                    &summary.root,
                ))
        })
        .join()
        .unwrap_or_else(|_| Err(Refusal::failed("reading the mirror failed")))
    })
}
