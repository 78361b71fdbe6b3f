//! The HTTP API (axum): staff append, partners take part, auditors read,
//! admins manage tokens. Thin: it parses, authorises, calls down into
//! `coproduction` and `ledger`, and renders. Every error is a problem
//! (`error`); the OpenAPI document is generated from these handlers.

pub mod error;
mod privacy;
pub mod serve;
pub mod tokens;
mod web;
pub mod witnessing;

use crate::coproduction::model::{Model, Refusal};
use crate::coproduction::report::{Report, Settings};
use crate::coproduction::values::ProjectId;
use crate::coproduction::{Rules, catch_up, read_event};
use crate::ledger::sequencer::{AppendError, Sequencer};
use crate::ledger::store::SideTable;
use crate::ledger::{CanonicalPayload, EventType, Ledger, NewEvent, StoredEvent};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use error::{ApiJson, ApiPath, ApiQuery, AppError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokens::{Role, TokenInfo, TokenStore};
use utoipa::OpenApi;
use witnessing::{Cosigned, WitnessPolicy};

/// The log's origin (and key name) when a data directory makes its key.
pub const DEFAULT_ORIGIN: &str = "localhost/jointly";

/// Settings of the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// Forbid every script on every answer (`script-src 'none'`). Off by
    /// default only so that accessibility checkers which inject a script
    /// into the pages keep working; see docs/RELIABILITY.md.
    pub no_scripts: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            no_scripts: false,
        }
    }
}

/// Counters for /metrics.
#[derive(Default)]
pub struct Metrics {
    appends: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    /// Cumulative counts of append latencies under each bound (ms).
    latency_buckets: [AtomicU64; LATENCY_BOUNDS_MS.len()],
    latency_sum_us: AtomicU64,
}

const LATENCY_BOUNDS_MS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

impl Metrics {
    fn observe(&self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        for (bound, bucket) in LATENCY_BOUNDS_MS.iter().zip(&self.latency_buckets) {
            if ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }
}

struct Inner {
    ledger: Ledger,
    sequencer: Sequencer<Refusal>,
    tokens: TokenStore,
    idempotency: SideTable,
    /// The projections' model, caught up from the log when read.
    model: Mutex<Model>,
    metrics: Metrics,
    /// Tells streams that the log grew.
    appended: tokio::sync::watch::Sender<u64>,
    /// (records, Unix seconds) of the last full verification that passed.
    last_verified: Mutex<(u64, u64)>,
    /// Signs checkpoints as the log grows (from the writer, once a batch).
    notary: Arc<crate::ledger::notary::Notary>,
    /// The size of each newly signed checkpoint, for the witnessing task.
    signed: tokio::sync::watch::Sender<u64>,
    /// The witnesses and how many must cosign (none configured: empty).
    witnesses: Arc<WitnessPolicy>,
    /// The latest checkpoint that meets the witness policy.
    cosigned: tokio::sync::watch::Sender<Option<Cosigned>>,
    /// Names, contact details and equality answers, apart from the log.
    people: crate::people::People,
    /// Counts under this are published as "fewer than k".
    k: u64,
    /// The web pages' sessions and sign-in attempts.
    web: web::WebState,
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Opens the API over a ledger, starting its writer with the rules.
    pub fn new(ledger: Ledger) -> Result<Self, crate::ledger::LedgerError> {
        Self::with_witnesses(ledger, WitnessPolicy::default())
    }

