//! Sign-in cards: staff print a card for a partner with a QR code of a
//! link that signs them in on their phone, once, without typing an access
//! code. The link asks before it signs anyone in, so a link preview or a
//! scanner that opens it does not use it up.

use super::forms::FormData;
use super::{
    Frame, PRE_COOKIE, PageError, PageId, Settings, check_csrf, cookie, not_stored, random_hex,
    render, set_cookie, signed_in, words,
};
use crate::api::AppState;
use crate::app::tokens::Role;
use crate::coproduction::values::{ProjectId, Role as PersonRole};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsPage {
    page: Frame,
    project_title: String,
    /// (participant id, how they are named)
    partners: Vec<(String, String)>,
}

/// The partners of a project, each with a button that makes a card.
async fn cards(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    if !v.is(&[Role::Staff, Role::Admin]) {
        return Err(PageError::forbidden());
    }
    let model = state.page_model()?;
    let p = model
        .projects
        .get(&ProjectId::from(id))
        .ok_or_else(PageError::not_found)?;
    let mut partners: Vec<(String, String)> = p
        .members
        .iter()
        .filter(|(who, m)| {
            m.active && m.role == PersonRole::Partner && !model.erased.contains(*who)
        })
        .map(|(who, _)| {
            (
                who.to_string(),
                super::pages::name_of(&state, &v, &model, who),
            )
        })
        .collect();
    partners.sort_by(|a, b| a.1.cmp(&b.1));
    render(CardsPage {
        page: Frame::for_visitor(&v, "Sign-in cards for partners", ""),
        project_title: model.text(&p.title),
        partners,
    })
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    page: Frame,
    name: String,
    qr: String,
    link: String,
    until: String,
}

/// Makes a card for a partner and shows it, once (the link is a secret).
async fn make_card(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    let partner = crate::coproduction::values::ParticipantId::from(id);
    // The address partners' phones reach: only the one the operator
    // configured, never what a request says of itself (its Host header).
    let origin = settings.public_url.clone().ok_or_else(|| {
        PageError::Status(
            StatusCode::SERVICE_UNAVAILABLE,
            "This server was not told the address people reach it by (jointly serve --public-url), so it cannot make a link for a card. Ask whoever runs it.".into(),
        )
    })?;
    let (secret, expires, _) = state.app().make_sign_in_card(&v.caller, partner).await?;
    let name = {
        let model = state.page_model()?;
        super::pages::name_of(&state, &v, &model, &partner)
    };
    let link = format!("{}/sign-in/link/{secret}", origin.trim_end_matches('/'));
    let qr = qrcode::QrCode::new(link.as_bytes())
        .map_err(PageError::broken)?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build();
    // Inline, as part of the page: just the <svg> element, labelled.
    let qr = qr
        .find("<svg")
        .map_or(qr.clone(), |i| qr[i..].to_string())
        .replacen(
            "<svg",
            "<svg role=\"img\" aria-label=\"A QR code of the sign-in link\"",
            1,
        );
    let until = time::OffsetDateTime::from_unix_timestamp(expires as i64)
        .map(|t| words::date(t.date()))
        .unwrap_or_default();
    let r = render(CardPage {
        page: Frame::for_visitor(&v, &format!("A sign-in card for {name}"), ""),
        name,
        qr,
        link,
        until,
    })?;
    // A secret: never kept by a browser's cache or a proxy.
    Ok(not_stored(r))
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    page: Frame,
    /// Why the link does not work, if it does not.
    problem: Option<String>,
    action: String,
}

/// Asks before signing in with a link.
async fn link_page(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    Path(secret): Path<String>,
) -> Response {
    let problem = state
        .app()
        .sign_in_link(&secret)
        .err()
        .map(|r| format!("{}.", super::capitalised(r.message())));
    let pre = cookie(&headers, PRE_COOKIE)
        .filter(|c| c.len() == 64)
        .unwrap_or_else(random_hex);
    let mut page = Frame::anonymous("Sign in");
    page.csrf = pre.clone();
    let status = if problem.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = render(LinkPage {
        page,
        problem,
        action: format!("/sign-in/link/{secret}"),
    })
    .unwrap_or_else(IntoResponse::into_response);
    *r.status_mut() = status;
    let mut r = not_stored(r);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&settings, PRE_COOKIE, &pre, None),
    );
    r
}

/// Signs in with a link, using it up.
async fn use_link(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    Path(secret): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let pre = cookie(&headers, PRE_COOKIE);
    if pre.is_none() || pre.as_deref() != Some(form.one("csrf")) {
        return PageError::Status(
            StatusCode::FORBIDDEN,
            "This page has expired. Open the sign-in link again.".into(),
        )
        .into_response();
    }
    match state.app().sign_in_with_link(&secret).await {
        Ok((id, _)) => signed_in(&settings, &id),
        Err(r) => PageError::Status(
            StatusCode::UNAUTHORIZED,
            format!("{}.", super::capitalised(r.message())),
        )
        .into_response(),
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}/cards", get(cards))
        .route("/people/{id}/card", post(make_card))
        .route("/sign-in/link/{secret}", get(link_page).post(use_link))
}
