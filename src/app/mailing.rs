//! The mail loop: takes each new record in (who hears of it is decided
//! and queued in the outbox, durably, after the record is), and sends
//! what is due through the mail server, trying again while it is down.
//! Also how a person chooses to hear, and stops hearing.

use super::notify::{self, Letter};
use super::outbox::{About, Cause, Entry, State};
use super::{App, Caller, Refusal, ledger_refusal, people_refusal};
use crate::coproduction::author::Author;
use crate::coproduction::model::Model;
use crate::ledger::Ledger;
use crate::mail::{MailError, Outgoing, Postbox};
use crate::people::Hearing;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What the mail loop has done since the server started.
#[derive(Default)]
pub struct MailStats {
    /// Whether a mail server is set (`serve --smtp`).
    pub sending: AtomicBool,
    pub sent: AtomicU64,
    /// Tries that failed and will be tried again.
    pub retried: AtomicU64,
    /// Messages given up (refused for good, or failing too long).
    pub failed: AtomicU64,
    /// The mail server being unreachable or asking to wait, logged when it
    /// starts, now and then, and when it ends.
    outage: std::sync::Mutex<Option<super::outage::Outage>>,
}

impl MailStats {
    /// Notes whether the mail server took (or answered) the latest try.
    fn server(&self, outcome: Result<(), &str>) {
        let Ok(mut o) = self.outage.lock() else {
            return;
        };
        let o = o.get_or_insert_with(|| super::outage::Outage::new("the mail server"));
        match outcome {
            Ok(()) => o.worked(),
            Err(why) => o.failed(&crate::outside::for_log(why)),
        };
    }
}

/// The key for unsubscribe links, made once for the data directory.
pub(super) fn key(ledger: &Ledger) -> Result<[u8; 32], Refusal> {
    let text = ledger
        .store()
        .secret_file("mail.key", || {
            let bytes: [u8; 32] = rand::random();
            hex::encode(bytes)
        })
        .map_err(ledger_refusal)?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| Refusal::failed("mail.key in the data directory is damaged"))?;
    Ok(key)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Records taken in at a time.
const PAGE: usize = 1024;

/// How long the mail loop waits after an append before taking it in,
/// so that appends close together are taken in together.
const SETTLE: Duration = Duration::from_millis(250);

impl App {
    /// Counts of the outbox and of the loop, for `/metrics`.
    pub fn mail_stats(&self) -> (&MailStats, super::outbox::Counts) {
        let counts = self.0.outbox.counts().unwrap_or_default();
        (&self.0.mail, counts)
    }

    /// Whether this server sends email at all.
    pub fn sends_mail(&self) -> bool {
        self.0.mail.sending.load(Ordering::Relaxed)
    }

    /// How the caller hears of things now, if they are a person with an
    /// entry in the people store.
    pub fn my_hearing(&self, caller: &Caller) -> Result<Option<(Hearing, bool)>, Refusal> {
        let Some(me) = caller.participant() else {
            return Ok(None);
        };
        let person = self.0.people.get(&me.uuid()).map_err(people_refusal)?;
        Ok(person.map(|p| (p.hearing.unwrap_or(Hearing::AsItHappens), p.email.is_some())))
    }

    /// The caller chooses how they hear of things.
    pub fn set_my_hearing(&self, caller: &Caller, hearing: Hearing) -> Result<(), Refusal> {
        let Some(me) = caller.participant() else {
            return Err(Refusal::forbidden(
                "only a person (a partner or a member of staff) chooses how they hear of things",
            ));
        };
        self.set_hearing(&me.uuid(), hearing)
    }

    fn set_hearing(&self, who: &uuid::Uuid, hearing: Hearing) -> Result<(), Refusal> {
        if !self
            .0
            .people
            .set_hearing(who, hearing)
            .map_err(people_refusal)?
        {
            return Err(Refusal::not_found(
                "the people store holds no one with this id",
            ));
        }
        if hearing != Hearing::AsItHappens {
            // What waits to be sent now would reach them after they said
            // not to (a weekly summary picks up what is held for it).
            for (cause, entry) in self.0.outbox.entries().map_err(ledger_refusal)? {
                if cause.person == *who && matches!(entry.state, State::Queued { .. }) {
                    self.0.outbox.forget(&cause).map_err(ledger_refusal)?;
                }
            }
        }
        Ok(())
    }

