//! The API contract (`/openapi.json`) as generated clients read it: every
//! path parameter in its path and every template variable declared, query
//! parameters in the query, every 2xx answer with a schema that says what
//! it holds; and the answers themselves valid against those schemas. The
//! lists are paged with cursors (`next`, and an RFC 8288 `Link` header),
//! and the organisation-wide projections are bounded.

use crate::common::{Api, token};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::app::demo::{write_demo, write_history};
use jointly::app::tokens::Role;
use jointly::app::{Caller, fold};
use jointly::coproduction::report::{Report, Settings};
use jointly::ledger::Ledger;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tower::ServiceExt;

/// A GET or POST through the router: status, `Link` header, body as JSON.
async fn call(
    api: &Api,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value, usize) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let link = resp
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let len = bytes.len();
    (
        status,
        link,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        len,
    )
}

fn document() -> Value {
    use utoipa::OpenApi;
    serde_json::to_value(jointly::api::ApiDoc::openapi()).unwrap()
}

/// A schema with its `$ref`s followed to the component.
fn resolve<'d>(doc: &'d Value, schema: &'d Value) -> &'d Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a $ref outside the components: {r}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "{r} names no component");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Whether a schema says something about what it holds: not `{}` and not
/// a bare `{"type": "object"}`.
fn says_what_it_holds(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    let Some(m) = s.as_object() else {
        return false;
    };
    ["properties", "allOf", "oneOf", "anyOf", "items", "enum"]
        .iter()
        .any(|k| m.contains_key(*k))
        || m.get("type").is_some_and(|t| t != "object")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_is_openapi_3_1_and_its_parameters_fit_their_paths() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    assert!(ops.len() > 25, "only {} operations", ops.len());
    for (path, method, op) in &ops {
        let at = format!("{} {path}", method.to_uppercase());
        let template: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap().to_string())
            .collect();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut in_path = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for p in &params {
            let name = p["name"].as_str().unwrap().to_string();
            let place = p["in"].as_str().unwrap();
            assert!(
                seen.insert((name.clone(), place.to_string())),
                "{at}: {name} declared twice"
            );
            assert!(
                ["path", "query", "header"].contains(&place),
                "{at}: {name} is in {place}"
            );
            assert!(
                says_what_it_holds(&doc, &p["schema"]),
                "{at}: parameter {name} has no type: {p}"
            );
            match place {
                "path" => {
                    assert!(
                        template.contains(&name),
                        "{at}: path parameter {name} is not in the path"
                    );
                    assert_eq!(
                        p["required"], true,
                        "{at}: path parameter {name} must be required"
                    );
                    in_path.insert(name);
                }
                "query" => assert!(
                    !template.contains(&name),
                    "{at}: {name} is in the path template but declared in the query"
                ),
                _ => {}
            }
        }
        assert_eq!(
            in_path, template,
            "{at}: the template's variables and the path parameters differ"
        );
    }
}

#[test]
fn query_parameters_are_in_the_query_with_types() {
    let doc = document();
    let query = |path: &str, method: &str| -> BTreeSet<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    for (path, method, expected) in [
        ("/v1/events", "get", names(&["after", "limit"])),
        ("/v1/events", "post", names(&["wait"])),
        ("/v1/projects", "get", names(&["after", "limit"])),
        (
            "/v1/projections/{section}",
            "get",
            names(&["after", "limit"]),
        ),
        ("/v1/records", "get", names(&["after", "limit"])),
        ("/v1/stream", "get", names(&["after"])),
        ("/v1/checkpoint", "get", names(&["checkpoint"])),
        ("/v1/events/{seq}/receipt", "get", names(&["checkpoint"])),
        ("/v1/proof/consistency", "get", names(&["from", "to"])),
        ("/v1/proof/inclusion", "get", names(&["seq", "size"])),
        ("/v1/equality", "get", names(&["project"])),
    ] {
        assert_eq!(query(path, method), expected, "{method} {path}");
    }
    // Every integer limit says its bounds.
    for (path, method, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["name"] == "limit" {
                let s = &p["schema"];
                assert_eq!(s["minimum"], 1, "{method} {path}: {p}");
                assert!(s["maximum"].as_u64().is_some(), "{method} {path}: {p}");
            }
        }
    }
}

