//! The privacy endpoints: registering people (names apart from the log),
//! partners' own equality answers, the published aggregates, erasure and
//! subject access. The work is done in `coproduction::privacy`,
//! `coproduction::equality` and `people`; these are thin handlers.

use super::error::{self, ApiJson, ApiPath, ApiQuery, AppError};
use super::tokens::Role;
use super::{AppState, Caller, refusal};
use crate::coproduction::equality::{self, Table};
use crate::coproduction::events::{Event, ParticipantJoined};
use crate::coproduction::privacy;
use crate::coproduction::values::{self, ProjectId};
use crate::ledger::{CanonicalPayload, EventType, NewEvent};
use crate::people::{Person, display_name};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A person to register.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// "staff" or "partner".
    pub role: String,
    pub name: String,
    pub email: Option<String>,
    /// A project to join as well (otherwise the organisation's group only).
    #[schema(value_type = Option<String>)]
    pub project_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/v1/people", request_body = NewPerson,
    responses((status = 201, description = "Registered: {participant_id, seq}"),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem),
        (status = 422, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn add_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewPerson>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Staff])?;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let person = Person::new(&req.role, &req.name, req.email.as_deref(), &today)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    let event = Event::ParticipantJoined(ParticipantJoined {
        project_id: req.project_id.map(ProjectId::from),
        participant_id: person.id.into(),
        role: if req.role == "staff" {
            values::Role::Staff
        } else {
            values::Role::Partner
        },
    });
    // The person first: the log never names an id the store has not seen.
    state.0.people.put(&person).map_err(AppError::internal)?;
    let appended = state
        .0
        .sequencer
        .append(NewEvent {
            expected: None,
            event_type: EventType::new(event.type_name()).expect("valid type"),
            actor: caller.0.actor(),
            payload: CanonicalPayload::from_value(&event.to_payload()).expect("valid payload"),
        })
        .await;
    match appended {
        Ok(a) => {
            state.0.appended.send_replace(a.seq + 1);
            Ok((
                StatusCode::CREATED,
                Json(json!({"participant_id": person.id, "seq": a.seq})),
            )
                .into_response())
        }
        Err(e) => {
            let _ = state.0.people.erase(&person.id);
            Err(match e {
                crate::ledger::sequencer::AppendError::Refused(r) => refusal(r),
                e => AppError::unavailable(e),
            })
        }
    }
}

#[utoipa::path(get, path = "/v1/people/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "{participant_id, name}: the name, or \"a former participant\" once erased"),
        (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Staff])?;
    let name = display_name(&state.0.people, &id);
    Ok(Json(json!({"participant_id": id, "name": name})).into_response())
}

fn my_id(caller: &Caller) -> Result<Uuid, AppError> {
    match (caller.0.role, caller.0.participant) {
        (Role::Partner, Some(p)) => Ok(p.uuid()),
        _ => Err(AppError::forbidden(
            "only partners answer the equality questions, each for themselves",
        )),
    }
}

