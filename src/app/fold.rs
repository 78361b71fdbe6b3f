//! Folding the log into the model: from scratch ([`rebuild`]) or from
//! where a model left off ([`catch_up`]). The model records the last
//! sequence number it applied, so both give the same state.

use super::erasure;
use crate::coproduction::events::Event;
use crate::coproduction::model::Model;
use crate::coproduction::read_event;
use crate::ledger::{Ledger, LedgerError};

/// Folds the whole log into a model.
pub fn rebuild(ledger: &Ledger) -> Result<Model, LedgerError> {
    let mut model = Model {
        kept: erasure::kept(ledger)?,
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
