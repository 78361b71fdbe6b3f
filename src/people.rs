//! The people store: names, contact details and equality-monitoring answers,
//! kept apart from the log so they can really be erased. The log names
//! people only by their pseudonymous participant id.
//!
//! One small file per person in `<data>/people/`, mode 0600, replaced
//! atomically. It is deliberately not in sled: sled is log-structured, so
//! bytes it deletes can stay in its files until they are rewritten, while
//! an unlinked file's bytes are gone from the data directory at once.
//!
//! Writes are serialised (one at a time for the whole store: they are few),
//! and each goes through a temporary file of its own, so concurrent writes
//! for one person can never mix. Once a person is erased, nothing can write
//! for them again (`forget`): a write racing the erasure loses. A damaged
//! file is reported and passed over, so it never stops figures, retention
//! or subject access for anyone else.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("{0}")]
    Invalid(String),
    #[error("the people store at {0} cannot be used: {1}")]
    Io(String, std::io::Error),
    #[error("{0} is damaged: {1}")]
    Damaged(String, String),
    #[error("this person's personal data was erased; nothing more is kept for them")]
    Erased,
}

/// One person, as the people store holds them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    #[schema(value_type = String, format = Uuid)]
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
    /// How they chose to hear of what happens (see `app::notify`); unset:
    /// each message as it happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hearing: Option<Hearing>,
}

/// How a person hears of what happens to their ideas, decisions and
/// projects, by email.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Hearing {
    /// Each message as it happens.
    AsItHappens,
    /// A weekly summary.
    Weekly,
    /// No emails at all.
    Nothing,
}

impl Hearing {
    pub const ALL: [Hearing; 3] = [Hearing::AsItHappens, Hearing::Weekly, Hearing::Nothing];

    pub fn code(self) -> &'static str {
        match self {
            Hearing::AsItHappens => "as-it-happens",
            Hearing::Weekly => "weekly",
            Hearing::Nothing => "nothing",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Hearing::AsItHappens => "Each message as it happens",
            Hearing::Weekly => "A weekly summary",
            Hearing::Nothing => "No emails",
        }
    }

    pub fn from_code(code: &str) -> Option<Hearing> {
        Hearing::ALL.into_iter().find(|h| h.code() == code)
    }
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
        let name = checked_name(name)?;
        if let Some(e) = email {
            check_email(e)?;
        }
        Ok(Person {
            id: Uuid::new_v4(),
            role: role.to_string(),
            name,
            email: email.map(str::to_string),
            registered: today.to_string(),
            left: None,
            answers: BTreeMap::new(),
            hearing: None,
        })
    }
}

/// A name as it is kept: trimmed, 1 to 200 characters, on one line.
pub fn checked_name(name: &str) -> Result<String, PeopleError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(PeopleError::Invalid(
            "the name must be 1 to 200 characters, on one line".into(),
        ));
    }
    Ok(name.to_string())
}

