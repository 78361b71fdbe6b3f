//! Strict JSON input and RFC 8785 canonical bytes.
//!
//! A payload is accepted only if it means exactly one thing: valid UTF-8, a
//! JSON object, no duplicate keys, and every number a whole number that an
//! IEEE-754 double holds exactly (|n| <= 2^53-1). Anything else is refused
//! with an error naming the place, never rounded or silently de-duplicated,
//! because the canonical bytes are what the hash chain commits to.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Largest integer that every JSON implementation reads back exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Largest accepted payload, in bytes of input.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Why a payload was refused. Each message says what is wrong and where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes")]
    TooLarge { size: usize },
    #[error("payload is not valid JSON: {message}")]
    Syntax { message: String },
    #[error("payload must be a JSON object ({{...}}), not {found}")]
    NotObject { found: &'static str },
    #[error(
        "payload number at {pointer} ({text}) is not a whole number; only whole numbers between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER} are stored exactly, so send others as strings"
    )]
    NotWholeNumber { pointer: String, text: String },
    #[error("payload number at {pointer} is -0; write 0")]
    NegativeZero { pointer: String },
    #[error(
        "payload number at {pointer} ({text}) is outside -{MAX_SAFE_INTEGER}..={MAX_SAFE_INTEGER} and cannot be stored exactly; send it as a string"
    )]
    OutOfRange { pointer: String, text: String },
}

/// The canonical (RFC 8785) bytes of a JSON object that passed the strict
/// checks. The only ways to get one are [`CanonicalPayload::parse`] and
/// [`CanonicalPayload::from_canonical`], so holding one means it is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalPayload(Vec<u8>);

impl fmt::Debug for CanonicalPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalPayload({})", String::from_utf8_lossy(&self.0))
    }
}

impl CanonicalPayload {
    /// Parses untrusted input strictly and canonicalises it.
    pub fn parse(input: &[u8]) -> Result<Self, PayloadError> {
        let value = parse_strict(input)?;
        Self::from_value(&value)
    }

    /// Canonicalises an already-parsed value, applying the same checks.
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        if !value.is_object() {
            return Err(PayloadError::NotObject { found: kind(value) });
        }
        check_numbers(value, &mut String::new())?;
        Ok(CanonicalPayload(canonical_bytes(value)))
    }

    /// Accepts stored bytes only if they are already exactly canonical, by
    /// one pass over them that allocates nothing (this runs for every record
    /// verified). Agrees with parsing and re-canonicalising; tests check so.
    pub fn from_canonical(bytes: Vec<u8>) -> Result<Self, PayloadError> {
        Self::check_canonical(&bytes)?;
        Ok(CanonicalPayload(bytes))
    }

    /// Bytes read back from the store whose commitment has just been
    /// checked against their record (see `Ledger::get`).
    pub(crate) fn trusted(bytes: Vec<u8>) -> Self {
        CanonicalPayload(bytes)
    }

    /// [`from_canonical`](Self::from_canonical) without taking the bytes.
    pub fn check_canonical(bytes: &[u8]) -> Result<(), PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge { size: bytes.len() });
        }
        let mut check = CanonicalCheck { b: bytes, at: 0 };
        match check.object_payload() {
            Ok(()) => Ok(()),
            // Say precisely what is wrong, the slow way.
            Err(()) => {
                let parsed = Self::parse(bytes)?;
                debug_assert_ne!(parsed.0, bytes);
                Err(PayloadError::Syntax {
                    message: "bytes are valid JSON but not in canonical (RFC 8785) form".into(),
                })
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The payload as a JSON value (for display and export).
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.0).expect("canonical payload is valid JSON")
    }
}

/// RFC 8785 bytes of any JSON value. Numbers are assumed already checked.
pub fn canonical_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("serialising to memory cannot fail")
}

/// Parses JSON text strictly: UTF-8, no duplicate keys, no trailing data.
pub fn parse_strict(input: &[u8]) -> Result<Value, PayloadError> {
    if input.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge { size: input.len() });
    }
    parse_strict_line(input)
}

