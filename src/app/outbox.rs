//! The durable outbox: each message owed to someone, from the moment it is
//! decided until it is sent, or given up.
//!
//! An entry is keyed by its cause and its reader — the record that caused
//! it, the person, and what it is about — so deciding again after a crash
//! (from the last record the outbox took in) writes the same keys, and a
//! key written once is never queued again: sent entries stay, marked sent,
//! for [`KEEP_SENT_DAYS`]. An entry holds no address and no words: the
//! message is written when it is sent, from the record and the people
//! store, so nothing here needs erasing but the entry itself, and an
//! erased person's entries are taken out before anything else
//! (`erasure::shut_out`).

use crate::ledger::store::SideTable;
use crate::ledger::{LedgerError, Seq};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Sent entries are kept this long (so the same cause is never sent
/// twice), then dropped.
pub const KEEP_SENT_DAYS: i64 = 30;

/// A message still failing this long after it was queued is given up.
pub const GIVE_UP_AFTER_S: i64 = 2 * 24 * 3600;

/// The longest wait between two tries while a mail server is down.
pub const MOST_BACKOFF_S: i64 = 30;

const MARK: &[u8] = b"~taken-in";
const WEEKLY: &[u8] = b"~weekly-next";

/// What a message is about (one kind a message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum About {
    /// To a partner: their idea was answered.
    IdeaAnswered,
    /// To a partner: a decision they took part in waits for them.
    DecisionToConfirm,
    /// To a partner: their challenge was answered.
    ChallengeAnswered,
    /// To a partner: an action that came from their idea was done.
    ActionDone,
    /// To the lead and staff of a project: a new idea.
    NewIdea,
    /// To the lead and staff of a project: a decision was challenged.
    NewChallenge,
    /// To the lead and staff of a project: a partner disputed a decision.
    NewDispute,
    /// A person's weekly summary: what was held for it, and for staff the
    /// reminders (ideas waiting too long, actions overdue, reviews due).
    /// Its `seq` is the day it is for (days since 1970), not a record.
    WeeklySummary,
    /// To a person: someone else made a sign-in card for them. Always
    /// sent, and as it happens: it is how they know no one else is acting
    /// as them.
    SignInMade,
}

impl About {
    const ALL: [About; 9] = [
        About::IdeaAnswered,
        About::DecisionToConfirm,
        About::ChallengeAnswered,
        About::ActionDone,
        About::NewIdea,
        About::NewChallenge,
        About::NewDispute,
        About::WeeklySummary,
        About::SignInMade,
    ];
    fn code(self) -> u8 {
        self as u8
    }
    fn from_code(c: u8) -> Option<About> {
        About::ALL.get(c as usize).copied()
    }
}

/// Where an entry stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// To be sent as it happened, at `next_at` (Unix seconds).
    Queued {
        next_at: i64,
        attempts: u32,
    },
    /// Held for the person's weekly summary.
    Weekly,
    Sent {
        at: i64,
    },
    /// Given up; `why` is what the mail server last said.
    Failed {
        at: i64,
        why: String,
    },
}

/// One message owed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub queued_at: i64,
    pub state: State,
}

/// The key of an entry: the record, the person, what it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cause {
    pub seq: Seq,
    pub person: Uuid,
    pub about: About,
}

impl Cause {
    fn key(&self) -> [u8; 25] {
        let mut k = [0u8; 25];
        k[..8].copy_from_slice(&self.seq.to_be_bytes());
        k[8..24].copy_from_slice(self.person.as_bytes());
        k[24] = self.about.code();
        k
    }
    fn from_key(k: &[u8]) -> Option<Cause> {
        let k: &[u8; 25] = k.try_into().ok()?;
        Some(Cause {
            seq: u64::from_be_bytes(k[..8].try_into().ok()?),
            person: Uuid::from_bytes(k[8..24].try_into().ok()?),
            about: About::from_code(k[24])?,
        })
    }
}

/// How many entries stand where, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub weekly: u64,
    pub sent: u64,
    pub failed: u64,
}

/// The outbox, on its side table in the store.
#[derive(Clone)]
pub struct Outbox {
    table: SideTable,
}

fn store_err(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Corrupt {
        seq: 0,
        what: format!("the outbox cannot be used: {e}"),
    }
}

impl Outbox {
    pub fn new(table: SideTable) -> Outbox {
        Outbox { table }
    }

    /// The size of the log the outbox has taken in: records before it
    /// have had their messages decided.
    pub fn taken_in(&self) -> Result<Option<u64>, LedgerError> {
        Ok(self
            .table
            .get(MARK)
            .map_err(store_err)?
            .and_then(|v| v.try_into().ok().map(u64::from_be_bytes)))
    }

    /// When the next weekly summaries are due (Unix seconds), if set.
    pub fn weekly_next(&self) -> Result<Option<i64>, LedgerError> {
        Ok(self
            .table
            .get(WEEKLY)
            .map_err(store_err)?
            .and_then(|v| v.try_into().ok().map(i64::from_be_bytes)))
    }

