//! Checking a tree of C2SP tiles against a checkpoint, as a client that
//! trusts nothing but the log's key does (a mirror, a restore taking
//! records from one): every tile and bundle the size needs is there and
//! of its width, every entry hashes to its leaf, every higher hash is the
//! root of the full tile below it, and the leaves give the checkpoint's
//! root. It recomputes the tree from the leaves (one hash a node), which
//! also gives the root at any earlier size: consistency with an older
//! checkpoint is checked by recomputing it, not by trusting a proof.

use super::digest::Digest;
use super::merkle::{empty_root, leaf_hash, node_hash};
use super::tiles::{Kind, TILE_WIDTH, TileId, split_bundle, tiles_of};
use std::collections::HashMap;

/// Why tiles do not make the tree a checkpoint names.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileProblem {
    #[error("{0} is missing")]
    Missing(String),
    #[error("{path} is {got} bytes, not the {want} its width needs")]
    WrongLength {
        path: String,
        got: usize,
        want: usize,
    },
    #[error("{path} is not an entry bundle: {why}")]
    NotABundle { path: String, why: String },
    #[error("{path} holds {got} entries, not {want}")]
    WrongCount {
        path: String,
        got: usize,
        want: usize,
    },
    #[error(
        "entry {seq} (in {path}) does not hash to its leaf in the tiles: the entry or the tile was changed"
    )]
    EntryNotLeaf { seq: u64, path: String },
    #[error("hash {at} of {path} is not the root of the tile below it: a tile was changed")]
    NotTheRootBelow { path: String, at: u64 },
    #[error("the tiles give the root {got} at size {size}, not the checkpoint's {want}")]
    WrongRoot {
        size: u64,
        got: String,
        want: String,
    },
}

/// A tree of tiles that passed: its leaf hashes and its entries.
pub struct CheckedTiles {
    leaves: Vec<Digest>,
    entries: Vec<Vec<u8>>,
}

impl CheckedTiles {
    /// Checks the tiles of a tree of `size` with `root`; `tiles` maps each
    /// tile and bundle [`tiles_of`] names to its bytes (others are ignored).
    pub fn check(
        size: u64,
        root: &Digest,
        tiles: &HashMap<TileId, Vec<u8>>,
    ) -> Result<CheckedTiles, TileProblem> {
        let mut levels: Vec<Vec<Digest>> = Vec::new();
        let mut entries = Vec::with_capacity(size as usize);
        let wanted = tiles_of(size);
        let get = |t: &TileId| tiles.get(t).ok_or_else(|| TileProblem::Missing(t.path()));
        for t in wanted
            .iter()
            .filter(|t| matches!(t.kind(), Kind::Hashes(_)))
        {
            let Kind::Hashes(level) = t.kind() else {
                continue;
            };
            let body = get(t)?;
            let want = 32 * usize::from(t.width());
            if body.len() != want {
                return Err(TileProblem::WrongLength {
                    path: t.path(),
                    got: body.len(),
                    want,
                });
            }
            let level = usize::from(level);
            if levels.len() <= level {
                levels.resize(level + 1, Vec::new());
            }
            levels[level].extend(body.chunks(32).map(|c| {
                let mut d = [0u8; 32];
                d.copy_from_slice(c);
                Digest(d)
            }));
        }
        let leaves = levels.first().cloned().unwrap_or_default();
        for t in wanted.iter().filter(|t| t.kind() == Kind::Entries) {
            let body = get(t)?;
            let got = split_bundle(body).map_err(|why| TileProblem::NotABundle {
                path: t.path(),
                why,
            })?;
            if got.len() != usize::from(t.width()) {
                return Err(TileProblem::WrongCount {
                    path: t.path(),
                    got: got.len(),
                    want: usize::from(t.width()),
                });
            }
            for (i, e) in got.into_iter().enumerate() {
                let seq = t.index() * TILE_WIDTH + i as u64;
                if leaves.get(seq as usize) != Some(&leaf_hash(e)) {
                    return Err(TileProblem::EntryNotLeaf {
                        seq,
                        path: t.path(),
                    });
                }
                entries.push(e.to_vec());
            }
        }
        for level in 1..levels.len() {
            for (j, h) in levels[level].iter().enumerate() {
                let lo = j * TILE_WIDTH as usize;
                let below = levels[level - 1].get(lo..lo + TILE_WIDTH as usize);
                if below.map(root_of) != Some(*h) {
                    let t = TileId::new(Kind::Hashes(level as u8), j as u64 / TILE_WIDTH, 1)
                        .expect("width 1");
                    return Err(TileProblem::NotTheRootBelow {
                        path: t.path().trim_end_matches(".p/1").to_string(),
                        at: j as u64 % TILE_WIDTH,
                    });
                }
            }
        }
        let got = root_of(&leaves);
        if got != *root {
            return Err(TileProblem::WrongRoot {
                size,
                got: got.to_base64(),
                want: root.to_base64(),
            });
        }
        Ok(CheckedTiles { leaves, entries })
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The root of the tree at an earlier size (`size <= self.size()`).
    pub fn root_at(&self, size: u64) -> Digest {
        root_of(&self.leaves[..size as usize])
    }

    /// The entries (canonical records), in order.
    pub fn entries(&self) -> &[Vec<u8>] {
        &self.entries
    }
}

/// RFC 9162's Merkle Tree Hash of a list of leaf hashes.
pub fn root_of(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::CompactRange;
    use crate::tiles::entry_bundle;

    /// Tiles written here from the entries, independently of the store.
    fn tiles_for(entries: &[Vec<u8>]) -> HashMap<TileId, Vec<u8>> {
        let mut levels = vec![entries.iter().map(|e| leaf_hash(e)).collect::<Vec<_>>()];
        while levels.last().unwrap().len() >= 256 {
            let below = levels.last().unwrap();
            let up = below.chunks_exact(256).map(root_of).collect();
            levels.push(up);
        }
        let mut out = HashMap::new();
        for t in tiles_of(entries.len() as u64) {
            let lo = (t.index() * 256) as usize;
            let hi = lo + usize::from(t.width());
            let body = match t.kind() {
                Kind::Entries => entry_bundle(entries[lo..hi].iter().map(Vec::as_slice)),
                Kind::Hashes(l) => levels[usize::from(l)][lo..hi]
                    .iter()
                    .flat_map(|d| d.0)
                    .collect(),
            };
            out.insert(t, body);
        }
        out
    }

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect()
    }

