//! People pages, for admins and staff: find people by name (and email, for
//! admins) or project; register a person, with a warning rather than a
//! second person when the name or email is registered already; a person's
//! page with their details and projects, where admins correct a name or an
//! email. Thin: each calls one use case of the core (`app::directory`,
//! `App::register_person`); who may do what is the core's policy.

use super::forms::FormData;
use super::{Frame, PageError, PageId, Visitor, check_csrf, render, words};
use crate::api::AppState;
use crate::app::NewPerson;
use crate::app::directory::{Correction, PersonEntry, Search};
use crate::app::policy::{self, Action};
use crate::coproduction::values::{CredentialKind, ProjectId};
use crate::refusal::{Kind, Refusal};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

/// One person in a list.
struct Row {
    href: String,
    name: String,
    /// Role, email (to admins), projects and leaving, in words.
    about: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleList {
    page: Frame,
    q: String,
    /// Whether a search was made (so "no one" can be said).
    searched: bool,
    label: String,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    after: Option<String>,
}

pub(super) fn may(v: &Visitor, action: Action) -> bool {
    policy::may(v.caller.author().role, action)
}

fn projects_in_words(state: &AppState, p: &PersonEntry) -> Result<String, PageError> {
    let model = state.page_model()?;
    let titles: Vec<String> = p
        .projects
        .iter()
        .filter_map(|id| model.projects.get(id).map(|pr| model.text(&pr.title)))
        .collect();
    Ok(if titles.is_empty() {
        "in no project".into()
    } else {
        format!("in {}", titles.join(", "))
    })
}

/// Finding people.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(
            uuid::Uuid::parse_str(a)
                .map_err(|_| PageError::not_found())?
                .into(),
        ),
        None => None,
    };
    let text = q.q.clone().filter(|t| !t.trim().is_empty());
    let found = state.app().find_people(
        &v.caller,
        Search {
            text: text.clone(),
            project: None,
            after,
            limit: Some(50),
        },
    )?;
    let mut rows = Vec::new();
    for p in &found.people {
        let mut about = vec![if p.role == "staff" {
            "staff".to_string()
        } else {
            "a partner".to_string()
        }];
        if let Some(e) = &p.email {
            about.push(e.clone());
        }
        about.push(projects_in_words(&state, p)?);
        if let Some(left) = &p.left {
            about.push(format!("left on {}", words::day(left)));
        }
        rows.push(Row {
            href: format!("/people/{}", p.participant_id),
            // A link needs words: someone whose name is not kept is told
            // apart by the end of their id.
            name: if p.name.trim().is_empty() {
                format!(
                    "No name kept ({})",
                    super::forms::short_id(&p.participant_id)
                )
            } else {
                p.name.clone()
            },
            about: about.join("; "),
        });
    }
    let next = found.next.map(|n| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &text {
            query.append_pair("q", t);
        }
        query.append_pair("after", &n.to_string());
        format!("/people?{}", query.finish())
    });
    let label = if may(&v, Action::ReadEmail) {
        "name or email address"
    } else {
        "name"
    };
    render(PeopleList {
        page: Frame::for_visitor(&v, "People", "/people"),
        q: text.unwrap_or_default(),
        searched: q.q.is_some(),
        label: label.into(),
        rows,
        next,
    })
}

#[derive(Template)]
#[template(path = "person_new.html")]
struct Register {
    page: Frame,
    errors: Vec<(String, String)>,
    role: String,
    name: String,
    email: String,
    project: String,
    /// (id, title) of every open project.
    projects: Vec<(String, String)>,
    /// The person already registered with this name or email: (their
    /// page, what is the same, in words).
    duplicate: Option<(String, String)>,
}

fn open_projects(state: &AppState) -> Result<Vec<(String, String)>, PageError> {
    let model = state.page_model()?;
    let mut out: Vec<(String, String)> = model
        .projects
        .iter()
        .filter(|(_, p)| p.stage != crate::coproduction::values::Stage::Closed)
        .map(|(id, p)| (id.to_string(), model.text(&p.title)))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

#[derive(Deserialize)]
struct RegisterQuery {
    /// The project to preselect (from a project's "People" page).
    project: Option<String>,
}

async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    if !may(&v, Action::RegisterPerson) {
        return Err(PageError::forbidden());
    }
    render(Register {
        page: Frame::for_visitor(&v, "Register a person", "/people"),
        errors: Vec::new(),
        role: "partner".into(),
        name: String::new(),
        email: String::new(),
        project: q.project.unwrap_or_default(),
        projects: open_projects(&state)?,
        duplicate: None,
    })
}

