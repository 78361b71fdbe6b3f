//! The rules every append passes, as the ledger's [`Admission`]: they run
//! inside the single writer, against a model that includes the earlier
//! events of the same batch, so they hold under any concurrency.
//!
//! In order: may this author write this type at all (the permission
//! table), is the payload an event of that type, may they write *this*
//! event (their standing in its project, and whether it is about them),
//! does it make sense against the record (the model), and has its project
//! moved on (`expected_last_seq`). Refusals point into the request:
//! `/type`, `/payload/...`, `/expected_last_seq`.

use super::{fold, policy, snapshot};
use crate::coproduction::author::Author;
use crate::coproduction::events::{Event, RecordCorrected, TextField};
use crate::coproduction::model::Model;
use crate::coproduction::read_payload;
use crate::coproduction::said::{Field, fields_of};
use crate::coproduction::values::Date;
use crate::ledger::{Admission, CanonicalPayload, Ledger, LedgerError, Record};
use crate::refusal::Refusal;
use parking_lot::{ArcRwLockWriteGuard, RawRwLock, RwLock};
use std::sync::Arc;

/// The one model of the record, shared by the writer and every reader.
pub type SharedModel = Arc<RwLock<Model>>;

/// The rules over one log, with the model they check against.
///
/// The model is the readers' model too (one copy in memory, each record
/// folded once). The writer holds it for writing from the first event it
/// admits in a batch until the batch is on disk, so readers never see an
/// event that is not yet durable, and see each batch whole.
pub struct Rules {
    model: SharedModel,
    /// Held while a batch is being admitted and written.
    batch: Option<ArcRwLockWriteGuard<RawRwLock, Model>>,
    ledger: Ledger,
}

impl Rules {
    /// Rules over `ledger`, starting from its whole history.
    pub fn new(ledger: Ledger) -> Result<Self, LedgerError> {
        Ok(Self::open(ledger)?.0)
    }

    /// [`new`](Self::new), saying whether the model came from a snapshot.
    pub fn open(ledger: Ledger) -> Result<(Self, snapshot::Start), LedgerError> {
        let (model, start) = snapshot::open(&ledger)?;
        Ok((Self::with_model(ledger, model), start))
    }

    /// Rules over `ledger` from a model already folded from it, of their
    /// own (not shared with anyone).
    pub fn with_model(ledger: Ledger, model: Model) -> Self {
        Rules {
            model: Arc::new(RwLock::new(model)),
            batch: None,
            ledger,
        }
    }

    /// The model, once the rules are done with it.
    pub fn into_model(mut self) -> Model {
        self.batch = None;
        Arc::try_unwrap(self.model).map_or_else(|shared| shared.read().clone(), RwLock::into_inner)
    }

    /// The model, read (for tests and tools that drive the rules
    /// themselves). Not while a batch is being written on this thread.
    pub fn read(&self) -> super::ModelGuard<'_> {
        self.model.read()
    }

    /// The model these rules keep up to date, for readers to share.
    pub fn shared(&self) -> SharedModel {
        self.model.clone()
    }

    /// The model, for writing: the batch's guard, taken on first use.
    fn model_mut(&mut self) -> &mut Model {
        let shared = &self.model;
        self.batch.get_or_insert_with(|| shared.write_arc())
    }

    /// Checks events as if they were appended next, in order, without
    /// writing anything, against a copy of `model`: for refusing a whole
    /// file of events before any is written. Returns the index of the
    /// first refused event and why.
    pub fn dry_run(
        ledger: &Ledger,
        model: Model,
        events: &[crate::ledger::NewEvent],
    ) -> Result<(), (usize, Refusal)> {
        ledger.dry_run(events, &mut Rules::with_model(ledger.clone(), model))
    }

    /// Folds the whole log again into the shared model.
    fn rebuild(&mut self) {
        // Rare (a failed write, or payloads erased): what is on disk is the
        // truth. If even that cannot be read, the model stays as it was.
        if let Ok(model) = fold::rebuild(&self.ledger) {
            *self.model_mut() = model;
        }
        self.batch = None;
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
        let author = Author::from_actor(record.actor());
        let event = {
            let shared = &self.model;
            let model = self.batch.get_or_insert_with(|| shared.write_arc());
            judge(
                &self.ledger,
                model,
                &author,
                record.event_type().as_str(),
                payload,
                Date::of(record.at()),
            )?
        };
        let model = self.model_mut();
        if let Some(n) = expected {
            model.check_expected(event.as_ref(), n)?;
        }
        model.apply(record, event);
        Ok(())
    }

    fn discard_batch(&mut self) {
        self.rebuild();
    }

    fn batch_done(&mut self) {
        // Readers may now see the batch, which is on disk.
        self.batch = None;
    }

    fn reload(&mut self) {
        self.rebuild();
    }
}

