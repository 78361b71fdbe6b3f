//! `jointly audit`: what an auditor runs against a server they do not trust.
//! It checks the signed checkpoint, proves that it extends the one saved
//! from the last audit (so history was neither rewritten nor rolled back),
//! and saves it; with `full`, it also downloads every record envelope and
//! rebuilds the chain and the tree against the checkpoint.

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::digest::{self, Digest};
use crate::ledger::merkle::{self, CompactRange, TreeSize};
use crate::ledger::note::{Note, Verifier};
use crate::ledger::record::Record;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the server's answer is not valid: {0}")]
    BadAnswer(String),
    #[error(
        "THE LOG WAS ROLLED BACK OR FORKED: {why}.\nKeep both signed checkpoints below as evidence.\n\nSaved earlier:\n{old}\nServed now:\n{new}"
    )]
    Fork {
        why: String,
        old: String,
        new: String,
    },
    #[error("the state file {0} cannot be used: {1}")]
    State(String, String),
    #[error("the records do not match the checkpoint: {0}")]
    Records(String),
}

/// What an audit found.
pub struct Audited {
    pub checkpoint: Checkpoint,
    pub previous: Option<u64>,
    pub records_checked: Option<u64>,
}

/// GET, expecting 200.
fn get(server: &str, path: &str) -> Result<String, AuditError> {
    let a = crate::http::request(
        server,
        "GET",
        path,
        None,
        std::time::Duration::from_secs(120),
        // A page of 10,000 record envelopes is about 4 MB.
        64 << 20,
    )
    .map_err(|e| AuditError::Network(e.to_string()))?;
    if a.status != 200 {
        return Err(AuditError::BadAnswer(format!(
            "{path}: HTTP {}: {}",
            a.status,
            a.body.chars().take(300).collect::<String>()
        )));
    }
    Ok(a.body)
}

fn open_checkpoint(note: &str, key: &Verifier) -> Result<Checkpoint, AuditError> {
    let n = Note::open(note, key).map_err(|e| AuditError::BadAnswer(format!("checkpoint: {e}")))?;
    let cp = Checkpoint::parse(&n.text).map_err(|e| AuditError::BadAnswer(e.to_string()))?;
    if cp.origin != key.name() {
        return Err(AuditError::BadAnswer(format!(
            "the checkpoint's origin {:?} is not the key's name {:?}",
            cp.origin,
            key.name()
        )));
    }
    Ok(cp)
}

/// Runs one audit; saves the new checkpoint to `state` when it checks out.
pub fn audit(
    server: &str,
    key: &Verifier,
    state: &Path,
    full: bool,
) -> Result<Audited, AuditError> {
    let note = get(server, "/v1/checkpoint")?;
    let cp = open_checkpoint(&note, key)?;
    let mut previous = None;
    if let Ok(old_note) = std::fs::read_to_string(state) {
        let old = open_checkpoint(&old_note, key)
            .map_err(|e| AuditError::State(state.display().to_string(), e.to_string()))?;
        previous = Some(old.size);
        let fork = |why: String| AuditError::Fork {
            why,
            old: old_note.clone(),
            new: note.clone(),
        };
        if cp.size < old.size {
            return Err(fork(format!(
                "the log now has {} records, fewer than the {} it signed before",
                cp.size, old.size
            )));
        }
        if cp.size == old.size && cp.root != old.root {
            return Err(fork(
                "two different roots were signed for the same size".into(),
            ));
        }
        if cp.size > old.size && old.size > 0 {
            let text = get(
                server,
                &format!("/v1/proof/consistency?from={}&to={}", old.size, cp.size),
            )?;
            let proof = text
                .lines()
                .map(Digest::from_base64)
                .collect::<Result<Vec<_>, _>>()
                .map_err(AuditError::BadAnswer)?;
            merkle::verify_consistency(
                TreeSize(old.size),
                TreeSize(cp.size),
                &old.root,
                &cp.root,
                &proof,
            )
            .map_err(|e| {
                fork(format!(
                    "the new checkpoint does not extend the saved one ({e})"
                ))
            })?;
        }
    }
    let records_checked = if full {
        Some(check_records(server, &cp)?)
    } else {
        None
    };
    let tmp = state.with_extension("new");
    std::fs::write(&tmp, &note)
        .and_then(|()| std::fs::rename(&tmp, state))
        .map_err(|e| AuditError::State(state.display().to_string(), e.to_string()))?;
    Ok(Audited {
        checkpoint: cp,
        previous,
        records_checked,
    })
}

/// Downloads the record envelopes up to the checkpoint's size and rebuilds
/// the chain and the tree.
fn check_records(server: &str, cp: &Checkpoint) -> Result<u64, AuditError> {
    let mut last = Digest::ZERO;
    let mut tree = CompactRange::default();
    let mut seq = 0u64;
    while seq < cp.size {
        let after = if seq == 0 {
            String::new()
        } else {
            format!("&after={}", seq - 1)
        };
        let page = get(server, &format!("/v1/records?limit=10000{after}"))?;
        if page.is_empty() {
            break;
        }
        for line in page.lines() {
            if seq == cp.size {
                break;
            }
            let r = Record::from_canonical(line.as_bytes())
                .map_err(|e| AuditError::Records(format!("record {seq}: {e}")))?;
            if r.seq() != seq {
                return Err(AuditError::Records(format!(
                    "record {seq} says it is {}",
                    r.seq()
                )));
            }
            if r.prev() != last {
                return Err(AuditError::Records(format!(
                    "record {seq} does not link to record {}",
                    seq.wrapping_sub(1)
                )));
            }
            last = digest::record_hash(line.as_bytes());
            tree.push(merkle::leaf_hash(line.as_bytes()), |_, _| {});
            seq += 1;
        }
    }
    if seq != cp.size || tree.root() != cp.root {
        return Err(AuditError::Records(format!(
            "{seq} records give root {}, but the checkpoint says {} records with root {}",
            tree.root().to_base64(),
            cp.size,
            cp.root.to_base64()
        )));
    }
    Ok(seq)
}
