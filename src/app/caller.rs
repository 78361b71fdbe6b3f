//! Who is asking: the local operator at the command line, or the holder of
//! an access token (through the API or a signed-in page). The actor every
//! record carries is made here, from the credentials, never from input.

use super::tokens::TokenInfo;
use crate::coproduction::author::Author;
use crate::coproduction::values::ParticipantId;
use crate::ledger::Actor;

/// The person or program behind a request. Made only by
/// [`Caller::operator`] and [`Caller::from_token`].
#[derive(Clone, Debug)]
pub struct Caller {
    actor: Actor,
    author: Author,
    /// The token's public id, for a token holder (idempotency answers and
    /// revocation are kept per token).
    token_id: Option<String>,
}

impl Caller {
    /// The local user of the command line, on the server's own machine:
    /// the rights of an administrator, recorded as `operator:<user>`.
    pub fn operator() -> Self {
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
        let actor = Actor::new(&format!("operator:{}", user.as_deref().unwrap_or("local")))
            .unwrap_or_else(|_| Actor::new("operator:local").expect("valid actor"));
        Self::with_actor(actor, None)
    }

    /// The holder of a token (already authenticated).
    pub fn from_token(token: &TokenInfo) -> Self {
        Self::with_actor(token.actor(), Some(token.id.clone()))
    }

    fn with_actor(actor: Actor, token_id: Option<String>) -> Self {
        Caller {
            author: Author::from_actor(&actor),
            actor,
            token_id,
        }
    }

    /// The actor written into every record this caller appends.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The caller as the rules and the policies see them: a role, and a
    /// participant id for partners and for staff who have one.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// Their participant id, if they have one.
    pub fn participant(&self) -> Option<ParticipantId> {
        self.author.participant
    }

    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_deref()
    }

    /// Whether this is a partner's token.
    pub fn is_partner(&self) -> bool {
        self.author.role == crate::coproduction::author::AuthorRole::Partner
    }
}

impl From<&TokenInfo> for Caller {
    fn from(t: &TokenInfo) -> Self {
        Caller::from_token(t)
    }
}
