//! Getting each new checkpoint cosigned by the log's witnesses (the client
//! side of C2SP `tlog-witness`). After every signed checkpoint a task sends
//! it to every witness at once, with a consistency proof from the size that
//! witness last cosigned, checks each cosignature that comes back, and once
//! the policy is met (at least `quorum` of the witnesses) publishes the
//! checkpoint with their lines added. Witnesses that are down are retried;
//! a witness that refuses a checkpoint as inconsistent is reported loudly,
//! since that is what a fork looks like.

use super::outage::Outage;
use crate::ledger::Ledger;
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::cosignature::CosignatureVerifier;
use crate::ledger::notary::Notary;
use crate::ledger::note::Note;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait for one witness's whole answer, from connecting to its
/// last byte (a witness that trickles is cut off).
const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer taken from a witness: a cosignature line is under 1 KiB.
const WITNESS_MAX_ANSWER: usize = 64 << 10;
/// Pause before trying again when the policy was not met.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// One witness: where to submit (its submission prefix) and its key.
#[derive(Clone, Debug)]
pub struct WitnessConfig {
    pub url: String,
    pub key: CosignatureVerifier,
}

impl std::str::FromStr for WitnessConfig {
    type Err = String;

    /// `URL=VERIFIER_KEY`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (url, key) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected URL=WITNESS_KEY"))?;
        if !url.starts_with("http://") {
            return Err(format!("{url:?}: the witness URL must start with http://"));
        }
        Ok(WitnessConfig {
            url: url.to_string(),
            key: CosignatureVerifier::parse(key).map_err(|e| e.to_string())?,
        })
    }
}

/// Which witnesses, and how many must cosign.
#[derive(Clone, Debug, Default)]
pub struct WitnessPolicy {
    pub witnesses: Vec<WitnessConfig>,
    pub quorum: usize,
    /// Longest an append with `?wait=cosigned` waits for the witnesses.
    pub wait: Duration,
}

