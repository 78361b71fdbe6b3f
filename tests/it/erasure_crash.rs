//! Crash inside an erasure: `jointly erase` runs as a child process on a
//! copy of a store where one partner wrote 600 proposals, and is killed
//! with SIGKILL at a random moment after its journal exists. The next start
//! (`AppState::new`, as `jointly serve` does) must finish the erasure: the
//! journal is gone, not one byte of the partner's words is left in any
//! file, each chunk of records is authorised by exactly one
//! `record.redacted` record (none twice), and the log verifies.

use crate::common::files_containing;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use rand::Rng;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

const WORDS: &str = "quince-lantern-7312";
const PROPOSALS: usize = 600;
/// `record.redacted` records for 600 erased records, 500 to a record.
const REDACTIONS: usize = 2;
const ROUNDS: usize = 10;
const JOURNAL: &str = "erasure.pending";

/// A store with one partner who raised `PROPOSALS` proposals.
async fn prepare(dir: &Path) -> Uuid {
    let (ledger, _) = Ledger::open(dir).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    let model = jointly::app::fold::rebuild(&ledger).unwrap();
    let project = model
        .projects
        .values()
        .find(|p| p.stage != jointly::coproduction::values::Stage::Closed)
        .unwrap();
    let (project_id, lead) = (project.id, project.lead);
    drop(model);
    // One partner's 600 ideas at once: a store built for the test, not a
    // person typing, so the server is set up without the partner limit.
    let options = jointly::app::Options {
        append_limits: jointly::app::limits::AppendLimits {
            partner: None,
            staff: None,
        },
        ..Default::default()
    };
    let state =
        AppState::with_app(jointly::app::App::with_ledger(ledger.clone(), options).unwrap());
    let staff = crate::common::token(state.app(), Role::Staff, "officer", Some(&lead.to_string()));
    let router = app(state.clone(), &Config::default());
    let post = |token: &str, body: serde_json::Value, uri: &str| {
        let req = Request::post(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let r = router.clone();
        async move {
            let resp = r.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    let (status, added) = post(
        &staff,
        json!({"role": "partner", "name": "Erin Example", "project_id": project_id}),
        "/v1/people",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let pid: Uuid = added["participant_id"].as_str().unwrap().parse().unwrap();
    let partner = crate::common::token(state.app(), Role::Partner, "p", Some(&pid.to_string()));
    // Sixteen at a time, so their fsyncs are shared.
    for chunk in (0..PROPOSALS).collect::<Vec<_>>().chunks(16) {
        let calls = chunk.iter().map(|n| {
            post(
                &partner,
                json!({"type": "proposal.raised", "payload": {"project_id": project_id,
                    "proposal_id": Uuid::new_v4(), "text": format!("Idea {n}: {WORDS}")}}),
                "/v1/events",
            )
        });
        for (status, body) in futures_util::future::join_all(calls).await {
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    state.shutdown().await;
    pid
}

fn copy_dir(from: &Path, to: &Path) {
    // As private as the store it copies: jointly refuses a store others
    // can read.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(to)
        .unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Runs `jointly erase` on `dir`; kills it `delay` after its journal
/// appears (or lets it finish when `delay` is `None`). Returns whether the
/// kill came while the journal still existed, and how long the journal
/// lived when the erasure was let finish.
fn erase(dir: &Path, pid: Uuid, delay: Option<Duration>) -> (bool, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jointly"))
        .args(["erase", &pid.to_string(), "--reason", "They asked us to."])
        .env("JOINTLY_DATA", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = dir.join(JOURNAL);
    let started = Instant::now();
    while !journal.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("jointly erase ended ({status}) before writing its journal");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no journal");
        std::thread::sleep(Duration::from_micros(100));
    }
    let appeared = Instant::now();
    match delay {
        None => {
            assert!(child.wait().unwrap().success());
            (false, appeared.elapsed())
        }
        Some(d) => {
            std::thread::sleep(d);
            child.kill().unwrap();
            child.wait().unwrap();
            (journal.exists(), appeared.elapsed())
        }
    }
}

/// What every start after an erasure, cut or not, must find.
async fn check_finished(dir: &Path, round: usize, pid: Uuid) {
    let (ledger, _) = Ledger::open(dir).unwrap();
    let state = AppState::new(ledger.clone()).unwrap();
    // Their access codes went with them, whenever the erasure was cut.
    let tokens = state
        .app()
        .tokens(&jointly::app::Caller::operator())
        .unwrap();
    assert!(
        tokens
            .iter()
            .all(|t| t.participant.map(|p| p.uuid()) != Some(pid)),
        "round {round}: the erased partner's token is still there"
    );
    assert!(tokens.iter().any(|t| t.name == "officer"), "round {round}");
    state.shutdown().await;
    drop(state);
    assert!(!dir.join(JOURNAL).exists(), "round {round}: journal left");
    let (authorised, unauthorised) = jointly::app::erasure::authorisations(&ledger).unwrap();
    assert!(unauthorised.is_empty(), "round {round}: {unauthorised:?}");
    assert_eq!(authorised.len(), PROPOSALS, "round {round}");
    let by: std::collections::BTreeSet<_> = authorised.values().collect();
    assert_eq!(by.len(), REDACTIONS, "round {round}: redactions {by:?}");
    let mut redactions = 0;
    let mut next = 0;
    while next < ledger.head().size {
        let page = ledger.range(next, 1000).unwrap();
        redactions += page
            .iter()
            .filter(|e| e.record.event_type().as_str() == "record.redacted")
            .count();
        next += page.len() as u64;
    }
    assert_eq!(redactions, REDACTIONS, "round {round}: one per chunk");
    let v = jointly::ledger::verify::verify_full(&ledger, &mut |_| {}).unwrap();
    assert_eq!(v.redacted, PROPOSALS as u64, "round {round}");
    drop(ledger);
    let left = files_containing(dir, WORDS);
    assert!(left.is_empty(), "round {round}: words left in {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_killed_part_way_is_finished_at_the_next_start() {
    let base = tempfile::tempdir().unwrap();
    let prepared = base.path().join("prepared");
    let pid = prepare(&prepared).await;
    assert!(
        !files_containing(&prepared, WORDS).is_empty(),
        "blind search"
    );

    // Uncut first, to learn how long an erasure's journal lives.
    let whole = base.path().join("whole");
    copy_dir(&prepared, &whole);
    let (_, lifetime) = erase(&whole, pid, None);
    check_finished(&whole, 0, pid).await;

    // Kill at a random moment within the journal's lifetime; when a kill
    // comes too late (the machine was quicker this time), narrow the window.
    let (mut cut_inside, mut window) = (0, lifetime);
    let mut rng = rand::rng();
    for round in 1..=ROUNDS * 4 {
        let dir = base.path().join(format!("round-{round}"));
        copy_dir(&prepared, &dir);
        let delay = window.mul_f64(rng.random_range(0.0..1.0));
        let (inside, _) = erase(&dir, pid, Some(delay));
        if inside {
            cut_inside += 1;
        } else {
            window = window.mul_f64(0.5);
        }
        check_finished(&dir, round, pid).await;
        std::fs::remove_dir_all(&dir).unwrap();
        if cut_inside == ROUNDS {
            break;
        }
    }
    // The kills must land inside the erasure, or this tested nothing.
    assert_eq!(
        cut_inside, ROUNDS,
        "too few kills came inside an erasure lasting {lifetime:?}"
    );
}
