//! The forms: partners put forward an idea, confirm or dispute their part in
//! a decision, challenge a decision, and answer the equality questions;
//! staff start a project, record a meeting, a decision, an action and its
//! completion, and answer a challenge.
//!
//! Each form is data (its fields) and one function from what was typed to
//! an event ([`build`]), which also says which field each part of the event
//! came from. The event goes to the core's `append` like any other, so a
//! form can record nothing the API would refuse and everything it would
//! accept: the decision form offers every method, every response to an
//! idea and every position a person can take. A refusal is shown by its
//! kind: beside the field its pointer names (with what was typed kept), or
//! as a page for a refusal no field can fix.

use super::pages::name_of;
use super::{Frame, PageError, PageId, Settings, Visitor, render};
use crate::api::AppState;
use crate::app::Submission;
use crate::app::tokens::Role;
use crate::app::view::Subject;
use crate::coproduction::equality::{PREFER_NOT_TO_SAY, QUESTIONS, answer_words};
use crate::coproduction::events::TextField;
use crate::coproduction::model::{Model, Stance};
use crate::coproduction::values::{
    Date as Day, Involvement as ProjectInvolvement, Method, Position, ProjectId, Response,
    Role as PersonRole, Stage as ProjectStage,
};
use crate::refusal::{Kind as RefusalKind, Refusal};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response as HttpResponse};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A posted form: each field's values, in order.
#[derive(Default)]
pub(super) struct FormData(BTreeMap<String, Vec<String>>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            m.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        FormData(m)
    }
    pub fn one(&self, name: &str) -> &str {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }
    /// Every field and value as typed, but the form's own token and marks:
    /// what is kept for a visitor whose session ended mid-form.
    pub fn typed(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "kept"))
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect()
    }
    /// A form whose fields came packed in one (`typed`, from "Change" on a
    /// check page), unpacked, with the form's own token and marks.
    pub fn unpacked(self) -> Self {
        let packed = self.one("typed");
        if packed.is_empty() {
            return self;
        }
        let mut inner = FormData::parse(packed.as_bytes());
        inner.0.remove("typed");
        for mark in ["csrf", "kept", "change"] {
            match self.0.get(mark) {
                Some(v) => inner.0.insert(mark.to_string(), v.clone()),
                None => inner.0.remove(mark),
            };
        }
        inner
    }

    /// The fields whose names start with `prefix`, without it.
    pub fn under(&self, prefix: &str) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, vs)| Some((k.strip_prefix(prefix)?.to_string(), vs)))
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKind {
    /// A heading that starts a group of fields, with words under it.
    Heading,
    Short,
    Long,
    Date,
    Choice,
    /// One of a few short choices, side by side: for a choice asked of
    /// each of many people or ideas, where a radio a line would make a
    /// page screens long on a phone. (Radios, not a drop-down: all the
    /// choices are seen at once, as GOV.UK's inline radios.)
    Inline,
    Many,
    /// The fields up to the next [`FieldKind::FoldEnd`] are folded away
    /// under this label (a `<details>`), open once any has a value.
    Fold,
    FoldEnd,
}

pub(super) struct Field {
    pub name: String,
    pub label: String,
    pub hint: Option<String>,
    pub kind: FieldKind,
    pub options: Vec<(String, String)>,
    pub value: String,
    pub chosen: Vec<String>,
    pub error: Option<String>,
}

fn field(name: &str, label: &str, kind: FieldKind) -> Field {
    Field {
        name: name.into(),
        label: label.into(),
        hint: None,
        kind,
        options: Vec::new(),
        value: String::new(),
        chosen: Vec::new(),
        error: None,
    }
}

impl Field {
    fn hint(mut self, h: &str) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn options(mut self, o: Vec<(String, String)>) -> Self {
        self.options = o;
        self
    }
    /// The value chosen before anything is typed.
    fn preset(mut self, v: &str) -> Self {
        self.value = v.into();
        self
    }
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    page: Frame,
    intro: Vec<String>,
    errors: Vec<(String, String)>,
    action: String,
    fields: Vec<Field>,
    submit: String,
    back: (String, String),
}

/// Which form, and what it is about.
#[derive(Clone, Copy)]
enum Kind {
    Propose,
    Confirm,
    Challenge,
    Equality,
    NewProject,
    Meeting,
    Decision,
    Action,
    Complete,
    Answer,
    /// The challenger replies to the answer to their challenge.
    Reply,
    /// Staff answer a partner who disputes their part in a decision.
    AnswerDispute,
    /// Staff record a review of a project: what they found, and when the
    /// next is due.
    Review,
    /// Staff record what changed against one of a project's aims.
    Outcome,
    /// Staff move a project on to a later stage.
    Stage,
    /// Staff change how partners are involved in a project, saying why.
    Involvement,
    /// Staff correct a record (any record, by its id): the original stays.
    Correct,
    /// Someone withdraws an idea they put forward.
    Withdraw,
}

impl Kind {
    /// What the next page says once the form was sent.
    fn notice(self) -> &'static str {
        match self {
            Kind::Propose => {
                "Thank you: your idea has been sent to the project team. They must answer it, and you will see their answer on your home page."
            }
            Kind::Confirm => {
                "Thank you: your answer has been saved, and the decision now shows it."
            }
            Kind::Challenge => {
                "Thank you: your challenge has been sent. The team must answer it, and you will see their answer on your home page."
            }
            Kind::Equality => {
                "Thank you: your answers have been saved. The totals on this page count them from the next time they are worked out."
            }
            Kind::NewProject => "The project has been started and saved.",
            Kind::Meeting => "The meeting has been saved.",
            Kind::Decision => "The decision has been saved.",
            Kind::Action => "The action has been saved.",
            Kind::Complete => "Saved: the action is done.",
            Kind::Answer => {
                "Your answer has been saved and sent to the person who challenged the decision."
            }
            Kind::Reply => "Thank you: your reply has been saved.",
            Kind::AnswerDispute => {
                "Your answer has been saved, and the partner will see it on the decision. If the record was wrong, correct it here: “Correct this decision's record”."
            }
            Kind::Review => {
                "The review has been saved, and the project's next review is due on the day you gave."
            }
            Kind::Outcome => "The outcome has been saved against the project's aim.",
            Kind::Stage => "The project has moved on to its new stage.",
            Kind::Involvement => {
                "The change in how partners are involved has been saved, with your reason. Partners see it on the project's page."
            }
            Kind::Correct => {
                "The correction has been saved. The original stays in the record, and the correction is shown with it."
            }
            Kind::Withdraw => {
                "Your idea has been withdrawn. It stays in the record, marked as withdrawn, with your reason."
            }
        }
    }

    /// The fields a link may choose for the visitor (`?answers=<idea>`):
    /// only where the link itself says what the form is for, never an
    /// answer someone gives (a partner's confirmation, a stage).
    fn presettable(self) -> &'static [&'static str] {
        match self {
            Kind::Decision => &["answers"],
            _ => &[],
        }
    }

    /// Whether what was typed is shown back to check before it is
    /// recorded (GOV.UK's "check your answers"): for a decision, the
    /// longest form and the record people most rely on.
    fn checked_first(self) -> bool {
        matches!(self, Kind::Decision)
    }
}

impl Kind {
    /// Who may use it: asked before anything about its record is read.
    fn roles(self) -> &'static [Role] {
        match self {
            Kind::Propose | Kind::Challenge | Kind::Equality | Kind::Reply => &[Role::Partner],
            // Staff may withdraw an idea they put forward too; the core
            // checks whose it is.
            Kind::Withdraw => &[Role::Partner, Role::Staff],
            // Staff confirm or dispute their own part too.
            Kind::Confirm => &[Role::Partner, Role::Staff],
            Kind::NewProject
            | Kind::Meeting
            | Kind::Decision
            | Kind::Action
            | Kind::Complete
            | Kind::Answer
            | Kind::AnswerDispute
            | Kind::Review
            | Kind::Outcome
            | Kind::Stage
            | Kind::Involvement
            | Kind::Correct => &[Role::Staff, Role::Admin],
        }
    }

    /// The record it is about, which the visitor must be able to see.
    fn subject(self, target: Uuid) -> Option<Subject> {
        Some(match self {
            Kind::Propose
            | Kind::Meeting
            | Kind::Decision
            | Kind::Review
            | Kind::Outcome
            | Kind::Stage
            | Kind::Involvement => Subject::Project(target.into()),
            Kind::Confirm => Subject::DecisionOfTheirs(target.into()),
            Kind::Challenge | Kind::Action | Kind::AnswerDispute => {
                Subject::Decision(target.into())
            }
            Kind::Complete => Subject::Action(target.into()),
            Kind::Answer => Subject::Challenge(target.into()),
            Kind::Reply => Subject::OwnChallenge(target.into()),
            // Found by id in `spec`: any record, and the visitor's own idea.
            Kind::NewProject | Kind::Equality | Kind::Correct | Kind::Withdraw => return None,
        })
    }
}

