//! The web pages: server-rendered (askama), working without JavaScript,
//! in plain English. Partners sign in with the access code staff gave them
//! (the token `jointly token create` prints), get a session cookie
//! (HttpOnly, SameSite=Strict, Secure behind TLS), and every form carries a
//! token tied to the session against cross-site requests. Sign-in attempts
//! are rate limited. Staff can give a partner a sign-in card instead: a
//! QR code of a link that signs them in once (see `app::sessions`).
//! Sessions are kept in the store (by hash) and survive a restart.

mod cards;
mod check_answers;
mod forms;
mod home;
mod leaving;
mod mail;
mod meetings;
mod members;
mod onboarding;
mod pages;
mod people;
mod sign_ins;
mod time;
mod tokens;
mod words;

use super::AppState;
use crate::app::Caller;
use crate::app::tokens::{Role, TokenInfo};
use crate::refusal::{Kind, Refusal};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SESSION_COOKIE: &str = "jointly_session";
/// Before sign-in, the sign-in form's own anti-forgery token.
const PRE_COOKIE: &str = "jointly_pre";
/// Failed sign-ins allowed per address in [`WINDOW`].
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// What stays in memory: the notice each session shows next ("your idea
/// has been sent"), and failed sign-ins by address. Sessions themselves
/// are in the store.
#[derive(Default)]
pub struct WebState {
    notices: Mutex<HashMap<String, String>>,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Sign-ins refused for too many wrong codes, since the server started.
    lockouts: std::sync::atomic::AtomicU64,
}

impl WebState {
    pub(super) fn lockouts(&self) -> u64 {
        self.lockouts.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// What the pages need of the server's settings: how people reach it, and
/// which proxies to believe. Never anything a request says of itself.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How people reach the server, without a trailing `/`.
    pub public_url: Option<String>,
    pub trusted_proxies: super::proxy::TrustedProxies,
}

impl From<&super::Config> for Settings {
    fn from(c: &super::Config) -> Self {
        Settings {
            public_url: c
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_string()),
            trusted_proxies: c.trusted_proxies.clone().into(),
        }
    }
}

impl Settings {
    /// Cookies are `Secure` when people reach the server over https.
    fn secure(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The address a request comes from (`serve::client_address`).
    pub(super) fn client(&self, ext: &axum::http::Extensions, headers: &HeaderMap) -> IpAddr {
        let peer = ext
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        super::serve::client_address(peer, headers, &self.trusted_proxies)
    }
}

fn set_cookie(settings: &Settings, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    let secure = if settings.secure() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}{secure}"
    ))
    .expect("cookie text is ASCII")
}

/// The signed-in visitor of a page.
pub(super) struct Visitor {
    pub token: TokenInfo,
    /// Who they are to the core.
    pub caller: Caller,
    pub csrf: String,
    /// The session, to leave a notice for the next page.
    session: String,
    /// The session's handle (the hash of its cookie), as lists of sessions
    /// name it.
    pub handle: String,
    /// Signed in with a sign-in card a member of staff made, not shown
    /// since to be the partner's own: every page says so.
    pub on_staff_card: bool,
    /// A notice left by the last form sent, shown once.
    pub notice: Option<String>,
    /// Their own name, where the people store holds one.
    pub name: Option<String>,
}

impl Visitor {
    /// Words for the header.
    fn who(&self) -> String {
        let role = match self.token.role {
            Role::Partner => "a partner",
            Role::Staff => "staff",
            Role::Admin => "an administrator",
            Role::Auditor => "an auditor",
        };
        // A partner's token is named by staff ("sign-in-card", a
        // nickname): it says nothing to the partner, so they see their
        // own name from the people store, else their role.
        let who = match &self.name {
            Some(name) => format!("{name} ({role})"),
            None if self.token.role == Role::Partner => role.to_string(),
            None => format!("{} ({role})", self.token.name),
        };
        if self.on_staff_card {
            return format!("{who}, with a sign-in card a member of staff made");
        }
        who
    }

    pub fn is(&self, roles: &[Role]) -> bool {
        roles.contains(&self.token.role)
    }
}

/// Why a page cannot be shown.
pub(super) enum PageError {
    SignIn,
    Status(StatusCode, String),
}

/// The page for an address that holds nothing.
pub(super) fn not_found_page() -> Response {
    PageError::not_found().into_response()
}

