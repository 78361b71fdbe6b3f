//! Who appended a record, read from the record's actor. The actor is set by
//! whoever authenticated the writer (a token, a signed-in partner, the local
//! operator), never taken from a payload.
//!
//! Actor forms: `partner:<participant id>`, `staff:<participant id>`,
//! `staff:<name>`, `admin:<name>`, `auditor:<name>`, `operator:<name>` (the
//! command line on the server's own machine, with staff rights).

use super::values::ParticipantId;
use crate::ledger::Actor;

/// What the appending person may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthorRole {
    Admin,
    Staff,
    Partner,
    Auditor,
    Operator,
    /// An actor this layer does not recognise: it may write nothing typed.
    Unknown,
}

/// The appending person, as far as co-production is concerned.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Author {
    pub role: AuthorRole,
    /// Their pseudonymous participant id, where the actor names one.
    pub participant: Option<ParticipantId>,
}

impl Author {
    pub fn from_actor(actor: &Actor) -> Self {
        let (kind, name) = actor.as_str().split_once(':').unwrap_or(("", ""));
        let participant = serde_json::from_value::<ParticipantId>(name.into()).ok();
        let role = match kind {
            "admin" => AuthorRole::Admin,
            "staff" => AuthorRole::Staff,
            "partner" if participant.is_some() => AuthorRole::Partner,
            "auditor" => AuthorRole::Auditor,
            "operator" => AuthorRole::Operator,
            _ => AuthorRole::Unknown,
        };
        Author { role, participant }
    }

    /// The actor for a partner writing as themselves.
    pub fn partner_actor(id: ParticipantId) -> Actor {
        Actor::new(&format!("partner:{id}")).expect("valid actor")
    }

    /// The actor for a staff member known by participant id.
    pub fn staff_actor(id: ParticipantId) -> Actor {
        Actor::new(&format!("staff:{id}")).expect("valid actor")
    }

    /// Staff, admins and the local operator keep the record.
    pub fn is_staff_like(&self) -> bool {
        matches!(
            self.role,
            AuthorRole::Admin | AuthorRole::Staff | AuthorRole::Operator
        )
    }
}
