//! The co-production events: one payload type per event type, named
//! `noun.verb`. Who appended an event and when is in its record, never in
//! its payload. Types starting `x.` are the organisation's own: stored and
//! verified, not interpreted.

use super::values::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One of a project's aims, with an id so outcomes can be recorded against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Aim {
    pub aim_id: AimId,
    pub text: Text,
}

/// A project starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectStarted {
    pub project_id: ProjectId,
    pub title: Text,
    /// What the project is for, in plain English.
    pub summary: Text,
    /// The type of involvement the project declares.
    pub involvement: Involvement,
    /// The staff member who leads it.
    pub lead: ParticipantId,
    /// What the project hopes to achieve.
    #[serde(default)]
    pub aims: Vec<Aim>,
    /// The day it started, when that is not the day it is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<Date>,
}

/// A project moves to another stage (forward only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageChanged {
    pub project_id: ProjectId,
    pub stage: Stage,
}

/// A project's declared type of involvement changes, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvolvementChanged {
    pub project_id: ProjectId,
    pub involvement: Involvement,
    pub reason: Text,
}

/// A project's lead changes: another member of staff leads it from now on
/// (the lead is leaving the organisation, or hands it on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadChanged {
    pub project_id: ProjectId,
    /// The member of staff who leads it now: they must be in the project.
    pub lead: ParticipantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

/// A participant joins a project, or without a project the organisation's
/// group of staff and partners (a pseudonymous id; names are kept apart, in
/// the erasable people store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantJoined {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    pub participant_id: ParticipantId,
    pub role: Role,
}

/// A participant leaves a project, or without a project the organisation's
/// group (where they joined it with no project).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantLeft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    pub participant_id: ParticipantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

/// A meeting or workshop is held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingHeld {
    pub project_id: ProjectId,
    pub meeting_id: MeetingId,
    pub date: Date,
    pub attendees: Vec<ParticipantId>,
    /// Whether papers were shared before the meeting.
    pub materials_in_advance: bool,
    pub summary: Text,
}

/// Time a partner gave to a project: recorded by staff, or by the partner
/// themself (then agreed by staff before it is paid). One record a day and
/// kind of work. Hours and payments are the person's own: only they, staff
/// and admins read them (docs/ACCESS.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRecorded {
    pub time_id: TimeId,
    pub project_id: ProjectId,
    /// The partner who gave the time.
    pub participant_id: ParticipantId,
    pub hours: Hours,
    /// The day the time was given.
    pub date: Date,
    /// What it was for.
    pub what_for: TimeFor,
    /// The meeting it was for or around, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<MeetingId>,
}

/// Staff agree time a partner recorded themself, so that it can be paid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeAgreed {
    pub time_id: TimeId,
}

/// A partner is paid for time they gave (or chose not to be: `declined`,
/// for 0), in the form they chose. It names the time it pays, which must
/// be theirs, in the project, and not paid before.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMade {
    pub payment_id: PaymentId,
    pub project_id: ProjectId,
    /// The partner paid.
    pub participant_id: ParticipantId,
    /// The time records this pays.
    pub time_ids: Vec<TimeId>,
    /// The amount, in pence (0 when the partner declined payment).
    pub amount_pence: u32,
    pub form: PaymentForm,
    /// The day it was paid.
    pub date: Date,
}

/// A proposal (an idea, a question, an item for discussion) is raised by
/// whoever appends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalRaised {
    pub project_id: ProjectId,
    pub proposal_id: ProposalId,
    pub text: Text,
    /// The day it was put forward (at a meeting, on paper), when that is
    /// not the day it is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_on: Option<Date>,
    /// Recorded by staff for this partner, who gave it another way (by
    /// phone, on paper...): it is the partner's idea, counted as theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_participant: Option<ParticipantId>,
    /// How the partner gave it, when it is recorded for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_by: Option<GivenBy>,
}

/// A proposal is withdrawn, by whoever raised it or by staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalWithdrawn {
    pub proposal_id: ProposalId,
    pub reason: Text,
}

/// What a decision says to one proposal it answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub proposal_id: ProposalId,
    pub response: Response,
    pub reason: Text,
}

/// One person's part in a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub participant_id: ParticipantId,
    pub position: Position,
}

