//! The two policies every front door asks, each written once as a table:
//!
//! - **Permissions**: who may write which event type, in which project,
//!   and as whom ([`allow`], checked by [`may_write`] inside the single
//!   writer, so it holds under any concurrency), and who may use each of
//!   the other use cases ([`may`]).
//! - **Disclosure**: who may read which records ([`may_read`]), which
//!   projects' live figures ([`in_view`]), whose names ([`sees_names`],
//!   [`name_of`]), and below what count figures are hidden ([`K`]).
//!
//! The roles are the authors' ([`AuthorRole`]): admin, staff, operator
//! (the command line), partner, auditor. An actor the policies do not
//! recognise may do nothing and see nothing.

use crate::coproduction::author::{Author, AuthorRole};
use crate::coproduction::events::{Event, is_extension};
use crate::coproduction::model::Model;
use crate::coproduction::values::{ParticipantId, ProjectId, Role as PersonRole};
use crate::ledger::Seq;
use crate::refusal::Refusal;

/// The roles, in the order of the tables' columns.
pub const ROLES: [AuthorRole; 5] = [
    AuthorRole::Admin,
    AuthorRole::Staff,
    AuthorRole::Operator,
    AuthorRole::Partner,
    AuthorRole::Auditor,
];

/// Counts under this are published as "fewer than K", to every reader.
pub const K: u64 = 5;

// ------------------------------------------------------------ permissions

/// How the writer of an event stands to the project it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// They are part of it now.
    Member,
    /// They were part of it and a `participant.left` says they left.
    Left,
    /// They were never part of it (or it does not exist).
    Outsider,
    /// The event belongs to no project (the organisation's group, a
    /// correction, the organisation's own `x.` events).
    NoProject,
}

/// Whose the thing an event is about must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Own {
    /// The proposal must be one they raised.
    RaisedIt,
    /// They must have taken part in the decision.
    TookPart,
}

/// What a role may do with an event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow {
    No,
    /// In any project, or none.
    Anywhere,
    /// In any project, but only about themselves.
    AnywhereAs(Own),
    /// Only in a project they are part of now.
    Member,
    /// Only in a project they are part of now, and only about themselves.
    MemberAs(Own),
    /// In a project they are part of or have left, only about themselves
    /// (a partner who left may still confirm or dispute how a decision they
    /// took part in records them).
    MemberOrLeftAs(Own),
    /// Only through the erasure use case, never as a plain append: these
    /// records go with deleting bytes.
    ByErasure,
    /// Only by the core, as access is given, used, claimed or stopped,
    /// never as a plain append: they say who did it.
    ByAccess,
}

/// The permission table: what each role may do with each event type.
/// `x.*` stands for the organisation's own types. Columns follow [`ROLES`].
#[rustfmt::skip]
pub fn allow(role: AuthorRole, event_type: &str) -> Allow {
    use Allow::*;
    use Own::*;
    let row: [Allow; 5] = match event_type {
        //                      admin      staff                operator   partner                   auditor
        "proposal.raised"     => [Anywhere,  Anywhere,            Anywhere,  Member,                   No],
        "proposal.withdrawn"  => [Anywhere,  Anywhere,            Anywhere,  MemberAs(RaisedIt),       No],
        "decision.confirmed"  => [No,        AnywhereAs(TookPart), No,       MemberOrLeftAs(TookPart), No],
        "decision.disputed"   => [No,        AnywhereAs(TookPart), No,       MemberOrLeftAs(TookPart), No],
        "decision.challenged" => [Anywhere,  Anywhere,            Anywhere,  Member,                   No],
        // A partner records their own time (the model's check); staff
        // agree it, and pay.
        "time.recorded"       => [Anywhere,  Anywhere,            Anywhere,  Member,                   No],
        // Only whoever made the challenge (the model's check): a partner,
        // or staff who challenged a decision themselves.
        "challenge.accepted"  => [Anywhere,  Anywhere,            Anywhere,  Member,                   No],
        // Who leads a project: staff's to record, as when it started.
        "lead.changed"        => [Anywhere,  Anywhere,            Anywhere,  No,                       No],
        "record.redacted"     => [ByErasure, No,                  ByErasure, No,                       No],
        "retention.applied"   => [ByErasure, No,                  ByErasure, No,                       No],
        // Who was given a way to sign in, by whom, its use and its end:
        // recorded by the core only, as the person who did it.
        "access.granted"      => [ByAccess,  ByAccess,            ByAccess,  No,                       No],
        "access.used"         => [No,        No,                  No,        ByAccess,                 No],
        "access.claimed"      => [No,        No,                  No,        ByAccess,                 No],
        "access.revoked"      => [ByAccess,  ByAccess,            ByAccess,  ByAccess,                 No],
        // Everything else is what staff keep for the organisation:
        // projects, stages, people joining and leaving, meetings,
        // decisions, answers to challenges, actions, outcomes, reviews,
        // corrections, and the organisation's own `x.` types.
        _                     => [Anywhere,  Anywhere,            Anywhere,  No,                       No],
    };
    match ROLES.iter().position(|r| *r == role) {
        Some(i) => row[i],
        None => No,
    }
}

