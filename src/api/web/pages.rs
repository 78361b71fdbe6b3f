//! The pages people read: their projects, a project's story, a decision,
//! "You said, we did", "Were decisions made jointly?", who takes part, and
//! "Check this record". Each builds plain words from the model.

use super::{Frame, PageError, Visitor, render};
use crate::api::AppState;
use crate::app::policy;
use crate::app::tokens::Role;
use crate::coproduction::model::{Model, Stance};
use crate::coproduction::report::classify;
use crate::coproduction::values::{
    DecisionId, Method, ParticipantId, Position, ProjectId, Role as PersonRole,
};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use uuid::Uuid;

/// Most projects listed on one page.
const LIST_LIMIT: usize = 50;

pub(super) fn method_words(m: Method) -> &'static str {
    match m {
        Method::Consensus => "everyone agreed (consensus)",
        Method::Vote => "a vote",
        Method::StaffDecision => "staff decided",
        Method::OnePerson => "one person decided",
    }
}

fn position_words(p: Position) -> &'static str {
    match p {
        Position::Agree => "agreed",
        Position::Disagree => "disagreed",
        Position::Abstain => "did not take a side",
    }
}

fn day(t: impl std::fmt::Display) -> String {
    t.to_string().chars().take(10).collect()
}

/// How a participant is named to this visitor (the disclosure policy).
pub(super) fn name_of(state: &AppState, v: &Visitor, model: &Model, p: &ParticipantId) -> String {
    state.app().name_of(&v.caller, model, p)
}

