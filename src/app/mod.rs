//! The application core: opened once on a data directory, it owns the
//! ledger, the rules and the model, the people store, the notary, tokens,
//! Idempotency-Keys, metrics, and what runs after each commit (signing a
//! checkpoint, telling streams and witnesses). Each use case is one method
//! here; the command line (`main.rs`), the API (`api`) and the pages
//! (`api::web`) parse their input, call one method, and present what it
//! returns. Refusals are [`Refusal`]s with a [`Kind`](crate::refusal::Kind).
//!
//! Work a crash interrupted (an erasure, an Idempotency-Key whose request
//! was cut off) is finished when the core opens, before anything is read.

pub mod access;
pub mod backup;
pub mod caller;
pub mod demo;
pub mod directory;
pub mod erasure;
pub mod fold;
pub mod idempotency;
pub mod integrity;
pub mod limits;
mod mailing;
mod membership;
pub mod notify;
pub mod onboarding;
pub mod outage;
pub mod outbox;
pub mod policy;
pub mod readiness;
pub mod rules;
pub mod snapshot;
mod starting;

/// The model, read: every reader's view of the record, whole batches only.
pub type ModelGuard<'a> = parking_lot::RwLockReadGuard<'a, Model>;
pub mod sessions;
mod tlog;
pub mod tokens;
pub mod trail;
pub mod view;
pub mod witnessing;

use crate::coproduction::equality::{self, Table};
use crate::coproduction::events::Aim;
use crate::coproduction::events::{Event, LeadChanged, ParticipantJoined, ParticipantLeft};
use crate::coproduction::model::Model;
use crate::coproduction::read_event;
use crate::coproduction::report::{Overview, Report, Settings, Shown};
use crate::coproduction::values::{self, ParticipantId, ProjectId, Text};
use crate::ledger::notary::Notary;
use crate::ledger::sequencer::{AppendError, Sequencer, SequencerStats};
use crate::ledger::{
    CanonicalPayload, Digest, EventType, Ledger, NewEvent, OpenReport, StoredEvent,
};
use crate::people::{People, Person};
use crate::refusal::Refusal;
pub use caller::Caller;
use erasure::{Erasure, Holders, Retention};
use idempotency::{Idempotency, Seen};
use policy::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokens::TokenStore;
use witnessing::{Cosigned, WitnessPolicy};

/// The log's origin (and key name) when a data directory makes its key.
pub const DEFAULT_ORIGIN: &str = "localhost/jointly";

/// Most records a bulk append writes in one batch.
const BULK_BATCH: usize = 10_000;

/// How the core is opened.
#[derive(Clone, Debug)]
pub struct Options {
    /// The log's origin name, used only when its signing key is first made.
    pub origin: String,
    /// The witnesses that cosign checkpoints, and how many must.
    pub witnesses: WitnessPolicy,
    /// How fast each token may append.
    pub append_limits: limits::AppendLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            origin: DEFAULT_ORIGIN.into(),
            witnesses: WitnessPolicy::default(),
            append_limits: limits::AppendLimits::default(),
        }
    }
}

/// Counters for /metrics, counted in the core so every front door's
/// appends count.
#[derive(Default)]
pub struct Metrics {
    pub appends: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    /// Appends refused because their token sent too many too fast
    /// ([`limits`]); nothing was written for them.
    pub limited: AtomicU64,
    /// Cumulative counts of append latencies under each bound (ms).
    pub latency_buckets: [AtomicU64; LATENCY_BOUNDS_MS.len()],
    pub latency_sum_us: AtomicU64,
}

/// The bounds of the append latency histogram, in milliseconds.
pub const LATENCY_BOUNDS_MS: [f64; 10] =
    [0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

impl Metrics {
    fn observe(&self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        for (bound, bucket) in LATENCY_BOUNDS_MS.iter().zip(&self.latency_buckets) {
            if ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }
}

/// An event to append, as any front door hands it to the core.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The event type, e.g. `decision.made`, or `x.…`.
    pub event_type: String,
    pub payload: CanonicalPayload,
    /// Optimistic concurrency: the last record of the event's project that
    /// the caller read; refused (a conflict) if the project moved on.
    pub expected_last_seq: Option<u64>,
    /// Sent again with the same key and request, the first answer returns
    /// and nothing is written (kept per token).
    pub idempotency_key: Option<String>,
    /// Wait (up to the server's limit) for the witnesses to cosign.
    pub wait_cosigned: bool,
}

impl Submission {
    /// A plain submission: no expectation, no key, no waiting.
    pub fn new(event_type: &str, payload: CanonicalPayload) -> Self {
        Submission {
            event_type: event_type.into(),
            payload,
            expected_last_seq: None,
            idempotency_key: None,
            wait_cosigned: false,
        }
    }
}

/// The answer to an append, once its record is durable.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Recorded {
    /// The record's sequence number: its place in the log.
    pub seq: u64,
    /// The event id (a UUID version 7).
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// The record's chain hash, 64 hex digits.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub hash: Digest,
    /// Where its receipt is.
    pub receipt: String,
    /// With `wait_cosigned`: whether the witnesses cosigned in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Most records one page of events holds.
pub const MAX_EVENT_PAGE: usize = 1000;

/// Most record envelopes one page of the public audit list holds.
pub const MAX_RECORD_PAGE: usize = 10_000;

/// A page of records and where the next starts.
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next: Option<u64>,
    /// The last record looked at (shown or not): a follower of the log
    /// asks after it next, so it never reads a hidden stretch twice.
    pub looked_to: Option<u64>,
}

/// Most projects one page of the project list holds.
pub const MAX_PROJECT_PAGE: usize = 1000;

/// One project as a list shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectSummary {
    pub project_id: ProjectId,
    pub title: String,
    pub involvement: values::Involvement,
    pub stage: values::Stage,
    /// When it was recorded (UTC, RFC 3339).
    pub started: String,
    /// Partners taking part now, published like every count of people
    /// (under 5 is "fewer than 5").
    pub partners: Shown,
}

/// A page of the projects a caller sees, in project id order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectPage {
    pub projects: Vec<ProjectSummary>,
    /// The last project of this page when more follow: pass it as `after`
    /// for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next: Option<ProjectId>,
}

/// One project's figures.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectView {
    pub project_id: ProjectId,
    pub title: Text,
    pub summary: Text,
    pub involvement: values::Involvement,
    pub stage: values::Stage,
    /// When it was recorded (UTC, RFC 3339).
    pub started: String,
    pub aims: Vec<Aim>,
    /// How many meetings, proposals, decisions and actions it has.
    pub meetings: u64,
    pub proposals: u64,
    pub decisions: u64,
    pub actions: u64,
    /// The last record about this project: send it as `expected_last_seq`.
    pub last_seq: Option<u64>,
    /// Partners taking part now, published like every count of people.
    pub partners: Shown,
}

/// A person to register.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// "staff" or "partner".
    pub role: String,
    pub name: String,
    pub email: Option<String>,
    /// A project to join as well (otherwise the organisation's group only).
    #[schema(value_type = Option<String>)]
    pub project_id: Option<uuid::Uuid>,
    /// Someone of the same name or email is registered already, and this
    /// is another person: register them all the same. Without it, a second
    /// registration of a name or an email is refused (409), naming the
    /// first, so no one is registered twice by mistake.
    #[serde(default)]
    pub another_person: bool,
}

/// What recording that someone left wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leaving {
    /// The records that hand the projects they led to the new lead (their
    /// joining, where they were not in it, and the lead changing).
    pub handed_on: Vec<u64>,
    /// The records that say they left each project they were in.
    pub left: Vec<u64>,
}

