//! The API's JSON answers as types. Every JSON body the API sends is one of
//! these (or a core type deriving `ToSchema`), serialised by serde; the
//! OpenAPI document is generated from the same types, so the document and
//! the answers cannot drift apart. Nothing here decides anything: each type
//! is built from what one core method returned.

use crate::app::tokens::TokenInfo;
use crate::coproduction::report::{
    self, ImpactReport, ImpactRow, JointnessReport, JointnessRow, JointnessTotals, Overview,
    PresenceReport, Report, TokenismReport, Totals, YouSaidRow, YouSaidWeDid,
};
use crate::coproduction::values::{Date, ParticipantId, ProjectId};
use crate::ledger::{CanonicalPayload, Digest, StoredEvent};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One record of the log, as `schemas/record.schema.json` describes it:
/// what the chain and the Merkle tree commit to (the payload is not part
/// of it). Only its schema is used: the record itself is the ledger's.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Record {
    /// Record format version (1).
    #[schema(minimum = 1, maximum = 1)]
    pub v: u32,
    /// 0-based position in the log; no gaps.
    #[schema(maximum = 9007199254740991_u64)]
    pub seq: u64,
    /// Event id: a UUID version 7, lowercase and hyphenated.
    #[schema(
        format = Uuid,
        pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )]
    pub id: String,
    /// When the server appended it, UTC, with microseconds.
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")]
    pub at: String,
    /// Who appended it, as the server authenticated them.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub actor: String,
    /// Event type; names starting `x.` are the organisation's own.
    #[serde(rename = "type")]
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    pub event_type: String,
    /// Chain hash of the previous record (64 zeros for record 0).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub prev: String,
    /// BLAKE3(salt || canonical payload).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub commitment: String,
}

/// A record with its payload, as the caller may read it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Event {
    /// The record's sequence number (the same as `record.seq`).
    pub seq: u64,
    #[schema(value_type = Record)]
    pub record: crate::ledger::Record,
    /// The record's chain hash.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub hash: Digest,
    /// The event's payload (its schema is `schemas/<type>.schema.json`),
    /// or `null` where it was erased and nothing of it is kept.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// With a payload, the salt of the record's `commitment` (hex):
    /// `commitment = BLAKE3(salt || canonical payload)` (docs/FORMAT.md),
    /// so a reader (a mirror) can check the payload is the record's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub salt: Option<String>,
}

impl From<&StoredEvent> for Event {
    fn from(ev: &StoredEvent) -> Self {
        Event {
            seq: ev.record.seq(),
            record: ev.record.clone(),
            hash: ev.hash,
            payload: ev.payload.as_ref().map(CanonicalPayload::to_value),
            salt: ev
                .payload
                .as_ref()
                .and(ev.salt.as_ref())
                .map(|s| hex::encode(s.0)),
        }
    }
}

/// A page of events.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page; `null` when there is no more
    /// yet (the log may grow: ask again later from the last `seq` seen).
    #[schema(required = true)]
    pub next: Option<u64>,
}

/// The server is up.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always "ok".
    pub status: String,
    /// Records in the log.
    pub records: u64,
}

/// Whether the server can take appends now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// "ready" or "not ready".
    pub status: String,
    /// Why not, in words (absent when ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes free on the data directory's disk (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// Records in the log.
    pub records: u64,
}

/// A new token: its secret, shown this once, and what is kept of it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// The secret to send as `Authorization: Bearer <token>`.
    pub token: String,
    pub info: TokenInfo,
}

/// The projections over one project, as of today: the section asked for
/// (every section for `all`), each with its lists in full.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectProjection {
    pub as_of: Date,
    /// The last record the projections have read.
    pub last_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub you_said_we_did: Option<YouSaidWeDid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jointness: Option<JointnessReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tokenism: Option<TokenismReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub presence: Option<PresenceReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub impact: Option<ImpactReport>,
    /// Were partners paid for their time?
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pay: Option<crate::coproduction::pay::PayReport>,
}