/// [`parse_strict`] without the payload size limit (for bundle lines, which
/// hold a payload and more).
pub fn parse_strict_line(input: &[u8]) -> Result<Value, PayloadError> {
    let text = std::str::from_utf8(input).map_err(|e| PayloadError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = de::Deserialize::deserialize(&mut de)
        .map(|StrictValue(v)| v)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| PayloadError::Syntax {
            message: e.to_string(),
        })?;
    Ok(value)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_numbers(value: &Value, pointer: &mut String) -> Result<(), PayloadError> {
    match value {
        Value::Number(n) => check_number(n, pointer),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            with_segment(pointer, &i.to_string(), |p| check_numbers(item, p))
        }),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            let escaped = key.replace('~', "~0").replace('/', "~1");
            with_segment(pointer, &escaped, |p| check_numbers(item, p))
        }),
        _ => Ok(()),
    }
}

fn with_segment<T>(pointer: &mut String, segment: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(segment);
    let out = f(pointer);
    pointer.truncate(len);
    out
}

fn check_number(n: &Number, pointer: &str) -> Result<(), PayloadError> {
    let place = || {
        if pointer.is_empty() {
            "/".to_string()
        } else {
            pointer.to_string()
        }
    };
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(PayloadError::OutOfRange {
                pointer: place(),
                text: u.to_string(),
            });
        }
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(PayloadError::OutOfRange {
                pointer: place(),
                text: i.to_string(),
            });
        }
        return Ok(());
    }
    // A float: either it has a fraction or exponent, or it overflowed u64/i64.
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == 0.0 && n.to_string() == "-0.0" {
        return Err(PayloadError::NegativeZero { pointer: place() });
    }
    if f.is_finite() && f.fract() == 0.0 && f.abs() > MAX_SAFE_INTEGER as f64 {
        Err(PayloadError::OutOfRange {
            pointer: place(),
            text: n.to_string(),
        })
    } else {
        Err(PayloadError::NotWholeNumber {
            pointer: place(),
            text: n.to_string(),
        })
    }
}

/// A validator of canonical payload bytes: a JSON object with no white
/// space, keys unique and in UTF-16 order, strings escaped exactly as
/// RFC 8785 writes them, and numbers as canonical whole numbers in range.
struct CanonicalCheck<'a> {
    b: &'a [u8],
    at: usize,
}

/// serde_json's recursion limit, kept so both readers accept the same.
const MAX_DEPTH: usize = 127;

