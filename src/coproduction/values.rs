//! The small value types events are made of: ids, plain-English text,
//! dates, and the domain's closed lists (stages, involvement, positions).
//!
//! Each type checks itself when read and publishes the same rule in its JSON
//! Schema, so the schemas and the Rust types accept the same documents.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use uuid::Uuid;

const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new(id: Uuid) -> Self {
                $name(id)
            }
            pub fn random() -> Self {
                $name(Uuid::new_v4())
            }
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }
        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // Text in JSON; a number in compact binary forms (a
                // snapshot of the model).
                if s.is_human_readable() {
                    s.collect_str(&self.0.hyphenated())
                } else {
                    s.serialize_u128(self.0.as_u128())
                }
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <Cow<'de, str>>::deserialize(d)?;
                    parse_uuid(&text).map($name).map_err(serde::de::Error::custom)
                } else {
                    u128::deserialize(d).map(|n| $name(Uuid::from_u128(n)))
                }
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                string_schema("uuid", UUID_PATTERN, "A UUID, lowercase with hyphens.")
            }
        }
        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                stringify!($name).into()
            }
        }
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": UUID_PATTERN,
                    "description": "A UUID, lowercase with hyphens."
                })
            }
        }
    };
}

/// The OpenAPI schema of a string value type: the same rule as its JSON
/// Schema (for the API's document; `schemas/` comes from `JsonSchema`).
fn string_schema(
    format: &str,
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom(format.into())))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

fn parse_uuid(text: &str) -> Result<Uuid, String> {
    let ok = text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if !ok {
        return Err(format!(
            "{text:?} is not a UUID written lowercase with hyphens"
        ));
    }
    Uuid::parse_str(text).map_err(|e| e.to_string())
}

id_type!(
    /// A project.
    ProjectId
);
id_type!(
    /// A pseudonymous person: staff or partner. Names live elsewhere.
    ParticipantId
);
id_type!(
    /// A proposal: an idea, a question, an item for discussion.
    ProposalId
);
id_type!(
    /// A decision.
    DecisionId
);
id_type!(
    /// A meeting or workshop.
    MeetingId
);
id_type!(
    /// A challenge to a decision.
    ChallengeId
);
id_type!(
    /// An action committed as a result of a decision.
    ActionId
);
id_type!(
    /// One of a project's aims.
    AimId
);
id_type!(
    /// A record of the log, by its event id (for corrections).
    RecordId
);
id_type!(
    /// Time a partner gave to a project (`time.recorded`).
    TimeId
);
id_type!(
    /// A payment to a partner for their time (`payment.made`).
    PaymentId
);

/// Hours, to the hundredth, written as a decimal ("2.75"): hours given on
/// one day, so more than 0 and at most 24. Kept as hundredths, so sums
/// are exact.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hours(u32);

/// More than 0 and at most 24, with at most two decimal places.
const HOURS_PATTERN: &str =
    "^(0\\.(0[1-9]|[1-9][0-9]?)|([1-9]|1[0-9]|2[0-3])(\\.[0-9]{1,2})?|24(\\.00?)?)$";

impl Hours {
    /// Reads "2.75", "2.5", "3": hours with at most two decimal places.
    pub fn parse(text: &str) -> Result<Hours, String> {
        let bad = || {
            format!("{text:?} is not hours written as a decimal with at most two places, e.g. 2.75")
        };
        let (whole, part) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (whole.len() > 1 && whole.starts_with('0')) || whole.len() > 2 {
            return Err(bad());
        }
        if text.contains('.') && (!digits(part) || part.len() > 2) {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let part: u32 = match part.len() {
            0 => 0,
            1 => part.parse::<u32>().map_err(|_| bad())? * 10,
            _ => part.parse().map_err(|_| bad())?,
        };
        let h = Hours(whole * 100 + part);
        if h.0 == 0 || h.0 > 2400 {
            return Err(format!(
                "{text:?}: hours given on one day are more than 0 and at most 24"
            ));
        }
        Ok(h)
    }
    /// From hundredths of an hour (a sum of many, which may pass 24).
    pub fn from_hundredths(n: u32) -> Hours {
        Hours(n)
    }
    pub fn hundredths(&self) -> u32 {
        self.0
    }
    /// As a number of hours (for JSON figures).
    pub fn as_f64(&self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for Hours {
    /// "2.75", "2.5", "3".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, part) = (self.0 / 100, self.0 % 100);
        match part {
            0 => write!(f, "{whole}"),
            p if p % 10 == 0 => write!(f, "{whole}.{}", p / 10),
            p => write!(f, "{whole}.{p:02}"),
        }
    }
}

impl fmt::Debug for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hours({self})")
    }
}

impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Hours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <Cow<'de, str>>::deserialize(d)?;
            Hours::parse(&text).map_err(serde::de::Error::custom)
        } else {
            Ok(Hours(u32::deserialize(d)?))
        }
    }
}

