//! When someone's part ends: recording that a person left the
//! organisation (every project they are in, and the open projects they
//! lead handed to another member of staff), and erasing a person (admins).
//! Each comes after a page that says what will happen, and happens only
//! when the person confirms there; both go through the core
//! (`App::record_leaving`, `App::erase`), as the API and the command line do.

use super::forms::FormData;
use super::people::{may, one_person};
use super::{Frame, PageError, PageId, Visitor, check_csrf, render, words};
use crate::api::AppState;
use crate::api::privacy::RIGHT_TO_ERASURE;
use crate::app::policy::Action;
use crate::coproduction::model::Contribution;
use crate::coproduction::values::{ParticipantId, Role as PersonRole, Stage};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

#[derive(Template)]
#[template(path = "leave.html")]
struct LeavePage {
    page: Frame,
    id: String,
    name: String,
    /// The projects they are in, which they leave.
    projects: Vec<String>,
    /// The open projects they lead, which need a new lead.
    leads: Vec<String>,
    /// Staff who could lead them instead: (id, name).
    staff: Vec<(String, String)>,
    chosen: String,
    error: Option<String>,
}

fn leave_page(
    state: &AppState,
    v: &Visitor,
    id: uuid::Uuid,
    chosen: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    if !may(v, Action::RecordLeaving) {
        return Err(PageError::forbidden());
    }
    let person = one_person(state, v, id)?;
    let who = ParticipantId::from(id);
    let model = state.page_model()?;
    let projects = model
        .projects
        .values()
        .filter(|p| p.members.get(&who).is_some_and(|m| m.active))
        .map(|p| model.text(&p.title))
        .collect();
    let leads = model
        .projects
        .values()
        .filter(|p| p.lead == who && p.stage != Stage::Closed)
        .map(|p| model.text(&p.title))
        .collect::<Vec<_>>();
    let mut staff: Vec<(String, String)> = if leads.is_empty() {
        Vec::new()
    } else {
        model
            .people
            .values()
            .filter(|p| {
                p.role == Some(PersonRole::Staff) && p.id != who && !model.erased.contains(&p.id)
            })
            .take(200)
            .map(|p| {
                (
                    p.id.to_string(),
                    super::capitalised(&super::pages::name_of(state, v, &model, &p.id)),
                )
            })
            .collect()
    };
    staff.sort_by(|a, b| a.1.cmp(&b.1));
    drop(model);
    let name = person.name.clone();
    let mut r = render(LeavePage {
        page: Frame::for_visitor(v, &format!("Record that {name} has left"), "/people"),
        id: id.to_string(),
        name,
        projects,
        leads,
        staff,
        chosen: chosen.to_string(),
        error: error.clone(),
    })?;
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

async fn leave_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    leave_page(&state, &v, id, "", None)
}

async fn leave(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let chosen = form.one("new_lead").to_string();
    let new_lead = match chosen.as_str() {
        "" => None,
        text => match uuid::Uuid::parse_str(text) {
            Ok(u) => Some(ParticipantId::from(u)),
            Err(_) => {
                let why = "Choose who leads their projects from now on".to_string();
                return leave_page(&state, &v, id, "", Some(why));
            }
        },
    };
    let name = one_person(&state, &v, id)?.name;
    match state
        .app()
        .record_leaving(&v.caller, ParticipantId::from(id), new_lead)
        .await
    {
        Ok(done) => {
            state.leave_notice(
                &v,
                &format!(
                    "Recorded that {name} has left: they left {}{}.",
                    words::count(
                        done.left.len() as u64,
                        "project or group",
                        "projects and groups"
                    ),
                    if done.handed_on.is_empty() {
                        String::new()
                    } else {
                        ", and the projects they led have their new lead".to_string()
                    }
                ),
            );
            Ok(Redirect::to(&format!("/people/{id}")).into_response())
        }
        Err(r)
            if matches!(
                r.kind(),
                crate::refusal::Kind::Invalid | crate::refusal::Kind::Conflict
            ) =>
        {
            let why = format!(
                "{}.",
                super::capitalised(&super::words::dates_in_words(r.message()))
            );
            leave_page(&state, &v, id, &chosen, Some(why))
        }
        Err(r) => Err(r.into()),
    }
}

