//! Safe under attack and under strain: each failure once seen, replayed.
//! People's data under concurrent writes and damage, erasure racing
//! writes, streams and revoked credentials, sign-in limits by address,
//! slow clients, fair shares of streams behind a proxy and a stream's
//! life, half-sent requests to a witness, witnesses that trickle or
//! flood, small numbers and published figures, untrusted text.

use crate::common::{Api, token};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jointly::api::{AppState, Config, app};
use jointly::app::Caller;
use jointly::app::demo::write_demo;
use jointly::app::tokens::Role;
use jointly::ledger::Ledger;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn demo_api() -> (tempfile::TempDir, Api) {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_demo(&ledger, 3).unwrap();
    let api = Api::new(ledger);
    (dir, api)
}

/// A partner registered through the API, with a token.
async fn new_partner(api: &Api, name: &str) -> (String, String) {
    let staff = token(api.app(), Role::Staff, "staff", None);
    let (s, _, b) = api
        .call(
            Some(&staff),
            "POST",
            "/v1/people",
            json!({"role": "partner", "name": name}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["participant_id"].as_str().unwrap().to_string();
    let tok = token(api.app(), Role::Partner, "p", Some(&id));
    (id, tok)
}

/// (1) Twenty writes of one partner's answers at once, of different
/// lengths, leave a readable entry and working figures for everyone; a
/// damaged entry is passed over, counted, and repaired by its owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_equality_writes_never_damage_the_people_store() {
    let (dir, api) = demo_api();
    let (id, tok) = new_partner(&api, "Concurrent Writer").await;
    let long = json!({"region": "yorkshire_and_the_humber", "age": "65_and_over",
        "sexual_orientation": "straight_or_heterosexual", "disability": "prefer_not_to_say"});
    let short = json!({"age": "25_34"});
    for round in 0..5 {
        let calls = (0..20).map(|i| {
            let body = if (i + round) % 2 == 0 { &long } else { &short };
            api.call(Some(&tok), "PUT", "/v1/me/equality", body.clone())
        });
        for (s, _, b) in futures_util::future::join_all(calls).await {
            assert_eq!(s, 200, "{b}");
        }
    }
    let file = dir.path().join("people").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&file).unwrap();
    serde_json::from_str::<Value>(&text).expect("the entry is whole");
    let auditor = token(api.app(), Role::Auditor, "a", None);
    assert_eq!(
        api.call(Some(&auditor), "GET", "/v1/equality", Value::Null)
            .await
            .0,
        200
    );
    // Damage the entry by hand: the figures go on without it, /metrics
    // counts it, and no error shows a path or an id.
    std::fs::write(&file, b"{\"id\": \"half a fil").unwrap();
    let (s, _, b) = api
        .call(Some(&auditor), "GET", "/v1/equality", Value::Null)
        .await;
    assert_eq!(s, 200, "{b}");
    let admin = token(api.app(), Role::Admin, "admin", None);
    let (_, _, metrics) = api
        .bytes(Some(&admin), "GET", "/metrics", None, "", &[])
        .await;
    assert!(
        String::from_utf8_lossy(&metrics).contains("jointly_people_damaged 1"),
        "the damaged entry is counted"
    );
    let (s, _, mine) = api
        .call(Some(&tok), "GET", "/v1/me/equality", Value::Null)
        .await;
    assert_eq!((s.as_u16(), &mine["answers"]), (200, &json!({})));
    let (s, _, _) = api
        .call(
            Some(&tok),
            "PUT",
            "/v1/me/equality",
            json!({"age": "35_44"}),
        )
        .await;
    assert_eq!(s, 200, "the partner repairs their own entry");
    assert!(api.app().damaged_people() == 0);
    api.state.shutdown().await;
}

/// (1) A failure inside jointly says so without a path, a file name or
/// anyone's id.
#[test]
fn failures_say_nothing_of_the_server_inside() {
    let r = jointly::refusal::Refusal::failed(
        "/srv/jointly/people/0190d9a0-0000-7000-8000-000000000001.json is damaged",
    );
    let e = jointly::api::error::AppError::from(r);
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !e.detail.contains('/') && !e.detail.contains("0190d9a0"),
        "{}",
        e.detail
    );
}