/// Most projects a refusal to let a lead leave names.
const LEADS_NAMED: usize = 5;

/// Why a lead cannot leave without naming the next: the projects they
/// lead, by title and id.
fn leads_words(model: &Model, led: &[&crate::coproduction::model::Project]) -> String {
    let mut named: Vec<String> = led
        .iter()
        .take(LEADS_NAMED)
        .map(|p| format!("\u{201c}{}\u{201d} ({})", model.text(&p.title), p.id))
        .collect();
    if led.len() > LEADS_NAMED {
        named.push(format!("and {} more", led.len() - LEADS_NAMED));
    }
    let projects = if led.len() == 1 {
        "a project that is not closed".to_string()
    } else {
        format!("{} projects that are not closed", led.len())
    };
    format!(
        "this person leads {projects}: {}. Say who leads them next: new_lead (--new-lead at the command line) must be the participant id of a member of staff who stays",
        named.join(", ")
    )
}

/// Which checkpoint a reader asks for.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    /// The newest signed checkpoint, with any witness cosignatures it has.
    #[default]
    Latest,
    /// The newest checkpoint that enough witnesses have cosigned.
    Cosigned,
}

struct Inner {
    ledger: Ledger,
    sequencer: Sequencer<Refusal>,
    tokens: TokenStore,
    sessions: sessions::Sessions,
    links: sessions::SignInLinks,
    idempotency: Idempotency,
    /// The model, the one the writer's rules keep up to date (see
    /// [`rules::Rules`]): readers share it.
    model: rules::SharedModel,
    /// Each project's share of the organisation's totals, until it changes.
    figures: crate::coproduction::report::FiguresCache,
    metrics: Metrics,
    /// How fast each token may append.
    limits: limits::Limiter,
    /// The log's size after each committed batch (for streams).
    appended: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever credentials end (revoked, deleted by an erasure,
    /// or the person left): open streams check theirs again at once.
    credentials_ended: tokio::sync::watch::Sender<u64>,
    /// Set when the server begins to stop: open streams end.
    stopping: tokio::sync::watch::Sender<bool>,
    /// (records, Unix seconds) of the last full verification that passed.
    last_verified: Mutex<(u64, u64)>,
    /// What `/readyz` remembers: the last write's and verification's failures.
    readiness: readiness::Readiness,
    notary: Arc<Notary>,
    /// The size of each newly signed checkpoint, for the witnessing task.
    signed: tokio::sync::watch::Sender<u64>,
    witnesses: Arc<WitnessPolicy>,
    /// The latest checkpoint that meets the witness policy.
    cosigned: tokio::sync::watch::Sender<Option<Cosigned>>,
    witness_stats: Arc<witnessing::WitnessStats>,
    people: People,
    /// The equality figures as last published: who was in the partner
    /// group and their answers then. Figures are read from this, never
    /// live, so no one sees them move when they change their own answers.
    published: Mutex<Published>,
    /// How the model was had at start-up.
    start: snapshot::Start,
    /// Keys the links that stop a person's emails (`notify::unsubscribe_code`).
    mail_key: [u8; 32],
    /// Messages owed to people, until sent.
    outbox: outbox::Outbox,
    /// Counts of what the mail loop did, and whether it runs.
    mail: mailing::MailStats,
}

/// The answers behind the published equality figures, and when.
struct Published {
    at: String,
    group: equality::Group,
}

/// The open core. Cheap to clone; every clone is the same core.
#[derive(Clone)]
pub struct App(Arc<Inner>);

fn ledger_refusal(e: impl std::fmt::Display) -> Refusal {
    Refusal::failed(e)
}

/// What a people-store failure means to a caller.
fn people_refusal(e: crate::people::PeopleError) -> Refusal {
    match e {
        crate::people::PeopleError::Erased => Refusal::forbidden(e.to_string()),
        crate::people::PeopleError::Invalid(m) => Refusal::malformed(m),
        e => Refusal::failed(e),
    }
}

/// What the writer's failure means to a caller.
fn append_failure(e: AppendError<Refusal>) -> Refusal {
    match e {
        AppendError::Refused(r) => r,
        AppendError::Failed(e) => Refusal::unavailable(format!(
            "the record cannot be written just now: {e}; try again shortly"
        )),
        AppendError::Stopped => Refusal::unavailable("jointly is stopping; try again shortly"),
    }
}

impl App {
    /// Opens the data directory: the store (repairing what a crash left,
    /// as `OpenReport` says), the people store, and finishes interrupted
    /// work. Needs a Tokio runtime only for its async methods.
    pub fn open(dir: &Path, options: Options) -> Result<(App, OpenReport), Refusal> {
        let (ledger, report) = integrity::open_store(dir)?;
        Ok((App::with_ledger(ledger, options)?, report))
    }

