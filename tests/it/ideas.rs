//! What a partner reads about their own idea, and what waits on each
//! person: the status of an idea after each thing that can happen to it,
//! and the home page's lists, worked out by hand from the story in
//! `coproduction::World` (staff 1; partners 2 and 3 in P; partner 4 in Q;
//! idea 20 by partner 2, answered "accepted" by decision 30 of 1 and 2).

use crate::coproduction::{P, Q, World, decision, id, partner, pid, staff};
use jointly::coproduction::agenda::{For, agenda};
use jointly::coproduction::idea::status;
use jointly::coproduction::values::{Date, ProjectId, ProposalId};
use serde_json::{Value, json};

fn today() -> Date {
    Date::from_date(time::OffsetDateTime::now_utc().date())
}

fn proposal(n: u32) -> ProposalId {
    serde_json::from_value(Value::String(id(n))).unwrap()
}

/// After `events` (actor, type, payload) on top of the story, idea `idea`
/// reads `words`, with this much in its detail.
fn check(events: &[(jointly::ledger::Actor, &str, Value)], idea: u32, expect: (&str, &str)) {
    let mut w = World::new();
    for (actor, kind, payload) in events {
        w.ok(actor, kind, payload.clone());
    }
    let m = w.model();
    let pr = &m.proposals[&proposal(idea)];
    let st = status(&m, pr, today());
    let detail = match &st {
        jointly::coproduction::idea::Status::Waiting { days } => format!("{days} days"),
        jointly::coproduction::idea::Status::Withdrawn { reason } => m.text(reason),
        jointly::coproduction::idea::Status::Answered(a) => {
            format!("{} ({} actions)", m.text(a.reason), a.actions.len())
        }
    };
    assert_eq!((st.words(), detail.as_str()), expect, "{events:?}");
}

fn action(n: u32, on: &[u32]) -> Value {
    let mut a = json!({"project_id": id(P), "action_id": id(n), "decision_id": id(30),
        "what": "Open the hall on Saturdays.", "owner": id(1), "due": "2030-01-01"});
    if !on.is_empty() {
        a["proposal_ids"] = on.iter().map(|p| json!(id(*p))).collect();
    }
    a
}

#[test]
fn an_idea_reads_as_what_became_of_it() {
    let raised = |n: u32| {
        (
            partner(2),
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(n), "text": "Tea."}),
        )
    };
    let done = |n: u32| {
        (
            staff(),
            "action.completed",
            json!({"action_id": id(n), "what_changed": "It opens."}),
        )
    };
    // Answered, nothing done yet.
    check(&[], 20, ("Accepted", "Most asked. (0 actions)"));
    // An action on this idea, done: done.
    check(
        &[(staff(), "action.committed", action(40, &[20])), done(40)],
        20,
        ("Done", "Most asked. (1 actions)"),
    );
    // An action on the decision as a whole, not done: still accepted.
    check(
        &[(staff(), "action.committed", action(40, &[]))],
        20,
        ("Accepted", "Most asked. (1 actions)"),
    );
    // A new idea, unanswered: waiting, from today.
    check(&[raised(22)], 22, ("Waiting for an answer", "0 days"));
    // Put forward at a meeting long ago and typed in today: waiting since then.
    let mut old = raised(22);
    old.2["raised_on"] = json!("2000-01-01");
    let since = Date::parse("2000-01-01").unwrap().days_until(today());
    check(
        &[old],
        22,
        ("Waiting for an answer", format!("{since} days").as_str()),
    );
    // Declined, with the reason.
    let mut no = decision(31, P, &[22], &[1, 2]);
    no["answers"][0]["response"] = json!("declined");
    no["answers"][0]["reason"] = json!("The budget is spent.");
    check(
        &[raised(22), (staff(), "decision.made", no)],
        22,
        ("Not accepted", "The budget is spent. (0 actions)"),
    );
    // Withdrawn by its author.
    check(
        &[
            raised(22),
            (
                partner(2),
                "proposal.withdrawn",
                json!({"proposal_id": id(22), "reason": "Done another way."}),
            ),
        ],
        22,
        ("Withdrawn", "Done another way."),
    );
    // An action on one of two ideas shows under that one only.
    let mut both = decision(31, P, &[22, 23], &[1, 2]);
    both["answers"][1]["response"] = json!("accepted");
    let mut on_22 = action(41, &[22]);
    on_22["decision_id"] = json!(id(31));
    let story = [
        raised(22),
        raised(23),
        (staff(), "decision.made", both),
        (staff(), "action.committed", on_22),
        done(41),
    ];
    check(&story, 22, ("Done", "Most asked. (1 actions)"));
    check(&story, 23, ("Accepted", "Most asked. (0 actions)"));
    // An action that names no idea, of a decision that answered two,
    // belongs to the decision: under neither idea.
    let mut whole = action(42, &[]);
    whole["decision_id"] = json!(id(31));
    let mut story = story.to_vec();
    story.push((staff(), "action.committed", whole));
    check(&story, 22, ("Done", "Most asked. (1 actions)"));
    check(&story, 23, ("Accepted", "Most asked. (0 actions)"));
}

