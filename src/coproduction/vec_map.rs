//! A small map kept as a sorted `Vec` of pairs: a project's members, a
//! decision's confirmations and disputes.
//!
//! These maps hold a handful of entries each and there are hundreds of
//! thousands of them. A `BTreeMap` allocates a node of eleven slots for
//! its first entry (over 400 bytes for a member); a sorted `Vec` holds
//! what is there. Lookups are a binary search and iteration is in key
//! order, as a `BTreeMap`'s; an insert moves the entries after it, which
//! costs nothing at these sizes.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> VecMap<K, V> {
    pub const fn new() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn search(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.search(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.search(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.search(key).is_ok()
    }

    /// Sets `key` to `value`, giving back the value it had.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.search(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value at `key`, set by `make` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.search(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Takes `key` out, giving back its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.search(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + '_ {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

/// Saved as its pairs, in order.
impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.entries.serialize(s)
    }
}

/// Read back only if the keys are in order, each once: anything else was
/// not written by [`VecMap`], and a lookup in it would go wrong.
impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries: Vec<(K, V)> = Vec::deserialize(d)?;
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(D::Error::custom(
                "the keys of a map are out of order or repeat",
            ));
        }
        Ok(VecMap { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn it_answers_as_a_btreemap_would() {
        let mut ours = VecMap::new();
        let mut theirs = BTreeMap::new();
        for (i, k) in [5u32, 1, 9, 5, 3, 1, 7, 0, 9].into_iter().enumerate() {
            assert_eq!(ours.insert(k, i), theirs.insert(k, i), "insert {k}");
        }
        assert!(ours.iter().eq(theirs.iter()));
        assert_eq!(ours.len(), theirs.len());
        for k in 0..11 {
            assert_eq!(ours.get(&k), theirs.get(&k), "get {k}");
        }
        *ours.get_mut(&3).unwrap() = 100;
        assert_eq!(ours.get(&3), Some(&100));
        assert_eq!(ours.remove(&9), Some(8));
        assert_eq!(ours.remove(&9), None);
        *ours.get_or_insert_with(4, || 0) += 1;
        *ours.get_or_insert_with(4, || 0) += 1;
        assert_eq!(ours.get(&4), Some(&2));
        ours.remove(&4);
        assert!(ours.keys().eq([0, 1, 3, 5, 7].iter()));
    }

    #[test]
    fn saved_keys_out_of_order_are_refused() {
        let check = |json: &str, ok: bool| {
            let got = serde_json::from_str::<VecMap<u32, u32>>(json);
            assert_eq!(got.is_ok(), ok, "{json}: {got:?}");
        };
        check("[[1,10],[2,20]]", true);
        check("[]", true);
        check("[[2,20],[1,10]]", false);
        check("[[1,10],[1,20]]", false);
    }
}
