//! The pages people read: their projects, a project's story, a decision,
//! "You said, we did", "Were decisions made jointly?", who takes part, and
//! "Check this record". Each builds plain words from the model.

use super::{Frame, PageError, PageId, Visitor, render, words};
use crate::api::AppState;
use crate::app::policy;
use crate::app::tokens::Role;
use crate::coproduction::agenda::answer_due;
use crate::coproduction::equality::answer_words;
use crate::coproduction::idea::{Status, status};
use crate::coproduction::model::{Challenge, Decision, Model, Proposal, Stance};
use crate::coproduction::report::{
    Jointness, JointnessProject, StageCounts, awaiting_confirmation, classify,
};
use crate::coproduction::said::Said;
use crate::coproduction::values::{
    Date, DecisionId, Involvement, Method, ParticipantId, Position, ProjectId, Role as PersonRole,
    Stage,
};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

/// Most projects listed on one page.
pub(super) const LIST_LIMIT: usize = 50;

pub(super) fn method_words(m: Method) -> &'static str {
    match m {
        Method::Consensus => "everyone agreed (consensus)",
        Method::Vote => "a vote",
        Method::StaffDecision => "staff decided",
        Method::OnePerson => "one person decided",
    }
}

pub(super) fn position_words(p: Position) -> &'static str {
    match p {
        Position::Agree => "agreed",
        Position::Disagree => "disagreed",
        Position::Abstain => "did not take a side",
    }
}

