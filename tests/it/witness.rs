//! Witnesses: a witness cosigns only checkpoints that extend the one it
//! holds, answers each wrong request with the status C2SP tlog-witness
//! gives it, keeps its state across restarts; a log with witnesses serves
//! cosigned checkpoints and can make an append wait for them.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jointly::api::serve::Limits;
use jointly::api::{AppState, Config, app};
use jointly::app::witnessing::{WitnessConfig, WitnessPolicy};
use jointly::ledger::Ledger;
use jointly::ledger::checkpoint::Checkpoint;
use jointly::ledger::cosignature::{CosignatureVerifier, Cosigner};
use jointly::ledger::notary::Notary;
use jointly::ledger::note::Note;
use jointly::witness::{Witness, WitnessError};
use std::path::Path;
use std::sync::Arc;

const ORIGIN: &str = "example.org/log";

/// A log: a ledger of `n` records and its notary, with the key in `key_from`
/// if given (to make a second history under the same key: a fork).
fn log(dir: &Path, n: u64, tag: &str, key_from: Option<&Path>) -> (Ledger, Notary) {
    std::fs::create_dir_all(dir).unwrap();
    if let Some(from) = key_from {
        std::fs::copy(from.join("checkpoint.key"), dir.join("checkpoint.key")).unwrap();
    }
    let (ledger, _) = Ledger::open(dir).unwrap();
    append(&ledger, n, tag);
    let notary = Notary::open(&ledger, ORIGIN).unwrap();
    (ledger, notary)
}

/// The add-checkpoint body for `ledger`'s head, proving from `old`.
fn request(ledger: &Ledger, notary: &Notary, old: u64) -> String {
    let note = notary.sign_head(ledger).unwrap();
    let size = ledger.head().size;
    let mut body = format!("old {old}\n");
    if old > 0 && old < size {
        for h in ledger.consistency_proof(old, size).unwrap() {
            body.push_str(&format!("{}\n", h.to_base64()));
        }
    }
    format!("{body}\n{note}")
}

fn witness(dir: &Path, logs: Vec<jointly::ledger::note::Verifier>) -> Witness {
    let key = jointly::witness::open_key(&dir.join("w.key"), "witness.test/w1").unwrap();
    Witness::open(key, logs, dir.join("state.json")).unwrap()
}

/// Runs one request through the witness: Ok(size it then holds) or the error.
fn check(w: &Witness, body: &str, expect: Result<u64, StatusCode>) {
    let got = w.add_checkpoint(body, 1_800_000_000);
    match (&got, expect) {
        (Ok(lines), Ok(size)) => {
            assert!(lines.starts_with("\u{2014} witness.test/w1 "), "{lines}");
            assert_eq!(w.held_size(ORIGIN), size);
        }
        (Err(e), Err(status)) => assert_eq!(e.status(), status, "{e}"),
        _ => panic!("expected {expect:?}, got {got:?}\nfor\n{body}"),
    }
}

#[test]
fn a_witness_cosigns_only_what_extends_what_it_holds() {
    let base = tempfile::tempdir().unwrap();
    let (ledger, notary) = log(&base.path().join("log"), 5, "a", None);
    let w = witness(base.path(), vec![notary.verifier()]);

    // Nobody else's log, nor this log signed with another key.
    let stranger = log(&base.path().join("stranger"), 3, "s", None);
    let other_origin = Notary::open(&stranger.0, "example.org/other").unwrap();
    drop(other_origin);
    let (other_ledger, other_notary) = log(&base.path().join("other"), 5, "a", None);
    check(
        &w,
        &request(&other_ledger, &other_notary, 0),
        Err(StatusCode::FORBIDDEN),
    );

    check(&w, &request(&ledger, &notary, 0), Ok(5));
    // The same again: cosigned again, nothing changes.
    check(&w, &request(&ledger, &notary, 5), Ok(5));
    append(&ledger, 3, "a");
    // A stale old size: 409, and the witness says what it holds.
    let stale = w.add_checkpoint(&request(&ledger, &notary, 0), 1);
    assert_eq!(stale, Err(WitnessError::Stale { known: 5, old: 0 }));
    check(&w, &request(&ledger, &notary, 5), Ok(8));
    // An old size past the checkpoint.
    let shrunk = request(&ledger, &notary, 8).replacen("old 8", "old 9", 1);
    check(&w, &shrunk, Err(StatusCode::BAD_REQUEST));
    // A damaged consistency proof.
    append(&ledger, 4, "a");
    let good = request(&ledger, &notary, 8);
    let proof_line = good.lines().nth(1).unwrap().to_string();
    let mut flipped = proof_line.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let damaged = good.replacen(&proof_line, &String::from_utf8(flipped).unwrap(), 1);
    check(&w, &damaged, Err(StatusCode::UNPROCESSABLE_ENTITY));
    check(&w, &good, Ok(12));
    // Malformed requests.
    for bad in [
        "",
        "old 12\n",
        "old x\n\nnote\n",
        "old 012\n\n",
        "new 12\n\nexample.org/log\n12\nAAAA\n\n",
    ] {
        check(&w, bad, Err(StatusCode::BAD_REQUEST));
    }
    drop(stranger);
}

