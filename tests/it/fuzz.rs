//! The short fuzz run of every test run: each target in `crates/ledger/src/fuzzing.rs`
//! gets its kept corpus (`fuzz/corpus/<target>/`) and then twenty thousand
//! seeded mutations of it (bit flips, insertions, deletions, truncations,
//! splices). Any panic fails the test and saves the input under
//! `target/fuzz-failures/` for `cargo fuzz` or a unit test. The long runs
//! are `cargo +nightly fuzz run <target>` (see fuzz/Cargo.toml).

use jointly_ledger::fuzzing::TARGETS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

const MUTATIONS: usize = 20_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if target == "tlog_proof" {
        seeds.push(receipt());
    }
    assert!(
        !seeds.is_empty(),
        "no corpus for {target} in {}",
        dir.display()
    );
    seeds
}

/// A real receipt, signed with the key the target checks against.
fn receipt() -> Vec<u8> {
    use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let events = (0..5)
        .map(|i| NewEvent {
            expected: None,
            event_type: EventType::new("x.fuzz").unwrap(),
            actor: Actor::new("test:fuzz").unwrap(),
            payload: CanonicalPayload::parse(format!(r#"{{"i":{i}}}"#).as_bytes()).unwrap(),
        })
        .collect();
    ledger.append_batch(events).unwrap();
    let signer = jointly::ledger::note::Signer::from_seed("fuzz.example/log", [7; 32]).unwrap();
    let cp =
        jointly::ledger::checkpoint::Checkpoint::new("fuzz.example/log", 5, ledger.head().root)
            .unwrap();
    jointly::ledger::receipt::Receipt {
        record: ledger.store().read(2).unwrap().unwrap().record,
        index: 2,
        proof: ledger.inclusion_proof(2, 5).unwrap(),
        checkpoint: signer.sign(&cp.body()).unwrap(),
    }
    .to_text()
    .into_bytes()
}

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..4) {
        let n = d.len();
        match rng.random_range(0..6) {
            0 if n > 0 => {
                let i = rng.random_range(0..n);
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=n);
                let b = *b"{}[]\",:\\0123456789eE+-.\n ";
                d.insert(i, b[rng.random_range(0..b.len())]);
            }
            2 if n > 0 => {
                d.remove(rng.random_range(0..n));
            }
            3 if n > 0 => d.truncate(rng.random_range(0..n)),
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let at = rng.random_range(0..=n);
                    let piece: Vec<u8> = other[from..].iter().take(16).copied().collect();
                    d.splice(at..at, piece);
                }
            }
            _ if n > 0 => {
                let i = rng.random_range(0..n);
                d[i] = rng.random();
            }
            _ => d.push(rng.random()),
        }
    }
    d
}

#[test]
fn no_target_panics_on_its_corpus_or_mutations_of_it() {
    for (name, target) in TARGETS {
        let seeds = corpus(name);
        let mut rng = StdRng::seed_from_u64(0x6a6f696e746c79);
        let runs = if *name == "bundle" {
            MUTATIONS / 10
        } else {
            MUTATIONS
        };
        let inputs = seeds
            .clone()
            .into_iter()
            .chain((0..runs).map(|_| mutate(&mut rng, &seeds)));
        for input in inputs {
            let caught = std::panic::catch_unwind(|| target(&input));
            if caught.is_err() {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{name}-{:016x}", rng.random::<u64>()));
                std::fs::write(&path, &input).unwrap();
                panic!("{name} panicked on an input saved to {}", path.display());
            }
        }
    }
}
