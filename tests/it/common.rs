//! What the integration tests share: a store with the example history, the
//! API driven through `oneshot`, tokens, the command line, and searching a
//! data directory's files.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::tokens::Role;
use jointly::app::{App, Caller};
use jointly::ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tower::ServiceExt;

/// Makes a token as the local operator; returns its secret.
pub fn token(app: &App, role: Role, name: &str, participant: Option<&str>) -> String {
    blocking(app.create_token(&Caller::operator(), role, name, participant))
        .unwrap()
        .0
}

/// Runs a future of the core to its end from anywhere, a test's runtime
/// included: on a thread of its own, with a runtime of its own (the core's
/// writer is a thread of its own, so nothing here waits on the caller's).
pub fn blocking<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(work)
        })
        .join()
        .unwrap()
    })
}

/// The API over a ledger, as `jointly serve` runs it.
pub struct Api {
    pub state: AppState,
    pub router: axum::Router,
}

impl Api {
    pub fn new(ledger: Ledger) -> Api {
        Self::with_config(ledger, &Config::default())
    }

    pub fn with_config(ledger: Ledger, config: &Config) -> Api {
        let state = AppState::new(ledger).unwrap();
        let router = app(state.clone(), config);
        Api { state, router }
    }

    pub fn app(&self) -> &App {
        self.state.app()
    }

    /// A JSON request (`body` null for none); the status, the content
    /// type and the body as JSON (null if it is not JSON).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Value,
    ) -> (StatusCode, String, Value) {
        let bytes = (!body.is_null()).then(|| body.to_string().into_bytes());
        self.raw(token, method, uri, bytes, "application/json", &[])
            .await
    }

    /// Any request; the status, content type and body as JSON.
    pub async fn raw(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, Value) {
        let (status, ct, bytes) = self
            .bytes(token, method, uri, body, content_type, headers)
            .await;
        (
            status,
            ct,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Any request; the status, content type and body bytes.
    pub async fn bytes(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        send(
            &self.router,
            req.body(body.map_or(Body::empty(), Body::from)).unwrap(),
        )
        .await
    }
}

/// A request through a router; the status, content type and body bytes.
pub async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, bytes.to_vec())
}

