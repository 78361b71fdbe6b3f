//! Entry points for fuzzing: each takes arbitrary bytes and must return
//! without panicking, whatever they are. The cargo-fuzz targets in `fuzz/`
//! call these, and so does `tests/fuzz.rs`, which replays the kept corpus
//! and a short seeded run of mutations in every test run.

use crate::checkpoint::Checkpoint;
use crate::note::{Note, Verifier};
use crate::receipt::Receipt;
use crate::record::Record;
use crate::{CanonicalPayload, bundle};

/// A fuzz target: arbitrary bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: &[(&str, Target)] = &[
    ("canonical_payload", canonical_payload),
    ("record", record),
    ("signed_note", signed_note),
    ("checkpoint", checkpoint),
    ("tlog_proof", tlog_proof),
    ("bundle", bundle_file),
];

/// Canonical JSON payloads: parse; what parses must re-encode to itself.
pub fn canonical_payload(data: &[u8]) {
    if let Ok(p) = CanonicalPayload::parse(data) {
        let again = CanonicalPayload::parse(p.as_bytes()).expect("canonical bytes parse");
        assert_eq!(again.as_bytes(), p.as_bytes(), "canonical form is stable");
    }
}

/// Records: read a record from canonical bytes.
pub fn record(data: &[u8]) {
    if let Ok(r) = Record::from_canonical(data) {
        assert_eq!(
            Record::from_canonical(&r.canonical_bytes())
                .ok()
                .map(|x| x.seq()),
            Some(r.seq())
        );
    }
}

/// Signed notes and verifier keys.
pub fn signed_note(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Note::parse(text);
        let _ = Verifier::parse(text.trim());
        let _ = crate::cosignature::CosignatureVerifier::parse(text.trim());
    }
}

/// Checkpoint bodies.
pub fn checkpoint(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = Checkpoint::parse(text)
    {
        assert_eq!(
            Checkpoint::parse(&c.body()).as_ref(),
            Ok(&c),
            "a checkpoint reads back"
        );
    }
}

/// tlog-proof receipts: parse, and check against a fixed key (which must
/// refuse, never panic).
pub fn tlog_proof(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(r) = Receipt::parse(text)
    {
        let key = crate::note::Signer::from_seed("fuzz.example/log", [7; 32])
            .expect("valid name")
            .verifier();
        let _ = r.verify(&key);
    }
}

/// Export bundles: check a whole file.
pub fn bundle_file(data: &[u8]) {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if std::io::Write::write_all(&mut f, data).is_ok() {
        let _ = bundle::check_bundle(f.path(), &mut |_| {}, &mut ());
    }
}