    /// Drops every message owed to `who` and not yet sent (queued, or
    /// held for a weekly summary): they left, and hear nothing more.
    pub(super) fn forget_mail_for(&self, who: &uuid::Uuid) -> Result<(), Refusal> {
        for (cause, entry) in self.0.outbox.entries().map_err(ledger_refusal)? {
            if cause.person == *who && matches!(entry.state, State::Queued { .. } | State::Weekly) {
                self.0.outbox.forget(&cause).map_err(ledger_refusal)?;
            }
        }
        Ok(())
    }

    /// Someone followed the link in an email to stop them (no sign-in:
    /// the link's code is the proof). Returns false for a code that is
    /// not genuine.
    pub fn unsubscribe(&self, code: &str) -> Result<bool, Refusal> {
        let Some(who) = notify::unsubscribe_person(&self.0.mail_key, code) else {
            return Ok(false);
        };
        match self.set_hearing(&who, Hearing::Nothing) {
            Ok(()) => Ok(true),
            // Erased or gone: they get nothing either way.
            Err(r) if r.kind() == crate::refusal::Kind::NotFound => Ok(true),
            Err(r) => Err(r),
        }
    }

    /// Starts the mail loop. Without a mail server it still moves the
    /// outbox's mark along, queueing nothing, so that setting one later
    /// does not send the whole history since.
    pub fn start_mail(&self, postbox: Option<Postbox>, base: String) {
        self.0
            .mail
            .sending
            .store(postbox.is_some(), Ordering::Relaxed);
        let app = self.clone();
        let mut appended = self.0.appended.subscribe();
        tokio::spawn(async move {
            let mut stopping = app.0.stopping.subscribe();
            loop {
                let a = app.clone();
                let sending = postbox.is_some();
                match tokio::task::spawn_blocking(move || {
                    a.take_in(sending)?;
                    a.plan_weekly(sending, now())
                })
                .await
                {
                    Ok(Err(e)) => {
                        tracing::error!("the outbox could not take in new records: {e}")
                    }
                    Err(e) => tracing::error!("the outbox stopped: {e}"),
                    Ok(Ok(())) => {}
                }
                if let Some(postbox) = &postbox {
                    app.send_due(postbox, &base).await;
                }
                let wait = app
                    .0
                    .outbox
                    .next_due()
                    .ok()
                    .flatten()
                    .filter(|_| postbox.is_some())
                    .map_or(Duration::from_secs(60), |at| {
                        Duration::from_secs((at - now()).clamp(0, 60) as u64)
                    });
                tokio::select! {
                    _ = appended.changed() => {
                        // Let a burst of appends settle: a busy writer then
                        // wakes this loop a few times a second, not once a
                        // record (each pass is a thread and a read of the
                        // outbox, taken from the writer's two cores).
                        tokio::select! {
                            _ = tokio::time::sleep(SETTLE) => {}
                            _ = stopping.changed() => return,
                        }
                    }
                    _ = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
                    _ = stopping.changed() => return,
                }
            }
        });
    }

    /// Decides who hears of each record since the outbox's mark, and
    /// queues it with the mark, durably. The first time, the mark starts
    /// at the end of the log: nobody hears of the history before.
    fn take_in(&self, sending: bool) -> Result<(), Refusal> {
        let outbox = &self.0.outbox;
        let head = self.0.ledger.head().size;
        let Some(mut from) = outbox.taken_in().map_err(ledger_refusal)? else {
            return outbox.take_in(head, &[]).map(drop).map_err(ledger_refusal);
        };
        while from < head {
            let page = self
                .0
                .ledger
                .range(from, PAGE.min((head - from) as usize))
                .map_err(ledger_refusal)?;
            if page.is_empty() {
                break;
            }
            let mut decided = Vec::new();
            if sending {
                // Who hears is read from the model; how each hears, from
                // the people store's files, once the model is let go (the
                // writer waits while it is held).
                let heard: Vec<_> = {
                    let model = self.0.model.read();
                    page.iter()
                        .filter_map(|ev| {
                            let event =
                                crate::coproduction::read_event(&ev.record, ev.payload.as_ref())
                                    .ok()
                                    .flatten()?;
                            let author = Author::from_actor(ev.record.actor()).participant;
                            Some((ev.record.seq(), notify::readers(&model, &event, author)))
                        })
                        .collect()
                };
                let t = now();
                for (seq, readers) in heard {
                    decided.extend(notify::decide(&self.0.people, seq, readers, t));
                }
            }
            from += page.len() as u64;
            outbox.take_in(from, &decided).map_err(ledger_refusal)?;
        }
        Ok(())
    }

