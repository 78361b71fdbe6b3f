//! Who was given a way to sign in, by whom, and what became of it: the
//! `access.*` records folded into one table of credentials.
//!
//! The point is the one rule in [`Credential::speaks_for_its_person`]: a
//! sign-in card that a member of staff made for a partner could have been
//! used by that member of staff, so what it does is not taken for the
//! partner's own word (a confirmation made with it does not make a decision
//! "made jointly") until the partner shows the card is theirs, by entering
//! a credential of their own in its session (`access.claimed`).
//!
//! Credentials made before these records existed have none: they are not
//! in this table, and count as their person's own, as they always did.

use super::author::{Author, AuthorRole};
use super::events::{AccessClaimed, AccessGranted, AccessRevoked, AccessUsed, Event};
use super::values::{AccessRole, CredentialId, CredentialKind, ParticipantId};
use crate::ledger::Timestamp;
use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who made a credential, as its record's actor says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Maker {
    /// The command line on the server's own machine.
    Operator,
    /// An administrator's token.
    Admin,
    /// A member of staff (by id, where their token names one).
    Staff(Option<ParticipantId>),
    /// A partner, for themselves.
    Partner(ParticipantId),
}

impl Maker {
    fn of(author: &Author) -> Option<Maker> {
        Some(match author.role {
            AuthorRole::Operator => Maker::Operator,
            AuthorRole::Admin => Maker::Admin,
            AuthorRole::Staff => Maker::Staff(author.participant),
            AuthorRole::Partner => Maker::Partner(author.participant?),
            AuthorRole::Auditor | AuthorRole::Unknown => return None,
        })
    }
}

/// One credential, as the log tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub role: AccessRole,
    /// The person it signs in as.
    pub participant: Option<ParticipantId>,
    pub kind: CredentialKind,
    pub made_by: Maker,
    /// The credential its maker used (none for the operator).
    pub made_with: Option<CredentialId>,
    pub made_at: Timestamp,
    /// When a sign-in card's link was used.
    pub used_at: Option<Timestamp>,
    /// When its person showed it is theirs, and with which credential.
    pub claimed: Option<(Timestamp, CredentialId)>,
    pub revoked_at: Option<Timestamp>,
}

impl Credential {
    /// Made for someone by a member of staff who is not them: staff take
    /// part in the decisions, so they must not be able to speak for a
    /// partner unseen. (Administrators and the operator issue credentials
    /// as the organisation's custodians; each is named in the record.)
    pub fn made_by_someone_else_in_decisions(&self) -> bool {
        match self.made_by {
            Maker::Staff(maker) => maker.is_none() || maker != self.participant,
            _ => false,
        }
    }

    /// Whether what it does counts as its person's own word: not when a
    /// member of staff made it and the person has not shown it is theirs.
    pub fn speaks_for_its_person(&self) -> bool {
        !self.made_by_someone_else_in_decisions() || self.claimed.is_some()
    }
}

/// Every credential the log has granted, by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    by_id: BTreeMap<CredentialId, Credential>,
}

impl Credentials {
    pub fn get(&self, id: &CredentialId) -> Option<&Credential> {
        self.by_id.get(id)
    }

    /// The credentials granted to one person, oldest first.
    pub fn of(&self, who: &ParticipantId) -> impl Iterator<Item = &Credential> {
        let mut mine: Vec<&Credential> = self
            .by_id
            .values()
            .filter(|c| c.participant.as_ref() == Some(who))
            .collect();
        mine.sort_by_key(|c| c.made_at);
        mine.into_iter()
    }

    /// Whether a record made with `credential` (an author's) must not be
    /// taken for its person's own word: it is a card staff made that its
    /// person has not claimed. `None` (the operator, or a record made
    /// before credentials were named) speaks for itself.
    pub fn on_a_card_staff_made(&self, credential: Option<CredentialId>) -> bool {
        credential
            .and_then(|c| self.by_id.get(&c))
            .is_some_and(|c| !c.speaks_for_its_person())
    }

    /// Whether an `access.*` event fits what is recorded. The core writes
    /// these; what is checked is what would make the table wrong.
    pub fn check(&self, author: &Author, event: &Event) -> Result<(), Refusal> {
        match event {
            Event::AccessGranted(e) => {
                if self.by_id.contains_key(&e.credential_id) {
                    return Err(
                        Refusal::conflict("a credential with this id was already granted")
                            .at("/credential_id"),
                    );
                }
                if Maker::of(author).is_none() {
                    return Err(Refusal::forbidden(
                        "only a person or the operator makes credentials",
                    )
                    .at("/credential_id"));
                }
                let needs_person = e.role == AccessRole::Partner;
                let may_have_person = matches!(e.role, AccessRole::Partner | AccessRole::Staff);
                if (needs_person && e.participant_id.is_none())
                    || (!may_have_person && e.participant_id.is_some())
                {
                    return Err(Refusal::invalid(
                        "a partner's credential names its partner; only partners' and staff's name anyone",
                    )
                    .at("/participant_id"));
                }
                Ok(())
            }
            Event::AccessClaimed(e) => {
                let card = self.by_id.get(&e.credential_id).ok_or_else(|| {
                    Refusal::invalid("there is no credential with this id").at("/credential_id")
                })?;
                if card.claimed.is_some() {
                    return Err(Refusal::conflict(
                        "this card was already shown to be its person's own",
                    )
                    .at("/credential_id"));
                }
                let own = self.by_id.get(&e.shown_with);
                let fits = own
                    .is_none_or(|o| o.participant == card.participant && o.speaks_for_its_person())
                    && e.shown_with != e.credential_id;
                let in_its_session = author.credential == Some(e.credential_id);
                if !fits
                    || !in_its_session
                    || author.participant.is_none()
                    || author.participant != card.participant
                {
                    return Err(Refusal::forbidden(
                        "a card is shown to be someone's own only by them, with a credential of their own",
                    )
                    .at("/shown_with"));
                }
                Ok(())
            }
            // Used and stopped may name a credential made before these
            // records existed: nothing to check against.
            _ => Ok(()),
        }
    }

