//! The RFC 6962 / RFC 9162 Merkle tree over the records (SHA-256).
//!
//! Proofs are computed from stored hashes of *perfect* subtrees (a subtree
//! of `2^level` leaves starting at a multiple of `2^level`), so the root at
//! any size and every proof cost O(log n) lookups, never a rebuild. The
//! index newtypes keep leaf positions, tree sizes and node ids apart.

use super::digest::{self, Digest};
use sha2::{Digest as _, Sha256};

/// Prefix of a leaf hash: `SHA-256(LEAF_PREFIX || canonical record)`.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node: `SHA-256(NODE_PREFIX || left || right)`.
pub const NODE_PREFIX: u8 = 0x01;

/// A leaf's 0-based position (equal to the record's sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeafIndex(pub u64);

/// A number of leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TreeSize(pub u64);

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn leaf(i: LeafIndex) -> Self {
        NodeId {
            level: 0,
            index: i.0,
        }
    }
}

pub fn leaf_hash(data: &[u8]) -> Digest {
    digest::sha256_of(&[LEAF_PREFIX], data)
}

pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of no bytes.
pub fn empty_root() -> Digest {
    Digest(Sha256::digest([]).into())
}

/// Where stored perfect-subtree hashes come from.
pub trait NodeSource {
    type Error;
    fn node(&self, id: NodeId) -> Result<Digest, Self::Error>;
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf {leaf} is not in a tree of size {size}")]
    LeafOutOfRange { leaf: u64, size: u64 },
    #[error("tree size {size} is larger than the log ({current})")]
    SizeOutOfRange { size: u64, current: u64 },
    #[error("a consistency proof needs 0 < from <= to; got from {from}, to {to}")]
    BadRange { from: u64, to: u64 },
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[start, end)`, a valid RFC 6962 subtree of some tree:
/// the perfect pieces are found greedily and folded from the right.
fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Digest, S::Error> {
    debug_assert!(start < end);
    let mut pieces = Vec::with_capacity(64);
    let mut pos = start;
    while pos < end {
        let level = 63 - (end - pos).leading_zeros();
        debug_assert_eq!(
            pos % (1 << level),
            0,
            "range [{start},{end}) is not a subtree"
        );
        pieces.push(NodeId {
            level: level as u8,
            index: pos >> level,
        });
        pos += 1 << level;
    }
    let mut acc = src.node(pieces.pop().expect("non-empty range"))?;
    while let Some(id) = pieces.pop() {
        acc = node_hash(&src.node(id)?, &acc);
    }
    Ok(acc)
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: TreeSize) -> Result<Digest, S::Error> {
    if size.0 == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size.0)
}

/// RFC 9162 section 2.1.3.1 PATH(m, D[n]), leaf first.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    leaf: LeafIndex,
    size: TreeSize,
) -> Result<Result<Vec<Digest>, ProofError>, S::Error> {
    if leaf.0 >= size.0 {
        return Ok(Err(ProofError::LeafOutOfRange {
            leaf: leaf.0,
            size: size.0,
        }));
    }
    let (mut start, mut end) = (0, size.0);
    let mut path = Vec::new();
    while end - start > 1 {
        let k = largest_power_of_two_below(end - start);
        if leaf.0 - start < k {
            path.push(range_hash(src, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_hash(src, start, start + k)?);
            start += k;
        }
    }
    path.reverse();
    Ok(Ok(path))
}

/// RFC 9162 section 2.1.4.1 PROOF(m, D[n]) for `0 < from <= to`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    from: TreeSize,
    to: TreeSize,
) -> Result<Result<Vec<Digest>, ProofError>, S::Error> {
    if from.0 == 0 || from.0 > to.0 {
        return Ok(Err(ProofError::BadRange {
            from: from.0,
            to: to.0,
        }));
    }
    let (mut start, mut end, mut m, mut whole) = (0, to.0, from.0, true);
    let mut proof = Vec::new();
    loop {
        let size = end - start;
        if m == size {
            if !whole {
                proof.push(range_hash(src, start, end)?);
            }
            break;
        }
        let k = largest_power_of_two_below(size);
        if m <= k {
            proof.push(range_hash(src, start + k, end)?);
            end = start + k;
        } else {
            proof.push(range_hash(src, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(Ok(proof))
}

/// RFC 9162 section 2.1.3.2: checks that `leaf_hash` is leaf `leaf` of the
/// tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: LeafIndex,
    size: TreeSize,
    leaf_hash: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    if leaf.0 >= size.0 {
        return Err(ProofError::LeafOutOfRange {
            leaf: leaf.0,
            size: size.0,
        });
    }
    let (mut f, mut s) = (leaf.0, size.0 - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 section 2.1.4.2: checks that the tree of `to` leaves with root
/// `to_root` extends the tree of `from` leaves with root `from_root`.
pub fn verify_consistency(
    from: TreeSize,
    to: TreeSize,
    from_root: &Digest,
    to_root: &Digest,
    proof: &[Digest],
) -> Result<(), ProofError> {
    if from.0 > to.0 {
        return Err(ProofError::BadRange {
            from: from.0,
            to: to.0,
        });
    }
    if from.0 == to.0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if from.0 == 0 {
        // Every tree extends the empty tree; there is nothing to prove.
        return if proof.is_empty() && *from_root == empty_root() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Digest> = Vec::with_capacity(proof.len() + 1);
    if from.0.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (from.0 - 1, to.0 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *from_root || sr != *to_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: one perfect subtree per set bit of the
/// size, largest first. Appending a leaf yields the perfect subtrees it
/// completes, which are what the store keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    peaks: Vec<Digest>,
}

impl CompactRange {
    /// Rebuilds the right edge of a tree of `size` leaves from stored nodes.
    pub fn load<S: NodeSource>(src: &S, size: TreeSize) -> Result<Self, S::Error> {
        let mut peaks = Vec::new();
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if size.0 & (1 << level) != 0 {
                peaks.push(src.node(NodeId {
                    level: level as u8,
                    index: pos >> level,
                })?);
                pos += 1 << level;
            }
        }
        Ok(CompactRange {
            size: size.0,
            peaks,
        })
    }

    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Adds a leaf; calls `completed` for each perfect subtree it completes,
    /// starting with the leaf itself.
    pub fn push(&mut self, leaf: Digest, completed: impl FnMut(NodeId, Digest)) {
        self.push_known(leaf, &Subtrees::default(), completed)
    }

    /// [`push`](Self::push), taking the hashes of completed subtrees from
    /// `known` where it has them, computed from the same leaves beforehand.
    pub fn push_known(
        &mut self,
        leaf: Digest,
        known: &Subtrees,
        mut completed: impl FnMut(NodeId, Digest),
    ) {
        let mut id = NodeId {
            level: 0,
            index: self.size,
        };
        let mut hash = leaf;
        completed(id, hash);
        // Each trailing one bit of the old size is a peak that now merges.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            let left = self.peaks.pop().expect("a peak for each set bit");
            id = NodeId {
                level: id.level + 1,
                index: id.index >> 1,
            };
            hash = known.get(id).unwrap_or_else(|| node_hash(&left, &hash));
            completed(id, hash);
            merges -= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    pub fn root(&self) -> Digest {
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// Every perfect subtree wholly inside a run of consecutive leaves:
/// verification builds these for each block of records on its workers, so
/// that linking the records in order computes only the subtrees that span
/// two blocks.
#[derive(Clone, Debug, Default)]
pub struct Subtrees {
    /// For each level from 1: the index of its first subtree, and hashes.
    levels: Vec<(u64, Vec<Digest>)>,
}

impl Subtrees {
    /// The subtrees over `leaves`, the first of which is leaf `first`.
    pub fn build(first: LeafIndex, leaves: &[Digest]) -> Subtrees {
        let mut levels: Vec<(u64, Vec<Digest>)> = Vec::new();
        let mut below: (u64, &[Digest]) = (first.0, leaves);
        loop {
            let (start, hashes) = below;
            let (from, to) = (start.div_ceil(2), (start + hashes.len() as u64) / 2);
            if from >= to {
                break;
            }
            let level = (from..to)
                .map(|j| {
                    let left = (2 * j - start) as usize;
                    node_hash(&hashes[left], &hashes[left + 1])
                })
                .collect();
            levels.push((from, level));
            below = (from, &levels.last().expect("just pushed").1);
        }
        Subtrees { levels }
    }

    /// The hash of subtree `id`, if it is one of these.
    pub fn get(&self, id: NodeId) -> Option<Digest> {
        let (start, hashes) = self.levels.get((id.level as usize).checked_sub(1)?)?;
        hashes
            .get(usize::try_from(id.index.checked_sub(*start)?).ok()?)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Subtrees over leaves `first..first + n` hold exactly the perfect
    /// subtrees wholly among them, with the hashes pushing every leaf in
    /// order gives; and linking with them gives the same tree.
    fn check_subtrees(first: u64, n: u64) {
        let leaf = |i: u64| leaf_hash(&i.to_be_bytes());
        let mut reference = std::collections::HashMap::new();
        let mut whole = CompactRange::default();
        for i in 0..first + n {
            whole.push(leaf(i), |id, h| {
                reference.insert((id.level, id.index), h);
            });
        }
        let leaves: Vec<Digest> = (first..first + n).map(leaf).collect();
        let known = Subtrees::build(LeafIndex(first), &leaves);
        for (&(level, index), hash) in &reference {
            let inside = index << level >= first && (index + 1) << level <= first + n;
            let id = NodeId { level, index };
            let expect = (level > 0 && inside).then_some(*hash);
            assert_eq!(known.get(id), expect, "{first}+{n}: {id:?}");
        }
        let mut linked = CompactRange::default();
        for i in 0..first + n {
            linked.push_known(leaf(i), &known, |_, _| {});
        }
        assert_eq!(linked.root(), whole.root(), "{first}+{n}");
    }

    #[test]
    fn subtrees_of_a_run_of_leaves() {
        for first in 0..40 {
            for n in 0..70 {
                check_subtrees(first, n);
            }
        }
        check_subtrees(1 << 16, 1000);
    }
    use std::collections::HashMap;

    /// An in-memory node store built by pushing leaves through a CompactRange.
    struct Nodes(HashMap<NodeId, Digest>, CompactRange);

    impl Nodes {
        fn with_leaves(n: u64) -> Self {
            let mut nodes = Nodes(HashMap::new(), CompactRange::default());
            for i in 0..n {
                let map = &mut nodes.0;
                nodes.1.push(leaf_hash(&i.to_be_bytes()), |id, h| {
                    map.insert(id, h);
                });
            }
            nodes
        }
    }

    impl NodeSource for Nodes {
        type Error = std::convert::Infallible;
        fn node(&self, id: NodeId) -> Result<Digest, Self::Error> {
            Ok(*self.0.get(&id).expect("stored node"))
        }
    }

    /// The reference MTH of RFC 6962, by recursion over the leaves.
    fn reference_root(leaves: &[Digest]) -> Digest {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_proofs_and_their_verification_agree_with_the_reference() {
        let n = 70u64;
        let nodes = Nodes::with_leaves(n);
        let leaves: Vec<Digest> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        assert_eq!(nodes.1.root(), reference_root(&leaves));
        for size in 1..=n {
            let r = root(&nodes, TreeSize(size)).unwrap();
            assert_eq!(r, reference_root(&leaves[..size as usize]), "size {size}");
            for m in 0..size {
                let p = inclusion_proof(&nodes, LeafIndex(m), TreeSize(size))
                    .unwrap()
                    .unwrap();
                verify_inclusion(LeafIndex(m), TreeSize(size), &leaves[m as usize], &p, &r)
                    .unwrap();
                assert!(
                    verify_inclusion(
                        LeafIndex(m),
                        TreeSize(size),
                        &leaves[(m as usize + 1) % n as usize],
                        &p,
                        &r
                    )
                    .is_err()
                );
            }
            for from in 1..=size {
                let fr = root(&nodes, TreeSize(from)).unwrap();
                let p = consistency_proof(&nodes, TreeSize(from), TreeSize(size))
                    .unwrap()
                    .unwrap();
                verify_consistency(TreeSize(from), TreeSize(size), &fr, &r, &p).unwrap();
                if from < size {
                    assert!(
                        verify_consistency(TreeSize(from), TreeSize(size), &r, &r, &p).is_err()
                    );
                }
            }
        }
    }
}
