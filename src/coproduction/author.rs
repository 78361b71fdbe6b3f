//! Who appended a record, read from the record's actor. The actor is set by
//! whoever authenticated the writer (a token, a signed-in partner, the local
//! operator), never taken from a payload.
//!
//! Actor forms: `partner:<participant id>`, `staff:<participant id>`,
//! `staff:<name>`, `admin:<name>`, `auditor:<name>`, `operator:<name>` (the
//! command line on the server's own machine, with staff rights). A token
//! holder's actor ends `/token:<credential id>`: which credential made the
//! record, so that what a card someone else made did is never taken for
//! what its person did (records made before credentials were named have
//! no such ending).

use super::values::{CredentialId, ParticipantId};
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
    /// The credential they wrote with, where the actor names one.
    pub credential: Option<CredentialId>,
}

/// What ends the actor of a record made with a credential.
const CREDENTIAL_MARK: &str = "/token:";

impl Author {
    pub fn from_actor(actor: &Actor) -> Self {
        let (who, credential) = match actor.as_str().rsplit_once(CREDENTIAL_MARK) {
            Some((who, id)) => match CredentialId::parse(id) {
                Ok(id) => (who, Some(id)),
                // Not a credential's ending: no actor the core makes.
                Err(_) => return Author::unknown(),
            },
            None => (actor.as_str(), None),
        };
        let (kind, name) = who.split_once(':').unwrap_or(("", ""));
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
        Author {
            role,
            participant,
            credential,
        }
    }

    fn unknown() -> Self {
        Author {
            role: AuthorRole::Unknown,
            participant: None,
            credential: None,
        }
    }

    /// The actor of a record made with credential `credential` by `who`
    /// (an actor without a credential's ending).
    pub fn with_credential(who: &Actor, credential: CredentialId) -> Actor {
        Actor::new(&format!("{}{CREDENTIAL_MARK}{credential}", who.as_str()))
            .expect("an actor and a credential id fit an actor")
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
        // With the credential that made the record.
        check(
            &format!("partner:{id}/token:4f1c2a9b3d0e"),
            AuthorRole::Partner,
            true,
        );
        check("admin:alice/token:4f1c2a9b3d0e", AuthorRole::Admin, false);
        check(
            &format!("partner:{id}/token:not-hex"),
            AuthorRole::Unknown,
            false,
        );
        check(
            &format!("partner:{id}/token:4F1C2A9B3D0E"),
            AuthorRole::Unknown,
            false,
        );
    }

    #[test]
    fn the_credential_is_read_from_the_actor_and_only_from_its_end() {
        let id = "0190d9a0-0000-7000-8000-000000000001";
        let cred = |a: &str| Author::from_actor(&Actor::new(a).unwrap()).credential;
        assert_eq!(
            cred(&format!("partner:{id}/token:4f1c2a9b3d0e")).map(|c| c.to_string()),
            Some("4f1c2a9b3d0e".into())
        );
        assert_eq!(cred(&format!("partner:{id}")), None);
        assert_eq!(cred("operator:alice"), None);
        let made = Author::with_credential(
            &Actor::new(&format!("staff:{id}")).unwrap(),
            CredentialId::parse("00000000002a").unwrap(),
        );
        assert_eq!(made.as_str(), format!("staff:{id}/token:00000000002a"));
        let a = Author::from_actor(&made);
        assert_eq!((a.role, a.participant.is_some()), (AuthorRole::Staff, true));
    }
}
