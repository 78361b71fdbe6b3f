//! Who hears of what a record says (`app::notify::readers`), case by
//! case, against the example history: one `check` and many small cases.

use jointly::app::fold::rebuild;
use jointly::app::notify::{readers, reminders};
use jointly::app::outbox::About;
use jointly::coproduction::events::Event;
use jointly::coproduction::model::Model;
use jointly::coproduction::values::{ParticipantId, Role};
use jointly::ledger::Ledger;
use serde_json::{Value, json};

fn model() -> (tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    jointly::app::demo::write_demo(&ledger, 3).unwrap();
    let m = rebuild(&ledger).unwrap();
    (dir, m)
}

/// `event` (type and payload) written by `author`: who hears, and of what.
fn check(
    m: &Model,
    event: (&str, Value),
    author: Option<ParticipantId>,
    expect: &[(ParticipantId, About)],
) {
    let e = Event::from_payload(event.0, &event.1)
        .expect("a co-production type")
        .expect("a valid payload");
    let mut want = expect.to_vec();
    want.sort();
    assert_eq!(readers(m, &e, author), want, "{} by {author:?}", event.0);
}

#[test]
fn who_hears_of_what() {
    let (_dir, m) = model();
    // A project with a lead, another member of staff, and partners; an
    // idea a partner raised there that was answered.
    let p = m
        .projects
        .values()
        .find(|p| {
            p.members
                .iter()
                .any(|(id, s)| s.active && s.role == Role::Staff && *id != p.lead)
                && p.proposals.iter().any(|id| m.proposals[id].by_partner)
        })
        .expect("the demo has such a project");
    let staff: Vec<ParticipantId> = p
        .members
        .iter()
        .filter(|(id, s)| s.active && s.role == Role::Staff && **id != p.lead)
        .map(|(id, _)| *id)
        .collect();
    let idea = p
        .proposals
        .iter()
        .map(|id| &m.proposals[id])
        .find(|i| i.by_partner)
        .unwrap();
    let partner = idea.by.unwrap();
    let other_partner = p
        .members
        .iter()
        .find(|(id, s)| s.role == Role::Partner && **id != partner)
        .map(|(id, _)| *id)
        .unwrap();
    let decision = m.decisions.get(&p.decisions[0]).unwrap();
    let everyone_staff = |about: About| {
        std::iter::once(p.lead)
            .chain(staff.iter().copied())
            .map(|s| (s, about))
            .collect::<Vec<_>>()
    };
    let new_id = || uuid::Uuid::new_v4().to_string();

    // A partner's idea: the lead and the staff hear; the partner does not.
    check(
        &m,
        (
            "proposal.raised",
            json!({"project_id": p.id, "proposal_id": new_id(), "text": "An idea"}),
        ),
        Some(partner),
        &everyone_staff(About::NewIdea),
    );
    // The lead's own idea: everyone else on staff, not the lead.
    let mut not_lead = everyone_staff(About::NewIdea);
    not_lead.retain(|(s, _)| *s != p.lead);
    check(
        &m,
        (
            "proposal.raised",
            json!({"project_id": p.id, "proposal_id": new_id(), "text": "An idea"}),
        ),
        Some(p.lead),
        &not_lead,
    );
    // An answer to the partner's idea, taken part in by another partner:
    // one hears of the answer, the other is asked to check the decision.
    check(
        &m,
        (
            "decision.made",
            json!({"project_id": p.id, "decision_id": new_id(), "question": "Q?",
            "outcome": "O.", "stage": "conception", "method": "staff-decision",
            "answers": [{"proposal_id": idea.id, "response": "declined", "reason": "R."}],
            "participants": [{"participant_id": p.lead, "position": "agree"},
                             {"participant_id": other_partner, "position": "agree"}],
            "reason": "R."}),
        ),
        Some(p.lead),
        &[
            (partner, About::IdeaAnswered),
            (other_partner, About::DecisionToConfirm),
        ],
    );
    // A challenge and a dispute: the project's staff hear.
    check(
        &m,
        (
            "decision.challenged",
            json!({"decision_id": decision.id, "challenge_id": new_id(), "reason": "No."}),
        ),
        Some(partner),
        &everyone_staff(About::NewChallenge),
    );
    check(
        &m,
        (
            "decision.disputed",
            json!({"decision_id": decision.id, "reason": "Not what we said."}),
        ),
        Some(partner),
        &everyone_staff(About::NewDispute),
    );
    // Records that tell nobody anything new.
    check(
        &m,
        (
            "stage.changed",
            json!({"project_id": p.id, "stage": "design"}),
        ),
        Some(p.lead),
        &[],
    );
    check(
        &m,
        ("decision.confirmed", json!({"decision_id": decision.id})),
        Some(partner),
        &[],
    );

    // An answered challenge: its author hears.
    {
        let c = m
            .challenges
            .values()
            .find(|c| c.by.is_some())
            .expect("the demo has a challenge");
        check(
            &m,
            (
                "challenge.answered",
                json!({"challenge_id": c.id, "answer": "Because."}),
            ),
            Some(p.lead),
            &[(c.by.unwrap(), About::ChallengeAnswered)],
        );
    }
    // An action done that came from partners' ideas: those partners hear.
    {
        let a = m
            .actions
            .values()
            .find(|a| {
                a.proposals
                    .iter()
                    .any(|id| m.proposals.get(id).is_some_and(|i| i.by_partner))
            })
            .expect("the demo has an action on a partner's idea");
        let mut want: Vec<_> = a
            .proposals
            .iter()
            .filter_map(|id| {
                m.proposals
                    .get(id)
                    .filter(|i| i.by_partner)
                    .and_then(|i| i.by)
            })
            .map(|by| (by, About::ActionDone))
            .collect();
        want.dedup();
        check(
            &m,
            (
                "action.completed",
                json!({"action_id": a.id, "what_changed": "Done."}),
            ),
            Some(p.lead),
            &want,
        );
    }
}

