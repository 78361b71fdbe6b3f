//! The log's signing key and its signed checkpoints. It never signs two
//! checkpoints that disagree: before signing a size and root it checks that
//! the tree at the last signed size still has the last signed root. Once
//! this process has checked and signed, later heads come only from its own
//! single writer, which appends only batches that continue the head (and
//! the sled lock keeps every other process out), so the check is made
//! again only for a checkpoint this process did not sign itself.

use super::checkpoint::Checkpoint;
use super::log::{Ledger, LedgerError};
use super::note::{NoteError, Signer, Verifier};
use super::store::SideTable;
use rand::RngCore;
use std::sync::Mutex;

const KEY_FILE: &str = "checkpoint.key";
const LATEST: &[u8] = b"latest";

#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Key(#[from] NoteError),
    #[error(
        "refusing to sign: the log no longer agrees with the checkpoint signed at size {size}; it was rewritten or rolled back. Restore the store from a backup"
    )]
    Inconsistent { size: u64 },
    #[error("the store failed: {0}")]
    Store(String),
    #[error(
        "the log's key is named {held}, and a log's name (its origin) never changes: it is in every checkpoint signed and every verifier key given out, so it cannot become {asked}"
    )]
    OtherOrigin { held: String, asked: String },
}

/// Signs checkpoints for one ledger.
pub struct Notary {
    signer: Signer,
    table: SideTable,
    latest: Mutex<Latest>,
}

/// The last signed checkpoint and its note, and whether this process
/// signed it (see the module doc).
struct Latest {
    signed: Option<(Checkpoint, String)>,
    here: bool,
}

impl Notary {
    /// Opens the data directory's key, making it the first time with origin
    /// `origin_if_new` (the key's name is the log's origin).
    pub fn open(ledger: &Ledger, origin_if_new: &str) -> Result<Self, NotaryError> {
        let store = ledger.store();
        if !Self::has_key(ledger) {
            // Refused before a key file is written, not a broken key after.
            super::note::check_name(origin_if_new)?;
        }
        let text = store
            .secret_file(KEY_FILE, || {
                let mut seed = [0u8; 32];
                rand::rng().fill_bytes(&mut seed);
                Signer::from_seed(origin_if_new, seed)
                    .map(|s| s.to_secret_string())
                    .unwrap_or_default()
            })
            .map_err(|e| NotaryError::Store(e.to_string()))?;
        let signer = Signer::parse(&text)?;
        let table = store
            .side_table("checkpoints")
            .map_err(|e| NotaryError::Store(e.to_string()))?;
        let latest = table
            .get(LATEST)
            .map_err(|e| NotaryError::Store(e.to_string()))?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|note| {
                let body = note.split_once("\n\n")?.0.to_string() + "\n";
                Checkpoint::parse(&body).ok().map(|c| (c, note))
            });
        Ok(Notary {
            signer,
            table,
            latest: Mutex::new(Latest {
                signed: latest,
                here: false,
            }),
        })
    }

    /// Opens the key as [`open`](Self::open) does, and refuses it if it
    /// was made with another origin than `origin`.
    pub fn open_as(ledger: &Ledger, origin: &str) -> Result<Self, NotaryError> {
        super::note::check_name(origin)?;
        let notary = Self::open(ledger, origin)?;
        let held = notary.origin();
        if held != origin {
            return Err(NotaryError::OtherOrigin {
                held,
                asked: origin.to_string(),
            });
        }
        Ok(notary)
    }

    /// Whether the data directory has its key yet.
    pub fn has_key(ledger: &Ledger) -> bool {
        ledger.store().dir().join(KEY_FILE).exists()
    }

    pub fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    pub fn origin(&self) -> String {
        self.signer.verifier().name().to_string()
    }

    /// Signs the ledger's current head, if it moved, after checking it
    /// extends the last signed checkpoint; returns the latest signed note.
    pub fn sign_head(&self, ledger: &Ledger) -> Result<String, NotaryError> {
        let head = ledger.head();
        let mut latest = self.latest.lock().expect("notary lock");
        if let Some((cp, note)) = latest.signed.as_ref() {
            if cp.size == head.size && cp.root == head.root {
                return Ok(note.clone());
            }
            if cp.size > head.size || (!latest.here && ledger.root_at(cp.size)? != cp.root) {
                return Err(NotaryError::Inconsistent { size: cp.size });
            }
        }
        let cp = Checkpoint::new(&self.origin(), head.size, head.root)
            .map_err(|e| NotaryError::Store(e.to_string()))?;
        let note = self.signer.sign(&cp.body())?;
        // No flush of its own: the records it covers are already on disk, so
        // if this is lost in a crash the same head is signed again, with the
        // same (deterministic) signature. What guards against rollback is
        // the stored checkpoint, and a flushed older one still does.
        self.table
            .put_deferred(LATEST, note.as_bytes())
            .map_err(|e| NotaryError::Store(e.to_string()))?;
        *latest = Latest {
            signed: Some((cp, note.clone())),
            here: true,
        };
        Ok(note)
    }

    /// The latest signed checkpoint, if any.
    pub fn latest(&self) -> Option<(Checkpoint, String)> {
        self.latest.lock().expect("notary lock").signed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log's name is the one its key was made with: another is refused
    /// naming both, and the key stays; a name no key can have is refused
    /// before a key file is written.
    #[test]
    fn a_key_keeps_the_name_it_was_made_with() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path()).unwrap();
        assert!(matches!(
            Notary::open(&ledger, "has space"),
            Err(NotaryError::Key(_))
        ));
        assert!(!Notary::has_key(&ledger), "no key file for a bad name");
        let first = Notary::open_as(&ledger, "example.org/first").unwrap();
        assert!(Notary::has_key(&ledger));
        match Notary::open_as(&ledger, "example.org/second") {
            Err(e @ NotaryError::OtherOrigin { .. }) => {
                let said = e.to_string();
                assert!(
                    said.contains("example.org/first") && said.contains("example.org/second"),
                    "{said}"
                );
            }
            other => panic!("{:?}", other.map(|n| n.origin())),
        }
        // Without a name to check, the key is opened whatever it is named.
        let again = Notary::open(&ledger, "example.org/ignored").unwrap();
        assert_eq!(again.verifier(), first.verifier());
    }
}
