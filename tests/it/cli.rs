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
/// server that others reach (listening beyond this machine) will not start
/// without one (exit 2, saying so), rather than make links from its listen
/// address or a request's `Host`. (issue 30) One on this machine only that
/// sends email starts, its links made from the listen address, and warns
/// that they open nowhere else.
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
    let on_this_machine = Command::new(env!("CARGO_BIN_EXE_jointly"))
        .env("JOINTLY_DATA", dir.path())
        .args(["config", "check", "--listen", &listen("127.0.0.1")])
        .args(smtp)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&on_this_machine.stderr);
    assert!(on_this_machine.status.success(), "{said}");
    assert!(
        said.contains("public_url") && said.contains("only on this machine"),
        "{said}"
    );
    let cases: [Vec<String>; 1] = [vec!["serve".into(), "--listen".into(), listen("0.0.0.0")]];
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

/// (issue 30) `jointly` run as a shell with umask 022 would run it, on the
/// data directory `data`, stopped after two minutes (a `serve` that should
/// have been refused must not hang the test).
fn under_umask_022(data: &Path, args: &[&str]) -> Command {
    umask_022(data, "exec timeout 120 \"$0\" \"$@\"", args)
}

/// `sh -c 'umask 022; SCRIPT' jointly ARGS` on the data directory `data`.
fn umask_022(data: &Path, script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("umask 022; {script}")])
        .arg(env!("CARGO_BIN_EXE_jointly"))
        .args(args)
        .env("JOINTLY_DATA", data);
    c
}

