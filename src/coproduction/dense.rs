//! B-trees read whole from a snapshot, built packed.
//!
//! Read one entry at a time, in order, a B-tree's nodes end a little over
//! half full (each split of a full node leaves six of its eleven places
//! in use), so the projects' tree, 40,000 entries of 300 bytes, took about
//! 10 MB more than its entries. Built at once from a sorted list, the
//! nodes are full. Only for postcard, where a set is written as a list
//! (and a map as a list of pairs, which is how the snapshot reads the
//! projects and the other maps it holds).

use serde::{Deserialize, Deserializer};
use std::collections::BTreeSet;

/// A set written as one, read as its list and built packed.
pub fn set<'de, D, T>(d: D) -> Result<BTreeSet<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Ord + Deserialize<'de>,
{
    Vec::<T>::deserialize(d).map(|items| items.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;

    /// What is read back is what was written: a set through [`set`], a
    /// map as the list of pairs the snapshot reads it as.
    #[test]
    fn reads_what_was_written() {
        let m: BTreeMap<u32, String> = (0..500).map(|i| (i * 3, i.to_string())).collect();
        let s: BTreeSet<(u16, u64)> = (0..300).map(|i| (i % 7, u64::from(i) * 11)).collect();
        let bytes = postcard::to_allocvec(&(&m, &s)).unwrap();
        #[derive(Deserialize)]
        struct Back(
            Vec<(u32, String)>,
            #[serde(deserialize_with = "set")] BTreeSet<(u16, u64)>,
        );
        let back: Back = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.0.into_iter().collect::<BTreeMap<_, _>>(), m);
        assert_eq!(back.1, s);
    }
}
