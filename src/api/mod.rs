//! The HTTP API (axum), one of the core's front doors: staff append,
//! partners take part, auditors read, admins manage tokens. Each handler
//! parses the request, calls one method of the core ([`App`]), and presents
//! what it returns; refusals become problems by their kind (`error`). The
//! OpenAPI document is generated from these handlers.

pub mod answers;
pub mod error;
mod privacy;
pub mod proxy;
mod routine;
pub mod serve;
pub mod tlog;
mod web;

use crate::app::tokens::{Role, TokenInfo};
use crate::app::{App, Caller, Options, ProjectPage, ProjectView, Recorded, Submission, Which};
use crate::coproduction::values::ProjectId;
use crate::ledger::Ledger;
use crate::refusal::Refusal;
use answers::{
    Event, EventPage, Health, NewToken, OrganisationProjection, ProjectProjection, Section,
};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use error::{ApiJson, ApiPath, ApiQuery, AppError};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use utoipa::OpenApi;

pub use crate::app::DEFAULT_ORIGIN;

/// Settings of the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a request may take, its body included, before it is
    /// answered 408. A stream's life is bounded apart ([`Config::stream_life`]).
    pub request_timeout: Duration,
    /// Longest a request head may take to arrive, a kept-alive connection
    /// may sit idle, a body may stall, or an answer may wait to be taken,
    /// before the connection is closed.
    pub header_timeout: Duration,
    /// Most connections open at once from one address, and most requests
    /// in flight from one client. A trusted proxy's connections are not
    /// counted by its address: each of its requests counts for the client
    /// it names.
    pub connections_per_address: usize,
    /// Most connections open at once in all (lowered at start to three
    /// quarters of the file-descriptor limit); past it, new ones wait in
    /// the listen queue. Half of them at most are event streams.
    pub connections: usize,
    /// Most event streams one token holds open at once.
    pub streams_per_token: usize,
    /// Most event streams one client holds open at once, whatever its
    /// tokens (behind a trusted proxy, the client it names).
    pub streams_per_client: usize,
    /// How long an event stream lasts before the server ends it; the
    /// client reconnects with `Last-Event-ID` and goes on where it was. So
    /// no stream holds its place for ever.
    pub stream_life: Duration,
    /// How people reach the server (`https://...` behind a proxy): the
    /// pages' cookies are marked `Secure` when it is https, and "Check this
    /// record" gives it in its commands. Never taken from request headers.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed: only a request from one
    /// of these addresses is taken to come from the address the header
    /// names (for the sign-in, connection and stream limits). Anyone
    /// else's header is ignored.
    pub trusted_proxies: Vec<proxy::ProxyRange>,
    /// When the equality figures are published each day (UTC).
    pub publish_equality_at: time::Time,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(15),
            connections_per_address: 256,
            connections: 4096,
            streams_per_token: 4,
            streams_per_client: 16,
            stream_life: Duration::from_secs(15 * 60),
            public_url: None,
            trusted_proxies: Vec::new(),
            publish_equality_at: time::Time::from_hms(2, 0, 0).expect("a time of day"),
        }
    }
}

/// How many answers of each status the server has given, for `/metrics`.
struct Answers([std::sync::atomic::AtomicU64; 500]);

impl Default for Answers {
    fn default() -> Self {
        Answers(std::array::from_fn(|_| {
            std::sync::atomic::AtomicU64::new(0)
        }))
    }
}

