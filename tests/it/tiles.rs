//! (issue 33) The log as C2SP tiles: what `serve` serves under /tlog/,
//! what `publish` writes, a mirror that follows and refuses a fork or a
//! changed entry, and a restore brought forward from a mirror with the
//! erasures since applied. The tiles are checked here against the records
//! as /v1/records gives them, hashed by this test (RFC 9162), not by the
//! crate's tree.

use crate::common::{Api, jointly};
use axum::http::StatusCode;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use jointly::ledger::tiles::{TileId, split_bundle, tiles_of};
use sha2::{Digest as _, Sha256};
use std::path::Path;

fn leaf(entry: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(entry)
        .finalize()
        .into()
}

/// RFC 9162's Merkle Tree Hash, written again for the test.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            Sha256::new()
                .chain_update([1u8])
                .chain_update(mth(&leaves[..k]))
                .chain_update(mth(&leaves[k..]))
                .finalize()
                .into()
        }
    }
}

/// The log's records, canonical bytes, as /v1/records gives them.
async fn records(api: &Api) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (s, _, body) = api
            .bytes(
                None,
                "GET",
                &format!("/v1/records?limit=1000{after}"),
                None,
                "",
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let before = out.len();
        out.extend(
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
        if out.len() == before {
            return out;
        }
        after = format!("&after={}", out.len() - 1);
    }
}

/// GETs a path; its status, Cache-Control and body.
async fn get(api: &Api, path: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = api
        .router
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let cc = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, cc, body.to_vec())
}
use tower::ServiceExt;

/// Checks what /tlog/ serves at the checkpoint's size against the records:
/// every level-0 hash is its record's leaf, every entry its record's
/// bytes, every higher hash the root of the full tile below, and the
/// leaves give the checkpoint's root. Returns the size and every tile.
async fn check_served(api: &Api) -> (u64, Vec<(String, Vec<u8>)>) {
    let (s, cc, note) = get(api, "/tlog/checkpoint").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cc, "no-store");
    let (_, _, v1) = get(api, "/v1/checkpoint").await;
    assert_eq!(note, v1, "the same signed note as /v1/checkpoint");
    let text = String::from_utf8(note).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let size: u64 = lines[1].parse().unwrap();
    let root =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, lines[2]).unwrap();
    let recs = records(api).await;
    let leaves: Vec<[u8; 32]> = recs[..size as usize].iter().map(|r| leaf(r)).collect();
    assert_eq!(mth(&leaves).to_vec(), root, "the root of the records");
    let mut served = Vec::new();
    for t in tiles_of(size) {
        let (s, cc, body) = get(api, &format!("/tlog/{}", t.path())).await;
        assert_eq!(s, StatusCode::OK, "{}", t.path());
        assert!(cc.contains("immutable"), "{}: {cc}", t.path());
        let lo = (t.index() * 256) as usize;
        let w = usize::from(t.width());
        match t.kind() {
            jointly::ledger::tiles::Kind::Entries => {
                let got = split_bundle(&body).unwrap();
                assert_eq!(got.len(), w);
                for (i, e) in got.iter().enumerate() {
                    assert_eq!(*e, recs[lo + i].as_slice(), "entry {}", lo + i);
                }
            }
            jointly::ledger::tiles::Kind::Hashes(level) => {
                assert_eq!(body.len(), 32 * w);
                let span = 256usize.pow(u32::from(level));
                for (i, h) in body.chunks(32).enumerate() {
                    let first = (lo + i) * span;
                    assert_eq!(
                        h,
                        mth(&leaves[first..first + span]),
                        "{} hash {i}",
                        t.path()
                    );
                }
            }
        }
        served.push((t.path(), body));
    }
    (size, served)
}

#[test]
fn tile_paths_are_those_of_the_size() {
    // A tree of 300: a full level-0 tile and bundle, a partial one of 44,
    // and one hash at level 1 (checked in the crate too; here, the door).
    let paths: Vec<String> = tiles_of(300).iter().map(TileId::path).collect();
    assert!(
        paths.contains(&"tile/0/001.p/44".to_string())
            && paths.contains(&"tile/1/000.p/1".to_string())
    );
}

