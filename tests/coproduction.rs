//! The co-production rules and projections, by scenario. Expected results
//! are worked out by hand from the stories told here, not copied from the
//! program's output.

use jointly::coproduction::author::Author;
use jointly::coproduction::demo::write_history;
use jointly::coproduction::model::Refusal;
use jointly::coproduction::report::{Jointness, Report, Settings, Shown, suppress};
use jointly::coproduction::values::*;
use jointly::coproduction::{Rules, rebuild};
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use serde_json::{Value, json};

fn id(n: u32) -> String {
    format!("abcdef00-0000-4000-8000-{n:012}")
}

fn pid(n: u32) -> ParticipantId {
    serde_json::from_value(Value::String(id(n))).unwrap()
}

/// A store with rules, and a small story already in it.
struct World {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    rules: Rules,
}

// The cast: staff S (1), partners A (2) and B (3) in project P (10);
// partner C (4) in project Q (11).
const P: u32 = 10;
const Q: u32 = 11;

fn staff() -> Actor {
    Author::staff_actor(pid(1))
}
fn partner(n: u32) -> Actor {
    Author::partner_actor(pid(n))
}

impl World {
    fn new() -> World {
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

    fn append(&mut self, actor: &Actor, kind: &str, payload: Value) -> Result<(), Refusal> {
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
        results.pop().unwrap().map(|_| ())
    }

    fn ok(&mut self, actor: &Actor, kind: &str, payload: Value) {
        if let Err(r) = self.append(actor, kind, payload.clone()) {
            panic!("{kind} refused: {r}\n{payload}");
        }
    }
}

fn decision(n: u32, project: u32, answers: &[u32], parts: &[u32]) -> Value {
    json!({
        "project_id": id(project), "decision_id": id(n), "question": "Open on Saturdays?",
        "outcome": "Yes.", "stage": "conception",
        "answers": answers.iter().map(|a| json!({"proposal_id": id(*a), "response": "accepted", "reason": "Most asked."})).collect::<Vec<_>>(),
        "method": "consensus",
        "participants": parts.iter().map(|p| json!({"participant_id": id(*p), "position": "agree"})).collect::<Vec<_>>(),
        "reason": "Agreed."
    })
}

/// One event against the story: accepted, or refused at `pointer` with a
/// message containing `words`. A refused event writes nothing.
fn check(actor: Actor, kind: &str, payload: Value, expect: Option<(&str, &str)>) {
    let mut w = World::new();
    let before = w.ledger.head().size;
    let got = w.append(&actor, kind, payload.clone());
    match (expect, got) {
        (None, Ok(())) => assert_eq!(w.ledger.head().size, before + 1),
        (Some((pointer, words)), Err(r)) => {
            assert_eq!(r.pointer, pointer, "{kind} {payload}: {r}");
            assert!(
                r.message.contains(words),
                "{kind}: {:?} lacks {words:?}",
                r.message
            );
            assert_eq!(w.ledger.head().size, before, "a refused event was written");
        }
        (None, Err(r)) => panic!("{kind} refused: {r}\n{payload}"),
        (Some(_), Ok(())) => panic!("{kind} accepted: {payload}"),
    }
}

#[test]
fn ids_are_unique() {
    check(
        staff(),
        "decision.made",
        decision(30, P, &[], &[1, 2]),
        Some(("/decision_id", "already exists")),
    );
    check(
        partner(2),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(20), "text": "Again."}),
        Some(("/proposal_id", "already exists")),
    );
    check(
        staff(),
        "project.started",
        json!({"project_id": id(P), "title": "T", "summary": "S", "involvement": "engagement", "lead": id(1)}),
        Some(("/project_id", "already exists")),
    );
}

