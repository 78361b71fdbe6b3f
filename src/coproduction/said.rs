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
/// 12 bytes (a million of these at 10^6 records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Said {
    seq: RecordAt,
    field: Field,
}

/// A record's sequence number kept as two 4-byte halves, so that nothing
/// holding it needs 8-byte alignment: a [`Said`] is 12 bytes, not 16, and
/// a decision's record 8 bytes beside its 4-byte-aligned neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordAt([u32; 2]);

impl RecordAt {
    pub fn new(seq: Seq) -> RecordAt {
        RecordAt([(seq >> 32) as u32, seq as u32])
    }

    pub fn seq(self) -> Seq {
        (u64::from(self.0[0]) << 32) | u64::from(self.0[1])
    }
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
    /// What someone said as they accepted an answer.
    Reply,
}

impl Field {
    /// Its name in a payload ("outcome"; an aim's text and an idea's
    /// answer are named by where they are).
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Aim(_) => "aims/text",
            Field::Text => "text",
            Field::Reason => "reason",
            Field::Question => "question",
            Field::Outcome => "outcome",
            Field::AnswerReason(_) => "answers/reason",
            Field::Answer => "answer",
            Field::What => "what",
            Field::Note => "note",
            Field::WhatChanged => "what_changed",
            Field::Evidence => "evidence",
            Field::Correction => "correction",
            Field::Reply => "reply",
        }
    }
}

impl Said {
    /// The field `field` of record `seq`.
    pub fn at(seq: Seq, field: Field) -> Said {
        Said {
            seq: RecordAt::new(seq),
            field,
        }
    }

    /// The record it was said in.
    pub fn seq(&self) -> Seq {
        self.seq.seq()
    }

    /// Which field of that record.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The words, in the event record `seq` holds.
    pub fn in_event<'e>(&self, event: &'e Event) -> Option<&'e Text> {
        each_in(event)
            .into_iter()
            .find_map(|(field, text)| (field == self.field).then_some(text))
    }
}

/// Every piece of free text an event holds, with its field.
fn each_in(event: &Event) -> Vec<(Field, &Text)> {
    use Field as F;
    let at = |i: usize| u16::try_from(i).unwrap_or(u16::MAX);
    match event {
        Event::ProjectStarted(e) => {
            let mut all = vec![(F::Title, &e.title), (F::Summary, &e.summary)];
            all.extend(
                e.aims
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (F::Aim(at(i)), &a.text)),
            );
            all
        }
        Event::ProposalRaised(e) => vec![(F::Text, &e.text)],
        Event::ProposalWithdrawn(e) => vec![(F::Reason, &e.reason)],
        Event::DecisionMade(e) => {
            let mut all = vec![
                (F::Question, &e.question),
                (F::Outcome, &e.outcome),
                (F::Reason, &e.reason),
            ];
            all.extend(
                (e.answers.iter().enumerate()).map(|(i, a)| (F::AnswerReason(at(i)), &a.reason)),
            );
            all
        }
        Event::DecisionDisputed(e) => vec![(F::Reason, &e.reason)],
        Event::DisputeAnswered(e) => vec![(F::Answer, &e.answer)],
        Event::DecisionChallenged(e) => vec![(F::Reason, &e.reason)],
        Event::ChallengeAnswered(e) => vec![(F::Answer, &e.answer)],
        Event::ChallengeAccepted(e) => e.reply.iter().map(|r| (F::Reply, r)).collect(),
        Event::ActionCommitted(e) => vec![(F::What, &e.what)],
        Event::ActionUpdated(e) => vec![(F::Note, &e.note)],
        Event::ActionCompleted(e) => vec![(F::WhatChanged, &e.what_changed)],
        Event::OutcomeRecorded(e) => vec![(F::Outcome, &e.outcome), (F::Evidence, &e.evidence)],
        Event::ReviewHeld(e) => vec![(F::Summary, &e.summary)],
        Event::MeetingHeld(e) => vec![(F::Summary, &e.summary)],
        Event::InvolvementChanged(e) => vec![(F::Reason, &e.reason)],
        Event::RecordCorrected(e) => vec![(F::Correction, &e.correction), (F::Reason, &e.reason)],
        _ => Vec::new(),
    }
}

