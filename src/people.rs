//! The people store: names, contact details and equality-monitoring answers,
//! kept apart from the log so they can really be erased. The log names
//! people only by their pseudonymous participant id.
//!
//! One small file per person in `<data>/people/`, mode 0600, replaced
//! atomically. It is deliberately not in sled: sled is log-structured, so
//! bytes it deletes can stay in its files until they are rewritten, while
//! an unlinked file's bytes are gone from the data directory at once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("{0}")]
    Invalid(String),
    #[error("the people store at {0} cannot be used: {1}")]
    Io(String, std::io::Error),
    #[error("{0} is damaged: {1}")]
    Damaged(String, String),
}

/// One person, as the people store holds them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: Uuid,
    /// "staff" or "partner".
    pub role: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When they registered (YYYY-MM-DD).
    pub registered: String,
    /// When they left, if they have (YYYY-MM-DD); retention counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// Their own equality-monitoring answers: question → answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
}

impl Person {
    /// A new person, checked: a name of 1 to 200 characters, a plausible email.
    pub fn new(
        role: &str,
        name: &str,
        email: Option<&str>,
        today: &str,
    ) -> Result<Self, PeopleError> {
        if role != "staff" && role != "partner" {
            return Err(PeopleError::Invalid(format!(
                "role {role:?}: a person is staff or partner"
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(PeopleError::Invalid(
                "the name must be 1 to 200 characters, on one line".into(),
            ));
        }
        if let Some(e) = email {
            let ok = e.len() <= 254
                && e.split_once('@').is_some_and(|(a, d)| {
                    !a.is_empty() && d.contains('.') && !e.contains(char::is_whitespace)
                });
            if !ok {
                return Err(PeopleError::Invalid(format!(
                    "{e:?} is not an email address"
                )));
            }
        }
        Ok(Person {
            id: Uuid::new_v4(),
            role: role.to_string(),
            name: name.to_string(),
            email: email.map(str::to_string),
            registered: today.to_string(),
            left: None,
            answers: BTreeMap::new(),
        })
    }
}

/// The people store of one data directory.
#[derive(Clone)]
pub struct People {
    dir: PathBuf,
}

impl People {
    pub fn open(data_dir: &Path) -> Result<Self, PeopleError> {
        let dir = data_dir.join("people");
        std::fs::create_dir_all(&dir).map_err(|e| PeopleError::Io(dir.display().to_string(), e))?;
        Ok(People { dir })
    }

    fn path(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn put(&self, person: &Person) -> Result<(), PeopleError> {
        let bytes = serde_json::to_vec_pretty(person).expect("json");
        let path = self.path(&person.id);
        crate::ledger::store::write_durably(&path, &bytes, 0o600)
            .map_err(|e| PeopleError::Io(path.display().to_string(), e))
    }

    pub fn get(&self, id: &Uuid) -> Result<Option<Person>, PeopleError> {
        let path = self.path(id);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| PeopleError::Damaged(path.display().to_string(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PeopleError::Io(path.display().to_string(), e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Person>, PeopleError> {
        let io = |e| PeopleError::Io(self.dir.display().to_string(), e);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(".json")
                .and_then(|s| Uuid::parse_str(s).ok())
                && let Some(p) = self.get(&id)?
            {
                out.push(p);
            }
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    /// Replaces a partner's own equality answers. A partner registered
    /// before the people store gets an entry holding their answers only.
    pub fn set_answers(
        &self,
        id: &Uuid,
        answers: BTreeMap<String, String>,
    ) -> Result<Person, PeopleError> {
        let mut person = match self.get(id)? {
            Some(p) => p,
            None => Person {
                id: *id,
                role: "partner".into(),
                name: String::new(),
                email: None,
                registered: time::OffsetDateTime::now_utc().date().to_string(),
                left: None,
                answers: BTreeMap::new(),
            },
        };
        person.answers = answers;
        self.put(&person)?;
        Ok(person)
    }

    /// Deletes everything held about `id`; returns whether there was anything.
    pub fn erase(&self, id: &Uuid) -> Result<bool, PeopleError> {
        let path = self.path(id);
        let existed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(PeopleError::Io(path.display().to_string(), e)),
        };
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| PeopleError::Io(self.dir.display().to_string(), e))?;
        Ok(existed)
    }
}

/// What pages and the API show for a participant: their name if the store
/// has one, otherwise words that name no one.
pub fn display_name(people: &People, id: &Uuid) -> String {
    match people.get(id) {
        Ok(Some(p)) => p.name,
        _ => "a former participant".to_string(),
    }
}