#[test]
fn references_exist_and_stay_in_their_project() {
    check(
        staff(),
        "decision.made",
        decision(31, P, &[99], &[1, 2]),
        Some(("/answers/0/proposal_id", "no proposal")),
    );
    check(
        staff(),
        "decision.made",
        decision(31, P, &[21], &[1, 2]),
        Some(("/answers/0/proposal_id", "another project")),
    );
    check(
        staff(),
        "decision.made",
        decision(31, P, &[], &[1, 4]),
        Some(("/participants/1/participant_id", "not in the project")),
    );
    check(
        staff(),
        "decision.made",
        decision(31, 99, &[], &[1]),
        Some(("/project_id", "no project")),
    );
    check(
        staff(),
        "action.committed",
        json!({"project_id": id(Q), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(1), "due": "2026-01-01"}),
        Some(("/decision_id", "another project")),
    );
    check(
        staff(),
        "action.committed",
        json!({"project_id": id(P), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(2), "due": "2026-01-01"}),
        None,
    );
    check(
        staff(),
        "record.corrected",
        json!({"corrects": id(77), "correction": "C", "reason": "R"}),
        Some(("/corrects", "no record")),
    );
    check(
        staff(),
        "outcome.recorded",
        json!({"project_id": id(P), "aim_id": id(111), "outcome": "O", "evidence": "E"}),
        Some(("/aim_id", "no aim")),
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
    assert_eq!(
        w.append(
            &staff(),
            "stage.changed",
            json!({"project_id": id(P), "stage": "design"})
        )
        .unwrap_err()
        .pointer,
        "/stage"
    );
    w.ok(
        &staff(),
        "stage.changed",
        json!({"project_id": id(P), "stage": "closed"}),
    );
    let r = w
        .append(&staff(), "decision.made", decision(31, P, &[], &[1, 2]))
        .unwrap_err();
    assert!(r.message.contains("closed"), "{r}");

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
    assert_eq!(r.pointer, "/answers/0/proposal_id");
    let r = w.append(&staff(), "action.committed", json!({"project_id": id(P), "action_id": id(40), "decision_id": id(30), "what": "W", "owner": id(1), "due": "2026-01-01"})).unwrap_err();
    assert!(r.message.contains("new decision"), "{r}");

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
    assert!(r.message.contains("already been answered"), "{r}");
}

#[test]
fn roles_decide_who_may_write_what() {
    // Partners may not record decisions, meetings or actions.
    check(
        partner(2),
        "decision.made",
        decision(31, P, &[], &[1, 2]),
        Some(("", "your role may not record decision.made")),
    );
    // Only someone who took part confirms, as themselves.
    check(
        partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
        None,
    );
    check(
        partner(3),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
        Some(("/decision_id", "only someone who took part")),
    );
    check(
        staff(),
        "decision.disputed",
        json!({"decision_id": id(30), "reason": "R"}),
        None,
    );
    check(
        Actor::new("operator:root").unwrap(),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
        Some(("/decision_id", "only someone who took part")),
    );
    // A partner withdraws only their own proposal, and proposes only once
    // they have joined (the organisation's group or any project).
    check(
        partner(3),
        "proposal.withdrawn",
        json!({"proposal_id": id(20), "reason": "R"}),
        Some(("/proposal_id", "only your own")),
    );
    check(
        partner(4),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
        None,
    );
    check(
        partner(9),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
        Some(("", "once you have joined as a partner")),
    );
    // Joining the organisation's group needs no project, and only once.
    check(
        staff(),
        "participant.joined",
        json!({"participant_id": id(9), "role": "partner"}),
        None,
    );
    check(
        staff(),
        "participant.joined",
        json!({"participant_id": id(2), "role": "partner"}),
        Some(("/participant_id", "already joined")),
    );
    // Only an administrator authorises erasure, and only of records that exist.
    let erase = |seq: u64| {
        json!({"records": [{"seq": seq, "kept": {}}], "reason": "Asked to be forgotten.",
               "legal_basis": "UK GDPR Article 17"})
    };
    check(
        staff(),
        "record.redacted",
        erase(8),
        Some(("", "only an administrator")),
    );
    check(
        partner(2),
        "record.redacted",
        erase(8),
        Some(("", "only an administrator")),
    );
    let admin = Actor::new("admin:dpo").unwrap();
    check(admin.clone(), "record.redacted", erase(8), None);
    check(
        admin,
        "record.redacted",
        erase(999),
        Some(("/records/0/seq", "no such record")),
    );
    // Auditors record nothing; unknown actors neither.
    check(
        Actor::new("auditor:trustee").unwrap(),
        "proposal.raised",
        json!({"project_id": id(P), "proposal_id": id(22), "text": "T"}),
        Some(("", "your role may not")),
    );
}

#[test]
fn unknown_types_and_bad_payloads_are_refused_with_a_place() {
    check(
        staff(),
        "unknown.thing",
        json!({"a": 1}),
        Some(("", "not a kind of event")),
    );
    check(staff(), "x.survey.done", json!({"a": 1}), None);
    check(
        staff(),
        "decision.made",
        json!({}),
        Some(("/project_id", "is required")),
    );
    let mut bad = decision(31, P, &[], &[1, 2]);
    bad["participants"][1]["position"] = json!("maybe");
    check(
        staff(),
        "decision.made",
        bad,
        Some(("/participants/1/position", "\"maybe\" is not allowed")),
    );
    check(
        staff(),
        "meeting.held",
        json!({"project_id": id(P), "meeting_id": id(60), "date": "2025-02-30", "attendees": [id(1)], "materials_in_advance": true, "summary": "S"}),
        Some(("/date", "not a date")),
    );
}

/// Settings fixed for a report: `days` after today, with the usual k and wait.
fn settings_in(days: i64) -> Settings {
    let today = Settings::today().today;
    Settings {
        today: Date::from_date(today.date() + time::Duration::days(days)),
        waiting_days: 28,
        k: 5,
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

    // You said, we did: three partner proposals. Evening workshops and paid
    // preparation were answered; the easy-read version still waits (40 days).
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
        (3, 2, 1, 0, 1)
    );
    let waiting = &r.you_said_we_did.projects[0].proposals[2];
    assert_eq!(
        (waiting.status, waiting.days_waiting),
        ("waiting", Some(40))
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

    // Tokenism: 3 partners, none involved only once; 1 of 4 meetings without
    // papers; the easy-read proposal has waited over 28 days; 1 decision
    // disputed; the one challenge was answered; partners own 1 of 2 actions.
    let t = &r.tokenism.totals;
    assert_eq!(
        (
            t.partners,
            t.partners_involved_once,
            t.meetings,
            t.meetings_without_materials_in_advance
        ),
        (3, 0, 4, 1)
    );
    assert_eq!(
        (
            t.partner_proposals_waiting_too_long,
            t.decisions_disputed_by_partners,
            t.challenges_unanswered
        ),
        (1, 1, 0)
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
    let r = Report::build(w.rules.model(), Some(q), settings_in(0));
    let j = &r.jointness.projects[0];
    // Design shared; delivery not shared (one person, in fact): co-design, as declared.
    assert_eq!(j.declared, Involvement::CoDesign);
    assert_eq!(j.observed, Some(Involvement::CoDesign));
    assert!(j.differences.is_empty());
    assert_eq!(r.jointness.totals.projects_behaving_as_declared, 1);

    // P: D (30) is by S and A, consensus, unconfirmed: partner-informed, so
    // declared co-production behaves like engagement until A confirms.
    let p: ProjectId = serde_json::from_value(json!(id(P))).unwrap();
    let before = Report::build(w.rules.model(), Some(p), settings_in(0));
    assert_eq!(
        before.jointness.projects[0].observed,
        Some(Involvement::Engagement)
    );
    w.ok(
        &partner(2),
        "decision.confirmed",
        json!({"decision_id": id(30)}),
    );
    let after = Report::build(w.rules.model(), Some(p), settings_in(0));
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
    let disputed = Report::build(w.rules.model(), Some(p), settings_in(0));
    assert_eq!(
        disputed.jointness.projects[0].decisions[0].class,
        Jointness::PartnerInformed
    );
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
        .filter(|o| matches!(o, Err(AppendError::Refused(r)) if r.pointer == "/proposal_id"))
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
    assert_eq!(refused.unwrap_err().pointer, "/corrects");
}
