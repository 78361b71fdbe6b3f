//! The co-production rules and projections, by scenario. Expected results
//! are worked out by hand from the stories told here, not copied from the
//! program's output.

use jointly::app::demo::write_history;
use jointly::app::fold::rebuild;
use jointly::app::rules::Rules;
use jointly::coproduction::author::Author;
use jointly::coproduction::report::{
    FiguresCache, Jointness, Overview, Report, Settings, Shown, suppress,
};
use jointly::coproduction::values::*;
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use jointly::refusal::{Kind, Refusal};
use serde_json::{Value, json};

pub(crate) fn id(n: u32) -> String {
    format!("abcdef00-0000-4000-8000-{n:012}")
}

pub(crate) fn pid(n: u32) -> ParticipantId {
    serde_json::from_value(Value::String(id(n))).unwrap()
}

/// A store with rules, and a small story already in it.
pub(crate) struct World {
    _dir: tempfile::TempDir,
    pub(crate) ledger: Ledger,
    rules: Rules,
}

// The cast: staff S (1), partners A (2) and B (3) in project P (10);
// partner C (4) in project Q (11).
pub(crate) const P: u32 = 10;
pub(crate) const Q: u32 = 11;

pub(crate) fn staff() -> Actor {
    Author::staff_actor(pid(1))
}
pub(crate) fn partner(n: u32) -> Actor {
    Author::partner_actor(pid(n))
}

impl World {
    pub(crate) fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        let rules = Rules::new(ledger.clone()).unwrap();
        let mut w = World {
            _dir: dir,
            ledger,
            rules,
        };
        for (project, title) in [(P, "Warm spaces"), (Q, "Grants letters")] {
            w.ok(
                &staff(),
                "project.started",
                json!({
                "project_id": id(project), "title": title, "summary": "A test project.",
                "involvement": "co-production", "lead": id(1),
                "aims": [{"aim_id": id(project + 100), "text": "An aim"}]}),
            );
        }
        for (who, role, project) in [
            (1, "staff", P),
            (2, "partner", P),
            (3, "partner", P),
            (1, "staff", Q),
            (4, "partner", Q),
        ] {
            w.ok(
                &staff(),
                "participant.joined",
                json!({"project_id": id(project), "participant_id": id(who), "role": role}),
            );
        }
        // A proposes X (20) in P; C proposes Y (21) in Q.
        w.ok(
            &partner(2),
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(20), "text": "Open on Saturdays."}),
        );
        w.ok(
            &partner(4),
            "proposal.raised",
            json!({"project_id": id(Q), "proposal_id": id(21), "text": "Shorter letters."}),
        );
        // Decision D (30) in P, by S and A, answers X.
        w.ok(&staff(), "decision.made", decision(30, P, &[20], &[1, 2]));
        w
    }

    pub(crate) fn append(
        &mut self,
        actor: &Actor,
        kind: &str,
        payload: Value,
    ) -> Result<(), Refusal> {
        let event = NewEvent {
            expected: None,
            event_type: EventType::new(kind).unwrap(),
            actor: actor.clone(),
            payload: CanonicalPayload::from_value(&payload).unwrap(),
        };
        let mut results = self
            .ledger
            .append_admitted(vec![event], &mut self.rules)
            .unwrap();
        let outcome = results.pop().unwrap().map(|_| ());
        kept_indexes_hold(&self.rules.read());
        outcome
    }

    pub(crate) fn model(&self) -> jointly::app::ModelGuard<'_> {
        self.rules.read()
    }

    pub(crate) fn ok(&mut self, actor: &Actor, kind: &str, payload: Value) {
        if let Err(r) = self.append(actor, kind, payload.clone()) {
            panic!("{kind} refused: {r}\n{payload}");
        }
    }
}

/// What the model keeps to answer quickly (what waits on staff, each
/// person's part, decisions by stage, projects by last change) is what
/// walking everything would find. Checked after every append in these
/// tests.
pub(crate) fn kept_indexes_hold(m: &jointly::coproduction::model::Model) {
    use jointly::coproduction::model::{Contribution, Stance, Waiting};
    use std::collections::{BTreeMap, BTreeSet};
    let mut w = Waiting::default();
    for p in m.proposals.values() {
        if p.by_partner && p.withdrawn.is_none() && p.answers.is_empty() {
            w.ideas.insert((p.day(), p.seq, p.id));
        }
    }
    for c in m.challenges.values().filter(|c| c.answer.is_none()) {
        w.challenges.insert((c.at, c.id));
    }
    let mut by_stage: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
    for d in m.decisions.values() {
        by_stage
            .entry(d.stage)
            .or_default()
            .insert((d.day(), d.at, d.id));
        for (who, st) in d.stances() {
            if matches!(st, Stance::Disputed(_)) && !d.dispute_answers().contains_key(who) {
                w.disputes.insert((d.day(), d.at, d.id, *who));
            }
        }
    }
    for a in m.actions.values().filter(|a| a.completed.is_none()) {
        w.actions.insert((a.due, a.id));
    }
    for p in m.projects.values() {
        if let Some(due) = p.next_review() {
            w.reviews.insert((due, p.id));
        }
    }
    assert_eq!(
        format!("{w:?}"),
        format!("{:?}", m.waiting),
        "what waits on staff"
    );
    assert_eq!(by_stage, m.decisions_by_stage, "decisions by stage");
    let last: BTreeMap<_, _> = m
        .projects
        .values()
        .filter_map(|p| Some((p.last_seq?, p.id)))
        .collect();
    assert_eq!(last, m.by_last_change, "projects by last change");
    for p in m.proposals.values() {
        if let Some(by) = p.by {
            assert!(
                m.contributions(&by)
                    .contains(&Contribution::Proposal(m.proposals.row_of(&p.id).unwrap())),
                "{by}'s ideas"
            );
        }
    }
    for d in m.decisions.values() {
        let took_part: Vec<_> = d.parts.iter().filter_map(|p| m.who(p)).collect();
        for who in took_part.iter().chain(d.stances().keys()) {
            let noted = m
                .contributions(who)
                .iter()
                .filter(|c| **c == Contribution::Decision(m.decisions.row_of(&d.id).unwrap()))
                .count();
            assert_eq!(noted, 1, "{who}'s decisions");
        }
    }
    for c in m.challenges.values() {
        if let Some(by) = c.by {
            assert!(
                m.contributions(&by).contains(&Contribution::Challenge(
                    m.challenges.row_of(&c.id).unwrap()
                )),
                "{by}'s challenges"
            );
        }
    }
}

