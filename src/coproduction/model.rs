//! The state of co-production that the log describes: projects, people,
//! proposals, decisions, challenges, actions. It is a fold over the log,
//! kept up to date record by record, and rebuildable from scratch. The
//! append rules are checked against it, and the projections read it.

use super::access::Credentials;
use super::author::Author;
use super::events::*;
use super::said::{Field, RecordAt, Said, Words};
use super::table::{Keyed, Row, Table};
use super::values::*;
use super::vec_map::VecMap;
use crate::ledger::{Record, Seq, Timestamp};
pub use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Refuses as invalid, at a place in the payload.
fn refuse<T>(pointer: &str, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::invalid(message).at(pointer))
}

/// Refuses as a clash with what is recorded, at a place in the payload.
fn clash<T>(pointer: &str, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::conflict(message).at(pointer))
}

/// Refuses a reference to something the record does not hold.
fn missing(pointer: &str, message: &str) -> Refusal {
    Refusal::invalid(message).at(pointer)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Membership {
    pub role: Role,
    pub active: bool,
    /// The record that said they left, while they are away (cleared when
    /// they join again): what they may read of the project ends there.
    pub left_at: Option<Seq>,
    /// Times this person took part: meetings attended, decisions taken part
    /// in, proposals raised.
    pub involvements: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meeting {
    pub id: MeetingId,
    pub date: Date,
    /// How many partners came, and how many others: counted as it is
    /// recorded (attendees must have joined, and a role never changes),
    /// as nothing shows who came, only how many.
    pub partners: u32,
    pub others: u32,
    pub materials_in_advance: bool,
    /// What happened, in the record that holds it (where its page reads
    /// who came, for those who see names).
    pub summary: Said,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub aim: AimId,
    pub outcome: Said,
    pub evidence: Said,
    pub at: Timestamp,
}

/// A change to how a project works, after it started: the model keeps
/// only where it is now, and the story needs each step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ProjectChange {
    Stage {
        at: Timestamp,
        to: Stage,
    },
    Involvement {
        at: Timestamp,
        from: Involvement,
        to: Involvement,
        reason: Said,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Review {
    pub at: Timestamp,
    pub summary: Said,
    pub next_review: Date,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub title: Said,
    pub summary: Said,
    pub involvement: Involvement,
    pub stage: Stage,
    pub lead: ParticipantId,
    pub aims: Vec<ProjectAim>,
    /// When it was recorded.
    pub started_at: Timestamp,
    /// The day it started, if staff said.
    pub started_on: Option<Date>,
    pub members: VecMap<ParticipantId, Membership>,
    pub meetings: Vec<Meeting>,
    pub proposals: Vec<ProposalId>,
    pub decisions: Vec<DecisionId>,
    pub actions: Vec<ActionId>,
    pub outcomes: Vec<Outcome>,
    pub reviews: Vec<Review>,
    /// Its changes of stage and of involvement, in order.
    pub changes: Vec<ProjectChange>,
    /// The last record about this project.
    pub last_seq: Option<Seq>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub project: ProjectId,
    pub text: Said,
    /// Who raised it, where the actor names a participant.
    pub by: Option<ParticipantId>,
    /// Raised by a co-production partner (counts in "You said, we did").
    pub by_partner: bool,
    /// When it was recorded.
    pub raised_at: Timestamp,
    /// The day it was put forward, if its author said.
    pub raised_on: Option<Date>,
    pub seq: Seq,
    pub withdrawn: Option<Said>,
    /// Each decision that answered it, with its response and reason.
    pub answers: Vec<(DecisionId, Response, Said)>,
    /// Recorded by staff for the partner: how they gave it, and who
    /// recorded it.
    pub given: Option<(GivenBy, Option<ParticipantId>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stance {
    Confirmed,
    Disputed(Said),
    /// Confirmed with a sign-in card a member of staff made that its
    /// partner had not shown to be theirs ([`Credentials`]): recorded, but
    /// not taken for the partner's own word.
    ConfirmedOnStaffCard(CredentialId),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Decision {
    pub id: DecisionId,
    pub project: ProjectId,
    /// The record that made it, where its question, outcome and reasons
    /// are (see [`Decision::said`]): 8 bytes where three [`Said`]s took 36.
    made_in: RecordAt,
    pub stage: Stage,
    pub method: Method,
    pub parts: Vec<TookPart>,
    pub answers: Vec<IdeaAnswer>,
    /// When it was recorded.
    pub at: Timestamp,
    /// The day it was decided, if staff said (else the day it was recorded).
    pub made_on: Option<Date>,
    /// What people said of it afterwards, once anyone has: most decisions
    /// have no confirmation, dispute or challenge, and then this is 8
    /// bytes where the three lists took 72.
    after: Option<Box<AfterDecision>>,
    pub actions: Vec<ActionId>,
}

/// Confirmations, disputes and challenges of one decision.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AfterDecision {
    /// Each participant's latest confirmation or dispute of their part.
    pub stances: VecMap<ParticipantId, Stance>,
    /// Staff's answer to each partner's latest dispute.
    pub dispute_answers: VecMap<ParticipantId, Said>,
    pub challenges: Vec<ChallengeId>,
}

/// What a decision no one has confirmed, disputed or challenged has.
static NOTHING_AFTER: AfterDecision = AfterDecision {
    stances: VecMap::new(),
    dispute_answers: VecMap::new(),
    challenges: Vec::new(),
};

/// A project not reviewed for this long is due a review.
pub const REVIEW_EVERY_DAYS: i64 = 183;

impl Project {
    /// The day it started: the day staff gave, else the day it was recorded.
    pub fn day(&self) -> Date {
        self.started_on.unwrap_or_else(|| Date::of(self.started_at))
    }

    /// When its next review is due: the day its last review set, else
    /// [`REVIEW_EVERY_DAYS`] after it started. `None` once it is closed.
    pub fn next_review(&self) -> Option<Date> {
        if self.stage == Stage::Closed {
            return None;
        }
        Some(match self.reviews.last() {
            Some(r) => r.next_review,
            None => self.day().plus_days(REVIEW_EVERY_DAYS),
        })
    }
}

impl Proposal {
    /// The day it was put forward: the day given, else the day recorded.
    pub fn day(&self) -> Date {
        self.raised_on.unwrap_or_else(|| Date::of(self.raised_at))
    }
}

impl Decision {
    /// Where a piece of its text is: `field` of the record that made it.
    /// The record that made it.
    pub fn made_in(&self) -> Seq {
        self.made_in.seq()
    }

    pub fn said(&self, field: Field) -> Said {
        Said::at(self.made_in.seq(), field)
    }

    pub fn question(&self) -> Said {
        self.said(Field::Question)
    }

    pub fn outcome(&self) -> Said {
        self.said(Field::Outcome)
    }

    pub fn reason(&self) -> Said {
        self.said(Field::Reason)
    }

    /// Each participant's latest confirmation or dispute of their part.
    pub fn stances(&self) -> &VecMap<ParticipantId, Stance> {
        &self.after.as_deref().unwrap_or(&NOTHING_AFTER).stances
    }

    /// Staff's answer to each partner's latest dispute.
    pub fn dispute_answers(&self) -> &VecMap<ParticipantId, Said> {
        &self
            .after
            .as_deref()
            .unwrap_or(&NOTHING_AFTER)
            .dispute_answers
    }

    /// Its challenges, in the order made.
    pub fn challenges(&self) -> &[ChallengeId] {
        &self.after.as_deref().unwrap_or(&NOTHING_AFTER).challenges
    }

    /// What was said of it afterwards, to add to.
    fn after_mut(&mut self) -> &mut AfterDecision {
        self.after.get_or_insert_default()
    }

    /// The day it was decided: the day staff gave, else the day it was
    /// recorded.
    pub fn day(&self) -> Date {
        self.made_on.unwrap_or_else(|| Date::of(self.at))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Challenge {
    pub id: ChallengeId,
    pub decision: DecisionId,
    pub by: Option<ParticipantId>,
    pub by_partner: bool,
    pub reason: Said,
    pub at: Timestamp,
    pub answer: Option<Said>,
    /// The challenge this replies to, when the challenger was not satisfied.
    pub in_reply_to: Option<ChallengeId>,
    /// The challenge that replies to this one's answer (it opened the
    /// thread again): a thread is its first challenge and these replies.
    pub replied_by: Option<ChallengeId>,
    /// When whoever made it said they were happy with its answer, and what
    /// they said with it: the thread is closed.
    pub accepted: Option<(Timestamp, Option<Said>)>,
}

impl Challenge {
    /// Whether it is where its thread ends, still waiting on staff or on
    /// whoever made it: not accepted, not replied to.
    pub fn is_latest(&self) -> bool {
        self.replied_by.is_none()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Action {
    pub id: ActionId,
    pub project: ProjectId,
    pub decision: DecisionId,
    pub what: Said,
    pub owner: ParticipantId,
    pub due: Date,
    /// The ideas it acts on; empty: the decision as a whole.
    pub proposals: Vec<ProposalId>,
    pub updates: Vec<Said>,
    pub completed: Option<Said>,
}

/// Time a partner gave to a project (`time.recorded`), and what became of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimeGiven {
    pub id: TimeId,
    pub project: ProjectId,
    pub who: ParticipantId,
    pub hours: Hours,
    pub date: Date,
    pub what_for: TimeFor,
    /// Recorded by the partner themself: paid only once staff agree it.
    pub by_themself: bool,
    pub agreed: bool,
    pub paid_by: Option<PaymentId>,
    pub seq: Seq,
}

/// A payment to a partner for their time (`payment.made`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub project: ProjectId,
    pub who: ParticipantId,
    pub time: Vec<TimeId>,
    pub amount_pence: u32,
    pub form: PaymentForm,
    pub date: Date,
    pub seq: Seq,
}

/// The whole state. Fields are readable; only [`Model::apply`] changes them.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// The last sequence number applied.
    pub last_seq: Option<Seq>,
    /// Events applied that belong to no project (people joining the
    /// organisation's group, erasures, corrections): what may change any
    /// project's figures without changing its own records.
    pub outside_projects: u64,
    pub projects: BTreeMap<ProjectId, Project>,
    /// Everyone who joined or took part: their role and contributions.
    pub people: Table<Person>,
    pub proposals: Table<Proposal>,
    pub decisions: Table<Decision>,
    pub challenges: Table<Challenge>,
    pub actions: Table<Action>,
    pub meeting_ids: HashSet<MeetingId>,
    /// Every correction, in the order made: few, so read by a scan.
    pub corrections: Vec<Correction>,
    /// What is kept of each erased record (its payload without free text),
    /// so the fold still counts it. Loaded before a rebuild (the erasure
    /// comes later in the log than what it erased) and kept up to date.
    pub kept: HashMap<Seq, serde_json::Value>,
    /// People erased on request or by retention: no longer counted as members.
    pub erased: HashSet<ParticipantId>,
    /// Who joined the organisation's group itself (a `participant.joined`
    /// with no project): its partner group takes part in every project.
    pub group: VecMap<ParticipantId, Membership>,
    /// Each project by its last record: which projects changed since a
    /// sequence number, without walking them all.
    pub by_last_change: BTreeMap<Seq, ProjectId>,
    /// How many times anyone joined or left a project or the group: who is
    /// present has not changed while this stays the same.
    pub membership_changes: u64,
    /// Each decision by its stage and day, for the newest at a stage
    /// without sorting them all.
    pub decisions_by_stage: BTreeMap<Stage, BTreeSet<(Date, Timestamp, DecisionId)>>,
    /// What waits on staff, kept as records arrive.
    pub waiting: Waiting,
    /// Where the words that [`Said`] names are read from.
    pub words: Words,
    /// Who was given a way to sign in, by whom, and what became of it.
    pub access: Credentials,
    /// Time partners gave, and payments for it: personal, read only by
    /// the person, staff and admins (`policy::may_read_personal`).
    pub time: BTreeMap<TimeId, TimeGiven>,
    pub payments: BTreeMap<PaymentId, Payment>,
}

/// A correction of a record's words (`record.corrected`). The record
/// stays as it was; wherever its words are shown, the latest correction's
/// words are shown instead ([`Model::text`]), with this to say so.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Correction {
    pub corrects: RecordId,
    /// Where the corrected record is in the log.
    pub target: Option<Seq>,
    /// Which of its words are replaced; `None` for a record with no words
    /// of its own (then the correction is a note about it).
    pub field: Option<Field>,
    /// The project the corrected record belongs to: whoever may read it
    /// may read its corrections.
    pub project: Option<ProjectId>,
    pub words: Said,
    pub reason: Said,
    pub at: Timestamp,
}

/// One of a project's aims.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectAim {
    pub aim_id: AimId,
    pub text: Said,
}

/// One person's part in a decision: who, by their place among people (4
/// bytes where their id is 16: half a million parts at 10^6 records), and
/// the position they took. [`Model::took_part`] says whether it is theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TookPart {
    pub person: Row<Person>,
    pub position: Position,
}

/// A decision's answer to one idea.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdeaAnswer {
    pub proposal_id: ProposalId,
    pub response: Response,
    pub reason: Said,
}

/// A participant, as the log knows them (by id only: names are in the
/// people store).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Person {
    pub id: ParticipantId,
    /// Their role (the same in every project they join), once they joined.
    pub role: Option<Role>,
    /// What they put forward or took part in.
    pub contributions: Vec<Contribution>,
}

macro_rules! keyed {
    ($($row:ty => $key:ty),* $(,)?) => {$(
        impl Keyed for $row {
            type Key = $key;
            fn key(&self) -> $key {
                self.id
            }
        }
    )*};
}

keyed! {
    Person => ParticipantId,
    Proposal => ProposalId,
    Decision => DecisionId,
    Challenge => ChallengeId,
    Action => ActionId,
}

/// What waits on staff across the organisation, kept as records arrive so
/// that a home page costs what waits, not everything ever recorded. Each
/// set is in the order people work through it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Waiting {
    /// Partners' ideas with no answer, not withdrawn: by the day put
    /// forward, then the order recorded.
    #[serde(deserialize_with = "super::dense::set")]
    pub ideas: BTreeSet<(Date, Seq, ProposalId)>,
    /// Challenges with no answer, by when they were made.
    #[serde(deserialize_with = "super::dense::set")]
    pub challenges: BTreeSet<(Timestamp, ChallengeId)>,
    /// Disputes staff have not answered, by the decision's day: decision
    /// and who disputes it.
    #[serde(deserialize_with = "super::dense::set")]
    pub disputes: BTreeSet<(Date, Timestamp, DecisionId, ParticipantId)>,
    /// Actions not yet done, by the day due.
    #[serde(deserialize_with = "super::dense::set")]
    pub actions: BTreeSet<(Date, ActionId)>,
    /// Open projects, by the day their next review is due.
    #[serde(deserialize_with = "super::dense::set")]
    pub reviews: BTreeSet<(Date, ProjectId)>,
}

