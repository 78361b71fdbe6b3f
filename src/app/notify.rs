//! Telling people: who hears of what a record says, and the message they
//! get. Written once here; the mail loop (`App::start_mail`) and the
//! pages only call it.
//!
//! - A partner hears that their idea was answered, that a decision they
//!   took part in waits for them, that their challenge was answered, and
//!   that an action from their idea was done.
//! - The lead and the staff of a project hear of a new idea, challenge or
//!   dispute there.
//! - Anyone hears at once, whatever they chose, that someone else made a
//!   sign-in card for them.
//!
//! Each person chooses how they hear ([`Hearing`]): each message as it
//! happens, a weekly summary, or nothing. Nobody hears of their own
//! records. Nobody who left hears anything: not someone whose entry in
//! the people store says they left the organisation (checked when a
//! message is queued and again when it is sent), nor a lead who left
//! their project. A message names no one (staff are told "a partner"), carries
//! no equality answers, and links to the page where the rest is.

use super::outbox::{About, Cause, Entry, State};
use crate::coproduction::events::Event;
use crate::coproduction::model::Model;
use crate::coproduction::values::{CredentialKind, ParticipantId, ProjectId, Response, Role};
use crate::people::{Hearing, People};
use uuid::Uuid;

/// How `person` hears, as they chose, else as their role has it by
/// default: partners and staff each message as it happens. `None` for
/// anyone with no entry or no address, or who left the organisation.
pub fn hearing_of(people: &People, person: &Uuid) -> Option<(Hearing, String)> {
    hearing(&people.get(person).ok().flatten()?)
}

/// [`hearing_of`] for an entry already read.
pub fn hearing(p: &crate::people::Person) -> Option<(Hearing, String)> {
    if p.left.is_some() {
        return None;
    }
    let email = p.email.clone()?;
    Some((p.hearing.unwrap_or(Hearing::AsItHappens), email))
}

/// Whether `who` leads `project` now: its lead, unless they left it.
fn leads(project: &crate::coproduction::model::Project, who: ParticipantId) -> bool {
    project.lead == who && project.members.get(&who).is_none_or(|m| m.active)
}

/// The lead (unless they left the project) and the active staff of a
/// project.
fn project_staff(model: &Model, project: &ProjectId) -> Vec<ParticipantId> {
    let Some(p) = model.projects.get(project) else {
        return Vec::new();
    };
    let mut out: Vec<ParticipantId> = leads(p, p.lead).then_some(p.lead).into_iter().collect();
    for (id, m) in p.members.iter() {
        if m.active && m.role == Role::Staff && *id != p.lead {
            out.push(*id);
        }
    }
    out
}

/// Who hears of the record `seq` (an `event` written by `author`), and
/// about what; the model already holds the record.
pub fn readers(
    model: &Model,
    event: &Event,
    author: Option<ParticipantId>,
) -> Vec<(ParticipantId, About)> {
    let mut out: Vec<(ParticipantId, About)> = Vec::new();
    let decision_project = |id| model.decisions.get(id).map(|d| d.project);
    match event {
        Event::ProposalRaised(e) => {
            for s in project_staff(model, &e.project_id) {
                out.push((s, About::NewIdea));
            }
        }
        Event::DecisionMade(e) => {
            for a in &e.answers {
                if let Some(by) = model.proposals.get(&a.proposal_id).and_then(|p| p.by) {
                    out.push((by, About::IdeaAnswered));
                }
            }
            for part in &e.participants {
                if model.role(&part.participant_id) == Some(Role::Partner) {
                    out.push((part.participant_id, About::DecisionToConfirm));
                }
            }
        }
        Event::ChallengeAnswered(e) => {
            if let Some(by) = model.challenges.get(&e.challenge_id).and_then(|c| c.by) {
                out.push((by, About::ChallengeAnswered));
            }
        }
        Event::ActionCompleted(e) => {
            if let Some(a) = model.actions.get(&e.action_id) {
                for id in &a.proposals {
                    if let Some(by) = model.proposals.get(id).and_then(|p| p.by)
                        && model.role(&by) == Some(Role::Partner)
                    {
                        out.push((by, About::ActionDone));
                    }
                }
            }
        }
        Event::DecisionChallenged(e) => {
            if let Some(project) = decision_project(&e.decision_id) {
                for s in project_staff(model, &project) {
                    out.push((s, About::NewChallenge));
                }
            }
        }
        Event::DecisionDisputed(e) => {
            if let Some(project) = decision_project(&e.decision_id) {
                for s in project_staff(model, &project) {
                    out.push((s, About::NewDispute));
                }
            }
        }
        // A card is made for someone else to hold it; an access code is
        // handed over by whoever made it, at setting up.
        Event::AccessGranted(e) if e.kind == CredentialKind::SignInCard => {
            if let Some(who) = e.participant_id {
                out.push((who, About::SignInMade));
            }
        }
        _ => {}
    }
    out.retain(|(who, _)| Some(*who) != author && !model.erased.contains(who));
    out.sort();
    out.dedup();
    out
}