#[test]
fn an_action_names_only_ideas_its_decision_answered_and_days_are_not_in_the_future() {
    let mut w = World::new();
    let refused = |w: &mut World, kind: &str, payload: Value| {
        let r = w.append(&staff(), kind, payload).unwrap_err();
        r.pointer().unwrap_or_default().to_string()
    };
    w.ok(
        &partner(2),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "Tea."}),
    );
    assert_eq!(
        refused(&mut w, "action.committed", action(40, &[22])),
        "/payload/proposal_ids/0"
    );
    assert_eq!(
        refused(&mut w, "action.committed", action(40, &[20, 20])),
        "/payload/proposal_ids/1"
    );
    let mut later = decision(31, P, &[], &[1, 2]);
    later["made_on"] = json!("2999-01-01");
    assert_eq!(refused(&mut w, "decision.made", later), "/payload/made_on");
    let mut earlier = decision(31, P, &[], &[1, 2]);
    earlier["made_on"] = json!("2025-07-15");
    w.ok(&staff(), "decision.made", earlier);
    let d = &w.model().decisions[&serde_json::from_value(json!(id(31))).unwrap()];
    assert_eq!(d.day(), Date::parse("2025-07-15").unwrap());
}

#[test]
fn each_person_sees_what_waits_on_them() {
    let mut w = World::new();
    w.ok(
        &partner(3),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "Tea."}),
    );
    w.ok(
        &partner(2),
        "decision.challenged",
        json!({"decision_id": id(30), "challenge_id": id(50), "reason": "Why?"}),
    );
    let ids = |v: Vec<String>| v.join(" ");
    let sees = |projects: &'static [u32]| {
        move |p: &ProjectId| projects.iter().any(|n| p.to_string() == id(*n))
    };
    let view = |w: &World, me: u32, staff: bool, projects: &'static [u32]| {
        let sees = sees(projects);
        let model = w.model();
        let a = agenda(
            &model,
            For {
                me: Some(pid(me)),
                staff,
                in_own_name: true,
                sees: Some(&sees),
                show: usize::MAX,
            },
            today(),
        );
        let s = |v: &dyn std::fmt::Display| v.to_string();
        [
            ids(a.my_ideas.iter().map(|(p, _)| s(&p.id)).collect()),
            ids(a.to_confirm.iter().map(|d| s(&d.id)).collect()),
            ids(a.my_challenges.iter().map(|(c, _)| s(&c.id)).collect()),
            ids(a
                .ideas_waiting
                .first
                .iter()
                .map(|(p, _)| s(&p.id))
                .collect()),
            ids(a
                .challenges_to_answer
                .first
                .iter()
                .map(|(c, _)| s(&c.id))
                .collect()),
            ids(a.disputes.first.iter().map(|(d, _, _)| s(&d.id)).collect()),
            ids(a
                .my_disputes
                .iter()
                .map(|(d, why, answer)| {
                    format!(
                        "{} {} {}",
                        d.id,
                        model.text(why),
                        answer.map_or("-".into(), |t| model.text(t))
                    )
                })
                .collect()),
        ]
    };
    // Partner 2: their idea 20, decision 30 to confirm, their challenge 50;
    // nothing that waits on staff.
    assert_eq!(
        view(&w, 2, false, &[P]),
        [
            id(20),
            id(30),
            id(50),
            String::new(),
            String::new(),
            String::new(),
            String::new()
        ]
    );
    // Partner 4 is in Q only: nothing of P.
    assert_eq!(
        view(&w, 4, false, &[Q]),
        [
            id(21),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new()
        ]
    );
    // Staff: partner 3's idea waits, the challenge waits; staff do not
    // confirm decisions.
    assert_eq!(
        view(&w, 1, true, &[P, Q]),
        [
            String::new(),
            String::new(),
            String::new(),
            format!("{} {}", id(21), id(22)),
            id(50),
            String::new(),
            String::new()
        ]
    );
    // Once partner 2 disputes 30, it no longer waits on them, and staff see the dispute.
    w.ok(
        &partner(2),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "I did not agree."}),
    );
    assert_eq!(view(&w, 2, false, &[P])[1], "");
    assert_eq!(view(&w, 1, true, &[P, Q])[5], id(30));
    // The partner sees their dispute, and then staff's answer to it.
    assert_eq!(
        view(&w, 2, false, &[P])[6],
        format!("{} I did not agree. -", id(30))
    );
    w.ok(
        &staff(),
        "dispute.answered",
        json!({"decision_id": id(30), "participant_id": pid(2), "answer": "We will meet again."}),
    );
    assert_eq!(
        view(&w, 2, false, &[P])[6],
        format!("{} I did not agree. We will meet again.", id(30))
    );
    assert_eq!(view(&w, 1, true, &[P, Q])[5], "");
}