/// (issue 29) A partner hears at once that a sign-in card was made for
/// them by someone else; not of an access code handed over, and not of a
/// card they made themselves.
#[test]
fn a_partner_hears_that_a_card_was_made_for_them() {
    let (_dir, m) = model();
    let p = m.projects.values().next().unwrap();
    let partner = *p
        .members
        .iter()
        .find(|(_, s)| s.role == Role::Partner)
        .unwrap()
        .0;
    let made = |kind: &str| {
        (
            "access.granted",
            json!({"credential_id": "4f1c2a9b3d0e", "role": "partner", "participant_id": partner, "kind": kind}),
        )
    };
    check(
        &m,
        made("sign-in-card"),
        Some(p.lead),
        &[(partner, About::SignInMade)],
    );
    check(
        &m,
        made("sign-in-card"),
        None,
        &[(partner, About::SignInMade)],
    );
    check(&m, made("access-code"), None, &[]);
    check(&m, made("sign-in-card"), Some(partner), &[]);
    // What it says: that a card was made, and where to stop it.
    let e = Event::from_payload(made("sign-in-card").0, &made("sign-in-card").1)
        .unwrap()
        .unwrap();
    let cause = jointly::app::outbox::Cause {
        seq: 0,
        person: partner.uuid(),
        about: About::SignInMade,
    };
    let letter = jointly::app::notify::letter(&m, &cause, &e, "https://jointly.test").unwrap();
    assert_eq!(letter.subject, "A sign-in card was made for you");
    assert_eq!(letter.link, "https://jointly.test/home");
    assert!(letter.paragraphs.iter().any(|p| p.contains("stop it")));
}

#[test]
fn an_erased_person_hears_nothing() {
    let (_dir, mut m) = model();
    let p = m.projects.values().next().unwrap().clone();
    m.erased.insert(p.lead);
    let e = Event::from_payload(
        "proposal.raised",
        &json!({"project_id": p.id, "proposal_id": uuid::Uuid::new_v4(), "text": "An idea"}),
    )
    .unwrap()
    .unwrap();
    assert!(readers(&m, &e, None).iter().all(|(who, _)| *who != p.lead));
}

/// (issue 29) A lead who left their project hears nothing of it: neither
/// a partner's new idea nor, on Mondays, the ideas waiting there. The
/// member of staff who leads it next (`lead.changed`) hears both.
#[test]
fn a_lead_who_left_the_project_hears_nothing_of_it() {
    use crate::coproduction::{P, World, id, partner, pid, staff};
    let mut w = World::new();
    // Partner 3's idea waits in P, led by staff 1; staff 5 joins P, and
    // the lead leaves it (still leading Q, where partner 4's idea waits).
    w.ok(
        &partner(3),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "Free tea."}),
    );
    w.ok(
        &staff(),
        "participant.joined",
        json!({"project_id": id(P), "participant_id": id(5), "role": "staff"}),
    );
    w.ok(
        &staff(),
        "participant.left",
        json!({"project_id": id(P), "participant_id": id(1)}),
    );
    let idea = Event::from_payload(
        "proposal.raised",
        &json!({"project_id": id(P), "proposal_id": id(23), "text": "Later hours."}),
    )
    .unwrap()
    .unwrap();
    let later = jointly::coproduction::report::Settings::today()
        .today
        .plus_days(60);
    let one_idea = vec!["1 idea has been waiting for an answer for more than 28 days.".to_string()];
    let hears = |w: &World| {
        let m = w.model();
        (
            readers(&m, &idea, Some(pid(2))),
            reminders(&m, pid(1), later, 28),
            reminders(&m, pid(5), later, 28),
        )
    };
    let (told, lead_reminded, staff_reminded) = hears(&w);
    assert_eq!(
        told,
        vec![(pid(5), About::NewIdea)],
        "the lead who left is not told"
    );
    assert_eq!(lead_reminded, one_idea, "of Q's idea only, not of P's");
    assert_eq!(staff_reminded, one_idea);
    // Staff 5 leads P now: the same.
    w.ok(
        &staff(),
        "lead.changed",
        json!({"project_id": id(P), "lead": id(5)}),
    );
    let (told, lead_reminded, staff_reminded) = hears(&w);
    assert_eq!(told, vec![(pid(5), About::NewIdea)]);
    assert_eq!(lead_reminded, one_idea);
    assert_eq!(staff_reminded, one_idea);
}
