//! Disk faults: when the record log, the derived files or the index cannot
//! be written (a full disk, injected in the store), appends answer 503 with
//! a problem that says so, no half-written or unacknowledged record is left
//! in the file, and appends work again by themselves once writes succeed;
//! the log verifies throughout, and reopens with exactly what was answered.
//! `tools/full-disk` does the same on a real, small filesystem.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use jointly::ledger::store::Fault;
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_503_and_passes_by_itself() {
    for (point, says) in [
        (Fault::RecordLog, "cannot write to the record log"),
        (Fault::DerivedFiles, "cannot write the DerivedFiles"),
        (Fault::Index, "cannot write the Index"),
    ] {
        check(point, says).await;
    }
}

async fn check(point: Fault, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger.clone()).unwrap();
    let token = crate::common::token(state.app(), Role::Staff, "s", None);
    let router = app(state.clone(), &Config::default());
    let append = |n: u32| {
        Request::post("/v1/events")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"type": "x.note", "payload": {"n": n}}).to_string(),
            ))
            .unwrap()
    };
    let call = |req: Request<Body>| {
        let r = router.clone();
        async move {
            let resp = r.oneshot(req).await.unwrap();
            let status = resp.status();
            let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
            let body: Value =
                serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            (status, ct, body)
        }
    };
    let log = dir.path().join("records.log");
    assert_eq!(call(append(1)).await.0, StatusCode::CREATED);
    let before = std::fs::metadata(&log).unwrap().len();
    // The token's making and the first note.
    let size = ledger.head().size;
    assert_eq!(size, 2);

    ledger.store().fail_next_writes(point, 2);
    for n in [2, 3] {
        let (status, ct, body) = call(append(n)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{point:?}: {body}");
        assert!(ct.starts_with("application/problem+json"));
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(says) && detail.contains("try again"),
            "{point:?}: {detail}"
        );
        // Nothing half-written is left: the file is as it was.
        assert_eq!(std::fs::metadata(&log).unwrap().len(), before);
        assert_eq!(ledger.head().size, size);
    }
    // Room again: the next append works without a restart.
    let (status, _, body) = call(append(4)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["seq"], size);
    state.shutdown().await;
    let v = jointly::ledger::verify::verify_full(&ledger, &mut |_| {}).unwrap();
    assert_eq!(v.size, size + 1);
    // Reopened, the store holds exactly the answered records: the index
    // was put back and the unanswered frames were taken off the log.
    drop((router, state, ledger));
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    assert_eq!(ledger.head().size, size + 1, "{point:?}");
    let v = jointly::ledger::verify::verify_full(&ledger, &mut |_| {}).unwrap();
    assert_eq!(v.size, size + 1);
}
