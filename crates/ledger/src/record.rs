//! The record: what the chain and the Merkle tree commit to for each event.
//!
//! A record names its payload only by commitment, so a payload can be erased
//! later and the record still verifies. Its canonical bytes (RFC 8785) are
//! written by hand for speed and checked against the general canonicaliser
//! in tests; decoding refuses any byte string that is not exactly canonical.

use super::digest::{self, Digest};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// The record format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Largest canonical record accepted, in bytes.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// A sequence number: the record's 0-based position in the log.
pub type Seq = u64;

/// An event type name: `[a-z0-9._-]{1,64}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(String);

impl EventType {
    pub fn new(name: &str) -> Result<Self, RecordError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b));
        if ok {
            Ok(EventType(name.to_owned()))
        } else {
            Err(RecordError::BadType {
                name: name.to_owned(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who appended a record, as the server authenticated them: `[!-~]{1,128}`
/// (printable ASCII without spaces), e.g. `operator:alice` or `token:t-4f1c`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    pub fn new(name: &str) -> Result<Self, RecordError> {
        let ok =
            !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Actor(name.to_owned()))
        } else {
            Err(RecordError::BadActor {
                name: name.to_owned(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UTC time with microseconds, always written `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
/// Kept as microseconds since 1970 (8 bytes, where an `OffsetDateTime` is
/// 16: the model holds hundreds of thousands); always a time that `parse`
/// or `now` made, so it converts back without fail.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }
    fn from_datetime(t: OffsetDateTime) -> Self {
        // Keep only what is written, so that a value round-trips exactly.
        // Years 1 to 9999 (all that can be written) are well within i64.
        Timestamp((t.unix_timestamp_nanos() / 1000) as i64)
    }
    fn datetime(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .expect("a timestamp made here is in range")
    }
    pub fn parse(text: &str) -> Result<Self, RecordError> {
        // By hand, for the one written form: this runs for every record verified.
        let bad = || RecordError::BadTime {
            text: text.to_owned(),
        };
        let b = text.as_bytes();
        let shape = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
        if b.len() != shape.len()
            || !b.iter().zip(shape).all(|(c, s)| {
                if *s == b'd' {
                    c.is_ascii_digit()
                } else {
                    c == s
                }
            })
        {
            return Err(bad());
        }
        let num = |from: usize, to: usize| {
            b[from..to]
                .iter()
                .fold(0u32, |n, d| n * 10 + (d - b'0') as u32)
        };
        let month = time::Month::try_from(num(5, 7) as u8).map_err(|_| bad())?;
        let date = time::Date::from_calendar_date(num(0, 4) as i32, month, num(8, 10) as u8)
            .map_err(|_| bad())?;
        let clock = time::Time::from_hms_micro(
            num(11, 13) as u8,
            num(14, 16) as u8,
            num(17, 19) as u8,
            num(20, 26),
        )
        .map_err(|_| bad())?;
        Ok(Self::from_datetime(
            time::PrimitiveDateTime::new(date, clock).assume_utc(),
        ))
    }
    /// The day it falls on (UTC, as written).
    pub fn date(&self) -> time::Date {
        self.datetime().date()
    }
    pub fn unix_micros(&self) -> i128 {
        i128::from(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand, same as TIME_FORMAT: this runs for every record verified.
        let t = self.datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

macro_rules! string_serde {
    ($t:ty, $parse:expr, $show:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&$show(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", $show(self))
            }
        }
    };
}

string_serde!(EventType, EventType::new, |t: &EventType| t.0.clone());
string_serde!(Actor, Actor::new, |a: &Actor| a.0.clone());
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written out in JSON; as microseconds in compact binary forms
        // (a snapshot of the model), which read back without parsing.
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            s.serialize_i64(self.unix_micros() as i64)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Timestamp::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let micros = i64::deserialize(d)?;
            OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
                .map(|_| Timestamp(micros))
                .map_err(serde::de::Error::custom)
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// What is wrong with a record or one of its fields.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("event type {name:?} is not 1 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    BadType { name: String },
    #[error("actor {name:?} is not 1 to 128 printable ASCII characters without spaces")]
    BadActor { name: String },
    #[error("time {text:?} is not a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ")]
    BadTime { text: String },
    #[error("record is not a valid record: {0}")]
    Malformed(String),
    #[error("record is valid but its bytes are not canonical (RFC 8785)")]
    NotCanonical,
    #[error("record has format version {0}; this program reads version {FORMAT_VERSION}")]
    UnknownVersion(u32),
    #[error("record id {0} is not a UUID version 7")]
    NotUuidV7(Uuid),
    #[error("record is {0} bytes; the limit is {MAX_RECORD_BYTES}")]
    TooLarge(usize),
}

/// One entry of the log. Fields are private: a record is made by the ledger
/// when it appends, or decoded from canonical bytes, and never changed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    v: u32,
    seq: Seq,
    id: Uuid,
    at: Timestamp,
    actor: Actor,
    #[serde(rename = "type")]
    event_type: EventType,
    prev: Digest,
    commitment: Digest,
}

impl Record {
    pub(crate) fn new(
        seq: Seq,
        id: Uuid,
        at: Timestamp,
        actor: Actor,
        event_type: EventType,
        prev: Digest,
        commitment: Digest,
    ) -> Self {
        Record {
            v: FORMAT_VERSION,
            seq,
            id,
            at,
            actor,
            event_type,
            prev,
            commitment,
        }
    }

    pub fn seq(&self) -> Seq {
        self.seq
    }
    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn at(&self) -> Timestamp {
        self.at
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }
    pub fn prev(&self) -> Digest {
        self.prev
    }
    pub fn commitment(&self) -> Digest {
        self.commitment
    }

    /// The RFC 8785 bytes of this record. Keys are in the canonical order
    /// (actor, at, commitment, id, prev, seq, type, v); every value but the
    /// actor needs no escaping, and serde_json escapes strings as RFC 8785 does.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(320);
        out.extend_from_slice(b"{\"actor\":");
        serde_json::to_writer(&mut out, self.actor.as_str()).expect("write to Vec");
        out.extend_from_slice(b",\"at\":\"");
        write!(out, "{}", self.at).expect("write to Vec");
        out.extend_from_slice(b"\",\"commitment\":\"");
        out.extend_from_slice(self.commitment.to_hex().as_bytes());
        out.extend_from_slice(b"\",\"id\":\"");
        out.extend_from_slice(
            self.id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        );
        out.extend_from_slice(b"\",\"prev\":\"");
        out.extend_from_slice(self.prev.to_hex().as_bytes());
        out.extend_from_slice(b"\",\"seq\":");
        write!(out, "{}", self.seq).expect("write to Vec");
        out.extend_from_slice(b",\"type\":");
        serde_json::to_writer(&mut out, self.event_type.as_str()).expect("write to Vec");
        out.extend_from_slice(b",\"v\":");
        write!(out, "{}", self.v).expect("write to Vec");
        out.push(b'}');
        out
    }

    /// Decodes stored bytes, refusing anything but exactly canonical bytes
    /// of a well-formed record of this format version.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge(bytes.len()));
        }
        // The common case in one pass; anything it does not accept goes the
        // general way, which says precisely what is wrong.
        if let Some(record) = parse_canonical_fast(bytes) {
            return Ok(record);
        }
        Self::from_canonical_general(bytes)
    }

    /// Decoding by serde and re-encoding: slow, plainly right.
    fn from_canonical_general(bytes: &[u8]) -> Result<Self, RecordError> {
        let record: Record =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        if record.v != FORMAT_VERSION {
            return Err(RecordError::UnknownVersion(record.v));
        }
        if record.id.get_version_num() != 7 || record.id.get_variant() != uuid::Variant::RFC4122 {
            return Err(RecordError::NotUuidV7(record.id));
        }
        if record.canonical_bytes() != bytes {
            return Err(RecordError::NotCanonical);
        }
        Ok(record)
    }

    /// The chain hash of this record.
    pub fn hash(&self) -> Digest {
        digest::record_hash(&self.canonical_bytes())
    }
}

/// Reads exactly canonical bytes of a format-1 record, field by field in
/// canonical order, or gives up. Differentially tested against
/// `from_canonical_general`.
fn parse_canonical_fast(b: &[u8]) -> Option<Record> {
    struct Cursor<'a> {
        b: &'a [u8],
        at: usize,
    }
    impl<'a> Cursor<'a> {
        fn lit(&mut self, s: &[u8]) -> Option<()> {
            self.b[self.at..].starts_with(s).then(|| self.at += s.len())
        }
        fn take(&mut self, n: usize) -> Option<&'a str> {
            let out = self.b.get(self.at..self.at + n)?;
            self.at += n;
            std::str::from_utf8(out).ok()
        }
        /// A JSON string of printable ASCII, escaped as RFC 8785 does.
        fn ascii_string(&mut self) -> Option<std::borrow::Cow<'a, str>> {
            // Most have nothing escaped: borrow them.
            let start = self.at;
            let plain = self.b[start..]
                .iter()
                .position(|c| !c.is_ascii_graphic() || *c == b'"' || *c == b'\\')?;
            if self.b[start + plain] == b'"' {
                self.at = start + plain + 1;
                let text = std::str::from_utf8(&self.b[start..start + plain]).ok()?;
                return Some(text.into());
            }
            let mut out = String::new();
            loop {
                let c = *self.b.get(self.at)?;
                self.at += 1;
                match c {
                    b'"' => return Some(out.into()),
                    b'\\' => {
                        let e = *self.b.get(self.at)?;
                        self.at += 1;
                        if e != b'"' && e != b'\\' {
                            return None;
                        }
                        out.push(e as char);
                    }
                    c if c.is_ascii_graphic() => out.push(c as char),
                    _ => return None,
                }
            }
        }
        fn digits(&mut self) -> Option<u64> {
            let start = self.at;
            while self.b.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
            let d = &self.b[start..self.at];
            if d.is_empty() || (d[0] == b'0' && d.len() > 1) {
                return None;
            }
            std::str::from_utf8(d).ok()?.parse().ok()
        }
    }
    let mut c = Cursor { b, at: 0 };
    c.lit(b"{\"actor\":\"")?;
    let actor = Actor::new(&c.ascii_string()?).ok()?;
    c.lit(b",\"at\":\"")?;
    let at = Timestamp::parse(c.take(27)?).ok()?;
    c.lit(b"\",\"commitment\":\"")?;
    let commitment = Digest::from_hex(c.take(64)?).ok()?;
    c.lit(b"\",\"id\":\"")?;
    let id_text = c.take(36)?;
    let id = Uuid::try_parse(id_text).ok()?;
    if id.hyphenated().encode_lower(&mut Uuid::encode_buffer()) != id_text
        || id.get_version_num() != 7
        || id.get_variant() != uuid::Variant::RFC4122
    {
        return None;
    }
    c.lit(b"\",\"prev\":\"")?;
    let prev = Digest::from_hex(c.take(64)?).ok()?;
    c.lit(b"\",\"seq\":")?;
    let seq = c.digits()?;
    c.lit(b",\"type\":\"")?;
    let event_type = EventType::new(&c.ascii_string()?).ok()?;
    c.lit(b",\"v\":1}")?;
    (c.at == b.len()).then(|| Record::new(seq, id, at, actor, event_type, prev, commitment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonical_bytes;

    fn sample(actor: &str) -> Record {
        Record::new(
            41,
            Uuid::now_v7(),
            Timestamp::now(),
            Actor::new(actor).unwrap(),
            EventType::new("x.test-event_1").unwrap(),
            Digest([7; 32]),
            Digest([9; 32]),
        )
    }

    #[test]
    fn hand_written_bytes_match_the_general_canonicaliser() {
        for actor in ["operator:alice", "a\\b\"c", "~!@#$%^&*()_+{}|:<>?"] {
            let r = sample(actor);
            assert_eq!(
                String::from_utf8(r.canonical_bytes()).unwrap(),
                String::from_utf8(canonical_bytes(&r)).unwrap()
            );
            assert_eq!(Record::from_canonical(&r.canonical_bytes()).unwrap(), r);
        }
    }

    #[test]
    fn decoding_refuses_non_canonical_and_unknown() {
        let r = sample("operator:alice");
        let text = String::from_utf8(r.canonical_bytes()).unwrap();
        let spaced = text.replacen(",", ", ", 1);
        assert_eq!(
            Record::from_canonical(spaced.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let extra = text.replacen("{", "{\"zz\":1,", 1);
        assert!(matches!(
            Record::from_canonical(extra.as_bytes()),
            Err(RecordError::Malformed(_))
        ));
        let v2 = text.replace("\"v\":1", "\"v\":2");
        assert_eq!(
            Record::from_canonical(v2.as_bytes()),
            Err(RecordError::UnknownVersion(2))
        );
    }

    fn check_type(name: &str, ok: bool) {
        assert_eq!(EventType::new(name).is_ok(), ok, "{name:?}");
    }

    #[test]
    fn event_type_names() {
        check_type("decision.made", true);
        check_type("x.test.event", true);
        check_type("a-b_c.9", true);
        check_type(&"a".repeat(64), true);
        check_type(&"a".repeat(65), false);
        check_type("", false);
        check_type("Bad Type!", false);
        check_type("Decision.made", false);
        check_type("é", false);
    }

    #[test]
    fn timestamps_round_trip_and_refuse_other_forms() {
        let t = Timestamp::now();
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        assert!(Timestamp::parse("2026-11-23T00:40:00.123456Z").is_ok());
        // Its day is the day its written form starts with, at either end of one.
        for text in [
            "2026-11-23T00:00:00.000000Z",
            "2026-11-23T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(t.date().to_string(), text[..10]);
        }
        for bad in [
            "2026-11-23T00:40:00Z",
            "2026-11-23T00:40:00.123456+00:00",
            "2026-13-23T00:40:00.123456Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The published schema names exactly the record's fields, all required.
    #[test]
    fn record_schema_matches_the_record() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/record.schema.json")).unwrap();
        let record = Record::new(
            0,
            Uuid::now_v7(),
            Timestamp::now(),
            Actor::new("a").unwrap(),
            EventType::new("x.a").unwrap(),
            Digest::ZERO,
            Digest::ZERO,
        );
        let value = serde_json::to_value(&record).unwrap();
        let mut fields: Vec<&String> = value.as_object().unwrap().keys().collect();
        fields.sort();
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        let mut properties: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        properties.sort();
        assert_eq!(fields, properties);
        assert_eq!(
            fields.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            required
        );
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["v"]["const"], FORMAT_VERSION);
    }
}

#[cfg(test)]
mod fast_decode_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

        /// The fast reader accepts exactly what the general one accepts.
        #[test]
        fn fast_decoding_agrees_with_the_general_one(
            actor in "[!-~]{1,12}",
            event_type in "[a-z0-9._-]{1,8}",
            seq in prop_oneof![0u64..1000, any::<u64>()],
            prev in any::<[u8; 32]>(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            how in 0u8..4,
        ) {
            let r = Record::new(
                seq,
                Uuid::now_v7(),
                Timestamp::now(),
                Actor::new(&actor).unwrap(),
                EventType::new(&event_type).unwrap(),
                Digest(prev),
                Digest([7; 32]),
            );
            let good = r.canonical_bytes();
            prop_assert_eq!(parse_canonical_fast(&good), Some(r.clone()));
            let mut bad = good.clone();
            let i = at.index(bad.len());
            match how {
                0 => bad[i] = byte,
                1 => bad.insert(i, byte),
                2 => { bad.remove(i); }
                _ => bad[i] = bad[i].to_ascii_uppercase(),
            }
            let fast = parse_canonical_fast(&bad);
            let general = Record::from_canonical_general(&bad).ok();
            prop_assert_eq!(fast, general, "{:?}", String::from_utf8_lossy(&bad));
        }
    }
}