    /// Queues the summaries decided (each only if new), then sets when
    /// the next are due, durably.
    pub fn plan_weekly(&self, next: i64, summaries: &[(Cause, Entry)]) -> Result<(), LedgerError> {
        for (cause, entry) in summaries {
            let value = serde_json::to_vec(entry).expect("an entry is JSON");
            self.table
                .put_new(&cause.key(), &value)
                .map_err(store_err)?;
        }
        self.table
            .put(WEEKLY, &next.to_be_bytes())
            .map_err(store_err)
    }

    /// Queues what was decided for the records up to `size`, each entry
    /// only if its key is new, then moves the mark. A crash before the
    /// mark moves decides those records again, to the same keys.
    ///
    /// One flush, and only when something was queued: most records are
    /// heard of by no one, and a flush per append (sled writing and
    /// syncing its own log beside the record log's fsync) was a tenth of
    /// one writer's append time. A mark lost in a crash is only moved
    /// again; entries are written before it, and sled keeps a prefix of
    /// its writes, so a kept mark never passes a lost entry.
    pub fn take_in(&self, size: u64, decided: &[(Cause, Entry)]) -> Result<usize, LedgerError> {
        let mut added = 0;
        for (cause, entry) in decided {
            let value = serde_json::to_vec(entry).expect("an entry is JSON");
            if self
                .table
                .put_new_deferred(&cause.key(), &value)
                .map_err(store_err)?
                .is_none()
            {
                added += 1;
            }
        }
        self.table
            .put_deferred(MARK, &size.to_be_bytes())
            .map_err(store_err)?;
        if added > 0 {
            self.table.flush().map_err(store_err)?;
        }
        Ok(added)
    }

    /// Every entry, in the order of the records that caused them.
    pub fn entries(&self) -> Result<Vec<(Cause, Entry)>, LedgerError> {
        let mut out = Vec::new();
        for (k, v) in self.table.scan_prefix(&[]).map_err(store_err)? {
            let (Some(cause), Ok(entry)) = (Cause::from_key(&k), serde_json::from_slice(&v)) else {
                continue; // the mark, or an entry from a later version
            };
            out.push((cause, entry));
        }
        Ok(out)
    }

    /// Entries to send as they happened, due by `now`.
    pub fn due(&self, now: i64) -> Result<Vec<(Cause, Entry)>, LedgerError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(_, e)| matches!(e.state, State::Queued { next_at, .. } if next_at <= now))
            .collect())
    }

    /// The soonest a queued entry is due, if any is.
    pub fn next_due(&self) -> Result<Option<i64>, LedgerError> {
        Ok(self
            .entries()?
            .iter()
            .filter_map(|(_, e)| match e.state {
                State::Queued { next_at, .. } => Some(next_at),
                _ => None,
            })
            .min())
    }

    pub fn set(&self, cause: &Cause, entry: &Entry) -> Result<(), LedgerError> {
        let value = serde_json::to_vec(entry).expect("an entry is JSON");
        self.table.put(&cause.key(), &value).map_err(store_err)
    }

    /// After a failed try: tried again later (doubling, up to
    /// [`MOST_BACKOFF_S`]), or given up once it has failed for
    /// [`GIVE_UP_AFTER_S`] or the server refused it for good.
    pub fn failed(
        &self,
        cause: &Cause,
        entry: &Entry,
        now: i64,
        for_good: bool,
        why: &str,
    ) -> Result<State, LedgerError> {
        let attempts = match entry.state {
            State::Queued { attempts, .. } => attempts + 1,
            _ => 1,
        };
        let state = if for_good || now - entry.queued_at >= GIVE_UP_AFTER_S {
            State::Failed {
                at: now,
                why: why.to_string(),
            }
        } else {
            let wait = 1i64 << attempts.min(5);
            State::Queued {
                next_at: now + wait.min(MOST_BACKOFF_S),
                attempts,
            }
        };
        self.set(
            cause,
            &Entry {
                queued_at: entry.queued_at,
                state: state.clone(),
            },
        )?;
        Ok(state)
    }

    /// Takes one entry out.
    pub fn forget(&self, cause: &Cause) -> Result<(), LedgerError> {
        self.table.remove(&cause.key()).map_err(store_err)
    }

    /// Takes out every entry for `person`, sent or not; returns how many.
    pub fn forget_person(&self, person: &Uuid) -> Result<usize, LedgerError> {
        let mut n = 0;
        for (cause, _) in self.entries()? {
            if cause.person == *person {
                self.table.remove(&cause.key()).map_err(store_err)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Drops sent entries older than [`KEEP_SENT_DAYS`].
    pub fn prune(&self, now: i64) -> Result<(), LedgerError> {
        for (cause, e) in self.entries()? {
            if let State::Sent { at } = e.state
                && now - at > KEEP_SENT_DAYS * 86_400
            {
                self.table.remove(&cause.key()).map_err(store_err)?;
            }
        }
        Ok(())
    }

    pub fn counts(&self) -> Result<Counts, LedgerError> {
        let mut c = Counts::default();
        for (_, e) in self.entries()? {
            match e.state {
                State::Queued { .. } => c.queued += 1,
                State::Weekly => c.weekly += 1,
                State::Sent { .. } => c.sent += 1,
                State::Failed { .. } => c.failed += 1,
            }
        }
        Ok(c)
    }
}