/// (2) Writes racing an erasure: once it starts, nothing is written for
/// the person, and nothing of them survives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_wins_every_race() {
    let (dir, api) = demo_api();
    let admin = token(api.app(), Role::Admin, "dpo", None);
    for round in 0..3 {
        let name = format!("Rosalind Quarren{round}");
        let (id, tok) = new_partner(&api, &name).await;
        let body = json!({"religion_or_belief": "muslim", "sexual_orientation": "bisexual"});
        assert_eq!(
            api.call(Some(&tok), "PUT", "/v1/me/equality", body.clone())
                .await
                .0,
            200
        );
        let api = &api;
        let writers = (0..6).map(|_| {
            let body = body.clone();
            let tok = tok.clone();
            async move {
                let mut codes = Vec::new();
                for _ in 0..40 {
                    codes.push(
                        api.call(Some(&tok), "PUT", "/v1/me/equality", body.clone())
                            .await
                            .0,
                    );
                }
                codes
            }
        });
        let erase = api.call(
            Some(&admin),
            "POST",
            "/v1/erasures",
            json!({"participant_id": id, "reason": "They asked."}),
        );
        let (codes, (s, _, b)) = tokio::join!(futures_util::future::join_all(writers), erase);
        assert_eq!(s, 200, "{b}");
        // No write succeeded after the erasure answered; now nothing is left.
        for c in codes.iter().flatten() {
            assert!(
                [200, 401, 403].contains(&c.as_u16()),
                "a write during the erasure got {c}"
            );
        }
        assert!(
            !dir.path()
                .join("people")
                .join(format!("{id}.json"))
                .exists()
        );
        assert!(crate::common::files_containing(dir.path(), &name).is_empty());
        assert_eq!(
            api.call(Some(&tok), "GET", "/v1/me/equality", Value::Null)
                .await
                .0,
            401
        );
    }
    api.state.shutdown().await;
}

/// Reads the next chunk of a streamed body, or None if it ended; waits
/// at most `wait`.
async fn next_chunk(body: &mut Body, wait: Duration) -> Option<Option<String>> {
    match tokio::time::timeout(wait, body.frame()).await {
        Err(_) => None,
        Ok(None) => Some(None),
        Ok(Some(f)) => Some(Some(
            f.ok()
                .and_then(|f| f.into_data().ok())
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .unwrap_or_default(),
        )),
    }
}

/// (3) A stream whose token is revoked ends at once, and nothing appended
/// afterwards reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_ends_its_stream() {
    let (_dir, api) = demo_api();
    let admin = token(api.app(), Role::Admin, "admin", None);
    let (secret, info) = api
        .app()
        .create_token(&Caller::operator(), Role::Auditor, "watcher", None)
        .await
        .unwrap();
    let after = api.app().size() - 1;
    let req = Request::get(format!("/v1/stream?after={after}"))
        .header("authorization", format!("Bearer {secret}"))
        .body(Body::empty())
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let (s, _, _) = api
        .call(
            Some(&admin),
            "POST",
            "/v1/events",
            json!({"type": "x.note", "payload": {"m": "before"}}),
        )
        .await;
    assert_eq!(s, 201);
    let mut seen = String::new();
    while !seen.contains("before") {
        seen.push_str(
            &next_chunk(&mut body, Duration::from_secs(5))
                .await
                .flatten()
                .expect("the record before arrives"),
        );
    }
    let started = Instant::now();
    api.app()
        .revoke_token(&Caller::operator(), &info.id)
        .await
        .unwrap();
    // The stream ends within a second, before anything else is appended.
    let mut ended = false;
    while started.elapsed() < Duration::from_secs(1) {
        match next_chunk(&mut body, Duration::from_millis(200)).await {
            Some(None) => {
                ended = true;
                break;
            }
            Some(Some(text)) => assert!(!text.contains("\"m\""), "{text}"),
            None => {}
        }
    }
    assert!(
        ended,
        "the stream was still open a second after its token was revoked"
    );
    let (s, _, _) = api
        .call(
            Some(&admin),
            "POST",
            "/v1/events",
            json!({"type": "x.note", "payload": {"m": "after"}}),
        )
        .await;
    assert_eq!(s, 201);
    api.state.shutdown().await;
}

