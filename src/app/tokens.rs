//! Bearer tokens: made once, shown once, stored only as a SHA-256 hash in a
//! side table of the store. A token has a role; a partner's token is bound
//! to one participant, and everything it appends is by that participant.

use crate::coproduction::author::Author;
use crate::coproduction::values::{AccessRole, CredentialId, CredentialKind, ParticipantId};
use crate::ledger::store::{SideTable, StoreError};
use crate::ledger::{Actor, Ledger, Timestamp};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What a token may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Admin,
    Staff,
    Partner,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Partner => "partner",
            Role::Auditor => "auditor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "staff" => Ok(Role::Staff),
            "partner" => Ok(Role::Partner),
            "auditor" => Ok(Role::Auditor),
            _ => Err(format!(
                "{s:?} is not a role; use admin, staff, partner or auditor"
            )),
        }
    }
}

impl From<Role> for AccessRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => AccessRole::Admin,
            Role::Staff => AccessRole::Staff,
            Role::Partner => AccessRole::Partner,
            Role::Auditor => AccessRole::Auditor,
        }
    }
}

/// A token as stored (never the secret itself).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// A public handle for listing and revoking: the first 12 hex digits of the hash.
    pub id: String,
    pub role: Role,
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub participant: Option<ParticipantId>,
    pub created: String,
    pub revoked: Option<String>,
    /// An access code, or the token behind a sign-in card.
    #[serde(default)]
    pub kind: CredentialKind,
    /// When it first signed anyone in (or was first sent with a request).
    #[serde(default)]
    pub first_used: Option<String>,
}

impl TokenInfo {
    /// Its id as the records name it.
    pub fn credential(&self) -> CredentialId {
        CredentialId::parse(&self.id).expect("a token's id is 12 hex digits of its hash")
    }

    /// The actor recorded on everything this token appends: who, and with
    /// which credential.
    pub fn actor(&self) -> Actor {
        Author::with_credential(&self.holder(), self.credential())
    }