/// Something one person put forward or took part in (kept in one short
/// list a person: there are as many people as projects have members), by
/// its place in its table: 8 bytes, where an id would make it 17 (650,000
/// of them at 10^6 records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Contribution {
    Proposal(Row<Proposal>),
    /// A decision they took part in, confirmed or disputed.
    Decision(Row<Decision>),
    Challenge(Row<Challenge>),
}

/// What an event may move into or out of [`Waiting`].
#[derive(Default)]
struct Touched {
    proposals: Vec<ProposalId>,
    challenges: Vec<ChallengeId>,
    decision: Option<DecisionId>,
    action: Option<ActionId>,
    project: Option<ProjectId>,
}

impl Touched {
    fn of(event: &Event) -> Touched {
        let mut t = Touched::default();
        match event {
            Event::ProjectStarted(e) => t.project = Some(e.project_id),
            Event::StageChanged(e) => t.project = Some(e.project_id),
            Event::ReviewHeld(e) => t.project = Some(e.project_id),
            Event::ProposalRaised(e) => t.proposals.push(e.proposal_id),
            Event::ProposalWithdrawn(e) => t.proposals.push(e.proposal_id),
            Event::DecisionMade(e) => {
                t.proposals = e.answers.iter().map(|a| a.proposal_id).collect()
            }
            Event::DecisionConfirmed(e) => t.decision = Some(e.decision_id),
            Event::DecisionDisputed(e) => t.decision = Some(e.decision_id),
            Event::DisputeAnswered(e) => t.decision = Some(e.decision_id),
            Event::DecisionChallenged(e) => t.challenges.push(e.challenge_id),
            Event::ChallengeAnswered(e) => t.challenges.push(e.challenge_id),
            Event::ActionCommitted(e) => t.action = Some(e.action_id),
            Event::ActionUpdated(e) => t.action = Some(e.action_id),
            Event::ActionCompleted(e) => t.action = Some(e.action_id),
            _ => {}
        }
        t
    }
}