/// The sign-in form's anti-forgery token and cookie, as a browser at
/// `from` gets them.
async fn sign_in_as(
    router: &axum::Router,
    from: &str,
    code: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let peer: SocketAddr = format!("{from}:40000").parse().unwrap();
    let mut req = Request::get("/sign-in").body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let resp = router.clone().oneshot(req).await.unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = resp.into_body().collect().await.unwrap().to_bytes();
    let page = String::from_utf8_lossy(&page);
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..].split('"').next().unwrap();
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", csrf), ("code", code)])
        .finish();
    let mut req = Request::post("/sign-in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(form)).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    router.clone().oneshot(req).await.unwrap().status().as_u16()
}

/// (4) Wrong codes lock out their own address, not everyone; a forwarded
/// address counts only from a proxy the operator trusts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_limits_protect_and_do_not_punish() {
    for trusted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        let state = AppState::new(ledger).unwrap();
        let good = token(state.app(), Role::Auditor, "a", None);
        let config = Config {
            trusted_proxies: if trusted {
                vec!["127.0.0.9".parse().unwrap()]
            } else {
                vec![]
            },
            ..Config::default()
        };
        let router = app(state.clone(), &config);
        let mut codes = Vec::new();
        for i in 0..12 {
            codes.push(sign_in_as(&router, "127.0.0.1", &format!("jly_wrong{i:040}"), &[]).await);
        }
        assert!(codes.contains(&429), "{codes:?}");
        // Another address signs in; the locked one cannot, even with a good
        // code, nor by saying it is someone else.
        assert_eq!(sign_in_as(&router, "127.0.0.2", &good, &[]).await, 303);
        assert_eq!(sign_in_as(&router, "127.0.0.1", &good, &[]).await, 429);
        assert_eq!(
            sign_in_as(
                &router,
                "127.0.0.1",
                &good,
                &[("x-forwarded-for", "10.9.9.9")]
            )
            .await,
            429
        );
        // Behind a trusted proxy, the forwarded address is the client.
        let via_proxy = sign_in_as(
            &router,
            "127.0.0.9",
            &good,
            &[("x-forwarded-for", "10.1.1.1")],
        )
        .await;
        assert_eq!(via_proxy, 303);
        if trusted {
            for i in 0..12 {
                sign_in_as(
                    &router,
                    "127.0.0.9",
                    &format!("jly_wrong{i:040}"),
                    &[("x-forwarded-for", "10.6.6.6")],
                )
                .await;
            }
            assert_eq!(
                sign_in_as(
                    &router,
                    "127.0.0.9",
                    &good,
                    &[("x-forwarded-for", "10.1.1.1")]
                )
                .await,
                303,
                "one client behind the proxy locked out the others"
            );
        }
        state.shutdown().await;
    }
}

/// The `Secure` flag follows the configured public address, never a
/// request header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookies_follow_the_public_url() {
    for (public, secure) in [(None, false), (Some("https://jointly.example.org"), true)] {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        let state = AppState::new(ledger).unwrap();
        let config = Config {
            public_url: public.map(str::to_string),
            ..Config::default()
        };
        let router = app(state.clone(), &config);
        let req = Request::get("/sign-in")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap();
        let resp = router.oneshot(req).await.unwrap();
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        assert_eq!(cookie.contains("Secure"), secure, "{public:?}: {cookie}");
        state.shutdown().await;
    }
}

/// (8) A connection that sends half a request head and then nothing is
/// closed once the head's time is up; the server goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger).unwrap();
    let config = Config {
        header_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let served = crate::common::serving(state, config).await;
    let addr = served.addr;
    let closed_after = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return t.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(
        closed_after < Duration::from_secs(5),
        "closed only after {closed_after:?}"
    );
    // Others are still answered.
    let answer = tokio::task::spawn_blocking(move || {
        jointly::http::request(
            &format!("http://{addr}"),
            "GET",
            "/healthz",
            None,
            Duration::from_secs(5),
            1 << 16,
        )
        .unwrap()
        .status
    })
    .await
    .unwrap();
    assert_eq!(answer, 200);
    served.stop().await;
}