/// The form field a refusal's pointer is about.
fn field_of(r: &Refusal) -> String {
    match r.pointer() {
        Some("/email") => "email",
        Some("/role") => "role",
        Some("/project_id") => "project",
        _ => "name",
    }
    .into()
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let (role, name, email, project) = (
        form.one("role").to_string(),
        form.one("name").trim().to_string(),
        form.one("email").trim().to_string(),
        form.one("project").to_string(),
    );
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(("name".into(), "Enter their name".into()));
    }
    if !matches!(role.as_str(), "partner" | "staff") {
        errors.push((
            "role".into(),
            "Choose whether they are a partner or staff".into(),
        ));
    }
    let project_id = match project.as_str() {
        "" => None,
        p => match uuid::Uuid::parse_str(p) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(("project".into(), "Choose a project from the list".into()));
                None
            }
        },
    };
    let mut duplicate = None;
    if errors.is_empty() {
        let person = NewPerson {
            role: role.clone(),
            name: name.clone(),
            email: Some(email.clone()).filter(|e| !e.is_empty()),
            project_id,
            another_person: form.one("another_person") == "yes",
        };
        match state.app().register_person(&v.caller, person).await {
            Ok((id, _)) => {
                // Registered into a project: back to its people, to add more.
                return Ok(match project_id {
                    Some(p) => {
                        state.leave_notice(
                            &v,
                            &format!("{name} is registered and has joined the project."),
                        );
                        Redirect::to(&format!("/projects/{p}/people"))
                    }
                    None => {
                        state.leave_notice(&v, &format!("{name} is registered."));
                        Redirect::to(&format!("/people/{id}"))
                    }
                }
                .into_response());
            }
            Err(r) if r.kind() == Kind::Conflict => {
                let same = if field_of(&r) == "email" {
                    "email address"
                } else {
                    "name"
                };
                // The first person, to link to: found by what is the same.
                let first = state
                    .app()
                    .find_people(
                        &v.caller,
                        Search {
                            text: Some(if same == "name" {
                                name.clone()
                            } else {
                                email.clone()
                            }),
                            ..Search::default()
                        },
                    )
                    .ok()
                    .and_then(|p| p.people.into_iter().next());
                errors.push((
                    field_of(&r),
                    format!(
                        "Someone with this {same} is already registered{}. If this is the same person, there is nothing to do: open their page. If it is someone else, tick \"This is a different person\" and register them again.",
                        first
                            .as_ref()
                            .map_or(String::new(), |p| format!(
                                ": {} (registered on {})",
                                p.name,
                                words::day(&p.registered)
                            ))
                    ),
                ));
                duplicate = Some((
                    first.map_or("/people".to_string(), |p| {
                        format!("/people/{}", p.participant_id)
                    }),
                    same.to_string(),
                ));
            }
            Err(r) if matches!(r.kind(), Kind::Malformed | Kind::Invalid | Kind::NotFound) => {
                errors.push((field_of(&r), super::capitalised(r.message())));
            }
            Err(r) => return Err(r.into()),
        }
    }
    let mut r = render(Register {
        page: Frame::for_visitor(&v, "Register a person", "/people"),
        errors,
        role,
        name,
        email,
        project,
        projects: open_projects(&state)?,
        duplicate,
    })?;
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    page: Frame,
    id: String,
    name: String,
    role: String,
    /// Shown only to those who may read emails.
    email: Option<String>,
    registered: String,
    left: Option<String>,
    /// (href, title) of the projects they are in.
    projects: Vec<(String, String)>,
    may_correct: bool,
    may_card: bool,
    may_stop: bool,
    /// Record that they left the organisation (not once they have).
    may_leave: bool,
    may_erase: bool,
    /// Their cards and access codes, in words, newest first: for those
    /// who manage tokens (docs/ACCESS.md).
    credentials: Option<Vec<String>>,
    errors: Vec<(String, String)>,
    /// What the correction form holds.
    form_name: String,
    form_email: String,
}

/// One registered person, as `v` may see them (404 if there is no one).
pub(super) fn one_person(
    state: &AppState,
    v: &Visitor,
    id: uuid::Uuid,
) -> Result<PersonEntry, PageError> {
    let found = state.app().find_people(
        &v.caller,
        Search {
            text: Some(id.to_string()),
            ..Search::default()
        },
    )?;
    found
        .people
        .into_iter()
        .find(|p| p.participant_id.uuid() == id)
        .ok_or_else(PageError::not_found)
}

