//! The home page: what waits on each person first (their ideas and
//! decisions to confirm; for staff, what waits on an answer from them),
//! and their projects; and each of its lists in full, a page at a time,
//! where the home page shows only the first few ("And 12 more").

use super::pages::{
    Item, LIST_LIMIT, Section, answer_link, due_words, idea_item, name_of, on, today, waited,
};
use super::{Frame, PageError, Visitor, render, words};
use crate::api::AppState;
use crate::app::policy;
use crate::app::tokens::Role;
use crate::coproduction::agenda::{For, agenda};
use crate::coproduction::idea::Status;
use crate::coproduction::model::{Model, Project};
use crate::coproduction::values::{Date, ProjectId};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

/// Most entries of each list on a partner's home page.
const HOME_LIMIT: usize = 10;
/// On staff's: a few of each, so that at a large organisation the page
/// stays about two screens long; the rest is a link away.
const STAFF_HOME_LIMIT: usize = 3;
/// Projects named on staff's home page ("My projects").
const MY_PROJECTS: usize = 5;
/// Entries on one page of a whole list.
const PAGE: usize = 25;

pub(super) struct ProjectCard {
    id: ProjectId,
    title: String,
    line: String,
}

/// The projects part of a page: a few, and links to the rest.
pub(super) struct Projects {
    heading: String,
    empty: String,
    cards: Vec<ProjectCard>,
    /// "And 35 more of your projects", and where they are.
    more: Option<(String, String)>,
    /// Every project, where this is a part of them.
    all: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    page: Frame,
    intro: String,
    sections: Vec<Section>,
    projects: Projects,
    /// Staff see their projects first, then what waits on them.
    projects_first: bool,
    actions: Vec<(String, String)>,
    /// A partner's ways to sign in, so that anyone signing in as them shows.
    sign_ins: Option<super::sign_ins::SignIns>,
    /// A partner's own time and pay.
    my_time: Option<super::time::MyTimeView>,
    /// Staff's: time waiting for payment too long (a heading, and lines).
    late_time: Option<(String, Vec<String>)>,
}

/// A line about a project: how it works, where it is, what it holds.
fn card(model: &Model, p: &Project) -> ProjectCard {
    ProjectCard {
        id: p.id,
        title: model.text(&p.title),
        line: format!(
            "Says it works by {}. Now at the {} stage. {}, {}, {}.",
            p.involvement.words(),
            p.stage.words(),
            words::sentence(&words::count(
                p.meetings.len() as u64,
                "meeting",
                "meetings"
            )),
            words::count(p.proposals.len() as u64, "idea", "ideas"),
            words::count(p.decisions.len() as u64, "decision", "decisions")
        ),
    }
}

/// Whether `v` leads or belongs to `p` now.
fn is_mine(v: &Visitor, p: &Project) -> bool {
    v.caller
        .participant()
        .is_some_and(|me| p.lead == me || p.members.get(&me).is_some_and(|m| m.active))
}

