//! Access: tokens, sign-in cards, sessions, and the records of them.
//!
//! Every credential's making, first use (for a card), claiming and
//! stopping is recorded in the log (`access.*`, ids only), by whoever did
//! it, and every record names the credential that made it (the actor's
//! `/token:<id>` ending), so acting for someone else always shows. A card
//! a member of staff made counts as its partner's own only once the
//! partner shows it is theirs (`claim_card`): until then a confirmation
//! made with it is not the partner's word, and their equality answers are
//! not shown in its sessions (docs/ACCOUNTABILITY.md, docs/ACCESS.md).
//!
//! A credential is recorded before it can be used: its secret is minted,
//! the record written, and only then is the token kept, so no credential
//! ever signs anyone in without its record.

use super::policy::{self, Action};
use super::sessions::{self, SessionInfo};
use super::tokens::{self, Role, TokenInfo};
use super::trail;
use super::{App, Caller};
use crate::coproduction::access::{Credential, Maker};
use crate::coproduction::events::{AccessClaimed, AccessGranted, AccessRevoked, AccessUsed, Event};
use crate::coproduction::values::{self, CredentialId, CredentialKind, ParticipantId};
use crate::refusal::{Kind, Refusal};
use serde_json::Value;

/// One of a person's ways to sign in, as their own list shows it.
#[derive(Clone, Debug)]
pub struct SignIn {
    pub id: CredentialId,
    pub kind: CredentialKind,
    /// Who made it, as the reader may see them ("an administrator", a
    /// member of staff's name, "you").
    pub made_by: String,
    /// The maker is a member of staff (not the person themself).
    pub made_by_staff: bool,
    /// When it was made (RFC 3339), as the token store has it.
    pub made_at: String,
    /// When it was first used (RFC 3339), if it was.
    pub first_used: Option<String>,
    /// A card staff made that its person has not shown to be theirs.
    pub on_a_card_staff_made: bool,
    /// The credential of the session asking.
    pub this_one: bool,
    /// The browsers it has signed in, and are signed in still.
    pub sessions: Vec<SessionInfo>,
    /// Whether the asker may stop it.
    pub may_stop: bool,
}

fn unauthenticated(m: &str) -> Refusal {
    Refusal::new(Kind::Unauthenticated, m)
}

impl App {
    // -------------------------------------------------------------- tokens

    /// The caller a secret belongs to, if it is known and not revoked.
    pub fn authenticate(&self, secret: &str) -> Result<(Caller, TokenInfo), Refusal> {
        let secret = secret.trim();
        match self.0.tokens.authenticate(secret) {
            Ok(Some(info)) => {
                self.0
                    .tokens
                    .note_use(&tokens::hash(secret))
                    .map_err(Refusal::failed)?;
                Ok((Caller::from_token(&info), info))
            }
            Ok(None) => Err(unauthenticated("this token is not known or was revoked")),
            Err(e) => Err(Refusal::failed(e)),
        }
    }

    /// Makes a token; returns the secret (shown once) and what is stored.
    /// Its making is recorded (`access.granted`, by the caller) before it
    /// can be used. No token is made for someone erased.
    pub async fn create_token(
        &self,
        caller: &Caller,
        role: Role,
        name: &str,
        participant: Option<&str>,
    ) -> Result<(String, TokenInfo), Refusal> {
        policy::require(caller.author(), Action::ManageTokens)?;
        let participant = participant
            .map(|p| {
                serde_json::from_value::<ParticipantId>(Value::String(p.into()))
                    .map_err(|e| Refusal::malformed(format!("participant: {e}")).at("/participant"))
            })
            .transpose()?;
        if let Some(p) = participant {
            self.not_erased(&p, "/participant")?;
        }
        let (secret, info) =
            tokens::TokenStore::mint(role, name, participant, CredentialKind::AccessCode).map_err(
                |e| match e {
                    tokens::TokenError::BadInput(m) => Refusal::malformed(m),
                    other => Refusal::failed(other),
                },
            )?;
        self.grant(caller, &secret, &info).await?;
        Ok((secret, info))
    }

    /// Records a minted credential's making, then keeps it.
    async fn grant(&self, caller: &Caller, secret: &str, info: &TokenInfo) -> Result<(), Refusal> {
        let event = Event::AccessGranted(AccessGranted {
            credential_id: info.credential(),
            role: info.role.into(),
            participant_id: info.participant,
            kind: info.kind,
        });
        self.write(Self::own_event(caller, &event)).await?;
        self.0.tokens.keep(secret, info).map_err(Refusal::failed)?;
        trail::token_made(caller, &info.id, info.role.as_str());
        Ok(())
    }

