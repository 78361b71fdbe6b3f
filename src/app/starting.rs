//! Starting a project with its first members. A project started in the
//! pages is used at once ("Record a meeting" asks who came), so its lead
//! and whoever started it join it as it starts: `project.started`, then a
//! `participant.joined` for each (the lead first). `POST /v1/events` with
//! `project.started` writes that record alone, as it always has: API
//! clients record who joins themselves (docs/PAGES.md).

use super::{App, Caller, Recorded, Submission};
use crate::coproduction::events::{Event, ParticipantJoined};
use crate::coproduction::values::{ParticipantId, ProjectId, Role};
use crate::refusal::Refusal;

impl App {
    /// Appends `project.started` (as [`append`](Self::append) would), then
    /// the joining of its lead and of the caller, when they have a
    /// participant id, unless they are in it already. Returns the project's
    /// record. A joining refused (a lead the record does not know as
    /// staff) leaves the project started, with fewer members, and is
    /// logged: the project page can add them.
    pub async fn start_project(&self, caller: &Caller, s: Submission) -> Result<Recorded, Refusal> {
        if s.event_type != "project.started" {
            return Err(
                Refusal::malformed("this starts projects only: project.started").at("/type"),
            );
        }
        let v = s.payload.to_value();
        let id = |key: &str| v[key].as_str().and_then(|t| uuid::Uuid::parse_str(t).ok());
        let (project, lead) = (id("project_id"), id("lead"));
        let recorded = self.append(caller, s).await?;
        let (Some(project), Some(lead)) = (project, lead) else {
            return Ok(recorded);
        };
        let project = ProjectId::from(project);
        let mut first: Vec<ParticipantId> = vec![lead.into()];
        if let Some(me) = caller.participant()
            && !first.contains(&me)
        {
            first.push(me);
        }
        for who in first {
            let role = {
                let model = self.read()?;
                let already = model
                    .projects
                    .get(&project)
                    .and_then(|p| p.members.get(&who))
                    .is_some_and(|m| m.active);
                if already {
                    continue;
                }
                model.role(&who).unwrap_or(Role::Staff)
            };
            let event = Event::ParticipantJoined(ParticipantJoined {
                project_id: Some(project),
                participant_id: who,
                role,
            });
            if let Err(r) = self.write(Self::own_event(caller, &event)).await {
                tracing::warn!(%project, participant = %who, "a first member of a new project did not join: {r}");
            }
        }
        Ok(recorded)
    }
}
