//! The privacy endpoints: registering people (names apart from the log),
//! recording that someone left, partners' own equality answers, the
//! published figures, erasure, subject access and backups. Thin: each calls
//! one method of the core.

use super::answers::{Erased, Left, MyAnswers, PersonName, PublishedAt, Registered};
use super::error::{self, ApiJson, ApiJsonOrEmpty, ApiPath, ApiQuery, AppError};
use super::{AppState, Bearer};
use crate::app::NewPerson;
use crate::app::erasure::SubjectExport;
use crate::coproduction::equality::Table;
use crate::coproduction::values::ProjectId;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

#[utoipa::path(post, path = "/v1/people", request_body = NewPerson,
    responses((status = 201, description = "Registered", body = Registered),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem),
        (status = 422, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn add_person(
    State(state): State<AppState>,
    who: Bearer,
    ApiJson(req): ApiJson<NewPerson>,
) -> Result<Response, AppError> {
    let (id, seq) = state.app().register_person(&who.caller, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            participant_id: id,
            seq,
        }),
    )
        .into_response())
}

/// What to look for among people.
#[utoipa::path(get, path = "/v1/me/time",
    responses((status = 200, description = "Your own time given and payments for it: hours given, paid and waiting, each time record and payment (no one else's)", body = crate::coproduction::pay::Mine), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn get_my_time(
    State(state): State<AppState>,
    who: Bearer,
) -> Result<Response, AppError> {
    Ok(Json(state.app().my_time(&who.caller)?).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Words in the name (or the email address, for admins), or a
    /// participant id; case and extra spaces do not count.
    q: Option<String>,
    /// Only the people in this project now (its id).
    #[param(value_type = Option<String>, format = Uuid)]
    project: Option<Uuid>,
    /// The people after this one (the `next` of the last page).
    #[param(value_type = Option<String>, format = Uuid)]
    after: Option<Uuid>,
    /// At most this many people (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/people", params(PeopleQuery),
    responses((status = 200, description = "People the people store holds, by name, a page at a time; email addresses for admins only",
            body = crate::app::directory::PeoplePage,
            headers(("Link" = String, description = "RFC 8288 `<...>; rel=\"next\"`: the address of the next page, when there is one"))),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn find_people(
    State(state): State<AppState>,
    who: Bearer,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> Result<Response, AppError> {
    let search = crate::app::directory::Search {
        text: q.q.clone(),
        project: q.project.map(ProjectId::from),
        after: q.after.map(Into::into),
        limit: q.limit,
    };
    let limit = q.limit.unwrap_or(crate::app::directory::PEOPLE_PAGE);
    let page = state.app().find_people(&who.caller, search)?;
    let next = page.next.map(|n| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &q.q {
            query.append_pair("q", t);
        }
        if let Some(p) = q.project {
            query.append_pair("project", &p.to_string());
        }
        query.append_pair("after", &n.to_string());
        query.finish()
    });
    Ok(super::with_next_query(
        Json(page),
        "/v1/people",
        next,
        limit,
    ))
}

#[utoipa::path(patch, path = "/v1/people/{id}", params(("id" = String, Path, format = Uuid, description = "Participant id (UUID)")),
    request_body = crate::app::directory::Correction,
    responses((status = 200, description = "The person as corrected (rectification): the people store changes; the log, which holds ids only, does not", body = crate::people::Person),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem), (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn correct_person(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(c): ApiJson<crate::app::directory::Correction>,
) -> Result<Response, AppError> {
    Ok(Json(state.app().correct_person(&who.caller, id.into(), c)?).into_response())
}

#[utoipa::path(post, path = "/v1/people/import",
    request_body(content = String, content_type = "text/csv",
        description = "A spreadsheet saved as CSV: the first row names the columns name, email, role and project (email and project may be empty; a project by its title or id)"),
    responses((status = 201, description = "Everyone in the file, registered", body = [crate::app::onboarding::Onboarded]),
        (status = 403, body = error::Problem),
        (status = 422, description = "Rows at fault (each named: row, column, what is wrong); nothing was written", body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn import_people(
    State(state): State<AppState>,
    who: Bearer,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let done = state
        .app()
        .register_from_csv(&who.caller, &body)
        .await
        .map_err(crate::app::onboarding::NotOnboarded::into_refusal)?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// Who leads the projects of a lead who leaves.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// A member of staff who stays: they lead, from now on, every project
    /// that is not closed and that the person leaving leads (joining it if
    /// they are not in it). Needed only when the person leads one.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub new_lead: Option<Uuid>,
}

#[utoipa::path(post, path = "/v1/people/{id}/leave", params(("id" = String, Path, format = Uuid, description = "Participant id (UUID)")),
    request_body(content = Option<LeaveRequest>, description = "Only for a lead of projects that are not closed: who leads them next. An empty body is no request."),
    responses((status = 200, description = "The records that hand their projects on, and that say they left each project they were in", body = Left),
        (status = 403, body = error::Problem), (status = 404, body = error::Problem),
        (status = 409, description = "They lead projects that are not closed: name `new_lead` (the problem's pointer is `/new_lead`)", body = error::Problem),
        (status = 422, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn record_leaving(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<Uuid>,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<LeaveRequest>,
) -> Result<Response, AppError> {
    let done = state
        .app()
        .record_leaving(&who.caller, id.into(), req.new_lead.map(Into::into))
        .await?;
    Ok(Json(Left {
        participant_id: id.into(),
        handed_on: done.handed_on,
        left: done.left,
    })
    .into_response())
}

#[utoipa::path(get, path = "/v1/people/{id}", params(("id" = String, Path, format = Uuid, description = "Participant id (UUID)")),
    responses((status = 200, description = "The name, or \"a former participant\" once erased", body = PersonName),
        (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn get_person(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, AppError> {
    let name = state.app().person_name(&who.caller, id)?;
    Ok(Json(PersonName {
        participant_id: id,
        name,
        email: state.app().person_email(&who.caller, id),
    })
    .into_response())
}

#[utoipa::path(put, path = "/v1/me/equality",
    request_body(content = Object, description = "question → answer; every question optional; \"prefer_not_to_say\" is always an answer"),
    responses((status = 200, description = "Your answers as stored", body = MyAnswers),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn put_my_answers(
    State(state): State<AppState>,
    who: Bearer,
    ApiJson(answers): ApiJson<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let answers = state.app().set_equality_answers(&who.caller, answers)?;
    Ok(Json(MyAnswers { answers }).into_response())
}

#[utoipa::path(get, path = "/v1/me/equality",
    responses((status = 200, description = "Your own answers", body = MyAnswers), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn get_my_answers(
    State(state): State<AppState>,
    who: Bearer,
) -> Result<Response, AppError> {
    let answers = state.app().equality_answers(&who.caller)?;
    Ok(Json(MyAnswers { answers }).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EqualityQuery {
    /// One project's partners (otherwise the whole partner group).
    #[param(value_type = Option<String>)]
    project: Option<Uuid>,
}

#[utoipa::path(get, path = "/v1/equality", params(EqualityQuery),
    responses((status = 200, description = "Counts over the partner group or one project; small counts hidden", body = Table),
        (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn equality_table(
    State(state): State<AppState>,
    who: Bearer,
    ApiQuery(q): ApiQuery<EqualityQuery>,
) -> Result<Json<Table>, AppError> {
    Ok(Json(state.app().equality_table(
        &who.caller,
        q.project.map(ProjectId::from),
    )?))
}

#[utoipa::path(post, path = "/v1/equality/publish",
    responses((status = 200, description = "The equality figures now count the answers as they are", body = PublishedAt),
        (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn publish_equality(
    State(state): State<AppState>,
    who: Bearer,
) -> Result<Response, AppError> {
    let at = state.app().publish_equality(&who.caller)?;
    Ok(Json(PublishedAt { published_at: at }).into_response())
}

/// An erasure request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    #[schema(value_type = String)]
    pub participant_id: Uuid,
    pub reason: String,
    /// Defaults to "UK GDPR Article 17 (right to erasure)".
    pub legal_basis: Option<String>,
}

/// The lawful basis an erasure request gives when none is named.
pub const RIGHT_TO_ERASURE: &str = "UK GDPR Article 17 (right to erasure)";

#[utoipa::path(post, path = "/v1/erasures", request_body = ErasureRequest,
    responses((status = 200, description = "What was erased, and the record that authorised it", body = Erased),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn erase(
    State(state): State<AppState>,
    who: Bearer,
    ApiJson(req): ApiJson<ErasureRequest>,
) -> Result<Response, AppError> {
    let basis = req.legal_basis.as_deref().unwrap_or(RIGHT_TO_ERASURE);
    let done = state
        .app()
        .erase(&who.caller, req.participant_id, &req.reason, basis)
        .await?;
    Ok(Json(Erased {
        participant_id: req.participant_id,
        authorised_by: done.authorised_by,
        erased: done.erased.clone(),
        person_deleted: done.person_deleted,
        tokens_deleted: done.tokens_deleted as u64,
        said: done.to_string(),
    })
    .into_response())
}

#[utoipa::path(get, path = "/v1/people/{id}/export", params(("id" = String, Path, format = Uuid, description = "Participant id (UUID)")),
    responses((status = 200, description = "Everything held about this person (subject access)", body = SubjectExport),
        (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn subject_export(
    State(state): State<AppState>,
    who: Bearer,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, AppError> {
    Ok(Json(state.app().subject_export(&who.caller, id).await?).into_response())
}

/// Who a complete backup is encrypted to.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct BackupQuery {
    /// age recipients (age1...), separated by commas: a complete backup
    /// (the log, names, tokens, keys) encrypted to them. Without it, the
    /// log alone as an export bundle.
    to: Option<String>,
}

#[utoipa::path(get, path = "/v1/backup", params(BackupQuery),
    responses((status = 200, description = "Without `to`, the whole log as an export bundle (JSON Lines), consistent as of the head when the request came; restore it with `jointly import`. With `to`, a complete backup encrypted to those age recipients (a tar archive inside age), for `jointly restore`", content(
            ("application/jsonl"),
            ("application/octet-stream"),
        ))),
    security(("bearer" = [])))]
pub(super) async fn backup(
    State(state): State<AppState>,
    who: Bearer,
    axum::extract::Query(q): axum::extract::Query<BackupQuery>,
) -> Result<Response, AppError> {
    let dir = state.app().ledger().store().dir().to_path_buf();
    let path = dir.join(format!(".backup-{}.jsonl", Uuid::new_v4()));
    let content_type = match q.to.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(to) => {
            let recipients =
                crate::app::backup::recipients(&to.replace(',', "\n")).map_err(|r| r.at("/to"))?;
            state
                .app()
                .complete_backup(&who.caller, path.clone(), recipients)
                .await?;
            "application/octet-stream"
        }
        None => {
            state.app().backup(&who.caller, path.clone()).await?;
            "application/jsonl"
        }
    };
    let internal = |e: std::io::Error| AppError::from(crate::refusal::Refusal::failed(e));
    let file = tokio::fs::File::open(&path).await.map_err(internal)?;
    let len = file.metadata().await.map_err(internal)?.len();
    // The copy is unlinked at once; the open file streams out and is then gone.
    let _ = tokio::fs::remove_file(&path).await;
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 16];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (axum::http::header::CONTENT_LENGTH, len.to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
