//! (issue 30) What an operator relies on: answers that browsers do not
//! keep, HSTS once the site is https, `/readyz`, a JSON log with an audit
//! trail and no one's name in it, and SIGHUP as a clean stop.

use crate::common::{Api, jointly, token};
use axum::body::Body;
use axum::http::Request;
use jointly::api::Config;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

/// (path, its Strict-Transport-Security, its Cache-Control) for a server
/// whose public URL is `public_url`.
async fn headers_of(public_url: &str, paths: &[&str]) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::with_config(
        ledger,
        &Config {
            public_url: Some(public_url.into()),
            ..Config::default()
        },
    );
    let admin = token(api.app(), Role::Admin, "admin", None);
    let (_, _, person) = api
        .call(
            Some(&admin),
            "POST",
            "/v1/people",
            serde_json::json!({"role": "partner", "name": "Ann Example"}),
        )
        .await;
    let id = person["participant_id"].as_str().unwrap().to_string();
    let mut got = Vec::new();
    for path in paths {
        let path = path.replace("{id}", &id);
        let req = Request::get(&path)
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        let resp = api.router.clone().oneshot(req).await.unwrap();
        let h = |name: &str| {
            resp.headers()
                .get(name)
                .map_or("-".to_string(), |v| v.to_str().unwrap().to_string())
        };
        got.push((
            path.replace(&id, "{id}"),
            h("strict-transport-security"),
            h("cache-control"),
        ));
    }
    got
}

fn check(got: Vec<(String, String, String)>, expect: &[(&str, &str, &str)]) {
    let expect: Vec<(String, String, String)> = expect
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expect);
}

#[tokio::test]
async fn answers_are_not_kept_and_https_is_remembered() {
    let paths = [
        "/healthz",
        "/sign-in",
        "/v1/people/{id}",
        "/v1/people/{id}/export",
        "/static/style.css",
    ];
    let year = "max-age=31536000";
    check(
        headers_of("https://jointly.example.org", &paths).await,
        &[
            ("/healthz", year, "no-store"),
            ("/sign-in", year, "no-store"),
            ("/v1/people/{id}", year, "no-store"),
            ("/v1/people/{id}/export", year, "no-store"),
            // The one answer that says it may be kept.
            ("/static/style.css", year, "max-age=3600"),
        ],
    );
    check(
        headers_of("http://127.0.0.1:8080", &paths[..2]).await,
        &[("/healthz", "-", "no-store"), ("/sign-in", "-", "no-store")],
    );
}

#[tokio::test]
async fn readyz_says_ready_with_the_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::new(ledger);
    let (status, _, body) = api
        .call(None, "GET", "/readyz", serde_json::Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert!(body["free_bytes"].as_u64().unwrap() > 0, "{body}");
}

