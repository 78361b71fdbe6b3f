//! `publish` and `mirror`: the command line's doors to `jointly::tlog`.
//! `publish` reads the store, or, while `serve` holds it, the tiles the
//! running server serves (at the address it leaves in the data directory),
//! checked against the log's key before anything is written.

use crate::{ExitKind, Failure};
use anyhow::anyhow;
use jointly::app::integrity;
use jointly::ledger::notary::Notary;
use jointly::ledger::note::{Signer, Verifier};
use jointly::ledger::tile_check::CheckedTiles;
use jointly::ledger::tiles::tiles_of;
use jointly::refusal::{Kind, Refusal};
use jointly::tlog::mirror::{Mirror, MirrorError, Pass, PayloadSource};
use jointly::tlog::place::{Place, S3Settings};
use jointly::tlog::publish::{PublishError, Publisher, Tree, from_map};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file in a data directory naming the address a running `serve`
/// listens at (removed when it stops).
pub const SERVING: &str = "serving.address";

/// How to reach an S3-compatible store: flags, else the configuration
/// file's `[publish]`, else the `AWS_*` variables.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct S3Args {
    /// The S3 endpoint, e.g. https://s3.eu-west-2.amazonaws.com or
    /// http://127.0.0.1:8333 (else AWS_ENDPOINT_URL).
    #[arg(long, env = "JOINTLY_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 region (else AWS_REGION; us-east-1 if none).
    #[arg(long, env = "JOINTLY_S3_REGION")]
    pub s3_region: Option<String>,
    /// A credentials file in the AWS shared-credentials format ([default]
    /// aws_access_key_id, aws_secret_access_key); else
    /// AWS_SHARED_CREDENTIALS_FILE, or AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "JOINTLY_S3_CREDENTIALS", value_name = "FILE")]
    pub s3_credentials: Option<PathBuf>,
    /// Allow a plain http:// endpoint (a store on this machine).
    #[arg(long)]
    pub s3_allow_http: bool,
}

impl S3Args {
    /// These settings, then the configuration file's.
    pub fn settings(&self, file: Option<&jointly::config::Publish>) -> S3Settings {
        S3Settings {
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_credentials_file: self.s3_credentials.clone(),
            s3_allow_http: self.s3_allow_http,
        }
        .or(&file.map(jointly::config::Publish::s3).unwrap_or_default())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new()
        .map_err(|e| anyhow!("cannot start the runtime: {e}"))
        .failed_check()
}

/// The log's key from a data directory's signing key file.
fn verifier_in(data: &Path) -> Result<Verifier, Failure> {
    let text = std::fs::read_to_string(data.join("checkpoint.key"))
        .map_err(|e| anyhow!("cannot read the log's key in {}: {e}", data.display()))
        .bad_input()?;
    Ok(Signer::parse(text.trim())
        .map_err(|e| anyhow!("the log's key cannot be read: {e}"))
        .failed_check()?
        .verifier())
}

/// `jointly publish --to DIR|s3://BUCKET/PREFIX`.
pub fn publish(data: &Path, place: Place) -> Result<(), Failure> {
    let rt = runtime()?;
    let (publisher, done) = match integrity::open_store(data) {
        Ok((ledger, _)) => {
            let notary = Notary::open(&ledger, jointly::app::DEFAULT_ORIGIN)
                .map_err(|e| anyhow!("the log's key: {e}"))
                .failed_check()?;
            let mut publisher = Publisher::new(place, notary.verifier());
            let note = match notary.latest() {
                Some((cp, note)) if cp.size == ledger.head().size => note,
                _ => notary
                    .sign_head(&ledger)
                    .map_err(|e| anyhow!("cannot sign a checkpoint: {e}"))
                    .failed_check()?,
            };
            let cp = jointly::tlog::open_checkpoint(note.as_bytes(), publisher.verifier())
                .map_err(|e| anyhow!("{e}"))
                .failed_check()?;
            let root_at = |n: u64| ledger.root_at(n).map_err(|e| e.to_string());
            let tile = |t| ledger.tile(t).map_err(|e| e.to_string());
            let done = rt.block_on(publisher.publish(&Tree {
                size: cp.size,
                note: &note,
                root_at: &root_at,
                tile: &tile,
            }));
            (publisher, done)
        }
        Err(r) if r.kind() == Kind::Unavailable => {
            let address = std::fs::read_to_string(data.join(SERVING)).map_err(|_| {
                Refusal::unavailable(format!(
                    "{}; and it names no running server's address to publish through",
                    r.message()
                ))
            })?;
            let url = format!("{}/tlog/", address.trim().trim_end_matches('/'));
            eprintln!(
                "the store is in use by the server at {}: publishing the tiles it serves, checked",
                address.trim()
            );
            let source = Place::to_read(&url, &S3Settings::default())?;
            let mut publisher = Publisher::new(place, verifier_in(data)?);
            let done = rt.block_on(async {
                let (note, tiles, checked) = fetch_checked(&source, publisher.verifier().clone())
                    .await
                    .map_err(|e| PublishError::Source(e.message().to_string()))?;
                let root_at = |n: u64| Ok(checked.root_at(n));
                let tile = from_map(&tiles);
                publisher
                    .publish(&Tree {
                        size: checked.size(),
                        note: &note,
                        root_at: &root_at,
                        tile: &tile,
                    })
                    .await
            });
            (publisher, done)
        }
        Err(r) => return Err(r.into()),
    };
    let done = done.map_err(|e| anyhow!("{e}")).failed_check()?;
    eprintln!(
        "published {} records to {}: {} tiles and bundles written, {} already there, then the checkpoint",
        done.size,
        publisher.place(),
        done.written,
        done.already_there
    );
    Ok(())
}

/// A source's checkpoint and every tile of it, checked.
async fn fetch_checked(
    source: &Place,
    verifier: Verifier,
) -> Result<
    (
        String,
        HashMap<jointly::ledger::tiles::TileId, Vec<u8>>,
        CheckedTiles,
    ),
    Refusal,
> {
    let failed = |e: String| Refusal::unavailable(format!("{source}: {e}"));
    let note = source
        .get("checkpoint")
        .await
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| failed("no checkpoint".into()))?;
    let cp = jointly::tlog::open_checkpoint(&note, &verifier).map_err(failed)?;
    let mut tiles = HashMap::new();
    for t in tiles_of(cp.size) {
        let b = source
            .get(&t.path())
            .await
            .map_err(|e| failed(e.to_string()))?
            .ok_or_else(|| failed(format!("{} is missing", t.path())))?;
        tiles.insert(t, b.to_vec());
    }
    let checked =
        CheckedTiles::check(cp.size, &cp.root, &tiles).map_err(|e| failed(e.to_string()))?;
    Ok((String::from_utf8_lossy(&note).into_owned(), tiles, checked))
}

