//! What has become of an idea, as the person who put it forward asks:
//! still waiting (and for how long), withdrawn, or answered by a decision
//! (accepted, accepted with changes, not accepted, with the reason), and
//! done once what it led to is done. One reading for every page, the
//! report and the API, so the words cannot drift apart.

use super::model::{Action, Model, Proposal};
use super::said::Said;
use super::values::{Date, DecisionId, Response};

/// Where an idea stands.
#[derive(Debug)]
pub enum Status<'m> {
    /// No decision has answered it yet.
    Waiting { days: i64 },
    /// Its author (or staff) withdrew it.
    Withdrawn { reason: &'m Said },
    /// The latest decision that answered it, and what that decision did
    /// about it.
    Answered(Answer<'m>),
}

/// A decision's answer to an idea, and the actions that carry it out.
#[derive(Debug)]
pub struct Answer<'m> {
    pub decision: DecisionId,
    pub response: Response,
    pub reason: &'m Said,
    /// The actions on this idea (see [`actions_on`]).
    pub actions: Vec<&'m Action>,
}

impl Answer<'_> {
    /// Accepted (with or without changes), with actions, all of them done.
    pub fn done(&self) -> bool {
        self.response != Response::Declined
            && !self.actions.is_empty()
            && self.actions.iter().all(|a| a.completed.is_some())
    }
}

impl Status<'_> {
    /// The status in a few words, starting with a capital: what a partner
    /// reads first, and what the pages show beside colour.
    pub fn words(&self) -> &'static str {
        match self {
            Status::Waiting { .. } => "Waiting for an answer",
            Status::Withdrawn { .. } => "Withdrawn",
            Status::Answered(a) if a.done() => "Done",
            Status::Answered(a) => match a.response {
                Response::Accepted => "Accepted",
                Response::Amended => "Accepted with changes",
                Response::Declined => "Not accepted",
            },
        }
    }

    /// A short machine-readable name, for the API and for styling.
    pub fn code(&self) -> &'static str {
        match self {
            Status::Waiting { .. } => "waiting",
            Status::Withdrawn { .. } => "withdrawn",
            Status::Answered(a) if a.done() => "done",
            Status::Answered(a) => match a.response {
                Response::Accepted => "accepted",
                Response::Amended => "accepted-with-changes",
                Response::Declined => "not-accepted",
            },
        }
    }
}

/// Where `idea` stands on `today`.
pub fn status<'m>(model: &'m Model, idea: &'m Proposal, today: Date) -> Status<'m> {
    if let Some(reason) = &idea.withdrawn {
        return Status::Withdrawn { reason };
    }
    let Some((decision, response, reason)) = idea.answers.last() else {
        return Status::Waiting {
            days: idea.day().days_until(today).max(0),
        };
    };
    Status::Answered(Answer {
        decision: *decision,
        response: *response,
        reason,
        actions: actions_on(model, decision, idea).collect(),
    })
}

/// The actions of `decision` that carry out `idea`: those that name it;
/// and, when the decision answered this idea alone, those that name no
/// idea. An action that names no idea, of a decision that answered
/// several, belongs to the decision as a whole and is shown under it, not
/// under each idea (one idea's action must not read as another's).
pub fn actions_on<'m>(
    model: &'m Model,
    decision: &DecisionId,
    idea: &'m Proposal,
) -> impl Iterator<Item = &'m Action> + 'm {
    let d = model.decisions.get(decision);
    let alone = d.is_some_and(|d| d.answers.len() == 1);
    d.into_iter()
        .flat_map(|d| d.actions.iter())
        .filter_map(|a| model.actions.get(a))
        .filter(move |a| a.proposals.contains(&idea.id) || (alone && a.proposals.is_empty()))
}
