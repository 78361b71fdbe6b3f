//! `cargo bench --bench ledger`: the ledger's figures for docs/PERFORMANCE.md.
//!
//! - durable appends/s through the sequencer with 1 and 64 concurrent
//!   appenders, with a checkpoint signed after every committed batch and
//!   without;
//! - full verification of a 1,000,000-record log (records/s, MB/s, peak RSS of
//!   `jointly verify` run as its own process, so the figure is its own);
//! - inclusion and consistency proof times, and whole receipts (record,
//!   proof and signed checkpoint as text), at that size (median of many);
//! - disk bytes per record.
//!
//! `BENCH_RECORDS` (default 1000000) and `BENCH_SECONDS` (default 5) scale it.

#![forbid(unsafe_code)]

use jointly::ledger::notary::Notary;
use jointly::ledger::receipt::Receipt;
use jointly::ledger::sequencer::Sequencer;
use jointly::ledger::{Actor, AdmitAll, CanonicalPayload, EventType, Ledger, NewEvent};
use rand::Rng;
use std::path::Path;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A payload of about 400 bytes, like a decision with a plain-English reason.
fn payload(n: u64) -> CanonicalPayload {
    let text = format!(
        r#"{{"n":{n},"project":"p-{}","question":"Should the advice line open on Saturday mornings?","outcome":"Yes, from March, for a trial of three months","reason":"Partners said weekday hours clash with work and school runs; staff agreed the trial and will report back at the next review meeting."}}"#,
        n % 50
    );
    CanonicalPayload::parse(text.as_bytes()).unwrap()
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        expected: None,
        event_type: EventType::new("x.bench.event").unwrap(),
        actor: Actor::new("bench:load").unwrap(),
        payload: payload(n),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn appends(dir: &Path, writers: usize, seconds: u64, signed: bool) -> (f64, f64, f64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ledger, _) = Ledger::open(dir).unwrap();
    let seq = if signed {
        // As `jointly serve` does: the writer signs once per committed batch.
        let notary = Notary::open(&ledger, "bench.example/log").unwrap();
        Sequencer::start_with_after(
            ledger,
            AdmitAll,
            Box::new(move |l: &Ledger| {
                notary.sign_head(l).unwrap();
            }),
        )
    } else {
        Sequencer::start(ledger)
    };
    let (count, mut lat) = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for w in 0..writers {
            let seq = seq.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = w as u64 * 1_000_000;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    seq.append(event(n)).await.unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    n += 1;
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        (all.len(), all)
    });
    seq.shutdown();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = lat[lat.len() / 2];
    let p99 = lat[lat.len() * 99 / 100];
    (count as f64 / seconds as f64, p50, p99)
}

/// Runs `jointly verify` as a child and returns (seconds, peak RSS in MiB).
/// The peak is the child's VmHWM, sampled until it exits (getrusage would
/// report the parent's size, which Linux carries across fork and exec).
fn verify_child(dir: &Path) -> (f64, f64, String) {
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jointly"))
        .args(["verify", "--data"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let secs = start.elapsed().as_secs_f64();
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (secs, peak_kb as f64 / 1024.0, out.trim().to_string())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass other args.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let records = env_or("BENCH_RECORDS", 1_000_000);
    let seconds = env_or("BENCH_SECONDS", 5);
    let tmp =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    println!("jointly ledger benchmark: {records} records, {seconds} s per append run");

    for writers in [1usize, 64] {
        for signed in [false, true] {
            let how = if signed {
                "signed per batch"
            } else {
                "no checkpoints"
            };
            let dir = tmp.path().join(format!("appends-{writers}-{signed}"));
            let (rate, p50, p99) = appends(&dir, writers, seconds, signed);
            println!(
                "durable appends, {writers:>2} appenders, {how:<16}: {rate:>9.0} /s  p50 {p50:.2} ms  p99 {p99:.2} ms"
            );
        }
    }

    let dir = tmp.path().join("big");
    let (ledger, _) = Ledger::open(&dir).unwrap();
    let t = Instant::now();
    let mut n = 0;
    while n < records {
        let batch = (n..(n + 10_000).min(records)).map(event).collect();
        ledger.append_batch(batch).unwrap();
        n = (n + 10_000).min(records);
    }
    let load = t.elapsed().as_secs_f64();
    println!(
        "bulk load (batches of 10,000): {:.0} records/s",
        records as f64 / load
    );

    let mut rng = rand::rng();
    let size = ledger.head().size;
    let mut incl = Vec::new();
    let mut cons = Vec::new();
    for _ in 0..2000 {
        let s = rng.random_range(1..=size);
        let m = rng.random_range(0..s);
        let t = Instant::now();
        let p = ledger.inclusion_proof(m, s).unwrap();
        incl.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(p.len() <= 64);
        let a = rng.random_range(1..=s);
        let t = Instant::now();
        ledger.consistency_proof(a, s).unwrap();
        cons.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "proofs at {size} records: inclusion median {:.1} us, consistency median {:.1} us",
        median(incl),
        median(cons)
    );
    let notary = Notary::open(&ledger, "bench.example/log").unwrap();
    let note = notary.sign_head(&ledger).unwrap();
    let mut receipts = Vec::new();
    for _ in 0..2000 {
        let seq = rng.random_range(0..size);
        let t = Instant::now();
        let record = ledger.store().read(seq).unwrap().unwrap().record;
        let proof = ledger.inclusion_proof(seq, size).unwrap();
        let text = Receipt {
            record,
            index: seq,
            proof,
            checkpoint: note.clone(),
        }
        .to_text();
        receipts.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(text.len() > 100);
    }
    println!(
        "receipt (read record, inclusion proof, tlog-proof text) at {size} records: median {:.1} us",
        median(receipts)
    );
    drop(notary);
    let disk = ledger.store().disk_bytes();
    let log_bytes = std::fs::metadata(dir.join("records.log")).unwrap().len();
    println!(
        "disk: {:.0} bytes/record in all ({:.0} in records.log, {:.0} in the indexes)",
        disk as f64 / size as f64,
        log_bytes as f64 / size as f64,
        (disk - log_bytes) as f64 / size as f64
    );
    drop(ledger);
    std::thread::sleep(Duration::from_millis(200));

    // Whole-process verification, five times: the median time, the largest peak.
    let runs: Vec<(f64, f64, String)> = (0..5).map(|_| verify_child(&dir)).collect();
    let secs = median(runs.iter().map(|r| r.0).collect());
    let rss = runs.iter().map(|r| r.1).fold(0.0, f64::max);
    let line = runs[0].2.clone();
    println!(
        "full verify (whole process, median of 5): {:.2} s, {:.0} records/s, {:.0} MB/s of log, peak RSS {rss:.0} MiB",
        secs,
        size as f64 / secs,
        log_bytes as f64 / secs / 1e6
    );
    println!("  {line}");
}
