//! Idempotency-Keys: a request sent again with the same key gets the first
//! answer, and nothing is written twice. Keys are kept per token, in a side
//! table of the store, with a fingerprint of the request and where in the
//! log to look for its record if a crash cut the request off; a restart
//! settles those ([`Idempotency::settle`]) before any request is taken.

use crate::ledger::store::{SideTable, StoreError};
use crate::ledger::{Ledger, LedgerError};
use crate::refusal::Refusal;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The remembered answers of one data directory.
#[derive(Clone)]
pub struct Idempotency {
    table: SideTable,
}

/// What a key says about a request.
pub enum Seen {
    /// New: the key is now taken for this request.
    New,
    /// Answered before: this answer again.
    Answered(Value),
}

/// What identifies a request for its key: its type, canonical payload and
/// expected sequence number.
pub fn fingerprint(event_type: &str, payload: &[u8], expected: Option<u64>) -> String {
    let mut h = Sha256::new();
    h.update(event_type.as_bytes());
    h.update([0]);
    h.update(payload);
    h.update(format!("{expected:?}").as_bytes());
    hex::encode(h.finalize())
}

/// The answer to an append, as given once and remembered.
pub fn answer(seq: u64, id: uuid::Uuid, hash: crate::ledger::Digest) -> Value {
    json!({"seq": seq, "id": id, "hash": hash, "receipt": format!("/v1/events/{seq}/receipt")})
}

impl Idempotency {
    pub fn open(ledger: &Ledger) -> Result<Self, StoreError> {
        Ok(Idempotency {
            table: ledger.store().side_table("idempotency")?,
        })
    }

    fn key(token: &str, key: &str) -> Vec<u8> {
        format!("{token}/{key}").into_bytes()
    }

    /// Checks a key's form: 1 to 200 visible characters.
    pub fn check_key(key: &str) -> Result<(), Refusal> {
        if !key.is_empty() && key.len() <= 200 && !key.chars().any(char::is_control) {
            Ok(())
        } else {
            Err(Refusal::malformed(
                "Idempotency-Key must be 1 to 200 visible characters",
            ))
        }
    }

    /// Takes `key` for a request, or says what it was used for before.
    /// `from` is where the log ends now (a crashed request's record, if
    /// any, comes after it).
    #[allow(clippy::too_many_arguments)]
    pub fn take(
        &self,
        token: &str,
        key: &str,
        fingerprint: &str,
        from: u64,
        actor: &str,
        expected: Option<u64>,
    ) -> Result<Seen, Refusal> {
        let pending = json!({"body": fingerprint, "answer": Value::Null, "from": from,
            "actor": actor, "expected": expected});
        let existing = self
            .table
            .put_new(
                &Self::key(token, key),
                &serde_json::to_vec(&pending).expect("json"),
            )
            .map_err(Refusal::failed)?;
        let Some(bytes) = existing else {
            return Ok(Seen::New);
        };
        let seen: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if seen["body"] != fingerprint {
            return Err(Refusal::conflict(
                "this Idempotency-Key was used with another request; use a new key",
            ));
        }
        if seen["answer"].is_null() {
            return Err(Refusal::conflict(
                "a request with this Idempotency-Key is still being answered; try again",
            ));
        }
        Ok(Seen::Answered(seen["answer"].clone()))
    }

    /// Remembers the answer given for a key taken with [`take`](Self::take).
    pub fn answered(&self, token: &str, key: &str, answer: &Value) -> Result<(), Refusal> {
        let k = Self::key(token, key);
        let mut seen: Value = self
            .table
            .get(&k)
            .map_err(Refusal::failed)?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| json!({}));
        seen["answer"] = answer.clone();
        self.table
            .put(&k, &serde_json::to_vec(&seen).expect("json"))
            .map_err(Refusal::failed)
    }

    /// Lets a key go (its request was refused or failed: a retry may append).
    pub fn release(&self, token: &str, key: &str) {
        let _ = self.table.remove(&Self::key(token, key));
    }

    /// Forgets every answer kept for a token (it was deleted).
    pub fn forget_token(&self, token: &str) -> Result<(), StoreError> {
        for (k, _) in self.table.scan_prefix(format!("{token}/").as_bytes())? {
            self.table.remove(&k)?;
        }
        Ok(())
    }

    /// After a crash, settles the keys whose request was cut off: if the
    /// log holds the record (by the same actor, with the same request,
    /// written after the key was taken), the key answers with it; otherwise
    /// the key is released so a retry appends. Returns how many.
    pub fn settle(&self, ledger: &Ledger) -> Result<u64, LedgerError> {
        let mut settled = 0;
        for (k, v) in self.table.scan_prefix(b"")? {
            let Ok(mut seen) = serde_json::from_slice::<Value>(&v) else {
                continue;
            };
            if !seen["answer"].is_null() {
                continue;
            }
            let expected = seen["expected"].as_u64();
            let mut found = None;
            if let (Some(from), Some(actor), Some(body)) = (
                seen["from"].as_u64(),
                seen["actor"].as_str(),
                seen["body"].as_str(),
            ) {
                let mut next = from;
                'scan: loop {
                    let page = ledger.range(next, 1024)?;
                    if page.is_empty() {
                        break;
                    }
                    for ev in &page {
                        let same = ev.record.actor().as_str() == actor
                            && ev.payload.as_ref().is_some_and(|p| {
                                fingerprint(ev.record.event_type().as_str(), p.as_bytes(), expected)
                                    == body
                            });
                        if same {
                            found = Some(answer(ev.record.seq(), ev.record.id(), ev.hash));
                            break 'scan;
                        }
                    }
                    next += page.len() as u64;
                }
            }
            match found {
                Some(a) => {
                    seen["answer"] = a;
                    self.table
                        .put(&k, &serde_json::to_vec(&seen).expect("json"))?;
                }
                None => self.table.remove(&k)?,
            }
            settled += 1;
        }
        Ok(settled)
    }
}
