//! A meeting's page: what happened, whether papers went out first, and who
//! came, as the disclosure policy lets the reader see it (names and exact
//! counts for those who see names; "fewer than 5" for small counts to
//! everyone else; "No partners came" to everyone, as a zero names no one).

use super::pages::{name_of, on};
use super::{Frame, PageError, Visitor, render, words};
use crate::api::AppState;
use crate::app::policy;
use crate::coproduction::events::Event;
use crate::coproduction::model::{Meeting, Model};
use crate::coproduction::values::{MeetingId, ParticipantId, ProjectId, Role as PersonRole};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

/// Who came to a meeting, in words, as `v` may see it: "3 people came:
/// 2 partners and 1 member of staff." to those who see names; small
/// counts as "fewer than 5" to others; "No partners came." to everyone.
pub(super) fn who_came(v: &Visitor, m: &Meeting) -> String {
    let (partners, others) = (u64::from(m.partners), u64::from(m.others));
    let staff = |n: u64| words::count(n, "member of staff", "members of staff");
    if policy::sees_exact_counts(v.caller.author()) {
        return match (partners, others) {
            (0, 0) => "No one is recorded as coming.".to_string(),
            (0, o) => format!("No partners came; {} came.", staff(o)),
            (p, 0) => format!(
                "{} came, and no staff.",
                words::sentence(&words::count(p, "partner", "partners"))
            ),
            (p, o) => format!(
                "{} came: {} and {}.",
                words::sentence(&words::count(p + o, "person", "people")),
                words::count(p, "partner", "partners"),
                staff(o)
            ),
        };
    }
    // Counts of people, as every figure about people: small ones hidden,
    // and a count beside a hidden one hidden too.
    let (cells, came) = crate::coproduction::report::suppress(&[partners, others], policy::K);
    if partners == 0 {
        format!("No partners came. People who came: {}.", came.words())
    } else {
        format!(
            "People who came: {}, of them partners: {}.",
            came.words(),
            cells[0].words()
        )
    }
}

/// Whether papers went out before it, as a sentence.
pub(super) fn papers(m: &Meeting) -> &'static str {
    if m.materials_in_advance {
        "Papers were sent out before it."
    } else {
        "Papers were not sent out before it."
    }
}

/// Where a meeting's page is.
pub(super) fn href(project: &ProjectId, m: &Meeting) -> String {
    format!("/projects/{project}/meetings/{}", m.id)
}

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    page: Frame,
    project_id: ProjectId,
    project_title: String,
    summary: String,
    papers: &'static str,
    who_came: String,
    /// Each person who came, by name and role: only for those who see
    /// names; a partner who came is told so.
    people: Vec<String>,
    you_came: bool,
}

/// Who the meeting's record says came, read from the log (the model keeps
/// only how many).
fn attendees(state: &AppState, model: &Model, m: &Meeting) -> Vec<ParticipantId> {
    let seq = m.summary.seq();
    let ev = state.app().ledger().get(seq).ok().flatten();
    match ev.and_then(|ev| crate::coproduction::stored_event(&ev, &model.kept)) {
        Some(Event::MeetingHeld(e)) => e.attendees,
        _ => Vec::new(),
    }
}

async fn meeting(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((project, meeting)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let ids = uuid::Uuid::parse_str(&project)
        .ok()
        .zip(uuid::Uuid::parse_str(&meeting).ok());
    let Some((project, meeting)) = ids else {
        return Err(PageError::not_found());
    };
    // The policy first: the same "not found" whether it exists or not.
    let view = state.app().view(&v.caller)?;
    let project = ProjectId::from(project);
    let p = view.project(&project)?;
    let meeting = MeetingId::from(meeting);
    let m = p
        .meetings
        .iter()
        .find(|m| m.id == meeting)
        .ok_or_else(PageError::not_found)?;
    let model = view.model();
    let came = attendees(&state, model, m);
    let people = if policy::sees_names(v.caller.author()) {
        came.iter()
            .map(|who| {
                let role = match model.role(who) {
                    Some(PersonRole::Partner) => "partner",
                    _ => "staff",
                };
                format!(
                    "{} ({role})",
                    words::sentence(&name_of(&state, &v, model, who))
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let you_came = v.token.participant.is_some_and(|me| came.contains(&me));
    render(MeetingPage {
        page: Frame::for_visitor(&v, &format!("The meeting on {}", on(m.date)), ""),
        project_id: project,
        project_title: model.text(&p.title),
        summary: model.text(&m.summary),
        papers: papers(m),
        who_came: who_came(&v, m),
        people,
        you_came,
    })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/projects/{project}/meetings/{meeting}", get(meeting))
}
