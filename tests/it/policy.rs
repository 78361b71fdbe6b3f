//! The permission and disclosure policies, cell by cell: the tables as
//! written down here (what the charity was promised), against the core's
//! tables, and the writer's behaviour for every role, event type a partner
//! can touch, and standing in the project (part of it, left it, never in it).

use crate::coproduction::{P, World, id, partner, staff};
use jointly::app::policy::{self, Action, Allow, Own, ROLES, Standing, allow, may};
use jointly::coproduction::author::{Author, AuthorRole};
use jointly::coproduction::events::EVENT_TYPES;
use jointly::ledger::Actor;
use jointly::refusal::Kind;
use serde_json::{Value, json};

/// Shorthand for the table below.
fn cell(text: &str) -> Allow {
    match text {
        "-" => Allow::No,
        "any" => Allow::Anywhere,
        "any/took-part" => Allow::AnywhereAs(Own::TookPart),
        "member" => Allow::Member,
        "member/raised-it" => Allow::MemberAs(Own::RaisedIt),
        "member-or-left/took-part" => Allow::MemberOrLeftAs(Own::TookPart),
        "erasure" => Allow::ByErasure,
        "access" => Allow::ByAccess,
        other => panic!("{other}"),
    }
}

#[test]
fn who_may_write_each_event_type() {
    // Columns: admin, staff, operator, partner, auditor.
    let staff_only = ["any", "any", "any", "-", "-"];
    let table: Vec<(&str, [&str; 5])> = vec![
        ("project.started", staff_only),
        ("stage.changed", staff_only),
        ("involvement.changed", staff_only),
        ("lead.changed", staff_only),
        ("participant.joined", staff_only),
        ("participant.left", staff_only),
        ("meeting.held", staff_only),
        // A partner records their own time (the model asks that it be
        // theirs); staff agree it and pay it.
        ("time.recorded", ["any", "any", "any", "member", "-"]),
        ("time.agreed", staff_only),
        ("payment.made", staff_only),
        ("proposal.raised", ["any", "any", "any", "member", "-"]),
        (
            "proposal.withdrawn",
            ["any", "any", "any", "member/raised-it", "-"],
        ),
        ("decision.made", staff_only),
        (
            "decision.confirmed",
            ["-", "any/took-part", "-", "member-or-left/took-part", "-"],
        ),
        (
            "decision.disputed",
            ["-", "any/took-part", "-", "member-or-left/took-part", "-"],
        ),
        ("decision.challenged", ["any", "any", "any", "member", "-"]),
        ("challenge.answered", staff_only),
        // Anyone who may challenge; the model then asks that it be their own.
        ("challenge.accepted", ["any", "any", "any", "member", "-"]),
        ("dispute.answered", staff_only),
        ("action.committed", staff_only),
        ("action.updated", staff_only),
        ("action.completed", staff_only),
        ("outcome.recorded", staff_only),
        ("review.held", staff_only),
        ("record.corrected", staff_only),
        ("record.redacted", ["erasure", "-", "erasure", "-", "-"]),
        ("retention.applied", ["erasure", "-", "erasure", "-", "-"]),
        // Written by the core as access is given, used, claimed, stopped.
        ("access.granted", ["access", "access", "access", "-", "-"]),
        ("access.used", ["-", "-", "-", "access", "-"]),
        ("access.claimed", ["-", "-", "-", "access", "-"]),
        (
            "access.revoked",
            ["access", "access", "access", "access", "-"],
        ),
        ("x.*", staff_only),
    ];
    // Every type is in the table, once.
    let mut named: Vec<&str> = table.iter().map(|r| r.0).collect();
    named.sort();
    let mut all: Vec<&str> = EVENT_TYPES.iter().copied().chain(["x.*"]).collect();
    all.sort();
    assert_eq!(named, all);
    for (event_type, row) in &table {
        for (role, want) in ROLES.iter().zip(row) {
            assert_eq!(
                allow(*role, event_type),
                cell(want),
                "{role:?} {event_type}"
            );
        }
        // An actor the policy does not know writes nothing.
        assert_eq!(allow(AuthorRole::Unknown, event_type), Allow::No);
    }
}