/// A decision is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionMade {
    pub project_id: ProjectId,
    pub decision_id: DecisionId,
    pub question: Text,
    pub outcome: Text,
    pub stage: Stage,
    /// The proposals it answers, and what it says to each.
    #[serde(default)]
    pub answers: Vec<Answer>,
    pub method: Method,
    /// Who took part, and each one's position.
    pub participants: Vec<Part>,
    /// Why, in plain English.
    pub reason: Text,
    /// The day it was decided, when that is not the day it is recorded
    /// (a decision taken at a meeting and typed in later). Stories and
    /// pages put it in order by this day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_on: Option<Date>,
}

/// A participant confirms their own part in a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionConfirmed {
    pub decision_id: DecisionId,
}

/// A participant disputes their own part in a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionDisputed {
    pub decision_id: DecisionId,
    pub reason: Text,
}

/// A decision is challenged by whoever appends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionChallenged {
    pub decision_id: DecisionId,
    pub challenge_id: ChallengeId,
    pub reason: Text,
    /// The answered challenge this replies to (the same decision), when
    /// the challenger is not satisfied with the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<ChallengeId>,
}

/// Whoever made a challenge says they are happy with its answer: the
/// challenge is closed, as accepted. (Not happy: a `decision.challenged`
/// `in_reply_to` it opens it again.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeAccepted {
    /// The answered challenge (the latest in its thread).
    pub challenge_id: ChallengeId,
    /// What they said with it, if anything ("Thank you.").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Text>,
}

/// A challenge is answered (once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeAnswered {
    pub challenge_id: ChallengeId,
    pub answer: Text,
}

/// Staff answer a partner who disputes their part in a decision (once
/// for each dispute; a partner who disputes again is answered again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeAnswered {
    pub decision_id: DecisionId,
    /// The partner whose dispute this answers.
    pub participant_id: ParticipantId,
    pub answer: Text,
}

/// An action is committed as a result of a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionCommitted {
    pub project_id: ProjectId,
    pub action_id: ActionId,
    pub decision_id: DecisionId,
    pub what: Text,
    pub owner: ParticipantId,
    pub due: Date,
    /// The ideas it acts on, from those the decision answered. None: it
    /// acts on the decision as a whole, and is shown under the decision
    /// rather than under each idea.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposal_ids: Vec<ProposalId>,
}

/// Progress on an action, or a new due date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionUpdated {
    pub action_id: ActionId,
    pub note: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Date>,
}

/// An action is completed, and what changed as a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionCompleted {
    pub action_id: ActionId,
    pub what_changed: Text,
}

/// An outcome is recorded against one of the project's aims.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRecorded {
    pub project_id: ProjectId,
    pub aim_id: AimId,
    pub outcome: Text,
    pub evidence: Text,
}

/// Progress is reviewed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewHeld {
    pub project_id: ProjectId,
    pub summary: Text,
    /// When the next review is due.
    pub next_review: Date,
}

/// A record is corrected: the correction points at the record it corrects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCorrected {
    /// The event id of the record corrected.
    pub corrects: RecordId,
    /// Which of its words the correction replaces. Left out: what the
    /// record is chiefly about (a decision's outcome, an idea's text, an
    /// action's what; docs/ACCOUNTABILITY.md lists them). Who took part and
    /// how something was decided are not words: they need a new record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<TextField>,
    /// The words as they should be, in full.
    pub correction: Text,
    pub reason: Text,
}

/// A field of free text a correction can replace, named as in the
/// corrected record's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextField {
    Title,
    Summary,
    Text,
    Reason,
    Question,
    Outcome,
    Answer,
    What,
    Note,
    WhatChanged,
    Evidence,
}

impl TextField {
    pub const ALL: [TextField; 11] = [
        TextField::Title,
        TextField::Summary,
        TextField::Text,
        TextField::Reason,
        TextField::Question,
        TextField::Outcome,
        TextField::Answer,
        TextField::What,
        TextField::Note,
        TextField::WhatChanged,
        TextField::Evidence,
    ];

    /// Its name in a payload: "outcome", "what_changed".
    pub fn name(self) -> &'static str {
        match self {
            TextField::Title => "title",
            TextField::Summary => "summary",
            TextField::Text => "text",
            TextField::Reason => "reason",
            TextField::Question => "question",
            TextField::Outcome => "outcome",
            TextField::Answer => "answer",
            TextField::What => "what",
            TextField::Note => "note",
            TextField::WhatChanged => "what_changed",
            TextField::Evidence => "evidence",
        }
    }
}

/// One record whose payload was erased, and what of it is kept: the
/// payload with every free-text field replaced by [`ERASED_TEXT`], so the
/// projections still count what happened without saying it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Erased {
    pub seq: u64,
    pub kept: serde_json::Map<String, serde_json::Value>,
}