    /// [`new`](Self::new), with witnesses to cosign each checkpoint
    /// (started by [`serve`](serve::serve), or [`start_witnessing`](Self::start_witnessing)).
    pub fn with_witnesses(
        ledger: Ledger,
        witnesses: WitnessPolicy,
    ) -> Result<Self, crate::ledger::LedgerError> {
        let people = crate::people::People::open(ledger.store().dir()).map_err(|e| {
            crate::ledger::LedgerError::Corrupt {
                seq: 0,
                what: e.to_string(),
            }
        })?;
        // An erasure a crash interrupted is finished before anything is read.
        crate::coproduction::privacy::resume(&ledger, &people, |event| {
            let mut rules = Rules::new(ledger.clone()).map_err(|e| e.to_string())?;
            match ledger.append_admitted(vec![event], &mut rules) {
                Ok(mut a) => match a.pop() {
                    Some(Ok(a)) => Ok(a.seq),
                    Some(Err(r)) => Err(r.message),
                    None => Err("nothing appended".into()),
                },
                Err(e) => Err(e.to_string()),
            }
        })
        .map_err(|e| crate::ledger::LedgerError::Corrupt {
            seq: 0,
            what: format!("an interrupted erasure could not be finished: {e}"),
        })?;
        let rules = Rules::new(ledger.clone())?;
        let model = rules.model().clone();
        let notary = crate::ledger::notary::Notary::open(&ledger, DEFAULT_ORIGIN).map_err(|e| {
            crate::ledger::LedgerError::Corrupt {
                seq: 0,
                what: e.to_string(),
            }
        })?;
        // A store whose history no longer matches what it signed is refused.
        notary
            .sign_head(&ledger)
            .map_err(|e| crate::ledger::LedgerError::Corrupt {
                seq: 0,
                what: e.to_string(),
            })?;
        let notary = Arc::new(notary);
        let signer = notary.clone();
        let (signed, _) = tokio::sync::watch::channel(ledger.head().size);
        let tell = signed.clone();
        let after_commit = Box::new(move |ledger: &Ledger| {
            // A refusal here means the store was rewritten under us; the
            // records stay written, and readers keep the last good checkpoint.
            match signer.sign_head(ledger) {
                Ok(_) => {
                    tell.send_replace(ledger.head().size);
                }
                Err(e) => eprintln!("jointly: {e}"),
            }
        });
        let sequencer = Sequencer::start_with_after(ledger.clone(), rules, after_commit);
        let tokens = TokenStore::open(&ledger)?;
        let idempotency = ledger.store().side_table("idempotency")?;
        let settled = settle_interrupted_keys(&ledger, &idempotency)?;
        if settled > 0 {
            eprintln!("settled {settled} Idempotency-Keys whose request a restart cut off");
        }
        let (appended, _) = tokio::sync::watch::channel(ledger.head().size);
        Ok(AppState(Arc::new(Inner {
            ledger,
            sequencer,
            tokens,
            idempotency,
            model: Mutex::new(model),
            metrics: Metrics::default(),
            appended,
            last_verified: Mutex::new((0, 0)),
            notary,
            signed,
            witnesses: Arc::new(witnesses),
            cosigned: tokio::sync::watch::channel(None).0,
            people,
            k: 5,
            web: web::WebState::default(),
        })))
    }

    /// Verifies the whole log (reading only; appends go on) and records the
    /// result for /metrics. A failure is returned, and logged by the caller.
    pub fn verify_now(&self) -> Result<u64, String> {
        let v = crate::ledger::verify::verify_full(&self.0.ledger, &mut |_| {})
            .map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Ok(mut l) = self.0.last_verified.lock() {
            *l = (v.size, now);
        }
        Ok(v.size)
    }

    /// Starts the task that submits each new checkpoint to the witnesses
    /// (nothing to do without witnesses). Needs a Tokio runtime.
    pub fn start_witnessing(&self) {
        if self.0.witnesses.is_empty() {
            return;
        }
        tokio::spawn(witnessing::run(
            self.0.ledger.clone(),
            self.0.notary.clone(),
            self.0.witnesses.clone(),
            self.0.signed.subscribe(),
            self.0.cosigned.clone(),
        ));
    }

    pub fn tokens(&self) -> &TokenStore {
        &self.0.tokens
    }

    /// Stops the writer after the queued appends (call after the server stops).
    pub async fn shutdown(&self) {
        self.0.sequencer.clone().stop().await;
    }

    fn model(&self) -> Result<std::sync::MutexGuard<'_, Model>, AppError> {
        let mut m = self
            .0
            .model
            .lock()
            .map_err(|_| AppError::internal("model lock"))?;
        catch_up(&self.0.ledger, &mut m).map_err(AppError::internal)?;
        Ok(m)
    }
}

/// The token that signed the request.
pub struct Caller(pub TokenInfo);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(AppError::unauthorized)?;
        match state.0.tokens.authenticate(secret.trim()) {
            Ok(Some(info)) => Ok(Caller(info)),
            Ok(None) => Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "this token is not known or was revoked",
            )),
            Err(e) => Err(AppError::internal(e)),
        }
    }
}

impl Caller {
    fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            let role = format!("{:?}", self.0.role).to_lowercase();
            let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            Err(AppError::forbidden(format!(
                "{article} {role} token may not do this"
            )))
        }
    }

    /// Which projects this caller may read: all, or a partner's own.
    fn scope(&self, model: &Model) -> Option<std::collections::BTreeSet<ProjectId>> {
        match (self.0.role, self.0.participant) {
            (Role::Partner, Some(p)) => Some(model.projects_of(&p)),
            _ => None,
        }
    }
}

/// An event to append.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// The event type, e.g. `decision.made`, or `x.…` for your own.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's payload (see schemas/ for each type).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Optimistic concurrency: the sequence number of the last record of
    /// the event's project that you read; 409 if the project has moved on.
    pub expected_last_seq: Option<u64>,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Wait {
    /// Answer once witnesses have cosigned a checkpoint that holds the event.
    Cosigned,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AppendQuery {
    /// `cosigned`: wait (up to the server's limit) for the witnesses.
    wait: Option<Wait>,
}

/// The answer to an append, once it is on disk.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppendResponse {
    pub seq: u64,
    pub id: String,
    pub hash: String,
}

#[utoipa::path(post, path = "/v1/events", request_body = AppendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Send the same key to retry safely"), AppendQuery),
    responses((status = 201, body = AppendResponse), (status = 400, body = error::Problem),
        (status = 401, body = error::Problem), (status = 403, body = error::Problem),
        (status = 409, body = error::Problem), (status = 413, body = error::Problem),
        (status = 422, body = error::Problem)),
    security(("bearer" = [])))]