/// An id in a page's address. One that is not an id is "not found", as
/// a page with the navigation, never an error in another format.
pub(super) struct PageId(pub uuid::Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageId {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| PageError::not_found())?;
        uuid::Uuid::parse_str(&text)
            .map(PageId)
            .map_err(|_| PageError::not_found())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => Redirect::to("/sign-in").into_response(),
            PageError::Status(status, words) => {
                // Who is asking is not known here; the navigation is the
                // same for everyone, so no one is left at a dead end.
                let page = Frame::lost(if status == StatusCode::NOT_FOUND {
                    "Page not found"
                } else if status == StatusCode::FORBIDDEN {
                    "You cannot see this page"
                } else {
                    "Something went wrong"
                });
                let body = pages::Message {
                    page,
                    paragraphs: vec![words],
                    link: Some(("/home".into(), "Go to the start".into())),
                };
                (status, Html(body.render().unwrap_or_default())).into_response()
            }
        }
    }
}

/// A refusal from the core, as a page: by its kind.
impl From<Refusal> for PageError {
    fn from(r: Refusal) -> Self {
        match r.kind() {
            Kind::Unauthenticated => PageError::SignIn,
            Kind::NotFound => PageError::not_found(),
            Kind::Forbidden => PageError::forbidden(),
            Kind::Failed => PageError::broken(r),
            kind => PageError::Status(
                super::error::status_of(kind),
                format!("{}.", capitalised(r.message())),
            ),
        }
    }
}

/// Words with their first letter in capitals, for the start of a sentence.
pub(super) fn capitalised(words: &str) -> String {
    let mut c = words.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl PageError {
    pub fn not_found() -> Self {
        PageError::Status(
            StatusCode::NOT_FOUND,
            "We could not find that page. It may have been moved, or the link may be wrong.".into(),
        )
    }
    pub fn forbidden() -> Self {
        PageError::Status(
            StatusCode::FORBIDDEN,
            "You do not have access to this page.".into(),
        )
    }
    pub fn broken(e: impl std::fmt::Display) -> Self {
        tracing::error!("a page failed: {e}");
        PageError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again in a minute.".into(),
        )
    }
}

impl AppState {
    /// The signed-in visitor, from the session cookie.
    pub(super) fn visitor(&self, headers: &HeaderMap) -> Result<Visitor, PageError> {
        let id = cookie(headers, SESSION_COOKIE).ok_or(PageError::SignIn)?;
        let (caller, token, session) = self.app().session(&id)?;
        let on_staff_card = self.app().on_a_card_staff_made(&caller)?;
        let name = self.app().own_name(&caller);
        let notice = self
            .0
            .web
            .notices
            .lock()
            .map_err(PageError::broken)?
            .remove(&id);
        Ok(Visitor {
            token,
            caller,
            csrf: session.csrf,
            session: id,
            handle: session.handle,
            on_staff_card,
            notice,
            name,
        })
    }

    /// Leaves a notice for the visitor's next page ("Your idea has been
    /// sent"), shown once.
    pub(super) fn leave_notice(&self, v: &Visitor, words: &str) {
        if let Ok(mut notices) = self.0.web.notices.lock() {
            // Bounded: a notice no one came back for is of no use.
            if notices.len() > 10_000 {
                notices.clear();
            }
            notices.insert(v.session.clone(), words.to_string());
        }
    }

    pub(super) fn page_model(&self) -> Result<crate::app::ModelGuard<'_>, PageError> {
        Ok(self.app().read()?)
    }
}

/// What every page has around its content: title, navigation, who is signed in.
pub(super) struct Frame {
    /// Said first on the page, in a status box, once.
    pub notice: Option<String>,
    pub title: String,
    pub who: Option<String>,
    pub nav: Vec<(String, String)>,
    pub here: String,
    pub csrf: String,
}

impl Frame {
    pub fn anonymous(title: &str) -> Self {
        Frame {
            notice: None,
            title: title.into(),
            who: None,
            nav: Vec::new(),
            here: String::new(),
            csrf: String::new(),
        }
    }

    /// A page for someone who may be signed in, when who they are is not
    /// known (an error page): the navigation everyone has.
    pub fn lost(title: &str) -> Self {
        Frame {
            nav: Self::nav_for(&[]),
            ..Frame::anonymous(title)
        }
    }

    fn nav_for(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        [
            ("/home", "Home"),
            ("/you-said-we-did", "You said, we did"),
            ("/jointly", "Were decisions made jointly?"),
            ("/who-is-present", "Who takes part"),
        ]
        .iter()
        .chain(extra)
        .map(|(h, l)| (h.to_string(), l.to_string()))
        .collect()
    }

