//! (issue 34) Recorded for a partner: staff record an idea a partner gave
//! by phone, on paper or in person; it is the partner's idea in every
//! projection, and says how it was given wherever it is shown.

use crate::common::{Browser, office, post};
use axum::http::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_idea_given_by_phone_is_the_partners() {
    let o = office().await;
    let api = &o.api;
    let yswd = format!("/v1/projects/{}/projections/you-said-we-did", o.project);
    let count = async |api: &crate::common::Api| {
        let (_, _, v) = api.call(Some(&o.s_code), "GET", &yswd, Value::Null).await;
        v["you_said_we_did"]["totals"]["partner_proposals"]
            .as_u64()
            .unwrap()
    };
    let before = count(api).await;
    // A plain idea from staff is not a partner's.
    let plain = json!({"type": "proposal.raised", "payload": {"project_id": o.project,
        "proposal_id": uuid::Uuid::new_v4().to_string(), "text": "Staff's own idea"}});
    post(api, &o.s_code, "/v1/events", plain).await;
    assert_eq!(count(api).await, before);
    let idea = |for_: &str, how: Value| {
        json!({"type": "proposal.raised", "payload": {"project_id": o.project,
            "proposal_id": uuid::Uuid::new_v4().to_string(), "text": "Put a bench by the library door",
            "for_participant": for_, "given_by": how}})
    };
    post(api, &o.s_code, "/v1/events", idea(&o.r, json!("phone"))).await;
    assert_eq!(count(api).await, before + 1, "counted as the partner's");
    // Refused, with nothing written: a partner recording for another,
    // no way it was given, someone who is not a partner of the project.
    let size = api.app().size();
    for (token, body, status) in [
        (&o.p_code, idea(&o.r, json!("phone")), StatusCode::FORBIDDEN),
        (
            &o.s_code,
            idea(&o.r, Value::Null),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &o.s_code,
            idea(&o.s, json!("paper")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, _, b) = api.call(Some(token), "POST", "/v1/events", body).await;
        assert_eq!(s, status, "{b}");
    }
    assert_eq!(api.app().size(), size);
    let (_, home) = Browser::sign_in(api, &o.r_code).await.get("/home").await;
    let at = home
        .find("Put a bench by the library door")
        .expect("on the partner's home page");
    let item = &home[at..at + 600.min(home.len() - at)];
    assert!(item.contains("Given by phone"), "{item}");
}