#[test]
fn who_may_use_each_use_case() {
    // Columns: admin, staff, operator, partner, auditor.
    let table: [(Action, [bool; 5]); 19] = [
        (Action::Append, [true, true, true, true, false]),
        (Action::Read, [true, true, true, true, true]),
        (Action::RegisterPerson, [true, true, true, false, false]),
        (Action::RecordLeaving, [true, true, true, false, false]),
        (Action::ReadName, [true, true, true, false, false]),
        (Action::AnswerEquality, [false, false, false, true, false]),
        (Action::ReadEquality, [true, true, true, true, true]),
        (Action::PublishEquality, [true, false, true, false, false]),
        (Action::Erase, [true, false, true, false, false]),
        (Action::SubjectExport, [true, false, true, false, false]),
        (Action::Backup, [true, false, true, false, false]),
        (Action::ManageTokens, [true, false, true, false, false]),
        (Action::MakeSignInCard, [true, true, false, false, false]),
        (Action::SeeOwnSignIns, [false, true, false, true, false]),
        (Action::ReadMetrics, [true, false, true, false, false]),
        (Action::FindPeople, [true, true, true, false, false]),
        (Action::ReadEmail, [true, false, true, false, false]),
        (Action::CorrectPerson, [true, false, true, false, false]),
        (Action::StopSignIns, [true, true, true, false, false]),
    ];
    assert_eq!(table.len(), Action::ALL.len());
    for (action, row) in table {
        for (role, want) in ROLES.iter().zip(row) {
            assert_eq!(may(*role, action), want, "{role:?} {action:?}");
            let author = Author {
                role: *role,
                participant: None,
                credential: None,
            };
            let refused = policy::require(&author, action).err();
            assert_eq!(refused.is_none(), want);
            if let Some(r) = refused {
                assert_eq!(r.kind(), Kind::Forbidden);
            }
        }
        assert!(!may(AuthorRole::Unknown, action));
    }
}

/// The events a partner can write about project P's decision 30 (which
/// staff 1 and partner 2 took part in) and partner 2's idea 20.
fn partner_events() -> Vec<(&'static str, Value)> {
    vec![
        (
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
        ),
        (
            "proposal.withdrawn",
            json!({"proposal_id": id(20), "reason": "R"}),
        ),
        ("decision.confirmed", json!({"decision_id": id(30)})),
        (
            "decision.disputed",
            json!({"decision_id": id(30), "reason": "R"}),
        ),
        (
            "decision.challenged",
            json!({"decision_id": id(30), "challenge_id": id(50), "reason": "R"}),
        ),
        (
            "meeting.held",
            json!({"project_id": id(P), "meeting_id": id(60), "date": "2025-02-03", "attendees": [id(1)], "materials_in_advance": true, "summary": "S"}),
        ),
        ("x.note", json!({"n": 1})),
    ]
}

/// What the writer must answer, from the table: accepted, or the kind of
/// refusal a standing gets.
fn expected(allowed: Allow, standing: Standing) -> Option<Kind> {
    match (allowed, standing) {
        (Allow::No | Allow::ByErasure | Allow::ByAccess, _) => Some(Kind::Forbidden),
        (Allow::Anywhere | Allow::AnywhereAs(_), _) => None,
        (_, Standing::Member) => None,
        (Allow::MemberOrLeftAs(_), Standing::Left) => None,
        (_, Standing::Left) => Some(Kind::Forbidden),
        (_, Standing::Outsider | Standing::NoProject) => Some(Kind::NotFound),
    }
}

#[test]
fn the_writer_enforces_the_table_for_every_standing() {
    // Partner 2 is in P (and raised idea 20 and took part in decision 30);
    // partner 4 is only in Q. "Left": partner 2 after leaving P.
    let cases: [(&str, Actor, Standing); 6] = [
        ("partner in P", partner(2), Standing::Member),
        ("partner who left P", partner(2), Standing::Left),
        ("partner not in P", partner(4), Standing::Outsider),
        ("staff", staff(), Standing::Member),
        ("admin", Actor::new("admin:a").unwrap(), Standing::Outsider),
        (
            "auditor",
            Actor::new("auditor:t").unwrap(),
            Standing::Outsider,
        ),
    ];
    for (who, actor, standing) in cases {
        let role = Author::from_actor(&actor).role;
        for (event_type, payload) in partner_events() {
            let mut w = World::new();
            if standing == Standing::Left {
                w.ok(
                    &staff(),
                    "participant.left",
                    json!({"project_id": id(P), "participant_id": id(2)}),
                );
            }
            let before = w.ledger.head().size;
            let got = w
                .append(&actor, event_type, payload.clone())
                .err()
                .map(|r| r.kind());
            let allowed = allow(role, event_type);
            // Staff 1 took part in decision 30; "as themselves" holds.
            let want = expected(allowed, standing);
            assert_eq!(got, want, "{who} {event_type}: {allowed:?}");
            assert_eq!(
                w.ledger.head().size,
                before + u64::from(want.is_none()),
                "{who} {event_type}"
            );
        }
    }
}

