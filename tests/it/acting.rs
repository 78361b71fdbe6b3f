//! No one acts as a partner unseen (issue 29): a sign-in card a member of
//! staff makes and uses shows in the log, on the partner's home page and in
//! the jointness figures; the partner's equality answers stay hidden in
//! its session; the partner can stop it; no token is made for someone
//! erased; and no page tells a partner of another project anything about
//! a project's records, not even whether they exist.

use crate::common::{Api, Browser, token};
use axum::http::StatusCode;
use jointly::api::Config;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};

/// Two projects: A (staff S, who leads both, and partner P) and B
/// (partner Q), and their codes; two consensus decisions in A that S and
/// P agreed, an idea and a challenge by P.
struct Two {
    _dir: tempfile::TempDir,
    api: Api,
    admin: String,
    s: String,
    p: String,
    a: String,
    b: String,
    s_code: String,
    p_code: String,
    q_code: String,
    decisions: [String; 2],
    challenge: String,
}

async fn two() -> Two {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::with_config(
        ledger,
        &Config {
            public_url: Some("http://jointly.test".into()),
            ..Config::default()
        },
    );
    let admin = token(api.app(), Role::Admin, "admin", None);
    let call = |token: &str, uri: &str, body: Value| {
        let (api, token, uri) = (&api, token.to_string(), uri.to_string());
        async move {
            let (s, _, b) = api.call(Some(&token), "POST", &uri, body).await;
            assert!(s.is_success(), "{uri}: {s} {b}");
            b
        }
    };
    let person = |role: &str, name: &str, project: Option<&str>| {
        let body = json!({"role": role, "name": name, "project_id": project});
        let call = &call;
        let admin = admin.clone();
        async move {
            call(&admin, "/v1/people", body).await["participant_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let s = person("staff", "Sally Brightwater", None).await;
    let (a, b) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    for (id, title) in [(&a, "Warm rooms Zqa1"), (&b, "Bus fares")] {
        let started = json!({"type": "project.started", "payload": {"project_id": id, "title": title,
            "summary": "s", "involvement": "co-production", "lead": s}});
        call(&admin, "/v1/events", started).await;
        let joined = json!({"type": "participant.joined", "payload": {"project_id": id,
            "participant_id": s, "role": "staff"}});
        call(&admin, "/v1/events", joined).await;
    }
    let p = person("partner", "Marigold", Some(&a)).await;
    let q = person("partner", "Nasturtium", Some(&b)).await;
    let s_code = token(api.app(), Role::Staff, "sally", Some(&s));
    let p_code = token(api.app(), Role::Partner, "marigold", Some(&p));
    let q_code = token(api.app(), Role::Partner, "nasturtium", Some(&q));
    let decisions = [
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    ];
    for (i, d) in decisions.iter().enumerate() {
        let made = json!({"type": "decision.made", "payload": {"project_id": a, "decision_id": d,
            "question": format!("Question {i} Zqa3"), "outcome": "Yes", "stage": "conception",
            "method": "consensus", "reason": "Everyone agreed", "participants": [
                {"participant_id": s, "position": "agree"}, {"participant_id": p, "position": "agree"}]}});
        call(&s_code, "/v1/events", made).await;
    }
    let raised = json!({"type": "proposal.raised", "payload": {"project_id": a, "proposal_id": uuid::Uuid::new_v4(),
        "text": "Open on Sundays Zqa2"}});
    call(&p_code, "/v1/events", raised).await;
    let challenge = uuid::Uuid::new_v4().to_string();
    let challenged = json!({"type": "decision.challenged", "payload": {"decision_id": decisions[0],
        "challenge_id": challenge, "reason": "Sundays are hard Zqa5"}});
    call(&p_code, "/v1/events", challenged).await;
    let answered = json!({"type": "challenge.answered", "payload": {"challenge_id": challenge,
        "answer": "We will ask Zqa6"}});
    call(&s_code, "/v1/events", answered).await;
    Two {
        _dir: dir,
        api,
        admin,
        s,
        p,
        a,
        b,
        s_code,
        p_code,
        q_code,
        decisions,
        challenge,
    }
}

/// Every record from the first, as the API gives them.
async fn events(w: &Two) -> Vec<Value> {
    let (s, _, b) = w
        .api
        .call(Some(&w.admin), "GET", "/v1/events?limit=1000", Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK);
    b["events"].as_array().unwrap().clone()
}

fn of_type<'v>(events: &'v [Value], t: &str) -> Vec<&'v Value> {
    events.iter().filter(|e| e["record"]["type"] == t).collect()
}

/// A member of staff makes a card for P (as the pages do) and opens its
/// link in another browser: that browser, signed in on the card.
async fn staff_makes_and_uses_a_card<'a>(w: &'a Two) -> (Browser<'a>, String) {
    let mut staff = Browser::sign_in(&w.api, &w.s_code).await;
    let csrf = staff.csrf(&format!("/projects/{}/cards", w.a)).await;
    let (status, card) = staff
        .post(&format!("/people/{}/card", w.p), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    let at = card.find("/sign-in/link/jll_").expect("a link on the card");
    let link: String = card[at..]
        .chars()
        .take_while(|c| !matches!(c, '<' | '"' | ' '))
        .collect();
    let mut used = Browser::fresh(&w.api);
    let csrf = used.csrf(&link).await;
    assert_eq!(
        used.post(&link, &[("csrf", &csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    (used, link)
}

#[tokio::test]
async fn a_card_staff_made_and_used_is_in_the_log_with_its_maker_and_its_use() {
    let w = two().await;
    let before = events(&w).await.len();
    let (_card, link) = staff_makes_and_uses_a_card(&w).await;
    let all = events(&w).await;
    let made = &all[before..];
    let granted = of_type(made, "access.granted");
    assert_eq!(granted.len(), 1, "{made:?}");
    let g = granted[0];
    assert_eq!(g["payload"]["participant_id"], w.p.as_str());
    assert_eq!(g["payload"]["kind"], "sign-in-card");
    let card_id = g["payload"]["credential_id"].as_str().unwrap();
    let maker = g["record"]["actor"].as_str().unwrap();
    assert!(
        maker.starts_with(&format!("staff:{}/token:", w.s)),
        "the maker and their credential: {maker}"
    );
    let used = of_type(made, "access.used");
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["payload"]["credential_id"], card_id);
    assert_eq!(
        used[0]["record"]["actor"],
        format!("partner:{}/token:{card_id}", w.p).as_str(),
        "the use is the card's own"
    );
    // Used once: not again.
    let mut again = Browser::fresh(&w.api);
    let csrf = again.csrf("/sign-in").await;
    assert_eq!(
        again.post(&link, &[("csrf", &csrf)]).await.0,
        StatusCode::UNAUTHORIZED
    );
    w.api.state.shutdown().await;
}

/// A jointness row of project A.
async fn row(w: &Two, decision: &str) -> Value {
    let (s, _, b) = w
        .api
        .call(
            Some(&w.admin),
            "GET",
            &format!("/v1/projects/{}/projections/jointness", w.a),
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["jointness"]["projects"][0]["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .find(|d| d["decision_id"] == decision)
        .cloned()
        .unwrap_or_else(|| panic!("{b}"))
}

#[tokio::test]
async fn a_confirmation_on_a_card_staff_made_is_not_the_partner_word() {
    let w = two().await;
    let (mut card, _) = staff_makes_and_uses_a_card(&w).await;
    let [on_card, own] = &w.decisions;
    let (status, page) = card
        .submit(
            &format!("/decisions/{on_card}/confirm"),
            &[("answer", "confirm")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let mut partner = Browser::sign_in(&w.api, &w.p_code).await;
    let (status, _) = partner
        .submit(
            &format!("/decisions/{own}/confirm"),
            &[("answer", "confirm")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (c, o) = (row(&w, on_card).await, row(&w, own).await);
    assert_eq!(o["class"], "joint", "{o}");
    assert_eq!(o["confirmed_on_staff_card"], false);
    assert_eq!(c["class"], "partner-informed", "{c}");
    assert_eq!(c["confirmed_on_staff_card"], true);
    assert!(
        c["why"]
            .as_str()
            .unwrap()
            .contains("card a member of staff made")
    );
    // The two records say which credential made each.
    let all = events(&w).await;
    let actors: Vec<&str> = of_type(&all, "decision.confirmed")
        .iter()
        .map(|e| e["record"]["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors.len(), 2);
    assert_ne!(actors[0], actors[1]);
    assert!(
        actors
            .iter()
            .all(|a| a.starts_with(&format!("partner:{}/token:", w.p)))
    );
    // The decision's page says it, to staff and to the partner.
    let mut staff = Browser::sign_in(&w.api, &w.s_code).await;
    let page = staff.get(&format!("/decisions/{on_card}")).await.1;
    assert!(
        page.contains("sign-in card a member of staff made"),
        "{page}"
    );
    let page = staff.get(&format!("/decisions/{own}")).await.1;
    assert!(!page.contains("card"), "{page}");
    // In her own name the partner may confirm it again, and then it is hers.
    let home = partner.get("/home").await.1;
    assert!(
        home.contains(&format!("/decisions/{on_card}/confirm")),
        "{home}"
    );
    let (status, _) = partner
        .submit(
            &format!("/decisions/{on_card}/confirm"),
            &[("answer", "confirm")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(row(&w, on_card).await["class"], "joint");
    // The card cannot confirm twice.
    let (status, _) = card
        .submit(
            &format!("/decisions/{own}/confirm"),
            &[("answer", "confirm")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    w.api.state.shutdown().await;
}

#[tokio::test]
async fn equality_answers_are_not_shown_on_a_card_staff_made_until_it_is_claimed() {
    let w = two().await;
    let answers = json!({"religion_or_belief": "muslim", "region": "wales"});
    let (s, _, b) = w
        .api
        .call(Some(&w.p_code), "PUT", "/v1/me/equality", answers)
        .await;
    assert!(s.is_success(), "{b}");
    let (mut card, _) = staff_makes_and_uses_a_card(&w).await;
    let (status, page) = card.get("/me/equality").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("checked"), "no answer chosen: {page}");
    assert!(page.contains("Show this card is yours"), "{page}");
    let home = card.get("/home").await.1;
    assert!(
        home.contains("with a sign-in card a member of staff made"),
        "{home}"
    );
    // Nor changed.
    let csrf = card.csrf("/home").await;
    let (status, _) = card
        .post("/me/equality", &[("csrf", &csrf), ("region", "london")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A wrong code claims nothing; the card's own link does not either.
    let (status, _) = card
        .post("/me/claim", &[("csrf", &csrf), ("code", &w.s_code)])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "staff's own code is not hers"
    );
    assert!(of_type(&events(&w).await, "access.claimed").is_empty());
    // Her own code shows it is hers: recorded, and her answers are shown.
    let (status, _) = card
        .post("/me/claim", &[("csrf", &csrf), ("code", &w.p_code)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(of_type(&events(&w).await, "access.claimed").len(), 1);
    let page = card.get("/me/equality").await.1;
    assert!(page.contains("value=\"wales\" checked"), "{page}");
    w.api.state.shutdown().await;
}

#[tokio::test]
async fn the_partner_home_lists_the_card_and_stops_it() {
    let w = two().await;
    let mut partner = Browser::sign_in(&w.api, &w.p_code).await;
    let before = partner.get("/home").await.1;
    assert!(before.contains("How you sign in"), "{before}");
    assert!(!before.contains("A sign-in card made for you"), "{before}");
    let (mut card, _) = staff_makes_and_uses_a_card(&w).await;
    let home = partner.get("/home").await.1;
    let listed = home
        .find("A sign-in card made for you by Sally Brightwater (a member of staff) on ")
        .unwrap_or_else(|| panic!("{home}"));
    assert!(home[listed..].contains("First used on "), "{home}");
    assert!(home.contains("Stop this card"), "{home}");
    // Staff on the card cannot stop the partner's own code.
    let card_home = card.get("/home").await.1;
    assert_eq!(card_home.matches("Stop this").count(), 1, "{card_home}");
    // She stops it: the card's browser is signed out, and the log says who.
    let id = of_type(&events(&w).await, "access.granted")
        .iter()
        .find(|e| e["payload"]["kind"] == "sign-in-card")
        .unwrap()["payload"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    let csrf = partner.csrf("/home").await;
    let (status, _) = partner
        .post(&format!("/me/sign-ins/{id}/stop"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        card.get("/home").await.0,
        StatusCode::SEE_OTHER,
        "signed out"
    );
    let stopped = of_type(&events(&w).await, "access.revoked")
        .iter()
        .map(|e| e["record"]["actor"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].starts_with(&format!("partner:{}/token:", w.p)));
    // Another partner cannot stop her credentials.
    let mut other = Browser::sign_in(&w.api, &w.q_code).await;
    let csrf = other.csrf("/home").await;
    let mine = jointly::app::tokens::hash(&w.p_code)[..12].to_string();
    let (status, _) = other
        .post(&format!("/me/sign-ins/{mine}/stop"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(partner.get("/home").await.0, StatusCode::OK);
    w.api.state.shutdown().await;
}

#[tokio::test]
async fn no_token_is_made_for_someone_erased() {
    let w = two().await;
    let (s, _, b) = w
        .api
        .call(
            Some(&w.admin),
            "POST",
            "/v1/erasures",
            json!({"participant_id": w.p, "reason": "asked"}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let size = events(&w).await.len();
    let (s, _, b) = w
        .api
        .call(
            Some(&w.admin),
            "POST",
            "/v1/tokens",
            json!({"role": "partner", "name": "again", "participant": w.p}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(events(&w).await.len(), size, "nothing written");
    w.api.state.shutdown().await;
}

/// Every page about one of A's records, as a partner of B: one refusal,
/// the same whether the record exists or not, and none of A's words. Her
/// own project's pages open (the control).
#[tokio::test]
async fn pages_tell_a_partner_of_another_project_nothing() {
    let w = two().await;
    let [d, _] = &w.decisions;
    let action = uuid::Uuid::new_v4().to_string();
    let committed = json!({"type": "action.committed", "payload": {"project_id": w.a, "action_id": action,
        "decision_id": d, "what": "Ask the volunteers Zqa7", "owner": w.s, "due": "2030-01-01"}});
    let (s, _, b) = w
        .api
        .call(Some(&w.s_code), "POST", "/v1/events", committed)
        .await;
    assert!(s.is_success(), "{b}");
    // (path, its record's id, who uses it)
    let pages = [
        ("/projects/{}", &w.a, "partner"),
        ("/projects/{}/you-said-we-did", &w.a, "partner"),
        ("/projects/{}/jointly", &w.a, "partner"),
        ("/projects/{}/report", &w.a, "partner"),
        ("/projects/{}/propose", &w.a, "partner"),
        ("/decisions/{}", d, "partner"),
        ("/decisions/{}/confirm", d, "partner"),
        ("/decisions/{}/challenge", d, "partner"),
        ("/challenges/{}/reply", &w.challenge, "partner"),
        ("/projects/{}/meeting", &w.a, "staff"),
        ("/projects/{}/decision", &w.a, "staff"),
        ("/projects/{}/cards", &w.a, "staff"),
        ("/decisions/{}/action", d, "staff"),
        ("/decisions/{}/answer-dispute", d, "staff"),
        ("/challenges/{}/answer", &w.challenge, "staff"),
        ("/actions/{}/complete", &action, "staff"),
    ];
    let mut outsider = Browser::sign_in(&w.api, &w.q_code).await;
    let nowhere = uuid::Uuid::new_v4().to_string();
    for (path, id, who) in pages {
        let (real, real_page) = outsider.get(&path.replace("{}", id)).await;
        let (fake, fake_page) = outsider.get(&path.replace("{}", &nowhere)).await;
        let want = if who == "partner" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!((real, fake), (want, want), "{path}");
        assert_eq!(real_page, fake_page, "{path}: the same page either way");
        assert!(!real_page.contains("Zqa"), "{path}: {real_page}");
    }
    // Her own project's page opens; and she replies only to her own
    // challenge, even in her own project.
    assert_eq!(
        outsider.get(&format!("/projects/{}", w.b)).await.0,
        StatusCode::OK
    );
    let mut partner = Browser::sign_in(&w.api, &w.p_code).await;
    assert_eq!(
        partner
            .get(&format!("/challenges/{}/reply", w.challenge))
            .await
            .0,
        StatusCode::OK
    );
    w.api.state.shutdown().await;
}

/// Access records come only from the core: as a plain append they are
/// refused from every role, before anything is written.
#[tokio::test]
async fn no_one_appends_an_access_record_by_hand() {
    let w = two().await;
    let size = events(&w).await.len();
    let forged = [
        json!({"type": "access.granted", "payload": {"credential_id": "00000000002a", "role": "partner",
            "participant_id": w.p, "kind": "access-code"}}),
        json!({"type": "access.claimed", "payload": {"credential_id": "00000000002a",
            "shown_with": "00000000002b"}}),
        json!({"type": "access.used", "payload": {"credential_id": "00000000002a"}}),
        json!({"type": "access.revoked", "payload": {"credential_id": "00000000002a"}}),
    ];
    for body in forged {
        for who in [&w.admin, &w.s_code, &w.p_code] {
            let (s, _, b) = w
                .api
                .call(Some(who), "POST", "/v1/events", body.clone())
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{body}: {b}");
            assert_eq!(b["pointer"], "/type", "{b}");
        }
    }
    assert_eq!(events(&w).await.len(), size);
    w.api.state.shutdown().await;
}
