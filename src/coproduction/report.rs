//! The projections: "You said, we did", "Were decisions made jointly?",
//! signs of tokenism, who is present, and impact. Each is computed from the
//! [`Model`] (itself a fold over the log) as of a given day, for one project
//! or all, and rendered as JSON for machines or plain English for people.
//! The rules are written up in docs/ACCOUNTABILITY.md.

use super::model::{Decision, Model, Project, Stance};
use super::said::{Field, Said};
use super::values::*;
use crate::ledger::Seq;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Settings of the projections.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The day the report is as of.
    pub today: Date,
    /// A partner proposal unanswered for longer than this is a warning sign.
    pub waiting_days: i64,
    /// Counts under this are shown as "fewer than k".
    pub k: u64,
    /// Whether the reader sees figures about a few people exactly (staff,
    /// admins: `policy::sees_exact_counts`); partners and auditors do not.
    pub exact: bool,
}

impl Settings {
    pub fn today() -> Self {
        Settings {
            today: Date::from_date(time::OffsetDateTime::now_utc().date()),
            waiting_days: 28,
            k: 5,
            exact: false,
        }
    }
}

/// How a decision was made, read from its record.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Jointness {
    Joint,
    /// Made by a joint method (everyone agreed, or a vote) with partners,
    /// but a partner disputes the record of their part: how it was made
    /// and whether partners agree with the record are two facts, so it is
    /// counted apart from both "made jointly" and "informed by partners".
    JointDisputed,
    PartnerInformed,
    StaffOnly,
    OnePerson,
}

impl Jointness {
    pub fn words(&self) -> &'static str {
        match self {
            Jointness::Joint => "made jointly",
            Jointness::JointDisputed => "said to be joint, disputed",
            Jointness::PartnerInformed => "informed by partners, decided by staff",
            Jointness::StaffOnly => "made by staff only",
            Jointness::OnePerson => "made by one person alone",
        }
    }
}

fn is_partner(model: &Model, p: &ParticipantId) -> bool {
    model.role(p) == Some(Role::Partner)
}

/// The rule of docs/ACCOUNTABILITY.md, with the reason in plain words.
pub fn classify(model: &Model, d: &Decision) -> (Jointness, String) {
    let partners: Vec<_> = d
        .parts
        .iter()
        .filter(|p| model.role_in(p) == Some(Role::Partner))
        .collect();
    let disputed = d
        .stances()
        .iter()
        .any(|(who, s)| is_partner(model, who) && matches!(s, Stance::Disputed(_)));
    let confirmed = d
        .stances()
        .iter()
        .any(|(who, s)| is_partner(model, who) && *s == Stance::Confirmed);
    let on_card = confirmed_on_staff_card(model, d);
    let cites_partners = d.answers.iter().any(|a| {
        model
            .proposals
            .get(&a.proposal_id)
            .is_some_and(|p| p.by_partner)
    });
    if d.method == Method::OnePerson || d.parts.len() == 1 {
        return (
            Jointness::OnePerson,
            if d.parts.len() == 1 {
                "only one person took part"
            } else {
                "it was recorded as decided by one person"
            }
            .into(),
        );
    }
    if partners.is_empty() {
        return if cites_partners {
            (
                Jointness::PartnerInformed,
                "no partner took part, but it answers a partner's proposal".into(),
            )
        } else {
            (
                Jointness::StaffOnly,
                "no partner took part or was cited".into(),
            )
        };
    }
    if d.method == Method::StaffDecision {
        return (
            Jointness::PartnerInformed,
            "partners took part, but staff made the final choice".into(),
        );
    }
    if disputed {
        return (
            Jointness::JointDisputed,
            "partners took part and it was recorded as decided together, but a partner disputes the record of their part".into(),
        );
    }
    if confirmed {
        return (
            Jointness::Joint,
            "partners took part, decided together, and a partner confirmed it".into(),
        );
    }
    if on_card {
        return (
            Jointness::PartnerInformed,
            "partners took part and decided together, but it was confirmed only on a sign-in card a member of staff made, which the partner has not shown to be theirs".into(),
        );
    }
    (
        Jointness::PartnerInformed,
        "partners took part, but no partner has confirmed it yet".into(),
    )
}

/// Whether a partner's confirmation of the decision was made with a
/// sign-in card a member of staff made, which the partner had not shown
/// to be theirs (docs/ACCOUNTABILITY.md): recorded, never counted as the
/// partner's own word.
pub fn confirmed_on_staff_card(model: &Model, d: &Decision) -> bool {
    d.stances()
        .iter()
        .any(|(who, s)| is_partner(model, who) && matches!(s, Stance::ConfirmedOnStaffCard(_)))
}

/// Whether the decision would count as made jointly but no partner who
/// took part has yet confirmed (or disputed) it: the pages say "waiting
/// for a partner to confirm it" rather than "decided by staff".
pub fn awaiting_confirmation(model: &Model, d: &Decision) -> bool {
    matches!(d.method, Method::Consensus | Method::Vote)
        && d.parts.len() > 1
        && d.parts
            .iter()
            .any(|p| model.role_in(p) == Some(Role::Partner))
        && !d.stances().keys().any(|who| is_partner(model, who))
}

/// A count as published: exact, hidden because it is small, or hidden so
/// that a small count beside it cannot be worked out from the total.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    /// The count itself.
    #[schema(title = "ShownCount")]
    Count(u64),
    /// Hidden because it is from 1 to k-1: "fewer than k".
    #[schema(title = "ShownFewerThan")]
    FewerThan(u64),
    /// Hidden so that a small count beside it cannot be worked out.
    #[schema(title = "ShownHidden")]
    Hidden,
    /// A count rounded to the nearest 5 (equality figures).
    #[schema(title = "ShownRounded")]
    Rounded(u64),
}

impl Default for Shown {
    fn default() -> Self {
        Shown::Count(0)
    }
}

impl Shown {
    pub fn words(&self) -> String {
        match self {
            Shown::Count(n) => n.to_string(),
            Shown::FewerThan(k) => format!("fewer than {k}"),
            Shown::Hidden => "not shown (so that a small number cannot be worked out)".into(),
            Shown::Rounded(n) => format!("about {n}"),
        }
    }

    /// The count rounded to the nearest 5 (halves up), as the Higher
    /// Education Statistics Agency publishes counts of people: a count
    /// shown exactly becomes [`Shown::Rounded`]; zero, hidden and "fewer
    /// than" counts stay as they are.
    pub fn rounded(self) -> Shown {
        match self {
            Shown::Count(n) if n > 0 => Shown::Rounded((n + 2) / 5 * 5),
            other => other,
        }
    }
}

/// One count of people as published alone: from 1 to k-1 it is "fewer
/// than k".
pub fn people(n: u64, k: u64) -> Shown {
    suppress(&[n], k).1
}

/// Publishes a table of counts and its total so that no count from 1 to
/// k-1 can be read or worked out. Small counts are hidden (primary
/// suppression). If exactly one count is hidden, the smallest other
/// non-zero count is hidden too, so the small one cannot be found by
/// subtracting the others from the total (secondary suppression). A total
/// under k is itself hidden, and then so is every non-zero count.
pub fn suppress(counts: &[u64], k: u64) -> (Vec<Shown>, Shown) {
    suppress_also(counts, k, &vec![false; counts.len()])
}

