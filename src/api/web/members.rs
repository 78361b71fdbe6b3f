//! Who is in a project, in the pages: staff see its members, add people
//! already registered (found by name), send someone new to be registered
//! straight into it, and record that someone left it. Thin: the core's
//! `add_to_project` and `leave_project` write the records.

use super::forms::FormData;
use super::{Frame, PageError, PageId, check_csrf, render};
use crate::api::AppState;
use crate::app::directory::Search;
use crate::app::tokens::Role;
use crate::coproduction::values::{ParticipantId, ProjectId, Role as PersonRole};
use crate::refusal::Kind;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

/// People offered to add at once, at most (a search narrows them).
const OFFERED: usize = 100;

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    page: Frame,
    id: String,
    title: String,
    /// (participant id, name, role in words, whether they lead it)
    members: Vec<(String, String, String, bool)>,
    q: String,
    /// (participant id, name and role) of people not in it.
    offered: Vec<(String, String)>,
    /// More match than are offered.
    more: bool,
    errors: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct MembersQuery {
    q: Option<String>,
}

fn page(
    state: &AppState,
    v: &super::Visitor,
    project: ProjectId,
    q: Option<String>,
    errors: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let (title, mut members, inside) = {
        let model = state.page_model()?;
        let p = model
            .projects
            .get(&project)
            .ok_or_else(PageError::not_found)?;
        let members: Vec<(String, String, String, bool)> = p
            .members
            .iter()
            .filter(|(who, m)| m.active && !model.erased.contains(*who))
            .map(|(who, m)| {
                // Someone with no name kept is told apart by the end of
                // their id, never one of many identical "a partner".
                let name = super::capitalised(&super::pages::name_of(state, v, &model, who));
                let name = if name.starts_with("a ") {
                    let id = who.to_string();
                    format!("{name} (no. {})", &id[id.len() - 6..])
                } else {
                    name
                };
                (
                    who.to_string(),
                    name,
                    if m.role == PersonRole::Partner {
                        "partner"
                    } else {
                        "staff"
                    }
                    .to_string(),
                    p.lead == *who,
                )
            })
            .collect();
        let inside: Vec<ParticipantId> = p
            .members
            .iter()
            .filter(|(_, m)| m.active)
            .map(|(who, _)| *who)
            .collect();
        (model.text(&p.title), members, inside)
    };
    members.sort_by(|a, b| (!a.3, &a.1).cmp(&(!b.3, &b.1)));
    let found = state.app().find_people(
        &v.caller,
        Search {
            text: q.clone().filter(|t| !t.trim().is_empty()),
            limit: Some(1000),
            ..Search::default()
        },
    )?;
    let candidates: Vec<(String, String)> = found
        .people
        .iter()
        .filter(|p| p.left.is_none() && !inside.contains(&p.participant_id))
        .map(|p| {
            let role = if p.role == "staff" {
                "staff"
            } else {
                "partner"
            };
            (p.participant_id.to_string(), format!("{} ({role})", p.name))
        })
        .collect();
    let more = candidates.len() > OFFERED || found.next.is_some();
    let mut r = render(MembersPage {
        page: Frame::for_visitor(v, &format!("People in {title}"), ""),
        id: project.to_string(),
        title,
        members,
        q: q.unwrap_or_default(),
        offered: candidates.into_iter().take(OFFERED).collect(),
        more,
        errors: errors.clone(),
    })?;
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

async fn members(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    Query(q): Query<MembersQuery>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    if !v.is(&[Role::Staff, Role::Admin]) {
        return Err(PageError::forbidden());
    }
    page(&state, &v, id.into(), q.q, Vec::new())
}

async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let chosen: Vec<ParticipantId> = form
        .all("person")
        .iter()
        .filter_map(|p| uuid::Uuid::parse_str(p).ok())
        .map(ParticipantId::from)
        .collect();
    if chosen.is_empty() {
        let errors = vec![("person".to_string(), "Choose who to add".to_string())];
        return page(&state, &v, id.into(), None, errors);
    }
    match state
        .app()
        .add_to_project(&v.caller, id.into(), &chosen)
        .await
    {
        Ok(written) => {
            state.leave_notice(
                &v,
                &format!(
                    "{} added to the project.",
                    super::words::count(written.len() as u64, "person", "people")
                ),
            );
            Ok(Redirect::to(&format!("/projects/{id}/people")).into_response())
        }
        Err(r) if matches!(r.kind(), Kind::Invalid | Kind::NotFound | Kind::Conflict) => {
            let errors = vec![("person".to_string(), super::capitalised(r.message()))];
            page(&state, &v, id.into(), None, errors)
        }
        Err(r) => Err(r.into()),
    }
}

async fn left(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((project, who)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let parse = |t: &str| uuid::Uuid::parse_str(t).map_err(|_| PageError::not_found());
    let (project, who) = (parse(&project)?, parse(&who)?);
    match state
        .app()
        .leave_project(&v.caller, project.into(), who.into())
        .await
    {
        Ok(_) => {
            state.leave_notice(&v, "Recorded: they are no longer in the project.");
            Ok(Redirect::to(&format!("/projects/{project}/people")).into_response())
        }
        Err(r) if matches!(r.kind(), Kind::Invalid | Kind::Conflict) => {
            let errors = vec![("members".to_string(), super::capitalised(r.message()))];
            page(&state, &v, project.into(), None, errors)
        }
        Err(r) => Err(r.into()),
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}/people", get(members).post(add))
        .route("/projects/{id}/people/{who}/left", post(left))
}
