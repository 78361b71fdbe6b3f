//! The model saved at a known size of the log, so that start-up reads it
//! and folds only the records after it, instead of every record again.
//!
//! The store keeps the bytes and checks that the log still begins with
//! the records they were made from (size, Merkle root, hash of the
//! bytes); this module adds what only the core knows: the snapshot must
//! come from this program's fold (its format key is a hash of the code
//! that decides what the fold produces) and must agree with what the log
//! now says was erased. A snapshot that fails a check is removed and the
//! log is folded from the start, as if there were none.
//!
//! It is saved when the server stops, and while it runs once the log has
//! grown [`SAVE_EVERY`] records past the last one; an erasure removes it
//! (it may hold the erased text), and the next save makes a new one.

use super::erasure;
use super::fold;
use crate::coproduction::model::{Model, Payment, Project, TimeGiven};
use crate::coproduction::values::{Date, DecisionId, PaymentId, ProjectId, Stage, TimeId};
use crate::ledger::Timestamp;
use crate::ledger::store::{Loaded, SnapshotBody, SnapshotWriter};
use crate::ledger::{Ledger, LedgerError, Seq};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

const NAME: &str = "model";

/// Records appended since the last snapshot before a running server
/// saves another.
pub const SAVE_EVERY: u64 = 50_000;

/// The code whose change makes an old snapshot wrong: the model, the
/// events and values it is made of, and the fold. Any edit to them gives
/// a new key, so a snapshot is never read by a program that would have
/// folded the log differently.
const FOLD_SOURCES: &[&str] = &[
    env!("CARGO_PKG_VERSION"),
    include_str!("../coproduction/model.rs"),
    include_str!("../coproduction/events.rs"),
    include_str!("../coproduction/values.rs"),
    include_str!("../coproduction/author.rs"),
    include_str!("../coproduction/access.rs"),
    include_str!("../coproduction/mod.rs"),
    include_str!("../coproduction/said.rs"),
    // How tables and small maps are saved, and rows referred to by place.
    include_str!("../coproduction/table.rs"),
    include_str!("../coproduction/vec_map.rs"),
    include_str!("../coproduction/dense.rs"),
    include_str!("fold.rs"),
    include_str!("erasure.rs"),
    include_str!("snapshot.rs"),
];

fn format_key() -> [u8; 32] {
    let mut h = Sha256::new();
    for source in FOLD_SOURCES {
        h.update((source.len() as u64).to_le_bytes());
        h.update(source.as_bytes());
    }
    h.finalize().into()
}

/// How the model was had at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// From a snapshot of the first `size` records, and the rest folded.
    Snapshot { size: u64 },
    /// Folded from the first record (`why`: there was no usable snapshot).
    Folded { why: String },
}

/// The model of the whole log: from the snapshot and the records after
/// it when there is a usable one, else folded from the start.
pub fn open(ledger: &Ledger) -> Result<(Model, Start), LedgerError> {
    let loaded = ledger
        .store()
        .load_snapshot(NAME, &format_key(), |sections| match sections {
            [first, second] => read_model(first, second, fold::words(ledger)),
            _ => Err(format!("it has {} sections, not 2", sections.len())),
        })?;
    let why = match loaded {
        Loaded::Used { size, mut state } => {
            let applied = state.last_seq.map_or(0, |s| s + 1);
            let kept = erasure::kept(ledger)?;
            if applied != size {
                format!("it holds {applied} records but says {size}")
            } else if kept != state.kept {
                // Erased since (a crash between the erasure and its
                // removal): what it holds may be what was erased.
                ledger.store().remove_snapshot(NAME)?;
                "records were erased after it was made".to_owned()
            } else {
                fold::catch_up(ledger, &mut state)?;
                return Ok((state, Start::Snapshot { size }));
            }
        }
        Loaded::Absent => "there is none".to_owned(),
        Loaded::Discarded(why) => why,
    };
    Ok((fold::rebuild(ledger)?, Start::Folded { why }))
}

/// One value, from where the last left off.
fn read<T: DeserializeOwned>(body: &mut SnapshotBody) -> Result<T, String> {
    let mut scratch = [0u8; 256];
    postcard::from_io::<T, _>((body, &mut scratch))
        .map(|(value, _)| value)
        .map_err(|e| format!("it cannot be read ({e})"))
}

