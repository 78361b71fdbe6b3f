//! One table of use cases by front door: what a person enters through the
//! command line, the API or a page is what the record says, and the same
//! bad input is refused with the same kind of refusal through each, with
//! nothing written. Each cell starts from the same example history.

use crate::common::{Api, Browser, jointly, token};
use jointly::app::demo::write_demo;
use jointly::app::fold::rebuild;
use jointly::app::tokens::Role;
use jointly::coproduction::model::Model;
use jointly::coproduction::values::Role as PersonRole;
use jointly::ledger::Ledger;
use jointly::refusal::Kind;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    Cli,
    Api,
    Page,
}

/// The use cases, each as a person would try it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    /// Staff record a decision: one idea declined, one person disagreeing.
    StaffDecision,
    /// A partner puts forward an idea in their own project.
    RaiseInOwnProject,
    /// A partner puts forward an idea in a project they are not in.
    RaiseInOtherProject,
    /// A payload with a repeated key.
    RepeatedKey,
    /// A decision filed under a stage that is not the project's.
    WrongStage,
    /// An erasure record as a plain append.
    RedactionByAppend,
    /// A partner confirms their part in a decision a second time.
    ConfirmTwice,
    /// A partner who left the project challenges one of its decisions.
    ChallengeAfterLeaving,
}

/// What a cell must come to.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A record of this type, with what matters of its payload.
    Recorded(&'static str, Value),
    /// Refused, by kind; nothing written.
    Refused(Kind),
    /// This door does not offer this use case to this person.
    NotOffered,
}
use Outcome::*;

/// The example history, and the people and projects the cases need.
struct World {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    /// Project A, with staff S and partners P1 (in A only) and P2.
    a: String,
    b: String,
    s: String,
    p1: String,
    p2: String,
    /// A partner's idea in A, not yet answered, and another.
    ideas: [String; 2],
    stage: String,
}

fn members(
    model: &Model,
    project: &jointly::coproduction::values::ProjectId,
) -> Vec<(String, PersonRole)> {
    model.projects[project]
        .members
        .iter()
        .filter(|(_, m)| m.active)
        .map(|(id, m)| (id.to_string(), m.role))
        .collect()
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (ledger, _) = Ledger::open(&data).unwrap();
        write_demo(&ledger, 3).unwrap();
        let model = rebuild(&ledger).unwrap();
        drop(ledger);
        let ids: Vec<_> = model.projects.keys().copied().collect();
        let (a, b, p1) = ids
            .iter()
            .flat_map(|a| ids.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a != b)
            .find_map(|(a, b)| {
                let in_b: Vec<String> = members(&model, b).into_iter().map(|m| m.0).collect();
                let p1 = members(&model, a)
                    .into_iter()
                    .find(|(id, r)| *r == PersonRole::Partner && !in_b.contains(id))?;
                Some((*a, *b, p1.0))
            })
            .expect("two projects, and a partner in one only");
        let in_a = members(&model, &a);
        let s = in_a
            .iter()
            .find(|m| m.1 == PersonRole::Staff)
            .unwrap()
            .0
            .clone();
        let p2 = in_a
            .iter()
            .find(|m| m.1 == PersonRole::Partner && m.0 != p1)
            .unwrap()
            .0
            .clone();
        let project = &model.projects[&a];
        let open: Vec<String> = project
            .proposals
            .iter()
            .filter(|id| model.proposals[id].withdrawn.is_none())
            .map(|id| id.to_string())
            .collect();
        World {
            ideas: [open[0].clone(), open[1].clone()],
            stage: project.stage.words().to_string(),
            a: a.to_string(),
            b: b.to_string(),
            s,
            p1,
            p2,
            data,
            dir,
        }
    }

    fn wrong_stage(&self) -> &'static str {
        if self.stage == "delivery" {
            "design"
        } else {
            "delivery"
        }
    }

    /// The decision of [`Case::StaffDecision`], as the API and the command
    /// line take it.
    fn decision(&self, stage: &str) -> Value {
        json!({"project_id": self.a, "decision_id": "0190d9a0-0000-7000-8000-00000000d001",
            "question": "Which day suits everyone?", "outcome": "Tuesdays", "stage": stage,
            "method": "staff-decision",
            "answers": [
                {"proposal_id": self.ideas[0], "response": "declined", "reason": "We cannot afford it."},
                {"proposal_id": self.ideas[1], "response": "accepted", "reason": "Everyone wanted it."}],
            "participants": [
                {"participant_id": self.s, "position": "agree"},
                {"participant_id": self.p1, "position": "disagree"},
                {"participant_id": self.p2, "position": "agree"}],
            "reason": "The budget decides."})
    }
}