/// Appends `n` `x.` records straight to a ledger (no rules).
pub fn append_plain(ledger: &Ledger, n: u64, event_type: &str, tag: &str) {
    let events = (0..n)
        .map(|i| NewEvent {
            expected: None,
            event_type: EventType::new(event_type).unwrap(),
            actor: Actor::new("test:plain").unwrap(),
            payload: CanonicalPayload::parse(format!(r#"{{"i":{i},"tag":"{tag}"}}"#).as_bytes())
                .unwrap(),
        })
        .collect();
    ledger.append_batch(events).unwrap();
}

/// Runs the `jointly` binary on a data directory.
pub fn jointly(data: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_jointly"))
        .args(args)
        .env("JOINTLY_DATA", data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // A command that refuses its input may exit before reading it all;
        // what it said is in its output, so a closed pipe is no failure.
        match input.write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Every file under `dir` that contains `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            found.extend(files_containing(&p, needle));
        } else if std::fs::read(&p)
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(p);
        }
    }
    found
}

/// A browser on the pages, through the same router: it keeps the session
/// cookie and sends each form with the anti-forgery token its page gave.
pub struct Browser<'a> {
    api: &'a Api,
    cookies: Vec<(String, String)>,
}

/// The `value` of the hidden `csrf` field in a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

impl<'a> Browser<'a> {
    /// Signs in with an access code.
    pub async fn sign_in(api: &'a Api, code: &str) -> Browser<'a> {
        let mut b = Browser {
            api,
            cookies: Vec::new(),
        };
        let (_, page) = b.get("/sign-in").await;
        let csrf = csrf_of(&page);
        let (status, _) = b.post("/sign-in", &[("csrf", &csrf), ("code", code)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "signing in");
        b
    }

    async fn send(
        &mut self,
        req: axum::http::request::Builder,
        body: Body,
    ) -> (StatusCode, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = req.header("cookie", cookie).body(body).unwrap();
        let resp = self.api.router.clone().oneshot(req).await.unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let first = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.into(), v.into()));
            }
        }
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The browser with this cookie set (one kept from before a restart).
    pub fn with_cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }

    /// A browser that has not signed in.
    pub fn fresh(api: &'a Api) -> Browser<'a> {
        Browser {
            api,
            cookies: Vec::new(),
        }
    }

    /// A cookie's value, if the browser holds it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The anti-forgery token of the form on a page.
    pub async fn csrf(&mut self, path: &str) -> String {
        let (_, page) = self.get(path).await;
        csrf_of(&page)
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        self.send(Request::get(path), Body::empty()).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::post(path).header("content-type", "application/x-www-form-urlencoded"),
            Body::from(body),
        )
        .await
    }

    /// Posts a form with a file (multipart/form-data), as a browser sends
    /// an upload: the `csrf` field, and the file in the field `file`.
    pub async fn post_file(
        &mut self,
        path: &str,
        csrf: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> (StatusCode, String) {
        let boundary = "----jointlytestboundary7MA4YWxk";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            Request::post(path).header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            ),
            Body::from(body),
        )
        .await
    }

    /// Posts a form as a page of another site would (`Origin` says so).
    pub async fn post_from(
        &mut self,
        origin: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin),
            Body::from(body),
        )
        .await
    }

    /// Sends a form that is checked before it is recorded (a decision):
    /// the form, then, if the check page comes back, its "Record" button
    /// with what it carries.
    pub async fn submit_and_confirm(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let (status, page) = self.submit(path, fields).await;
        if status != StatusCode::OK || !page.contains("name=\"step\" value=\"confirm\"") {
            return (status, page);
        }
        let csrf = csrf_of(&page);
        let mut all = vec![("csrf", csrf.as_str()), ("step", "confirm")];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Opens a form's page and sends it with these fields (and its csrf).
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let (status, page) = self.get(path).await;
        if status != StatusCode::OK {
            return (status, page);
        }
        let csrf = csrf_of(&page);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }
}

/// The first object anywhere in `doc` that has `value` among its values.
pub fn find_object<'v>(doc: &'v Value, value: &str) -> Option<&'v Value> {
    match doc {
        Value::Object(m) => {
            if m.values().any(|v| v.as_str() == Some(value)) {
                return Some(doc);
            }
            m.values().find_map(|v| find_object(v, value))
        }
        Value::Array(a) => a.iter().find_map(|v| find_object(v, value)),
        _ => None,
    }
}

/// `jointly serve`'s own accept loop on a port of its own, in the
/// background, until [`Serving::stop`].
pub struct Serving {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn serving(state: AppState, config: Config) -> Serving {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jointly::api::serve::serve_on(
        listener,
        state,
        config,
        async {
            let _ = stopped.await;
        },
    ));
    Serving { addr, stop, server }
}

impl Serving {
    /// Stops it, and waits until everything is on disk.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// A project (co-production, one aim) led by staff member S, with
/// partners P and R; P's idea waits for an answer; a decision with S and
/// P in it that P disputes.
pub struct Office {
    pub _dir: tempfile::TempDir,
    pub api: Api,
    pub s: String,
    pub p: String,
    pub r: String,
    pub project: String,
    pub aim: String,
    pub idea: String,
    pub decision: String,
    pub s_code: String,
    pub p_code: String,
    pub r_code: String,
    pub auditor: String,
}

pub async fn post(api: &Api, token: &str, uri: &str, body: Value) -> Value {
    let (s, _, b) = api.call(Some(token), "POST", uri, body).await;
    assert!(s.is_success(), "{uri}: {s} {b}");
    b
}

pub async fn office() -> Office {
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
    let project = uuid::Uuid::new_v4().to_string();
    let aim = uuid::Uuid::new_v4().to_string();
    let person = async |role: &str, name: &str, project: Option<&str>| {
        let body = json!({"role": role, "name": name, "project_id": project});
        post(&api, &admin, "/v1/people", body).await["participant_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let s = person("staff", "Sally Brightwater", None).await;
    let started = json!({"type": "project.started", "payload": {"project_id": project,
        "title": "Warm rooms", "summary": "Warm rooms in libraries", "involvement": "co-production",
        "lead": s, "aims": [{"aim_id": aim, "text": "Every library opens a warm room"}]}});
    post(&api, &admin, "/v1/events", started).await;
    let joined = json!({"type": "participant.joined", "payload": {"project_id": project,
        "participant_id": s, "role": "staff"}});
    post(&api, &admin, "/v1/events", joined).await;
    let p = person("partner", "Marigold Ashcombe", Some(&project)).await;
    let r = person("partner", "Rosamund Caddick", Some(&project)).await;
    let s_code = token(api.app(), Role::Staff, "sally", Some(&s));
    let p_code = token(api.app(), Role::Partner, "marigold", Some(&p));
    let r_code = token(api.app(), Role::Partner, "rosamund", Some(&r));
    let auditor = token(api.app(), Role::Auditor, "auditor", None);
    let idea = uuid::Uuid::new_v4().to_string();
    let raised = json!({"type": "proposal.raised", "payload": {"project_id": project,
        "proposal_id": idea, "text": "Put the rooms on the council map"}});
    post(&api, &p_code, "/v1/events", raised).await;
    let decision = uuid::Uuid::new_v4().to_string();
    let made = json!({"type": "decision.made", "payload": {"project_id": project, "decision_id": decision,
        "question": "Which libraries first?", "outcome": "The three largest", "stage": "conception",
        "method": "consensus", "reason": "Everyone agreed", "participants": [
            {"participant_id": s, "position": "agree"}, {"participant_id": p, "position": "agree"}]}});
    post(&api, &s_code, "/v1/events", made).await;
    let disputed = json!({"type": "decision.disputed", "payload": {"decision_id": decision,
        "reason": "I asked for more time"}});
    post(&api, &p_code, "/v1/events", disputed).await;
    Office {
        _dir: dir,
        api,
        s,
        p,
        r,
        project,
        aim,
        idea,
        decision,
        s_code,
        p_code,
        r_code,
        auditor,
    }
}

/// The records written since the log held `n`: (type, payload).
pub fn written_since(api: &Api, n: u64) -> Vec<(String, Value)> {
    let ledger = api.app().ledger();
    (n..api.app().size())
        .map(|seq| {
            let ev = ledger.get(seq).unwrap().unwrap();
            let payload = ev
                .payload
                .map(|p| serde_json::from_slice(p.as_bytes()).unwrap())
                .unwrap_or(Value::Null);
            (ev.record.event_type().as_str().to_string(), payload)
        })
        .collect()
}

/// The id of the record that made decision `d`.
pub fn record_of(api: &Api, d: &str) -> String {
    let ledger = api.app().ledger();
    (0..api.app().size())
        .map(|seq| ledger.get(seq).unwrap().unwrap())
        .find(|ev| {
            ev.record.event_type().as_str() == "decision.made"
                && ev.payload.as_ref().is_some_and(|p| {
                    String::from_utf8_lossy(p.as_bytes()).contains(&format!("\"{d}\""))
                })
        })
        .map(|ev| ev.record.id().to_string())
        .expect("the decision's record")
}
