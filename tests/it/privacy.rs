//! Privacy: a partner who raised a proposal, took part in a decision and
//! confirmed it, and answered the equality questions, is erased; the log
//! still verifies, not one byte of their name, email or words is left in
//! any file of the data directory, and the projections still count what
//! they did. Published equality counts give no hidden count away.

use crate::common::files_containing;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::coproduction::equality::{self, QUESTIONS};
use jointly::coproduction::report::Shown;
use jointly::ledger::Ledger;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt;
use uuid::Uuid;

const NAME: &str = "Zephyrine Quillfeather";
const EMAIL: &str = "zq.private@example.org";
const WORDS: &str = "marmalade-kettle-4417";

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let body = if body.is_null() {
        Body::empty()
    } else {
        req = req.header("content-type", "application/json");
        Body::from(body.to_string())
    };
    let resp = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_partner_leaves_no_trace_but_their_part_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, 0).unwrap();
    let model = jointly::app::fold::rebuild(&ledger).unwrap();
    let project = model
        .projects
        .values()
        .find(|p| p.stage != jointly::coproduction::values::Stage::Closed)
        .unwrap();
    let (project_id, stage, lead) = (project.id, project.stage, project.lead);
    drop(model);

    let state = AppState::new(ledger.clone()).unwrap();
    let admin = crate::common::token(state.app(), Role::Admin, "dpo", None);
    let staff = crate::common::token(state.app(), Role::Staff, "officer", Some(&lead.to_string()));
    let router = app(state.clone(), &Config::default());

    // Staff register the partner: the name goes to the people store only.
    let (status, added) = call(
        &router,
        "POST",
        "/v1/people",
        &staff,
        json!({"role": "partner", "name": NAME, "email": EMAIL, "project_id": project_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let pid: Uuid = added["participant_id"].as_str().unwrap().parse().unwrap();
    let partner = crate::common::token(
        state.app(),
        Role::Partner,
        "p-token",
        Some(&pid.to_string()),
    );
    let (_, shown) = call(
        &router,
        "GET",
        &format!("/v1/people/{pid}"),
        &staff,
        Value::Null,
    )
    .await;
    assert_eq!(shown["name"], NAME);

    // They raise a proposal, staff decide with them, and they confirm.
    let proposal = Uuid::new_v4();
    let decision = Uuid::new_v4();
    let append = |t: &str, p: Value| json!({"type": t, "payload": p});
    let (status, body) = call(&router, "POST", "/v1/events", &partner, append("proposal.raised",
        json!({"project_id": project_id, "proposal_id": proposal, "text": format!("My idea is {WORDS}: a quiet room.")}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(&router, "POST", "/v1/events", &staff, append("decision.made", json!({
        "project_id": project_id, "decision_id": decision, "question": "Shall we have a quiet room?",
        "outcome": "Yes, from next month.", "stage": stage,
        "answers": [{"proposal_id": proposal, "response": "accepted", "reason": "Partners asked for it."}],
        "method": "consensus",
        "participants": [{"participant_id": pid, "position": "agree"}, {"participant_id": lead, "position": "agree"}],
        "reason": "Everyone agreed."}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(
        &router,
        "POST",
        "/v1/events",
        &partner,
        append(
            "decision.disputed",
            json!({"decision_id": decision, "reason": format!("I said {WORDS} twice")}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // And answer the equality questions, for themselves only.
    let (status, body) = call(&router, "PUT", "/v1/me/equality", &partner,
        json!({"region": "wales", "sexual_orientation": "bisexual", "religion_or_belief": "prefer_not_to_say"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &router,
        "PUT",
        "/v1/me/equality",
        &staff,
        json!({"region": "wales"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "staff cannot answer for anyone"
    );
    let (status, body) = call(
        &router,
        "PUT",
        "/v1/me/equality",
        &partner,
        json!({"region": "atlantis"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The model saved for start-up holds where their words are in the
    // log, never the words: there is one copy, the log's.
    assert!(state.app().save_snapshot(0).unwrap().is_some());
    assert!(
        files_containing(&dir.path().join("snapshots"), WORDS).is_empty(),
        "the snapshot holds a copy of what they wrote"
    );
    for needle in [NAME, EMAIL, WORDS] {
        assert!(
            !files_containing(dir.path(), needle).is_empty(),
            "{needle} not stored: the search is blind"
        );
    }
    let (_, export) = call(
        &router,
        "GET",
        &format!("/v1/people/{pid}/export"),
        &admin,
        Value::Null,
    )
    .await;
    let text = export.to_string();
    assert!(
        text.contains(NAME) && text.contains(WORDS) && text.contains("bisexual"),
        "{text}"
    );

    // Their words are shown (so the server has read them lately).
    let you_said = format!("/v1/projects/{project_id}/projections/you-said-we-did");
    let (status, said) = call(&router, "GET", &you_said, &staff, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{said}");
    assert!(said.to_string().contains(WORDS), "{said}");

    // Erasure: only an administrator; then nothing personal is left.
    let (status, _) = call(
        &router,
        "POST",
        "/v1/erasures",
        &staff,
        json!({"participant_id": pid, "reason": "Asked"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, done) = call(
        &router,
        "POST",
        "/v1/erasures",
        &admin,
        json!({"participant_id": pid, "reason": "They asked us to erase their data."}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["erased"].as_array().unwrap().len(), 2, "{done}");
    assert_eq!(done["person_deleted"], true);
    assert!(
        files_containing(dir.path(), WORDS).is_empty(),
        "their words outlived the erasure (in a snapshot?)"
    );
    let (_, shown) = call(
        &router,
        "GET",
        &format!("/v1/people/{pid}"),
        &staff,
        Value::Null,
    )
    .await;
    assert_eq!(shown["name"], "a former participant");
    // Erasure records come only from erasure: not through the generic append.
    let (status, _) = call(&router, "POST", "/v1/events", &admin,
        json!({"type": "record.redacted", "payload": {"records": [{"seq": 1, "kept": {}}], "reason": "R", "legal_basis": "B"}})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&router, "GET", "/v1/me/equality", &partner, Value::Null).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "their access code was deleted"
    );

    // The projections still count the proposal, answered, and their part.
    let (status, said) = call(&router, "GET", &you_said, &staff, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{said}");
    let said = said.to_string();
    assert!(
        said.contains(&proposal.to_string()),
        "the proposal is no longer counted: {said}"
    );
    assert!(!said.contains(WORDS), "{said}");

    state.shutdown().await;
    drop(router);
    drop(state);
    let v = jointly::ledger::verify::verify_full(&ledger, &mut |_| {}).unwrap();
    assert_eq!(v.redacted, 2);
    let (authorised, unauthorised) = jointly::app::erasure::authorisations(&ledger).unwrap();
    assert!(unauthorised.is_empty());
    assert_eq!(authorised.len(), 2);
    drop(ledger);
    std::thread::sleep(std::time::Duration::from_millis(200));
    for needle in [NAME, EMAIL, WORDS, "zq.private"] {
        let left = files_containing(dir.path(), needle);
        assert!(left.is_empty(), "{needle:?} is still in {left:?}");
    }
}

/// What someone could work out of a hidden count, given a table: the
/// possible values of each count shown as "fewer than k" or hidden. A
/// count is safe if it has at least two possible values.
fn possible_values(cells: &[Shown], total: u64, k: u64) -> Vec<Option<BTreeSet<u64>>> {
    let shown: u64 = cells
        .iter()
        .map(|c| if let Shown::Count(n) = c { *n } else { 0 })
        .sum();
    let rest = total - shown;
    let ranges: Vec<(u64, u64)> = cells
        .iter()
        .map(|c| match c {
            Shown::FewerThan(_) => (1, k - 1),
            // Only non-zero counts are hidden beside a small one.
            Shown::Hidden => (1, rest),
            Shown::Count(n) => (*n, *n),
            Shown::Rounded(n) => (n.saturating_sub(2), n + 2),
        })
        .collect();
    let hidden: Vec<usize> = (0..cells.len())
        .filter(|i| !matches!(cells[*i], Shown::Count(_)))
        .collect();
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if matches!(c, Shown::Count(_)) {
                return None;
            }
            let others: Vec<usize> = hidden.iter().copied().filter(|j| *j != i).collect();
            let lo: u64 = others.iter().map(|j| ranges[*j].0).sum();
            let hi: u64 = others.iter().map(|j| ranges[*j].1).sum();
            Some(
                (ranges[i].0..=ranges[i].1.min(rest))
                    .filter(|v| rest - v >= lo && rest - v <= hi)
                    .collect(),
            )
        })
        .collect()
}

fn answers_strategy() -> impl Strategy<Value = Vec<(bool, Vec<usize>)>> {
    // Each partner: in the project or not, and an answer index per question.
    prop::collection::vec(
        (
            any::<bool>(),
            prop::collection::vec(0usize..16, QUESTIONS.len()),
        ),
        0..40,
    )
}

/// The whole group, the project's members, and everyone's answers.
type Group = (BTreeSet<Uuid>, BTreeSet<Uuid>, equality::Answers);

fn build(people: &[(bool, Vec<usize>)]) -> Group {
    let mut group = BTreeSet::new();
    let mut members = BTreeSet::new();
    let mut answers = BTreeMap::new();
    for (i, (inside, picks)) in people.iter().enumerate() {
        let id = Uuid::from_u128(i as u128 + 1);
        group.insert(id);
        if *inside {
            members.insert(id);
        }
        let mut a = BTreeMap::new();
        for (q, pick) in QUESTIONS.iter().zip(picks) {
            // Indexes past the offered answers: "prefer not to say" or no answer.
            match q.answers.get(*pick) {
                Some(x) => {
                    a.insert(q.key.to_string(), x.to_string());
                }
                None if pick % 2 == 0 => {
                    a.insert(q.key.to_string(), "prefer_not_to_say".to_string());
                }
                None => {}
            }
        }
        answers.insert(id, a);
    }
    (group, members, answers)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No hidden count can be worked out from its table's total and the
    /// counts shown, nor from the difference between the group's table and
    /// a project's.
    #[test]
    fn no_hidden_count_can_be_worked_out(people in answers_strategy(), k in 3u64..7) {
        let (group, members, answers) = build(&people);
        let g = equality::Group::new(group.clone(), answers.clone());
        let whole = equality::whole_group(&g, k);
        let project = equality::project(Uuid::nil().into(), &members, &g, k);
        for (table, size) in [(&whole, group.len() as u64), (&project, members.len() as u64)] {
            if size > 0 && size < k {
                prop_assert!(table.rows.is_empty(), "a table of {size} partners was published");
                prop_assert!(matches!(table.partners, Shown::FewerThan(_)));
            }
            for row in &table.rows {
                let cells: Vec<Shown> = row.counts.iter().map(|(_, c)| *c).collect();
                if cells.iter().all(|c| *c == Shown::Hidden) {
                    continue; // the whole row is withheld
                }
                for (c, possible) in cells.iter().zip(possible_values(&cells, size, k)) {
                    if let (Shown::FewerThan(_), Some(p)) = (c, possible) {
                        prop_assert!(p.len() >= 2, "{}: a hidden count is pinned to {p:?} in {cells:?}", row.question);
                    }
                }
            }
        }
        // Differencing: where both tables show a count, the partners
        // outside the project with that answer are not a small number.
        if !whole.rows.is_empty() && !project.rows.is_empty() {
            for (w, p) in whole.rows.iter().zip(&project.rows) {
                for ((_, wc), (_, pc)) in w.counts.iter().zip(&p.counts) {
                    if let (Shown::Count(a), Shown::Count(b)) = (wc, pc) {
                        let outside = a - b;
                        prop_assert!(outside == 0 || outside >= k,
                            "{}: {outside} partners outside the project can be counted", w.question);
                    }
                }
            }
        }
    }
}

#[test]
fn retention_erases_those_who_left_long_ago_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let people = jointly::people::People::open(dir.path()).unwrap();
    let mut append = |e: jointly::ledger::NewEvent| {
        let mut rules = jointly::app::rules::Rules::new(ledger.clone()).unwrap();
        let mut a = ledger
            .append_admitted(vec![e], &mut rules)
            .map_err(|e| e.to_string())?;
        a.pop().unwrap().map(|a| a.seq).map_err(|r| r.to_string())
    };
    let mut long_gone =
        jointly::people::Person::new("partner", "Old Friend", None, "2019-01-01").unwrap();
    long_gone.left = Some("2020-06-30".into());
    let mut recent =
        jointly::people::Person::new("partner", "New Leaver", None, "2024-01-01").unwrap();
    recent.left = Some("2026-10-01".into());
    let staying =
        jointly::people::Person::new("partner", "Still Here", None, "2024-01-01").unwrap();
    for p in [&long_gone, &recent, &staying] {
        people.put(p).unwrap();
    }
    let today = time::Date::from_calendar_date(2026, time::Month::November, 23).unwrap();
    let actor = jointly::ledger::Actor::new("operator:test").unwrap();
    let tokens = jointly::app::tokens::TokenStore::open(&ledger).unwrap();
    let idempotency = jointly::app::idempotency::Idempotency::open(&ledger).unwrap();
    let outbox = jointly::app::outbox::Outbox::new(ledger.store().side_table("outbox").unwrap());
    let holders = jointly::app::erasure::Holders {
        people: &people,
        tokens: &tokens,
        idempotency: &idempotency,
        outbox: &outbox,
    };
    let r =
        jointly::app::erasure::apply_retention(&ledger, holders, today, 730, &actor, &mut append)
            .unwrap();
    assert_eq!(r.erased_people, vec![long_gone.id]);
    assert_eq!(r.cutoff, "2024-11-23");
    assert!(people.get(&long_gone.id).unwrap().is_none());
    assert!(
        people.get(&recent.id).unwrap().is_some() && people.get(&staying.id).unwrap().is_some()
    );
    let stored = ledger.store().read(r.recorded_as).unwrap().unwrap().record;
    assert!(String::from_utf8_lossy(&stored).contains("retention.applied"));
    assert!(files_containing(dir.path(), "Old Friend").is_empty());
}
