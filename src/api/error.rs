//! One error type for the API, answered as an RFC 9457 problem
//! (`application/problem+json`) with a plain-English `detail` and, where a
//! field is at fault, a JSON pointer to it. A core [`Refusal`] becomes a
//! problem by its kind alone ([`status_of`]); the extractors here wrap
//! axum's so that the framework's own rejections use the same form, and
//! JSON bodies are read strictly (a repeated key is refused, never
//! silently collapsed).

use crate::refusal::{Kind, Refusal};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A problem to report to the client.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, in plain words.
    pub detail: String,
    /// A JSON pointer into the request, where one field is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

/// The HTTP status of each kind of refusal: the only place it is chosen.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Malformed => StatusCode::BAD_REQUEST,
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The kind of refusal an answer's status stands for (the inverse of
/// [`status_of`]), for a client of this API: a status no kind has is a
/// failure.
pub fn kind_of(status: u16) -> Kind {
    Kind::ALL
        .into_iter()
        .find(|k| status_of(*k).as_u16() == status)
        .unwrap_or(Kind::Failed)
}

/// The API's error: a status, the problem's type name, and its words.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// The last part of the problem type URI.
    pub kind: &'static str,
    pub detail: String,
    pub pointer: Option<String>,
    /// When trying again later will work: how much later (`Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        // What failed inside is for the server's log: it may name files,
        // paths or other people, which are no business of the caller's.
        let detail = if r.kind() == Kind::Failed {
            tracing::error!("{r}");
            "something failed inside jointly; its log says what. Try again in a minute, and tell the people who run it if it goes on".to_string()
        } else {
            r.message().to_string()
        };
        AppError {
            status: status_of(r.kind()),
            kind: r.kind().name(),
            detail,
            pointer: r.pointer().map(str::to_string),
            retry_after: r.retry_after(),
        }
    }
}

impl AppError {
    /// A problem the HTTP layer itself finds (a method not allowed, a
    /// timeout): its status names it.
    pub fn http(status: StatusCode, detail: impl Into<String>) -> Self {
        AppError {
            status,
            kind: "http",
            detail: detail.into(),
            pointer: None,
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        Refusal::new(
            Kind::Unauthenticated,
            "sign in: send your token as \"Authorization: Bearer <token>\"",
        )
        .into()
    }

    pub fn problem(&self) -> Problem {
        let kind = if self.kind == "http" {
            self.status.as_u16().to_string()
        } else {
            self.kind.to_string()
        };
        Problem {
            kind: format!("https://jointly.invalid/problems/{kind}"),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            pointer: self.pointer.clone(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).expect("problems serialise");
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: never "0", which would invite a
            // client straight back.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            // A client told to come back later gives back its connection
            // now: the limits count what is held open.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// A JSON body, read strictly (UTF-8, no repeated keys, whole numbers),
/// whose rejections are problems with a pointer to the field at fault.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        json_body(json, &bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`;
/// anything else is read as [`ApiJson`] reads it.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for ApiJsonOrEmpty<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        json_body(json, &bytes).map(ApiJsonOrEmpty)
    }
}

/// Whether the request says its body is JSON.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

/// The whole body, within the server's size limit.
async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, AppError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::http(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body is too large for this server",
                )
            } else {
                AppError::http(
                    r.status(),
                    format!("the body could not be read: {}", r.body_text()),
                )
            }
        })
}

/// A body read strictly as JSON of the expected shape.
fn json_body<T: DeserializeOwned>(json: bool, bytes: &[u8]) -> Result<T, AppError> {
    if !json {
        return Err(AppError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON, with \"Content-Type: application/json\"",
        ));
    }
    let value = crate::app::strict_json(bytes)
        .map_err(|r| AppError::from(Refusal::malformed(format!("the body: {}", r.message()))))?;
    read_value(value).map_err(AppError::from)
}

/// A value of the expected shape, or an invalid refusal pointing at the
/// field at fault.
pub fn read_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Refusal> {
    // Straight into the type; only on failure the slower way that says
    // where the fault is (this runs for every append).
    if let Ok(v) = T::deserialize(&value) {
        return Ok(v);
    }
    crate::coproduction::events::read(&value).map_err(|p| {
        Refusal::invalid(format!(
            "the body does not have the expected shape: {}",
            p.message
        ))
        .at(p.pointer)
    })
}

/// A path parameter, whose rejections are problems.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|r: PathRejection| {
                Refusal::malformed(format!("a part of the address is wrong: {}", r.body_text()))
                    .into()
            })
    }
}

/// Query parameters, whose rejections are problems.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|r: QueryRejection| {
                Refusal::malformed(format!("a query parameter is wrong: {}", r.body_text())).into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_status() {
        let statuses: std::collections::BTreeSet<u16> =
            Kind::ALL.iter().map(|k| status_of(*k).as_u16()).collect();
        assert_eq!(statuses.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            let s = status_of(kind);
            // Only a failure of ours, or a passing unavailability, is 5xx.
            assert_eq!(
                s.is_server_error(),
                matches!(kind, Kind::Failed | Kind::Unavailable),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_status_reads_back_as_its_kind() {
        for kind in Kind::ALL {
            assert_eq!(kind_of(status_of(kind).as_u16()), kind);
        }
        // What no kind answers (a proxy's 502, a redirect) is a failure.
        for status in [200, 302, 502, 504] {
            assert_eq!(kind_of(status), Kind::Failed, "{status}");
        }
    }
}
