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

/// (issue 33) A complete backup, encrypted to the operator's age key,
/// taken while the server runs, brings back everything needed to carry on
/// the same log: the same name and key, the old tokens, names, the mail
/// key (so unsubscribe links already sent still work), and it verifies.
#[tokio::test]
async fn a_complete_encrypted_backup_restores_the_same_log_with_its_people_and_keys() {
    let o = crate::common::office().await;
    let admin = crate::common::token(o.api.app(), Role::Admin, "backup-admin", None);
    let key = age::x25519::Identity::generate();
    let recipient = key.to_public().to_string();
    let (status, _, bytes) = o
        .api
        .bytes(
            Some(&admin),
            "GET",
            &format!("/v1/backup?to={recipient}"),
            None,
            "",
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes.starts_with(b"age-encryption.org/v1"), "encrypted");
    assert!(
        !bytes.windows(9).any(|w| w == b"Marigold "),
        "no name in clear"
    );
    // Staff may not take one, and a recipient that is not one is refused.
    let (s, _, _) = o
        .api
        .bytes(
            Some(&o.s_code),
            "GET",
            &format!("/v1/backup?to={recipient}"),
            None,
            "",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = o
        .api
        .bytes(Some(&admin), "GET", "/v1/backup?to=age1nope", None, "", &[])
        .await;
    assert_eq!(s.as_u16() / 100, 4, "{s}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.age");
    std::fs::write(&file, &bytes).unwrap();
    let into = dir.path().join("restored");
    // The wrong key reads nothing, and writes nothing.
    let other = age::x25519::Identity::generate();
    assert!(jointly::app::backup::restore(&file, &into, &[other]).is_err());
    assert!(std::fs::read_dir(&into).map_or(true, |mut d| d.next().is_none()));
    let r = jointly::app::backup::restore(&file, &into, std::slice::from_ref(&key)).unwrap();
    assert!(r.complete);
    assert_eq!(r.records, o.api.app().size());

    let (ledger, _) = Ledger::open(&into).unwrap();
    let restored = crate::common::Api::new(ledger);
    assert_eq!(
        restored.app().verifier().to_string(),
        o.api.app().verifier().to_string(),
        "the same log name and key"
    );
    assert_eq!(restored.app().size(), o.api.app().size());
    // The old tokens work; the names are back.
    let (s, _, people) = restored
        .call(
            Some(&admin),
            "GET",
            "/v1/people?q=Marigold",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{people}");
    assert!(people.to_string().contains("Marigold Ashcombe"), "{people}");
    let (s, _, _) = restored
        .call(
            Some(&o.p_code),
            "GET",
            "/v1/checkpoint",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a partner's old code works");
    // The mail key is the same, so links already sent still answer.
    let mail_key = |d: &std::path::Path| std::fs::read(d.join("mail.key")).ok();
    let live = o.api.app().ledger().store().dir().to_path_buf();
    assert_eq!(mail_key(&into), mail_key(&live));
}

/// The command line never overwrites a backup, restores only into an
/// empty directory, and a log-only backup holds no key.
#[test]
fn backups_never_overwrite_and_restores_need_an_empty_directory() {
    use crate::common::jointly as run;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ledger, _) = Ledger::open(&data).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    drop(ledger);
    let key = age::x25519::Identity::generate();
    let ident = dir.path().join("key.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(&ident, format!("{}\n", key.to_string().expose_secret())).unwrap();
    }
    let to = key.to_public().to_string();
    let out = dir.path().join("full.age");
    let o = run(
        &data,
        &["backup", "--out", out.to_str().unwrap(), "--to", &to],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run(
        &data,
        &["backup", "--out", out.to_str().unwrap(), "--to", &to],
        None,
    );
    assert_eq!(again.status.code(), Some(2));
    let log_only = dir.path().join("log.jsonl");
    let o = run(
        &data,
        &[
            "backup",
            "--out",
            log_only.to_str().unwrap(),
            "--unencrypted",
        ],
        None,
    );
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&std::fs::read(&log_only).unwrap()).contains("PRIVATE"));
    // Into a directory that holds something: refused, exit 2.
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("x"), b"x").unwrap();
    let o = run(
        &busy,
        &[
            "restore",
            out.to_str().unwrap(),
            "--identity",
            ident.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let fresh = dir.path().join("fresh");
    let o = run(
        &fresh,
        &[
            "restore",
            out.to_str().unwrap(),
            "--identity",
            ident.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&fresh, &["verify"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