    /// [`open`](Self::open) over a ledger already open.
    pub fn with_ledger(ledger: Ledger, options: Options) -> Result<App, Refusal> {
        let people = People::open(ledger.store().dir()).map_err(ledger_refusal)?;
        let tokens = TokenStore::open(&ledger).map_err(ledger_refusal)?;
        let idempotency = Idempotency::open(&ledger).map_err(ledger_refusal)?;
        // An erasure a crash interrupted is finished before anything is read.
        let outbox = outbox::Outbox::new(
            ledger
                .store()
                .side_table("outbox")
                .map_err(ledger_refusal)?,
        );
        let holders = Holders {
            people: &people,
            tokens: &tokens,
            idempotency: &idempotency,
            outbox: &outbox,
        };
        if let Some(done) = erasure::resume(&ledger, holders, |event| {
            let mut rules = rules::Rules::new(ledger.clone()).map_err(|e| e.to_string())?;
            match ledger.append_admitted(vec![event], &mut rules) {
                Ok(mut a) => match a.pop() {
                    Some(Ok(a)) => Ok(a.seq),
                    Some(Err(r)) => Err(r.to_string()),
                    None => Err("nothing appended".into()),
                },
                Err(e) => Err(e.to_string()),
            }
        })
        .map_err(|e| {
            Refusal::failed(format!("an interrupted erasure could not be finished: {e}"))
        })? {
            tracing::info!("finished an erasure that was interrupted: {done}");
        }
        let settled = idempotency.settle(&ledger).map_err(ledger_refusal)?;
        if settled > 0 {
            tracing::info!("settled {settled} Idempotency-Keys whose request a restart cut off");
        }
        let (rules, start) = rules::Rules::open(ledger.clone()).map_err(ledger_refusal)?;
        let model = rules.shared();
        // Nothing is written again for anyone erased before.
        people.forget(model.read().erased.iter().map(|p| p.uuid()));
        let notary = Notary::open(&ledger, &options.origin).map_err(ledger_refusal)?;
        // A store whose history no longer matches what it signed is refused.
        notary.sign_head(&ledger).map_err(ledger_refusal)?;
        let notary = Arc::new(notary);
        let (signed, _) = tokio::sync::watch::channel(ledger.head().size);
        let (appended, _) = tokio::sync::watch::channel(ledger.head().size);
        let after_commit = {
            let signer = notary.clone();
            let signed = signed.clone();
            let appended = appended.clone();
            Box::new(move |ledger: &Ledger| {
                let size = ledger.head().size;
                // A refusal here means the store was rewritten under us;
                // the records stay written, and readers keep the last good
                // checkpoint.
                match signer.sign_head(ledger) {
                    Ok(_) => {
                        signed.send_replace(size);
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
                appended.send_replace(size);
            })
        };
        let published = Mutex::new(Published::take(&people, &model.read())?);
        let sequencer = Sequencer::start_with_after(ledger.clone(), rules, after_commit);
        let side = |name: &str| ledger.store().side_table(name).map_err(ledger_refusal);
        let sessions = sessions::Sessions::open(side("sessions")?);
        let links = sessions::SignInLinks::open(side("sign-in-links")?);
        let mail_key = mailing::key(&ledger)?;
        Ok(App(Arc::new(Inner {
            ledger,
            sequencer,
            tokens,
            sessions,
            links,
            idempotency,
            model,
            figures: Default::default(),
            metrics: Metrics::default(),
            limits: limits::Limiter::new(options.append_limits),
            appended,
            credentials_ended: tokio::sync::watch::channel(0).0,
            stopping: tokio::sync::watch::channel(false).0,
            last_verified: Mutex::new((0, 0)),
            readiness: readiness::Readiness::default(),
            notary,
            signed,
            witnesses: Arc::new(options.witnesses),
            cosigned: tokio::sync::watch::channel(None).0,
            witness_stats: Arc::default(),
            people,
            published,
            start,
            mail_key,
            outbox,
            mail: Default::default(),
        })))
    }

    /// How the model was had when this opened: from a snapshot, or
    /// folded from the first record (and why).
    pub fn start(&self) -> &snapshot::Start {
        &self.0.start
    }

    /// Saves the model as the snapshot start-up reads, if the log has
    /// grown at least `behind` records past the last one saved (0: if it
    /// has grown at all, or there is none). Returns the size saved at.
    /// Holds the model for reading while it is written (appends wait).
    pub fn save_snapshot(&self, behind: u64) -> Result<Option<u64>, Refusal> {
        let size = self.0.ledger.head().size;
        match snapshot::saved_at(&self.0.ledger) {
            Some(at) if at == size || size - at.min(size) < behind => return Ok(None),
            _ => {}
        }
        snapshot::save(&self.0.ledger, || self.0.model.read())
            .map(Some)
            .map_err(ledger_refusal)
    }

    /// Stops the writer after the queued appends.
    pub async fn shutdown(&self) {
        self.0.sequencer.clone().stop().await;
    }

    /// [`shutdown`](Self::shutdown) outside async code.
    pub fn shutdown_blocking(&self) {
        self.0.sequencer.clone().shutdown();
    }

    // ------------------------------------------------------------ writing

    /// Writes one event through the writer and its rules, counting it.
    async fn write(&self, event: NewEvent) -> Result<crate::ledger::Appended, Refusal> {
        let started = Instant::now();
        let result = self.0.sequencer.append(event).await;
        let m = &self.0.metrics;
        m.observe(started.elapsed());
        match result {
            Ok(a) => {
                m.appends.fetch_add(1, Ordering::Relaxed);
                self.0.readiness.wrote(Ok(()));
                Ok(a)
            }
            Err(e) => {
                match &e {
                    AppendError::Refused(_) => &m.refused,
                    _ => {
                        self.0.readiness.wrote(Err(e.to_string()));
                        &m.failed
                    }
                }
                .fetch_add(1, Ordering::Relaxed);
                Err(append_failure(e))
            }
        }
    }

    /// An event the core itself builds, as `caller`.
    fn own_event(caller: &Caller, event: &Event) -> NewEvent {
        NewEvent {
            expected: None,
            event_type: EventType::new(event.type_name()).expect("valid type"),
            actor: caller.actor().clone(),
            payload: CanonicalPayload::from_value(&event.to_payload()).expect("valid payload"),
        }
    }

    /// Appends one event (any type the caller may write), once it is
    /// durable; with `wait_cosigned`, also waits for the witnesses.
    pub async fn append(&self, caller: &Caller, s: Submission) -> Result<Recorded, Refusal> {
        self.within_append_limit(caller)?;
        policy::require(caller.author(), Action::Append)?;
        let event_type = EventType::new(&s.event_type)
            .map_err(|e| Refusal::malformed(e.to_string()).at("/type"))?;
        policy::may_append_type(caller.author(), event_type.as_str())?;
        if s.wait_cosigned && self.0.witnesses.is_empty() {
            return Err(Refusal::malformed(
                "wait=cosigned needs witnesses, and this server has none configured",
            )
            .at("/wait"));
        }
        // Keys are kept per token (the operator's per actor).
        let owner = caller
            .token_id()
            .unwrap_or(caller.actor().as_str())
            .to_string();
        if let Some(key) = &s.idempotency_key {
            Idempotency::check_key(key)?;
            let fingerprint = idempotency::fingerprint(
                event_type.as_str(),
                s.payload.as_bytes(),
                s.expected_last_seq,
            );
            let seen = self.0.idempotency.take(
                &owner,
                key,
                &fingerprint,
                self.0.ledger.head().size,
                caller.actor().as_str(),
                s.expected_last_seq,
            )?;
            if let Seen::Answered(answer) = seen {
                return serde_json::from_value(answer).map_err(Refusal::failed);
            }
        }
        let written = self
            .write(NewEvent {
                expected: s.expected_last_seq,
                event_type,
                actor: caller.actor().clone(),
                payload: s.payload,
            })
            .await;
        let appended = match written {
            Ok(a) => a,
            Err(r) => {
                if let Some(key) = &s.idempotency_key {
                    self.0.idempotency.release(&owner, key);
                }
                return Err(r);
            }
        };
        let mut answer = Recorded {
            seq: appended.seq,
            id: appended.id,
            hash: appended.hash,
            receipt: format!("/v1/events/{}/receipt", appended.seq),
            cosigned: None,
            note: None,
        };
        if s.wait_cosigned {
            let wait = self.0.witnesses.wait;
            let covered = self.wait_cosigned(appended.seq, wait).await;
            answer.cosigned = Some(covered);
            if covered {
                answer.receipt = format!("{}?checkpoint=cosigned", answer.receipt);
            } else {
                // The record is durable either way; only the witnesses are slow.
                answer.note = Some(format!(
                    "recorded, but the witnesses did not cosign within {} s; the receipt URL gives the signed checkpoint now, and ?checkpoint=cosigned once they do",
                    wait.as_secs()
                ));
            }
        }
        if let Some(key) = &s.idempotency_key {
            let value = serde_json::to_value(&answer).expect("answers serialise");
            self.0.idempotency.answered(&owner, key, &value)?;
        }
        Ok(answer)
    }

    /// Whether [`append`](Self::append) would accept this submission were
    /// it sent now, writing nothing: for a page that shows what will be
    /// recorded before it is (a record cannot be taken back). Only a
    /// change made in between can make the append refuse it after all.
    pub fn check(&self, caller: &Caller, s: &Submission) -> Result<(), Refusal> {
        policy::require(caller.author(), Action::Append)?;
        let event_type = EventType::new(&s.event_type)
            .map_err(|e| Refusal::malformed(e.to_string()).at("/type"))?;
        policy::may_append_type(caller.author(), event_type.as_str())?;
        let model = self.read()?;
        let today = crate::coproduction::values::Date::of(crate::ledger::Timestamp::now());
        rules::judge(
            &self.0.ledger,
            &model,
            caller.author(),
            event_type.as_str(),
            &s.payload,
            today,
        )
        .map(|_| ())
    }

    /// Whether a checkpoint holding record `seq` is cosigned within `wait`.
    async fn wait_cosigned(&self, seq: u64, wait: Duration) -> bool {
        let mut rx = self.0.cosigned.subscribe();
        tokio::time::timeout(
            wait,
            rx.wait_for(|c| c.as_ref().is_some_and(|c| c.size > seq)),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    /// Appends many events of one type (a bulk load): every one is checked
    /// against the rules before any is written, then they are written in
    /// batches; `done` hears each batch once it is durable. A refusal
    /// names the index of the event refused.
    pub async fn append_all(
        &self,
        caller: &Caller,
        event_type: &str,
        payloads: Vec<CanonicalPayload>,
        mut done: impl FnMut(&[crate::ledger::Appended]),
    ) -> Result<u64, (Option<usize>, Refusal)> {
        let whole = |r| (None, r);
        policy::require(caller.author(), Action::Append).map_err(whole)?;
        let event_type = EventType::new(event_type)
            .map_err(|e| whole(Refusal::malformed(e.to_string()).at("/type")))?;
        policy::may_append_type(caller.author(), event_type.as_str()).map_err(whole)?;
        let events: Vec<NewEvent> = payloads
            .into_iter()
            .map(|payload| NewEvent {
                expected: None,
                event_type: event_type.clone(),
                actor: caller.actor().clone(),
                payload,
            })
            .collect();
        {
            let model = self.read().map_err(whole)?.clone();
            rules::Rules::dry_run(&self.0.ledger, model, &events).map_err(|(i, r)| (Some(i), r))?;
        }
        let mut written = 0;
        let mut events = events.into_iter();
        loop {
            let chunk: Vec<NewEvent> = events.by_ref().take(BULK_BATCH).collect();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len() as u64;
            let answers = self
                .0
                .sequencer
                .append_batch(chunk)
                .await
                .map_err(|e| whole(append_failure(e)))?;
            let mut batch = Vec::with_capacity(answers.len());
            for (i, a) in answers.into_iter().enumerate() {
                // Checked above; only a concurrent writer can change that.
                batch.push(a.map_err(|r| (Some(written as usize + i), r))?);
            }
            self.0.metrics.appends.fetch_add(n, Ordering::Relaxed);
            done(&batch);
            written += n;
        }
        Ok(written)
    }

    /// Registers a person: their name and contact go to the people store,
    /// the log gets their `participant.joined` (an id only). Returns their
    /// new participant id and the record.
    pub async fn register_person(
        &self,
        caller: &Caller,
        p: NewPerson,
    ) -> Result<(ParticipantId, u64), Refusal> {
        policy::require(caller.author(), Action::RegisterPerson)?;
        let person = Person::new(&p.role, &p.name, p.email.as_deref(), &today())
            .map_err(|e| Refusal::malformed(e.to_string()))?;
        if !p.another_person
            && let Some((first, what)) =
                self.registered_already(&person.name, person.email.as_deref())?
        {
            return Err(Refusal::conflict(format!(
                "{} is already registered with this {what} (participant {}, registered {}): if this is someone else, register them as another person",
                first.name, first.id, first.registered
            ))
            .at(if what == "name" { "/name" } else { "/email" }));
        }
        let event = Event::ParticipantJoined(ParticipantJoined {
            project_id: p.project_id.map(ProjectId::from),
            participant_id: person.id.into(),
            role: if p.role == "staff" {
                values::Role::Staff
            } else {
                values::Role::Partner
            },
        });
        // The person first: the log never names an id the store has not seen.
        self.0.people.put(&person).map_err(people_refusal)?;
        match self.write(Self::own_event(caller, &event)).await {
            Ok(a) => Ok((person.id.into(), a.seq)),
            Err(r) => {
                let _ = self.0.people.erase(&person.id);
                Err(r)
            }
        }
    }

    /// Records that a person left the organisation: the people store keeps
    /// the date (their retention period starts, and they are sent nothing
    /// more), and the log records them leaving every project they were
    /// still part of. A lead of projects that are not closed names who
    /// leads them next (`new_lead`, a member of staff who stays): each
    /// such project records them joining it (if they are not in it) and
    /// the lead changing, before the leaving. Without one, nothing is
    /// written and the refusal says which projects they lead.
    pub async fn record_leaving(
        &self,
        caller: &Caller,
        who: ParticipantId,
        new_lead: Option<ParticipantId>,
    ) -> Result<Leaving, Refusal> {
        policy::require(caller.author(), Action::RecordLeaving)?;
        let person = self.0.people.get(&who.uuid()).map_err(people_refusal)?;
        if let Some(next) = new_lead
            && next != who
            && let Some(p) = self.0.people.get(&next.uuid()).map_err(people_refusal)?
            && p.left.is_some()
        {
            return Err(Refusal::invalid(format!(
                "new_lead: {next} has left the organisation too; name a member of staff who stays"
            ))
            .at("/new_lead"));
        }
        // Every project they are still in, and the organisation's group
        // (`None`) if they joined it; the open projects they lead, and
        // whether the new lead is in each.
        let (projects, led): (Vec<Option<ProjectId>>, Vec<(ProjectId, bool)>) = {
            let model = self.read()?;
            if person.is_none() && model.role(&who).is_none() {
                return Err(Refusal::not_found(format!(
                    "no one with the participant id {who} has joined"
                )));
            }
            let led: Vec<&crate::coproduction::model::Project> = model
                .projects
                .values()
                .filter(|p| p.lead == who && p.stage != values::Stage::Closed)
                .collect();
            if let Some(next) = new_lead {
                let staff = model.role(&next) == Some(values::Role::Staff);
                if next == who || !staff || model.erased.contains(&next) {
                    return Err(Refusal::invalid(
                        "new_lead must be the participant id of a member of staff who stays, not the person leaving",
                    )
                    .at("/new_lead"));
                }
            }
            if !led.is_empty() && new_lead.is_none() {
                return Err(Refusal::conflict(leads_words(&model, &led)).at("/new_lead"));
            }
            let led = led
                .iter()
                .map(|p| {
                    let next = new_lead.expect("checked above");
                    (p.id, p.members.get(&next).is_some_and(|m| m.active))
                })
                .collect();
            let in_group = model.group.get(&who).is_some_and(|m| m.active);
            let projects = model
                .projects
                .values()
                .filter(|p| p.members.get(&who).is_some_and(|m| m.active))
                .map(|p| Some(p.id))
                .chain(in_group.then_some(None))
                .collect();
            (projects, led)
        };
        let mut handed_on = Vec::new();
        for (project_id, next_is_in_it) in led {
            let next = new_lead.expect("a lead who leaves names the next");
            if !next_is_in_it {
                let joined = Event::ParticipantJoined(ParticipantJoined {
                    project_id: Some(project_id),
                    participant_id: next,
                    role: values::Role::Staff,
                });
                handed_on.push(self.write(Self::own_event(caller, &joined)).await?.seq);
            }
            let changed = Event::LeadChanged(LeadChanged {
                project_id,
                lead: next,
                reason: None,
            });
            handed_on.push(self.write(Self::own_event(caller, &changed)).await?.seq);
        }
        let mut seqs = Vec::new();
        for project_id in projects {
            let event = Event::ParticipantLeft(ParticipantLeft {
                project_id,
                participant_id: who,
                reason: None,
            });
            seqs.push(self.write(Self::own_event(caller, &event)).await?.seq);
        }
        // They can no longer sign in: their tokens are revoked (kept, so
        // the record of who had which stays), which ends their sessions
        // and streams.
        let mut stopped = Vec::new();
        for t in self.0.tokens.list().map_err(Refusal::failed)? {
            if t.participant == Some(who) && t.revoked.is_none() {
                self.0.tokens.revoke(&t.id).map_err(Refusal::failed)?;
                stopped.push(t.credential());
            }
        }
        if !stopped.is_empty() {
            self.credentials_ended();
        }
        // Each stopping is recorded, by whoever recorded the leaving.
        for credential in stopped {
            self.record_stopped(caller, credential).await?;
        }
        // Their personal data, if the people store holds any, is kept for
        // the retention period from today; from now on nothing is sent
        // them, and what was owed them is dropped.
        if let Some(mut person) = person {
            person.left = Some(today());
            self.0.people.put(&person).map_err(people_refusal)?;
        }
        self.forget_mail_for(&who.uuid())?;
        Ok(Leaving {
            handed_on,
            left: seqs,
        })
    }

    /// The erasure steps, off the async threads, appending through the writer.
    async fn run_erasure<T: Send + 'static>(
        &self,
        work: impl FnOnce(
            &Ledger,
            Holders<'_>,
            &mut dyn FnMut(NewEvent) -> Result<u64, String>,
        ) -> Result<T, erasure::PrivacyError>
        + Send
        + 'static,
    ) -> Result<T, Refusal> {
        let app = self.clone();
        let runtime = tokio::runtime::Handle::current();
        let done = tokio::task::spawn_blocking(move || {
            let inner = &app.0;
            let holders = Holders {
                people: &inner.people,
                tokens: &inner.tokens,
                idempotency: &inner.idempotency,
                outbox: &inner.outbox,
            };
            let mut append = |event: NewEvent| {
                runtime
                    .block_on(app.write(event))
                    .map(|a| a.seq)
                    .map_err(|r| r.to_string())
            };
            work(&inner.ledger, holders, &mut append)
        })
        .await
        .map_err(Refusal::failed)?
        .map_err(|e| match e {
            erasure::PrivacyError::Invalid(why) => Refusal::malformed(why),
            e => Refusal::failed(e),
        })?;
        // Their tokens are gone: streams they had open check and end.
        self.credentials_ended();
        // Nor do their answers stay behind the published figures.
        let erased = self.read()?.erased.clone();
        if let Ok(mut p) = self.0.published.lock() {
            p.group.remove(erased.iter().map(|who| who.uuid()));
        }
        // Nothing of the erased text stays in memory: the writer's rules
        // read the model, which readers share, again from the log.
        self.0.sequencer.reload().await.map_err(append_failure)?;
        Ok(done)
    }

    /// Erases a person on request: their people-store entry, the words of
    /// every record they wrote (authorised by a `record.redacted`), their
    /// access tokens; the log still verifies.
    pub async fn erase(
        &self,
        caller: &Caller,
        who: uuid::Uuid,
        reason: &str,
        legal_basis: &str,
    ) -> Result<Erasure, Refusal> {
        policy::require(caller.author(), Action::Erase)?;
        let actor = caller.actor().clone();
        let (reason, basis) = (reason.to_string(), legal_basis.to_string());
        let done = self
            .run_erasure(move |ledger, holders, append| {
                erasure::erase_person(ledger, holders, who, &actor, &reason, &basis, append)
            })
            .await?;
        trail::erased(caller, &who);
        Ok(done)
    }

    /// Erases everyone who left more than `days` ago, and records the run.
    pub async fn run_retention(&self, caller: &Caller, days: u32) -> Result<Retention, Refusal> {
        policy::require(caller.author(), Action::Erase)?;
        let actor = caller.actor().clone();
        let today = time::OffsetDateTime::now_utc().date();
        // The cutoff is recorded as YYYY-MM-DD: a period reaching back
        // before the year 1 is no period (and no date to write).
        let reaches = today.checked_sub(time::Duration::days(i64::from(days)));
        if reaches.is_none_or(|cutoff| cutoff.year() < 1) {
            return Err(Refusal::malformed(format!(
                "a retention period of {days} days reaches back before the year 1; give a period in days, such as 730 (about two years)"
            ))
            .at("/days"));
        }
        self.run_erasure(move |ledger, holders, append| {
            erasure::apply_retention(ledger, holders, today, days, &actor, append)
        })
        .await
    }

    /// Everything held about one person (a subject access request).
    pub async fn subject_export(
        &self,
        caller: &Caller,
        who: uuid::Uuid,
    ) -> Result<erasure::SubjectExport, Refusal> {
        policy::require(caller.author(), Action::SubjectExport)?;
        let app = self.clone();
        let export = tokio::task::spawn_blocking(move || {
            erasure::subject_export(&app.0.ledger, &app.0.people, who)
        })
        .await
        .map_err(Refusal::failed)?
        .map_err(Refusal::failed)?;
        trail::subject_exported(caller, &who);
        Ok(export)
    }

    /// Writes the whole log, as of now, as an export bundle at `out`.
    pub async fn backup(
        &self,
        caller: &Caller,
        out: std::path::PathBuf,
    ) -> Result<crate::ledger::bundle::BundleSummary, Refusal> {
        policy::require(caller.author(), Action::Backup)?;
        let ledger = self.0.ledger.clone();
        let summary =
            tokio::task::spawn_blocking(move || crate::ledger::bundle::export(&ledger, &out))
                .await
                .map_err(Refusal::failed)?
                .map_err(Refusal::failed)?;
        trail::backup_taken(caller, summary.size);
        Ok(summary)
    }

    /// Writes a complete backup, encrypted to `recipients`, at `out`
    /// (docs/OPERATING.md): the log, the people store, keys and side tables.
    pub async fn complete_backup(
        &self,
        caller: &Caller,
        out: std::path::PathBuf,
        recipients: Vec<age::x25519::Recipient>,
    ) -> Result<backup::Written, Refusal> {
        policy::require(caller.author(), Action::Backup)?;
        let ledger = self.0.ledger.clone();
        let written = tokio::task::spawn_blocking(move || {
            backup::write(&ledger, &out, &backup::Protection::To(recipients))
        })
        .await
        .map_err(Refusal::failed)??;
        trail::backup_taken(caller, written.records);
        Ok(written)
    }

    // ------------------------------------------------------------ equality

    /// The partner whose answers these are. Not in a session on a card a
    /// member of staff made that the partner has not shown to be theirs:
    /// whoever made the card could be holding it (docs/PRIVACY.md).
    fn me(&self, caller: &Caller) -> Result<uuid::Uuid, Refusal> {
        policy::require(caller.author(), Action::AnswerEquality)?;
        let me = caller
            .participant()
            .map(|p| p.uuid())
            .ok_or_else(|| Refusal::forbidden("this token belongs to no participant"))?;
        if self.on_a_card_staff_made(caller)? {
            return Err(Refusal::forbidden(
                "your equality answers are not shown or changed in a session that began with a sign-in card a member of staff made, until you show the card is yours by entering your own access code",
            ));
        }
        Ok(me)
    }

    /// Replaces the caller's own equality answers (partners only, each for
    /// themselves). Pointers name the question at fault.
    pub fn set_equality_answers(
        &self,
        caller: &Caller,
        answers: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Refusal> {
        let me = self.me(caller)?;
        equality::check_answers(&answers).map_err(|(at, why)| Refusal::malformed(why).at(at))?;
        Ok(self
            .0
            .people
            .set_answers(&me, answers)
            .map_err(people_refusal)?
            .answers)
    }

    /// The caller's own equality answers.
    pub fn equality_answers(&self, caller: &Caller) -> Result<BTreeMap<String, String>, Refusal> {
        let me = self.me(caller)?;
        // A damaged entry reads as no answers yet: saving them repairs it.
        Ok(match self.0.people.get(&me) {
            Ok(p) => p.map(|p| p.answers).unwrap_or_default(),
            Err(crate::people::PeopleError::Damaged(..)) => BTreeMap::new(),
            Err(e) => return Err(people_refusal(e)),
        })
    }

    /// The caller's own time and payments (`GET /v1/me/time`): only their
    /// own, whatever their role.
    pub fn my_time(&self, caller: &Caller) -> Result<crate::coproduction::pay::Mine, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        // Staff read everyone's through the records; this is one's own.
        let me = caller
            .participant()
            .ok_or_else(|| Refusal::forbidden("this token belongs to no participant"))?;
        let model = self.read()?;
        Ok(crate::coproduction::pay::mine(&model, &me))
    }

    /// The published equality figures, for the whole partner group or one
    /// project the caller may see: small counts hidden, the rest rounded to
    /// the nearest 5, as of the last publication.
    pub fn equality_table(
        &self,
        caller: &Caller,
        project: Option<ProjectId>,
    ) -> Result<Table, Refusal> {
        policy::require(caller.author(), Action::ReadEquality)?;
        let model = self.read()?;
        let published = self
            .0
            .published
            .lock()
            .map_err(|_| Refusal::failed("the published figures' lock"))?;
        let group = &published.group;
        let table = match project {
            None => equality::whole_group(group, policy::K),
            Some(id) => {
                let p = model
                    .projects
                    .get(&id)
                    .filter(|_| policy::in_view(caller.author(), &model).contains(&id))
                    .ok_or_else(|| Refusal::not_found("there is no such project"))?;
                let members = p.members.keys().map(|p| p.uuid()).collect();
                equality::project(id, &members, group, policy::K)
            }
        };
        Ok(table.published(&published.at))
    }

    /// Publishes the equality figures from the answers as they are now
    /// (also done when the server starts, and daily); returns when.
    pub fn publish_equality(&self, caller: &Caller) -> Result<String, Refusal> {
        policy::require(caller.author(), Action::PublishEquality)?;
        self.publish_now()
    }

    fn publish_now(&self) -> Result<String, Refusal> {
        let fresh = {
            let model = self.read()?;
            Published::take(&self.0.people, &model)?
        };
        let at = fresh.at.clone();
        *self
            .0
            .published
            .lock()
            .map_err(|_| Refusal::failed("the published figures' lock"))? = fresh;
        Ok(at)
    }

    /// Publishes the equality figures every day at `at` (UTC). Needs a
    /// Tokio runtime.
    pub fn start_daily_publication(&self, at: time::Time) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                let now = time::OffsetDateTime::now_utc();
                let mut next = now.replace_time(at);
                if next <= now {
                    next += time::Duration::days(1);
                }
                let wait = (next - now).unsigned_abs();
                tokio::time::sleep(wait).await;
                if let Err(e) = app.publish_now() {
                    tracing::warn!("the daily equality figures were not published: {e}");
                }
            }
        });
    }