pub(crate) fn decision(n: u32, project: u32, answers: &[u32], parts: &[u32]) -> Value {
    json!({
        "project_id": id(project), "decision_id": id(n), "question": "Open on Saturdays?",
        "outcome": "Yes.", "stage": "conception",
        "answers": answers.iter().map(|a| json!({"proposal_id": id(*a), "response": "accepted", "reason": "Most asked."})).collect::<Vec<_>>(),
        "method": "consensus",
        "participants": parts.iter().map(|p| json!({"participant_id": id(*p), "position": "agree"})).collect::<Vec<_>>(),
        "reason": "Agreed."
    })
}

/// What an event against the story must get.
enum Expect {
    Accepted,
    /// Refused with this kind, at this place in the request.
    Refused(Kind, &'static str),
}
use Expect::*;

/// One event against the story: accepted, or refused with a kind at a
/// place. A refused event writes nothing.
fn check(actor: Actor, kind: &str, payload: Value, expect: Expect) {
    let mut w = World::new();
    let before = w.ledger.head().size;
    let got = w.append(&actor, kind, payload.clone());
    match (expect, got) {
        (Accepted, Ok(())) => assert_eq!(w.ledger.head().size, before + 1),
        (Refused(want, pointer), Err(r)) => {
            assert_eq!(
                (r.kind(), r.pointer()),
                (want, Some(pointer)),
                "{kind} {payload}: {r}"
            );
            assert!(!r.message().is_empty());
            assert_eq!(w.ledger.head().size, before, "a refused event was written");
        }
        (Accepted, Err(r)) => panic!("{kind} refused: {r}\n{payload}"),
        (Refused(..), Ok(())) => panic!("{kind} accepted: {payload}"),
    }
}

#[test]
fn ids_are_unique() {
    check(
        staff(),
        "decision.made",
        decision(30, P, &[], &[1, 2]),
        Refused(Kind::Conflict, "/payload/decision_id"),
    );
    check(
        partner(2),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(20), "text": "Again."}),
        Refused(Kind::Conflict, "/payload/proposal_id"),
    );
    check(
        staff(),
        "project.started",
        json!({"project_id": id(P), "title": "T", "summary": "S", "involvement": "engagement", "lead": id(1)}),
        Refused(Kind::Conflict, "/payload/project_id"),
    );
}

#[test]
fn references_exist_and_stay_in_their_project() {
    let cases = [
        (
            decision(31, P, &[99], &[1, 2]),
            "/payload/answers/0/proposal_id",
        ),
        (
            decision(31, P, &[21], &[1, 2]),
            "/payload/answers/0/proposal_id",
        ),
        (
            decision(31, P, &[], &[1, 4]),
            "/payload/participants/1/participant_id",
        ),
        (decision(31, 99, &[], &[1]), "/payload/project_id"),
    ];
    for (payload, at) in cases {
        check(
            staff(),
            "decision.made",
            payload,
            Refused(Kind::Invalid, at),
        );
    }
    check(
        staff(),
        "action.committed",
        json!({"project_id": id(Q), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(1), "due": "2026-01-01"}),
        Refused(Kind::Invalid, "/payload/decision_id"),
    );
    check(
        staff(),
        "action.committed",
        json!({"project_id": id(P), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(2), "due": "2026-01-01"}),
        Accepted,
    );
    check(
        staff(),
        "record.corrected",
        json!({"corrects": id(77), "correction": "C", "reason": "R"}),
        Refused(Kind::Invalid, "/payload/corrects"),
    );
    check(
        staff(),
        "outcome.recorded",
        json!({"project_id": id(P), "aim_id": id(111), "outcome": "O", "evidence": "E"}),
        Refused(Kind::Invalid, "/payload/aim_id"),
    );
}