/// How a participant is named to this visitor (the disclosure policy).
pub(super) fn name_of(state: &AppState, v: &Visitor, model: &Model, p: &ParticipantId) -> String {
    state.app().name_of(&v.caller, model, p)
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct Message {
    pub page: Frame,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

/// One entry in a list on a page: what it is about (an idea's words, a
/// decision's question), where it stands in words, and where to go next.
pub(super) struct Item {
    /// The words people wrote, shown in quotes.
    pub quote: String,
    /// Where it stands, first, in words (not only colour).
    pub status: String,
    /// A short code for styling: waiting, accepted, not-accepted, done...
    pub code: String,
    /// What to know next: the reason, the answer, when it is due.
    pub detail: String,
    /// Smaller facts: the project, the day.
    pub facts: Vec<String>,
    pub links: Vec<(String, String)>,
}

/// A titled list of items on a page.
pub(super) struct Section {
    pub id: String,
    pub heading: String,
    /// What the section says when it has nothing in it.
    pub empty: String,
    pub items: Vec<Item>,
    /// How many more there are than `items`.
    pub more: usize,
    /// Where the rest of the list is, a page at a time.
    pub more_link: Option<String>,
}

impl Section {
    /// A section of the first items of a list of `total`: only those shown
    /// are built (a staff home page at 40,000 projects has thousands
    /// waiting, each with a name to look up).
    pub(super) fn of(id: &str, heading: &str, empty: &str, items: Vec<Item>, total: usize) -> Self {
        let shown = items.len();
        Section {
            more: total.saturating_sub(shown),
            ..Self::new(id, heading, empty, items, shown)
        }
    }

    fn new(id: &str, heading: &str, empty: &str, mut items: Vec<Item>, limit: usize) -> Self {
        let more = items.len().saturating_sub(limit);
        items.truncate(limit);
        Section {
            id: id.into(),
            heading: heading.into(),
            empty: empty.into(),
            items,
            more,
            more_link: None,
        }
    }
}

pub(super) fn today() -> Date {
    Date::from_date(time::OffsetDateTime::now_utc().date())
}

/// What a day is called on a page: "15 July 2025".
pub(super) fn on(d: Date) -> String {
    words::day(d)
}

/// "It has waited 3 days so far", or "It was put forward today".
pub(super) fn waited(days: i64) -> String {
    if days <= 0 {
        "It was put forward today.".into()
    } else {
        format!(
            "It has waited {} so far.",
            words::count(days as u64, "day", "days")
        )
    }
}

/// An idea's entry: its words, its status and why, its project, and links
/// to the decision that answered it.
pub(super) fn idea_item(model: &Model, pr: &Proposal, status: &Status, project: bool) -> Item {
    let mut links = Vec::new();
    let detail = match status {
        Status::Waiting { days } => waited(*days),
        Status::Withdrawn { reason } => format!("The reason: {}", model.text(reason)),
        Status::Answered(a) => {
            links.push((
                format!("/decisions/{}", a.decision),
                "Read the decision".to_string(),
            ));
            let changed: Vec<String> = a
                .actions
                .iter()
                .filter_map(|x| x.completed.as_ref().map(|c| model.text(c)))
                .collect();
            let planned: Vec<String> = a
                .actions
                .iter()
                .filter(|x| x.completed.is_none())
                .map(|x| format!("{} (due by {})", model.text(&x.what), on(x.due)))
                .collect();
            let decided = model.decisions.get(&a.decision).map_or(String::new(), |d| {
                format!(
                    " What was decided: {}{}",
                    model.text(&d.outcome()),
                    corrected_mark(model, &d.outcome())
                )
            });
            let mut d = format!("The reason: {}{decided}", model.text(a.reason));
            if !changed.is_empty() {
                d.push_str(&format!(" What changed: {}", changed.join(" ")));
            }
            if !planned.is_empty() {
                d.push_str(&format!(" Still to do: {}", planned.join("; ")));
            }
            d
        }
    };
    let mut facts = vec![match pr.given {
        // Whose it is and how they gave it, wherever it is shown.
        Some((how, _)) => format!(
            "Given {} on {}; recorded by staff for the partner.",
            how.words(),
            on(pr.day())
        ),
        None => format!("Put forward on {}.", on(pr.day())),
    }];
    if project && let Some(p) = model.projects.get(&pr.project) {
        facts.insert(0, format!("Project: {}.", model.text(&p.title)));
        links.push((
            format!("/projects/{}#idea-{}", p.id, pr.id),
            "See it in the project's story".to_string(),
        ));
    }
    Item {
        quote: model.text(&pr.text),
        status: status.words().into(),
        code: status.code().into(),
        detail,
        facts,
        links,
    }
}

/// The decision form with this idea ticked as one it answers. (From its
/// top: the question comes first, and a fragment would start keyboard
/// users below it.)
pub(super) fn answer_link(pr: &Proposal) -> String {
    format!("/projects/{}/decision?answers={}", pr.project, pr.id)
}

/// "Due by 1 December 2025", or "Late: it was due by ..." once past.
pub(super) fn due_words(due: Date, today: Date) -> (String, &'static str) {
    if due < today {
        (format!("Late: it was due by {}", on(due)), "late")
    } else {
        (format!("Due by {}", on(due)), "due")
    }
}

struct StoryLine {
    /// An anchor, so other pages can link to this line.
    anchor: Option<String>,
    when: String,
    what: String,
    links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    page: Frame,
    summary: String,
    how: String,
    actions: Vec<(String, String)>,
    more: Vec<(String, String)>,
    story: Vec<StoryLine>,
    id: ProjectId,
    /// Staff and admins find people to add here.
    may_add_people: bool,
    /// Were partners paid for their time? A sentence, and the figures.
    pay: (String, Vec<String>),
}

/// "15 July 2025", and "(recorded on 30 November 2026)" when it was
/// written down on another day.
fn when(happened: Date, recorded: crate::ledger::Timestamp) -> String {
    let recorded = Date::of(recorded);
    if recorded == happened {
        on(happened)
    } else {
        format!("{} (recorded on {})", on(happened), on(recorded))
    }
}

/// A project's story, in the order things happened: each line says when
/// it happened and, where different, when it was recorded.
fn story_of(
    state: &AppState,
    v: &Visitor,
    model: &Model,
    p: &crate::coproduction::model::Project,
    today: Date,
) -> Vec<StoryLine> {
    // (the day it happened, the line); sorted by day, and on one day in the
    // order a meeting's business goes: the meeting, ideas, decisions.
    let mut story: Vec<(Date, StoryLine)> = Vec::new();
    let line = |when: String, what: String| StoryLine {
        anchor: None,
        when,
        what,
        links: Vec::new(),
    };
    story.push((
        p.day(),
        line(
            when(p.day(), p.started_at),
            format!(
                "The project started. It said it would work by {}: {}",
                p.involvement.words(),
                involvement_meaning(p.involvement)
            ),
        ),
    ));
    for m in &p.meetings {
        let mut l = line(
            on(m.date),
            format!(
                "A meeting: {} {} {}",
                words::quoted_end(&model.text(&m.summary)),
                super::meetings::who_came(v, m),
                super::meetings::papers(m)
            ),
        );
        l.links.push((
            super::meetings::href(&p.id, m),
            format!("Read about the meeting on {}", on(m.date)),
        ));
        story.push((m.date, l));
    }
    for pid in &p.proposals {
        if let Some(pr) = model.proposals.get(pid) {
            let who = pr.by.map_or("Someone".to_string(), |b| {
                words::sentence(&name_of(state, v, model, &b))
            });
            let st = status(model, pr, today);
            let mut l = line(
                when(pr.day(), pr.raised_at),
                format!(
                    "{who} put forward an idea: {} Where it stands: {}.",
                    words::quoted_end(&model.text(&pr.text)),
                    st.words().to_lowercase()
                ),
            );
            l.anchor = Some(format!("idea-{}", pr.id));
            if let Status::Answered(a) = &st {
                l.links.push((
                    format!("/decisions/{}", a.decision),
                    "Read the decision".into(),
                ));
            }
            if let Status::Waiting { .. } = &st {
                if pr.by.is_some() && pr.by == v.caller.participant() {
                    l.links.push((
                        format!("/ideas/{}/withdraw", pr.id),
                        format!("Withdraw your idea “{}”", model.text(&pr.text)),
                    ));
                }
                if v.is(&[Role::Staff, Role::Admin]) {
                    l.links.push((
                        answer_link(pr),
                        format!("Record a decision that answers “{}”", model.text(&pr.text)),
                    ));
                }
            }
            story.push((pr.day(), l));
        }
    }
    for did in &p.decisions {
        if let Some(d) = model.decisions.get(did) {
            let mut l = line(
                when(d.day(), d.at),
                format!(
                    "A decision: {} It was {}.",
                    model.text(&d.question()),
                    jointly_words(model, d)
                ),
            );
            l.anchor = Some(format!("decision-{did}"));
            l.links.push((
                format!("/decisions/{did}"),
                "Read about this decision".into(),
            ));
            story.push((d.day(), l));
        }
    }
    for o in &p.outcomes {
        story.push((
            Date::of(o.at),
            line(
                on(Date::of(o.at)),
                format!("What changed: {}", model.text(&o.outcome)),
            ),
        ));
    }
    for r in &p.reviews {
        story.push((
            Date::of(r.at),
            line(
                on(Date::of(r.at)),
                format!(
                    "A review: {} The next review is due by {}.",
                    model.text(&r.summary),
                    on(r.next_review)
                ),
            ),
        ));
    }
    for c in &p.changes {
        use crate::coproduction::model::ProjectChange;
        let (at, what) = match c {
            ProjectChange::Stage { at, to } => (
                *at,
                format!("The project moved on to the {} stage.", to.words()),
            ),
            ProjectChange::Involvement {
                at,
                from,
                to,
                reason,
            } => (
                *at,
                format!(
                    "How partners are involved changed from {} to {}: {} The reason given: {}",
                    from.words(),
                    to.words(),
                    involvement_meaning(*to),
                    model.text(reason)
                ),
            ),
        };
        story.push((Date::of(at), line(on(Date::of(at)), what)));
    }
    // Stable: lines of one day keep the order above.
    story.sort_by_key(|(day, _)| *day);
    story.into_iter().map(|(_, s)| s).collect()
}

async fn project(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    // The policy first: the same "not found" whether it exists or not.
    let view = state.app().view(&v.caller)?;
    let id = ProjectId::from(id);
    let p = view.project(&id)?;
    let model = view.model();
    let story = story_of(&state, &v, model, p, today());
    let mut actions = Vec::new();
    // Records made less often: links, not buttons.
    let mut more = Vec::new();
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
        actions.push((
            format!("/projects/{id}/people"),
            "People in this project".to_string(),
        ));
        more.push((
            format!("/projects/{id}/review"),
            "Record a review".to_string(),
        ));
        if !p.aims.is_empty() {
            more.push((
                format!("/projects/{id}/outcome"),
                "Record an outcome against its aim".to_string(),
            ));
        }
        if p.stage != Stage::Closed {
            more.push((
                format!("/projects/{id}/stage"),
                "Move it to its next stage".to_string(),
            ));
        }
        more.push((
            format!("/projects/{id}/involvement"),
            "Change how partners are involved".to_string(),
        ));
        more.push((
            format!("/projects/{id}/cards"),
            "Sign-in cards for partners".to_string(),
        ));
    }
    render(ProjectPage {
        page: Frame::for_visitor(&v, &model.text(&p.title), ""),
        summary: model.text(&p.summary),
        how: format!(
            "This project says it works by {}. It is at the {} stage.",
            p.involvement.words(),
            p.stage.words()
        ),
        actions,
        more,
        story,
        id,
        may_add_people: v.is(&[Role::Staff, Role::Admin]),
        pay: super::time::project_figures(model, &id, policy::sees_exact_counts(v.caller.author())),
    })
}

/// What each type of involvement means, in a sentence a partner follows.
pub(super) fn involvement_meaning(i: Involvement) -> &'static str {
    match i {
        Involvement::CoProduction => {
            "partners and staff share the work and make the decisions together, at every stage."
        }
        Involvement::CoDesign => {
            "partners help design the work and decide with staff at that stage; staff decide the rest."
        }
        Involvement::Engagement => {
            "partners are asked for their views and take part, but staff make the decisions."
        }
        Involvement::Consultation => "partners are asked what they think, and staff decide.",
    }
}