impl Answers {
    fn count(&self, status: StatusCode) {
        if let Some(n) = self.0.get(usize::from(status.as_u16()).saturating_sub(100)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (status, answers so far) for every status given at least once.
    fn given(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .map(|(i, n)| (i + 100, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
    }
}

/// Counts each answer by its status.
async fn count_answers(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    state.0.answers.count(resp.status());
    resp
}

struct Inner {
    app: App,
    answers: Answers,
    /// The web pages' sessions and sign-in attempts (the pages' own state).
    web: web::WebState,
}

/// What the handlers share: the core, and the pages' sessions. Cheap to
/// clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// The API over an open core.
    pub fn with_app(app: App) -> Self {
        AppState(Arc::new(Inner {
            app,
            web: web::WebState::default(),
            answers: Answers::default(),
        }))
    }

    /// Opens the core over a ledger with default options (for tests).
    pub fn new(ledger: Ledger) -> Result<Self, Refusal> {
        Ok(Self::with_app(App::with_ledger(
            ledger,
            Options::default(),
        )?))
    }

    /// The core behind the API.
    pub fn app(&self) -> &App {
        &self.0.app
    }

    /// Stops the writer after the queued appends (call after the server stops).
    pub async fn shutdown(&self) {
        self.0.app.shutdown().await;
    }

    /// Verifies the whole log now (see [`App::verify_now`]).
    pub fn verify_now(&self) -> Result<u64, String> {
        self.0.app.verify_now()
    }
}

/// The caller of a request, from its bearer token.
pub struct Bearer {
    pub caller: Caller,
    pub token: TokenInfo,
    /// The secret itself, kept for a stream to check again as it runs.
    secret: String,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(AppError::unauthorized)?
            .trim()
            .to_string();
        let (caller, token) = state.app().authenticate(&secret).inspect_err(|r| {
            if r.kind() == crate::refusal::Kind::Unauthenticated {
                let client = parts
                    .extensions
                    .get::<web::Settings>()
                    .map(|s| s.client(&parts.extensions, &parts.headers));
                if let Some(client) = client {
                    crate::app::trail::token_refused(client, parts.uri.path());
                }
            }
        })?;
        Ok(Bearer {
            caller,
            token,
            secret,
        })
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
#[into_params(parameter_in = Query)]
pub struct AppendQuery {
    /// `cosigned`: wait (up to the server's limit) for the witnesses.
    wait: Option<Wait>,
}

#[utoipa::path(post, path = "/v1/events", request_body = AppendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Send the same key to retry safely"), AppendQuery),
    responses((status = 201, description = "The record is on disk", body = Recorded,
        headers(("Location" = String, description = "The event's address"))), (status = 400, body = error::Problem),
        (status = 401, body = error::Problem), (status = 403, body = error::Problem),
        (status = 409, body = error::Problem), (status = 413, body = error::Problem),
        (status = 422, body = error::Problem),
        (status = 429, description = "This token sent too many too fast; nothing was written", body = error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait before sending again")))),
    security(("bearer" = [])))]
async fn append(
    State(state): State<AppState>,
    who: Bearer,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AppendQuery>,
    ApiJson(req): ApiJson<AppendRequest>,
) -> Result<Response, AppError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    Refusal::malformed("Idempotency-Key must be 1 to 200 visible characters")
                })?
                .to_string(),
        ),
    };
    let submission = Submission {
        event_type: req.event_type,
        payload: crate::app::payload(&req.payload)?,
        expected_last_seq: req.expected_last_seq,
        idempotency_key,
        wait_cosigned: q.wait == Some(Wait::Cosigned),
    };
    let recorded = state.app().append(&who.caller, submission).await?;
    let mut resp = (StatusCode::CREATED, Json(&recorded)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/events/{}", recorded.seq)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// A response with an RFC 8288 `Link: <...>; rel="next"` header to the
/// next page, when there is one.
fn with_next(body: impl IntoResponse, path: &str, next: Option<String>, limit: usize) -> Response {
    with_next_query(
        body,
        path,
        next.map(|after| format!("after={after}")),
        limit,
    )
}

/// [`with_next`] for a list searched too: `query` is the next page's query
/// (its `after`, and the search), without the limit.
fn with_next_query(
    body: impl IntoResponse,
    path: &str,
    query: Option<String>,
    limit: usize,
) -> Response {
    let mut resp = body.into_response();
    if let Some(query) = query
        && let Ok(v) =
            HeaderValue::from_str(&format!("<{path}?{query}&limit={limit}>; rel=\"next\""))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return events after this sequence number (the `next` of the last page).
    #[param(minimum = 0, maximum = 9007199254740990_u64)]
    after: Option<u64>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Return records after this sequence number (the `after` of the
    /// `Link` header's next page).
    #[param(minimum = 0, maximum = 9007199254740990_u64)]
    after: Option<u64>,
    /// At most this many records (1 to 10000, default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
}

/// Each page's size unless asked otherwise.
const DEFAULT_PAGE: usize = 100;

#[utoipa::path(get, path = "/v1/events", params(Page),
    responses((status = 200, description = "A page of the events this caller may read, and the cursor for the next",
            body = EventPage, headers(("Link" = String, description = "RFC 8288 `<...>; rel=\"next\"`: the address of the next page, when there is one"))),
        (status = 400, body = error::Problem), (status = 401, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_events(
    State(state): State<AppState>,
    who: Bearer,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, AppError> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    let p = state.app().events(&who.caller, page.after, limit)?;
    let next = p.next;
    let body = EventPage {
        events: p.events.iter().map(Event::from).collect(),
        next,
    };
    Ok(with_next(
        Json(body),
        "/v1/events",
        next.map(|n| n.to_string()),
        limit,
    ))
}

#[utoipa::path(get, path = "/v1/events/{seq}", params(("seq" = u64, Path, description = "Sequence number")),
    responses((status = 200, description = "The event", body = Event), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_event(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(seq): ApiPath<u64>,
) -> Result<Json<Event>, AppError> {
    Ok(Json(Event::from(&state.app().event(&who.caller, seq)?)))
}

#[utoipa::path(get, path = "/v1/events/by-id/{id}", params(("id" = String, Path, format = Uuid, description = "Event id (UUID)")),
    responses((status = 200, description = "The event", body = Event), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_event_by_id(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<Event>, AppError> {
    Ok(Json(Event::from(
        &state.app().event_by_id(&who.caller, &id)?,
    )))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectsQuery {
    /// Return projects after this one (the `next` of the last page).
    after: Option<ProjectId>,
    /// At most this many projects (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/projects", params(ProjectsQuery),
    responses((status = 200, description = "A page of the projects this caller may read, in project id order, and the cursor for the next",
            body = ProjectPage, headers(("Link" = String, description = "RFC 8288 `<...>; rel=\"next\"`: the address of the next page, when there is one"))),
        (status = 400, body = error::Problem), (status = 401, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_projects(
    State(state): State<AppState>,
    who: Bearer,
    ApiQuery(q): ApiQuery<ProjectsQuery>,
) -> Result<Response, AppError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    let page = state.app().projects(&who.caller, q.after, limit)?;
    let next = page.next.map(|id| id.to_string());
    Ok(with_next(Json(page), "/v1/projects", next, limit))
}

#[utoipa::path(get, path = "/v1/projects/{id}", params(("id" = String, Path, format = Uuid, description = "Project id (UUID)")),
    responses((status = 200, description = "The project's figures", body = ProjectView), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn get_project(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ProjectView>, AppError> {
    let id = crate::app::project_id(&id, "project id")?;
    Ok(Json(state.app().project(&who.caller, id)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectionQuery {
    /// The rows of projects after this one (the `next` of the last page).
    after: Option<ProjectId>,
    /// The rows of at most this many projects (1 to 100, default 100).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/projections/{section}",
    params(("section" = Section, Path, description = "you-said-we-did, jointness, tokenism, presence, impact or all"), ProjectionQuery),
    responses((status = 200, description = "The section asked for (every section for all) over every project this caller may read: totals over them all, and one page of projects as rows of counts",
            body = OrganisationProjection, headers(("Link" = String, description = "RFC 8288 `<...>; rel=\"next\"`: the address of the next page, when there is one"))),
        (status = 400, body = error::Problem)),
    security(("bearer" = [])))]
async fn projection(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(s): ApiPath<Section>,
    ApiQuery(q): ApiQuery<ProjectionQuery>,
) -> Result<Response, AppError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    let overview = state.app().overview(&who.caller, q.after, limit)?;
    let next = overview.next.map(|id| id.to_string());
    Ok(with_next(
        Json(OrganisationProjection::of(overview, s)),
        &format!("/v1/projections/{}", s.name()),
        next,
        limit,
    ))
}

#[utoipa::path(get, path = "/v1/projects/{id}/projections/{section}",
    params(("id" = String, Path, format = Uuid, description = "Project id (UUID)"),
        ("section" = Section, Path, description = "you-said-we-did, jointness, tokenism, presence, impact or all")),
    responses((status = 200, description = "The section asked for (every section for all) over one project, its lists in full", body = ProjectProjection),
        (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn project_projection(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath((id, s)): ApiPath<(String, Section)>,
) -> Result<Json<ProjectProjection>, AppError> {
    let id = crate::app::project_id(&id, "project id")?;
    Ok(Json(ProjectProjection::of(
        state.app().report(&who.caller, Some(id))?,
        s,
    )))
}

/// Where a request comes from: the socket's peer, or the client a trusted
/// proxy names (`serve::client_address`).
struct Client(std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The settings are always there (`app` puts them in); without
        // them, as without a peer, the unspecified address.
        Ok(Client(
            parts
                .extensions
                .get::<web::Settings>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |s| {
                    s.client(&parts.extensions, &parts.headers)
                }),
        ))
    }
}

/// The open event streams, counted by token, by client and in all: a
/// stream holds a connection for as long as it lasts, so no token or
/// client may hold more than a few, nor streams together more than half
/// the server's connections.
#[derive(Clone)]
struct Streams {
    by_token: serve::Shares<String>,
    by_client: serve::Shares<std::net::IpAddr>,
    all: serve::Shares<()>,
    per_token: usize,
    per_client: usize,
    most: usize,
    life: Duration,
}

/// The places one open stream holds, given back when it ends.
type StreamPlace = (
    serve::Share<String>,
    serve::Share<std::net::IpAddr>,
    serve::Share<()>,
);

impl Streams {
    fn new(config: &Config) -> Self {
        Streams {
            by_token: serve::Shares::default(),
            by_client: serve::Shares::default(),
            all: serve::Shares::default(),
            per_token: config.streams_per_token,
            per_client: config.streams_per_client,
            most: (config.connections / 2).max(1),
            life: config.stream_life,
        }
    }

    /// A place for one more stream of `token`'s from `client`, or why not.
    fn open(&self, token: &str, client: std::net::IpAddr) -> Result<StreamPlace, Refusal> {
        let wait = serve::RETRY_AFTER;
        let token = self
            .by_token
            .take(token.to_string(), self.per_token)
            .ok_or_else(|| {
                Refusal::too_many(format!(
                    "this token has {} event streams open already, the most it may; close one, or resume it with Last-Event-ID once it ends",
                    self.per_token
                ))
                .try_again_in(wait)
            })?;
        let client = self
            .by_client
            .take(client, self.per_client)
            .ok_or_else(|| {
                Refusal::too_many(format!(
                    "your address has {} event streams open already, the most one client may",
                    self.per_client
                ))
                .try_again_in(wait)
            })?;
        let all = self.all.take((), self.most).ok_or_else(|| {
            Refusal::unavailable("the server has as many event streams open as it can hold")
                .try_again_in(wait)
        })?;
        Ok((token, client, all))
    }
}

#[utoipa::path(get, path = "/v1/stream",
    params(("after" = Option<u64>, Query, description = "Start after this sequence number (or send Last-Event-ID)")),
    responses((status = 200, description = "Server-Sent Events: one per record, id = sequence number. The server ends a stream after a while (15 minutes unless configured); reconnect with Last-Event-ID to go on", content_type = "text/event-stream"),
        (status = 429, description = "This token (4 at once) or this client (16) holds as many streams as it may; the answer says when to try again (Retry-After) and closes the connection", body = error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))),
    security(("bearer" = [])))]
async fn stream(
    State(state): State<AppState>,
    axum::Extension(streams): axum::Extension<Streams>,
    Client(client): Client,
    who: Bearer,
    headers: HeaderMap,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, AppError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| Refusal::malformed("Last-Event-ID must be a sequence number"))
        })
        .transpose()?;
    let after = resume.or(page.after);
    crate::app::first_after(after)?;
    // Held by the stream, and given back when it ends, however it ends.
    let place = streams.open(&who.token.id, client)?;
    let ends = tokio::time::Instant::now() + streams.life;
    let rx = (
        state.app().subscribe(),
        state.app().subscribe_credentials(),
        state.app().subscribe_stopping(),
    );
    let stream = futures_util::stream::unfold(
        (
            state,
            who.secret,
            after,
            rx,
            std::collections::VecDeque::new(),
            place,
        ),
        move |(state, secret, mut after, mut rx, mut queue, place)| async move {
            loop {
                // Its life is over: the client resumes from the last event
                // it was sent, so what is still queued is not lost.
                if tokio::time::Instant::now() >= ends {
                    return None;
                }
                if let Some(ev) = queue.pop_front() {
                    // Credentials may have ended since this page was read.
                    if rx.1.has_changed().unwrap_or(true) {
                        rx.1.mark_unchanged();
                        state.app().authenticate(&secret).ok()?;
                    }
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (state, secret, after, rx, queue, place),
                    ));
                }
                // The token is checked again for every page: a revoked or
                // erased token's stream ends at once.
                let (caller, _) = state.app().authenticate(&secret).ok()?;
                let page = state.app().events(&caller, after, 256).ok()?;
                let more = page.next.is_some();
                if page.looked_to.is_some() {
                    after = page.looked_to;
                }
                for ev in &page.events {
                    queue.push_back(
                        SseEvent::default()
                            .id(ev.record.seq().to_string())
                            .event("record")
                            .data(
                                serde_json::to_string(&Event::from(ev)).expect("events serialise"),
                            ),
                    );
                }
                if queue.is_empty() && !more {
                    // Wait for the log to grow, or for credentials to end
                    // somewhere (then check ours at once), or keep alive,
                    // or the stream's end.
                    let closed = tokio::select! {
                        r = rx.0.changed() => r.is_err(),
                        r = rx.1.changed() => r.is_err(),
                        _ = rx.2.changed() => true,
                        () = tokio::time::sleep_until(ends) => true,
                        () = tokio::time::sleep(Duration::from_secs(15)) => false,
                    };
                    if closed {
                        return None; // the server is stopping, or the stream's life is over
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// `latest` (the default) or `cosigned`.
    checkpoint: Option<Which>,
}

#[utoipa::path(get, path = "/v1/checkpoint", params(CheckpointQuery),
    responses((status = 200, description = "The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), with any witness cosignatures", content_type = "text/plain"),
        (status = 404, body = error::Problem), (status = 503, body = error::Problem)))]
async fn checkpoint(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CheckpointQuery>,
) -> Result<Response, AppError> {
    let (_, note) = state.app().checkpoint(q.checkpoint.unwrap_or_default())?;
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
    let text = state.app().receipt(seq, q.checkpoint.unwrap_or_default())?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
    Ok(proof_lines(&state.app().consistency_proof(q.from, q.to)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
    Ok(proof_lines(&state.app().inclusion_proof(q.seq, q.size)?))
}

#[utoipa::path(get, path = "/v1/records", params(RecordsQuery),
    responses((status = 200, description = "Record envelopes (no payloads): one canonical record a line, for public audit",
            content_type = "application/jsonl", headers(("Link" = String, description = "RFC 8288 `<...>; rel=\"next\"`: the address of the next page, when there is one"))),
        (status = 400, body = error::Problem)))]
async fn public_records(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<RecordsQuery>,
) -> Result<Response, AppError> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    let (text, next) = state.app().public_records(page.after, limit)?;
    Ok(with_next(
        ([(header::CONTENT_TYPE, "application/jsonl")], text),
        "/v1/records",
        next.map(|n| n.to_string()),
        limit,
    ))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server is up", body = Health)))]
async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        records: state.app().size(),
    })
}

#[utoipa::path(get, path = "/readyz", responses(
        (status = 200, description = "The server can take appends now", body = answers::Readiness),
        (status = 503, description = "It cannot (the last write failed, the disk is nearly full, or the log failed verification), and why", body = answers::Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let app = state.app();
    let records = app.size();
    let (status, answer) = match app.readiness() {
        Ok(r) => (
            StatusCode::OK,
            answers::Readiness {
                status: "ready".into(),
                reason: None,
                free_bytes: Some(r.free_bytes),
                records,
            },
        ),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            answers::Readiness {
                status: "not ready".into(),
                free_bytes: match &why {
                    crate::app::readiness::NotReady::DiskFull { free, .. } => Some(*free),
                    _ => None,
                },
                reason: Some(why.to_string()),
                records,
            },
        ),
    };
    (status, Json(answer)).into_response()
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format (admins only)", content_type = "text/plain"),
        (status = 401, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
async fn metrics(State(state): State<AppState>, who: Bearer) -> Result<Response, AppError> {
    use std::fmt::Write as _;
    let app = state.app();
    let m = app.metrics_for(&who.caller)?;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# HELP jointly_build_info The version running (always 1).\n# TYPE jointly_build_info gauge\njointly_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let mut counter = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            t,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    counter(
        "jointly_data_disk_free_bytes",
        "gauge",
        "Bytes free on the disk of the data directory (the log only grows; /readyz fails under 8 MiB).",
        app.free_disk_bytes().to_string(),
    );
    counter(
        "jointly_ready",
        "gauge",
        "1 while the server can take appends (what /readyz says), else 0.",
        u8::from(app.readiness().is_ok()).to_string(),
    );
    counter(
        "jointly_appends_total",
        "counter",
        "Events appended, through every front door (API, pages, command line).",
        load(&m.appends).to_string(),
    );
    counter(
        "jointly_appends_refused_total",
        "counter",
        "Events the rules refused.",
        load(&m.refused).to_string(),
    );
    counter(
        "jointly_appends_failed_total",
        "counter",
        "Appends that failed to be written.",
        load(&m.failed).to_string(),
    );
    counter(
        "jointly_appends_limited_total",
        "counter",
        "Appends refused with 429 because their token sent too many too fast (nothing written).",
        load(&m.limited).to_string(),
    );
    let (mail, outbox) = app.mail_stats();
    for (name, kind, help, value) in [
        (
            "jointly_mail_queued",
            "gauge",
            "Emails in the outbox waiting to be sent (as it happens).",
            outbox.queued,
        ),
        (
            "jointly_mail_held_weekly",
            "gauge",
            "Notices held for people's weekly summaries.",
            outbox.weekly,
        ),
        (
            "jointly_mail_failed",
            "gauge",
            "Emails given up and kept in the outbox to be looked at (refused for good, or failing for two days).",
            outbox.failed,
        ),
        (
            "jointly_mail_sent_total",
            "counter",
            "Emails the mail server took since the server started.",
            load(&mail.sent),
        ),
        (
            "jointly_mail_retries_total",
            "counter",
            "Tries that failed and were left to try again (the mail server down or asking to wait).",
            load(&mail.retried),
        ),
        (
            "jointly_mail_given_up_total",
            "counter",
            "Emails given up since the server started.",
            load(&mail.failed),
        ),
    ] {
        counter(name, kind, help, value.to_string());
    }
    let st = app.writer_stats();
    counter(
        "jointly_batches_total",
        "counter",
        "Batches written by the single writer (each one flush to disk).",
        load(&st.batches).to_string(),
    );
    counter(
        "jointly_batched_events_total",
        "counter",
        "Events offered in those batches; divide by batches for the mean batch size.",
        load(&st.events).to_string(),
    );
    counter(
        "jointly_batch_size_max",
        "gauge",
        "The largest batch so far.",
        load(&st.largest).to_string(),
    );
    let (verified_size, verified_at) = app.last_verified();
    counter(
        "jointly_last_verified_records",
        "gauge",
        "Records covered by the server's last full verification (0: none yet).",
        verified_size.to_string(),
    );
    counter(
        "jointly_last_verified_timestamp_seconds",
        "gauge",
        "When it finished (Unix time; 0: none yet).",
        verified_at.to_string(),
    );
    counter(
        "jointly_records",
        "gauge",
        "Records in the log.",
        app.size().to_string(),
    );
    counter(
        "jointly_projection_lag_records",
        "gauge",
        "Records not yet applied to the projections.",
        app.projection_lag().to_string(),
    );
    let (signed, cosigned) = app.checkpoint_sizes();
    counter(
        "jointly_checkpoint_signed_size",
        "gauge",
        "The size of the newest signed checkpoint.",
        signed.to_string(),
    );
    counter(
        "jointly_checkpoint_cosigned_size",
        "gauge",
        "The size of the newest checkpoint the witnesses cosigned (0: none, or no witnesses).",
        cosigned.to_string(),
    );
    counter(
        "jointly_sign_in_lockouts_total",
        "counter",
        "Sign-ins refused because their address gave too many wrong codes in a minute.",
        state.0.web.lockouts().to_string(),
    );
    counter(
        "jointly_people_damaged",
        "gauge",
        "People-store entries that cannot be read (passed over by figures and retention; see the server's log).",
        app.damaged_people().to_string(),
    );
    let _ = writeln!(
        t,
        "# HELP jointly_witness_failures_total Times each witness did not cosign (down, too slow, too large an answer, or a refusal).\n# TYPE jointly_witness_failures_total counter"
    );
    let _ = writeln!(
        t,
        "# HELP jointly_http_responses_total Answers given, by status.\n# TYPE jointly_http_responses_total counter"
    );
    for (status, n) in state.0.answers.given() {
        let _ = writeln!(t, "jointly_http_responses_total{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        t,
        "# HELP jointly_witness_last_cosigned_timestamp_seconds When each witness last cosigned (Unix time).\n# TYPE jointly_witness_last_cosigned_timestamp_seconds gauge"
    );
    for (name, at) in app.witness_last_cosigned() {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            t,
            "jointly_witness_last_cosigned_timestamp_seconds{{witness=\"{name}\"}} {at}"
        );
    }
    for (name, n) in app.witness_failures() {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            t,
            "jointly_witness_failures_total{{witness=\"{name}\"}} {n}"
        );
    }
    let _ = writeln!(
        t,
        "# HELP jointly_append_latency_seconds Time from request to durable answer.\n# TYPE jointly_append_latency_seconds histogram"
    );
    let count = load(&m.appends) + load(&m.refused) + load(&m.failed);
    for (bound, bucket) in crate::app::LATENCY_BOUNDS_MS.iter().zip(&m.latency_buckets) {
        let _ = writeln!(
            t,
            "jointly_append_latency_seconds_bucket{{le=\"{}\"}} {}",
            bound / 1000.0,
            load(bucket)
        );
    }
    let _ = writeln!(
        t,
        "jointly_append_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        t,
        "jointly_append_latency_seconds_sum {}",
        load(&m.latency_sum_us) as f64 / 1e6
    );
    let _ = writeln!(t, "jointly_append_latency_seconds_count {count}");
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t).into_response())
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
    responses((status = 201, description = "The token, shown once", body = NewToken), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
async fn create_token(
    State(state): State<AppState>,
    who: Bearer,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, AppError> {
    let (secret, info) = state
        .app()
        .create_token(&who.caller, req.role, &req.name, req.participant.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            token: secret,
            info,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/tokens",
    responses((status = 200, body = [TokenInfo]), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    who: Bearer,
) -> Result<Json<Vec<TokenInfo>>, AppError> {
    Ok(Json(state.app().tokens(&who.caller)?))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", params(("id" = String, Path, description = "The token's id (from the list)")),
    responses((status = 200, body = TokenInfo), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenInfo>, AppError> {
    Ok(Json(state.app().revoke_token(&who.caller, &id).await?))
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
                &mut item.patch,
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
        projection, project_projection, stream, healthz, readyz, metrics, create_token, list_tokens,
        checkpoint, receipt, consistency_proof, inclusion_proof, public_records,
        revoke_token, openapi_json, privacy::add_person, privacy::get_person,
        privacy::put_my_answers, privacy::get_my_answers, privacy::get_my_time, privacy::equality_table,
        privacy::erase, privacy::subject_export, privacy::backup, privacy::record_leaving,
        privacy::publish_equality, routine::report, routine::run_retention,
        privacy::find_people, privacy::correct_person, privacy::import_people,
        tlog::tlog_checkpoint, tlog::tlog_tile),
    components(schemas(Section, Which, Wait, answers::Record, routine::ReportFormat)),
    modifiers(&BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document", body = answers::OpenApiDocument)))]
async fn openapi_json() -> Response {
    // The document is the same for the life of the process: built and
    // written once (about 10 ms), not for every request.
    static DOCUMENT: std::sync::OnceLock<axum::body::Bytes> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&ApiDoc::openapi())
            .expect("the OpenAPI document is plain data")
            .into()
    });
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    // A person following a link gets a page with the navigation; a
    // program, a problem.
    let wants_page = !uri.path().starts_with("/v1/")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        return web::not_found_page();
    }
    AppError::from(Refusal::not_found(
        "there is nothing at this address; see /openapi.json",
    ))
    .into_response()
}

async fn wrong_method() -> AppError {
    AppError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "this address does not take this method; see /openapi.json",
    )
}

/// Any error response made below us without a problem body (a timeout, a
/// body-limit layer) gets one.
async fn problem_bodies(resp: Response) -> Response {
    // Problems, the pages' own error pages and our own JSON answers (the
    // readiness with its reason) are already in words.
    let is_problem = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/problem+json")
            || v.as_bytes().starts_with(b"application/json")
            || v.as_bytes().starts_with(b"text/html")
    });
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let detail = match status {
            StatusCode::REQUEST_TIMEOUT => "the request took too long".to_string(),
            StatusCode::PAYLOAD_TOO_LARGE => "the body is too large for this server".to_string(),
            s => format!("the request could not be answered ({s})"),
        };
        return AppError::http(status, detail).into_response();
    }
    resp
}

/// How many threads run the requests that read the model. They keep the
/// cores busy, so more at once would only share the cores more thinly,
/// while each thread keeps its stack and its allocator's cache resident:
/// tokio's blocking pool grew to 49 threads under 16 readers (and to 20
/// even with four requests let in at a time), the server by 50 MB.
const READER_THREADS: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// The queue to the reader threads, started on first use. Requests wait
/// their turn in it holding no thread.
fn readers() -> &'static std::sync::mpsc::Sender<Job> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..READER_THREADS {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("jointly-reader-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A request that panics fails alone (its
                            // client is told); the thread goes on.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("a reader thread starts");
        }
        tx
    })
}

