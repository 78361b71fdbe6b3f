//! Bringing forward a data directory an older version wrote.
//!
//! Versions before `ids.idx` kept every record's id in sled (`i` + uuid ->
//! seq): at 10^6 records about 170 MB on disk and 58 MB of memory at every
//! start. Removing those keys in place leaves sled's page table as large
//! as it was (measured: more memory, not less), so the other keys and the
//! side tables are copied into a new sled directory, `index.new`, which
//! then takes the old one's place. `ids.idx` is rebuilt from the log, as
//! any lost derived file is.
//!
//! The copy is made durable (every file and folder in it synced) before
//! the old directory is moved aside, so a copy that is moved into place is
//! whole. The swap is then two renames; [`settle`] finishes or undoes one
//! a crash interrupted, before the index is opened. Both run only while
//! the store's own lock on the data directory is held (see
//! [`Store::open`](super::Store::open)), so no other process opening the
//! same directory can take a half-made copy for an abandoned one.
//!
//! How far the derived files are known durable (`s`) is not copied: it
//! spoke for `offsets.idx` and `tree.idx` only, and `ids.idx` is new, so
//! all three are rebuilt from the log and `s` written again once synced.

use super::{INDEX_DIR, INDEX_TREE, SYNCED_KEY, StoreError, index_err, io_err, open_index};
use std::fs::{self, File};
use std::path::Path;

/// The prefix of the record ids older versions kept in the `index` tree.
const OLD_ID_PREFIX: &[u8] = b"i";
const NEW_DIR: &str = "index.new";
const OLD_DIR: &str = "index.old";
/// sled's own tree, which the store does not use.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

