//! A person's own sign-ins: every access code and sign-in card made for
//! them, who made it and when, when it was first used, the browsers it
//! keeps signed in, and a button to stop each (a partner's home page shows
//! the same list). And, in a session that began with a card a member of
//! staff made, the way to show the card is theirs: their own access code.

use super::forms::FormData;
use super::{Frame, PageError, Visitor, check_csrf, render, words};
use crate::api::AppState;
use crate::app::access::SignIn;
use crate::coproduction::values::CredentialKind;
use crate::refusal::Kind;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// One way to sign in, in words.
pub(super) struct Entry {
    pub id: String,
    /// What it is, who made it and when.
    pub what: String,
    /// When it was first used, or that it was not.
    pub used: String,
    /// Said of a card a member of staff made.
    pub warning: Option<String>,
    pub stop: Option<String>,
    /// The browsers it keeps signed in: (handle, words).
    pub browsers: Vec<(String, String)>,
}

/// The list of a person's sign-ins, for their home page and its own page.
pub(super) struct SignIns {
    pub entries: Vec<Entry>,
    /// In a session on a card a member of staff made, what it means.
    pub on_card: Option<String>,
    pub csrf: String,
}

fn entry(s: &SignIn, v: &Visitor) -> Entry {
    let (what, thing) = match s.kind {
        CredentialKind::SignInCard => ("A sign-in card", "card"),
        CredentialKind::AccessCode => ("An access code", "access code"),
    };
    let mut text = format!(
        "{what} made for you by {} on {}.",
        s.made_by,
        words::moment_of(&s.made_at)
    );
    if s.this_one {
        text.push_str(" You are signed in with it now.");
    }
    let warning = (s.made_by_staff).then(|| {
        if s.on_a_card_staff_made {
            format!(
                "A member of staff made this {thing}, so they could have used it. Until you show it is yours, what is confirmed with it does not count as your own word. If you did not ask for it, stop it and tell the team."
            )
        } else {
            format!("A member of staff made this {thing}; you have shown it is yours.")
        }
    });
    Entry {
        id: s.id.to_string(),
        what: text,
        used: s.first_used.as_deref().map_or_else(
            || "Not used yet.".to_string(),
            |t| format!("First used on {}.", words::moment_of(t)),
        ),
        warning,
        stop: s.may_stop.then(|| format!("Stop this {thing}")),
        browsers: s
            .sessions
            .iter()
            .map(|b| {
                let this = if b.handle == v.handle {
                    " (this browser)"
                } else {
                    ""
                };
                (
                    b.handle.clone(),
                    format!(
                        "A browser signed in with it{this} on {}, last used on {}.",
                        words::moment_unix(b.started),
                        words::moment_unix(b.last_used)
                    ),
                )
            })
            .collect(),
    }
}

/// The visitor's sign-ins, newest first; `None` for someone who is no one
/// (an administrator's or an auditor's token).
pub(super) fn of(state: &AppState, v: &Visitor) -> Result<Option<SignIns>, PageError> {
    if v.caller.participant().is_none() {
        return Ok(None);
    }
    let mut list = state.app().sign_ins(&v.caller)?;
    list.sort_by(|a, b| b.made_at.cmp(&a.made_at));
    Ok(Some(SignIns {
        entries: list.iter().map(|s| entry(s, v)).collect(),
        on_card: v.on_staff_card.then(|| {
            "You are signed in with a sign-in card a member of staff made for you. Until you show it is yours, a decision you confirm with it does not count as your own word, and your equality answers are not shown.".to_string()
        }),
        csrf: v.csrf.clone(),
    }))
}

#[derive(Template)]
#[template(path = "sign_ins_page.html")]
struct SignInsPage {
    page: Frame,
    sign_ins: SignIns,
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let sign_ins = of(&state, &v)?.ok_or_else(PageError::forbidden)?;
    render(SignInsPage {
        page: Frame::for_visitor(&v, "How you sign in", "/me/sign-ins"),
        sign_ins,
    })
}

/// Stops one of the visitor's sign-ins; back home (or to the sign-in page,
/// if it was the one they are signed in with).
async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    state.app().stop_sign_in(&v.caller, &id).await?;
    if v.caller.author().credential.map(|c| c.to_string()) == Some(id) {
        return Ok(Redirect::to("/sign-in").into_response());
    }
    state.leave_notice(
        &v,
        "Stopped: it no longer signs anyone in, and the browsers it signed in are signed out.",
    );
    Ok(Redirect::to("/home").into_response())
}

/// Signs one browser out.
async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    state.app().end_session(&v.caller, &handle)?;
    if handle == v.handle {
        return Ok(Redirect::to("/sign-in").into_response());
    }
    state.leave_notice(&v, "That browser is signed out.");
    Ok(Redirect::to("/home").into_response())
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage {
    page: Frame,
    why: Vec<String>,
    error: Option<String>,
}

/// The page that asks for the partner's own access code, in a session on
/// a card a member of staff made; also what the equality questions show
/// in such a session.
pub(super) fn claim_page(v: &Visitor, error: Option<String>) -> Result<Response, PageError> {
    if !v.on_staff_card {
        return Ok(Redirect::to("/home").into_response());
    }
    let status = if error.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let mut r = render(ClaimPage {
        page: Frame::for_visitor(v, "Show this card is yours", ""),
        why: vec![
            "You are signed in with a sign-in card that a member of staff made for you. Whoever made a card could have used it, so until you show it is yours, a decision you confirm with it does not count as your own word, and your answers about yourself (the equality questions) are not shown here.".into(),
            "To show it is yours, type an access code you were given for yourself (not one a member of staff made). We check it and keep only that you showed it; the code itself is not stored again.".into(),
            "If you have no access code of your own, you can still use this card to put forward ideas and take part. Ask the team's administrator for an access code of your own.".into(),
        ],
        error,
    })?;
    *r.status_mut() = status;
    Ok(super::not_stored(r))
}

async fn claim_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    claim_page(&v, None)
}

async fn claim(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    match state.app().claim_card(&v.caller, form.one("code")).await {
        Ok(()) => {
            state.leave_notice(
                &v,
                "Thank you: this card is now shown to be yours, and what you confirm with it counts as your own word.",
            );
            Ok(Redirect::to("/home").into_response())
        }
        Err(r) if r.kind() == Kind::Forbidden => {
            claim_page(&v, Some(format!("{}.", super::capitalised(r.message()))))
        }
        Err(r) => Err(r.into()),
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/sign-ins", get(page))
        .route("/me/sign-ins/{id}/stop", post(stop))
        .route("/me/sessions/{handle}/end", post(end))
        .route("/me/claim", get(claim_form).post(claim))
}