/// What matters of a record for a case: ids people chose and choices they
/// made, never the ids the door made up or the words they typed.
fn essence(case: Case, payload: &Value) -> Value {
    match case {
        Case::StaffDecision => {
            let mut answers: Vec<(String, String)> = payload["answers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["proposal_id"].as_str().unwrap().into(),
                        a["response"].as_str().unwrap().into(),
                    )
                })
                .collect();
            answers.sort();
            let mut parts: Vec<(String, String)> = payload["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["participant_id"].as_str().unwrap().into(),
                        p["position"].as_str().unwrap().into(),
                    )
                })
                .collect();
            parts.sort();
            json!({"project": payload["project_id"], "stage": payload["stage"], "method": payload["method"],
                   "answers": answers, "participants": parts})
        }
        Case::RaiseInOwnProject => json!({"project": payload["project_id"]}),
        _ => payload.clone(),
    }
}

/// What each cell must give.
fn expected(w: &World, case: Case, door: Door) -> Outcome {
    match (case, door) {
        (Case::StaffDecision, _) => Recorded("decision.made", essence(case, &w.decision(&w.stage))),
        (Case::RaiseInOwnProject, Door::Cli) => NotOffered,
        (Case::RaiseInOwnProject, _) => Recorded("proposal.raised", json!({"project": w.a})),
        (Case::RaiseInOtherProject, Door::Cli) => NotOffered,
        (Case::RaiseInOtherProject, _) => Refused(Kind::NotFound),
        (Case::RepeatedKey, Door::Page) => NotOffered,
        (Case::RepeatedKey, _) => Refused(Kind::Malformed),
        (Case::WrongStage, Door::Page) => NotOffered, // the form takes the project's stage
        (Case::WrongStage, _) => Refused(Kind::Invalid),
        (Case::RedactionByAppend, Door::Page) => NotOffered,
        (Case::RedactionByAppend, _) => Refused(Kind::Forbidden),
        (Case::ConfirmTwice, Door::Cli) => NotOffered,
        (Case::ConfirmTwice, _) => Refused(Kind::Conflict),
        (Case::ChallengeAfterLeaving, Door::Cli) => NotOffered,
        (Case::ChallengeAfterLeaving, _) => Refused(Kind::Forbidden),
    }
}

/// The last record of a data directory, if the log grew past `size`.
fn last_record(data: &Path, size: usize) -> Option<(String, Value)> {
    let out = jointly(data, &["log"], None);
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    (lines.len() > size).then(|| {
        let v: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        (
            v["record"]["type"].as_str().unwrap().to_string(),
            v["payload"].clone(),
        )
    })
}

fn log_size(data: &Path) -> usize {
    std::str::from_utf8(&jointly(data, &["log"], None).stdout)
        .unwrap()
        .lines()
        .count()
}

/// The kind a command line refusal says it is, by the words it starts with.
fn cli_kind(words: &str) -> Option<Kind> {
    let lead = words
        .strip_prefix("jointly: ")?
        .split(", nothing was written")
        .next()?;
    Some(match lead {
        "cannot read this" => Kind::Malformed,
        "refused" => Kind::Invalid,
        "not allowed" => Kind::Forbidden,
        "not found" => Kind::NotFound,
        "conflicts with the record" => Kind::Conflict,
        _ => return None,
    })
}