impl<'a> CanonicalCheck<'a> {
    fn object_payload(&mut self) -> Result<(), ()> {
        // UTF-8 is checked inside strings, the only place JSON allows
        // anything but ASCII; elsewhere only ASCII is accepted at all.
        if self.b.first() != Some(&b'{') {
            return Err(());
        }
        self.value(0)?;
        if self.at == self.b.len() {
            Ok(())
        } else {
            Err(())
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), ()> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ()> {
        if self.b[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(())
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), ()> {
        match self.peek().ok_or(())? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(()),
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.eat(b'[')?;
        if self.eat(b']').is_ok() {
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if self.eat(b']').is_ok() {
                return Ok(());
            }
            self.eat(b',')?;
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_ok() {
            return Ok(());
        }
        let mut previous: Option<&'a [u8]> = None;
        loop {
            let key = self.string()?;
            if let Some(prev) = previous {
                // Strictly increasing: sorted, and no key twice.
                if utf16_order(prev, key) != std::cmp::Ordering::Less {
                    return Err(());
                }
            }
            previous = Some(key);
            self.eat(b':')?;
            self.value(depth)?;
            if self.eat(b'}').is_ok() {
                return Ok(());
            }
            self.eat(b',')?;
        }
    }

    /// A canonically escaped string; returns its raw bytes between quotes.
    fn string(&mut self) -> Result<&'a [u8], ()> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            // Skip plain bytes eight at a time; stop where one needs a look.
            while let Some(eight) = self.b.get(self.at..self.at + 8) {
                if needs_a_look(u64::from_le_bytes(eight.try_into().expect("8 bytes"))) {
                    break;
                }
                self.at += 8;
            }
            let c = self.peek().ok_or(())?;
            match c {
                b'"' => {
                    let raw = &self.b[start..self.at];
                    self.at += 1;
                    return Ok(raw);
                }
                b'\\' => {
                    let e = *self.b.get(self.at + 1).ok_or(())?;
                    match e {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.at += 2,
                        b'u' => {
                            // Only control characters without a short form.
                            let hex = self.b.get(self.at + 2..self.at + 6).ok_or(())?;
                            if &hex[..2] != b"00"
                                || !hex[2..]
                                    .iter()
                                    .all(|h| matches!(h, b'0'..=b'9' | b'a'..=b'f'))
                            {
                                return Err(());
                            }
                            let v = u8::from_str_radix(
                                std::str::from_utf8(&hex[2..]).map_err(|_| ())?,
                                16,
                            )
                            .map_err(|_| ())?;
                            if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return Err(());
                            }
                            self.at += 6;
                        }
                        _ => return Err(()),
                    }
                }
                0x00..=0x1f => return Err(()),
                0x80..=0xff => {
                    // One whole, valid UTF-8 sequence.
                    let width = match c {
                        0xc2..=0xdf => 2,
                        0xe0..=0xef => 3,
                        0xf0..=0xf4 => 4,
                        _ => return Err(()),
                    };
                    let sequence = self.b.get(self.at..self.at + width).ok_or(())?;
                    std::str::from_utf8(sequence).map_err(|_| ())?;
                    self.at += width;
                }
                _ => self.at += 1,
            }
        }
    }

    fn number(&mut self) -> Result<(), ()> {
        let start = self.at;
        let negative = self.eat(b'-').is_ok();
        let digits_start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = &self.b[digits_start..self.at];
        if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || negative)) {
            return Err(());
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) || digits.len() > 16 {
            return Err(());
        }
        let n: u64 = std::str::from_utf8(&self.b[digits_start..self.at])
            .map_err(|_| ())?
            .parse()
            .map_err(|_| ())?;
        if n > MAX_SAFE_INTEGER || self.at == start {
            return Err(());
        }
        Ok(())
    }
}

/// Whether any of the eight bytes in `w` is a quote, a backslash, a control
/// character (below 0x20) or not ASCII: the bytes inside a JSON string that
/// are not plain. Exact: a zero byte is found by the borrow it causes,
/// which only a zero causes.
fn needs_a_look(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let has_below_0x20 = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    has_zero(w ^ (ONES * b'"' as u64))
        || has_zero(w ^ (ONES * b'\\' as u64))
        || has_below_0x20
        || w & HIGH != 0
}

/// Compares two canonically escaped JSON string bodies by the UTF-16 code
/// units of the strings they denote, as RFC 8785 sorts keys.
fn utf16_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    fn units(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
        let text = std::str::from_utf8(raw).expect("checked UTF-8");
        let mut chars = text.chars();
        std::iter::from_fn(move || {
            let c = chars.next()?;
            if c != '\\' {
                return Some(c);
            }
            Some(match chars.next()? {
                'b' => '\u{8}',
                't' => '\t',
                'n' => '\n',
                'f' => '\u{c}',
                'r' => '\r',
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                other => other,
            })
        })
        .flat_map(|c| {
            let mut buf = [0u16; 2];
            let n = c.encode_utf16(&mut buf).len();
            (0..n).map(move |i| buf[i])
        })
    }
    units(a).cmp(units(b))
}

/// A JSON value whose objects are refused if they repeat a key.
struct StrictValue(Value);

