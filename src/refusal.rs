//! Refusals: why something was not done, as a kind, plain words, and the
//! place at fault. The rules, the permission policy and every use case of
//! the core refuse with a [`Refusal`]; each front door turns its [`Kind`]
//! (never its words) into an HTTP status, an exit code, or the place on a
//! form where the message is shown.

use std::fmt;
use std::time::Duration;

/// What kind of refusal this is. The doors decide everything they show
/// from this and the pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The input cannot be read as what it claims to be: not JSON, not
    /// UTF-8, a repeated key, a number that cannot be kept exactly, an id
    /// or a limit that is not one.
    Malformed,
    /// It reads, but it is not right: the wrong shape for its kind of
    /// event (a missing or unknown field, a value not allowed), an unknown
    /// event type, or something that makes no sense against the record (a
    /// reference to nothing, a stage that is not the project's, a closed
    /// project).
    Invalid,
    /// No credentials, or credentials that are not known or were revoked.
    Unauthenticated,
    /// These credentials may not do this.
    Forbidden,
    /// There is no such thing, or none that this caller may see.
    NotFound,
    /// It clashes with what is recorded: an id already used, a second
    /// confirmation, a project that moved on, an Idempotency-Key reused.
    Conflict,
    /// The input is larger than allowed.
    TooLarge,
    /// Too much at once, or too fast: this caller already holds as much as
    /// one caller may (event streams, requests in flight), or one
    /// credential sent too much in a short time (a partner's token
    /// appending without pause). Trying again after the wait the refusal
    /// carries ([`Refusal::retry_after`]) will work.
    TooMany,
    /// It cannot be done just now (the disk is full, the writer is
    /// stopping, an answer does not exist yet); trying again later may work.
    Unavailable,
    /// Something failed inside jointly: a bug or damage, not the caller's
    /// doing.
    Failed,
}

impl Kind {
    /// Every kind, for tables that must cover them all.
    pub const ALL: [Kind; 10] = [
        Kind::Malformed,
        Kind::Invalid,
        Kind::Unauthenticated,
        Kind::Forbidden,
        Kind::NotFound,
        Kind::Conflict,
        Kind::TooLarge,
        Kind::TooMany,
        Kind::Unavailable,
        Kind::Failed,
    ];

    /// A short stable name (the last part of the problem type URI).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Malformed => "malformed",
            Kind::Invalid => "invalid",
            Kind::Unauthenticated => "unauthenticated",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::Conflict => "conflict",
            Kind::TooLarge => "too-large",
            Kind::TooMany => "too-many",
            Kind::Unavailable => "unavailable",
            Kind::Failed => "failed",
        }
    }

    /// The command line's exit code: 2 for anything the caller can fix by
    /// changing their input, 1 for failures and for what only waiting fixes.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::TooMany | Kind::Unavailable | Kind::Failed => 1,
            _ => 2,
        }
    }
}

/// A refusal: its kind, what is wrong in plain words, and where, as a JSON
/// pointer into the request (`/type`, `/payload/project_id`, ...) when one
/// field is at fault; and, when trying again later will work, how much
/// later. Made only through the constructors; read-only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    kind: Kind,
    message: String,
    pointer: Option<String>,
    retry_after: Option<Duration>,
}

impl Refusal {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            pointer: None,
            retry_after: None,
        }
    }

    /// The same refusal, at a place (a JSON pointer; "" means none).
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        let p = pointer.into();
        self.pointer = (!p.is_empty()).then_some(p);
        self
    }

    /// The same refusal with its pointer moved under `prefix` (a rule's
    /// pointer into a payload becomes one into the request).
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = Some(format!("{prefix}{}", self.pointer.unwrap_or_default()));
        self
    }

    /// The same refusal, saying to try again after `wait`.
    pub fn try_again_in(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(Kind::Malformed, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(Kind::TooMany, message)
    }
    /// Too much sent in a short time: it may be sent again in `seconds`
    /// (at least 1). The words are for a person: the pages show them.
    pub fn too_many_requests(seconds: u64) -> Self {
        let seconds = seconds.max(1);
        let wait = if seconds == 1 {
            "1 second".to_string()
        } else {
            format!("{seconds} seconds")
        };
        Self::too_many(format!(
            "you have sent a lot in a short time; please wait {wait} and send it again"
        ))
        .try_again_in(Duration::from_secs(seconds))
    }
    /// A failure inside jointly, with what failed.
    pub fn failed(what: impl fmt::Display) -> Self {
        Self::new(Kind::Failed, format!("jointly could not do this: {what}"))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn pointer(&self) -> Option<&str> {
        self.pointer.as_deref()
    }
    /// How long to wait before trying again, when waiting will help.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pointer {
            Some(p) => write!(f, "{} (at {p})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_come_from_the_kind() {
        for kind in Kind::ALL {
            let want = match kind {
                Kind::TooMany | Kind::Unavailable | Kind::Failed => 1,
                _ => 2,
            };
            assert_eq!(kind.exit_code(), want, "{kind:?}");
        }
    }

    #[test]
    fn a_refusal_to_wait_says_how_long() {
        let r = Refusal::too_many_requests(2);
        assert_eq!(r.kind(), Kind::TooMany);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
        assert!(r.message().contains("please wait 2 seconds"), "{r}");
        assert!(
            Refusal::too_many_requests(0)
                .message()
                .contains("wait 1 second ")
        );
        assert_eq!(Refusal::conflict("x").retry_after(), None);
    }

    #[test]
    fn pointers_move_under_a_prefix() {
        let r = Refusal::invalid("x").at("/stage").under("/payload");
        assert_eq!(r.pointer(), Some("/payload/stage"));
        let r = Refusal::invalid("x").under("/payload");
        assert_eq!(r.pointer(), Some("/payload"));
        assert_eq!(Refusal::invalid("x").at("").pointer(), None);
    }
}
