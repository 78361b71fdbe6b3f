//! Where a log's tiles are kept outside the server: a directory, an S3
//! bucket (any S3-compatible store), or, to read from, a web server. One
//! narrow interface over the `object_store` crate: get, write once, write
//! (the checkpoint alone), and list.
//!
//! S3 settings come from the flags (`--s3-endpoint`, `--s3-region`,
//! `--s3-credentials FILE`, `--s3-allow-http`), the configuration file's
//! `[publish]` section, or the usual `AWS_*` variables, in that order
//! (docs/OPERATING.md, "Publishing the record").

use crate::refusal::Refusal;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How an S3-compatible store is reached; anything not given comes from
/// the `AWS_*` variables.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// e.g. https://s3.eu-west-2.amazonaws.com, or http://127.0.0.1:8333
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// A file in the AWS shared-credentials format ([default] with
    /// aws_access_key_id and aws_secret_access_key).
    pub s3_credentials_file: Option<PathBuf>,
    /// Allow an http:// endpoint (a store on this machine or network).
    #[serde(default)]
    pub s3_allow_http: bool,
}

impl S3Settings {
    /// These settings, with any not given taken from `other`.
    pub fn or(self, other: &S3Settings) -> S3Settings {
        S3Settings {
            s3_endpoint: self.s3_endpoint.or_else(|| other.s3_endpoint.clone()),
            s3_region: self.s3_region.or_else(|| other.s3_region.clone()),
            s3_credentials_file: self
                .s3_credentials_file
                .or_else(|| other.s3_credentials_file.clone()),
            s3_allow_http: self.s3_allow_http || other.s3_allow_http,
        }
    }
}

/// Why a place could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("{place}: {source}")]
    Store {
        place: String,
        #[source]
        source: object_store::Error,
    },
    #[error(
        "{place}{path} already holds other bytes; a tile is never rewritten, so this place holds another log's tiles or a fork"
    )]
    Differs { place: String, path: String },
}

/// A place tiles are kept: a store and the prefix under it.
#[derive(Clone)]
pub struct Place {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    shown: String,
}

/// Requests to a store are retried a little, then reported: a caller that
/// publishes again later is better than one stuck for minutes.
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: Default::default(),
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    }
}

fn client(allow_http: bool) -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_allow_http(allow_http)
        .with_timeout(Duration::from_secs(30))
        .with_connect_timeout(Duration::from_secs(5))
}

impl Place {
    /// A place to publish to: `s3://BUCKET/PREFIX`, or a directory (made
    /// if it does not exist).
    pub fn to_write(target: &str, s3: &S3Settings) -> Result<Place, Refusal> {
        if let Some(rest) = target.strip_prefix("s3://") {
            return Self::s3(target, rest, s3);
        }
        if target.contains("://") {
            return Err(Refusal::invalid(format!(
                "--to {target}: give a directory or s3://BUCKET/PREFIX"
            )));
        }
        std::fs::create_dir_all(target)
            .map_err(|e| Refusal::invalid(format!("cannot make the directory {target}: {e}")))?;
        Self::dir(target)
    }

    /// A place to read from: a directory, an http(s):// address (a web
    /// server or a jointly server's /tlog/), or `s3://BUCKET/PREFIX`.
    pub fn to_read(source: &str, s3: &S3Settings) -> Result<Place, Refusal> {
        if let Some(rest) = source.strip_prefix("s3://") {
            return Self::s3(source, rest, s3);
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            let url = source.trim_end_matches('/');
            let store = object_store::http::HttpBuilder::new()
                .with_url(url)
                .with_client_options(client(source.starts_with("http://")))
                .with_retry(retry())
                .build()
                .map_err(|e| Refusal::invalid(format!("{source}: {e}")))?;
            return Ok(Place {
                store: Arc::new(store),
                prefix: String::new(),
                shown: format!("{url}/"),
            });
        }
        if !std::path::Path::new(source).is_dir() {
            return Err(Refusal::invalid(format!(
                "{source} is not a directory, nor an http(s):// or s3:// address"
            )));
        }
        Self::dir(source)
    }

