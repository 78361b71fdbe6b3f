//! The use cases that read or build a whole store without running it:
//! making a store (`init`) and finding one, verifying a data directory,
//! printing its records, exporting it, and importing a bundle into a new
//! one. Each checks what `jointly verify` checks: the ledger's chain,
//! commitments and tree, and that every erased payload is authorised by a
//! `record.redacted` (which only this layer knows how to read).

use super::erasure::{self, Authorisations};
use crate::ledger::bundle::{self, BundleError, BundleSummary};
use crate::ledger::notary::{Notary, NotaryError};
use crate::ledger::note::{self, Verifier};
use crate::ledger::store::{self, Contents, directory::shell_word};
use crate::ledger::verify::{self, Verified as Verification};
use crate::ledger::{Digest, Ledger, LedgerError, OpenReport, Seq, StoreError};
use crate::refusal::Refusal;
use std::collections::BTreeMap;
use std::path::Path;

/// Opens a data directory's store alone (no writer, no model): for
/// reading and checking. It is made if the directory holds none; the
/// doors ask [`existing_store`] first when they must not make one.
pub fn open_store(dir: &Path) -> Result<(Ledger, OpenReport), Refusal> {
    Ledger::open(dir).map_err(|e| open_refusal(dir, e))
}

/// Why a store cannot be opened. A directory open to other users, or
/// written by a newer version, is the operator's to mend and nothing was
/// changed (so the input's fault: exit 2); one another process holds is
/// unavailable for now; anything else is a failure.
pub fn open_refusal(dir: &Path, e: LedgerError) -> Refusal {
    match e {
        LedgerError::Store(e @ (StoreError::Exposed { .. } | StoreError::NewerFormat { .. })) => {
            Refusal::invalid(e.to_string())
        }
        // Another process (a running `serve`) holds it: not now.
        LedgerError::Store(e @ StoreError::Locked { .. }) => Refusal::unavailable(e.to_string()),
        e => Refusal::failed(format!("cannot open the store in {}: {e}", dir.display())),
    }
}

/// What a data directory holds.
fn contents(dir: &Path) -> Result<Contents, Refusal> {
    store::contents(dir).map_err(|e| Refusal::failed(format!("cannot read {}: {e}", dir.display())))
}

/// Refuses a data directory that holds no store (a mistyped path must not
/// quietly become a new, empty log), saying what is there and how to make
/// a store. Changes nothing.
pub fn existing_store(dir: &Path) -> Result<(), Refusal> {
    let what = match contents(dir)? {
        Contents::Store => return Ok(()),
        Contents::Missing => "it does not exist",
        Contents::Empty => "the directory is empty",
        Contents::Other if dir.is_dir() => "the directory holds no records.log",
        Contents::Other => "it is not a directory",
    };
    Err(Refusal::not_found(format!(
        "there is no jointly store in {}: {what}. Check --data (or JOINTLY_DATA); to make a new store there, run `jointly --data {} init --origin NAME`, NAME being the log's name (e.g. charity.example.org/jointly)",
        dir.display(),
        shell_word(dir)
    )))
}

/// What [`init`] found and did.
pub struct Initialised {
    /// The log's verifier key (for auditors and witnesses).
    pub verifier: Verifier,
    pub made: Made,
    /// What opening the store repaired.
    pub report: OpenReport,
}

/// What [`init`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    /// A new store, with its key.
    Store,
    /// The key of a store an older version made, which had none yet.
    Key,
    /// Nothing: the store was there, with its key named as asked.
    Nothing,
}

/// Makes a store whose log is named `origin` in `dir` (absent, or an empty
/// directory). On a store already there, checks that its log is named
/// `origin` (making its key if it has none yet), and refuses another name
/// without changing anything: a log's name never changes.
pub fn init(dir: &Path, origin: &str) -> Result<Initialised, Refusal> {
    note::check_name(origin).map_err(|_| {
        Refusal::invalid(format!(
            "{origin:?} cannot be a log's name: it must be non-empty, without '+' or spaces, e.g. charity.example.org/jointly"
        ))
    })?;
    let before = contents(dir)?;
    if before == Contents::Other {
        return Err(Refusal::invalid(format!(
            "{} holds other things and no jointly store: give --data a new or empty directory",
            dir.display()
        )));
    }
    let (ledger, report) = open_store(dir)?;
    let had_key = Notary::has_key(&ledger);
    let notary = Notary::open_as(&ledger, origin).map_err(|e| match e {
        NotaryError::OtherOrigin { held, asked } => Refusal::conflict(format!(
            "the store in {} is the log named {held}, and a log's name never changes (it is in every checkpoint signed and every verifier key given out), so it cannot become {asked}. Leave out --origin to use the store as it is, or make a new store for {asked} in another directory: `jointly --data NEW-DIRECTORY init --origin {asked}`",
            dir.display()
        )),
        e => Refusal::failed(e),
    })?;
    let made = match (before, had_key) {
        (Contents::Missing | Contents::Empty, _) => Made::Store,
        (_, false) => Made::Key,
        (_, true) => Made::Nothing,
    };
    Ok(Initialised {
        verifier: notary.verifier(),
        made,
        report,
    })
}