/// The outbox entries for record `seq`, given its `readers` (see
/// [`readers`]): one for each who has an address and has not chosen to
/// hear nothing. It reads the people store, so the caller need not hold
/// the model meanwhile.
pub fn decide(
    people: &People,
    seq: u64,
    readers: Vec<(ParticipantId, About)>,
    now: i64,
) -> Vec<(Cause, Entry)> {
    let mut out = Vec::new();
    for (who, about) in readers {
        let state = match hearing_of(people, &who.uuid()) {
            None => continue,
            // Security notices go whatever was chosen, and at once.
            Some(_) if about == About::SignInMade => State::Queued {
                next_at: now,
                attempts: 0,
            },
            Some((Hearing::Nothing, _)) => continue,
            Some((Hearing::AsItHappens, _)) => State::Queued {
                next_at: now,
                attempts: 0,
            },
            Some((Hearing::Weekly, _)) => State::Weekly,
        };
        out.push((
            Cause {
                seq,
                person: who.uuid(),
                about,
            },
            Entry {
                queued_at: now,
                state,
            },
        ));
    }
    out
}

/// What waits on a member of staff in the projects they lead or work
/// in, as of `today`: ideas waiting longer than `waiting_days`, actions
/// past their day, reviews due. Empty for anyone else.
pub fn reminders(
    model: &Model,
    me: ParticipantId,
    today: crate::coproduction::values::Date,
    waiting_days: i64,
) -> Vec<String> {
    if model.role(&me) != Some(Role::Staff) {
        return Vec::new();
    }
    let mine = |p: &ProjectId| {
        model.projects.get(p).is_some_and(|p| {
            leads(p, me)
                || p.members
                    .get(&me)
                    .is_some_and(|m| m.active && m.role == Role::Staff)
        })
    };
    let w = &model.waiting;
    let cutoff = today.plus_days(-waiting_days);
    let ideas = w
        .ideas
        .iter()
        .take_while(|(day, _, _)| *day < cutoff)
        .filter(|(_, _, id)| model.proposals.get(id).is_some_and(|p| mine(&p.project)))
        .count();
    let actions = w
        .actions
        .iter()
        .take_while(|(due, _)| *due < today)
        .filter(|(_, id)| model.actions.get(id).is_some_and(|a| mine(&a.project)))
        .count();
    let reviews = w
        .reviews
        .iter()
        .take_while(|(due, _)| *due <= today)
        .filter(|(_, p)| mine(p))
        .count();
    let mut out = Vec::new();
    let n = |k: usize, one: &str, many: &str| {
        if k == 1 {
            format!("1 {one}")
        } else {
            format!("{k} {many}")
        }
    };
    if ideas > 0 {
        out.push(format!(
            "{} waiting for an answer for more than {waiting_days} days.",
            n(ideas, "idea has been", "ideas have been")
        ));
    }
    if actions > 0 {
        out.push(format!(
            "{} past the day it was due.",
            n(actions, "action is", "actions are")
        ));
    }
    if reviews > 0 {
        out.push(format!(
            "{} due a review.",
            n(reviews, "project is", "projects are")
        ));
    }
    out
}

/// A message, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    /// Paragraphs, plain text.
    pub paragraphs: Vec<String>,
    /// The page the message is about.
    pub link: String,
    pub link_words: String,
}

fn capitalised(words: &str) -> String {
    let mut c = words.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn quoted(text: &str) -> String {
    format!("\u{201c}{}\u{201d}", text.trim())
}

fn response_words(r: Response) -> &'static str {
    match r {
        Response::Accepted => "accepted",
        Response::Amended => "accepted with changes",
        Response::Declined => "not accepted",
    }
}

