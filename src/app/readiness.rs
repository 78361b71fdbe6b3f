//! Whether the server can take appends now (`/readyz`): its last write
//! went well, the disk of its data directory has room, and its last full
//! verification passed. `/healthz` says only that the process answers;
//! a monitor alerts on this one.

use std::path::Path;
use std::sync::Mutex;

/// Below this much free space on the data directory's disk the server is
/// not ready: a batch of appends, the indexes and a snapshot need room,
/// and an operator needs warning before the first append fails.
pub const LEAST_FREE_BYTES: u64 = 8 * 1024 * 1024;

/// Why the server cannot take appends now. Says nothing of anyone's
/// records: `/readyz` is open to all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("the last append could not be written ({0}); ready again once one is")]
    WriteFailed(String),
    #[error(
        "the data directory's disk has {free} bytes free, under the {least} needed to take appends"
    )]
    DiskFull { free: u64, least: u64 },
    #[error("cannot tell the free space of the data directory's disk: {0}")]
    DiskUnknown(String),
    #[error("the last full verification of the log failed: {0}")]
    VerificationFailed(String),
}

/// What the server is ready with: the free space it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub free_bytes: u64,
}

/// The failures readiness remembers until they are mended.
#[derive(Debug, Default)]
pub struct Readiness {
    write_failed: Mutex<Option<String>>,
    verification_failed: Mutex<Option<String>>,
}

impl Readiness {
    /// Notes how the latest write went: a failure until a write goes well.
    pub fn wrote(&self, outcome: Result<(), String>) {
        if let Ok(mut w) = self.write_failed.lock() {
            *w = outcome.err();
        }
    }

    /// Notes how the latest full verification went.
    pub fn verified(&self, outcome: Result<(), String>) {
        if let Ok(mut v) = self.verification_failed.lock() {
            *v = outcome.err();
        }
    }

    /// Ready, or the first reason not to be: damage first (it needs a
    /// person), then the disk, then the last write.
    pub fn check(&self, data: &Path) -> Result<Ready, NotReady> {
        if let Some(why) = self.verification_failed.lock().ok().and_then(|v| v.clone()) {
            return Err(NotReady::VerificationFailed(why));
        }
        let free = free_bytes(data).map_err(|e| NotReady::DiskUnknown(e.to_string()))?;
        if free < LEAST_FREE_BYTES {
            return Err(NotReady::DiskFull {
                free,
                least: LEAST_FREE_BYTES,
            });
        }
        if let Some(why) = self.write_failed.lock().ok().and_then(|w| w.clone()) {
            return Err(NotReady::WriteFailed(why));
        }
        Ok(Ready { free_bytes: free })
    }
}

/// Bytes an unprivileged user may still write on the disk holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_holds_until_one_goes_well() {
        let dir = tempfile::tempdir().unwrap();
        let r = Readiness::default();
        assert!(r.check(dir.path()).is_ok());
        r.wrote(Err("No space left on device".into()));
        assert!(
            matches!(r.check(dir.path()), Err(NotReady::WriteFailed(w)) if w.contains("No space"))
        );
        r.wrote(Ok(()));
        assert!(r.check(dir.path()).unwrap().free_bytes > 0);
    }

    #[test]
    fn a_failed_verification_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let r = Readiness::default();
        r.wrote(Err("disk".into()));
        r.verified(Err("record 7's hash".into()));
        assert!(matches!(
            r.check(dir.path()),
            Err(NotReady::VerificationFailed(_))
        ));
        r.verified(Ok(()));
        assert!(matches!(r.check(dir.path()), Err(NotReady::WriteFailed(_))));
    }

    #[test]
    fn a_directory_that_is_not_there_is_not_ready() {
        let r = Readiness::default();
        let e = r.check(Path::new("/nonexistent/jointly-data")).unwrap_err();
        assert!(matches!(e, NotReady::DiskUnknown(_)), "{e}");
    }
}