impl JsonSchema for Hours {
    fn schema_name() -> Cow<'static, str> {
        "Hours".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": HOURS_PATTERN,
            "description": "Hours given on one day, as a decimal with at most two places (\"2.75\"): more than 0, at most 24."
        })
    }
}

/// What time given to a project was for (what counts is the project's
/// offer to partners).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TimeFor {
    Meeting,
    Preparation,
    Travel,
    Other,
}

impl TimeFor {
    pub fn words(&self) -> &'static str {
        match self {
            TimeFor::Meeting => "a meeting",
            TimeFor::Preparation => "preparation",
            TimeFor::Travel => "travel",
            TimeFor::Other => "other work for the project",
        }
    }
}

/// How a partner gave what staff recorded for them (an idea by phone, a
/// dispute on paper): so that taking part never needs a computer.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum GivenBy {
    InPerson,
    Phone,
    Paper,
    Email,
    TextMessage,
}

impl GivenBy {
    pub fn words(&self) -> &'static str {
        match self {
            GivenBy::InPerson => "in person",
            GivenBy::Phone => "by phone",
            GivenBy::Paper => "on paper",
            GivenBy::Email => "by email",
            GivenBy::TextMessage => "by text message",
        }
    }
}

/// How a partner was paid, as they chose: many receive benefits, and may
/// choose vouchers, or to be paid nothing.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentForm {
    BankTransfer,
    Voucher,
    /// The partner chose not to be paid: the time is settled, for 0.
    Declined,
}

impl PaymentForm {
    pub fn words(&self) -> &'static str {
        match self {
            PaymentForm::BankTransfer => "by bank transfer",
            PaymentForm::Voucher => "in vouchers",
            PaymentForm::Declined => "not paid, as they chose",
        }
    }
}

/// Longest plain-English text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Plain-English text: 1 to 4000 characters, not only white space.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Text(String);

impl Text {
    pub fn new(text: &str) -> Result<Self, String> {
        Text::check(text)?;
        Ok(Text(text.to_owned()))
    }
    fn check(text: &str) -> Result<(), String> {
        let n = text.chars().count();
        if text.trim().is_empty() {
            return Err("this text is empty; write a few words".into());
        }
        if n > MAX_TEXT_CHARS {
            return Err(format!(
                "this text is {n} characters; the most is {MAX_TEXT_CHARS}"
            ));
        }
        Ok(())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Owned, not borrowed: a text is kept, and a reader streaming a
        // snapshot has nothing to lend.
        let text = String::deserialize(d)?;
        Text::check(&text).map_err(serde::de::Error::custom)?;
        Ok(Text(text))
    }
}

impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_TEXT_CHARS))
            .pattern(Some("\\S"))
            .description(Some("Plain English, 1 to 4000 characters."))
            .into()
    }
}

impl utoipa::ToSchema for Text {}

impl JsonSchema for Text {
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT_CHARS,
            "pattern": "\\S",
            "description": "Plain English, 1 to 4000 characters."
        })
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a date written YYYY-MM-DD");
        let b = text.as_bytes();
        if b.len() != 10
            || b[4] != b'-'
            || b[7] != b'-'
            || !b
                .iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = text[0..4].parse().map_err(|_| bad())?;
        let month: u8 = text[5..7].parse().map_err(|_| bad())?;
        let day: u8 = text[8..10].parse().map_err(|_| bad())?;
        let month = time::Month::try_from(month).map_err(|_| bad())?;
        time::Date::from_calendar_date(year, month, day)
            .map(Date)
            .map_err(|_| bad())
    }
    pub fn from_date(d: time::Date) -> Self {
        Date(d)
    }
    /// The day (UTC) a record was written.
    /// The day a timestamp falls on (UTC, the day its written form starts with).
    pub fn of(t: crate::ledger::Timestamp) -> Self {
        Date(t.date())
    }
    pub fn date(&self) -> time::Date {
        self.0
    }
    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn plus_days(&self, days: i64) -> Date {
        Date(self.0.saturating_add(time::Duration::days(days)))
    }
    pub fn days_until(&self, later: Date) -> i64 {
        (later.0 - self.0).whole_days()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month() as u8,
            self.0.day()
        )
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // YYYY-MM-DD in JSON; a day number in compact binary forms.
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i32(self.0.to_julian_day())
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <Cow<'de, str>>::deserialize(d)?;
            Date::parse(&text).map_err(serde::de::Error::custom)
        } else {
            time::Date::from_julian_day(i32::deserialize(d)?)
                .map(Date)
                .map_err(serde::de::Error::custom)
        }
    }
}

impl utoipa::PartialSchema for Date {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "date",
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "A calendar date, YYYY-MM-DD.",
        )
    }
}

impl utoipa::ToSchema for Date {}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "A calendar date, YYYY-MM-DD."
        })
    }
}

/// The four types of involvement (the ladder), most shared first.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Involvement {
    CoProduction,
    CoDesign,
    Engagement,
    Consultation,
}