#[test]
fn a_decision_is_made_at_the_stage_its_project_is_at() {
    // P is at conception: a decision filed under another stage is refused.
    for stage in ["design", "delivery", "review"] {
        let mut d = decision(31, P, &[], &[1, 2]);
        d["stage"] = json!(stage);
        check(
            staff(),
            "decision.made",
            d,
            Refused(Kind::Invalid, "/payload/stage"),
        );
    }
    check(
        staff(),
        "decision.made",
        decision(31, P, &[], &[1, 2]),
        Accepted,
    );
    // Once it moves on, so do its decisions.
    let mut w = World::new();
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(P), "stage": "delivery"}),
    );
    let mut d = decision(31, P, &[], &[1, 2]);
    assert_eq!(
        w.append(&staff(), "decision.made", d.clone())
            .unwrap_err()
            .pointer(),
        Some("/payload/stage")
    );
    d["stage"] = json!("delivery");
    w.ok(&staff(), "decision.made", d);
}

#[test]
fn a_consensus_lists_no_one_who_disagreed() {
    let mut d = decision(31, P, &[], &[1, 2]);
    d["participants"][1]["position"] = json!("disagree");
    check(
        staff(),
        "decision.made",
        d.clone(),
        Refused(Kind::Invalid, "/payload/participants/1/position"),
    );
    for method in ["vote", "staff-decision"] {
        d["method"] = json!(method);
        check(staff(), "decision.made", d.clone(), Accepted);
    }
    // Standing aside is not disagreeing.
    let mut d = decision(31, P, &[], &[1, 2]);
    d["participants"][1]["position"] = json!("abstain");
    check(staff(), "decision.made", d, Accepted);
}

#[test]
fn saying_the_same_thing_twice_is_a_conflict() {
    let mut w = World::new();
    w.ok(
        &partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
    );
    let r = w
        .append(
            &partner(2),
            "decision.confirmed",
            json!({"decision_id": id(30)}),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Conflict, Some("/payload/decision_id"))
    );
    // Changing one's mind is recorded; disputing twice is not.
    let dispute = json!({"decision_id": id(30), "reason": "I did not agree."});
    w.ok(&partner(2), "decision.disputed", dispute.clone());
    let r = w
        .append(&partner(2), "decision.disputed", dispute)
        .unwrap_err();
    assert_eq!(r.kind(), Kind::Conflict);
    w.ok(
        &partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
    );
}

#[test]
fn transitions_must_be_legal() {
    let mut w = World::new();
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(P), "stage": "delivery"}),
    );
    let r = w
        .append(
            &staff(),
            "stage.changed",
            json!({"project_id": id(P), "stage": "design"}),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Invalid, Some("/payload/stage"))
    );
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(P), "stage": "closed"}),
    );
    let mut d = decision(31, P, &[], &[1, 2]);
    d["stage"] = json!("delivery");
    let r = w.append(&staff(), "decision.made", d).unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Invalid, Some("/payload/project_id"))
    );

    // A withdrawn proposal cannot be answered, and its decision leads to no action.
    let mut w = World::new();
    w.ok(
        &partner(2),
        "proposal.withdrawn",
        json!({"proposal_id": id(20), "reason": "Changed my mind."}),
    );
    let r = w
        .append(&staff(), "decision.made", decision(31, P, &[20], &[1, 2]))
        .unwrap_err();
    assert_eq!(r.pointer(), Some("/payload/answers/0/proposal_id"));
    let r = w.append(&staff(), "action.committed", json!({"project_id": id(P), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(1), "due": "2026-01-01"})).unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Invalid, Some("/payload/decision_id"))
    );

    // A challenge is answered once.
    let mut w = World::new();
    w.ok(
        &partner(3),
        "decision.challenged",
        json!({"decision_id": id(30), "challenge_id": id(50), "reason": "I was not asked."}),
    );
    w.ok(
        &staff(),
        "challenge.answered",
        json!({"challenge_id": id(50), "answer": "Sorry; next time."}),
    );
    let r = w
        .append(
            &staff(),
            "challenge.answered",
            json!({"challenge_id": id(50), "answer": "Again."}),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Conflict, Some("/payload/challenge_id"))
    );
}