    fn dir(dir: &str) -> Result<Place, Refusal> {
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| Refusal::invalid(format!("{dir}: {e}")))?
            .with_automatic_cleanup(true);
        Ok(Place {
            store: Arc::new(store),
            prefix: String::new(),
            shown: format!("{}/", dir.trim_end_matches('/')),
        })
    }

    fn s3(target: &str, rest: &str, s3: &S3Settings) -> Result<Place, Refusal> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Refusal::invalid(format!(
                "{target}: no bucket; give s3://BUCKET/PREFIX"
            )));
        }
        let mut b = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry());
        let mut allow_http = s3.s3_allow_http || env_true("AWS_ALLOW_HTTP");
        if let Some(e) = s3
            .s3_endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        {
            // An http:// endpoint typed out is one the operator chose.
            allow_http |= e.starts_with("http://");
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        b = b.with_client_options(client(allow_http));
        if let Some(r) = &s3.s3_region {
            b = b.with_region(r);
        } else if std::env::var("AWS_REGION").is_err()
            && std::env::var("AWS_DEFAULT_REGION").is_err()
        {
            b = b.with_region("us-east-1");
        }
        if let Some(file) = s3
            .s3_credentials_file
            .clone()
            .or_else(|| std::env::var_os("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from))
        {
            let (id, secret) = credentials(&file)?;
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = b
            .build()
            .map_err(|e| Refusal::invalid(format!("{target}: {e}")))?;
        let prefix = prefix.trim_matches('/');
        Ok(Place {
            store: Arc::new(store),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            shown: format!(
                "s3://{bucket}/{}{}",
                prefix,
                if prefix.is_empty() { "" } else { "/" }
            ),
        })
    }

    fn path(&self, rel: &str) -> StorePath {
        StorePath::from(format!("{}{rel}", self.prefix))
    }

    fn failed(&self) -> impl Fn(object_store::Error) -> PlaceError + '_ {
        |source| PlaceError::Store {
            place: self.shown.clone(),
            source,
        }
    }

    /// The bytes at `rel`, or `None` if there are none.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>, PlaceError> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(self.failed())?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed()(e)),
        }
    }

    /// Writes `bytes` at `rel` unless something is there: the same bytes
    /// count as written, other bytes are refused.
    pub async fn put_once(&self, rel: &str, bytes: Vec<u8>) -> Result<(), PlaceError> {
        let path = self.path(rel);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let payload = PutPayload::from(bytes.clone());
        match self.store.put_opts(&path, payload.clone(), opts).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => match self.get(rel).await? {
                Some(held) if held[..] == bytes[..] => Ok(()),
                _ => Err(PlaceError::Differs {
                    place: self.shown.clone(),
                    path: rel.to_string(),
                }),
            },
            // A store without conditional writes: looked for first.
            Err(object_store::Error::NotImplemented { .. }) => match self.get(rel).await? {
                Some(held) if held[..] == bytes[..] => Ok(()),
                Some(_) => Err(PlaceError::Differs {
                    place: self.shown.clone(),
                    path: rel.to_string(),
                }),
                None => self.put(rel, bytes).await,
            },
            Err(e) => Err(self.failed()(e)),
        }
    }

    /// Writes `bytes` at `rel`, over what is there (the checkpoint).
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), PlaceError> {
        self.store
            .put(&self.path(rel), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(self.failed())
    }

    /// Every path under `rel` and its size in bytes.
    pub async fn list(&self, rel: &str) -> Result<HashMap<String, u64>, PlaceError> {
        let mut out = HashMap::new();
        let mut stream = self.store.list(Some(&self.path(rel)));
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(self.failed())?;
            let full = meta.location.to_string();
            if let Some(rel) = full.strip_prefix(&self.prefix) {
                out.insert(rel.to_string(), meta.size);
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

fn env_true(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The access key id and secret of an AWS shared-credentials file: the
/// profile named by AWS_PROFILE, else `default`, else the only one.
fn credentials(file: &std::path::Path) -> Result<(String, String), Refusal> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Refusal::invalid(format!(
            "cannot read the S3 credentials file {}: {e}",
            file.display()
        ))
    })?;
    let want = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let mut profiles: Vec<(String, HashMap<String, String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push((name.trim().to_string(), HashMap::new()));
        } else if let (Some((k, v)), Some(p)) = (line.split_once('='), profiles.last_mut()) {
            p.1.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let one = profiles.len() == 1;
    let p = profiles
        .into_iter()
        .find(|(n, _)| *n == want || one)
        .ok_or_else(|| {
            Refusal::invalid(format!(
                "the S3 credentials file {} has no [{want}] profile",
                file.display()
            ))
        })?
        .1;
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        _ => Err(Refusal::invalid(format!(
            "the S3 credentials file {} needs aws_access_key_id and aws_secret_access_key",
            file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<(&str, &str), &str>) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("credentials");
        std::fs::write(&f, text).unwrap();
        match (credentials(&f), expect) {
            (Ok((a, b)), Ok((x, y))) => assert_eq!((a.as_str(), b.as_str()), (x, y)),
            (Err(e), Err(words)) => assert!(e.message().contains(words), "{}", e.message()),
            (got, want) => panic!(
                "{text:?}: got {:?}, want {want:?}",
                got.map_err(|e| e.message().to_string())
            ),
        }
    }

    #[test]
    fn shared_credentials_files() {
        check(
            "[default]\naws_access_key_id = A\naws_secret_access_key = S\n",
            Ok(("A", "S")),
        );
        check(
            "# mine\n[ci]\naws_access_key_id=A\naws_secret_access_key=S",
            Ok(("A", "S")),
        );
        check(
            "[a]\naws_access_key_id=A\n[default]\naws_access_key_id=B\naws_secret_access_key=T",
            Ok(("B", "T")),
        );
        check(
            "[a]\naws_access_key_id=A\n[b]\naws_access_key_id=B",
            Err("no [default] profile"),
        );
        check(
            "[default]\naws_access_key_id=A\n",
            Err("needs aws_access_key_id and aws_secret_access_key"),
        );
    }
}