async fn append(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AppendQuery>,
    ApiJson(req): ApiJson<AppendRequest>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Staff, Role::Partner])?;
    let wait_cosigned = q.wait == Some(Wait::Cosigned);
    if wait_cosigned && state.0.witnesses.is_empty() {
        return Err(AppError::bad_request(
            "wait=cosigned needs witnesses, and this server has none configured",
        )
        .at("/wait"));
    }
    let event_type = EventType::new(&req.event_type)
        .map_err(|e| AppError::bad_request(e.to_string()).at("/type"))?;
    if crate::coproduction::privacy::DELETING_TYPES.contains(&event_type.as_str()) {
        // These delete bytes on disk; they come only from the erasure paths.
        return Err(AppError::unprocessable(format!(
            "{} is written by erasure itself: use POST /v1/erasures (or `jointly erase`, `jointly retention run`)",
            event_type.as_str()
        ))
        .at("/type"));
    }
    if caller.0.role == Role::Partner
        && crate::coproduction::events::is_extension(event_type.as_str())
    {
        return Err(AppError::forbidden(
            "partners record only the partner events",
        ));
    }
    let payload = CanonicalPayload::from_value(&req.payload)
        .map_err(|e| AppError::bad_request(e.to_string()).at("/payload"))?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    AppError::bad_request("Idempotency-Key must be 1 to 200 visible characters")
                })?;
            Some(format!("{}/{k}", caller.0.id))
        }
    };
    let fingerprint = request_fingerprint(
        event_type.as_str(),
        payload.as_bytes(),
        req.expected_last_seq,
    );
    if let Some(k) = &key {
        // Where to look after a crash, to learn whether it was recorded.
        let pending = marker(
            &fingerprint,
            state.0.ledger.head().size,
            &caller,
            req.expected_last_seq,
            Value::Null,
        );
        let existing = state
            .0
            .idempotency
            .put_new(k.as_bytes(), &serde_json::to_vec(&pending).expect("json"))
            .map_err(AppError::internal)?;
        if let Some(bytes) = existing {
            let seen: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if seen["body"] != fingerprint.as_str() {
                return Err(AppError::conflict(
                    "this Idempotency-Key was used with another request; use a new key",
                ));
            }
            if seen["answer"].is_null() {
                return Err(AppError::conflict(
                    "a request with this Idempotency-Key is still being answered; try again",
                ));
            }
            return Ok((StatusCode::CREATED, Json(seen["answer"].clone())).into_response());
        }
    }
    let started = Instant::now();
    let result = state
        .0
        .sequencer
        .append(NewEvent {
            expected: req.expected_last_seq,
            event_type,
            actor: caller.0.actor(),
            payload,
        })
        .await;
    state.0.metrics.observe(started.elapsed());
    let appended = match result {
        Ok(a) => a,
        Err(e) => {
            if let Some(k) = &key {
                let _ = state.0.idempotency.remove(k.as_bytes());
            }
            return Err(match e {
                AppendError::Refused(r) => {
                    state.0.metrics.refused.fetch_add(1, Ordering::Relaxed);
                    refusal(r)
                }
                AppendError::Failed(e) => {
                    state.0.metrics.failed.fetch_add(1, Ordering::Relaxed);
                    AppError::unavailable(e)
                }
                AppendError::Stopped => AppError::unavailable("the server is stopping"),
            });
        }
    };
    state.0.metrics.appends.fetch_add(1, Ordering::Relaxed);
    state.0.appended.send_replace(appended.seq + 1);
    let mut answer = json!({"seq": appended.seq, "id": appended.id, "hash": appended.hash,
        "receipt": format!("/v1/events/{}/receipt", appended.seq)});
    if wait_cosigned {
        let mut rx = state.0.cosigned.subscribe();
        let covered = tokio::time::timeout(
            state.0.witnesses.wait,
            rx.wait_for(|c| c.as_ref().is_some_and(|c| c.size > appended.seq)),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        answer["cosigned"] = json!(covered);
        if covered {
            answer["receipt"] = json!(format!(
                "/v1/events/{}/receipt?checkpoint=cosigned",
                appended.seq
            ));
        } else {
            // The record is durable either way; only the witnesses are slow.
            answer["note"] = json!(format!(
                "recorded, but the witnesses did not cosign within {} s; the receipt URL gives the signed checkpoint now, and ?checkpoint=cosigned once they do",
                state.0.witnesses.wait.as_secs()
            ));
        }
    }
    if let Some(k) = &key {
        let from = appended.seq;
        let done = marker(
            &fingerprint,
            from,
            &caller,
            req.expected_last_seq,
            answer.clone(),
        );
        state
            .0
            .idempotency
            .put(k.as_bytes(), &serde_json::to_vec(&done).expect("json"))
            .map_err(AppError::internal)?;
    }
    let mut resp = (StatusCode::CREATED, Json(answer)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/events/{}", appended.seq)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// What an Idempotency-Key holds: the request's fingerprint, where in the
/// log to look for its record after a crash, and the answer once given.
fn marker(
    fingerprint: &str,
    from: u64,
    caller: &Caller,
    expected: Option<u64>,
    answer: Value,
) -> Value {
    json!({"body": fingerprint, "answer": answer, "from": from,
        "actor": caller.0.actor().as_str(), "expected": expected})
}

/// What identifies a request for its Idempotency-Key: its type, canonical
/// payload and expected sequence number.
fn request_fingerprint(event_type: &str, payload: &[u8], expected: Option<u64>) -> String {
    let mut h = Sha256::new();
    h.update(event_type.as_bytes());
    h.update([0]);
    h.update(payload);
    h.update(format!("{expected:?}").as_bytes());
    hex::encode(h.finalize())
}

/// After a crash, settles the Idempotency-Keys whose request was cut off:
/// if the log holds the record (by the same actor, with the same request,
/// written after the key was taken), the key answers with it; otherwise the
/// key is released so a retry appends. Runs before the server takes requests.
fn settle_interrupted_keys(
    ledger: &Ledger,
    table: &SideTable,
) -> Result<u64, crate::ledger::LedgerError> {
    let mut settled = 0;
    for (k, v) in table.scan_prefix(b"")? {
        let Ok(mut seen) = serde_json::from_slice::<Value>(&v) else {
            continue;
        };
        if !seen["answer"].is_null() {
            continue;
        }
        let from = seen["from"].as_u64();
        let expected = seen["expected"].as_u64();
        let mut found = None;
        if let (Some(from), Some(actor), Some(body)) =
            (from, seen["actor"].as_str(), seen["body"].as_str())
        {
            let mut next = from;
            'scan: loop {
                let page = ledger.range(next, 1024)?;
                if page.is_empty() {
                    break;
                }
                for ev in &page {
                    let same = ev.record.actor().as_str() == actor
                        && ev.payload.as_ref().is_some_and(|p| {
                            request_fingerprint(
                                ev.record.event_type().as_str(),
                                p.as_bytes(),
                                expected,
                            ) == body
                        });
                    if same {
                        found = Some((ev.record.seq(), ev.record.id(), ev.hash));
                        break 'scan;
                    }
                }
                next += page.len() as u64;
            }
        }
        match found {
            Some((seq, id, hash)) => {
                seen["answer"] = json!({"seq": seq, "id": id, "hash": hash,
                    "receipt": format!("/v1/events/{seq}/receipt")});
                table.put(&k, &serde_json::to_vec(&seen).expect("json"))?;
            }
            None => table.remove(&k)?,
        }
        settled += 1;
    }
    Ok(settled)
}

/// A refusal by the rules: 403 for who may write what, 422 otherwise.
fn refusal(r: Refusal) -> AppError {
    if r.pointer == "/expected_last_seq" {
        return AppError::conflict(r.message).at(r.pointer);
    }
    let status = if r.message.starts_with("your role may not")
        || r.message.starts_with("only someone who took part")
        || r.message.starts_with("you can")
    {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let pointer = if r.pointer.is_empty() {
        "/payload".to_string()
    } else {
        format!("/payload{}", r.pointer)
    };
    AppError::new(status, r.message).at(pointer)
}

fn event_json(ev: &StoredEvent) -> Value {
    json!({
        "seq": ev.record.seq(),
        "record": ev.record,
        "hash": ev.hash,
        "payload": ev.payload.as_ref().map(CanonicalPayload::to_value),
    })
}

/// May this caller see this stored event?
fn visible(
    scope: &Option<std::collections::BTreeSet<ProjectId>>,
    model: &Model,
    ev: &StoredEvent,
) -> bool {
    let Some(projects) = scope else { return true };
    match read_event(&ev.record, ev.payload.as_ref()) {
        Ok(Some(e)) => model.project_of(&e).is_some_and(|p| projects.contains(&p)),
        _ => false,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Return events after this sequence number (the `next` of the last page).
    after: Option<u64>,
    /// At most this many events (1 to 1000, default 100).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/events", params(Page),
    responses((status = 200, description = "A page of events and the cursor for the next", body = Object),
        (status = 400, body = error::Problem), (status = 401, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, AppError> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::bad_request("limit must be between 1 and 1000"));
    }
    let model = state.model()?;
    let scope = caller.scope(&model);
    let mut next = page.after.map_or(0, |a| a + 1);
    let mut out = Vec::new();
    let head = state.0.ledger.head().size;
    while out.len() < limit && next < head {
        let batch = state
            .0
            .ledger
            .range(next, (limit - out.len()).max(256))
            .map_err(AppError::internal)?;
        if batch.is_empty() {
            break;
        }
        for ev in &batch {
            next = ev.record.seq() + 1;
            if visible(&scope, &model, ev) {
                out.push(event_json(ev));
                if out.len() == limit {
                    break;
                }
            }
        }
    }
    let more = next < state.0.ledger.head().size;
    Ok(Json(json!({
        "events": out,
        "next": if more { Some(next - 1) } else { None },
    })))
}

fn one_event(
    state: &AppState,
    caller: &Caller,
    ev: Option<StoredEvent>,
) -> Result<Json<Value>, AppError> {
    let ev = ev.ok_or_else(|| AppError::not_found("there is no such event"))?;
    let model = state.model()?;
    if !visible(&caller.scope(&model), &model, &ev) {
        return Err(AppError::not_found("there is no such event"));
    }
    Ok(Json(event_json(&ev)))
}

#[utoipa::path(get, path = "/v1/events/{seq}", params(("seq" = u64, Path, description = "Sequence number")),
    responses((status = 200, body = Object), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(seq): ApiPath<u64>,
) -> Result<Json<Value>, AppError> {
    let ev = state.0.ledger.get(seq).map_err(AppError::internal)?;
    one_event(&state, &caller, ev)
}

#[utoipa::path(get, path = "/v1/events/by-id/{id}", params(("id" = String, Path, description = "Event id (UUID)")),
    responses((status = 200, body = Object), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_event_by_id(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Value>, AppError> {
    let ev = state.0.ledger.get_by_id(&id).map_err(AppError::internal)?;
    one_event(&state, &caller, ev)
}

#[utoipa::path(get, path = "/v1/projects",
    responses((status = 200, description = "The projects this caller may read", body = Vec<Object>), (status = 401, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, AppError> {
    let model = state.model()?;
    let scope = caller.scope(&model);
    let projects: Vec<Value> = model
        .projects
        .values()
        .filter(|p| scope.as_ref().is_none_or(|s| s.contains(&p.id)))
        .map(|p| {
            json!({"project_id": p.id, "title": p.title, "involvement": p.involvement,
                   "stage": p.stage, "started": p.started_at.to_string()})
        })
        .collect();
    Ok(Json(Value::Array(projects)))
}

fn project_id(text: &str) -> Result<ProjectId, AppError> {
    serde_json::from_value(Value::String(text.into()))
        .map_err(|e| AppError::bad_request(format!("project id: {e}")))
}

#[utoipa::path(get, path = "/v1/projects/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, AppError> {
    let id = project_id(&id)?;
    let model = state.model()?;
    let scope = caller.scope(&model);
    let p = model
        .projects
        .get(&id)
        .filter(|_| scope.as_ref().is_none_or(|s| s.contains(&id)))
        .ok_or_else(|| AppError::not_found("there is no such project"))?;
    let partners = p
        .members
        .values()
        .filter(|m| m.role == crate::coproduction::values::Role::Partner && m.active)
        .count();
    Ok(Json(json!({
        "project_id": p.id, "title": p.title, "summary": p.summary,
        "involvement": p.involvement, "stage": p.stage, "started": p.started_at.to_string(),
        "aims": p.aims, "meetings": p.meetings.len(), "proposals": p.proposals.len(),
        "decisions": p.decisions.len(), "actions": p.actions.len(),
        "last_seq": p.last_seq,
        "partners": crate::coproduction::report::suppress(&[partners as u64], 5).1,
    })))
}

/// The five projections, by name.
#[derive(Deserialize, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    YouSaidWeDid,
    Jointness,
    Tokenism,
    Presence,
    Impact,
    All,
}

fn section(report: Report, s: Section) -> Value {
    let all = serde_json::to_value(&report).expect("reports serialise");
    let key = match s {
        Section::YouSaidWeDid => "you_said_we_did",
        Section::Jointness => "jointness",
        Section::Tokenism => "tokenism",
        Section::Presence => "presence",
        Section::Impact => "impact",
        Section::All => return all,
    };
    json!({"as_of": all["as_of"], "last_seq": all["last_seq"], key: all[key]})
}

#[utoipa::path(get, path = "/v1/projections/{section}",
    params(("section" = Section, Path, description = "you-said-we-did, jointness, tokenism, presence, impact or all")),
    responses((status = 200, body = Object), (status = 400, body = error::Problem)),
    security(("bearer" = [])))]
async fn projection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(s): ApiPath<Section>,
) -> Result<Json<Value>, AppError> {
    let model = state.model()?;
    let scope = caller.scope(&model);
    let report = Report::build_for(
        &model,
        &|id| scope.as_ref().is_none_or(|sc| sc.contains(id)),
        Settings::today(),
    );
    Ok(Json(section(report, s)))
}

#[utoipa::path(get, path = "/v1/projects/{id}/projections/{section}",
    params(("id" = String, Path), ("section" = Section, Path)),
    responses((status = 200, body = Object), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn project_projection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, s)): ApiPath<(String, Section)>,
) -> Result<Json<Value>, AppError> {
    let id = project_id(&id)?;
    let model = state.model()?;
    let scope = caller.scope(&model);
    if !model.projects.contains_key(&id) || scope.as_ref().is_some_and(|sc| !sc.contains(&id)) {
        return Err(AppError::not_found("there is no such project"));
    }
    Ok(Json(section(
        Report::build(&model, Some(id), Settings::today()),
        s,
    )))
}

