//! How fast one access token may append: a token bucket per token, checked
//! first thing in [`App::append`](super::App::append), so the API, the pages
//! and any other door share it. A partner's token that appends without
//! pause (a script, a stolen code) cannot fill the log and the staff's
//! inboxes; a person typing ideas never meets it. Staff and admin tokens,
//! which bulk imports and load tests use, are limited only if configured;
//! the operator at the command line never is.

use super::{App, Caller};
use crate::coproduction::author::AuthorRole;
use crate::refusal::Refusal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Appends a token may make a minute, by its role; `None` for no limit.
/// A token may send that many at once, then one every `60 / n` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendLimits {
    /// Partner tokens (`serve --partner-appends-per-minute`).
    pub partner: Option<u32>,
    /// Staff and admin tokens (`serve --staff-appends-per-minute`).
    pub staff: Option<u32>,
}

/// Partner tokens' appends a minute unless configured: a burst of 30,
/// then one every 2 seconds. Typing an idea takes longer than that.
pub const PARTNER_APPENDS_PER_MINUTE: u32 = 30;

impl Default for AppendLimits {
    fn default() -> Self {
        AppendLimits {
            partner: Some(PARTNER_APPENDS_PER_MINUTE),
            staff: None,
        }
    }
}

/// A token's bucket: how many appends it may make now, as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Its size (and appends a minute), kept so idle buckets can be dropped.
    size: f64,
}

impl Bucket {
    fn refilled(&self, now: Instant) -> f64 {
        let rate = self.size / 60.0;
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(self.size)
    }
}

/// Buckets kept before full ones (idle tokens) are dropped.
const MAX_BUCKETS: usize = 4096;

/// The buckets of every limited token, by token id.
pub struct Limiter {
    limits: AppendLimits,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(limits: AppendLimits) -> Self {
        Limiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Appends a minute for this caller's token, if it is limited.
    fn per_minute(&self, caller: &Caller) -> Option<u32> {
        // The operator has no token, and is not limited.
        caller.token_id()?;
        match caller.author().role {
            AuthorRole::Partner => self.limits.partner,
            AuthorRole::Staff | AuthorRole::Admin => self.limits.staff,
            _ => None,
        }
        .filter(|n| *n > 0)
    }

    /// Takes one append from the caller's bucket, as of `now`; refused,
    /// with the seconds until the next is allowed, when it is empty.
    pub fn take(&self, caller: &Caller, now: Instant) -> Result<(), Refusal> {
        let (Some(n), Some(id)) = (self.per_minute(caller), caller.token_id()) else {
            return Ok(());
        };
        let size = f64::from(n);
        // A panic elsewhere while holding it leaves whole buckets behind.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(id) {
            buckets.retain(|_, b| b.refilled(now) < b.size);
        }
        let b = buckets.entry(id.to_string()).or_insert(Bucket {
            tokens: size,
            at: now,
            size,
        });
        b.size = size;
        b.tokens = b.refilled(now);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - b.tokens) * 60.0 / size;
        Err(Refusal::too_many_requests(wait.ceil() as u64))
    }
}

impl App {
    /// Takes one append from the caller's token's bucket; refused (and
    /// counted in `/metrics`) when it is empty, before anything is read
    /// or written.
    pub(super) fn within_append_limit(&self, caller: &Caller) -> Result<(), Refusal> {
        self.0.limits.take(caller, Instant::now()).inspect_err(|_| {
            self.0.metrics.limited.fetch_add(1, Ordering::Relaxed);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tokens::{Role, TokenInfo};
    use crate::refusal::Kind;
    use std::time::Duration;

    fn caller(role: Role, id: &str) -> Caller {
        // A token's id is 12 hex digits of its hash: one for each name here.
        Caller::from_token(&TokenInfo {
            id: crate::app::tokens::hash(id)[..12].to_string(),
            role,
            name: "someone".into(),
            participant: matches!(role, Role::Partner).then(|| uuid::Uuid::from_u128(7).into()),
            created: "2026-12-01".into(),
            revoked: None,
            kind: Default::default(),
            first_used: None,
        })
    }

    #[test]
    fn a_partner_token_sends_a_burst_then_one_every_two_seconds() {
        let limiter = Limiter::new(AppendLimits::default());
        let t0 = Instant::now();
        let p = caller(Role::Partner, "tok_a");
        for i in 0..30 {
            assert!(limiter.take(&p, t0).is_ok(), "append {i} of the burst");
        }
        let r = limiter.take(&p, t0).unwrap_err();
        assert_eq!(r.kind(), Kind::TooMany);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
        // Another partner's token has its own bucket.
        assert!(limiter.take(&caller(Role::Partner, "tok_b"), t0).is_ok());
        // Two seconds on, one more; then a wait again.
        let t2 = t0 + Duration::from_secs(2);
        assert!(limiter.take(&p, t2).is_ok());
        assert!(limiter.take(&p, t2).is_err());
        // A minute's rest fills the bucket, and no more than that.
        let later = t0 + Duration::from_secs(600);
        for _ in 0..30 {
            assert!(limiter.take(&p, later).is_ok());
        }
        assert!(limiter.take(&p, later).is_err());
    }

    #[test]
    fn staff_admins_and_the_operator_are_not_limited_unless_configured() {
        let t0 = Instant::now();
        let open = Limiter::new(AppendLimits::default());
        for who in [
            caller(Role::Staff, "tok_s"),
            caller(Role::Admin, "tok_a"),
            Caller::operator(),
        ] {
            for _ in 0..1000 {
                assert!(open.take(&who, t0).is_ok());
            }
        }
        let staff_too = Limiter::new(AppendLimits {
            partner: None,
            staff: Some(60),
        });
        let s = caller(Role::Staff, "tok_s");
        for _ in 0..60 {
            assert!(staff_too.take(&s, t0).is_ok());
        }
        assert_eq!(
            staff_too.take(&s, t0).unwrap_err().retry_after(),
            Some(Duration::from_secs(1))
        );
        for _ in 0..1000 {
            assert!(staff_too.take(&caller(Role::Partner, "tok_p"), t0).is_ok());
        }
    }

    #[test]
    fn idle_buckets_are_dropped_when_there_are_many() {
        let limiter = Limiter::new(AppendLimits::default());
        let t0 = Instant::now();
        for i in 0..MAX_BUCKETS {
            limiter
                .take(&caller(Role::Partner, &format!("tok_{i}")), t0)
                .unwrap();
        }
        let later = t0 + Duration::from_secs(60);
        limiter
            .take(&caller(Role::Partner, "tok_new"), later)
            .unwrap();
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