async fn through_cli(w: &World, case: Case) -> Outcome {
    let (kind, payload): (&str, Vec<u8>) = match case {
        Case::StaffDecision => (
            "decision.made",
            w.decision(&w.stage).to_string().into_bytes(),
        ),
        Case::RepeatedKey => ("x.note", br#"{"o":{"k":1,"k":2}}"#.to_vec()),
        Case::WrongStage => (
            "decision.made",
            w.decision(w.wrong_stage()).to_string().into_bytes(),
        ),
        Case::RedactionByAppend => (
            "record.redacted",
            json!({"records": [{"seq": 1, "kept": {}}], "reason": "R", "legal_basis": "B"})
                .to_string()
                .into_bytes(),
        ),
        _ => return NotOffered,
    };
    let before = log_size(&w.data);
    let out = jointly(
        &w.data,
        &["append", "--type", kind, "--payload", "-"],
        Some(&payload),
    );
    match out.status.code() {
        Some(0) => {
            let (t, p) = last_record(&w.data, before).expect("a record");
            Recorded(leak(t), essence(case, &p))
        }
        Some(code) => {
            assert_eq!(
                log_size(&w.data),
                before,
                "{case:?}: a refusal wrote something"
            );
            let words = String::from_utf8_lossy(&out.stderr);
            // Bad input is exit 2, whatever its kind; the words say which.
            assert_eq!(code, 2, "{case:?}: {words}");
            Refused(cli_kind(&words).unwrap_or_else(|| panic!("{case:?}: {words}")))
        }
        None => panic!("killed"),
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The API's answer, as an outcome: the record it wrote, or the kind of
/// its refusal (from the problem's type).
async fn api_outcome(api: &Api, case: Case, status: u16, body: &Value, before: u64) -> Outcome {
    if status == 201 {
        let seq = body["seq"].as_u64().unwrap();
        let ev = api
            .app()
            .event(&jointly::app::Caller::operator(), seq)
            .unwrap();
        let payload = ev.payload.unwrap().to_value();
        return Recorded(
            leak(ev.record.event_type().as_str().to_string()),
            essence(case, &payload),
        );
    }
    assert_eq!(
        api.app().size(),
        before,
        "{case:?}: a refusal wrote something: {body}"
    );
    let name = body["type"].as_str().unwrap().rsplit('/').next().unwrap();
    Refused(
        *Kind::ALL
            .iter()
            .find(|k| k.name() == name)
            .unwrap_or_else(|| panic!("{case:?}: {status} {body}")),
    )
}

/// A confirmed part, then the same again; or a partner leaving.
async fn setup(api: &Api, w: &World, case: Case, staff: &str, p1: &str) {
    match case {
        Case::ConfirmTwice => {
            let (s, _, v) = api
                .call(
                    Some(staff),
                    "POST",
                    "/v1/events",
                    json!({"type": "decision.made", "payload": w.decision(&w.stage)}),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            let (s, _, v) = api
                .call(Some(p1), "POST", "/v1/events", json!({"type": "decision.confirmed", "payload": {"decision_id": "0190d9a0-0000-7000-8000-00000000d001"}}))
                .await;
            assert_eq!(s, 201, "{v}");
        }
        Case::ChallengeAfterLeaving => {
            let (s, _, v) = api
                .call(
                    Some(staff),
                    "POST",
                    "/v1/events",
                    json!({"type": "decision.made", "payload": w.decision(&w.stage)}),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            let (s, _, v) = api
                .call(Some(staff), "POST", "/v1/events", json!({"type": "participant.left", "payload": {"project_id": w.a, "participant_id": w.p1}}))
                .await;
            assert_eq!(s, 201, "{v}");
        }
        _ => {}
    }
}

const DECISION: &str = "0190d9a0-0000-7000-8000-00000000d001";

async fn through_api(w: &World, case: Case) -> Outcome {
    let (ledger, _) = Ledger::open(&w.data).unwrap();
    let api = Api::new(ledger);
    let staff = token(api.app(), Role::Staff, "staff", Some(&w.s));
    let p1 = token(api.app(), Role::Partner, "p1", Some(&w.p1));
    // Made before counting: making a token is itself recorded.
    let admin = token(api.app(), Role::Admin, "admin", None);
    setup(&api, w, case, &staff, &p1).await;
    let before = api.app().size();
    let idea = |project: &str| json!({"type": "proposal.raised", "payload": {"project_id": project, "proposal_id": "0190d9a0-0000-7000-8000-0000000000a1", "text": "Crèche at meetings."}});
    let (status, body) = match case {
        Case::StaffDecision | Case::WrongStage => {
            let stage = if case == Case::WrongStage {
                w.wrong_stage()
            } else {
                &w.stage
            };
            let (s, _, v) = api
                .call(
                    Some(&staff),
                    "POST",
                    "/v1/events",
                    json!({"type": "decision.made", "payload": w.decision(stage)}),
                )
                .await;
            (s, v)
        }
        Case::RaiseInOwnProject => {
            let (s, _, v) = api.call(Some(&p1), "POST", "/v1/events", idea(&w.a)).await;
            (s, v)
        }
        Case::RaiseInOtherProject => {
            let (s, _, v) = api.call(Some(&p1), "POST", "/v1/events", idea(&w.b)).await;
            (s, v)
        }
        Case::RepeatedKey => {
            let raw = br#"{"type":"x.note","payload":{"o":{"k":1,"k":2}}}"#.to_vec();
            let (s, _, v) = api
                .raw(
                    Some(&staff),
                    "POST",
                    "/v1/events",
                    Some(raw),
                    "application/json",
                    &[],
                )
                .await;
            (s, v)
        }
        Case::RedactionByAppend => {
            let (s, _, v) = api.call(Some(&admin), "POST", "/v1/events", json!({"type": "record.redacted", "payload": {"records": [{"seq": 1, "kept": {}}], "reason": "R", "legal_basis": "B"}})).await;
            (s, v)
        }
        Case::ConfirmTwice => {
            let (s, _, v) = api
                .call(
                    Some(&p1),
                    "POST",
                    "/v1/events",
                    json!({"type": "decision.confirmed", "payload": {"decision_id": DECISION}}),
                )
                .await;
            (s, v)
        }
        Case::ChallengeAfterLeaving => {
            let (s, _, v) = api.call(Some(&p1), "POST", "/v1/events", json!({"type": "decision.challenged", "payload": {"decision_id": DECISION, "challenge_id": "0190d9a0-0000-7000-8000-0000000000c1", "reason": "I left."}})).await;
            (s, v)
        }
    };
    let outcome = api_outcome(&api, case, status.as_u16(), &body, before).await;
    api.state.shutdown().await;
    outcome
}

async fn through_pages(w: &World, case: Case) -> Outcome {
    let (ledger, _) = Ledger::open(&w.data).unwrap();
    let api = Api::new(ledger);
    let staff = token(api.app(), Role::Staff, "staff", Some(&w.s));
    let p1 = token(api.app(), Role::Partner, "p1", Some(&w.p1));
    setup(&api, w, case, &staff, &p1).await;
    let before = api.app().size();
    let appended_before = api
        .app()
        .metrics()
        .appends
        .load(std::sync::atomic::Ordering::Relaxed);
    let (status, page) = match case {
        Case::StaffDecision => {
            let mut b = Browser::sign_in(&api, &staff).await;
            let response = [
                format!("response-{}", w.ideas[0]),
                format!("response-{}", w.ideas[1]),
            ];
            let why = [format!("why-{}", w.ideas[0]), format!("why-{}", w.ideas[1])];
            let pos = [
                format!("position-{}", w.s),
                format!("position-{}", w.p1),
                format!("position-{}", w.p2),
            ];
            b.submit_and_confirm(
                &format!("/projects/{}/decision", w.a),
                &[
                    ("question", "Which day suits everyone?"),
                    ("outcome", "Tuesdays"),
                    ("method", "staff-decision"),
                    ("reason", "The budget decides."),
                    (&response[0], "declined"),
                    (&why[0], "We cannot afford it."),
                    (&response[1], "accepted"),
                    (&why[1], "Everyone wanted it."),
                    (&pos[0], "agree"),
                    (&pos[1], "disagree"),
                    (&pos[2], "agree"),
                ],
            )
            .await
        }
        Case::RaiseInOwnProject | Case::RaiseInOtherProject => {
            let project = if case == Case::RaiseInOwnProject {
                &w.a
            } else {
                &w.b
            };
            let mut b = Browser::sign_in(&api, &p1).await;
            // The form of a project one is not in is not shown; its post is
            // refused the same way.
            let (status, page) = b
                .submit(
                    &format!("/projects/{project}/propose"),
                    &[("text", "Crèche at meetings.")],
                )
                .await;
            if status == 200 || status == 303 || case == Case::RaiseInOwnProject {
                (status, page)
            } else {
                let (_, home) = b.get("/home").await;
                let csrf = home
                    .split("name=\"csrf\" value=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                b.post(
                    &format!("/projects/{project}/propose"),
                    &[("csrf", &csrf), ("text", "Crèche at meetings.")],
                )
                .await
            }
        }
        Case::ConfirmTwice => {
            let mut b = Browser::sign_in(&api, &p1).await;
            b.submit(
                &format!("/decisions/{DECISION}/confirm"),
                &[("answer", "confirm")],
            )
            .await
        }
        Case::ChallengeAfterLeaving => {
            let mut b = Browser::sign_in(&api, &p1).await;
            b.submit(
                &format!("/decisions/{DECISION}/challenge"),
                &[("reason", "I left.")],
            )
            .await
        }
        _ => return NotOffered,
    };
    let grew = api.app().size() > before;
    let outcome = match status.as_u16() {
        303 if grew => {
            // Pages count in /metrics like any other door.
            assert!(
                api.app()
                    .metrics()
                    .appends
                    .load(std::sync::atomic::Ordering::Relaxed)
                    > appended_before
            );
            let ev = api
                .app()
                .event(&jointly::app::Caller::operator(), before)
                .unwrap();
            Recorded(
                leak(ev.record.event_type().as_str().to_string()),
                essence(case, &ev.payload.unwrap().to_value()),
            )
        }
        s => {
            assert!(!grew, "{case:?}: a refused form wrote something");
            // The page's status says the kind, as the API's does.
            let kind = Kind::ALL
                .into_iter()
                .find(|k| jointly::api::error::status_of(*k).as_u16() == s)
                .unwrap_or_else(|| panic!("{case:?}: status {s}: {page}"));
            Refused(kind)
        }
    };
    api.state.shutdown().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_records_what_was_entered_and_refuses_alike() {
    let cases = [
        Case::StaffDecision,
        Case::RaiseInOwnProject,
        Case::RaiseInOtherProject,
        Case::RepeatedKey,
        Case::WrongStage,
        Case::RedactionByAppend,
        Case::ConfirmTwice,
        Case::ChallengeAfterLeaving,
    ];
    for case in cases {
        for door in [Door::Cli, Door::Api, Door::Page] {
            let w = World::new();
            let want = expected(&w, case, door);
            let got = match door {
                Door::Cli => through_cli(&w, case).await,
                Door::Api => through_api(&w, case).await,
                Door::Page => through_pages(&w, case).await,
            };
            assert_eq!(got, want, "{case:?} through {door:?}");
            drop(w.dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_entered_through_the_form_is_classed_by_what_was_entered() {
    let w = World::new();
    let (ledger, _) = Ledger::open(&w.data).unwrap();
    let api = Api::new(ledger);
    let staff = token(api.app(), Role::Staff, "staff", Some(&w.s));
    let mut b = Browser::sign_in(&api, &staff).await;
    let (_, form) = b.get(&format!("/projects/{}/decision", w.a)).await;
    // The form offers the schema's own values, every one of them.
    for value in [
        "consensus",
        "vote",
        "staff-decision",
        "one-person",
        "accepted",
        "amended",
        "declined",
        "agree",
        "disagree",
        "abstain",
    ] {
        assert!(
            form.contains(&format!("value=\"{value}\"")),
            "the form lacks {value}"
        );
    }
    assert!(!form.contains("staff_decision") && !form.contains("They are accepted"));
    let pos = [format!("position-{}", w.s), format!("position-{}", w.p1)];
    let (status, _) = b
        .submit_and_confirm(
            &format!("/projects/{}/decision", w.a),
            &[
                ("question", "Do we move the meeting?"),
                ("outcome", "No"),
                ("method", "consensus"),
                ("reason", "Most agreed."),
                (&pos[0], "agree"),
                (&pos[1], "disagree"),
            ],
        )
        .await;
    // A consensus with someone disagreeing is not a consensus: the form
    // says so, beside that person, and nothing is written.
    assert_eq!(status, 422);
    let (status, _) = b
        .submit_and_confirm(
            &format!("/projects/{}/decision", w.a),
            &[
                ("question", "Do we move the meeting?"),
                ("outcome", "No"),
                ("method", "vote"),
                ("reason", "Most agreed."),
                (&pos[0], "agree"),
                (&pos[1], "disagree"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let staff_caller = jointly::app::Caller::operator();
    let made = api
        .app()
        .event(&staff_caller, api.app().size() - 1)
        .unwrap();
    let id = made.payload.unwrap().to_value()["decision_id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = api
        .app()
        .report(
            &staff_caller,
            Some(jointly::app::project_id(&w.a, "").unwrap()),
        )
        .unwrap();
    let j = serde_json::to_value(&report.jointness).unwrap();
    let class = j.to_string();
    assert!(class.contains(&id));
    let this = crate::common::find_object(&j, &id).expect("the decision is listed");
    assert_ne!(
        this["jointness"], "joint",
        "a decision with a disagreeing partner, not yet confirmed"
    );
    api.state.shutdown().await;
}