/// Whether someone who knows the total, the shown counts and the rules
/// (a "fewer than k" count is 1 to k-1; any other hidden count is at least
/// 1) is left with at least two possible values for every hidden count.
fn each_hidden_count_is_uncertain(cells: &[Shown], total: u64, k: u64) -> bool {
    let shown: u64 = cells
        .iter()
        .map(|c| if let Shown::Count(n) = c { *n } else { 0 })
        .sum();
    let rest = total.saturating_sub(shown);
    let range = |c: &Shown| match c {
        Shown::FewerThan(_) => (1, k - 1),
        Shown::Hidden => (1, rest),
        Shown::Count(n) => (*n, *n),
        Shown::Rounded(n) => (n.saturating_sub(2), n + 2),
    };
    let hidden: Vec<(u64, u64)> = cells
        .iter()
        .filter(|c| !matches!(c, Shown::Count(_)))
        .map(range)
        .collect();
    if hidden.is_empty() {
        return true;
    }
    // The others' bounds are the sums less this count's own: one pass, not
    // one a count (a table of 40,000 projects has thousands hidden).
    let lo_sum: u128 = hidden.iter().map(|r| u128::from(r.0)).sum();
    let hi_sum: u128 = hidden.iter().map(|r| u128::from(r.1)).sum();
    hidden.iter().all(|&(lo, hi)| {
        let lo_others = u64::try_from(lo_sum - u128::from(lo)).unwrap_or(u64::MAX);
        let hi_others = u64::try_from(hi_sum - u128::from(hi)).unwrap_or(u64::MAX);
        // The values v of this count for which the others can make up the
        // rest: rest - hi_others <= v <= rest - lo_others, within [lo, hi].
        let from = lo.max(rest.saturating_sub(hi_others));
        let to = hi.min(rest.saturating_sub(lo_others));
        rest >= lo_others && to > from
    })
}

/// [`suppress`], hiding as well the counts marked in `also` (counts that
/// another published table would give away), shown as [`Shown::Hidden`].
pub fn suppress_also(counts: &[u64], k: u64, also: &[bool]) -> (Vec<Shown>, Shown) {
    let total: u64 = counts.iter().sum();
    let small = |n: u64| n > 0 && n < k;
    if small(total) {
        let cells = counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    Shown::Count(0)
                } else {
                    Shown::FewerThan(k)
                }
            })
            .collect();
        return (cells, Shown::FewerThan(k));
    }
    let mut cells: Vec<Shown> = counts
        .iter()
        .zip(also)
        .map(|(&n, &also)| {
            if small(n) {
                Shown::FewerThan(k)
            } else if also {
                Shown::Hidden
            } else {
                Shown::Count(n)
            }
        })
        .collect();
    // Hide more until no hidden count can be worked out from the total and
    // the others: each must have at least two values that fit.
    while !each_hidden_count_is_uncertain(&cells, total, k) {
        let next = cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Shown::Count(n) if *n > 0 => Some((i, *n)),
                _ => None,
            })
            .min_by_key(|(_, n)| *n)
            .map(|(i, _)| i);
        match next {
            Some(i) => cells[i] = Shown::Hidden,
            None => {
                // Nothing left to hide beside them: withhold the whole row,
                // zeros too, so not even "at least one" can be read.
                cells = vec![Shown::Hidden; counts.len()];
                break;
            }
        }
    }
    (cells, Shown::Count(total))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub action_id: ActionId,
    pub what: String,
    pub owned_by_partner: bool,
    pub due: Date,
    pub done: bool,
    pub what_changed: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResponseView {
    pub decision_id: DecisionId,
    /// As the record now says it: corrected, if it was (see `corrected`).
    pub question: String,
    /// As the record now says it: corrected, if it was (see `corrected`).
    pub outcome: String,
    pub response: Response,
    pub reason: String,
    pub actions: Vec<ActionView>,
    /// The corrections of the decision's record, the earliest first: the
    /// words above are the corrected ones.
    pub corrected: Vec<CorrectionView>,
}

/// A correction of words a view shows (docs/ACCOUNTABILITY.md): the view
/// gives the corrected words; this says which, when, why, and what the
/// record said before.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CorrectionView {
    /// Which words were corrected, named as in the record's payload
    /// ("outcome", "question"); `null` for a note about the record.
    pub field: Option<&'static str>,
    pub corrected_on: Date,
    /// The words as corrected (for a note, the note).
    pub correction: String,
    pub reason: String,
    /// What the record said before this correction.
    pub before: Option<String>,
}