impl<'de> de::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    /// Every byte value in every position among plain bytes.
    #[test]
    fn the_word_at_a_time_scan_misses_no_byte_that_needs_a_look() {
        for byte in 0..=255u8 {
            let expect = byte == b'"' || byte == b'\\' || !(0x20..0x80).contains(&byte);
            for at in 0..8 {
                let mut eight = *b"plain ok";
                eight[at] = byte;
                let got = super::needs_a_look(u64::from_le_bytes(eight));
                assert_eq!(got, expect, "byte {byte:#04x} at {at}");
            }
        }
        // And words of any bytes at all.
        let mut w = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            w = w
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let expect = w
                .to_le_bytes()
                .iter()
                .any(|b| *b == b'"' || *b == b'\\' || *b < 0x20 || *b >= 0x80);
            assert_eq!(super::needs_a_look(w), expect, "{w:#018x}");
        }
    }

    use super::*;

    /// One input, and either its canonical form or the start of its error.
    fn check(input: &str, expect: &str) {
        let got = match CanonicalPayload::parse(input.as_bytes()) {
            Ok(p) => String::from_utf8(p.into_bytes()).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.starts_with(expect),
            "input {input:?}\n   got {got:?}\nexpect {expect:?}"
        );
    }

    #[test]
    fn accepts_and_canonicalises() {
        check(r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#);
        check(r#"{ "a" : [ 1 , true , null ] }"#, r#"{"a":[1,true,null]}"#);
        check(r#"{"n":9007199254740991}"#, r#"{"n":9007199254740991}"#);
        check(r#"{"n":-9007199254740991}"#, r#"{"n":-9007199254740991}"#);
        check(r#"{"s":"\u00e9\n"}"#, "{\"s\":\"\u{e9}\\n\"}");
        check(r#"{}"#, "{}");
    }

    #[test]
    fn refuses_what_it_cannot_store_exactly() {
        check(
            r#"{"n":9007199254740992}"#,
            "error: payload number at /n (9007199254740992) is outside",
        );
        check(
            r#"{"n":-9007199254740992}"#,
            "error: payload number at /n (-9007199254740992) is outside",
        );
        check(
            r#"{"a":[0,{"x/y":1.5}]}"#,
            "error: payload number at /a/1/x~1y (1.5) is not a whole number",
        );
        check(r#"{"n":-0}"#, "error: payload number at /n is -0; write 0");
        check(
            r#"{"n":1e3}"#,
            "error: payload number at /n (1000.0) is not a whole number",
        );
        check(
            r#"{"n":123456789012345678901234567890}"#,
            "error: payload number at /n",
        );
        check(
            r#"{"a":1,"a":2}"#,
            "error: payload is not valid JSON: duplicate key \"a\"",
        );
        check(
            r#"[1,2]"#,
            "error: payload must be a JSON object ({...}), not an array",
        );
        check(
            r#""text""#,
            "error: payload must be a JSON object ({...}), not a string",
        );
        check(r#"{"n":"#, "error: payload is not valid JSON");
        check(
            r#"{} {}"#,
            "error: payload is not valid JSON: trailing characters",
        );
        check(r#"{"s":"\ud800"}"#, "error: payload is not valid JSON");
    }

    #[test]
    fn refuses_invalid_utf8_with_offset() {
        let err = CanonicalPayload::parse(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(err, PayloadError::NotUtf8 { offset: 6 });
    }

    /// Stored bytes, and whether they are a canonical payload: UTF-8 is
    /// checked where JSON allows it, inside strings, and nowhere else.
    fn check_stored(bytes: &[u8], canonical: bool) {
        let got = CanonicalPayload::check_canonical(bytes).is_ok();
        assert_eq!(got, canonical, "{:?}", String::from_utf8_lossy(bytes));
    }

    #[test]
    fn stored_bytes_are_checked_as_utf8_inside_strings() {
        check_stored("{\"s\":\"caf\u{e9} \u{20ac} \u{1f600}\"}".as_bytes(), true);
        check_stored("{\"\u{e9}\":1}".as_bytes(), true);
        check_stored(b"{\"s\":\"\xc3\"}", false); // cut short
        check_stored(b"{\"s\":\"\xc3\x28\"}", false); // not a continuation
        check_stored(b"{\"s\":\"\xa9\"}", false); // a continuation alone
        check_stored(b"{\"s\":\"\xc0\xaf\"}", false); // overlong
        check_stored(b"{\"s\":\"\xe0\x80\xaf\"}", false); // overlong
        check_stored(b"{\"s\":\"\xed\xa0\x80\"}", false); // a surrogate
        check_stored(b"{\"s\":\"\xf4\x90\x80\x80\"}", false); // past U+10FFFF
        check_stored(b"{\"s\":\"\xf8\x88\x80\x80\x80\"}", false);
        check_stored("{\"s\":1\u{e9}}".as_bytes(), false); // outside a string
        check_stored("{\u{e9}\"s\":1}".as_bytes(), false);
    }

    #[test]
    fn from_canonical_refuses_non_canonical_bytes() {
        assert!(CanonicalPayload::from_canonical(br#"{"a":1}"#.to_vec()).is_ok());
        assert!(CanonicalPayload::from_canonical(br#"{"b":1,"a":2}"#.to_vec()).is_err());
        assert!(CanonicalPayload::from_canonical(br#"{ "a":1}"#.to_vec()).is_err());
    }
}

#[cfg(test)]
mod canonical_check_tests {
    use super::*;
    use proptest::prelude::*;

    /// The slow, obviously right answer: parse, re-canonicalise, compare.
    fn slow(bytes: &[u8]) -> bool {
        CanonicalPayload::parse(bytes).is_ok_and(|p| p.as_bytes() == bytes)
    }

    fn check(input: &str, canonical: bool) {
        let fast = CanonicalPayload::from_canonical(input.as_bytes().to_vec()).is_ok();
        assert_eq!(fast, canonical, "{input:?}");
        assert_eq!(
            slow(input.as_bytes()),
            canonical,
            "slow disagrees on {input:?}"
        );
    }

    #[test]
    fn canonical_forms() {
        check(r#"{}"#, true);
        check(r#"{"a":1,"b":[true,false,null,"x",{}]}"#, true);
        check(r#"{"b":1,"a":1}"#, false);
        check(r#"{"a":1,"a":1}"#, false);
        check(r#"{ "a":1}"#, false);
        check(r#"{"a":01}"#, false);
        check(r#"{"a":-0}"#, false);
        check(r#"{"a":1.0}"#, false);
        check(r#"{"a":9007199254740991}"#, true);
        check(r#"{"a":9007199254740992}"#, false);
        check(r#"{"a":-9007199254740991}"#, true);
        check("{\"a\":\"\\u001f\\n\\b\"}", true);
        check("{\"a\":\"\\u000a\"}", false);
        check("{\"a\":\"\\u0041\"}", false);
        check("{\"a\":\"\\/\"}", false);
        check("{\"a\":\"\u{7f}\u{2028}\u{10000}\"}", true);
        // Keys sort by UTF-16 code units: U+10000 is 0xD800 0xDC00, before U+FFFF.
        check("{\"\u{10000}\":1,\"\u{ffff}\":2}", true);
        check("{\"\u{ffff}\":1,\"\u{10000}\":2}", false);
        check("{\"\\n\":1,\"a\":2}", true);
        check("[1]", false);
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
            "[\\u{0}-\\u{7f}\\u{e9}\\u{2028}\\u{1f600}]{0,8}".prop_map(Value::from),
            Just(Value::Null),
        ];
        let inner = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    "[\\u{0}-\\u{7f}\\u{ffff}\\u{10000}]{0,4}",
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map("[a-c\\u{1}\\u{ffff}\\u{10000}]{0,3}", inner, 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn fast_check_agrees_with_the_slow_one(
            v in value_strategy(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            how in 0u8..3,
        ) {
            let good = canonical_bytes(&v);
            prop_assert!(CanonicalPayload::from_canonical(good.clone()).is_ok());
            let mut bad = good.clone();
            let i = at.index(bad.len());
            match how {
                0 => bad[i] = byte,
                1 => bad.insert(i, byte),
                _ => { bad.remove(i); }
            }
            prop_assert_eq!(CanonicalPayload::from_canonical(bad.clone()).is_ok(), slow(&bad), "{:?}", String::from_utf8_lossy(&bad));
        }
    }
}
