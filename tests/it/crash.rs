//! Crash test in the manner of sled's: the test runs its own binary again as
//! a child that appends as fast as it can, kills it with SIGKILL at a random
//! moment, reopens the store, and checks that every append the child had
//! acknowledged is there, unchanged, and that the whole log verifies.

use jointly::ledger::sequencer::Sequencer;
use jointly::ledger::verify::verify_full;
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use rand::Rng;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CHILD_ENV: &str = "JOINTLY_CRASH_CHILD_DIR";
const ROUNDS: usize = 24;

/// The child: only does anything when the parent started it.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (ledger, _) = Ledger::open(std::path::Path::new(&dir)).unwrap();
        let seq = Sequencer::start(ledger);
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let seq = seq.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    let payload = CanonicalPayload::parse(
                        format!(
                            r#"{{"writer":{writer},"n":{n},"text":"crash test {writer}-{n}"}}"#
                        )
                        .as_bytes(),
                    )
                    .unwrap();
                    let a = seq
                        .append(NewEvent {
                            expected: None,
                            event_type: EventType::new("x.crash.test").unwrap(),
                            actor: Actor::new("test:crash").unwrap(),
                            payload,
                        })
                        .await
                        .unwrap();
                    // Printed only once durable: the parent holds us to it.
                    println!("ack {} {} {}", a.seq, a.id, a.hash);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = rand::rng();
    let mut acked: Vec<(u64, String, String)> = Vec::new();
    let mut kills_mid_stream = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash::crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let first = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let reader = {
            let (lines, first) = (lines.clone(), first.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("ack ") {
                        lines.lock().unwrap().push(rest.to_string());
                        let (lock, cv) = &*first;
                        *lock.lock().unwrap() = true;
                        cv.notify_all();
                    }
                }
            })
        };
        // Wait for the stream to start, then kill at a random moment in it.
        {
            let (lock, cv) = &*first;
            let guard = lock.lock().unwrap();
            let _ = cv
                .wait_timeout_while(guard, Duration::from_secs(30), |started| !*started)
                .unwrap();
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..150_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        let new: Vec<String> = std::mem::take(&mut *lines.lock().unwrap());
        assert!(
            !new.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        kills_mid_stream += 1;
        for l in new {
            let mut parts = l.split(' ');
            let seq: u64 = parts.next().unwrap().parse().unwrap();
            acked.push((
                seq,
                parts.next().unwrap().into(),
                parts.next().unwrap().into(),
            ));
        }

        let (ledger, _) =
            Ledger::open(&data).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let verified =
            verify_full(&ledger, &mut |_| {}).unwrap_or_else(|e| panic!("round {round}: {e}"));
        for (seq, id, hash) in &acked {
            let ev = ledger
                .get(*seq)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged record {seq} is missing"));
            assert_eq!(&ev.record.id().to_string(), id, "record {seq}");
            assert_eq!(&ev.hash.to_hex(), hash, "record {seq}");
            // And found by its id: the id index is rebuilt from the log too.
            let by_id = ledger.get_by_id(&ev.record.id()).unwrap();
            assert_eq!(
                by_id.map(|e| e.record.seq()),
                Some(*seq),
                "record {seq} by id"
            );
        }
        assert!(verified.size >= acked.len() as u64);
    }
    assert!(kills_mid_stream >= 20);
}

/// The same promise for the `jointly` binary itself: a bulk load killed at
/// random moments keeps every batch it reported, and nothing else is lost.
#[test]
fn bulk_load_killed_keeps_every_reported_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lines = dir.path().join("lines.jsonl");
    let mut text = String::new();
    for i in 0..60_000 {
        text.push_str(&format!("{{\"i\":{i},\"text\":\"bulk line {i}\"}}\n"));
    }
    std::fs::write(&lines, text).unwrap();
    let mut rng = rand::rng();
    let mut reported: Vec<(u64, String)> = Vec::new();
    for round in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jointly"))
            .args(["append", "--type", "x.bulk", "--lines", "--payload"])
            .arg(&lines)
            .env("JOINTLY_DATA", &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(out).read_to_string(&mut text);
            // The kill can cut the last line short: only whole lines (those
            // ending in a newline) were reported.
            let whole = text.rfind('\n').map_or("", |end| &text[..end]);
            whole
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    (
                        v["seq"].as_u64().unwrap(),
                        v["hash"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(50..1500)));
        let _ = child.kill();
        child.wait().unwrap();
        reported.extend(reader.join().unwrap());
        let (ledger, _) = Ledger::open(&data).unwrap_or_else(|e| panic!("round {round}: {e}"));
        verify_full(&ledger, &mut |_| {}).unwrap_or_else(|e| panic!("round {round}: {e}"));
        for (seq, hash) in &reported {
            let ev = ledger
                .get(*seq)
                .unwrap()
                .unwrap_or_else(|| panic!("reported record {seq} is missing"));
            assert_eq!(&ev.hash.to_hex(), hash);
        }
    }
}