/// The projections, by name.
#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    YouSaidWeDid,
    Jointness,
    Tokenism,
    Presence,
    Impact,
    Pay,
    All,
}

impl Section {
    fn wants(self, s: Section) -> bool {
        self == s || self == Section::All
    }

    /// Its name in addresses.
    pub fn name(self) -> &'static str {
        match self {
            Section::YouSaidWeDid => "you-said-we-did",
            Section::Jointness => "jointness",
            Section::Tokenism => "tokenism",
            Section::Presence => "presence",
            Section::Impact => "impact",
            Section::Pay => "pay",
            Section::All => "all",
        }
    }
}

impl ProjectProjection {
    /// The section `s` of a report.
    pub fn of(r: Report, s: Section) -> Self {
        ProjectProjection {
            as_of: r.as_of,
            last_seq: r.last_seq,
            you_said_we_did: s.wants(Section::YouSaidWeDid).then_some(r.you_said_we_did),
            jointness: s.wants(Section::Jointness).then_some(r.jointness),
            tokenism: s.wants(Section::Tokenism).then_some(r.tokenism),
            presence: s.wants(Section::Presence).then_some(r.presence),
            impact: s.wants(Section::Impact).then_some(r.impact),
            pay: s.wants(Section::Pay).then_some(r.pay),
        }
    }
}

/// Where a project's own projection of a section is (its lists in full).
fn projection_link(id: ProjectId, s: Section) -> String {
    format!("/v1/projects/{id}/projections/{}", s.name())
}

/// A project's row in the organisation-wide "You said, we did".
#[derive(Serialize, utoipa::ToSchema)]
pub struct YouSaidWeDidRow {
    #[serde(flatten)]
    pub row: YouSaidRow,
    /// The project's own projection, with each proposal and its answers.
    pub projection: String,
}

/// A project's row in the organisation-wide jointness projection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JointnessPageRow {
    #[serde(flatten)]
    pub row: JointnessRow,
    /// The project's own projection, with each decision and its class.
    pub projection: String,
}

/// A project's row in the organisation-wide impact projection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImpactPageRow {
    #[serde(flatten)]
    pub row: ImpactRow,
    /// The project's own projection, with each aim and its outcomes.
    pub projection: String,
}

/// "You said, we did" over the organisation: totals over every project,
/// and this page's projects.
#[derive(Serialize, utoipa::ToSchema)]
pub struct YouSaidWeDidPage {
    pub projects: Vec<YouSaidWeDidRow>,
    pub totals: Totals,
}

/// Jointness over the organisation: totals over every project, and this
/// page's projects.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JointnessPage {
    pub projects: Vec<JointnessPageRow>,
    pub totals: JointnessTotals,
}

/// Impact over the organisation: reviews overdue over every project, and
/// this page's projects.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImpactPage {
    pub projects: Vec<ImpactPageRow>,
    pub reviews_overdue: u64,
}

/// The projections over every project the caller sees, as of today, a
/// page at a time: each section's totals count every project (on every
/// page); its `projects` are this page's, in project id order, as rows of
/// counts, each with the address of the project's own projection where
/// its proposals, decisions and outcomes are listed in full.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganisationProjection {
    pub as_of: Date,
    /// The last record the projections have read.
    pub last_seq: Option<u64>,
    /// How many projects the totals count (on every page).
    pub project_count: u64,
    /// The last project of this page when more follow: pass it as `after`
    /// for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next: Option<ProjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub you_said_we_did: Option<YouSaidWeDidPage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jointness: Option<JointnessPage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tokenism: Option<TokenismReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub presence: Option<PresenceReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub impact: Option<ImpactPage>,
    /// Were partners paid for their time? (this page's projects, and the
    /// totals over every project the caller sees).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pay: Option<crate::coproduction::pay::PayReport>,
}

