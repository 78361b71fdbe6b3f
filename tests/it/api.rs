//! The HTTP API, driven through `tower::ServiceExt::oneshot` on the router
//! (no socket), for every endpoint against every role; the problem bodies
//! of the framework's own rejections; idempotency; revocation. And one test
//! over a real socket with 64 concurrent clients.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::demo::write_demo;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    state: AppState,
    router: axum::Router,
    admin: String,
    staff: String,
    partner: String,
    auditor: String,
    /// The demo partner behind `partner`, and a project of theirs.
    partner_id: String,
    project: String,
    other_project: Option<String>,
}

impl Api {
    fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        write_demo(&ledger, 1).unwrap();
        let model = jointly::app::fold::rebuild(&ledger).unwrap();
        // The first partner of the working group, and its project.
        let (project, partner_id) = model
            .projects
            .values()
            .find_map(|p| {
                p.members
                    .iter()
                    .find(|(_, m)| m.role == jointly::coproduction::values::Role::Partner)
                    .map(|(id, _)| (p.id, *id))
            })
            .unwrap();
        let other_project = model
            .projects
            .keys()
            .find(|id| **id != project)
            .map(|id| id.to_string());
        let state = AppState::new(ledger.clone()).unwrap();
        let t = state.app();
        let admin = crate::common::token(t, Role::Admin, "test-admin", None);
        let staff = crate::common::token(t, Role::Staff, "test-staff", None);
        let partner = crate::common::token(
            t,
            Role::Partner,
            "test-partner",
            Some(&partner_id.to_string()),
        );
        let auditor = crate::common::token(t, Role::Auditor, "test-auditor", None);
        let router = app(state.clone(), &Config::default());
        Api {
            _dir: dir,
            ledger,
            state,
            router,
            admin,
            staff,
            partner,
            auditor,
            partner_id: partner_id.to_string(),
            project: project.to_string(),
            other_project,
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Admin => Some(&self.admin),
            Who::Staff => Some(&self.staff),
            Who::Partner => Some(&self.partner),
            Who::Auditor => Some(&self.auditor),
            Who::Nobody => None,
        }
    }

    async fn call(
        &self,
        who: Who,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        self.raw(
            who,
            method,
            uri,
            body.map(|b| b.to_string().into_bytes()),
            "application/json",
            &[],
        )
        .await
    }

    async fn raw(
        &self,
        who: Who,
        method: &str,
        uri: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = self.token(who) {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let (status, ct, bytes) = crate::common::send(&self.router, req).await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, ct, value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Admin,
    Staff,
    Partner,
    Auditor,
    Nobody,
}

use Who::*;

const EVERYONE: [Who; 5] = [Admin, Staff, Partner, Auditor, Nobody];

/// One request for every caller, and the status each must get. Errors must
/// be problems.
async fn check(api: &Api, method: &str, uri: &str, body: Option<Value>, expect: [u16; 5]) {
    for (who, want) in EVERYONE.iter().zip(expect) {
        let (status, ct, value) = api.call(*who, method, uri, body.clone()).await;
        assert_eq!(status.as_u16(), want, "{who:?} {method} {uri}: {value}");
        if status.is_client_error() || status.is_server_error() {
            assert!(
                ct.starts_with("application/problem+json"),
                "{who:?} {method} {uri}: {ct}"
            );
            assert!(
                value["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{value}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_against_every_role() {
    let api = Api::new();
    let p = api.project.clone();
    let other = api.other_project.clone().unwrap();
    //                                                              admin staff partner auditor nobody
    check(
        &api,
        "POST",
        "/v1/events",
        Some(json!({"type": "x.note", "payload": {"a": 1}})),
        [201, 201, 403, 403, 401],
    )
    .await;
    let proposal = |n: u32| json!({"type": "proposal.raised", "payload": {"project_id": p, "proposal_id": format!("abcdef00-0000-4000-8000-{n:012}"), "text": "An idea."}});
    for (who, n, want) in [
        (Admin, 1, 201),
        (Staff, 2, 201),
        (Partner, 3, 201),
        (Auditor, 4, 403),
        (Nobody, 5, 401),
    ] {
        let (s, _, v) = api.call(who, "POST", "/v1/events", Some(proposal(n))).await;
        assert_eq!(s.as_u16(), want, "{who:?} proposal: {v}");
    }
    // Partners record no decisions; the payload is not even read.
    check(
        &api,
        "POST",
        "/v1/events",
        Some(json!({"type": "decision.made", "payload": {}})),
        [422, 422, 403, 403, 401],
    )
    .await;
    check(
        &api,
        "GET",
        "/v1/events?limit=5",
        None,
        [200, 200, 200, 200, 401],
    )
    .await;
    check(&api, "GET", "/v1/events/0", None, [200, 200, 200, 200, 401]).await;
    let id = api.ledger.get(0).unwrap().unwrap().record.id();
    check(
        &api,
        "GET",
        &format!("/v1/events/by-id/{id}"),
        None,
        [200, 200, 200, 200, 401],
    )
    .await;
    check(&api, "GET", "/v1/projects", None, [200, 200, 200, 200, 401]).await;
    check(
        &api,
        "GET",
        &format!("/v1/projects/{p}"),
        None,
        [200, 200, 200, 200, 401],
    )
    .await;
    // A project the partner is not part of does not exist for them.
    check(
        &api,
        "GET",
        &format!("/v1/projects/{other}"),
        None,
        [200, 200, 404, 200, 401],
    )
    .await;
    for section in [
        "you-said-we-did",
        "jointness",
        "tokenism",
        "presence",
        "impact",
        "all",
    ] {
        check(
            &api,
            "GET",
            &format!("/v1/projections/{section}"),
            None,
            [200, 200, 200, 200, 401],
        )
        .await;
        check(
            &api,
            "GET",
            &format!("/v1/projects/{p}/projections/{section}"),
            None,
            [200, 200, 200, 200, 401],
        )
        .await;
    }
    check(&api, "GET", "/v1/tokens", None, [200, 403, 403, 403, 401]).await;
    check(
        &api,
        "POST",
        "/v1/tokens",
        Some(json!({"role": "auditor", "name": "funder"})),
        [201, 403, 403, 403, 401],
    )
    .await;
    check(
        &api,
        "DELETE",
        "/v1/tokens/000000000000",
        None,
        [404, 403, 403, 403, 401],
    )
    .await;
    for (who, want) in EVERYONE.iter().zip([200, 200, 200, 200, 401]) {
        let mut req = Request::builder().uri("/v1/stream?after=0");
        if let Some(t) = api.token(*who) {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = api
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{who:?} stream");
        let ct = resp
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let expect = if want == 200 {
            "text/event-stream"
        } else {
            "application/problem+json"
        };
        assert!(ct.starts_with(expect), "{who:?} stream: {ct}");
    }
    // The privacy endpoints.
    check(
        &api,
        "POST",
        "/v1/people",
        // Each role registers the same name: another person each time.
        Some(json!({"role": "partner", "name": "A Person", "another_person": true})),
        [201, 201, 403, 403, 401],
    )
    .await;
    check(
        &api,
        "GET",
        "/v1/people?q=person",
        None,
        [200, 200, 403, 403, 401],
    )
    .await;
    let (_, _, found) = api
        .call(Admin, "GET", "/v1/people?q=A%20Person", None)
        .await;
    let registered = found["people"][0]["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    check(
        &api,
        "PATCH",
        &format!("/v1/people/{registered}"),
        Some(json!({"name": "A Person Corrected"})),
        [200, 403, 403, 403, 401],
    )
    .await;
    let someone = "abcdef00-0000-4000-8000-000000000999";
    check(
        &api,
        "GET",
        &format!("/v1/people/{someone}"),
        None,
        [200, 200, 403, 403, 401],
    )
    .await;
    check(
        &api,
        "GET",
        &format!("/v1/people/{someone}/export"),
        None,
        [200, 403, 403, 403, 401],
    )
    .await;
    check(
        &api,
        "GET",
        "/v1/me/equality",
        None,
        [403, 403, 200, 403, 401],
    )
    .await;
    check(
        &api,
        "PUT",
        "/v1/me/equality",
        Some(json!({"region": "wales"})),
        [403, 403, 200, 403, 401],
    )
    .await;
    check(&api, "GET", "/v1/equality", None, [200, 200, 200, 200, 401]).await;
    check(
        &api,
        "POST",
        "/v1/erasures",
        Some(json!({"participant_id": someone, "reason": "Asked."})),
        [200, 403, 403, 403, 401],
    )
    .await;
    check(&api, "GET", "/v1/backup", None, [200, 403, 403, 403, 401]).await;
    // Erasure records come only from erasure, not the generic append.
    check(
        &api,
        "POST",
        "/v1/events",
        Some(json!({"type": "record.redacted", "payload": {}})),
        [403, 403, 403, 403, 401],
    )
    .await;
    check(&api, "GET", "/v1/checkpoint", None, [200; 5]).await;
    check(&api, "GET", "/v1/records?limit=2", None, [200; 5]).await;
    check(&api, "GET", "/healthz", None, [200; 5]).await;
    // The server's counters say how busy it is and how much mail it
    // sends: admins only.
    check(&api, "GET", "/metrics", None, [200, 403, 403, 403, 401]).await;
    check(&api, "GET", "/openapi.json", None, [200; 5]).await;

    // Partners see only their projects, in lists too.
    let (_, _, projects) = api.call(Partner, "GET", "/v1/projects", None).await;
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    assert_eq!(projects["next"], Value::Null);
    let (_, _, all) = api.call(Auditor, "GET", "/v1/projects", None).await;
    assert_eq!(all["projects"].as_array().unwrap().len(), 2);
    api.state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_frameworks_own_rejections_are_problems() {
    let api = Api::new();
    let problem = |(s, ct, v): (StatusCode, String, Value), want: u16, what: &str| {
        assert_eq!(s.as_u16(), want, "{what}: {v}");
        assert!(ct.starts_with("application/problem+json"), "{what}: {ct}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {v}"
        );
        v
    };
    problem(
        api.raw(
            Staff,
            "POST",
            "/v1/events",
            Some(b"{\"type\": \"x.a\", \"payload\": {".to_vec()),
            "application/json",
            &[],
        )
        .await,
        400,
        "malformed JSON",
    );
    problem(
        api.raw(
            Staff,
            "POST",
            "/v1/events",
            Some(b"{}".to_vec()),
            "text/plain",
            &[],
        )
        .await,
        415,
        "wrong content type",
    );
    let big = json!({"type": "x.a", "payload": {"t": "a".repeat(100_000)}})
        .to_string()
        .into_bytes();
    problem(
        api.raw(
            Staff,
            "POST",
            "/v1/events",
            Some(big),
            "application/json",
            &[],
        )
        .await,
        413,
        "body too large",
    );
    for (method, uri, want, what) in [
        ("GET", "/v1/nowhere", 404, "unknown route"),
        ("PUT", "/v1/events", 405, "wrong method"),
        ("GET", "/v1/events/not-a-number", 400, "bad path parameter"),
        ("GET", "/v1/events?limit=lots", 400, "bad query parameter"),
        ("GET", "/v1/events?limit=0", 400, "limit out of range"),
        (
            "GET",
            "/v1/projections/everything",
            400,
            "unknown projection",
        ),
    ] {
        problem(api.call(Staff, method, uri, None).await, want, what);
    }
    let v = problem(
        api.call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "Bad Type", "payload": {}})),
        )
        .await,
        400,
        "bad type",
    );
    assert_eq!(v["pointer"], "/type");
    let v = problem(
        api.call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "x.a", "payload": {"n": 1.5}})),
        )
        .await,
        400,
        "inexact number",
    );
    assert_eq!(v["pointer"], "/payload");
    let v = problem(
        api.call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "decision.made", "payload": {"project_id": "nope"}})),
        )
        .await,
        422,
        "bad field",
    );
    assert_eq!(v["pointer"], "/payload/project_id");
    let before = api.ledger.head().size;
    assert_eq!(api.ledger.head().size, before, "refusals wrote nothing");
    api.state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_keys_and_revocation() {
    let api = Api::new();
    let key = [("idempotency-key", "retry-1")];
    let body = |n: u32| {
        Some(
            json!({"type": "x.note", "payload": {"n": n}})
                .to_string()
                .into_bytes(),
        )
    };
    let (s1, _, a) = api
        .raw(
            Staff,
            "POST",
            "/v1/events",
            body(1),
            "application/json",
            &key,
        )
        .await;
    let size = api.ledger.head().size;
    let (s2, _, b) = api
        .raw(
            Staff,
            "POST",
            "/v1/events",
            body(1),
            "application/json",
            &key,
        )
        .await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (201, 201));
    assert_eq!(a, b, "the same key and body returns the first answer");
    assert_eq!(api.ledger.head().size, size, "and writes nothing");
    let (s3, _, _) = api
        .raw(
            Staff,
            "POST",
            "/v1/events",
            body(2),
            "application/json",
            &key,
        )
        .await;
    assert_eq!(s3.as_u16(), 409, "the same key with another body");
    // Keys belong to a token: another token may use the same key.
    let (s4, _, _) = api
        .raw(
            Admin,
            "POST",
            "/v1/events",
            body(2),
            "application/json",
            &key,
        )
        .await;
    assert_eq!(s4.as_u16(), 201);

    // Revocation takes effect on the next request.
    let (_, _, made) = api
        .call(
            Admin,
            "POST",
            "/v1/tokens",
            Some(json!({"role": "staff", "name": "temp"})),
        )
        .await;
    let secret = made["token"].as_str().unwrap().to_string();
    let id = made["info"]["id"].as_str().unwrap().to_string();
    let with = |s: &str| {
        Request::builder()
            .uri("/v1/projects")
            .header("authorization", format!("Bearer {s}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        api.router
            .clone()
            .oneshot(with(&secret))
            .await
            .unwrap()
            .status(),
        200
    );
    let (s, _, _) = api
        .call(Admin, "DELETE", &format!("/v1/tokens/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        api.router
            .clone()
            .oneshot(with(&secret))
            .await
            .unwrap()
            .status(),
        401
    );
    api.state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_actor_comes_from_the_token() {
    let api = Api::new();
    let (s, _, a) = api.call(Partner, "POST", "/v1/events", Some(json!({"type": "proposal.raised", "payload": {"project_id": api.project, "proposal_id": "abcdef00-0000-4000-8000-000000000077", "text": "Mine."}}))).await;
    assert_eq!(s, 201, "{a}");
    let ev = api.ledger.get(a["seq"].as_u64().unwrap()).unwrap().unwrap();
    assert!(
        ev.record.actor().as_str().starts_with("partner:"),
        "{:?}",
        ev.record.actor()
    );
    // A body that names an actor is refused, not obeyed.
    let (s, _, _) = api
        .call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "x.note", "payload": {}, "actor": "admin:someone"})),
        )
        .await;
    assert_eq!(s, 422);
    api.state.shutdown().await;
}