/// The fields of free text `event` holds, in order.
pub fn fields_of(event: &Event) -> Vec<Field> {
    each_in(event).into_iter().map(|(f, _)| f).collect()
}

/// The words a correction of `event` replaces when it does not name a
/// field: what the record is chiefly about (what was decided, the idea,
/// the action). `None` for a record with no words of its own.
pub fn main_field(event: &Event) -> Option<Field> {
    use Field as F;
    let main = match event {
        Event::ProjectStarted(_) => F::Summary,
        Event::ProposalRaised(_) => F::Text,
        Event::DecisionMade(_) => F::Outcome,
        Event::DisputeAnswered(_) | Event::ChallengeAnswered(_) => F::Answer,
        Event::ChallengeAccepted(_) => F::Reply,
        Event::ActionCommitted(_) => F::What,
        Event::ActionUpdated(_) => F::Note,
        Event::ActionCompleted(_) => F::WhatChanged,
        Event::OutcomeRecorded(_) => F::Outcome,
        Event::ReviewHeld(_) | Event::MeetingHeld(_) => F::Summary,
        Event::ProposalWithdrawn(_)
        | Event::DecisionDisputed(_)
        | Event::DecisionChallenged(_)
        | Event::InvolvementChanged(_) => F::Reason,
        _ => return None,
    };
    // Words it may leave out (a reply with an acceptance) are not there.
    each_in(event)
        .iter()
        .any(|(f, _)| *f == main)
        .then_some(main)
}

impl From<super::events::TextField> for Field {
    fn from(f: super::events::TextField) -> Field {
        use super::events::TextField as T;
        match f {
            T::Title => Field::Title,
            T::Summary => Field::Summary,
            T::Text => Field::Text,
            T::Reason => Field::Reason,
            T::Question => Field::Question,
            T::Outcome => Field::Outcome,
            T::Answer => Field::Answer,
            T::What => Field::What,
            T::Note => Field::Note,
            T::WhatChanged => Field::WhatChanged,
            T::Evidence => Field::Evidence,
        }
    }
}

/// Reads the event a record holds. The core's reader of the log
/// implements it (the model knows nothing of files): for an erased
/// record, what was kept of it (`kept`), whether or not the log still
/// holds the payload.
pub trait Records: Send + Sync {
    fn event(
        &self,
        seq: Seq,
        kept: &HashMap<Seq, serde_json::Value>,
    ) -> Result<Option<Event>, String>;

    /// Where the record with this event id is (for corrections).
    fn seq_of(&self, id: uuid::Uuid) -> Result<Option<Seq>, String>;
}

/// The words of records read lately, each record's together: a page reads
/// several from one record (a decision's question, outcome and reasons),
/// and people read the same pages. Bounded by the words' size.
type Recent = quick_cache::sync::Cache<Seq, Arc<[(Field, Text)]>, Weight>;

/// Most bytes of words kept in [`Recent`].
const RECENT_BYTES: u64 = 4 << 20;

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Seq, Arc<[(Field, Text)]>> for Weight {
    fn weight(&self, _: &Seq, words: &Arc<[(Field, Text)]>) -> u64 {
        // The words, and what holding them costs besides.
        64 + words
            .iter()
            .map(|(_, t)| 32 + t.as_str().len() as u64)
            .sum::<u64>()
    }
}

/// Where the model reads words from when they are shown: held in memory
/// (the default, for a model folded with no log behind it) or read from
/// the log ([`Words::read_from`]).
#[derive(Clone, Default)]
pub struct Words(Source);

#[derive(Clone)]
enum Source {
    /// Each event with words, held as it was applied: for a model folded
    /// in memory with no log behind it (tests, tools).
    Held(HashMap<Seq, Event>, HashMap<uuid::Uuid, Seq>),
    /// The log (the server's model), with the words read lately.
    Read(Arc<dyn Records>, Arc<Recent>),
}

impl Default for Source {
    fn default() -> Self {
        Source::Held(HashMap::new(), HashMap::new())
    }
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Held(events, _) => write!(f, "Words held ({} events)", events.len()),
            Source::Read(..) => f.write_str("Words read from the log"),
        }
    }
}

