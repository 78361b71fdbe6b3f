//! (issue 31) A form for every record staff or partners make, reached from
//! where the need shows: a review, an outcome, a stage, involvement, a
//! correction and a partner withdrawing their idea, each through the same
//! core as the API (refused the same way, nothing written); a decision
//! opened from an idea with that idea ticked, and checked on a page of its
//! own before anything is written; every partner's card on one page; and
//! staff's home page that starts with their projects and links every
//! "more" to the whole list.

use crate::common::{Browser, Office, office, post, record_of, token, written_since};
use axum::http::StatusCode;
use jointly::app::tokens::Role;
use serde_json::{Value, json};

/// Who uses a form.
#[derive(Clone, Copy, Debug)]
enum Who {
    Staff,
    Partner,
    OtherPartner,
    Auditor,
}

fn code(o: &Office, who: Who) -> &str {
    match who {
        Who::Staff => &o.s_code,
        Who::Partner => &o.p_code,
        Who::OtherPartner => &o.r_code,
        Who::Auditor => &o.auditor,
    }
}

/// Sends a form as `who` and says what came of it: the status, and the
/// one record written (type and payload), if any.
async fn check(
    o: &Office,
    who: Who,
    path: &str,
    fields: &[(&str, &str)],
    expect: (StatusCode, Option<(&str, Value)>),
) {
    let mut b = Browser::sign_in(&o.api, code(o, who)).await;
    let before = o.api.app().size();
    let (status, page) = b.submit(path, fields).await;
    let written = written_since(&o.api, before);
    assert_eq!(status, expect.0, "{who:?} {path}: {page}");
    match expect.1 {
        None => assert!(written.is_empty(), "{who:?} {path} wrote {written:?}"),
        Some((event_type, payload)) => {
            assert_eq!(written.len(), 1, "{who:?} {path} wrote {written:?}");
            assert_eq!(written[0].0, event_type, "{who:?} {path}");
            for (k, v) in payload.as_object().unwrap() {
                assert_eq!(
                    &written[0].1[k], v,
                    "{who:?} {path}: {k} in {:?}",
                    written[0].1
                );
            }
        }
    }
}

#[tokio::test]
async fn each_record_has_a_form_that_writes_what_the_api_would() {
    let o = office().await;
    let p = o.project.clone();
    let soon = (time::OffsetDateTime::now_utc().date() + time::Duration::days(90)).to_string();
    let record = record_of(&o.api, &o.decision);
    let ok = StatusCode::SEE_OTHER;
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/review"),
        &[("summary", "Evenings work"), ("next_review", &soon)],
        (
            ok,
            Some((
                "review.held",
                json!({"project_id": p, "summary": "Evenings work", "next_review": soon}),
            )),
        ),
    )
    .await;
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/outcome"),
        &[
            ("aim_id", &o.aim),
            ("outcome", "Six libraries opened"),
            ("evidence", "Their lists"),
        ],
        (
            ok,
            Some((
                "outcome.recorded",
                json!({"aim_id": o.aim, "outcome": "Six libraries opened", "evidence": "Their lists"}),
            )),
        ),
    )
    .await;
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/stage"),
        &[("stage", "design")],
        (ok, Some(("stage.changed", json!({"stage": "design"})))),
    )
    .await;
    // Backwards: the core's refusal, beside the field, nothing written.
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/stage"),
        &[("stage", "conception")],
        (StatusCode::UNPROCESSABLE_ENTITY, None),
    )
    .await;
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/involvement"),
        &[("involvement", "co-design"), ("reason", "Partners asked")],
        (
            ok,
            Some((
                "involvement.changed",
                json!({"involvement": "co-design", "reason": "Partners asked"}),
            )),
        ),
    )
    .await;
    // The same again: the core says it already is.
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/involvement"),
        &[("involvement", "co-design"), ("reason", "Again")],
        (StatusCode::UNPROCESSABLE_ENTITY, None),
    )
    .await;
    check(
        &o,
        Who::Staff,
        &format!("/records/{record}/correct"),
        &[
            ("correction", "Two partners asked for more time"),
            ("reason", "A partner disputed it"),
        ],
        (
            ok,
            Some((
                "record.corrected",
                json!({"corrects": record, "correction": "Two partners asked for more time"}),
            )),
        ),
    )
    .await;
    // Empty fields: said beside each, nothing written.
    check(
        &o,
        Who::Staff,
        &format!("/projects/{p}/review"),
        &[("summary", ""), ("next_review", "")],
        (StatusCode::UNPROCESSABLE_ENTITY, None),
    )
    .await;
    // Only staff record these; a partner or an auditor is refused first.
    for who in [Who::Partner, Who::Auditor] {
        for form in ["review", "outcome", "stage", "involvement"] {
            check(
                &o,
                who,
                &format!("/projects/{p}/{form}"),
                &[],
                (StatusCode::FORBIDDEN, None),
            )
            .await;
        }
        check(
            &o,
            who,
            &format!("/records/{record}/correct"),
            &[],
            (StatusCode::FORBIDDEN, None),
        )
        .await;
    }
    // An idea is withdrawn by whoever put it forward, and no one else.
    let idea = o.idea.clone();
    check(
        &o,
        Who::OtherPartner,
        &format!("/ideas/{idea}/withdraw"),
        &[("reason", "Not mine")],
        (StatusCode::NOT_FOUND, None),
    )
    .await;
    check(
        &o,
        Who::Staff,
        &format!("/ideas/{idea}/withdraw"),
        &[("reason", "Not mine")],
        (StatusCode::NOT_FOUND, None),
    )
    .await;
    check(
        &o,
        Who::Partner,
        &format!("/ideas/{idea}/withdraw"),
        &[("reason", "The bus company already does it")],
        (
            ok,
            Some((
                "proposal.withdrawn",
                json!({"proposal_id": idea, "reason": "The bus company already does it"}),
            )),
        ),
    )
    .await;
    // Once withdrawn, the core refuses it again.
    check(
        &o,
        Who::Partner,
        &format!("/ideas/{idea}/withdraw"),
        &[("reason", "Again")],
        (StatusCode::CONFLICT, None),
    )
    .await;
}