    /// Sends every message due, one at a time.
    async fn send_due(&self, postbox: &Postbox, base: &str) {
        let due = match self.0.outbox.due(now()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("the outbox cannot be read: {e}");
                return;
            }
        };
        for (cause, entry) in due {
            let Some((to, letter, included)) = self.prepare(&cause, base) else {
                // Nobody to send it to any more (erased, no address, chose
                // nothing) or nothing left to say (the record was erased).
                let _ = self.0.outbox.forget(&cause);
                continue;
            };
            let unsubscribe = format!(
                "{}/unsubscribe/{}",
                base.trim_end_matches('/'),
                notify::unsubscribe_code(&self.0.mail_key, &cause.person)
            );
            let out = Outgoing {
                to: &to,
                subject: &letter.subject,
                text: plain(&letter, &unsubscribe),
                html: html(&letter, &unsubscribe),
                unsubscribe: Some(&unsubscribe),
                message_id: message_id(&cause, base),
            };
            let stats = &self.0.mail;
            let sent = postbox.send(&out).await;
            match &sent {
                Err(e @ MailError::Later(_)) => stats.server(Err(&e.to_string())),
                // It answered: a refusal is about one message, not the server.
                Ok(_) | Err(_) => stats.server(Ok(())),
            }
            match sent {
                Ok(_) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    let sent = super::outbox::Entry {
                        queued_at: entry.queued_at,
                        state: State::Sent { at: now() },
                    };
                    let marked = std::iter::once((cause, sent.clone()))
                        .chain(included.into_iter().map(|(c, e)| {
                            (
                                c,
                                super::outbox::Entry {
                                    queued_at: e.queued_at,
                                    ..sent.clone()
                                },
                            )
                        }))
                        .try_for_each(|(c, e)| self.0.outbox.set(&c, &e));
                    if let Err(e) = marked {
                        tracing::error!("a sent email could not be marked sent: {e}");
                    }
                }
                Err(e) => {
                    let state =
                        self.0
                            .outbox
                            .failed(&cause, &entry, now(), e.for_good(), &e.to_string());
                    match state {
                        Ok(State::Failed { .. }) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                "an email about record {} was given up: {}",
                                cause.seq,
                                crate::outside::for_log(&e.to_string())
                            );
                        }
                        Ok(_) => {
                            stats.retried.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tracing::error!("the outbox cannot be written: {e}"),
                    }
                    if matches!(e, MailError::Later(_)) {
                        // The server is down: the rest wait for the next try.
                        return;
                    }
                }
            }
        }
    }

    /// The address and the message for an entry, as things stand now,
    /// with the held entries a weekly summary takes in.
    fn prepare(&self, cause: &Cause, base: &str) -> Option<Prepared> {
        let model = self.0.model.read();
        if model.erased.contains(&cause.person.into()) {
            return None;
        }
        let (hearing, to) = notify::hearing_of(&self.0.people, &cause.person)?;
        match (cause.about, hearing) {
            (_, Hearing::Nothing) => None,
            (About::WeeklySummary, _) => {
                let held: Vec<(Cause, Entry)> = self
                    .0
                    .outbox
                    .entries()
                    .ok()?
                    .into_iter()
                    .filter(|(c, e)| c.person == cause.person && e.state == State::Weekly)
                    .collect();
                let items: Vec<Letter> = held
                    .iter()
                    .filter_map(|(c, _)| self.letter_for(&model, c, base))
                    .collect();
                let s = crate::coproduction::report::Settings::today();
                let reminders =
                    notify::reminders(&model, cause.person.into(), s.today, s.waiting_days);
                let letter = notify::weekly(&items, &reminders, base)?;
                Some((to, letter, held))
            }
            (_, Hearing::AsItHappens) => {
                Some((to, self.letter_for(&model, cause, base)?, Vec::new()))
            }
            (_, Hearing::Weekly) => None,
        }
    }

    /// The message for one record's notice, from the record as stored now.
    fn letter_for(&self, model: &Model, cause: &Cause, base: &str) -> Option<Letter> {
        let ev = self.0.ledger.range(cause.seq, 1).ok()?.into_iter().next()?;
        let event = crate::coproduction::read_event(&ev.record, ev.payload.as_ref())
            .ok()
            .flatten()?;
        notify::letter(model, cause, &event, base)
    }

    /// Once a week (Mondays, 08:00 UTC), queues a summary for each person
    /// with something held for it, or, for staff, something waiting on
    /// them; then sets the next. Each summary is keyed by its day, so a
    /// crash in between queues each once.
    fn plan_weekly(&self, sending: bool, now: i64) -> Result<(), Refusal> {
        let outbox = &self.0.outbox;
        let next = outbox.weekly_next().map_err(ledger_refusal)?;
        let due = match next {
            Some(at) if at <= now => at,
            Some(_) => return Ok(()),
            None => {
                return outbox
                    .plan_weekly(next_monday_morning(now), &[])
                    .map_err(ledger_refusal);
            }
        };
        let mut summaries = Vec::new();
        if sending {
            let model = self.0.model.read();
            let s = crate::coproduction::report::Settings::today();
            let held: std::collections::HashSet<uuid::Uuid> = outbox
                .entries()
                .map_err(ledger_refusal)?
                .into_iter()
                .filter(|(_, e)| e.state == State::Weekly)
                .map(|(c, _)| c.person)
                .collect();
            for p in self.0.people.list().map_err(people_refusal)? {
                // Nobody who left, or has no address, or chose nothing.
                match notify::hearing(&p) {
                    None | Some((Hearing::Nothing, _)) => continue,
                    Some(_) => {}
                }
                let has_reminders =
                    !notify::reminders(&model, p.id.into(), s.today, s.waiting_days).is_empty();
                if held.contains(&p.id) || has_reminders {
                    summaries.push((
                        Cause {
                            seq: (due / 86_400) as u64,
                            person: p.id,
                            about: About::WeeklySummary,
                        },
                        Entry {
                            queued_at: now,
                            state: State::Queued {
                                next_at: now,
                                attempts: 0,
                            },
                        },
                    ));
                }
            }
        }
        // The next after `now`, however long the server was stopped.
        let mut next = due;
        while next <= now {
            next += 7 * 86_400;
        }
        outbox.plan_weekly(next, &summaries).map_err(ledger_refusal)
    }
}