/// Shown in place of words that could not be read (the log could not be
/// read just then, or no longer says them).
pub const UNREADABLE: &str = "(these words could not be read from the record just now)";

impl Words {
    /// Words read from `records` when shown, keeping none but those read
    /// lately.
    pub fn read_from(records: Arc<dyn Records>) -> Words {
        Words(Source::Read(
            records,
            Arc::new(Recent::with_weighter(16_384, RECENT_BYTES, Weight)),
        ))
    }

    /// Keeps `event` if the words are held here (record `seq`, event id
    /// `id`).
    pub(super) fn hold(&mut self, seq: Seq, id: uuid::Uuid, event: &Event) {
        if let Source::Held(events, ids) = &mut self.0 {
            events.insert(seq, event.clone());
            ids.insert(id, seq);
        }
    }

    /// Where the record with event id `id` is, if the log holds it.
    pub(super) fn seq_of(&self, id: uuid::Uuid) -> Option<Seq> {
        match &self.0 {
            Source::Held(_, ids) => ids.get(&id).copied(),
            Source::Read(records, _) => records.seq_of(id).unwrap_or_else(|e| {
                tracing::warn!("record {id}: where it is could not be read: {e}");
                None
            }),
        }
    }

    /// The event record `seq` holds (what was kept of it, if erased).
    pub(super) fn event(&self, seq: Seq, kept: &HashMap<Seq, serde_json::Value>) -> Option<Event> {
        match &self.0 {
            Source::Held(events, _) => {
                let e = events.get(&seq)?;
                match kept.get(&seq) {
                    Some(kept) => Event::from_payload(e.type_name(), kept).and_then(Result::ok),
                    None => Some(e.clone()),
                }
            }
            Source::Read(records, _) => records.event(seq, kept).ok().flatten(),
        }
    }

    /// Forgets any words of record `seq` read lately: it was erased.
    pub(super) fn forget(&self, seq: Seq) {
        if let Source::Read(_, recent) = &self.0 {
            recent.remove(&seq);
        }
    }

    /// The words `said` names.
    pub(super) fn read(&self, said: &Said, kept: &HashMap<Seq, serde_json::Value>) -> Text {
        let seq = said.seq();
        let words = match &self.0 {
            Source::Held(events, _) => match kept.get(&seq) {
                Some(kept) => events
                    .get(&seq)
                    .and_then(|e| Event::from_payload(e.type_name(), kept))
                    .and_then(Result::ok)
                    .and_then(|e| said.in_event(&e).cloned()),
                None => events.get(&seq).and_then(|e| said.in_event(e)).cloned(),
            },
            // An erased record's words are never taken from (or put in)
            // what was read lately: what was kept of it is the truth.
            Source::Read(records, _) if kept.contains_key(&seq) => {
                read(records, said, kept).and_then(|e| said.in_event(&e).cloned())
            }
            Source::Read(records, recent) => {
                let all = recent.get(&seq).or_else(|| {
                    let event = read(records, said, kept)?;
                    let all: Arc<[(Field, Text)]> = (each_in(&event).into_iter())
                        .map(|(f, t)| (f, t.clone()))
                        .collect();
                    recent.insert(seq, all.clone());
                    Some(all)
                });
                all.and_then(|all| {
                    (all.iter()).find_map(|(f, t)| (*f == said.field).then(|| t.clone()))
                })
            }
        };
        words.unwrap_or_else(|| Text::new(UNREADABLE).expect("a text"))
    }
}

/// The event holding `said`, or `None` (said why on standard error).
fn read(
    records: &Arc<dyn Records>,
    said: &Said,
    kept: &HashMap<Seq, serde_json::Value>,
) -> Option<Event> {
    match records.event(said.seq(), kept) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!("record {}: its words could not be read: {e}", said.seq());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_said_is_twelve_bytes_and_keeps_its_sequence_number() {
        assert_eq!(std::mem::size_of::<Said>(), 12);
        assert_eq!(std::mem::size_of::<Option<Said>>(), 12);
        for seq in [
            0,
            1,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            1 << 40,
            u64::MAX,
        ] {
            assert_eq!(Said::at(seq, Field::Aim(7)).seq(), seq);
        }
    }
}