/// Payloads are erased (an erasure request, or retention): the records
/// stay in the chain; their payloads and salts are deleted from the disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRedacted {
    /// The person whose erasure this is, if it is one (a pseudonymous id):
    /// they are then no longer counted as a member of the partner group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    pub records: Vec<Erased>,
    pub reason: Text,
    /// The lawful basis, e.g. "UK GDPR Article 17 (right to erasure)".
    pub legal_basis: Text,
}

/// The retention period was applied: the personal data of people who left
/// before `cutoff` was erased (each erasure has its own `record.redacted`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionApplied {
    pub period_days: u32,
    pub cutoff: Date,
    pub people_erased: u64,
}

/// Someone is given a way to sign in: an access code, or a sign-in card.
/// Who made it is the record's actor; the secret is never recorded, only
/// the credential's public id. Written by the core when a credential is
/// made, never by a plain append.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessGranted {
    pub credential_id: CredentialId,
    pub role: AccessRole,
    /// The person it signs in as (partners and staff who have an id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<ParticipantId>,
    pub kind: CredentialKind,
}

/// A sign-in card's link is used: a browser signed in with it (it works
/// once). The actor is the card's holder, as the card names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessUsed {
    pub credential_id: CredentialId,
}

/// The person a sign-in card someone else made is for shows it is theirs,
/// by entering, in the card's session, a credential of their own that no
/// one else made for them (`shown_with`). From then on what the card does
/// counts as theirs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessClaimed {
    pub credential_id: CredentialId,
    pub shown_with: CredentialId,
}

/// A credential is stopped: it no longer signs anyone in, and the sessions
/// it started end. Who stopped it is the record's actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRevoked {
    pub credential_id: CredentialId,
}

/// What erased free text reads as.
pub const ERASED_TEXT: &str = "(erased)";

/// The types that hold a person's own words (the ones partners write): on
/// erasure, these are erased for their author. Records staff keep for the
/// organisation (decisions, meetings, actions) stay; they name people only
/// by id.
pub const OWN_WORDS_TYPES: &[&str] = &[
    "proposal.raised",
    "proposal.withdrawn",
    "decision.disputed",
    "decision.challenged",
    "challenge.accepted",
];

/// The payload fields that hold free text, in every event type.
pub const FREE_TEXT_FIELDS: &[&str] = &[
    "text",
    "title",
    "summary",
    "reason",
    "question",
    "outcome",
    "answer",
    "what",
    "note",
    "what_changed",
    "evidence",
    "correction",
    "reply",
];

/// `payload` with every free-text field, at any depth, replaced by
/// [`ERASED_TEXT`]; ids, dates and choices stay.
pub fn without_free_text(payload: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match payload {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if FREE_TEXT_FIELDS.contains(&k.as_str()) && v.is_string() {
                        Value::String(ERASED_TEXT.into())
                    } else {
                        without_free_text(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_free_text).collect()),
        v => v.clone(),
    }
}

macro_rules! events {
    ($($variant:ident($payload:ty) = $name:literal,)*) => {
        /// A co-production event, as its type name and typed payload.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Event {
            $($variant($payload),)*
        }

        /// Every co-production event type name, in the order of the model.
        pub const EVENT_TYPES: &[&str] = &[$($name,)*];

        impl Event {
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $name,)*
                }
            }

            /// Reads a payload of the named type; `None` for a name that is
            /// not a co-production type.
            pub fn from_payload(
                type_name: &str,
                payload: &serde_json::Value,
            ) -> Option<Result<Event, PayloadProblem>> {
                Some(match type_name {
                    $($name => read::<$payload>(payload).map(Event::$variant),)*
                    _ => return None,
                })
            }

            /// [`from_payload`](Self::from_payload) from canonical bytes:
            /// straight into the type, and only on failure the slower way
            /// that says where the fault is.
            pub fn from_payload_bytes(
                type_name: &str,
                payload: &[u8],
            ) -> Option<Result<Event, PayloadProblem>> {
                let fast = match type_name {
                    $($name => serde_json::from_slice::<$payload>(payload).ok().map(Event::$variant),)*
                    _ => return None,
                };
                match fast {
                    Some(e) => Some(Ok(e)),
                    None => {
                        let value: serde_json::Value = match serde_json::from_slice(payload) {
                            Ok(v) => v,
                            Err(e) => return Some(Err(PayloadProblem { pointer: String::new(), message: e.to_string() })),
                        };
                        Event::from_payload(type_name, &value)
                    }
                }
            }

            pub fn to_payload(&self) -> serde_json::Value {
                match self {
                    $(Event::$variant(p) => serde_json::to_value(p).expect("payloads serialise"),)*
                }
            }

            /// The JSON Schema of each event type's payload.
            pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
                vec![$(($name, schemars::schema_for!($payload)),)*]
            }
        }
    };
}

