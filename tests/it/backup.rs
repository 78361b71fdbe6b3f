//! Backup while the server runs: GET /v1/backup (admins only) gives the
//! same bundle an offline export would, it verifies, and it restores into
//! an empty data directory with the same head and root.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::ledger::{Ledger, bundle};
use tower::ServiceExt;

#[tokio::test]
async fn a_running_server_gives_a_backup_that_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ledger, _) = Ledger::open(&data).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    let state = AppState::new(ledger.clone()).unwrap();
    let admin = crate::common::token(state.app(), Role::Admin, "a", None);
    let staff = crate::common::token(state.app(), Role::Staff, "s", None);
    let router = app(state.clone(), &Config::default());
    let get = |token: String| {
        Request::get("/v1/backup")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let resp = router.clone().oneshot(get(staff)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = router.clone().oneshot(get(admin)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let online = resp.into_body().collect().await.unwrap().to_bytes();

    let offline_path = dir.path().join("offline.jsonl");
    bundle::export(&ledger, &offline_path).unwrap();
    assert_eq!(
        online.as_ref(),
        std::fs::read(&offline_path).unwrap().as_slice()
    );
    // No temporary copy is left behind in the data directory.
    assert!(std::fs::read_dir(&data).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".backup")
    }));

    let online_path = dir.path().join("online.jsonl");
    std::fs::write(&online_path, &online).unwrap();
    let checked = jointly::app::integrity::check_bundle(&online_path, &mut |_| {}).unwrap();
    let restored = dir.path().join("restored");
    let imported = jointly::app::integrity::import(&online_path, &restored, &mut |_| {}).unwrap();
    assert_eq!((imported.size, imported.root), (checked.size, checked.root));
    assert_eq!(
        (checked.size, checked.root),
        (ledger.head().size, ledger.head().root)
    );
}
