//! The log as C2SP tlog-tiles: which tiles a tree of a given size has,
//! their paths, and their bytes.
//!
//! A hash tile at level `L`, index `N`, holds the hashes of up to 256
//! consecutive perfect subtrees of `256^L` leaves each (tree level `8L`),
//! 32 bytes a hash; it is *full* with 256 and *partial* (`.p/W`) with
//! fewer. An entry bundle holds the entries of the level-0 tile of the
//! same index, each a big-endian `u16` length and the record's canonical
//! bytes (docs/FORMAT.md). A full tile never changes; a partial one of
//! width `W` never changes either, it is only joined by wider ones.

use super::merkle::{NodeId, NodeSource};
use super::record::MAX_RECORD_BYTES;

/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels one tile level spans (`256 = 2^8`).
const LEVELS_PER_TILE: u8 = 8;

// A record must fit an entry bundle's 16-bit length.
const _: () = assert!(MAX_RECORD_BYTES <= u16::MAX as usize);

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Hashes of the tree at tile level `0..`.
    Hashes(u8),
    /// The entries under the level-0 tile of the same index.
    Entries,
}

/// One tile or entry bundle: its kind, index and width (`1..=256`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    kind: Kind,
    index: u64,
    width: u16,
}

/// Why a path is not a tile's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path:?} is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]): {why}")]
pub struct BadTilePath {
    path: String,
    why: &'static str,
}

impl TileId {
    pub fn new(kind: Kind, index: u64, width: u16) -> Option<TileId> {
        (1..=TILE_WIDTH as u16)
            .contains(&width)
            .then_some(TileId { kind, index, width })
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn index(&self) -> u64 {
        self.index
    }
    pub fn width(&self) -> u16 {
        self.width
    }
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path below the log's prefix: `tile/0/x001/234.p/17`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            Kind::Hashes(l) => l.to_string(),
            Kind::Entries => "entries".to_string(),
        };
        let mut out = format!("tile/{level}/{}", index_path(self.index));
        if !self.is_full() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Reads a path as [`TileId::path`] writes it, and no other spelling
    /// (so one tile has one address).
    pub fn parse(path: &str) -> Result<TileId, BadTilePath> {
        let bad = |why| BadTilePath {
            path: path.chars().take(120).collect(),
            why,
        };
        let rest = path.strip_prefix("tile/").ok_or_else(|| bad("no tile/"))?;
        let (level, rest) = rest.split_once('/').ok_or_else(|| bad("no level"))?;
        let kind = match level {
            "entries" => Kind::Entries,
            l if l.len() == 1 || (!l.starts_with('0') && l.len() <= 2) => {
                Kind::Hashes(l.parse().map_err(|_| bad("the level is not a number"))?)
            }
            _ => return Err(bad("the level is not a number without leading zeros")),
        };
        if matches!(kind, Kind::Hashes(l) if l > 63) {
            return Err(bad("the level is too high"));
        }
        let (index, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let ok =
                    !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) && !w.starts_with('0');
                let w: u16 = w
                    .parse()
                    .ok()
                    .filter(|w| ok && (1..TILE_WIDTH as u16).contains(w))
                    .ok_or_else(|| bad("a partial width is 1 to 255"))?;
                (i, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index).ok_or_else(|| bad("the index is not x000/.../000"))?;
        Ok(TileId { kind, index, width })
    }

    /// The tree node hashed `i`-th in this hash tile.
    fn node(&self, level: u8, i: u64) -> NodeId {
        NodeId {
            level: level * LEVELS_PER_TILE,
            index: self.index * TILE_WIDTH + i,
        }
    }

    /// Whether a tree of `size` leaves holds all of this tile.
    pub fn within(&self, size: u64) -> bool {
        let level = match self.kind {
            Kind::Hashes(l) => l,
            Kind::Entries => 0,
        };
        let span = 1u128 << (u32::from(level) * u32::from(LEVELS_PER_TILE));
        let end = (u128::from(self.index) * u128::from(TILE_WIDTH) + u128::from(self.width)) * span;
        end <= u128::from(size)
    }
}

