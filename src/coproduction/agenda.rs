//! What waits on one person, for their home page: a partner's own ideas
//! and where each stands, the decisions they took part in and have not
//! yet confirmed or disputed, and their challenges; for staff, what waits
//! on the organisation (ideas without an answer, challenges and disputes
//! to answer, actions and reviews due). Pure: the caller says who the
//! person is, which projects they see, and what day it is.

use super::idea::{self, Status};
use super::model::{Action, Challenge, Decision, Model, Project, Proposal, Stance};
use super::values::{Date, ParticipantId, Text};

/// A challenge is answered within this many days of being made.
pub const ANSWER_WITHIN_DAYS: i64 = 28;

/// What waits on one person. Lists are in the order people work through
/// them: the oldest waiting first, their own ideas newest first.
#[derive(Default)]
pub struct Agenda<'m> {
    /// The ideas this person put forward, newest first, each with its status.
    pub my_ideas: Vec<(&'m Proposal, Status<'m>)>,
    /// Decisions they took part in and have not yet confirmed or disputed.
    pub to_confirm: Vec<&'m Decision>,
    /// The challenges they made, each with the day an answer is due.
    pub my_challenges: Vec<(&'m Challenge, Date)>,
    /// Decisions in which they dispute their part: why, and staff's answer.
    pub my_disputes: Vec<(&'m Decision, &'m Text, Option<&'m Text>)>,
    /// Partners' ideas no decision has answered, oldest first, with days waited.
    pub ideas_waiting: Vec<(&'m Proposal, i64)>,
    /// Challenges not yet answered, oldest first, with the day the answer is due.
    pub challenges_to_answer: Vec<(&'m Challenge, Date)>,
    /// Partners who dispute their part in a decision, not yet answered:
    /// decision, who, why.
    pub disputes: Vec<(&'m Decision, ParticipantId, &'m Text)>,
    /// Actions not yet done, the earliest due first.
    pub actions_due: Vec<&'m Action>,
    /// Projects whose review is due by `today`, with the day it was due.
    pub reviews_due: Vec<(&'m Project, Date)>,
}

/// Who the agenda is for.
pub struct For<'a> {
    /// The participant they are, if any (a partner, a member of staff).
    pub me: Option<ParticipantId>,
    /// Whether they answer for the organisation (staff and admins).
    pub staff: bool,
    /// Whether they see this project.
    pub sees: &'a dyn Fn(&super::values::ProjectId) -> bool,
}

/// The day an answer to `c` is due.
pub fn answer_due(c: &Challenge) -> Date {
    Date::of(c.at).plus_days(ANSWER_WITHIN_DAYS)
}

/// What waits on `who` on `today`.
pub fn agenda<'m>(model: &'m Model, who: For<'_>, today: Date) -> Agenda<'m> {
    let mut out = Agenda::default();
    let projects: Vec<&Project> = model
        .projects
        .values()
        .filter(|p| (who.sees)(&p.id))
        .collect();
    let ideas = || {
        projects
            .iter()
            .flat_map(|p| p.proposals.iter())
            .filter_map(|id| model.proposals.get(id))
    };
    let decisions = || {
        projects
            .iter()
            .flat_map(|p| p.decisions.iter())
            .filter_map(|id| model.decisions.get(id))
    };
    let challenges = || {
        decisions()
            .flat_map(|d| d.challenges.iter())
            .filter_map(|id| model.challenges.get(id))
    };
    if let Some(me) = who.me {
        out.my_ideas = ideas()
            .filter(|p| p.by == Some(me))
            .map(|p| (p, idea::status(model, p, today)))
            .collect();
        out.my_ideas
            .sort_by_key(|(p, _)| std::cmp::Reverse((p.day(), p.seq)));
        // Partners confirm or dispute their part; staff record decisions.
        if !who.staff {
            out.to_confirm = decisions()
                .filter(|d| d.parts.iter().any(|part| part.participant_id == me))
                .filter(|d| !d.stances.contains_key(&me))
                .collect();
        }
        out.to_confirm.sort_by_key(|d| (d.day(), d.at));
        out.my_challenges = challenges()
            .filter(|c| c.by == Some(me))
            .map(|c| (c, answer_due(c)))
            .collect();
        out.my_challenges
            .sort_by_key(|(c, _)| std::cmp::Reverse(c.at));
        out.my_disputes = decisions()
            .filter_map(|d| match d.stances.get(&me) {
                Some(Stance::Disputed(why)) => Some((d, why, d.dispute_answers.get(&me))),
                _ => None,
            })
            .collect();
        out.my_disputes
            .sort_by_key(|(d, _, _)| std::cmp::Reverse((d.day(), d.at)));
    }
    if who.staff {
        out.ideas_waiting = ideas()
            .filter(|p| p.by_partner && p.withdrawn.is_none() && p.answers.is_empty())
            .map(|p| (p, p.day().days_until(today).max(0)))
            .collect();
        out.ideas_waiting
            .sort_by_key(|(p, days)| (std::cmp::Reverse(*days), p.seq));
        out.challenges_to_answer = challenges()
            .filter(|c| c.answer.is_none())
            .map(|c| (c, answer_due(c)))
            .collect();
        out.challenges_to_answer.sort_by_key(|(c, _)| c.at);
        out.disputes = decisions()
            .flat_map(|d| {
                d.stances.iter().filter_map(move |(who, s)| match s {
                    Stance::Disputed(why) if !d.dispute_answers.contains_key(who) => {
                        Some((d, *who, why))
                    }
                    _ => None,
                })
            })
            .collect();
        out.actions_due = projects
            .iter()
            .flat_map(|p| p.actions.iter())
            .filter_map(|id| model.actions.get(id))
            .filter(|a| a.completed.is_none())
            .collect();
        out.actions_due.sort_by_key(|a| a.due);
        out.reviews_due = projects
            .iter()
            .filter_map(|p| {
                p.next_review()
                    .filter(|due| *due <= today)
                    .map(|due| (*p, due))
            })
            .collect();
        out.reviews_due.sort_by_key(|(_, due)| *due);
    }
    out
}