/// The lists of what waits on `v`, each with its first `show` entries
/// built (all of them counted); `only`: just the list with this id.
fn sections(
    state: &AppState,
    v: &Visitor,
    model: &Model,
    today: Date,
    show: usize,
) -> Vec<Section> {
    let view = policy::in_view(v.caller.author(), model);
    let staff = v.is(&[Role::Staff, Role::Admin]);
    let partner = v.is(&[Role::Partner]);
    let only = |id: &ProjectId| view.contains(id);
    let a = agenda(
        model,
        For {
            me: v.token.participant,
            staff,
            in_own_name: !model
                .access
                .on_a_card_staff_made(v.caller.author().credential),
            sees: match view {
                policy::InView::All => None,
                policy::InView::Only(_) => Some(&only),
            },
            show,
        },
        today,
    );
    let project_of = |id: &ProjectId| {
        model.projects.get(id).map_or(String::new(), |p| {
            format!("Project: {}.", model.text(&p.title))
        })
    };
    let mut sections = Vec::new();
    if partner || !a.my_ideas.is_empty() {
        let items = a
            .my_ideas
            .iter()
            .take(2 * show)
            .map(|(pr, st)| {
                let mut item = idea_item(model, pr, st, true);
                if let Status::Waiting { .. } = st {
                    item.links.push((
                        format!("/ideas/{}/withdraw", pr.id),
                        format!("Withdraw your idea “{}”", model.text(&pr.text)),
                    ));
                }
                item
            })
            .collect();
        sections.push(Section::of(
            "your-ideas",
            "Your ideas",
            "You have not put forward any ideas yet. Open a project to put one forward.",
            items,
            a.my_ideas.len(),
        ));
    }
    if partner || !a.to_confirm.is_empty() {
        let items = a
            .to_confirm
            .iter()
            .take(show)
            .map(|d| Item {
                quote: model.text(&d.question()),
                status: "Not confirmed yet".into(),
                code: "waiting".into(),
                detail: format!(
                    "You took part in this decision on {}. Tell us whether the record of your part is right.",
                    on(d.day())
                ),
                facts: vec![project_of(&d.project)],
                links: vec![
                    (
                        format!("/decisions/{}/confirm", d.id),
                        format!(
                            "Confirm or dispute your part in “{}”",
                            model.text(&d.question())
                        ),
                    ),
                    (format!("/decisions/{}", d.id), "Read the decision".into()),
                ],
            })
            .collect();
        sections.push(Section::of(
            "waiting-for-you",
            "Waiting for you",
            "Nothing is waiting for you.",
            items,
            a.to_confirm.len(),
        ));
    }
    if partner || !a.my_challenges.is_empty() {
        let items = a
            .my_challenges
            .iter()
            .take(show)
            .map(|(c, _due)| {
                // One item a thread, told from its first challenge; the
                // replies that opened it again are under it.
                let first = model.first_of_thread(c);
                let t = super::pages::thread_of(model, first, true);
                let project = model
                    .decisions
                    .get(&first.decision)
                    .map_or(String::new(), |d| project_of(&d.project));
                let mut links = Vec::new();
                if t.may_reply {
                    links.push((
                        format!("/challenges/{}/reply", t.latest.id),
                        format!(
                            "Reply to the answer to your challenge “{}”",
                            model.text(&first.reason)
                        ),
                    ));
                }
                links.push((
                    format!("/decisions/{}", first.decision),
                    "Read the decision".into(),
                ));
                Item {
                    quote: model.text(&first.reason),
                    status: t.status.to_string(),
                    code: t.code.into(),
                    detail: t.conversation,
                    facts: vec![
                        project,
                        format!("You challenged it on {}.", on(Date::of(first.at))),
                    ],
                    links,
                }
            })
            .collect();
        sections.push(Section::of(
            "your-challenges",
            "Your challenges",
            "You have not challenged any decision.",
            items,
            a.my_challenges.len(),
        ));
    }
    if !a.my_disputes.is_empty() {
        let items = a
            .my_disputes
            .iter()
            .take(show)
            .map(|(d, why, answer)| Item {
                quote: model.text(why),
                status: if answer.is_some() {
                    "Answered"
                } else {
                    "No answer yet"
                }
                .into(),
                code: if answer.is_some() {
                    "answered"
                } else {
                    "waiting"
                }
                .into(),
                detail: answer.map_or_else(
                    || "Staff must answer your dispute.".to_string(),
                    |a| format!("The answer: {}", model.text(a)),
                ),
                facts: vec![format!(
                    "You dispute your part in {}",
                    words::quoted_end(&model.text(&d.question()))
                )],
                links: vec![
                    (
                        format!("/decisions/{}/confirm", d.id),
                        format!("Change your answer about “{}”", model.text(&d.question())),
                    ),
                    (format!("/decisions/{}", d.id), "Read the decision".into()),
                ],
            })
            .collect();
        sections.push(Section::of(
            "your-disputes",
            "Decisions you dispute",
            "",
            items,
            a.my_disputes.len(),
        ));
    }
    if staff {
        let items = a
            .ideas_waiting
            .first
            .iter()
            .map(|(pr, days)| Item {
                quote: model.text(&pr.text),
                status: "Waiting for an answer".into(),
                code: "waiting".into(),
                detail: waited(*days),
                facts: vec![
                    project_of(&pr.project),
                    format!(
                        "Put forward by {} on {}.",
                        pr.by
                            .map_or("someone".into(), |b| name_of(state, v, model, &b)),
                        on(pr.day())
                    ),
                ],
                links: vec![(
                    answer_link(pr),
                    format!("Record a decision that answers “{}”", model.text(&pr.text)),
                )],
            })
            .collect();
        sections.push(Section::of(
            "ideas-waiting",
            "Ideas waiting for an answer",
            "Every idea from partners has an answer.",
            items,
            a.ideas_waiting.total,
        ));
        let items =
            a.challenges_to_answer
                .first
                .iter()
                .map(|(c, due)| {
                    let (w, code) = due_words(*due, today);
                    Item {
                        quote: model.text(&c.reason),
                        status: "No answer yet".into(),
                        code: code.into(),
                        detail: format!("{w}."),
                        facts: {
                            let d = model.decisions.get(&c.decision);
                            vec![
                                d.map_or(String::new(), |d| project_of(&d.project)),
                                {
                                    let who = words::sentence(&c.by.map_or(
                                        "someone".into(),
                                        |b| name_of(state, v, model, &b),
                                    ));
                                    let question =
                                        d.map_or(String::new(), |d| model.text(&d.question()));
                                    let day = on(Date::of(c.at));
                                    if c.in_reply_to.is_some() {
                                        let first = model.first_of_thread(c);
                                        format!(
                                            "{who} still disagrees after the answer to their challenge “{}” of the decision “{question}”, and said so on {day}.",
                                            model.text(&first.reason)
                                        )
                                    } else {
                                        format!(
                                            "{who} challenged the decision “{question}” on {day}."
                                        )
                                    }
                                },
                            ]
                        },
                        links: vec![
                            (
                                format!("/challenges/{}/answer", c.id),
                                format!("Answer the challenge “{}”", model.text(&c.reason)),
                            ),
                            (
                                format!("/decisions/{}", c.decision),
                                "Read the decision".into(),
                            ),
                        ],
                    }
                })
                .collect();
        sections.push(Section::of(
            "challenges",
            "Challenges to answer",
            "Every challenge has an answer.",
            items,
            a.challenges_to_answer.total,
        ));
        let items = a
            .disputes
            .first
            .iter()
            .map(|(d, who, why)| Item {
                quote: model.text(why),
                status: "Disputed".into(),
                code: "late".into(),
                detail: format!(
                    "{} says the record of their part in “{}” is not right.",
                    words::sentence(&name_of(state, v, model, who)),
                    model.text(&d.question()),
                ),
                facts: vec![project_of(&d.project)],
                links: vec![
                    (
                        format!("/decisions/{}/answer-dispute", d.id),
                        format!("Answer the dispute about “{}”", model.text(&d.question())),
                    ),
                    (format!("/decisions/{}", d.id), "Read the decision".into()),
                ],
            })
            .collect();
        sections.push(Section::of(
            "disputes",
            "Disputes to answer",
            "No partner's dispute is waiting for an answer.",
            items,
            a.disputes.total,
        ));
        let items = a
            .actions_due
            .first
            .iter()
            .map(|x| {
                let (w, code) = due_words(x.due, today);
                Item {
                    quote: model.text(&x.what),
                    status: w,
                    code: code.into(),
                    detail: format!("Owner: {}.", name_of(state, v, model, &x.owner)),
                    facts: vec![project_of(&x.project)],
                    links: vec![
                        (
                            format!("/actions/{}/complete", x.id),
                            format!("Record that “{}” is done", model.text(&x.what)),
                        ),
                        (
                            format!("/decisions/{}", x.decision),
                            "Read the decision".into(),
                        ),
                    ],
                }
            })
            .collect();
        sections.push(Section::of(
            "actions-due",
            "Actions to be done",
            "Every action is done.",
            items,
            a.actions_due.total,
        ));
        let items = a
            .reviews_due
            .first
            .iter()
            .map(|(p, due)| Item {
                quote: model.text(&p.title),
                status: format!("A review was due by {}", on(*due)),
                code: "late".into(),
                detail: "Look back on the project with its partners and record what you found."
                    .into(),
                facts: vec![],
                links: vec![
                    (
                        format!("/projects/{}/review", p.id),
                        format!("Record the review of {}", model.text(&p.title)),
                    ),
                    (format!("/projects/{}", p.id), "Go to the project".into()),
                ],
            })
            .collect();
        sections.push(Section::of(
            "reviews-due",
            "Reviews due",
            "No project is due a review.",
            items,
            a.reviews_due.total,
        ));
    }
    sections
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    // Before the model is held: the list reads it too.
    let sign_ins = if v.is(&[Role::Partner]) {
        super::sign_ins::of(&state, &v)?
    } else {
        None
    };
    let model = state.page_model()?;
    let view = policy::in_view(v.caller.author(), &model);
    let staff = v.is(&[Role::Staff, Role::Admin]);
    let partner = v.is(&[Role::Partner]);
    let show = if staff { STAFF_HOME_LIMIT } else { HOME_LIMIT };
    let mut sections = sections(&state, &v, &model, today(), show);
    for s in &mut sections {
        if s.more > 0 {
            s.more_link = Some(format!("/home/{}", s.id));
        }
    }
    let seen: Vec<&Project> = model
        .projects
        .values()
        .filter(|p| view.contains(&p.id))
        .collect();
    let intro = if partner {
        format!(
            "You are part of {}. Here is what has happened to your ideas and what is waiting for you.",
            words::count(seen.len() as u64, "project", "projects")
        )
    } else if staff {
        format!(
            "There {} {}. Here are yours, and what is waiting for an answer from staff.",
            words::is_are(seen.len() as u64),
            words::count(seen.len() as u64, "project", "projects")
        )
    } else {
        format!(
            "There {} {}.",
            words::is_are(seen.len() as u64),
            words::count(seen.len() as u64, "project", "projects")
        )
    };
    let mut intro = intro;
    if v.is(&[Role::Admin]) {
        // Messages given up are the admins' to look into.
        let failed = state.app().mail_stats().1.failed;
        if failed > 0 {
            intro.push_str(&format!(
                " {} to people could not be sent and {} given up (the mail server refused, or was down for two days); the server's log says why.",
                words::count(failed, "email", "emails"),
                if failed == 1 { "was" } else { "were" }
            ));
        }
    }
    let projects = if staff {
        let mine: Vec<&Project> = seen.iter().copied().filter(|p| is_mine(&v, p)).collect();
        Projects {
            heading: "My projects".into(),
            empty: "You do not lead or belong to any project yet.".into(),
            cards: mine
                .iter()
                .take(MY_PROJECTS)
                .map(|p| card(&model, p))
                .collect(),
            more: (mine.len() > MY_PROJECTS).then(|| {
                (
                    "/projects?mine=yes".to_string(),
                    format!("And {} more of your projects", mine.len() - MY_PROJECTS),
                )
            }),
            // Only when there is more to see than is listed here.
            all: (seen.len() > mine.len().min(MY_PROJECTS)).then(|| {
                (
                    "/projects".into(),
                    format!(
                        "See all {}",
                        words::count(seen.len() as u64, "project", "projects")
                    ),
                )
            }),
        }
    } else {
        Projects {
            heading: if partner { "Your projects" } else { "Projects" }.into(),
            empty: "There are no projects to show yet.".into(),
            cards: seen
                .iter()
                .take(LIST_LIMIT)
                .map(|p| card(&model, p))
                .collect(),
            more: (seen.len() > LIST_LIMIT).then(|| {
                (
                    "/projects".to_string(),
                    format!("And {} more projects", seen.len() - LIST_LIMIT),
                )
            }),
            all: None,
        }
    };
    let mut actions = Vec::new();
    if staff {
        actions.push(("/projects/new".into(), "Start a new project".into()));
    }
    if partner {
        actions.push((
            "/me/equality".into(),
            "Tell us about yourself (optional)".into(),
        ));
    }
    let my_time = match (partner, v.token.participant) {
        (true, Some(me)) => Some(super::time::mine(
            &model,
            &crate::coproduction::pay::mine(&model, &me),
        )),
        _ => None,
    };
    let late_time = staff.then(|| {
        super::time::waiting_too_long(&model, today(), &|who| {
            state.app().name_of(&v.caller, &model, who)
        })
    });
    render(Home {
        page: Frame::for_visitor(&v, "Home", "/home"),
        intro,
        sections,
        projects,
        projects_first: staff,
        actions,
        sign_ins,
        my_time,
        late_time,
    })
}