#[test]
fn a_forked_history_is_refused_with_both_checkpoints_kept() {
    let base = tempfile::tempdir().unwrap();
    let live_dir = base.path().join("live");
    let (live, live_notary) = log(&live_dir, 10, "a", None);
    let w = witness(base.path(), vec![live_notary.verifier()]);
    check(&w, &request(&live, &live_notary, 0), Ok(10));

    // The operator rewrites history under the same key: same size, other records.
    let (forged, forged_notary) = log(&base.path().join("forged"), 10, "b", Some(&live_dir));
    let e = w
        .add_checkpoint(&request(&forged, &forged_notary, 10), 1)
        .unwrap_err();
    assert_eq!(e.status(), StatusCode::CONFLICT);
    assert!(e.to_string().contains("two different roots"), "{e}");

    // ... or grows a different history past the held size.
    append(&forged, 5, "b");
    let body = request(&forged, &forged_notary, 10);
    let e = w.add_checkpoint(&body, 1).unwrap_err();
    assert!(
        matches!(
            e,
            WitnessError::Inconsistent {
                old: 10,
                size: 15,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("forked or rewritten"), "{e}");
    assert_eq!(w.held_size(ORIGIN), 10);

    // Restarted, the witness still holds size 10 and still refuses.
    drop(w);
    let w = witness(base.path(), vec![live_notary.verifier()]);
    assert_eq!(w.held_size(ORIGIN), 10);
    assert!(w.add_checkpoint(&body, 1).is_err());
    append(&live, 2, "a");
    check(&w, &request(&live, &live_notary, 10), Ok(12));
}

async fn call(router: axum::Router, req: Request<Body>) -> (StatusCode, String, String) {
    let (status, ct, body) = crate::common::send(&router, req).await;
    (status, ct, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn the_witness_speaks_the_protocol_over_http() {
    let base = tempfile::tempdir().unwrap();
    let (ledger, notary) = log(&base.path().join("log"), 4, "a", None);
    let w = Arc::new(witness(base.path(), vec![notary.verifier()]));
    let post = |body: String| {
        Request::post("/add-checkpoint")
            .body(Body::from(body))
            .unwrap()
    };
    let router = jointly::witness::app(w.clone(), &Limits::default());
    let (status, _, lines) = call(router.clone(), post(request(&ledger, &notary, 0))).await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    // The answer is a cosignature line over exactly the checkpoint text.
    let note = notary.latest().unwrap().1;
    let cosigned = Note::parse(&format!("{note}{lines}")).unwrap();
    let key = jointly::witness::open_key(&base.path().join("w.key"), "unused")
        .unwrap()
        .verifier();
    assert!(key.cosigned(&cosigned).is_some());
    // A stale size: 409 with the size the witness holds, as text/x.tlog.size.
    append(&ledger, 1, "a");
    let (status, ct, body) = call(router.clone(), post(request(&ledger, &notary, 0))).await;
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (StatusCode::CONFLICT, "text/x.tlog.size", "4\n")
    );
    // An unknown log: 404, in words.
    let stranger_dir = base.path().join("stranger");
    std::fs::create_dir_all(&stranger_dir).unwrap();
    let (stranger, _) = Ledger::open(&stranger_dir).unwrap();
    append(&stranger, 1, "s");
    let other = Notary::open(&stranger, "example.org/stranger").unwrap();
    let (status, _, body) = call(router, post(request(&stranger, &other, 0))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("does not know the log"), "{body}");
}

/// Serves a witness on a loopback port; returns its URL and key.
async fn spawn_witness(
    dir: &Path,
    log_key: jointly::ledger::note::Verifier,
) -> (String, CosignatureVerifier) {
    let w = Arc::new(witness(dir, vec![log_key]));
    let key = jointly::witness::open_key(&dir.join("w.key"), "unused")
        .unwrap()
        .verifier();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(jointly::witness::serve_on(
        listener,
        w,
        Limits::default(),
        std::future::pending(),
    ));
    (url, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_can_wait_for_the_witnesses() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let (ledger, _) = Ledger::open(&data).unwrap();
    let log_key = Notary::open(&ledger, jointly::api::DEFAULT_ORIGIN)
        .unwrap()
        .verifier();
    let w1 = base.path().join("w1");
    let w2 = base.path().join("w2");
    std::fs::create_dir_all(&w1).unwrap();
    std::fs::create_dir_all(&w2).unwrap();
    let (url1, key1) = spawn_witness(&w1, log_key.clone()).await;
    let (url2, key2) = spawn_witness(&w2, log_key.clone()).await;
    // A third witness that is never up: two of three is the policy.
    let down = Cosigner::from_seed("witness.test/down", [9; 32])
        .unwrap()
        .verifier();
    let config = |url: &str, key: &CosignatureVerifier| -> WitnessConfig {
        format!("{url}={key}").parse().unwrap()
    };
    let mut policy = WitnessPolicy::new(
        vec![
            config(&url1, &key1),
            config(&url2, &key2),
            config("http://127.0.0.1:9", &down),
        ],
        Some(2),
    )
    .unwrap();
    policy.wait = std::time::Duration::from_secs(20);
    let state = AppState::with_app(
        jointly::app::App::with_ledger(
            ledger,
            jointly::app::Options {
                witnesses: policy,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let token = crate::common::token(state.app(), jointly::app::tokens::Role::Staff, "s", None);
    state.app().start_witnessing();
    let router = app(state, &Config::default());
    let append = |wait: &str| {
        Request::post(format!("/v1/events{wait}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"type":"x.note","payload":{"n":1}}"#))
            .unwrap()
    };
    for _ in 0..3 {
        let (status, _, body) = call(router.clone(), append("?wait=cosigned")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["cosigned"], true, "{body}");
        // The receipt's checkpoint carries both cosignatures and holds the event.
        let (status, _, receipt) = call(
            router.clone(),
            Request::get(v["receipt"].as_str().unwrap())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
        let r = jointly::ledger::receipt::Receipt::parse(&receipt).unwrap();
        let cp = r.verify(&log_key).unwrap();
        assert!(cp.size > v["seq"].as_u64().unwrap());
        let note = Note::parse(&r.checkpoint).unwrap();
        assert!(key1.cosigned(&note).is_some() && key2.cosigned(&note).is_some());
        assert!(down.cosigned(&note).is_none());
    }
    let (_, _, cp) = call(
        router.clone(),
        Request::get("/v1/checkpoint?checkpoint=cosigned")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let parsed = Note::open(&cp, &log_key).unwrap();
    // The token's making, and the three notes.
    assert_eq!(Checkpoint::parse(&parsed.text).unwrap().size, 4);
    // Asking for an unknown kind of wait is bad input, and nothing is written.
    let (status, _, body) = call(router.clone(), append("?wait=forever")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn without_witnesses_waiting_for_them_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger.clone()).unwrap();
    let token = crate::common::token(state.app(), jointly::app::tokens::Role::Staff, "s", None);
    let size = ledger.head().size;
    let router = app(state, &Config::default());
    let (status, _, body) = call(
        router.clone(),
        Request::post("/v1/events?wait=cosigned")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"type":"x.note","payload":{"n":1}}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("none configured"), "{body}");
    assert_eq!(ledger.head().size, size, "nothing written");
    let (status, _, _) = call(
        router,
        Request::get("/v1/checkpoint?checkpoint=cosigned")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn append(ledger: &Ledger, n: u64, tag: &str) {
    crate::common::append_plain(ledger, n, "x.witness", tag);
}