/// The policy first, before any of the form's record is read: who may use
/// the form (403), then whether they may see its record (404, the same
/// whether it exists or not, as the API says it).
fn gate(kind: Kind, state: &AppState, v: &Visitor, target: Uuid) -> Result<(), PageError> {
    if !v.is(kind.roles()) {
        return Err(PageError::forbidden());
    }
    if let Some(subject) = kind.subject(target) {
        state.app().view(&v.caller)?.check(subject)?;
    }
    Ok(())
}

struct Spec {
    title: String,
    intro: Vec<String>,
    fields: Vec<Field>,
    submit: &'static str,
    back: (String, String),
}

fn s(x: &str) -> String {
    x.to_string()
}

/// The project's current members, as (id, name and role).
fn members(
    state: &AppState,
    v: &Visitor,
    model: &Model,
    project: &ProjectId,
) -> Vec<(String, String)> {
    model
        .projects
        .get(project)
        .map(|p| {
            p.members
                .iter()
                .filter(|(_, m)| m.active)
                .map(|(id, m)| {
                    let role = if m.role == PersonRole::Partner {
                        "partner"
                    } else {
                        "staff"
                    };
                    let name = name_of(state, v, model, id);
                    // A name already says who; "a partner" needs no "(partner)".
                    let words = if name.starts_with("a ") {
                        format!("{name} ({})", short_id(id))
                    } else {
                        format!("{name} ({role})")
                    };
                    (id.to_string(), words)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The end of an id (where ids made one after another differ), to tell
/// apart people shown only by their role.
pub(super) fn short_id(id: &impl std::fmt::Display) -> String {
    let text = id.to_string();
    format!("no. {}", &text[text.len() - 6..])
}

/// What a form about a decision shows before its questions, so that no
/// one answers about the wrong one: its question, what was decided, when
/// and how, and, for someone who took part, what the record says of them.
fn decision_summary(
    v: &Visitor,
    model: &Model,
    d: &crate::coproduction::model::Decision,
) -> Vec<String> {
    let mut lines = vec![
        format!("The decision: “{}”", model.text(&d.question())),
        format!(
            "What was decided: {}{}",
            model.text(&d.outcome()),
            super::pages::corrected_mark(model, &d.outcome())
        ),
        format!(
            "Decided on {}, by {}.",
            super::words::day(d.day()),
            super::pages::method_words(d.method)
        ),
    ];
    let me = v.caller.participant();
    if let Some(part) = d
        .parts
        .iter()
        .find(|part| me.is_some() && model.who(part) == me)
    {
        lines.push(format!(
            "You are recorded as: {}.",
            super::pages::position_words(part.position)
        ));
    }
    lines
}

/// Words for each method, response and position, in the schema's order.
pub(super) const METHODS: [(Method, &str, &str); 4] = [
    (
        Method::Consensus,
        "consensus",
        "Everyone agreed (consensus)",
    ),
    (Method::Vote, "vote", "A vote"),
    (
        Method::StaffDecision,
        "staff-decision",
        "Staff decided, after hearing partners",
    ),
    (Method::OnePerson, "one-person", "One person decided"),
];
pub(super) const RESPONSES: [(Response, &str, &str); 3] = [
    (Response::Accepted, "accepted", "Accepted"),
    (Response::Amended, "amended", "Accepted with changes"),
    (Response::Declined, "declined", "Not accepted"),
];
pub(super) const POSITIONS: [(Position, &str, &str); 3] = [
    (Position::Agree, "agree", "Agreed"),
    (Position::Disagree, "disagree", "Disagreed"),
    (Position::Abstain, "abstain", "Did not take a side"),
];

fn spec(
    kind: Kind,
    state: &AppState,
    v: &Visitor,
    (model, record): (&Model, Option<&crate::ledger::StoredEvent>),
    target: Uuid,
) -> Result<Spec, PageError> {
    use FieldKind::*;
    let project = ProjectId::from(target);
    let project_title = || {
        model
            .projects
            .get(&project)
            .map(|p| model.text(&p.title))
            .ok_or_else(PageError::not_found)
    };
    let decision = || {
        model
            .decisions
            .get(&target.into())
            .ok_or_else(PageError::not_found)
    };
    let back_to_decision = || (format!("/decisions/{target}"), s("Back to the decision"));
    Ok(match kind {
        Kind::Propose => Spec {
            title: format!("Put forward an idea for {}", project_title()?),
            intro: vec![s(
                "Tell us your idea, question or suggestion. The team must answer it, and you will see the answer on this site.",
            )],
            fields: vec![
                field("text", "Your idea", Long)
                    .hint("Write it in your own words. A few sentences is fine."),
            ],
            submit: "Send my idea",
            back: (format!("/projects/{target}"), s("Back to the project")),
        },
        Kind::Confirm => {
            let d = decision()?;
            let mut intro = decision_summary(v, model, d);
            intro.push(s(
                "The record says you took part in this decision. Tell us if that is right.",
            ));
            Spec {
                title: s("Is this decision right about you?"),
                intro,
                fields: vec![
                    field("answer", "Is it right?", Choice).options(vec![
                        (s("confirm"), s("Yes, that is right")),
                        (s("dispute"), s("No, that is not right")),
                    ]),
                    field("reason", "If not, what is wrong?", Long)
                        .hint("Only needed if you said no."),
                ],
                submit: "Send",
                back: back_to_decision(),
            }
        }
        Kind::Challenge => {
            let d = decision()?;
            let mut intro = decision_summary(v, model, d);
            intro.push(s(
                "If you think this decision was wrong, or was not made the way it should have been, say why. The team must answer.",
            ));
            Spec {
                title: s("Challenge this decision"),
                intro,
                fields: vec![field("reason", "Why are you challenging it?", Long)],
                submit: "Send my challenge",
                back: back_to_decision(),
            }
        }
        Kind::Equality => Spec {
            title: s("Tell us about yourself"),
            intro: vec![
                s(
                    "These questions help us see who takes part and who is missing. Every question is optional, and you can choose “prefer not to say”.",
                ),
                s(
                    "Only you can answer for yourself. We never show your answers to anyone: we only show totals, with small numbers hidden. You can ask us to delete them at any time.",
                ),
            ],
            fields: QUESTIONS
                .iter()
                .map(|q| {
                    let mut o: Vec<(String, String)> = q
                        .answers
                        .iter()
                        .map(|a| (a.to_string(), answer_words(a).to_string()))
                        .collect();
                    o.push((s(PREFER_NOT_TO_SAY), s(answer_words(PREFER_NOT_TO_SAY))));
                    field(q.key, q.words, Choice).options(o)
                })
                .collect(),
            submit: "Save my answers",
            back: (s("/who-is-present"), s("Back to who takes part")),
        },
        Kind::NewProject => {
            // Every member of staff while the list is short; at a large
            // organisation, the signed-in person and those leading the
            // projects most recently active (a choice of thousands helps
            // no one and makes the page megabytes long).
            // Counted first: a list of every member of staff only to count
            // them was 2 MB a request at 10^6 records.
            let staff = || {
                model
                    .people
                    .values()
                    .filter(|p| p.role == Some(PersonRole::Staff) && !model.erased.contains(&p.id))
                    .map(|p| p.id)
            };
            let everyone = staff().count();
            let (ids, hint) = if everyone <= MAX_LEAD_CHOICES {
                (
                    staff().collect(),
                    "A member of staff who has joined.".to_string(),
                )
            } else {
                let mut ids = Vec::new();
                let me = v
                    .caller
                    .participant()
                    .filter(|p| model.role(p) == Some(PersonRole::Staff));
                let recent = model
                    .by_last_change
                    .values()
                    .rev()
                    .filter_map(|id| model.projects.get(id));
                for id in me.into_iter().chain(recent.map(|p| p.lead)) {
                    if ids.len() == MAX_LEAD_CHOICES {
                        break;
                    }
                    if !ids.contains(&id) && !model.erased.contains(&id) {
                        ids.push(id);
                    }
                }
                (
                    ids,
                    format!(
                        "You, and the members of staff leading the projects most recently active ({MAX_LEAD_CHOICES} of {everyone}).",
                    ),
                )
            };
            // By name, you first; someone the people store has no name
            // for is told apart by the end of their id, never one of many
            // identical "a member of staff".
            let me_id = v.caller.participant();
            let mut staff: Vec<(bool, String, String)> = ids
                .into_iter()
                .map(|id| {
                    let real = state.app().person_name(&v.caller, id.uuid()).ok();
                    let named = real.as_deref().filter(|n| *n != "a former participant");
                    let words = match (Some(id) == me_id, named) {
                        (true, Some(n)) => format!("You ({n})"),
                        (true, None) => "You".to_string(),
                        (false, Some(n)) => n.to_string(),
                        (false, None) => format!("A member of staff ({})", short_id(&id)),
                    };
                    (Some(id) != me_id, words, id.to_string())
                })
                .collect();
            staff.sort();
            let staff: Vec<(String, String)> = staff
                .into_iter()
                .map(|(_, words, id)| (id, words))
                .collect();
            let me = v.caller.participant().map(|p| p.to_string());
            Spec {
                title: s("Start a new project"),
                intro: vec![s(
                    "Say honestly how much partners will shape it: the record will show whether it works that way.",
                )],
                fields: vec![
                    field("title", "Name of the project", Short),
                    field("summary", "What it is for", Long),
                    field("lead", "Who leads it?", Choice)
                        .hint(&hint)
                        .options(staff)
                        .preset(me.as_deref().unwrap_or("")),
                    field("involvement", "How will partners be involved?", Choice).options(vec![
                        (
                            s("co-production"),
                            s("Co-production: partners share power and decide with us"),
                        ),
                        (s("co-design"), s("Co-design: partners help design it")),
                        (s("engagement"), s("Engagement: partners are kept involved")),
                        (
                            s("consultation"),
                            s("Consultation: partners are asked for views"),
                        ),
                    ]),
                    field("aim", "One thing it aims to change", Long),
                ],
                submit: "Start the project",
                back: (s("/home"), s("Back to projects")),
            }
        }
        Kind::Meeting => Spec {
            title: format!("Record a meeting of {}", project_title()?),
            intro: vec![],
            fields: vec![
                field("date", "When was it?", Date),
                field("attendees", "Who came?", Many).options(members(state, v, model, &project)),
                field("materials", "Were papers sent out before it?", Choice)
                    .options(vec![(s("yes"), s("Yes")), (s("no"), s("No"))]),
                field("summary", "What happened", Long),
            ],
            submit: "Record the meeting",
            back: (format!("/projects/{target}"), s("Back to the project")),
        },
        Kind::Decision => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let mut fields = vec![
                field("question", "What was the question?", Short),
                field("outcome", "What was decided?", Long),
                field("method", "How was it decided?", Choice).options(
                    METHODS
                        .iter()
                        .map(|(_, value, words)| (s(value), s(words)))
                        .collect(),
                ),
                field("reason", "Why, in plain words", Long),
                field("made_on", "When was it decided?", Date)
                    .hint("Leave it empty if it was decided today."),
            ];
            let ideas: Vec<_> = p
                .proposals
                .iter()
                .filter_map(|id| model.proposals.get(id))
                .filter(|pr| pr.withdrawn.is_none())
                .collect();
            fields.push(field("ideas", "The ideas it answers", Heading).hint(
                if ideas.is_empty() {
                    "No one has put forward an idea in this project yet."
                } else {
                    "Tick each idea this decision answers, then say what it said to it and why."
                },
            ));
            let quoted = |pr: &crate::coproduction::model::Proposal| {
                let answered = match pr.answers.last() {
                    Some((_, r, _)) => format!(" (answered before: {})", r.words()),
                    None => String::new(),
                };
                format!("“{}”{answered}", model.text(&pr.text))
            };
            if !ideas.is_empty() {
                fields.push(
                    field("answers", "Which ideas does it answer?", Many).options(
                        ideas
                            .iter()
                            .map(|pr| (pr.id.to_string(), quoted(pr)))
                            .collect(),
                    ),
                );
            }
            // Ideas waiting for an answer first; those answered before,
            // which a decision answers again far less often, folded away.
            let (waiting, answered): (Vec<_>, Vec<_>) =
                ideas.into_iter().partition(|pr| pr.answers.is_empty());
            let idea_fields =
                |fields: &mut Vec<Field>, pr: &crate::coproduction::model::Proposal| {
                    let mut choices = vec![(s(""), s("Not answered by this decision"))];
                    choices.extend(RESPONSES.iter().map(|(_, v, w)| (s(v), s(w))));
                    fields.push(
                        field(
                            &format!("response-{}", pr.id),
                            &format!("What did it say to “{}”?", model.text(&pr.text)),
                            Inline,
                        )
                        .options(choices),
                    );
                    fields.push(
                        field(&format!("why-{}", pr.id), "Why, for this idea", Short)
                            .hint("Needed if this decision answers it."),
                    );
                };
            for pr in &waiting {
                idea_fields(&mut fields, pr);
            }
            if !answered.is_empty() {
                fields.push(field(
                    "answered-before",
                    &format!(
                        "Ideas answered before ({}): to answer one again",
                        answered.len()
                    ),
                    Fold,
                ));
                for pr in &answered {
                    idea_fields(&mut fields, pr);
                }
                fields.push(field("answered-before-end", "", FoldEnd));
            }
            fields.push(field("people", "Who took part", Heading).hint(
                "For each person who took part, say where they stood. Partners will be asked to confirm their part.",
            ));
            for (id, words) in members(state, v, model, &project) {
                let mut choices = vec![(s(""), s("Did not take part"))];
                choices.extend(POSITIONS.iter().map(|(_, v, w)| (s(v), s(w))));
                fields.push(field(&format!("position-{id}"), &words, Inline).options(choices));
            }
            Spec {
                title: format!("Record a decision of {}", model.text(&p.title)),
                intro: vec![format!(
                    "The project is at the {} stage, so this is recorded as a {} decision.",
                    p.stage.words(),
                    p.stage.words()
                )],
                fields,
                submit: "Record the decision",
                back: (format!("/projects/{target}"), s("Back to the project")),
            }
        }
        Kind::Action => {
            let d = decision()?;
            Spec {
                title: s("Record an action this decision led to"),
                intro: vec![],
                fields: {
                    let ideas: Vec<(String, String)> = d
                        .answers
                        .iter()
                        .filter_map(|a| model.proposals.get(&a.proposal_id))
                        .map(|pr| (pr.id.to_string(), format!("“{}”", model.text(&pr.text))))
                        .collect();
                    let mut f = vec![
                        field("what", "What will be done?", Long),
                        field("owner", "Who will do it?", Choice)
                            .options(members(state, v, model, &d.project)),
                        field("due", "By when?", Date),
                    ];
                    if !ideas.is_empty() {
                        f.push(
                            field("proposal_ids", "Which ideas does it act on?", Many)
                                .hint("Choose none if it carries out the decision as a whole.")
                                .options(ideas),
                        );
                    }
                    f
                },
                submit: "Record the action",
                back: back_to_decision(),
            }
        }
        Kind::Complete => {
            let a = model
                .actions
                .get(&target.into())
                .ok_or_else(PageError::not_found)?;
            Spec {
                title: s("Record that an action is done"),
                intro: vec![format!("The action: {}", model.text(&a.what))],
                fields: vec![field("what_changed", "What changed because of it?", Long)],
                submit: "Record it as done",
                back: (
                    format!("/decisions/{}", a.decision),
                    s("Back to the decision"),
                ),
            }
        }
        Kind::Reply => {
            let c = model
                .challenges
                .get(&target.into())
                .ok_or_else(PageError::not_found)?;
            let mut intro = model
                .decisions
                .get(&c.decision)
                .map(|d| decision_summary(v, model, d))
                .unwrap_or_default();
            intro.extend([
                format!("Your challenge: “{}”", model.text(&c.reason)),
                format!(
                    "The answer: {}",
                    c.answer
                        .as_ref()
                        .map_or("not given yet".to_owned(), |a| model.text(a))
                ),
            ]);
            Spec {
                title: s("Reply to the answer to your challenge"),
                intro,
                fields: vec![
                    field("happy", "Are you happy with the answer?", Choice).options(vec![
                        (s("yes"), s("Yes, I am happy with the answer. This closes my challenge.")),
                        (
                            s("no"),
                            s("No, I still disagree. My challenge opens again and the team must answer again."),
                        ),
                    ]),
                    field("reason", "Anything you want to say", Long)
                        .hint("If you still disagree, say why. If you are happy, you can leave this empty."),
                ],
                submit: "Send my reply",
                back: (
                    format!("/decisions/{}", c.decision),
                    s("Back to the decision"),
                ),
            }
        }
        Kind::AnswerDispute => {
            let d = decision()?;
            let waiting: Vec<(String, String)> = d
                .stances()
                .iter()
                .filter(|(who, st)| {
                    matches!(st, Stance::Disputed(_)) && !d.dispute_answers().contains_key(*who)
                })
                .map(|(who, st)| {
                    let why = match st {
                        Stance::Disputed(why) => model.text(why),
                        Stance::Confirmed | Stance::ConfirmedOnStaffCard(_) => String::new(),
                    };
                    (
                        who.to_string(),
                        format!(
                            "{}: “{why}”",
                            super::capitalised(&name_of(state, v, model, who))
                        ),
                    )
                })
                .collect();
            if waiting.is_empty() {
                return Err(PageError::Status(
                    StatusCode::CONFLICT,
                    "No one's dispute of this decision is waiting for an answer.".into(),
                ));
            }
            // With one dispute waiting there is nothing to choose.
            let only = if waiting.len() == 1 {
                waiting[0].0.clone()
            } else {
                String::new()
            };
            Spec {
                title: s("Answer a dispute"),
                intro: {
                    let mut intro = decision_summary(v, model, d);
                    intro.push(s(
                        "A partner says the record of their part in it is not right.",
                    ));
                    intro
                },
                fields: vec![
                    field("participant_id", "Whose dispute are you answering?", Choice)
                        .options(waiting)
                        .preset(&only),
                    field("answer", "Your answer", Long).hint(
                        "Say what you will do: correct the record, talk it through, or why it stands.",
                    ),
                ],
                submit: "Send the answer",
                back: back_to_decision(),
            }
        }
        Kind::Review => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let last = match p.reviews.last() {
                Some(r) => format!(
                    "The last review was recorded on {}.",
                    super::words::day(Day::of(r.at))
                ),
                None => s("This is the project's first review."),
            };
            Spec {
                title: format!("Record a review of {}", model.text(&p.title)),
                intro: vec![
                    s(
                        "Look back on the project with its partners: what has worked, what has not, and what will change.",
                    ),
                    last,
                ],
                fields: vec![
                    field("summary", "What did you find?", Long).hint(
                        "What partners said, what has worked, what has not, and what will change.",
                    ),
                    field("next_review", "When is the next review due?", Date)
                        .hint("Within a year is usual."),
                ],
                submit: "Record the review",
                back: (format!("/projects/{target}"), s("Back to the project")),
            }
        }
        Kind::Outcome => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let aims: Vec<(String, String)> = p
                .aims
                .iter()
                .map(|a| (a.aim_id.to_string(), model.text(&a.text)))
                .collect();
            // With one aim there is nothing to choose.
            let only = if aims.len() == 1 {
                aims[0].0.clone()
            } else {
                String::new()
            };
            Spec {
                title: format!("Record an outcome of {}", model.text(&p.title)),
                intro: vec![s(
                    "Say what changed against one of the project's aims, and how you know.",
                )],
                fields: vec![
                    field("aim_id", "Which aim is it about?", Choice)
                        .options(aims)
                        .preset(&only),
                    field("outcome", "What changed?", Long),
                    field("evidence", "How do you know?", Long).hint(
                        "For example: figures, what partners reported, or a document others can read.",
                    ),
                ],
                submit: "Record the outcome",
                back: (format!("/projects/{target}"), s("Back to the project")),
            }
        }
        Kind::Stage => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let later: Vec<(String, String)> = ProjectStage::ALL
                .iter()
                .filter(|st| **st > p.stage)
                .map(|st| (s(st.words()), super::capitalised(st.words())))
                .collect();
            if later.is_empty() {
                return Err(PageError::Status(
                    StatusCode::CONFLICT,
                    "This project is closed: it has no later stage to move to.".into(),
                ));
            }
            let next = later[0].0.clone();
            Spec {
                title: format!("Move {} to its next stage", model.text(&p.title)),
                intro: vec![
                    format!("The project is at the {} stage.", p.stage.words()),
                    s(
                        "A project moves forward only, and decisions from now on are recorded at the new stage.",
                    ),
                ],
                fields: vec![
                    field("stage", "Which stage is it moving to?", Choice)
                        .options(later)
                        .preset(&next),
                ],
                submit: "Move the project to this stage",
                back: (format!("/projects/{target}"), s("Back to the project")),
            }
        }
        Kind::Involvement => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let options = ProjectInvolvement::ALL
                .iter()
                .map(|i| {
                    let now = if *i == p.involvement { " (now)" } else { "" };
                    (
                        s(i.words()),
                        format!(
                            "{}{now}: {}",
                            super::capitalised(i.words()),
                            super::pages::involvement_meaning(*i)
                        ),
                    )
                })
                .collect();
            Spec {
                title: format!(
                    "Change how partners are involved in {}",
                    model.text(&p.title)
                ),
                intro: vec![format!(
                    "The project says it works by {}. Say honestly how it will work from now on: the record shows whether it does.",
                    p.involvement.words()
                )],
                fields: vec![
                    field(
                        "involvement",
                        "How will partners be involved from now on?",
                        Choice,
                    )
                    .options(options),
                    field("reason", "Why is it changing?", Long)
                        .hint("Partners see this reason on the project's page."),
                ],
                submit: "Save the change",
                back: (format!("/projects/{target}"), s("Back to the project")),
            }
        }
        Kind::Correct => {
            let ev = record.ok_or_else(PageError::not_found)?;
            let (what, back) = record_words(model, ev);
            let mut intro = vec![format!(
                "The record: {what}, recorded on {}.",
                super::words::day(Day::of(ev.record.at()))
            )];
            intro.extend(said_in(ev));
            intro.push(s(
                "A record cannot be changed or removed. A correction is added to the record: pages then show the corrected words, marked as corrected, with why and what it said before.",
            ));
            // Which of its words are wrong: a choice only where it holds
            // more than one, the words it is chiefly about chosen first.
            let payload = payload_of(ev);
            let present: Vec<(String, String)> = TextField::ALL
                .into_iter()
                .filter_map(|f| {
                    let text = payload.get(f.name())?.as_str()?;
                    let label = WORDS
                        .iter()
                        .find(|(k, _)| *k == f.name())
                        .map_or(f.name(), |(_, l)| l);
                    Some((f.name().to_string(), format!("{label}: “{text}”")))
                })
                .collect();
            let main = crate::coproduction::stored_event(ev, &model.kept)
                .as_ref()
                .and_then(crate::coproduction::said::main_field)
                .map_or("", |f| f.name());
            let mut fields = Vec::new();
            if present.len() > 1 {
                fields.push(
                    field("field", "Which words are wrong?", Choice)
                        .options(present)
                        .preset(main)
                        .hint("Only words can be corrected. Who took part, and how it was decided, need a new record."),
                );
            }
            Spec {
                title: s("Correct a record"),
                intro,
                fields: fields
                    .into_iter()
                    .chain([
                        field("correction", "What should the record say?", Long)
                            .hint("Write the correct version in full."),
                        field("reason", "Why is it being corrected?", Long)
                            .hint("For example: a partner disputed their part, and was right."),
                    ])
                    .collect(),
                submit: "Record the correction",
                back,
            }
        }
        Kind::Withdraw => {
            let pr = model
                .proposals
                .get(&target.into())
                .filter(|pr| pr.by.is_some() && pr.by == v.caller.participant())
                .ok_or_else(PageError::not_found)?;
            Spec {
                title: s("Withdraw your idea"),
                intro: vec![
                    format!("Your idea: “{}”", model.text(&pr.text)),
                    s(
                        "Withdrawing it means the team will not answer it. It stays in the record, marked as withdrawn, with your reason.",
                    ),
                ],
                fields: vec![
                    field("reason", "Why are you withdrawing it?", Long)
                        .hint("The team and the other partners of the project will see this."),
                ],
                submit: "Withdraw my idea",
                back: (s("/home"), s("Back to your home page")),
            }
        }
        Kind::Answer => {
            let c = model
                .challenges
                .get(&target.into())
                .ok_or_else(PageError::not_found)?;
            let mut intro = model
                .decisions
                .get(&c.decision)
                .map(|d| decision_summary(v, model, d))
                .unwrap_or_default();
            intro.push(format!("The challenge: “{}”", model.text(&c.reason)));
            Spec {
                title: s("Answer a challenge"),
                intro,
                fields: vec![field("answer", "Your answer", Long)],
                submit: "Send the answer",
                back: (
                    format!("/decisions/{}", c.decision),
                    s("Back to the decision"),
                ),
            }
        }
    })
}

