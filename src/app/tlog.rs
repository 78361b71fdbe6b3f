//! The log as C2SP tlog-tiles (docs/FORMAT.md, "Tiles"): what `serve`
//! publishes under `/tlog/`, and `publish` and mirrors copy. Only what the
//! latest signed checkpoint covers is served, so every tile a client can
//! fetch verifies against a checkpoint it can fetch too.

use super::App;
use crate::ledger::tiles::TileId;
use crate::refusal::Refusal;

impl App {
    /// The bytes of the tile or entry bundle at `path` (`tile/0/000`...),
    /// and whether it is full.
    pub fn tile(&self, path: &str) -> Result<(Vec<u8>, bool), Refusal> {
        let tile = TileId::parse(path).map_err(|e| Refusal::not_found(e.to_string()))?;
        let (size, _) = self.checkpoint(super::Which::Latest)?;
        if !tile.within(size) {
            return Err(Refusal::not_found(format!(
                "{path} is beyond the latest checkpoint ({size} records)"
            )));
        }
        let bytes = self.0.ledger.tile(tile).map_err(Refusal::failed)?;
        Ok((bytes, tile.is_full()))
    }
}

impl App {
    /// Starts the task that keeps a published copy of the tiles up to date
    /// (`serve --publish`): after each signed checkpoint, and every
    /// [`REPUBLISH`] for cosignatures that came since, it writes what the
    /// place lacks. A place that is down is tried again every
    /// [`RETRY`]; appends never wait for it. Needs a Tokio runtime.
    pub fn start_publishing(&self, place: crate::tlog::place::Place) {
        let app = self.clone();
        let mut signed = self.0.signed.subscribe();
        tokio::spawn(async move {
            let mut outage = super::outage::Outage::new(format!("publishing the tiles to {place}"));
            let mut publisher = crate::tlog::publish::Publisher::new(place, app.verifier());
            loop {
                let wait = match app.publish_to(&mut publisher).await {
                    Ok(()) => {
                        outage.worked();
                        REPUBLISH
                    }
                    Err(e) => {
                        outage.failed(&crate::outside::for_log(&e));
                        RETRY
                    }
                };
                tokio::select! {
                    changed = signed.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    /// Publishes the latest checkpoint's tree with `publisher`.
    pub async fn publish_to(
        &self,
        publisher: &mut crate::tlog::publish::Publisher,
    ) -> Result<(), String> {
        let (size, note) = self
            .checkpoint(super::Which::Latest)
            .map_err(|e| e.message().to_string())?;
        let ledger = self.0.ledger.clone();
        let root_at = |n: u64| ledger.root_at(n).map_err(|e| e.to_string());
        let tile = |t: TileId| ledger.tile(t).map_err(|e| e.to_string());
        publisher
            .publish(&crate::tlog::publish::Tree {
                size,
                note: &note,
                root_at: &root_at,
                tile: &tile,
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// How often a published copy is brought up to date without a new
/// checkpoint (a cosigned note replaces the plain one).
const REPUBLISH: std::time::Duration = std::time::Duration::from_secs(30);
/// How soon a failed publication is tried again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(3);