    /// Applies an `access.*` event (others are not this table's).
    pub fn apply(&mut self, author: &Author, at: Timestamp, event: &Event) {
        match event {
            Event::AccessGranted(AccessGranted {
                credential_id,
                role,
                participant_id,
                kind,
            }) => {
                if let Some(made_by) = Maker::of(author) {
                    self.by_id.insert(
                        *credential_id,
                        Credential {
                            id: *credential_id,
                            role: *role,
                            participant: *participant_id,
                            kind: *kind,
                            made_by,
                            made_with: author.credential,
                            made_at: at,
                            used_at: None,
                            claimed: None,
                            revoked_at: None,
                        },
                    );
                }
            }
            Event::AccessUsed(AccessUsed { credential_id }) => {
                if let Some(c) = self.by_id.get_mut(credential_id) {
                    c.used_at.get_or_insert(at);
                }
            }
            Event::AccessClaimed(AccessClaimed {
                credential_id,
                shown_with,
            }) => {
                if let Some(c) = self.by_id.get_mut(credential_id) {
                    c.claimed.get_or_insert((at, *shown_with));
                }
            }
            Event::AccessRevoked(AccessRevoked { credential_id }) => {
                if let Some(c) = self.by_id.get_mut(credential_id) {
                    c.revoked_at.get_or_insert(at);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Actor;

    fn author(actor: &str) -> Author {
        Author::from_actor(&Actor::new(actor).unwrap())
    }

    const PARTNER: &str = "0190d9a0-0000-7000-8000-000000000001";
    const STAFF: &str = "0190d9a0-0000-7000-8000-000000000002";

    fn id(n: u64) -> CredentialId {
        CredentialId::parse(&format!("{n:012x}")).unwrap()
    }

    fn granted(by: &str, n: u64, kind: CredentialKind) -> (Credentials, Author) {
        let mut c = Credentials::default();
        let e = Event::AccessGranted(AccessGranted {
            credential_id: id(n),
            role: AccessRole::Partner,
            participant_id: Some(PARTNER.parse::<uuid::Uuid>().unwrap().into()),
            kind,
        });
        let a = author(by);
        c.check(&a, &e).unwrap();
        c.apply(&a, Timestamp::now(), &e);
        (c, a)
    }

    /// (who made the credential, whether what it does is its person's own word)
    fn check(maker: &str, speaks: bool) {
        let (c, _) = granted(maker, 1, CredentialKind::SignInCard);
        assert_eq!(
            c.get(&id(1)).unwrap().speaks_for_its_person(),
            speaks,
            "{maker}"
        );
        assert_eq!(c.on_a_card_staff_made(Some(id(1))), !speaks, "{maker}");
    }

    #[test]
    fn a_card_speaks_for_its_partner_unless_staff_made_it() {
        check(&format!("staff:{STAFF}/token:0000000000aa"), false);
        check("staff:front-desk/token:0000000000aa", false);
        check("admin:alice/token:0000000000aa", true);
        check("operator:alice", true);
        check(&format!("partner:{PARTNER}/token:0000000000aa"), true);
    }

    #[test]
    fn a_claim_makes_a_staff_card_its_partner_own() {
        let (mut c, _) = granted(&format!("staff:{STAFF}"), 1, CredentialKind::SignInCard);
        let holder = author(&format!("partner:{PARTNER}/token:000000000001"));
        // A credential the log does not know (made before credentials were
        // recorded) is the partner's own; the card itself is not.
        for (shown_with, ok) in [(id(9), true), (id(1), false)] {
            let e = Event::AccessClaimed(AccessClaimed {
                credential_id: id(1),
                shown_with,
            });
            assert_eq!(c.check(&holder, &e).is_ok(), ok, "{shown_with}");
        }
        // Staff cannot claim it for the partner.
        let staff = author(&format!("staff:{STAFF}/token:000000000002"));
        let e = Event::AccessClaimed(AccessClaimed {
            credential_id: id(1),
            shown_with: id(9),
        });
        assert!(c.check(&staff, &e).is_err());
        c.apply(&holder, Timestamp::now(), &e);
        assert!(!c.on_a_card_staff_made(Some(id(1))));
        assert_eq!(
            c.check(&holder, &e).unwrap_err().kind(),
            crate::refusal::Kind::Conflict
        );
    }

    #[test]
    fn a_credential_is_granted_once() {
        let (c, a) = granted("admin:alice", 1, CredentialKind::AccessCode);
        let again = Event::AccessGranted(AccessGranted {
            credential_id: id(1),
            role: AccessRole::Auditor,
            participant_id: None,
            kind: CredentialKind::AccessCode,
        });
        assert_eq!(
            c.check(&a, &again).unwrap_err().kind(),
            crate::refusal::Kind::Conflict
        );
    }
}