/// A real socket: 64 concurrent keep-alive clients append 200 records each;
/// then the log verifies, has no gaps, and holds every record that got a 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_over_a_socket() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let api = Api::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let staff = api.staff.clone();
    let mut clients = Vec::new();
    for c in 0..64 {
        let staff = staff.clone();
        clients.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (r, mut w) = stream.into_split();
            let mut r = BufReader::new(r);
            let mut acked = Vec::new();
            for i in 0..200 {
                let body = json!({"type": "x.load", "payload": {"c": c, "i": i}}).to_string();
                let req = format!(
                    "POST /v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {staff}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                w.write_all(req.as_bytes()).await.unwrap();
                let mut status = String::new();
                r.read_line(&mut status).await.unwrap();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).await.unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut buf = vec![0; len];
                r.read_exact(&mut buf).await.unwrap();
                assert!(status.starts_with("HTTP/1.1 201"), "{status}");
                let v: Value = serde_json::from_slice(&buf).unwrap();
                acked.push((v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().to_string()));
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    server.abort();
    api.state.shutdown().await;
    assert_eq!(acked.len(), 64 * 200);
    let mut seqs: Vec<u64> = acked.iter().map(|a| a.0).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 64 * 200, "duplicate sequence numbers");
    let v = jointly::ledger::verify::verify_full(&api.ledger, &mut |_| {}).unwrap();
    for (seq, hash) in &acked {
        assert_eq!(&api.ledger.get(*seq).unwrap().unwrap().hash.to_hex(), hash);
    }
    assert_eq!(v.size, api.ledger.head().size);
}

