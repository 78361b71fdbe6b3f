//! A mirror: another organisation's verified copy of a log, kept as C2SP
//! tiles beside the checkpoint they verify against, so that any web
//! server can serve it as it is (docs/OPERATING.md, "Mirrors").
//!
//! Each pass fetches the source's checkpoint and checks its signature with
//! the log's key; fetches every hash tile and the entry bundles it does not
//! hold; checks them all against the checkpoint (`tile_check`), that the
//! entries are records in order, each linked to the one before, and that
//! the tree extends the one it holds. Only then does it write: bundles,
//! tiles, and last its checkpoint. A smaller tree, or one that does not
//! extend its own, is a rollback or a fork: it keeps its copy, writes both
//! checkpoints to `evidence/`, and stops with exit 1.
//!
//! Given a credential to read the log's payloads (an auditor's token) it
//! also keeps each payload, checked against its record's commitment, in
//! `payloads/<seq>.json`, and deletes those every `record.redacted` in the
//! log names, so that it never holds words the charity has erased.

use super::open_checkpoint;
use super::place::{Place, S3Settings};
use super::publish::{Publisher, Tree, from_map};
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::digest::{self, Salt};
use crate::ledger::note::Verifier;
use crate::ledger::tile_check::CheckedTiles;
use crate::ledger::tiles::{Kind, TileId, tiles_of};
use crate::ledger::{CanonicalPayload, Digest, Record};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the tiles and their checkpoint are kept in a mirror's directory:
/// the folder to serve (never the payloads beside it).
pub const TILES: &str = "tiles";
/// Where payloads are kept in a mirror's directory.
pub const PAYLOADS: &str = "payloads";
/// The next record whose payload the mirror is to fetch.
const CURSOR: &str = "payloads/next";
/// Events asked for at a time.
const EVENT_PAGE: usize = 1000;

/// Why a mirror stopped.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The source offered what the log's key signed but the mirror's copy
    /// contradicts, or tiles that do not verify: refused, with evidence.
    #[error("REFUSED: {0}")]
    Refused(String),
    /// The source or the directory could not be read or written: tried
    /// again at the next pass.
    #[error("{0}")]
    Unavailable(String),
}

/// The reader of a log's payloads: its API and a token that may read them.
pub struct PayloadSource {
    pub server: String,
    pub token: String,
}

pub struct Mirror {
    source: Place,
    shown_source: String,
    dir: PathBuf,
    verifier: Verifier,
    payloads: Option<PayloadSource>,
    writer: Publisher,
}

/// What a pass did.
pub enum Pass {
    Unchanged(u64),
    Grew { from: u64, to: u64, root: Digest },
}

impl Mirror {
    pub fn new(
        from: &str,
        dir: &Path,
        verifier: Verifier,
        payloads: Option<PayloadSource>,
    ) -> Result<Mirror, crate::refusal::Refusal> {
        let source = Place::to_read(from, &S3Settings::default())?;
        std::fs::create_dir_all(dir).map_err(|e| {
            crate::refusal::Refusal::invalid(format!("cannot make {}: {e}", dir.display()))
        })?;
        let here = Place::to_write(&dir.join(TILES).to_string_lossy(), &S3Settings::default())?;
        Ok(Mirror {
            shown_source: source.to_string(),
            source,
            dir: dir.to_path_buf(),
            writer: Publisher::new(here, verifier.clone()),
            verifier,
            payloads,
        })
    }

    /// The checkpoint the mirror holds, checked again.
    fn held(&self) -> Result<Option<(Checkpoint, Vec<u8>)>, MirrorError> {
        match std::fs::read(self.dir.join(TILES).join("checkpoint")) {
            Ok(b) => open_checkpoint(&b, &self.verifier)
                .map(|cp| Some((cp, b)))
                .map_err(|e| MirrorError::Refused(format!("the mirror's own checkpoint: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MirrorError::Unavailable(format!(
                "cannot read the checkpoint: {e}"
            ))),
        }
    }

    /// Keeps both checkpoints in `evidence/`, and says what was refused.
    /// The log signed both, so together they prove a fork or a rollback.
    fn evidence(
        &self,
        held: Option<&(Checkpoint, Vec<u8>)>,
        offered: &[u8],
        why: String,
    ) -> MirrorError {
        self.keep(held, Some(offered), why)
    }

    /// Says what was refused when the source's tiles do not verify: the
    /// log's signature proves nothing about tiles someone else changed, so
    /// only what the checkpoint said is kept beside the mirror's own.
    fn unverified(&self, held: Option<&(Checkpoint, Vec<u8>)>, why: String) -> MirrorError {
        self.keep(held, None, why)
    }