/// What a record is, in words, and the page it belongs to (for a
/// correction's "back" and where to go once it is made).
fn record_words(model: &Model, ev: &crate::ledger::StoredEvent) -> (String, (String, String)) {
    let payload = payload_of(ev);
    // Ids only as ids: an `x.` record's fields may hold anything.
    let id = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .and_then(|t| Uuid::parse_str(t).ok())
            .map(|u| u.to_string())
    };
    let project = id("project_id").and_then(|p| {
        let pid = Uuid::parse_str(&p).ok()?;
        Some((p, model.text(&model.projects.get(&pid.into())?.title)))
    });
    let type_name = ev.record.event_type().as_str();
    match (type_name, id("decision_id"), project) {
        ("decision.made", Some(d), _) => (
            s("a decision"),
            (format!("/decisions/{d}"), s("Back to the decision")),
        ),
        (_, Some(d), _) => (
            format!("a record about a decision ({type_name})"),
            (format!("/decisions/{d}"), s("Back to the decision")),
        ),
        (_, None, Some((p, title))) => (
            format!("a record of {title} ({type_name})"),
            (format!("/projects/{p}"), s("Back to the project")),
        ),
        _ => (
            format!("a record ({type_name})"),
            (s("/home"), s("Back to your home page")),
        ),
    }
}