#[utoipa::path(get, path = "/v1/stream",
    params(("after" = Option<u64>, Query, description = "Start after this sequence number (or send Last-Event-ID)")),
    responses((status = 200, description = "Server-Sent Events: one per record, id = sequence number", content_type = "text/event-stream")),
    security(("bearer" = [])))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, AppError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| AppError::bad_request("Last-Event-ID must be a sequence number"))
        })
        .transpose()?;
    let start = resume.or(page.after).map_or(0, |a| a + 1);
    let rx = state.0.appended.subscribe();
    let stream = futures_util::stream::unfold(
        (state, caller, start, rx, std::collections::VecDeque::new()),
        |(state, caller, mut next, mut rx, mut queue)| async move {
            loop {
                if let Some(ev) = queue.pop_front() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (state, caller, next, rx, queue),
                    ));
                }
                let page = state.0.ledger.range(next, 256).ok()?;
                if page.is_empty() {
                    // Wait for the log to grow (or keep the connection alive).
                    let _ = tokio::time::timeout(Duration::from_secs(15), rx.changed()).await;
                    continue;
                }
                let model = state.model().ok()?;
                let scope = caller.scope(&model);
                for ev in &page {
                    next = ev.record.seq() + 1;
                    if visible(&scope, &model, ev) {
                        queue.push_back(
                            SseEvent::default()
                                .id(ev.record.seq().to_string())
                                .event("record")
                                .data(event_json(ev).to_string()),
                        );
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Which checkpoint a reader asks for.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    /// The newest signed checkpoint, with any witness cosignatures it has.
    #[default]
    Latest,
    /// The newest checkpoint that enough witnesses have cosigned.
    Cosigned,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// `latest` (the default) or `cosigned`.
    checkpoint: Option<Which>,
}

impl AppState {
    /// (size, signed note) of the checkpoint asked for.
    fn checkpoint_note(&self, which: Which) -> Result<(u64, String), AppError> {
        let cosigned = self.0.cosigned.borrow().clone();
        match which {
            Which::Latest => {
                let (cp, note) = self
                    .0
                    .notary
                    .latest()
                    .ok_or_else(|| AppError::not_yet("there is no signed checkpoint yet"))?;
                // The same checkpoint with its witnesses' lines, once they came.
                Ok(match cosigned {
                    Some(c) if c.size == cp.size => (c.size, c.note),
                    _ => (cp.size, note),
                })
            }
            Which::Cosigned => {
                if self.0.witnesses.is_empty() {
                    return Err(AppError::not_found(
                        "this server has no witnesses configured, so nothing is cosigned",
                    ));
                }
                cosigned.map(|c| (c.size, c.note)).ok_or_else(|| {
                    AppError::not_yet("the witnesses have not cosigned a checkpoint yet")
                })
            }
        }
    }
}

#[utoipa::path(get, path = "/v1/checkpoint", params(CheckpointQuery),
    responses((status = 200, description = "The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), with any witness cosignatures", content_type = "text/plain"),
        (status = 404, body = error::Problem), (status = 503, body = error::Problem)))]