/// Whether `author` may record this event now and it makes sense against
/// the record (`model`), were it recorded on `today`: every rule but the
/// project's `expected_last_seq`. The writer asks it of each event it
/// admits; the pages ask it before they show what will be recorded.
pub fn judge(
    ledger: &Ledger,
    model: &Model,
    author: &Author,
    type_name: &str,
    payload: &CanonicalPayload,
    today: Date,
) -> Result<Option<Event>, Refusal> {
    if policy::allow(author.role, type_name) == policy::Allow::No {
        policy::may_append_type(author, type_name)?;
    }
    let event = read_payload(type_name, payload).map_err(|r| r.under("/payload"))?;
    policy::may_write(author, event.as_ref(), model)?;
    if let Some(e) = &event {
        model.check(author, e).map_err(|r| r.under("/payload"))?;
    }
    if let Some(Event::RecordCorrected(e)) = &event {
        corrects_words(ledger, model, e)?;
    }
    if let Some(e) = &event {
        happened_by_then(e, today)?;
    }
    Ok(event)
}

/// A correction must point at a record in the log (not one in the batch
/// being written: a record's id is made as it is admitted, so no one can
/// know it before the batch is answered), not at another correction (the
/// record is corrected again instead: the latest correction is shown), and
/// name words the record holds.
fn corrects_words(ledger: &Ledger, model: &Model, e: &RecordCorrected) -> Result<(), Refusal> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Refusal::unavailable(format!(
            "whether this record exists cannot be read just now ({e}); try again"
        ))
        .at("/payload/corrects")
    };
    let seq = match ledger.store().seq_of(&e.corrects.uuid()) {
        Ok(Some(seq)) => seq,
        Ok(None) => {
            return Err(
                Refusal::invalid("there is no record with this event id").at("/payload/corrects")
            );
        }
        Err(err) => return Err(unreadable(&err)),
    };
    let stored = ledger.get(seq).map_err(|err| unreadable(&err))?;
    let corrected = stored.and_then(|ev| crate::coproduction::stored_event(&ev, &model.kept));
    if let Some(Event::RecordCorrected(_)) = corrected {
        return Err(Refusal::invalid(
            "this record is itself a correction: correct the record it corrects again instead (the latest correction is the one shown)",
        )
        .at("/payload/corrects"));
    }
    if let Some(field) = e.field {
        let holds: Vec<Field> = corrected.as_ref().map(fields_of).unwrap_or_default();
        if !holds.contains(&Field::from(field)) {
            let names: Vec<&str> = TextField::ALL
                .into_iter()
                .filter(|f| holds.contains(&Field::from(*f)))
                .map(TextField::name)
                .collect();
            return Err(Refusal::invalid(if names.is_empty() {
                format!(
                    "that record holds no “{}”: it has no words to correct",
                    field.name()
                )
            } else {
                format!(
                    "that record holds no “{}”; the words it holds are: {}",
                    field.name(),
                    names.join(", ")
                )
            })
            .at("/payload/field"));
        }
    }
    Ok(())
}

/// Something is recorded on or after the day it happened, never before:
/// the record's own time (UTC) is the one clock the rules have, so a day's
/// grace lets a meeting held in the evening in the UK in summer be
/// recorded the same evening.
fn happened_by_then(event: &Event, recorded: Date) -> Result<(), Refusal> {
    let (on, at) = match event {
        Event::ProjectStarted(e) => (e.started_on, "/payload/started_on"),
        Event::ProposalRaised(e) => (e.raised_on, "/payload/raised_on"),
        Event::DecisionMade(e) => (e.made_on, "/payload/made_on"),
        Event::MeetingHeld(e) => (Some(e.date), "/payload/date"),
        Event::TimeRecorded(e) => (Some(e.date), "/payload/date"),
        Event::PaymentMade(e) => (Some(e.date), "/payload/date"),
        _ => (None, ""),
    };
    match on {
        Some(day) if recorded.days_until(day) > 1 => Err(Refusal::invalid(format!(
            "this is dated {day}, after the day it is recorded ({recorded}); record it on or after the day it happened"
        ))
        .at(at)),
        _ => Ok(()),
    }
}