#[utoipa::path(put, path = "/v1/me/equality",
    request_body(content = Object, description = "question → answer; every question optional; \"prefer_not_to_say\" is always an answer"),
    responses((status = 200, description = "Your answers as stored"),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn put_my_answers(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(answers): ApiJson<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let me = my_id(&caller)?;
    equality::check_answers(&answers).map_err(|(at, why)| AppError::bad_request(why).at(&at))?;
    let person = state
        .0
        .people
        .set_answers(&me, answers)
        .map_err(AppError::internal)?;
    Ok(Json(json!({"answers": person.answers})).into_response())
}

#[utoipa::path(get, path = "/v1/me/equality",
    responses((status = 200, description = "Your own answers"), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn get_my_answers(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, AppError> {
    let me = my_id(&caller)?;
    let answers = state
        .0
        .people
        .get(&me)
        .map_err(AppError::internal)?
        .map(|p| p.answers)
        .unwrap_or_default();
    Ok(Json(json!({"answers": answers})).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EqualityQuery {
    /// One project's partners (otherwise the whole partner group).
    #[param(value_type = Option<String>)]
    project: Option<Uuid>,
}

#[utoipa::path(get, path = "/v1/equality", params(EqualityQuery),
    responses((status = 200, description = "Counts over the partner group or one project; small counts hidden"),
        (status = 404, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn equality_table(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<EqualityQuery>,
) -> Result<Json<Table>, AppError> {
    let k = state.0.k;
    let model = state.model()?;
    let (group, answers) =
        equality::partner_answers(&state.0.people, &model).map_err(AppError::internal)?;
    Ok(Json(match q.project {
        None => equality::whole_group(&group, &answers, k),
        Some(id) => {
            let project = model
                .projects
                .get(&ProjectId::from(id))
                .ok_or_else(|| AppError::not_found("there is no such project"))?;
            let members = project.members.keys().map(|p| p.uuid()).collect();
            equality::project(ProjectId::from(id), &members, &group, &answers, k)
        }
    }))
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

#[utoipa::path(post, path = "/v1/erasures", request_body = ErasureRequest,
    responses((status = 200, description = "What was erased, and the record that authorised it"),
        (status = 400, body = error::Problem), (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ErasureRequest>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin])?;
    let basis = req
        .legal_basis
        .unwrap_or_else(|| "UK GDPR Article 17 (right to erasure)".into());
    let s = state.clone();
    let runtime = tokio::runtime::Handle::current();
    let actor = caller.0.actor();
    let done = tokio::task::spawn_blocking(move || {
        privacy::erase_person(
            &s.0.ledger,
            &s.0.people,
            req.participant_id,
            &actor,
            &req.reason,
            &basis,
            |event| {
                runtime
                    .block_on(s.0.sequencer.append(event))
                    .map(|a| a.seq)
                    .map_err(|e| e.to_string())
            },
        )
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| match e {
        privacy::PrivacyError::Invalid(why) => AppError::bad_request(why),
        e => AppError::internal(e),
    })?;
    state.forget_erased(req.participant_id).await?;
    Ok(Json(json!({
        "participant_id": req.participant_id,
        "authorised_by": done.authorised_by,
        "erased": done.erased,
        "person_deleted": done.person_deleted,
        "said": done.to_string(),
    }))
    .into_response())
}

#[utoipa::path(get, path = "/v1/people/{id}/export", params(("id" = String, Path)),
    responses((status = 200, description = "Everything held about this person (subject access)"),
        (status = 403, body = error::Problem)),
    security(("bearer" = [])))]
pub(super) async fn subject_export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin])?;
    let s = state.clone();
    let v =
        tokio::task::spawn_blocking(move || privacy::subject_export(&s.0.ledger, &s.0.people, id))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    Ok(Json(v).into_response())
}

impl AppState {
    /// After an erasure: nothing of the erased text stays in memory (the
    /// writer's rules and the read model are rebuilt), and the person's
    /// access tokens are deleted.
    async fn forget_erased(&self, who: Uuid) -> Result<(), AppError> {
        self.0
            .sequencer
            .reload()
            .await
            .map_err(AppError::unavailable)?;
        let s = self.clone();
        let model = tokio::task::spawn_blocking(move || crate::coproduction::rebuild(&s.0.ledger))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        *self
            .0
            .model
            .lock()
            .map_err(|_| AppError::internal("model lock"))? = model;
        for t in self.0.tokens.list().map_err(AppError::internal)? {
            if t.participant.is_some_and(|p| p.uuid() == who) {
                // Remembered answers are keyed by the token that asked.
                for (k, _) in self
                    .0
                    .idempotency
                    .scan_prefix(format!("{}/", t.id).as_bytes())
                    .map_err(AppError::internal)?
                {
                    self.0.idempotency.remove(&k).map_err(AppError::internal)?;
                }
                self.0.tokens.delete(&t.id).map_err(AppError::internal)?;
            }
        }
        Ok(())
    }
}

#[utoipa::path(get, path = "/v1/backup",
    responses((status = 200, description = "The whole log as an export bundle (JSON Lines), consistent as of the head when the request came; restore it with `jointly import`", content_type = "application/jsonl")),
    security(("bearer" = [])))]
pub(super) async fn backup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin])?;
    let dir = state.0.ledger.store().dir().to_path_buf();
    let path = dir.join(format!(".backup-{}.jsonl", Uuid::new_v4()));
    let s = state.clone();
    let out = path.clone();
    tokio::task::spawn_blocking(move || crate::ledger::bundle::export(&s.0.ledger, &out))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(AppError::internal)?;
    let len = file.metadata().await.map_err(AppError::internal)?.len();
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
            (
                axum::http::header::CONTENT_TYPE,
                "application/jsonl".to_string(),
            ),
            (axum::http::header::CONTENT_LENGTH, len.to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
