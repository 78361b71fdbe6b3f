//! (issue 31) People for admins and staff: finding people (paged, emails to
//! admins only), correcting a name or an email without touching the log, a
//! second registration of a name or an email refused unless it is another
//! person, the people pages, and a project started in the pages whose lead
//! and starter are its first members.

use crate::common::{Api, Browser, token};
use axum::http::StatusCode;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};

struct Office {
    api: Api,
    ledger: Ledger,
    admin: String,
    staff: String,
    partner: String,
    auditor: String,
    _dir: tempfile::TempDir,
}

async fn register(api: &Api, admin: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = api.call(Some(admin), "POST", "/v1/people", body).await;
    (s, b)
}

/// A store with an admin, a member of staff and a partner (registered), and
/// an auditor.
async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::new(ledger.clone());
    let admin = token(api.app(), Role::Admin, "admin", None);
    let (_, s) = register(
        &api,
        &admin,
        json!({"role": "staff", "name": "Morwenna Pencarrow", "email": "morwenna@example.org"}),
    )
    .await;
    let staff_id = s["participant_id"].as_str().unwrap().to_string();
    let (_, p) = register(
        &api,
        &admin,
        json!({"role": "partner", "name": "Ottoline Braithwaite", "email": "ottoline@example.org"}),
    )
    .await;
    let partner_id = p["participant_id"].as_str().unwrap().to_string();
    let staff = token(api.app(), Role::Staff, "morwenna", Some(&staff_id));
    let partner = token(api.app(), Role::Partner, "ottoline", Some(&partner_id));
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    Office {
        api,
        ledger,
        admin,
        staff,
        partner,
        auditor,
        _dir: dir,
    }
}

