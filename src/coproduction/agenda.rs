//! What waits on one person, for their home page: a partner's own ideas
//! and where each stands, the decisions they took part in and have not
//! yet confirmed or disputed, and their challenges; for staff, what waits
//! on the organisation (ideas without an answer, challenges and disputes
//! to answer, actions and reviews due). Pure: the caller says who the
//! person is, which projects they see, and what day it is.

use super::idea::{self, Status};
use super::model::{Action, Challenge, Contribution, Decision, Model, Project, Proposal, Stance};
use super::said::Said;
use super::table::Row;
use super::values::ProjectId;
use super::values::{Date, ParticipantId};

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
    pub my_disputes: Vec<(&'m Decision, &'m Said, Option<&'m Said>)>,
    /// Partners' ideas no decision has answered, oldest first (by the day
    /// put forward), with days waited.
    pub ideas_waiting: Listed<(&'m Proposal, i64)>,
    /// Challenges not yet answered, oldest first, with the day the answer is due.
    pub challenges_to_answer: Listed<(&'m Challenge, Date)>,
    /// Partners who dispute their part in a decision, not yet answered:
    /// decision, who, why; the oldest decision first.
    pub disputes: Listed<(&'m Decision, ParticipantId, &'m Said)>,
    /// Actions not yet done, the earliest due first (then by id).
    pub actions_due: Listed<&'m Action>,
    /// Projects whose review is due by `today`, with the day it was due.
    pub reviews_due: Listed<(&'m Project, Date)>,
}

/// The first of a list that waits on staff, and how long it is: at a large
/// organisation thousands wait, and a page shows a few.
pub struct Listed<T> {
    /// At most [`For::show`] of them, in order.
    pub first: Vec<T>,
    /// How many there are in all.
    pub total: usize,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            first: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Listed<T> {
    /// The first `show` of the items `keys` lead to that pass `seen`, and
    /// their number. With no filter, every key leads to an item (the
    /// model's indexes hold only what waits), so they are counted without
    /// looking each one up.
    fn of<K>(
        keys: impl Iterator<Item = K> + Clone,
        item: impl Fn(K) -> Option<T>,
        seen: Option<&dyn Fn(&T) -> bool>,
        show: usize,
    ) -> Listed<T> {
        match seen {
            None => Listed {
                total: keys.clone().count(),
                first: keys.filter_map(item).take(show).collect(),
            },
            Some(seen) => {
                let mut out = Listed::default();
                for t in keys.filter_map(item).filter(|t| seen(t)) {
                    if out.first.len() < show {
                        out.first.push(t);
                    }
                    out.total += 1;
                }
                out
            }
        }
    }
}

/// Who the agenda is for.
pub struct For<'a> {
    /// The participant they are, if any (a partner, a member of staff).
    pub me: Option<ParticipantId>,
    /// Whether they answer for the organisation (staff and admins).
    pub staff: bool,
    /// Whether they speak for themselves: not a session on a sign-in card
    /// a member of staff made that they have not shown to be theirs. Only
    /// then is a part confirmed on such a card theirs to confirm again.
    pub in_own_name: bool,
    /// Whether they see this project; `None`: they see every project.
    pub sees: Option<&'a dyn Fn(&ProjectId) -> bool>,
    /// How many of each list that waits on staff to give in full.
    pub show: usize,
}

/// The day an answer to `c` is due.
pub fn answer_due(c: &Challenge) -> Date {
    Date::of(c.at).plus_days(ANSWER_WITHIN_DAYS)
}

/// What waits on `who` on `today`. It reads what the model keeps of each
/// person's part ([`Model::contributions`]) and of what waits on staff
/// ([`Model::waiting`], already in order), so its cost follows what waits,
/// not everything ever recorded.
pub fn agenda<'m>(model: &'m Model, who: For<'_>, today: Date) -> Agenda<'m> {
    let mut out = Agenda::default();
    let sees = |p: &ProjectId| who.sees.is_none_or(|sees| sees(p));
    let decision_seen = |d: &Row<Decision>| model.decisions.row(*d).filter(|d| sees(&d.project));
    let challenge_seen = |c: &Row<Challenge>| {
        model.challenges.row(*c).filter(|c| {
            model
                .decisions
                .get(&c.decision)
                .is_some_and(|d| sees(&d.project))
        })
    };
    if let Some(me) = who.me
        && let mine @ [_, ..] = model.contributions(&me)
    {
        let proposals = mine.iter().filter_map(|c| match c {
            Contribution::Proposal(row) => model.proposals.row(*row),
            _ => None,
        });
        let decisions = || {
            mine.iter().filter_map(|c| match c {
                Contribution::Decision(row) => decision_seen(row),
                _ => None,
            })
        };
        let challenges = mine.iter().filter_map(|c| match c {
            Contribution::Challenge(row) => challenge_seen(row),
            _ => None,
        });
        out.my_ideas = proposals
            .filter(|p| sees(&p.project))
            .map(|p| (p, idea::status(model, p, today)))
            .collect();
        out.my_ideas
            .sort_by_key(|(p, _)| std::cmp::Reverse((p.day(), p.seq)));
        // Partners confirm or dispute their part; staff record decisions.
        if !who.staff {
            out.to_confirm = decisions()
                .filter(|d| model.took_part(&me, d))
                .filter(|d| match d.stances().get(&me) {
                    None => true,
                    Some(Stance::ConfirmedOnStaffCard(_)) => who.in_own_name,
                    Some(_) => false,
                })
                .collect();
        }
        out.to_confirm.sort_by_key(|d| (d.day(), d.at));
        // One a thread: a reply that opened a challenge again is shown
        // under the challenge it replies to.
        out.my_challenges = challenges
            .filter(|c| c.in_reply_to.is_none())
            .map(|c| (c, answer_due(c)))
            .collect();
        out.my_challenges
            .sort_by_key(|(c, _)| std::cmp::Reverse(c.at));
        out.my_disputes = decisions()
            .filter_map(|d| match d.stances().get(&me) {
                Some(Stance::Disputed(why)) => Some((d, why, d.dispute_answers().get(&me))),
                _ => None,
            })
            .collect();
        out.my_disputes
            .sort_by_key(|(d, _, _)| std::cmp::Reverse((d.day(), d.at)));
    }
    if who.staff {
        let w = &model.waiting;
        // Each list's filter, when some projects are out of view.
        let only = who.sees.is_some();
        let ideas = |(p, _): &(&Proposal, i64)| sees(&p.project);
        let challenges = |(c, _): &(&Challenge, Date)| {
            model
                .decisions
                .get(&c.decision)
                .is_some_and(|d| sees(&d.project))
        };
        let disputes = |(d, ..): &(&Decision, ParticipantId, &Said)| sees(&d.project);
        let actions = |a: &&Action| sees(&a.project);
        let reviews = |(p, _): &(&Project, Date)| sees(&p.id);
        out.ideas_waiting = Listed::of(
            w.ideas.iter(),
            |(.., id)| {
                let p = model.proposals.get(id)?;
                Some((p, p.day().days_until(today).max(0)))
            },
            only.then_some(&ideas as _),
            who.show,
        );
        out.challenges_to_answer = Listed::of(
            w.challenges.iter(),
            |(_, id)| model.challenges.get(id).map(|c| (c, answer_due(c))),
            only.then_some(&challenges as _),
            who.show,
        );
        out.disputes = Listed::of(
            w.disputes.iter(),
            |(.., d, who)| {
                let d = model.decisions.get(d)?;
                match d.stances().get(who) {
                    Some(Stance::Disputed(why)) => Some((d, *who, why)),
                    _ => None,
                }
            },
            only.then_some(&disputes as _),
            who.show,
        );
        out.actions_due = Listed::of(
            w.actions.iter(),
            |(_, id)| model.actions.get(id),
            only.then_some(&actions as _),
            who.show,
        );
        out.reviews_due = Listed::of(
            w.reviews.iter().take_while(|(due, _)| *due <= today),
            |(due, id)| model.projects.get(id).map(|p| (p, *due)),
            only.then_some(&reviews as _),
            who.show,
        );
    }
    out
}
