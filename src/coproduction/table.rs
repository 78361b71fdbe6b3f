//! A table of things that carry their own id (proposals, decisions,
//! actions, challenges, people): the rows in one `Vec` in the order they
//! were recorded, and a hash index that holds only each row's position.
//!
//! A `HashMap<Id, Row>` keeps a row inline in every slot of its table,
//! empty slots included (up to twice the rows, as the table grows by
//! doubling), and keeps the 16-byte id twice; at 10^6 records that was
//! the largest part of the server's memory. Here an index slot is 4 bytes
//! and a row is stored once. Rows are never removed (the log is append
//! only; an erasure blanks text in place), so positions are stable.

use hashbrown::HashTable;
use serde::de::Error as _;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::{BuildHasher, Hash, RandomState};

/// A row that names its own key.
pub trait Keyed {
    type Key: Copy + Eq + Hash + std::fmt::Debug;
    fn key(&self) -> Self::Key;
}

/// Rows in chunks of this many: a table grows a chunk at a time, never by
/// copying all its rows into an allocation twice the size (which, at 10^6
/// records, briefly held tens of megabytes twice over).
const CHUNK: usize = 4096;

/// A row's place in its table: 4 bytes where its id is 16, for what
/// refers to many rows (each person's part in proposals, decisions and
/// challenges). Rows are never removed and a snapshot keeps their order,
/// so a place stays its row's.
pub struct Row<R>(u32, std::marker::PhantomData<fn() -> R>);

impl<R> Clone for Row<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Row<R> {}
impl<R> PartialEq for Row<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<R> Eq for Row<R> {}
impl<R> std::fmt::Debug for Row<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Row({})", self.0)
    }
}
impl<R> Serialize for Row<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
impl<'de, R> Deserialize<'de> for Row<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(|i| Row(i, std::marker::PhantomData))
    }
}

/// Rows by key, in the order first inserted.
#[derive(Clone)]
pub struct Table<R: Keyed> {
    /// Each full but the last; together, the rows in order.
    chunks: Vec<Vec<R>>,
    len: usize,
    index: HashTable<u32>,
    // Randomly seeded: keys come from clients, so their hashes must not
    // be predictable.
    hasher: RandomState,
}

impl<R: Keyed> Default for Table<R> {
    fn default() -> Self {
        Table {
            chunks: Vec::new(),
            len: 0,
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }
}

fn at<R>(chunks: &[Vec<R>], i: u32) -> &R {
    let i = i as usize;
    &chunks[i / CHUNK][i % CHUNK]
}

impl<R: Keyed> Table<R> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn position(&self, key: &R::Key) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| at(&self.chunks, i).key() == *key)
            .copied()
    }

    fn row_mut(&mut self, i: u32) -> &mut R {
        let i = i as usize;
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Where the row with `key` is.
    pub fn row_of(&self, key: &R::Key) -> Option<Row<R>> {
        self.position(key).map(|i| Row(i, std::marker::PhantomData))
    }

    /// The row at `row`, if this table has one there (a `Row` from another
    /// table of the same kind of row may point past its end).
    pub fn row(&self, row: Row<R>) -> Option<&R> {
        ((row.0 as usize) < self.len).then(|| at(&self.chunks, row.0))
    }

    pub fn get(&self, key: &R::Key) -> Option<&R> {
        self.position(key).map(|i| at(&self.chunks, i))
    }

    pub fn get_mut(&mut self, key: &R::Key) -> Option<&mut R> {
        self.position(key).map(|i| self.row_mut(i))
    }

    pub fn contains_key(&self, key: &R::Key) -> bool {
        self.position(key).is_some()
    }

    /// Adds `row`, or replaces the row with its key (keeping its place).
    pub fn insert(&mut self, row: R) {
        match self.position(&row.key()) {
            Some(i) => *self.row_mut(i) = row,
            None => {
                self.push_new(row);
            }
        }
    }

    /// The row with `key`, added by `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: R::Key, make: impl FnOnce() -> R) -> &mut R {
        let i = match self.position(&key) {
            Some(i) => i,
            None => {
                let row = make();
                debug_assert_eq!(row.key(), key);
                self.push_new(row)
            }
        };
        self.row_mut(i)
    }

    /// Adds a row whose key is not in the table; returns its position.
    fn push_new(&mut self, row: R) -> u32 {
        let i = u32::try_from(self.len).expect("fewer than 2^32 rows");
        let hash = self.hasher.hash_one(row.key());
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                // A last chunk given back by `shrink_to_fit` grows to a
                // whole chunk once, not by doubling.
                if last.len() == last.capacity() {
                    last.reserve_exact(CHUNK - last.len());
                }
                last.push(row);
            }
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(row);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(at(chunks, j).key()));
        i
    }

    /// Every row, in the order first inserted.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &R> + '_ {
        self.chunks.iter().flatten()
    }

    /// Every row with its key, in the order first inserted.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (R::Key, &R)> + '_ {
        self.values().map(|r| (r.key(), r))
    }

    /// Gives back the room the last chunk and the index hold spare.
    pub fn shrink_to_fit(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index
            .shrink_to_fit(|&i| hasher.hash_one(at(chunks, i).key()));
    }
}