/// The row of [`allow`] for a type name (`x.` types share one).
fn allow_type(role: AuthorRole, type_name: &str) -> Allow {
    allow(
        role,
        if is_extension(type_name) {
            "x.*"
        } else {
            type_name
        },
    )
}

fn role_words(role: AuthorRole) -> &'static str {
    match role {
        AuthorRole::Admin => "an administrator",
        AuthorRole::Staff => "staff",
        AuthorRole::Operator => "the operator",
        AuthorRole::Partner => "a partner",
        AuthorRole::Auditor => "an auditor",
        AuthorRole::Unknown => "an unknown writer",
    }
}

/// Whether this author may append this type at all, through a plain
/// append (before its payload is read). Pointer: `/type`.
pub fn may_append_type(author: &Author, type_name: &str) -> Result<(), Refusal> {
    match allow_type(author.role, type_name) {
        Allow::No => Err(Refusal::forbidden(format!(
            "{} may not record {type_name}",
            role_words(author.role)
        ))
        .at("/type")),
        Allow::ByErasure => Err(Refusal::forbidden(format!(
            "{type_name} is written by erasure itself: use POST /v1/erasures, `jointly erase` or `jointly retention run`"
        ))
        .at("/type")),
        Allow::ByAccess => Err(Refusal::forbidden(format!(
            "{type_name} is written by jointly itself when access is given or stopped: use POST /v1/tokens, DELETE /v1/tokens/{{id}}, `jointly token` or the sign-in pages"
        ))
        .at("/type")),
        _ => Ok(()),
    }
}

/// How `who` stands to `project`: by their membership of it, or else of
/// the organisation's group, whose partners take part in every project.
pub fn standing(model: &Model, who: Option<ParticipantId>, project: Option<ProjectId>) -> Standing {
    let Some(project) = project else {
        return Standing::NoProject;
    };
    let membership = who.and_then(|w| model.membership(&w, &project));
    match membership {
        Some(m) if m.active => Standing::Member,
        Some(_) => Standing::Left,
        None => Standing::Outsider,
    }
}

/// The payload field that names what an event is about, and that thing in
/// words: where a refusal for a project the writer cannot see points.
fn subject(event: &Event) -> (&'static str, &'static str) {
    match event {
        Event::ProposalWithdrawn(_) => ("/payload/proposal_id", "an idea"),
        Event::DecisionConfirmed(_)
        | Event::DecisionDisputed(_)
        | Event::DecisionChallenged(_)
        | Event::DisputeAnswered(_) => ("/payload/decision_id", "a decision"),
        Event::ChallengeAnswered(_) | Event::ChallengeAccepted(_) => {
            ("/payload/challenge_id", "a challenge")
        }
        Event::ActionUpdated(_) | Event::ActionCompleted(_) => ("/payload/action_id", "an action"),
        _ => ("/payload/project_id", "a project"),
    }
}