#[test]
fn roles_decide_who_may_write_what() {
    // Partners may not record decisions, meetings or actions.
    check(
        partner(2),
        "decision.made",
        decision(31, P, &[], &[1, 2]),
        Refused(Kind::Forbidden, "/type"),
    );
    // Only someone who took part confirms, as themselves.
    check(
        partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
        Accepted,
    );
    check(
        partner(3),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
        Refused(Kind::Forbidden, "/payload/decision_id"),
    );
    check(
        staff(),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "R"}),
        Accepted,
    );
    for nobody in ["operator:root", "admin:dpo"] {
        check(
            Actor::new(nobody).unwrap(),
            "decision.confirmed",
            json!({"decision_id": id(30)}),
            Refused(Kind::Forbidden, "/type"),
        );
    }
    // An admin named like a partner's id is not that partner.
    check(
        Actor::new(&format!("admin:{}", id(2))).unwrap(),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "Not me"}),
        Refused(Kind::Forbidden, "/type"),
    );
    // A partner withdraws only their own proposal.
    check(
        partner(3),
        "proposal.withdrawn",
        json!({"proposal_id": id(20), "reason": "R"}),
        Refused(Kind::Forbidden, "/payload/proposal_id"),
    );
    // A partner proposes only in a project they are part of; one they are
    // not in, and one that does not exist, are refused alike.
    check(
        partner(3),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
        Accepted,
    );
    for (who, project) in [(4, P), (9, P), (2, 99)] {
        check(
            partner(who),
            "proposal.raised",
            json!({"project_id": id(project), "proposal_id": id(22), "text": "T"}),
            Refused(Kind::NotFound, "/payload/project_id"),
        );
    }
    // Joining the organisation's group needs no project, and happens once
    // (until they leave it); someone in a project may join it too.
    check(
        staff(),
        "participant.joined",
        json!({"participant_id": id(9), "role": "partner"}),
        Accepted,
    );
    let mut w = World::new();
    w.ok(
        &staff(),
        "participant.joined",
        json!({"participant_id": id(2), "role": "partner"}),
    );
    let r = w
        .append(
            &staff(),
            "participant.joined",
            json!({"participant_id": id(2), "role": "partner"}),
        )
        .unwrap_err();
    assert_eq!(
        (r.kind(), r.pointer()),
        (Kind::Conflict, Some("/payload/participant_id"))
    );
    // One person, one role.
    check(
        staff(),
        "participant.joined",
        json!({"participant_id": id(2), "role": "staff"}),
        Refused(Kind::Invalid, "/payload/role"),
    );
    // Only an administrator's erasure authorises it, and only of records
    // that exist; the writer lets it through (a plain append is refused
    // before it reaches the writer: see tests/it/doors.rs).
    let erase = |seq: u64| {
        json!({"records": [{"seq": seq, "kept": {}}], "reason": "Asked to be forgotten.",
               "legal_basis": "UK GDPR Article 17"})
    };
    for who in [staff(), partner(2)] {
        check(
            who,
            "record.redacted",
            erase(8),
            Refused(Kind::Forbidden, "/type"),
        );
    }
    let admin = Actor::new("admin:dpo").unwrap();
    check(admin.clone(), "record.redacted", erase(8), Accepted);
    check(
        admin,
        "record.redacted",
        erase(999),
        Refused(Kind::Invalid, "/payload/records/0/seq"),
    );
    // Auditors record nothing; unknown actors neither.
    for who in ["auditor:trustee", "someone"] {
        check(
            Actor::new(who).unwrap(),
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
            Refused(Kind::Forbidden, "/type"),
        );
    }
}

#[test]
fn a_partner_who_left_adds_nothing_new_but_may_still_speak_for_themselves() {
    let mut w = World::new();
    w.ok(
        &staff(),
        "participant.left",
        json!({"project_id": id(P), "participant_id": id(2)}),
    );
    let refused = |w: &mut World, kind: &str, payload: Value| {
        let r = w.append(&partner(2), kind, payload).unwrap_err();
        (r.kind(), r.pointer().map(str::to_string))
    };
    assert_eq!(
        refused(
            &mut w,
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(22), "text": "T"})
        ),
        (Kind::Forbidden, Some("/payload/project_id".into()))
    );
    assert_eq!(
        refused(
            &mut w,
            "decision.challenged",
            json!({"decision_id": id(30), "challenge_id": id(50), "reason": "R"})
        ),
        (Kind::Forbidden, Some("/payload/decision_id".into()))
    );
    // How a decision they took part in records them is still theirs to say.
    w.ok(
        &partner(2),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "I left before it."}),
    );
    // Joining again restores everything.
    w.ok(
        &staff(),
        "participant.joined",
        json!({"project_id": id(P), "participant_id": id(2), "role": "partner"}),
    );
    w.ok(
        &partner(2),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
    );
}

#[test]
fn unknown_types_and_bad_payloads_are_refused_with_a_place() {
    check(
        staff(),
        "unknown.thing",
        json!({"a": 1}),
        Refused(Kind::Invalid, "/payload"),
    );
    check(staff(), "x.survey.done", json!({"a": 1}), Accepted);
    check(
        staff(),
        "decision.made",
        json!({}),
        Refused(Kind::Invalid, "/payload/project_id"),
    );
    let mut bad = decision(31, P, &[], &[1, 2]);
    bad["participants"][1]["position"] = json!("maybe");
    check(
        staff(),
        "decision.made",
        bad,
        Refused(Kind::Invalid, "/payload/participants/1/position"),
    );
    check(
        staff(),
        "meeting.held",
        json!({"project_id": id(P), "meeting_id": id(60), "date": "2025-02-30", "attendees": [id(1)], "materials_in_advance": true, "summary": "S"}),
        Refused(Kind::Invalid, "/payload/date"),
    );
}

/// Settings fixed for a report: `days` after today, with the usual k and wait.
fn settings_in(days: i64) -> Settings {
    let today = Settings::today().today;
    Settings {
        today: Date::from_date(today.date() + time::Duration::days(days)),
        waiting_days: 28,
        k: 5,
        exact: false,
    }
}

