//! Erasure and subject access over an append-only log.
//!
//! A person's name, contact details and equality answers live in the
//! people store (`crate::people`) and are deleted outright. What they wrote
//! in the log is erased where it lies: a `record.redacted` event authorises
//! it (reason, legal basis, and what is kept of each record: its payload
//! without free text), then the records' salts and payloads are overwritten
//! with zeros. Records, hashes, chain and tree are untouched, so the log
//! still verifies, and the projections still count what happened.
//!
//! Their access tokens are deleted first (a token's name may identify them,
//! and it is how they act), with the answers kept for those tokens'
//! Idempotency-Keys; from then on nothing is written for them.
//!
//! An erasure is made safe against a crash by a journal file written before
//! anything changes and removed only after the last step; every step can be
//! run again, and [`resume`] finishes one left half done when the core
//! opens the data directory, before any request is taken.

use super::idempotency::Idempotency;
use super::tokens::TokenStore;
use crate::coproduction::author::Author;
use crate::coproduction::events::{
    ERASED_TEXT, Erased, OWN_WORDS_TYPES, RecordRedacted, without_free_text,
};
use crate::coproduction::values::Text;
use crate::ledger::{Actor, CanonicalPayload, EventType, Ledger, LedgerError, NewEvent, Seq};
use crate::people::{People, Person};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The side table of what is kept of each erased record (derived from the
/// log's `record.redacted` events; it holds no free text).
const KEPT_TABLE: &str = "erased";
const JOURNAL: &str = "erasure.pending";
/// Records read at a time when scanning.
const PAGE: usize = 4096;
/// Records named in one `record.redacted`, to keep each well under the
/// payload limit; a large erasure is authorised by several.
const PER_REDACTION: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] crate::ledger::StoreError),
    #[error(transparent)]
    People(#[from] crate::people::PeopleError),
    #[error("{0}")]
    Invalid(String),
    #[error("the erasure could not be recorded: {0}")]
    Append(String),
    #[error("the erasure journal cannot be used: {0}")]
    Journal(String),
}

/// Where a person is held besides the log: what an erasure deletes.
#[derive(Clone, Copy)]
pub struct Holders<'a> {
    pub people: &'a People,
    pub tokens: &'a TokenStore,
    pub idempotency: &'a Idempotency,
    pub outbox: &'a super::outbox::Outbox,
}

/// Types only the erasure paths write (they go with deleting bytes).
pub const DELETING_TYPES: &[&str] = &["record.redacted", "retention.applied"];

/// What is kept of each erased record, by sequence number.
pub fn kept(ledger: &Ledger) -> Result<HashMap<Seq, Value>, LedgerError> {
    let table = ledger.store().side_table(KEPT_TABLE)?;
    let mut out = HashMap::new();
    for (k, v) in table.scan_prefix(b"")? {
        if let (Ok(k), Ok(v)) = (
            <[u8; 8]>::try_from(k.as_slice()),
            serde_json::from_slice(&v),
        ) {
            out.insert(u64::from_be_bytes(k), v);
        }
    }
    Ok(out)
}

/// Calls `f` on every stored record, in order.
fn scan(
    ledger: &Ledger,
    mut f: impl FnMut(&crate::ledger::StoredEvent),
) -> Result<(), LedgerError> {
    let mut next = 0;
    loop {
        let page = ledger.range(next, PAGE)?;
        if page.is_empty() {
            return Ok(());
        }
        page.iter().for_each(&mut f);
        next += page.len() as u64;
    }
}

/// An erasure in progress, as the journal holds it.
#[derive(Serialize, Deserialize)]
struct Journal {
    participant: Option<Uuid>,
    /// Who authorised it, as the log names them.
    actor: String,
    /// The log's size before the erasure's own record was appended.
    size_before: u64,
    records: Vec<Erased>,
    reason: String,
    legal_basis: String,
}

/// What an erasure did.
#[derive(Debug, Serialize)]
pub struct Erasure {
    /// The `record.redacted` record that authorises it (none if nothing in
    /// the log needed erasing).
    pub authorised_by: Option<Seq>,
    /// The records whose payloads were erased.
    pub erased: Vec<Seq>,
    /// Whether a people-store entry (name, contact, answers) was deleted.
    pub person_deleted: bool,
    /// How many of their access tokens were deleted.
    pub tokens_deleted: usize,
}