/// The message for `cause`, from its record's `event` and the model now;
/// `None` when there is nothing left to say (an erased record, say).
pub fn letter(model: &Model, cause: &Cause, event: &Event, base: &str) -> Option<Letter> {
    let me = ParticipantId::from(cause.person);
    let project_title = |p: &ProjectId| {
        model
            .projects
            .get(p)
            .map(|p| model.text(&p.title))
            .unwrap_or_else(|| "a project".into())
    };
    let page = |path: String| format!("{}{path}", base.trim_end_matches('/'));
    Some(match (cause.about, event) {
        (About::IdeaAnswered, Event::DecisionMade(e)) => {
            let mine: Vec<_> = e
                .answers
                .iter()
                .filter(|a| model.proposals.get(&a.proposal_id).and_then(|p| p.by) == Some(me))
                .collect();
            let first = mine.first()?;
            let idea = model.proposals.get(&first.proposal_id)?;
            let mut paragraphs = Vec::new();
            for a in &mine {
                let text = &model.text(&model.proposals.get(&a.proposal_id)?.text);
                paragraphs.push(format!(
                    "Your idea {} was {}.",
                    quoted(text),
                    response_words(a.response)
                ));
                paragraphs.push(format!("The reason given: {}", quoted(a.reason.as_str())));
            }
            paragraphs.push(format!(
                "It was decided in {}.",
                project_title(&idea.project)
            ));
            Letter {
                subject: format!(
                    "Your idea was {}: {}",
                    response_words(first.response),
                    short(&model.text(&idea.text))
                ),
                paragraphs,
                link: page(format!("/decisions/{}", e.decision_id)),
                link_words: "See the decision".into(),
            }
        }
        (About::DecisionToConfirm, Event::DecisionMade(e)) => Letter {
            subject: format!(
                "Please check a decision you took part in: {}",
                short(e.question.as_str())
            ),
            paragraphs: vec![
                format!(
                    "A decision you took part in was recorded in {}.",
                    project_title(&e.project_id)
                ),
                format!("The question: {}", quoted(e.question.as_str())),
                format!("What was decided: {}", quoted(e.outcome.as_str())),
                "Please say whether it is right, or what is wrong with it.".into(),
            ],
            link: page(format!("/decisions/{}", e.decision_id)),
            link_words: "Confirm or dispute it".into(),
        },
        (About::ChallengeAnswered, Event::ChallengeAnswered(e)) => {
            let c = model.challenges.get(&e.challenge_id)?;
            Letter {
                subject: "Your challenge was answered".into(),
                paragraphs: vec![
                    format!(
                        "You challenged a decision: {}",
                        quoted(&model.text(&c.reason))
                    ),
                    format!("The answer: {}", quoted(e.answer.as_str())),
                    "If you are not satisfied with the answer, you can reply to it.".into(),
                ],
                link: page(format!("/decisions/{}", c.decision)),
                link_words: "See the decision and the answer".into(),
            }
        }
        (About::ActionDone, Event::ActionCompleted(e)) => {
            let a = model.actions.get(&e.action_id)?;
            Letter {
                subject: "Something changed because of your idea".into(),
                paragraphs: vec![
                    format!("Staff said they would: {}", quoted(&model.text(&a.what))),
                    format!(
                        "It is done. What changed: {}",
                        quoted(e.what_changed.as_str())
                    ),
                ],
                link: page(format!("/projects/{}/you-said-we-did", a.project)),
                link_words: "See what changed".into(),
            }
        }
        (About::NewIdea, Event::ProposalRaised(e)) => Letter {
            subject: format!("A new idea in {}", project_title(&e.project_id)),
            paragraphs: vec![
                format!(
                    "An idea was put forward in {}:",
                    project_title(&e.project_id)
                ),
                quoted(e.text.as_str()),
                "It waits for an answer.".into(),
            ],
            link: page(format!("/projects/{}", e.project_id)),
            link_words: "See the project".into(),
        },
        (About::NewChallenge, Event::DecisionChallenged(e)) => {
            let d = model.decisions.get(&e.decision_id)?;
            Letter {
                subject: format!(
                    "A decision was challenged: {}",
                    short(&model.text(&d.question()))
                ),
                paragraphs: vec![
                    format!(
                        "A decision in {} was challenged: {}",
                        project_title(&d.project),
                        quoted(&model.text(&d.question()))
                    ),
                    format!("The reason given: {}", quoted(e.reason.as_str())),
                    "It waits for an answer.".into(),
                ],
                link: page(format!("/decisions/{}", e.decision_id)),
                link_words: "Answer the challenge".into(),
            }
        }
        (About::NewDispute, Event::DecisionDisputed(e)) => {
            let d = model.decisions.get(&e.decision_id)?;
            Letter {
                subject: format!(
                    "A partner disputed a decision: {}",
                    short(&model.text(&d.question()))
                ),
                paragraphs: vec![
                    format!(
                        "A partner who took part in a decision in {} says it is not right: {}",
                        project_title(&d.project),
                        quoted(&model.text(&d.question()))
                    ),
                    format!("What they said: {}", quoted(e.reason.as_str())),
                ],
                link: page(format!("/decisions/{}", e.decision_id)),
                link_words: "Answer the dispute".into(),
            }
        }
        (About::SignInMade, Event::AccessGranted(e)) => {
            let card = e.kind == CredentialKind::SignInCard;
            let what = if card {
                "a sign-in card"
            } else {
                "an access code"
            };
            let mut paragraphs = vec![
                format!("Someone at the charity made {what} for you. It signs in as you."),
                "If you asked for it, there is nothing to do. If you did not, or you do not know who has it, sign in and stop it: your home page lists every way to sign in as you, who made it and when it was first used. Then tell the team.".into(),
            ];
            if card {
                paragraphs.push("A decision confirmed with a card a member of staff made does not count as your own word until you show the card is yours.".into());
            }
            Letter {
                subject: format!("{} was made for you", capitalised(what)),
                paragraphs,
                link: page("/home".into()),
                link_words: "See how you sign in".into(),
            }
        }
        _ => return None,
    })
}

