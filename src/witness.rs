//! A witness (C2SP `tlog-witness`): a small server that someone outside
//! the charity runs, a partner organisation or an auditor. Logs send it
//! each new signed checkpoint with a consistency proof from the last one it
//! cosigned; it checks the log's signature and the proof, remembers the new
//! checkpoint (on disk, before answering) and answers with its cosignature
//! (`ledger::cosignature`). Because it never cosigns a checkpoint that does
//! not extend the one it holds, a log cannot show different histories to
//! different people, or roll back, without a witness refusing.
//!
//! It knows nothing of co-production, and needs no store of the log's: its
//! state is one small JSON file, replaced atomically.

use crate::api::serve::{self, Limits};
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::cosignature::Cosigner;
use crate::ledger::digest::Digest;
use crate::ledger::merkle::{self, TreeSize};
use crate::ledger::note::{Note, Verifier};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The content type of a 409 answer that carries the witness's size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// Most consistency proof lines a request may carry (C2SP tlog-witness).
const MAX_PROOF_LINES: usize = 63;
/// Largest request body: 63 proof lines and a checkpoint with a few signatures.
const MAX_BODY: usize = 16 * 1024;

/// Why a checkpoint was not cosigned. Each maps to the status code the
/// protocol gives it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WitnessError {
    #[error("the request is malformed: {0}")]
    Malformed(String),
    #[error("this witness does not know the log {0:?}")]
    UnknownLog(String),
    #[error("the checkpoint is not signed by the key this witness holds for {0:?}")]
    NotSigned(String),
    #[error("the old size {old} is larger than the checkpoint's size {size}")]
    OldTooLarge { old: u64, size: u64 },
    #[error("this witness last cosigned size {known}, not the old size {old} the request gives")]
    Stale { known: u64, old: u64 },
    #[error(
        "REFUSED: the log signed two different roots for size {size}: this witness holds {held}, the request has {offered}. The log has forked or rewritten its history"
    )]
    RootMismatch {
        size: u64,
        held: String,
        offered: String,
    },
    #[error(
        "REFUSED: the checkpoint of size {size} does not extend the one of size {old} this witness holds ({why}). The log has forked or rewritten its history"
    )]
    Inconsistent { old: u64, size: u64, why: String },
    #[error("the witness cannot save its state: {0}")]
    Store(String),
}