/// One request over a new connection: (status, the whole answer).
fn ask(port: u16, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn get(port: u16, path: &str, bearer: &str) -> (u16, String) {
    ask(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn serve(data: &Path, log: &Path, args: &[&str]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jointly"))
        .env("JOINTLY_DATA", data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || get(port, "/healthz", "-").0 != 200
    {
        assert!(Instant::now() < end, "serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

/// The JSON log of a server behind a trusted proxy: every line JSON with a
/// level and a time; the failed sign-in with the address the proxy gave;
/// the backup with the token that took it; the banner; no name or email.
/// Then SIGHUP stops it as SIGTERM does.
#[test]
fn the_log_is_json_with_an_audit_trail_and_sighup_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = jointly(
        &data,
        &["init", "--origin", "operating.example.org/log"],
        None,
    );
    assert!(init.status.success(), "{init:?}");
    let made = jointly(
        &data,
        &["token", "create", "--role", "admin", "--name", "ops-admin"],
        None,
    );
    let admin = String::from_utf8(made.stdout)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let log = dir.path().join("serve.log");
    let (mut child, port) = serve(
        &data,
        &log,
        &[
            "--log-format",
            "json",
            "--trusted-proxy",
            "127.0.0.0/8",
            "--public-url",
            "https://jointly.example.org",
        ],
    );
    let (name, email) = ("Quillon Marchbanks", "q.marchbanks@example.org");
    let body = serde_json::json!({"role": "partner", "name": name, "email": email}).to_string();
    let (status, answer) = ask(
        port,
        &format!(
            "POST /v1/people HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 201, "{answer}");
    let form = "csrf=x&code=jly_not-a-real-code";
    let (status, _) = ask(
        port,
        &format!(
            "POST /sign-in HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.41\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(status >= 400, "{status}");
    let (status, _) = get(port, "/v1/tokens", "jly_wrong");
    assert_eq!(status, 401);
    assert_eq!(get(port, "/v1/backup", &admin).0, 200);
    let (status, metrics) = get(port, "/metrics", &admin);
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "jointly_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("\njointly_data_disk_free_bytes "),
        "{metrics}"
    );
    assert!(metrics.contains("\njointly_ready 1"), "{metrics}");
    let (status, ready) = get(port, "/readyz", "-");
    assert_eq!(status, 200, "{ready}");

    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "SIGHUP did not stop serve");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "SIGHUP is a clean stop");

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    for l in &lines {
        assert!(l["level"].is_string() && l["timestamp"].is_string(), "{l}");
    }
    let audit = |event: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "jointly::audit" && l["fields"]["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in the audit trail: {text}"))
    };
    assert_eq!(audit("sign_in_refused")["fields"]["client"], "203.0.113.41");
    assert_eq!(audit("token_refused")["fields"]["client"], "127.0.0.1");
    let admin_id = {
        let list = jointly(&data, &["token", "list"], None);
        let list = String::from_utf8(list.stdout).unwrap();
        list.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|t| t["name"] == "ops-admin")
            .and_then(|t| t["id"].as_str().map(String::from))
            .unwrap_or_else(|| panic!("no ops-admin in {list}"))
    };
    let backup = audit("backup_downloaded");
    assert!(
        backup["fields"]["by"].as_str().unwrap().contains(&admin_id),
        "{backup} {admin_id}"
    );
    let banner = lines
        .iter()
        .find(|l| l["fields"]["version"].is_string())
        .expect("a start banner");
    assert_eq!(banner["fields"]["origin"], "operating.example.org/log");
    assert_eq!(
        banner["fields"]["public_url"],
        "https://jointly.example.org"
    );
    assert!(
        text.contains("SIGHUP received") && text.contains("jointly is stopping"),
        "{text}"
    );
    for secret in ["Quillon", "Marchbanks", email] {
        assert!(!text.contains(secret), "{secret} is in the log: {text}");
    }
}

/// What a command printed on stdout, and on stderr.
fn said(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many records the server at `port` holds.
fn records_served(port: u16) -> u64 {
    let (_, ready) = get(port, "/readyz", "-");
    let body = ready.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<serde_json::Value>(body).unwrap()["records"]
        .as_u64()
        .unwrap_or_else(|| panic!("no records in {ready}"))
}

/// Routine work while `serve` runs (item 6): opening the store is refused
/// with words that name --server; through the server, `verify`, `log`,
/// `export`, `report`, `person add`, `subject-export`, `token` and
/// `retention run` work, with the token from a file, and agree with the
/// store once it is stopped; the server's refusals keep their kind.
#[test]
fn routine_work_goes_through_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        jointly(
            &data,
            &["init", "--origin", "routine.example.org/log"],
            None
        )
        .status
        .success()
    );
    assert!(jointly(&data, &["demo"], None).status.success());
    let made = jointly(
        &data,
        &["token", "create", "--role", "admin", "--name", "ops"],
        None,
    );
    let admin = said(&made).0.trim().lines().last().unwrap().to_string();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{admin}\n")).unwrap();
    let log = dir.path().join("serve.log");
    let (mut child, port) = serve(&data, &log, &[]);
    let url = format!("http://127.0.0.1:{port}");
    let tf = token_file.to_str().unwrap();
    let through = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &url, "--token-file", tf]);
        jointly(&data, &all, None)
    };
    let size = records_served(port);

    // Straight, the store is held: exit 1, and the words say what to do.
    let straight = jointly(&data, &["verify"], None);
    assert_eq!(straight.status.code(), Some(1), "{straight:?}");
    assert!(said(&straight).1.contains("--server URL"), "{straight:?}");

    let verified = through(&["verify"]);
    assert!(verified.status.success(), "{verified:?}");
    assert!(
        said(&verified)
            .0
            .starts_with(&format!("verified {size} records")),
        "{verified:?}"
    );
    let logged = through(&["log"]);
    assert!(logged.status.success(), "{logged:?}");
    let served_log = said(&logged).0;
    assert_eq!(served_log.lines().count() as u64, size);
    let some = through(&["log", "--from", "3", "--limit", "2"]);
    let some = said(&some).0;
    let lines: Vec<&str> = served_log.lines().collect();
    assert_eq!(some, format!("{}\n{}\n", lines[3], lines[4]));
    let bundle = dir.path().join("live.jsonl");
    let exported = through(&["export", "--out", bundle.to_str().unwrap()]);
    assert!(exported.status.success(), "{exported:?}");
    let header: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&bundle)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["size"], size);
    let reported = through(&["report"]);
    assert!(reported.status.success(), "{reported:?}");
    let served_report = said(&reported).0;
    assert!(
        served_report.starts_with("Co-production report"),
        "{served_report}"
    );

    let added = through(&[
        "person",
        "add",
        "--role",
        "partner",
        "--name",
        "Ottoline Vantreight",
        "--email",
        "o.vantreight@example.org",
    ]);
    assert!(added.status.success(), "{added:?}");
    let person = said(&added).0.trim().lines().last().unwrap().to_string();
    let export = through(&["subject-export", &person]);
    assert!(
        said(&export).0.contains("o.vantreight@example.org"),
        "{export:?}"
    );
    let listed = through(&["token", "list"]);
    assert!(said(&listed).0.contains("\"name\":\"ops\""), "{listed:?}");
    let retained = through(&["retention", "run"]);
    assert!(retained.status.success(), "{retained:?}");
    assert!(
        said(&retained)
            .0
            .starts_with("retention of 730 days applied"),
        "{retained:?}"
    );
    assert_eq!(
        records_served(port),
        size + 2,
        "the person's record and the run's"
    );

    // The server's refusals keep their kind: a partner's card may not take
    // the log (forbidden: exit 2), a wrong token is unknown (exit 2), a
    // server that is not there is a failure (exit 1).
    let card = through(&[
        "token",
        "create",
        "--role",
        "partner",
        "--name",
        "ottoline",
        "--participant",
        &person,
    ]);
    assert!(card.status.success(), "{card:?}");
    let partner = said(&card).0.trim().lines().last().unwrap().to_string();
    let partner_file = dir.path().join("partner-token");
    std::fs::write(&partner_file, &partner).unwrap();
    let check = |token_file: &Path, server: &str, want: i32, words: &str| {
        let out = jointly(
            &data,
            &[
                "verify",
                "--server",
                server,
                "--token-file",
                token_file.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(want), "{out:?}");
        assert!(said(&out).1.contains(words), "{words}: {out:?}");
    };
    check(&partner_file, &url, 2, "403");
    std::fs::write(&partner_file, "jly_not-a-token").unwrap();
    check(&partner_file, &url, 2, "JOINTLY_TOKEN or --token-file");
    check(&token_file, "http://127.0.0.1:1", 1, "cannot reach");
    let no_token = jointly(&data, &["verify", "--server", &url], None);
    assert_eq!(no_token.status.code(), Some(2), "{no_token:?}");

    let last = records_served(port);
    child.kill().unwrap();
    child.wait().unwrap();
    // Stopped, the store agrees with what the server said.
    let local = jointly(&data, &["log", "--limit", &size.to_string()], None);
    assert_eq!(said(&local).0, served_log);
    let local = jointly(&data, &["report"], None);
    assert_eq!(said(&local).0, served_report);
    let local = jointly(&data, &["verify"], None);
    assert!(
        said(&local)
            .0
            .starts_with(&format!("verified {last} records")),
        "{local:?}"
    );
}