impl Involvement {
    /// Every kind, from partners holding the most power to the least.
    pub const ALL: [Involvement; 4] = [
        Involvement::CoProduction,
        Involvement::CoDesign,
        Involvement::Engagement,
        Involvement::Consultation,
    ];

    pub fn words(&self) -> &'static str {
        match self {
            Involvement::CoProduction => "co-production",
            Involvement::CoDesign => "co-design",
            Involvement::Engagement => "engagement",
            Involvement::Consultation => "consultation",
        }
    }
}

/// Stages of a project, in order.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Conception,
    Design,
    Delivery,
    Review,
    Closed,
}

impl Stage {
    /// Every stage, in the order a project moves through them.
    pub const ALL: [Stage; 5] = [
        Stage::Conception,
        Stage::Design,
        Stage::Delivery,
        Stage::Review,
        Stage::Closed,
    ];

    pub fn words(&self) -> &'static str {
        match self {
            Stage::Conception => "conception",
            Stage::Design => "design",
            Stage::Delivery => "delivery",
            Stage::Review => "review",
            Stage::Closed => "closed",
        }
    }
}

/// Whether a participant is staff or a co-production partner.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Staff,
    Partner,
}

/// How a decision was taken.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Consensus,
    Vote,
    StaffDecision,
    OnePerson,
}

/// A participant's position on a decision they took part in.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    Agree,
    Disagree,
    Abstain,
}

/// What a decision said to a proposal it answers.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Accepted,
    Amended,
    Declined,
}

impl Response {
    pub fn words(&self) -> &'static str {
        match self {
            Response::Accepted => "accepted",
            Response::Amended => "accepted with changes",
            Response::Declined => "declined",
        }
    }
}

/// A way to sign in (an access token, or the token behind a sign-in card),
/// by its public handle: the first 12 hex digits of the SHA-256 of its
/// secret. Records name credentials only by this, never by the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(u64);

const CREDENTIAL_PATTERN: &str = "^[0-9a-f]{12}$";

impl CredentialId {
    /// From its 12 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = text.len() == 12 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(format!(
                "{text:?} is not a credential id: 12 lowercase hex digits"
            ));
        }
        u64::from_str_radix(text, 16)
            .map(CredentialId)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}", self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({self})")
    }
}

impl Serialize for CredentialId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <Cow<'de, str>>::deserialize(d)?;
            CredentialId::parse(&text).map_err(serde::de::Error::custom)
        } else {
            u64::deserialize(d).map(CredentialId)
        }
    }
}

impl utoipa::PartialSchema for CredentialId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "credential-id",
            CREDENTIAL_PATTERN,
            "A credential's public id: 12 lowercase hex digits.",
        )
    }
}

impl utoipa::ToSchema for CredentialId {
    fn name() -> Cow<'static, str> {
        "CredentialId".into()
    }
}

impl JsonSchema for CredentialId {
    fn schema_name() -> Cow<'static, str> {
        "CredentialId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": CREDENTIAL_PATTERN,
            "description": "A credential's public id: the first 12 hex digits of the SHA-256 of its secret."
        })
    }
}

/// What a credential lets its holder do: the role of an access token.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccessRole {
    Admin,
    Staff,
    Partner,
    Auditor,
}

/// How a credential reaches its holder.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Debug,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// An access code (a bearer token), typed in or sent with each request.
    #[default]
    AccessCode,
    /// A sign-in card: a token whose secret no one sees, reached only
    /// through a link (a QR code) that signs a browser in once.
    SignInCard,
}

impl CredentialKind {
    pub fn words(&self) -> &'static str {
        match self {
            CredentialKind::AccessCode => "an access code",
            CredentialKind::SignInCard => "a sign-in card",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<&str, &str>) {
        match (Hours::parse(text), expect) {
            (Ok(h), Ok(shown)) => assert_eq!(h.to_string(), shown, "{text}"),
            (Err(e), Err(words)) => assert!(e.contains(words), "{text}: {e}"),
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn hours_are_decimals_of_one_day() {
        check("2.75", Ok("2.75"));
        check("2.5", Ok("2.5"));
        check("2.50", Ok("2.5"));
        check("3", Ok("3"));
        check("0.25", Ok("0.25"));
        check("0.05", Ok("0.05"));
        check("24", Ok("24"));
        check("0", Err("more than 0"));
        check("0.00", Err("more than 0"));
        check("24.5", Err("at most 24"));
        check("2.755", Err("at most two places"));
        check("02", Err("at most two places"));
        check("2.", Err("at most two places"));
        check(".5", Err("at most two places"));
        check("-1", Err("at most two places"));
        check("1e2", Err("at most two places"));
        check("100", Err("at most two places"));
        assert_eq!(
            Hours::parse("2.75").unwrap().hundredths() + Hours::parse("1.25").unwrap().hundredths(),
            400
        );
    }
}