#[test]
fn who_reads_which_records() {
    use jointly::app::fold::rebuild;
    let mut w = World::new();
    w.ok(
        &staff(),
        "participant.left",
        json!({"project_id": id(P), "participant_id": id(2)}),
    );
    let left_at = w.ledger.head().size - 1;
    w.ok(
        &staff(),
        "meeting.held",
        json!({"project_id": id(P), "meeting_id": id(60), "date": "2025-02-03", "attendees": [id(1)], "materials_in_advance": true, "summary": "S"}),
    );
    let after = w.ledger.head().size - 1;
    let model = rebuild(&w.ledger).unwrap();
    let p = jointly::app::project_id(&id(P), "").unwrap();
    let reader = |actor: Actor| Author::from_actor(&actor);
    // (reader, a record of P before partner 2 left, the record saying so, one after)
    let table: [(Actor, [bool; 3]); 6] = [
        (Actor::new("admin:a").unwrap(), [true, true, true]),
        (staff(), [true, true, true]),
        (Actor::new("operator:o").unwrap(), [true, true, true]),
        (Actor::new("auditor:t").unwrap(), [true, true, true]),
        (partner(3), [true, true, true]),  // still in P
        (partner(2), [true, true, false]), // left P: up to leaving
    ];
    for (actor, row) in table {
        let r = reader(actor.clone());
        for (seq, want) in [2, left_at, after].into_iter().zip(row) {
            assert_eq!(
                policy::may_read(&r, &model, seq, Some(p)),
                want,
                "{} record {seq}",
                actor.as_str()
            );
        }
        // Records of no project (the organisation's own) are staff's.
        assert_eq!(
            policy::may_read(&r, &model, 3, None),
            r.role != AuthorRole::Partner
        );
    }
    // A partner never in P reads none of it.
    assert!(!policy::may_read(&reader(partner(4)), &model, 2, Some(p)));
    // Live views: a partner sees the projects they are in now.
    assert!(!policy::in_view(&reader(partner(2)), &model).contains(&p));
    assert!(policy::in_view(&reader(partner(3)), &model).contains(&p));
    assert!(policy::in_view(&reader(Actor::new("auditor:t").unwrap()), &model).contains(&p));
}

#[test]
fn who_sees_names() {
    use jointly::app::fold::rebuild;
    let w = World::new();
    let model = rebuild(&w.ledger).unwrap();
    let partner_2 = jointly::app::participant_id(&id(2), "").unwrap();
    let staff_1 = jointly::app::participant_id(&id(1), "").unwrap();
    let name = || Some("Ada Lovelace".to_string());
    // (reader, how they see partner 2, how they see staff 1)
    let table: [(Actor, &str, &str); 6] = [
        (
            Actor::new("admin:a").unwrap(),
            "Ada Lovelace",
            "Ada Lovelace",
        ),
        (staff(), "Ada Lovelace", "you"),
        (
            Actor::new("operator:o").unwrap(),
            "Ada Lovelace",
            "Ada Lovelace",
        ),
        (
            Actor::new("auditor:t").unwrap(),
            "a partner",
            "a member of staff",
        ),
        (partner(2), "you", "a member of staff"),
        (partner(3), "a partner", "a member of staff"),
    ];
    for (actor, sees_2, sees_1) in table {
        let r = Author::from_actor(&actor);
        assert_eq!(
            policy::name_of(&r, &model, &partner_2, name),
            sees_2,
            "{}",
            actor.as_str()
        );
        assert_eq!(
            policy::name_of(&r, &model, &staff_1, name),
            sees_1,
            "{}",
            actor.as_str()
        );
    }
    // Who made a credential is named to the person it signs in as, by
    // name: they must know who could act as them. Without a name, a role.
    for actor in [partner(2), partner(3), staff()] {
        let r = Author::from_actor(&actor);
        assert_eq!(
            policy::name_of_credential_maker(&r, &model, &staff_1, name),
            "Ada Lovelace (a member of staff)"
        );
    }
    assert_eq!(
        policy::name_of_credential_maker(
            &Author::from_actor(&partner(2)),
            &model,
            &staff_1,
            || None
        ),
        "a member of staff"
    );
    // Small counts are hidden below the same threshold for everyone.
    assert_eq!(policy::K, 5);
}

/// A partner of the organisation's group (joined with no project) takes
/// part in every project: reads it, puts forward ideas in it, challenges
/// its decisions; once they leave the group, nothing new.
#[test]
fn the_organisations_partner_group_takes_part_everywhere() {
    use jointly::app::fold::rebuild;
    let mut w = World::new();
    w.ok(
        &staff(),
        "participant.joined",
        json!({"participant_id": id(9), "role": "partner"}),
    );
    w.ok(
        &partner(9),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
    );
    w.ok(
        &partner(9),
        "decision.challenged",
        json!({"decision_id": id(30), "challenge_id": id(50), "reason": "R"}),
    );
    let p = jointly::app::project_id(&id(P), "").unwrap();
    let model = rebuild(&w.ledger).unwrap();
    let me = Author::from_actor(&partner(9));
    assert!(policy::in_view(&me, &model).contains(&p));
    assert!(policy::may_read(&me, &model, 2, Some(p)));
    // Leaving the group: no project is theirs any more.
    w.ok(
        &staff(),
        "participant.left",
        json!({"participant_id": id(9)}),
    );
    let left_at = w.ledger.head().size - 1;
    let r = w
        .append(
            &partner(9),
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(23), "text": "T"}),
        )
        .unwrap_err();
    assert_eq!(r.kind(), Kind::Forbidden);
    let model = rebuild(&w.ledger).unwrap();
    assert!(!policy::in_view(&me, &model).contains(&p));
    assert!(policy::may_read(&me, &model, left_at - 1, Some(p)));
    assert!(!policy::may_read(&me, &model, left_at + 1, Some(p)));
    // And they cannot leave it twice.
    let r = w
        .append(
            &staff(),
            "participant.left",
            json!({"participant_id": id(9)}),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Invalid, Some("/payload/participant_id"))
    );
}
