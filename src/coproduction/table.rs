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
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::{BuildHasher, Hash, RandomState};

/// A row that names its own key.
pub trait Keyed {
    type Key: Copy + Eq + Hash + std::fmt::Debug;
    fn key(&self) -> Self::Key;
}

/// Rows by key, in the order first inserted.
#[derive(Clone)]
pub struct Table<R: Keyed> {
    rows: Vec<R>,
    index: HashTable<u32>,
    // Randomly seeded: keys come from clients, so their hashes must not
    // be predictable.
    hasher: RandomState,
}

impl<R: Keyed> Default for Table<R> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<R: Keyed> Table<R> {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn position(&self, key: &R::Key) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| self.rows[i as usize].key() == *key)
            .map(|&i| i as usize)
    }

    pub fn get(&self, key: &R::Key) -> Option<&R> {
        self.position(key).map(|i| &self.rows[i])
    }

    pub fn get_mut(&mut self, key: &R::Key) -> Option<&mut R> {
        self.position(key).map(|i| &mut self.rows[i])
    }

    pub fn contains_key(&self, key: &R::Key) -> bool {
        self.position(key).is_some()
    }

    /// Adds `row`, or replaces the row with its key (keeping its place).
    pub fn insert(&mut self, row: R) {
        match self.position(&row.key()) {
            Some(i) => self.rows[i] = row,
            None => self.push_new(row),
        }
    }

    /// The row with `key`, added by `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: R::Key, make: impl FnOnce() -> R) -> &mut R {
        let i = match self.position(&key) {
            Some(i) => i,
            None => {
                let row = make();
                debug_assert_eq!(row.key(), key);
                self.push_new(row);
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    fn push_new(&mut self, row: R) {
        let at = u32::try_from(self.rows.len()).expect("fewer than 2^32 rows");
        let hash = self.hasher.hash_one(row.key());
        self.rows.push(row);
        let (rows, hasher) = (&self.rows, &self.hasher);
        self.index
            .insert_unique(hash, at, |&i| hasher.hash_one(rows[i as usize].key()));
    }

    /// Every row, in the order first inserted.
    pub fn values(&self) -> std::slice::Iter<'_, R> {
        self.rows.iter()
    }

    /// Every row with its key, in the order first inserted.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (R::Key, &R)> + '_ {
        self.rows.iter().map(|r| (r.key(), r))
    }

    /// Gives back the room a table grown by doubling holds spare.
    pub fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        let (rows, hasher) = (&self.rows, &self.hasher);
        self.index
            .shrink_to_fit(|&i| hasher.hash_one(rows[i as usize].key()));
    }

    /// The table of `rows` as they are (no second copy while it indexes
    /// them); refused if a key is there twice.
    fn from_rows(rows: Vec<R>) -> Result<Self, R::Key> {
        let hasher = RandomState::new();
        let mut index = HashTable::with_capacity(rows.len());
        for (at, row) in rows.iter().enumerate() {
            let key = row.key();
            let hash = hasher.hash_one(key);
            if index
                .find(hash, |&i| rows[i as usize].key() == key)
                .is_some()
            {
                return Err(key);
            }
            let at = u32::try_from(at).expect("fewer than 2^32 rows");
            index.insert_unique(hash, at, |&i| hasher.hash_one(rows[i as usize].key()));
        }
        Ok(Table {
            rows,
            index,
            hasher,
        })
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
        f.debug_list().entries(self.rows.iter()).finish()
    }
}

/// Saved as the list of rows; the index is made again when read.
impl<R: Keyed + Serialize> Serialize for Table<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.rows.serialize(s)
    }
}

impl<'de, R: Keyed + Deserialize<'de>> Deserialize<'de> for Table<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Table::from_rows(Vec::deserialize(d)?)
            .map_err(|key| D::Error::custom(format!("the id {key:?} is there twice")))
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
        for i in (0..1000u128).rev() {
            t.insert(Row(i * 7919, "a"));
        }
        t.insert(Row(5 * 7919, "b"));
        assert_eq!(t.len(), 1000);
        assert_eq!(t.get(&(5 * 7919)), Some(&Row(5 * 7919, "b")));
        assert_eq!(t.get(&1), None);
        assert_eq!(t.values().next(), Some(&Row(999 * 7919, "a")));
        t.get_or_insert_with(3, || Row(3, "c")).1 = "d";
        assert_eq!(t.get(&3), Some(&Row(3, "d")));
        t.shrink_to_fit();
        assert!((0..1000u128).all(|i| t.contains_key(&(i * 7919))));
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
