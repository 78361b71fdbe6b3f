//! Access tokens, for admins: every token with its name, role, whose it
//! is, when it was made and first used, and a button to revoke each one
//! still working. Thin: the core's `tokens` and `revoke_token`.

use super::forms::FormData;
use super::{Frame, PageError, check_csrf, render, words};
use crate::api::AppState;
use crate::app::tokens::Role;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

struct Line {
    id: String,
    name: String,
    /// Role, whose, made, first used, in words.
    about: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    page: Frame,
    working: Vec<Line>,
    stopped: Vec<Line>,
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let mut tokens = state.app().tokens(&v.caller)?;
    tokens.sort_by(|a, b| b.created.cmp(&a.created));
    let model = state.page_model()?;
    let (mut working, mut stopped) = (Vec::new(), Vec::new());
    for t in tokens {
        let role = match t.role {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Partner => "partner",
            Role::Auditor => "auditor",
        };
        let mut about = vec![role.to_string()];
        if let Some(p) = &t.participant {
            about.push(format!(
                "for {}",
                super::pages::name_of(&state, &v, &model, p)
            ));
        }
        about.push(format!("made {}", words::day(&t.created)));
        about.push(match &t.first_used {
            Some(u) => format!("first used {}", words::day(u)),
            None => "never used".into(),
        });
        let line = Line {
            id: t.id.clone(),
            name: t.name.clone(),
            about: about.join("; "),
            revoked: t.revoked.as_deref().map(words::day),
        };
        if t.revoked.is_some() {
            stopped.push(line);
        } else {
            working.push(line);
        }
    }
    let r = render(TokensPage {
        page: Frame::for_visitor(&v, "Access tokens", "/tokens"),
        working,
        stopped,
    })?;
    Ok(super::not_stored(r))
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    let info = state.app().revoke_token(&v.caller, &id).await?;
    state.leave_notice(
        &v,
        &format!(
            "Revoked {}: it no longer signs anyone in, and its sessions have ended.",
            info.name
        ),
    );
    Ok(Redirect::to("/tokens").into_response())
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list))
        .route("/tokens/{id}/revoke", post(revoke))
}