#[derive(Template)]
#[template(path = "erase.html")]
struct ErasePage {
    page: Frame,
    id: String,
    name: String,
    /// What will go, a line each.
    going: Vec<String>,
    reason: String,
    basis: String,
    error: Option<String>,
}

fn erase_page(
    state: &AppState,
    v: &Visitor,
    id: uuid::Uuid,
    typed: (&str, &str),
    error: Option<String>,
) -> Result<Response, PageError> {
    if !may(v, Action::Erase) {
        return Err(PageError::forbidden());
    }
    let person = one_person(state, v, id)?;
    let who = ParticipantId::from(id);
    let tokens = state
        .app()
        .tokens(&v.caller)?
        .into_iter()
        .filter(|t| t.participant == Some(who))
        .count();
    let (ideas, challenges, disputes) = {
        let model = state.page_model()?;
        let mut n = (0u64, 0u64, 0u64);
        for c in model.contributions(&who) {
            match c {
                Contribution::Proposal(_) => n.0 += 1,
                Contribution::Challenge(_) => n.1 += 1,
                Contribution::Decision(row) => {
                    let disputed = model.decisions.row(*row).is_some_and(|d| {
                        matches!(
                            d.stances().get(&who),
                            Some(crate::coproduction::model::Stance::Disputed(_))
                        )
                    });
                    n.2 += u64::from(disputed);
                }
            }
        }
        n
    };
    let going = vec![
        format!(
            "Their name ({}){}, and how they chose to hear from us.",
            person.name,
            if person.email.is_some() {
                " and email address"
            } else {
                ""
            }
        ),
        "Their answers to the equality questions, if they gave any.".to_string(),
        format!(
            "The words of what they wrote in the record: {}, {} and {} (each stays in the record as “(erased)”, with its date and choices).",
            words::count(ideas, "idea", "ideas"),
            words::count(challenges, "challenge", "challenges"),
            words::count(
                disputes,
                "dispute of their part in a decision",
                "disputes of their part in decisions"
            ),
        ),
        format!(
            "{}, and every session they began with one.",
            words::sentence(&words::count(
                tokens as u64,
                "access code or sign-in card",
                "access codes and sign-in cards"
            ))
        ),
    ];
    let mut r = render(ErasePage {
        page: Frame::for_visitor(v, &format!("Erase {}", person.name), "/people"),
        id: id.to_string(),
        name: person.name.clone(),
        going,
        reason: typed.0.to_string(),
        basis: if typed.1.is_empty() {
            RIGHT_TO_ERASURE.to_string()
        } else {
            typed.1.to_string()
        },
        error: error.clone(),
    })?;
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    // Names and contact details: never kept by a shared computer.
    Ok(super::not_stored(r))
}

async fn erase_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    erase_page(&state, &v, id, ("", ""), None)
}

async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let (reason, basis) = (form.one("reason").trim(), form.one("legal_basis").trim());
    if reason.is_empty() {
        let why = "Say why they are being erased (for example: they asked us to)".to_string();
        return erase_page(&state, &v, id, (reason, basis), Some(why));
    }
    let basis = if basis.is_empty() {
        RIGHT_TO_ERASURE
    } else {
        basis
    };
    let name = one_person(&state, &v, id)?.name;
    let done = state.app().erase(&v.caller, id, reason, basis).await?;
    state.leave_notice(
        &v,
        &format!(
            "{name} is erased: {}. Their number stays in the record, with the dates and choices of what they did.",
            done
        ),
    );
    Ok(Redirect::to("/people").into_response())
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/people/{id}/leave", get(leave_form).post(leave))
        .route("/people/{id}/erase", get(erase_form).post(erase))
}