/// Whether this author may write this event now, given the record so far
/// (the writer calls this, before the model's own checks). `event` is
/// `None` for `x.` types. Pointers are into the request.
pub fn may_write(author: &Author, event: Option<&Event>, model: &Model) -> Result<(), Refusal> {
    let Some(event) = event else {
        return Ok(());
    };
    let allowed = allow(author.role, event.type_name());
    let (own, needs) = match allowed {
        Allow::No => return may_append_type(author, event.type_name()),
        Allow::Anywhere | Allow::ByErasure | Allow::ByAccess => return Ok(()),
        Allow::AnywhereAs(own) => (Some(own), None),
        Allow::Member => (None, Some(false)),
        Allow::MemberAs(own) => (Some(own), Some(false)),
        Allow::MemberOrLeftAs(own) => (Some(own), Some(true)),
    };
    if let Some(left_is_enough) = needs {
        let (at, what) = subject(event);
        match standing(model, author.participant, model.project_of(event)) {
            Standing::Member => {}
            Standing::Left if left_is_enough => {}
            Standing::Left => {
                return Err(Refusal::forbidden(
                    "you have left this project, so you can no longer add to it",
                )
                .at(at));
            }
            // Said the same way whether it exists or not, so that it
            // tells nothing about projects the writer cannot see.
            Standing::Outsider | Standing::NoProject => {
                return Err(
                    Refusal::not_found(format!("you are not part of {what} with this id")).at(at),
                );
            }
        }
    }
    match own {
        None => Ok(()),
        Some(Own::RaisedIt) => {
            let mine = match event {
                Event::ProposalWithdrawn(e) => model
                    .proposals
                    .get(&e.proposal_id)
                    .is_some_and(|p| p.by.is_some() && p.by == author.participant),
                _ => false,
            };
            if mine {
                Ok(())
            } else {
                Err(
                    Refusal::forbidden("you can withdraw only ideas you put forward")
                        .at("/payload/proposal_id"),
                )
            }
        }
        Some(Own::TookPart) => {
            let decision = match event {
                Event::DecisionConfirmed(e) => Some(e.decision_id),
                Event::DecisionDisputed(e) => Some(e.decision_id),
                _ => None,
            };
            let took_part = decision
                .and_then(|d| model.decisions.get(&d))
                .zip(author.participant)
                .is_some_and(|(d, me)| model.took_part(&me, d));
            if took_part {
                Ok(())
            } else {
                Err(Refusal::forbidden(
                    "only someone who took part in a decision can confirm or dispute their part, and only as themselves",
                )
                .at("/payload/decision_id"))
            }
        }
    }
}

/// The use cases besides appending events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Append events (which types: [`allow`]).
    Append,
    /// Read records, projects, projections and the stream (which: the
    /// disclosure policy).
    Read,
    /// Register a person (name to the people store, id to the log).
    RegisterPerson,
    /// Record that a person left the organisation.
    RecordLeaving,
    /// Read a person's name by id.
    ReadName,
    /// Answer the equality questions, for oneself.
    AnswerEquality,
    /// Read the published equality figures.
    ReadEquality,
    /// Publish the equality figures now (they are also published daily).
    PublishEquality,
    /// Erase a person, or run retention.
    Erase,
    /// Everything held about a person (subject access).
    SubjectExport,
    /// The whole log as a bundle.
    Backup,
    /// Make, list and revoke access tokens.
    ManageTokens,
    /// Give a partner a sign-in card (a new token of theirs, and a link).
    MakeSignInCard,
    /// See and stop one's own ways to sign in (a person's own).
    SeeOwnSignIns,
    /// Read the server's counters (`/metrics`): mail and append activity.
    ReadMetrics,
    /// Find people in the people store, by name (and by email, for those
    /// who may read emails), paged.
    FindPeople,
    /// Read people's email addresses.
    ReadEmail,
    /// Correct a person's name or email (rectification).
    CorrectPerson,
    /// Stop every way one person signs in at once (a lost card or phone).
    StopSignIns,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::Append,
        Action::Read,
        Action::RegisterPerson,
        Action::RecordLeaving,
        Action::ReadName,
        Action::AnswerEquality,
        Action::ReadEquality,
        Action::PublishEquality,
        Action::Erase,
        Action::SubjectExport,
        Action::Backup,
        Action::ManageTokens,
        Action::MakeSignInCard,
        Action::SeeOwnSignIns,
        Action::ReadMetrics,
        Action::FindPeople,
        Action::ReadEmail,
        Action::CorrectPerson,
        Action::StopSignIns,
    ];
}

