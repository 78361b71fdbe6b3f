//! Receipts: C2SP `tlog-proof` bundles that prove, offline, that a record
//! is in the log a signed checkpoint commits to.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the record's canonical bytes>
//! index <seq>
//! <base64 inclusion proof hash, leaf's sibling first>...
//!
//! <the signed checkpoint note>
//! ```
//! jointly puts the record itself in `extra`, so the leaf hash can be
//! recomputed from the receipt alone.

use super::checkpoint::Checkpoint;
use super::digest::Digest;
use super::merkle::{self, LeafIndex, TreeSize};
use super::note::{Note, Verifier};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("the receipt is malformed: {0}")]
    Malformed(String),
    #[error("the checkpoint in the receipt is not signed by the key given: {0}")]
    Signature(String),
    #[error("the record is not in the log the checkpoint commits to: {0}")]
    NotIncluded(String),
    #[error("the record given differs from the one in the receipt")]
    OtherRecord,
}

/// A parsed receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub record: Vec<u8>,
    pub index: u64,
    pub proof: Vec<Digest>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl Receipt {
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{PROOF_HEADER}\nextra {}\nindex {}\n",
            B64.encode(&self.record),
            self.index
        );
        for h in &self.proof {
            t.push_str(&h.to_base64());
            t.push('\n');
        }
        t.push('\n');
        t.push_str(&self.checkpoint);
        t
    }

    pub fn parse(text: &str) -> Result<Self, ReceiptError> {
        let bad = |why: &str| ReceiptError::Malformed(why.to_string());
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or_else(|| bad("jointly receipts carry the record as extra data"))?;
        let record = B64
            .decode(extra)
            .map_err(|_| bad("the extra data is not base64"))?;
        let index_text = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| bad("no index line"))?;
        if index_text.is_empty()
            || !index_text.bytes().all(|b| b.is_ascii_digit())
            || (index_text.len() > 1 && index_text.starts_with('0'))
        {
            return Err(bad("the index is not a decimal number"));
        }
        let index = index_text
            .parse()
            .map_err(|_| bad("the index is too large"))?;
        let proof = lines
            .map(|l| {
                Digest::from_base64(l)
                    .map_err(|e| ReceiptError::Malformed(format!("a proof line: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Receipt {
            record,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Checks the checkpoint's signature, then the inclusion proof of the
    /// record at its index against the checkpoint's root. Returns the
    /// checkpoint.
    pub fn verify(&self, verifier: &Verifier) -> Result<Checkpoint, ReceiptError> {
        let note = Note::open(&self.checkpoint, verifier)
            .map_err(|e| ReceiptError::Signature(e.to_string()))?;
        let cp =
            Checkpoint::parse(&note.text).map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        if cp.origin != verifier.name() {
            return Err(ReceiptError::Signature(format!(
                "the checkpoint's origin {:?} is not the key's name {:?}",
                cp.origin,
                verifier.name()
            )));
        }
        let record = super::record::Record::from_canonical(&self.record)
            .map_err(|e| ReceiptError::Malformed(format!("the record in the receipt: {e}")))?;
        if record.seq() != self.index {
            return Err(ReceiptError::NotIncluded(format!(
                "the record is number {}, not {}",
                record.seq(),
                self.index
            )));
        }
        let leaf = merkle::leaf_hash(&self.record);
        merkle::verify_inclusion(
            LeafIndex(self.index),
            TreeSize(cp.size),
            &leaf,
            &self.proof,
            &cp.root,
        )
        .map_err(|e| ReceiptError::NotIncluded(e.to_string()))?;
        Ok(cp)
    }
}
