//! A realistic history for trying `jointly` out and for scale tests: one
//! project modelled on the working group in the source documents, and any
//! number of synthetic projects of every type of involvement.
//!
//! Every event goes through the same rules as any other append, so the
//! demo is also a test that a realistic history is accepted.

use super::rules::Rules;
use crate::coproduction::author::Author;
use crate::coproduction::events::*;
use crate::coproduction::values::*;
use crate::ledger::{Actor, CanonicalPayload, EventType, Ledger, LedgerError, NewEvent};

/// Why the demo could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo fills an empty data directory, and this one already holds {0} records")]
    NotEmpty(u64),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the rules refused demo event {type_name}: {refusal}")]
    Refused {
        type_name: &'static str,
        refusal: crate::refusal::Refusal,
    },
}

fn text(s: &str) -> Text {
    Text::new(s).expect("demo text is valid")
}

fn date(s: &str) -> Date {
    Date::parse(s).expect("demo date is valid")
}

/// Ids made from a counter, so a demo history is the same every time.
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> uuid::Uuid {
        self.0 += 1;
        uuid::Uuid::from_u64_pair(0x6a6f_696e_746c_7900, self.0)
    }
}

/// Events waiting to be appended, each with its author.
struct Script {
    ids: Ids,
    events: Vec<(Actor, Event)>,
}

impl Script {
    fn push(&mut self, actor: &Actor, event: Event) {
        self.events.push((actor.clone(), event));
    }
    /// A fresh id of whichever kind is wanted.
    fn id<T: From<uuid::Uuid>>(&mut self) -> T {
        T::from(self.ids.next())
    }
}

fn parts(people: &[ParticipantId], position: Position) -> Vec<Part> {
    people
        .iter()
        .map(|p| Part {
            participant_id: *p,
            position,
        })
        .collect()
}

/// Writes the demo into an empty ledger; returns how many records it wrote.
pub fn write_demo(ledger: &Ledger, synthetic: u64) -> Result<u64, DemoError> {
    write_history(ledger, synthetic, 0, 2000).map(|(n, _)| n)
}

/// The demo with synthetic projects drawn from `seed`, appended in batches
/// of `batch`; also returns the model the rules kept up to date on the way.
pub fn write_history(
    ledger: &Ledger,
    synthetic: u64,
    seed: u64,
    batch: usize,
) -> Result<(u64, crate::coproduction::model::Model), DemoError> {
    let size = ledger.head().size;
    if size > 0 {
        return Err(DemoError::NotEmpty(size));
    }
    let mut script = Script {
        ids: Ids(0),
        events: Vec::new(),
    };
    working_group(&mut script);
    for i in 0..synthetic {
        synthetic_project(&mut script, i, seed);
    }
    let mut rules = Rules::new(ledger.clone())?;
    let mut written = 0;
    for chunk in script.events.chunks(batch.max(1)) {
        let events: Vec<NewEvent> = chunk
            .iter()
            .map(|(actor, e)| NewEvent {
                expected: None,
                event_type: EventType::new(e.type_name()).expect("known types are valid names"),
                actor: actor.clone(),
                payload: CanonicalPayload::from_value(&e.to_payload()).expect("payloads are valid"),
            })
            .collect();
        let results = ledger.append_admitted(events, &mut rules)?;
        for (r, (_, e)) in results.into_iter().zip(chunk) {
            match r {
                Ok(_) => written += 1,
                Err(refusal) => {
                    return Err(DemoError::Refused {
                        type_name: e.type_name(),
                        refusal,
                    });
                }
            }
        }
    }
    Ok((written, rules.into_model()))
}