    // ------------------------------------------------------------- reading

    /// The model, caught up with the log. For the pages, which read it
    /// through the disclosure policy.
    pub fn read(&self) -> Result<ModelGuard<'_>, Refusal> {
        // Never waits long: the writer holds it only while a batch is
        // admitted and written.
        Ok(self.0.model.read())
    }

    /// Whether `caller` may read this stored record.
    fn visible(caller: &Caller, model: &Model, ev: &StoredEvent) -> bool {
        let seq = ev.record.seq();
        let event = match (&ev.payload, model.kept.get(&seq)) {
            (None, Some(kept)) => {
                Event::from_payload(ev.record.event_type().as_str(), kept).and_then(Result::ok)
            }
            _ => read_event(&ev.record, ev.payload.as_ref()).ok().flatten(),
        };
        if let Some(subject) = policy::personal_to(model, event.as_ref()) {
            return policy::may_read_personal(caller.author(), subject);
        }
        let (project, seq) = model.read_as(event.as_ref(), seq);
        policy::may_read(caller.author(), model, seq, project)
    }

    /// A page of the records `caller` may read, after `after`.
    pub fn events(
        &self,
        caller: &Caller,
        after: Option<u64>,
        limit: usize,
    ) -> Result<EventPage, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        page_limit(limit, MAX_EVENT_PAGE)?;
        let mut next = first_after(after)?;
        let model = self.read()?;
        let head = self.0.ledger.head().size;
        let mut out = Vec::new();
        while out.len() < limit && next < head {
            let batch = self
                .0
                .ledger
                .range(next, (limit - out.len()).max(256))
                .map_err(Refusal::failed)?;
            if batch.is_empty() {
                break;
            }
            for ev in batch {
                next = ev.record.seq() + 1;
                if Self::visible(caller, &model, &ev) {
                    out.push(ev);
                    if out.len() == limit {
                        break;
                    }
                }
            }
        }
        let more = next < self.0.ledger.head().size;
        Ok(EventPage {
            events: out,
            next: more.then(|| next - 1),
            looked_to: next.checked_sub(1),
        })
    }

    fn one_event(&self, caller: &Caller, ev: Option<StoredEvent>) -> Result<StoredEvent, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        let hidden = || Refusal::not_found("there is no such event");
        let ev = ev.ok_or_else(hidden)?;
        let model = self.read()?;
        if Self::visible(caller, &model, &ev) {
            Ok(ev)
        } else {
            Err(hidden())
        }
    }

    /// One record by sequence number, if `caller` may read it.
    pub fn event(&self, caller: &Caller, seq: u64) -> Result<StoredEvent, Refusal> {
        let ev = self.0.ledger.get(seq).map_err(Refusal::failed)?;
        self.one_event(caller, ev)
    }

    /// One record by event id, if `caller` may read it.
    pub fn event_by_id(&self, caller: &Caller, id: &uuid::Uuid) -> Result<StoredEvent, Refusal> {
        let ev = self.0.ledger.get_by_id(id).map_err(Refusal::failed)?;
        self.one_event(caller, ev)
    }

    /// A page of the projects `caller` sees: at most `limit` (1 to
    /// [`MAX_PROJECT_PAGE`]) after the project `after`, in project id order.
    pub fn projects(
        &self,
        caller: &Caller,
        after: Option<ProjectId>,
        limit: usize,
    ) -> Result<ProjectPage, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        page_limit(limit, MAX_PROJECT_PAGE)?;
        let model = self.read()?;
        let view = policy::in_view(caller.author(), &model);
        let bound = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut projects: Vec<ProjectSummary> = model
            .projects
            .range((bound, std::ops::Bound::Unbounded))
            .map(|(_, p)| p)
            .filter(|p| view.contains(&p.id))
            .take(limit + 1)
            .map(|p| ProjectSummary {
                project_id: p.id,
                title: model.text(&p.title),
                involvement: p.involvement,
                stage: p.stage,
                started: p.started_at.to_string(),
                partners: self.0.figures.partners_of(&model, policy::K, &p.id),
            })
            .collect();
        let more = projects.len() > limit;
        projects.truncate(limit);
        let next = more
            .then(|| projects.last().map(|p| p.project_id))
            .flatten();
        Ok(ProjectPage { projects, next })
    }

    /// One project's figures, if `caller` sees it.
    pub fn project(&self, caller: &Caller, id: ProjectId) -> Result<ProjectView, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        let model = self.read()?;
        let p = model
            .projects
            .get(&id)
            .filter(|_| policy::in_view(caller.author(), &model).contains(&id))
            .ok_or_else(|| Refusal::not_found("there is no such project"))?;
        Ok(ProjectView {
            project_id: p.id,
            title: model.said(&p.title),
            summary: model.said(&p.summary),
            involvement: p.involvement,
            stage: p.stage,
            started: p.started_at.to_string(),
            aims: (p.aims.iter())
                .map(|a| Aim {
                    aim_id: a.aim_id,
                    text: model.said(&a.text),
                })
                .collect(),
            meetings: p.meetings.len() as u64,
            proposals: p.proposals.len() as u64,
            decisions: p.decisions.len() as u64,
            actions: p.actions.len() as u64,
            last_seq: p.last_seq,
            partners: self.0.figures.partners_of(&model, policy::K, &p.id),
        })
    }

    /// The organisation-wide projections as of today, bounded: totals over
    /// every project `caller` sees, and the rows of at most `limit` (1 to
    /// [`MAX_OVERVIEW_PAGE`](crate::coproduction::report::MAX_OVERVIEW_PAGE))
    /// projects after `after` (see [`Overview`]).
    pub fn overview(
        &self,
        caller: &Caller,
        after: Option<ProjectId>,
        limit: usize,
    ) -> Result<Overview, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        page_limit(limit, crate::coproduction::report::MAX_OVERVIEW_PAGE)?;
        let model = self.read()?;
        let view = policy::in_view(caller.author(), &model);
        let only = |id: &ProjectId| view.contains(id);
        Ok(Overview::build_cached(
            &model,
            match view {
                policy::InView::All => None,
                policy::InView::Only(_) => Some(&only),
            },
            after,
            limit,
            Settings {
                exact: policy::sees_exact_counts(caller.author()),
                ..Settings::today()
            },
            &self.0.figures,
        ))
    }

    /// The projections as of today: over the projects `caller` sees, or
    /// over one of them.
    pub fn report(&self, caller: &Caller, project: Option<ProjectId>) -> Result<Report, Refusal> {
        self.report_with(caller, project, Settings::today())
    }

    /// [`report`](Self::report) with other settings (a day, thresholds).
    pub fn report_with(
        &self,
        caller: &Caller,
        project: Option<ProjectId>,
        settings: Settings,
    ) -> Result<Report, Refusal> {
        policy::require(caller.author(), Action::Read)?;
        let settings = Settings {
            exact: policy::sees_exact_counts(caller.author()),
            ..settings
        };
        let model = self.read()?;
        let view = policy::in_view(caller.author(), &model);
        Ok(match project {
            Some(id) => {
                if !model.projects.contains_key(&id) || !view.contains(&id) {
                    return Err(Refusal::not_found("there is no such project"));
                }
                Report::build(&model, Some(id), settings)
            }
            None => Report::build_for(&model, &|id| view.contains(id), settings),
        })
    }

    /// How a person is named to `caller` (see [`policy::name_of`]).
    pub fn name_of(&self, caller: &Caller, model: &Model, who: &ParticipantId) -> String {
        policy::name_of(caller.author(), model, who, || {
            self.0
                .people
                .get(&who.uuid())
                .ok()
                .flatten()
                .map(|p| p.name)
        })
    }

    /// The name the people store holds for the caller themself, to greet
    /// them by: anyone may see their own name.
    pub fn own_name(&self, caller: &Caller) -> Option<String> {
        let me = caller.author().participant?;
        (self.0.people.get(&me.uuid()).ok().flatten())
            .map(|p| p.name)
            .filter(|n| !n.trim().is_empty())
    }

    /// A person's name by id (for those who see names).
    pub fn person_name(&self, caller: &Caller, who: uuid::Uuid) -> Result<String, Refusal> {
        policy::require(caller.author(), Action::ReadName)?;
        Ok(crate::people::display_name(&self.0.people, &who))
    }

    /// Tells when the log grows (its size), for streams.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.appended.subscribe()
    }

    /// Tells when any credentials end, for streams to check theirs.
    pub fn subscribe_credentials(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.credentials_ended.subscribe()
    }

    /// Tells when the server begins to stop, for streams to end.
    pub fn subscribe_stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.stopping.subscribe()
    }

    /// The server is stopping: open streams end (so their connections can
    /// close), everything else carries on until the writer stops.
    pub fn begin_stopping(&self) {
        self.0.stopping.send_replace(true);
    }

    fn credentials_ended(&self) {
        self.0.credentials_ended.send_modify(|n| *n += 1);
    }

    // ------------------------------------------------- checkpoints, proofs

    /// (size, signed note) of the checkpoint asked for.
    pub fn checkpoint(&self, which: Which) -> Result<(u64, String), Refusal> {
        let cosigned = self.0.cosigned.borrow().clone();
        match which {
            Which::Latest => {
                // The writer signs each batch once it has answered it; a
                // reader who comes in between has the head signed now, so
                // an acknowledged record is always in the latest
                // checkpoint. A failure leaves the last good one.
                let head = self.0.ledger.head().size;
                if self.0.notary.latest().is_none_or(|(cp, _)| cp.size < head) {
                    let _ = self.0.notary.sign_head(&self.0.ledger);
                }
                let (cp, note) = self.0.notary.latest().ok_or_else(|| {
                    Refusal::unavailable("there is no signed checkpoint yet; try again shortly")
                })?;
                // The same checkpoint with its witnesses' lines, once they came.
                Ok(match cosigned {
                    Some(c) if c.size == cp.size => (c.size, c.note),
                    _ => (cp.size, note),
                })
            }
            Which::Cosigned => {
                if self.0.witnesses.is_empty() {
                    return Err(Refusal::not_found(
                        "this server has no witnesses configured, so nothing is cosigned",
                    ));
                }
                cosigned.map(|c| (c.size, c.note)).ok_or_else(|| {
                    Refusal::unavailable(
                        "the witnesses have not cosigned a checkpoint yet; try again shortly",
                    )
                })
            }
        }
    }

    /// A receipt (C2SP tlog-proof) for record `seq` against a checkpoint.
    pub fn receipt(&self, seq: u64, which: Which) -> Result<String, Refusal> {
        let (size, note) = self.checkpoint(which)?;
        if seq >= size {
            return Err(Refusal::not_found(
                "there is no such event in that checkpoint yet",
            ));
        }
        let entry = self
            .0
            .ledger
            .store()
            .read(seq)
            .map_err(Refusal::failed)?
            .ok_or_else(|| Refusal::not_found("there is no such event"))?;
        let proof = self
            .0
            .ledger
            .inclusion_proof(seq, size)
            .map_err(Refusal::failed)?;
        Ok(crate::ledger::receipt::Receipt {
            record: entry.record,
            index: seq,
            proof,
            checkpoint: note,
        }
        .to_text())
    }

    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Digest>, Refusal> {
        self.0
            .ledger
            .consistency_proof(from, to)
            .map_err(|e| Refusal::malformed(e.to_string()))
    }

    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Digest>, Refusal> {
        self.0
            .ledger
            .inclusion_proof(seq, size)
            .map_err(|e| Refusal::malformed(e.to_string()))
    }

    /// Record envelopes (no payloads), one canonical record a line, for
    /// public audit: at most `limit` (1 to [`MAX_RECORD_PAGE`]) after
    /// `after`, and the last one's sequence number when more follow.
    pub fn public_records(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(String, Option<u64>), Refusal> {
        page_limit(limit, MAX_RECORD_PAGE)?;
        let from = first_after(after)?;
        let size = self.0.ledger.head().size;
        let to = from.saturating_add(limit as u64).min(size);
        let mut text = String::new();
        for seq in from..to {
            let entry = self
                .0
                .ledger
                .store()
                .read(seq)
                .map_err(Refusal::failed)?
                .ok_or_else(|| Refusal::failed("a record is missing"))?;
            text.push_str(&String::from_utf8_lossy(&entry.record));
            text.push('\n');
        }
        Ok((text, (to < size && to > from).then(|| to - 1)))
    }

    /// The log's verifier key.
    pub fn verifier(&self) -> crate::ledger::note::Verifier {
        self.0.notary.verifier()
    }

    // ----------------------------------------------------------- operating

    /// Records in the log.
    pub fn size(&self) -> u64 {
        self.0.ledger.head().size
    }

    /// The core's counters, as the server counts them (for tests and
    /// the doors that already decided the caller may see them).
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The counters for `/metrics`, to those who may read them: they say
    /// how busy the server is and how much mail it sends, which is no
    /// business of partners or the public.
    pub fn metrics_for(&self, caller: &Caller) -> Result<&Metrics, Refusal> {
        policy::require(caller.author(), Action::ReadMetrics)?;
        Ok(&self.0.metrics)
    }

    /// Failures of each witness so far.
    pub fn witness_failures(&self) -> Vec<(String, u64)> {
        self.0.witness_stats.failures()
    }

    /// (witness name, when it last cosigned, Unix seconds).
    pub fn witness_last_cosigned(&self) -> Vec<(String, u64)> {
        self.0.witness_stats.last_cosigned()
    }

    /// The sizes of the newest signed checkpoint and of the newest one the
    /// witnesses cosigned (0 for none yet).
    pub fn checkpoint_sizes(&self) -> (u64, u64) {
        let signed = self.0.notary.latest().map_or(0, |(cp, _)| cp.size);
        let cosigned = self.0.cosigned.borrow().as_ref().map_or(0, |c| c.size);
        (signed, cosigned)
    }

    /// How many people-store entries are damaged (reported, and passed over).
    pub fn damaged_people(&self) -> usize {
        self.0.people.damaged().map_or(0, |d| d.len())
    }

    pub fn writer_stats(&self) -> &SequencerStats {
        self.0.sequencer.stats()
    }

    /// Records not yet applied to the read model.
    pub fn projection_lag(&self) -> u64 {
        let applied = self.0.model.read().last_seq.map_or(0, |s| s + 1);
        self.size().saturating_sub(applied)
    }

    /// Whether appends can be taken now ([`readiness`]).
    pub fn readiness(&self) -> Result<readiness::Ready, readiness::NotReady> {
        self.0.readiness.check(self.0.ledger.store().dir())
    }

    /// Free bytes on the data directory's disk (0 if it cannot be told).
    pub fn free_disk_bytes(&self) -> u64 {
        readiness::free_bytes(self.0.ledger.store().dir()).unwrap_or(0)
    }

    /// (records, Unix seconds) of the last full verification that passed.
    pub fn last_verified(&self) -> (u64, u64) {
        self.0.last_verified.lock().map(|l| *l).unwrap_or((0, 0))
    }

    /// Verifies the whole log (reading only; appends go on) and records the
    /// result. A failure is returned, for the caller to report.
    pub fn verify_now(&self) -> Result<u64, String> {
        let v = crate::ledger::verify::verify_full(&self.0.ledger, &mut |_| {})
            .map_err(|e| e.to_string());
        self.0
            .readiness
            .verified(v.as_ref().map(|_| ()).map_err(Clone::clone));
        let v = v?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Ok(mut l) = self.0.last_verified.lock() {
            *l = (v.size, now);
        }
        Ok(v.size)
    }

    /// Starts the task that submits each new checkpoint to the witnesses
    /// (nothing to do without witnesses). Needs a Tokio runtime.
    pub fn start_witnessing(&self) {
        if self.0.witnesses.is_empty() {
            return;
        }
        tokio::spawn(witnessing::run(
            self.0.ledger.clone(),
            self.0.notary.clone(),
            self.0.witnesses.clone(),
            self.0.signed.subscribe(),
            self.0.cosigned.clone(),
            self.0.witness_stats.clone(),
        ));
    }

    /// Whether any access token exists yet.
    pub fn has_tokens(&self) -> bool {
        self.0.tokens.list().is_ok_and(|t| !t.is_empty())
    }

    /// The ledger, for tests and tools that check the store beneath.
    pub fn ledger(&self) -> &Ledger {
        &self.0.ledger
    }
}