fn person_page(
    state: &AppState,
    v: &Visitor,
    id: uuid::Uuid,
    errors: Vec<(String, String)>,
    typed: Option<(String, String)>,
) -> Result<Response, PageError> {
    let p = one_person(state, v, id)?;
    let projects = {
        let model = state.page_model()?;
        p.projects
            .iter()
            .filter_map(|pid: &ProjectId| {
                model
                    .projects
                    .get(pid)
                    .map(|pr| (format!("/projects/{pid}"), model.text(&pr.title)))
            })
            .collect()
    };
    let (form_name, form_email) =
        typed.unwrap_or_else(|| (p.name.clone(), p.email.clone().unwrap_or_default()));
    let may_correct = may(v, Action::CorrectPerson);
    let credentials = if may(v, Action::ManageTokens) {
        let mut mine: Vec<_> = state
            .app()
            .tokens(&v.caller)?
            .into_iter()
            .filter(|t| t.participant.is_some_and(|p| p.uuid() == id))
            .collect();
        mine.sort_by(|a, b| b.created.cmp(&a.created));
        Some(
            mine.iter()
                .map(|t| {
                    let what = match t.kind {
                        CredentialKind::SignInCard => "A sign-in card",
                        CredentialKind::AccessCode => "An access code",
                    };
                    let used = t
                        .first_used
                        .as_deref()
                        .map_or("not used yet".to_string(), |u| {
                            format!("first used on {}", words::day(u))
                        });
                    let state = t.revoked.as_deref().map_or("It works.".to_string(), |r| {
                        format!("Stopped on {}.", words::day(r))
                    });
                    format!("{what} made on {}, {used}. {state}", words::day(&t.created))
                })
                .collect(),
        )
    } else {
        None
    };
    let mut r = render(PersonPage {
        page: Frame::for_visitor(v, &p.name, "/people"),
        id: id.to_string(),
        role: if p.role == "staff" {
            "Staff".into()
        } else {
            "Partner".into()
        },
        email: p.email.clone().filter(|_| may(v, Action::ReadEmail)),
        registered: words::day(&p.registered),
        left: p.left.as_deref().map(words::day),
        projects,
        may_correct,
        may_card: p.role == "partner" && p.left.is_none() && may(v, Action::MakeSignInCard),
        may_stop: may(v, Action::StopSignIns),
        may_leave: p.left.is_none() && may(v, Action::RecordLeaving),
        may_erase: may(v, Action::Erase),
        credentials,
        name: p.name,
        errors,
        form_name,
        form_email,
    })?;
    if may_correct {
        // Names and contact details: never kept by a shared computer.
        r = super::not_stored(r);
    }
    Ok(r)
}

async fn person(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    person_page(&state, &v, id, Vec::new(), None)
}

async fn correct(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let (name, email) = (form.one("name").to_string(), form.one("email").to_string());
    let c = Correction {
        name: Some(name.clone()),
        email: Some(email.clone()),
    };
    match state.app().correct_person(&v.caller, id.into(), c) {
        Ok(p) => {
            state.leave_notice(&v, &format!("{}'s details are corrected.", p.name));
            Ok(Redirect::to(&format!("/people/{id}")).into_response())
        }
        Err(r) if r.kind() == Kind::Malformed => {
            let errors = vec![(field_of(&r), super::capitalised(r.message()))];
            let mut page = person_page(&state, &v, id, errors, Some((name, email)))?;
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(r) => Err(r.into()),
    }
}

/// Stops every card, code and session of a person at once.
async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    let n = state.app().stop_sign_ins(&v.caller, id.into()).await?;
    state.leave_notice(
        &v,
        &if n == 0 {
            "They had no cards or access codes that still worked.".to_string()
        } else {
            format!(
                "Stopped {}: none of them signs in any more, and anyone signed in with them is signed out. Make a new card below.",
                words::count(n as u64, "card or access code", "cards and access codes")
            )
        },
    );
    Ok(Redirect::to(&format!("/people/{id}")).into_response())
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/people/{id}/stop", axum::routing::post(stop))
        .route("/people", get(list))
        .route("/people/new", get(register_page).post(register))
        .route("/people/{id}", get(person))
        .route("/people/{id}/correct", axum::routing::post(correct))
}
