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
use crate::coproduction::values::{ParticipantId, ProjectId, Role as PersonRole};
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
    project: String,
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
    let partners = partners_of(&state, &v, &model, p)
        .into_iter()
        .map(|(who, name)| (who.to_string(), name))
        .collect();
    render(CardsPage {
        page: Frame::for_visitor(&v, "Sign-in cards for partners", ""),
        project_title: model.text(&p.title),
        project: id.to_string(),
        partners,
    })
}

/// A project's partners now, by name.
fn partners_of(
    state: &AppState,
    v: &super::Visitor,
    model: &crate::coproduction::model::Model,
    p: &crate::coproduction::model::Project,
) -> Vec<(ParticipantId, String)> {
    let mut partners: Vec<(ParticipantId, String)> = p
        .members
        .iter()
        .filter(|(who, m)| {
            m.active && m.role == PersonRole::Partner && !model.erased.contains(*who)
        })
        .map(|(who, _)| (*who, super::pages::name_of(state, v, model, who)))
        .collect();
    partners.sort_by(|a, b| a.1.cmp(&b.1));
    partners
}

/// One printed card: whose it is, and the link it holds (a secret).
struct Card {
    name: String,
    qr: String,
    link: String,
    until: String,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    page: Frame,
    /// Whom to give the cards to, for the words above them.
    given_to: String,
    cards: Vec<Card>,
}

/// The address partners' phones reach: only the one the operator
/// configured, never what a request says of itself (its Host header).
fn public_origin(settings: &Settings) -> Result<String, PageError> {
    settings
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .ok_or_else(|| {
            PageError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                "This server was not told the address people reach it by (jointly serve --public-url), so it cannot make a link for a card. Ask whoever runs it.".into(),
            )
        })
}

/// Makes a new card for a partner, through the core (which checks who may).
async fn card_for(
    state: &AppState,
    v: &super::Visitor,
    origin: &str,
    partner: ParticipantId,
) -> Result<Card, PageError> {
    let (secret, expires, _) = state.app().make_sign_in_card(&v.caller, partner).await?;
    let name = {
        let model = state.page_model()?;
        super::pages::name_of(state, v, &model, &partner)
    };
    // Someone the people store has no name for is told apart by the end
    // of their id: a page of identical "a partner" cards cannot be handed
    // out.
    let name = if name.starts_with("a ") {
        format!("{name} ({})", super::forms::short_id(&partner))
    } else {
        name
    };
    let link = format!("{origin}/sign-in/link/{secret}");
    let qr = qrcode::QrCode::new(link.as_bytes())
        .map_err(PageError::broken)?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // Inline, as part of the page: just the <svg> element, labelled.
    let qr = qr
        .find("<svg")
        .map_or(qr.clone(), |i| qr[i..].to_string())
        .replacen(
            "<svg",
            &format!(
                "<svg role=\"img\" aria-label=\"A QR code of the sign-in link for {}\"",
                in_attribute(&name)
            ),
            1,
        );
    let until = time::OffsetDateTime::from_unix_timestamp(expires as i64)
        .map(|t| words::date(t.date()))
        .unwrap_or_default();
    Ok(Card {
        name,
        qr,
        link,
        until,
    })
}

/// The few characters that cannot stand in an attribute as they are.
fn in_attribute(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
    let origin = public_origin(&settings)?;
    let card = card_for(&state, &v, &origin, ParticipantId::from(id)).await?;
    let r = render(CardPage {
        page: Frame::for_visitor(&v, &format!("A sign-in card for {}", card.name), ""),
        given_to: card.name.clone(),
        cards: vec![card],
    })?;
    // A secret: never kept by a browser's cache or a proxy.
    Ok(not_stored(r))
}

/// Makes a new card for every partner of a project and shows them on one
/// page to print, four to a sheet of A4.
async fn make_all_cards(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    check_csrf(&v, &FormData::parse(&body))?;
    if !v.is(&[Role::Staff, Role::Admin]) {
        return Err(PageError::forbidden());
    }
    let origin = public_origin(&settings)?;
    let (title, partners) = {
        let model = state.page_model()?;
        let p = model
            .projects
            .get(&ProjectId::from(id))
            .ok_or_else(PageError::not_found)?;
        (model.text(&p.title), partners_of(&state, &v, &model, p))
    };
    if partners.is_empty() {
        return Err(PageError::Status(
            StatusCode::CONFLICT,
            "No partners have joined this project yet, so there are no cards to print. Add partners on the project's people page first.".into(),
        ));
    }
    let mut cards = Vec::with_capacity(partners.len());
    for (who, _) in partners {
        cards.push(card_for(&state, &v, &origin, who).await?);
    }
    let r = render(CardPage {
        page: Frame::for_visitor(&v, &format!("Sign-in cards for {title}"), ""),
        given_to: "each partner".into(),
        cards,
    })?;
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
        .route("/projects/{id}/cards", get(cards).post(make_all_cards))
        .route("/people/{id}/card", post(make_card))
        .route("/sign-in/link/{secret}", get(link_page).post(use_link))
}