#[test]
fn every_2xx_answer_has_a_schema_that_says_what_it_holds() {
    let doc = document();
    let mut json_answers = 0;
    for (path, method, op) in operations(&doc) {
        let at = format!("{} {path}", method.to_uppercase());
        for (code, resp) in op["responses"].as_object().unwrap() {
            if !code.starts_with('2') {
                continue;
            }
            let content = resp["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{at} {code}: no content declared"));
            assert!(!content.is_empty(), "{at} {code}: no content declared");
            for (media, c) in content {
                if media == "application/json" {
                    json_answers += 1;
                    assert!(
                        says_what_it_holds(&doc, &c["schema"]),
                        "{at} {code}: the JSON answer's schema is {}",
                        c["schema"]
                    );
                } else {
                    assert!(
                        [
                            "text/plain",
                            "text/event-stream",
                            "application/jsonl",
                            "application/octet-stream"
                        ]
                        .contains(&media.as_str()),
                        "{at} {code}: {media}"
                    );
                }
            }
        }
    }
    assert!(json_answers >= 20, "only {json_answers} JSON answers");
    // Every component says what it holds too (none is a bare object),
    // apart from the free-form payloads inside them.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        assert!(says_what_it_holds(&doc, schema), "{name}: {schema}");
    }
}

#[test]
fn the_record_schema_is_the_published_one() {
    let doc = document();
    let ours = &doc["components"]["schemas"]["Record"];
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/record.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let keys = |v: &Value| -> BTreeSet<String> {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(ours), keys(&published));
    let required = |v: &Value| -> BTreeSet<String> {
        v["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(required(ours), required(&published));
    for (k, p) in published["properties"].as_object().unwrap() {
        if let Some(pattern) = p.get("pattern") {
            assert_eq!(&ours["properties"][k]["pattern"], pattern, "{k}");
        }
    }
}

/// Checks JSON answers against the document's own schemas.
struct Checker {
    doc: Value,
}

impl Checker {
    fn new() -> Self {
        Checker { doc: document() }
    }

    /// The schema of a 2xx JSON answer of an operation.
    fn schema(&self, path: &str, method: &str, code: &str) -> Value {
        let s = &self.doc["paths"][path][method]["responses"][code]["content"]["application/json"]
            ["schema"];
        assert!(!s.is_null(), "{method} {path} {code}: no JSON schema");
        s.clone()
    }

    /// Why an answer does not fit its schema (empty if it fits).
    fn faults(&self, path: &str, method: &str, code: &str, body: &Value) -> Vec<String> {
        let mut root = self.schema(path, method, code);
        if !root.is_object() {
            panic!("{method} {path}: {root}");
        }
        root["components"] = self.doc["components"].clone();
        let v = jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("{method} {path}: the schema does not compile: {e}"));
        v.iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .take(5)
            .collect()
    }

    fn check(&self, path: &str, method: &str, code: &str, body: &Value) {
        let errors = self.faults(path, method, code, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {code}: the answer does not fit its schema: {errors:?}\n{}",
            serde_json::to_string(body)
                .unwrap()
                .chars()
                .take(600)
                .collect::<String>()
        );
    }
}

const SECTIONS: [&str; 6] = [
    "you-said-we-did",
    "jointness",
    "tokenism",
    "presence",
    "impact",
    "all",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_answer_fits_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_demo(&ledger, 3).unwrap();
    let api = Api::new(ledger);
    let admin = token(api.app(), Role::Admin, "admin", None);
    let staff = token(api.app(), Role::Staff, "staff", None);
    let c = Checker::new();

    let (s, _, v, _) = call(&api, &admin, "GET", "/healthz", None).await;
    assert_eq!(s, 200);
    c.check("/healthz", "get", "200", &v);
    // The checker does catch an answer that does not fit.
    assert!(
        !c.faults("/healthz", "get", "200", &json!({"status": "ok"}))
            .is_empty()
    );
    let (s, _, v, _) = call(&api, &admin, "GET", "/openapi.json", None).await;
    assert_eq!(s, 200);
    c.check("/openapi.json", "get", "200", &v);

    let (s, _, v, _) = call(
        &api,
        &staff,
        "POST",
        "/v1/events",
        Some(json!({"type": "x.note", "payload": {"n": 1}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    c.check("/v1/events", "post", "201", &v);
    let seq = v["seq"].as_u64().unwrap();
    let id = v["id"].as_str().unwrap().to_string();

    let (_, _, v, _) = call(&api, &admin, "GET", "/v1/events?limit=7", None).await;
    c.check("/v1/events", "get", "200", &v);
    let (_, _, v, _) = call(&api, &admin, "GET", &format!("/v1/events/{seq}"), None).await;
    c.check("/v1/events/{seq}", "get", "200", &v);
    assert_eq!(v["payload"], json!({"n": 1}));
    let mut bad = v.clone();
    bad["record"]["prev"] = json!("not a hash");
    assert!(!c.faults("/v1/events/{seq}", "get", "200", &bad).is_empty());
    let (_, _, v, _) = call(&api, &admin, "GET", &format!("/v1/events/by-id/{id}"), None).await;
    c.check("/v1/events/by-id/{id}", "get", "200", &v);

    let (_, _, page, _) = call(&api, &admin, "GET", "/v1/projects", None).await;
    c.check("/v1/projects", "get", "200", &page);
    let project = page["projects"][0]["project_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, _, v, _) = call(
        &api,
        &admin,
        "GET",
        &format!("/v1/projects/{project}"),
        None,
    )
    .await;
    c.check("/v1/projects/{id}", "get", "200", &v);
    assert!(v.get("partners").is_some(), "{v}");

    for section in SECTIONS {
        let (s, _, v, _) = call(
            &api,
            &admin,
            "GET",
            &format!("/v1/projections/{section}?limit=2"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        c.check("/v1/projections/{section}", "get", "200", &v);
        let (s, _, v, _) = call(
            &api,
            &admin,
            "GET",
            &format!("/v1/projects/{project}/projections/{section}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        c.check("/v1/projects/{id}/projections/{section}", "get", "200", &v);
    }

    let (s, _, v, _) = call(
        &api,
        &admin,
        "POST",
        "/v1/tokens",
        Some(json!({"role": "auditor", "name": "checker"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    c.check("/v1/tokens", "post", "201", &v);
    let (_, _, v, _) = call(&api, &admin, "GET", "/v1/tokens", None).await;
    c.check("/v1/tokens", "get", "200", &v);
    let (_, _, v, _) = call(&api, &admin, "GET", "/v1/equality", None).await;
    c.check("/v1/equality", "get", "200", &v);
    let (_, _, v, _) = call(&api, &admin, "POST", "/v1/equality/publish", None).await;
    c.check("/v1/equality/publish", "post", "200", &v);

    let (s, _, v, _) = call(
        &api,
        &staff,
        "POST",
        "/v1/people",
        Some(json!({"role": "partner", "name": "Checked Person"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    c.check("/v1/people", "post", "201", &v);
    let person = v["participant_id"].as_str().unwrap().to_string();
    let (_, _, v, _) = call(&api, &admin, "GET", &format!("/v1/people/{person}"), None).await;
    c.check("/v1/people/{id}", "get", "200", &v);
    let (_, _, v, _) = call(
        &api,
        &admin,
        "GET",
        &format!("/v1/people/{person}/export"),
        None,
    )
    .await;
    c.check("/v1/people/{id}/export", "get", "200", &v);
    let partner = token(api.app(), Role::Partner, "p", Some(&person));
    let (s, _, v, _) = call(
        &api,
        &partner,
        "PUT",
        "/v1/me/equality",
        Some(json!({"disability": "no"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    c.check("/v1/me/equality", "put", "200", &v);
    let (_, _, v, _) = call(&api, &partner, "GET", "/v1/me/equality", None).await;
    c.check("/v1/me/equality", "get", "200", &v);
    let (s, _, v, _) = call(
        &api,
        &staff,
        "POST",
        &format!("/v1/people/{person}/leave"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    c.check("/v1/people/{id}/leave", "post", "200", &v);
    let (s, _, v, _) = call(
        &api,
        &admin,
        "POST",
        "/v1/erasures",
        Some(json!({"participant_id": person, "reason": "They asked."})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    c.check("/v1/erasures", "post", "200", &v);
    api.state.shutdown().await;
}

/// The `after` of a `Link: <...>; rel="next"` header.
fn link_after(link: &str) -> String {
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let uri = link.trim_start_matches('<').split('>').next().unwrap();
    uri.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("after="))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paged_with_a_cursor_and_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_demo(&ledger, 30).unwrap();
    let api = Api::new(ledger);
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    let all = api
        .app()
        .projects(&Caller::operator(), None, 1000)
        .unwrap()
        .projects;
    assert!(all.len() > 30, "{}", all.len());

    // Projects: a page at a time, by `next` and by the Link header alike.
    let mut seen = Vec::new();
    let mut uri = "/v1/projects?limit=7".to_string();
    loop {
        let (s, link, v, _) = call(&api, &auditor, "GET", &uri, None).await;
        assert_eq!(s, 200, "{v}");
        let rows = v["projects"].as_array().unwrap();
        assert!(rows.len() <= 7);
        seen.extend(
            rows.iter()
                .map(|p| p["project_id"].as_str().unwrap().to_string()),
        );
        match v["next"].as_str() {
            Some(next) => {
                assert_eq!(next, rows.last().unwrap()["project_id"]);
                let link = link.expect("a Link header beside next");
                assert_eq!(link_after(&link), next);
                assert!(link.starts_with("</v1/projects?after="), "{link}");
                uri = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
            }
            None => {
                assert!(link.is_none(), "a Link header on the last page");
                break;
            }
        }
    }
    let expected: Vec<String> = all.iter().map(|p| p.project_id.to_string()).collect();
    assert_eq!(seen, expected, "every project once, in id order");
    // The default page is 100; more than 1000 is refused, as is a bad cursor.
    let (_, _, v, _) = call(&api, &auditor, "GET", "/v1/projects", None).await;
    assert_eq!(v["projects"].as_array().unwrap().len(), all.len().min(100));
    for bad in [
        "/v1/projects?limit=0",
        "/v1/projects?limit=1001",
        "/v1/projects?after=nope",
        "/v1/projections/all?limit=101",
        "/v1/projections/all?after=nope",
    ] {
        let (s, _, v, _) = call(&api, &auditor, "GET", bad, None).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }

    // Events: next and the Link header agree, and following them reads
    // every record once.
    let mut seqs = Vec::new();
    let mut uri = "/v1/events?limit=50".to_string();
    loop {
        let (s, link, v, _) = call(&api, &auditor, "GET", &uri, None).await;
        assert_eq!(s, 200, "{v}");
        seqs.extend(
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match v["next"].as_u64() {
            Some(next) => {
                let link = link.expect("a Link header beside next");
                assert_eq!(link_after(&link), next.to_string());
                uri = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
                assert!(uri.contains("limit=50"), "{uri}");
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    // Every record but those of someone's own time and pay, which an
    // auditor does not read (docs/ACCESS.md).
    let size = api.app().size();
    let ledger = api.app().ledger();
    let readable: Vec<u64> = (0..size)
        .filter(|s| {
            let t = ledger
                .get(*s)
                .unwrap()
                .unwrap()
                .record
                .event_type()
                .as_str()
                .to_string();
            !(t.starts_with("time.") || t == "payment.made")
        })
        .collect();
    assert!(
        readable.len() < size as usize,
        "the example history holds time and pay"
    );
    assert_eq!(seqs, readable);

    // Public records: the Link header alone says where the next page is.
    let (s, link, _, _) = call(&api, &auditor, "GET", "/v1/records?limit=10", None).await;
    assert_eq!(s, 200);
    assert_eq!(link_after(&link.unwrap()), "9");
    let (_, link, _, _) = call(
        &api,
        &auditor,
        "GET",
        &format!("/v1/records?after={}", size - 3),
        None,
    )
    .await;
    assert!(link.is_none(), "{link:?}");
    api.state.shutdown().await;
}

/// The organisation-wide projections: totals over every project (the same
/// as the whole report's), rows one page of projects at a time, in id
/// order, each row no list, and every page well under 1 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_projections_are_bounded_and_their_totals_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_history(&ledger, 250, 7, 5000).unwrap();
    let model = fold::rebuild(&ledger).unwrap();
    let whole = serde_json::to_value(Report::build(&model, None, Settings::today())).unwrap();
    let api = Api::new(ledger);
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    let c = Checker::new();
    let projects = model.projects.len();
    assert!(projects > 250);

    let mut rows = Vec::new();
    let mut presence = Vec::new();
    let mut uri = "/v1/projections/all".to_string();
    let mut pages = 0;
    loop {
        let (s, link, v, len) = call(&api, &auditor, "GET", &uri, None).await;
        assert_eq!(s, 200, "{v}");
        c.check("/v1/projections/{section}", "get", "200", &v);
        pages += 1;
        assert!(len < 1 << 20, "a page of {len} bytes");
        assert_eq!(v["project_count"], projects);
        for (section, totals) in [
            ("you_said_we_did", "totals"),
            ("jointness", "totals"),
            ("tokenism", "totals"),
            ("presence", "partners"),
            ("presence", "partner_places"),
            ("impact", "reviews_overdue"),
        ] {
            assert_eq!(
                v[section][totals], whole[section][totals],
                "{section} {totals}"
            );
        }
        let ids: Vec<&str> = v["jointness"]["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["project_id"].as_str().unwrap())
            .collect();
        assert!(ids.len() <= 100);
        for section in ["you_said_we_did", "tokenism", "presence", "impact"] {
            let here: Vec<&str> = v[section]["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["project_id"].as_str().unwrap())
                .collect();
            assert_eq!(here, ids, "{section} lists the page's projects");
        }
        for r in v["jointness"]["projects"].as_array().unwrap() {
            assert!(r["decisions"].is_u64(), "{r}");
            let id = r["project_id"].as_str().unwrap();
            assert_eq!(
                r["projection"],
                format!("/v1/projects/{id}/projections/jointness")
            );
        }
        for r in v["you_said_we_did"]["projects"].as_array().unwrap() {
            assert!(r.get("proposals").is_none(), "{r}");
        }
        rows.extend(ids.iter().map(|s| s.to_string()));
        presence.extend(
            v["presence"]["projects"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        match v["next"].as_str() {
            Some(next) => {
                assert_eq!(next, *ids.last().unwrap());
                let link = link.unwrap();
                assert!(link.starts_with("</v1/projections/all?after="), "{link}");
                uri = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, projects.div_ceil(100));
    let expected: Vec<String> = model.projects.keys().map(|id| id.to_string()).collect();
    assert_eq!(rows, expected, "every project once, in id order");
    // Counts of people are suppressed as one table across the pages: the
    // rows are exactly the whole report's.
    assert_eq!(Value::from(presence), whole["presence"]["projects"]);

    // One section alone holds that section alone.
    let (_, _, v, _) = call(
        &api,
        &auditor,
        "GET",
        "/v1/projections/jointness?limit=3",
        None,
    )
    .await;
    assert_eq!(v["jointness"]["projects"].as_array().unwrap().len(), 3);
    for other in ["you_said_we_did", "tokenism", "presence", "impact"] {
        assert!(v.get(other).is_none(), "{other}");
    }
    api.state.shutdown().await;
}