/// Staff's lists give the first few and count the rest: for someone who
/// sees every project (counted straight from the model's indexes) the
/// same as through a filter that lets every project through.
#[test]
fn staff_lists_give_the_first_and_count_the_rest() {
    let mut w = World::new();
    for (n, who) in [(22, 2), (23, 3), (24, 4)] {
        let project = if who == 4 { Q } else { P };
        w.ok(
            &partner(who),
            "proposal.raised",
            json!({"project_id": id(project), "proposal_id": id(n), "text": "Tea."}),
        );
    }
    for n in [40, 41, 42] {
        w.ok(&staff(), "action.committed", action(n, &[]));
    }
    let model = w.model();
    let every = |_: &ProjectId| true;
    let lists = |sees: Option<&dyn Fn(&ProjectId) -> bool>, show: usize| {
        let a = agenda(
            &model,
            For {
                me: None,
                staff: true,
                in_own_name: true,
                sees,
                show,
            },
            today(),
        );
        let ideas: Vec<String> = a
            .ideas_waiting
            .first
            .iter()
            .map(|(p, _)| p.id.to_string())
            .collect();
        let actions: Vec<String> = a
            .actions_due
            .first
            .iter()
            .map(|x| x.id.to_string())
            .collect();
        (
            ideas,
            a.ideas_waiting.total,
            actions,
            a.actions_due.total,
            a.reviews_due.total,
        )
    };
    for show in [0, 1, 2, usize::MAX] {
        assert_eq!(
            lists(None, show),
            lists(Some(&every), show),
            "showing {show}"
        );
    }
    let (ideas, n_ideas, actions, n_actions, _) = lists(None, 2);
    assert_eq!(
        (ideas.len(), n_ideas),
        (2, 4),
        "ideas 21, 22, 23 and 24 wait"
    );
    assert_eq!((actions.len(), n_actions), (2, 3));
    // Someone who sees only project Q counts only its ideas (21 and 24).
    let only_q = |p: &ProjectId| p.to_string() == id(Q);
    let (ideas, n_ideas, ..) = lists(Some(&only_q), 1);
    assert_eq!((ideas, n_ideas), (vec![id(21)], 2));
}