/// `n` in groups of three digits, all but the last prefixed with `x`.
fn index_path(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

fn parse_index(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split('/').collect();
    let (last, first) = parts.split_last()?;
    let mut n: u64 = 0;
    for (i, p) in first.iter().enumerate() {
        let digits = p.strip_prefix('x')?;
        // No leading group of zeros: one index, one path.
        if i == 0 && digits == "000" {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(three(digits)?)?;
    }
    n.checked_mul(1000)?.checked_add(three(last)?)
}

fn three(p: &str) -> Option<u64> {
    (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
        .then(|| p.parse().ok())
        .flatten()
}

/// Every tile and entry bundle of a tree of `size` leaves, entry bundles
/// first, then hash tiles level by level (the order a publisher writes
/// them, so that whatever a tile names is there before it).
pub fn tiles_of(size: u64) -> Vec<TileId> {
    let mut bundles = Vec::new();
    let mut hashes = Vec::new();
    let mut level: u8 = 0;
    let mut count = size; // nodes at this tile level
    while count > 0 {
        for n in 0..count / TILE_WIDTH {
            hashes.push(TileId {
                kind: Kind::Hashes(level),
                index: n,
                width: TILE_WIDTH as u16,
            });
        }
        if !count.is_multiple_of(TILE_WIDTH) {
            hashes.push(TileId {
                kind: Kind::Hashes(level),
                index: count / TILE_WIDTH,
                width: (count % TILE_WIDTH) as u16,
            });
        }
        level += 1;
        count /= TILE_WIDTH;
    }
    for t in &hashes {
        if t.kind == Kind::Hashes(0) {
            bundles.push(TileId {
                kind: Kind::Entries,
                ..*t
            });
        }
    }
    bundles.extend(hashes);
    bundles
}

/// The bytes of hash tile `tile`, from stored subtree hashes.
pub fn hash_tile<S: NodeSource>(src: &S, tile: TileId) -> Result<Vec<u8>, S::Error> {
    let Kind::Hashes(level) = tile.kind else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(32 * usize::from(tile.width));
    for i in 0..u64::from(tile.width) {
        out.extend_from_slice(&src.node(tile.node(level, i))?.0);
    }
    Ok(out)
}

/// An entry bundle: each entry's length (big-endian `u16`), then its bytes.
/// Entries longer than 65,535 bytes cannot be carried; records are at most
/// [`MAX_RECORD_BYTES`].
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let n = u16::try_from(e.len()).expect("a record fits an entry bundle");
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The entries of a bundle, or why it is not one.
pub fn split_bundle(mut bundle: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !bundle.is_empty() {
        let [a, b, rest @ ..] = bundle else {
            return Err("the bundle ends inside an entry's length".into());
        };
        let n = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < n {
            return Err(format!(
                "entry {} says it is {n} bytes, but only {} are left",
                out.len(),
                rest.len()
            ));
        }
        out.push(&rest[..n]);
        bundle = &rest[n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_path(id: (Kind, u64, u16), expect: &str) {
        let t = TileId::new(id.0, id.1, id.2).unwrap();
        assert_eq!(t.path(), expect);
        assert_eq!(TileId::parse(expect), Ok(t), "{expect}");
    }

    #[test]
    fn paths_follow_c2sp() {
        // The examples of C2SP tlog-tiles.md ("Tiles" and "Entry bundles").
        check_path((Kind::Hashes(0), 0, 256), "tile/0/000");
        check_path((Kind::Hashes(0), 1_234_067, 256), "tile/0/x001/x234/067");
        check_path((Kind::Hashes(1), 1234, 256), "tile/1/x001/234");
        check_path((Kind::Hashes(2), 1, 17), "tile/2/001.p/17");
        check_path(
            (Kind::Entries, 1_234_067, 8),
            "tile/entries/x001/x234/067.p/8",
        );
        check_path((Kind::Entries, 0, 256), "tile/entries/000");
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            "tile/0/0",
            "tile/0/x000/001",
            "tile/00/000",
            "tile/0/000.p/256",
            "tile/0/000.p/0",
            "tile/0/000.p/07",
            "tile/0/x1/000",
            "tile/0/000/",
            "tile/entries/000.p/",
            "tile/64/000",
            "tiles/0/000",
            "tile/0/x001",
        ] {
            assert!(TileId::parse(bad).is_err(), "{bad}");
        }
    }

    fn check_tiles(size: u64, expect: &[&str]) {
        let got: Vec<String> = tiles_of(size).iter().map(TileId::path).collect();
        assert_eq!(got, expect, "size {size}");
        for t in tiles_of(size) {
            assert!(t.within(size), "{} within {size}", t.path());
        }
    }

    #[test]
    fn a_tree_has_the_tiles_c2sp_lists() {
        check_tiles(0, &[]);
        check_tiles(1, &["tile/entries/000.p/1", "tile/0/000.p/1"]);
        check_tiles(256, &["tile/entries/000", "tile/0/000", "tile/1/000.p/1"]);
        check_tiles(
            300,
            &[
                "tile/entries/000",
                "tile/entries/001.p/44",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1",
            ],
        );
    }

    #[test]
    fn within_a_size() {
        let t = TileId::new(Kind::Hashes(1), 0, 2).unwrap();
        assert!(t.within(512) && t.within(600) && !t.within(511));
        let e = TileId::new(Kind::Entries, 1, 256).unwrap();
        assert!(e.within(512) && !e.within(511));
    }

    #[test]
    fn bundles_round_trip() {
        let entries: [&[u8]; 3] = [b"", b"{\"a\":1}", &[7u8; 300]];
        let b = entry_bundle(entries);
        assert_eq!(split_bundle(&b).unwrap(), entries);
        assert!(split_bundle(&b[..b.len() - 1]).is_err());
        assert!(split_bundle(&[0]).is_err());
    }
}
