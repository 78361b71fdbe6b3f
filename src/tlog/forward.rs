//! The records a backup lacks, taken from a mirror (`restore
//! --records-from`): the mirror's tiles checked against its checkpoint
//! with the log's key (from the backup), its tree shown to extend the
//! backup's, and each later record's payload taken from the mirror's
//! payloads where it holds them, checked against the record's commitment.
//! Every erasure the later records hold is gathered too, so the restore
//! applies it before anything is written.

use super::mirror::{PAYLOADS, TILES, check_records};
use super::open_checkpoint;
use super::place::{Place, S3Settings};
use crate::coproduction::events::RecordRedacted;
use crate::ledger::digest::{self, Salt};
use crate::ledger::frame::Entry;
use crate::ledger::note::Verifier;
use crate::ledger::tile_check::CheckedTiles;
use crate::ledger::tiles::tiles_of;
use crate::ledger::{CanonicalPayload, Digest, Record, Seq};
use crate::refusal::Refusal;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// What a mirror adds to a backup.
pub struct Later {
    /// The mirror's checkpoint size and root.
    pub size: u64,
    pub root: Digest,
    /// The records after the backup's, with the payloads the mirror holds.
    pub entries: Vec<Entry>,
    /// Later records whose words the mirror does not hold (and no erasure
    /// explains).
    pub missing: Vec<Seq>,
    /// Records (before or after the backup's end) the later records erase.
    pub erased: BTreeSet<Seq>,
    /// People the later records erase.
    pub people: BTreeSet<Uuid>,
}

/// The tiles and payload folders of a mirror given as a directory (its
/// own, or a copy of its `tiles/`), or a web address of its tiles.
fn folders(source: &str) -> (String, Option<PathBuf>) {
    let p = Path::new(source);
    if p.join(TILES).join("checkpoint").is_file() {
        (
            p.join(TILES).to_string_lossy().into_owned(),
            Some(p.join(PAYLOADS)),
        )
    } else {
        (
            source.to_string(),
            p.join(PAYLOADS).is_dir().then(|| p.join(PAYLOADS)),
        )
    }
}

/// Reads and checks what `source` holds beyond a backup of `size` records
/// with `root`.
pub async fn later(
    source: &str,
    verifier: &Verifier,
    size: u64,
    root: &Digest,
) -> Result<Later, Refusal> {
    let (tiles_at, payloads) = folders(source);
    let place = Place::to_read(&tiles_at, &S3Settings::default())?;
    let refused = |why: String| {
        Refusal::invalid(format!(
            "--records-from {source}: {why}; nothing was restored"
        ))
    };
    let note = place
        .get("checkpoint")
        .await
        .map_err(|e| refused(e.to_string()))?
        .ok_or_else(|| {
            refused("there is no checkpoint (tiles/checkpoint in a mirror's directory)".into())
        })?;
    let cp = open_checkpoint(&note, verifier).map_err(refused)?;
    if cp.size < size {
        return Err(refused(format!(
            "the mirror holds {} records, fewer than the backup's {size}",
            cp.size
        )));
    }
    let mut tiles = HashMap::new();
    for t in tiles_of(cp.size) {
        let b = place
            .get(&t.path())
            .await
            .map_err(|e| refused(e.to_string()))?
            .ok_or_else(|| refused(format!("{} is missing", t.path())))?;
        tiles.insert(t, b.to_vec());
    }
    let checked = CheckedTiles::check(cp.size, &cp.root, &tiles).map_err(|e| {
        refused(format!(
            "its tiles do not verify against its checkpoint: {e}"
        ))
    })?;
    check_records(checked.entries()).map_err(refused)?;
    if checked.root_at(size) != *root {
        return Err(refused(format!(
            "its tree does not extend the backup's: the log at {size} records has another root in the mirror"
        )));
    }
    let mut later = Later {
        size: cp.size,
        root: cp.root,
        entries: Vec::new(),
        missing: Vec::new(),
        erased: BTreeSet::new(),
        people: BTreeSet::new(),
    };
    for (seq, bytes) in checked.entries().iter().enumerate().skip(size as usize) {
        let record = Record::from_canonical(bytes).map_err(|e| refused(e.to_string()))?;
        let payload = payloads
            .as_ref()
            .and_then(|dir| std::fs::read(dir.join(format!("{seq}.json"))).ok())
            .map(|b| {
                held_payload(&b, &record)
                    .map_err(|e| refused(format!("the payload of record {seq}: {e}")))
            })
            .transpose()?;
        if let Some((_, p)) = &payload
            && record.event_type().as_str() == "record.redacted"
            && let Ok(r) = serde_json::from_slice::<RecordRedacted>(p)
        {
            later.erased.extend(r.records.iter().map(|e| e.seq));
            later.people.extend(r.participant.map(|p| p.uuid()));
        }
        later.entries.push(Entry {
            record: bytes.clone(),
            payload,
        });
    }
    for (i, e) in later.entries.iter_mut().enumerate() {
        let seq = size + i as u64;
        if later.erased.contains(&seq) {
            e.payload = None;
        } else if e.payload.is_none() {
            later.missing.push(seq);
        }
    }
    Ok(later)
}

/// A payload file of a mirror (`{"salt": hex, "payload": {...}}`), if it
/// matches the record's commitment.
fn held_payload(file: &[u8], record: &Record) -> Result<(Salt, Vec<u8>), String> {
    let v: serde_json::Value = serde_json::from_slice(file).map_err(|e| e.to_string())?;
    let salt = v["salt"]
        .as_str()
        .and_then(|s| hex::decode(s).ok())
        .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
        .ok_or("no 32-byte hex salt")?;
    let canonical = CanonicalPayload::from_value(&v["payload"]).map_err(|e| e.to_string())?;
    if digest::payload_commitment(&Salt(salt), canonical.as_bytes()) != record.commitment() {
        return Err(
            "it does not match the record's commitment: the mirror's copy was changed".into(),
        );
    }
    Ok((Salt(salt), canonical.as_bytes().to_vec()))
}