/// (who, method, path, body, the status, the problem's pointer).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    serde_json::Value,
    u16,
    Option<&'static str>,
);

/// The two routes routine work added, as each role and with bad input:
/// (who, method, path, body) → (status, problem pointer), and nothing is
/// written by what is refused.
#[tokio::test]
async fn report_and_retention_run_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    let api = Api::new(ledger.clone());
    let admin = token(api.app(), Role::Admin, "admin", None);
    let staff = token(api.app(), Role::Staff, "staff", None);
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    let cases: &[Case] = &[
        (
            "admin",
            "GET",
            "/v1/report",
            serde_json::Value::Null,
            200,
            None,
        ),
        (
            "staff",
            "GET",
            "/v1/report?k=3&waiting_days=7",
            serde_json::Value::Null,
            200,
            None,
        ),
        (
            "admin",
            "GET",
            "/v1/report?k=2",
            serde_json::Value::Null,
            400,
            Some("/k"),
        ),
        (
            "admin",
            "GET",
            "/v1/report?waiting_days=0",
            serde_json::Value::Null,
            400,
            Some("/waiting_days"),
        ),
        (
            "admin",
            "GET",
            "/v1/report?project=nope",
            serde_json::Value::Null,
            400,
            None,
        ),
        (
            "admin",
            "GET",
            "/v1/report?format=pdf",
            serde_json::Value::Null,
            400,
            None,
        ),
        (
            "none",
            "GET",
            "/v1/report",
            serde_json::Value::Null,
            401,
            None,
        ),
        (
            "staff",
            "POST",
            "/v1/retention/run",
            serde_json::json!({"days": 730}),
            403,
            None,
        ),
        (
            "auditor",
            "POST",
            "/v1/retention/run",
            serde_json::json!({"days": 730}),
            403,
            None,
        ),
        (
            "admin",
            "POST",
            "/v1/retention/run",
            serde_json::json!({"days": 4_000_000_000u64}),
            400,
            Some("/days"),
        ),
        (
            "admin",
            "POST",
            "/v1/retention/run",
            serde_json::json!({"weeks": 4}),
            422,
            Some("/weeks"),
        ),
        (
            "admin",
            "POST",
            "/v1/retention/run",
            serde_json::json!({"days": 730}),
            200,
            None,
        ),
    ];
    for (who, method, path, body, want, pointer) in cases {
        let before = ledger.head().size;
        let bearer = match *who {
            "admin" => Some(admin.as_str()),
            "staff" => Some(staff.as_str()),
            "auditor" => Some(auditor.as_str()),
            _ => None,
        };
        let (status, _, answer) = api.call(bearer, method, path, body.clone()).await;
        assert_eq!(status.as_u16(), *want, "{who} {method} {path}: {answer}");
        if let Some(p) = pointer {
            assert_eq!(answer["pointer"], *p, "{who} {method} {path}: {answer}");
        }
        let written = ledger.head().size - before;
        let expect = u64::from(*want == 200 && *method == "POST");
        assert_eq!(written, expect, "{who} {method} {path} wrote {written}");
    }
    let (_, ct, _) = api
        .raw(Some(&admin), "GET", "/v1/report?format=text", None, "", &[])
        .await;
    assert!(ct.starts_with("text/plain"), "{ct}");
}