/// Puts `key` in `set` when `wait`, or takes it out.
fn keep<K: Ord>(set: &mut BTreeSet<K>, key: K, wait: bool) {
    if wait {
        set.insert(key);
    } else {
        set.remove(&key);
    }
}

impl Model {
    /// Checks that an event makes sense against the state; nothing
    /// changes. Who may write it is the permission policy's question (the
    /// core asks it first); this asks only whether it fits the record.
    pub fn check(&self, author: &Author, event: &Event) -> Result<(), Refusal> {
        match event {
            Event::ProjectStarted(e) => {
                if self.projects.contains_key(&e.project_id) {
                    return clash("/project_id", "a project with this id already exists");
                }
                let mut seen = HashSet::new();
                for (i, aim) in e.aims.iter().enumerate() {
                    if !seen.insert(aim.aim_id) {
                        return clash(&format!("/aims/{i}/aim_id"), "two aims have the same id");
                    }
                }
                if self.role(&e.lead) == Some(Role::Partner) {
                    return refuse("/lead", "the lead must be a member of staff, not a partner");
                }
                Ok(())
            }
            Event::StageChanged(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if e.stage <= p.stage {
                    return refuse(
                        "/stage",
                        format!(
                            "a project moves forward only: it is at {} and cannot move to {}",
                            p.stage.words(),
                            e.stage.words()
                        ),
                    );
                }
                Ok(())
            }
            Event::InvolvementChanged(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if p.involvement == e.involvement {
                    return refuse(
                        "/involvement",
                        format!("the project already declares {}", e.involvement.words()),
                    );
                }
                Ok(())
            }
            Event::LeadChanged(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if p.lead == e.lead {
                    return clash("/lead", "this person already leads the project");
                }
                // The lead hears of what happens in the project and its
                // reminders: a member of staff who is part of it now.
                match p.members.get(&e.lead).filter(|m| m.active) {
                    Some(m) if m.role != Role::Staff => {
                        refuse("/lead", "the lead must be a member of staff, not a partner")
                    }
                    Some(_) if !self.erased.contains(&e.lead) => Ok(()),
                    _ => refuse(
                        "/lead",
                        "the new lead must be in the project now: record them joining it first",
                    ),
                }
            }
            Event::ParticipantJoined(e) => {
                match &e.project_id {
                    Some(project) => {
                        let p = self.open_project(project, "/project_id")?;
                        if p.members.get(&e.participant_id).is_some_and(|m| m.active) {
                            return clash(
                                "/participant_id",
                                "this participant is already in the project",
                            );
                        }
                    }
                    None if self.group.get(&e.participant_id).is_some_and(|m| m.active) => {
                        return clash(
                            "/participant_id",
                            "this participant is already in the organisation's group",
                        );
                    }
                    None => {}
                }
                if let Some(role) = self.role(&e.participant_id)
                    && role != e.role
                {
                    return refuse(
                        "/role",
                        "this participant joined elsewhere with the other role; a person has one role",
                    );
                }
                Ok(())
            }
            Event::ParticipantLeft(e) => {
                let members = match &e.project_id {
                    Some(project) => &self.project(project, "/project_id")?.members,
                    None => &self.group,
                };
                if !members.get(&e.participant_id).is_some_and(|m| m.active) {
                    return refuse(
                        "/participant_id",
                        if e.project_id.is_some() {
                            "this participant is not in the project"
                        } else {
                            "this participant is not in the organisation's group"
                        },
                    );
                }
                Ok(())
            }
            Event::MeetingHeld(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if self.meeting_ids.contains(&e.meeting_id) {
                    return clash("/meeting_id", "a meeting with this id already exists");
                }
                if e.attendees.is_empty() {
                    return refuse("/attendees", "a meeting needs at least one attendee");
                }
                let mut seen = HashSet::new();
                for (i, a) in e.attendees.iter().enumerate() {
                    if !p.members.contains_key(a) {
                        return refuse(
                            &format!("/attendees/{i}"),
                            "this person has not joined the project",
                        );
                    }
                    if !seen.insert(a) {
                        return refuse(&format!("/attendees/{i}"), "this person is listed twice");
                    }
                }
                Ok(())
            }
            Event::TimeRecorded(e) => self.check_time(author, e),
            Event::TimeAgreed(e) => {
                let t = self
                    .time
                    .get(&e.time_id)
                    .ok_or_else(|| missing("/time_id", "there is no time recorded with this id"))?;
                if !t.by_themself || t.agreed {
                    return clash("/time_id", "this time is agreed already");
                }
                Ok(())
            }
            Event::PaymentMade(e) => self.check_payment(e),
            Event::ProposalRaised(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if self.proposals.contains_key(&e.proposal_id) {
                    return clash("/proposal_id", "a proposal with this id already exists");
                }
                match (e.for_participant, e.given_by) {
                    (None, None) => Ok(()),
                    (Some(_), None) => refuse(
                        "/given_by",
                        "say how the partner gave it (in person, by phone, on paper, by email, by text message)",
                    ),
                    (None, Some(_)) => refuse("/for_participant", "say which partner gave it"),
                    (Some(who), Some(_)) => {
                        if author.role == super::author::AuthorRole::Partner {
                            return Err(Refusal::forbidden(
                                "staff record an idea for a partner; a partner puts forward their own",
                            )
                            .at("/for_participant"));
                        }
                        if !p
                            .members
                            .get(&who)
                            .is_some_and(|m| m.active && m.role == Role::Partner)
                        {
                            return refuse(
                                "/for_participant",
                                "this person is not a co-production partner of the project",
                            );
                        }
                        Ok(())
                    }
                }
            }
            Event::ProposalWithdrawn(e) => {
                let pr = self.proposal(&e.proposal_id, "/proposal_id")?;
                if pr.withdrawn.is_some() {
                    return clash("/proposal_id", "this proposal was already withdrawn");
                }
                Ok(())
            }
            Event::DecisionMade(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if self.decisions.contains_key(&e.decision_id) {
                    return clash("/decision_id", "a decision with this id already exists");
                }
                // A decision is made at the stage the project is at: the
                // jointness figures are counted by stage, so a decision
                // filed under another stage would move them.
                if e.stage != p.stage {
                    return refuse(
                        "/stage",
                        format!(
                            "the project is at the {} stage, so its decisions are {} decisions, not {}",
                            p.stage.words(),
                            p.stage.words(),
                            e.stage.words()
                        ),
                    );
                }
                if e.participants.is_empty() {
                    return refuse("/participants", "say who took part in the decision");
                }
                if e.method == Method::OnePerson && e.participants.len() != 1 {
                    return refuse(
                        "/participants",
                        "a decision by one person lists exactly one participant",
                    );
                }
                let mut seen = HashSet::new();
                for (i, part) in e.participants.iter().enumerate() {
                    let at = format!("/participants/{i}/participant_id");
                    if !p
                        .members
                        .get(&part.participant_id)
                        .is_some_and(|m| m.active)
                    {
                        return refuse(&at, "this person is not in the project");
                    }
                    if !seen.insert(part.participant_id) {
                        return refuse(&at, "this person is listed twice");
                    }
                    // "Everyone agreed" cannot list someone who disagreed.
                    if e.method == Method::Consensus && part.position == Position::Disagree {
                        return refuse(
                            &format!("/participants/{i}/position"),
                            "a consensus means no one disagreed; if someone did, it was decided by a vote or by staff, so say which",
                        );
                    }
                }
                let mut answered = HashSet::new();
                for (i, a) in e.answers.iter().enumerate() {
                    let at = format!("/answers/{i}/proposal_id");
                    let pr = self.proposal(&a.proposal_id, &at)?;
                    if pr.project != e.project_id {
                        return refuse(&at, "this proposal belongs to another project");
                    }
                    if pr.withdrawn.is_some() {
                        return refuse(&at, "this proposal was withdrawn");
                    }
                    if !answered.insert(a.proposal_id) {
                        return refuse(&at, "this proposal is answered twice");
                    }
                }
                Ok(())
            }
            Event::DecisionConfirmed(DecisionConfirmed { decision_id })
            | Event::DecisionDisputed(DecisionDisputed { decision_id, .. }) => {
                let d = self.decision(decision_id, "/decision_id")?;
                // Saying the same thing twice adds nothing to the record;
                // changing one's mind (confirm, then dispute) does.
                let before = author.participant.and_then(|me| d.stances().get(&me));
                // A partner may confirm again, in their own name, what
                // was confirmed with a card staff made; the card may not.
                let confirmed = match before {
                    Some(Stance::Confirmed) => true,
                    Some(Stance::ConfirmedOnStaffCard(_)) => {
                        self.access.on_a_card_staff_made(author.credential)
                    }
                    _ => false,
                };
                match (event, before) {
                    (Event::DecisionConfirmed(_), _) if confirmed => clash(
                        "/decision_id",
                        "you have already confirmed your part in this decision",
                    ),
                    (Event::DecisionDisputed(_), Some(Stance::Disputed(_))) => clash(
                        "/decision_id",
                        "you have already disputed your part in this decision; to say more, challenge the decision",
                    ),
                    _ => Ok(()),
                }
            }
            Event::DecisionChallenged(e) => {
                let d = self.decision(&e.decision_id, "/decision_id")?;
                self.open_project(&d.project, "/decision_id")?;
                if self.challenges.contains_key(&e.challenge_id) {
                    return clash("/challenge_id", "a challenge with this id already exists");
                }
                if let Some(earlier) = &e.in_reply_to {
                    let c = self.challenges.get(earlier).ok_or_else(|| {
                        missing("/in_reply_to", "there is no challenge with this id")
                    })?;
                    if c.decision != e.decision_id {
                        return refuse("/in_reply_to", "that challenge is about another decision");
                    }
                    if c.answer.is_none() {
                        return clash(
                            "/in_reply_to",
                            "that challenge has not been answered yet, so there is nothing to reply to",
                        );
                    }
                    if c.replied_by.is_some() {
                        return clash(
                            "/in_reply_to",
                            "that answer has been replied to already: reply to the latest answer in the thread",
                        );
                    }
                    if c.accepted.is_some() {
                        return clash(
                            "/in_reply_to",
                            "that answer was accepted, so the challenge is closed: challenge the decision again instead",
                        );
                    }
                }
                Ok(())
            }
            Event::ChallengeAccepted(e) => {
                let c = self.challenges.get(&e.challenge_id).ok_or_else(|| {
                    missing("/challenge_id", "there is no challenge with this id")
                })?;
                if c.by.is_none() || author.participant != c.by {
                    return Err(Refusal::forbidden(
                        "only the person who made a challenge can say they are happy with its answer",
                    )
                    .at("/challenge_id"));
                }
                if c.answer.is_none() {
                    return clash(
                        "/challenge_id",
                        "this challenge has not been answered yet, so there is no answer to accept",
                    );
                }
                if c.accepted.is_some() {
                    return clash("/challenge_id", "this answer has been accepted already");
                }
                if c.replied_by.is_some() {
                    return clash(
                        "/challenge_id",
                        "you replied to this answer already: accept the latest answer in the thread",
                    );
                }
                Ok(())
            }
            Event::DisputeAnswered(e) => {
                let d = self.decision(&e.decision_id, "/decision_id")?;
                match d.stances().get(&e.participant_id) {
                    Some(Stance::Disputed(_)) => {}
                    _ => {
                        return Err(missing(
                            "/participant_id",
                            "this person does not dispute their part in this decision",
                        ));
                    }
                }
                if d.dispute_answers().contains_key(&e.participant_id) {
                    return clash("/participant_id", "this dispute has already been answered");
                }
                Ok(())
            }
            Event::ChallengeAnswered(e) => {
                let c = self.challenges.get(&e.challenge_id).ok_or_else(|| {
                    missing("/challenge_id", "there is no challenge with this id")
                })?;
                if c.answer.is_some() {
                    return clash("/challenge_id", "this challenge has already been answered");
                }
                Ok(())
            }
            Event::ActionCommitted(e) => {
                let p = self.open_project(&e.project_id, "/project_id")?;
                if self.actions.contains_key(&e.action_id) {
                    return clash("/action_id", "an action with this id already exists");
                }
                let d = self.decision(&e.decision_id, "/decision_id")?;
                if d.project != e.project_id {
                    return refuse("/decision_id", "this decision belongs to another project");
                }
                if !d.answers.is_empty()
                    && d.answers.iter().all(|a| {
                        self.proposals
                            .get(&a.proposal_id)
                            .is_some_and(|pr| pr.withdrawn.is_some())
                    })
                {
                    return refuse(
                        "/decision_id",
                        "the proposals this decision answered were withdrawn; make a new decision first",
                    );
                }
                if !p.members.get(&e.owner).is_some_and(|m| m.active) {
                    return refuse("/owner", "the owner must be in the project");
                }
                let mut seen = HashSet::new();
                for (i, id) in e.proposal_ids.iter().enumerate() {
                    let at = format!("/proposal_ids/{i}");
                    if !d.answers.iter().any(|a| a.proposal_id == *id) {
                        return refuse(&at, "this decision does not answer this idea");
                    }
                    if !seen.insert(*id) {
                        return refuse(&at, "this idea is listed twice");
                    }
                }
                Ok(())
            }
            Event::ActionUpdated(ActionUpdated { action_id, .. })
            | Event::ActionCompleted(ActionCompleted { action_id, .. }) => {
                let a = self
                    .actions
                    .get(action_id)
                    .ok_or_else(|| missing("/action_id", "there is no action with this id"))?;
                if a.completed.is_some() {
                    return clash("/action_id", "this action is already completed");
                }
                Ok(())
            }
            Event::OutcomeRecorded(e) => {
                let p = self.project(&e.project_id, "/project_id")?;
                if !p.aims.iter().any(|a| a.aim_id == e.aim_id) {
                    return refuse("/aim_id", "this project has no aim with this id");
                }
                Ok(())
            }
            Event::ReviewHeld(e) => {
                self.project(&e.project_id, "/project_id")?;
                Ok(())
            }
            // That the corrected record exists is checked by `Rules`, against
            // the log's id index: a set of every id here would grow with
            // the log and be held twice (by the writer and by readers).
            Event::RecordCorrected(_) => Ok(()),
            Event::RetentionApplied(_) => Ok(()),
            Event::AccessGranted(_)
            | Event::AccessUsed(_)
            | Event::AccessClaimed(_)
            | Event::AccessRevoked(_) => self.access.check(author, event),
            Event::RecordRedacted(e) => {
                let next = self.last_seq.map_or(0, |s| s + 1);
                if e.records.is_empty() && e.participant.is_none() {
                    return refuse(
                        "/records",
                        "name at least one record, or the person, to erase",
                    );
                }
                let mut seen = std::collections::BTreeSet::new();
                for (i, r) in e.records.iter().enumerate() {
                    if r.seq >= next {
                        return refuse(&format!("/records/{i}/seq"), "there is no such record yet");
                    }
                    if !seen.insert(r.seq) {
                        return refuse(&format!("/records/{i}/seq"), "this record is named twice");
                    }
                }
                Ok(())
            }
        }
    }