impl OrganisationProjection {
    /// The section `s` of an overview.
    pub fn of(o: Overview, s: Section) -> Self {
        let report::Overview {
            as_of,
            last_seq,
            projects,
            next,
            you_said_we_did: you,
            jointness: joint,
            tokenism,
            presence,
            impact,
            stage_totals: _,
            pay,
        } = o;
        OrganisationProjection {
            as_of,
            last_seq,
            project_count: projects,
            next,
            you_said_we_did: s.wants(Section::YouSaidWeDid).then(|| YouSaidWeDidPage {
                projects: you
                    .rows
                    .into_iter()
                    .map(|row| YouSaidWeDidRow {
                        projection: projection_link(row.project_id, Section::YouSaidWeDid),
                        row,
                    })
                    .collect(),
                totals: you.totals,
            }),
            jointness: s.wants(Section::Jointness).then(|| JointnessPage {
                projects: joint
                    .rows
                    .into_iter()
                    .map(|row| JointnessPageRow {
                        projection: projection_link(row.project_id, Section::Jointness),
                        row,
                    })
                    .collect(),
                totals: joint.totals,
            }),
            tokenism: s.wants(Section::Tokenism).then_some(tokenism),
            presence: s.wants(Section::Presence).then_some(presence),
            impact: s.wants(Section::Impact).then(|| ImpactPage {
                projects: impact
                    .rows
                    .into_iter()
                    .map(|row| ImpactPageRow {
                        projection: projection_link(row.project_id, Section::Impact),
                        row,
                    })
                    .collect(),
                reviews_overdue: impact.totals,
            }),
            pay: s.wants(Section::Pay).then_some(pay),
        }
    }
}

/// A person registered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub participant_id: ParticipantId,
    /// The `participant.joined` record.
    pub seq: u64,
}

/// That someone left, recorded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Left {
    pub participant_id: ParticipantId,
    /// The records that hand the projects they led to the new lead: the
    /// new lead joining each (where they were not in it) and the lead
    /// changing. Empty when they led no open project.
    pub handed_on: Vec<u64>,
    /// The records that say they left each project they were in.
    pub left: Vec<u64>,
}

/// A person's name, or "a former participant" once erased; their email
/// too, for those who may read emails (admins), when one is kept.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonName {
    #[schema(value_type = String, format = Uuid)]
    pub participant_id: uuid::Uuid,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A partner's own equality answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MyAnswers {
    /// Question → answer.
    pub answers: BTreeMap<String, String>,
}

/// When the equality figures were published.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublishedAt {
    /// UTC, RFC 3339.
    pub published_at: String,
}

/// What an erasure did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Erased {
    #[schema(value_type = String, format = Uuid)]
    pub participant_id: uuid::Uuid,
    /// The `record.redacted` record that authorised it (none if nothing
    /// in the log needed erasing).
    pub authorised_by: Option<u64>,
    /// The records whose payloads were erased.
    pub erased: Vec<u64>,
    /// Whether a people-store entry (name, contact, answers) was deleted.
    pub person_deleted: bool,
    /// How many of their access tokens were deleted.
    pub tokens_deleted: u64,
    /// What was done, in words.
    pub said: String,
}

/// The OpenAPI 3.1 document (its schema is OpenAPI's own; the parts a
/// client needs to find its way are named here).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OpenApiDocument {
    /// The OpenAPI version, "3.1.0".
    pub openapi: String,
    #[schema(value_type = Object)]
    pub info: Value,
    /// Each path and its operations.
    #[schema(value_type = Object)]
    pub paths: Value,
    #[schema(value_type = Object)]
    pub components: Value,
}

/// A retention run, done.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Retained {
    /// The retention period applied, in days.
    pub days: u32,
    /// People who left before this day had their personal data erased.
    pub cutoff: String,
    /// Whose personal data was erased by this run.
    #[schema(value_type = Vec<String>)]
    pub erased_people: Vec<uuid::Uuid>,
    /// The `retention.applied` record of the run.
    pub recorded_as: u64,
}