/// The table of who may use each use case. Columns follow [`ROLES`].
#[rustfmt::skip]
pub fn may(role: AuthorRole, action: Action) -> bool {
    const Y: bool = true;
    const N: bool = false;
    let row: [bool; 5] = match action {
        //                         admin staff operator partner auditor
        Action::Append         => [Y,    Y,    Y,       Y,      N],
        Action::Read           => [Y,    Y,    Y,       Y,      Y],
        Action::RegisterPerson => [Y,    Y,    Y,       N,      N],
        Action::RecordLeaving  => [Y,    Y,    Y,       N,      N],
        Action::ReadName       => [Y,    Y,    Y,       N,      N],
        Action::AnswerEquality => [N,    N,    N,       Y,      N],
        Action::ReadEquality   => [Y,    Y,    Y,       Y,      Y],
        Action::PublishEquality => [Y,   N,    Y,       N,      N],
        Action::Erase          => [Y,    N,    Y,       N,      N],
        Action::SubjectExport  => [Y,    N,    Y,       N,      N],
        Action::Backup         => [Y,    N,    Y,       N,      N],
        Action::ManageTokens   => [Y,    N,    Y,       N,      N],
        Action::MakeSignInCard => [Y,    Y,    N,       N,      N],
        Action::SeeOwnSignIns  => [N,    Y,    N,       Y,      N],
        Action::ReadMetrics    => [Y,    N,    Y,       N,      N],
        Action::FindPeople     => [Y,    Y,    Y,       N,      N],
        Action::ReadEmail      => [Y,    N,    Y,       N,      N],
        Action::CorrectPerson  => [Y,    N,    Y,       N,      N],
        Action::StopSignIns    => [Y,    Y,    Y,       N,      N],
    };
    ROLES.iter().position(|r| *r == role).is_some_and(|i| row[i])
}

/// [`may`], as a refusal.
pub fn require(author: &Author, action: Action) -> Result<(), Refusal> {
    if may(author.role, action) {
        return Ok(());
    }
    let what = match action {
        Action::Append => "record events",
        Action::Read => "read the record",
        Action::RegisterPerson => "register people",
        Action::RecordLeaving => "record that someone left",
        Action::ReadName => "see people's names",
        Action::AnswerEquality => {
            return Err(Refusal::forbidden(
                "only partners answer the equality questions, each for themselves",
            ));
        }
        Action::ReadEquality => "see the equality figures",
        Action::PublishEquality => "publish the equality figures",
        Action::Erase => "erase personal data",
        Action::SubjectExport => "export what is held about a person",
        Action::Backup => "take a backup",
        Action::ManageTokens => "manage access tokens",
        Action::MakeSignInCard => "make sign-in cards",
        Action::SeeOwnSignIns => "see or stop sign-ins of their own (they belong to no one)",
        Action::ReadMetrics => "read the server's metrics",
        Action::FindPeople => "look people up",
        Action::ReadEmail => "see people's email addresses",
        Action::CorrectPerson => "correct a person's name or email",
        Action::StopSignIns => "stop someone's sign-ins",
    };
    Err(Refusal::forbidden(format!(
        "{} may not {what}",
        role_words(author.role)
    )))
}

// ------------------------------------------------------------- disclosure

/// Whether `reader` may read the record at `seq`, holding `event` (`None`
/// for `x.` types and erased payloads; `project` is then what the record
/// is known to belong to, if anything).
///
/// Staff, admins, the operator and auditors read every record. A partner
/// reads the records of the projects they are part of (every project, for
/// the organisation's partner group), and of a project they left, those up
/// to their leaving; nothing else (not the organisation's own `x.`
/// records, not other projects).
/// Whose own a record is, when it is about one person's time or pay: then
/// only they, staff and admins read it ([`may_read_personal`]), not the
/// other members of the project, nor auditors, who see the totals.
pub fn personal_to(model: &Model, event: Option<&Event>) -> Option<ParticipantId> {
    match event? {
        Event::TimeRecorded(e) => Some(e.participant_id),
        Event::PaymentMade(e) => Some(e.participant_id),
        Event::TimeAgreed(e) => model.time.get(&e.time_id).map(|t| t.who),
        _ => None,
    }
}

