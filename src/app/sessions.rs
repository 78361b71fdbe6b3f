//! Signing in from a browser: sessions, and sign-in links.
//!
//! A session is kept in the store, so it survives a restart, under the
//! hash of its cookie (someone who reads the store cannot sign in with
//! what they find). It names the access token it signed in with by that
//! token's hash, never the secret; each use looks the token up again, so
//! a revoked or deleted token ends its sessions at once.
//!
//! A sign-in link (printed as a QR code on a card) signs a partner in on
//! their phone without typing an access code. It is kept by its hash too,
//! works once, and ends after [`LINK_DAYS`] days.

use crate::ledger::store::{SideTable, StoreError};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A session unused for this long ends.
pub const IDLE_SECONDS: u64 = 30 * 24 * 3600;
/// A sign-in link works for this many days.
pub const LINK_DAYS: u64 = 14;
/// How stale `last_used` may get before a use writes it again: a page
/// view is not worth a disk write every time.
const TOUCH_EVERY: u64 = 3600;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[derive(Serialize, Deserialize)]
struct StoredSession {
    /// The hash of the access token it signed in with.
    token: String,
    csrf: String,
    last_used: u64,
    /// When it began (Unix seconds; 0 for a session older than this field).
    #[serde(default)]
    started: u64,
}

/// A session found: the token it signed in with (by hash) and its
/// anti-forgery token.
pub struct Session {
    pub token_hash: String,
    pub csrf: String,
    /// Its handle: the hash of its cookie, which names it in the store and
    /// on a page that lists sessions, and cannot be turned back into it.
    pub handle: String,
}

/// A session as a person's list of their sign-ins shows it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub handle: String,
    pub token_hash: String,
    /// Unix seconds.
    pub started: u64,
    pub last_used: u64,
}

/// The sessions of one data directory.
#[derive(Clone)]
pub struct Sessions {
    table: SideTable,
}

impl Sessions {
    pub fn open(table: SideTable) -> Self {
        Sessions { table }
    }

    /// Starts a session for the token with this hash; returns the cookie
    /// (shown once, to the browser) and the session.
    pub fn start(&self, token_hash: &str) -> Result<(String, Session), StoreError> {
        let id = random("jls_");
        let stored = StoredSession {
            token: token_hash.into(),
            csrf: hex::encode(Sha256::digest(random("").as_bytes())),
            last_used: now(),
            started: now(),
        };
        self.table
            .put(&key(&id), &serde_json::to_vec(&stored).expect("serialise"))?;
        Ok((
            id.clone(),
            Session {
                token_hash: stored.token,
                csrf: stored.csrf,
                handle: hash(&id),
            },
        ))
    }

    /// The session with this cookie, if it exists and has been used
    /// recently; one left idle too long is removed.
    pub fn find(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let k = key(id);
        let Some(bytes) = self.table.get(&k)? else {
            return Ok(None);
        };
        let Ok(mut s) = serde_json::from_slice::<StoredSession>(&bytes) else {
            self.table.remove(&k)?;
            return Ok(None);
        };
        let t = now();
        if t.saturating_sub(s.last_used) > IDLE_SECONDS {
            self.table.remove(&k)?;
            return Ok(None);
        }
        if t.saturating_sub(s.last_used) > TOUCH_EVERY {
            s.last_used = t;
            self.table
                .put_deferred(&k, &serde_json::to_vec(&s).expect("serialise"))?;
        }
        Ok(Some(Session {
            token_hash: s.token,
            csrf: s.csrf,
            handle: hash(id),
        }))
    }

    /// Ends a session (signing out).
    pub fn end(&self, id: &str) -> Result<(), StoreError> {
        self.table.remove(&key(id))
    }

    /// The sessions signed in with any of these tokens (by hash), oldest
    /// first; those idle too long are left out.
    pub fn of_tokens(
        &self,
        tokens: &std::collections::HashSet<String>,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let t = now();
        let mut out: Vec<SessionInfo> = self
            .table
            .scan_prefix(b"session/")?
            .into_iter()
            .filter_map(|(k, v)| {
                let s = serde_json::from_slice::<StoredSession>(&v).ok()?;
                let fresh = t.saturating_sub(s.last_used) <= IDLE_SECONDS;
                (fresh && tokens.contains(&s.token)).then(|| SessionInfo {
                    handle: String::from_utf8_lossy(&k["session/".len()..]).into_owned(),
                    token_hash: s.token,
                    started: s.started,
                    last_used: s.last_used,
                })
            })
            .collect();
        out.sort_by_key(|s| s.started);
        Ok(out)
    }

    /// Ends a session by its handle.
    pub fn end_by_handle(&self, handle: &str) -> Result<(), StoreError> {
        self.table.remove(format!("session/{handle}").as_bytes())
    }
}

fn key(session: &str) -> Vec<u8> {
    format!("session/{}", hash(session)).into_bytes()
}

#[derive(Serialize, Deserialize)]
struct StoredLink {
    token: String,
    expires: u64,
}

/// One-use sign-in links, by their hash.
#[derive(Clone)]
pub struct SignInLinks {
    table: SideTable,
}

/// Why a sign-in link does not work.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkProblem {
    /// Never made, or already used.
    Unknown,
    Expired,
}

impl SignInLinks {
    pub fn open(table: SideTable) -> Self {
        SignInLinks { table }
    }

    /// A new link's secret for the token with this hash, and when it ends
    /// (Unix seconds).
    pub fn make(&self, token_hash: &str) -> Result<(String, u64), StoreError> {
        let secret = random("jll_");
        let expires = now() + LINK_DAYS * 24 * 3600;
        let stored = StoredLink {
            token: token_hash.into(),
            expires,
        };
        self.table.put(
            &link_key(&secret),
            &serde_json::to_vec(&stored).expect("serialise"),
        )?;
        Ok((secret, expires))
    }

    /// The token a link signs in with, if it still works; it does not use it up.
    pub fn peek(&self, secret: &str) -> Result<Result<String, LinkProblem>, StoreError> {
        if !secret.starts_with("jll_") || secret.len() > 128 {
            return Ok(Err(LinkProblem::Unknown));
        }
        let Some(bytes) = self.table.get(&link_key(secret))? else {
            return Ok(Err(LinkProblem::Unknown));
        };
        let Ok(link) = serde_json::from_slice::<StoredLink>(&bytes) else {
            return Ok(Err(LinkProblem::Unknown));
        };
        if now() > link.expires {
            self.table.remove(&link_key(secret))?;
            return Ok(Err(LinkProblem::Expired));
        }
        Ok(Ok(link.token))
    }

    /// Uses the link up: it works once, even when two browsers try it
    /// at the same moment.
    pub fn use_up(&self, secret: &str) -> Result<Result<String, LinkProblem>, StoreError> {
        if let Err(problem) = self.peek(secret)? {
            return Ok(Err(problem));
        }
        let Some(bytes) = self.table.take(&link_key(secret))? else {
            return Ok(Err(LinkProblem::Unknown));
        };
        Ok(serde_json::from_slice::<StoredLink>(&bytes)
            .map(|l| l.token)
            .map_err(|_| LinkProblem::Unknown))
    }
}

fn link_key(secret: &str) -> Vec<u8> {
    format!("link/{}", hash(secret)).into_bytes()
}