/// Each form is a link away from where the need for it shows.
#[tokio::test]
async fn each_form_is_reached_from_where_the_need_shows() {
    let o = office().await;
    let p = &o.project;
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    let (_, project) = staff.get(&format!("/projects/{p}")).await;
    for form in ["review", "outcome", "stage", "involvement"] {
        assert!(
            project.contains(&format!("href=\"/projects/{p}/{form}\"")),
            "the project page links to its {form} form"
        );
    }
    let (_, decision) = staff.get(&format!("/decisions/{}", o.decision)).await;
    let record = record_of(&o.api, &o.decision);
    assert!(
        decision.contains(&format!("href=\"/records/{record}/correct\"")),
        "the disputed decision links to the correction of its record"
    );
    let (_, home) = staff.get("/home").await;
    assert!(
        home.contains(&format!(
            "href=\"/projects/{p}/decision?answers={}\"",
            o.idea
        )),
        "the idea on staff's home page opens the decision form with it ticked"
    );
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, home) = partner.get("/home").await;
    assert!(
        home.contains(&format!("href=\"/ideas/{}/withdraw\"", o.idea)),
        "the partner's waiting idea can be withdrawn from their home page"
    );
    let mut other = Browser::sign_in(&o.api, &o.r_code).await;
    let (_, page) = other.get(&format!("/projects/{p}")).await;
    assert!(
        !page.contains("/withdraw"),
        "no one is offered to withdraw another's idea"
    );
}

/// Changes of stage and of involvement are told in the project's story,
/// with the reason given; a correction shows on the decision's page.
#[tokio::test]
async fn changes_and_corrections_show_where_people_read() {
    let o = office().await;
    let p = &o.project;
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    staff
        .submit(&format!("/projects/{p}/stage"), &[("stage", "delivery")])
        .await;
    staff
        .submit(
            &format!("/projects/{p}/involvement"),
            &[
                ("involvement", "consultation"),
                ("reason", "The budget is fixed Zqb1"),
            ],
        )
        .await;
    let record = record_of(&o.api, &o.decision);
    staff
        .submit(
            &format!("/records/{record}/correct"),
            &[
                ("correction", "Two asked for time Zqb2"),
                ("reason", "Disputed"),
            ],
        )
        .await;
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, story) = partner.get(&format!("/projects/{p}")).await;
    assert!(story.contains("The project moved on to the delivery stage."));
    assert!(
        story.contains("changed from co-production to consultation")
            && story.contains("The budget is fixed Zqb1"),
        "the involvement change and its reason: {story}"
    );
    let (_, decision) = partner.get(&format!("/decisions/{}", o.decision)).await;
    assert!(
        decision.contains("This record has been corrected") && decision.contains("Zqb2"),
        "{decision}"
    );
}

