//! What opening a store does with damage short of tampering: derived files
//! (offsets, ids, tree) or the sled index lost (rebuilt from the log), a torn final write (moved
//! aside), and a log that lost acknowledged records (refused, never served).

use jointly::ledger::verify::verify_full;
use jointly::ledger::{
    Actor, CanonicalPayload, EventType, Ledger, LedgerError, NewEvent, StoreError,
};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

const RECORDS: u64 = 300;

fn make_store(dir: &Path) -> jointly::ledger::Head {
    let (ledger, _) = Ledger::open(dir).unwrap();
    for chunk in 0..3 {
        let events = (0..RECORDS / 3)
            .map(|i| NewEvent {
                expected: None,
                event_type: EventType::new("x.recovery").unwrap(),
                actor: Actor::new("test:recovery").unwrap(),
                payload: CanonicalPayload::parse(
                    format!(r#"{{"chunk":{chunk},"i":{i}}}"#).as_bytes(),
                )
                .unwrap(),
            })
            .collect();
        ledger.append_batch(events).unwrap();
    }
    ledger.head()
}

/// Damages a fresh store with `damage`, reopens it, and checks what happens.
fn check(damage: impl Fn(&Path), expect: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let head = make_store(dir.path());
    damage(dir.path());
    let opened = Ledger::open(dir.path());
    match (expect, opened) {
        (Expect::Rebuilt { reindexed, torn }, Ok((ledger, report))) => {
            assert_eq!(report.reindexed, reindexed);
            assert_eq!(report.torn_tail.is_some(), torn);
            assert_eq!(ledger.head(), head);
            let v = verify_full(&ledger, &mut |_| {}).unwrap();
            assert_eq!(v.size, RECORDS);
            assert_eq!(ledger.inclusion_proof(17, RECORDS).unwrap().len(), 9);
            for seq in [0, 17, RECORDS - 1] {
                let id = ledger.get(seq).unwrap().unwrap().record.id();
                let found = ledger.get_by_id(&id).unwrap().map(|e| e.record.seq());
                assert_eq!(found, Some(seq), "record {seq} by its id");
            }
        }
        (Expect::Lost, Err(LedgerError::Store(StoreError::Lost { acknowledged, .. }))) => {
            assert_eq!(acknowledged, RECORDS);
        }
        (_, Err(e)) => panic!("open failed: {e}"),
        (_, Ok(_)) => panic!("open succeeded on a store that lost records"),
    }
}

#[derive(Clone, Copy)]
enum Expect {
    Rebuilt { reindexed: u64, torn: bool },
    Lost,
}

#[test]
fn derived_files_lost_are_rebuilt_from_the_log() {
    check(
        |d| {
            std::fs::remove_file(d.join("offsets.idx")).unwrap();
            std::fs::remove_file(d.join("ids.idx")).unwrap();
            std::fs::remove_file(d.join("tree.idx")).unwrap();
        },
        Expect::Rebuilt {
            reindexed: 0,
            torn: false,
        },
    );
}

#[test]
fn derived_files_cut_short_are_rebuilt() {
    check(
        |d| {
            let f = OpenOptions::new()
                .write(true)
                .open(d.join("tree.idx"))
                .unwrap();
            f.set_len(100).unwrap();
        },
        Expect::Rebuilt {
            reindexed: 0,
            torn: false,
        },
    );
}

/// The ids file alone cut short (the last id too): caught by the check at
/// open and rebuilt, so every record is found by its id again.
#[test]
fn ids_file_cut_short_is_rebuilt() {
    check(
        |d| {
            let f = OpenOptions::new()
                .write(true)
                .open(d.join("ids.idx"))
                .unwrap();
            f.set_len(100 * 16 + 5).unwrap();
        },
        Expect::Rebuilt {
            reindexed: 0,
            torn: false,
        },
    );
}

/// An erased frame keeps the room its payload took, so the derived files
/// are rebuilt from where such a frame ends, not from where its shorter
/// entry would end (found by tests/erasure_crash.rs).
#[test]
fn derived_files_after_erased_records_are_rebuilt() {
    check(
        |d| {
            let (ledger, _) = Ledger::open(d).unwrap();
            let all: Vec<u64> = (0..RECORDS).collect();
            ledger.store().erase_payloads(&all).unwrap();
            drop(ledger);
            let f = OpenOptions::new()
                .write(true)
                .open(d.join("tree.idx"))
                .unwrap();
            f.set_len(100 * 32).unwrap();
        },
        Expect::Rebuilt {
            reindexed: 0,
            torn: false,
        },
    );
}

#[test]
fn sled_index_lost_is_rebuilt_from_the_log() {
    check(
        |d| std::fs::remove_dir_all(d.join("index")).unwrap(),
        Expect::Rebuilt {
            reindexed: RECORDS,
            torn: false,
        },
    );
}

#[test]
fn a_torn_final_write_is_moved_aside() {
    check(
        |d| {
            let mut f = OpenOptions::new()
                .append(true)
                .open(d.join("records.log"))
                .unwrap();
            f.write_all(&[200, 0, 0, 0, 10, 0, 0, 0, 0, b'{', b'"'])
                .unwrap();
        },
        Expect::Rebuilt {
            reindexed: 0,
            torn: true,
        },
    );
}

#[test]
fn a_log_cut_short_is_refused_not_served() {
    check(
        |d| {
            let f = OpenOptions::new()
                .write(true)
                .open(d.join("records.log"))
                .unwrap();
            let len = f.metadata().unwrap().len();
            f.set_len(len - 40).unwrap();
        },
        Expect::Lost,
    );
}
