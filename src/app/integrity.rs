//! The use cases that read or build a whole store without running it:
//! verifying a data directory, printing its records, exporting it, and
//! importing a bundle into a new one. Each checks what `jointly verify`
//! checks: the ledger's chain, commitments and tree, and that every erased
//! payload is authorised by a `record.redacted` (which only this layer
//! knows how to read).

use super::erasure::{self, Authorisations};
use crate::ledger::bundle::{self, BundleError, BundleSummary};
use crate::ledger::verify::{self, Verified as Verification};
use crate::ledger::{Digest, Ledger, OpenReport, Seq};
use crate::refusal::Refusal;
use std::collections::BTreeMap;
use std::path::Path;

/// Opens a data directory's store alone (no writer, no model): for
/// reading and checking.
pub fn open_store(dir: &Path) -> Result<(Ledger, OpenReport), Refusal> {
    Ledger::open(dir)
        .map_err(|e| Refusal::failed(format!("cannot open the store in {}: {e}", dir.display())))
}

/// What a verification found.
pub struct Verified {
    pub ledger: Verification,
    /// Each erased payload, and the `record.redacted` that authorised it.
    pub redactions: BTreeMap<Seq, Seq>,
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
    if v.redacted > 0 {
        let (authorised, unauthorised) =
            erasure::authorisations(ledger).map_err(Refusal::failed)?;
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

/// Writes the store as an export bundle.
pub fn export(ledger: &Ledger, out: &Path) -> Result<BundleSummary, Refusal> {
    bundle::export(ledger, out).map_err(Refusal::failed)
}