/// Finishes or undoes a swap of sled directories that a crash interrupted.
/// A copy beside the old directory is thrown away (the old directory is
/// whole and the copy is made again); a copy with the old one moved aside
/// is moved into place (it was durable before the old one moved); an old
/// directory moved aside with no copy is moved back; a copy in place of an
/// old directory not yet removed is kept.
pub fn settle(dir: &Path) -> Result<(), StoreError> {
    let (index, new, old) = (dir.join(INDEX_DIR), dir.join(NEW_DIR), dir.join(OLD_DIR));
    if old.exists() && !index.exists() && !new.exists() {
        fs::rename(&old, &index).map_err(io_err(format!("cannot move {} back", old.display())))?;
        sync_dir(dir)?;
    }
    if new.exists() {
        if index.exists() {
            fs::remove_dir_all(&new).map_err(io_err(format!("cannot remove {}", new.display())))?;
        } else {
            fs::rename(&new, &index)
                .map_err(io_err(format!("cannot move {} into place", new.display())))?;
            sync_dir(dir)?;
        }
    }
    if old.exists() && index.exists() {
        // Best effort: sled's threads may still be closing files in it,
        // and a leftover old directory is only disk space, removed at the
        // next open.
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// `db` without the record ids an older version kept in it: the same
/// database if it holds none, else a copy of everything else, put in its
/// place and opened.
pub fn without_old_ids(dir: &Path, db: sled::Db) -> Result<sled::Db, StoreError> {
    let index = db.open_tree(INDEX_TREE).map_err(index_err)?;
    if index.scan_prefix(OLD_ID_PREFIX).next().is_none() {
        return Ok(db);
    }
    drop(index);
    copy_without_old_ids(&db, &dir.join(NEW_DIR))?;
    drop(db);
    let (index_path, old_path) = (dir.join(INDEX_DIR), dir.join(OLD_DIR));
    fs::rename(&index_path, &old_path).map_err(io_err(format!(
        "cannot move {} aside",
        index_path.display()
    )))?;
    sync_dir(dir)?;
    settle(dir)?;
    open_index(dir)
}

/// Copies every tree of `db` but sled's own, less the old ids, into a new
/// sled database at `to`, durably.
fn copy_without_old_ids(db: &sled::Db, to: &Path) -> Result<(), StoreError> {
    let copy = sled::Config::new().path(to).open().map_err(index_err)?;
    for name in db.tree_names() {
        if name == SLED_DEFAULT_TREE {
            continue;
        }
        let (from, into) = (
            db.open_tree(&name).map_err(index_err)?,
            copy.open_tree(&name).map_err(index_err)?,
        );
        for kv in from.iter() {
            let (k, v) = kv.map_err(index_err)?;
            let index_tree = name == INDEX_TREE.as_bytes();
            if index_tree && (k.starts_with(OLD_ID_PREFIX) || k == SYNCED_KEY) {
                continue;
            }
            into.insert(k, v).map_err(index_err)?;
        }
    }
    copy.flush().map_err(index_err)?;
    drop(copy);
    // sled's flush does not reach the disk (sled issue 1452): sync every
    // file and folder of the copy before anything depends on it.
    sync_tree(to)
}

/// Syncs `path`, and everything in it if it is a folder.
fn sync_tree(path: &Path) -> Result<(), StoreError> {
    let failed = io_err(format!("cannot sync {}", path.display()));
    if path.is_dir() {
        for entry in
            fs::read_dir(path).map_err(io_err(format!("cannot read {}", path.display())))?
        {
            let entry = entry.map_err(io_err(format!("cannot read {}", path.display())))?;
            sync_tree(&entry.path())?;
        }
    }
    File::open(path).and_then(|f| f.sync_all()).map_err(failed)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("cannot sync {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CanonicalPayload;
    use crate::log::{Ledger, NewEvent};
    use crate::record::{Actor, EventType};

    const RECORDS: u64 = 250;

    /// A store as an older version left it: the ids in sled, no `ids.idx`.
    fn old_store(dir: &Path) -> Vec<uuid::Uuid> {
        let (ledger, _) = Ledger::open(dir).unwrap();
        let events = (0..RECORDS)
            .map(|i| NewEvent {
                expected: None,
                event_type: EventType::new("x.upgrade").unwrap(),
                actor: Actor::new("test:upgrade").unwrap(),
                payload: CanonicalPayload::parse(format!(r#"{{"i":{i}}}"#).as_bytes()).unwrap(),
            })
            .collect();
        ledger.append_batch(events).unwrap();
        ledger
            .store()
            .side_table("tokens")
            .unwrap()
            .put(b"token/t", b"kept")
            .unwrap();
        let ids: Vec<uuid::Uuid> = (0..RECORDS)
            .map(|seq| ledger.get(seq).unwrap().unwrap().record.id())
            .collect();
        drop(ledger);
        let db = open_index(dir).unwrap();
        let index = db.open_tree(INDEX_TREE).unwrap();
        for (seq, id) in ids.iter().enumerate() {
            let mut key = OLD_ID_PREFIX.to_vec();
            key.extend_from_slice(id.as_bytes());
            index.insert(key, &(seq as u64).to_be_bytes()).unwrap();
        }
        db.flush().unwrap();
        drop((index, db));
        fs::remove_file(dir.join(super::super::IDS_FILE)).unwrap();
        fs::remove_file(dir.join(super::super::directory::FORMAT_FILE)).unwrap();
        ids
    }

    /// Opens `dir` and checks every record is found by its id, the side
    /// tables kept their entries, and sled holds no ids any more.
    fn check_opens(dir: &Path, ids: &[uuid::Uuid]) {
        let (ledger, _) = Ledger::open(dir).unwrap();
        for (seq, id) in ids.iter().enumerate() {
            let got = ledger.get_by_id(id).unwrap().map(|e| e.record.seq());
            assert_eq!(got, Some(seq as u64), "record {seq}");
        }
        assert!(
            ledger
                .get_by_id(&uuid::Uuid::from_u128(7))
                .unwrap()
                .is_none()
        );
        let tokens = ledger.store().side_table("tokens").unwrap();
        assert_eq!(
            tokens.get(b"token/t").unwrap().as_deref(),
            Some(&b"kept"[..])
        );
        let old_ids = ledger.store().index.scan_prefix(OLD_ID_PREFIX).count();
        assert_eq!(old_ids, 0);
        assert!(!dir.join(NEW_DIR).exists() && !dir.join(OLD_DIR).exists());
        let format = fs::read_to_string(dir.join(super::super::directory::FORMAT_FILE));
        assert_eq!(format.unwrap(), format!("{}\n", super::super::FORMAT));
    }

    #[test]
    fn an_older_directory_opens_with_its_ids_moved_out_of_sled() {
        let dir = tempfile::tempdir().unwrap();
        let ids = old_store(dir.path());
        check_opens(dir.path(), &ids);
        // And again, now that there is nothing to move.
        check_opens(dir.path(), &ids);
    }

    /// A second open of a directory already open is refused before it
    /// changes anything (so it cannot take a copy being made for an
    /// abandoned one), and the directory opens again once it is closed.
    #[test]
    fn a_directory_open_elsewhere_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let ids = old_store(dir.path());
        let (first, _) = Ledger::open(dir.path()).unwrap();
        fs::create_dir(dir.path().join(NEW_DIR)).unwrap();
        let second = Ledger::open(dir.path());
        assert!(
            matches!(
                second,
                Err(crate::LedgerError::Store(StoreError::Locked { .. }))
            ),
            "{:?}",
            second.err()
        );
        assert!(
            dir.path().join(NEW_DIR).exists(),
            "the refused open changed nothing"
        );
        drop(first);
        check_opens(dir.path(), &ids);
    }

    /// A crash at each point of the swap: the next open still finds every
    /// record by its id and every side table entry.
    #[test]
    fn a_swap_a_crash_interrupted_is_finished_or_undone() {
        type Crash = fn(&Path);
        fn copy(d: &Path) {
            copy_without_old_ids(&open_index(d).unwrap(), &d.join(NEW_DIR)).unwrap();
        }
        fn aside(d: &Path) {
            fs::rename(d.join(INDEX_DIR), d.join(OLD_DIR)).unwrap();
        }
        let crashes: [(&str, Crash); 4] = [
            ("old moved aside, before any copy", |d| aside(d)),
            ("copy made, not yet in place", |d| copy(d)),
            ("old moved aside, copy not yet in place", |d| {
                copy(d);
                aside(d);
            }),
            ("copy in place, old not yet removed", |d| {
                copy(d);
                aside(d);
                fs::rename(d.join(NEW_DIR), d.join(INDEX_DIR)).unwrap();
            }),
        ];
        for (what, crash) in crashes {
            let dir = tempfile::tempdir().unwrap();
            let ids = old_store(dir.path());
            crash(dir.path());
            eprintln!("{what}");
            check_opens(dir.path(), &ids);
        }
    }
}
