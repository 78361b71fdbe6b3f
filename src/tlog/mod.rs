//! The log outside its server, as C2SP tlog-tiles: publishing it to a
//! directory or an object store (`publish`, `serve --publish`), mirrors in
//! other organisations that follow and check it (`mirror`), and taking the
//! records a backup lacks from a mirror (`restore --records-from`).
//! `serve`'s own `/tlog/` door is `api::tlog`; the tile format is the
//! ledger crate's `tiles`, and checking tiles its `tile_check`.

pub mod forward;
pub mod mirror;
pub mod place;
pub mod publish;

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::note::{Note, Verifier};

/// A checkpoint's signed note, opened with the log's key: the checkpoint
/// if the log signed it for its own origin.
pub fn open_checkpoint(note: &[u8], verifier: &Verifier) -> Result<Checkpoint, String> {
    let text = std::str::from_utf8(note).map_err(|_| "the checkpoint is not UTF-8".to_string())?;
    let opened = Note::open(text, verifier)
        .map_err(|e| format!("the checkpoint is not signed by the log's key ({e})"))?;
    let cp = Checkpoint::parse(&opened.text).map_err(|e| e.to_string())?;
    if cp.origin != verifier.name() {
        return Err(format!(
            "the checkpoint is for the log {:?}, not {:?}",
            cp.origin,
            verifier.name()
        ));
    }
    Ok(cp)
}