/// A store to write a first record in: the one in `dir`, or, when `dir` is
/// absent or empty, a new one with the log named `origin` (returned, for
/// the door to say so). A directory holding other things is refused.
pub fn store_to_write(dir: &Path, origin: &str) -> Result<Option<Initialised>, Refusal> {
    match contents(dir)? {
        Contents::Store => Ok(None),
        _ => init(dir, origin).map(Some),
    }
}

/// What a verification found.
pub struct Verified {
    pub ledger: Verification,
    /// Each erased payload, and the `record.redacted` that authorised it.
    pub redactions: BTreeMap<Seq, Seq>,
    /// Records whose words a restore could not bring back (see
    /// [`record_words_lost`]).
    pub lost: Vec<Seq>,
}

/// The side table of records whose payloads a restore from a mirror could
/// not bring back (the mirror held none): each seq, and where from.
const WORDS_LOST: &str = "words-lost";

/// Notes that the words of `seqs` were lost in a restore from `source`:
/// `verify` then reports them rather than calling them tampering.
pub fn record_words_lost(ledger: &Ledger, seqs: &[Seq], source: &str) -> Result<(), Refusal> {
    let table = ledger
        .store()
        .side_table(WORDS_LOST)
        .map_err(Refusal::failed)?;
    let note = serde_json::json!({"restored_from": source}).to_string();
    for seq in seqs {
        table
            .put(&seq.to_be_bytes(), note.as_bytes())
            .map_err(Refusal::failed)?;
    }
    Ok(())
}

/// The records whose words a restore lost.
pub fn words_lost(ledger: &Ledger) -> Result<std::collections::BTreeSet<Seq>, Refusal> {
    let table = ledger
        .store()
        .side_table(WORDS_LOST)
        .map_err(Refusal::failed)?;
    Ok(table
        .scan_prefix(b"")
        .map_err(Refusal::failed)?
        .into_iter()
        .filter_map(|(k, _)| {
            <[u8; 8]>::try_from(k.as_slice())
                .ok()
                .map(u64::from_be_bytes)
        })
        .collect())
}

/// Verifies a store: every record, or only those after a size and root
/// the caller trusts; then that every erased payload is authorised.
pub fn verify(
    ledger: &Ledger,
    trusted: Option<(u64, Digest)>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, Refusal> {
    let v = match &trusted {
        None => verify::verify_full(ledger, progress),
        Some((size, root)) => verify::verify_from(ledger, *size, root, progress),
    }
    .map_err(|e| Refusal::failed(format!("verification failed: {e}")))?;
    let mut redactions = BTreeMap::new();
    let mut lost = Vec::new();
    if v.redacted > 0 {
        let (authorised, mut unauthorised) =
            erasure::authorisations(ledger).map_err(Refusal::failed)?;
        let known_lost = words_lost(ledger)?;
        unauthorised.retain(|s| {
            let was_lost = known_lost.contains(s);
            if was_lost {
                lost.push(*s);
            }
            !was_lost
        });
        if !unauthorised.is_empty() {
            return Err(Refusal::failed(format!(
                "verification failed: {} payload(s) are missing with no record.redacted authorising it: records {:?}",
                unauthorised.len(),
                unauthorised
            )));
        }
        redactions = authorised;
    }
    Ok(Verified {
        ledger: v,
        redactions,
        lost,
    })
}

/// What a bundle problem means to a caller: the bundle is bad input, or
/// something failed here.
fn bundle_refusal(e: BundleError) -> Refusal {
    match e {
        BundleError::Line { .. } | BundleError::Whole { .. } => Refusal::malformed(e.to_string()),
        BundleError::NotEmpty(_) => Refusal::conflict(e.to_string()),
        e => Refusal::failed(e),
    }
}

/// Checks a bundle as import would, writing nothing.
pub fn check_bundle(path: &Path, progress: &mut dyn FnMut(u64)) -> Result<BundleSummary, Refusal> {
    bundle::check_bundle(path, progress, &mut Authorisations::default()).map_err(bundle_refusal)
}

/// Restores a bundle into `dir`, which must be empty or absent: every line,
/// the chain, the tree and every redaction's authorisation are checked
/// first, and nothing is written unless all of it holds.
pub fn import(
    path: &Path,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<BundleSummary, Refusal> {
    let summary = bundle::import(path, dir, progress, &mut Authorisations::default())
        .map_err(bundle_refusal)?;
    // What is kept of erased records lives beside the log: rebuild it.
    let (ledger, _) = open_store(dir)?;
    erasure::rebuild_kept(&ledger).map_err(Refusal::failed)?;
    Ok(summary)
}

/// [`import`], writing the records in `drop` erased (erasures made after
/// the bundle, to be authorised by records appended after it).
pub fn import_dropping(
    path: &Path,
    dir: &Path,
    drop: &std::collections::BTreeSet<u64>,
) -> Result<BundleSummary, Refusal> {
    let summary = bundle::import_dropping(
        path,
        dir,
        &mut |_| {},
        &mut Authorisations::default(),
        &|seq| drop.contains(&seq),
    )
    .map_err(bundle_refusal)?;
    // What is kept of erased records lives beside the log: rebuild it.
    let (ledger, _) = open_store(dir)?;
    erasure::rebuild_kept(&ledger).map_err(Refusal::failed)?;
    Ok(summary)
}

/// Writes the store as an export bundle.
pub fn export(ledger: &Ledger, out: &Path) -> Result<BundleSummary, Refusal> {
    bundle::export(ledger, out).map_err(Refusal::failed)
}
