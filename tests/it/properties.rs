//! Property tests: any sequence of appends verifies, and any single changed
//! byte in any stored record or payload is found, at the right record.
//! Verification reads the log in blocks that its workers check in any
//! order; the tests also read short logs in tiny blocks (one to a few
//! records each), so that the in-order linking across workers is what is
//! tested, not just one block.

use jointly::ledger::LedgerError;
use jointly::ledger::frame::{FRAME_HEADER_LEN, frame_len};
use jointly::ledger::verify::{VerifyFailure, verify_full, verify_full_in_blocks};
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent, StoreError};
use proptest::prelude::*;
use std::os::unix::fs::FileExt;

fn payload_strategy() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(serde_json::Value::from),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(serde_json::Value::from),
        "\\PC{0,24}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z\\u{e9}~/]{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("\\PC{0,8}", value, 0..5)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

fn event(v: &serde_json::Value, type_no: usize) -> NewEvent {
    NewEvent {
        expected: None,
        event_type: EventType::new(&format!("x.prop.{type_no}")).unwrap(),
        actor: Actor::new("test:prop").unwrap(),
        payload: CanonicalPayload::from_value(v).unwrap(),
    }
}

/// Byte ranges (absolute, in records.log) of each whole frame: header,
/// record, salt and payload.
fn frame_regions(log: &[u8]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut at = 16;
    let mut out = Vec::new();
    while at < log.len() {
        let len = frame_len(log[at..at + FRAME_HEADER_LEN].try_into().unwrap()).unwrap();
        out.push((out.len(), at..at + len));
        at += len;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn any_appends_verify_and_read_back(
        batches in prop::collection::vec(prop::collection::vec(payload_strategy(), 1..6), 1..5),
        block in 1usize..2048,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        let mut all = Vec::new();
        for batch in &batches {
            let events = batch.iter().enumerate().map(|(i, v)| event(v, i)).collect();
            let appended = ledger.append_batch(events).unwrap();
            for (a, v) in appended.iter().zip(batch) {
                prop_assert_eq!(a.seq, all.len() as u64);
                all.push(v.clone());
            }
        }
        let verified = verify_full(&ledger, &mut |_| {}).unwrap();
        prop_assert_eq!(verified.size, all.len() as u64);
        let mut seen = 0;
        let in_blocks = verify_full_in_blocks(&ledger, block, &mut |n| seen = n).unwrap();
        prop_assert_eq!(&in_blocks, &verified);
        prop_assert!(seen <= verified.size);
        for (seq, v) in all.iter().enumerate() {
            let ev = ledger.get(seq as u64).unwrap().unwrap();
            prop_assert_eq!(ev.payload.unwrap().to_value(), v.clone());
        }
        // Reopening finds the same head.
        let head = ledger.head();
        drop(ledger);
        let (again, report) = Ledger::open(dir.path()).unwrap();
        prop_assert_eq!(again.head(), head);
        prop_assert_eq!(report.reindexed, 0);
    }

    #[test]
    fn any_changed_byte_is_found_at_its_record(
        payloads in prop::collection::vec(payload_strategy(), 2..12),
        pick in any::<prop::sample::Index>(),
        byte_pick in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        block in 1usize..2048,
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let (ledger, _) = Ledger::open(dir.path()).unwrap();
            ledger.append_batch(payloads.iter().enumerate().map(|(i, v)| event(v, i)).collect()).unwrap();
        }
        let path = dir.path().join("records.log");
        let log = std::fs::read(&path).unwrap();
        let regions = frame_regions(&log);
        let (seq, range) = regions[pick.index(regions.len())].clone();
        let at = range.start + byte_pick.index(range.len());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[log[at] ^ xor], at as u64).unwrap();
        drop(file);

        let found = match Ledger::open(dir.path()) {
            // The quick check at open reads the last record, so may catch it first.
            Err(LedgerError::Store(StoreError::Damaged { seq, .. })) => seq,
            Err(e) => panic!("open failed in an unexpected way: {e}"),
            Ok((ledger, _)) => match verify_full_in_blocks(&ledger, block, &mut |_| {}) {
                Err(VerifyFailure::At { seq, .. }) => seq,
                Err(e) => panic!("verify failed without naming a record: {e}"),
                Ok(v) => panic!("a changed byte at {at} (record {seq}) verified: {v:?}"),
            },
        };
        prop_assert_eq!(found, seq as u64);
    }

    /// Damage to the derived files is repaired at open or reported as
    /// index damage, never blamed on a record, and never serves a wrong
    /// proof or loses a record's id.
    #[test]
    fn damaged_index_files_are_rebuilt_or_reported(
        payloads in prop::collection::vec(payload_strategy(), 2..40),
        file in prop::sample::select(vec!["tree.idx", "offsets.idx", "ids.idx"]),
        byte_pick in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        block in 1usize..2048,
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let (ledger, _) = Ledger::open(dir.path()).unwrap();
            ledger.append_batch(payloads.iter().enumerate().map(|(i, v)| event(v, i)).collect()).unwrap();
        }
        let path = dir.path().join(file);
        let bytes = std::fs::read(&path).unwrap();
        let at = byte_pick.index(bytes.len());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[bytes[at] ^ xor], at as u64).unwrap();
        drop(file);

        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        match verify_full_in_blocks(&ledger, block, &mut |_| {}) {
            Err(VerifyFailure::Index { .. }) => {}
            Err(e) => panic!("index damage reported as {e}"),
            Ok(v) => {
                // Rebuilt at open: then every proof must check out.
                let root = ledger.root_at(v.size).unwrap();
                prop_assert_eq!(root, v.root);
                for seq in 0..v.size {
                    let record = ledger.get(seq).unwrap().unwrap().record;
                    // Every record is still found by its id.
                    let by_id = ledger.get_by_id(&record.id()).unwrap().map(|e| e.record.seq());
                    prop_assert_eq!(by_id, Some(seq));
                    let leaf = jointly::ledger::merkle::leaf_hash(&record.canonical_bytes());
                    let proof = ledger.inclusion_proof(seq, v.size).unwrap();
                    jointly::ledger::merkle::verify_inclusion(
                        jointly::ledger::merkle::LeafIndex(seq),
                        jointly::ledger::merkle::TreeSize(v.size),
                        &leaf, &proof, &root).unwrap();
                }
            }
        }
    }
}