impl WitnessPolicy {
    /// `quorum` of `witnesses`; `None` means all of them.
    pub fn new(witnesses: Vec<WitnessConfig>, quorum: Option<usize>) -> Result<Self, String> {
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() || (quorum == 0 && !witnesses.is_empty()) {
            return Err(format!(
                "the witness quorum must be between 1 and the {} witnesses given, not {quorum}",
                witnesses.len()
            ));
        }
        Ok(WitnessPolicy {
            witnesses,
            quorum,
            wait: Duration::from_secs(10),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.witnesses.is_empty()
    }

    /// Whether `note` carries valid cosignatures from at least `quorum`
    /// of the witnesses.
    pub fn is_met_by(&self, note: &str) -> bool {
        let Ok(n) = Note::parse(note) else {
            return false;
        };
        let count = self
            .witnesses
            .iter()
            .filter(|w| w.key.cosigned(&n).is_some())
            .count();
        !self.witnesses.is_empty() && count >= self.quorum
    }
}

/// How often each witness failed to cosign (down, too slow, too large an
/// answer, a refusal), by its name, for /metrics.
#[derive(Default, Debug)]
pub struct WitnessStats {
    failures: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// When each witness last cosigned (Unix seconds).
    cosigned_at: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl WitnessStats {
    fn failed(&self, w: &WitnessConfig) {
        if let Ok(mut f) = self.failures.lock() {
            *f.entry(w.key.name().to_string()).or_default() += 1;
        }
    }

    fn cosigned(&self, w: &WitnessConfig) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Ok(mut c) = self.cosigned_at.lock() {
            c.insert(w.key.name().to_string(), now);
        }
    }

    /// (witness name, when it last cosigned, Unix seconds).
    pub fn last_cosigned(&self) -> Vec<(String, u64)> {
        self.cosigned_at
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// (witness name, failures so far).
    pub fn failures(&self) -> Vec<(String, u64)> {
        self.failures
            .lock()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

/// A checkpoint that meets the policy: its size and the note with the
/// witnesses' lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub note: String,
}

/// Submits one checkpoint to one witness; returns its cosignature line and
/// the size it now holds. `known` is the size we believe it holds.
fn submit(
    ledger: &Ledger,
    witness: &WitnessConfig,
    known: u64,
    cp: &Checkpoint,
    note: &str,
) -> Result<(String, u64), String> {
    let name = witness.key.name();
    let mut old = known.min(cp.size);
    // Two tries: the second from the size the witness says it holds.
    for _ in 0..2 {
        let mut body = format!("old {old}\n");
        if old > 0 && old < cp.size {
            let proof = ledger
                .consistency_proof(old, cp.size)
                .map_err(|e| e.to_string())?;
            for h in proof {
                body.push_str(&h.to_base64());
                body.push('\n');
            }
        }
        body.push('\n');
        body.push_str(note);
        let a = crate::http::request(
            &witness.url,
            "POST",
            "/add-checkpoint",
            Some(&body),
            WITNESS_TIMEOUT,
            WITNESS_MAX_ANSWER,
        )
        .map_err(|e| format!("witness {name}: {e}"))?;
        match a.status {
            200 => {
                // Keep only this witness's valid lines, each checked alone.
                let own: String = a
                    .body
                    .lines()
                    .filter(|l| {
                        Note::parse(&format!("{note}{l}\n"))
                            .is_ok_and(|n| witness.key.cosigned(&n).is_some())
                    })
                    .map(|l| format!("{l}\n"))
                    .collect();
                if own.is_empty() {
                    return Err(format!(
                        "witness {name} answered without a valid cosignature"
                    ));
                }
                return Ok((own, cp.size));
            }
            409 if a.content_type == crate::witness::SIZE_CONTENT_TYPE => {
                let held: u64 = a.body.trim().parse().map_err(|_| {
                    format!(
                        "witness {name} gave a size that is not a number: {:?}",
                        a.body
                    )
                })?;
                if held > cp.size {
                    return Err(format!(
                        "WITNESS {name} HOLDS A LARGER TREE ({held} records) THAN THIS LOG'S {}: the log was rolled back, or another copy of it is running",
                        cp.size
                    ));
                }
                old = held;
            }
            status => {
                return Err(format!(
                    "witness {name} refused the checkpoint of size {} (HTTP {status}): {}",
                    cp.size,
                    // Its words go to the server's log: escaped.
                    crate::outside::for_log(a.body.trim())
                ));
            }
        }
    }
    Err(format!("witness {name} keeps changing its size"))
}

/// Runs until the process ends: cosigns each new checkpoint.
pub async fn run(
    ledger: Ledger,
    notary: Arc<Notary>,
    policy: Arc<WitnessPolicy>,
    mut signed: watch::Receiver<u64>,
    cosigned: watch::Sender<Option<Cosigned>>,
    stats: Arc<WitnessStats>,
) {
    // The size each witness holds, as far as we know; 0 at first, and the
    // witness corrects us (409) if it holds more.
    let mut known = vec![0u64; policy.witnesses.len()];
    let mut outages: Vec<Outage> = policy
        .witnesses
        .iter()
        .map(|w| Outage::new(format!("the witness {}", w.key.name())))
        .collect();
    let mut short_of_quorum = Outage::new("cosigning (too few witnesses answer)");
    loop {
        let Some((cp, note)) = notary.latest() else {
            if signed.changed().await.is_err() {
                return;
            }
            continue;
        };
        let done = cosigned
            .borrow()
            .as_ref()
            .is_some_and(|c| c.size == cp.size);
        if !done {
            // Every witness at once; the checkpoint is cosigned as soon as
            // the quorum has answered, whatever the others are doing.
            let mut tasks = tokio::task::JoinSet::new();
            for (i, w) in policy.witnesses.iter().enumerate() {
                let (ledger, w, cp, note, k) = (
                    ledger.clone(),
                    w.clone(),
                    cp.clone(),
                    note.clone(),
                    known[i],
                );
                tasks.spawn_blocking(move || (i, submit(&ledger, &w, k, &cp, &note)));
            }
            let mut lines = String::new();
            let mut count = 0;
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok((i, Ok((l, size)))) => {
                        outages[i].worked();
                        stats.cosigned(&policy.witnesses[i]);
                        known[i] = size;
                        lines.push_str(&l);
                        count += 1;
                    }
                    Ok((i, Err(e))) => {
                        stats.failed(&policy.witnesses[i]);
                        outages[i].failed(&e);
                    }
                    Err(e) => tracing::error!("witness task failed: {e}"),
                }
                if count >= policy.quorum {
                    // The rest finish on their own (each within its time
                    // limit); what they say is not waited for.
                    tasks.detach_all();
                    break;
                }
            }
            if count >= policy.quorum {
                short_of_quorum.worked();
                cosigned.send_replace(Some(Cosigned {
                    size: cp.size,
                    note: format!("{note}{lines}"),
                }));
            } else {
                short_of_quorum.failed(&format!(
                    "{count} of {} witnesses cosigned size {}, {} needed",
                    policy.witnesses.len(),
                    cp.size,
                    policy.quorum
                ));
                // Try again soon, or at once for a newer checkpoint.
                let _ = tokio::time::timeout(RETRY_AFTER, signed.changed()).await;
                continue;
            }
        }
        if signed.changed().await.is_err() {
            return;
        }
    }
}
