//! Signing in from a browser: sessions are kept in the store, so they
//! survive a restart, and end the moment their token is revoked; a
//! sign-in card's link signs a partner in once, and only staff make cards;
//! what a partner typed when their session ended is offered back.

use crate::common::{Api, Browser, token};
use axum::http::StatusCode;
use jointly::api::Config;
use jointly::app::Caller;
use jointly::app::demo::write_history;
use jointly::app::tokens::Role;
use jointly::coproduction::values::{ParticipantId, ProjectId, Role as PersonRole};
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
    api.app()
        .revoke_token(&Caller::operator(), &id)
        .await
        .unwrap();
    assert_eq!(
        b.get("/home").await.0,
        StatusCode::SEE_OTHER,
        "revoked: signed out"
    );
    api.state.shutdown().await;
}

/// A store with the example history, and a partner of its first project.
fn example() -> (tempfile::TempDir, Api, ParticipantId, ProjectId) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_history(&ledger, 0, 0, 64).unwrap();
    let api = Api::with_config(
        ledger,
        &Config {
            public_url: Some("http://jointly.test".into()),
            ..Config::default()
        },
    );
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
    (dir, api, partner, project)
}

#[tokio::test]
async fn a_sign_in_card_signs_a_partner_in_once() {
    let (_dir, api, partner, project) = example();
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

/// Text as a page shows it, with askama's escapes undone.
fn unescape(t: &str) -> String {
    [
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&#62;", ">"),
        ("&#38;", "&"),
    ]
    .iter()
    .fold(t.to_string(), |t, (from, to)| t.replace(from, to))
}

/// The hidden fields of a page's forms, as the browser would send them.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

fn refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn text_typed_when_the_session_ended_is_offered_back() {
    let (_dir, api, partner, project) = example();
    let ideas = || api.app().read().unwrap().proposals.len();
    let before = ideas();
    let code = token(api.app(), Role::Partner, "p", Some(&partner.to_string()));
    let mut b = Browser::sign_in(&api, &code).await;
    let form = format!("/projects/{project}/propose");
    let csrf = b.csrf(&form).await;
    // The session ends (signed out on another tab) while they type.
    let session = b.cookie("jointly_session").unwrap();
    let mut tab = Browser::fresh(&api).with_cookie("jointly_session", &session);
    let tab_csrf = tab.csrf("/home").await;
    tab.post("/sign-out", &[("csrf", &tab_csrf)]).await;
    let idea = "Meetings after 4pm & \"somewhere\" warm <please>";
    let sent = [("csrf", csrf.as_str()), ("text", idea)];

    // From another site: nothing is kept, nothing is written.
    let (status, _) = b.post_from("https://elsewhere.example", &form, &sent).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, page) = b.post(&form, &sent).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("nothing has been recorded yet"), "{page}");
    assert_eq!(ideas(), before, "nothing written while signed out");
    let mut fields = hidden_fields(&page);
    assert!(
        fields.contains(&("kept.text".into(), idea.into())),
        "{fields:?}"
    );
    fields.push(("code".into(), "jly_wrong".into()));
    // A wrong code keeps the text too.
    let (status, page) = b.post("/sign-in", &refs(&fields)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut fields = hidden_fields(&page);
    fields.push(("code".into(), code.clone()));
    let (status, page) = b.post("/sign-in", &refs(&fields)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Show what I typed"), "{page}");
    assert_eq!(ideas(), before, "nothing written on signing in");

    // One button takes the text back to its form, to check and send.
    let (status, page) = b.post(&form, &refs(&hidden_fields(&page))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Here is what you typed"), "{page}");
    assert!(unescape(&page).contains(idea), "{page}");
    assert_eq!(ideas(), before, "shown, not sent");
    let (status, _) = b.submit(&form, &[("text", idea)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(ideas(), before + 1);
    api.state.shutdown().await;
}
