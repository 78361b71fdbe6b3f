//! The C2SP tlog-tiles door: `/tlog/checkpoint` and `/tlog/tile/...`, read
//! by anyone, as any static copy of them would be (docs/FORMAT.md,
//! "Tiles"). The checkpoint is never cached; tiles never change, so they
//! are cached for a year.

use super::AppState;
use super::error::AppError;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Where the tiles are served: `<public URL>/tlog/`.
pub const PREFIX: &str = "/tlog";
/// A tile of a given width never changes (a wider one is a new path).
const TILE_CACHING: &str = "public, max-age=31536000, immutable";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tlog/checkpoint", get(tlog_checkpoint))
        .route("/tlog/tile/{*rest}", get(tlog_tile))
}

#[utoipa::path(get, path = "/tlog/checkpoint",
    responses((status = 200, description = "The latest signed checkpoint (the same note as /v1/checkpoint), never cached", content_type = "text/plain"),
        (status = 503, body = super::error::Problem)))]
pub(super) async fn tlog_checkpoint(State(state): State<AppState>) -> Result<Response, AppError> {
    let (_, note) = state.app().checkpoint(crate::app::Which::Latest)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        note,
    )
        .into_response())
}

#[utoipa::path(get, path = "/tlog/tile/{rest}", params(("rest" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (C2SP tlog-tiles)")),
    responses((status = 200, description = "A hash tile (32-byte hashes) or an entry bundle (each record's canonical bytes after its big-endian 16-bit length)", content_type = "application/octet-stream"),
        (status = 404, body = super::error::Problem)))]
pub(super) async fn tlog_tile(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, AppError> {
    let app = state.app().clone();
    let (bytes, _) = tokio::task::spawn_blocking(move || app.tile(&format!("tile/{rest}")))
        .await
        .map_err(|_| crate::refusal::Refusal::failed("a request's thread failed"))??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, TILE_CACHING),
        ],
        bytes,
    )
        .into_response())
}
