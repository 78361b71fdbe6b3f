//! The co-production record: typed events, the rules for appending them,
//! and the projections that answer DOMAIN.md's questions.
//!
//! Depends on `ledger`, never the other way round, and knows nothing of
//! HTTP. The rules run inside the ledger's single writer as an
//! [`Admission`], so they hold under any concurrency.

pub mod author;
pub mod demo;
pub mod equality;
pub mod events;
pub mod model;
pub mod privacy;
pub mod report;
pub mod values;

use crate::ledger::{Admission, Ledger, LedgerError};
use crate::ledger::{CanonicalPayload, Record};
use author::Author;
use events::{EVENT_TYPES, Event, is_extension};
use model::{Model, Refusal};

/// Reads the event a record holds: `None` for the organisation's own `x.`
/// types and for redacted payloads; a refusal for anything else that is not
/// a valid co-production event.
pub fn read_event(
    record: &Record,
    payload: Option<&CanonicalPayload>,
) -> Result<Option<Event>, Refusal> {
    let type_name = record.event_type().as_str();
    if is_extension(type_name) {
        return Ok(None);
    }
    if EVENT_TYPES.contains(&type_name) {
        Model::may_write(&Author::from_actor(record.actor()), type_name)?;
    }
    let Some(payload) = payload else {
        return Ok(None);
    };
    match Event::from_payload_bytes(type_name, payload.as_bytes()) {
        None => Err(Refusal {
            pointer: String::new(),
            message: format!(
                "{type_name:?} is not a kind of event jointly knows; use one of {}, or a name starting \"x.\" for your organisation's own events",
                EVENT_TYPES.join(", ")
            ),
        }),
        Some(Err(p)) => Err(Refusal {
            pointer: p.pointer,
            message: p.message,
        }),
        Some(Ok(e)) => Ok(Some(e)),
    }
}

/// Folds the whole log into a model.
pub fn rebuild(ledger: &Ledger) -> Result<Model, LedgerError> {
    let mut model = Model {
        kept: privacy::kept(ledger)?,
        ..Model::default()
    };
    catch_up(ledger, &mut model)?;
    Ok(model)
}

/// Applies the records the model has not seen yet.
pub fn catch_up(ledger: &Ledger, model: &mut Model) -> Result<(), LedgerError> {
    let mut next = model.last_seq.map_or(0, |s| s + 1);
    loop {
        let page = ledger.range(next, 4096)?;
        if page.is_empty() {
            return Ok(());
        }
        for ev in &page {
            // A stored record that no longer reads as an event (written
            // under other rules) is kept in the log but not interpreted.
            let event = match (&ev.payload, model.kept.get(&ev.record.seq())) {
                // Erased: what was kept of it, without its free text.
                (None, Some(kept)) => {
                    Event::from_payload(ev.record.event_type().as_str(), kept).and_then(Result::ok)
                }
                _ => read_event(&ev.record, ev.payload.as_ref()).ok().flatten(),
            };
            model.apply(&ev.record, event);
        }
        next += page.len() as u64;
    }
}

/// The append rules as the ledger's admission: each event is read, checked
/// against the model (which includes the batch so far), and applied.
pub struct Rules {
    model: Model,
    ledger: Ledger,
}

impl Rules {
    /// Rules over `ledger`, starting from its whole history.
    pub fn new(ledger: Ledger) -> Result<Self, LedgerError> {
        let model = rebuild(&ledger)?;
        Ok(Rules { model, ledger })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn into_model(self) -> Model {
        self.model
    }

    /// A correction must point at a record in the log. (Not one in the
    /// batch being written: a record's id is made as it is admitted, so no
    /// one can know it before the batch is answered.)
    fn check_exists(&self, id: uuid::Uuid) -> Result<(), Refusal> {
        let refuse = |message: String| Refusal {
            pointer: "/corrects".into(),
            message,
        };
        match self.ledger.store().seq_of(&id) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(refuse("there is no record with this event id".into())),
            Err(e) => Err(refuse(format!(
                "whether this record exists cannot be read just now ({e}); try again"
            ))),
        }
    }

    /// Checks events as if they were appended next, in order, without
    /// writing anything: for refusing a whole file of events before any is
    /// written. Returns the index of the first refused event and why.
    pub fn dry_run(&self, events: &[crate::ledger::NewEvent]) -> Result<(), (usize, Refusal)> {
        let mut copy = Rules {
            model: self.model.clone(),
            ledger: self.ledger.clone(),
        };
        self.ledger.dry_run(events, &mut copy)
    }
}

impl Admission for Rules {
    type Refusal = Refusal;

    fn admit(
        &mut self,
        record: &Record,
        payload: &CanonicalPayload,
        expected: Option<u64>,
    ) -> Result<(), Refusal> {
        let event = read_event(record, Some(payload))?;
        if let Some(e) = &event {
            self.model.check(&Author::from_actor(record.actor()), e)?;
        }
        if let Some(Event::RecordCorrected(e)) = &event {
            self.check_exists(e.corrects.uuid())?;
        }
        if let Some(n) = expected {
            self.model.check_expected(event.as_ref(), n)?;
        }
        self.model.apply(record, event);
        Ok(())
    }

    fn discard_batch(&mut self) {
        // Rare (a failed write): start again from what is on disk.
        if let Ok(model) = rebuild(&self.ledger) {
            self.model = model;
        }
    }

    fn reload(&mut self) {
        self.discard_batch();
    }
}