    /// Refuses a person who was erased (said as "no such person": the
    /// record keeps no more of them than their id).
    fn not_erased(&self, who: &ParticipantId, at: &str) -> Result<(), Refusal> {
        if self.read()?.erased.contains(who) {
            return Err(Refusal::not_found(
                "there is no one with this participant id who may sign in: they were erased",
            )
            .at(at));
        }
        Ok(())
    }

    pub fn tokens(&self, caller: &Caller) -> Result<Vec<TokenInfo>, Refusal> {
        policy::require(caller.author(), Action::ManageTokens)?;
        self.0.tokens.list().map_err(Refusal::failed)
    }

    /// Revokes a token by its public id; it stops working at once, and the
    /// log records who stopped it.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<TokenInfo, Refusal> {
        policy::require(caller.author(), Action::ManageTokens)?;
        let info = self.0.tokens.revoke(id).map_err(|e| match e {
            tokens::TokenError::NotFound(_) => Refusal::not_found(e.to_string()),
            other => Refusal::failed(other),
        })?;
        self.credentials_ended();
        trail::token_revoked(caller, &info.id);
        self.record_stopped(caller, info.credential()).await?;
        Ok(info)
    }

    /// Stops every way `who` signs in at once (a lost phone or card): each
    /// of their tokens not yet revoked is revoked (access codes, cards
    /// used or not), the sessions they started end, and the log records
    /// each one stopped. Returns how many were stopped.
    pub async fn stop_sign_ins(
        &self,
        caller: &Caller,
        who: ParticipantId,
    ) -> Result<usize, Refusal> {
        policy::require(caller.author(), Action::StopSignIns)?;
        let theirs: Vec<TokenInfo> = self
            .0
            .tokens
            .list()
            .map_err(Refusal::failed)?
            .into_iter()
            .filter(|t| t.participant == Some(who) && t.revoked.is_none())
            .collect();
        for t in &theirs {
            let info = self.0.tokens.revoke(&t.id).map_err(Refusal::failed)?;
            trail::token_revoked(caller, &info.id);
            self.record_stopped(caller, info.credential()).await?;
        }
        self.credentials_ended();
        Ok(theirs.len())
    }

    /// Records that a credential was stopped (once stopped, it is).
    pub(super) async fn record_stopped(
        &self,
        caller: &Caller,
        credential: CredentialId,
    ) -> Result<(), Refusal> {
        let already = self
            .read()?
            .access
            .get(&credential)
            .is_some_and(|c| c.revoked_at.is_some());
        if already {
            return Ok(());
        }
        let event = Event::AccessRevoked(AccessRevoked {
            credential_id: credential,
        });
        self.write(Self::own_event(caller, &event))
            .await
            .map(|_| ())
    }

    // ---------------------------------------------------- signing in

    /// Signs a browser in with an access code: a new session, and its
    /// cookie (shown once), and the token it signs in with.
    pub fn sign_in(&self, code: &str) -> Result<(String, TokenInfo), Refusal> {
        let (_, info) = self.authenticate(code)?;
        let (cookie, _) = self
            .0
            .sessions
            .start(&tokens::hash(code.trim()))
            .map_err(Refusal::failed)?;
        Ok((cookie, info))
    }

    /// Who a session cookie signs in: unauthenticated if the session is
    /// unknown, idle too long, or its token was revoked or deleted.
    pub fn session(&self, cookie: &str) -> Result<(Caller, TokenInfo, sessions::Session), Refusal> {
        let gone = || unauthenticated("please sign in again");
        let s = self
            .0
            .sessions
            .find(cookie)
            .map_err(Refusal::failed)?
            .ok_or_else(gone)?;
        let info = self
            .0
            .tokens
            .by_hash(&s.token_hash)
            .map_err(Refusal::failed)?
            .ok_or_else(gone)?;
        Ok((Caller::from_token(&info), info, s))
    }

    /// Ends a session.
    pub fn sign_out(&self, cookie: &str) -> Result<(), Refusal> {
        self.0.sessions.end(cookie).map_err(Refusal::failed)
    }

    /// A sign-in card for a partner (staff): a new access token of theirs
    /// and a link that signs in with it, once, within
    /// [`sessions::LINK_DAYS`] days. Its making is recorded by the caller
    /// (and the partner is told by email, if they have an address). Returns
    /// the link's secret, when it ends (Unix seconds), and the token made.
    pub async fn make_sign_in_card(
        &self,
        caller: &Caller,
        partner: ParticipantId,
    ) -> Result<(String, u64, TokenInfo), Refusal> {
        policy::require(caller.author(), Action::MakeSignInCard)?;
        {
            let model = self.read()?;
            if model.erased.contains(&partner)
                || model.role(&partner) != Some(values::Role::Partner)
            {
                return Err(Refusal::not_found("there is no partner with this id"));
            }
        }
        // Whose and when, by id: a name would stay in the token store's
        // files after an erasure (docs/ACCESS.md).
        let name = format!(
            "card-{}-{}",
            &partner.to_string()[..8],
            time::OffsetDateTime::now_utc().date()
        );
        let (secret, info) = tokens::TokenStore::mint(
            Role::Partner,
            &name,
            Some(partner),
            CredentialKind::SignInCard,
        )
        .map_err(Refusal::failed)?;
        self.grant(caller, &secret, &info).await?;
        let (link, expires) = self
            .0
            .links
            .make(&tokens::hash(&secret))
            .map_err(Refusal::failed)?;
        Ok((link, expires, info))
    }

    /// Whether a sign-in link still works, and whose it is.
    pub fn sign_in_link(&self, secret: &str) -> Result<TokenInfo, Refusal> {
        let token = self.0.links.peek(secret).map_err(Refusal::failed)?;
        self.link_token(token).map(|(info, _)| info)
    }

    /// Signs a browser in with a sign-in link, using it up; its use is
    /// recorded (`access.used`, by the card).
    pub async fn sign_in_with_link(
        &self,
        secret: &str,
    ) -> Result<(String, sessions::Session), Refusal> {
        let token = self.0.links.use_up(secret).map_err(Refusal::failed)?;
        let (info, h) = self.link_token(token)?;
        let event = Event::AccessUsed(AccessUsed {
            credential_id: info.credential(),
        });
        self.write(Self::own_event(&Caller::from_token(&info), &event))
            .await?;
        self.0.tokens.note_use(&h).map_err(Refusal::failed)?;
        self.0.sessions.start(&h).map_err(Refusal::failed)
    }

    fn link_token(
        &self,
        token: Result<String, sessions::LinkProblem>,
    ) -> Result<(TokenInfo, String), Refusal> {
        match token {
            Err(sessions::LinkProblem::Expired) => Err(unauthenticated(
                "this sign-in link has expired; ask the team for a new one",
            )),
            Err(sessions::LinkProblem::Unknown) => Err(unauthenticated(
                "this sign-in link does not work: it may have been used already; ask the team for a new one",
            )),
            Ok(h) => {
                let info = self
                    .0
                    .tokens
                    .by_hash(&h)
                    .map_err(Refusal::failed)?
                    .ok_or_else(|| {
                        unauthenticated(
                            "this sign-in link no longer works; ask the team for a new one",
                        )
                    })?;
                Ok((info, h))
            }
        }
    }

    // ---------------------------------------------- a person's own sign-ins

    /// Whether the caller writes with a sign-in card a member of staff made
    /// that its person has not shown to be theirs.
    pub fn on_a_card_staff_made(&self, caller: &Caller) -> Result<bool, Refusal> {
        Ok(self
            .read()?
            .access
            .on_a_card_staff_made(caller.author().credential))
    }

    /// The card the caller signed in with, if a member of staff made it and
    /// its person has not shown it is theirs.
    pub fn staff_card_of(&self, caller: &Caller) -> Result<Option<Credential>, Refusal> {
        let model = self.read()?;
        Ok(caller
            .author()
            .credential
            .and_then(|c| model.access.get(&c))
            .filter(|c| !c.speaks_for_its_person())
            .cloned())
    }

    /// Every way the caller (a person) can sign in, not stopped: who made
    /// each and when, when it was first used, the browsers it keeps signed
    /// in. Made for their own list, so that anyone who signs in as them
    /// shows there.
    pub fn sign_ins(&self, caller: &Caller) -> Result<Vec<SignIn>, Refusal> {
        policy::require(caller.author(), Action::SeeOwnSignIns)?;
        let me = caller
            .participant()
            .ok_or_else(|| Refusal::forbidden("this token belongs to no participant"))?;
        let mine: Vec<(String, TokenInfo)> = self
            .0
            .tokens
            .list_by_hash()
            .map_err(Refusal::failed)?
            .into_iter()
            .filter(|(_, t)| t.participant == Some(me) && t.revoked.is_none())
            .collect();
        let wanted = mine.iter().map(|(h, _)| h.clone()).collect();
        let sessions = self
            .0
            .sessions
            .of_tokens(&wanted)
            .map_err(Refusal::failed)?;
        let model = self.read()?;
        let on_card = model
            .access
            .on_a_card_staff_made(caller.author().credential);
        let mut out = Vec::new();
        for (h, t) in mine {
            let id = t.credential();
            let recorded = model.access.get(&id);
            let made_by_staff = recorded.is_some_and(Credential::made_by_someone_else_in_decisions);
            let made_by = match recorded.map(|c| c.made_by) {
                None => "someone, before the record named who".to_string(),
                Some(Maker::Operator) => "the person who runs this server".into(),
                Some(Maker::Admin) => "an administrator".into(),
                Some(Maker::Partner(p)) if p == me => "you".into(),
                Some(Maker::Partner(_)) => "a partner".into(),
                Some(Maker::Staff(Some(p))) => self.name_of_maker(caller, &model, &p),
                Some(Maker::Staff(None)) => "a member of staff".into(),
            };
            let this_one = caller.author().credential == Some(id);
            out.push(SignIn {
                id,
                kind: t.kind,
                made_by,
                made_by_staff,
                made_at: t.created.clone(),
                first_used: t.first_used.clone(),
                on_a_card_staff_made: recorded.is_some_and(|c| !c.speaks_for_its_person()),
                this_one,
                sessions: sessions
                    .iter()
                    .filter(|s| s.token_hash == h)
                    .cloned()
                    .collect(),
                // A card staff made, not shown to be its partner's, stops
                // only itself: it must not lock the partner out.
                may_stop: this_one || !on_card,
            });
        }
        Ok(out)
    }

    /// A member of staff who made a credential for `reader`, as the
    /// disclosure policy names them to the person it signs in as.
    fn name_of_maker(
        &self,
        reader: &Caller,
        model: &crate::coproduction::model::Model,
        maker: &ParticipantId,
    ) -> String {
        policy::name_of_credential_maker(reader.author(), model, maker, || {
            self.0
                .people
                .get(&maker.uuid())
                .ok()
                .flatten()
                .map(|p| p.name)
        })
    }

    /// Stops one of the caller's own ways to sign in (and the browsers it
    /// signed in); recorded, by the caller. A session on a card staff made
    /// that its person has not claimed may stop only that card.
    pub async fn stop_sign_in(&self, caller: &Caller, id: &str) -> Result<(), Refusal> {
        policy::require(caller.author(), Action::SeeOwnSignIns)?;
        let cred = CredentialId::parse(id).map_err(|e| Refusal::not_found(e).at("/id"))?;
        let me = caller.participant();
        let token = self
            .0
            .tokens
            .list()
            .map_err(Refusal::failed)?
            .into_iter()
            .find(|t| t.id == id && t.participant.is_some() && t.participant == me)
            .ok_or_else(|| Refusal::not_found("you have no sign-in with this id").at("/id"))?;
        if caller.author().credential != Some(cred) && self.on_a_card_staff_made(caller)? {
            return Err(Refusal::forbidden(
                "a session on a card a member of staff made can stop only that card, until you show the card is yours",
            ));
        }
        if token.revoked.is_none() {
            self.0.tokens.revoke(id).map_err(Refusal::failed)?;
            self.credentials_ended();
        }
        self.record_stopped(caller, cred).await
    }

    /// Signs out one browser that one of the caller's own credentials
    /// signed in (by its handle, from [`sign_ins`](Self::sign_ins)).
    pub fn end_session(&self, caller: &Caller, handle: &str) -> Result<(), Refusal> {
        let mine = self
            .sign_ins(caller)?
            .into_iter()
            .filter(|s| s.may_stop)
            .any(|s| s.sessions.iter().any(|x| x.handle == handle));
        if !mine {
            return Err(Refusal::not_found("you have no session with this id").at("/session"));
        }
        self.0
            .sessions
            .end_by_handle(handle)
            .map_err(Refusal::failed)
    }

    /// In a session on a card a member of staff made, the partner shows
    /// the card is theirs by entering an access code of their own (one no
    /// member of staff made for them): recorded (`access.claimed`), and
    /// from then on what the card does counts as theirs.
    pub async fn claim_card(&self, caller: &Caller, code: &str) -> Result<(), Refusal> {
        let card = self.staff_card_of(caller)?.ok_or_else(|| {
            Refusal::conflict(
                "this session is not on a card a member of staff made, so there is nothing to show",
            )
        })?;
        let wrong = || {
            Refusal::forbidden(
                "that is not an access code of yours that you were given yourself; check it and try again",
            )
            .at("/code")
        };
        let own = self
            .0
            .tokens
            .authenticate(code.trim())
            .map_err(Refusal::failed)?
            .ok_or_else(wrong)?;
        let speaks = self
            .read()?
            .access
            .get(&own.credential())
            .is_none_or(Credential::speaks_for_its_person);
        if own.participant != card.participant || own.credential() == card.id || !speaks {
            return Err(wrong());
        }
        let event = Event::AccessClaimed(AccessClaimed {
            credential_id: card.id,
            shown_with: own.credential(),
        });
        self.write(Self::own_event(caller, &event))
            .await
            .map(|_| ())
    }
}