/// A weekly summary: each message held for it in a line with its link,
/// then the reminders; `None` when there is nothing to say.
pub fn weekly(items: &[Letter], reminders: &[String], base: &str) -> Option<Letter> {
    if items.is_empty() && reminders.is_empty() {
        return None;
    }
    let mut paragraphs = Vec::new();
    if !items.is_empty() {
        paragraphs.push("This week:".to_string());
        for l in items {
            paragraphs.push(format!("- {} ({})", l.subject, l.link));
        }
    }
    if !reminders.is_empty() {
        paragraphs.push("Waiting on you and your projects:".to_string());
        for r in reminders {
            paragraphs.push(format!("- {r}"));
        }
    }
    Some(Letter {
        subject: "Your weekly summary from jointly".into(),
        paragraphs,
        link: format!("{}/home", base.trim_end_matches('/')),
        link_words: "See what waits for you".into(),
    })
}

/// The first words of a text, for a subject line.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(60) {
        None => text.to_string(),
        Some((i, _)) => format!("{}...", text[..i].trim_end()),
    }
}

/// A link's secret part for one person's "stop these emails": a keyed
/// hash of their id, so the link works without signing in and cannot be
/// made for anyone else.
pub fn unsubscribe_code(key: &[u8; 32], person: &Uuid) -> String {
    let mac = blake3::keyed_hash(key, person.as_bytes());
    format!("{}.{}", person.simple(), hex::encode(&mac.as_bytes()[..16]))
}

/// The person an unsubscribe code is for, if it is genuine.
pub fn unsubscribe_person(key: &[u8; 32], code: &str) -> Option<Uuid> {
    let (id, _) = code.split_once('.')?;
    let person = Uuid::try_parse(id).ok()?;
    let want = unsubscribe_code(key, &person);
    // Compared whole; both are ASCII of a fixed length.
    let same = want.len() == code.len()
        && want
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_code_opens_only_for_its_person() {
        let key = [7u8; 32];
        let p = Uuid::from_u128(42);
        let code = unsubscribe_code(&key, &p);
        assert_eq!(unsubscribe_person(&key, &code), Some(p));
        assert_eq!(unsubscribe_person(&[8u8; 32], &code), None);
        let other = unsubscribe_code(&key, &Uuid::from_u128(43));
        let forged = format!("{}.{}", p.simple(), other.split_once('.').unwrap().1);
        assert_eq!(unsubscribe_person(&key, &forged), None);
        assert_eq!(unsubscribe_person(&key, "nonsense"), None);
    }

    #[test]
    fn a_subject_is_cut_at_a_word_boundary_of_characters() {
        assert_eq!(short("  short  "), "short");
        let long = "é".repeat(70);
        assert_eq!(short(&long), format!("{}...", "é".repeat(60)));
    }
}