fn payload_of(ev: &crate::ledger::StoredEvent) -> serde_json::Map<String, Value> {
    ev.payload
        .as_ref()
        .and_then(|p| serde_json::from_slice::<Value>(p.as_bytes()).ok())
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default()
}

/// What each field of words is called on the correction form.
const WORDS: [(&str, &str); 12] = [
    ("title", "The name"),
    ("question", "The question"),
    ("outcome", "What was decided"),
    ("text", "The words"),
    ("summary", "What happened"),
    ("what", "What will be done"),
    ("what_changed", "What changed"),
    ("reason", "Why"),
    ("answer", "The answer"),
    ("evidence", "How it is known"),
    ("correction", "The correction"),
    ("date", "The day"),
];

/// The words a record holds, a line each, as the correction form shows
/// them ("The question: ...").
fn said_in(ev: &crate::ledger::StoredEvent) -> Vec<String> {
    let payload = payload_of(ev);
    if ev.payload.is_none() {
        return vec![s("Its words were erased.")];
    }
    WORDS
        .iter()
        .filter_map(|(k, label)| {
            let text = payload.get(*k)?.as_str()?;
            let text = if *k == "date" {
                super::words::day(text)
            } else {
                text.to_string()
            };
            Some(format!("{label}: {text}"))
        })
        .collect()
}

