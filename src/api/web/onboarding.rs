//! Registering many people at once in the pages: an admin or a member of
//! staff uploads a spreadsheet saved as CSV; every row is checked first,
//! and a file with any row at fault registers no one and lists each fault
//! by row and column. Thin: the core's `register_from_csv`.

use super::{Frame, PageError, Visitor, render};
use crate::api::AppState;
use crate::app::onboarding::{Fault, NotOnboarded};
use crate::app::policy::{self, Action};
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

#[derive(Template)]
#[template(path = "upload.html")]
struct Upload {
    page: Frame,
    faults: Vec<Fault>,
    /// Why the file could not be read at all.
    problem: Option<String>,
    /// (href, name) of everyone registered by the file just sent.
    registered: Vec<(String, String)>,
}

fn may_upload(v: &Visitor) -> Result<(), PageError> {
    if policy::may(v.caller.author().role, Action::RegisterPerson) {
        Ok(())
    } else {
        Err(PageError::forbidden())
    }
}

fn upload_page(v: &Visitor, upload: Upload) -> Result<Response, PageError> {
    let failed = !upload.faults.is_empty() || upload.problem.is_some();
    let mut r = render(Upload {
        page: Frame::for_visitor(v, "Register many people from a spreadsheet", "/people"),
        ..upload
    })?;
    if failed {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(super::not_stored(r))
}

fn blank() -> Upload {
    Upload {
        page: Frame::anonymous(""),
        faults: Vec::new(),
        problem: None,
        registered: Vec::new(),
    }
}

async fn form(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    may_upload(&v)?;
    upload_page(&v, blank())
}

async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut parts: Multipart,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    may_upload(&v)?;
    let (mut csrf, mut file) = (String::new(), None);
    loop {
        let part = match parts.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                return upload_page(
                    &v,
                    Upload {
                        problem: Some(format!("The file could not be received: {e}. Try again.")),
                        ..blank()
                    },
                );
            }
        };
        match part.name() {
            Some("csrf") => csrf = part.text().await.unwrap_or_default(),
            Some("file") => file = part.bytes().await.ok(),
            _ => {}
        }
    }
    super::check_csrf_value(&v, &csrf)?;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return upload_page(
            &v,
            Upload {
                problem: Some("Choose the file to upload".into()),
                ..blank()
            },
        );
    };
    match state.app().register_from_csv(&v.caller, &file).await {
        Ok(done) => upload_page(
            &v,
            Upload {
                registered: done
                    .into_iter()
                    .map(|p| (format!("/people/{}", p.participant_id), p.name))
                    .collect(),
                ..blank()
            },
        ),
        Err(NotOnboarded::Faults(faults)) => upload_page(&v, Upload { faults, ..blank() }),
        Err(NotOnboarded::Refused(r)) => Err(r.into()),
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/people/upload", get(form).post(upload))
}