/// `jointly mirror`'s settings.
pub struct MirrorArgs {
    pub from: String,
    pub dir: PathBuf,
    pub key: String,
    pub token: Option<String>,
    pub server: Option<String>,
    pub every: std::time::Duration,
    pub once: bool,
}

/// `jointly mirror --from URL|DIR --data DIR --key VKEY`: follows the log
/// until stopped (or once), and stops with exit 1 on a fork, a rollback
/// or tiles that do not verify.
pub fn mirror(a: MirrorArgs) -> Result<(), Failure> {
    let key = match a.key.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| anyhow!("--key @{file}: {e}"))
            .bad_input()?,
        None => a.key.clone(),
    };
    let verifier = Verifier::parse(key.trim())
        .map_err(|e| {
            anyhow!("--key: not the log's verifier key (jointly checkpoint key prints it): {e}")
        })
        .bad_input()?;
    let server = a.server.clone().or_else(|| {
        let f = a.from.trim_end_matches('/');
        (f.starts_with("http") && f.ends_with("/tlog"))
            .then(|| f.trim_end_matches("/tlog").to_string())
    });
    let payloads = match (a.token.clone(), server) {
        (Some(token), Some(server)) => Some(PayloadSource { server, token }),
        (Some(_), None) => {
            eprintln!(
                "a token was given but no --server to read payloads from: keeping the tiles only"
            );
            None
        }
        (None, _) => None,
    };
    let keeps_payloads = payloads.is_some();
    let mut m = Mirror::new(&a.from, &a.dir, verifier, payloads)?;
    eprintln!(
        "mirroring {} into {} ({}); every {} s",
        a.from,
        a.dir.display(),
        if keeps_payloads {
            "records and payloads"
        } else {
            "records only: no token for payloads"
        },
        a.every.as_secs()
    );
    let rt = runtime()?;
    let stop = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| anyhow!("{e}"))?;
        loop {
            match m.pass().await {
                Ok(Pass::Grew { from, to, root }) => eprintln!(
                    "verified and kept {} records ({from} to {to}), root {}",
                    to - from,
                    root.to_base64()
                ),
                Ok(Pass::Unchanged(_)) => {}
                Err(e @ MirrorError::Refused(_)) => return Err(anyhow!("{e}")),
                Err(e @ MirrorError::Unavailable(_)) if a.once => return Err(anyhow!("{e}")),
                Err(e) => eprintln!(
                    "{} (trying again)",
                    jointly::outside::for_log(&e.to_string())
                ),
            }
            if a.once {
                return Ok(());
            }
            tokio::select! {
                _ = term.recv() => return Ok(()),
                _ = tokio::signal::ctrl_c() => return Ok(()),
                () = tokio::time::sleep(a.every) => {}
            }
        }
    });
    stop.failed_check()
}