/// What is wrong with what was typed, field by field.
type Problems = Vec<(String, String)>;

/// An event built from a form, where to go once it is recorded, and which
/// field each part of the event came from (JSON pointers into the request,
/// as the core's refusals give them).
struct Built {
    event_type: &'static str,
    payload: Value,
    next: String,
    places: Vec<(String, String)>,
}

impl Built {
    fn new(event_type: &'static str, payload: Value, next: String) -> Self {
        // Each top-level member of the payload comes from the field of the
        // same name, unless said otherwise.
        let places = payload
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (format!("/payload/{k}"), k.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Built {
            event_type,
            payload,
            next,
            places,
        }
    }

    fn entered_in(mut self, pointer: &str, field: &str) -> Self {
        self.places.push((pointer.into(), field.into()));
        self
    }

    /// The field a refusal's pointer names: the longest place it is at or
    /// inside. `None`: the form as a whole.
    fn field_at(&self, pointer: Option<&str>) -> Option<String> {
        let pointer = pointer?;
        self.places
            .iter()
            .filter(|(p, _)| pointer == p || pointer.starts_with(&format!("{p}/")))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, f)| f.clone())
    }
}

fn need(form: &FormData, name: &str, words: &str, problems: &mut Problems) -> String {
    let v = form.one(name).trim().to_string();
    if v.is_empty() {
        problems.push((name.into(), words.into()));
    }
    v
}