/// Runs a command to its end: (exit code, stdout, stderr).
fn ran(mut c: Command) -> (Option<i32>, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `jointly serve` under umask 022 until it answers `/healthz`, does
/// `meanwhile` with its port, then stops it as systemd does (SIGTERM, so
/// it saves its model) and waits for it to end.
fn serving_a_while(data: &Path, extra: &[&str], meanwhile: impl FnOnce(u16)) {
    use std::io::{Read as _, Write as _};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    args.extend_from_slice(extra);
    let mut child = umask_022(data, "exec \"$0\" \"$@\"", &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let healthy = || {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !healthy() {
        assert!(child.try_wait().unwrap().is_none(), "jointly serve ended");
        assert!(
            std::time::Instant::now() < end,
            "jointly serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    meanwhile(port);
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success(), "serve stopped cleanly");
}

/// Every folder under `dir` (itself included) that is not 0700, and every
/// file others could read, with its mode.
fn open_to_others(dir: &Path) -> (Vec<String>, Vec<String>, usize) {
    use std::os::unix::fs::PermissionsExt;
    let (mut folders, mut files, mut n) = (Vec::new(), Vec::new(), 0);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let m = std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
        if m != 0o700 {
            folders.push(format!("{} {m:04o}", d.display()));
        }
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                n += 1;
                let m = e.metadata().unwrap().permissions().mode() & 0o7777;
                if m & 0o077 != 0 {
                    files.push(format!("{} {m:04o}", e.path().display()));
                }
            }
        }
    }
    (folders, files, n)
}

/// (issue 30) Personal data is for jointly's user alone, whatever the
/// umask: after `demo`, a token, `serve` (a backup taken through it, the
/// model saved as it stops) and a backup of the stopped store, and after
/// `serve --demo` on a new directory, all under umask 022, every folder of
/// the data directory is 0700 and no file can be read by others, nor can
/// either backup. A data directory others can read is then refused at
/// start (exit 2) with the chmod that mends it, and changed in nothing.
#[test]
fn the_data_directory_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = base.path().join("data");
    let ok = |c: Command| {
        let (code, out, err) = ran(c);
        assert_eq!(code, Some(0), "{err}");
        out.lines().last().unwrap_or_default().trim().to_string()
    };
    ok(under_umask_022(&data, &["demo"]));
    let admin = ok(under_umask_022(
        &data,
        &["token", "create", "--role", "admin", "--name", "umask"],
    ));
    let online = base.path().join("online.jsonl");
    serving_a_while(&data, &[], |port| {
        let server = format!("http://127.0.0.1:{port}");
        let args = [
            "backup",
            "--server",
            &server,
            "--token",
            &admin,
            "--out",
            online.to_str().unwrap(),
        ];
        ok(under_umask_022(&data, &args));
    });
    let offline = base.path().join("offline.jsonl");
    ok(under_umask_022(
        &data,
        &["backup", "--out", offline.to_str().unwrap()],
    ));
    let demo = base.path().join("served-demo");
    serving_a_while(&demo, &["--demo"], |_| {});

    for dir in [&data, &demo] {
        let (folders, files, n) = open_to_others(dir);
        assert!(n >= 10, "{n} files in {}", dir.display());
        assert!(dir.join("snapshots").is_dir(), "the model was saved");
        assert_eq!(
            (folders, files),
            (vec![], vec![]),
            "not private in {}",
            dir.display()
        );
    }
    for backup in [&online, &offline] {
        let m = std::fs::metadata(backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600, "{}", backup.display());
    }

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = open_to_others(&data);
    for args in [vec!["serve", "--listen", "127.0.0.1:0"], vec!["verify"]] {
        let (code, _, err) = ran(under_umask_022(&data, &args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        let mend = format!("chmod -R go-rwx {}", data.display());
        assert!(
            err.contains(&mend) && err.contains("0755"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        open_to_others(&data),
        before,
        "the refusals changed nothing"
    );
}

/// (issue 30) A mistyped --data is not a new, empty log: every command
/// that reads or serves a store refuses a directory that holds none (one
/// that does not exist, an empty one, one holding other things) with exit
/// 2, naming the path and `jointly init`, and makes nothing: not the
/// directory, not a file in it, not the backup or export asked for.
#[test]
fn a_directory_without_a_store_is_refused_by_what_reads_one() {
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("out.jsonl");
    let out = out.to_str().unwrap();
    let who = "0190a9c1-0000-7000-8000-000000000001";
    let readers: [&[&str]; 14] = [
        &["serve", "--listen", "127.0.0.1:0"],
        &["verify"],
        &["log"],
        &["report"],
        &["export", "--out", out],
        &["backup", "--out", out],
        &["subject-export", who],
        &["retention", "run"],
        &["checkpoint", "key"],
        &["token", "list"],
        &["token", "revoke", "abc"],
        &["erase", who, "--reason", "asked"],
        &["person", "leave", who],
        &["person", "check"],
    ];
    let empty = base.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let other = base.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "not a store").unwrap();
    for dir in [base.path().join("mistyped"), empty.clone(), other.clone()] {
        for args in readers {
            let (code, _, err) = ran(under_umask_022(&dir, args));
            assert_eq!(code, Some(2), "{args:?} on {}: {err}", dir.display());
            assert!(
                err.contains(&format!("no jointly store in {}", dir.display()))
                    && err.contains("init --origin"),
                "{args:?}: {err}"
            );
        }
        assert!(!Path::new(out).exists(), "nothing was written");
    }
    assert!(!base.path().join("mistyped").exists());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);

    // Nor does a command that writes a store's first records make one
    // among other things.
    let (code, _, err) = ran(under_umask_022(&other, &["demo"]));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
}

/// (issue 30) A command that writes a store's first records may make the
/// store, in a directory that does not exist or is empty, and says so on
/// stderr with the path and the log's name; the store is then there for
/// the commands that read one.
#[test]
fn what_writes_a_first_record_may_make_a_store_and_says_so() {
    let base = tempfile::tempdir().unwrap();
    let payload = base.path().join("payload.json");
    std::fs::write(&payload, r#"{"n":1}"#).unwrap();
    let bundle = base.path().join("bundle.jsonl");
    let made_by: [(&str, Vec<&str>); 5] = [
        ("demo", vec!["demo"]),
        (
            "append",
            vec![
                "append",
                "--type",
                "x.n",
                "--payload",
                payload.to_str().unwrap(),
            ],
        ),
        (
            "token",
            vec!["token", "create", "--role", "admin", "--name", "first"],
        ),
        (
            "person",
            vec!["person", "add", "--role", "staff", "--name", "Ann Example"],
        ),
        ("import", vec!["import", bundle.to_str().unwrap()]),
    ];
    for (name, args) in made_by {
        let dir = base.path().join(name);
        if name == "import" {
            std::fs::create_dir(&dir).unwrap(); // an empty directory will do
        }
        let (code, _, err) = ran(under_umask_022(&dir, &args));
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            err.contains(&dir.display().to_string()) && err.contains("localhost/jointly"),
            "{args:?} says where and which log: {err}"
        );
        let (code, out, err) = ran(under_umask_022(&dir, &["verify"]));
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("verified"), "{out}");
        if name == "demo" {
            let export = ["export", "--out", bundle.to_str().unwrap()];
            assert_eq!(ran(under_umask_022(&dir, &export)).0, Some(0));
        }
    }
}

/// (issue 30) `jointly init --origin NAME` makes a store whose log is NAME
/// and prints its verifier key alone on the last line; the same name again
/// is no change; another name is refused (exit 2) naming both, by `init`
/// and by `checkpoint key --origin`, and the key keeps the first. A name a
/// key cannot have is refused before anything is made.
#[test]
fn a_store_keeps_the_name_it_was_made_with() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let (first, other) = ("charity.example.org/log", "elsewhere.example.org/log");
    let (code, out, err) = ran(under_umask_022(&data, &["init", "--origin", first]));
    assert_eq!(code, Some(0), "{err}");
    let key = out.lines().last().unwrap().to_string();
    assert!(key.starts_with(&format!("{first}+")), "{out}");
    assert!(err.contains(&data.display().to_string()), "{err}");

    let (code, out, err) = ran(under_umask_022(&data, &["init", "--origin", first]));
    assert_eq!((code, out.trim()), (Some(0), key.as_str()), "{err}");
    for args in [
        &["init", "--origin", other][..],
        &["checkpoint", "key", "--origin", other],
    ] {
        let (code, _, err) = ran(under_umask_022(&data, args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(first) && err.contains(other),
            "{args:?}: {err}"
        );
    }
    let (code, out, _) = ran(under_umask_022(&data, &["checkpoint", "key"]));
    assert_eq!((code, out.trim()), (Some(0), key.as_str()));
    // The demo fills the store init made, under its name.
    let (code, _, err) = ran(under_umask_022(&data, &["demo"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("made a new store"), "{err}");

    let bad = base.path().join("bad");
    let (code, _, err) = ran(under_umask_022(&bad, &["init", "--origin", "has space"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(!bad.exists(), "nothing made for a name a key cannot have");
}

/// (issue 30) The data directory records its store's format version; a
/// directory a newer version wrote is refused (exit 2) naming both
/// versions, and left as it was.
#[test]
fn a_store_a_newer_version_wrote_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    assert_eq!(ran(under_umask_022(&data, &["demo"])).0, Some(0));
    let format = data.join("format");
    let ours = jointly::ledger::store::FORMAT;
    assert_eq!(
        std::fs::read_to_string(&format).unwrap(),
        format!("{ours}\n")
    );
    let newer = ours + 1;
    std::fs::write(&format, format!("{newer}\n")).unwrap();
    for args in [&["verify"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let (code, _, err) = ran(under_umask_022(&data, args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("format {newer}")) && err.contains(&format!("format {ours}")),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&format).unwrap(),
        format!("{newer}\n")
    );
}