/// Sends `head` on a new connection; the status line of the answer ("" if
/// the connection closed, or nothing came within 5 s), and the connection.
async fn ask(addr: SocketAddr, head: &str) -> (String, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&got);
    (text.lines().next().unwrap_or("").to_string(), s)
}

/// Whether the server closes `s` within `wait` (reading and dropping what
/// else it sends).
async fn closes(s: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// (10) One token holds at most four event streams at once; the fifth is
/// refused at once with 429, a problem saying so and when to try again,
/// and the connection closed. Another token is not held back, and a
/// stream that ends gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_holds_at_most_four_streams() {
    let (_dir, api) = demo_api();
    let greedy = token(api.app(), Role::Auditor, "many-streams", None);
    let other = token(api.app(), Role::Auditor, "one-stream", None);
    let open = |tok: &str| {
        let req = Request::get("/v1/stream")
            .header("authorization", format!("Bearer {tok}"))
            .body(Body::empty())
            .unwrap();
        api.router.clone().oneshot(req)
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        let resp = open(&greedy).await.unwrap();
        assert_eq!(resp.status(), 200);
        held.push(resp);
    }
    let refused = open(&greedy).await.unwrap();
    assert_eq!(refused.status(), 429);
    let h = refused.headers();
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(h["connection"], "close");
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "https://jointly.invalid/problems/too-many");
    assert_eq!(open(&other).await.unwrap().status(), 200);
    held.pop();
    assert_eq!(
        open(&greedy).await.unwrap().status(),
        200,
        "a closed stream gave its place back"
    );
    api.state.shutdown().await;
}

/// (10) Behind a trusted proxy every connection comes from the proxy's
/// address: one client there holding streams over many tokens is held to
/// its own share (16), its other requests refused at once, and other
/// clients behind the same proxy are still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_clients_behind_the_proxy_are_served_while_one_holds_many_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    let state = AppState::new(ledger).unwrap();
    let tokens: Vec<String> = (0..10)
        .map(|i| token(state.app(), Role::Auditor, &format!("a{i}"), None))
        .collect();
    let config = Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        connections_per_address: 32,
        ..Config::default()
    };
    let served = crate::common::serving(state, config).await;
    let addr = served.addr;
    let mut streams = Vec::new();
    let mut refused = 0;
    for k in 0..40 {
        let (status, mut s) = ask(
            addr,
            &format!(
                "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
                tokens[k % tokens.len()]
            ),
        )
        .await;
        if status.starts_with("HTTP/1.1 200") {
            streams.push(s);
        } else {
            assert!(status.starts_with("HTTP/1.1 429"), "stream {k}: {status:?}");
            assert!(
                closes(&mut s, Duration::from_secs(5)).await,
                "a refused stream's connection was kept open"
            );
            refused += 1;
        }
    }
    assert_eq!((streams.len(), refused), (16, 24));
    let (status, _) = ask(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "another client got {status:?}"
    );
    drop(streams);
    served.stop().await;
}