/// The working group of the source documents (see `coproduction::demo`),
/// worked through by hand.
#[test]
fn the_working_group_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_history(&ledger, 0, 0, 7).unwrap();
    let model = rebuild(&ledger).unwrap();
    let r = Report::build(&model, None, settings_in(40));

    // You said, we did: four partner proposals. Evening workshops and paid
    // preparation were answered; the easy-read version, put forward at the
    // fourth workshop on 20 January 2026, still waits.
    // Only paid preparation led to completed actions.
    let y = &r.you_said_we_did.totals;
    assert_eq!(
        (
            y.partner_proposals,
            y.answered,
            y.waiting,
            y.withdrawn,
            y.led_to_change
        ),
        (4, 2, 2, 0, 1)
    );
    // The first is the idea a partner gave by phone after the first
    // workshop, recorded for them by staff: theirs, and waiting.
    assert!(
        r.you_said_we_did.projects[0].proposals[0]
            .text
            .contains("by post")
    );
    let waiting = &r.you_said_we_did.projects[0].proposals[3];
    let since = Date::parse("2026-01-20").unwrap();
    assert_eq!(
        (waiting.status, waiting.outcome, waiting.days_waiting),
        (
            "waiting",
            "waiting",
            Some(since.days_until(settings_in(40).today))
        )
    );

    // Jointly? Evening workshops (consensus, partners, confirmed): joint.
    // The purpose (officer, one partner, CEO; confirmed): joint. Workshop
    // dates (one person): one person. Budget (vote, confirmed): joint.
    // Publishing (staff decision, disputed by a partner): partner-informed.
    let j = &r.jointness.projects[0];
    let classes: Vec<Jointness> = j.decisions.iter().map(|d| d.class).collect();
    use Jointness::*;
    assert_eq!(
        classes,
        vec![Joint, Joint, OnePerson, Joint, PartnerInformed]
    );
    // Conception shared; design and delivery partly: declared co-production,
    // behaves like engagement; the dates and publishing decisions make the
    // difference.
    let shares: Vec<&str> = j.stages.iter().map(|s| s.share).collect();
    assert_eq!(shares, vec!["shared", "partly shared", "partly shared"]);
    assert_eq!(j.declared, Involvement::CoProduction);
    assert_eq!(j.observed, Some(Involvement::Engagement));
    assert_eq!(
        j.differences,
        vec![j.decisions[2].decision_id, j.decisions[4].decision_id]
    );
    assert!(
        j.summary.starts_with("Declared co-production;")
            && j.summary.ends_with("behaves like engagement."),
        "{}",
        j.summary
    );

    // Tokenism: 3 partners (published as "fewer than 5", a count of
    // people), none involved only once; 1 of 4 meetings without papers;
    // the easy-read proposal and the idea given by phone have waited over
    // 28 days; 1 decision disputed;
    // the one challenge was answered; partners own 1 of 2 actions.
    let t = &r.tokenism.totals;
    assert_eq!(
        (
            t.partners,
            t.partners_involved_once,
            t.meetings,
            t.meetings_without_materials_in_advance
        ),
        (Shown::FewerThan(5), Shown::Count(0), 4, 1)
    );
    assert_eq!(
        (
            t.partner_proposals_waiting_too_long,
            t.decisions_disputed_by_partners,
            t.challenges_unanswered
        ),
        (2, 1, 0)
    );
    assert_eq!(
        (
            t.actions,
            t.actions_owned_by_partners,
            t.partner_action_share
        ),
        (2, 1, Some(0.5))
    );

    // Presence: three partners is fewer than five.
    assert_eq!(r.presence.partners, Shown::FewerThan(5));
    assert_eq!(r.presence.projects[0].partners, Shown::FewerThan(5));

    // Impact: one outcome against each aim; reviewed today with the next
    // review due 2026-06-30, which is past in 40 days' time from late 2026.
    let im = &r.impact.projects[0];
    assert_eq!(
        im.aims.iter().map(|a| a.outcomes.len()).collect::<Vec<_>>(),
        vec![1, 1]
    );
    assert_eq!(im.next_review, Some(Date::parse("2026-06-30").unwrap()));
    assert!(im.review_overdue);
}