impl std::fmt::Display for Erasure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; erased the text of {} record(s){}",
            if self.person_deleted {
                "deleted their name, contact details and answers"
            } else {
                "there was no people-store entry to delete"
            },
            self.erased.len(),
            match self.authorised_by {
                Some(s) => format!(" (authorised by record {s})"),
                None => String::new(),
            }
        )?;
        write!(f, "; deleted {} access token(s)", self.tokens_deleted)
    }
}

/// The records `who` wrote in their own words (see [`OWN_WORDS_TYPES`]),
/// and what to keep of each.
pub fn authored_free_text(ledger: &Ledger, who: Uuid) -> Result<Vec<Erased>, LedgerError> {
    let mut out = Vec::new();
    scan(ledger, |ev| {
        let Some(payload) = &ev.payload else { return };
        let author = Author::from_actor(ev.record.actor()).participant;
        if author.map(|p| p.uuid()) != Some(who)
            || !OWN_WORDS_TYPES.contains(&ev.record.event_type().as_str())
        {
            return;
        }
        let Ok(value) = serde_json::from_slice::<Value>(payload.as_bytes()) else {
            return;
        };
        let kept = without_free_text(&value);
        if let (true, Value::Object(kept)) = (kept != value, kept) {
            out.push(Erased {
                seq: ev.record.seq(),
                kept,
            });
        }
    })?;
    Ok(out)
}

/// Erases one person: their people-store entry and their own words in the
/// log, authorised by `record.redacted` records appended, as `actor`, with
/// `append` (which must write through the rules and return the seq).
pub fn erase_person(
    ledger: &Ledger,
    holders: Holders<'_>,
    who: Uuid,
    actor: &Actor,
    reason: &str,
    legal_basis: &str,
    append: impl FnMut(NewEvent) -> Result<Seq, String>,
) -> Result<Erasure, PrivacyError> {
    let reason = Text::new(reason).map_err(|e| PrivacyError::Invalid(format!("--reason: {e}")))?;
    let basis =
        Text::new(legal_basis).map_err(|e| PrivacyError::Invalid(format!("--legal-basis: {e}")))?;
    let records = authored_free_text(ledger, who)?;
    let journal = Journal {
        participant: Some(who),
        actor: actor.as_str().to_string(),
        size_before: ledger.head().size,
        records,
        reason: reason.as_str().to_string(),
        legal_basis: basis.as_str().to_string(),
    };
    write_journal(ledger, &journal)?;
    let tokens_deleted = shut_out(holders, &journal)?;
    let authorised_by = authorise(ledger, &journal, append)?;
    finish(ledger, holders, &journal, authorised_by, tokens_deleted)
}

/// The first step after the journal: the person can no longer act. Their
/// access tokens (a token's name may identify them) and the answers kept
/// for those tokens' Idempotency-Keys are deleted, which ends their page
/// sessions and streams too, and the people store will write nothing more
/// for them, so no request already under way can bring their data back.
fn shut_out(holders: Holders<'_>, j: &Journal) -> Result<usize, PrivacyError> {
    let Some(p) = j.participant else {
        return Ok(0);
    };
    // Messages owed to them go first: none is sent from here on (the mail
    // loop also checks, as it sends, that the person is not erased).
    holders.outbox.forget_person(&p)?;
    holders.people.forget([p]);
    let mut deleted = 0;
    for token in holders.tokens.delete_for(&p.into())? {
        holders.idempotency.forget_token(&token)?;
        deleted += 1;
    }
    Ok(deleted)
}

/// Applies again, to a data directory restored from a backup, the erasure
/// of `who` that the log recorded after the backup: their people-store
/// entry, tokens, kept answers and messages owed go (their words were
/// never written back).
pub fn shut_out_again(ledger: &Ledger, who: Uuid) -> Result<(), PrivacyError> {
    let people = People::open(ledger.store().dir())?;
    let tokens = TokenStore::open(ledger)?;
    let idempotency = Idempotency::open(ledger)?;
    let outbox = super::outbox::Outbox::new(ledger.store().side_table("outbox")?);
    let holders = Holders {
        people: &people,
        tokens: &tokens,
        idempotency: &idempotency,
        outbox: &outbox,
    };
    let j = Journal {
        participant: Some(who),
        actor: String::new(),
        size_before: ledger.head().size,
        records: Vec::new(),
        reason: String::new(),
        legal_basis: String::new(),
    };
    shut_out(holders, &j)?;
    people.erase(&who)?;
    Ok(())
}