events! {
    ProjectStarted(ProjectStarted) = "project.started",
    StageChanged(StageChanged) = "stage.changed",
    InvolvementChanged(InvolvementChanged) = "involvement.changed",
    LeadChanged(LeadChanged) = "lead.changed",
    ParticipantJoined(ParticipantJoined) = "participant.joined",
    ParticipantLeft(ParticipantLeft) = "participant.left",
    MeetingHeld(MeetingHeld) = "meeting.held",
    TimeRecorded(TimeRecorded) = "time.recorded",
    TimeAgreed(TimeAgreed) = "time.agreed",
    PaymentMade(PaymentMade) = "payment.made",
    ProposalRaised(ProposalRaised) = "proposal.raised",
    ProposalWithdrawn(ProposalWithdrawn) = "proposal.withdrawn",
    DecisionMade(DecisionMade) = "decision.made",
    DecisionConfirmed(DecisionConfirmed) = "decision.confirmed",
    DecisionDisputed(DecisionDisputed) = "decision.disputed",
    DecisionChallenged(DecisionChallenged) = "decision.challenged",
    ChallengeAnswered(ChallengeAnswered) = "challenge.answered",
    ChallengeAccepted(ChallengeAccepted) = "challenge.accepted",
    DisputeAnswered(DisputeAnswered) = "dispute.answered",
    ActionCommitted(ActionCommitted) = "action.committed",
    ActionUpdated(ActionUpdated) = "action.updated",
    ActionCompleted(ActionCompleted) = "action.completed",
    OutcomeRecorded(OutcomeRecorded) = "outcome.recorded",
    ReviewHeld(ReviewHeld) = "review.held",
    RecordCorrected(RecordCorrected) = "record.corrected",
    RecordRedacted(RecordRedacted) = "record.redacted",
    RetentionApplied(RetentionApplied) = "retention.applied",
    AccessGranted(AccessGranted) = "access.granted",
    AccessUsed(AccessUsed) = "access.used",
    AccessClaimed(AccessClaimed) = "access.claimed",
    AccessRevoked(AccessRevoked) = "access.revoked",
}

impl Event {
    /// Whether it records who may sign in (`access.*`), not co-production.
    pub fn is_about_access(&self) -> bool {
        matches!(
            self,
            Event::AccessGranted(_)
                | Event::AccessUsed(_)
                | Event::AccessClaimed(_)
                | Event::AccessRevoked(_)
        )
    }
}

/// Whether a type name is the organisation's own (`x.`), stored uninterpreted.
pub fn is_extension(type_name: &str) -> bool {
    type_name.starts_with("x.")
}

/// A payload that does not fit its type: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadProblem {
    /// JSON pointer to the field at fault ("" for the whole payload).
    pub pointer: String,
    pub message: String,
}

/// A JSON value read as `T`, or what is wrong with it and where (a JSON
/// pointer into the value), in plain words. Payloads are read this way,
/// and so are the API's request bodies.
pub fn read<T: serde::de::DeserializeOwned>(
    payload: &serde_json::Value,
) -> Result<T, PayloadProblem> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let mut pointer = String::new();
        for seg in e.path().iter() {
            use serde_path_to_error::Segment;
            match seg {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                Segment::Enum { variant } => {
                    pointer.push('/');
                    pointer.push_str(variant);
                }
                Segment::Unknown => {}
            }
        }
        let raw = e.inner().to_string();
        if let Some(field) = raw
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            pointer.push('/');
            pointer.push_str(field);
        }
        PayloadProblem {
            pointer,
            message: plain_serde_message(&raw),
        }
    })
}

/// serde's messages, in plainer words where they are common.
fn plain_serde_message(raw: &str) -> String {
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!("the field {field:?} is required");
    }
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!("there is no field {field:?} in this kind of event");
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let value = value.trim_end_matches('`');
        return format!(
            "{value:?} is not allowed here; use {}",
            expected.replace('`', "\"")
        );
    }
    raw.replace('`', "\"")
}
