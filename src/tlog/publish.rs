//! Publishing a log's tiles to a place: entry bundles first, then hash
//! tiles, then the checkpoint, so that whatever a reader finds named is
//! there (C2SP tlog-tiles). Every tile is written once and never again;
//! before its first write a publisher checks that the place holds this
//! log's tree or a smaller one it extends, and refuses a place holding
//! another history.

use super::place::{Place, PlaceError};
use crate::ledger::Digest;
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::note::{Note, Verifier};
use crate::ledger::tiles::{TileId, tiles_of};
use std::collections::{HashMap, HashSet};

/// Why a tree was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Place(#[from] PlaceError),
    #[error("{0}")]
    Source(String),
    #[error(
        "{place} holds a checkpoint of another history: {why}. Nothing was written; publish to an empty place, or the place this log was published to"
    )]
    Another { place: String, why: String },
}

/// A tree to publish: its size, signed note, and where its bytes come from.
pub struct Tree<'a> {
    pub size: u64,
    pub note: &'a str,
    /// The root at an earlier size (to check the place's tree is ours).
    pub root_at: &'a (dyn Fn(u64) -> Result<Digest, String> + Sync),
    /// A tile's bytes.
    pub tile: &'a (dyn Fn(TileId) -> Result<Vec<u8>, String> + Sync),
}

/// What one publication wrote.
#[derive(Debug, Default)]
pub struct Published {
    pub size: u64,
    pub written: usize,
    pub already_there: usize,
}

/// Publishes one log to one place, remembering what it has written.
pub struct Publisher {
    place: Place,
    verifier: Verifier,
    /// Paths known to hold their bytes, once the place was checked.
    there: Option<HashSet<String>>,
    last_note: Option<String>,
}

impl Publisher {
    pub fn new(place: Place, verifier: Verifier) -> Publisher {
        Publisher {
            place,
            verifier,
            there: None,
            last_note: None,
        }
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The tiles already at the place, after checking its checkpoint is
    /// this log's at a size this tree extends.
    async fn first_look(&self, tree: &Tree<'_>) -> Result<HashSet<String>, PublishError> {
        let another = |why: String| PublishError::Another {
            place: self.place.to_string(),
            why,
        };
        if let Some(held) = self.place.get("checkpoint").await? {
            let text = String::from_utf8_lossy(&held).into_owned();
            let note = Note::open(&text, &self.verifier).map_err(|e| {
                another(format!(
                    "its checkpoint is not signed by this log's key ({e})"
                ))
            })?;
            let cp = Checkpoint::parse(&note.text).map_err(|e| another(e.to_string()))?;
            if cp.size > tree.size {
                return Err(another(format!(
                    "it holds {} records, more than this log's {}",
                    cp.size, tree.size
                )));
            }
            let ours = (tree.root_at)(cp.size).map_err(PublishError::Source)?;
            if ours != cp.root {
                return Err(another(format!(
                    "its root at {} records is not this log's",
                    cp.size
                )));
            }
        }
        let held = self.place.list("tile/").await?;
        Ok(held.into_keys().collect())
    }

    /// Publishes `tree`: the tiles the place lacks, then the checkpoint.
    pub async fn publish(&mut self, tree: &Tree<'_>) -> Result<Published, PublishError> {
        if self.last_note.as_deref() == Some(tree.note) {
            return Ok(Published {
                size: tree.size,
                ..Default::default()
            });
        }
        if self.there.is_none() {
            self.there = Some(self.first_look(tree).await?);
        }
        let mut out = Published {
            size: tree.size,
            ..Default::default()
        };
        for t in tiles_of(tree.size) {
            let path = t.path();
            if self.there.as_ref().is_some_and(|h| h.contains(&path)) {
                out.already_there += 1;
                continue;
            }
            let bytes = (tree.tile)(t).map_err(PublishError::Source)?;
            self.place.put_once(&path, bytes).await?;
            self.there.get_or_insert_with(HashSet::new).insert(path);
            out.written += 1;
        }
        self.place
            .put("checkpoint", tree.note.as_bytes().to_vec())
            .await?;
        self.last_note = Some(tree.note.to_string());
        Ok(out)
    }
}

/// Tiles held in memory (fetched and checked), as a [`Tree`]'s source.
pub fn from_map(
    tiles: &HashMap<TileId, Vec<u8>>,
) -> impl Fn(TileId) -> Result<Vec<u8>, String> + Sync + '_ {
    move |t| {
        tiles
            .get(&t)
            .cloned()
            .ok_or_else(|| format!("{} was not fetched", t.path()))
    }
}