/// Appends the `record.redacted` records the journal needs and the log does
/// not yet hold (after a crash, some may already be there); returns the
/// first. One is always written for a person, so the log says they were
/// erased even when they wrote nothing.
fn authorise(
    ledger: &Ledger,
    j: &Journal,
    mut append: impl FnMut(NewEvent) -> Result<Seq, String>,
) -> Result<Option<Seq>, PrivacyError> {
    let mut done: BTreeMap<Vec<Seq>, Seq> = BTreeMap::new();
    let mut next = j.size_before;
    loop {
        let page = ledger.range(next, PAGE)?;
        if page.is_empty() {
            break;
        }
        for ev in &page {
            if ev.record.event_type().as_str() != "record.redacted" {
                continue;
            }
            if let Some(r) = ev
                .payload
                .as_ref()
                .and_then(|p| serde_json::from_slice::<RecordRedacted>(p.as_bytes()).ok())
            {
                done.insert(r.records.iter().map(|e| e.seq).collect(), ev.record.seq());
            }
        }
        next += page.len() as u64;
    }
    let chunks: Vec<&[Erased]> = if j.records.is_empty() && j.participant.is_some() {
        vec![&[]]
    } else {
        j.records.chunks(PER_REDACTION).collect()
    };
    let mut first = None;
    for chunk in chunks {
        let seqs: Vec<Seq> = chunk.iter().map(|e| e.seq).collect();
        let seq = match done.get(&seqs) {
            Some(s) => *s,
            None => append(redaction_event(j, chunk)?).map_err(PrivacyError::Append)?,
        };
        first.get_or_insert(seq);
    }
    Ok(first)
}

fn redaction_event(j: &Journal, records: &[Erased]) -> Result<NewEvent, PrivacyError> {
    let payload = json!(RecordRedacted {
        participant: j.participant.map(Into::into),
        records: records.to_vec(),
        reason: Text::new(&j.reason).map_err(PrivacyError::Invalid)?,
        legal_basis: Text::new(&j.legal_basis).map_err(PrivacyError::Invalid)?,
    });
    Ok(NewEvent {
        expected: None,
        event_type: EventType::new("record.redacted").expect("valid type"),
        actor: Actor::new(&j.actor).map_err(|e| PrivacyError::Journal(e.to_string()))?,
        payload: CanonicalPayload::from_value(&payload)
            .map_err(|e| PrivacyError::Invalid(e.to_string()))?,
    })
}

fn journal_path(ledger: &Ledger) -> std::path::PathBuf {
    ledger.store().dir().join(JOURNAL)
}

fn write_journal(ledger: &Ledger, j: &Journal) -> Result<(), PrivacyError> {
    let bytes = serde_json::to_vec(j).expect("json");
    crate::ledger::store::write_durably(&journal_path(ledger), &bytes, 0o600)
        .map_err(|e| PrivacyError::Journal(e.to_string()))
}

/// The steps after the authorising record is in the log; each may be run
/// again after a crash, and the journal goes only after the last.
fn finish(
    ledger: &Ledger,
    holders: Holders<'_>,
    j: &Journal,
    authorised_by: Option<Seq>,
    tokens_deleted: usize,
) -> Result<Erasure, PrivacyError> {
    let table = ledger.store().side_table(KEPT_TABLE)?;
    for r in &j.records {
        table.put(
            &r.seq.to_be_bytes(),
            &serde_json::to_vec(&r.kept).expect("json"),
        )?;
    }
    let seqs: Vec<Seq> = j.records.iter().map(|r| r.seq).collect();
    ledger.store().erase_payloads(&seqs)?;
    let person_deleted = match j.participant {
        Some(p) => holders.people.erase(&p)?,
        None => false,
    };
    std::fs::remove_file(journal_path(ledger)).map_err(|e| PrivacyError::Journal(e.to_string()))?;
    Ok(Erasure {
        authorised_by,
        erased: seqs,
        person_deleted,
        tokens_deleted,
    })
}

