//! Signing in from a browser: sessions are kept in the store, so they
//! survive a restart, and end the moment their token is revoked; a
//! sign-in card's link signs a partner in once, and only staff make cards.

use crate::common::{Api, Browser, token};
use axum::http::StatusCode;
use jointly::app::Caller;
use jointly::app::demo::write_history;
use jointly::app::tokens::Role;
use jointly::coproduction::values::Role as PersonRole;
use jointly::ledger::Ledger;

#[tokio::test]
async fn a_session_survives_a_restart_and_ends_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::new(ledger);
    let code = token(api.app(), Role::Staff, "staff", None);
    let cookie = Browser::sign_in(&api, &code)
        .await
        .cookie("jointly_session")
        .unwrap();
    api.state.shutdown().await;
    drop(api);

    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::new(ledger);
    let mut b = Browser::fresh(&api).with_cookie("jointly_session", &cookie);
    let (status, page) = b.get("/home").await;
    assert_eq!(status, StatusCode::OK, "still signed in after a restart");
    assert!(page.contains("Ideas waiting for an answer"));
    // Nothing in the store holds the cookie or the code as they are.
    assert!(crate::common::files_containing(dir.path(), &cookie).is_empty());
    assert!(crate::common::files_containing(dir.path(), &code).is_empty());

    let id = api.app().tokens(&Caller::operator()).unwrap()[0].id.clone();
    api.app().revoke_token(&Caller::operator(), &id).unwrap();
    assert_eq!(
        b.get("/home").await.0,
        StatusCode::SEE_OTHER,
        "revoked: signed out"
    );
    api.state.shutdown().await;
}

#[tokio::test]
async fn a_sign_in_card_signs_a_partner_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_history(&ledger, 0, 0, 64).unwrap();
    let api = Api::new(ledger);
    let (partner, project) = {
        let model = api.app().read().unwrap();
        let p = model.projects.values().next().unwrap();
        let partner = *p
            .members
            .iter()
            .find(|(_, m)| m.role == PersonRole::Partner)
            .unwrap()
            .0;
        (partner, p.id)
    };
    let staff = token(api.app(), Role::Staff, "staff", None);
    let mut s = Browser::sign_in(&api, &staff).await;
    let cards = format!("/projects/{project}/cards");
    let csrf = s.csrf(&cards).await;
    let (status, card) = s
        .post(&format!("/people/{partner}/card"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert!(card.contains("<svg"), "the card has a QR code");
    let at = card.find("/sign-in/link/jll_").unwrap();
    let link: String = card[at..]
        .chars()
        .take_while(|c| !matches!(c, '<' | '"' | ' '))
        .collect();

    // Opening the link asks first (a preview uses nothing up) ...
    let mut phone = Browser::fresh(&api);
    let (status, page) = phone.get(&link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut again = Browser::fresh(&api);
    assert_eq!(again.get(&link).await.0, StatusCode::OK);
    // ... and pressing "Sign in" signs the partner in.
    let csrf = phone.csrf(&link).await;
    let (status, _) = phone.post(&link, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, home) = phone.get("/home").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Your ideas"), "signed in as the partner");
    // Once only.
    let csrf = again.csrf("/sign-in").await;
    let (status, page) = again.post(&link, &[("csrf", &csrf)]).await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
        "{status} {page}"
    );
    let (status, page) = Browser::fresh(&api).get(&link).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("may have been used already"), "{page}");

    // Partners do not make cards, and a card is only for a partner.
    let p = token(api.app(), Role::Partner, "p", Some(&partner.to_string()));
    let mut pb = Browser::sign_in(&api, &p).await;
    let csrf = pb.csrf("/home").await;
    let (status, _) = pb
        .post(&format!("/people/{partner}/card"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = s.csrf(&cards).await;
    let (status, _) = s
        .post(
            "/people/6a6f696e-0000-4000-8000-000000000000/card",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.state.shutdown().await;
}