/// Runs a request on one of the [`READER_THREADS`]. A report over the
/// whole record keeps a core busy for a while; on the async workers (one
/// a core) it would hold up every request behind it, however cheap, where
/// on a thread of its own the system shares the cores between them.
async fn on_a_reader_thread(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let handle = tokio::runtime::Handle::current();
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(handle.block_on(next.run(req)));
    });
    if readers().send(job).is_err() {
        return AppError::from(Refusal::failed("the server's reader threads have stopped"))
            .into_response();
    }
    match answered.await {
        Ok(resp) => resp,
        Err(_) => AppError::from(Refusal::failed("a request's thread failed")).into_response(),
    }
}

/// The whole API as a router, for `serve` and for tests (`oneshot`).
pub fn app(state: AppState, config: &Config) -> Router {
    let router = Router::new()
        .route("/v1/events", get(list_events).post(append))
        .route("/v1/events/{seq}", get(get_event))
        .route("/v1/events/by-id/{id}", get(get_event_by_id))
        .route("/v1/stream", get(stream))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/proof/consistency", get(consistency_proof))
        .route("/v1/proof/inclusion", get(inclusion_proof))
        .route("/v1/records", get(public_records))
        .route(
            "/v1/people",
            get(privacy::find_people).post(privacy::add_person),
        )
        .route("/v1/people/import", post(privacy::import_people))
        .route(
            "/v1/people/{id}",
            get(privacy::get_person).patch(privacy::correct_person),
        )
        .route("/v1/people/{id}/export", get(privacy::subject_export))
        .route("/v1/people/{id}/leave", post(privacy::record_leaving))
        .route(
            "/v1/me/equality",
            get(privacy::get_my_answers).put(privacy::put_my_answers),
        )
        .route("/v1/me/time", get(privacy::get_my_time))
        .route("/v1/equality/publish", post(privacy::publish_equality))
        .route("/v1/erasures", post(privacy::erase))
        .route("/v1/backup", get(privacy::backup))
        .route("/v1/retention/run", post(routine::run_retention))
        .route("/v1/events/{seq}/receipt", get(receipt))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .merge(tlog::routes())
        .merge(
            // What reads the model may take a while at scale: on the
            // blocking pool, where it cannot hold up the other requests.
            Router::new()
                .route("/v1/projects", get(list_projects))
                .route("/v1/projects/{id}", get(get_project))
                .route("/v1/projections/{section}", get(projection))
                .route(
                    "/v1/projects/{id}/projections/{section}",
                    get(project_projection),
                )
                .route("/v1/equality", get(privacy::equality_table))
                .route("/v1/report", get(routine::report))
                .merge(web::routes())
                .route_layer(axum::middleware::from_fn(on_a_reader_thread)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::map_response(problem_bodies))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_answers,
        ))
        .layer(axum::Extension(web::Settings::from(config)))
        .layer(axum::Extension(Streams::new(config)));
    serve::with_timeouts(router, &serve::Limits::from(config)).with_state(state)
}