    fn keep(
        &self,
        held: Option<&(Checkpoint, Vec<u8>)>,
        offered: Option<&[u8]>,
        why: String,
    ) -> MirrorError {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = self.dir.join("evidence").join(secs.to_string());
        let mut words = why;
        let wrote = std::fs::create_dir_all(&dir).and_then(|()| {
            if let Some((_, note)) = held {
                std::fs::write(dir.join("held.checkpoint.txt"), note)?;
            }
            if let Some(offered) = offered {
                std::fs::write(dir.join("offered.checkpoint.txt"), offered)?;
            }
            std::fs::write(dir.join("why.txt"), format!("{words}\n"))
        });
        if let Some((cp, _)) = held {
            words.push_str(&format!(
                "; the mirror keeps its copy of {} records (root {})",
                cp.size,
                cp.root.to_base64()
            ));
        }
        match wrote {
            Ok(()) => words.push_str(&format!("; the evidence is kept in {}", dir.display())),
            Err(e) => words.push_str(&format!(
                "; the evidence could not be written to {}: {e}",
                dir.display()
            )),
        }
        MirrorError::Refused(words)
    }

    /// One pass: follows the source to its latest checkpoint.
    pub async fn pass(&mut self) -> Result<Pass, MirrorError> {
        let held = self.held()?;
        let offered = self
            .source
            .get("checkpoint")
            .await
            .map_err(|e| MirrorError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                MirrorError::Unavailable(format!("{}checkpoint is not there", self.shown_source))
            })?
            .to_vec();
        let cp = open_checkpoint(&offered, &self.verifier).map_err(|e| {
            self.unverified(
                held.as_ref(),
                format!("{}checkpoint: {e}", self.shown_source),
            )
        })?;
        let offered_root = cp.root.to_base64();
        if let Some((h, _)) = &held {
            if cp.size < h.size {
                return Err(self.evidence(held.as_ref(), &offered, format!(
                    "a rollback: {} offers a checkpoint of {} records (root {offered_root}), fewer than the {} the mirror verified",
                    self.shown_source, cp.size, h.size
                )));
            }
            if cp.size == h.size {
                if cp.root != h.root {
                    return Err(self.evidence(
                        held.as_ref(),
                        &offered,
                        format!(
                            "a fork: {} offers another root ({offered_root}) at the same size {}",
                            self.shown_source, cp.size
                        ),
                    ));
                }
                self.fetch_payloads(cp.size).await?;
                return Ok(Pass::Unchanged(cp.size));
            }
        }
        let tiles = self.fetch_tiles(&cp).await?;
        let checked = CheckedTiles::check(cp.size, &cp.root, &tiles).map_err(|e| {
            self.unverified(held.as_ref(), format!(
                "the tiles at {} do not verify against its checkpoint of {} records (root {offered_root}): {e}",
                self.shown_source, cp.size
            ))
        })?;
        if let Some((h, _)) = &held
            && checked.root_at(h.size) != h.root
        {
            return Err(self.evidence(held.as_ref(), &offered, format!(
                "a fork: {}'s tree of {} records (root {offered_root}) does not extend the mirror's tree of {} records",
                self.shown_source, cp.size, h.size
            )));
        }
        check_records(checked.entries())
            .map_err(|e| self.unverified(held.as_ref(), format!("{}: {e}", self.shown_source)))?;
        let from = held.as_ref().map_or(0, |(h, _)| h.size);
        let note = String::from_utf8_lossy(&offered).into_owned();
        let root_at = |n: u64| Ok(checked.root_at(n));
        let tile = from_map(&tiles);
        self.writer
            .publish(&Tree {
                size: cp.size,
                note: &note,
                root_at: &root_at,
                tile: &tile,
            })
            .await
            .map_err(|e| MirrorError::Unavailable(e.to_string()))?;
        self.fetch_payloads(cp.size).await?;
        Ok(Pass::Grew {
            from,
            to: cp.size,
            root: cp.root,
        })
    }

    /// Every hash tile from the source, and the entry bundles the mirror
    /// does not hold (a full bundle it holds was verified when written).
    async fn fetch_tiles(&self, cp: &Checkpoint) -> Result<HashMap<TileId, Vec<u8>>, MirrorError> {
        let mut out = HashMap::new();
        for t in tiles_of(cp.size) {
            let path = t.path();
            if t.kind() == Kind::Entries
                && t.is_full()
                && let Ok(b) = std::fs::read(self.dir.join(TILES).join(&path))
            {
                out.insert(t, b);
                continue;
            }
            let bytes = self
                .source
                .get(&path)
                .await
                .map_err(|e| MirrorError::Unavailable(e.to_string()))?
                .ok_or_else(|| {
                    MirrorError::Unavailable(format!("{}{path} is not there", self.shown_source))
                })?;
            out.insert(t, bytes.to_vec());
        }
        Ok(out)
    }

    /// Fetches the payloads of records up to `size`, keeps those that match
    /// their commitments, and deletes those erased since.
    async fn fetch_payloads(&self, size: u64) -> Result<(), MirrorError> {
        let Some(src) = &self.payloads else {
            return Ok(());
        };
        let dir = self.dir.join(PAYLOADS);
        std::fs::create_dir_all(&dir)
            .map_err(|e| MirrorError::Unavailable(format!("cannot make {}: {e}", dir.display())))?;
        let mut next: u64 = std::fs::read_to_string(self.dir.join(CURSOR))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut bundles = HashMap::new();
        while next < size {
            let path = match next {
                0 => format!("/v1/events?limit={EVENT_PAGE}"),
                n => format!("/v1/events?after={}&limit={EVENT_PAGE}", n - 1),
            };
            let (server, token) = (src.server.clone(), src.token.clone());
            let answer = tokio::task::spawn_blocking(move || {
                crate::http::call(
                    &server,
                    ("GET", &path),
                    &token,
                    None,
                    Duration::from_secs(60),
                    64 << 20,
                )
            })
            .await
            .map_err(|e| MirrorError::Unavailable(e.to_string()))?
            .map_err(|e| MirrorError::Unavailable(format!("reading payloads: {e}")))?;
            if answer.status != 200 {
                return Err(MirrorError::Unavailable(format!(
                    "reading payloads from {}: HTTP {} {}",
                    src.server,
                    answer.status,
                    crate::outside::for_log(&answer.body)
                )));
            }
            let page: Value = serde_json::from_str(&answer.body)
                .map_err(|e| MirrorError::Unavailable(format!("reading payloads: {e}")))?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            for ev in &events {
                let Some(seq) = ev["seq"].as_u64().filter(|s| *s < size) else {
                    continue;
                };
                self.keep_payload(&dir, seq, ev, &mut bundles)?;
                next = next.max(seq + 1);
            }
            // Past what this page covered, but never past the checkpoint:
            // records after it are fetched once a checkpoint covers them.
            next = match page["next"].as_u64() {
                Some(n) => next.max(n + 1),
                None => size,
            }
            .min(size);
            std::fs::write(self.dir.join(CURSOR), next.to_string()).map_err(|e| {
                MirrorError::Unavailable(format!("cannot write the payload cursor: {e}"))
            })?;
        }
        Ok(())
    }

    /// Keeps one event's payload if it matches its verified record, and
    /// applies an erasure.
    fn keep_payload(
        &self,
        dir: &Path,
        seq: u64,
        ev: &Value,
        bundles: &mut HashMap<u64, Vec<Vec<u8>>>,
    ) -> Result<(), MirrorError> {
        let (Some(payload), Some(salt)) = (
            ev.get("payload").filter(|p| !p.is_null()),
            ev["salt"].as_str(),
        ) else {
            return Ok(());
        };
        let bundle = bundles
            .entry(seq / 256)
            .or_insert_with(|| bundle_in(&self.dir.join(TILES), seq / 256).unwrap_or_default());
        let Some(entry) = bundle.get((seq % 256) as usize) else {
            return Ok(());
        };
        let Ok(record) = Record::from_canonical(entry) else {
            return Ok(());
        };
        let (Ok(canonical), Ok(salt)) = (CanonicalPayload::from_value(payload), hex::decode(salt))
        else {
            return Ok(());
        };
        let Ok(salt) = <[u8; 32]>::try_from(salt.as_slice()) else {
            return Ok(());
        };
        if digest::payload_commitment(&Salt(salt), canonical.as_bytes()) != record.commitment() {
            return Ok(()); // erased, or not this record's: not kept
        }
        if record.event_type().as_str() == "record.redacted" {
            for e in payload["records"].as_array().into_iter().flatten() {
                if let Some(s) = e["seq"].as_u64() {
                    let _ = std::fs::remove_file(dir.join(format!("{s}.json")));
                }
            }
        }
        let body = serde_json::json!({"salt": hex::encode(salt), "payload": payload});
        crate::ledger::store::write_durably(
            &dir.join(format!("{seq}.json")),
            body.to_string().as_bytes(),
            0o600,
        )
        .map_err(|e| MirrorError::Unavailable(format!("cannot keep a payload: {e}")))
    }
}

