//! The forms: partners put forward an idea, confirm or dispute their part in
//! a decision, challenge a decision, and answer the equality questions;
//! staff start a project, record a meeting, a decision, an action and its
//! completion, and answer a challenge. Each form is data (its fields) and a
//! function from what was typed to an event; the rules then check the event
//! as for any append. Errors are shown beside the field, in words, with
//! what was typed kept.

use super::pages::name_of;
use super::{Frame, PageError, Visitor, check_csrf, render};
use crate::api::AppState;
use crate::api::tokens::Role;
use crate::coproduction::equality::{PREFER_NOT_TO_SAY, QUESTIONS};
use crate::coproduction::model::Model;
use crate::coproduction::values::{ProjectId, Role as PersonRole};
use crate::ledger::{CanonicalPayload, EventType, NewEvent};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKind {
    Short,
    Long,
    Date,
    Choice,
    Many,
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
}

struct Spec {
    title: String,
    intro: Vec<String>,
    fields: Vec<Field>,
    submit: &'static str,
    back: (String, String),
    /// Who may use it.
    roles: &'static [Role],
}

fn s(x: &str) -> String {
    x.to_string()
}

fn members(
    state: &AppState,
    model: &Model,
    project: &ProjectId,
    role: Option<PersonRole>,
) -> Vec<(String, String)> {
    model
        .projects
        .get(project)
        .map(|p| {
            p.members
                .iter()
                .filter(|(_, m)| m.active && role.is_none_or(|r| r == m.role))
                .map(|(id, m)| {
                    let role = if m.role == PersonRole::Partner {
                        "partner"
                    } else {
                        "staff"
                    };
                    (
                        id.to_string(),
                        format!("{} ({role})", name_of(state, model, id)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spec(kind: Kind, state: &AppState, model: &Model, target: Uuid) -> Result<Spec, PageError> {
    use FieldKind::*;
    let project = ProjectId::from(target);
    let project_title = || {
        model
            .projects
            .get(&project)
            .map(|p| p.title.to_string())
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
            roles: &[Role::Partner],
        },
        Kind::Confirm => {
            decision()?;
            Spec {
                title: s("Is this decision right about you?"),
                intro: vec![s(
                    "The record says you took part in this decision. Tell us if that is right.",
                )],
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
                roles: &[Role::Partner],
            }
        }
        Kind::Challenge => {
            decision()?;
            Spec {
                title: s("Challenge this decision"),
                intro: vec![s(
                    "If you think this decision was wrong, or was not made the way it should have been, say why. The team must answer.",
                )],
                fields: vec![field("reason", "Why are you challenging it?", Long)],
                submit: "Send my challenge",
                back: back_to_decision(),
                roles: &[Role::Partner],
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
                        .map(|a| (a.to_string(), a.replace('_', " ")))
                        .collect();
                    o.push((s(PREFER_NOT_TO_SAY), s("prefer not to say")));
                    field(q.key, q.words, Choice).options(o)
                })
                .collect(),
            submit: "Save my answers",
            back: (s("/who-is-present"), s("Back to who takes part")),
            roles: &[Role::Partner],
        },
        Kind::NewProject => Spec {
            title: s("Start a new project"),
            intro: vec![s(
                "You will lead it. Say honestly how much partners will shape it: the record will show whether it works that way.",
            )],
            fields: vec![
                field("title", "Name of the project", Short),
                field("summary", "What it is for", Long),
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
            roles: &[Role::Staff, Role::Admin],
        },
        Kind::Meeting => Spec {
            title: format!("Record a meeting of {}", project_title()?),
            intro: vec![],
            fields: vec![
                field("date", "When was it?", Date),
                field("attendees", "Who came?", Many)
                    .options(members(state, model, &project, None)),
                field("materials", "Were papers sent out before it?", Choice)
                    .options(vec![(s("yes"), s("Yes")), (s("no"), s("No"))]),
                field("summary", "What happened", Long),
            ],
            submit: "Record the meeting",
            back: (format!("/projects/{target}"), s("Back to the project")),
            roles: &[Role::Staff, Role::Admin],
        },
        Kind::Decision => {
            let p = model
                .projects
                .get(&project)
                .ok_or_else(PageError::not_found)?;
            let ideas = p
                .proposals
                .iter()
                .filter_map(|id| model.proposals.get(id))
                .filter(|pr| pr.withdrawn.is_none())
                .map(|pr| (pr.id.to_string(), pr.text.to_string()))
                .collect();
            Spec {
                title: format!("Record a decision of {}", p.title),
                intro: vec![s(
                    "Choose the ideas it answers and who took part. Partners will be asked to confirm their part.",
                )],
                fields: vec![
                    field("question", "What was the question?", Short),
                    field("outcome", "What was decided?", Long),
                    field("method", "How was it decided?", Choice).options(vec![
                        (s("consensus"), s("Everyone agreed")),
                        (s("vote"), s("A vote")),
                        (s("staff_decision"), s("Staff decided")),
                        (s("one_person"), s("One person decided")),
                    ]),
                    field(
                        "proposals",
                        "Which ideas does it answer? (They are accepted.)",
                        Many,
                    )
                    .options(ideas),
                    field("participants", "Who took part?", Many)
                        .options(members(state, model, &project, None)),
                    field("reason", "Why, in plain words", Long),
                ],
                submit: "Record the decision",
                back: (format!("/projects/{target}"), s("Back to the project")),
                roles: &[Role::Staff, Role::Admin],
            }
        }
        Kind::Action => {
            let d = decision()?;
            Spec {
                title: s("Record an action this decision led to"),
                intro: vec![],
                fields: vec![
                    field("what", "What will be done?", Long),
                    field("owner", "Who will do it?", Choice)
                        .options(members(state, model, &d.project, None)),
                    field("due", "By when?", Date),
                ],
                submit: "Record the action",
                back: back_to_decision(),
                roles: &[Role::Staff, Role::Admin],
            }
        }
        Kind::Complete => {
            let a = model
                .actions
                .get(&target.into())
                .ok_or_else(PageError::not_found)?;
            Spec {
                title: s("Record that an action is done"),
                intro: vec![format!("The action: {}", a.what)],
                fields: vec![field("what_changed", "What changed because of it?", Long)],
                submit: "Record it as done",
                back: (
                    format!("/decisions/{}", a.decision),
                    s("Back to the decision"),
                ),
                roles: &[Role::Staff, Role::Admin],
            }
        }
        Kind::Answer => {
            let c = model
                .challenges
                .get(&target.into())
                .ok_or_else(PageError::not_found)?;
            Spec {
                title: s("Answer a challenge"),
                intro: vec![format!("The challenge: “{}”", c.reason)],
                fields: vec![field("answer", "Your answer", Long)],
                submit: "Send the answer",
                back: (
                    format!("/decisions/{}", c.decision),
                    s("Back to the decision"),
                ),
                roles: &[Role::Staff, Role::Admin],
            }
        }
    })
}

type Problems = Vec<(String, String)>;

fn need(form: &FormData, name: &str, words: &str, problems: &mut Problems) -> String {
    let v = form.one(name).trim().to_string();
    if v.is_empty() {
        problems.push((name.into(), words.into()));
    }
    v
}

/// The event a form makes, or what is wrong with it, field by field. Also
/// where to go afterwards.
fn build(
    kind: Kind,
    form: &FormData,
    model: &Model,
    v: &Visitor,
    target: Uuid,
) -> Result<(&'static str, Value, String), Problems> {
    let mut p = Problems::new();
    let new_id = || Uuid::new_v4();
    let out = match kind {
        Kind::Propose => {
            let text = need(form, "text", "Write your idea", &mut p);
            (
                "proposal.raised",
                json!({"project_id": target, "proposal_id": new_id(), "text": text}),
                format!("/projects/{target}"),
            )
        }
        Kind::Confirm => match form.one("answer") {
            "confirm" => (
                "decision.confirmed",
                json!({"decision_id": target}),
                format!("/decisions/{target}"),
            ),
            "dispute" => {
                let reason = need(form, "reason", "Say what is wrong", &mut p);
                (
                    "decision.disputed",
                    json!({"decision_id": target, "reason": reason}),
                    format!("/decisions/{target}"),
                )
            }
            _ => {
                p.push((s("answer"), s("Choose yes or no")));
                ("", Value::Null, String::new())
            }
        },
        Kind::Challenge => {
            let reason = need(form, "reason", "Say why you are challenging it", &mut p);
            (
                "decision.challenged",
                json!({"decision_id": target, "challenge_id": new_id(), "reason": reason}),
                format!("/decisions/{target}"),
            )
        }
        Kind::Equality => unreachable!("the equality form is not an event"),
        Kind::NewProject => {
            let title = need(form, "title", "Give the project a name", &mut p);
            let summary = need(form, "summary", "Say what the project is for", &mut p);
            let involvement = need(
                form,
                "involvement",
                "Choose how partners will be involved",
                &mut p,
            );
            let aim = need(form, "aim", "Write one thing it aims to change", &mut p);
            let id = new_id();
            let lead = v.token.participant.map(|p| p.uuid()).unwrap_or_default();
            (
                "project.started",
                json!({"project_id": id, "title": title, "summary": summary, "involvement": involvement,
                "lead": lead, "aims": [{"aim_id": new_id(), "text": aim}]}),
                format!("/projects/{id}"),
            )
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
            (
                "meeting.held",
                json!({"project_id": target, "meeting_id": new_id(), "date": date, "attendees": attendees,
                "materials_in_advance": materials == "yes", "summary": summary}),
                format!("/projects/{target}"),
            )
        }
        Kind::Decision => {
            let question = need(form, "question", "Write the question", &mut p);
            let outcome = need(form, "outcome", "Write what was decided", &mut p);
            let method = need(form, "method", "Choose how it was decided", &mut p);
            let reason = need(form, "reason", "Say why", &mut p);
            let parts = form.all("participants");
            if parts.is_empty() {
                p.push((s("participants"), s("Choose who took part")));
            }
            let stage = model.projects.get(&target.into()).map(|pr| pr.stage);
            let id = new_id();
            (
                "decision.made",
                json!({"project_id": target, "decision_id": id, "question": question, "outcome": outcome,
                "stage": stage, "method": method,
                "answers": form.all("proposals").iter().map(|pid| json!({"proposal_id": pid, "response": "accepted", "reason": reason})).collect::<Vec<_>>(),
                "participants": parts.iter().map(|pid| json!({"participant_id": pid, "position": "agree"})).collect::<Vec<_>>(),
                "reason": reason}),
                format!("/decisions/{id}"),
            )
        }
        Kind::Action => {
            let what = need(form, "what", "Say what will be done", &mut p);
            let owner = need(form, "owner", "Choose who will do it", &mut p);
            let due = need(form, "due", "Give a date", &mut p);
            let project = model.decisions.get(&target.into()).map(|d| d.project);
            (
                "action.committed",
                json!({"project_id": project, "action_id": new_id(), "decision_id": target,
                "what": what, "owner": owner, "due": due}),
                format!("/decisions/{target}"),
            )
        }
        Kind::Complete => {
            let changed = need(form, "what_changed", "Say what changed", &mut p);
            let decision = model
                .actions
                .get(&target.into())
                .map(|a| a.decision.to_string())
                .unwrap_or_default();
            (
                "action.completed",
                json!({"action_id": target, "what_changed": changed}),
                format!("/decisions/{decision}"),
            )
        }
        Kind::Answer => {
            let answer = need(form, "answer", "Write your answer", &mut p);
            let decision = model
                .challenges
                .get(&target.into())
                .map(|c| c.decision.to_string())
                .unwrap_or_default();
            (
                "challenge.answered",
                json!({"challenge_id": target, "answer": answer}),
                format!("/decisions/{decision}"),
            )
        }
    };
    if p.is_empty() { Ok(out) } else { Err(p) }
}

fn show(
    kind: Kind,
    state: &AppState,
    v: &Visitor,
    target: Uuid,
    form: Option<&FormData>,
    problems: Problems,
    path: &str,
) -> Result<Response, PageError> {
    let model = state.page_model()?;
    let mut sp = spec(kind, state, &model, target)?;
    if !v.is(sp.roles) {
        return Err(PageError::forbidden());
    }
    if let Kind::Equality = kind
        && form.is_none()
    {
        let me = v.token.participant.map(|p| p.uuid()).unwrap_or_default();
        let answers = state
            .0
            .people
            .get(&me)
            .ok()
            .flatten()
            .map(|p| p.answers)
            .unwrap_or_default();
        for f in &mut sp.fields {
            f.value = answers.get(&f.name).cloned().unwrap_or_default();
        }
    }
    drop(model);
    for f in &mut sp.fields {
        if let Some(form) = form {
            f.value = form.one(&f.name).to_string();
            f.chosen = form.all(&f.name);
        }
        f.error = problems
            .iter()
            .find(|(n, _)| *n == f.name)
            .map(|(_, m)| m.clone());
    }
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
    let mut page = Frame::for_visitor(v, &title, "");
    page.title = title;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
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
    Ok(r)
}

async fn submit(
    kind: Kind,
    state: AppState,
    headers: HeaderMap,
    target: Uuid,
    body: Bytes,
    path: String,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    if let Kind::Equality = kind {
        return save_answers(&state, &v, &form, &path);
    }
    let built = {
        let model = state.page_model()?;
        let sp = spec(kind, &state, &model, target)?;
        if !v.is(sp.roles) {
            return Err(PageError::forbidden());
        }
        build(kind, &form, &model, &v, target)
    };
    let (event_type, payload, next) = match built {
        Ok(b) => b,
        Err(problems) => return show(kind, &state, &v, target, Some(&form), problems, &path),
    };
    let payload = match CanonicalPayload::from_value(&payload) {
        Ok(p) => p,
        Err(e) => {
            return show(
                kind,
                &state,
                &v,
                target,
                Some(&form),
                vec![(String::new(), e.to_string())],
                &path,
            );
        }
    };
    let appended = state
        .0
        .sequencer
        .append(NewEvent {
            expected: None,
            event_type: EventType::new(event_type).expect("valid type"),
            actor: v.token.actor(),
            payload,
        })
        .await;
    match appended {
        Ok(a) => {
            state.0.appended.send_replace(a.seq + 1);
            Ok(Redirect::to(&next).into_response())
        }
        Err(crate::ledger::sequencer::AppendError::Refused(r)) => {
            // "/text" → the field "text"; "/answers/0/proposal_id" → "proposals".
            let field = r
                .pointer
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let field = match field.as_str() {
                "answers" => s("proposals"),
                "attendees" | "participants" | "owner" => field,
                f => f.to_string(),
            };
            show(
                kind,
                &state,
                &v,
                target,
                Some(&form),
                vec![(field, r.message)],
                &path,
            )
        }
        Err(e) => Err(PageError::broken(e)),
    }
}

fn save_answers(
    state: &AppState,
    v: &Visitor,
    form: &FormData,
    path: &str,
) -> Result<Response, PageError> {
    let Some(me) = v.token.participant.filter(|_| v.is(&[Role::Partner])) else {
        return Err(PageError::forbidden());
    };
    let answers: BTreeMap<String, String> = QUESTIONS
        .iter()
        .filter_map(|q| {
            Some((q.key.to_string(), form.0.get(q.key)?.first()?.clone()))
                .filter(|(_, a)| !a.is_empty())
        })
        .collect();
    if let Err((at, why)) = crate::coproduction::equality::check_answers(&answers) {
        return show(
            Kind::Equality,
            state,
            v,
            Uuid::nil(),
            Some(form),
            vec![(at.trim_start_matches('/').to_string(), why)],
            path,
        );
    }
    state
        .0
        .people
        .set_answers(&me.uuid(), answers)
        .map_err(PageError::broken)?;
    Ok(Redirect::to("/who-is-present").into_response())
}

macro_rules! form_route {
    ($router:ident, $path:literal, $kind:expr) => {
        $router = $router.route(
            $path,
            get(|State(state): State<AppState>, headers: HeaderMap, Path(id): Path<Uuid>| async move {
                let v = state.visitor(&headers)?;
                show($kind, &state, &v, id, None, Vec::new(), &$path.replace("{id}", &id.to_string()))
            })
            .post(|State(state): State<AppState>, headers: HeaderMap, Path(id): Path<Uuid>, body: Bytes| async move {
                let path = $path.replace("{id}", &id.to_string());
                submit($kind, state, headers, id, body, path).await
            }),
        );
    };
}

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
                )
            },
        )
        .post(
            |State(state): State<AppState>, headers: HeaderMap, body: Bytes| async move {
                submit(
                    Kind::NewProject,
                    state,
                    headers,
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
                )
            },
        )
        .post(
            |State(state): State<AppState>, headers: HeaderMap, body: Bytes| async move {
                submit(
                    Kind::Equality,
                    state,
                    headers,
                    Uuid::nil(),
                    body,
                    s("/me/equality"),
                )
                .await
            },
        ),
    )
}