/// The corrections of the record at `seq`, the earliest first.
pub fn corrections_view(model: &Model, seq: crate::ledger::Seq) -> Vec<CorrectionView> {
    let mut now: std::collections::HashMap<Field, String> = Default::default();
    model
        .corrections_of_record(seq)
        .map(|c| {
            let correction = model.first_said(&c.words);
            CorrectionView {
                field: c.field.map(Field::name),
                corrected_on: Date::of(c.at),
                reason: model.first_said(&c.reason),
                before: c.field.map(|f| {
                    now.insert(f, correction.clone())
                        .unwrap_or_else(|| model.first_said(&Said::at(seq, f)))
                }),
                correction,
            }
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProposalView {
    pub proposal_id: ProposalId,
    pub text: String,
    pub raised_on: String,
    /// "answered", "waiting" or "withdrawn".
    pub status: &'static str,
    /// Where it stands in one word: waiting, withdrawn, accepted,
    /// accepted-with-changes, not-accepted or done (see `idea::Status`).
    pub outcome: &'static str,
    pub days_waiting: Option<i64>,
    pub responses: Vec<ResponseView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct YouSaidProject {
    pub project_id: ProjectId,
    pub title: String,
    pub proposals: Vec<ProposalView>,
    pub answered: u64,
    pub waiting: u64,
    pub withdrawn: u64,
    /// Partner proposals that led to at least one completed action.
    pub led_to_change: u64,
    pub longest_wait_days: Option<i64>,
}

#[derive(Serialize, Deserialize, Default, Clone, utoipa::ToSchema)]
pub struct Totals {
    pub partner_proposals: u64,
    pub answered: u64,
    pub waiting: u64,
    pub withdrawn: u64,
    pub led_to_change: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct YouSaidWeDid {
    pub projects: Vec<YouSaidProject>,
    pub totals: Totals,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub decision_id: DecisionId,
    pub question: String,
    pub stage: Stage,
    pub method: Method,
    pub class: Jointness,
    pub why: String,
    /// A partner's confirmation was made with a sign-in card a member of
    /// staff made (and not shown since to be the partner's own), so it is
    /// not counted as the partner's word.
    pub confirmed_on_staff_card: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StageView {
    pub stage: Stage,
    pub decisions: u64,
    pub joint: u64,
    /// Recorded as joint, but a partner disputes their part.
    pub joint_disputed: u64,
    pub partner_informed: u64,
    pub staff_only: u64,
    pub one_person: u64,
    /// "shared", "partly shared" or "not shared".
    pub share: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JointnessProject {
    pub project_id: ProjectId,
    pub title: String,
    pub declared: Involvement,
    /// What the decisions show; `None` before any decision at conception,
    /// design or delivery.
    pub observed: Option<Involvement>,
    pub summary: String,
    pub stages: Vec<StageView>,
    pub decisions: Vec<DecisionView>,
    /// Decisions that keep the project from what it declares.
    pub differences: Vec<DecisionId>,
}

#[derive(Serialize, Deserialize, Default, Clone, utoipa::ToSchema)]
pub struct JointnessTotals {
    pub decisions: u64,
    pub joint: u64,
    /// Recorded as made jointly (everyone agreed, or a vote, with
    /// partners), but a partner disputes the record of their part.
    pub joint_disputed: u64,
    pub partner_informed: u64,
    pub staff_only: u64,
    pub one_person: u64,
    pub projects_behaving_as_declared: u64,
    pub projects_behaving_otherwise: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JointnessReport {
    pub projects: Vec<JointnessProject>,
    pub totals: JointnessTotals,
}

/// The signs of tokenism as published. Counts of people (partners, and
/// partners involved only once) go through [`suppress`] like every figure
/// about people; the rest count meetings, ideas, decisions and actions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenismSigns {
    pub partners: Shown,
    pub partners_involved_once: Shown,
    pub meetings: u64,
    pub meetings_without_materials_in_advance: u64,
    pub partner_proposals_waiting_too_long: u64,
    pub decisions_disputed_by_partners: u64,
    pub challenges_unanswered: u64,
    pub actions: u64,
    pub actions_owned_by_partners: u64,
    /// Share of actions owned by partners, 0 to 1 (none if no actions).
    pub partner_action_share: Option<f64>,
}

/// The signs as counted, before publishing.
#[derive(Default, Clone, Serialize, Deserialize)]
struct SignCounts {
    partners: u64,
    partners_involved_once: u64,
    meetings: u64,
    meetings_without_materials_in_advance: u64,
    partner_proposals_waiting_too_long: u64,
    decisions_disputed_by_partners: u64,
    challenges_unanswered: u64,
    actions: u64,
    actions_owned_by_partners: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenismProject {
    pub project_id: ProjectId,
    pub title: String,
    #[serde(flatten)]
    pub signs: TokenismSigns,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenismReport {
    pub waiting_days: i64,
    pub projects: Vec<TokenismProject>,
    pub totals: TokenismSigns,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresenceProject {
    pub project_id: ProjectId,
    pub title: String,
    pub partners: Shown,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresenceReport {
    pub k: u64,
    pub projects: Vec<PresenceProject>,
    /// Partner places across the projects shown (a person in two projects
    /// counts twice), published with the same suppression.
    pub partner_places: Shown,
    /// Distinct partners overall.
    pub partners: Shown,
    /// Share with lived experience of poverty in the last two years. It
    /// comes from self-declared answers, which are collected with the
    /// privacy work; until then there is nothing to show.
    pub lived_experience_recent: Option<Shown>,
    pub note: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutcomeView {
    pub outcome: String,
    pub evidence: String,
    pub recorded_on: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AimView {
    pub aim_id: AimId,
    pub aim: String,
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImpactProject {
    pub project_id: ProjectId,
    pub title: String,
    pub stage: Stage,
    pub aims: Vec<AimView>,
    pub last_review: Option<String>,
    pub next_review: Option<Date>,
    pub review_overdue: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImpactReport {
    pub projects: Vec<ImpactProject>,
    pub reviews_overdue: u64,
}

/// All five projections.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Report {
    pub as_of: Date,
    pub last_seq: Option<u64>,
    pub you_said_we_did: YouSaidWeDid,
    pub jointness: JointnessReport,
    pub tokenism: TokenismReport,
    pub presence: PresenceReport,
    pub impact: ImpactReport,
    /// Were partners paid for their time?
    pub pay: super::pay::PayReport,
}

/// Text people wrote, made safe for a terminal: every control character
/// (a newline, a carriage return, an escape sequence's ESC, a bell) is
/// written as its escape (`\n`, `\u{1b}`), so what someone typed can
/// neither start a line of its own in the report nor drive the terminal.
pub fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn day(t: crate::ledger::Timestamp) -> Date {
    Date::of(t)
}

impl Report {
    /// The projections over one project, or all when `project` is `None`.
    pub fn build(model: &Model, project: Option<ProjectId>, s: Settings) -> Report {
        Self::build_for(model, &|id| project.is_none_or(|p| p == *id), s)
    }

    /// The projections over the projects `include` admits.
    pub fn build_for(model: &Model, include: &dyn Fn(&ProjectId) -> bool, s: Settings) -> Report {
        let projects: Vec<&Project> = model.projects.values().filter(|p| include(&p.id)).collect();
        Report {
            as_of: s.today,
            last_seq: model.last_seq,
            you_said_we_did: you_said(model, &projects, s, Read::Words),
            jointness: jointness(model, &projects, Read::Words),
            tokenism: tokenism(model, &projects, s),
            presence: presence(model, &projects, s),
            impact: impact(model, &projects, s, Read::Words),
            pay: super::pay::report(model, &projects, include, s, s.exact),
        }
    }
}

/// Most projects one page of the organisation-wide projections holds.
pub const MAX_OVERVIEW_PAGE: usize = 100;

/// A project's row in the organisation-wide "You said, we did": its
/// counts; its proposals, and what was done about each, are in the
/// project's own projection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct YouSaidRow {
    pub project_id: ProjectId,
    pub title: String,
    /// Proposals partners made in this project (answered, waiting and
    /// withdrawn).
    pub partner_proposals: u64,
    pub answered: u64,
    pub waiting: u64,
    pub withdrawn: u64,
    /// Partner proposals that led to at least one completed action.
    pub led_to_change: u64,
    pub longest_wait_days: Option<i64>,
}

/// A project's row in the organisation-wide jointness projection: what it
/// declares and what its decisions show, stage by stage; each decision,
/// with its class and the reason, is in the project's own projection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JointnessRow {
    pub project_id: ProjectId,
    pub title: String,
    pub declared: Involvement,
    /// What the decisions show; `None` before any decision at conception,
    /// design or delivery.
    pub observed: Option<Involvement>,
    pub summary: String,
    pub stages: Vec<StageView>,
    /// How many decisions the project recorded.
    pub decisions: u64,
    /// How many decisions keep the project from what it declares.
    pub differences: u64,
}

/// A project's row in the organisation-wide impact projection; its aims
/// and outcomes are in the project's own projection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImpactRow {
    pub project_id: ProjectId,
    pub title: String,
    pub stage: Stage,
    /// How many aims the project has.
    pub aims: u64,
    /// How many outcomes were recorded against them.
    pub outcomes: u64,
    pub last_review: Option<String>,
    pub next_review: Option<Date>,
    pub review_overdue: bool,
}

/// The organisation-wide projections, bounded: each section's totals count
/// every project the reader sees, while its rows are one page of projects
/// (in project id order, at most [`MAX_OVERVIEW_PAGE`]) and hold counts,
/// not lists: a project's proposals, decisions and outcomes are in its
/// own projection ([`Report::build`] for one project).
pub struct Overview {
    pub as_of: Date,
    pub last_seq: Option<u64>,
    /// How many projects the totals count (on every page).
    pub projects: u64,
    /// The last project of this page when more follow (pass it as `after`).
    pub next: Option<ProjectId>,
    pub you_said_we_did: Section<YouSaidRow, Totals>,
    pub jointness: Section<JointnessRow, JointnessTotals>,
    /// Decisions at each stage, over every project (for the pages).
    pub stage_totals: StageTotals,
    pub tokenism: TokenismReport,
    pub presence: PresenceReport,
    /// The totals: how many projects' reviews are overdue.
    pub impact: Section<ImpactRow, u64>,
    /// Were partners paid for their time? (this page's projects, and the
    /// totals over every project).
    pub pay: super::pay::PayReport,
}

/// One section of the [`Overview`]: the page's rows, and the totals over
/// every project.
pub struct Section<R, T> {
    pub rows: Vec<R>,
    pub totals: T,
}

impl<R, T: Default> Default for Section<R, T> {
    fn default() -> Self {
        Section {
            rows: Vec::new(),
            totals: T::default(),
        }
    }
}

/// One project's share of the organisation's totals.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Figures {
    you: Totals,
    joint: JointnessTotals,
    /// Decisions at each stage, as [`StageTotals`] counts them.
    stages: Vec<(Stage, StageCounts)>,
    signs: SignCounts,
    overdue: u64,
}

impl Figures {
    /// Adds `other` to these figures, or takes it off.
    fn count(&mut self, other: &Figures, plus: bool) {
        add_totals(&mut self.you, &other.you, plus);
        add_jointness(&mut self.joint, &other.joint, plus);
        add_stages(&mut self.stages, other.stages.iter().copied(), plus);
        add_signs(&mut self.signs, &other.signs, plus);
        count(&mut self.overdue, other.overdue, plus);
    }

    fn of(model: &Model, p: &Project, s: Settings) -> Figures {
        let one = std::slice::from_ref(&p);
        let j = jointness(model, one, Read::CountsOnly);
        let stages = stage_totals(j.projects.iter().flat_map(|p| p.stages.iter()));
        Figures {
            you: you_said(model, one, s, Read::CountsOnly).totals,
            joint: j.totals,
            stages,
            signs: sign_counts(model, p, s),
            overdue: impact(model, one, s, Read::CountsOnly).reviews_overdue,
        }
    }
}

/// Decisions at one stage counted: `[decisions, joint, partner-informed,
/// staff only, one person, said to be joint but disputed]`.
pub type StageCounts = [u64; 6];

/// Decisions at each stage of every project counted, in stage order.
pub type StageTotals = Vec<(Stage, StageCounts)>;

/// The decisions of these stage views, summed at each stage.
pub fn stage_totals<'v>(views: impl IntoIterator<Item = &'v StageView>) -> StageTotals {
    let mut totals = StageTotals::new();
    add_stages(
        &mut totals,
        views.into_iter().map(|v| {
            (
                v.stage,
                [
                    v.decisions,
                    v.joint,
                    v.partner_informed,
                    v.staff_only,
                    v.one_person,
                    v.joint_disputed,
                ],
            )
        }),
        true,
    );
    totals
}

/// Adds each stage's counts to `to` (or takes them off); a stage left with
/// no decisions is dropped, as a count afresh would not have it.
fn add_stages(
    to: &mut StageTotals,
    from: impl IntoIterator<Item = (Stage, StageCounts)>,
    plus: bool,
) {
    for (stage, c) in from {
        let i = match to.iter().position(|(s, _)| *s == stage) {
            Some(i) => i,
            None => {
                to.push((stage, [0; 6]));
                to.len() - 1
            }
        };
        for (t, n) in to[i].1.iter_mut().zip(c) {
            count(t, n, plus);
        }
    }
    to.retain(|(_, c)| c[0] > 0);
    to.sort_by_key(|(s, _)| *s);
}

/// What every project's figures depend on beyond its own records:
/// anything that belongs to no project (people joining the organisation's
/// group, erasures), and the day and settings they are counted with.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Basis {
    outside_projects: u64,
    today: Date,
    waiting_days: i64,
    k: u64,
}

impl Basis {
    fn of(model: &Model, s: Settings) -> Basis {
        Basis {
            outside_projects: model.outside_projects,
            today: s.today,
            waiting_days: s.waiting_days,
            k: s.k,
        }
    }
}

/// The organisation's totals over every project, kept as running sums:
/// when a project's records change, its old share is taken off and its
/// new one added, so a reader's cost follows what changed since the last
/// reader, not the number of projects. Anything in [`Basis`] changing (a
/// new day, an erasure) counts every project afresh.
struct Running {
    basis: Basis,
    /// The last record the sums take in.
    seen: Option<Seq>,
    sum: Figures,
    each: HashMap<ProjectId, Packed>,
}

/// A project's [`Figures`], packed while kept: most counts are small, so
/// as varints they take a byte each, and 40,000 projects' figures take
/// 4 MB, not the 20 MB of 8-byte counts in a map.
struct Packed(Box<[u8]>);

impl Packed {
    fn of(f: &Figures) -> Packed {
        Packed(
            postcard::to_allocvec(f)
                .expect("figures pack")
                .into_boxed_slice(),
        )
    }
    fn figures(&self) -> Figures {
        postcard::from_bytes(&self.0).expect("figures packed here unpack")
    }
}

impl Running {
    fn afresh(model: &Model, s: Settings) -> Running {
        let mut sum = Figures::default();
        let mut each = HashMap::with_capacity(model.projects.len());
        for p in model.projects.values() {
            let f = Figures::of(model, p, s);
            sum.count(&f, true);
            each.insert(p.id, Packed::of(&f));
        }
        Running {
            basis: Basis::of(model, s),
            seen: model.last_seq,
            sum,
            each,
        }
    }

    /// Brings the sums up to `model`.
    fn catch_up(&mut self, model: &Model, s: Settings) {
        for p in model.changed_since(self.seen) {
            let f = Figures::of(model, p, s);
            self.sum.count(&f, true);
            if let Some(old) = self.each.insert(p.id, Packed::of(&f)) {
                self.sum.count(&old.figures(), false);
            }
        }
        self.seen = model.last_seq;
    }
}

/// Who is present in every project, suppressed as one table: it changes
/// only when someone joins or leaves, a project starts, or something
/// outside projects (an erasure) is recorded.
struct Presence {
    key: (usize, u64, u64, u64),
    /// Each project in id order, with its partners as published.
    shown: Vec<(ProjectId, Shown)>,
    places: Shown,
    partners: Shown,
}

impl Presence {
    fn key(model: &Model, s: Settings) -> (usize, u64, u64, u64) {
        (
            model.projects.len(),
            model.membership_changes,
            model.outside_projects,
            s.k,
        )
    }

    fn of(model: &Model, s: Settings) -> Presence {
        let projects: Vec<&Project> = model.projects.values().collect();
        let counted = presence_counts(model, &projects, s);
        Presence {
            key: Self::key(model, s),
            shown: projects.iter().map(|p| p.id).zip(counted.0).collect(),
            places: counted.1,
            partners: counted.2,
        }
    }

    /// A project's partners as this table publishes them.
    fn cell(&self, id: &ProjectId) -> Shown {
        self.shown
            .binary_search_by_key(id, |(p, _)| *p)
            .map_or(Shown::Hidden, |i| self.shown[i].1)
    }
}

/// Whether a view is built to be shown, its words read from the log, or
/// only counted: the figures kept for every project read no words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Words,
    CountsOnly,
}

impl Read {
    fn text(self, model: &Model, said: &Said) -> String {
        match self {
            Read::Words => model.text(said),
            Read::CountsOnly => String::new(),
        }
    }
}

/// The organisation-wide figures kept between readers: running totals
/// over every project, and who is present. A reader who sees only some
/// projects (a partner) has their few counted afresh.
#[derive(Default)]
pub struct FiguresCache(std::sync::Mutex<Kept>);

#[derive(Default)]
struct Kept {
    running: Option<Running>,
    presence: Option<std::sync::Arc<Presence>>,
}

impl FiguresCache {
    /// The totals over every project, and their figures for the projects
    /// in `page`, up to `model`.
    fn every_project(
        &self,
        model: &Model,
        s: Settings,
        page: &[&Project],
    ) -> (Figures, Vec<Figures>) {
        let mut kept = self.0.lock().unwrap_or_else(|poisoned| {
            // A reader that panicked may have left the sums half caught
            // up: count afresh rather than trust them.
            let mut kept = poisoned.into_inner();
            kept.running = None;
            kept
        });
        let basis = Basis::of(model, s);
        let running = match &mut kept.running {
            Some(r) if r.basis == basis => {
                r.catch_up(model, s);
                r
            }
            other => other.insert(Running::afresh(model, s)),
        };
        let rows = page
            .iter()
            .map(|p| {
                running
                    .each
                    .get(&p.id)
                    .map(Packed::figures)
                    .unwrap_or_else(|| Figures::of(model, p, s))
            })
            .collect();
        (running.sum.clone(), rows)
    }

    /// A project's partners now, as every view publishes them: the cell
    /// of the table over every project (see [`partners_now`]).
    pub fn partners_of(&self, model: &Model, k: u64, id: &ProjectId) -> Shown {
        let s = Settings {
            k,
            ..Settings::today()
        };
        self.presence(model, s).cell(id)
    }

    fn presence(&self, model: &Model, s: Settings) -> std::sync::Arc<Presence> {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &kept.presence {
            Some(p) if p.key == Presence::key(model, s) => p.clone(),
            _ => kept
                .presence
                .insert(std::sync::Arc::new(Presence::of(model, s)))
                .clone(),
        }
    }
}

impl Overview {
    /// The projections over the projects `include` admits (every project
    /// for `None`), with the rows of the `limit` projects after `after`
    /// (by id).
    pub fn build(
        model: &Model,
        include: Option<&dyn Fn(&ProjectId) -> bool>,
        after: Option<ProjectId>,
        limit: usize,
        s: Settings,
    ) -> Overview {
        Self::build_cached(model, include, after, limit, s, &FiguresCache::default())
    }

    /// [`build`](Self::build), with the totals over every project kept
    /// in `cache` and caught up with what changed since.
    pub fn build_cached(
        model: &Model,
        include: Option<&dyn Fn(&ProjectId) -> bool>,
        after: Option<ProjectId>,
        limit: usize,
        s: Settings,
        cache: &FiguresCache,
    ) -> Overview {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = after.map_or(Unbounded, Excluded);
        let (projects, sum, page, next, presence) = match include {
            None => {
                let mut rest = model.projects.range((from, Unbounded)).map(|(_, p)| p);
                let page: Vec<&Project> = rest.by_ref().take(limit).collect();
                let next = rest.next().and(page.last().map(|p| p.id));
                let (sum, rows) = cache.every_project(model, s, &page);
                let kept = cache.presence(model, s);
                let start = kept
                    .shown
                    .partition_point(|(id, _)| after.is_some_and(|a| *id <= a));
                let shown = kept.shown[start..].iter().map(|(_, n)| *n);
                let presence =
                    PresenceReport::of(model, &page, shown, kept.places, kept.partners, s);
                let page = page.into_iter().zip(rows).collect::<Vec<_>>();
                (model.projects.len(), sum, page, next, presence)
            }
            Some(include) => {
                let projects: Vec<&Project> =
                    model.projects.values().filter(|p| include(&p.id)).collect();
                let start = after.map_or(0, |a| projects.partition_point(|p| p.id <= a));
                let end = start.saturating_add(limit).min(projects.len());
                let next = (end < projects.len())
                    .then(|| end.checked_sub(1).map(|i| projects[i].id))
                    .flatten();
                let mut sum = Figures::default();
                let mut page = Vec::new();
                for (i, p) in projects.iter().enumerate() {
                    let f = Figures::of(model, p, s);
                    sum.count(&f, true);
                    if (start..end).contains(&i) {
                        page.push((*p, f));
                    }
                }
                let whole = cache.presence(model, s);
                let presence = subset_presence(model, &projects, &projects[start..end], &whole, s);
                (projects.len(), sum, page, next, presence)
            }
        };
        let mut you = Section::<YouSaidRow, Totals> {
            rows: Vec::new(),
            totals: sum.you,
        };
        let mut joint = Section::<JointnessRow, JointnessTotals> {
            rows: Vec::new(),
            totals: sum.joint,
        };
        let mut tokenism_rows = Vec::new();
        let mut impact_rows = Section::<ImpactRow, u64> {
            rows: Vec::new(),
            totals: sum.overdue,
        };
        let everywhere = |_: &ProjectId| true;
        let pay = super::pay::report(
            model,
            &page.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            include.unwrap_or(&everywhere),
            s,
            s.exact,
        );
        // Only the page's projects are built in full, one at a time.
        for (p, counted) in page {
            let one = std::slice::from_ref(&p);
            let y = you_said(model, one, s, Read::Words);
            let j = jointness(model, one, Read::Words);
            let im = impact(model, one, s, Read::Words);
            you.rows.extend(y.projects.into_iter().map(|v| YouSaidRow {
                project_id: v.project_id,
                title: v.title,
                partner_proposals: v.proposals.len() as u64,
                answered: v.answered,
                waiting: v.waiting,
                withdrawn: v.withdrawn,
                led_to_change: v.led_to_change,
                longest_wait_days: v.longest_wait_days,
            }));
            joint
                .rows
                .extend(j.projects.into_iter().map(|v| JointnessRow {
                    project_id: v.project_id,
                    title: v.title,
                    declared: v.declared,
                    observed: v.observed,
                    summary: v.summary,
                    stages: v.stages,
                    decisions: v.decisions.len() as u64,
                    differences: v.differences.len() as u64,
                }));
            tokenism_rows.push(TokenismProject {
                project_id: p.id,
                title: model.text(&p.title),
                signs: published(&counted.signs, s.k),
            });
            impact_rows
                .rows
                .extend(im.projects.into_iter().map(|v| ImpactRow {
                    project_id: v.project_id,
                    title: v.title,
                    stage: v.stage,
                    aims: v.aims.len() as u64,
                    outcomes: v.aims.iter().map(|a| a.outcomes.len() as u64).sum(),
                    last_review: v.last_review,
                    next_review: v.next_review,
                    review_overdue: v.review_overdue,
                }));
        }
        Overview {
            as_of: s.today,
            last_seq: model.last_seq,
            projects: projects as u64,
            next,
            you_said_we_did: you,
            jointness: joint,
            stage_totals: sum.stages,
            tokenism: TokenismReport {
                waiting_days: s.waiting_days,
                projects: tokenism_rows,
                totals: published(&sum.signs, s.k),
            },
            presence,
            impact: impact_rows,
            pay,
        }
    }
}

/// Adds `n` to `to`, or takes it off (a share leaving the running sums).
fn count(to: &mut u64, n: u64, plus: bool) {
    if plus {
        *to += n;
    } else {
        *to -= n;
    }
}

fn add_totals(t: &mut Totals, s: &Totals, plus: bool) {
    count(&mut t.partner_proposals, s.partner_proposals, plus);
    count(&mut t.answered, s.answered, plus);
    count(&mut t.waiting, s.waiting, plus);
    count(&mut t.withdrawn, s.withdrawn, plus);
    count(&mut t.led_to_change, s.led_to_change, plus);
}

fn add_jointness(t: &mut JointnessTotals, s: &JointnessTotals, plus: bool) {
    count(&mut t.decisions, s.decisions, plus);
    count(&mut t.joint, s.joint, plus);
    count(&mut t.joint_disputed, s.joint_disputed, plus);
    count(&mut t.partner_informed, s.partner_informed, plus);
    count(&mut t.staff_only, s.staff_only, plus);
    count(&mut t.one_person, s.one_person, plus);
    count(
        &mut t.projects_behaving_as_declared,
        s.projects_behaving_as_declared,
        plus,
    );
    count(
        &mut t.projects_behaving_otherwise,
        s.projects_behaving_otherwise,
        plus,
    );
}

fn you_said(model: &Model, projects: &[&Project], s: Settings, read: Read) -> YouSaidWeDid {
    let mut totals = Totals::default();
    let mut out = Vec::new();
    for p in projects {
        let mut view = YouSaidProject {
            project_id: p.id,
            title: read.text(model, &p.title),
            proposals: Vec::new(),
            answered: 0,
            waiting: 0,
            withdrawn: 0,
            led_to_change: 0,
            longest_wait_days: None,
        };
        for pr in p.proposals.iter().filter_map(|id| model.proposals.get(id)) {
            if !pr.by_partner {
                continue;
            }
            let responses: Vec<ResponseView> = pr
                .answers
                .iter()
                .filter_map(|(did, response, reason)| {
                    let d = model.decisions.get(did)?;
                    Some(ResponseView {
                        decision_id: d.id,
                        question: read.text(model, &d.question()),
                        outcome: read.text(model, &d.outcome()),
                        response: *response,
                        reason: read.text(model, reason),
                        corrected: match read {
                            Read::Words => corrections_view(model, d.made_in()),
                            Read::CountsOnly => Vec::new(),
                        },
                        actions: super::idea::actions_on(model, did, pr)
                            .map(|a| ActionView {
                                action_id: a.id,
                                what: read.text(model, &a.what),
                                owned_by_partner: is_partner(model, &a.owner),
                                due: a.due,
                                done: a.completed.is_some(),
                                what_changed: a.completed.as_ref().map(|t| read.text(model, t)),
                            })
                            .collect(),
                    })
                })
                .collect();
            let raised = pr.day();
            let (status, days) = if pr.withdrawn.is_some() {
                view.withdrawn += 1;
                ("withdrawn", None)
            } else if responses.is_empty() {
                view.waiting += 1;
                let d = raised.days_until(s.today).max(0);
                view.longest_wait_days = Some(view.longest_wait_days.map_or(d, |m: i64| m.max(d)));
                ("waiting", Some(d))
            } else {
                view.answered += 1;
                ("answered", None)
            };
            if responses.iter().any(|r| r.actions.iter().any(|a| a.done)) {
                view.led_to_change += 1;
            }
            view.proposals.push(ProposalView {
                proposal_id: pr.id,
                text: read.text(model, &pr.text),
                raised_on: raised.to_string(),
                status,
                outcome: super::idea::status(model, pr, s.today).code(),
                days_waiting: days,
                responses,
            });
        }
        totals.partner_proposals += view.proposals.len() as u64;
        totals.answered += view.answered;
        totals.waiting += view.waiting;
        totals.withdrawn += view.withdrawn;
        totals.led_to_change += view.led_to_change;
        out.push(view);
    }
    YouSaidWeDid {
        projects: out,
        totals,
    }
}

const DECIDING_STAGES: [Stage; 3] = [Stage::Conception, Stage::Design, Stage::Delivery];

fn jointness(model: &Model, projects: &[&Project], read: Read) -> JointnessReport {
    let mut totals = JointnessTotals::default();
    let mut out = Vec::new();
    for p in projects {
        let decisions: Vec<(&Decision, Jointness, String)> = p
            .decisions
            .iter()
            .filter_map(|id| model.decisions.get(id))
            .map(|d| {
                let (c, why) = classify(model, d);
                (d, c, why)
            })
            .collect();
        let mut stages = Vec::new();
        for stage in [
            Stage::Conception,
            Stage::Design,
            Stage::Delivery,
            Stage::Review,
        ] {
            let here: Vec<Jointness> = decisions
                .iter()
                .filter(|(d, _, _)| d.stage == stage)
                .map(|(_, c, _)| *c)
                .collect();
            if here.is_empty() {
                continue;
            }
            let count = |c: Jointness| here.iter().filter(|x| **x == c).count() as u64;
            let share = if here.iter().all(|c| *c == Jointness::Joint) {
                "shared"
            } else if here.iter().any(|c| {
                matches!(
                    c,
                    Jointness::Joint | Jointness::JointDisputed | Jointness::PartnerInformed
                )
            }) {
                "partly shared"
            } else {
                "not shared"
            };
            stages.push(StageView {
                stage,
                decisions: here.len() as u64,
                joint: count(Jointness::Joint),
                joint_disputed: count(Jointness::JointDisputed),
                partner_informed: count(Jointness::PartnerInformed),
                staff_only: count(Jointness::StaffOnly),
                one_person: count(Jointness::OnePerson),
                share,
            });
        }
        let share_of = |stage: Stage| stages.iter().find(|v| v.stage == stage).map(|v| v.share);
        let deciding: Vec<Stage> = DECIDING_STAGES
            .into_iter()
            .filter(|s| share_of(*s).is_some())
            .collect();
        let observed = if deciding.is_empty() {
            None
        } else if deciding.iter().all(|s| share_of(*s) == Some("shared")) {
            Some(if deciding.iter().any(|s| *s != Stage::Design) {
                Involvement::CoProduction
            } else {
                Involvement::CoDesign
            })
        } else if share_of(Stage::Design) == Some("shared") {
            Some(Involvement::CoDesign)
        } else if decisions.iter().any(|(d, c, _)| {
            d.stage != Stage::Review
                && matches!(
                    c,
                    Jointness::Joint | Jointness::JointDisputed | Jointness::PartnerInformed
                )
        }) {
            Some(Involvement::Engagement)
        } else {
            Some(Involvement::Consultation)
        };
        // Decisions that fall short of what the declared type promises.
        let must_share: &[Stage] = match p.involvement {
            Involvement::CoProduction => &DECIDING_STAGES,
            Involvement::CoDesign => &[Stage::Design],
            _ => &[],
        };
        let differences: Vec<DecisionId> = decisions
            .iter()
            .filter(|(d, c, _)| {
                (must_share.contains(&d.stage) && *c != Jointness::Joint)
                    || (p.involvement == Involvement::Engagement
                        && observed == Some(Involvement::Consultation)
                        && d.stage != Stage::Review)
            })
            .map(|(d, _, _)| d.id)
            .collect();
        let summary = match observed {
            None => format!(
                "Declared {}; no decisions recorded yet at conception, design or delivery.",
                p.involvement.words()
            ),
            Some(o) if o == p.involvement => format!(
                "Declared {}; the decisions show {} too.",
                p.involvement.words(),
                o.words()
            ),
            Some(o) => {
                let short: Vec<String> = stages
                    .iter()
                    .filter(|v| must_share.contains(&v.stage) && v.share != "shared")
                    .map(|v| format!("{} decisions were {}", v.stage.words(), v.share))
                    .collect();
                let why = if short.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", short.join(", "))
                };
                format!(
                    "Declared {}; {}behaves like {}.",
                    p.involvement.words(),
                    why,
                    o.words()
                )
            }
        };
        if let Some(o) = observed {
            if o == p.involvement {
                totals.projects_behaving_as_declared += 1;
            } else {
                totals.projects_behaving_otherwise += 1;
            }
        }
        for (_, c, _) in &decisions {
            totals.decisions += 1;
            match c {
                Jointness::Joint => totals.joint += 1,
                Jointness::JointDisputed => totals.joint_disputed += 1,
                Jointness::PartnerInformed => totals.partner_informed += 1,
                Jointness::StaffOnly => totals.staff_only += 1,
                Jointness::OnePerson => totals.one_person += 1,
            }
        }
        out.push(JointnessProject {
            project_id: p.id,
            title: read.text(model, &p.title),
            declared: p.involvement,
            observed,
            summary,
            stages,
            decisions: decisions
                .iter()
                .map(|(d, c, why)| DecisionView {
                    decision_id: d.id,
                    question: read.text(model, &d.question()),
                    stage: d.stage,
                    method: d.method,
                    class: *c,
                    why: why.clone(),
                    confirmed_on_staff_card: confirmed_on_staff_card(model, d),
                })
                .collect(),
            differences,
        });
    }
    JointnessReport {
        projects: out,
        totals,
    }
}

fn tokenism(model: &Model, projects: &[&Project], s: Settings) -> TokenismReport {
    let mut totals = SignCounts::default();
    let mut out = Vec::new();
    for p in projects {
        let signs = sign_counts(model, p, s);
        add_signs(&mut totals, &signs, true);
        out.push(TokenismProject {
            project_id: p.id,
            title: model.text(&p.title),
            signs: published(&signs, s.k),
        });
    }
    TokenismReport {
        waiting_days: s.waiting_days,
        projects: out,
        totals: published(&totals, s.k),
    }
}

/// One project's signs of tokenism, as counted.
fn sign_counts(model: &Model, p: &Project, s: Settings) -> SignCounts {
    // Everyone who took part as a partner, gone or not; never the erased.
    let partners: Vec<_> = p
        .members
        .iter()
        .filter(|(id, m)| m.role == Role::Partner && !model.erased.contains(*id))
        .collect();
    let actions: Vec<_> = p
        .actions
        .iter()
        .filter_map(|a| model.actions.get(a))
        .collect();
    let decisions: Vec<_> = p
        .decisions
        .iter()
        .filter_map(|d| model.decisions.get(d))
        .collect();
    SignCounts {
        partners: partners.len() as u64,
        partners_involved_once: partners.iter().filter(|(_, m)| m.involvements == 1).count() as u64,
        meetings: p.meetings.len() as u64,
        meetings_without_materials_in_advance: p
            .meetings
            .iter()
            .filter(|m| !m.materials_in_advance)
            .count() as u64,
        partner_proposals_waiting_too_long: p
            .proposals
            .iter()
            .filter_map(|id| model.proposals.get(id))
            .filter(|pr| {
                pr.by_partner
                    && pr.withdrawn.is_none()
                    && pr.answers.is_empty()
                    && pr.day().days_until(s.today) > s.waiting_days
            })
            .count() as u64,
        decisions_disputed_by_partners: decisions
            .iter()
            .filter(|d| {
                d.stances()
                    .iter()
                    .any(|(w, st)| is_partner(model, w) && matches!(st, Stance::Disputed(_)))
            })
            .count() as u64,
        challenges_unanswered: decisions
            .iter()
            .flat_map(|d| d.challenges().iter())
            .filter_map(|c| model.challenges.get(c))
            .filter(|c| c.answer.is_none())
            .count() as u64,
        actions: actions.len() as u64,
        actions_owned_by_partners: actions
            .iter()
            .filter(|a| is_partner(model, &a.owner))
            .count() as u64,
    }
}

fn add_signs(t: &mut SignCounts, s: &SignCounts, plus: bool) {
    count(&mut t.partners, s.partners, plus);
    count(
        &mut t.partners_involved_once,
        s.partners_involved_once,
        plus,
    );
    count(&mut t.meetings, s.meetings, plus);
    count(
        &mut t.meetings_without_materials_in_advance,
        s.meetings_without_materials_in_advance,
        plus,
    );
    count(
        &mut t.partner_proposals_waiting_too_long,
        s.partner_proposals_waiting_too_long,
        plus,
    );
    count(
        &mut t.decisions_disputed_by_partners,
        s.decisions_disputed_by_partners,
        plus,
    );
    count(&mut t.challenges_unanswered, s.challenges_unanswered, plus);
    count(&mut t.actions, s.actions, plus);
    count(
        &mut t.actions_owned_by_partners,
        s.actions_owned_by_partners,
        plus,
    );
}

/// The signs as published: partners involved once, beside the others,
/// with their total, suppressed as one table.
fn published(c: &SignCounts, k: u64) -> TokenismSigns {
    let (cells, total) = suppress(
        &[
            c.partners_involved_once,
            c.partners - c.partners_involved_once,
        ],
        k,
    );
    TokenismSigns {
        partners: total,
        partners_involved_once: cells[0],
        meetings: c.meetings,
        meetings_without_materials_in_advance: c.meetings_without_materials_in_advance,
        partner_proposals_waiting_too_long: c.partner_proposals_waiting_too_long,
        decisions_disputed_by_partners: c.decisions_disputed_by_partners,
        challenges_unanswered: c.challenges_unanswered,
        actions: c.actions,
        actions_owned_by_partners: c.actions_owned_by_partners,
        partner_action_share: (c.actions > 0)
            .then(|| c.actions_owned_by_partners as f64 / c.actions as f64),
    }
}

fn presence(model: &Model, projects: &[&Project], s: Settings) -> PresenceReport {
    subset_presence(model, projects, projects, &Presence::of(model, s), s)
}

/// Who counts as one of a project's partners now: a partner who is part
/// of it and was not erased. Every count of people present comes from
/// here (docs/PRIVACY.md: an erased person is no longer counted).
pub fn partners_now<'m>(
    model: &'m Model,
    p: &'m Project,
) -> impl Iterator<Item = ParticipantId> + 'm {
    p.members
        .iter()
        .filter(|(id, m)| m.role == Role::Partner && m.active && !model.erased.contains(*id))
        .map(|(id, _)| *id)
}

/// Each project's partners now, suppressed as one table over all of
/// `projects`, with its total (places) and the partners counted once.
fn presence_counts(
    model: &Model,
    projects: &[&Project],
    s: Settings,
) -> (Vec<Shown>, Shown, Shown) {
    let counts: Vec<u64> = projects
        .iter()
        .map(|p| partners_now(model, p).count() as u64)
        .collect();
    let (shown, places) = suppress(&counts, s.k);
    let distinct: std::collections::HashSet<_> = projects
        .iter()
        .flat_map(|p| partners_now(model, p))
        .collect();
    let (_, partners) = suppress(&[distinct.len() as u64], s.k);
    (shown, places, partners)
}

/// The presence rows of `page` (within `projects`, the projects a view
/// is over), each as the table over every project publishes it, so that a
/// count hidden in one view is hidden in every view. Over every project,
/// the totals are that table's; over fewer, a total is given only when
/// every count it adds up is shown, since otherwise the shown counts taken
/// from it would give away a hidden one.
fn subset_presence(
    model: &Model,
    projects: &[&Project],
    page: &[&Project],
    whole: &Presence,
    s: Settings,
) -> PresenceReport {
    let cells: Vec<Shown> = page.iter().map(|p| whole.cell(&p.id)).collect();
    let (places, partners) = if projects.len() == model.projects.len() {
        (whole.places, whole.partners)
    } else if projects
        .iter()
        .all(|p| matches!(whole.cell(&p.id), Shown::Count(_)))
    {
        let (_, places, partners) = presence_counts(model, projects, s);
        (places, partners)
    } else {
        (Shown::Hidden, Shown::Hidden)
    };
    PresenceReport::of(model, page, cells, places, partners, s)
}

impl PresenceReport {
    /// The report with the rows of `page` alone, each count as the whole
    /// table published it, so a page shows exactly what the whole would.
    fn of(
        model: &Model,
        page: &[&Project],
        shown: impl IntoIterator<Item = Shown>,
        places: Shown,
        partners: Shown,
        s: Settings,
    ) -> PresenceReport {
        PresenceReport {
            k: s.k,
            projects: page
                .iter()
                .zip(shown)
                .map(|(p, shown)| PresenceProject {
                    project_id: p.id,
                    title: model.text(&p.title),
                    partners: shown,
                })
                .collect(),
            partner_places: places,
            partners,
            lived_experience_recent: None,
            note: format!(
                "Counts under {} are shown as \"fewer than {}\" so no one can be picked out. Partners' own answers about lived experience and the equality questions are not collected yet.",
                s.k, s.k
            ),
        }
    }
}

fn impact(model: &Model, projects: &[&Project], s: Settings, read: Read) -> ImpactReport {
    let mut overdue = 0;
    let out = projects
        .iter()
        .map(|p| {
            let last = p.reviews.last();
            let review_overdue = p.next_review().is_some_and(|due| due < s.today);
            if review_overdue {
                overdue += 1;
            }
            ImpactProject {
                project_id: p.id,
                title: read.text(model, &p.title),
                stage: p.stage,
                aims: p
                    .aims
                    .iter()
                    .map(|a| AimView {
                        aim_id: a.aim_id,
                        aim: read.text(model, &a.text),
                        outcomes: p
                            .outcomes
                            .iter()
                            .filter(|o| o.aim == a.aim_id)
                            .map(|o| OutcomeView {
                                outcome: read.text(model, &o.outcome),
                                evidence: read.text(model, &o.evidence),
                                recorded_on: day(o.at).to_string(),
                            })
                            .collect(),
                    })
                    .collect(),
                last_review: last.map(|r| day(r.at).to_string()),
                next_review: last.map(|r| r.next_review),
                review_overdue,
            }
        })
        .collect();
    ImpactReport {
        projects: out,
        reviews_overdue: overdue,
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

impl Report {
    /// The report in plain English, for people.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "Co-production report, as of {}", self.as_of);
        let _ = writeln!(t);
        let y = &self.you_said_we_did;
        let _ = writeln!(t, "YOU SAID, WE DID");
        let _ = writeln!(
            t,
            "Partners made {}. {} answered, {} still waiting, {} withdrawn. {} led to a change that has happened.",
            plural(y.totals.partner_proposals, "proposal", "proposals"),
            y.totals.answered,
            y.totals.waiting,
            y.totals.withdrawn,
            y.totals.led_to_change
        );
        for p in &y.projects {
            let _ = writeln!(t, "\n  {}", plain(&p.title));
            if p.proposals.is_empty() {
                let _ = writeln!(t, "    No proposals from partners yet.");
            }
            for pr in &p.proposals {
                let _ = writeln!(
                    t,
                    "    You said: \"{}\" ({})",
                    plain(&pr.text),
                    pr.raised_on
                );
                match pr.status {
                    "withdrawn" => {
                        let _ = writeln!(t, "      This was withdrawn.");
                    }
                    "waiting" => {
                        let _ = writeln!(
                            t,
                            "      No answer yet. It has waited {}.",
                            plural(pr.days_waiting.unwrap_or(0) as u64, "day", "days")
                        );
                    }
                    _ => {}
                }
                for r in &pr.responses {
                    let _ = writeln!(
                        t,
                        "      We {}: {} Because: {}",
                        r.response.words(),
                        plain(&r.outcome),
                        plain(&r.reason)
                    );
                    for c in r.corrected.iter().filter(|c| c.field.is_some()) {
                        let _ = writeln!(
                            t,
                            "      (The record was corrected on {}. Why: {} Before, it said: {})",
                            c.corrected_on,
                            plain(&c.reason),
                            plain(c.before.as_deref().unwrap_or_default())
                        );
                    }
                    for a in &r.actions {
                        match &a.what_changed {
                            Some(c) => {
                                let _ = writeln!(
                                    t,
                                    "      We did: {} What changed: {}",
                                    plain(&a.what),
                                    plain(c)
                                );
                            }
                            None => {
                                let _ =
                                    writeln!(t, "      We will: {} (by {})", plain(&a.what), a.due);
                            }
                        }
                    }
                }
            }
        }
        let j = &self.jointness;
        let _ = writeln!(t, "\nWERE DECISIONS MADE JOINTLY?");
        let _ = writeln!(
            t,
            "Of {}, {} made jointly, {} said to be joint but disputed by a partner, {} informed by partners, {} made by staff only, {} made by one person alone.",
            plural(j.totals.decisions, "decision", "decisions"),
            j.totals.joint,
            j.totals.joint_disputed,
            j.totals.partner_informed,
            j.totals.staff_only,
            j.totals.one_person
        );
        for p in &j.projects {
            let _ = writeln!(t, "\n  {}: {}", plain(&p.title), plain(&p.summary));
            for d in &p.decisions {
                let _ = writeln!(
                    t,
                    "    - \"{}\" ({} stage): {}, because {}.",
                    plain(&d.question),
                    d.stage.words(),
                    d.class.words(),
                    d.why
                );
            }
        }
        let k = &self.tokenism;
        let s = &k.totals;
        let _ = writeln!(t, "\nSIGNS OF TOKENISM");
        let _ = writeln!(
            t,
            "Partners who took part only once: {}, of {} partners.",
            s.partners_involved_once.words(),
            s.partners.words()
        );
        if s.meetings == 0 {
            let _ = writeln!(t, "No meetings recorded yet.");
        } else {
            let _ = writeln!(
                t,
                "{} of {} {} held without papers sent in advance.",
                plural(
                    s.meetings_without_materials_in_advance,
                    "meeting",
                    "meetings"
                ),
                s.meetings,
                if s.meetings_without_materials_in_advance == 1 {
                    "was"
                } else {
                    "were"
                }
            );
        }
        let _ = writeln!(
            t,
            "{} waited more than {} days for an answer.",
            plural(
                s.partner_proposals_waiting_too_long,
                "partner proposal",
                "partner proposals"
            ),
            k.waiting_days
        );
        let _ = writeln!(
            t,
            "{} disputed by partners. {} not answered.",
            plural(
                s.decisions_disputed_by_partners,
                "decision was",
                "decisions were"
            ),
            plural(s.challenges_unanswered, "challenge is", "challenges are")
        );
        if s.actions == 0 {
            let _ = writeln!(t, "No actions recorded yet.");
        } else {
            let _ = writeln!(
                t,
                "Partners own {} of {}.",
                s.actions_owned_by_partners,
                plural(s.actions, "action", "actions")
            );
        }
        let pr = &self.presence;
        let _ = writeln!(t, "\nWHO IS PRESENT");
        let _ = writeln!(t, "Partners taking part: {}.", pr.partners.words());
        for p in &pr.projects {
            let _ = writeln!(t, "  {}: {} partners", plain(&p.title), p.partners.words());
        }
        let _ = writeln!(t, "{}", pr.note);
        let im = &self.impact;
        let _ = writeln!(t, "\nWHAT WAS THE IMPACT?");
        for p in &im.projects {
            let _ = writeln!(t, "\n  {} (now at {})", plain(&p.title), p.stage.words());
            for a in &p.aims {
                let _ = writeln!(t, "    Aim: {}", plain(&a.aim));
                if a.outcomes.is_empty() {
                    let _ = writeln!(t, "      No outcome recorded yet.");
                }
                for o in &a.outcomes {
                    let _ = writeln!(
                        t,
                        "      {} ({}). Evidence: {}",
                        plain(&o.outcome),
                        o.recorded_on,
                        plain(&o.evidence)
                    );
                }
            }
            let _ = match (&p.last_review, p.review_overdue) {
                (Some(d), true) => writeln!(t, "    Last reviewed {d}. A review is overdue."),
                (Some(d), false) => writeln!(t, "    Last reviewed {d}."),
                (None, true) => writeln!(t, "    Never reviewed. A review is overdue."),
                (None, false) => writeln!(t, "    Not reviewed yet."),
            };
        }
        let _ = writeln!(t, "\nWERE PARTNERS PAID FOR THEIR TIME?");
        let pay = &self.pay;
        let _ = writeln!(t, "{}", pay.totals.words("Over every project"));
        for p in &pay.projects {
            let _ = writeln!(t, "  {}", p.figures.words(&plain(&p.title)));
        }
        let _ = writeln!(
            t,
            "Time waiting {} days or more is listed for staff to pay.",
            pay.waiting_too_long_days
        );
        t
    }
}