/// How a decision was made, in words that do not call a decision still
/// waiting for a partner's confirmation "decided by staff".
fn jointly_words(model: &Model, d: &Decision) -> String {
    if awaiting_confirmation(model, d) {
        "made with partners, and is waiting for a partner to confirm it".into()
    } else {
        classify(model, d).0.words().into()
    }
}

/// Partners' disputes of their part, shown beside how a decision was
/// made (the method stays as recorded): " A partner disputes their part
/// in the record; it has been answered."
fn disputes_words(model: &Model, d: &Decision) -> String {
    let disputing: Vec<_> = (d.stances().iter())
        .filter(|(who, s)| {
            matches!(s, Stance::Disputed(_)) && model.role(who) == Some(PersonRole::Partner)
        })
        .map(|(who, _)| *who)
        .collect();
    if disputing.is_empty() {
        return String::new();
    }
    let answered = (disputing.iter())
        .filter(|w| d.dispute_answers().contains_key(w))
        .count();
    // In words, not a count: a small count of partners is never shown
    // to those who do not see names (docs/ACCESS.md).
    let n = disputing.len();
    let answers = match (answered, n) {
        (0, 1) => "staff have not answered yet",
        (1, 1) => "staff have answered it",
        (0, _) => "staff have not answered them yet",
        (a, n) if a == n => "staff have answered each",
        _ => "staff have answered some of them",
    };
    if n == 1 {
        format!(" A partner disputes their part in the record; {answers}.")
    } else {
        format!(" Partners dispute their part in the record; {answers}.")
    }
}

/// A correction, as a page says it: what was corrected and when, why, and
/// what it said before.
pub(super) struct CorrectionShown {
    pub what: String,
    pub why: String,
    /// What it said before (for a note about a record with no words: empty).
    pub before: String,
}

/// Which words of a record a field holds, as a page names them (by its
/// name in the payload, as a correction's view gives it).
fn field_words(name: &str) -> &'static str {
    match name {
        "title" => "The title",
        "summary" => "The summary",
        "text" => "The idea",
        "question" => "The question",
        "outcome" => "What was decided",
        "answer" => "The answer",
        "what" => "What will be done",
        "note" => "The note",
        "what_changed" => "What changed",
        "evidence" => "The evidence",
        _ => "The reason",
    }
}

/// The corrections of the record at `seq`, the earliest first, each with
/// the words it replaced.
pub(super) fn corrections_shown(model: &Model, seq: crate::ledger::Seq) -> Vec<CorrectionShown> {
    crate::coproduction::report::corrections_view(model, seq)
        .into_iter()
        .map(|c| {
            let day = on(c.corrected_on);
            let why = format!("Why: {}", c.reason);
            match c.field {
                Some(name) => CorrectionShown {
                    what: format!("{} was corrected on {day}.", field_words(name)),
                    why,
                    before: c.before.unwrap_or_default(),
                },
                None => CorrectionShown {
                    what: format!("A correction was added on {day}: {}", c.correction),
                    why,
                    before: String::new(),
                },
            }
        })
        .collect()
}

/// " (corrected on 7 December 2026)" after words that were corrected.
pub(super) fn corrected_mark(model: &Model, said: &Said) -> String {
    model.correction_of(said).map_or(String::new(), |c| {
        format!(" (corrected on {})", on(Date::of(c.at)))
    })
}

struct PartView {
    /// "You (partner) agreed. You confirmed this is right."
    words: String,
    mine: bool,
}

/// A challenge's thread as a page tells it.
pub(super) struct Thread<'m> {
    /// Where it stands: "Answered", "Open again: waiting for a new answer".
    pub status: &'static str,
    pub code: &'static str,
    /// The answers and replies after the first challenge, in order, and
    /// when the next answer is due while one is waited for.
    pub conversation: String,
    /// Where the next answer or reply goes.
    pub latest: &'m Challenge,
    /// Whether whoever made it may reply now (answered, not accepted).
    pub may_reply: bool,
}

/// The thread that starts with `first`; `mine`: told to the person who
/// made it ("you").
pub(super) fn thread_of<'m>(model: &'m Model, first: &'m Challenge, mine: bool) -> Thread<'m> {
    let (they, still) = if mine {
        ("You", "you still disagree")
    } else {
        ("They", "they still disagree")
    };
    let thread = model.thread(first);
    let latest = *thread.last().expect("a thread has its first challenge");
    let mut said = Vec::new();
    for c in &thread {
        if c.in_reply_to.is_some() {
            said.push(format!(
                "{they} replied that {still}: {}",
                words::quoted_end(&model.text(&c.reason))
            ));
        }
        if let Some(a) = &c.answer {
            said.push(format!("The answer: {}", model.text(a)));
        }
    }
    let (status, code) = match (&latest.answer, &latest.accepted) {
        (_, Some((_, reply))) => {
            said.push(match reply {
                Some(r) => format!(
                    "{they} said {} happy with the answer: {}",
                    if mine { "you were" } else { "they were" },
                    words::quoted_end(&model.text(r))
                ),
                None => format!(
                    "{they} said {} happy with the answer.",
                    if mine { "you were" } else { "they were" }
                ),
            });
            ("Closed: the answer was accepted", "done")
        }
        (Some(_), None) => ("Answered", "answered"),
        (None, None) => {
            said.push(format!("An answer is due by {}.", on(answer_due(latest))));
            if thread.len() > 1 {
                ("Open again: waiting for a new answer", "waiting")
            } else {
                ("No answer yet", "waiting")
            }
        }
    };
    Thread {
        status,
        code,
        conversation: said.join(" "),
        latest,
        may_reply: latest.answer.is_some() && latest.accepted.is_none(),
    }
}