    /// Who holds it, without the credential.
    fn holder(&self) -> Actor {
        let text = match (self.role, self.participant) {
            (Role::Partner, Some(p)) => format!("partner:{p}"),
            (Role::Staff, Some(p)) => format!("staff:{p}"),
            (Role::Staff, None) => format!("staff:{}", self.name),
            (Role::Admin, _) => format!("admin:{}", self.name),
            (Role::Auditor, _) => format!("auditor:{}", self.name),
            (Role::Partner, None) => unreachable!("partner tokens always name a participant"),
        };
        Actor::new(&text).expect("names are checked when tokens are made")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    BadInput(String),
    #[error("there is no token with id {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const PREFIX: &str = "jly_";

/// The tokens of one data directory.
#[derive(Clone)]
pub struct TokenStore {
    table: SideTable,
    /// Tokens whose first use is already noted: a request need not ask
    /// the store again (every API request authenticates).
    noted: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// The hash a token is kept under (sessions and sign-in links name a
/// token by it, never by its secret).
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn key(hash: &str) -> Vec<u8> {
    format!("token/{hash}").into_bytes()
}

fn used_key(hash: &str) -> Vec<u8> {
    format!("used/{hash}").into_bytes()
}

impl TokenStore {
    pub fn open(ledger: &Ledger) -> Result<Self, StoreError> {
        Ok(TokenStore {
            table: ledger.store().side_table("tokens")?,
            noted: Default::default(),
        })
    }

    /// Makes a token and keeps it; returns the secret (shown once) and
    /// what was stored.
    pub fn create(
        &self,
        role: Role,
        name: &str,
        participant: Option<ParticipantId>,
    ) -> Result<(String, TokenInfo), TokenError> {
        let (secret, info) = Self::mint(role, name, participant, CredentialKind::AccessCode)?;
        self.keep(&secret, &info)?;
        Ok((secret, info))
    }

    /// A new token's secret and what will be stored of it, not yet kept
    /// (the core records that it was made before it can be used).
    pub fn mint(
        role: Role,
        name: &str,
        participant: Option<ParticipantId>,
        kind: CredentialKind,
    ) -> Result<(String, TokenInfo), TokenError> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(TokenError::BadInput(format!(
                "name {name:?} must be 1 to 64 letters, digits, '.', '_' or '-'"
            )));
        }
        match (role, participant) {
            (Role::Partner, None) => {
                return Err(TokenError::BadInput(
                    "a partner token needs --participant: the id of the partner it belongs to"
                        .into(),
                ));
            }
            (Role::Admin | Role::Auditor, Some(_)) => {
                return Err(TokenError::BadInput(
                    "only partner and staff tokens belong to a participant".into(),
                ));
            }
            _ => {}
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let h = hash(&secret);
        let info = TokenInfo {
            id: h[..12].to_string(),
            role,
            name: name.to_string(),
            participant,
            created: Timestamp::now().to_string(),
            revoked: None,
            kind,
            first_used: None,
        };
        Ok((secret, info))
    }

    /// Keeps a minted token: from now on its secret signs in.
    pub fn keep(&self, secret: &str, info: &TokenInfo) -> Result<(), StoreError> {
        self.table.put(
            &key(&hash(secret)),
            &serde_json::to_vec(info).expect("serialise"),
        )
    }

    /// Notes the first time the token kept under hash `h` is used: once,
    /// under a key of its own, so that it can never write back an older
    /// copy of the token over a revocation.
    pub fn note_use(&self, h: &str) -> Result<(), StoreError> {
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        if noted.contains(h) {
            return Ok(());
        }
        self.table
            .put_new_deferred(&used_key(h), Timestamp::now().to_string().as_bytes())?;
        // Bounded: past it, a use is noted again (and `put_new` keeps the first).
        if noted.len() >= 100_000 {
            noted.clear();
        }
        noted.insert(h.to_string());
        Ok(())
    }

    /// The token a secret belongs to, if it exists and is not revoked.
    pub fn authenticate(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        if !secret.starts_with(PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let Some(bytes) = self.table.get(&key(&hash(secret)))? else {
            return Ok(None);
        };
        let info: TokenInfo = match serde_json::from_slice(&bytes) {
            Ok(i) => i,
            Err(_) => return Ok(None),
        };
        Ok(info.revoked.is_none().then_some(info))
    }

    /// The token kept under this hash, if it is not revoked.
    pub fn by_hash(&self, h: &str) -> Result<Option<TokenInfo>, StoreError> {
        let Some(bytes) = self.table.get(&key(h))? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<TokenInfo>(&bytes)
            .ok()
            .filter(|i| i.revoked.is_none()))
    }

    /// Every token, each with when it was first used.
    pub fn list(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Ok(self.list_by_hash()?.into_iter().map(|(_, t)| t).collect())
    }

    /// Every token with the hash it is kept under (which sessions and
    /// sign-in links name it by), each with when it was first used.
    pub fn list_by_hash(&self) -> Result<Vec<(String, TokenInfo)>, StoreError> {
        let used: std::collections::HashMap<Vec<u8>, String> = self
            .table
            .scan_prefix(b"used/")?
            .into_iter()
            .filter_map(|(k, v)| Some((k[5..].to_vec(), String::from_utf8(v).ok()?)))
            .collect();
        Ok(self
            .table
            .scan_prefix(b"token/")?
            .into_iter()
            .filter_map(|(k, v)| {
                let mut info: TokenInfo = serde_json::from_slice(&v).ok()?;
                info.first_used = used.get(&k[6..]).cloned();
                Some((String::from_utf8(k[6..].to_vec()).ok()?, info))
            })
            .collect())
    }

    /// Revokes by public id; takes effect on the next request.
    pub fn revoke(&self, id: &str) -> Result<TokenInfo, TokenError> {
        for (k, v) in self.table.scan_prefix(b"token/")? {
            let mut info: TokenInfo = match serde_json::from_slice(&v) {
                Ok(i) => i,
                Err(_) => continue,
            };
            if info.id == id {
                if info.revoked.is_none() {
                    info.revoked = Some(Timestamp::now().to_string());
                    self.table
                        .put(&k, &serde_json::to_vec(&info).expect("serialise"))?;
                }
                return Ok(info);
            }
        }
        Err(TokenError::NotFound(id.to_string()))
    }

    /// Deletes every token of a participant (they were erased: a token's
    /// name may identify them); returns the deleted tokens' ids.
    pub fn delete_for(&self, participant: &ParticipantId) -> Result<Vec<String>, StoreError> {
        let mut deleted = Vec::new();
        for (k, v) in self.table.scan_prefix(b"token/")? {
            if let Ok(info) = serde_json::from_slice::<TokenInfo>(&v)
                && info.participant.as_ref() == Some(participant)
            {
                self.table.remove(&k)?;
                self.table
                    .remove(&used_key(&String::from_utf8_lossy(&k[6..])))?;
                deleted.push(info.id);
            }
        }
        Ok(deleted)
    }

    /// Deletes a token outright (its name may identify a person who asked
    /// to be erased); a deleted token no longer signs anyone in.
    pub fn delete(&self, id: &str) -> Result<(), TokenError> {
        for (k, v) in self.table.scan_prefix(b"token/")? {
            if serde_json::from_slice::<TokenInfo>(&v).is_ok_and(|i| i.id == id) {
                self.table.remove(&k)?;
                return Ok(());
            }
        }
        Err(TokenError::NotFound(id.to_string()))
    }
}