/// (10) A stream ends after its life (here a second), and the client goes
/// on from the last event it was sent with `Last-Event-ID`, missing
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_after_its_life_and_resumes_where_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path()).unwrap();
    write_demo(&ledger, 1).unwrap();
    let config = Config {
        stream_life: Duration::from_secs(1),
        ..Config::default()
    };
    let api = Api::with_config(ledger, &config);
    let auditor = token(api.app(), Role::Auditor, "a", None);
    let admin = token(api.app(), Role::Admin, "admin", None);
    let n = api.app().size();
    for m in ["one", "two"] {
        let (s, _, _) = api
            .call(
                Some(&admin),
                "POST",
                "/v1/events",
                json!({"type": "x.note", "payload": {"m": m}}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let req = Request::get(format!("/v1/stream?after={}", n - 1))
        .header("authorization", format!("Bearer {auditor}"))
        .body(Body::empty())
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let started = Instant::now();
    let mut seen = String::new();
    loop {
        match next_chunk(&mut body, Duration::from_secs(5)).await {
            Some(Some(text)) => seen.push_str(&text),
            Some(None) => break,
            None => panic!("the stream was still open after {:?}", started.elapsed()),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended only after {:?}",
        started.elapsed()
    );
    let ids: Vec<u64> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(ids, vec![n, n + 1], "{seen}");
    let (s, _, _) = api
        .call(
            Some(&admin),
            "POST",
            "/v1/events",
            json!({"type": "x.note", "payload": {"m": "while away"}}),
        )
        .await;
    assert_eq!(s, 201);
    let req = Request::get("/v1/stream")
        .header("authorization", format!("Bearer {auditor}"))
        .header("last-event-id", (n + 1).to_string())
        .body(Body::empty())
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut again = String::new();
    while !again.contains("while away") {
        again.push_str(
            &next_chunk(&mut body, Duration::from_secs(5))
                .await
                .flatten()
                .expect("the record appended while away arrives"),
        );
    }
    assert!(again.contains(&format!("id: {}\n", n + 2)), "{again}");
    api.state.shutdown().await;
}

/// (11) A witness closes connections that send half a request head once
/// the head's time is up, and answers another client meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cuts_off_half_sent_requests_and_answers_others() {
    let dir = tempfile::tempdir().unwrap();
    let key = jointly::witness::open_key(&dir.path().join("w.key"), "witness.test/w").unwrap();
    let witness =
        jointly::witness::Witness::open(key, Vec::new(), dir.path().join("state.json")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = jointly::api::serve::Limits {
        header_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jointly::witness::serve_on(
        listener,
        std::sync::Arc::new(witness),
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    let mut half = Vec::new();
    for _ in 0..20 {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n")
            .await
            .unwrap();
        half.push(s);
    }
    let started = Instant::now();
    let (status, _) = ask(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    for s in &mut half {
        assert!(
            closes(s, Duration::from_secs(5)).await,
            "a half-sent request was still open after {:?}",
            started.elapsed()
        );
    }
    let _ = stop.send(());
    server.await.unwrap();
}

/// (7) An answer that trickles is cut off at the time limit, and one too
/// large is refused without being read to its end.
#[test]
fn answers_from_other_servers_are_bounded() {
    for flood in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'y'; 1 << 16];
            for _ in 0..200 {
                let sent = if flood {
                    s.write_all(&chunk)
                } else {
                    s.write_all(b"x")
                };
                if sent.is_err() {
                    return;
                }
                if !flood {
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
        });
        let started = Instant::now();
        let got = jointly::http::request(
            &format!("http://{addr}"),
            "POST",
            "/add-checkpoint",
            Some("old 0\n\n"),
            Duration::from_secs(2),
            64 << 10,
        );
        assert!(got.is_err(), "flood {flood}: {got:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "flood {flood}: {:?}",
            started.elapsed()
        );
    }
}

/// (5) No count of people from 1 to 4 in any projection or project, and
/// the equality figures do not move when a partner changes their own
/// answers, until they are published again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_about_people_hide_small_numbers_and_stay_published() {
    let (_dir, api) = demo_api();
    let auditor = token(api.app(), Role::Auditor, "a", None);
    let admin = token(api.app(), Role::Admin, "admin", None);
    /// Every count of people (a field named for partners), and those of
    /// them from 1 to 4.
    fn small_people_counts(v: &Value, key: &str, out: &mut Vec<String>) -> usize {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| {
                    let k = if ["count", "rounded", "fewer_than"].contains(&k.as_str()) {
                        key
                    } else {
                        k
                    };
                    small_people_counts(x, k, out)
                })
                .sum(),
            Value::Array(a) => a.iter().map(|x| small_people_counts(x, key, out)).sum(),
            Value::Number(n) if key.starts_with("partners") || key == "people" => {
                if (1..=4).contains(&n.as_u64().unwrap_or(0)) {
                    out.push(format!("{key} = {n}"));
                }
                1
            }
            _ => 0,
        }
    }
    let mut found = Vec::new();
    let mut counts = 0;
    for path in ["/v1/projections/all", "/v1/projects", "/v1/equality"] {
        let (s, _, b) = api.call(Some(&auditor), "GET", path, Value::Null).await;
        assert_eq!(s, 200);
        counts += small_people_counts(&b, "", &mut found);
    }
    for p in api
        .app()
        .projects(&Caller::operator(), None, 1000)
        .unwrap()
        .projects
    {
        let (_, _, b) = api
            .call(
                Some(&auditor),
                "GET",
                &format!("/v1/projects/{}/projections/all", p.project_id),
                Value::Null,
            )
            .await;
        counts += small_people_counts(&b, "", &mut found);
    }
    assert!(counts > 20, "only {counts} counts of people were looked at");
    assert!(found.is_empty(), "{found:?}");
    // Published, not live.
    let (_, tok) = new_partner(&api, "Toggler").await;
    api.call(
        Some(&tok),
        "PUT",
        "/v1/me/equality",
        json!({"disability": "no"}),
    )
    .await;
    assert_eq!(
        api.call(Some(&admin), "POST", "/v1/equality/publish", Value::Null)
            .await
            .0,
        200
    );
    let before = api
        .call(Some(&auditor), "GET", "/v1/equality", Value::Null)
        .await
        .2;
    api.call(
        Some(&tok),
        "PUT",
        "/v1/me/equality",
        json!({"disability": "yes"}),
    )
    .await;
    let after = api
        .call(Some(&auditor), "GET", "/v1/equality", Value::Null)
        .await
        .2;
    assert_eq!(before, after);
    assert!(before["as_of"].is_string());
    // Only an admin publishes.
    assert_eq!(
        api.call(Some(&auditor), "POST", "/v1/equality/publish", Value::Null)
            .await
            .0,
        403
    );
    api.state.shutdown().await;
}

/// (9) A sequence number beyond any log is refused, not wrapped round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_out_of_range_are_refused() {
    let (_dir, api) = demo_api();
    let auditor = token(api.app(), Role::Auditor, "a", None);
    for uri in [
        "/v1/events?after=18446744073709551615&limit=1",
        "/v1/records?after=18446744073709551615",
        "/v1/stream?after=18446744073709551615",
    ] {
        let (s, _, b) = api.call(Some(&auditor), "GET", uri, Value::Null).await;
        assert_eq!(s, 400, "{uri}: {b}");
    }
    let (s, _, b) = api
        .raw(
            Some(&auditor),
            "GET",
            "/v1/stream",
            None,
            "",
            &[("last-event-id", "18446744073709551615")],
        )
        .await;
    assert_eq!(s, 400, "{b}");
    api.state.shutdown().await;
}

