//! Signed checkpoints and receipts: a receipt verifies offline and any
//! change to it is caught; the notary refuses to sign a history that does
//! not extend what it signed before.

use jointly::ledger::Ledger;
use jointly::ledger::notary::{Notary, NotaryError};
use jointly::ledger::receipt::Receipt;

fn receipt(ledger: &Ledger, notary: &Notary, seq: u64) -> Receipt {
    let note = notary.sign_head(ledger).unwrap();
    let size = ledger.head().size;
    Receipt {
        record: ledger.store().read(seq).unwrap().unwrap().record,
        index: seq,
        proof: ledger.inclusion_proof(seq, size).unwrap(),
        checkpoint: note,
    }
}

#[test]
fn receipts_verify_offline_and_changes_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    append(&ledger, 13, "a");
    let notary = Notary::open(&ledger, "example.org/log").unwrap();
    let key = notary.verifier();
    let r = receipt(&ledger, &notary, 5);
    let text = r.to_text();
    let parsed = Receipt::parse(&text).unwrap();
    assert_eq!(parsed, r);
    assert_eq!(parsed.verify(&key).unwrap().size, 13);

    let refuse = |t: String, why: &str| {
        let ok = Receipt::parse(&t).and_then(|r| r.verify(&key).map(|_| ()));
        assert!(ok.is_err(), "accepted {why}");
    };
    refuse(text.replacen("index 5", "index 6", 1), "another index");
    refuse(text.replacen("\n13\n", "\n14\n", 1), "another size");
    let other_dir = tempfile::tempdir().unwrap();
    let (other_ledger, _) = Ledger::open(other_dir.path()).unwrap();
    let other = Notary::open(&other_ledger, "example.org/log").unwrap();
    assert!(
        r.verify(&other.verifier()).is_err(),
        "another key's verifier accepted it"
    );
    // A proof hash changed.
    let mut bad = r.clone();
    bad.proof[0].0[0] ^= 1;
    assert!(bad.verify(&key).is_err());
    // Another record put in.
    let mut bad = r.clone();
    bad.record = ledger.store().read(6).unwrap().unwrap().record;
    assert!(bad.verify(&key).is_err());
}

#[test]
fn the_notary_never_signs_a_rewritten_history() {
    let base = tempfile::tempdir().unwrap();
    let live = base.path().join("live");
    let (ledger, _) = Ledger::open(&live).unwrap();
    append(&ledger, 10, "a");
    let notary = Notary::open(&ledger, "example.org/log").unwrap();
    notary.sign_head(&ledger).unwrap();
    // Keep the signing key and checkpoint, but rewrite the history: a new
    // store with other records and the old key and checkpoint table.
    drop(notary);
    drop(ledger);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let forged = base.path().join("forged");
    let (other, _) = Ledger::open(&forged).unwrap();
    append(&other, 12, "b");
    drop(other);
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::copy(live.join("checkpoint.key"), forged.join("checkpoint.key")).unwrap();
    // The checkpoints table lives in the index: carry it over by reopening
    // the live store's notary state into the forged store.
    let (live_ledger, _) = Ledger::open(&live).unwrap();
    let latest = Notary::open(&live_ledger, "x").unwrap().latest().unwrap().1;
    drop(live_ledger);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (forged_ledger, _) = Ledger::open(&forged).unwrap();
    forged_ledger
        .store()
        .side_table("checkpoints")
        .unwrap()
        .put(b"latest", latest.as_bytes())
        .unwrap();
    let notary = Notary::open(&forged_ledger, "x").unwrap();
    match notary.sign_head(&forged_ledger) {
        Err(NotaryError::Inconsistent { size }) => assert_eq!(size, 10),
        other => panic!("signed a rewritten history: {other:?}"),
    }
}

fn append(ledger: &Ledger, n: u64, tag: &str) {
    crate::common::append_plain(ledger, n, "x.audit", tag);
}
