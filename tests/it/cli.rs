//! The command line on damaged or forged inputs: each is caught with the
//! exit code scripts rely on (1 a failed check, 2 bad input) and a message
//! that says what is wrong.

use jointly::ledger::notary::Notary;
use jointly::ledger::receipt::Receipt;
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use std::path::Path;
use std::process::Command;

/// Runs `jointly` with `args` on the data directory `data`; checks the exit
/// code and that stderr (or stdout) says `says`.
fn check(data: &Path, args: &[&str], code: i32, says: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_jointly"))
        .env("JOINTLY_DATA", data)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "jointly {args:?}:\n{text}");
    assert!(
        text.contains(says),
        "jointly {args:?} should say {says:?}:\n{text}"
    );
}

/// A data directory of `n` records, a receipt for record 3 and the verifier key.
fn setup(dir: &Path, n: u64) -> (String, String) {
    let (ledger, _) = Ledger::open(dir).unwrap();
    let events = (0..n)
        .map(|i| NewEvent {
            expected: None,
            event_type: EventType::new("x.cli").unwrap(),
            actor: Actor::new("test:cli").unwrap(),
            payload: CanonicalPayload::parse(format!(r#"{{"i":{i}}}"#).as_bytes()).unwrap(),
        })
        .collect();
    ledger.append_batch(events).unwrap();
    let notary = Notary::open(&ledger, "example.org/log").unwrap();
    let note = notary.sign_head(&ledger).unwrap();
    let receipt = Receipt {
        record: ledger.store().read(3).unwrap().unwrap().record,
        index: 3,
        proof: ledger.inclusion_proof(3, n).unwrap(),
        checkpoint: note,
    };
    (receipt.to_text(), notary.verifier().to_string())
}

#[test]
fn damaged_and_forged_inputs_are_caught() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let (receipt, key) = setup(&data, 20);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let write = |name: &str, text: &str| {
        let p = base.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.receipt", &receipt);
    check(
        &data,
        &["verify-receipt", &good, "--key", &key],
        0,
        "receipt verified: record 3",
    );

    // A replaced checkpoint signature: signed by someone else under the same name.
    let other_dir = base.path().join("other");
    let (other_receipt, _) = setup(&other_dir, 20);
    let their_sig = other_receipt.lines().last().unwrap();
    let our_sig = receipt.lines().last().unwrap();
    let replaced = write("replaced.receipt", &receipt.replace(our_sig, their_sig));
    check(
        &data,
        &["verify-receipt", &replaced, "--key", &key],
        1,
        "no valid signature by example.org/log",
    );
    // Another index for the same proof.
    let moved = write("moved.receipt", &receipt.replacen("index 3", "index 4", 1));
    check(&data, &["verify-receipt", &moved, "--key", &key], 1, "");
    // Not a receipt at all, or a malformed key: bad input.
    let junk = write("junk.receipt", "hello\n");
    check(&data, &["verify-receipt", &junk, "--key", &key], 2, "");
    check(
        &data,
        &["verify-receipt", &good, "--key", "example.org/log+00+AAAA"],
        2,
        "--key",
    );

    // A trusted root that the log no longer has: a rewritten history.
    check(&data, &["verify"], 0, "verified 20 records");
    let wrong_root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    check(
        &data,
        &["verify", "--from", "10", "--root", wrong_root],
        1,
        "verification failed",
    );
    check(
        &data,
        &["verify", "--from", "10", "--root", "not base64!"],
        2,
        "--root",
    );

    // A truncated log: records acknowledged but gone from records.log.
    let log = data.join("records.log");
    let len = std::fs::metadata(&log).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(len - 200).unwrap();
    drop(f);
    check(&data, &["verify"], 1, "records were lost");
    check(
        &data,
        &["verify"],
        1,
        "restore the data directory from a backup",
    );
}

/// Import checks all that `verify` checks, and the bundle's line ends,
/// before it writes anything: each bad bundle is refused (exit 2), the
/// target stays empty, and the good bundle imports and verifies.
#[test]
fn import_refuses_what_verify_would_and_writes_nothing() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let (ledger, _) = Ledger::open(&data).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    drop(ledger);
    let bundle = base.path().join("bundle.jsonl");
    let out = crate::common::jointly(&data, &["export", "--out", bundle.to_str().unwrap()], None);
    assert!(out.status.success());
    let good = std::fs::read_to_string(&bundle).unwrap();
    // A payload and salt set to null with no record.redacted naming it.
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"salt\":\"") && l.starts_with("{\"payload\":{"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&lines[at]).unwrap();
    v["payload"] = serde_json::Value::Null;
    v["salt"] = serde_json::Value::Null;
    lines[at] = String::from_utf8(jointly::ledger::canonical::canonical_bytes(&v)).unwrap();
    let redacted = lines.join("\n") + "\n";
    let cases = [
        (
            "an unauthorised redaction",
            redacted,
            "no record.redacted authorising it",
        ),
        ("CR LF line ends", good.replace('\n', "\r\n"), "CR LF"),
        (
            "no final newline",
            good.trim_end().to_string(),
            "does not end with a newline",
        ),
    ];
    for (what, text, says) in cases {
        let file = base.path().join("bad.jsonl");
        std::fs::write(&file, text).unwrap();
        let target = base.path().join("imported");
        check(&target, &["import", file.to_str().unwrap()], 2, says);
        let empty = !target.exists() || std::fs::read_dir(&target).unwrap().next().is_none();
        assert!(empty, "{what}: import wrote into {}", target.display());
        assert!(
            !std::fs::read_dir(base.path()).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("importing")),
            "{what}: a half-built store was left behind"
        );
    }
    let target = base.path().join("restored");
    check(
        &target,
        &["import", bundle.to_str().unwrap()],
        0,
        "imported",
    );
    check(&target, &["verify"], 0, "verified");
}

/// `append --type record.redacted` is refused from the command line: an
/// erasure is the only way to write one.
#[test]
fn erasure_records_come_only_from_erasure() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let payload = br#"{"records":[{"seq":1,"kept":{}}],"reason":"R","legal_basis":"B"}"#;
    for t in ["record.redacted", "retention.applied"] {
        let out = crate::common::jointly(
            &data,
            &["append", "--type", t, "--payload", "-"],
            Some(payload),
        );
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not allowed, nothing was written"));
        // Refused before the store was opened: not even a directory.
        assert!(!data.exists());
    }
}

/// (issue 29) Every link `jointly` makes starts with `--public-url`: a
/// server that others reach (listening beyond this machine), or that
/// sends email, will not start without one (exit 2, saying so), rather
/// than make links from its listen address or a request's `Host`.
#[test]
fn serve_needs_a_public_url_to_make_links_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = |host: &str| format!("{host}:{port}");
    let smtp = [
        "--smtp",
        "smtp://127.0.0.1:1",
        "--mail-from",
        "jointly@example.org",
    ];
    let cases: [Vec<String>; 2] = [
        vec!["serve".into(), "--listen".into(), listen("0.0.0.0")],
        [
            vec!["serve".into(), "--listen".into(), listen("127.0.0.1")],
            smtp.map(String::from).to_vec(),
        ]
        .concat(),
    ];
    for args in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jointly"))
            .env("JOINTLY_DATA", dir.path())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("jointly {args:?} started without --public-url");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let mut said = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains("--public-url"), "{args:?}: {said}");
    }
}