async fn checkpoint(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CheckpointQuery>,
) -> Result<Response, AppError> {
    let (_, note) = state.checkpoint_note(q.checkpoint.unwrap_or_default())?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[utoipa::path(get, path = "/v1/events/{seq}/receipt", params(("seq" = u64, Path), CheckpointQuery),
    responses((status = 200, description = "A C2SP tlog-proof: the record, its inclusion proof and the signed checkpoint", content_type = "text/plain"),
        (status = 404, body = error::Problem), (status = 503, body = error::Problem)))]
async fn receipt(
    State(state): State<AppState>,
    ApiPath(seq): ApiPath<u64>,
    ApiQuery(q): ApiQuery<CheckpointQuery>,
) -> Result<Response, AppError> {
    let (size, note) = state.checkpoint_note(q.checkpoint.unwrap_or_default())?;
    if seq >= size {
        return Err(AppError::not_found(
            "there is no such event in that checkpoint yet",
        ));
    }
    let entry = state
        .0
        .ledger
        .store()
        .read(seq)
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::not_found("there is no such event"))?;
    let proof = state
        .0
        .ledger
        .inclusion_proof(seq, size)
        .map_err(AppError::internal)?;
    let r = crate::ledger::receipt::Receipt {
        record: entry.record,
        index: seq,
        proof,
        checkpoint: note,
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        r.to_text(),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

/// Proof hashes, one base64 line each (as in C2SP tlog-proof).
fn proof_lines(proof: &[crate::ledger::Digest]) -> Response {
    let text: String = proof
        .iter()
        .map(|h| format!("{}\n", h.to_base64()))
        .collect();
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

#[utoipa::path(get, path = "/v1/proof/consistency", params(ConsistencyQuery),
    responses((status = 200, description = "RFC 9162 consistency proof, one base64 hash a line", content_type = "text/plain"),
        (status = 400, body = error::Problem)))]
async fn consistency_proof(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Response, AppError> {
    let proof = state
        .0
        .ledger
        .consistency_proof(q.from, q.to)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    Ok(proof_lines(&proof))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    size: u64,
}

#[utoipa::path(get, path = "/v1/proof/inclusion", params(InclusionQuery),
    responses((status = 200, description = "RFC 9162 inclusion proof, one base64 hash a line", content_type = "text/plain"),
        (status = 400, body = error::Problem)))]
