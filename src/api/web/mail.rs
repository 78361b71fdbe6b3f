//! The pages for email: a person chooses how they hear of things
//! (`/notifications`, signed in), and anyone holding the link from an
//! email stops them (`/unsubscribe/{code}`, no sign-in: the code is the
//! proof; a POST there is RFC 8058's one-click unsubscribe).

use super::{Frame, PageError, Visitor, check_csrf, forms::FormData, render};
use crate::api::AppState;
use crate::app::tokens::Role;
use crate::people::Hearing;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

#[derive(Template)]
#[template(path = "hearing.html")]
struct HearingPage {
    page: Frame,
    intro: Vec<String>,
    show_form: bool,
    choices: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    page: Frame,
    paragraphs: Vec<String>,
    show_form: bool,
    action: String,
}

fn hearing_page(state: &AppState, v: &Visitor) -> Result<Response, PageError> {
    let app = state.app();
    let mine = app.my_hearing(&v.caller).map_err(PageError::broken)?;
    let when = if v.is(&[Role::Partner]) {
        "when your idea is answered, when a decision you took part in needs you to check it, when your challenge is answered, and when something changes because of your idea"
    } else {
        "when a new idea, challenge or dispute comes in a project you lead or work in, and on Mondays with what is waiting: ideas waiting more than 28 days, actions past their day, reviews due"
    };
    // One thing said for each case, and a choice only where one is kept
    // and can come to something: no address, an address but no mail
    // server yet, or both.
    let has_address = mine.is_some_and(|(_, has)| has);
    let intro = if !has_address {
        vec![format!(
            "jointly can email people {when}. We have no email address for you, so it does not email you. If you would like emails, ask a member of staff to add your address."
        )]
    } else if !app.sends_mail() {
        vec![format!(
            "jointly can email you {when}, once this server is set up to send emails. It is not yet, so no emails are sent. Choose now how you would like to hear: your choice is kept for when it is."
        )]
    } else {
        vec![format!(
            "jointly emails you {when}. Choose how you would like to hear."
        )]
    };
    let current = mine.map_or(Hearing::AsItHappens, |(h, _)| h);
    render(HearingPage {
        page: Frame::for_visitor(v, "Emails from jointly", "/notifications"),
        intro,
        // With no address there is nothing to choose.
        show_form: has_address,
        choices: Hearing::ALL
            .iter()
            .map(|h| (h.code(), h.words(), *h == current))
            .collect(),
    })
}

async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    hearing_page(&state, &v)
}

async fn choose(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let form = FormData::parse(&body);
    check_csrf(&v, &form)?;
    let Some(hearing) = Hearing::from_code(form.one("hearing")) else {
        return Err(PageError::Status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Choose how you would like to hear: each message as it happens, a weekly summary, or no emails.".into(),
        ));
    };
    state
        .app()
        .set_my_hearing(&v.caller, hearing)
        .map_err(|r| {
            PageError::Status(
                crate::api::error::status_of(r.kind()),
                r.message().to_string(),
            )
        })?;
    state.leave_notice(&v, &format!("Saved: {}.", hearing.words().to_lowercase()));
    Ok(Redirect::to("/notifications").into_response())
}

fn unsubscribe_page(code: &str, done: bool) -> Result<Response, PageError> {
    let (title, paragraphs) = if done {
        (
            "You will get no more emails",
            vec![
                "You will not get any more emails from jointly.".to_string(),
                "If you change your mind, sign in and choose again under \u{201c}Emails from jointly\u{201d}.".into(),
            ],
        )
    } else {
        (
            "Stop emails from jointly",
            vec!["Press the button to stop all emails from jointly to you. You do not need to sign in.".to_string()],
        )
    };
    render(UnsubscribePage {
        page: Frame::anonymous(title),
        paragraphs,
        show_form: !done,
        action: format!("/unsubscribe/{code}"),
    })
}

async fn unsubscribe_form(Path(code): Path<String>) -> Result<Response, PageError> {
    // Only a genuine code shows the button; a GET changes nothing (mail
    // scanners open links).
    if !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        return Err(PageError::not_found());
    }
    unsubscribe_page(&code, false)
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    match state.app().unsubscribe(&code) {
        Ok(true) => unsubscribe_page(&code, true),
        Ok(false) => Err(PageError::Status(
            axum::http::StatusCode::NOT_FOUND,
            "This link to stop emails is not one jointly made. Copy the whole link from the email, or sign in and choose under \u{201c}Emails from jointly\u{201d}.".into(),
        )),
        Err(e) => Err(PageError::broken(e.message())),
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(show).post(choose))
        .route(
            "/unsubscribe/{code}",
            get(unsubscribe_form).post(unsubscribe),
        )
}