impl WitnessError {
    pub fn status(&self) -> StatusCode {
        match self {
            WitnessError::Malformed(_) | WitnessError::OldTooLarge { .. } => {
                StatusCode::BAD_REQUEST
            }
            WitnessError::UnknownLog(_) => StatusCode::NOT_FOUND,
            WitnessError::NotSigned(_) => StatusCode::FORBIDDEN,
            WitnessError::Stale { .. } | WitnessError::RootMismatch { .. } => StatusCode::CONFLICT,
            WitnessError::Inconsistent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            WitnessError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WitnessError {
    fn into_response(self) -> Response {
        if let WitnessError::Stale { known, .. } = self {
            // Logs read this body to learn where to prove from.
            return (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                format!("{known}\n"),
            )
                .into_response();
        }
        (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// What the witness holds for one log: the latest checkpoint it cosigned.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Held {
    size: u64,
    root: String,
    /// The signed checkpoint as the log sent it, kept as evidence.
    note: String,
}

/// A witness: its key, the logs it follows, and what it holds of each.
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, Verifier>,
    state_file: PathBuf,
    /// Held under the lock from the size check until the new state is on
    /// disk, so two requests cannot roll each other back.
    held: Mutex<BTreeMap<String, Held>>,
}

impl Witness {
    /// A witness for `logs` (each verifier's name is its log's origin),
    /// keeping its state in `state_file` (created if absent).
    pub fn open(
        cosigner: Cosigner,
        logs: Vec<Verifier>,
        state_file: PathBuf,
    ) -> Result<Self, WitnessError> {
        let held = match std::fs::read(&state_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                WitnessError::Store(format!(
                    "{} is not a witness state: {e}",
                    state_file.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(WitnessError::Store(format!(
                    "{}: {e}",
                    state_file.display()
                )));
            }
        };
        Ok(Witness {
            cosigner,
            logs: logs
                .into_iter()
                .map(|v| (v.name().to_string(), v))
                .collect(),
            state_file,
            held: Mutex::new(held),
        })
    }

    /// The size this witness holds for `origin` (0 if none).
    pub fn held_size(&self, origin: &str) -> u64 {
        self.held
            .lock()
            .expect("witness lock")
            .get(origin)
            .map_or(0, |h| h.size)
    }

    /// Handles one `add-checkpoint` request body; returns the cosignature
    /// line(s) to answer with, made at `now` (Unix seconds).
    pub fn add_checkpoint(&self, body: &str, now: u64) -> Result<String, WitnessError> {
        let bad = |why: String| WitnessError::Malformed(why);
        // The checkpoint has its own blank line, so split at the first.
        let (head, note_text) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("there is no blank line before the checkpoint".into()))?;
        let mut lines = head.split('\n');
        let old: u64 = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| n == &"0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the first line must be \"old <size>\"".into()))?;
        let proof = lines
            .enumerate()
            .map(|(i, l)| {
                Digest::from_base64(l)
                    .map_err(|e| bad(format!("consistency proof line {}: {e}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(bad(format!("more than {MAX_PROOF_LINES} proof lines")));
        }
        let parsed = Note::parse(note_text).map_err(|e| bad(format!("checkpoint: {e}")))?;
        let cp = Checkpoint::parse(&parsed.text).map_err(|e| bad(e.to_string()))?;
        let key = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| WitnessError::UnknownLog(cp.origin.clone()))?;
        Note::open(note_text, key).map_err(|_| WitnessError::NotSigned(cp.origin.clone()))?;
        if old > cp.size {
            return Err(WitnessError::OldTooLarge { old, size: cp.size });
        }
        let mut held = self.held.lock().expect("witness lock");
        let current = held.get(&cp.origin);
        let known = current.map_or(0, |h| h.size);
        if old != known {
            return Err(WitnessError::Stale { known, old });
        }
        if let Some(h) = current {
            let held_root = Digest::from_base64(&h.root).map_err(WitnessError::Store)?;
            let refuse = |e: WitnessError| {
                // Evidence for whoever runs the witness: both signed checkpoints.
                tracing::warn!("witness: {e}\nheld:\n{}\noffered:\n{note_text}", h.note);
                e
            };
            if h.size == cp.size && held_root != cp.root {
                return Err(refuse(WitnessError::RootMismatch {
                    size: cp.size,
                    held: h.root.clone(),
                    offered: cp.root.to_base64(),
                }));
            }
            if h.size > 0 {
                merkle::verify_consistency(
                    TreeSize(h.size),
                    TreeSize(cp.size),
                    &held_root,
                    &cp.root,
                    &proof,
                )
                .map_err(|e| {
                    refuse(WitnessError::Inconsistent {
                        old: h.size,
                        size: cp.size,
                        why: e.to_string(),
                    })
                })?;
            }
        }
        if known == 0 && !proof.is_empty() {
            return Err(WitnessError::Inconsistent {
                old: 0,
                size: cp.size,
                why: "a proof from size 0 must be empty".into(),
            });
        }
        if cp.size == 0 && cp.root != merkle::empty_root() {
            return Err(WitnessError::Inconsistent {
                old: 0,
                size: 0,
                why: "an empty tree must have the empty root".into(),
            });
        }
        let mut next = held.clone();
        next.insert(
            cp.origin.clone(),
            Held {
                size: cp.size,
                root: cp.root.to_base64(),
                note: note_text.to_string(),
            },
        );
        let bytes = serde_json::to_vec_pretty(&next).expect("json");
        crate::ledger::store::write_durably(&self.state_file, &bytes, 0o644)
            .map_err(|e| WitnessError::Store(format!("{}: {e}", self.state_file.display())))?;
        *held = next;
        Ok(self.cosigner.cosign(&parsed.text, now))
    }
}

/// Opens the witness's private key file, making a new key named `name`
/// (file mode 0600) if there is none yet.
pub fn open_key(path: &std::path::Path, name: &str) -> Result<Cosigner, WitnessError> {
    let store = |e: std::io::Error| WitnessError::Store(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => Cosigner::parse(&text)
            .map_err(|e| WitnessError::Malformed(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            let c = Cosigner::from_seed(name, seed)
                .map_err(|e| WitnessError::Malformed(e.to_string()))?;
            let text = format!("{}\n", c.to_secret_string());
            crate::ledger::store::write_durably(path, text.as_bytes(), 0o600).map_err(store)?;
            Ok(c)
        }
        Err(e) => Err(store(e)),
    }
}

/// Serves the witness until SIGINT or SIGTERM, with the same limits as
/// `jointly serve`: a witness that answers no one leaves its logs without
/// cosignatures.
pub async fn serve(witness: Arc<Witness>, listen: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(
        "witness {} is listening on http://{}",
        witness.cosigner.verifier().name(),
        listener.local_addr()?
    );
    let mut limits = Limits::default();
    limits.connections = serve::within_descriptor_limit(limits.connections);
    serve_on(listener, witness, limits, serve::shutdown_signal()).await;
    Ok(())
}

/// Serves the witness on `listener` within `limits` until `stop` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    serve::accept(listener, app(witness, &limits), &limits, stop, || {}).await;
}

/// The witness's HTTP interface: `POST /add-checkpoint` and `GET /healthz`,
/// with the request timeouts of `limits`.
pub fn app(witness: Arc<Witness>, limits: &Limits) -> Router {
    let router = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    serve::with_timeouts(router, limits).with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return WitnessError::Malformed("the body is not UTF-8".into()).into_response();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = text.to_string();
    let answer = tokio::task::spawn_blocking(move || witness.add_checkpoint(&text, now)).await;
    match answer {
        Ok(Ok(lines)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => WitnessError::Store("the witness failed".into()).into_response(),
    }
}
