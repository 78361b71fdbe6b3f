//! The model saved for start-up: read back, it is the model folded from
//! the log; a snapshot that no longer fits the log, or was damaged, is
//! removed and the log folded from the start.

use jointly::app::fold::rebuild;
use jointly::app::rules::Rules;
use jointly::app::snapshot::{self, Start};
use jointly::coproduction::author::Author;
use jointly::coproduction::model::Model;
use jointly::coproduction::values::Role;
use jointly::ledger::{CanonicalPayload, EventType, Ledger, NewEvent};
use serde_json::json;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

fn demo() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, 3).unwrap();
    (dir, ledger)
}

fn snapshot_file(dir: &Path) -> PathBuf {
    dir.join("snapshots").join("model.snapshot")
}

/// Everything the model holds, written out in a fixed order (its hash
/// maps and sets have none of their own), to compare two models.
fn shape(m: &Model) -> Vec<String> {
    fn sorted<T: Debug>(items: impl IntoIterator<Item = T>) -> String {
        let mut v: Vec<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
        v.sort();
        v.join("\n")
    }
    vec![
        format!(
            "{:?} {} {}",
            m.last_seq, m.outside_projects, m.membership_changes
        ),
        format!("{:?}", m.projects),
        // Tables keep the order recorded, which a snapshot must keep too.
        format!("{:?}", m.people),
        format!("{:?}", m.proposals),
        format!("{:?}", m.decisions),
        format!("{:?}", m.challenges),
        format!("{:?}", m.actions),
        sorted(&m.meeting_ids),
        format!("{:?}", m.corrections),
        sorted(&m.kept),
        sorted(&m.erased),
        format!("{:?}", m.group),
        format!("{:?}", m.by_last_change),
        format!("{:?}", m.decisions_by_stage),
        format!("{:?}", m.waiting),
    ]
}

/// A partner of an open project raises an idea, through the rules.
fn raise_an_idea(ledger: &Ledger) {
    let mut rules = Rules::new(ledger.clone()).unwrap();
    let (project, partner) = {
        let m = rules.read();
        m.projects
            .values()
            .filter(|p| p.stage != jointly::coproduction::values::Stage::Closed)
            .find_map(|p| {
                let who = p
                    .members
                    .iter()
                    .find(|(_, s)| s.active && s.role == Role::Partner)?;
                Some((p.id, *who.0))
            })
            .unwrap()
    };
    let event = NewEvent {
        expected: None,
        event_type: EventType::new("proposal.raised").unwrap(),
        actor: Author::partner_actor(partner),
        payload: CanonicalPayload::from_value(&json!({
            "project_id": project, "proposal_id": uuid::Uuid::new_v4(),
            "text": "Hold the meeting after school pick-up."}))
        .unwrap(),
    };
    let mut done = ledger.append_admitted(vec![event], &mut rules).unwrap();
    done.pop().unwrap().unwrap();
}

/// Saves the model at the log's head, changes things with `then`, opens:
/// `expect` is "snapshot" (read from it) or words of why it was not used.
/// Either way the model is the one folded from the log, and a snapshot
/// not used is gone.
fn check(then: fn(&Path, &Ledger), expect: &str) {
    let (dir, ledger) = demo();
    let at = snapshot::save(&ledger, || Box::new(rebuild(&ledger).unwrap())).unwrap();
    assert_eq!(at, ledger.head().size);
    assert_eq!(snapshot::saved_at(&ledger), Some(at));
    then(dir.path(), &ledger);
    let (model, start) = snapshot::open(&ledger).unwrap();
    assert_eq!(
        shape(&model),
        shape(&rebuild(&ledger).unwrap()),
        "{start:?}"
    );
    match start {
        Start::Snapshot { size } => {
            assert_eq!(expect, "snapshot", "it was used");
            assert_eq!(size, at);
        }
        Start::Folded { why } => {
            assert!(why.contains(expect), "{why:?} does not say {expect:?}");
            assert!(
                !snapshot_file(dir.path()).exists(),
                "a snapshot not used is removed"
            );
        }
    }
}

fn flip(path: &Path, at: impl Fn(u64) -> u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at(bytes.len() as u64) as usize;
    bytes[i] ^= 1;
    std::fs::write(path, bytes).unwrap();
}

/// A store of its own, whose log is not the one the snapshot was made of.
fn another(size: u64) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, size).unwrap();
    (dir, ledger)
}

#[test]
fn a_snapshot_is_used_only_while_it_fits_the_log() {
    check(|_, _| {}, "snapshot");
    // Appended after it: read, and the rest folded on top.
    check(|_, l| raise_an_idea(l), "snapshot");
    check(|d, _| flip(&snapshot_file(d), |n| n / 2), "");
    // The last byte of the last section's value: still reads, hash differs.
    check(
        |d, _| flip(&snapshot_file(d), |n| n - 8 - 80 - 1),
        "hash differs",
    );
    check(
        |d, _| flip(&snapshot_file(d), |_| 20),
        "folds the log differently",
    );
    check(|d, _| flip(&snapshot_file(d), |_| 0), "not a snapshot");
    check(
        |d, _| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(snapshot_file(d))
                .unwrap();
            let n = f.metadata().unwrap().len();
            f.set_len(n - 10).unwrap();
        },
        "cut short",
    );
    // The snapshot of another log of the same kind and size, put here.
    check(
        |d, _| {
            let (other, ledger) = another(3);
            snapshot::save(&ledger, || Box::new(rebuild(&ledger).unwrap())).unwrap();
            std::fs::copy(snapshot_file(other.path()), snapshot_file(d)).unwrap();
        },
        "not those it was made from",
    );
    // ... or of a longer one.
    check(
        |d, _| {
            let (other, ledger) = another(8);
            snapshot::save(&ledger, || Box::new(rebuild(&ledger).unwrap())).unwrap();
            std::fs::copy(snapshot_file(other.path()), snapshot_file(d)).unwrap();
        },
        "the log holds",
    );
}

/// The rules open from the snapshot too, and what they then admit lands
/// on the model read from it.
#[test]
fn the_rules_start_from_the_snapshot_and_go_on() {
    let (_dir, ledger) = demo();
    snapshot::save(&ledger, || Box::new(rebuild(&ledger).unwrap())).unwrap();
    let (_, start) = Rules::open(ledger.clone()).unwrap();
    assert_eq!(
        start,
        Start::Snapshot {
            size: ledger.head().size
        }
    );
    raise_an_idea(&ledger);
    raise_an_idea(&ledger);
    let (rules, start) = Rules::open(ledger.clone()).unwrap();
    assert_eq!(
        start,
        Start::Snapshot {
            size: ledger.head().size - 2
        }
    );
    assert_eq!(shape(&rules.read()), shape(&rebuild(&ledger).unwrap()));
}