/// Finishes an erasure a crash interrupted, if there is one: appends its
/// authorising record if that never reached the log, then erases.
pub fn resume(
    ledger: &Ledger,
    holders: Holders<'_>,
    append: impl FnMut(NewEvent) -> Result<Seq, String>,
) -> Result<Option<Erasure>, PrivacyError> {
    let bytes = match std::fs::read(journal_path(ledger)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PrivacyError::Journal(e.to_string())),
    };
    let j: Journal =
        serde_json::from_slice(&bytes).map_err(|e| PrivacyError::Journal(e.to_string()))?;
    let tokens_deleted = shut_out(holders, &j)?;
    let authorised_by = authorise(ledger, &j, append)?;
    finish(ledger, holders, &j, authorised_by, tokens_deleted).map(Some)
}

/// Rebuilds what is kept of each erased record from the log's
/// `record.redacted` records (after an import, whose store starts empty).
pub fn rebuild_kept(ledger: &Ledger) -> Result<u64, PrivacyError> {
    let table = ledger.store().side_table(KEPT_TABLE)?;
    let mut n = 0;
    let mut failed = None;
    scan(ledger, |ev| {
        if ev.record.event_type().as_str() != "record.redacted" {
            return;
        }
        let Some(r) = ev
            .payload
            .as_ref()
            .and_then(|p| serde_json::from_slice::<RecordRedacted>(p.as_bytes()).ok())
        else {
            return;
        };
        for e in r.records {
            match table.put(
                &e.seq.to_be_bytes(),
                &serde_json::to_vec(&e.kept).expect("json"),
            ) {
                Ok(()) => n += 1,
                Err(err) => failed = Some(err),
            }
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(n),
    }
}

/// Which erased payloads a `record.redacted` authorises, worked out
/// record by record in log order, the same way for a store (`jointly
/// verify`) and for a bundle (`jointly import`, before it writes anything).
/// A payload is authorised by a later `record.redacted` that names it.
#[derive(Default)]
pub struct Authorisations {
    erased: Vec<Seq>,
    by: BTreeMap<Seq, Seq>,
}

impl Authorisations {
    /// The next record: its number, type and payload (`None`: erased).
    pub fn record(&mut self, seq: Seq, type_name: &str, payload: Option<&[u8]>) {
        match payload {
            None => self.erased.push(seq),
            Some(p) if type_name == "record.redacted" => {
                if let Ok(r) = serde_json::from_slice::<RecordRedacted>(p) {
                    for e in r.records {
                        if e.seq < seq {
                            self.by.entry(e.seq).or_insert(seq);
                        }
                    }
                }
            }
            Some(_) => {}
        }
    }

    /// (erased seq -> the record that authorised it), and the erased
    /// records that no `record.redacted` names (damage or tampering).
    pub fn result(&self) -> (BTreeMap<Seq, Seq>, Vec<Seq>) {
        let unauthorised = self
            .erased
            .iter()
            .filter(|s| !self.by.contains_key(s))
            .copied()
            .collect();
        let authorised = self
            .erased
            .iter()
            .filter_map(|s| self.by.get(s).map(|by| (*s, *by)))
            .collect();
        (authorised, unauthorised)
    }
}

impl crate::ledger::bundle::Inspect for Authorisations {
    fn record(
        &mut self,
        record: &crate::ledger::Record,
        payload: Option<&[u8]>,
    ) -> Result<(), String> {
        Authorisations::record(self, record.seq(), record.event_type().as_str(), payload);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        let (_, unauthorised) = self.result();
        if unauthorised.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} payload(s) are missing with no record.redacted authorising it: records {:?}",
            unauthorised.len(),
            unauthorised
        ))
    }
}

/// [`Authorisations`] over a whole store.
pub fn authorisations(ledger: &Ledger) -> Result<(BTreeMap<Seq, Seq>, Vec<Seq>), LedgerError> {
    let mut a = Authorisations::default();
    scan(ledger, |ev| {
        a.record(
            ev.record.seq(),
            ev.record.event_type().as_str(),
            ev.payload.as_ref().map(|p| p.as_bytes()),
        )
    })?;
    Ok(a.result())
}