/// The row with `key`; panics if there is none (as `HashMap` does).
impl<R: Keyed> std::ops::Index<&R::Key> for Table<R> {
    type Output = R;
    fn index(&self, key: &R::Key) -> &R {
        self.get(key)
            .unwrap_or_else(|| panic!("no row with the id {key:?}"))
    }
}

impl<R: Keyed + std::fmt::Debug> std::fmt::Debug for Table<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

/// Saved as the list of rows; the index is made again when read.
impl<R: Keyed + Serialize> Serialize for Table<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The length first: compact forms need it before the rows.
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len))?;
        for row in self.values() {
            seq.serialize_element(row)?;
        }
        seq.end()
    }
}

/// Read row by row into place (never the whole list first, then a copy),
/// refused if a key is there twice.
impl<'de, R: Keyed + Deserialize<'de>> Deserialize<'de> for Table<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rows<R>(std::marker::PhantomData<R>);
        impl<'de, R: Keyed + Deserialize<'de>> Visitor<'de> for Rows<R> {
            type Value = Table<R>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of rows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Table<R>, A::Error> {
                let mut table = Table::default();
                // The length the list gives, within reason (a damaged one
                // must not make it ask for all the memory there is).
                let n = seq.size_hint().unwrap_or(0).min(1 << 24);
                table.index = HashTable::with_capacity(n);
                while let Some(row) = seq.next_element::<R>()? {
                    if table.contains_key(&row.key()) {
                        let key = row.key();
                        return Err(A::Error::custom(format!("the id {key:?} is there twice")));
                    }
                    table.push_new(row);
                }
                table.shrink_to_fit();
                Ok(table)
            }
        }
        d.deserialize_seq(Rows(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Row(u128, &'static str);

    impl Keyed for Row {
        type Key = u128;
        fn key(&self) -> u128 {
            self.0
        }
    }

    #[test]
    fn rows_are_found_by_key_and_kept_in_order() {
        let mut t = Table::default();
        for i in (0..10_000u128).rev() {
            t.insert(Row(i * 7919, "a"));
        }
        t.insert(Row(5 * 7919, "b"));
        assert_eq!(t.len(), 10_000);
        assert_eq!(t.get(&(5 * 7919)), Some(&Row(5 * 7919, "b")));
        assert_eq!(t.get(&1), None);
        assert_eq!(t.values().next(), Some(&Row(9999 * 7919, "a")));
        assert_eq!(t.values().next_back(), Some(&Row(0, "a")));
        assert_eq!(t.values().count(), 10_000);
        t.get_or_insert_with(3, || Row(3, "c")).1 = "d";
        assert_eq!(t.get(&3), Some(&Row(3, "d")));
        t.shrink_to_fit();
        assert!((0..10_000u128).all(|i| t.contains_key(&(i * 7919))));
        t.insert(Row(1, "e"));
        assert_eq!(t.values().next_back(), Some(&Row(1, "e")));
    }

    #[test]
    fn a_saved_table_with_an_id_twice_is_refused() {
        let twice = serde_json::json!([[1, "a"], [1, "b"]]);
        let err = serde_json::from_value::<Table<RowOwned>>(twice).unwrap_err();
        assert!(err.to_string().contains("the id 1 is there twice"), "{err}");
    }

    #[derive(Debug, Deserialize)]
    struct RowOwned(u128, #[allow(dead_code)] String);

    impl Keyed for RowOwned {
        type Key = u128;
        fn key(&self) -> u128 {
            self.0
        }
    }
}
