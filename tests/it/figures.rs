//! Counts of people through one gate (issue 29): who is counted (no one
//! erased, no one who left) is decided in one place, and a count hidden in
//! one view is hidden in every view the same reader sees, so no
//! subtraction recovers it.

use crate::common::{Api, token};
use axum::http::StatusCode;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};

/// Projects with these numbers of partners, and an auditor's token.
struct Org {
    _dir: tempfile::TempDir,
    api: Api,
    admin: String,
    auditor: String,
    projects: Vec<String>,
    partners: Vec<Vec<String>>,
}

async fn org(sizes: &[usize]) -> Org {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let api = Api::new(ledger);
    let admin = token(api.app(), Role::Admin, "admin", None);
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    let post = |uri: &'static str, body: Value| {
        let (api, admin) = (&api, admin.clone());
        async move {
            let (s, _, b) = api.call(Some(&admin), "POST", uri, body).await;
            assert!(s.is_success(), "{uri}: {s} {b}");
            b
        }
    };
    let lead = post("/v1/people", json!({"role": "staff", "name": "Lead"})).await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut projects, mut partners) = (Vec::new(), Vec::new());
    for (i, n) in sizes.iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        let started = json!({"type": "project.started", "payload": {"project_id": id,
            "title": format!("Project {i}"), "summary": "s", "involvement": "co-production", "lead": lead}});
        post("/v1/events", started).await;
        let mut here = Vec::new();
        for j in 0..*n {
            let body = json!({"role": "partner", "name": format!("P{i}-{j}"), "project_id": id});
            here.push(
                post("/v1/people", body).await["participant_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        projects.push(id);
        partners.push(here);
    }
    Org {
        _dir: dir,
        api,
        admin,
        auditor,
        projects,
        partners,
    }
}

async fn get(o: &Org, uri: &str) -> Value {
    let (s, _, b) = o.api.call(Some(&o.auditor), "GET", uri, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{uri}: {b}");
    b
}

/// A project's partners as each view an auditor reads gives them: its
/// own figures, its own presence projection, and its row in the
/// organisation's.
async fn every_view_of(o: &Org, project: &str) -> [Value; 3] {
    let own = get(o, &format!("/v1/projects/{project}")).await["partners"].clone();
    let projection = get(o, &format!("/v1/projects/{project}/projections/presence")).await;
    let whole = get(o, "/v1/projections/presence").await;
    let row = whole["presence"]["projects"]
        .as_array()
        .or_else(|| whole["projects"].as_array())
        .unwrap_or_else(|| panic!("{whole}"))
        .iter()
        .find(|r| r["project_id"] == project)
        .unwrap()["partners"]
        .clone();
    let mine = projection["presence"]["projects"][0]["partners"].clone();
    [own, mine, row]
}

#[tokio::test]
async fn someone_erased_or_gone_is_not_counted_anywhere() {
    let o = org(&[7]).await;
    let p = &o.projects[0];
    assert_eq!(
        every_view_of(&o, p).await,
        [
            json!({"count": 7}),
            json!({"count": 7}),
            json!({"count": 7})
        ]
    );
    let leave = format!("/v1/people/{}/leave", o.partners[0][0]);
    let (s, _, b) = o
        .api
        .call(Some(&o.admin), "POST", &leave, Value::Null)
        .await;
    assert!(s.is_success(), "{b}");
    assert_eq!(
        every_view_of(&o, p).await,
        [
            json!({"count": 6}),
            json!({"count": 6}),
            json!({"count": 6})
        ]
    );
    let erase = json!({"participant_id": o.partners[0][1], "reason": "asked"});
    let (s, _, b) = o
        .api
        .call(Some(&o.admin), "POST", "/v1/erasures", erase)
        .await;
    assert!(s.is_success(), "{b}");
    assert_eq!(
        every_view_of(&o, p).await,
        [
            json!({"count": 5}),
            json!({"count": 5}),
            json!({"count": 5})
        ]
    );
    o.api.state.shutdown().await;
}

#[tokio::test]
async fn a_count_hidden_in_one_view_is_hidden_in_every_view() {
    // 5, 6 and 2 partners: the 2 is "fewer than 5", and the 5 is hidden
    // with it so that it cannot be worked out from the total of 13.
    let o = org(&[5, 6, 2]).await;
    let views = [
        every_view_of(&o, &o.projects[0]).await,
        every_view_of(&o, &o.projects[1]).await,
        every_view_of(&o, &o.projects[2]).await,
    ];
    for v in &views {
        assert!(
            v.iter().all(|x| *x == v[0]),
            "one count in every view: {v:?}"
        );
    }
    assert_eq!(views[0][0], json!("hidden"), "{views:?}");
    assert_eq!(views[1][0], json!({"count": 6}));
    assert_eq!(views[2][0], json!({"fewer_than": 5}));
    // The one project's own projection gives no total that would undo it.
    let mine = get(
        &o,
        &format!("/v1/projects/{}/projections/presence", o.projects[0]),
    )
    .await;
    assert_eq!(
        mine["presence"]["partner_places"],
        json!("hidden"),
        "{mine}"
    );
    assert_eq!(mine["presence"]["partners"], json!("hidden"), "{mine}");
    // The organisation's total with the shown counts leaves the two hidden
    // ones uncertain: 13 - 6 = 7 is 5 + 2 or 4 + 3 or 6 + 1.
    let whole = get(&o, "/v1/projections/presence").await;
    assert_eq!(
        whole["presence"]["partner_places"],
        json!({"count": 13}),
        "{whole}"
    );
    o.api.state.shutdown().await;
}