/// An email address that could be one: something, an @, a domain with a
/// dot, no spaces, at most 254 characters.
pub fn check_email(e: &str) -> Result<(), PeopleError> {
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(a, d)| {
            !a.is_empty() && d.contains('.') && !e.contains(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(PeopleError::Invalid(format!(
            "{e:?} is not an email address"
        )))
    }
}

/// A name or an email as compared to find the same person twice: case and
/// runs of spaces do not count.
pub fn comparable(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The people store of one data directory.
#[derive(Clone)]
pub struct People {
    dir: PathBuf,
    /// Held for every write and deletion, and for the reading a write
    /// depends on.
    writes: Arc<Mutex<()>>,
    /// People erased since the store was opened, or before (the core tells
    /// it at open): nothing is written for them again.
    forgotten: Arc<Mutex<HashSet<Uuid>>>,
}

impl People {
    pub fn open(data_dir: &Path) -> Result<Self, PeopleError> {
        let dir = data_dir.join("people");
        // Names and contact details: for jointly's user alone.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| PeopleError::Io(dir.display().to_string(), e))?;
        // Temporary files a crash left behind hold nothing anyone needs.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".new") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(People {
            dir,
            writes: Arc::new(Mutex::new(())),
            forgotten: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Marks people as erased: nothing will be written for them.
    pub fn forget(&self, ids: impl IntoIterator<Item = Uuid>) {
        if let Ok(mut f) = self.forgotten.lock() {
            f.extend(ids);
        }
    }

    fn is_forgotten(&self, id: &Uuid) -> bool {
        self.forgotten
            .lock()
            .map(|f| f.contains(id))
            .unwrap_or(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while writing leaves no half-written file (writes are
        // atomic), so a poisoned lock is safe to take.
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn put(&self, person: &Person) -> Result<(), PeopleError> {
        let _held = self.lock();
        self.write(person)
    }

    /// Writes a person's file; the caller holds the lock.
    fn write(&self, person: &Person) -> Result<(), PeopleError> {
        if self.is_forgotten(&person.id) {
            return Err(PeopleError::Erased);
        }
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

    /// Everyone the store holds, passing over any damaged file (see
    /// [`damaged`](Self::damaged)): one damaged entry never stops the
    /// figures, retention or subject access for anyone else.
    pub fn list(&self) -> Result<Vec<Person>, PeopleError> {
        Ok(self.read_all()?.0)
    }

    /// The ids whose files are damaged (unreadable as a person).
    pub fn damaged(&self) -> Result<Vec<Uuid>, PeopleError> {
        Ok(self.read_all()?.1)
    }

    fn read_all(&self) -> Result<(Vec<Person>, Vec<Uuid>), PeopleError> {
        let io = |e| PeopleError::Io(self.dir.display().to_string(), e);
        let (mut out, mut damaged) = (Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let name = name.to_string_lossy();
            let Some(id) = name
                .strip_suffix(".json")
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                continue;
            };
            match self.get(&id) {
                Ok(Some(p)) => out.push(p),
                Ok(None) => {}
                Err(PeopleError::Damaged(..)) => damaged.push(id),
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|p| p.id);
        damaged.sort();
        Ok((out, damaged))
    }

    /// Replaces a partner's own equality answers. A partner registered
    /// before the people store gets an entry holding their answers only.
    pub fn set_answers(
        &self,
        id: &Uuid,
        answers: BTreeMap<String, String>,
    ) -> Result<Person, PeopleError> {
        let _held = self.lock();
        if self.is_forgotten(id) {
            return Err(PeopleError::Erased);
        }
        // A damaged entry is replaced by the answers, keeping nothing else:
        // the partner can always repair their own entry this way.
        let mut person = match self.get(id).or_else(|e| match e {
            PeopleError::Damaged(..) => Ok(None),
            e => Err(e),
        })? {
            Some(p) => p,
            None => Person {
                id: *id,
                role: "partner".into(),
                name: String::new(),
                email: None,
                registered: time::OffsetDateTime::now_utc().date().to_string(),
                left: None,
                answers: BTreeMap::new(),
                hearing: None,
            },
        };
        person.answers = answers;
        self.write(&person)?;
        Ok(person)
    }

    /// Sets how a person hears of things; `Ok(false)` if the store holds
    /// no one with this id.
    pub fn set_hearing(&self, id: &Uuid, hearing: Hearing) -> Result<bool, PeopleError> {
        let _held = self.lock();
        if self.is_forgotten(id) {
            return Err(PeopleError::Erased);
        }
        let Some(mut person) = self.get(id)? else {
            return Ok(false);
        };
        person.hearing = Some(hearing);
        self.write(&person)?;
        Ok(true)
    }

    /// Corrects a person's name and email (rectification): `name` when
    /// given; `email` when given, `Some(None)` removing it. `Ok(None)` if
    /// the store holds no one with this id.
    pub fn correct(
        &self,
        id: &Uuid,
        name: Option<&str>,
        email: Option<Option<&str>>,
    ) -> Result<Option<Person>, PeopleError> {
        let name = name.map(checked_name).transpose()?;
        if let Some(Some(e)) = email {
            check_email(e)?;
        }
        let _held = self.lock();
        if self.is_forgotten(id) {
            return Err(PeopleError::Erased);
        }
        let Some(mut person) = self.get(id)? else {
            return Ok(None);
        };
        if let Some(n) = name {
            person.name = n;
        }
        if let Some(e) = email {
            person.email = e.map(str::to_string);
        }
        self.write(&person)?;
        Ok(Some(person))
    }

    /// Deletes everything held about `id`, and from now on refuses to
    /// write for them; returns whether there was anything.
    pub fn erase(&self, id: &Uuid) -> Result<bool, PeopleError> {
        let _held = self.lock();
        self.forget([*id]);
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
