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
        let id = || serde_json::from_value::<ParticipantId>(name.into()).ok();
        // Only partner and staff actors name a participant: an admin,
        // auditor or operator whose name happens to look like an id is
        // still no one's participant, and cannot act as them.
        let (role, participant) = match kind {
            "admin" => (AuthorRole::Admin, None),
            "staff" => (AuthorRole::Staff, id()),
            "partner" => match id() {
                Some(p) => (AuthorRole::Partner, Some(p)),
                None => (AuthorRole::Unknown, None),
            },
            "auditor" => (AuthorRole::Auditor, None),
            "operator" => (AuthorRole::Operator, None),
            _ => (AuthorRole::Unknown, None),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(actor: &str, role: AuthorRole, participant: bool) {
        let a = Author::from_actor(&Actor::new(actor).unwrap());
        assert_eq!(
            (a.role, a.participant.is_some()),
            (role, participant),
            "{actor}"
        );
    }

    #[test]
    fn only_partner_and_staff_actors_name_a_participant() {
        let id = "0190d9a0-0000-7000-8000-000000000001";
        check(&format!("partner:{id}"), AuthorRole::Partner, true);
        check(&format!("staff:{id}"), AuthorRole::Staff, true);
        check("staff:front-desk", AuthorRole::Staff, false);
        // An admin token named like a partner's id is not that partner.
        check(&format!("admin:{id}"), AuthorRole::Admin, false);
        check(&format!("auditor:{id}"), AuthorRole::Auditor, false);
        check(&format!("operator:{id}"), AuthorRole::Operator, false);
        check("partner:not-an-id", AuthorRole::Unknown, false);
        check("someone", AuthorRole::Unknown, false);
    }
}