#[derive(Deserialize)]
struct Paging {
    /// Read leniently: anything but a page number is the first page.
    page: Option<String>,
    /// `yes`: only the visitor's own projects.
    mine: Option<String>,
}

/// The furthest page of a list anyone is shown: building a page means
/// building every entry before it, under the model's lock.
const LAST_PAGE: usize = 1000;

impl Paging {
    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, LAST_PAGE)
    }
}

/// Where a page of a list starts, and the words and links around it.
struct Pages {
    /// "Showing 26 to 50 of 120."
    showing: String,
    previous: Option<String>,
    next: Option<String>,
}

fn pages(base: &str, page: usize, shown: usize, total: usize) -> Pages {
    let first = (page - 1) * PAGE;
    let link = |n: usize| {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}page={n}")
    };
    Pages {
        showing: if total == 0 {
            "There is nothing in this list now.".into()
        } else if shown == 0 {
            format!("This page is past the end of the list, which has {total}.")
        } else {
            format!("Showing {} to {} of {}.", first + 1, first + shown, total)
        },
        // Past the end, "previous" goes to the last page there is.
        previous: (page > 1).then(|| link((page - 1).min(total.div_ceil(PAGE)).max(1))),
        next: (first + shown < total).then(|| link(page + 1)),
    }
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    page: Frame,
    pages: Pages,
    items: Vec<Item>,
}