/// The event a form makes, or what is wrong with it, field by field.
fn build(kind: Kind, form: &FormData, model: &Model, target: Uuid) -> Result<Built, Problems> {
    let mut p = Problems::new();
    let new_id = Uuid::new_v4;
    let built = match kind {
        Kind::Propose => {
            let text = need(form, "text", "Write your idea", &mut p);
            Built::new(
                "proposal.raised",
                json!({"project_id": target, "proposal_id": new_id(), "text": text}),
                format!("/projects/{target}"),
            )
        }
        Kind::Confirm => match form.one("answer") {
            "confirm" => Built::new(
                "decision.confirmed",
                json!({"decision_id": target}),
                format!("/decisions/{target}"),
            )
            .entered_in("/payload/decision_id", "answer"),
            "dispute" => {
                let reason = need(form, "reason", "Say what is wrong", &mut p);
                Built::new(
                    "decision.disputed",
                    json!({"decision_id": target, "reason": reason}),
                    format!("/decisions/{target}"),
                )
                .entered_in("/payload/decision_id", "answer")
            }
            _ => {
                p.push((s("answer"), s("Choose yes or no")));
                Built::new("", Value::Null, String::new())
            }
        },
        Kind::Challenge => {
            let reason = need(form, "reason", "Say why you are challenging it", &mut p);
            Built::new(
                "decision.challenged",
                json!({"decision_id": target, "challenge_id": new_id(), "reason": reason}),
                format!("/decisions/{target}"),
            )
        }
        Kind::Equality => unreachable!("the equality form is not an event"),
        Kind::NewProject => {
            let title = need(form, "title", "Give the project a name", &mut p);
            let summary = need(form, "summary", "Say what the project is for", &mut p);
            let lead = need(form, "lead", "Choose who leads it", &mut p);
            let involvement = need(
                form,
                "involvement",
                "Choose how partners will be involved",
                &mut p,
            );
            let aim = need(form, "aim", "Write one thing it aims to change", &mut p);
            let id = new_id();
            Built::new(
                "project.started",
                json!({"project_id": id, "title": title, "summary": summary, "involvement": involvement,
                "lead": lead, "aims": [{"aim_id": new_id(), "text": aim}]}),
                format!("/projects/{id}"),
            )
            .entered_in("/payload/aims", "aim")
        }
        Kind::Meeting => {
            let date = need(form, "date", "Give the date of the meeting", &mut p);
            let attendees = form.all("attendees");
            if attendees.is_empty() {
                p.push((s("attendees"), s("Choose who came")));
            }
            let materials = need(
                form,
                "materials",
                "Say whether papers were sent out first",
                &mut p,
            );
            let summary = need(form, "summary", "Say what happened", &mut p);
            Built::new(
                "meeting.held",
                json!({"project_id": target, "meeting_id": new_id(), "date": date, "attendees": attendees,
                "materials_in_advance": materials == "yes", "summary": summary}),
                format!("/projects/{target}"),
            )
            .entered_in("/payload/materials_in_advance", "materials")
        }
        Kind::Decision => build_decision(form, model, target, &mut p),
        Kind::Action => {
            let what = need(form, "what", "Say what will be done", &mut p);
            let owner = need(form, "owner", "Choose who will do it", &mut p);
            let due = need(form, "due", "Give a date", &mut p);
            let project = model.decisions.get(&target.into()).map(|d| d.project);
            let mut payload = json!({"project_id": project, "action_id": new_id(),
                "decision_id": target, "what": what, "owner": owner, "due": due});
            let ideas = form.all("proposal_ids");
            if !ideas.is_empty() {
                payload["proposal_ids"] = json!(ideas);
            }
            Built::new("action.committed", payload, format!("/decisions/{target}"))
        }
        Kind::Complete => {
            let changed = need(form, "what_changed", "Say what changed", &mut p);
            let decision = model
                .actions
                .get(&target.into())
                .map(|a| a.decision.to_string())
                .unwrap_or_default();
            Built::new(
                "action.completed",
                json!({"action_id": target, "what_changed": changed}),
                format!("/decisions/{decision}"),
            )
        }
        Kind::Reply => {
            let decision = model
                .challenges
                .get(&target.into())
                .map(|c| c.decision.to_string())
                .unwrap_or_default();
            match form.one("happy") {
                // Happy: the challenge closes, with what they said, if anything.
                "yes" => {
                    let reply = form.one("reason").trim();
                    let mut payload = json!({"challenge_id": target});
                    if !reply.is_empty() {
                        payload["reply"] = json!(reply);
                    }
                    Built::new("challenge.accepted", payload, "/home".to_string())
                        .entered_in("/payload/challenge_id", "happy")
                }
                // Not happy: the same challenge opens again, in reply.
                "no" => {
                    let reason = need(
                        form,
                        "reason",
                        "Say why you still disagree, so the team can answer",
                        &mut p,
                    );
                    Built::new(
                        "decision.challenged",
                        json!({"decision_id": decision, "challenge_id": new_id(),
                            "reason": reason, "in_reply_to": target}),
                        "/home".to_string(),
                    )
                    .entered_in("/payload/decision_id", "reason")
                    .entered_in("/payload/in_reply_to", "happy")
                }
                _ => {
                    p.push((
                        "happy".into(),
                        "Say whether you are happy with the answer".into(),
                    ));
                    Built::new("challenge.accepted", json!({}), "/home".to_string())
                }
            }
        }
        Kind::AnswerDispute => {
            let who = need(
                form,
                "participant_id",
                "Choose whose dispute you are answering",
                &mut p,
            );
            let answer = need(form, "answer", "Write your answer", &mut p);
            Built::new(
                "dispute.answered",
                json!({"decision_id": target, "participant_id": who, "answer": answer}),
                format!("/decisions/{target}"),
            )
        }
        Kind::Review => {
            let summary = need(form, "summary", "Say what you found", &mut p);
            let next = need(
                form,
                "next_review",
                "Give the day the next review is due",
                &mut p,
            );
            Built::new(
                "review.held",
                json!({"project_id": target, "summary": summary, "next_review": next}),
                format!("/projects/{target}"),
            )
        }
        Kind::Outcome => {
            let aim = need(form, "aim_id", "Choose the aim it is about", &mut p);
            let outcome = need(form, "outcome", "Say what changed", &mut p);
            let evidence = need(form, "evidence", "Say how you know", &mut p);
            Built::new(
                "outcome.recorded",
                json!({"project_id": target, "aim_id": aim, "outcome": outcome, "evidence": evidence}),
                format!("/projects/{target}"),
            )
        }
        Kind::Stage => {
            let stage = need(form, "stage", "Choose the stage it is moving to", &mut p);
            Built::new(
                "stage.changed",
                json!({"project_id": target, "stage": stage}),
                format!("/projects/{target}"),
            )
        }
        Kind::Involvement => {
            let involvement = need(
                form,
                "involvement",
                "Choose how partners will be involved",
                &mut p,
            );
            let reason = need(form, "reason", "Say why it is changing", &mut p);
            Built::new(
                "involvement.changed",
                json!({"project_id": target, "involvement": involvement, "reason": reason}),
                format!("/projects/{target}"),
            )
        }
        Kind::Correct => {
            let correction = need(
                form,
                "correction",
                "Write what the record should say",
                &mut p,
            );
            let reason = need(form, "reason", "Say why it is being corrected", &mut p);
            // Where to go next is the record's own page, known to `spec`.
            let mut payload =
                json!({"corrects": target, "correction": correction, "reason": reason});
            if !form.one("field").is_empty() {
                payload["field"] = json!(form.one("field"));
            }
            Built::new("record.corrected", payload, String::new())
                .entered_in("/payload/corrects", "correction")
        }
        Kind::Withdraw => {
            let reason = need(form, "reason", "Say why you are withdrawing it", &mut p);
            Built::new(
                "proposal.withdrawn",
                json!({"proposal_id": target, "reason": reason}),
                s("/home"),
            )
            .entered_in("/payload/proposal_id", "reason")
        }
        Kind::Answer => {
            let answer = need(form, "answer", "Write your answer", &mut p);
            let decision = model
                .challenges
                .get(&target.into())
                .map(|c| c.decision.to_string())
                .unwrap_or_default();
            Built::new(
                "challenge.answered",
                json!({"challenge_id": target, "answer": answer}),
                format!("/decisions/{decision}"),
            )
        }
    };
    if p.is_empty() { Ok(built) } else { Err(p) }
}

/// The decision form: what was decided, how, what it said to each idea it
/// answers and why, and where each person who took part stood, exactly as
/// typed. The stage is the project's.
fn build_decision(form: &FormData, model: &Model, target: Uuid, p: &mut Problems) -> Built {
    let question = need(form, "question", "Write the question", p);
    let outcome = need(form, "outcome", "Write what was decided", p);
    let method = need(form, "method", "Choose how it was decided", p);
    let reason = need(form, "reason", "Say why", p);
    let project = model.projects.get(&target.into());
    let mut answers = Vec::new();
    let mut places = Vec::new();
    let ticked = form.all("answers");
    for pid in project
        .map(|pr| pr.proposals.as_slice())
        .unwrap_or_default()
    {
        let response_field = format!("response-{pid}");
        let response = form.one(&response_field);
        if response.is_empty() {
            // Ticked as answered, but not said how: asked, not guessed.
            if ticked.contains(&pid.to_string()) {
                p.push((
                    response_field,
                    s("Say what this decision said to this idea"),
                ));
            }
            continue;
        }
        let why_field = format!("why-{pid}");
        let why = form.one(&why_field).trim();
        if why.is_empty() {
            p.push((why_field.clone(), s("Say why, for this idea")));
        }
        let i = answers.len();
        places.push((format!("/payload/answers/{i}"), format!("response-{pid}")));
        places.push((format!("/payload/answers/{i}/reason"), why_field));
        answers.push(json!({"proposal_id": pid, "response": response, "reason": why}));
    }
    let mut participants = Vec::new();
    for id in project
        .map(|pr| pr.members.keys().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let position = form.one(&format!("position-{id}"));
        if position.is_empty() {
            continue;
        }
        places.push((
            format!("/payload/participants/{}", participants.len()),
            format!("position-{id}"),
        ));
        participants.push(json!({"participant_id": id, "position": position}));
    }
    if participants.is_empty() {
        p.push((s("people"), s("Say who took part, and where each stood")));
    }
    let stage = project.map(|pr| pr.stage);
    // Checked at one stage, recorded at another: shown again, not recorded.
    let checked = form.one("stage_checked");
    if let Some(now) = stage
        && !checked.is_empty()
        && checked != now.words()
    {
        p.push((
            s("question"),
            format!(
                "The project has moved on to the {} stage since you checked this decision: check it again before you record it",
                now.words()
            ),
        ));
    }
    let id = Uuid::new_v4();
    let mut payload = json!({"project_id": target, "decision_id": id, "question": question,
        "outcome": outcome, "stage": stage, "method": method, "answers": answers,
        "participants": participants, "reason": reason});
    let made_on = form.one("made_on").trim();
    if !made_on.is_empty() {
        payload["made_on"] = json!(made_on);
    }
    let mut built = Built::new("decision.made", payload, format!("/decisions/{id}"))
        .entered_in("/payload/answers", "ideas")
        .entered_in("/payload/participants", "people");
    built.places.extend(places);
    built
}

