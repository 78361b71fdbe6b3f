//! The operator's routine work through a running server, so that it needs
//! no downtime: the accountability report (`jointly report --server`) and
//! the retention run (`jointly retention run --server`). Thin: each calls
//! the core's one use case, as the command line does on a stopped store.

use super::answers::Retained;
use super::error::{self, ApiJson, ApiQuery, AppError};
use super::{AppState, Bearer};
use crate::coproduction::report::Settings;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The report's form: JSON (the default) or the text `jointly report` prints.
#[derive(Deserialize, Clone, Copy, Default, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Text,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only this project (its id).
    project: Option<String>,
    /// Counts under this are shown as "fewer than k" (at least 3; default 5).
    #[param(minimum = 3)]
    k: Option<u64>,
    /// Partner proposals unanswered for longer than this many days are a
    /// warning sign (default 28).
    #[param(minimum = 1)]
    waiting_days: Option<i64>,
    /// `json` (default) or `text`.
    format: Option<ReportFormat>,
}

#[utoipa::path(get, path = "/v1/report", params(ReportQuery),
    responses((status = 200, description = "The accountability report: you said / we did, jointness, tokenism, presence and impact, over every project this caller may read (or the one asked for); as text with format=text",
            content((crate::coproduction::report::Report = "application/json"), (String = "text/plain"))),
        (status = 400, body = error::Problem), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn report(
    State(state): State<AppState>,
    who: Bearer,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, AppError> {
    let project = q
        .project
        .map(|p| crate::app::project_id(&p, "project"))
        .transpose()?;
    let today = Settings::today();
    let k = q.k.unwrap_or(today.k);
    if k < 3 {
        return Err(crate::refusal::Refusal::malformed(
            "k must be at least 3: with 2, \"fewer than 2\" would say \"exactly 1\"",
        )
        .at("/k")
        .into());
    }
    let waiting_days = q.waiting_days.unwrap_or(today.waiting_days);
    if waiting_days < 1 {
        return Err(
            crate::refusal::Refusal::malformed("waiting_days must be 1 or more")
                .at("/waiting_days")
                .into(),
        );
    }
    let settings = Settings {
        k,
        waiting_days,
        ..today
    };
    let report = state.app().report_with(&who.caller, project, settings)?;
    Ok(match q.format.unwrap_or_default() {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            report.to_text(),
        )
            .into_response(),
    })
}

/// A retention run.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// The retention period in days: the personal data of everyone who
    /// left more than this long ago is erased (default 730, about two years).
    pub days: Option<u32>,
}

/// The retention period when a run names none (as `jointly retention run`).
pub const DEFAULT_RETENTION_DAYS: u32 = 730;

#[utoipa::path(post, path = "/v1/retention/run", request_body = RetentionRequest,
    responses((status = 200, description = "Who was erased, and the `retention.applied` record of the run", body = Retained),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn run_retention(
    State(state): State<AppState>,
    who: Bearer,
    ApiJson(req): ApiJson<RetentionRequest>,
) -> Result<Json<Retained>, AppError> {
    let days = req.days.unwrap_or(DEFAULT_RETENTION_DAYS);
    let r = state.app().run_retention(&who.caller, days).await?;
    Ok(Json(Retained {
        days,
        cutoff: r.cutoff,
        erased_people: r.erased_people,
        recorded_as: r.recorded_as,
    }))
}