struct ChallengeView {
    text: String,
    answer: String,
    links: Vec<(String, String)>,
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
    answers: Vec<Item>,
    challenges: Vec<ChallengeView>,
    actions: Vec<ActionLine>,
    forms: Vec<(String, String)>,
    /// Corrections of its record, the earliest first: its words shown are
    /// the corrected ones, and these say so.
    corrections: Vec<CorrectionShown>,
}

async fn decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let view = state.app().view(&v.caller)?;
    let id = DecisionId::from(id);
    let d = view.decision(&id)?;
    let model = view.model();
    let today = today();
    let staff_may = v.is(&[Role::Staff, Role::Admin]);
    let me = v.token.participant;
    let parts = d
        .parts
        .iter()
        .filter_map(|part| Some((part, model.who(part)?)))
        .map(|(part, who)| {
            let mine = me == Some(who);
            let role = match model.role(&who) {
                Some(PersonRole::Partner) => "partner",
                _ => "staff",
            };
            // Partners confirm or dispute their part; staff record it.
            let stance = match (d.stances().get(&who), mine) {
                (Some(Stance::Confirmed), true) => " You confirmed this is right.".to_string(),
                (Some(Stance::Confirmed), false) => " They confirmed this is right.".to_string(),
                // Not the partner's own word: who made the card may have
                // used it (docs/ACCOUNTABILITY.md).
                (Some(Stance::ConfirmedOnStaffCard(_)), true) => {
                    " This was confirmed on a sign-in card a member of staff made for you, so it does not count as your own word. If it was you, confirm it again after signing in with your own access code.".to_string()
                }
                (Some(Stance::ConfirmedOnStaffCard(_)), false) => {
                    " This was confirmed on a sign-in card a member of staff made for them, not yet shown to be theirs, so it does not count as their own word.".to_string()
                }
                (Some(Stance::Disputed(why)), true) => {
                    format!(" You disputed it: “{}”", model.text(why))
                }
                (Some(Stance::Disputed(why)), false) => {
                    format!(" They disputed it: “{}”", model.text(why))
                }
                (None, _) if role != "partner" => String::new(),
                (None, true) => " You have not said yet whether this is right.".to_string(),
                (None, false) => " They have not said yet whether this is right.".to_string(),
            };
            let answered = match (d.stances().get(&who), d.dispute_answers().get(&who)) {
                (Some(Stance::Disputed(_)), Some(a)) => {
                    format!(" Staff answered: {}", model.text(a))
                }
                (Some(Stance::Disputed(_)), None) => " Staff have not answered yet.".into(),
                _ => String::new(),
            };
            let stance = stance + &answered;
            let name = name_of(&state, &v, model, &who);
            // "a partner" needs no "(partner)" after it.
            let role = if name.contains(role) {
                String::new()
            } else {
                format!(" ({role})")
            };
            PartView {
                words: format!(
                    "{}{role} {}.{stance}",
                    words::sentence(&name),
                    position_words(part.position)
                ),
                mine,
            }
        })
        .collect();
    let answers = d
        .answers
        .iter()
        .filter_map(|a| model.proposals.get(&a.proposal_id))
        .map(|pr| {
            let mut item = idea_item(model, pr, &status(model, pr, today), false);
            // This page is the decision: link back to the idea instead.
            item.links = vec![(
                format!("/projects/{}#idea-{}", pr.project, pr.id),
                "See the idea in the project's story".into(),
            )];
            item
        })
        .collect();
    // One entry a thread: its first challenge, and the replies that
    // opened it again threaded under it.
    let challenges = d
        .challenges()
        .iter()
        .filter_map(|c| model.challenges.get(c))
        .filter(|c| c.in_reply_to.is_none())
        .map(|first| {
            let who = words::sentence(
                &first
                    .by
                    .map_or("someone".into(), |b| name_of(&state, &v, model, &b)),
            );
            let mine = me.is_some() && first.by == me;
            let t = thread_of(model, first, mine);
            let latest = t.latest;
            let mut links = Vec::new();
            if staff_may && latest.answer.is_none() {
                links.push((
                    format!("/challenges/{}/answer", latest.id),
                    format!("Answer the challenge “{}”", model.text(&latest.reason)),
                ));
            }
            if mine && t.may_reply {
                links.push((
                    format!("/challenges/{}/reply", latest.id),
                    format!(
                        "Reply to the answer to your challenge “{}”",
                        model.text(&first.reason)
                    ),
                ));
            }
            ChallengeView {
                text: format!(
                    "{who} challenged this on {}: “{}”",
                    on(Date::of(first.at)),
                    model.text(&first.reason)
                ),
                answer: format!("{}. {}", t.status, t.conversation),
                links,
            }
        })
        .collect();
    let actions = d
        .actions
        .iter()
        .filter_map(|a| model.actions.get(a))
        .map(|a| {
            let on_ideas: Vec<String> = a
                .proposals
                .iter()
                .filter_map(|p| model.proposals.get(p))
                .map(|p| model.text(&p.text))
                .collect();
            // The last idea ends the sentence: no full stop after one
            // that ends with its own.
            let about = match on_ideas.split_last() {
                None => String::new(),
                Some((last, [])) => format!(" It acts on the idea {}", words::quoted_end(last)),
                Some((last, rest)) => format!(
                    " It acts on the ideas {} and {}",
                    rest.iter()
                        .map(|t| format!("“{t}”"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    words::quoted_end(last)
                ),
            };
            ActionLine {
                text: match &a.completed {
                    Some(changed) => format!(
                        "{} Done. What changed: {}{about}",
                        model.text(&a.what),
                        model.text(changed)
                    ),
                    None => format!(
                        "{} To be done by {}, by {}.{about}",
                        model.text(&a.what),
                        name_of(&state, &v, model, &a.owner),
                        on(a.due)
                    ),
                },
                complete_link: (staff_may && a.completed.is_none())
                    .then(|| format!("/actions/{}/complete", a.id)),
            }
        })
        .collect();
    let mut forms = Vec::new();
    if v.is(&[Role::Partner]) {
        if me.is_some_and(|m| model.took_part(&m, d)) {
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
        if d.stances().iter().any(|(who, st)| {
            matches!(st, Stance::Disputed(_)) && !d.dispute_answers().contains_key(who)
        }) {
            forms.push((
                format!("/decisions/{id}/answer-dispute"),
                "Answer a dispute".to_string(),
            ));
        }
    }
    // The record that made it, which a correction names; read from the
    // log, not the model (which keeps only where its words are).
    let ledger = state.app().ledger();
    let made_in = ledger
        .get(d.made_in())
        .ok()
        .flatten()
        .map(|e| e.record.id());
    if let (true, Some(rid)) = (staff_may, made_in) {
        forms.push((
            format!("/records/{rid}/correct"),
            "Correct this decision's record".to_string(),
        ));
    }
    let corrections = corrections_shown(model, d.made_in());
    let why = classify(model, d).1;
    let project_title = model
        .projects
        .get(&d.project)
        .map_or(String::new(), |p| model.text(&p.title));
    render(DecisionPage {
        page: Frame::for_visitor(&v, &model.text(&d.question()), ""),
        outcome: format!(
            "What was decided: {}{}",
            model.text(&d.outcome()),
            super::pages::corrected_mark(model, &d.outcome())
        ),
        project_id: d.project,
        project_title,
        when: when(d.day(), d.at),
        method: format!(
            "{}.{}",
            words::sentence(method_words(d.method)),
            disputes_words(model, d)
        ),
        jointly: format!("{}: {why}.", words::sentence(&jointly_words(model, d))),
        reason: model.text(&d.reason()),
        parts,
        answers,
        challenges,
        actions,
        forms,
        corrections,
    })
}

#[derive(Template)]
#[template(path = "you_said.html")]
struct YouSaid {
    page: Frame,
    totals: String,
    /// One project's ideas, each with what we did; or none.
    sections: Vec<Section>,
    /// For several projects: a line and a link for each.
    projects: Vec<(String, String, String)>,
    more: usize,
}

/// "You said, we did": over every project the visitor sees, a line for
/// each with a link to its ideas; for one project (or a visitor in one
/// project), each idea and what became of it.
async fn you_said(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    // The totals over every project, and the first projects' rows only.
    let o = state.app().overview(&v.caller, None, LIST_LIMIT)?;
    let r = o.you_said_we_did;
    if o.projects == 1 && r.rows.len() == 1 {
        return you_said_for(&state, &v, r.rows[0].project_id);
    }
    let t = &r.totals;
    let projects = r
        .rows
        .iter()
        .map(|p| {
            (
                format!("/projects/{}/you-said-we-did", p.project_id),
                p.title.clone(),
                said_line(p.partner_proposals, p.answered, p.waiting, p.led_to_change),
            )
        })
        .collect();
    render(YouSaid {
        page: Frame::for_visitor(&v, "You said, we did", "/you-said-we-did"),
        totals: said_line(t.partner_proposals, t.answered, t.waiting, t.led_to_change),
        sections: Vec::new(),
        more: (o.projects as usize).saturating_sub(LIST_LIMIT),
        projects,
    })
}

/// "Partners put forward 3 ideas. 2 have been answered and 1 is waiting.
/// 1 led to a change."
fn said_line(ideas: u64, answered: u64, waiting: u64, changed: u64) -> String {
    if ideas == 0 {
        return "Partners have not put forward any ideas yet.".into();
    }
    format!(
        "Partners put forward {}. Answered: {answered}. Waiting for an answer: {waiting}. Led to a change: {changed}.",
        words::count(ideas, "idea", "ideas"),
    )
}

async fn you_said_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    you_said_for(&state, &v, ProjectId::from(id))
}

fn you_said_for(state: &AppState, v: &Visitor, id: ProjectId) -> Result<Response, PageError> {
    let view = state.app().view(&v.caller)?;
    let p = view.project(&id)?;
    let model = view.model();
    let (totals, sections) = said_for(v, model, p, today());
    render(YouSaid {
        page: Frame::for_visitor(
            v,
            &format!("You said, we did: {}", model.text(&p.title)),
            "/you-said-we-did",
        ),
        totals,
        sections,
        projects: Vec::new(),
        more: 0,
    })
}

/// One project's "You said, we did": a line of totals, then the ideas
/// from partners (the visitor's own first, under "Your ideas"), each with
/// where it stands.
fn said_for(
    v: &Visitor,
    model: &Model,
    p: &crate::coproduction::model::Project,
    today: Date,
) -> (String, Vec<Section>) {
    let me = v.token.participant;
    let ideas: Vec<&Proposal> = p
        .proposals
        .iter()
        .filter_map(|i| model.proposals.get(i))
        .filter(|pr| pr.by_partner)
        .collect();
    let item = |pr: &&Proposal| idea_item(model, pr, &status(model, pr, today), false);
    let (mine, theirs): (Vec<&Proposal>, Vec<&Proposal>) =
        ideas.iter().partition(|pr| me.is_some() && pr.by == me);
    let mut sections = Vec::new();
    if v.is(&[Role::Partner]) {
        sections.push(Section::new(
            "your-ideas",
            "Your ideas",
            "You have not put forward an idea in this project yet.",
            mine.iter().map(item).collect(),
            usize::MAX,
        ));
    }
    sections.push(Section::new(
        "ideas",
        if v.is(&[Role::Partner]) {
            "Other partners' ideas"
        } else {
            "Partners' ideas"
        },
        "No ideas from partners yet.",
        theirs.iter().map(item).collect(),
        usize::MAX,
    ));
    let answered = ideas.iter().filter(|pr| !pr.answers.is_empty()).count() as u64;
    let waiting = ideas
        .iter()
        .filter(|pr| pr.answers.is_empty() && pr.withdrawn.is_none())
        .count() as u64;
    let changed = ideas
        .iter()
        .filter(|pr| {
            matches!(status(model, pr, today),
                Status::Answered(a) if a.actions.iter().any(|x| x.completed.is_some()))
        })
        .count() as u64;
    (
        said_line(ideas.len() as u64, answered, waiting, changed),
        sections,
    )
}

/// One bar of the chart: a stage, its counts, and the widths they take.
struct Bar {
    y: u32,
    stage: String,
    total: u64,
    joint: u64,
    joint_w: u32,
    disputed_w: u32,
    informed_w: u32,
    staff_w: u32,
}

/// A row of the table: the stage (and its page), then the counts.
struct StageRow {
    stage: String,
    href: String,
    counts: StageCounts,
    line: String,
}

/// "4 of 6 design decisions were made jointly."
fn joint_line(stage: Stage, c: &StageCounts) -> String {
    let stage = stage.words();
    match c[0] {
        0 => format!("There are no {stage} decisions yet."),
        1 => format!("{} of 1 {stage} decision was made jointly.", c[1]),
        n => format!("{} of {n} {stage} decisions were made jointly.", c[1]),
    }
}

/// The chart's bars: one a stage, as wide as its count of decisions
/// (the widest stage fills the chart), split by how they were made.
fn bars(by: &[(Stage, StageCounts)]) -> Vec<Bar> {
    let width = 200.0;
    let most = by.iter().map(|(_, c)| c[0]).max().unwrap_or(0).max(1) as f64;
    by.iter()
        .enumerate()
        .map(|(i, (stage, c))| {
            let w = |n: u64| (n as f64 / most * width).round() as u32;
            Bar {
                y: 10 + i as u32 * 30,
                stage: stage.words().into(),
                total: c[0],
                joint: c[1],
                joint_w: w(c[1]),
                disputed_w: w(c[5]),
                informed_w: w(c[2]),
                staff_w: w(c[3] + c[4]),
            }
        })
        .collect()
}

fn rows(by: &[(Stage, StageCounts)], href: impl Fn(Stage) -> String) -> Vec<StageRow> {
    by.iter()
        .map(|(s, c)| StageRow {
            stage: words::sentence(s.words()),
            href: href(*s),
            counts: *c,
            line: joint_line(*s, c),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "jointly.html")]
struct JointlyPage {
    page: Frame,
    summary: String,
    chart_height: u32,
    bars: Vec<Bar>,
    rows: Vec<StageRow>,
    /// For each project: its page, its title, and a line.
    projects: Vec<(String, String, String)>,
    more: usize,
    /// The decisions behind the figures (one project's page).
    decisions: Vec<Section>,
    signs: Vec<String>,
}

/// Each kind of involvement in one plain sentence, where the kinds are
/// named ("Says it works by co-production, but ... engagement").
fn kinds_of_involvement() -> Vec<(String, String)> {
    [
        Involvement::CoProduction,
        Involvement::CoDesign,
        Involvement::Engagement,
        Involvement::Consultation,
    ]
    .into_iter()
    .map(|i| {
        (
            words::sentence(i.words()),
            words::sentence(involvement_meaning(i)),
        )
    })
    .collect()
}

/// How a project's declared type compares with what its decisions show.
fn declared_words(p: &JointnessProject) -> String {
    match p.observed {
        None => format!(
            "It says it works by {}: {} It has made no decisions yet, so there is nothing to compare.",
            p.declared.words(),
            involvement_meaning(p.declared)
        ),
        Some(o) if o == p.declared => format!(
            "It says it works by {}, and its decisions show that it does: {}",
            p.declared.words(),
            involvement_meaning(p.declared)
        ),
        Some(o) => format!(
            "It says it works by {} ({}) But its decisions look like {}: {}",
            p.declared.words(),
            involvement_meaning(p.declared),
            o.words(),
            involvement_meaning(o)
        ),
    }
}

async fn jointly(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    // The totals over every project, and the first projects' rows only.
    let r = state.app().overview(&v.caller, None, LIST_LIMIT)?;
    let j = &r.jointness;
    let by = &r.stage_totals;
    let projects = j
        .rows
        .iter()
        .map(|p| {
            let total: u64 = p.stages.iter().map(|s| s.decisions).sum();
            let joint: u64 = p.stages.iter().map(|s| s.joint).sum();
            (
                format!("/projects/{}/jointly", p.project_id),
                p.title.clone(),
                format!(
                    "{} {}",
                    if total == 0 {
                        "No decisions recorded yet.".to_string()
                    } else {
                        format!(
                            "{joint} of {} made jointly.",
                            words::count(total, "decision", "decisions")
                        )
                    },
                    match p.observed {
                        Some(o) if o != p.declared => format!(
                            "Says it works by {}, but its decisions look like {}.",
                            p.declared.words(),
                            o.words()
                        ),
                        Some(_) => format!("Works by {}, as it says.", p.declared.words()),
                        None => format!("Says it works by {}.", p.declared.words()),
                    }
                ),
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
        if t.meetings == 0 {
            "No meetings recorded yet.".to_string()
        } else {
            format!(
                "{} of {} went ahead without papers sent out first.",
                t.meetings_without_materials_in_advance,
                words::count(t.meetings, "meeting", "meetings")
            )
        },
        format!(
            "Ideas from partners that have waited more than {} days for an answer: {}.",
            r.tokenism.waiting_days, t.partner_proposals_waiting_too_long
        ),
        format!(
            "Decisions disputed by a partner: {}. Challenges not answered: {}.",
            t.decisions_disputed_by_partners, t.challenges_unanswered
        ),
        if t.actions == 0 {
            "No actions recorded yet.".to_string()
        } else {
            format!(
                "{} of {} {} owned by partners.",
                t.actions_owned_by_partners,
                words::count(t.actions, "action", "actions"),
                words::is_are(t.actions_owned_by_partners)
            )
        },
    ];
    let jt = &j.totals;
    render(JointlyPage {
        page: Frame::for_visitor(&v, "Were decisions made jointly?", "/jointly"),
        summary: format!(
            "Of {}, {} made jointly with partners, {} said to be made jointly but disputed by a partner, {} made by staff after asking partners (or still waiting for a partner to confirm them), and {} by staff alone or one person.",
            words::count(jt.decisions, "decision", "decisions"),
            jt.joint,
            jt.joint_disputed,
            jt.partner_informed,
            jt.staff_only + jt.one_person
        ),
        chart_height: 20 + by.len() as u32 * 30,
        bars: bars(by),
        rows: rows(by, |s| format!("/jointly/{}", s.words())),
        more: (r.projects as usize).saturating_sub(LIST_LIMIT),
        projects,
        decisions: Vec::new(),
        signs,
    })
}

/// A decision's entry: its question, how it was made, when, and a link.
fn decision_item(model: &Model, d: &Decision, project: bool) -> Item {
    let class = classify(model, d).0;
    let (status, code) = if awaiting_confirmation(model, d) {
        ("Waiting for a partner to confirm it".to_string(), "waiting")
    } else {
        (
            words::sentence(class.words()),
            match class {
                Jointness::Joint => "done",
                Jointness::PartnerInformed | Jointness::JointDisputed => "accepted-with-changes",
                _ => "late",
            },
        )
    };
    let mut facts = vec![format!("Decided on {}.", on(d.day()))];
    if project && let Some(p) = model.projects.get(&d.project) {
        facts.insert(0, format!("Project: {}.", model.text(&p.title)));
    }
    Item {
        quote: model.text(&d.question()),
        status,
        code: code.into(),
        detail: format!("How: {}.", method_words(d.method)),
        facts,
        links: vec![(format!("/decisions/{}", d.id), "Read the decision".into())],
    }
}

/// Most decisions listed on a page of one stage.
const STAGE_LIMIT: usize = 100;

async fn jointly_stage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(stage): Path<String>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let stage = [
        Stage::Conception,
        Stage::Design,
        Stage::Delivery,
        Stage::Review,
        Stage::Closed,
    ]
    .into_iter()
    .find(|s| s.words() == stage)
    .ok_or_else(PageError::not_found)?;
    // The counts are the organisation's kept totals (the same the
    // jointness pages and projections show); the list is the newest
    // decisions alone, so the page costs the same at any size.
    let c = state
        .app()
        .overview(&v.caller, None, 1)?
        .stage_totals
        .iter()
        .find(|(s, _)| *s == stage)
        .map_or([0; 6], |(_, c)| *c);
    let model = state.page_model()?;
    let ds: Vec<&Decision> = match policy::in_view(v.caller.author(), &model) {
        policy::InView::All => model.newest_decisions(stage).take(STAGE_LIMIT).collect(),
        policy::InView::Only(view) => {
            let mut ds: Vec<&Decision> = view
                .iter()
                .filter_map(|id| model.projects.get(id))
                .flat_map(|p| p.decisions.iter())
                .filter_map(|d| model.decisions.get(d))
                .filter(|d| d.stage == stage)
                .collect();
            // The newest first: what people come to check is usually recent.
            ds.sort_by_key(|d| std::cmp::Reverse((d.day(), d.at)));
            ds.truncate(STAGE_LIMIT);
            ds
        }
    };
    let by = vec![(stage, c)];
    let items = ds.iter().map(|d| decision_item(&model, d, true)).collect();
    let total = usize::try_from(c[0]).unwrap_or(usize::MAX);
    render(JointlyPage {
        page: Frame::for_visitor(
            &v,
            &format!("Were {} decisions made jointly?", stage.words()),
            "",
        ),
        summary: joint_line(stage, &c),
        chart_height: 50,
        bars: bars(&by),
        rows: rows(&by, |_| String::new()),
        projects: Vec::new(),
        more: 0,
        decisions: vec![Section::of(
            "decisions",
            &format!("Each {} decision, the newest first", stage.words()),
            "There are no decisions at this stage yet.",
            items,
            total,
        )],
        signs: Vec::new(),
    })
}

async fn jointly_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let id = ProjectId::from(id);
    let r = state
        .app()
        .report(&v.caller, Some(id))
        .map_err(|_| PageError::not_found())?;
    let Some(jp) = r.jointness.projects.first() else {
        return Err(PageError::not_found());
    };
    let model = state.page_model()?;
    let (by, sections) = jointly_for(&model, jp);
    let t = &r.tokenism.totals;
    render(JointlyPage {
        page: Frame::for_visitor(
            &v,
            &format!("Were decisions made jointly? {}", jp.title),
            "",
        ),
        summary: declared_words(jp),
        chart_height: 20 + by.len() as u32 * 30,
        bars: bars(&by),
        rows: rows(&by, |s| format!("#stage-{}", s.words())),
        projects: Vec::new(),
        more: 0,
        decisions: sections,
        signs: vec![format!(
            "Decisions disputed by a partner: {}. Challenges not answered: {}.",
            t.decisions_disputed_by_partners, t.challenges_unanswered
        )],
    })
}

/// One project's jointness: the counts for each stage, and a section for
/// each stage listing the decisions behind them.
fn jointly_for(model: &Model, jp: &JointnessProject) -> (Vec<(Stage, StageCounts)>, Vec<Section>) {
    let by = crate::coproduction::report::stage_totals(&jp.stages);
    let sections = by
        .iter()
        .map(|(stage, c)| {
            let items = jp
                .decisions
                .iter()
                .filter(|d| d.stage == *stage)
                .filter_map(|d| model.decisions.get(&d.decision_id))
                .map(|d| decision_item(model, d, false))
                .collect();
            Section::new(
                &format!("stage-{}", stage.words()),
                &format!(
                    "{} decisions: {}",
                    words::sentence(stage.words()),
                    joint_line(*stage, c)
                ),
                "None yet.",
                items,
                usize::MAX,
            )
        })
        .collect();
    (by, sections)
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    page: Frame,
    printed: String,
    summary: String,
    how: String,
    story: Vec<StoryLine>,
    said: String,
    said_sections: Vec<Section>,
    jointly: String,
    rows: Vec<StageRow>,
    jointly_sections: Vec<Section>,
}

/// A project's report for a trustees' meeting: dated, and on paper whole:
/// the story, "You said, we did" and the jointness figures with the
/// decisions behind them.
async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let id = ProjectId::from(id);
    let r = state
        .app()
        .report(&v.caller, Some(id))
        .map_err(|_| PageError::not_found())?;
    let Some(jp) = r.jointness.projects.first() else {
        return Err(PageError::not_found());
    };
    let model = state.page_model()?;
    let p = model.projects.get(&id).ok_or_else(PageError::not_found)?;
    let today = today();
    let story = story_of(&state, &v, &model, p, today);
    let (said, said_sections) = said_for(&v, &model, p, today);
    let (by, jointly_sections) = jointly_for(&model, jp);
    let entries = model.last_seq.map_or(0, |s| s + 1);
    render(ReportPage {
        page: Frame::for_visitor(&v, &format!("Report: {}", model.text(&p.title)), ""),
        printed: format!(
            "This report was made from the record on {}, when the record held {}.",
            on(today),
            words::count(entries, "entry", "entries")
        ),
        summary: model.text(&p.summary),
        how: format!(
            "This project says it works by {}. It is at the {} stage.",
            p.involvement.words(),
            p.stage.words()
        ),
        story,
        said,
        said_sections,
        jointly: declared_words(jp),
        rows: rows(&by, |_| String::new()),
        jointly_sections,
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
    /// The questions no one has answered yet, a sentence each.
    unanswered: Vec<String>,
}

async fn present(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let t = state.app().equality_table(&v.caller, None)?;
    // Zeros in words ("none"); a question no one has answered yet is a
    // sentence, not a table of zeros.
    let none = crate::coproduction::report::Shown::Count(0);
    let (tables, unanswered): (Vec<_>, Vec<_>) = t
        .rows
        .iter()
        .partition(|row| row.counts.iter().any(|(_, n)| *n != none));
    let tables = tables
        .into_iter()
        .map(|row| {
            (
                row.words.to_string(),
                (row.counts.iter())
                    .map(|(a, n)| {
                        let n = if *n == none {
                            "none".to_string()
                        } else {
                            n.words()
                        };
                        (answer_words(a).to_string(), n)
                    })
                    .collect(),
            )
        })
        .collect();
    let unanswered = unanswered
        .into_iter()
        .map(|row| format!("{}: no answers yet.", row.words))
        .collect();
    render(Present {
        page: Frame::for_visitor(&v, "Who takes part", "/who-is-present"),
        intro: format!(
            "Partners can tell us about themselves, if they want to. Every question is optional. We only show totals, rounded to the nearest 5, and we hide any number under {}, so no one can be picked out. These totals were last worked out on {}; answers given since then count from the next time, the next day.",
            policy::K,
            t.as_of
                .as_deref()
                .map_or("(not yet)".to_string(), words::day)
        ),
        partners: format!("Partners: {}.", t.partners.words()),
        answer_link: v.is(&[Role::Partner]).then(|| "/me/equality".to_string()),
        tables,
        unanswered,
    })
}

#[derive(Template)]
#[template(path = "check.html")]
struct Check {
    page: Frame,
    verdict: String,
    witnesses: Vec<String>,
    checkpoint: String,
    key: String,
    origin: String,
}

/// The names that signed a checkpoint note other than the log itself
/// (its witnesses): each signature line is "— name signature".
fn witness_names(note: &str, log: &str) -> Vec<String> {
    let Some((_, sigs)) = note.split_once("\n\n") else {
        return Vec::new();
    };
    let mut names: Vec<String> = sigs
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split_once(' ').map(|(n, _)| n.to_string()))
        .filter(|n| n != log)
        .collect();
    names.dedup();
    names
}

async fn check(
    State(state): State<AppState>,
    axum::Extension(settings): axum::Extension<super::Settings>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let (size, note) = state.app().checkpoint(crate::app::Which::Latest)?;
    let (n, at) = state.app().last_verified();
    let key = state.app().verifier().to_string();
    let log = key.split('+').next().unwrap_or_default().to_string();
    let witnesses = witness_names(&note, &log);
    let held = match witnesses.len() {
        0 => "No outside witness holds a copy of its summary yet, so for now this rests on the server and on anyone who keeps their own copy.".to_string(),
        w => format!(
            "{} outside {} a signed copy of its summary, so no one can change it without them seeing.",
            words::sentence(&words::count(w as u64, "witness", "witnesses")),
            if w == 1 { "holds" } else { "hold" }
        ),
    };
    // One count of the record: what it holds now, and what the last full
    // check covered (later entries were checked one by one as added).
    let holds = format!(
        "The record holds {}.",
        words::count(size, "entry", "entries")
    );
    let verdict = match time::OffsetDateTime::from_unix_timestamp(at as i64) {
        Ok(t) if at > 0 => {
            let when = format!(
                "{} at {:02}:{:02} GMT",
                words::date(t.date()),
                t.hour(),
                t.minute()
            );
            if n >= size {
                format!(
                    "{holds} The last full check, on {when}, covered all of them and found them complete, in order and unchanged. {held}"
                )
            } else {
                format!(
                    "{holds} The last full check, on {when}, covered the first {n} and found them complete, in order and unchanged; the {} added since are in the signed summary and will be covered by the next full check. {held}",
                    words::count(size - n, "entry", "entries")
                )
            }
        }
        _ => format!(
            "{holds} The server has not yet finished its own check of the whole record since it started; come back in a few minutes. {held}"
        ),
    };
    // Never the request's own Host header: people are told to paste these
    // commands, so they name only what the operator configured.
    let origin = settings
        .public_url
        .clone()
        .unwrap_or_else(|| "http://SERVER-ADDRESS".to_string());
    render(Check {
        page: Frame::for_visitor(&v, "Check this record", "/check"),
        verdict,
        witnesses,
        checkpoint: note,
        key,
        origin,
    })
}

#[derive(Template)]
#[template(path = "about.html")]
struct About {
    page: Frame,
    /// Whether any outside witness keeps a copy of the record's summary.
    witnessed: bool,
}

async fn about(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let page = match state.visitor(&headers) {
        Ok(v) => Frame::for_visitor(&v, "How this record works", "/about"),
        Err(_) => Frame::anonymous("How this record works"),
    };
    // What it says of outside copies depends on whether anyone keeps one.
    let witnessed = state
        .app()
        .checkpoint(crate::app::Which::Latest)
        .map(|(_, note)| {
            let key = state.app().verifier().to_string();
            let log = key.split('+').next().unwrap_or_default().to_string();
            !witness_names(&note, &log).is_empty()
        })
        .unwrap_or(false);
    render(About { page, witnessed })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}", get(project))
        .route("/decisions/{id}", get(decision))
        .route("/you-said-we-did", get(you_said))
        .route("/projects/{id}/you-said-we-did", get(you_said_project))
        .route("/jointly", get(jointly))
        .route("/jointly/{stage}", get(jointly_stage))
        .route("/projects/{id}/jointly", get(jointly_project))
        .route("/projects/{id}/report", get(report))
        .route("/who-is-present", get(present))
        .route("/check", get(check))
        .route("/about", get(about))
}