fn names(page: &Value) -> Vec<String> {
    page["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// GET /v1/people as each role, searching: (who, query) → (status, names,
/// whether emails are shown).
#[tokio::test]
async fn people_are_found_by_those_who_may() {
    let o = office().await;
    let cases: &[(&str, &str, u16, &[&str], bool)] = &[
        (
            "admin",
            "",
            200,
            &["Morwenna Pencarrow", "Ottoline Braithwaite"],
            true,
        ),
        (
            "admin",
            "?q=braithwaite",
            200,
            &["Ottoline Braithwaite"],
            true,
        ),
        (
            "admin",
            "?q=ottoline%40example.org",
            200,
            &["Ottoline Braithwaite"],
            true,
        ),
        ("admin", "?q=Zebulon", 200, &[], true),
        (
            "staff",
            "",
            200,
            &["Morwenna Pencarrow", "Ottoline Braithwaite"],
            false,
        ),
        (
            "staff",
            "?q=%20%20BRAITHWAITE%20",
            200,
            &["Ottoline Braithwaite"],
            false,
        ),
        // Staff do not see emails, so they cannot find people by them.
        ("staff", "?q=ottoline%40example.org", 200, &[], false),
        ("partner", "", 403, &[], false),
        ("auditor", "", 403, &[], false),
        ("nobody", "", 401, &[], false),
        ("admin", "?limit=0", 400, &[], false),
        ("admin", "?after=not-an-id", 400, &[], false),
    ];
    for (who, query, status, want, emails) in cases {
        let bearer = match *who {
            "admin" => Some(o.admin.as_str()),
            "staff" => Some(o.staff.as_str()),
            "partner" => Some(o.partner.as_str()),
            "auditor" => Some(o.auditor.as_str()),
            _ => None,
        };
        let (s, _, page) = o
            .api
            .call(bearer, "GET", &format!("/v1/people{query}"), Value::Null)
            .await;
        assert_eq!(s.as_u16(), *status, "{who} {query}: {page}");
        if *status != 200 {
            continue;
        }
        assert_eq!(names(&page), *want, "{who} {query}");
        let shown = page["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.get("email").is_some());
        assert_eq!(shown, *emails && !want.is_empty(), "{who} {query}: {page}");
    }
}

/// A page at a time, with the next page's address.
#[tokio::test]
async fn people_come_a_page_at_a_time() {
    let o = office().await;
    let (s, h, page) = {
        let (s, ct, page) = o
            .api
            .call(Some(&o.admin), "GET", "/v1/people?limit=1", Value::Null)
            .await;
        (s, ct, page)
    };
    assert_eq!(s, 200, "{h} {page}");
    assert_eq!(names(&page), ["Morwenna Pencarrow"]);
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, _, page) = o
        .api
        .call(
            Some(&o.admin),
            "GET",
            &format!("/v1/people?limit=1&after={next}"),
            Value::Null,
        )
        .await;
    assert_eq!(names(&page), ["Ottoline Braithwaite"]);
    assert!(page["next"].is_null(), "{page}");
}

/// PATCH /v1/people/{id}: admins correct a name and an email; the people
/// store changes, the log does not grow or learn them.
#[tokio::test]
async fn a_correction_changes_the_people_store_only() {
    let o = office().await;
    let (_, _, found) = o
        .api
        .call(Some(&o.admin), "GET", "/v1/people?q=Ottoline", Value::Null)
        .await;
    let id = found["people"][0]["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/people/{id}");
    let cases: &[(&str, Value, u16, Option<&str>)] = &[
        ("partner", json!({"name": "Ottoline Rookwood"}), 403, None),
        ("staff", json!({"name": "Ottoline Rookwood"}), 403, None),
        ("admin", json!({}), 400, None),
        (
            "admin",
            json!({"email": "not an email"}),
            400,
            Some("/email"),
        ),
        ("admin", json!({"name": "  "}), 400, Some("/name")),
        ("admin", json!({"nickname": "Otty"}), 422, Some("/nickname")),
        (
            "admin",
            json!({"name": "Ottoline Rookwood", "email": "o.rookwood@example.net"}),
            200,
            None,
        ),
    ];
    for (who, body, status, pointer) in cases {
        let before = o.ledger.head().size;
        let bearer = match *who {
            "admin" => &o.admin,
            "staff" => &o.staff,
            _ => &o.partner,
        };
        let (s, _, answer) = o.api.call(Some(bearer), "PATCH", &path, body.clone()).await;
        assert_eq!(s.as_u16(), *status, "{who} {body}: {answer}");
        if let Some(p) = pointer {
            assert_eq!(answer["pointer"], *p, "{who} {body}: {answer}");
        }
        assert_eq!(
            o.ledger.head().size,
            before,
            "a correction writes no record"
        );
    }
    let (_, _, now) = o
        .api
        .call(Some(&o.admin), "GET", "/v1/people?q=Rookwood", Value::Null)
        .await;
    assert_eq!(now["people"][0]["email"], "o.rookwood@example.net");
    let log = o.ledger.range(0, 1000).unwrap();
    for e in &log {
        let text = serde_json::to_string(&e.payload.as_ref().map(|p| p.to_value())).unwrap();
        assert!(
            !text.contains("Rookwood") && !text.contains("rookwood"),
            "{text}"
        );
    }
    // An email removed with "".
    let (s, _, answer) = o
        .api
        .call(Some(&o.admin), "PATCH", &path, json!({"email": ""}))
        .await;
    assert_eq!(s, 200, "{answer}");
    assert!(answer.get("email").is_none(), "{answer}");
}

/// The same name or email twice: refused (409, naming the first), nothing
/// written, unless it is another person.
#[tokio::test]
async fn the_same_person_is_not_registered_twice_by_mistake() {
    let o = office().await;
    let cases: &[(Value, u16, Option<&str>)] = &[
        (
            json!({"role": "partner", "name": "ottoline  braithwaite"}),
            409,
            Some("/name"),
        ),
        (
            json!({"role": "partner", "name": "O. Braithwaite", "email": "OTTOLINE@example.org"}),
            409,
            Some("/email"),
        ),
        (
            json!({"role": "partner", "name": "Ottoline Braithwaite", "another_person": true}),
            201,
            None,
        ),
        (
            json!({"role": "partner", "name": "Cuthbert Ashgrove"}),
            201,
            None,
        ),
    ];
    for (body, status, pointer) in cases {
        let before = o.ledger.head().size;
        let (s, answer) = register(&o.api, &o.admin, body.clone()).await;
        assert_eq!(s.as_u16(), *status, "{body}: {answer}");
        if let Some(p) = pointer {
            assert_eq!(answer["pointer"], *p, "{answer}");
            assert!(
                answer["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Ottoline Braithwaite"),
                "{answer}"
            );
        }
        let grew = o.ledger.head().size - before;
        assert_eq!(grew, u64::from(*status == 201), "{body}");
    }
}

/// The pages: an admin registers a person (and is warned, not given a
/// second person, for the same name), finds them by name and by email,
/// and corrects their email on their page; staff find names but not
/// emails, and have no correction form; partners have no people pages.
#[tokio::test]
async fn people_pages_register_find_and_correct() {
    let o = office().await;
    let mut admin = Browser::sign_in(&o.api, &o.admin).await;
    let (s, home) = admin.get("/home").await;
    assert_eq!(s, 200);
    assert!(
        home.contains("href=\"/people\""),
        "People is in the navigation"
    );
    let fields = [
        ("role", "partner"),
        ("name", "Cuthbert Ashgrove"),
        ("email", "cuthbert@example.org"),
        ("project", ""),
    ];
    let before = o.ledger.head().size;
    let (s, _) = admin.submit("/people/new", &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(o.ledger.head().size, before + 1);
    let (s, again) = admin.submit("/people/new", &fields).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.contains("already registered"), "{again}");
    assert!(again.contains("This is a different person"), "{again}");
    assert_eq!(
        o.ledger.head().size,
        before + 1,
        "the warning wrote nothing"
    );

    for q in ["ashgrove", "cuthbert%40example.org"] {
        let (_, found) = admin.get(&format!("/people?q={q}")).await;
        assert!(found.contains("Cuthbert Ashgrove"), "{q}: {found}");
    }
    let (_, none) = admin.get("/people?q=Zebulon").await;
    assert!(!none.contains("Cuthbert Ashgrove"));
    let (_, found) = admin.get("/people?q=ashgrove").await;
    let href = found
        .split("href=\"")
        .filter_map(|h| h.split('"').next())
        .find(|h| h.starts_with("/people/") && h.len() == "/people/".len() + 36)
        .expect("a link to the person's page")
        .to_string();
    let (_, page) = admin.get(&href).await;
    assert!(
        page.contains("cuthbert@example.org") && page.contains("Correct their details"),
        "{page}"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (s, _) = admin
        .post(
            &format!("{href}/correct"),
            &[
                ("csrf", &csrf),
                ("name", "Cuthbert Ashgrove"),
                ("email", "not mail"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = admin
        .post(
            &format!("{href}/correct"),
            &[
                ("csrf", &csrf),
                ("name", "Cuthbert Ashgrove"),
                ("email", "c.ashgrove@example.net"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = admin.get(&href).await;
    assert!(page.contains("c.ashgrove@example.net"), "{page}");
    assert_eq!(
        o.ledger.head().size,
        before + 1,
        "corrections write no record"
    );

    let mut staff = Browser::sign_in(&o.api, &o.staff).await;
    let (_, found) = staff.get("/people?q=ashgrove").await;
    assert!(
        found.contains("Cuthbert Ashgrove") && !found.contains("c.ashgrove@example.net"),
        "{found}"
    );
    let (_, page) = staff.get(&href).await;
    assert!(
        !page.contains("Correct their details") && !page.contains("c.ashgrove"),
        "{page}"
    );

    let mut partner = Browser::sign_in(&o.api, &o.partner).await;
    let (_, home) = partner.get("/home").await;
    assert!(!home.contains("href=\"/people\""));
    let (s, _) = partner.get("/people").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A project started in the pages has its lead and the member of staff
/// who started it as members at once.
#[tokio::test]
async fn a_project_started_in_the_pages_has_its_first_members() {
    let o = office().await;
    let (_, lead) = register(
        &o.api,
        &o.admin,
        json!({"role": "staff", "name": "Tobias Wrenfield"}),
    )
    .await;
    let lead = lead["participant_id"].as_str().unwrap().to_string();
    let mut staff = Browser::sign_in(&o.api, &o.staff).await;
    // "Who leads it?": you first, then staff by name.
    let (_, form) = staff.get("/projects/new").await;
    let you = form.find("You (Morwenna Pencarrow)").expect("you, by name");
    let other = form
        .find("Tobias Wrenfield")
        .expect("the other member of staff, by name");
    assert!(you < other, "you first");
    let (s, answer) = staff
        .submit(
            "/projects/new",
            &[
                ("title", "Warm spaces this winter"),
                ("summary", "Warm rooms in libraries"),
                ("lead", &lead),
                ("involvement", "co-production"),
                ("aim", "Every library opens a warm room"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{answer}");
    let model = o.api.app().read().unwrap();
    let (_, project) = model
        .projects
        .iter()
        .find(|(_, p)| model.text(&p.title) == "Warm spaces this winter")
        .expect("the project");
    let members: Vec<String> = project
        .members
        .iter()
        .filter(|(_, m)| m.active)
        .map(|(who, _)| who.to_string())
        .collect();
    assert!(members.contains(&lead), "the lead is a member: {members:?}");
    assert_eq!(
        members.len(),
        2,
        "the lead and the member of staff who started it: {members:?}"
    );
}

/// A project's people page: add a registered partner, record a meeting
/// with them, record that they left; the lead cannot be removed there.
#[tokio::test]
async fn people_are_added_to_a_project_and_leave_it() {
    let o = office().await;
    let mut staff = Browser::sign_in(&o.api, &o.staff).await;
    let (_, form) = staff.get("/projects/new").await;
    let me = form
        .split("value=\"")
        .filter_map(|v| v.split('"').next())
        .find(|v| v.len() == 36 && form.contains(&format!("value=\"{v}\" checked")))
        .expect("you are chosen to lead")
        .to_string();
    let (s, _) = staff
        .submit(
            "/projects/new",
            &[
                ("title", "Food bank hours"),
                ("summary", "Opening hours that suit people who work"),
                ("lead", &me),
                ("involvement", "co-design"),
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
            .find(|(_, p)| model.text(&p.title) == "Food bank hours")
            .map(|(id, _)| id.to_string())
            .unwrap()
    };
    let people = format!("/projects/{project}/people");
    let (_, page) = staff.get(&format!("/projects/{project}")).await;
    assert!(
        page.contains(&format!("href=\"{people}\"")),
        "the project links to its people"
    );
    let (_, page) = staff.get(&people).await;
    assert!(page.contains("Ottoline Braithwaite (partner)"), "{page}");
    let partner = {
        let at = page.find("Ottoline Braithwaite (partner)").unwrap();
        let before = &page[..at];
        let v = before.rfind("value=\"").unwrap() + 7;
        before[v..].split('"').next().unwrap().to_string()
    };
    let (s, _) = staff.submit(&people, &[]).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "choosing no one is an error"
    );
    let (s, _) = staff.submit(&people, &[("person", &partner)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = staff.get(&people).await;
    assert!(
        page.contains("Record that Ottoline Braithwaite left this project"),
        "{page}"
    );

    // Now "Who came?" offers them, and a meeting with them is recorded.
    let before = o.ledger.head().size;
    let (s, answer) = staff
        .submit(
            &format!("/projects/{project}/meeting"),
            &[
                ("date", "2026-11-30"),
                ("attendees", &me),
                ("attendees", &partner),
                ("materials", "yes"),
                ("summary", "We chose the evenings."),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{answer}");
    assert_eq!(o.ledger.head().size, before + 1);

    let csrf = staff.csrf(&people).await;
    let (s, _) = staff
        .post(&format!("{people}/{partner}/left"), &[("csrf", &csrf)])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = staff.get(&people).await;
    assert!(
        !page.contains("left this project\">")
            && page.contains("Ottoline Braithwaite (partner)</label>"),
        "{page}"
    );
    // The lead has no such button, and cannot be made to leave here.
    let (s, page) = staff
        .post(&format!("{people}/{me}/left"), &[("csrf", &csrf)])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
}

/// A lost card: from the person's page, every card and code of theirs
/// stops at once (the session a code started ends, an unused card no
/// longer works); cards say whose and when; admins revoke tokens in the
/// pages.
#[tokio::test]
async fn a_persons_sign_ins_stop_at_once_and_tokens_are_revoked_in_the_pages() {
    let o = office().await;
    let app = o.api.app();
    let (staff, _) = app.authenticate(&o.staff).unwrap();
    let partner = app
        .authenticate(&o.partner)
        .unwrap()
        .0
        .participant()
        .unwrap();
    let (card, _, info) = crate::common::blocking(app.make_sign_in_card(&staff, partner)).unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(
        info.name,
        format!("card-{}-{today}", &partner.to_string()[..8])
    );
    assert!(app.sign_in_link(&card).is_ok());

    let mut them = Browser::sign_in(&o.api, &o.partner).await;
    assert_eq!(them.get("/home").await.0, StatusCode::OK);
    let mut admin = Browser::sign_in(&o.api, &o.admin).await;
    let page = format!("/people/{partner}");
    let (_, html) = admin.get(&page).await;
    assert!(html.contains("Stop all of Ottoline Braithwaite"), "{html}");
    // Their cards and codes, for admins: the card not used yet, the code used.
    assert!(
        html.contains("A sign-in card made on") && html.contains("not used yet. It works."),
        "{html}"
    );
    assert!(html.contains("An access code made on"), "{html}");
    let mut staff_browser = Browser::sign_in(&o.api, &o.staff).await;
    let (_, as_staff) = staff_browser.get(&page).await;
    assert!(
        !as_staff.contains("Their cards and access codes"),
        "staff do not list tokens"
    );
    let csrf = admin.csrf(&page).await;
    let (s, _) = admin
        .post(&format!("{page}/stop"), &[("csrf", &csrf)])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, html) = admin.get(&page).await;
    assert!(html.contains("Stopped 2 cards and access codes"), "{html}");
    assert!(!html.contains("It works."), "both are stopped: {html}");
    assert_ne!(
        them.get("/home").await.0,
        StatusCode::OK,
        "their session ended"
    );
    assert!(
        app.sign_in_link(&card).is_err(),
        "the unused card no longer works"
    );
    assert!(
        app.authenticate(&o.partner).is_err(),
        "their code no longer works"
    );

    // The admins' tokens page: the auditor's token, revoked there.
    let (_, html) = admin.get("/home").await;
    assert!(html.contains("href=\"/tokens\""));
    let (_, html) = admin.get("/tokens").await;
    let id = app
        .tokens(&jointly::app::Caller::operator())
        .unwrap()
        .into_iter()
        .find(|t| t.name == "auditor")
        .unwrap()
        .id;
    assert!(html.contains(&format!("/tokens/{id}/revoke")), "{html}");
    let csrf = admin.csrf("/tokens").await;
    let (s, _) = admin
        .post(&format!("/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(app.authenticate(&o.auditor).is_err());
    // Staff have no tokens page.
    assert_eq!(staff_browser.get("/tokens").await.0, StatusCode::FORBIDDEN);
}

/// (file, who) → (status, registered, the pointer of the first fault).
/// Every row is checked first: one row at fault registers no one.
#[tokio::test]
async fn many_people_from_a_spreadsheet_or_none() {
    let o = office().await;
    let good = "name,email,role,project\r\nAbigail Ashcombe,abigail@example.org,partner,\r\nBartholomew Blackthorn,,staff,\r\n\"Caddick, Cordelia\",cordelia@example.org,Partner,\r\n";
    let bad_email = "name,email,role,project\nDesmond Dunmore,desmond@example.org,partner,\nEuphemia Elsworth,euphemia@example.org,partner,\nFergus Fairweather,not an email address,partner,\n";
    let cases: &[(&str, &str, u16, usize, Option<&str>)] = &[
        ("partner", good, 403, 0, None),
        ("admin", bad_email, 422, 0, Some("/rows/4/email")),
        (
            "admin",
            "name,role,colour\nGwendolen Greatorex,partner,blue\n",
            422,
            0,
            Some("/rows/1/colour"),
        ),
        (
            "admin",
            "name,role,project\nHamish Hollingsworth,partner,No such project\n",
            422,
            0,
            Some("/rows/2/project"),
        ),
        (
            "admin",
            "name,role\nImogen Ingleby,volunteer\n",
            422,
            0,
            Some("/rows/2/role"),
        ),
        (
            "admin",
            "name,role\nJasper Jellicoe,partner\njasper  JELLICOE,partner\n",
            422,
            0,
            Some("/rows/3/name"),
        ),
        (
            "admin",
            "name,role\nOttoline Braithwaite,partner\n",
            422,
            0,
            Some("/rows/2/name"),
        ),
        ("admin", "", 422, 0, Some("/rows/1/file")),
        ("staff", good, 201, 3, None),
    ];
    for (who, file, status, registered, pointer) in cases {
        let before = o.ledger.head().size;
        let bearer = if *who == "partner" {
            &o.partner
        } else if *who == "staff" {
            &o.staff
        } else {
            &o.admin
        };
        let (s, _, answer) = o
            .api
            .raw(
                Some(bearer),
                "POST",
                "/v1/people/import",
                Some(file.as_bytes().to_vec()),
                "text/csv",
                &[],
            )
            .await;
        assert_eq!(s.as_u16(), *status, "{who} {file:?}: {answer}");
        if let Some(p) = pointer {
            assert_eq!(answer["pointer"], *p, "{file:?}: {answer}");
        }
        assert_eq!(
            (o.ledger.head().size - before) as usize,
            *registered,
            "{file:?}"
        );
        if *status == 201 {
            assert_eq!(answer.as_array().unwrap().len(), *registered);
        }
    }
    let (_, _, found) = o
        .api
        .call(Some(&o.admin), "GET", "/v1/people?q=Caddick", Value::Null)
        .await;
    assert_eq!(names(&found), ["Caddick, Cordelia"]);

    // The same through the page: the faults listed by row and column.
    let mut admin = Browser::sign_in(&o.api, &o.admin).await;
    let (_, people) = admin.get("/people").await;
    assert!(people.contains("href=\"/people/upload\""));
    let csrf = admin.csrf("/people/upload").await;
    let before = o.ledger.head().size;
    let (s, page) = admin
        .post_file("/people/upload", &csrf, "people.csv", bad_email.as_bytes())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Row 4") && page.contains("email") && page.contains("not an email address"),
        "{page}"
    );
    assert_eq!(o.ledger.head().size, before, "nothing written");
    let fine = bad_email.replace("not an email address", "fergus@example.org");
    let (s, page) = admin
        .post_file("/people/upload", &csrf, "people.csv", fine.as_bytes())
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(
        page.contains("3 people registered") && page.contains("Fergus Fairweather"),
        "{page}"
    );
    assert_eq!(o.ledger.head().size, before + 3);
}

/// Someone leaving the organisation, and someone erased, each after a page
/// that says what will happen: a lead who leaves hands their project on;
/// an erasure names what will go, needs a reason, and is for admins only.
#[tokio::test]
async fn leaving_and_erasure_are_confirmed_first_in_the_pages() {
    let o = office().await;
    let app = o.api.app();
    let id_of = |code: &str| {
        app.authenticate(code)
            .unwrap()
            .0
            .participant()
            .unwrap()
            .to_string()
    };
    let (staff, partner) = (id_of(&o.staff), id_of(&o.partner));
    let (_, other) = register(
        &o.api,
        &o.admin,
        json!({"role": "staff", "name": "Tobias Wrenfield"}),
    )
    .await;
    let other = other["participant_id"].as_str().unwrap().to_string();
    let project = uuid::Uuid::new_v4().to_string();
    let started = json!({"type": "project.started", "payload": {"project_id": project,
        "title": "Warm rooms Zqd1", "summary": "s", "involvement": "co-production", "lead": staff}});
    let (s, _, b) = o
        .api
        .call(Some(&o.admin), "POST", "/v1/events", started)
        .await;
    assert!(s.is_success(), "{b}");
    for (who, role) in [(&staff, "staff"), (&partner, "partner")] {
        let joined = json!({"type": "participant.joined", "payload": {"project_id": project,
            "participant_id": who, "role": role}});
        let (s, _, b) = o
            .api
            .call(Some(&o.admin), "POST", "/v1/events", joined)
            .await;
        assert!(s.is_success(), "{b}");
    }
    let raised = json!({"type": "proposal.raised", "payload": {"project_id": project,
        "proposal_id": uuid::Uuid::new_v4(), "text": "Soup on Fridays Zqd2"}});
    let (s, _, b) = o
        .api
        .call(Some(&o.partner), "POST", "/v1/events", raised)
        .await;
    assert!(s.is_success(), "{b}");

    let mut admin = Browser::sign_in(&o.api, &o.admin).await;
    // Leaving: the page names the project they lead and asks who leads it.
    let (_, person) = admin.get(&format!("/people/{staff}")).await;
    assert!(person.contains(&format!("href=\"/people/{staff}/leave\"")));
    let leave = format!("/people/{staff}/leave");
    let (s, page) = admin.get(&leave).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Who leads Warm rooms Zqd1 from now on?"),
        "{page}"
    );
    let before = app.size();
    let (s, page) = admin.submit(&leave, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_eq!(app.size(), before, "nothing written without a new lead");
    let (s, _) = admin.submit(&leave, &[("new_lead", &other)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    {
        let model = app.read().unwrap();
        let p = model
            .projects
            .get(&uuid::Uuid::parse_str(&project).unwrap().into());
        assert_eq!(
            p.unwrap().lead.to_string(),
            other,
            "the project has its new lead"
        );
    }
    let (_, person) = admin.get(&format!("/people/{staff}")).await;
    assert!(person.contains("<dt>Left</dt>") && !person.contains("/leave\""));

    // Erasure: only admins; they see what will go, and must say why.
    let erase = format!("/people/{partner}/erase");
    let mut auditor = Browser::sign_in(&o.api, &o.auditor).await;
    let (s, _) = auditor.get(&erase).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, page) = admin.get(&erase).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Their name (Ottoline Braithwaite) and email address")
            && page.contains("1 idea"),
        "{page}"
    );
    let before = app.size();
    let (s, _) = admin.submit(&erase, &[("reason", "  ")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.size(), before, "nothing erased without a reason");
    let (s, _) = admin.submit(&erase, &[("reason", "She asked us to")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _) = admin.get(&format!("/people/{partner}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no one there any more");
    let model = app.read().unwrap();
    assert!(
        model
            .erased
            .contains(&uuid::Uuid::parse_str(&partner).unwrap().into())
    );
}