/// What a form starts with when it is new: chosen by the link that opened
/// it (its query: `?answers=<idea>` ticks the idea a decision answers).
/// Only shown, never recorded unseen.
#[derive(Default)]
struct Preset(FormData);

/// Shows a form: new (with what its link chose), or again with what was
/// typed and what is wrong with it. `refused` is the kind of the core's
/// refusal, which sets the status (a problem the form found itself is
/// invalid input).
#[allow(clippy::too_many_arguments)]
fn show(
    kind: Kind,
    state: &AppState,
    v: &Visitor,
    target: Uuid,
    form: Option<&FormData>,
    problems: Problems,
    path: &str,
    refused: Option<RefusalKind>,
) -> Result<HttpResponse, PageError> {
    show_preset(
        kind,
        state,
        v,
        target,
        form,
        &Preset::default(),
        problems,
        path,
        refused,
    )
}

#[allow(clippy::too_many_arguments)]
fn show_preset(
    kind: Kind,
    state: &AppState,
    v: &Visitor,
    target: Uuid,
    form: Option<&FormData>,
    preset: &Preset,
    problems: Problems,
    path: &str,
    refused: Option<RefusalKind>,
) -> Result<HttpResponse, PageError> {
    gate(kind, state, v, target)?;
    let record = the_record(kind, state, v, target)?;
    let model = state.page_model()?;
    let mut sp = spec(kind, state, v, (&model, record.as_ref()), target)?;
    drop(model);
    // Whoever made a card could be holding it: the partner's answers are
    // not shown in its session, nor changed (docs/PRIVACY.md).
    if let Kind::Equality = kind
        && v.on_staff_card
    {
        return super::sign_ins::claim_page(v, None);
    }
    if let Kind::Equality = kind
        && form.is_none()
    {
        let answers = state.app().equality_answers(&v.caller)?;
        for f in &mut sp.fields {
            f.value = answers.get(&f.name).cloned().unwrap_or_default();
        }
    }
    for f in &mut sp.fields {
        if let Some(form) = form {
            f.value = form.one(&f.name).to_string();
            f.chosen = form.all(&f.name);
        } else if kind.presettable().contains(&f.name.as_str()) && preset.0.0.contains_key(&f.name)
        {
            // Only a choice the form offers: a link cannot put words in.
            let offered = |x: &str| f.options.iter().any(|(o, _)| o == x);
            let chosen: Vec<String> = preset
                .0
                .all(&f.name)
                .into_iter()
                .filter(|x| offered(x))
                .collect();
            if let Some(first) = chosen.first() {
                f.value = first.clone();
            }
            f.chosen = chosen;
        }
        f.error = problems
            .iter()
            .find(|(n, _)| *n == f.name)
            .map(|(_, m)| m.clone());
    }
    // A fold with anything in it stays open, so nothing typed is hidden;
    // so does one holding an idea ticked as answered.
    let ticked: Vec<String> = sp
        .fields
        .iter()
        .filter(|f| f.name == "answers")
        .flat_map(|f| f.chosen.iter().map(|id| format!("response-{id}")))
        .collect();
    let mut fold: Option<usize> = None;
    for i in 0..sp.fields.len() {
        match sp.fields[i].kind {
            FieldKind::Fold => fold = Some(i),
            FieldKind::FoldEnd => fold = None,
            _ => {
                let f = &sp.fields[i];
                let used = !f.value.is_empty() || f.error.is_some() || ticked.contains(&f.name);
                if let (Some(start), true) = (fold, used) {
                    sp.fields[start].value = "open".into();
                }
            }
        }
    }
    // A problem no field owns is shown at the top, linked to the first field.
    let errors = problems
        .into_iter()
        .map(|(n, m)| {
            if sp.fields.iter().any(|f| f.name == n) {
                (n, m)
            } else {
                (sp.fields.first().map_or(n, |f| f.name.clone()), m)
            }
        })
        .collect::<Vec<_>>();
    let title = if errors.is_empty() {
        sp.title.clone()
    } else {
        format!("Error: {}", sp.title)
    };
    let page = Frame::for_visitor(v, &title, "");
    let status = match (errors.is_empty(), refused) {
        (true, _) => StatusCode::OK,
        (false, Some(kind)) => super::super::error::status_of(kind),
        (false, None) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut r = render(FormPage {
        page,
        intro: sp.intro,
        errors,
        action: path.into(),
        fields: sp.fields,
        submit: sp.submit.into(),
        back: sp.back,
    })?;
    *r.status_mut() = status;
    // What was typed is in the page: not for any cache to keep.
    Ok(if form.is_some() {
        super::not_stored(r)
    } else {
        r
    })
}

/// How many of the people a `decision.made` payload says took part are
/// partners: only they are asked to confirm their part.
pub(super) fn partners_in(state: &AppState, payload: &Value) -> usize {
    let Ok(model) = state.page_model() else {
        return 0;
    };
    (payload["participants"].as_array().into_iter().flatten())
        .filter_map(|x| x["participant_id"].as_str())
        .filter_map(|id| uuid::Uuid::parse_str(id).ok())
        .filter(|id| {
            model.role(&crate::coproduction::values::ParticipantId::from(*id))
                == Some(PersonRole::Partner)
        })
        .count()
}

/// What the next page says once a decision is recorded: only what
/// happened (no partner to ask when none took part).
fn decision_saved(state: &AppState, payload: &Value) -> String {
    match partners_in(state, payload) {
        0 => "The decision has been saved. No partner took part in it, so no one is asked to confirm it.".to_string(),
        1 => "The decision has been saved. The partner who took part can now confirm or dispute their part, from their home page.".to_string(),
        n => format!("The decision has been saved. The {n} partners who took part can now confirm or dispute their part, from their home page."),
    }
}

/// The record a correction is about, read before the model is (reading
/// it takes the model too).
fn the_record(
    kind: Kind,
    state: &AppState,
    v: &Visitor,
    target: Uuid,
) -> Result<Option<crate::ledger::StoredEvent>, PageError> {
    Ok(match kind {
        Kind::Correct => Some(state.app().event_by_id(&v.caller, &target)?),
        _ => None,
    })
}

/// Whether a refusal of this kind is shown on the form (what was typed can
/// fix it) or as a page of its own.
fn shown_on_the_form(kind: RefusalKind) -> bool {
    matches!(
        kind,
        RefusalKind::Malformed
            | RefusalKind::Invalid
            | RefusalKind::Conflict
            | RefusalKind::TooLarge
            // Sent too fast: what was typed stays, to send again after the wait.
            | RefusalKind::TooMany
    )
}

async fn submit(
    kind: Kind,
    state: AppState,
    (settings, headers): (Settings, HeaderMap),
    target: Uuid,
    body: Bytes,
    path: String,
) -> Result<HttpResponse, PageError> {
    let form = FormData::parse(&body).unpacked();
    let mut v = match state.visitor(&headers) {
        // The session ended while they typed: nothing is recorded, and what
        // they typed goes with them to the sign-in page and back.
        Err(PageError::SignIn) => {
            return Ok(super::keep_for_sign_in(&settings, &headers, &path, &form));
        }
        other => other?,
    };
    gate(kind, &state, &v, target)?;
    let current = form.one("csrf") == v.csrf;
    if !current || form.one("kept") == "1" {
        // Back from signing in, or a form from an older session (or another
        // site): show what was typed to check and send, never record it
        // unseen.
        v.notice = Some(if current {
            "You are signed in again. Here is what you typed: check it, then send it.".into()
        } else {
            "This form had expired, so nothing was sent. Here is what you typed: check it, then send it again.".into()
        });
        let mut r = show(
            kind,
            &state,
            &v,
            target,
            Some(&form),
            Vec::new(),
            &path,
            None,
        )?;
        if !current {
            *r.status_mut() = StatusCode::FORBIDDEN;
        }
        return Ok(r);
    }
    if let Kind::Equality = kind {
        return save_answers(&state, &v, &form, &path);
    }
    // "Change" on the check-your-answers page: the form again, as typed.
    if kind.checked_first() && !form.one("change").is_empty() {
        let mut r = show(
            kind,
            &state,
            &v,
            target,
            Some(&form),
            Vec::new(),
            &path,
            None,
        )?;
        *r.status_mut() = StatusCode::OK;
        return Ok(r);
    }
    let record = the_record(kind, &state, &v, target)?;
    let (built, back) = {
        let model = state.page_model()?;
        let sp = spec(kind, &state, &v, (&model, record.as_ref()), target)?;
        (build(kind, &form, &model, target), sp.back)
    };
    let mut built = match built {
        Ok(b) => b,
        Err(problems) => {
            return show(kind, &state, &v, target, Some(&form), problems, &path, None);
        }
    };
    if built.next.is_empty() {
        built.next = back.0;
    }
    let submission = crate::app::payload(&built.payload)
        .map(|payload| Submission::new(built.event_type, payload));
    if kind.checked_first() && form.one("step") != "confirm" {
        // Nothing is written yet: what would be, to check first, unless
        // the core would refuse it (then the form, with why).
        let checked = submission.and_then(|sub| state.app().check(&v.caller, &sub));
        return match checked {
            Ok(()) => super::check_answers::decision(&state, &v, &form, &built.payload, &path),
            Err(r) if shown_on_the_form(r.kind()) => {
                let at = built.field_at(r.pointer()).unwrap_or_default();
                show(
                    kind,
                    &state,
                    &v,
                    target,
                    Some(&form),
                    vec![(at, sentence(&r))],
                    &path,
                    Some(r.kind()),
                )
            }
            Err(r) => Err(r.into()),
        };
    }
    let recorded = match submission {
        Ok(submission) => {
            match kind {
                // Its lead and whoever started it join it as it starts.
                Kind::NewProject => state.app().start_project(&v.caller, submission).await,
                _ => state.app().append(&v.caller, submission).await,
            }
        }
        Err(r) => Err(r),
    };
    match recorded {
        Ok(_) => {
            let notice = match kind {
                Kind::Decision => decision_saved(&state, &built.payload),
                Kind::Reply if built.event_type == "challenge.accepted" => {
                    "Thank you: you said you are happy with the answer, so your challenge is now closed.".to_string()
                }
                Kind::Reply => "Thank you: your challenge is open again. The team must answer it again, and you will see their answer on your home page.".to_string(),
                _ => kind.notice().to_string(),
            };
            state.leave_notice(&v, &notice);
            Ok(Redirect::to(&built.next).into_response())
        }
        Err(r) if shown_on_the_form(r.kind()) => {
            let at = built.field_at(r.pointer()).unwrap_or_default();
            show(
                kind,
                &state,
                &v,
                target,
                Some(&form),
                vec![(at, sentence(&r))],
                &path,
                Some(r.kind()),
            )
        }
        Err(r) => Err(r.into()),
    }
}

/// A refusal's words as a sentence for a page.
fn sentence(r: &Refusal) -> String {
    format!(
        "{}.",
        super::capitalised(&super::words::dates_in_words(r.message()))
    )
}

fn save_answers(
    state: &AppState,
    v: &Visitor,
    form: &FormData,
    path: &str,
) -> Result<HttpResponse, PageError> {
    let answers: BTreeMap<String, String> = QUESTIONS
        .iter()
        .filter_map(|q| {
            Some((q.key.to_string(), form.0.get(q.key)?.first()?.clone()))
                .filter(|(_, a)| !a.is_empty())
        })
        .collect();
    match state.app().set_equality_answers(&v.caller, answers) {
        Ok(_) => {
            state.leave_notice(v, Kind::Equality.notice());
            Ok(Redirect::to("/who-is-present").into_response())
        }
        Err(r) if shown_on_the_form(r.kind()) => {
            let at = r
                .pointer()
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string();
            show(
                Kind::Equality,
                state,
                v,
                Uuid::nil(),
                Some(form),
                vec![(at, sentence(&r))],
                path,
                Some(r.kind()),
            )
        }
        Err(r) => Err(r.into()),
    }
}

macro_rules! form_route {
    ($router:ident, $path:literal, $kind:expr) => {
        $router = $router.route(
            $path,
            get(
                |State(state): State<AppState>,
                 headers: HeaderMap,
                 PageId(id): PageId,
                 RawQuery(query): RawQuery| async move {
                    let v = state.visitor(&headers)?;
                    let preset = Preset(FormData::parse(query.unwrap_or_default().as_bytes()));
                    show_preset(
                        $kind,
                        &state,
                        &v,
                        id,
                        None,
                        &preset,
                        Vec::new(),
                        &$path.replace("{id}", &id.to_string()),
                        None,
                    )
                },
            )
            .post(
                |State(state): State<AppState>,
                 Extension(settings): Extension<Settings>,
                 headers: HeaderMap,
                 PageId(id): PageId,
                 body: Bytes| async move {
                    let path = $path.replace("{id}", &id.to_string());
                    submit($kind, state, (settings, headers), id, body, path).await
                },
            ),
        );
    };
}

/// Most members of staff offered as a new project's lead.
const MAX_LEAD_CHOICES: usize = 100;

pub(super) fn routes() -> Router<AppState> {
    let mut r = Router::new();
    form_route!(r, "/projects/{id}/propose", Kind::Propose);
    form_route!(r, "/decisions/{id}/confirm", Kind::Confirm);
    form_route!(r, "/decisions/{id}/challenge", Kind::Challenge);
    form_route!(r, "/projects/{id}/meeting", Kind::Meeting);
    form_route!(r, "/projects/{id}/decision", Kind::Decision);
    form_route!(r, "/decisions/{id}/action", Kind::Action);
    form_route!(r, "/actions/{id}/complete", Kind::Complete);
    form_route!(r, "/challenges/{id}/answer", Kind::Answer);
    form_route!(r, "/challenges/{id}/reply", Kind::Reply);
    form_route!(r, "/decisions/{id}/answer-dispute", Kind::AnswerDispute);
    form_route!(r, "/projects/{id}/review", Kind::Review);
    form_route!(r, "/projects/{id}/outcome", Kind::Outcome);
    form_route!(r, "/projects/{id}/stage", Kind::Stage);
    form_route!(r, "/projects/{id}/involvement", Kind::Involvement);
    form_route!(r, "/records/{id}/correct", Kind::Correct);
    form_route!(r, "/ideas/{id}/withdraw", Kind::Withdraw);
    r.route(
        "/projects/new",
        get(
            |State(state): State<AppState>, headers: HeaderMap| async move {
                let v = state.visitor(&headers)?;
                show(
                    Kind::NewProject,
                    &state,
                    &v,
                    Uuid::nil(),
                    None,
                    Vec::new(),
                    "/projects/new",
                    None,
                )
            },
        )
        .post(
            |State(state): State<AppState>,
             Extension(settings): Extension<Settings>,
             headers: HeaderMap,
             body: Bytes| async move {
                submit(
                    Kind::NewProject,
                    state,
                    (settings, headers),
                    Uuid::nil(),
                    body,
                    s("/projects/new"),
                )
                .await
            },
        ),
    )
    .route(
        "/me/equality",
        get(
            |State(state): State<AppState>, headers: HeaderMap| async move {
                let v = state.visitor(&headers)?;
                show(
                    Kind::Equality,
                    &state,
                    &v,
                    Uuid::nil(),
                    None,
                    Vec::new(),
                    "/me/equality",
                    None,
                )
            },
        )
        .post(
            |State(state): State<AppState>,
             Extension(settings): Extension<Settings>,
             headers: HeaderMap,
             body: Bytes| async move {
                submit(
                    Kind::Equality,
                    state,
                    (settings, headers),
                    Uuid::nil(),
                    body,
                    s("/me/equality"),
                )
                .await
            },
        ),
    )
}