/// The stream sends records in order, each with its sequence number as the
/// event id, and resumes after the `Last-Event-ID` it is given.
#[tokio::test(flavor = "multi_thread")]
async fn the_stream_resumes_from_last_event_id() {
    let api = Api::new();
    let req = Request::builder()
        .uri("/v1/stream")
        .header("authorization", format!("Bearer {}", api.auditor))
        .header("last-event-id", "4")
        .body(Body::empty())
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let mut body = resp.into_body();
    let mut text = String::new();
    while text.matches("\n\n").count() < 3 {
        let frame = body.frame().await.unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
        .take(3)
        .collect();
    assert_eq!(ids, vec!["5", "6", "7"], "{text}");
    assert!(text.contains("event: record"), "{text}");
    api.state.shutdown().await;
}

/// Optimistic concurrency: an append that expects the project's last record
/// to be one it read is refused with 409 once someone else has written.
#[tokio::test(flavor = "multi_thread")]
async fn expected_last_seq_guards_against_lost_updates() {
    let api = Api::new();
    let (_, _, project) = api
        .call(Staff, "GET", &format!("/v1/projects/{}", api.project), None)
        .await;
    let last = project["last_seq"].as_u64().unwrap();
    let proposal = |n: u32, expected: u64| {
        json!({"type": "proposal.raised", "expected_last_seq": expected,
               "payload": {"project_id": api.project, "proposal_id": format!("abcdef00-0000-4000-8000-{n:012}"), "text": "An idea."}})
    };
    let (s, _, a) = api
        .call(Staff, "POST", "/v1/events", Some(proposal(1, last)))
        .await;
    assert_eq!(s, 201, "{a}");
    let (s, _, p) = api
        .call(Staff, "POST", "/v1/events", Some(proposal(2, last)))
        .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["pointer"], "/expected_last_seq");
    let (s, _, _) = api
        .call(
            Staff,
            "POST",
            "/v1/events",
            Some(proposal(2, a["seq"].as_u64().unwrap())),
        )
        .await;
    assert_eq!(s, 201);
    api.state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_appends_batches_and_verification() {
    let api = Api::new();
    // The fixture's tokens are recorded as they are made: count from here.
    let before = metrics(&api).await;
    for n in 0..3 {
        let (s, _, _) = api
            .call(
                Staff,
                "POST",
                "/v1/events",
                Some(json!({"type": "x.note", "payload": {"n": n}})),
            )
            .await;
        assert_eq!(s, 201);
    }
    api.state.verify_now().unwrap();
    let after = metrics(&api).await;
    let added = |name: &str| after(name) - before(name);
    assert_eq!(added("jointly_appends_total"), 3.0);
    assert!(after("jointly_batches_total") >= 1.0);
    assert_eq!(added("jointly_batched_events_total"), 3.0);
    assert_eq!(added("jointly_append_latency_seconds_count"), 3.0);
    assert_eq!(
        after("jointly_last_verified_records"),
        api.ledger.head().size as f64
    );
    api.state.shutdown().await;
}

/// The figures `/metrics` gives, by name.
async fn metrics(api: &Api) -> impl Fn(&str) -> f64 {
    let resp = api
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .header("authorization", format!("Bearer {}", api.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    move |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .parse()
            .unwrap()
    }
}

/// Every answer carries the security headers, and its policy forbids
/// every script by default.
#[tokio::test(flavor = "multi_thread")]
async fn security_headers_forbid_scripts_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger).unwrap();
    let router = app(state.clone(), &Config::default());
    for uri in ["/sign-in", "/healthz", "/v1/checkpoint", "/no-such-page"] {
        let resp = router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{uri}: {csp}");
        assert!(csp.contains("script-src 'none'"), "{uri}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{uri}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{uri}");
        assert_eq!(h["x-frame-options"], "DENY", "{uri}");
    }
    state.shutdown().await;
}

