//! The single writer with group commit.
//!
//! Every append, from any task, is sent to one thread. It takes whatever is
//! waiting (up to [`MAX_BATCH`] events), appends it as one batch with one
//! flush to disk, and only then answers each request. Under load many
//! appends share one flush; alone, an append waits for exactly one.

use super::log::{Appended, Ledger, LedgerError, NewEvent};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most events written in one batch.
pub const MAX_BATCH: usize = 1024;
const QUEUE_DEPTH: usize = 8192;

type Reply = oneshot::Sender<Result<Appended, Arc<LedgerError>>>;

/// Why an append was not made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// Most failures come before anything is written; one after the write to
    /// disk (an index failure) leaves the event recorded but unanswered.
    #[error(
        "the append failed ({0}); if the failure came after the write to disk, the event may still be recorded"
    )]
    Failed(Arc<LedgerError>),
    #[error("the writer has stopped")]
    Stopped,
}

/// A handle for appending; clone it freely.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<(NewEvent, Reply)>,
    thread: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl Sequencer {
    /// Starts the writer thread for `ledger`.
    pub fn start(ledger: Ledger) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("jointly-sequencer".into())
            .spawn(move || run(ledger, rx))
            .expect("spawn the sequencer thread");
        Sequencer {
            tx,
            thread: Arc::new(std::sync::Mutex::new(Some(thread))),
        }
    }

    /// Appends one event; resolves once it is durable (or was refused).
    pub async fn append(&self, event: NewEvent) -> Result<Appended, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| AppendError::Stopped)?;
        match answer.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(AppendError::Failed(e)),
            Err(_) => Err(AppendError::Stopped),
        }
    }

    /// Stops taking appends, finishes those queued, and waits for the thread.
    pub fn shutdown(self) {
        let Sequencer { tx, thread } = self;
        drop(tx);
        if let Some(handle) = thread.lock().expect("thread lock").take() {
            let _ = handle.join();
        }
    }
}

fn run(ledger: Ledger, mut rx: mpsc::Receiver<(NewEvent, Reply)>) {
    while let Some(first) = rx.blocking_recv() {
        let mut events = vec![first.0];
        let mut replies = vec![first.1];
        while events.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((e, r)) => {
                    events.push(e);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        match ledger.append_batch(events) {
            Ok(answers) => {
                for (reply, a) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(a));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