/// One page of a list from the home page, in the same order.
async fn whole_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(list): Path<String>,
    Query(q): Query<Paging>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let page = q.page();
    let model = state.page_model()?;
    let found = sections(&state, &v, &model, today(), page * PAGE)
        .into_iter()
        .find(|s| s.id == list)
        .ok_or_else(PageError::not_found)?;
    let total = found.items.len() + found.more;
    // (A partner's own ideas are built two pages at a time; one is shown.)
    let items: Vec<Item> = found
        .items
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    let pages = pages(&format!("/home/{list}"), page, items.len(), total);
    render(ListPage {
        page: Frame::for_visitor(&v, &found.heading, ""),
        pages,
        items,
    })
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    page: Frame,
    pages: Pages,
    cards: Vec<ProjectCard>,
    /// The other list: all projects, or only the visitor's.
    other: Option<(String, String)>,
}

/// Every project the visitor sees (or only theirs), by name, a page at a
/// time.
async fn all_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Paging>,
) -> Result<Response, PageError> {
    let v = state.visitor(&headers)?;
    let page = q.page();
    let only_mine = q.mine.as_deref() == Some("yes");
    let model = state.page_model()?;
    let view = policy::in_view(v.caller.author(), &model);
    let mut seen: Vec<(String, &Project)> = model
        .projects
        .values()
        .filter(|p| view.contains(&p.id) && (!only_mine || is_mine(&v, p)))
        .map(|p| (model.text(&p.title).to_lowercase(), p))
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let total = seen.len();
    let cards: Vec<ProjectCard> = seen
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|(_, p)| card(&model, p))
        .collect();
    let base = if only_mine {
        "/projects?mine=yes"
    } else {
        "/projects"
    };
    let pages = pages(base, page, cards.len(), total);
    let staff = v.is(&[Role::Staff, Role::Admin]);
    render(ProjectsPage {
        page: Frame::for_visitor(
            &v,
            if only_mine {
                "My projects"
            } else {
                "All projects"
            },
            "",
        ),
        pages,
        cards,
        other: match (staff, only_mine) {
            (true, true) => Some(("/projects".into(), "See all projects".into())),
            (true, false) => Some(("/projects?mine=yes".into(), "See only my projects".into())),
            _ => None,
        },
    })
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/home", get(home))
        .route("/home/{list}", get(whole_list))
        .route("/projects", get(all_projects))
}