async fn inclusion_proof(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Response, AppError> {
    let proof = state
        .0
        .ledger
        .inclusion_proof(q.seq, q.size)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    Ok(proof_lines(&proof))
}

#[utoipa::path(get, path = "/v1/records", params(Page),
    responses((status = 200, description = "Record envelopes (no payloads): one canonical record a line, for public audit", content_type = "application/jsonl"),
        (status = 400, body = error::Problem)))]
async fn public_records(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, AppError> {
    let limit = page.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(AppError::bad_request("limit must be between 1 and 10000"));
    }
    let from = page.after.map_or(0, |a| a + 1);
    let mut text = String::new();
    for seq in from..(from + limit as u64).min(state.0.ledger.head().size) {
        let entry = state
            .0
            .ledger
            .store()
            .read(seq)
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::internal("record missing"))?;
        text.push_str(&String::from_utf8_lossy(&entry.record));
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], text).into_response())
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Object)))]
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "records": state.0.ledger.head().size}))
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.0.metrics;
    let head = state.0.ledger.head().size;
    let applied = state
        .0
        .model
        .lock()
        .ok()
        .and_then(|m| m.last_seq)
        .map_or(0, |s| s + 1);
    let mut t = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "# HELP jointly_appends_total Events appended through the API.\n# TYPE jointly_appends_total counter\njointly_appends_total {}",
        m.appends.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        t,
        "# HELP jointly_appends_refused_total Events the rules refused.\n# TYPE jointly_appends_refused_total counter\njointly_appends_refused_total {}",
        m.refused.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        t,
        "# HELP jointly_appends_failed_total Appends that failed to be written.\n# TYPE jointly_appends_failed_total counter\njointly_appends_failed_total {}",
        m.failed.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        t,
        "# HELP jointly_append_latency_seconds Time from request to durable answer.\n# TYPE jointly_append_latency_seconds histogram"
    );
    let count = m.appends.load(Ordering::Relaxed)
        + m.refused.load(Ordering::Relaxed)
        + m.failed.load(Ordering::Relaxed);
    for (bound, bucket) in LATENCY_BOUNDS_MS.iter().zip(&m.latency_buckets) {
        let _ = writeln!(
            t,
            "jointly_append_latency_seconds_bucket{{le=\"{}\"}} {}",
            bound / 1000.0,
            bucket.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        t,
        "jointly_append_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        t,
        "jointly_append_latency_seconds_sum {}",
        m.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(t, "jointly_append_latency_seconds_count {count}");
    let st = state.0.sequencer.stats();
    let _ = writeln!(
        t,
        "# HELP jointly_batches_total Batches written by the single writer (each one flush to disk).\n# TYPE jointly_batches_total counter\njointly_batches_total {}",
        st.batches.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        t,
        "# HELP jointly_batched_events_total Events offered in those batches; divide by batches for the mean batch size.\n# TYPE jointly_batched_events_total counter\njointly_batched_events_total {}",
        st.events.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        t,
        "# HELP jointly_batch_size_max The largest batch so far.\n# TYPE jointly_batch_size_max gauge\njointly_batch_size_max {}",
        st.largest.load(Ordering::Relaxed)
    );
    let (verified_size, verified_at) = state.0.last_verified.lock().map(|l| *l).unwrap_or((0, 0));
    let _ = writeln!(
        t,
        "# HELP jointly_last_verified_records Records covered by the server's last full verification (0: none yet).\n# TYPE jointly_last_verified_records gauge\njointly_last_verified_records {verified_size}"
    );
    let _ = writeln!(
        t,
        "# HELP jointly_last_verified_timestamp_seconds When it finished (Unix time; 0: none yet).\n# TYPE jointly_last_verified_timestamp_seconds gauge\njointly_last_verified_timestamp_seconds {verified_at}"
    );
    let _ = writeln!(
        t,
        "# HELP jointly_records Records in the log.\n# TYPE jointly_records gauge\njointly_records {head}"
    );
    let _ = writeln!(
        t,
        "# HELP jointly_projection_lag_records Records not yet applied to the projections.\n# TYPE jointly_projection_lag_records gauge\njointly_projection_lag_records {}",
        head.saturating_sub(applied)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t).into_response()
}

/// A new token's request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub role: Role,
    pub name: String,
    /// For partner (required) and staff (optional) tokens.
    pub participant: Option<String>,
}