/// Refuses a page size outside 1 to `max`.
fn page_limit(limit: usize, max: usize) -> Result<(), Refusal> {
    if (1..=max).contains(&limit) {
        Ok(())
    } else {
        Err(Refusal::malformed(format!("limit must be between 1 and {max}")).at("/limit"))
    }
}

/// The first sequence number after `after`. A sequence number is a whole
/// number below 2^53 (as every number jointly reads); one beyond that is
/// refused rather than wrapped round to the start of the log.
pub fn first_after(after: Option<u64>) -> Result<u64, Refusal> {
    const LIMIT: u64 = crate::ledger::canonical::MAX_SAFE_INTEGER;
    match after {
        None => Ok(0),
        Some(a) if a < LIMIT => Ok(a + 1),
        Some(a) => Err(Refusal::malformed(format!(
            "after (or Last-Event-ID) {a} is not a sequence number: they are below {LIMIT}"
        ))
        .at("/after")),
    }
}

impl Published {
    /// The partner group and their answers as they are now.
    fn take(people: &People, model: &Model) -> Result<Published, Refusal> {
        let (group, answers) = equality::partner_answers(people, model).map_err(Refusal::failed)?;
        Ok(Published {
            at: crate::ledger::Timestamp::now().to_string(),
            group: equality::Group::new(group, answers),
        })
    }
}

