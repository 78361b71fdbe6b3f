//! Who is in a project, changed by staff: people added to it (each a
//! `participant.joined`, with the role they have) and people who leave it
//! (`participant.left`). Each is an append like any other, through the
//! same policy and rules; this only says which records.

use super::{App, Caller, Submission};
use crate::coproduction::values::{ParticipantId, ProjectId, Role};
use crate::refusal::Refusal;
use serde_json::json;

impl App {
    /// Adds people to a project; those in it already are passed over.
    /// Everyone is checked before anything is written: one who is not
    /// registered, or erased, writes nothing for anyone. Returns the
    /// records written.
    pub async fn add_to_project(
        &self,
        caller: &Caller,
        project: ProjectId,
        people: &[ParticipantId],
    ) -> Result<Vec<u64>, Refusal> {
        let mut joining = Vec::new();
        {
            let model = self.read()?;
            let p = model
                .projects
                .get(&project)
                .ok_or_else(|| Refusal::not_found("there is no such project"))?;
            for who in people {
                if model.erased.contains(who) {
                    return Err(Refusal::invalid(format!(
                        "{who} was erased and cannot join anything"
                    )));
                }
                if p.members.get(who).is_some_and(|m| m.active)
                    || joining.iter().any(|(w, _)| w == who)
                {
                    continue;
                }
                let role = match model.role(who) {
                    Some(r) => r,
                    None => match self.0.people.get(&who.uuid()) {
                        Ok(Some(person)) if person.role == "staff" => Role::Staff,
                        Ok(Some(_)) => Role::Partner,
                        _ => {
                            return Err(Refusal::not_found(format!(
                                "{who} is not registered: register them first"
                            )));
                        }
                    },
                };
                joining.push((*who, role));
            }
        }
        let mut written = Vec::new();
        for (who, role) in joining {
            let payload = json!({"project_id": project, "participant_id": who, "role": role});
            let r = self
                .append(
                    caller,
                    Submission::new("participant.joined", super::payload(&payload)?),
                )
                .await?;
            written.push(r.seq);
        }
        Ok(written)
    }

    /// Records that someone left a project (not the organisation: that is
    /// [`record_leaving`](Self::record_leaving)). Its lead is refused.
    pub async fn leave_project(
        &self,
        caller: &Caller,
        project: ProjectId,
        who: ParticipantId,
    ) -> Result<u64, Refusal> {
        // A project is never left without its lead among its members.
        let leads = self
            .read()?
            .projects
            .get(&project)
            .is_some_and(|p| p.lead == who);
        if leads {
            return Err(Refusal::conflict(
                "they lead this project: hand it to another member of staff before they leave it",
            )
            .at("/participant_id"));
        }
        let payload = json!({"project_id": project, "participant_id": who});
        Ok(self
            .append(
                caller,
                Submission::new("participant.left", super::payload(&payload)?),
            )
            .await?
            .seq)
    }
}