/// A co-design project that behaves as declared, and a consultation.
#[test]
fn declared_and_observed_agree() {
    let mut w = World::new();
    // In Q (declared co-production): change the declaration to co-design.
    w.ok(&staff(), "involvement.changed", json!({"project_id": id(Q), "involvement": "co-design", "reason": "Partners shape the design."}));
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(Q), "stage": "design"}),
    );
    // A joint design decision: C and S by consensus, confirmed by C.
    let mut d = decision(32, Q, &[21], &[1, 4]);
    d["stage"] = json!("design");
    w.ok(&staff(), "decision.made", d);
    w.ok(
        &partner(4),
        "decision.confirmed",
        json!({"decision_id": id(32)}),
    );
    // A staff-only delivery decision.
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(Q), "stage": "delivery"}),
    );
    let mut d = decision(33, Q, &[], &[1, 1]);
    d["participants"] = json!([{"participant_id": id(1), "position": "agree"}]);
    d["method"] = json!("staff-decision");
    d["stage"] = json!("delivery");
    w.ok(&staff(), "decision.made", d);
    let q: ProjectId = serde_json::from_value(json!(id(Q))).unwrap();
    let r = Report::build(&w.rules.read(), Some(q), settings_in(0));
    let j = &r.jointness.projects[0];
    // Design shared; delivery not shared (one person, in fact): co-design, as declared.
    assert_eq!(j.declared, Involvement::CoDesign);
    assert_eq!(j.observed, Some(Involvement::CoDesign));
    assert!(j.differences.is_empty());
    assert_eq!(r.jointness.totals.projects_behaving_as_declared, 1);

    // P: D (30) is by S and A, consensus, unconfirmed: partner-informed, so
    // declared co-production behaves like engagement until A confirms.
    let p: ProjectId = serde_json::from_value(json!(id(P))).unwrap();
    let before = Report::build(&w.rules.read(), Some(p), settings_in(0));
    assert_eq!(
        before.jointness.projects[0].observed,
        Some(Involvement::Engagement)
    );
    w.ok(
        &partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
    );
    let after = Report::build(&w.rules.read(), Some(p), settings_in(0));
    assert_eq!(
        after.jointness.projects[0].observed,
        Some(Involvement::CoProduction)
    );
    // ...and a dispute by B? B did not take part, so cannot; A changes her mind:
    w.ok(
        &partner(2),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "Not what we agreed."}),
    );
    // Recorded as made jointly, but a partner disputes it: a class of its
    // own, neither "made jointly" nor "informed by partners".
    let disputed = Report::build(&w.rules.read(), Some(p), settings_in(0));
    assert_eq!(
        disputed.jointness.projects[0].decisions[0].class,
        Jointness::JointDisputed
    );
    assert_eq!(disputed.jointness.totals.joint, 0);
    assert_eq!(disputed.jointness.totals.joint_disputed, 1);
    assert_eq!(disputed.jointness.totals.partner_informed, 0);
}

/// Small counts never show, and cannot be worked out from what does.
#[test]
fn small_counts_are_suppressed() {
    use Shown::*;
    fn check(counts: &[u64], cells: &[Shown], total: Shown) {
        let (c, t) = suppress(counts, 5);
        assert_eq!((c.as_slice(), t), (cells, total), "{counts:?}");
        // An attacker knows the total and the shown cells: if exactly one cell
        // is hidden, they could subtract. That must never happen.
        let hidden = c.iter().filter(|s| !matches!(s, Count(_))).count();
        assert!(
            hidden != 1 || !matches!(t, Count(_)),
            "{counts:?}: one hidden cell and a shown total"
        );
        for (n, shown) in counts.iter().zip(&c) {
            if *n > 0 && *n < 5 {
                assert!(!matches!(shown, Count(_)), "{counts:?}: {n} shown");
            }
        }
    }
    check(&[12, 7, 9], &[Count(12), Count(7), Count(9)], Count(28));
    check(&[12, 3, 9], &[Count(12), FewerThan(5), Hidden], Count(24));
    check(
        &[12, 3, 2],
        &[Count(12), FewerThan(5), FewerThan(5)],
        Count(17),
    );
    check(&[3], &[FewerThan(5)], FewerThan(5));
    check(&[2, 1], &[FewerThan(5), FewerThan(5)], FewerThan(5));
    check(&[0, 6, 7], &[Count(0), Count(6), Count(7)], Count(13));
    check(&[0, 4, 7], &[Count(0), FewerThan(5), Hidden], Count(11));
    check(&[5, 5], &[Count(5), Count(5)], Count(10));
    check(&[], &[], Count(0));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

        /// The model kept up to date event by event (in batches of any size)
        /// gives the same report as one rebuilt from the log.
        #[test]
        fn rebuild_equals_incremental(projects in 0u64..6, seed in any::<u64>(), batch in 1usize..40) {
            let dir = tempfile::tempdir().unwrap();
            let (ledger, _) = Ledger::open(dir.path()).unwrap();
            let (_, incremental) = write_history(&ledger, projects, seed, batch).unwrap();
            let rebuilt = rebuild(&ledger).unwrap();
            prop_assert_eq!(incremental.last_seq, rebuilt.last_seq);
            let s = settings_in(60);
            let a = serde_json::to_value(Report::build(&incremental, None, s)).unwrap();
            let b = serde_json::to_value(Report::build(&rebuilt, None, s)).unwrap();
            prop_assert_eq!(a, b);
        }
    }
}

/// Rebuilding reads pages of 4,096 records on every core and applies them
/// in order: over several pages it still gives what was folded one
/// record at a time.
#[test]
fn rebuild_over_many_pages_equals_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let (written, incremental) = write_history(&ledger, 500, 7, 64).unwrap();
    assert!(written > 2 * 4096, "{written} records: several pages");
    let rebuilt = rebuild(&ledger).unwrap();
    assert_eq!(incremental.last_seq, rebuilt.last_seq);
    let s = settings_in(60);
    let a = serde_json::to_value(Report::build(&incremental, None, s)).unwrap();
    let b = serde_json::to_value(Report::build(&rebuilt, None, s)).unwrap();
    assert!(a == b, "the rebuilt model reads differently");
}