    pub fn for_visitor(v: &Visitor, title: &str, here: &str) -> Self {
        let mut extra = Vec::new();
        if v.is(&[Role::Staff, Role::Admin]) {
            extra.push(("/people", "People"));
        }
        if v.is(&[Role::Admin]) {
            extra.push(("/tokens", "Access tokens"));
        }
        if !v.is(&[Role::Partner]) {
            extra.push(("/check", "Check this record"));
        }
        // Only a person has emails to choose about.
        if v.caller.participant().is_some() {
            extra.push(("/notifications", "Emails"));
        }
        let nav = Self::nav_for(&extra);
        Frame {
            notice: v.notice.clone(),
            title: title.into(),
            who: Some(v.who()),
            nav,
            here: here.into(),
            csrf: v.csrf.clone(),
        }
    }
}

/// Renders a template as a page.
pub(super) fn render(t: impl Template) -> Result<Response, PageError> {
    Ok(Html(t.render().map_err(PageError::broken)?).into_response())
}

/// The anti-forgery check for a form post: its `csrf` field must be the session's.
fn check_csrf(v: &Visitor, form: &forms::FormData) -> Result<(), PageError> {
    check_csrf_value(v, form.one("csrf"))
}

/// [`check_csrf`] for a form read another way (a file upload's parts).
fn check_csrf_value(v: &Visitor, csrf: &str) -> Result<(), PageError> {
    if csrf == v.csrf {
        Ok(())
    } else {
        Err(PageError::Status(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
        ))
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn {
    page: Frame,
    error: Option<String>,
    kept: Kept,
}

/// What a visitor typed into a form when their session had ended, carried
/// in the sign-in page (never kept on the server) and offered back once
/// they are signed in again.
#[derive(Default)]
struct Kept {
    /// The form's address; empty when nothing is kept.
    path: String,
    fields: Vec<(String, String)>,
}

impl Kept {
    /// Only a form of this site, at an address of this site, is kept: a
    /// form posted from another site must not fill in ours.
    fn from_sign_in(form: &forms::FormData) -> Kept {
        let path = form.one("return_to");
        let local = path.starts_with('/')
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-');
        if !local || path.starts_with("//") {
            return Kept::default();
        }
        Kept {
            path: path.to_string(),
            fields: form.under("kept."),
        }
    }
}

/// Whether a request's own headers say it came from a page of this site.
/// Browsers send `Sec-Fetch-Site` and `Origin` with every form they post.
fn from_this_site(headers: &HeaderMap) -> bool {
    let said = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = said("sec-fetch-site") {
        return site == "same-origin";
    }
    match (said("origin"), said("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
    }
}

/// The sign-in page for a form posted after the session ended, with what
/// was typed carried in it, so that nothing typed is lost.
fn keep_for_sign_in(
    settings: &Settings,
    headers: &HeaderMap,
    path: &str,
    form: &forms::FormData,
) -> Response {
    if !from_this_site(headers) {
        return PageError::SignIn.into_response();
    }
    let kept = Kept {
        path: path.to_string(),
        fields: form.typed(),
    };
    let mut r = not_stored(sign_in_form(settings, headers, None, kept, false));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

/// Pages that carry a secret or what someone typed (the equality answers
/// may be among it) are not kept by the browser or anything between.
pub(super) fn not_stored(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Template)]
#[template(path = "kept.html")]
struct OfferBack {
    page: Frame,
    kept: Kept,
}

async fn sign_in_page(
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let mut r = sign_in_form(
        &settings,
        &headers,
        None,
        Kept::default(),
        query.as_deref() == Some("signed-out=yes"),
    );
    // Not for a cache to keep: it says what just happened.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The sign-in form, with its pre-session cookie.
fn sign_in_form(
    settings: &Settings,
    headers: &HeaderMap,
    error: Option<String>,
    kept: Kept,
    signed_out: bool,
) -> Response {
    let pre = cookie(headers, PRE_COOKIE)
        .filter(|c| c.len() == 64)
        .unwrap_or_else(random_hex);
    let mut page = Frame::anonymous("Sign in");
    page.csrf = pre.clone();
    if signed_out {
        page.notice = Some("You have signed out. To sign in again, type your access code.".into());
    }
    let mut resp = render(SignIn { page, error, kept }).unwrap_or_else(IntoResponse::into_response);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(settings, PRE_COOKIE, &pre, None),
    );
    resp
}

async fn sign_in(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    req: Request,
) -> Response {
    let ip = settings.client(req.extensions(), req.headers());
    let headers = req.headers().clone();
    // Room for a form's text kept while signing in again.
    let body = match axum::body::to_bytes(req.into_body(), 128 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return PageError::Status(StatusCode::PAYLOAD_TOO_LARGE, "That was too long.".into())
                .into_response();
        }
    };
    let form = forms::FormData::parse(&body);
    let pre = cookie(&headers, PRE_COOKIE);
    let again = |error: &str, status: StatusCode| {
        let mut page = Frame::anonymous("Sign in");
        page.csrf = pre.clone().unwrap_or_default();
        let mut r = render(SignIn {
            page,
            error: Some(error.into()),
            kept: Kept::from_sign_in(&form),
        })
        .unwrap_or_else(IntoResponse::into_response);
        *r.status_mut() = status;
        not_stored(r)
    };
    if pre.is_none() || pre.as_deref() != Some(form.one("csrf")) {
        crate::app::trail::sign_in_form_expired(ip);
        return again(
            "This form has expired. Please type your access code again.",
            StatusCode::FORBIDDEN,
        );
    }
    {
        let mut f = state.0.web.failures.lock().expect("web lock");
        // Forget addresses whose minute is over, so the table stays small.
        if f.len() > 10_000 {
            f.retain(|_, (since, _)| since.elapsed() <= WINDOW);
        }
        let entry = f.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() > WINDOW {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= MAX_FAILURES {
            crate::app::trail::sign_in_locked_out(ip);
            state
                .0
                .web
                .lockouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return again(
                "Too many tries. Please wait a minute, then try again.",
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    }
    let code = form.one("code").trim().to_string();
    match state.app().sign_in(&code) {
        Ok((id, token)) => {
            crate::app::trail::signed_in(ip, &token.id, token.role.as_str(), "an access code");
            let kept = Kept::from_sign_in(&form);
            if kept.path.is_empty() {
                return signed_in(&settings, &id);
            }
            offer_back(&state, &settings, &id, kept)
        }
        Err(r) if r.kind() == Kind::Unauthenticated => {
            crate::app::trail::sign_in_failed(ip);
            let mut f = state.0.web.failures.lock().expect("web lock");
            f.entry(ip).or_insert((Instant::now(), 0)).1 += 1;
            drop(f);
            again(
                "That access code did not work. Check it and try again.",
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => PageError::broken(e).into_response(),
    }
}

/// Off to the home page with a new session's cookie.
fn signed_in(settings: &Settings, session: &str) -> Response {
    let mut r = Redirect::to("/home").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(settings, SESSION_COOKIE, session, None),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(settings, PRE_COOKIE, "", Some(0)),
    );
    r
}

/// Signed in again with a form's text kept: one button takes it back to
/// its form, where it is shown to check and send (a page cannot post for
/// the visitor without a script, and should not record anything unseen).
fn offer_back(state: &AppState, settings: &Settings, session: &str, kept: Kept) -> Response {
    let csrf = match state.app().session(session) {
        Ok((_, _, s)) => s.csrf,
        Err(e) => return PageError::broken(e).into_response(),
    };
    let mut page = Frame::anonymous("You are signed in");
    page.csrf = csrf;
    let mut r =
        not_stored(render(OfferBack { page, kept }).unwrap_or_else(IntoResponse::into_response));
    for c in signed_in(settings, session)
        .headers()
        .get_all(header::SET_COOKIE)
    {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    r
}

async fn sign_out(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<Settings>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = forms::FormData::parse(&body);
    if let Ok(v) = state.visitor(&headers) {
        if check_csrf(&v, &form).is_err() {
            return PageError::forbidden().into_response();
        }
        if let Some(id) = cookie(&headers, SESSION_COOKIE)
            && let Err(e) = state.app().sign_out(&id)
        {
            return PageError::broken(e).into_response();
        }
    }
    let mut r = Redirect::to("/sign-in?signed-out=yes").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&settings, SESSION_COOKIE, "", Some(0)),
    );
    r
}

/// The Content-Security-Policy of every answer: no script at all (the
/// pages have none), no framing, no plugins, forms only to this site,
/// styles and images only from it. Browser tests that inject a script,
/// such as accessibility checkers, use the browser's own way round a
/// page's policy (Playwright's `bypassCSP`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every answer: the policy above, no sniffing, no
/// framing, no referrer; HSTS when the public URL is https; and no-store
/// unless the answer set its own caching.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let https = req
        .extensions()
        .get::<Settings>()
        .is_some_and(Settings::secure);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // Reached over https, browsers are told to come back only that way (a
    // year; not the domain's other names, which may be someone else's).
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Every answer may hold a person's words or details, and partners use
    // shared computers (libraries, advice centres): nothing is kept by a
    // browser or a proxy unless the answer says it may be (the stylesheet).
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../../static/style.css"),
    )
        .into_response()
}

/// The pages' routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/home") }))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .merge(cards::routes())
        .route("/static/style.css", get(stylesheet))
        .merge(pages::routes())
        .merge(home::routes())
        .merge(forms::routes())
        .merge(mail::routes())
        .merge(sign_ins::routes())
        .merge(people::routes())
        .merge(leaving::routes())
        .merge(members::routes())
        .merge(meetings::routes())
        .merge(tokens::routes())
        .merge(onboarding::routes())
}
