//! The single writer with group commit.
//!
//! Every append, from any task, is sent to one thread. It takes whatever is
//! waiting (up to [`MAX_BATCH`] events), checks each against the rules (an
//! [`Admission`]) and the state the batch has built so far, appends what
//! passes as one batch with one flush to disk, and only then answers each
//! request. Under load many appends share one flush; alone, an append waits
//! for exactly one. Because one thread checks and writes, the rules hold
//! under any concurrency.

use super::log::{Admission, AdmitAll, Appended, Ledger, LedgerError, NewEvent};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most events written in one batch.
pub const MAX_BATCH: usize = 1024;
const QUEUE_DEPTH: usize = 8192;

type Reply<R> = oneshot::Sender<Result<Appended, AppendError<R>>>;
type BatchReply<R> = oneshot::Sender<Result<Vec<Result<Appended, R>>, AppendError<R>>>;

enum Msg<R> {
    Append(NewEvent, Reply<R>),
    /// Events written as one batch of their own, in order (a bulk load).
    Batch(Vec<NewEvent>, BatchReply<R>),
    /// Finish what came before, then stop (other handles may still exist).
    Stop,
    /// Have the admission read the stored records again (after an erasure).
    Reload(oneshot::Sender<()>),
}

/// Why an append was not made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError<R> {
    /// The rules refused it; nothing was written.
    #[error("the event was refused")]
    Refused(R),
    /// Most failures come before anything is written; one after the write to
    /// disk (an index failure) leaves the event recorded but unanswered.
    #[error(
        "the append failed ({0}); if the failure came after the write to disk, the event may still be recorded"
    )]
    Failed(Arc<LedgerError>),
    #[error("the writer has stopped")]
    Stopped,
}

/// Runs on the writer thread after each batch that wrote something is
/// durable, once every request in it has been answered: the place to sign
/// a checkpoint "after every committed batch". Not before answering: a
/// signature is not what makes a record durable, and it cost a single
/// client's append a tenth of its time (docs/PERFORMANCE.md). A reader
/// who needs a checkpoint covering a record just answered has one signed
/// on demand (see `Notary::sign_head`).
pub type AfterCommit = Box<dyn FnMut(&Ledger) + Send>;

/// Counts kept by the writer, for metrics.
#[derive(Default, Debug)]
pub struct SequencerStats {
    /// Batches written.
    pub batches: std::sync::atomic::AtomicU64,
    /// Events offered in those batches (admitted or refused).
    pub events: std::sync::atomic::AtomicU64,
    /// The largest batch so far.
    pub largest: std::sync::atomic::AtomicU64,
}

/// A handle for appending; clone it freely.
pub struct Sequencer<R = std::convert::Infallible> {
    tx: mpsc::Sender<Msg<R>>,
    thread: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
    stats: Arc<SequencerStats>,
}

impl<R> Clone for Sequencer<R> {
    fn clone(&self) -> Self {
        Sequencer {
            tx: self.tx.clone(),
            thread: self.thread.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl Sequencer {
    /// Starts a writer that admits every event.
    pub fn start(ledger: Ledger) -> Self {
        Sequencer::start_with(ledger, AdmitAll)
    }
}

impl<R: Send + 'static> Sequencer<R> {
    /// Starts the writer thread for `ledger`, checking events with `admission`.
    pub fn start_with<A>(ledger: Ledger, admission: A) -> Self
    where
        A: Admission<Refusal = R> + Send + 'static,
    {
        Self::start_with_after(ledger, admission, Box::new(|_| {}))
    }

    /// [`start_with`](Self::start_with), calling `after` once per committed batch.
    pub fn start_with_after<A>(ledger: Ledger, admission: A, after: AfterCommit) -> Self
    where
        A: Admission<Refusal = R> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(SequencerStats::default());
        let counts = stats.clone();
        let thread = std::thread::Builder::new()
            .name("jointly-sequencer".into())
            .spawn(move || run(ledger, admission, after, rx, &counts))
            .expect("spawn the sequencer thread");
        Sequencer {
            tx,
            thread: Arc::new(std::sync::Mutex::new(Some(thread))),
            stats,
        }
    }

    /// Appends one event; resolves once it is durable (or was refused).
    pub async fn append(&self, event: NewEvent) -> Result<Appended, AppendError<R>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Append(event, reply))
            .await
            .map_err(|_| AppendError::Stopped)?;
        answer.await.unwrap_or(Err(AppendError::Stopped))
    }

    /// Appends `events` in order as one batch of their own (nothing else is
    /// mixed into it); resolves once it is durable, with each event's
    /// answer: its place in the log, or why the rules refused it.
    pub async fn append_batch(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Result<Appended, R>>, AppendError<R>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Batch(events, reply))
            .await
            .map_err(|_| AppendError::Stopped)?;
        answer.await.unwrap_or(Err(AppendError::Stopped))
    }

    /// Has the writer's rules read the log again, between batches; resolves
    /// once they have.
    pub async fn reload(&self) -> Result<(), AppendError<R>> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Msg::Reload(done))
            .await
            .map_err(|_| AppendError::Stopped)?;
        answer.await.map_err(|_| AppendError::Stopped)
    }

    pub fn stats(&self) -> &SequencerStats {
        &self.stats
    }

    /// [`shutdown`](Self::shutdown) from async code.
    pub async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || self.shutdown()).await;
    }

    /// Finishes the appends queued so far, stops the writer (for every
    /// handle), and waits for it. Later appends get `Stopped`. Blocks: from
    /// async code use [`stop`](Self::stop).
    pub fn shutdown(self) {
        let Sequencer { tx, thread, .. } = self;
        let _ = tx.blocking_send(Msg::Stop);
        drop(tx);
        if let Some(handle) = thread.lock().expect("thread lock").take() {
            let _ = handle.join();
        }
    }
}