/// The organisation's totals from each project's kept figures equal those
/// counted afresh after every kind of change: an idea in one project, a
/// dispute of a decision, someone joining the organisation's group.
#[test]
fn kept_figures_follow_every_change() {
    let mut w = World::new();
    let cache = FiguresCache::default();
    let s = settings_in(0);
    // The running totals (every project: `None`) against each project
    // counted afresh (`Some`), with a page of one project's rows.
    let totals = |w: &World, cache: Option<&FiguresCache>| {
        let m = w.model();
        let o = match cache {
            Some(cache) => Overview::build_cached(&m, None, None, 1, s, cache),
            None => Overview::build(&m, Some(&|_| true), None, 1, s),
        };
        json!([
            o.you_said_we_did.totals,
            o.you_said_we_did.rows,
            o.jointness.totals,
            o.jointness.rows,
            o.stage_totals,
            o.tokenism,
            o.presence,
            o.impact.totals,
            o.projects,
            o.next
        ])
    };
    let fresh = |w: &World| totals(w, None);
    let totals = |w: &World, cache: &FiguresCache| totals(w, Some(cache));
    let mut before = totals(&w, &cache);
    assert_eq!(before, fresh(&w));
    let changes = [
        (
            partner(2),
            "proposal.raised",
            json!({"project_id": id(P), "proposal_id": id(22), "text": "Tea."}),
        ),
        (
            partner(2),
            "decision.disputed",
            json!({"decision_id": id(30), "reason": "I did not agree."}),
        ),
        (
            staff(),
            "participant.joined",
            json!({"participant_id": pid(9), "role": "partner"}),
        ),
        (
            staff(),
            "participant.joined",
            json!({"project_id": id(P), "participant_id": pid(9), "role": "partner"}),
        ),
        (
            staff(),
            "participant.left",
            json!({"project_id": id(P), "participant_id": pid(9)}),
        ),
    ];
    for (actor, kind, payload) in changes {
        w.ok(&actor, kind, payload);
        let now = totals(&w, &cache);
        assert_eq!(now, fresh(&w), "after {kind}");
        if !kind.starts_with("participant.") {
            assert_ne!(now, before, "{kind} changes the totals");
        }
        before = now;
    }
}

/// Under concurrency the rules still hold: 32 writers race to raise the
/// same proposal through the sequencer, and exactly one is accepted.
#[test]
fn rules_hold_under_concurrency() {
    use jointly::ledger::sequencer::{AppendError, Sequencer};
    let w = World::new();
    let World { _dir, ledger, .. } = w;
    let rules = Rules::new(ledger.clone()).unwrap();
    let seq = Sequencer::start_with(ledger.clone(), rules);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcomes = rt.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..32 {
            let seq = seq.clone();
            tasks.push(tokio::spawn(async move {
                let payload = json!({"project_id": id(P), "proposal_id": id(90), "text": format!("Attempt {n}")});
                seq.append(NewEvent {
expected: None,
                    event_type: EventType::new("proposal.raised").unwrap(),
                    actor: partner(2),
                    payload: CanonicalPayload::from_value(&payload).unwrap(),
                })
                .await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    seq.shutdown();
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AppendError::Refused(r)) if r.pointer() == Some("/payload/proposal_id")))
        .count();
    assert_eq!((accepted, refused), (1, 31));
    let model = rebuild(&ledger).unwrap();
    assert_eq!(model.proposals.len(), 3);
}

/// A correction may point at any record in the log, from the first to the
/// one just written; not at one that was never written.
#[test]
fn corrections_point_at_records_that_exist() {
    let mut w = World::new();
    let first = w.ledger.get(0).unwrap().unwrap().record.id();
    w.ok(
        &staff(),
        "record.corrected",
        json!({"corrects": first, "correction": "The title was misspelt.", "reason": "A typo."}),
    );
    w.ok(
        &partner(2),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "Free tea."}),
    );
    let just_written = w
        .ledger
        .get(w.ledger.head().size - 1)
        .unwrap()
        .unwrap()
        .record
        .id();
    w.ok(
        &staff(),
        "record.corrected",
        json!({"corrects": just_written, "correction": "Free tea and biscuits.", "reason": "Asked."}),
    );
    let never = uuid::Uuid::now_v7();
    let refused = w.append(
        &staff(),
        "record.corrected",
        json!({"corrects": never, "correction": "C", "reason": "R"}),
    );
    assert_eq!(refused.unwrap_err().pointer(), Some("/payload/corrects"));
}