    /// The project an event belongs to (none for corrections, which can
    /// point at any record).
    pub fn project_of(&self, event: &Event) -> Option<ProjectId> {
        match event {
            Event::ProjectStarted(e) => Some(e.project_id),
            Event::StageChanged(e) => Some(e.project_id),
            Event::InvolvementChanged(e) => Some(e.project_id),
            Event::LeadChanged(e) => Some(e.project_id),
            Event::ParticipantJoined(e) => e.project_id,
            Event::ParticipantLeft(e) => e.project_id,
            Event::MeetingHeld(e) => Some(e.project_id),
            Event::TimeRecorded(e) => Some(e.project_id),
            Event::TimeAgreed(e) => self.time.get(&e.time_id).map(|t| t.project),
            Event::PaymentMade(e) => Some(e.project_id),
            Event::ProposalRaised(e) => Some(e.project_id),
            Event::DecisionMade(e) => Some(e.project_id),
            Event::ActionCommitted(e) => Some(e.project_id),
            Event::OutcomeRecorded(e) => Some(e.project_id),
            Event::ReviewHeld(e) => Some(e.project_id),
            Event::ProposalWithdrawn(e) => self.proposals.get(&e.proposal_id).map(|p| p.project),
            Event::DecisionConfirmed(DecisionConfirmed { decision_id })
            | Event::DecisionDisputed(DecisionDisputed { decision_id, .. })
            | Event::DecisionChallenged(DecisionChallenged { decision_id, .. }) => {
                self.decisions.get(decision_id).map(|d| d.project)
            }
            Event::DisputeAnswered(e) => self.decisions.get(&e.decision_id).map(|d| d.project),
            Event::ChallengeAnswered(ChallengeAnswered { challenge_id, .. })
            | Event::ChallengeAccepted(ChallengeAccepted { challenge_id, .. }) => self
                .challenges
                .get(challenge_id)
                .and_then(|c| self.decisions.get(&c.decision))
                .map(|d| d.project),
            Event::ActionUpdated(ActionUpdated { action_id, .. })
            | Event::ActionCompleted(ActionCompleted { action_id, .. }) => {
                self.actions.get(action_id).map(|a| a.project)
            }
            Event::RecordCorrected(_)
            | Event::RecordRedacted(_)
            | Event::RetentionApplied(_)
            | Event::AccessGranted(_)
            | Event::AccessUsed(_)
            | Event::AccessClaimed(_)
            | Event::AccessRevoked(_) => None,
        }
    }

