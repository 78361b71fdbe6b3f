//! Which record has a given id: `ids.idx` on disk, a table of sequence
//! numbers in memory.
//!
//! `ids.idx` is a fixed-width file of each record's id (16 bytes), by
//! sequence number, derived from the log like `offsets.idx`. In memory the
//! store keeps only an open-addressing table of sequence numbers, 4 bytes a
//! slot and never more than half full, placed by a keyed hash of the id; a
//! lookup reads its candidates' ids from the file (page-cache reads) to
//! compare. At 10^6 records that is 8 MB, where sled's tree of the same ids
//! held about 58 MB in memory and 170 MB on disk.

use super::StoreError;
use super::flat::FixedFile;
use crate::record::Seq;
use std::hash::BuildHasher;
use std::hash::RandomState;
use uuid::Uuid;

/// Width of an item in `ids.idx`.
pub const ID_WIDTH: u64 = 16;

/// Records the table can place: a slot holds the sequence number plus one,
/// in 4 bytes, and 0 means empty.
pub const MAX_RECORDS: u64 = u32::MAX as u64 - 1;

/// Items read from `ids.idx` at once while (re)building the table.
const READ_ITEMS: u64 = 1 << 16;

/// Sequence numbers placed by a hash of their record's id. Only the
/// store's writer inserts; readers share it behind a lock.
pub struct IdTable {
    /// Sequence number + 1, or 0 for an empty slot. A power of two long.
    slots: Vec<u32>,
    /// Records placed.
    len: u64,
    /// Keyed per process, so ids chosen by a client cannot be made to
    /// collide on purpose.
    hasher: RandomState,
}

impl IdTable {
    /// The table of the first `size` ids in `file`.
    pub fn build(file: &FixedFile, size: u64) -> Result<IdTable, StoreError> {
        Self::with_hasher(file, size, RandomState::new())
    }

    /// Records placed.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether `more` records fit without the table growing past half full.
    pub fn has_room(&self, more: u64) -> bool {
        (self.len + more) * 2 <= self.slots.len() as u64
    }

    /// A table for the first `size` ids in `file`, with the same key: for
    /// when the next batch would fill this one past half.
    pub fn grown(&self, file: &FixedFile, size: u64) -> Result<IdTable, StoreError> {
        Self::with_hasher(file, size, self.hasher.clone())
    }

    fn with_hasher(
        file: &FixedFile,
        size: u64,
        hasher: RandomState,
    ) -> Result<IdTable, StoreError> {
        let mut table = IdTable {
            slots: vec![0; slots_for(size)],
            len: 0,
            hasher,
        };
        table.place_first(file, size)?;
        Ok(table)
    }

    /// Places the ids of the first `to` records, read from `file`.
    fn place_first(&mut self, file: &FixedFile, to: u64) -> Result<(), StoreError> {
        let mut buf = Vec::new();
        let mut at = 0;
        while at < to {
            let n = (to - at).min(READ_ITEMS);
            buf.resize((n * ID_WIDTH) as usize, 0);
            file.read_items(at, &mut buf)?;
            for (i, id) in buf.chunks_exact(ID_WIDTH as usize).enumerate() {
                self.place(id.try_into().expect("16 bytes"), at + i as u64);
            }
            at += n;
        }
        Ok(())
    }

    /// Places record `seq`, whose id is `id`. The table must have room.
    pub fn place(&mut self, id: &[u8; 16], seq: Seq) {
        debug_assert!(seq < MAX_RECORDS && self.has_room(1));
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(id) & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (seq + 1) as u32;
        self.len += 1;
    }

    /// The record below `below` whose id is `id`, reading candidates' ids
    /// from `file`.
    pub fn find(&self, id: &Uuid, below: Seq, file: &FixedFile) -> Result<Option<Seq>, StoreError> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(id.as_bytes()) & mask;
        let mut held = [0u8; ID_WIDTH as usize];
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Ok(None);
            }
            let seq = u64::from(slot - 1);
            if seq < below {
                file.read(seq, &mut held)?;
                if held == *id.as_bytes() {
                    return Ok(Some(seq));
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn slot_of(&self, id: &[u8; 16]) -> usize {
        self.hasher.hash_one(id) as usize
    }
}

/// Slots for `size` records: a power of two, at least twice as many, so a
/// lookup of an id not there reads about one candidate on average.
fn slots_for(size: u64) -> usize {
    (size.max(512) * 2).next_power_of_two() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(ids: &[Uuid]) -> (tempfile::TempDir, FixedFile) {
        let dir = tempfile::tempdir().unwrap();
        let file = FixedFile::open(&dir.path().join("ids.idx"), ID_WIDTH).unwrap();
        let bytes: Vec<u8> = ids.iter().flat_map(|id| *id.as_bytes()).collect();
        file.write(0, &bytes).unwrap();
        (dir, file)
    }

    /// Every id is found at its own sequence number, ids not held are not,
    /// and records at or past `below` are not found.
    #[test]
    fn finds_each_id_and_no_other() {
        let ids: Vec<Uuid> = (0..3000u128).map(|i| Uuid::from_u128(i * 7919)).collect();
        let (_dir, file) = file_of(&ids);
        let mut table = IdTable::build(&file, 1000).unwrap();
        assert_eq!(table.len(), 1000);
        for (seq, id) in ids.iter().enumerate().take(1000) {
            assert_eq!(table.find(id, 1000, &file).unwrap(), Some(seq as u64));
        }
        assert_eq!(table.find(&ids[1000], 1000, &file).unwrap(), None);
        assert_eq!(table.find(&ids[999], 999, &file).unwrap(), None);
        // Growing keeps every id findable.
        assert!(!table.has_room(3000));
        table = table.grown(&file, 3000).unwrap();
        assert!(table.has_room(0));
        for (seq, id) in ids.iter().enumerate() {
            assert_eq!(table.find(id, 3000, &file).unwrap(), Some(seq as u64));
        }
        assert_eq!(table.find(&Uuid::from_u128(1), 3000, &file).unwrap(), None);
    }
}