/// The model keeps where each word was said, and pages read the words
/// from the log: every one reads back as the record's payload says it, at
/// the field the test names for it (not the model's own mapping), and as a
/// model that held the words in memory while it applied the events says.
#[test]
fn every_word_read_from_the_log_is_the_word_written() {
    use jointly::coproduction::model::{Model, Stance};
    use jointly::coproduction::said::{Said, UNREADABLE};
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_history(&ledger, 30, 5, 16).unwrap();
    let from_log = rebuild(&ledger).unwrap();
    let mut held = Model::default();
    for ev in ledger.range(0, usize::MAX).unwrap() {
        held.apply(
            &ev.record,
            jointly::coproduction::stored_event(&ev, &Default::default()),
        );
    }
    // Each word: what it is, where the model says it was said, and where
    // in that record's payload it is.
    let mut each: Vec<(&str, Said, String)> = Vec::new();
    let at = |p: &str| p.to_string();
    for p in from_log.projects.values() {
        each.extend([
            ("title", p.title, at("/title")),
            ("summary", p.summary, at("/summary")),
        ]);
        for (i, a) in p.aims.iter().enumerate() {
            each.push(("aim", a.text, format!("/aims/{i}/text")));
        }
        for o in &p.outcomes {
            each.extend([
                ("outcome", o.outcome, at("/outcome")),
                ("evidence", o.evidence, at("/evidence")),
            ]);
        }
        each.extend(
            p.reviews
                .iter()
                .map(|r| ("review", r.summary, at("/summary"))),
        );
    }
    for (id, p) in from_log.proposals.iter() {
        each.push(("idea", p.text, at("/text")));
        each.extend(p.withdrawn.map(|w| ("withdrawn", w, at("/reason"))));
        for (decision, _, reason) in &p.answers {
            let d = &from_log.decisions[decision];
            let i = d.answers.iter().position(|a| a.proposal_id == id).unwrap();
            each.push(("answer to an idea", *reason, format!("/answers/{i}/reason")));
        }
    }
    for (_, d) in from_log.decisions.iter() {
        each.extend([
            ("question", d.question(), at("/question")),
            ("decided", d.outcome(), at("/outcome")),
            ("reason", d.reason(), at("/reason")),
        ]);
        for (i, a) in d.answers.iter().enumerate() {
            each.push(("answer's reason", a.reason, format!("/answers/{i}/reason")));
        }
        for (_, s) in d.stances().iter() {
            if let Stance::Disputed(why) = s {
                each.push(("dispute", *why, at("/reason")));
            }
        }
        each.extend(
            d.dispute_answers()
                .iter()
                .map(|(_, a)| ("dispute answer", *a, at("/answer"))),
        );
    }
    for (_, c) in from_log.challenges.iter() {
        each.push(("challenge", c.reason, at("/reason")));
        each.extend(c.answer.map(|a| ("challenge answer", a, at("/answer"))));
    }
    for (_, a) in from_log.actions.iter() {
        each.push(("action", a.what, at("/what")));
        each.extend(a.updates.iter().map(|u| ("update", *u, at("/note"))));
        each.extend(
            a.completed
                .map(|c| ("what changed", c, at("/what_changed"))),
        );
    }
    let kinds: std::collections::BTreeSet<&str> = each.iter().map(|(k, ..)| *k).collect();
    for kind in [
        "title",
        "summary",
        "aim",
        "idea",
        "answer to an idea",
        "question",
        "decided",
        "reason",
        "answer's reason",
        "dispute",
        "challenge",
        "challenge answer",
        "action",
        "what changed",
        "outcome",
        "evidence",
        "review",
    ] {
        assert!(
            kinds.contains(kind),
            "the history has no {kind}: the check is blind to it"
        );
    }
    for (kind, said, pointer) in &each {
        let ev = ledger.get(said.seq()).unwrap().unwrap();
        let payload: Value = serde_json::from_slice(ev.payload.unwrap().as_bytes()).unwrap();
        let written = payload.pointer(pointer).and_then(Value::as_str);
        let read = from_log.text(said);
        assert_ne!(read, UNREADABLE, "{kind} at record {}", said.seq());
        assert_eq!(
            Some(read.as_str()),
            written,
            "{kind} at record {} {pointer}",
            said.seq()
        );
        assert_eq!(read, held.text(said), "{kind} at record {}", said.seq());
    }
    assert!(each.len() > 500, "{} words", each.len());
}

/// (issue 29) A project's lead changes only to a member of staff who is in
/// the project now, and only while it is open; the model follows.
#[test]
fn a_project_is_handed_only_to_staff_in_it() {
    let mut w = World::new();
    let to = |lead: u32| json!({"project_id": id(P), "lead": id(lead)});
    let refused = |w: &mut World, payload: Value| {
        let r = w.append(&staff(), "lead.changed", payload).unwrap_err();
        (r.kind(), r.pointer().map(str::to_string))
    };
    let at = |p: &str| Some(format!("/payload/{p}"));
    // A partner of the project, staff not in it, the lead already.
    assert_eq!(refused(&mut w, to(2)), (Kind::Invalid, at("lead")));
    assert_eq!(refused(&mut w, to(5)), (Kind::Invalid, at("lead")));
    assert_eq!(refused(&mut w, to(1)), (Kind::Conflict, at("lead")));
    // Partners may not record it at all.
    let r = w.append(&partner(2), "lead.changed", to(1)).unwrap_err();
    assert_eq!(r.kind(), Kind::Forbidden);
    // Staff 5 joins, and leads it from now on.
    w.ok(
        &staff(),
        "participant.joined",
        json!({"project_id": id(P), "participant_id": id(5), "role": "staff"}),
    );
    w.ok(&staff(), "lead.changed", to(5));
    let project: ProjectId = serde_json::from_value(json!(id(P))).unwrap();
    assert_eq!(w.model().projects[&project].lead, pid(5));
    // A closed project keeps the lead it had.
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(P), "stage": "closed"}),
    );
    assert_eq!(refused(&mut w, to(1)), (Kind::Invalid, at("project_id")));
}