#[tokio::test]
async fn serve_gives_tiles_that_verify_and_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, 1).unwrap();
    crate::common::append_plain(&ledger, 300, "x.tiles.filler", "a");
    let api = Api::new(ledger.clone());
    let (size, before) = check_served(&api).await;
    assert!(size > 256, "a full tile and a partial one");
    // Beyond the checkpoint, and paths that are no tile's, are not there.
    for bad in [
        format!("/tlog/tile/0/{:03}", size / 256 + 1),
        "/tlog/tile/0/x000/001".into(),
        "/tlog/tile/0/000.p/256".into(),
        "/tlog/tile/entries/abc".into(),
    ] {
        assert_eq!(get(&api, &bad).await.0, StatusCode::NOT_FOUND, "{bad}");
    }
    crate::common::append_plain(&ledger, 300, "x.tiles.filler", "b");
    let (size2, _) = check_served(&api).await;
    assert!(size2 > size);
    for (path, body) in before {
        assert_eq!(
            get(&api, &format!("/tlog/{path}")).await.2,
            body,
            "{path} changed"
        );
    }
}

fn vkey(data: &Path) -> String {
    let out = jointly(data, &["checkpoint", "key"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string()
}

/// Every file under `root`: (its path from root, its bytes), sorted.
fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A store with the example history and enough records for a full tile.
fn store(data: &Path) {
    let (ledger, _) = Ledger::open(data).unwrap();
    jointly::app::demo::write_demo(&ledger, 1).unwrap();
    crate::common::append_plain(&ledger, 300, "x.tiles.filler", "a");
}

#[test]
fn publish_writes_what_serve_serves_and_never_rewrites_a_tile() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out_dir = dir.path().join("published");
    store(&data);
    let out = jointly(&data, &["publish", "--to", out_dir.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", said(&out));
    let first = files(&out_dir);
    {
        let (ledger, _) = Ledger::open(&data).unwrap();
        let api = Api::new(ledger);
        let (_, served) = crate::common::blocking(check_served(&api));
        let mut want: Vec<(String, Vec<u8>)> = served;
        let (_, _, note) = crate::common::blocking(get(&api, "/tlog/checkpoint"));
        want.push(("checkpoint".into(), note));
        want.sort();
        assert_eq!(first, want, "the published files are what serve serves");
        crate::common::append_plain(api.app().ledger(), 300, "x.tiles.filler", "b");
    }
    let out = jointly(&data, &["publish", "--to", out_dir.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", said(&out));
    let second: std::collections::HashMap<String, Vec<u8>> = files(&out_dir).into_iter().collect();
    for (path, body) in &first {
        if path != "checkpoint" {
            assert_eq!(
                second.get(path),
                Some(body),
                "{path} was rewritten or removed"
            );
        }
    }
    // Another log published to the same place is refused, and writes nothing.
    let other = dir.path().join("other");
    store(&other);
    let before = files(&out_dir);
    let out = jointly(
        &other,
        &["publish", "--to", out_dir.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("another history"), "{}", said(&out));
    assert_eq!(files(&out_dir), before);
}

fn mirror(m: &Path, from: &Path, key: &str) -> std::process::Output {
    jointly(
        m,
        &[
            "mirror",
            "--from",
            from.to_str().unwrap(),
            "--key",
            key,
            "--once",
        ],
        None,
    )
}

fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (rel, body) in files(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    // A data directory is its user's alone, or the store refuses it.
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_mirror_follows_the_log_and_refuses_a_fork_or_a_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (data, published, m) = (
        dir.path().join("data"),
        dir.path().join("pub"),
        dir.path().join("mirror"),
    );
    store(&data);
    let key = vkey(&data);
    let publish = |data: &Path, to: &Path| {
        let out = jointly(data, &["publish", "--to", to.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", said(&out));
    };
    publish(&data, &published);
    // A copy of the data directory now, to fork from later.
    let fork_data = dir.path().join("fork-data");
    copy_dir(&data, &fork_data);
    let out = mirror(&m, &published, &key);
    assert!(out.status.success(), "{}", said(&out));
    let held = std::fs::read(m.join("tiles/checkpoint")).unwrap();
    {
        let (ledger, _) = Ledger::open(&data).unwrap();
        crate::common::append_plain(&ledger, 50, "x.tiles.filler", "b");
    }
    publish(&data, &published);
    let out = mirror(&m, &published, &key);
    assert!(out.status.success(), "{}", said(&out));
    let grown = std::fs::read(m.join("tiles/checkpoint")).unwrap();
    assert_ne!(held, grown);
    assert_eq!(grown, std::fs::read(published.join("checkpoint")).unwrap());
    // The mirror's tiles are the published ones.
    for (rel, body) in files(&m.join("tiles")) {
        assert_eq!(std::fs::read(published.join(&rel)).unwrap(), body, "{rel}");
    }

    // A fork: the same key, other records after the copy.
    {
        let (ledger, _) = Ledger::open(&fork_data).unwrap();
        crate::common::append_plain(&ledger, 80, "x.tiles.fork", "other history");
    }
    let fork_pub = dir.path().join("fork-pub");
    publish(&fork_data, &fork_pub);
    let out = mirror(&m, &fork_pub, &key);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("REFUSED: a fork"), "{}", said(&out));
    assert_eq!(
        std::fs::read(m.join("tiles/checkpoint")).unwrap(),
        grown,
        "its copy is kept"
    );
    let evidence = files(&m.join("evidence"));
    let both = |name: &str| evidence.iter().any(|(p, _)| p.ends_with(name));
    assert!(
        both("held.checkpoint.txt") && both("offered.checkpoint.txt"),
        "{evidence:?}"
    );

    // A copy of the tiles with one byte of one entry changed: a fresh
    // mirror refuses it and keeps nothing of it.
    let tampered = dir.path().join("tampered");
    copy_dir(&published, &tampered);
    let bundle = tampered.join("tile/entries/000");
    let mut b = std::fs::read(&bundle).unwrap();
    b[40] ^= 1;
    std::fs::write(&bundle, b).unwrap();
    let fresh = dir.path().join("fresh");
    let out = mirror(&fresh, &tampered, &key);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("do not verify"), "{}", said(&out));
    assert!(!fresh.join("tiles/checkpoint").exists());
    // Checked with another log's key, nothing is taken either.
    let another = dir.path().join("another");
    store(&another);
    let fresh = dir.path().join("fresh2");
    let out = mirror(&fresh, &published, &vkey(&another));
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("not signed by the log's key"),
        "{}",
        said(&out)
    );
    assert!(!fresh.join("tiles/checkpoint").exists());
    let out = mirror(&fresh, &published, "not a key");
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
}

/// After a backup, a partner raises an idea and another is erased; a
/// mirror with an auditor's token followed it all. The backup restored
/// with --records-from the mirror has the later idea's words, the log at
/// the mirror's size and root, and nothing of the erased partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_a_mirror_loses_nothing_and_brings_no_one_back() {
    let o = crate::common::office().await;
    let admin = crate::common::token(o.api.app(), Role::Admin, "backup-admin", None);
    let id = age::x25519::Identity::generate();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.age");
    let (s, _, bytes) = o
        .api
        .bytes(
            Some(&admin),
            "GET",
            &format!("/v1/backup?to={}", id.to_public()),
            None,
            "",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    std::fs::write(&backup, bytes).unwrap();

    let later = "Lend the old laptops to partners who have none";
    let idea = serde_json::json!({"type": "proposal.raised", "payload": {"project_id": o.project,
        "proposal_id": uuid::Uuid::new_v4().to_string(), "text": later}});
    crate::common::post(&o.api, &o.p_code, "/v1/events", idea).await;
    let gone = "Meet in the community garden in summer";
    let idea = serde_json::json!({"type": "proposal.raised", "payload": {"project_id": o.project,
        "proposal_id": uuid::Uuid::new_v4().to_string(), "text": gone}});
    crate::common::post(&o.api, &o.r_code, "/v1/events", idea).await;

    let serving =
        crate::common::serving(o.api.state.clone(), jointly::api::Config::default()).await;
    let base = format!("http://{}", serving.addr);
    let m = dir.path().join("mirror");
    let mut mirror = jointly::tlog::mirror::Mirror::new(
        &format!("{base}/tlog/"),
        &m,
        o.api.app().verifier(),
        Some(jointly::tlog::mirror::PayloadSource {
            server: base.clone(),
            token: o.auditor.clone(),
        }),
    )
    .unwrap();
    mirror.pass().await.unwrap();
    assert!(
        !crate::common::files_containing(&m, gone).is_empty(),
        "the mirror keeps payloads"
    );
    crate::common::post(
        &o.api,
        &admin,
        "/v1/erasures",
        serde_json::json!({"participant_id": o.r, "reason": "Asked to be forgotten"}),
    )
    .await;
    mirror.pass().await.unwrap();
    assert!(
        crate::common::files_containing(&m, gone).is_empty(),
        "the mirror applies erasures"
    );
    // A mirror without a token keeps the records, not their words.
    let bare = dir.path().join("bare-mirror");
    let mut records_only = jointly::tlog::mirror::Mirror::new(
        &format!("{base}/tlog/"),
        &bare,
        o.api.app().verifier(),
        None,
    )
    .unwrap();
    records_only.pass().await.unwrap();
    serving.stop().await;
    let head = o.api.app().ledger().head();

    let into = dir.path().join("restored");
    let r = jointly::app::backup::restore_forward(
        &backup,
        &into,
        std::slice::from_ref(&id),
        Some(m.to_str().unwrap()),
    )
    .unwrap();
    assert!(
        r.forward > 0 && r.words_missing.is_empty() && r.erased_again == 1,
        "{} {:?}",
        r.forward,
        r.words_missing
    );
    let (ledger, _) = Ledger::open(&into).unwrap();
    assert_eq!(
        (ledger.head().size, ledger.head().root),
        (head.size, head.root)
    );
    jointly::ledger::verify::verify_full(&ledger, &mut |_| {}).unwrap();
    let restored = Api::new(ledger);
    let (_, _, events) = restored
        .call(
            Some(&o.auditor),
            "GET",
            "/v1/events?limit=1000",
            serde_json::Value::Null,
        )
        .await;
    assert!(
        events.to_string().contains(later),
        "the later idea's words are back"
    );
    drop(restored);
    for words in ["Rosamund Caddick", gone] {
        assert!(
            crate::common::files_containing(&into, words).is_empty(),
            "{words} is back"
        );
    }
    assert!(!crate::common::files_containing(&into, "Marigold Ashcombe").is_empty());

    // From a mirror without words, the later records come back without
    // theirs: the restore says which, and `verify` reports them as lost
    // in a restore, not as tampering.
    let into3 = dir.path().join("restored-bare");
    let r = jointly::app::backup::restore_forward(
        &backup,
        &into3,
        std::slice::from_ref(&id),
        Some(bare.to_str().unwrap()),
    )
    .unwrap();
    assert!(!r.words_missing.is_empty());
    let (ledger, _) = Ledger::open(&into3).unwrap();
    assert_eq!(
        (ledger.head().size, ledger.head().root),
        (head.size, head.root)
    );
    let v = jointly::app::integrity::verify(&ledger, None, &mut |_| {}).unwrap();
    assert_eq!(v.lost, r.words_missing);
    assert!(crate::common::files_containing(&into3, later).is_empty());
    drop(ledger);

    // A mirror whose copy of a later record was changed is refused, and
    // nothing is restored.
    let bad = dir.path().join("bad-mirror");
    copy_dir(&m, &bad);
    // The widest partial bundle holds the last, later, records.
    let bundle = bad
        .join("tiles/tile/entries/000.p")
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .parse::<u16>()
                .unwrap()
        })
        .unwrap();
    let mut b = std::fs::read(&bundle).unwrap();
    let at = b.len() - 20;
    b[at] ^= 1;
    std::fs::write(&bundle, b).unwrap();
    let into2 = dir.path().join("restored2");
    let e = jointly::app::backup::restore_forward(
        &backup,
        &into2,
        std::slice::from_ref(&id),
        Some(bad.to_str().unwrap()),
    )
    .err()
    .expect("refused");
    assert!(
        e.message().contains("nothing was restored"),
        "{}",
        e.message()
    );
    assert!(std::fs::read_dir(&into2).map_or(true, |mut d| d.next().is_none()));
}