/// The working group that wrote the co-production framework: three staff
/// and three partners, four workshops from July to January.
fn working_group(s: &mut Script) {
    let project = s.id::<ProjectId>();
    let officer = s.id::<ParticipantId>();
    let head_of_insight = s.id::<ParticipantId>();
    let manager = s.id::<ParticipantId>();
    let ceo = s.id::<ParticipantId>();
    let partners = [
        s.id::<ParticipantId>(),
        s.id::<ParticipantId>(),
        s.id::<ParticipantId>(),
    ];
    let [p1, p2, p3] = partners;
    let staff = Author::staff_actor(officer);
    let as_partner = |p| Author::partner_actor(p);
    let framework = s.id::<AimId>();
    let fair_pay = s.id::<AimId>();
    s.push(
        &staff,
        Event::ProjectStarted(ProjectStarted {
            project_id: project,
            title: text("Co-production framework working group"),
            summary: text("Staff and partners write, together, how the charity will work with people who know what it is like not to have enough money."),
            involvement: Involvement::CoProduction,
            lead: officer,
            aims: vec![
                Aim { aim_id: framework, text: text("A framework for co-production and involvement, made with partners") },
                Aim { aim_id: fair_pay, text: text("Partners are paid fairly for all the time they give") },
            ],
            started_on: Some(date("2025-07-01")),
        }),
    );
    for (who, role) in [
        (officer, Role::Staff),
        (head_of_insight, Role::Staff),
        (manager, Role::Staff),
        (ceo, Role::Staff),
        (p1, Role::Partner),
        (p2, Role::Partner),
        (p3, Role::Partner),
    ] {
        s.push(
            &staff,
            Event::ParticipantJoined(ParticipantJoined {
                project_id: Some(project),
                participant_id: who,
                role,
            }),
        );
    }
    let group = [officer, head_of_insight, manager, p1, p2, p3];

    // Workshop 1, July: how the group will work.
    let m1 = s.id::<MeetingId>();
    s.push(&staff, Event::MeetingHeld(MeetingHeld {
        project_id: project, meeting_id: m1, date: date("2025-07-15"), attendees: group.to_vec(),
        materials_in_advance: true,
        summary: text("First workshop. We agreed how we will work together and what a safe space means to us."),
    }));
    // Each partner's time at the workshop and preparing for it, and how
    // each was paid, in the form they chose (one declined: they receive
    // benefits); a partner's idea given by phone after it.
    let mut workshop_time = Vec::new();
    for (who, hours) in [(p1, "2.5"), (p2, "2.5"), (p3, "3.25")] {
        let t = s.id::<TimeId>();
        s.push(
            &staff,
            Event::TimeRecorded(TimeRecorded {
                time_id: t,
                project_id: project,
                participant_id: who,
                hours: Hours::parse(hours).expect("hours"),
                date: date("2025-07-15"),
                what_for: TimeFor::Meeting,
                meeting_id: Some(m1),
            }),
        );
        workshop_time.push((who, t));
    }
    for ((who, t), (pence, form, day)) in workshop_time.iter().zip([
        (3750, PaymentForm::BankTransfer, "2025-07-25"),
        (3750, PaymentForm::Voucher, "2025-08-01"),
        (0, PaymentForm::Declined, "2025-07-22"),
    ]) {
        let pay = s.id::<PaymentId>();
        s.push(
            &staff,
            Event::PaymentMade(PaymentMade {
                payment_id: pay,
                project_id: project,
                participant_id: *who,
                time_ids: vec![*t],
                amount_pence: pence,
                form,
                date: date(day),
            }),
        );
    }
    let by_phone = s.id::<ProposalId>();
    s.push(
        &staff,
        Event::ProposalRaised(ProposalRaised {
            project_id: project,
            proposal_id: by_phone,
            text: text("Send the papers by post too, for people who cannot print them."),
            raised_on: Some(date("2025-07-17")),
            for_participant: Some(p3),
            given_by: Some(GivenBy::Phone),
        }),
    );
    let evening = s.id::<ProposalId>();
    s.push(&as_partner(p1), Event::ProposalRaised(ProposalRaised {
        project_id: project, proposal_id: evening,
        text: text("Hold the workshops online in the early evening, so people who work or care for children can come."),
        raised_on: Some(date("2025-07-15")),
        for_participant: None,
        given_by: None,
    }));
    let d1 = s.id::<DecisionId>();
    s.push(
        &staff,
        Event::DecisionMade(DecisionMade {
            project_id: project,
            decision_id: d1,
            question: text("When and where should the workshops happen?"),
            outcome: text("Online, from 6pm to 8pm, with breakout rooms led by partners."),
            stage: Stage::Conception,
            answers: vec![Answer {
                proposal_id: evening,
                response: Response::Accepted,
                reason: text("Everyone agreed evenings work better for most people."),
            }],
            method: Method::Consensus,
            participants: parts(&group, Position::Agree),
            reason: text("The whole group agreed at the first workshop."),
            made_on: Some(date("2025-07-15")),
        }),
    );
    s.push(
        &as_partner(p1),
        Event::DecisionConfirmed(DecisionConfirmed { decision_id: d1 }),
    );
    s.push(
        &as_partner(p2),
        Event::DecisionConfirmed(DecisionConfirmed { decision_id: d1 }),
    );
    s.push(
        &staff,
        Event::StageChanged(StageChanged {
            project_id: project,
            stage: Stage::Design,
        }),
    );

    // Workshop 2, September: the purpose, and pay.
    let m2 = s.id::<MeetingId>();
    s.push(
        &staff,
        Event::MeetingHeld(MeetingHeld {
            project_id: project,
            meeting_id: m2,
            date: date("2025-09-16"),
            attendees: group.to_vec(),
            materials_in_advance: false,
            summary: text("Second workshop. The draft purpose was shared on the day, not before."),
        }),
    );
    let pay = s.id::<ProposalId>();
    s.push(
        &as_partner(p2),
        Event::ProposalRaised(ProposalRaised {
            project_id: project,
            proposal_id: pay,
            text: text(
                "Pay partners for the hours we spend preparing, not only for the workshops.",
            ),
            raised_on: Some(date("2025-09-16")),
            for_participant: None,
            given_by: None,
        }),
    );
    let purpose = s.id::<DecisionId>();
    s.push(&staff, Event::DecisionMade(DecisionMade {
        project_id: project, decision_id: purpose,
        question: text("What is the purpose of co-production at the charity?"),
        outcome: text("To share power with people with lived experience of financial hardship in everything we do."),
        stage: Stage::Design,
        answers: vec![],
        method: Method::Consensus,
        participants: vec![
            Part { participant_id: officer, position: Position::Agree },
            Part { participant_id: p3, position: Position::Agree },
            Part { participant_id: ceo, position: Position::Agree },
        ],
        reason: text("Drafted and finished by the officer and one partner, with comments from the chief executive and the head of insight."),
        made_on: Some(date("2025-09-16")),
    }));
    s.push(
        &as_partner(p3),
        Event::DecisionConfirmed(DecisionConfirmed {
            decision_id: purpose,
        }),
    );
    let dates = s.id::<DecisionId>();
    s.push(
        &staff,
        Event::DecisionMade(DecisionMade {
            project_id: project,
            decision_id: dates,
            question: text("When are workshops three and four?"),
            outcome: text("November and January, on Tuesdays."),
            stage: Stage::Design,
            answers: vec![],
            method: Method::OnePerson,
            participants: parts(&[head_of_insight], Position::Agree),
            reason: text("The dates were set to fit the staff calendar."),
            made_on: Some(date("2025-09-23")),
        }),
    );
    let challenge = s.id::<ChallengeId>();
    s.push(
        &as_partner(p1),
        Event::DecisionChallenged(DecisionChallenged {
            decision_id: dates,
            challenge_id: challenge,
            reason: text(
                "This was decided by one person, not by the group. Tuesdays are hard for me.",
            ),
            in_reply_to: None,
        }),
    );
    s.push(&staff, Event::ChallengeAnswered(ChallengeAnswered {
        challenge_id: challenge,
        answer: text("You are right. We will agree dates together from now on, and we have moved workshop three to a Thursday."),
    }));
    let budget = s.id::<DecisionId>();
    s.push(&staff, Event::DecisionMade(DecisionMade {
        project_id: project, decision_id: budget,
        question: text("Should we find extra budget to pay partners for preparation time?"),
        outcome: text("Yes: up to 20 extra paid hours for each partner."),
        stage: Stage::Design,
        answers: vec![Answer { proposal_id: pay, response: Response::Amended, reason: text("We agreed to pay for preparation, with a limit of 20 hours each so the budget holds.") }],
        method: Method::Vote,
        participants: parts(&group, Position::Agree),
        reason: text("Everyone voted for it; the head of insight found the money."),
        made_on: Some(date("2025-09-30")),
    }));
    s.push(
        &as_partner(p2),
        Event::DecisionConfirmed(DecisionConfirmed {
            decision_id: budget,
        }),
    );
    let hours = s.id::<ActionId>();
    s.push(
        &staff,
        Event::ActionCommitted(ActionCommitted {
            project_id: project,
            action_id: hours,
            decision_id: budget,
            what: text("Add 20 paid preparation hours for each partner to the budget."),
            owner: head_of_insight,
            due: date("2025-10-31"),
            proposal_ids: vec![pay],
        }),
    );
    s.push(
        &staff,
        Event::ActionCompleted(ActionCompleted {
            action_id: hours,
            what_changed: text(
                "Partners are now paid for preparation time, backdated to September.",
            ),
        }),
    );
    let video = s.id::<ActionId>();
    s.push(
        &staff,
        Event::ActionCommitted(ActionCommitted {
            project_id: project,
            action_id: video,
            decision_id: budget,
            what: text(
                "Make a short video about how not to treat one another, for workshop three.",
            ),
            owner: p3,
            due: date("2025-11-10"),
            proposal_ids: vec![],
        }),
    );
    s.push(
        &staff,
        Event::ActionCompleted(ActionCompleted {
            action_id: video,
            what_changed: text(
                "The video was made with everyone acting, and shown at workshop three.",
            ),
        }),
    );
    s.push(
        &staff,
        Event::StageChanged(StageChanged {
            project_id: project,
            stage: Stage::Delivery,
        }),
    );

    // Workshops 3 and 4.
    for (d, summary) in [
        (
            "2025-11-13",
            "Third workshop, with the video and a cake shop game led by partners.",
        ),
        (
            "2026-01-20",
            "Fourth workshop. We tested the framework with staff and partners.",
        ),
    ] {
        let m = s.id::<MeetingId>();
        s.push(
            &staff,
            Event::MeetingHeld(MeetingHeld {
                project_id: project,
                meeting_id: m,
                date: date(d),
                attendees: group.to_vec(),
                materials_in_advance: true,
                summary: text(summary),
            }),
        );
    }
    let easy_read = s.id::<ProposalId>();
    s.push(
        &as_partner(p3),
        Event::ProposalRaised(ProposalRaised {
            project_id: project,
            proposal_id: easy_read,
            text: text("Publish an easy-read version of the framework at the same time."),
            raised_on: Some(date("2026-01-20")),
            for_participant: None,
            given_by: None,
        }),
    );
    let publish = s.id::<DecisionId>();
    s.push(
        &staff,
        Event::DecisionMade(DecisionMade {
            project_id: project,
            decision_id: publish,
            question: text("When do we publish the framework?"),
            outcome: text("In March, for the start of the new year's plans."),
            stage: Stage::Delivery,
            answers: vec![],
            method: Method::StaffDecision,
            participants: vec![
                Part {
                    participant_id: officer,
                    position: Position::Agree,
                },
                Part {
                    participant_id: manager,
                    position: Position::Agree,
                },
                Part {
                    participant_id: p1,
                    position: Position::Disagree,
                },
            ],
            reason: text("Staff needed it ready for the annual plan."),
            made_on: Some(date("2026-02-03")),
        }),
    );
    s.push(
        &as_partner(p1),
        Event::DecisionDisputed(DecisionDisputed {
            decision_id: publish,
            reason: text("We asked for more time to test it with people who were not in the room."),
        }),
    );
    s.push(
        &staff,
        Event::OutcomeRecorded(OutcomeRecorded {
            project_id: project,
            aim_id: framework,
            outcome: text("The framework for co-production and involvement was launched."),
            evidence: text(
                "Published on the website after four workshops with staff and partners.",
            ),
        }),
    );
    s.push(
        &staff,
        Event::OutcomeRecorded(OutcomeRecorded {
            project_id: project,
            aim_id: fair_pay,
            outcome: text("Partners are paid for preparation time as well as meetings."),
            evidence: text("The budget line added in October, and payments from September."),
        }),
    );
    s.push(&staff, Event::ReviewHeld(ReviewHeld {
        project_id: project,
        summary: text("We looked back on seven months of working together: trust, honest challenge, shared tasks."),
        next_review: date("2026-06-30"),
    }));
}

