//! The co-production record: typed events, what makes sense against the
//! record so far (`model`), and the projections that answer the
//! accountability questions (`report`, `equality`).
//!
//! Pure: no files, no HTTP, no clock but the records' own times. It reads
//! the ledger's types (records and payloads) and nothing else of it. Who
//! may write what is the core's permission policy (`crate::app::policy`);
//! reading the log and folding it is the core's too (`crate::app::fold`).

pub mod access;
pub mod agenda;
pub mod author;
pub mod dense;
pub mod equality;
pub mod events;
pub mod idea;
pub mod model;
pub mod pay;
pub mod report;
pub mod said;
pub mod table;
pub mod values;
pub mod vec_map;

use crate::ledger::{CanonicalPayload, Record};
use crate::refusal::Refusal;
use events::{EVENT_TYPES, Event, is_extension};

/// Reads the event a record holds: `None` for the organisation's own `x.`
/// types and for redacted payloads; a refusal (invalid) for anything else
/// that is not a valid co-production event, pointing into the payload.
pub fn read_event(
    record: &Record,
    payload: Option<&CanonicalPayload>,
) -> Result<Option<Event>, Refusal> {
    match payload {
        Some(payload) => read_payload(record.event_type().as_str(), payload),
        None => Ok(None),
    }
}

/// A payload as the event of its type; `None` for an `x.` type, which
/// jointly keeps but does not interpret.
pub fn read_payload(type_name: &str, payload: &CanonicalPayload) -> Result<Option<Event>, Refusal> {
    if is_extension(type_name) {
        return Ok(None);
    }
    match Event::from_payload_bytes(type_name, payload.as_bytes()) {
        None => Err(Refusal::invalid(unknown_type(type_name))),
        Some(Err(p)) => Err(Refusal::invalid(p.message).at(p.pointer)),
        Some(Ok(e)) => Ok(Some(e)),
    }
}

/// The event a stored record holds: what was kept of it if its payload
/// was erased; `None` for a record that no longer reads as an event
/// (written under other rules: kept in the log but not interpreted).
pub fn stored_event(
    ev: &crate::ledger::StoredEvent,
    kept: &std::collections::HashMap<crate::ledger::Seq, serde_json::Value>,
) -> Option<Event> {
    match (&ev.payload, kept.get(&ev.record.seq())) {
        (None, Some(kept)) => {
            Event::from_payload(ev.record.event_type().as_str(), kept).and_then(Result::ok)
        }
        _ => read_event(&ev.record, ev.payload.as_ref()).ok().flatten(),
    }
}

/// What to say about an event type jointly does not know.
pub fn unknown_type(type_name: &str) -> String {
    format!(
        "{type_name:?} is not a kind of event jointly knows; use one of {}, or a name starting \"x.\" for your organisation's own events",
        EVENT_TYPES.join(", ")
    )
}