/// A partner who left a project reads what happened up to their leaving,
/// and nothing after; the project drops out of their list, and they can
/// no longer add to it.
#[tokio::test(flavor = "multi_thread")]
async fn a_partner_who_left_reads_nothing_new() {
    let api = Api::new();
    let before = api.ledger.head().size;
    let (s, _, v) = api
        .call(Staff, "GET", &format!("/v1/projects/{}", api.project), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _, left) = api
        .call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "participant.left", "payload": {"project_id": api.project, "participant_id": api.partner_id}})),
        )
        .await;
    assert_eq!(s, 201, "{left}");
    let (s, _, after) = api
        .call(
            Staff,
            "POST",
            "/v1/events",
            Some(json!({"type": "review.held", "payload": {"project_id": api.project, "summary": "After they left.", "next_review": "2027-01-01"}})),
        )
        .await;
    assert_eq!(s, 201, "{after}");
    let read = |seq: u64| format!("/v1/events/{seq}");
    // What they could read before, and the record of their leaving, stay theirs.
    let (s, _, _) = api
        .call(Partner, "GET", &read(left["seq"].as_u64().unwrap()), None)
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = api
        .call(Partner, "GET", &read(after["seq"].as_u64().unwrap()), None)
        .await;
    assert_eq!(s, 404, "a record after they left");
    let (_, _, page) = api
        .call(
            Partner,
            "GET",
            &format!("/v1/events?after={}", before - 1),
            None,
        )
        .await;
    let seqs: Vec<u64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(!seqs.contains(&after["seq"].as_u64().unwrap()), "{seqs:?}");
    let (s, _, _) = api
        .call(
            Partner,
            "GET",
            &format!("/v1/projects/{}", api.project),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, v) = api
        .call(
            Partner,
            "POST",
            "/v1/events",
            Some(json!({"type": "proposal.raised", "payload": {"project_id": api.project, "proposal_id": "abcdef00-0000-4000-8000-000000000777", "text": "One more."}})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    api.state.shutdown().await;
}

/// A write into a project the partner cannot see says nothing about it:
/// not whether it exists, nor its last record.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_into_another_project_tells_nothing() {
    let api = Api::new();
    let other = api.other_project.clone().unwrap();
    let size = api.ledger.head().size;
    let mut answers = Vec::new();
    for (project, expected) in [
        (other.as_str(), Some(3u64)),
        ("abcdef00-0000-4000-8000-000000000999", None),
    ] {
        let mut body = json!({"type": "proposal.raised", "payload": {"project_id": project, "proposal_id": "abcdef00-0000-4000-8000-000000000778", "text": "Mine."}});
        if let Some(n) = expected {
            body["expected_last_seq"] = json!(n);
        }
        let (s, _, v) = api.call(Partner, "POST", "/v1/events", Some(body)).await;
        assert_eq!(s, 404, "{v}");
        answers.push((v["detail"].clone(), v["pointer"].clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "another's project and no project read the same"
    );
    assert_eq!(api.ledger.head().size, size, "nothing was written");
    api.state.shutdown().await;
}

/// (issue 29) A lead of open projects cannot simply leave: the refusal
/// (409, pointer `/new_lead`) names their projects, and nothing is
/// written; naming a member of staff who stays hands each project on
/// (joining it where needed), then records the leaving.
#[tokio::test(flavor = "multi_thread")]
async fn a_lead_who_leaves_names_who_leads_next() {
    use jointly::coproduction::values::{Role as R, Stage};
    let api = Api::new();
    let (lead, led, next, partner) = {
        let m = api.state.app().read().unwrap();
        let p = m
            .projects
            .values()
            .find(|p| p.stage != Stage::Closed)
            .unwrap();
        let next = m
            .people
            .values()
            .find(|x| x.role == Some(R::Staff) && x.id != p.lead)
            .unwrap()
            .id;
        let led: Vec<_> = m
            .projects
            .values()
            .filter(|q| q.lead == p.lead && q.stage != Stage::Closed)
            .map(|q| (q.id, m.text(&q.title)))
            .collect();
        (p.lead, led, next, api.partner_id.clone())
    };
    let uri = format!("/v1/people/{lead}/leave");
    let size = api.ledger.head().size;
    let (s, _, v) = api.call(Admin, "POST", &uri, None).await;
    assert_eq!(
        (s.as_u16(), v["pointer"].as_str()),
        (409, Some("/new_lead")),
        "{v}"
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains(&led[0].1), "{detail}");
    assert!(detail.contains("new_lead"), "{detail}");
    assert_eq!(api.ledger.head().size, size, "nothing was written");
    // Not the person leaving, not a partner, not someone unknown.
    for wrong in [
        lead.to_string(),
        partner,
        "abcdef00-0000-4000-8000-000000000999".into(),
    ] {
        let (s, _, v) = api
            .call(Admin, "POST", &uri, Some(json!({"new_lead": wrong})))
            .await;
        assert_eq!(
            (s.as_u16(), v["pointer"].as_str()),
            (422, Some("/new_lead")),
            "{v}"
        );
        assert_eq!(api.ledger.head().size, size, "nothing was written");
    }
    let (s, _, v) = api
        .call(Admin, "POST", &uri, Some(json!({"new_lead": next})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["handed_on"].as_array().unwrap().len() >= led.len(), "{v}");
    {
        let m = api.state.app().read().unwrap();
        for (id, title) in &led {
            let p = &m.projects[id];
            assert_eq!(p.lead, next, "{title} is led by the new lead");
            assert!(p.members.get(&next).is_some_and(|x| x.active), "{title}");
            assert!(!p.members.get(&lead).is_some_and(|x| x.active), "{title}");
        }
    }
    api.state.shutdown().await;
}

/// Recording that a person left the organisation records them leaving
/// every project they were in, and revokes their tokens.
#[tokio::test(flavor = "multi_thread")]
async fn a_person_who_leaves_leaves_every_project() {
    let api = Api::new();
    let uri = format!("/v1/people/{}/leave", api.partner_id);
    let (s, _, v) = api.call(Partner, "POST", &uri, None).await;
    assert_eq!(s, 403, "{v}");
    let (s, _, v) = api.call(Staff, "POST", &uri, None).await;
    assert_eq!(s, 200, "{v}");
    let left = v["left"].as_array().unwrap();
    assert!(!left.is_empty(), "{v}");
    for seq in left {
        let (_, _, ev) = api
            .call(Staff, "GET", &format!("/v1/events/{seq}"), None)
            .await;
        assert_eq!(ev["record"]["type"], "participant.left");
        assert_eq!(ev["payload"]["participant_id"], api.partner_id.as_str());
    }
    // They can no longer sign in: their token was revoked with it.
    let (s, _, _) = api.call(Partner, "GET", "/v1/projects", None).await;
    assert_eq!(s, 401, "their token still works");
    // Nobody to leave: refused, nothing written.
    let size = api.ledger.head().size;
    let (s, _, _) = api
        .call(
            Staff,
            "POST",
            "/v1/people/abcdef00-0000-4000-8000-000000000999/leave",
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(api.ledger.head().size, size);
    api.state.shutdown().await;
}
