//! What one reader may see, as a view the pages read through: every page
//! that is about a record (a project, a decision, a challenge, an action)
//! gets it from here, which asks the disclosure policy before anything of
//! the record is read, and refuses exactly as the API does: "not found",
//! in the same words whether the record exists or the reader may not see
//! it, so a page tells a reader nothing the API would not; a partner who
//! left a project is told so (403), as the writer tells them.

use super::policy::{self, InView};
use super::{App, Caller, ModelGuard};
use crate::coproduction::author::Author;
use crate::coproduction::model::{Action, Challenge, Decision, Model, Project};
use crate::coproduction::values::{ActionId, ChallengeId, DecisionId, ProjectId};
use crate::refusal::Refusal;

/// The model as one reader may see it.
pub struct View<'a> {
    model: ModelGuard<'a>,
    reader: Author,
    in_view: InView,
}

/// What a page is about, to be seen before it is read.
#[derive(Clone, Copy, Debug)]
pub enum Subject {
    Project(ProjectId),
    Decision(DecisionId),
    /// A decision the reader may see, or took part in (a partner who left
    /// a project may still confirm or dispute their part).
    DecisionOfTheirs(DecisionId),
    Challenge(ChallengeId),
    /// A challenge the reader may see and, for a partner, made themselves
    /// (only the challenger replies to its answer).
    OwnChallenge(ChallengeId),
    Action(ActionId),
}

/// The one refusal for what a reader may not see or what is not there.
fn unseen(what: &str) -> Refusal {
    Refusal::not_found(format!("you are not part of {what} with this id"))
}

impl App {
    /// The record as `caller` may see it.
    pub fn view(&self, caller: &Caller) -> Result<View<'_>, Refusal> {
        let model = self.read()?;
        let in_view = policy::in_view(caller.author(), &model);
        Ok(View {
            model,
            reader: caller.author().clone(),
            in_view,
        })
    }
}

impl<'a> View<'a> {
    /// The whole model, for what a page shows around a record it was
    /// given through [`project`](Self::project) and the like.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Gives the model back, for a page that needs to keep reading it.
    pub fn into_model(self) -> ModelGuard<'a> {
        self.model
    }

    fn sees(&self, project: &ProjectId) -> bool {
        self.in_view.contains(project)
    }

    /// Why a reader may not see `project`'s records here: they left it
    /// (they know it, and the writer says the same: 403), or they were
    /// never part of it, or it is not there ("not found", alike).
    fn refused(&self, project: Option<&ProjectId>, what: &str) -> Refusal {
        let left = project
            .zip(self.reader.participant)
            .and_then(|(p, me)| self.model.membership(&me, p))
            .is_some_and(|m| !m.active);
        if left {
            Refusal::forbidden("you have left this project, so you can no longer add to it")
        } else {
            unseen(what)
        }
    }

    pub fn project(&self, id: &ProjectId) -> Result<&Project, Refusal> {
        match self.model.projects.get(id) {
            Some(p) if self.sees(&p.id) => Ok(p),
            p => Err(self.refused(p.map(|p| &p.id), "a project")),
        }
    }

    pub fn decision(&self, id: &DecisionId) -> Result<&Decision, Refusal> {
        match self.model.decisions.get(id) {
            Some(d) if self.sees(&d.project) => Ok(d),
            d => Err(self.refused(d.map(|d| &d.project), "a decision")),
        }
    }

    /// A decision the reader sees, or took part in.
    pub fn decision_of_theirs(&self, id: &DecisionId) -> Result<&Decision, Refusal> {
        self.model
            .decisions
            .get(id)
            .filter(|d| {
                self.sees(&d.project)
                    || self
                        .reader
                        .participant
                        .is_some_and(|me| self.model.took_part(&me, d))
            })
            .ok_or_else(|| unseen("a decision"))
    }

    pub fn challenge(&self, id: &ChallengeId) -> Result<&Challenge, Refusal> {
        self.model
            .challenges
            .get(id)
            .filter(|c| {
                self.model
                    .decisions
                    .get(&c.decision)
                    .is_some_and(|d| self.sees(&d.project))
            })
            .ok_or_else(|| unseen("a challenge"))
    }

    /// A challenge the reader sees and, if they are a partner, made.
    pub fn own_challenge(&self, id: &ChallengeId) -> Result<&Challenge, Refusal> {
        let partner = self.reader.role == crate::coproduction::author::AuthorRole::Partner;
        self.challenge(id)
            .ok()
            .filter(|c| !partner || (c.by.is_some() && c.by == self.reader.participant))
            .ok_or_else(|| unseen("a challenge"))
    }

    pub fn action(&self, id: &ActionId) -> Result<&Action, Refusal> {
        self.model
            .actions
            .get(id)
            .filter(|a| self.sees(&a.project))
            .ok_or_else(|| unseen("an action"))
    }

    /// Whether the reader may see what a page is about.
    pub fn check(&self, subject: Subject) -> Result<(), Refusal> {
        match subject {
            Subject::Project(id) => self.project(&id).map(|_| ()),
            Subject::Decision(id) => self.decision(&id).map(|_| ()),
            Subject::DecisionOfTheirs(id) => self.decision_of_theirs(&id).map(|_| ()),
            Subject::Challenge(id) => self.challenge(&id).map(|_| ()),
            Subject::OwnChallenge(id) => self.own_challenge(&id).map(|_| ()),
            Subject::Action(id) => self.action(&id).map(|_| ()),
        }
    }
}