fn write<T: Serialize + ?Sized>(out: &mut SnapshotWriter<'_>, value: &T) -> Result<(), String> {
    postcard::to_io(value, out)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The model from its two sections, each read on its own core: the
/// proposals and projects in one, the decisions, actions and indexes in
/// the other, about the same size.
fn read_model(
    first: &mut SnapshotBody,
    second: &mut SnapshotBody,
    words: crate::coproduction::said::Words,
) -> Result<Model, String> {
    std::thread::scope(|scope| {
        let other = scope.spawn(|| -> Result<_, String> {
            Ok((
                read(second)?,
                read(second)?,
                read::<Vec<(Stage, Vec<(Date, Timestamp, DecisionId)>)>>(second)?
                    .into_iter()
                    .map(|(stage, each)| (stage, each.into_iter().collect()))
                    .collect(),
                read(second)?,
            ))
        });
        let last_seq = read(first)?;
        let outside_projects = read(first)?;
        // B-trees read as lists and built at once, packed (see
        // `coproduction::dense`).
        let projects = read::<Vec<(ProjectId, Project)>>(first)?
            .into_iter()
            .collect();
        let people = read(first)?;
        let proposals = read(first)?;
        let challenges = read(first)?;
        let meeting_ids = read(first)?;
        let corrections = read(first)?;
        let kept: HashMap<Seq, String> = read(first)?;
        let erased = read(first)?;
        let group = read(first)?;
        let by_last_change = read::<Vec<(Seq, ProjectId)>>(first)?.into_iter().collect();
        let membership_changes = read(first)?;
        let access = read(first)?;
        let time = read::<Vec<(TimeId, TimeGiven)>>(first)?
            .into_iter()
            .collect();
        let payments = read::<Vec<(PaymentId, Payment)>>(first)?
            .into_iter()
            .collect();
        let (decisions, actions, decisions_by_stage, waiting) = other
            .join()
            .map_err(|_| "its reader failed".to_string())??;
        let kept = kept
            .into_iter()
            .map(|(seq, text)| Ok((seq, serde_json::from_str(&text).map_err(|e| e.to_string())?)))
            .collect::<Result<_, String>>()?;
        // Every field named: a field added to the model and not saved is
        // a compile error here, not a model quietly missing it.
        Ok(Model {
            last_seq,
            outside_projects,
            projects,
            people,
            proposals,
            decisions,
            challenges,
            actions,
            meeting_ids,
            corrections,
            kept,
            erased,
            group,
            by_last_change,
            membership_changes,
            decisions_by_stage,
            waiting,
            words,
            access,
            time,
            payments,
        })
    })
}

/// Saves `model` as the snapshot, replacing the last. `model` is read
/// only once the store's snapshot lock is held (an erasure waits for it).
/// Returns the size of the log it was made at.
pub fn save<M: std::ops::Deref<Target = Model>>(
    ledger: &Ledger,
    model: impl FnOnce() -> M,
) -> Result<u64, LedgerError> {
    let mut out = ledger.store().begin_snapshot(NAME)?;
    let model = model();
    let size = model.last_seq.map_or(0, |s| s + 1);
    out.start(size, &format_key())?;
    write_model(&mut out, &model).map_err(|e| LedgerError::Corrupt {
        seq: size,
        what: format!("the model could not be written as a snapshot: {e}"),
    })?;
    drop(model);
    out.finish()?;
    Ok(size)
}

/// The model in the order [`read_model`] reads it.
fn write_model(out: &mut SnapshotWriter<'_>, model: &Model) -> Result<(), String> {
    // Every field named, as in `read_model`.
    let Model {
        last_seq,
        outside_projects,
        projects,
        people,
        proposals,
        decisions,
        challenges,
        actions,
        meeting_ids,
        corrections,
        kept,
        erased,
        group,
        by_last_change,
        membership_changes,
        decisions_by_stage,
        waiting,
        // Not saved: where words are read from (the log the snapshot is of).
        words: _,
        access,
        time,
        payments,
    } = model;
    // What is kept of an erased record is free-form JSON, which a compact
    // binary form cannot carry as it is: it is saved as JSON text.
    let kept: HashMap<Seq, String> = kept.iter().map(|(s, v)| (*s, v.to_string())).collect();
    write(out, last_seq)?;
    write(out, outside_projects)?;
    write(out, projects)?;
    write(out, people)?;
    write(out, proposals)?;
    write(out, challenges)?;
    write(out, meeting_ids)?;
    write(out, corrections)?;
    write(out, &kept)?;
    write(out, erased)?;
    write(out, group)?;
    write(out, by_last_change)?;
    write(out, membership_changes)?;
    write(out, access)?;
    write(out, time)?;
    write(out, payments)?;
    out.next_section();
    write(out, decisions)?;
    write(out, actions)?;
    write(out, decisions_by_stage)?;
    write(out, waiting)?;
    Ok(())
}

/// The size of the log the snapshot was made at, if there is one.
pub fn saved_at(ledger: &Ledger) -> Option<u64> {
    ledger.store().snapshot_size(NAME)
}
