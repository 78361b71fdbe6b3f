//! Words people wrote, as the model keeps them: where they were said (a
//! record, and which of its fields), not the words themselves.
//!
//! The log already holds every word; a second copy in memory was a third
//! of the model (a million pieces of text at 10^6 records). So the model
//! keeps a 16-byte [`Said`] for each, and a reader asks the model for the
//! words when it shows them ([`Model::words`](super::model::Model::words)),
//! which reads the record through [`Words`]. An erased record's words are
//! then gone from every page as soon as the log no longer holds them: what
//! is read is what was kept of it, as the fold reads it.

use super::events::Event;
use super::values::Text;
use crate::ledger::Seq;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Where one piece of free text was said: the record, and its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Said {
    seq: Seq,
    field: Field,
}

/// A field of free text in an event's payload. `Aim` and `AnswerReason`
/// carry the position in their list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    Title,
    Summary,
    Aim(u16),
    Text,
    Reason,
    Question,
    Outcome,
    AnswerReason(u16),
    Answer,
    What,
    Note,
    WhatChanged,
    Evidence,
    Correction,
}

impl Said {
    /// The field `field` of record `seq`.
    pub fn at(seq: Seq, field: Field) -> Said {
        Said { seq, field }
    }

    /// The record it was said in.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The words, in the event record `seq` holds.
    pub fn in_event<'e>(&self, event: &'e Event) -> Option<&'e Text> {
        use Field as F;
        let nth = |i: u16| i as usize;
        Some(match (event, self.field) {
            (Event::ProjectStarted(e), F::Title) => &e.title,
            (Event::ProjectStarted(e), F::Summary) => &e.summary,
            (Event::ProjectStarted(e), F::Aim(i)) => &e.aims.get(nth(i))?.text,
            (Event::ProposalRaised(e), F::Text) => &e.text,
            (Event::ProposalWithdrawn(e), F::Reason) => &e.reason,
            (Event::DecisionMade(e), F::Question) => &e.question,
            (Event::DecisionMade(e), F::Outcome) => &e.outcome,
            (Event::DecisionMade(e), F::Reason) => &e.reason,
            (Event::DecisionMade(e), F::AnswerReason(i)) => &e.answers.get(nth(i))?.reason,
            (Event::DecisionDisputed(e), F::Reason) => &e.reason,
            (Event::DisputeAnswered(e), F::Answer) => &e.answer,
            (Event::DecisionChallenged(e), F::Reason) => &e.reason,
            (Event::ChallengeAnswered(e), F::Answer) => &e.answer,
            (Event::ActionCommitted(e), F::What) => &e.what,
            (Event::ActionUpdated(e), F::Note) => &e.note,
            (Event::ActionCompleted(e), F::WhatChanged) => &e.what_changed,
            (Event::OutcomeRecorded(e), F::Outcome) => &e.outcome,
            (Event::OutcomeRecorded(e), F::Evidence) => &e.evidence,
            (Event::ReviewHeld(e), F::Summary) => &e.summary,
            (Event::RecordCorrected(e), F::Correction) => &e.correction,
            _ => return None,
        })
    }
}

/// Reads the event a record holds, as the fold would read it: what was
/// kept of it (`kept`) when its payload was erased. The core's reader of
/// the log implements it; the model knows nothing of files.
pub trait Records: Send + Sync {
    fn event(
        &self,
        seq: Seq,
        kept: &HashMap<Seq, serde_json::Value>,
    ) -> Result<Option<Event>, String>;
}

/// Where the model reads words from when they are shown.
#[derive(Clone)]
pub enum Words {
    /// Each event with words, held as it was applied: for a model folded
    /// in memory with no log behind it (tests, tools).
    Held(HashMap<Seq, Event>),
    /// The log (the server's model: nothing held).
    Read(Arc<dyn Records>),
}

impl Default for Words {
    fn default() -> Self {
        Words::Held(HashMap::new())
    }
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Words::Held(events) => write!(f, "Words::Held({} events)", events.len()),
            Words::Read(_) => f.write_str("Words::Read"),
        }
    }
}

/// Shown in place of words that could not be read (the log could not be
/// read just then, or no longer says them).
pub const UNREADABLE: &str = "(these words could not be read from the record just now)";

impl Words {
    /// Keeps `event` if the words are held here (record `seq`).
    pub(super) fn hold(&mut self, seq: Seq, event: &Event) {
        if let Words::Held(events) = self {
            events.insert(seq, event.clone());
        }
    }

    /// The words `said` names.
    pub(super) fn read(&self, said: &Said, kept: &HashMap<Seq, serde_json::Value>) -> Text {
        let words = match self {
            Words::Held(events) => match kept.get(&said.seq) {
                Some(kept) => events
                    .get(&said.seq)
                    .and_then(|e| Event::from_payload(e.type_name(), kept))
                    .and_then(Result::ok)
                    .and_then(|e| said.in_event(&e).cloned()),
                None => events
                    .get(&said.seq)
                    .and_then(|e| said.in_event(e))
                    .cloned(),
            },
            Words::Read(records) => match records.event(said.seq, kept) {
                Ok(event) => event.and_then(|e| said.in_event(&e).cloned()),
                Err(e) => {
                    eprintln!("record {}: its words could not be read: {e}", said.seq);
                    None
                }
            },
        };
        words.unwrap_or_else(|| Text::new(UNREADABLE).expect("a text"))
    }
}
