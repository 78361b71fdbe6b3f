//! "Check your answers" (the GOV.UK pattern) before a decision is written:
//! the record as it will be made, part by part, each with a way back to
//! change it; nothing is written until the person confirms. A decision
//! cannot be taken back (only corrected by a later record), so it is shown
//! first exactly as the core will keep it: the page reads the event the
//! form built, not what was typed.

use super::forms::{FormData, METHODS, POSITIONS, RESPONSES};
use super::{Frame, PageError, Visitor, render, words};
use crate::api::AppState;
use crate::coproduction::values::{ParticipantId, ProposalId};
use askama::Template;
use axum::response::Response;
use serde_json::Value;
use uuid::Uuid;

/// One part of the record: its name, what it will say, and the form's
/// field to go back to.
///
/// Each "Change" is a button of one form that carries what was typed back
/// to the form (with `change`, all of it in one field, `typed`), going to
/// the part's field by the address's fragment. The buttons have no name
/// and that form has no field of the decision's own, so the one form that
/// reads as a decision and records is the one whose button does ("Record
/// the decision", `step=confirm`).
struct Row {
    label: &'static str,
    lines: Vec<String>,
    field: &'static str,
    /// What "Change" changes, for those who cannot see the row.
    what: &'static str,
}

#[derive(Template)]
#[template(path = "check_answers.html")]
struct CheckAnswers {
    page: Frame,
    intro: String,
    rows: Vec<Row>,
    /// What was typed, sent again as it was with "Record the decision".
    typed: Vec<(String, String)>,
    /// The same, as one field for "Change" (see [`super::forms::FormData::unpacked`]).
    packed: String,
    action: String,
    submit: &'static str,
}

fn text(payload: &Value, key: &str) -> String {
    payload
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Words for a value of the form's choices (`METHODS` and the like).
fn words_for<T>(table: &[(T, &str, &'static str)], value: &str) -> String {
    table
        .iter()
        .find(|(_, v, _)| *v == value)
        .map_or(value.to_string(), |(_, _, w)| w.to_string())
}

/// The page for a decision the core would accept (`payload`, a
/// `decision.made`), from the form at `action`.
pub(super) fn decision(
    state: &AppState,
    v: &Visitor,
    form: &FormData,
    payload: &Value,
    action: &str,
) -> Result<Response, PageError> {
    let model = state.page_model()?;
    let id = |key: &str, x: &Value| {
        x.get(key)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let ideas: Vec<String> = payload["answers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let idea = id("proposal_id", a)
                .and_then(|p| model.proposals.get(&ProposalId::from(p)))
                .map_or(String::new(), |pr| model.text(&pr.text));
            format!(
                "“{idea}”: {}. Why: {}",
                words_for(&RESPONSES, a["response"].as_str().unwrap_or_default()).to_lowercase(),
                text(a, "reason")
            )
        })
        .collect();
    let people: Vec<String> = payload["participants"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|x| {
            let who = id("participant_id", x)
                .map(ParticipantId::from)
                .map_or(String::new(), |p| {
                    super::pages::name_of(state, v, &model, &p)
                });
            format!(
                "{}: {}",
                super::capitalised(&who),
                words_for(&POSITIONS, x["position"].as_str().unwrap_or_default()).to_lowercase()
            )
        })
        .collect();
    let when = match payload.get("made_on").and_then(Value::as_str) {
        Some(day) => words::day(day),
        None => "Today".to_string(),
    };
    let project = id("project_id", payload)
        .and_then(|p| model.projects.get(&p.into()))
        .map_or(String::new(), |p| model.text(&p.title));
    let stage = text(payload, "stage");
    drop(model);
    let one = |s: String| vec![s];
    let or_none = |lines: Vec<String>, none: &str| {
        if lines.is_empty() {
            vec![none.to_string()]
        } else {
            lines
        }
    };
    let rows = vec![
        Row {
            label: "The question",
            lines: one(text(payload, "question")),
            field: "question",
            what: "the question",
        },
        Row {
            label: "What was decided",
            lines: one(text(payload, "outcome")),
            field: "outcome",
            what: "what was decided",
        },
        Row {
            label: "How it was decided",
            lines: one(words_for(&METHODS, &text(payload, "method"))),
            field: "method",
            what: "how it was decided",
        },
        Row {
            label: "Why",
            lines: one(text(payload, "reason")),
            field: "reason",
            what: "why",
        },
        Row {
            label: "When it was decided",
            lines: one(when),
            field: "made_on",
            what: "when it was decided",
        },
        Row {
            label: "The ideas it answers",
            lines: or_none(ideas, "None"),
            field: "ideas",
            what: "the ideas it answers",
        },
        Row {
            label: "Who took part",
            lines: people,
            field: "people",
            what: "who took part",
        },
    ];
    let mut typed = form.typed();
    typed.retain(|(k, _)| !matches!(k.as_str(), "change" | "step" | "stage_checked"));
    let packed = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&typed)
        .finish();
    let asked = match super::forms::partners_in(state, payload) {
        0 => "No partner took part, so no one will be asked to confirm it.",
        _ => "The partners who took part will be able to confirm or dispute their part.",
    };
    let r = render(CheckAnswers {
        page: Frame::for_visitor(v, "Check the decision before you record it", ""),
        intro: format!(
            "This is what will be recorded for {project}, at its {stage} stage. Once recorded, a decision cannot be changed or removed: it can only be corrected by a later record, which is shown with it. {asked}"
        ),
        rows,
        // The stage it was checked at goes with "Record the decision":
        // should the project move on meanwhile, the form comes back.
        typed: typed
            .into_iter()
            .chain([("stage_checked".to_string(), stage.clone())])
            .collect(),
        packed,
        action: action.to_string(),
        submit: "Record the decision",
    })?;
    // What was typed is in the page: not for any cache to keep.
    Ok(super::not_stored(r))
}