/// Whether `reader` may read what is `subject`'s own (their hours, their
/// payments): the person, staff, admins and the operator.
pub fn may_read_personal(reader: &Author, subject: ParticipantId) -> bool {
    match reader.role {
        AuthorRole::Admin | AuthorRole::Staff | AuthorRole::Operator => true,
        AuthorRole::Partner => reader.participant == Some(subject),
        AuthorRole::Auditor | AuthorRole::Unknown => false,
    }
}

pub fn may_read(reader: &Author, model: &Model, seq: Seq, project: Option<ProjectId>) -> bool {
    match reader.role {
        AuthorRole::Admin | AuthorRole::Staff | AuthorRole::Operator | AuthorRole::Auditor => true,
        AuthorRole::Partner => {
            let membership = project
                .zip(reader.participant)
                .and_then(|(p, me)| model.membership(&me, &p));
            match membership {
                Some(m) if m.active => true,
                Some(m) => m.left_at.is_some_and(|left| seq <= left),
                None => false,
            }
        }
        AuthorRole::Unknown => false,
    }
}

/// Which projects' live views (the project, its story, its projections,
/// the lists) a reader sees: every project, or only these.
pub enum InView {
    All,
    Only(std::collections::BTreeSet<ProjectId>),
}

impl InView {
    pub fn contains(&self, id: &ProjectId) -> bool {
        match self {
            InView::All => true,
            InView::Only(set) => set.contains(id),
        }
    }
}

/// A partner sees the projects they are part of now (a project they left
/// moves on without them); everyone else who may read sees all.
pub fn in_view(reader: &Author, model: &Model) -> InView {
    match reader.role {
        AuthorRole::Partner => InView::Only(
            reader
                .participant
                .map(|me| {
                    model
                        .projects
                        .values()
                        .filter(|p| model.membership(&me, &p.id).is_some_and(|m| m.active))
                        .map(|p| p.id)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        AuthorRole::Unknown => InView::Only(Default::default()),
        _ => InView::All,
    }
}

/// Whether `reader` sees people's names (from the people store). Partners
/// and auditors see roles instead: "a partner", "a member of staff".
pub fn sees_names(reader: &Author) -> bool {
    matches!(
        reader.role,
        AuthorRole::Admin | AuthorRole::Staff | AuthorRole::Operator
    )
}

/// Whether `reader` sees exact small counts of people (who came to a
/// meeting): those who see names anyway learn nothing more from them.
/// Everyone else reads a count from 1 to K-1 as "fewer than K"; a count
/// of none names no one, so "no partners came" is said to everyone.
pub fn sees_exact_counts(reader: &Author) -> bool {
    sees_names(reader)
}

/// How a person is named to `reader`: "you" for themselves; their name
/// (from `name`, which reads the people store) for those who see names;
/// otherwise their role in words.
pub fn name_of(
    reader: &Author,
    model: &Model,
    who: &ParticipantId,
    name: impl FnOnce() -> Option<String>,
) -> String {
    if reader.participant == Some(*who) {
        return "you".into();
    }
    if model.erased.contains(who) {
        return "a former participant".into();
    }
    if sees_names(reader)
        && let Some(n) = name().filter(|n| !n.trim().is_empty())
    {
        return n;
    }
    match model.role(who) {
        Some(PersonRole::Partner) => "a partner".into(),
        Some(PersonRole::Staff) => "a member of staff".into(),
        None => "a former participant".into(),
    }
}

/// How the member of staff who made a credential is named to the person
/// it signs in as: by name (with their role), whoever that person is, so
/// that they know who could act as them; erased, or without a name, as
/// [`name_of`] names them.
pub fn name_of_credential_maker(
    reader: &Author,
    model: &Model,
    maker: &ParticipantId,
    name: impl FnOnce() -> Option<String>,
) -> String {
    let known = (!model.erased.contains(maker))
        .then(name)
        .flatten()
        .filter(|n| !n.trim().is_empty());
    match known {
        Some(n) => format!("{n} (a member of staff)"),
        None => name_of(reader, model, maker, || None),
    }
}
