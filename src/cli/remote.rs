//! The commands that also work through a running server (`--server URL`),
//! so that routine work needs no downtime: `serve` holds the data
//! directory, so these ask it over its API with an admin token instead of
//! opening the store. The server applies the token's permissions, as it
//! does for any client; its refusals keep their kind (and so their exit
//! code) from the answer's status.

use jointly::http::{self, Answer};
use jointly::refusal::{Kind, Refusal};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// How long one call may take, and how large its answer may be (a page of
/// a thousand events, a report over every project).
const TIMEOUT: Duration = Duration::from_secs(300);
const MAX_ANSWER: usize = 256 << 20;

/// A running server and the admin token to use it with.
pub struct Server {
    url: String,
    token: String,
}

impl Server {
    /// The server at `url`, with the token in `token_file` or, without
    /// one, in JOINTLY_TOKEN (never on the command line, where `ps` shows
    /// it to every user of the machine).
    pub fn new(url: &str, token_file: Option<&Path>) -> Result<Server, Refusal> {
        let token = match token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    Refusal::malformed(format!(
                        "--token-file {}: cannot read it: {e}",
                        path.display()
                    ))
                })?
                .trim()
                .to_string(),
            None => std::env::var("JOINTLY_TOKEN").unwrap_or_default(),
        };
        if token.is_empty() {
            return Err(Refusal::malformed(format!(
                "--server {url} needs an admin token: put it in the environment as JOINTLY_TOKEN, or in a file named with --token-file FILE"
            )));
        }
        Ok(Server {
            url: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// GETs `path`: the answer's body, when the server did it.
    pub fn get(&self, path: &str) -> Result<String, Refusal> {
        self.call("GET", path, None)
    }

    /// GETs `path` as JSON.
    pub fn get_json(&self, path: &str) -> Result<Value, Refusal> {
        json(&self.get(path)?, path)
    }

    /// POSTs `body` as JSON to `path`; the answer as JSON.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, Refusal> {
        json(&self.call("POST", path, Some(&body.to_string()))?, path)
    }

    /// DELETEs `path`; the answer as JSON.
    pub fn delete(&self, path: &str) -> Result<Value, Refusal> {
        json(&self.call("DELETE", path, None)?, path)
    }

    /// GETs `path` into the file `out` (0600), by way of `out.partial` so
    /// that a broken download never looks like a whole one. Returns bytes.
    pub fn download(&self, path: &str, out: &Path) -> Result<u64, Refusal> {
        let partial = out.with_extension("partial");
        let n = http::download(&self.url, path, &self.token, &partial, TIMEOUT).map_err(
            |e| match e {
                http::HttpError::Refused { status, body, .. } => self.refused(&Answer {
                    status,
                    content_type: String::new(),
                    body,
                }),
                e => self.unreachable(e),
            },
        )?;
        std::fs::rename(&partial, out)
            .map_err(|e| Refusal::failed(format!("cannot write {}: {e}", out.display())))?;
        Ok(n)
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, Refusal> {
        let a = http::call(
            &self.url,
            (method, path),
            &self.token,
            body,
            TIMEOUT,
            MAX_ANSWER,
        )
        .map_err(|e| self.unreachable(e))?;
        if (200..300).contains(&a.status) {
            return Ok(a.body);
        }
        Err(self.refused(&a))
    }

    /// A server that cannot be reached, or spoke no HTTP: a failure (exit
    /// 1), as when the store cannot be opened.
    fn unreachable(&self, e: http::HttpError) -> Refusal {
        Refusal::failed(format!("the server {}: {e}", self.url))
    }

    /// A refusal from the server: its kind from the status, its words
    /// from the problem (RFC 9457) it sent.
    fn refused(&self, a: &Answer) -> Refusal {
        let kind = jointly::api::error::kind_of(a.status);
        let problem: Option<Value> = serde_json::from_str(&a.body).ok();
        let detail = problem
            .as_ref()
            .and_then(|p| p.get("detail").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| a.body.chars().take(300).collect());
        let mut words = format!("the server {} answered {}: {detail}", self.url, a.status);
        if kind == Kind::Unauthenticated {
            words.push_str(" (check the admin token in JOINTLY_TOKEN or --token-file)");
        }
        let r = Refusal::new(kind, words);
        match problem
            .as_ref()
            .and_then(|p| p.get("pointer").and_then(Value::as_str))
        {
            Some(pointer) => r.at(pointer),
            None => r,
        }
    }
}

fn json(body: &str, path: &str) -> Result<Value, Refusal> {
    serde_json::from_str(body)
        .map_err(|e| Refusal::failed(format!("the server's answer to {path} is not JSON: {e}")))
}

/// `text` as one part of a URL's path or query (percent-encoded).
pub fn escaped(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