    /// How `who` belongs to `project`: their membership of the project, or
    /// else of the organisation's group (whose partners take part in every
    /// project). `None`: they were never part of it.
    pub fn membership(&self, who: &ParticipantId, project: &ProjectId) -> Option<&Membership> {
        self.projects
            .get(project)?
            .members
            .get(who)
            .or_else(|| self.group.get(who))
    }

    /// The projects a participant has been part of.
    pub fn projects_of(&self, who: &ParticipantId) -> std::collections::BTreeSet<ProjectId> {
        self.projects
            .values()
            .filter(|p| p.members.contains_key(who))
            .map(|p| p.id)
            .collect()
    }

    /// Time may be recorded for a partner of the project (one who left
    /// still has time to be paid), by staff, or by the partner for
    /// themself; a meeting it names is the project's.
    fn check_time(&self, author: &Author, e: &TimeRecorded) -> Result<(), Refusal> {
        let p = self.project(&e.project_id, "/project_id")?;
        if self.time.contains_key(&e.time_id) {
            return clash("/time_id", "time with this id is recorded already");
        }
        if p.members.get(&e.participant_id).map(|m| m.role) != Some(Role::Partner) {
            return refuse(
                "/participant_id",
                "time is recorded for a co-production partner of the project; this person is not one",
            );
        }
        if author.role == super::author::AuthorRole::Partner
            && author.participant != Some(e.participant_id)
        {
            return Err(Refusal::forbidden(
                "a partner records their own time; staff record time for others",
            )
            .at("/participant_id"));
        }
        if let Some(m) = &e.meeting_id
            && !p.meetings.iter().any(|x| x.id == *m)
        {
            return refuse("/meeting_id", "this meeting is not one of the project's");
        }
        Ok(())
    }

    /// A payment pays the partner's own time in its project, each record
    /// once, agreed where they recorded it themself; declining is for 0.
    fn check_payment(&self, e: &PaymentMade) -> Result<(), Refusal> {
        self.project(&e.project_id, "/project_id")?;
        if self.payments.contains_key(&e.payment_id) {
            return clash("/payment_id", "a payment with this id is recorded already");
        }
        if e.time_ids.is_empty() {
            return refuse("/time_ids", "a payment names the time it pays");
        }
        let mut seen = HashSet::new();
        for (i, id) in e.time_ids.iter().enumerate() {
            let at = format!("/time_ids/{i}");
            let t = self
                .time
                .get(id)
                .ok_or_else(|| missing(&at, "there is no time recorded with this id"))?;
            if !seen.insert(id) {
                return refuse(&at, "this time is listed twice");
            }
            if t.project != e.project_id {
                return refuse(&at, "this time was given to another project");
            }
            if t.who != e.participant_id {
                return refuse(&at, "this time was given by someone else");
            }
            if let Some(paid) = t.paid_by {
                return clash(&at, format!("this time is paid already, by payment {paid}"));
            }
            if t.by_themself && !t.agreed {
                return refuse(
                    &at,
                    "the partner recorded this time themself: agree it (time.agreed) before paying it",
                );
            }
        }
        match (e.form, e.amount_pence) {
            (PaymentForm::Declined, 0) => Ok(()),
            (PaymentForm::Declined, _) => {
                refuse("/amount_pence", "a payment the partner declined is for 0")
            }
            (_, 0) => refuse(
                "/amount_pence",
                "a payment by bank transfer or in vouchers is for more than 0; if the partner chose not to be paid, the form is declined",
            ),
            _ => Ok(()),
        }
    }

