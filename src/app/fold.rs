//! Folding the log into the model: from scratch ([`rebuild`]) or from
//! where a model left off ([`catch_up`]). The model records the last
//! sequence number it applied, so both give the same state.

use super::erasure;
use crate::coproduction::events::Event;
use crate::coproduction::model::Model;
use crate::coproduction::said::{Records, Words};
use crate::coproduction::stored_event;
use crate::ledger::{Ledger, LedgerError, Record, Seq};
use std::collections::HashMap;
use std::sync::Arc;

/// Records read and decoded a page at a time.
const PAGE: usize = 4096;

/// Folds the whole log into a model.
///
/// Reading a record checks its hashes and decoding its payload parses
/// JSON: most of the work, and independent from record to record. So
/// pages are read and decoded on every core (page `k` by reader
/// `k mod n`), and applied in order on this thread as they arrive.
pub fn rebuild(ledger: &Ledger) -> Result<Model, LedgerError> {
    let kept = erasure::kept(ledger)?;
    let mut model = Model {
        kept: kept.clone(),
        words: words(ledger),
        ..Model::default()
    };
    let size = ledger.head().size;
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    type Page = Result<Vec<(Record, Option<Event>)>, LedgerError>;
    std::thread::scope(|scope| {
        let channels: Vec<std::sync::mpsc::Receiver<Page>> = (0..readers)
            .map(|k| {
                // Two pages ahead per reader: enough to keep the cores busy,
                // little held in memory.
                let (tx, rx) = std::sync::mpsc::sync_channel::<Page>(2);
                let kept = &kept;
                scope.spawn(move || {
                    let mut from = (k * PAGE) as u64;
                    while from < size {
                        let page = ledger.range(from, PAGE).map(|page| {
                            page.into_iter()
                                .map(|ev| {
                                    let event = stored_event(&ev, kept);
                                    (ev.record, event)
                                })
                                .collect()
                        });
                        let failed = page.is_err();
                        if tx.send(page).is_err() || failed {
                            return;
                        }
                        from += (readers * PAGE) as u64;
                    }
                });
                rx
            })
            .collect();
        let mut next = 0u64;
        while next < size {
            let k = (next as usize / PAGE) % readers;
            let Ok(page) = channels[k].recv() else { break };
            let page = page?;
            if page.is_empty() {
                break;
            }
            next += page.len() as u64;
            for (record, event) in page {
                model.apply(&record, event);
            }
        }
        Ok::<(), LedgerError>(())
    })?;
    // Anything appended while it was read.
    catch_up(ledger, &mut model)?;
    model.shrink_to_fit();
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
            model.apply(&ev.record, stored_event(ev, &model.kept));
        }
        next += page.len() as u64;
    }
}

/// The log, as where a model reads the words people wrote.
struct LogRecords(Ledger);

impl Records for LogRecords {
    fn event(
        &self,
        seq: Seq,
        kept: &HashMap<Seq, serde_json::Value>,
    ) -> Result<Option<Event>, String> {
        let ev = match self.0.get(seq) {
            Ok(Some(ev)) => ev,
            Ok(None) => return Err("the log does not hold it".to_owned()),
            Err(e) => return Err(e.to_string()),
        };
        // Erased: what was kept, even while the log still holds the
        // payload (between the erasure's record and the payload's removal).
        Ok(match kept.get(&seq) {
            Some(kept) => {
                Event::from_payload(ev.record.event_type().as_str(), kept).and_then(Result::ok)
            }
            None => stored_event(&ev, kept),
        })
    }

    fn seq_of(&self, id: uuid::Uuid) -> Result<Option<Seq>, String> {
        self.0.store().seq_of(&id).map_err(|e| e.to_string())
    }
}

/// Words read from `ledger` when shown: what a model of it holds no copy of.
pub fn words(ledger: &Ledger) -> Words {
    Words::read_from(Arc::new(LogRecords(ledger.clone())))
}