/// The entries of bundle `index` in the tiles at `dir`: the full one, or
/// the widest partial one.
fn bundle_in(dir: &Path, index: u64) -> Result<Vec<Vec<u8>>, String> {
    let full = TileId::new(Kind::Entries, index, 256)
        .expect("a width")
        .path();
    let bytes = match std::fs::read(dir.join(&full)) {
        Ok(b) => b,
        Err(_) => {
            let widest = std::fs::read_dir(dir.join(format!("{full}.p")))
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u16>().ok())
                .max()
                .ok_or("no bundle")?;
            std::fs::read(dir.join(format!("{full}.p/{widest}"))).map_err(|e| e.to_string())?
        }
    };
    Ok(crate::ledger::tiles::split_bundle(&bytes)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

/// The entries are records numbered from 0, each linked to the one before.
pub fn check_records(entries: &[Vec<u8>]) -> Result<(), String> {
    let mut last = Digest::ZERO;
    for (i, e) in entries.iter().enumerate() {
        let r =
            Record::from_canonical(e).map_err(|err| format!("entry {i} is not a record: {err}"))?;
        if r.seq() != i as u64 {
            return Err(format!("entry {i} is record {}", r.seq()));
        }
        if r.prev() != last {
            return Err(format!("record {i} does not link to the record before it"));
        }
        last = digest::record_hash(e);
    }
    Ok(())
}