/// Whether this visitor sees this project (the disclosure policy).
pub(super) fn visible(v: &Visitor, model: &Model, id: &ProjectId) -> bool {
    policy::in_view(v.caller.author(), model).contains(id)
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct Message {
    pub page: Frame,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

struct ProjectCard {
    id: ProjectId,
    title: String,
    line: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    page: Frame,
    intro: String,
    projects: Vec<ProjectCard>,
    more: usize,
    actions: Vec<(String, String)>,
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let model = state.page_model()?;
    let mine: Vec<_> = model
        .projects
        .values()
        .filter(|p| visible(&v, &model, &p.id))
        .collect();
    let intro = if v.is(&[Role::Partner]) {
        format!(
            "You are part of {} project{}. Choose one to see what has happened and what you can do.",
            mine.len(),
            if mine.len() == 1 { "" } else { "s" }
        )
    } else {
        format!("There are {} projects.", mine.len())
    };
    let projects = mine
        .iter()
        .take(LIST_LIMIT)
        .map(|p| ProjectCard {
            id: p.id,
            title: p.title.to_string(),
            line: format!(
                "Says it works by {}. Now at the {} stage. {} meetings, {} ideas, {} decisions.",
                p.involvement.words(),
                p.stage.words(),
                p.meetings.len(),
                p.proposals.len(),
                p.decisions.len()
            ),
        })
        .collect();
    let mut actions = Vec::new();
    if v.is(&[Role::Staff, Role::Admin]) {
        actions.push(("/projects/new".into(), "Start a new project".into()));
    }
    if v.is(&[Role::Partner]) {
        actions.push((
            "/me/equality".into(),
            "Tell us about yourself (optional)".into(),
        ));
    }
    render(Home {
        page: Frame::for_visitor(&v, "Your projects", "/home"),
        intro,
        more: mine.len().saturating_sub(LIST_LIMIT),
        projects,
        actions,
    })
}

struct StoryLine {
    when: String,
    what: String,
    link: Option<String>,
    link_words: String,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    page: Frame,
    summary: String,
    how: String,
    actions: Vec<(String, String)>,
    story: Vec<StoryLine>,
}

async fn project(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let model = state.page_model()?;
    let id = ProjectId::from(id);
    let p = model.projects.get(&id).ok_or_else(PageError::not_found)?;
    if !visible(&v, &model, &id) {
        return Err(PageError::forbidden());
    }
    let mut story: Vec<(String, StoryLine)> = Vec::new();
    let line = |when: String, what: String, link: Option<String>, link_words: &str| StoryLine {
        when,
        what,
        link,
        link_words: link_words.into(),
    };
    story.push((
        p.started_at.to_string(),
        line(
            day(p.started_at),
            format!(
                "The project started. It said it would work by {}.",
                p.involvement.words()
            ),
            None,
            "",
        ),
    ));
    for m in &p.meetings {
        let partners = m
            .attendees
            .iter()
            .filter(|a| model.roles.get(a) == Some(&PersonRole::Partner))
            .count() as u64;
        // Counts of people, as every figure about people: small ones hidden.
        let (cells, came) = crate::coproduction::report::suppress(
            &[partners, m.attendees.len() as u64 - partners],
            policy::K,
        );
        story.push((
            m.date.to_string(),
            line(
                m.date.to_string(),
                format!(
                    "A meeting: {} people came, {} of them partners. {}",
                    came.words(),
                    cells[0].words(),
                    if m.materials_in_advance {
                        "Papers were sent out before it."
                    } else {
                        "Papers were not sent out before it."
                    }
                ),
                None,
                "",
            ),
        ));
    }
    for pid in &p.proposals {
        if let Some(pr) = model.proposals.get(pid) {
            let who = pr
                .by
                .map_or("Someone".to_string(), |b| name_of(&state, &v, &model, &b));
            let answered = if pr.answers.is_empty() {
                "It has not been answered yet."
            } else {
                "It was answered:"
            };
            let link = pr
                .answers
                .first()
                .map(|(d, _, _)| format!("/decisions/{d}"));
            story.push((
                pr.raised_at.to_string(),
                line(
                    day(pr.raised_at),
                    format!("{who} put forward an idea: “{}”. {answered}", pr.text),
                    link,
                    "see the decision",
                ),
            ));
        }
    }
    for did in &p.decisions {
        if let Some(d) = model.decisions.get(did) {
            let (class, _) = classify(&model, d);
            story.push((
                d.at.to_string(),
                line(
                    day(d.at),
                    format!("A decision: {} It was {}.", d.question, class.words()),
                    Some(format!("/decisions/{did}")),
                    "Read about this decision",
                ),
            ));
        }
    }
    for o in &p.outcomes {
        story.push((
            o.at.to_string(),
            line(day(o.at), format!("What changed: {}", o.outcome), None, ""),
        ));
    }
    for r in &p.reviews {
        story.push((
            r.at.to_string(),
            line(day(r.at), format!("A review: {}", r.summary), None, ""),
        ));
    }
    story.sort_by(|a, b| a.0.cmp(&b.0));
    let mut actions = Vec::new();
    if v.is(&[Role::Partner]) {
        actions.push((
            format!("/projects/{id}/propose"),
            "Put forward an idea".to_string(),
        ));
    }
    if v.is(&[Role::Staff, Role::Admin]) {
        actions.push((
            format!("/projects/{id}/meeting"),
            "Record a meeting".to_string(),
        ));
        actions.push((
            format!("/projects/{id}/decision"),
            "Record a decision".to_string(),
        ));
    }
    render(ProjectPage {
        page: Frame::for_visitor(&v, p.title.as_str(), ""),
        summary: p.summary.to_string(),
        how: format!(
            "This project says it works by {}. It is at the {} stage.",
            p.involvement.words(),
            p.stage.words()
        ),
        actions,
        story: story.into_iter().map(|(_, s)| s).collect(),
    })
}

struct PartView {
    name: String,
    role: String,
    position: String,
    stance: String,
}

struct ChallengeView {
    text: String,
    answer: String,
    answer_link: Option<String>,
}

struct ActionLine {
    text: String,
    complete_link: Option<String>,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionPage {
    page: Frame,
    outcome: String,
    project_id: ProjectId,
    project_title: String,
    when: String,
    method: String,
    jointly: String,
    reason: String,
    parts: Vec<PartView>,
    answers: Vec<String>,
    challenges: Vec<ChallengeView>,
    actions: Vec<ActionLine>,
    forms: Vec<(String, String)>,
}

async fn decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let model = state.page_model()?;
    let id = DecisionId::from(id);
    let d = model.decisions.get(&id).ok_or_else(PageError::not_found)?;
    if !visible(&v, &model, &d.project) {
        return Err(PageError::forbidden());
    }
    let staff_may = v.is(&[Role::Staff, Role::Admin]);
    let parts = d
        .parts
        .iter()
        .map(|part| PartView {
            name: name_of(&state, &v, &model, &part.participant_id),
            role: match model.roles.get(&part.participant_id) {
                Some(PersonRole::Partner) => "partner".into(),
                _ => "staff".into(),
            },
            position: position_words(part.position).into(),
            stance: match d.stances.get(&part.participant_id) {
                Some(Stance::Confirmed) => "Yes, they confirmed it".into(),
                Some(Stance::Disputed(why)) => format!("No: “{why}”"),
                None => "Not said yet".into(),
            },
        })
        .collect();
    let answers = d
        .answers
        .iter()
        .map(|a| {
            let text = model
                .proposals
                .get(&a.proposal_id)
                .map_or("an idea".to_string(), |p| format!("“{}”", p.text));
            format!("{text}: {}. {}", a.response.words(), a.reason)
        })
        .collect();
    let challenges = d
        .challenges
        .iter()
        .filter_map(|c| model.challenges.get(c))
        .map(|c| ChallengeView {
            text: format!(
                "{} challenged this: “{}”",
                c.by.map_or("Someone".into(), |b| name_of(&state, &v, &model, &b)),
                c.reason
            ),
            answer: c
                .answer
                .as_ref()
                .map_or("Not answered yet.".into(), |a| format!("The answer: {a}")),
            answer_link: (staff_may && c.answer.is_none())
                .then(|| format!("/challenges/{}/answer", c.id)),
        })
        .collect();
    let actions = d
        .actions
        .iter()
        .filter_map(|a| model.actions.get(a))
        .map(|a| ActionLine {
            text: match &a.completed {
                Some(changed) => format!("{} Done. What changed: {changed}", a.what),
                None => format!(
                    "{} To be done by {}, by {}.",
                    a.what,
                    name_of(&state, &v, &model, &a.owner),
                    a.due
                ),
            },
            complete_link: (staff_may && a.completed.is_none())
                .then(|| format!("/actions/{}/complete", a.id)),
        })
        .collect();
    let mut forms = Vec::new();
    let me = v.token.participant;
    if v.is(&[Role::Partner]) {
        if me.is_some_and(|m| d.parts.iter().any(|p| p.participant_id == m)) {
            forms.push((
                format!("/decisions/{id}/confirm"),
                "Say whether this is right about you".to_string(),
            ));
        }
        forms.push((
            format!("/decisions/{id}/challenge"),
            "Challenge this decision".to_string(),
        ));
    }
    if staff_may {
        forms.push((
            format!("/decisions/{id}/action"),
            "Record an action it led to".to_string(),
        ));
    }
    let (class, why) = classify(&model, d);
    let project_title = model
        .projects
        .get(&d.project)
        .map_or(String::new(), |p| p.title.to_string());
    render(DecisionPage {
        page: Frame::for_visitor(&v, d.question.as_str(), ""),
        outcome: format!("What was decided: {}", d.outcome),
        project_id: d.project,
        project_title,
        when: day(d.at),
        method: method_words(d.method).into(),
        jointly: format!("This decision was {}. {why}", class.words()),
        reason: d.reason.to_string(),
        parts,
        answers,
        challenges,
        actions,
        forms,
    })
}

struct SaidItem {
    said: String,
    did: String,
}

struct SaidProject {
    id: ProjectId,
    title: String,
    items: Vec<SaidItem>,
}

#[derive(Template)]
#[template(path = "you_said.html")]
struct YouSaid {
    page: Frame,
    totals: String,
    projects: Vec<SaidProject>,
    more: usize,
}

async fn you_said(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let r = state.app().report(&v.caller, None)?.you_said_we_did;
    let t = &r.totals;
    let projects: Vec<SaidProject> = r
        .projects
        .iter()
        .take(LIST_LIMIT)
        .map(|p| SaidProject {
            id: p.project_id,
            title: p.title.clone(),
            items: p
                .proposals
                .iter()
                .map(|pr| SaidItem {
                    said: pr.text.clone(),
                    did: if pr.responses.is_empty() {
                        match pr.days_waiting {
                            Some(d) => format!("Not answered yet. It has waited {d} days."),
                            None => "Not answered yet.".into(),
                        }
                    } else {
                        pr.responses
                            .iter()
                            .map(|resp| {
                                let done: Vec<String> = resp
                                    .actions
                                    .iter()
                                    .map(|a| match &a.what_changed {
                                        Some(c) => format!("Done: {c}"),
                                        None => format!("Planned: {}", a.what),
                                    })
                                    .collect();
                                format!(
                                    "{} – we {} it. {} {}",
                                    resp.outcome,
                                    resp.response.words(),
                                    resp.reason,
                                    done.join(" ")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                })
                .collect(),
        })
        .collect();
    render(YouSaid {
        page: Frame::for_visitor(&v, "You said, we did", "/you-said-we-did"),
        totals: format!(
            "Partners put forward {} ideas. {} have been answered and {} are waiting. {} led to a change.",
            t.partner_proposals, t.answered, t.waiting, t.led_to_change
        ),
        more: r.projects.len().saturating_sub(LIST_LIMIT),
        projects,
    })
}

struct Bar {
    y: u32,
    stage: String,
    joint_w: u32,
    informed_w: u32,
    staff_w: u32,
}

#[derive(Template)]
#[template(path = "jointly.html")]
struct JointlyPage {
    page: Frame,
    summary: String,
    chart_height: u32,
    chart_words: String,
    bars: Vec<Bar>,
    rows: Vec<(String, u64, u64, u64, u64, u64)>,
    differences: Vec<String>,
    signs: Vec<String>,
}

async fn jointly(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let r = state.app().report(&v.caller, None)?;
    let j = &r.jointness;
    // Sum each stage over the projects.
    let mut by_stage: Vec<(String, [u64; 5])> = Vec::new();
    for p in &j.projects {
        for s in &p.stages {
            let name = s.stage.words().to_string();
            let i = match by_stage.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    by_stage.push((name, [0; 5]));
                    by_stage.len() - 1
                }
            };
            let c = &mut by_stage[i].1;
            c[0] += s.decisions;
            c[1] += s.joint;
            c[2] += s.partner_informed;
            c[3] += s.staff_only;
            c[4] += s.one_person;
        }
    }
    let width = 220.0;
    let bars = by_stage
        .iter()
        .enumerate()
        .map(|(i, (stage, c))| {
            let w = |n: u64| {
                if c[0] == 0 {
                    0
                } else {
                    (n as f64 / c[0] as f64 * width).round() as u32
                }
            };
            Bar {
                y: 10 + i as u32 * 30,
                stage: stage.clone(),
                joint_w: w(c[1]),
                informed_w: w(c[2]),
                staff_w: w(c[3] + c[4]),
            }
        })
        .collect();
    let chart_words = by_stage
        .iter()
        .map(|(s, c)| format!("{s}: {} of {} decisions made jointly", c[1], c[0]))
        .collect::<Vec<_>>()
        .join("; ");
    let rows = by_stage
        .iter()
        .map(|(s, c)| (s.clone(), c[0], c[1], c[2], c[3], c[4]))
        .collect();
    let differences = j
        .projects
        .iter()
        .filter(|p| p.observed.is_some_and(|o| o != p.declared))
        .take(LIST_LIMIT)
        .map(|p| {
            format!(
                "{}: says {}, but works like {}. {}",
                p.title,
                p.declared.words(),
                p.observed.map_or("", |o| o.words()),
                p.summary
            )
        })
        .collect();
    let t = &r.tokenism.totals;
    let signs = vec![
        format!(
            "Partners who have taken part only once: {}, of {} partners.",
            t.partners_involved_once.words(),
            t.partners.words()
        ),
        format!(
            "{} of {} meetings went ahead without papers sent out first.",
            t.meetings_without_materials_in_advance, t.meetings
        ),
        format!(
            "{} ideas from partners have waited more than {} days for an answer.",
            t.partner_proposals_waiting_too_long, r.tokenism.waiting_days
        ),
        format!(
            "{} decisions were disputed by partners, and {} challenges are not answered.",
            t.decisions_disputed_by_partners, t.challenges_unanswered
        ),
        format!(
            "{} of {} actions are owned by partners.",
            t.actions_owned_by_partners, t.actions
        ),
    ];
    let jt = &j.totals;
    render(JointlyPage {
        page: Frame::for_visitor(&v, "Were decisions made jointly?", "/jointly"),
        summary: format!(
            "Of {} decisions, {} were made jointly with partners, {} were made by staff after asking partners, and {} by staff alone or one person.",
            jt.decisions,
            jt.joint,
            jt.partner_informed,
            jt.staff_only + jt.one_person
        ),
        chart_height: 20 + by_stage.len() as u32 * 30,
        chart_words,
        bars,
        rows,
        differences,
        signs,
    })
}

#[derive(Template)]
#[template(path = "present.html")]
struct Present {
    page: Frame,
    intro: String,
    partners: String,
    answer_link: Option<String>,
    tables: Vec<(String, Vec<(String, String)>)>,
}

async fn present(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let t = state.app().equality_table(&v.caller, None)?;
    let tables = t
        .rows
        .iter()
        .map(|row| {
            (
                row.words.to_string(),
                row.counts
                    .iter()
                    .map(|(a, n)| (a.replace('_', " "), n.words()))
                    .collect(),
            )
        })
        .collect();
    render(Present {
        page: Frame::for_visitor(&v, "Who takes part", "/who-is-present"),
        intro: format!(
            "Partners can tell us about themselves, if they want to. Every question is optional. We only show totals, rounded to the nearest 5, and we hide any number under {}, so no one can be picked out. These totals were last worked out on {}; answers given since then count from the next time, the next day.",
            policy::K,
            t.as_of.as_deref().map_or("", |a| &a[..10])
        ),
        partners: format!("Partners: {}.", t.partners.words()),
        answer_link: v.is(&[Role::Partner]).then(|| "/me/equality".to_string()),
        tables,
    })
}

#[derive(Template)]
#[template(path = "check.html")]
struct Check {
    page: Frame,
    verified: String,
    checkpoint: String,
    key: String,
    origin: String,
}

async fn check(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<super::Settings>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let (_, note) = state.app().checkpoint(crate::app::Which::Latest)?;
    let (n, at) = state.app().last_verified();
    let verified = if at == 0 {
        "The server has not finished its own full check of the record since it started.".to_string()
    } else {
        format!(
            "The server last checked all {n} entries of the record, and they were in order, {} minutes ago.",
            (now() - at) / 60
        )
    };
    // Never the request's own Host header: people are told to paste these
    // commands, so they name only what the operator configured.
    let origin = settings
        .public_url
        .clone()
        .unwrap_or_else(|| "http://SERVER-ADDRESS".to_string());
    render(Check {
        page: Frame::for_visitor(&v, "Check this record", "/check"),
        verified,
        checkpoint: note,
        key: state.app().verifier().to_string(),
        origin,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Template)]
#[template(path = "about.html")]
struct About {
    page: Frame,
}

async fn about(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let page = match state.visitor(&headers) {
        Ok(v) => Frame::for_visitor(&v, "How this record works", "/about"),
        Err(_) => Frame::anonymous("How this record works"),
    };
    render(About { page })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/home", get(home))
        .route("/projects/{id}", get(project))
        .route("/decisions/{id}", get(decision))
        .route("/you-said-we-did", get(you_said))
        .route("/jointly", get(jointly))
        .route("/who-is-present", get(present))
        .route("/check", get(check))
        .route("/about", get(about))
}
