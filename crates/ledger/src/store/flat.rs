//! Fixed-width index files beside the log: `offsets.idx` (the frame offset
//! of each record, u64 LE), `ids.idx` (each record's id, 16 bytes) and
//! `tree.idx` (every perfect Merkle subtree hash, 32 bytes, in the order the
//! subtrees are completed).
//!
//! Both are derived from `records.log` and only ever appended to. They are
//! read by position with `pread`, so a proof costs a few page-cache reads.

use super::{StoreError, io_err};
use crate::merkle::NodeId;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Position of a perfect subtree in `tree.idx`. Pushing leaf `k` completes
/// the leaf and then one node per trailing one bit of `k`, in rising level;
/// before it, `2k - popcount(k)` nodes were completed.
pub fn tree_position(id: NodeId) -> u64 {
    let last_leaf = ((id.index + 1) << id.level) - 1;
    nodes_before(last_leaf) + id.level as u64
}

/// Number of perfect subtrees in a tree of `size` leaves.
pub fn nodes_before(size: u64) -> u64 {
    2 * size - size.count_ones() as u64
}

/// A file of fixed-width items.
pub struct FixedFile {
    file: File,
    width: u64,
    path: PathBuf,
}

impl FixedFile {
    pub fn open(path: &Path, width: u64) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_err(format!("cannot open {}", path.display())))?;
        Ok(FixedFile {
            file,
            width,
            path: path.to_path_buf(),
        })
    }

    /// Whole items held.
    pub fn len(&self) -> Result<u64, StoreError> {
        let bytes = self
            .file
            .metadata()
            .map_err(io_err(format!("cannot read {}", self.path.display())))?
            .len();
        Ok(bytes / self.width)
    }

    pub fn read(&self, index: u64, out: &mut [u8]) -> Result<(), StoreError> {
        debug_assert_eq!(out.len() as u64, self.width);
        self.file
            .read_exact_at(out, index * self.width)
            .map_err(io_err(format!(
                "cannot read item {index} of {}",
                self.path.display()
            )))
    }

    /// Reads consecutive items starting at `index` into `out` (whole items).
    pub fn read_items(&self, index: u64, out: &mut [u8]) -> Result<(), StoreError> {
        debug_assert_eq!(out.len() as u64 % self.width, 0);
        self.file
            .read_exact_at(out, index * self.width)
            .map_err(io_err(format!(
                "cannot read items from {index} of {}",
                self.path.display()
            )))
    }

    /// Writes consecutive items starting at `index`.
    pub fn write(&self, index: u64, items: &[u8]) -> Result<(), StoreError> {
        self.file
            .write_all_at(items, index * self.width)
            .map_err(io_err(format!("cannot write {}", self.path.display())))
    }

    /// Keeps exactly the first `items` items.
    pub fn truncate(&self, items: u64) -> Result<(), StoreError> {
        self.file
            .set_len(items * self.width)
            .map_err(io_err(format!("cannot truncate {}", self.path.display())))
    }

    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(io_err(format!(
            "cannot flush {} to disk",
            self.path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::CompactRange;

    /// Positions agree with the order in which a CompactRange completes nodes.
    #[test]
    fn positions_follow_completion_order() {
        let mut range = CompactRange::default();
        let mut next = 0u64;
        for k in 0..300u64 {
            assert_eq!(nodes_before(k), next);
            range.push(crate::merkle::leaf_hash(&k.to_be_bytes()), |id, _| {
                assert_eq!(tree_position(id), next, "{id:?}");
                next += 1;
            });
        }
    }
}