/// A small pseudo-random sequence, so synthetic projects vary but repeat.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const TOPICS: &[&str] = &[
    "advice line opening hours",
    "the grants search page",
    "a benefits calculator guide",
    "the winter fuel campaign",
    "training for new volunteers",
    "the annual survey",
    "a cost of living toolkit",
    "letters to people applying for grants",
];

/// A synthetic project whose decisions mostly match its declared type.
fn synthetic_project(s: &mut Script, i: u64, seed: u64) {
    let mut dice = Dice((i + 1) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let involvement = [
        Involvement::CoProduction,
        Involvement::CoDesign,
        Involvement::Engagement,
        Involvement::Consultation,
    ][(i % 4) as usize];
    let topic = TOPICS[(i as usize) % TOPICS.len()];
    let project = s.id::<ProjectId>();
    let lead = s.id::<ParticipantId>();
    let colleague = s.id::<ParticipantId>();
    let staff = Author::staff_actor(lead);
    let partners: Vec<ParticipantId> = (0..3 + dice.roll(4))
        .map(|_| s.id::<ParticipantId>())
        .collect();
    let aim = s.id::<AimId>();
    s.push(
        &staff,
        Event::ProjectStarted(ProjectStarted {
            project_id: project,
            title: text(&format!("Project {}: {topic}", i + 1)),
            summary: text(&format!("Improving {topic} with people who use it.")),
            involvement,
            lead,
            aims: vec![Aim {
                aim_id: aim,
                text: text(&format!("Better {topic}")),
            }],
            started_on: None,
        }),
    );
    for (who, role) in [(lead, Role::Staff), (colleague, Role::Staff)]
        .into_iter()
        .chain(partners.iter().map(|p| (*p, Role::Partner)))
    {
        s.push(
            &staff,
            Event::ParticipantJoined(ParticipantJoined {
                project_id: Some(project),
                participant_id: who,
                role,
            }),
        );
    }
    let everyone: Vec<ParticipantId> = [lead, colleague]
        .into_iter()
        .chain(partners.iter().copied())
        .collect();
    for (stage_no, stage) in [Stage::Conception, Stage::Design, Stage::Delivery]
        .into_iter()
        .enumerate()
    {
        if stage != Stage::Conception {
            s.push(
                &staff,
                Event::StageChanged(StageChanged {
                    project_id: project,
                    stage,
                }),
            );
        }
        let meeting = s.id::<MeetingId>();
        s.push(
            &staff,
            Event::MeetingHeld(MeetingHeld {
                project_id: project,
                meeting_id: meeting,
                date: date(&format!("2025-{:02}-1{}", 3 + stage_no * 3, dice.roll(9))),
                attendees: everyone.clone(),
                materials_in_advance: dice.roll(4) != 0,
                summary: text(&format!("A {} meeting about {topic}.", stage.words())),
            }),
        );
        let author = partners[dice.roll(partners.len() as u64) as usize];
        let proposal = s.id::<ProposalId>();
        s.push(
            &Author::partner_actor(author),
            Event::ProposalRaised(ProposalRaised {
                project_id: project,
                proposal_id: proposal,
                text: text(&format!(
                    "Idea {} for {topic}: ask people who use it first.",
                    stage_no + 1
                )),
                raised_on: None,
                for_participant: None,
                given_by: None,
            }),
        );
        // Leave some proposals unanswered, as happens.
        if dice.roll(5) == 0 {
            continue;
        }
        let shared = match involvement {
            Involvement::CoProduction => true,
            Involvement::CoDesign => stage == Stage::Design,
            _ => false,
        };
        let (method, people) = match involvement {
            _ if shared => (Method::Consensus, everyone.clone()),
            Involvement::Engagement | Involvement::CoDesign => {
                (Method::StaffDecision, everyone.clone())
            }
            _ => (Method::StaffDecision, vec![lead, colleague]),
        };
        let decision = s.id::<DecisionId>();
        s.push(
            &staff,
            Event::DecisionMade(DecisionMade {
                project_id: project,
                decision_id: decision,
                question: text(&format!("What do we do about idea {}?", stage_no + 1)),
                outcome: text("We will try it for three months."),
                stage,
                answers: vec![Answer {
                    proposal_id: proposal,
                    response: [Response::Accepted, Response::Amended, Response::Declined]
                        [dice.roll(3) as usize],
                    reason: text("We talked it through and this is what we can do now."),
                }],
                method,
                participants: parts(&people, Position::Agree),
                reason: text("Agreed at the meeting."),
                made_on: None,
            }),
        );
        if shared {
            // Most shared decisions are confirmed by a partner; a few disputed.
            let who = partners[dice.roll(partners.len() as u64) as usize];
            if dice.roll(8) == 0 {
                s.push(
                    &Author::partner_actor(who),
                    Event::DecisionDisputed(DecisionDisputed {
                        decision_id: decision,
                        reason: text("I do not think we really agreed this."),
                    }),
                );
            } else {
                s.push(
                    &Author::partner_actor(who),
                    Event::DecisionConfirmed(DecisionConfirmed {
                        decision_id: decision,
                    }),
                );
            }
        }
        let action = s.id::<ActionId>();
        let owner = if dice.roll(3) == 0 { partners[0] } else { lead };
        s.push(
            &staff,
            Event::ActionCommitted(ActionCommitted {
                project_id: project,
                action_id: action,
                decision_id: decision,
                what: text(&format!("Try idea {} and report back.", stage_no + 1)),
                owner,
                due: date("2025-12-01"),
                proposal_ids: vec![proposal],
            }),
        );
        if dice.roll(2) == 0 {
            s.push(
                &staff,
                Event::ActionCompleted(ActionCompleted {
                    action_id: action,
                    what_changed: text("People said it was easier to use."),
                }),
            );
        }
        if dice.roll(6) == 0 {
            let c = s.id::<ChallengeId>();
            s.push(
                &Author::partner_actor(author),
                Event::DecisionChallenged(DecisionChallenged {
                    decision_id: decision,
                    challenge_id: c,
                    reason: text("Why were we not asked about this?"),
                    in_reply_to: None,
                }),
            );
            if dice.roll(2) == 0 {
                s.push(
                    &staff,
                    Event::ChallengeAnswered(ChallengeAnswered {
                        challenge_id: c,
                        answer: text("Fair point. We will ask next time."),
                    }),
                );
            }
        }
    }
    s.push(
        &staff,
        Event::OutcomeRecorded(OutcomeRecorded {
            project_id: project,
            aim_id: aim,
            outcome: text(&format!("{topic} changed after the project.")),
            evidence: text("Feedback from people who use it."),
        }),
    );
    if dice.roll(2) == 0 {
        s.push(
            &staff,
            Event::ReviewHeld(ReviewHeld {
                project_id: project,
                summary: text("Progress reviewed with partners."),
                next_review: date("2026-09-01"),
            }),
        );
    }
}