#[utoipa::path(post, path = "/v1/tokens", request_body = TokenRequest,
    responses((status = 201, description = "The token, shown once", body = Object), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin])?;
    let participant = req
        .participant
        .map(|p| serde_json::from_value(Value::String(p)))
        .transpose()
        .map_err(|e| AppError::bad_request(format!("participant: {e}")).at("/participant"))?;
    let (secret, info) = state
        .0
        .tokens
        .create(req.role, &req.name, participant)
        .map_err(|e| match e {
            tokens::TokenError::BadInput(m) => AppError::bad_request(m),
            other => AppError::internal(other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": secret, "info": info})),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/tokens",
    responses((status = 200, body = [TokenInfo]), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, AppError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(state.0.tokens.list().map_err(AppError::internal)?))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", params(("id" = String, Path)),
    responses((status = 200, body = TokenInfo), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenInfo>, AppError> {
    caller.require(&[Role::Admin])?;
    state.0.tokens.revoke(&id).map(Json).map_err(|e| match e {
        tokens::TokenError::NotFound(_) => AppError::not_found(e.to_string()),
        other => AppError::internal(other),
    })
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation can answer with a problem (RFC 9457) for the errors any
/// request can meet: the document says so once here rather than in each
/// handler, and says the problem's media type exactly.
struct ProblemResponses;

impl utoipa::Modify for ProblemResponses {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build()
        };
        let common = [
            (
                "400",
                "The request is malformed: the problem says what is wrong and where",
            ),
            (
                "401",
                "No credentials, or credentials that are not known or were revoked",
            ),
            ("403", "These credentials may not do this"),
            ("404", "There is no such thing"),
            ("405", "This address does not take this method"),
            ("408", "The request took too long"),
            ("409", "A conflict with the current state"),
            ("413", "The body is too large"),
            ("415", "The body is not JSON"),
            ("422", "The request is well formed but refused by the rules"),
            ("429", "Too many requests"),
            ("500", "Something failed inside the server"),
            (
                "503",
                "The record cannot be written, or the answer does not exist yet",
            ),
        ];
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                for (code, words) in common {
                    let r = op
                        .responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| {
                            RefOr::T(ResponseBuilder::new().description(words).build())
                        });
                    // Errors are problems, whatever a handler's annotation said.
                    if let RefOr::T(resp) = r {
                        resp.content.clear();
                        resp.content
                            .insert("application/problem+json".to_string(), problem());
                    }
                }
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "jointly", description = "A tamper-evident record of co-production."),
    paths(append, list_events, get_event, get_event_by_id, list_projects, get_project,
        projection, project_projection, stream, healthz, metrics, create_token, list_tokens,
        checkpoint, receipt, consistency_proof, inclusion_proof, public_records,
        revoke_token, openapi_json, privacy::add_person, privacy::get_person,
        privacy::put_my_answers, privacy::get_my_answers, privacy::equality_table,
        privacy::erase, privacy::subject_export, privacy::backup),
    components(schemas(Section, Which, Wait)),
    modifiers(&BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document", body = Object)))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> AppError {
    AppError::not_found("there is nothing at this address; see /openapi.json")
}

async fn wrong_method() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this address does not take this method; see /openapi.json",
    )
}

/// Any error response made below us without a problem body (a timeout, a
/// body-limit layer) gets one.
async fn problem_bodies(resp: Response) -> Response {
    // Problems, and the pages' own error pages, are already in words.
    let is_problem = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/problem+json")
            || v.as_bytes().starts_with(b"text/html")
    });
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let detail = match status {
            StatusCode::REQUEST_TIMEOUT => "the request took too long".to_string(),
            StatusCode::PAYLOAD_TOO_LARGE => "the body is too large for this server".to_string(),
            s => format!("the request could not be answered ({s})"),
        };
        return AppError::new(status, detail).into_response();
    }
    resp
}