/// Everything held about one person, for a subject access request: their
/// people-store entry (name, contact, answers) and every record that names
/// them, as author or in its payload, with the payload where it still exists.
/// Everything held about one person (subject access).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SubjectExport {
    pub about: &'static str,
    #[schema(value_type = String, format = Uuid)]
    pub participant_id: Uuid,
    /// Their entry in the people store, if there is one.
    pub people_store: Option<Person>,
    /// Every record they wrote or are named in.
    pub records: Vec<ExportedRecord>,
}

/// A record a person wrote or is named in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExportedRecord {
    /// When it was recorded (UTC, RFC 3339).
    pub at: String,
    /// The event id.
    pub id: String,
    /// The payload, or the words that stand for text that was erased.
    pub payload: Value,
    pub seq: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    /// "wrote this" or "are named in this".
    pub you: &'static str,
}

pub fn subject_export(
    ledger: &Ledger,
    people: &People,
    who: Uuid,
) -> Result<SubjectExport, PrivacyError> {
    let person = people.get(&who)?;
    let id = who.to_string();
    let mut records = Vec::new();
    scan(ledger, |ev| {
        let authored = Author::from_actor(ev.record.actor())
            .participant
            .map(|p| p.uuid())
            == Some(who);
        let payload: Option<Value> = ev
            .payload
            .as_ref()
            .and_then(|p| serde_json::from_slice(p.as_bytes()).ok());
        let named = payload
            .as_ref()
            .is_some_and(|p| p.to_string().contains(&id));
        if authored || named {
            records.push(ExportedRecord {
                seq: ev.record.seq(),
                id: ev.record.id().to_string(),
                event_type: ev.record.event_type().as_str().to_string(),
                at: ev.record.at().to_string(),
                you: if authored {
                    "wrote this"
                } else {
                    "are named in this"
                },
                payload: payload.unwrap_or_else(|| json!(ERASED_TEXT)),
            });
        }
    })?;
    Ok(SubjectExport {
        participant_id: who,
        about: "Everything jointly holds about this person: their entry in the people store (name, contact details, equality-monitoring answers) and every record that names them. Records are permanent; their free text can be erased on request.",
        people_store: person,
        records,
    })
}

/// What a retention run did.
pub struct Retention {
    pub cutoff: String,
    pub erased_people: Vec<Uuid>,
    /// The `retention.applied` record.
    pub recorded_as: Seq,
}

/// Erases everyone who left more than `days` before `today` (each erasure
/// authorised by its own `record.redacted`), then records the run.
pub fn apply_retention(
    ledger: &Ledger,
    holders: Holders<'_>,
    today: time::Date,
    days: u32,
    actor: &Actor,
    mut append: impl FnMut(NewEvent) -> Result<Seq, String>,
) -> Result<Retention, PrivacyError> {
    let cutoff = today - time::Duration::days(i64::from(days));
    let cutoff_text = cutoff.to_string();
    let mut erased_people = Vec::new();
    for p in holders.people.list()? {
        // Dates are YYYY-MM-DD, so they compare as text.
        if p.left
            .as_deref()
            .is_some_and(|left| left < cutoff_text.as_str())
        {
            erase_person(
                ledger,
                holders,
                p.id,
                actor,
                &format!("the retention period of {days} days after they left ended"),
                "UK GDPR Article 5(1)(e) (storage limitation)",
                &mut append,
            )?;
            erased_people.push(p.id);
        }
    }
    let payload =
        json!({"period_days": days, "cutoff": cutoff_text, "people_erased": erased_people.len()});
    let recorded_as = append(NewEvent {
        expected: None,
        event_type: EventType::new("retention.applied").expect("valid type"),
        actor: actor.clone(),
        payload: CanonicalPayload::from_value(&payload)
            .map_err(|e| PrivacyError::Invalid(e.to_string()))?,
    })
    .map_err(PrivacyError::Append)?;
    Ok(Retention {
        cutoff: cutoff_text,
        erased_people,
        recorded_as,
    })
}