/// A message ready to go: its address, its words, and the held entries
/// a weekly summary takes in (marked sent with it).
type Prepared = (String, Letter, Vec<(Cause, Entry)>);

/// The first Monday 08:00 UTC after `now` (Unix seconds).
fn next_monday_morning(now: i64) -> i64 {
    // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7.
    let day = now.div_euclid(86_400);
    let monday = day - (day - 4).rem_euclid(7);
    let mut at = monday * 86_400 + 8 * 3600;
    while at <= now {
        at += 7 * 86_400;
    }
    at
}

/// One id for one cause and reader, so a copy sent twice (a crash after
/// the server took it, before it was marked sent) is the same message.
fn message_id(cause: &Cause, base: &str) -> String {
    let host = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "jointly.invalid".into());
    format!(
        "<{}.{}.{:?}@{host}>",
        cause.seq,
        cause.person.simple(),
        cause.about
    )
}

const STOP_WORDS: &str = "To stop these emails, open";

fn plain(l: &Letter, unsubscribe: &str) -> String {
    let mut t = String::new();
    for p in &l.paragraphs {
        t.push_str(p);
        t.push_str("\n\n");
    }
    t.push_str(&format!("{}:\n{}\n\n", l.link_words, l.link));
    t.push_str(&format!(
        "--\nYou get this because you take part in co-production. {STOP_WORDS}:\n{unsubscribe}\n"
    ));
    t
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(l: &Letter, unsubscribe: &str) -> String {
    let mut h = String::from("<!doctype html><html><body>");
    for p in &l.paragraphs {
        h.push_str(&format!("<p>{}</p>", escape(p)));
    }
    h.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>",
        escape(&l.link),
        escape(&l.link_words)
    ));
    h.push_str(&format!(
        "<hr><p>You get this because you take part in co-production. <a href=\"{}\">Stop these emails</a>.</p></body></html>",
        escape(unsubscribe)
    ));
    h
}

#[cfg(test)]
mod tests {
    use super::next_monday_morning;

    #[test]
    fn summaries_go_on_monday_mornings() {
        let check = |now: &str, want: &str| {
            let f = time::format_description::well_known::Rfc3339;
            let at = |s: &str| time::OffsetDateTime::parse(s, &f).unwrap().unix_timestamp();
            assert_eq!(next_monday_morning(at(now)), at(want), "after {now}");
        };
        check("2026-12-01T23:00:00Z", "2026-12-07T08:00:00Z"); // a Tuesday
        check("2026-12-07T07:59:59Z", "2026-12-07T08:00:00Z"); // Monday, before
        check("2026-12-07T08:00:00Z", "2026-12-14T08:00:00Z"); // Monday, at
        check("2026-12-06T12:00:00Z", "2026-12-07T08:00:00Z"); // a Sunday
    }
}
