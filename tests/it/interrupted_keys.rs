//! An Idempotency-Key whose request a crash cut off is settled at the next
//! start: answered with its record if the log holds it, released for a
//! retry if not. Never a 409 "still being answered" for good.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(router: &axum::Router, token: &str, key: &str, n: u32) -> (StatusCode, Value) {
    let resp = router
        .clone()
        .oneshot(
            Request::post("/v1/events")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(Body::from(
                    json!({"type": "x.note", "payload": {"n": n}}).to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_cut_off_by_a_crash_are_settled_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger.clone()).unwrap();
    let (token, info) = state
        .app()
        .create_token(&jointly::app::Caller::operator(), Role::Staff, "s", None)
        .await
        .unwrap();
    let router = app(state.clone(), &Config::default());
    let (status, first) = post(&router, &token, "recorded", 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post(&router, &token, "lost", 2).await;
    assert_eq!(status, StatusCode::CREATED);
    state.shutdown().await;
    drop(router);
    drop(state);

    // What a crash leaves: the key taken, no answer stored. "recorded"'s
    // record is in the log; "lost"'s is made to look as if it never was,
    // by pointing its marker past the end of the log.
    let table = ledger.store().side_table("idempotency").unwrap();
    for (key, from) in [("recorded", 0u64), ("lost", 99)] {
        let k = format!("{}/{key}", info.id);
        let mut v: Value =
            serde_json::from_slice(&table.get(k.as_bytes()).unwrap().unwrap()).unwrap();
        v["answer"] = Value::Null;
        v["from"] = json!(from);
        table
            .put(k.as_bytes(), &serde_json::to_vec(&v).unwrap())
            .unwrap();
    }

    let state = AppState::new(ledger.clone()).unwrap();
    let router = app(state.clone(), &Config::default());
    let (status, again) = post(&router, &token, "recorded", 1).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(
        again["seq"], first["seq"],
        "answered with the record it made, not a second one"
    );
    let (status, retried) = post(&router, &token, "lost", 2).await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    // After the token's record (0), "recorded" (1) and "lost" (2).
    assert_eq!(retried["seq"], 3, "released, so the retry appends");
    state.shutdown().await;
}