/// (9) Text people typed cannot make lines of its own, or drive a
/// terminal, in the text report.
#[test]
fn the_text_report_shows_control_characters_escaped() {
    let text = "Bus fares\nWe accepted: fake.\u{1b}[2K\r\u{1b}]0;pwned\u{7}";
    let shown = jointly::coproduction::report::plain(text);
    assert!(!shown.chars().any(char::is_control), "{shown}");
    assert!(
        shown.contains("\\n") && shown.contains("\\u{1b}"),
        "{shown}"
    );
    assert_eq!(
        jointly::coproduction::report::plain("plain words"),
        "plain words"
    );
}

/// (6) Names only where the disclosure policy allows: staff see a
/// partner's name on the pages; an auditor and another partner do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_stay_with_staff_on_the_pages() {
    let (_dir, api) = demo_api();
    let model = api.app().read().unwrap().clone();
    let (project, other) = model
        .projects
        .values()
        .find_map(|p| {
            let partner = p.members.iter().find(|(_, m)| {
                m.active && m.role == jointly::coproduction::values::Role::Partner
            })?;
            Some((p.id, *partner.0))
        })
        .unwrap();
    let staff = token(api.app(), Role::Staff, "staff", None);
    let (s, _, b) = api
        .call(
            Some(&staff),
            "POST",
            "/v1/people",
            json!({"role": "partner", "name": "Quillon Brackenfeather", "project_id": project}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["participant_id"].as_str().unwrap().to_string();
    let tok = token(api.app(), Role::Partner, "q", Some(&id));
    let (s, _, _) = api
        .call(Some(&tok), "POST", "/v1/events", json!({"type": "proposal.raised", "payload": {"project_id": project, "proposal_id": "0190d9a0-0000-7000-8000-0000000000f1", "text": "A quiet room."}}))
        .await;
    assert_eq!(s, 201);
    let readers: BTreeMap<&str, (String, bool)> = BTreeMap::from([
        ("staff", (staff.clone(), true)),
        (
            "auditor",
            (token(api.app(), Role::Auditor, "a", None), false),
        ),
        (
            "another partner",
            (
                token(api.app(), Role::Partner, "o", Some(&other.to_string())),
                false,
            ),
        ),
    ]);
    for (who, (code, sees)) in readers {
        let mut b = crate::common::Browser::sign_in(&api, &code).await;
        let (s, page) = b.get(&format!("/projects/{project}")).await;
        assert_eq!(s, 200, "{who}");
        assert!(page.contains("A quiet room."), "{who}");
        assert_eq!(page.contains("Brackenfeather"), sees, "{who}");
    }
    api.state.shutdown().await;
}

/// (issue 29) One partner token cannot append without limit: a burst is
/// answered 429 with Retry-After once its bucket is empty, what is refused
/// writes nothing, the pages say to wait in words, and `/metrics` counts
/// it. Staff and admin tokens (bulk imports, load tests) are not limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_partner_token_cannot_append_without_limit() {
    let (_dir, api) = demo_api();
    let (_, partner) = new_partner(&api, "Burst Sender").await;
    let project = {
        let model = api.app().read().unwrap();
        model
            .projects
            .values()
            .find(|p| p.stage != jointly::coproduction::values::Stage::Closed)
            .unwrap()
            .id
            .to_string()
    };
    let before = api.app().size();
    let (mut accepted, mut limited) = (Vec::new(), Vec::new());
    for i in 0..45 {
        let idea = uuid::Uuid::new_v4().to_string();
        let resp = send_raw(
            &api,
            &partner,
            json!({"type": "proposal.raised", "payload": {"project_id": project,
                "proposal_id": idea, "text": format!("Idea {i} of a burst")}}),
        )
        .await;
        match resp.0.as_u16() {
            201 => accepted.push(idea),
            429 => {
                let wait: u64 = resp
                    .1
                    .expect("a 429 says when to try again")
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "Retry-After: {wait}");
                assert!(
                    resp.2["type"].as_str().unwrap().ends_with("/too-many"),
                    "{}",
                    resp.2
                );
                limited.push(idea);
            }
            s => panic!("{s}: {}", resp.2),
        }
    }
    assert!(
        accepted.len() >= 30,
        "a person's burst of 30 is let through"
    );
    assert!(
        limited.len() >= 10,
        "{} of 45 appended at once",
        accepted.len()
    );
    assert_eq!(
        api.app().size() - before,
        accepted.len() as u64,
        "what was refused wrote nothing"
    );
    // The pages share the limit, and say so in words.
    let mut b = crate::common::Browser::sign_in(&api, &partner).await;
    let (status, page) = b
        .submit(
            &format!("/projects/{project}/propose"),
            &[("text", "One more idea, typed on the page.")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains("please wait"), "{page}");
    assert_eq!(api.app().size() - before, accepted.len() as u64);
    // Staff and admin tokens send bursts of 100 unhindered.
    let staff = token(api.app(), Role::Staff, "bulk", None);
    let admin = token(api.app(), Role::Admin, "load", None);
    for tok in [&staff, &admin] {
        for n in 0..100 {
            let (s, _, b) = send_raw(
                &api,
                tok,
                json!({"type": "x.check.burst", "payload": {"n": n}}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
    }
    let (_, _, metrics) = api
        .bytes(Some(&admin), "GET", "/metrics", None, "", &[])
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains(&format!(
            "jointly_appends_limited_total {}",
            limited.len() + 1
        )),
        "{metrics}"
    );
    api.state.shutdown().await;
}

/// An append as the holder of `token`: its status, its `Retry-After`, and
/// its body.
async fn send_raw(api: &Api, token: &str, body: Value) -> (StatusCode, Option<String>, Value) {
    let req = Request::post("/v1/events")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