/// The decision form from an idea has it ticked; what is sent is shown to
/// check, with a "Change" for each part, and written only once confirmed.
#[tokio::test]
async fn a_decision_is_checked_before_it_is_written() {
    let o = office().await;
    let p = &o.project;
    let idea = &o.idea;
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    let path = format!("/projects/{p}/decision");
    let (_, form) = staff.get(&format!("{path}?answers={idea}")).await;
    assert!(
        form.contains(&format!("name=\"answers\" value=\"{idea}\" checked")),
        "the idea is ticked"
    );
    // A link cannot choose what the form does not offer.
    let (_, plain) = staff.get(&path).await;
    let (_, form) = staff
        .get(&format!("{path}?answers=nonsense&method=x"))
        .await;
    assert_eq!(
        form.matches(" checked").count(),
        plain.matches(" checked").count(),
        "nothing chosen by a made-up link"
    );
    let fields = |made_on: &str| -> Vec<(String, String)> {
        [
            ("question", "Should the rooms be on the map?"),
            ("outcome", "Yes, by Friday"),
            ("method", "consensus"),
            ("reason", "Partners asked for it"),
            ("made_on", made_on),
            ("answers", idea),
            (&format!("response-{idea}"), "accepted"),
            (&format!("why-{idea}"), "It helps people find them"),
            (&format!("position-{}", o.s), "agree"),
            (&format!("position-{}", o.p), "agree"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let csrf = staff.csrf(&path).await;
    let send = async |b: &mut Browser<'_>, extra: &[(&str, &str)], made_on: &str, leave: &str| {
        let typed = fields(made_on);
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend(
            typed
                .iter()
                .filter(|(k, _)| k != leave)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        all.extend_from_slice(extra);
        b.post(&path, &all).await
    };
    let before = o.api.app().size();

    // Ticked, but not said how it answers it: asked, nothing written.
    let (s, page) = send(&mut staff, &[], "", &format!("response-{idea}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Say what this decision said to this idea"));

    // A day in the future: refused in words, before the check page.
    let future = (time::OffsetDateTime::now_utc().date() + time::Duration::days(40)).to_string();
    let (s, page) = send(&mut staff, &[], &future, "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        !page.contains(&format!("dated {future}")) && page.contains("is dated "),
        "the error gives the day in words: {page}"
    );
    assert_eq!(o.api.app().size(), before, "nothing written");

    // The check page: every part, a "Change" for each, nothing written.
    let (s, page) = send(&mut staff, &[], "", "").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    for part in [
        "Should the rooms be on the map?",
        "Yes, by Friday",
        "Everyone agreed (consensus)",
        "Put the rooms on the council map",
        "You: agreed",
        "Marigold Ashcombe: agreed",
    ] {
        assert!(page.contains(part), "the check page shows {part}: {page}");
    }
    assert!(page.matches(">Change<").count() >= 5, "{page}");
    // "Change" buttons have no name: the one control that records is
    // "Record the decision".
    assert_eq!(
        page.matches("formaction=").count(),
        page.matches(">Change<").count()
    );
    assert_eq!(page.matches("name=\"step\" value=\"confirm\"").count(), 1);
    // "Change" carries what was typed in one field: the one form with the
    // decision's own fields is the one that records it.
    assert_eq!(page.matches("name=\"method\"").count(), 1);
    let packed = page
        .split("name=\"typed\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("what was typed, in one field")
        .replace("&#38;", "&");
    let (s, again) = staff
        .post(
            &path,
            &[("csrf", &csrf), ("change", "yes"), ("typed", &packed)],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        again.contains("value=\"Should the rooms be on the map?\""),
        "{packed}: {again}"
    );
    assert!(again.contains(&format!("value=\"{idea}\" checked")));
    assert_eq!(o.api.app().size(), before, "nothing written yet");

    // "Change": the form again, as typed; still nothing written.
    let (s, page) = send(&mut staff, &[("change", "yes")], "", "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("value=\"Should the rooms be on the map?\""));
    assert!(page.contains(&format!("value=\"{idea}\" checked")));
    assert_eq!(o.api.app().size(), before, "nothing written yet");

    // Confirmed: written once, as shown.
    let (s, page) = send(&mut staff, &[("step", "confirm")], "", "").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let written = written_since(&o.api, before);
    assert_eq!(written.len(), 1, "{written:?}");
    let (t, d) = &written[0];
    assert_eq!(t, "decision.made");
    assert_eq!(d["question"], "Should the rooms be on the map?");
    assert_eq!(d["answers"][0]["proposal_id"], idea.as_str());
    assert_eq!(d["answers"][0]["response"], "accepted");
    assert_eq!(d["participants"].as_array().unwrap().len(), 2);
}

/// One page with a new card for every partner of a project, for staff.
#[tokio::test]
async fn every_partners_card_prints_on_one_page() {
    let o = office().await;
    let path = format!("/projects/{}/cards", o.project);
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    let csrf = staff.csrf(&path).await;
    let (s, page) = staff.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page.matches("class=\"card\"").count(), 2, "{page}");
    assert!(page.contains("Marigold Ashcombe") && page.contains("Rosamund Caddick"));
    // Each card's link signs its partner in.
    let links: Vec<&str> = page
        .split("http://jointly.test")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .filter(|l| l.starts_with("/sign-in/link/"))
        .collect();
    assert_eq!(links.len(), 2, "{page}");
    let mut phone = Browser::fresh(&o.api);
    let (s, link_page) = phone.get(links[0]).await;
    assert_eq!(s, StatusCode::OK);
    let csrf = link_page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let (s, _) = phone.post(links[0], &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "the card signs in");
    // Partners do not print cards.
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let csrf = partner.csrf("/home").await;
    let (s, _) = partner.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Staff's home page at many projects: "My projects" first, a few of each
/// list, and every "more" a link to the whole list, a page at a time.
#[tokio::test]
async fn staffs_home_starts_with_their_projects_and_links_the_rest() {
    let o = office().await;
    let admin = token(o.api.app(), Role::Admin, "admin2", None);
    // 30 more projects led by someone else, each with a waiting idea.
    let other = post(
        &o.api,
        &admin,
        "/v1/people",
        json!({"role": "staff", "name": "Tobias Wrenfield"}),
    )
    .await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = post(
        &o.api,
        &admin,
        "/v1/people",
        json!({"role": "partner", "name": "Quentin Oakenshaw"}),
    )
    .await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let q_code = token(o.api.app(), Role::Partner, "quentin", Some(&q));
    for i in 0..30 {
        let id = uuid::Uuid::new_v4().to_string();
        let started = json!({"type": "project.started", "payload": {"project_id": id,
            "title": format!("Project {i:02}"), "summary": "s", "involvement": "engagement", "lead": other}});
        post(&o.api, &admin, "/v1/events", started).await;
        let joined = json!({"type": "participant.joined", "payload": {"project_id": id,
            "participant_id": q, "role": "partner"}});
        post(&o.api, &admin, "/v1/events", joined).await;
        let raised = json!({"type": "proposal.raised", "payload": {"project_id": id,
            "proposal_id": uuid::Uuid::new_v4(), "text": format!("Idea {i:02}")}});
        post(&o.api, &q_code, "/v1/events", raised).await;
    }
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    let (_, home) = staff.get("/home").await;
    let first = home.split("<h2").nth(1).unwrap_or_default();
    assert!(first.contains("My projects"), "first heading: {first}");
    let mine_at = home.find("My projects").unwrap();
    assert!(home[mine_at..].contains("Warm rooms"), "S's own project");
    assert!(
        !home.contains("Project 07"),
        "others' projects are a link away"
    );
    assert!(home.contains("href=\"/projects\""), "all projects");
    assert!(
        home.contains("<a href=\"/home/ideas-waiting\">And 28 more: see them all</a>"),
        "{home}"
    );
    assert!(!home.contains("not shown here"), "every 'more' is a link");
    // The whole list, 25 a page, in the home page's order.
    let (s, page1) = staff.get("/home/ideas-waiting").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page1.contains("Showing 1 to 25 of 31."), "{page1}");
    assert!(page1.contains("href=\"/home/ideas-waiting?page=2\""));
    let (_, page2) = staff.get("/home/ideas-waiting?page=2").await;
    assert!(page2.contains("Showing 26 to 31 of 31."), "{page2}");
    assert!(page2.contains("href=\"/home/ideas-waiting?page=1\""));
    let (s, _) = staff.get("/home/no-such-list").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Every project, by name, a page at a time; and only one's own.
    let (_, all) = staff.get("/projects").await;
    assert!(all.contains("Showing 1 to 25 of 31."), "{all}");
    let (_, mine) = staff.get("/projects?mine=yes").await;
    assert!(mine.contains("Showing 1 to 1 of 1.") && mine.contains("Warm rooms"));
    // A partner's lists are theirs only.
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let (s, _) = partner.get("/home/ideas-waiting").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a list partners do not have");
    let (_, all) = partner.get("/projects").await;
    assert!(all.contains("Showing 1 to 1 of 1."), "{all}");
}

/// A project started in the pages used end to end: its lead is a member,
/// a partner is added, a meeting with them, a decision through the check
/// page and an action on it are recorded, and the partner then finds the
/// decision waiting for them to confirm.
#[tokio::test]
async fn a_new_project_is_used_end_to_end_in_the_pages() {
    let o = office().await;
    let mut staff = Browser::sign_in(&o.api, &o.s_code).await;
    let (s, _) = staff
        .submit(
            "/projects/new",
            &[
                ("title", "Food bank hours Zqc1"),
                ("summary", "Opening hours that suit people who work"),
                ("lead", &o.s),
                ("involvement", "co-production"),
                ("aim", "Evening opening twice a week"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let project = {
        let model = o.api.app().read().unwrap();
        model
            .projects
            .iter()
            .find(|(_, p)| model.text(&p.title) == "Food bank hours Zqc1")
            .map(|(id, _)| id.to_string())
            .unwrap()
    };
    // Its lead is among its members, and the partner is added.
    let people = format!("/projects/{project}/people");
    let (_, page) = staff.get(&people).await;
    assert!(page.contains("You (staff, leads it)"), "the lead: {page}");
    let (s, _) = staff.submit(&people, &[("person", &o.p)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // A meeting with them.
    let (s, page) = staff
        .submit(
            &format!("/projects/{project}/meeting"),
            &[
                ("date", &time::OffsetDateTime::now_utc().date().to_string()),
                ("attendees", &o.s),
                ("attendees", &o.p),
                ("materials", "yes"),
                ("summary", "We chose the evenings."),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    // A decision, through the check page.
    let before = o.api.app().size();
    let (s, page) = staff
        .submit_and_confirm(
            &format!("/projects/{project}/decision"),
            &[
                ("question", "Which evenings?"),
                ("outcome", "Tuesday and Thursday"),
                ("method", "consensus"),
                ("reason", "Everyone could come then"),
                (&format!("position-{}", o.s), "agree"),
                (&format!("position-{}", o.p), "agree"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let made = written_since(&o.api, before);
    assert_eq!(made.len(), 1);
    let decision = made[0].1["decision_id"].as_str().unwrap().to_string();
    // An action on it.
    let due = (time::OffsetDateTime::now_utc().date() + time::Duration::days(14)).to_string();
    let (s, page) = staff
        .submit(
            &format!("/decisions/{decision}/action"),
            &[
                ("what", "Tell the volunteers"),
                ("owner", &o.s),
                ("due", &due),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    // The partner is asked to confirm their part.
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, home) = partner.get("/home").await;
    assert!(
        home.contains("Which evenings?")
            && home.contains(&format!("/decisions/{decision}/confirm")),
        "{home}"
    );
}

/// (issue 32) A form about a decision names it first (its question, what
/// was decided, when, how, and where the reader stands in it), and links
/// to forms say which record they are about: no two alike.
#[tokio::test]
async fn forms_about_a_decision_name_it_and_their_links_say_which() {
    let o = office().await;
    // A second decision with the partner in it, so that two wait on her.
    let second = uuid::Uuid::new_v4().to_string();
    let made = json!({"type": "decision.made", "payload": {"project_id": o.project, "decision_id": second,
        "question": "Which evenings?", "outcome": "Tuesdays", "stage": "conception",
        "method": "vote", "reason": "Most wanted it", "participants": [
            {"participant_id": o.s, "position": "agree"}, {"participant_id": o.p, "position": "disagree"}]}});
    post(&o.api, &o.s_code, "/v1/events", made).await;
    let mut partner = Browser::sign_in(&o.api, &o.p_code).await;
    let (_, home) = partner.get("/home").await;
    assert!(
        home.contains("Confirm or dispute your part in “Which evenings?”"),
        "{home}"
    );
    // Every link to a form on the page has words of its own.
    let mut seen = std::collections::BTreeMap::new();
    for a in home.split("<a href=\"").skip(1) {
        let (href, rest) = a.split_once('"').unwrap();
        let words = rest
            .split_once('>')
            .unwrap()
            .1
            .split("</a>")
            .next()
            .unwrap();
        let form = ["/confirm", "/withdraw", "/reply", "/answer"]
            .iter()
            .any(|f| href.contains(f));
        if let (true, Some(other)) = (form, seen.insert(words.to_string(), href.to_string())) {
            assert_eq!(other, href, "two links say {words}");
        }
    }
    let (_, form) = partner.get(&format!("/decisions/{second}/confirm")).await;
    for line in [
        "The decision: “Which evenings?”",
        "What was decided: Tuesdays",
        "by a vote",
        "You are recorded as: disagreed.",
    ] {
        assert!(form.contains(line), "the confirm form says {line}: {form}");
    }
    let (_, form) = partner.get(&format!("/decisions/{second}/challenge")).await;
    assert!(form.contains("The decision: “Which evenings?”"));
}