    /// Time given to `project` (all of it with `None`).
    pub fn time_in<'m>(
        &'m self,
        project: Option<&'m ProjectId>,
    ) -> impl Iterator<Item = &'m TimeGiven> {
        self.time
            .values()
            .filter(move |t| project.is_none_or(|p| t.project == *p))
    }

    fn project(&self, id: &ProjectId, at: &str) -> Result<&Project, Refusal> {
        self.projects
            .get(id)
            .ok_or_else(|| missing(at, "there is no project with this id"))
    }

    fn open_project(&self, id: &ProjectId, at: &str) -> Result<&Project, Refusal> {
        let p = self.project(id, at)?;
        if p.stage == Stage::Closed {
            return refuse(at, "this project is closed");
        }
        Ok(p)
    }

    fn proposal(&self, id: &ProposalId, at: &str) -> Result<&Proposal, Refusal> {
        self.proposals
            .get(id)
            .ok_or_else(|| missing(at, "there is no proposal with this id"))
    }

    fn decision(&self, id: &DecisionId, at: &str) -> Result<&Decision, Refusal> {
        self.decisions
            .get(id)
            .ok_or_else(|| missing(at, "there is no decision with this id"))
    }

    fn member_role(&self, id: &ParticipantId) -> Option<Role> {
        self.role(id)
    }

    /// Gives back the room its tables hold spare after a fold from the
    /// start (each grew by doubling).
    pub fn shrink_to_fit(&mut self) {
        self.people.shrink_to_fit();
        self.proposals.shrink_to_fit();
        self.decisions.shrink_to_fit();
        self.challenges.shrink_to_fit();
        self.actions.shrink_to_fit();
    }

    /// The words `said` names, as the record now says them: the latest
    /// correction's words if they were corrected, else read from the
    /// record that holds them (or [`UNREADABLE`](super::said::UNREADABLE)
    /// if it cannot be read).
    pub fn text(&self, said: &Said) -> String {
        self.said(said).into_string()
    }

    /// [`text`](Self::text), as the checked [`Text`] it was recorded as.
    pub fn said(&self, said: &Said) -> Text {
        let now = self.correction_of(said).map_or(*said, |c| c.words);
        self.words.read(&now, &self.kept)
    }

    /// The words `said` names as first recorded, before any correction.
    pub fn first_said(&self, said: &Said) -> String {
        self.words.read(said, &self.kept).into_string()
    }

    /// The latest correction of the words `said` names, if any.
    pub fn correction_of(&self, said: &Said) -> Option<&Correction> {
        self.corrections_of(said).last()
    }

    /// Every correction of the words `said` names, the earliest first.
    pub fn corrections_of<'m>(&'m self, said: &Said) -> impl Iterator<Item = &'m Correction> {
        let (seq, field) = (said.seq(), said.field());
        self.corrections
            .iter()
            .filter(move |c| c.target == Some(seq) && c.field == Some(field))
    }

    /// The corrections of the record at `seq`, whichever words they replace.
    pub fn corrections_of_record(&self, seq: Seq) -> impl Iterator<Item = &Correction> {
        self.corrections
            .iter()
            .filter(move |c| c.target == Some(seq))
    }

    /// What a record is read as, for who may read it: its project and
    /// place in the log, except that a correction is read as the record it
    /// corrects (whoever may read a record may read its corrections).
    pub fn read_as(&self, event: Option<&Event>, seq: Seq) -> (Option<ProjectId>, Seq) {
        if let Some(Event::RecordCorrected(e)) = event
            && let Some(c) = self.corrections.iter().find(|c| c.corrects == e.corrects)
        {
            return (c.project, c.target.unwrap_or(seq));
        }
        (event.and_then(|e| self.project_of(e)), seq)
    }

    /// A challenge's thread, from its first challenge: that challenge and
    /// each reply that opened it again, in order.
    pub fn thread<'m>(&'m self, first: &'m Challenge) -> Vec<&'m Challenge> {
        let mut thread = vec![first];
        while let Some(next) = (thread.last())
            .and_then(|c| c.replied_by)
            .and_then(|id| self.challenges.get(&id))
        {
            thread.push(next);
        }
        thread
    }

    /// The first challenge of the thread `c` is in.
    pub fn first_of_thread<'m>(&'m self, c: &'m Challenge) -> &'m Challenge {
        let mut first = c;
        while let Some(earlier) = first.in_reply_to.and_then(|id| self.challenges.get(&id)) {
            first = earlier;
        }
        first
    }

    /// Who took `part`.
    pub fn who(&self, part: &TookPart) -> Option<ParticipantId> {
        self.people.row(part.person).map(|p| p.id)
    }

    /// Whether `who` took part in `d`.
    pub fn took_part(&self, who: &ParticipantId, d: &Decision) -> bool {
        self.people
            .row_of(who)
            .is_some_and(|me| d.parts.iter().any(|part| part.person == me))
    }

    /// The role of whoever took `part`.
    pub fn role_in(&self, part: &TookPart) -> Option<Role> {
        self.people.row(part.person).and_then(|p| p.role)
    }

    /// A participant's role, once they joined.
    pub fn role(&self, id: &ParticipantId) -> Option<Role> {
        self.people.get(id).and_then(|p| p.role)
    }

    /// What `who` put forward or took part in, oldest first.
    pub fn contributions(&self, who: &ParticipantId) -> &[Contribution] {
        self.people
            .get(who)
            .map_or(&[], |p| p.contributions.as_slice())
    }

    fn person(&mut self, id: ParticipantId) -> &mut Person {
        self.people.get_or_insert_with(id, || Person {
            id,
            role: None,
            contributions: Vec::new(),
        })
    }

    /// Notes what `who` put forward or took part in (something new).
    fn contribute(&mut self, who: ParticipantId, c: Contribution) {
        self.person(who).contributions.push(c);
    }

    /// Notes a decision `who` confirmed or disputed, unless they are
    /// already noted as taking part.
    fn contribute_once(&mut self, who: ParticipantId, c: Contribution) {
        let mine = &mut self.person(who).contributions;
        if !mine.contains(&c) {
            mine.push(c);
        }
    }

    fn touch(&mut self, project: ProjectId, who: ParticipantId) {
        if let Some(m) = self
            .projects
            .get_mut(&project)
            .and_then(|p| p.members.get_mut(&who))
        {
            m.involvements += 1;
        }
    }

    /// Applies a record (already checked, or read from a verified log).
    /// `event` is `None` for extension types and redacted payloads.
    pub fn apply(&mut self, record: &Record, event: Option<Event>) {
        self.last_seq = Some(record.seq());
        let Some(event) = event else { return };
        let project = self.project_of(&event);
        // Access records change no figures.
        if project.is_none() && !event.is_about_access() {
            self.outside_projects += 1;
        }
        self.words.hold(record.seq(), record.id(), &event);
        let touched = Touched::of(&event);
        self.wait(&touched, false);
        self.apply_event(record, event);
        self.wait(&touched, true);
        if let Some(p) = project.and_then(|id| self.projects.get_mut(&id)) {
            if let Some(old) = p.last_seq.replace(record.seq()) {
                self.by_last_change.remove(&old);
            }
            self.by_last_change.insert(record.seq(), p.id);
        }
    }

    /// Takes what `t` names out of [`Waiting`] (as it stands before the
    /// event), or puts back what still waits (after it).
    fn wait(&mut self, t: &Touched, after: bool) {
        let w = &mut self.waiting;
        for p in t.proposals.iter().filter_map(|id| self.proposals.get(id)) {
            let waits = p.by_partner && p.withdrawn.is_none() && p.answers.is_empty();
            keep(&mut w.ideas, (p.day(), p.seq, p.id), after && waits);
        }
        for c in t.challenges.iter().filter_map(|id| self.challenges.get(id)) {
            keep(&mut w.challenges, (c.at, c.id), after && c.answer.is_none());
        }
        if let Some(d) = t.decision.and_then(|id| self.decisions.get(&id)) {
            for (who, stance) in d.stances() {
                let waits =
                    matches!(stance, Stance::Disputed(_)) && !d.dispute_answers().contains_key(who);
                keep(&mut w.disputes, (d.day(), d.at, d.id, *who), after && waits);
            }
        }
        if let Some(a) = t.action.and_then(|id| self.actions.get(&id)) {
            keep(
                &mut w.actions,
                (a.due, a.id),
                after && a.completed.is_none(),
            );
        }
        if let Some(p) = t.project.and_then(|id| self.projects.get(&id))
            && let Some(due) = p.next_review()
        {
            keep(&mut w.reviews, (due, p.id), after);
        }
    }

    /// The projects whose records changed after `seq` (all of them for
    /// `None`), each once, in the order they last changed.
    pub fn changed_since(&self, seq: Option<Seq>) -> impl Iterator<Item = &Project> {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = seq.map_or(Unbounded, Excluded);
        self.by_last_change
            .range((from, Unbounded))
            .filter_map(|(_, id)| self.projects.get(id))
    }

    /// The decisions made at `stage`, the newest first (by the day they
    /// were made, then when recorded).
    pub fn newest_decisions(&self, stage: Stage) -> impl Iterator<Item = &Decision> {
        self.decisions_by_stage
            .get(&stage)
            .into_iter()
            .flat_map(|at_stage| at_stage.iter().rev())
            .filter_map(|(.., id)| self.decisions.get(id))
    }

    /// Optimistic concurrency: the event's project must not have moved past
    /// what the writer last read.
    pub fn check_expected(&self, event: Option<&Event>, expected: Seq) -> Result<(), Refusal> {
        let project = event.and_then(|e| self.project_of(e)).ok_or_else(|| {
            Refusal::invalid(
                "this event belongs to no project, so there is no last record to expect",
            )
            .at("/expected_last_seq")
        })?;
        let last = self.projects.get(&project).and_then(|p| p.last_seq);
        if last != Some(expected) {
            return clash(
                "/expected_last_seq",
                format!(
                    "the project has changed: its last record is now {}, not {expected}; read it again and retry",
                    last.map_or("none".to_string(), |s| s.to_string())
                ),
            );
        }
        Ok(())
    }

    fn apply_event(&mut self, record: &Record, event: Event) {
        let author = Author::from_actor(record.actor());
        let at = record.at();
        let seq = record.seq();
        let said = |field| Said::at(seq, field);
        match event {
            Event::ProjectStarted(e) => {
                self.projects.insert(
                    e.project_id,
                    Project {
                        id: e.project_id,
                        title: said(Field::Title),
                        summary: said(Field::Summary),
                        involvement: e.involvement,
                        stage: Stage::Conception,
                        lead: e.lead,
                        aims: (e.aims.iter().enumerate())
                            .map(|(i, a)| ProjectAim {
                                aim_id: a.aim_id,
                                text: said(Field::Aim(i as u16)),
                            })
                            .collect(),
                        started_at: at,
                        started_on: e.started_on,
                        members: VecMap::new(),
                        meetings: Vec::new(),
                        proposals: Vec::new(),
                        decisions: Vec::new(),
                        actions: Vec::new(),
                        outcomes: Vec::new(),
                        reviews: Vec::new(),
                        changes: Vec::new(),
                        last_seq: None,
                    },
                );
            }
            Event::StageChanged(e) => {
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.stage = e.stage;
                    p.changes.push(ProjectChange::Stage { at, to: e.stage });
                }
            }
            Event::InvolvementChanged(e) => {
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.changes.push(ProjectChange::Involvement {
                        at,
                        from: p.involvement,
                        to: e.involvement,
                        reason: said(Field::Reason),
                    });
                    p.involvement = e.involvement;
                }
            }
            Event::LeadChanged(e) => {
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.lead = e.lead;
                }
            }
            Event::ParticipantJoined(e) => {
                self.membership_changes += 1;
                self.person(e.participant_id).role.get_or_insert(e.role);
                let members = match e.project_id {
                    Some(id) => self.projects.get_mut(&id).map(|p| &mut p.members),
                    None => Some(&mut self.group),
                };
                if let Some(members) = members {
                    let m = members.get_or_insert_with(e.participant_id, || Membership {
                        role: e.role,
                        active: true,
                        left_at: None,
                        involvements: 0,
                    });
                    m.active = true;
                    m.left_at = None;
                }
            }
            Event::ParticipantLeft(e) => {
                self.membership_changes += 1;
                let members = match e.project_id {
                    Some(id) => self.projects.get_mut(&id).map(|p| &mut p.members),
                    None => Some(&mut self.group),
                };
                if let Some(m) = members.and_then(|m| m.get_mut(&e.participant_id)) {
                    m.active = false;
                    m.left_at = Some(record.seq());
                }
            }
            Event::TimeRecorded(e) => {
                let by_themself =
                    Author::from_actor(record.actor()).participant == Some(e.participant_id);
                self.touch(e.project_id, e.participant_id);
                self.time.insert(
                    e.time_id,
                    TimeGiven {
                        id: e.time_id,
                        project: e.project_id,
                        who: e.participant_id,
                        hours: e.hours,
                        date: e.date,
                        what_for: e.what_for,
                        by_themself,
                        agreed: !by_themself,
                        paid_by: None,
                        seq: record.seq(),
                    },
                );
            }
            Event::TimeAgreed(e) => {
                if let Some(t) = self.time.get_mut(&e.time_id) {
                    t.agreed = true;
                }
            }
            Event::PaymentMade(e) => {
                for id in &e.time_ids {
                    if let Some(t) = self.time.get_mut(id) {
                        t.paid_by = Some(e.payment_id);
                    }
                }
                self.payments.insert(
                    e.payment_id,
                    Payment {
                        id: e.payment_id,
                        project: e.project_id,
                        who: e.participant_id,
                        time: e.time_ids.clone(),
                        amount_pence: e.amount_pence,
                        form: e.form,
                        date: e.date,
                        seq: record.seq(),
                    },
                );
            }
            Event::MeetingHeld(e) => {
                self.meeting_ids.insert(e.meeting_id);
                for a in &e.attendees {
                    self.touch(e.project_id, *a);
                }
                let partners = e
                    .attendees
                    .iter()
                    .filter(|a| self.role(a) == Some(Role::Partner))
                    .count() as u32;
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.meetings.push(Meeting {
                        id: e.meeting_id,
                        date: e.date,
                        partners,
                        others: e.attendees.len() as u32 - partners,
                        materials_in_advance: e.materials_in_advance,
                        summary: said(Field::Summary),
                    });
                }
            }
            Event::ProposalRaised(e) => {
                // Recorded for a partner: theirs, as if they had typed it.
                let by = e.for_participant.or(author.participant);
                let by_partner = by.and_then(|b| self.member_role(&b)) == Some(Role::Partner);
                self.proposals.insert(Proposal {
                    id: e.proposal_id,
                    project: e.project_id,
                    text: said(Field::Text),
                    by,
                    by_partner,
                    raised_at: at,
                    raised_on: e.raised_on,
                    seq: record.seq(),
                    withdrawn: None,
                    answers: Vec::new(),
                    given: e
                        .for_participant
                        .and(e.given_by)
                        .map(|how| (how, author.participant)),
                });
                if let (Some(by), Some(row)) = (by, self.proposals.row_of(&e.proposal_id)) {
                    self.contribute(by, Contribution::Proposal(row));
                }
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.proposals.push(e.proposal_id);
                }
                if let Some(b) = by {
                    self.touch(e.project_id, b);
                }
            }
            Event::ProposalWithdrawn(e) => {
                if let Some(p) = self.proposals.get_mut(&e.proposal_id) {
                    p.withdrawn = Some(said(Field::Reason));
                }
            }
            Event::DecisionMade(e) => {
                let answers: Vec<IdeaAnswer> = (e.answers.iter().enumerate())
                    .map(|(i, a)| IdeaAnswer {
                        proposal_id: a.proposal_id,
                        response: a.response,
                        reason: said(Field::AnswerReason(i as u16)),
                    })
                    .collect();
                for a in &answers {
                    if let Some(p) = self.proposals.get_mut(&a.proposal_id) {
                        p.answers.push((e.decision_id, a.response, a.reason));
                    }
                }
                for part in &e.participants {
                    self.touch(e.project_id, part.participant_id);
                    // Each takes their place among people in the order
                    // they are named, before the decision is added.
                    self.person(part.participant_id);
                }
                let took_part: Vec<ParticipantId> =
                    e.participants.iter().map(|p| p.participant_id).collect();
                let parts = (e.participants.iter())
                    .filter_map(|p| {
                        Some(TookPart {
                            person: self.people.row_of(&p.participant_id)?,
                            position: p.position,
                        })
                    })
                    .collect();
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.decisions.push(e.decision_id);
                }
                let d = Decision {
                    id: e.decision_id,
                    project: e.project_id,
                    made_in: RecordAt::new(seq),
                    stage: e.stage,
                    method: e.method,
                    parts,
                    answers,
                    at,
                    made_on: e.made_on,
                    after: None,
                    actions: Vec::new(),
                };
                self.decisions_by_stage
                    .entry(d.stage)
                    .or_default()
                    .insert((d.day(), d.at, d.id));
                self.decisions.insert(d);
                if let Some(row) = self.decisions.row_of(&e.decision_id) {
                    for who in took_part {
                        self.contribute(who, Contribution::Decision(row));
                    }
                }
            }
            Event::DecisionConfirmed(e) => {
                if let (Some(me), Some(row)) =
                    (author.participant, self.decisions.row_of(&e.decision_id))
                {
                    self.contribute_once(me, Contribution::Decision(row));
                }
                let stance = match author.credential {
                    Some(card) if self.access.on_a_card_staff_made(Some(card)) => {
                        Stance::ConfirmedOnStaffCard(card)
                    }
                    _ => Stance::Confirmed,
                };
                if let (Some(d), Some(me)) =
                    (self.decisions.get_mut(&e.decision_id), author.participant)
                {
                    let after = d.after_mut();
                    after.stances.insert(me, stance);
                    after.dispute_answers.remove(&me);
                }
            }
            Event::DecisionDisputed(e) => {
                if let (Some(me), Some(row)) =
                    (author.participant, self.decisions.row_of(&e.decision_id))
                {
                    self.contribute_once(me, Contribution::Decision(row));
                }
                if let (Some(d), Some(me)) =
                    (self.decisions.get_mut(&e.decision_id), author.participant)
                {
                    let after = d.after_mut();
                    after
                        .stances
                        .insert(me, Stance::Disputed(said(Field::Reason)));
                    // A new dispute waits for a new answer.
                    after.dispute_answers.remove(&me);
                }
            }
            Event::DisputeAnswered(e) => {
                if let Some(d) = self.decisions.get_mut(&e.decision_id) {
                    d.after_mut()
                        .dispute_answers
                        .insert(e.participant_id, said(Field::Answer));
                }
            }
            Event::DecisionChallenged(e) => {
                let by = author.participant;
                let by_partner = by.and_then(|b| self.member_role(&b)) == Some(Role::Partner);
                if let Some(d) = self.decisions.get_mut(&e.decision_id) {
                    d.after_mut().challenges.push(e.challenge_id);
                }
                self.challenges.insert(Challenge {
                    id: e.challenge_id,
                    decision: e.decision_id,
                    by,
                    by_partner,
                    reason: said(Field::Reason),
                    at,
                    answer: None,
                    in_reply_to: e.in_reply_to,
                    replied_by: None,
                    accepted: None,
                });
                if let Some(c) = e.in_reply_to.and_then(|r| self.challenges.get_mut(&r)) {
                    c.replied_by = Some(e.challenge_id);
                }
                if let (Some(by), Some(row)) = (by, self.challenges.row_of(&e.challenge_id)) {
                    self.contribute(by, Contribution::Challenge(row));
                }
            }
            Event::ChallengeAnswered(e) => {
                if let Some(c) = self.challenges.get_mut(&e.challenge_id) {
                    c.answer = Some(said(Field::Answer));
                }
            }
            Event::ChallengeAccepted(e) => {
                if let Some(c) = self.challenges.get_mut(&e.challenge_id) {
                    c.accepted = Some((at, e.reply.as_ref().map(|_| said(Field::Reply))));
                }
            }
            Event::ActionCommitted(e) => {
                if let Some(d) = self.decisions.get_mut(&e.decision_id) {
                    d.actions.push(e.action_id);
                }
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.actions.push(e.action_id);
                }
                self.actions.insert(Action {
                    id: e.action_id,
                    project: e.project_id,
                    decision: e.decision_id,
                    what: said(Field::What),
                    owner: e.owner,
                    due: e.due,
                    proposals: e.proposal_ids,
                    updates: Vec::new(),
                    completed: None,
                });
            }
            Event::ActionUpdated(e) => {
                if let Some(a) = self.actions.get_mut(&e.action_id) {
                    a.updates.push(said(Field::Note));
                    if let Some(due) = e.due {
                        a.due = due;
                    }
                }
            }
            Event::ActionCompleted(e) => {
                if let Some(a) = self.actions.get_mut(&e.action_id) {
                    a.completed = Some(said(Field::WhatChanged));
                }
            }
            Event::OutcomeRecorded(e) => {
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.outcomes.push(Outcome {
                        aim: e.aim_id,
                        outcome: said(Field::Outcome),
                        evidence: said(Field::Evidence),
                        at,
                    });
                }
            }
            Event::ReviewHeld(e) => {
                if let Some(p) = self.projects.get_mut(&e.project_id) {
                    p.reviews.push(Review {
                        at,
                        summary: said(Field::Summary),
                        next_review: e.next_review,
                    });
                }
            }
            Event::RecordCorrected(e) => {
                let target = self.words.seq_of(e.corrects.uuid());
                let corrected = target.and_then(|t| self.words.event(t, &self.kept));
                let field = (e.field.map(Field::from))
                    .or_else(|| corrected.as_ref().and_then(super::said::main_field));
                let project = corrected.as_ref().and_then(|c| self.project_of(c));
                self.corrections.push(Correction {
                    corrects: e.corrects,
                    target,
                    field,
                    project,
                    words: said(Field::Correction),
                    reason: said(Field::Reason),
                    at,
                });
            }
            Event::RecordRedacted(e) => {
                if let Some(p) = e.participant {
                    self.erased.insert(p);
                }
                for r in e.records {
                    self.words.forget(r.seq);
                    self.kept.insert(r.seq, serde_json::Value::Object(r.kept));
                }
            }
            Event::RetentionApplied(_) => {}
            Event::AccessGranted(_)
            | Event::AccessUsed(_)
            | Event::AccessClaimed(_)
            | Event::AccessRevoked(_) => self.access.apply(&author, at, &event),
        }
    }
}