/// Today's date, YYYY-MM-DD (UTC).
fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// Strict JSON input for every front door: UTF-8, no repeated keys (at any
/// depth), no trailing data, whole numbers only. A refusal is malformed.
pub fn strict_json(input: &[u8]) -> Result<Value, Refusal> {
    crate::ledger::canonical::parse_strict(input).map_err(|e| match e {
        crate::ledger::PayloadError::TooLarge { .. } => {
            Refusal::new(crate::refusal::Kind::TooLarge, e.to_string())
        }
        e => Refusal::malformed(e.to_string()),
    })
}

/// A payload checked strictly and in canonical form, or why not (at
/// `/payload`).
pub fn payload(value: &Value) -> Result<CanonicalPayload, Refusal> {
    CanonicalPayload::from_value(value)
        .map_err(|e| Refusal::malformed(e.to_string()).at("/payload"))
}

/// A participant id from text, or a malformed refusal naming `what`.
pub fn participant_id(text: &str, what: &str) -> Result<ParticipantId, Refusal> {
    uuid::Uuid::parse_str(text.trim())
        .map(ParticipantId::from)
        .map_err(|_| {
            Refusal::malformed(format!("{what} {text:?} is not a participant id (a UUID)"))
        })
}

/// A project id from text, or a malformed refusal naming `what`.
pub fn project_id(text: &str, what: &str) -> Result<ProjectId, Refusal> {
    uuid::Uuid::parse_str(text.trim())
        .map(ProjectId::from)
        .map_err(|_| Refusal::malformed(format!("{what} {text:?} is not a project id (a UUID)")))
}