fn run<A: Admission>(
    ledger: Ledger,
    mut admission: A,
    mut after: AfterCommit,
    mut rx: mpsc::Receiver<Msg<A::Refusal>>,
    stats: &SequencerStats,
) {
    let mut stopping = false;
    let mut pending_reload: Option<oneshot::Sender<()>> = None;
    let mut pending_batch: Option<(Vec<NewEvent>, BatchReply<A::Refusal>)> = None;
    while !stopping {
        let (mut events, mut replies) = (Vec::new(), Vec::new());
        match rx.blocking_recv() {
            None | Some(Msg::Stop) => break,
            Some(Msg::Reload(done)) => {
                admission.reload();
                let _ = done.send(());
                continue;
            }
            Some(Msg::Append(e, r)) => {
                events.push(e);
                replies.push(r);
            }
            Some(Msg::Batch(batch, reply)) => {
                let answer = write(&ledger, &mut admission, stats, batch);
                let wrote = wrote_any(&answer);
                let _ = reply.send(answer.map_err(|e| AppendError::Failed(Arc::new(e))));
                if wrote {
                    after(&ledger);
                }
                continue;
            }
        }
        while events.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Append(e, r)) => {
                    events.push(e);
                    replies.push(r);
                }
                Ok(Msg::Stop) => {
                    stopping = true;
                    break;
                }
                Ok(Msg::Reload(done)) => {
                    // After this batch is written, so it is reloaded too.
                    pending_reload = Some(done);
                    break;
                }
                Ok(Msg::Batch(batch, reply)) => {
                    // Rare: a bulk load arriving behind single appends. It
                    // goes after them, as its own batch.
                    pending_batch = Some((batch, reply));
                    break;
                }
                Err(_) => break,
            }
        }
        let answer = write(&ledger, &mut admission, stats, events);
        let wrote = wrote_any(&answer);
        match answer {
            Ok(answers) => {
                for (reply, a) in replies.into_iter().zip(answers) {
                    let _ = reply.send(a.map_err(AppendError::Refused));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Failed(e.clone())));
                }
            }
        }
        if wrote {
            after(&ledger);
        }
        if let Some((batch, reply)) = pending_batch.take() {
            let answer = write(&ledger, &mut admission, stats, batch);
            let wrote = wrote_any(&answer);
            let _ = reply.send(answer.map_err(|e| AppendError::Failed(Arc::new(e))));
            if wrote {
                after(&ledger);
            }
        }
        if let Some(done) = pending_reload.take() {
            admission.reload();
            let _ = done.send(());
        }
    }
}

/// Whether a batch's answer says anything was written.
fn wrote_any<R, E>(answer: &Result<Vec<Result<Appended, R>>, E>) -> bool {
    answer.as_ref().is_ok_and(|a| a.iter().any(Result::is_ok))
}

/// Writes one batch through the admission and counts it.
fn write<A: Admission>(
    ledger: &Ledger,
    admission: &mut A,
    stats: &SequencerStats,
    events: Vec<NewEvent>,
) -> Result<Vec<Result<Appended, A::Refusal>>, LedgerError> {
    use std::sync::atomic::Ordering::Relaxed;
    stats.batches.fetch_add(1, Relaxed);
    stats.events.fetch_add(events.len() as u64, Relaxed);
    stats.largest.fetch_max(events.len() as u64, Relaxed);
    ledger.append_admitted(events, admission)
}
