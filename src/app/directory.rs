//! Finding people and correcting what is held about them: the people store
//! searched and paged for admins and staff (email addresses only for those
//! who may read them), and rectification of a name or an email. Neither
//! touches the log, which names people by id only.

use super::policy::{self, Action};
use super::{App, Caller, people_refusal};
use crate::coproduction::values::{ParticipantId, ProjectId};
use crate::people::{Person, comparable};
use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// People one page lists when no limit is given, and at most.
pub const PEOPLE_PAGE: usize = 100;
pub const MOST_PEOPLE_A_PAGE: usize = 1000;

/// One person as a list of people shows them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonEntry {
    pub participant_id: ParticipantId,
    pub name: String,
    /// "staff" or "partner".
    pub role: String,
    /// Only to those who may read email addresses (docs/ACCESS.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When they registered (YYYY-MM-DD).
    pub registered: String,
    /// When they left the organisation, if they have (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// The projects they are in now.
    pub projects: Vec<ProjectId>,
}

/// A page of people, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeoplePage {
    pub people: Vec<PersonEntry>,
    /// The `after` of the next page, when there is one.
    pub next: Option<ParticipantId>,
}

/// What to look for.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// Words in the name (or the email, for those who may read emails),
    /// or a participant id.
    pub text: Option<String>,
    /// Only the people in this project now.
    pub project: Option<ProjectId>,
    /// The page after this person.
    pub after: Option<ParticipantId>,
    pub limit: Option<usize>,
}

/// A correction of a name or an email (rectification).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The name as it should be.
    pub name: Option<String>,
    /// The email as it should be; "" removes it.
    pub email: Option<String>,
}

impl App {
    /// People, by name, a page at a time (registered people the store still
    /// holds, those who left included).
    pub fn find_people(&self, caller: &Caller, search: Search) -> Result<PeoplePage, Refusal> {
        policy::require(caller.author(), Action::FindPeople)?;
        let emails = policy::may(caller.author().role, Action::ReadEmail);
        let limit = search.limit.unwrap_or(PEOPLE_PAGE);
        if !(1..=MOST_PEOPLE_A_PAGE).contains(&limit) {
            return Err(
                Refusal::malformed(format!("limit must be 1 to {MOST_PEOPLE_A_PAGE}")).at("/limit"),
            );
        }
        let text = search
            .text
            .as_deref()
            .map(comparable)
            .filter(|t| !t.is_empty());
        let mut people = self.0.people.list().map_err(people_refusal)?;
        people.retain(|p| {
            text.as_deref().is_none_or(|t| {
                comparable(&p.name).contains(t)
                    || p.id.to_string() == t
                    || (emails
                        && p.email
                            .as_deref()
                            .is_some_and(|e| comparable(e).contains(t)))
            })
        });
        let model = self.read()?;
        if let Some(project) = &search.project
            && !model.projects.contains_key(project)
        {
            return Err(Refusal::not_found("there is no such project").at("/project"));
        }
        let in_now = |who: &Uuid, project: &ProjectId| {
            model.projects.get(project).is_some_and(|p| {
                p.members
                    .get(&ParticipantId::from(*who))
                    .is_some_and(|m| m.active)
            })
        };
        if let Some(project) = &search.project {
            people.retain(|p| in_now(&p.id, project));
        }
        people.sort_by_cached_key(|p| (comparable(&p.name), p.id));
        let start = match search.after {
            None => 0,
            Some(after) => {
                let at = people.iter().position(|p| p.id == after.uuid()).ok_or_else(|| {
                    Refusal::not_found(
                        "after: that person is not in this list (erased since?); start again without it",
                    )
                    .at("/after")
                })?;
                at + 1
            }
        };
        let page: Vec<PersonEntry> = people[start.min(people.len())..]
            .iter()
            .take(limit)
            .map(|p| PersonEntry {
                participant_id: p.id.into(),
                name: p.name.clone(),
                role: p.role.clone(),
                email: if emails { p.email.clone() } else { None },
                registered: p.registered.clone(),
                left: p.left.clone(),
                projects: model
                    .projects
                    .keys()
                    .filter(|id| in_now(&p.id, id))
                    .copied()
                    .collect(),
            })
            .collect();
        let more = people.len() > start + page.len();
        Ok(PeoplePage {
            next: page.last().filter(|_| more).map(|p| p.participant_id),
            people: page,
        })
    }

    /// Corrects a person's name or email in the people store (the log,
    /// which holds ids only, is not touched). Returns them as corrected.
    pub fn correct_person(
        &self,
        caller: &Caller,
        who: ParticipantId,
        c: Correction,
    ) -> Result<Person, Refusal> {
        policy::require(caller.author(), Action::CorrectPerson)?;
        if c.name.is_none() && c.email.is_none() {
            return Err(Refusal::malformed(
                "say what to correct: a name, an email, or both",
            ));
        }
        let name = c
            .name
            .as_deref()
            .map(crate::people::checked_name)
            .transpose()
            .map_err(|e| Refusal::malformed(e.to_string()).at("/name"))?;
        // "" (or spaces) removes the email.
        let email = c
            .email
            .as_deref()
            .map(|e| Some(e.trim()).filter(|e| !e.is_empty()));
        if let Some(Some(e)) = email {
            crate::people::check_email(e)
                .map_err(|e| Refusal::malformed(e.to_string()).at("/email"))?;
        }
        let corrected = self
            .0
            .people
            .correct(&who.uuid(), name.as_deref(), email)
            .map_err(people_refusal)?;
        corrected.ok_or_else(|| Refusal::not_found("there is no such person"))
    }

    /// A person's email, for those who may read emails, when one is kept.
    pub fn person_email(&self, caller: &Caller, who: Uuid) -> Option<String> {
        if !policy::may(caller.author().role, Action::ReadEmail) {
            return None;
        }
        self.0.people.get(&who).ok().flatten().and_then(|p| p.email)
    }

    /// Someone already registered with this name or this email, if anyone.
    pub(super) fn registered_already(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<Option<(Person, &'static str)>, Refusal> {
        let name = comparable(name);
        let email = email.map(comparable);
        for p in self.0.people.list().map_err(people_refusal)? {
            if comparable(&p.name) == name {
                return Ok(Some((p, "name")));
            }
            if email.is_some() && p.email.as_deref().map(comparable) == email {
                return Ok(Some((p, "email")));
            }
        }
        Ok(None)
    }
}