    #[test]
    fn root_of_agrees_with_the_compact_range() {
        for n in [0usize, 1, 2, 3, 255, 256, 257, 600] {
            let leaves: Vec<Digest> = entries(n).iter().map(|e| leaf_hash(e)).collect();
            let mut range = CompactRange::default();
            for l in &leaves {
                range.push(*l, |_, _| {});
            }
            assert_eq!(root_of(&leaves), range.root(), "{n}");
        }
    }

    #[test]
    fn good_tiles_pass_and_give_earlier_roots() {
        for n in [1usize, 255, 256, 257, 70_000] {
            let e = entries(n);
            let tiles = tiles_for(&e);
            let leaves: Vec<Digest> = e.iter().map(|x| leaf_hash(x)).collect();
            let checked = CheckedTiles::check(n as u64, &root_of(&leaves), &tiles).unwrap();
            assert_eq!(checked.entries(), &e[..]);
            assert_eq!(checked.root_at(n as u64 / 2), root_of(&leaves[..n / 2]));
        }
    }

    fn check_refused(change: impl Fn(&mut HashMap<TileId, Vec<u8>>), expect: &str) {
        let e = entries(70_000);
        let mut tiles = tiles_for(&e);
        let leaves: Vec<Digest> = e.iter().map(|x| leaf_hash(x)).collect();
        change(&mut tiles);
        let err = CheckedTiles::check(70_000, &root_of(&leaves), &tiles)
            .err()
            .expect("refused");
        assert!(err.to_string().contains(expect), "{err}");
    }

    #[test]
    fn changed_tiles_are_refused() {
        let id = |k, i, w| TileId::new(k, i, w).unwrap();
        check_refused(
            |t| {
                t.remove(&id(Kind::Entries, 3, 256));
            },
            "tile/entries/003 is missing",
        );
        check_refused(
            |t| {
                let b = t.get_mut(&id(Kind::Entries, 3, 256)).unwrap();
                b[5] ^= 1;
            },
            "entry 768 (in tile/entries/003)",
        );
        check_refused(
            |t| {
                t.get_mut(&id(Kind::Hashes(0), 0, 256)).unwrap().pop();
            },
            "tile/0/000 is 8191 bytes",
        );
        check_refused(
            |t| {
                t.get_mut(&id(Kind::Hashes(1), 1, 17)).unwrap()[40] ^= 1;
            },
            "hash 1 of tile/1/001",
        );
        check_refused(
            |t| {
                // An entry and its leaf changed together: the tile above tells.
                let mut e: Vec<Vec<u8>> = (0..256)
                    .map(|i| format!("{{\"n\":{i}}}").into_bytes())
                    .collect();
                e[0] = b"{\"n\":\"other\"}".to_vec();
                t.insert(
                    id(Kind::Entries, 0, 256),
                    entry_bundle(e.iter().map(Vec::as_slice)),
                );
                let leaves: Vec<u8> = e.iter().flat_map(|x| leaf_hash(x).0).collect();
                t.insert(id(Kind::Hashes(0), 0, 256), leaves);
            },
            "hash 0 of tile/1/000",
        );
    }
}