/// The whole API as a router, for `serve` and for tests (`oneshot`).
pub fn app(state: AppState, config: &Config) -> Router {
    Router::new()
        .route("/v1/events", get(list_events).post(append))
        .route("/v1/events/{seq}", get(get_event))
        .route("/v1/events/by-id/{id}", get(get_event_by_id))
        .route("/v1/projects", get(list_projects))
        .route("/v1/projects/{id}", get(get_project))
        .route("/v1/projections/{section}", get(projection))
        .route(
            "/v1/projects/{id}/projections/{section}",
            get(project_projection),
        )
        .route("/v1/stream", get(stream))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/proof/consistency", get(consistency_proof))
        .route("/v1/proof/inclusion", get(inclusion_proof))
        .route("/v1/records", get(public_records))
        .route("/v1/people", post(privacy::add_person))
        .route("/v1/people/{id}", get(privacy::get_person))
        .route("/v1/people/{id}/export", get(privacy::subject_export))
        .route(
            "/v1/me/equality",
            get(privacy::get_my_answers).put(privacy::put_my_answers),
        )
        .route("/v1/equality", get(privacy::equality_table))
        .route("/v1/erasures", post(privacy::erase))
        .route("/v1/backup", get(privacy::backup))
        .route("/v1/events/{seq}/receipt", get(receipt))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::map_response(problem_bodies))
        .layer(axum::middleware::from_fn({
            let policy = web::content_security_policy(config.no_scripts);
            move |req, next| web::security_headers(policy, req, next)
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .with_state(state)
}
