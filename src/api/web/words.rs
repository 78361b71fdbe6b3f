//! Plain English for the pages: dates as people write them ("15 July
//! 2025"), counts with the right plural ("1 idea", "2 ideas"), sentences
//! that start with a capital.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date in words: "15 July 2025".
pub fn date(d: time::Date) -> String {
    format!(
        "{} {} {}",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

/// The date at the start of a `YYYY-MM-DD...` text (a date or a time), in
/// words; the text as it is if it is not one.
pub fn day(text: impl std::fmt::Display) -> String {
    let text = text.to_string();
    let parsed = text.get(..10).and_then(|d| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(d, &fmt).ok()
    });
    parsed.map_or(text, date)
}

/// A moment in words, to the minute, on the server's clock (UTC, which
/// is GMT): "7 December 2026 at 03:20 GMT".
pub fn moment(t: time::OffsetDateTime) -> String {
    format!(
        "{} at {:02}:{:02} GMT",
        date(t.date()),
        t.hour(),
        t.minute()
    )
}

/// [`moment`] of a `YYYY-MM-DDTHH:MM:SS...Z` text; the day alone if only
/// a day can be read.
pub fn moment_of(text: &str) -> String {
    let fmt = time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(text, &fmt) {
        Ok(t) => moment(t),
        Err(_) => day(text),
    }
}

/// [`moment`] of Unix seconds.
pub fn moment_unix(seconds: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds as i64).map_or_else(|_| String::new(), moment)
}

/// Words quoted to end a sentence: “…” and a full stop, unless the words
/// end a sentence themselves (“Can we meet on Thursdays?” needs no “.”
/// after it).
pub fn quoted_end(words: &str) -> String {
    let words = words.trim_end();
    if words.ends_with(['.', '?', '!', '…']) {
        format!("“{words}”")
    } else {
        format!("“{words}”.")
    }
}

/// A count of things with the right plural: "1 idea", "3 ideas", "no ideas".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    match n.into() {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// "is" or "are", to go with a count.
pub fn is_are(n: impl Into<u64>) -> &'static str {
    if n.into() == 1 { "is" } else { "are" }
}

/// The words with their first letter in capitals, to start a sentence.
pub fn sentence(words: &str) -> String {
    super::capitalised(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_counts_read_as_people_write_them() {
        let cases = [
            (day("2025-07-15"), "15 July 2025"),
            (day("2026-11-30T12:00:00.000000Z"), "30 November 2026"),
            (day("not a date"), "not a date"),
            (count(0u64, "idea", "ideas"), "no ideas"),
            (count(1u64, "idea", "ideas"), "1 idea"),
            (count(7u64, "idea", "ideas"), "7 ideas"),
            (sentence("partners took part"), "Partners took part"),
            (
                moment_of("2026-12-07T03:20:59.123456Z"),
                "7 December 2026 at 03:20 GMT",
            ),
            (moment_of("2026-12-07"), "7 December 2026"),
            (moment_unix(0), "1 January 1970 at 00:00 GMT"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}

/// Every `YYYY-MM-DD` date in a text (the core's words) written in words,
/// for a page: "15 July 2025".
pub fn dates_in_words(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let looks = b.len() >= i + 10
            && b[i..i + 10].iter().enumerate().all(|(k, c)| {
                if k == 4 || k == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 10).is_none_or(|c| !c.is_ascii_alphanumeric());
        if looks {
            let words = day(&text[i..i + 10]);
            if words != text[i..i + 10] {
                out.push_str(&words);
                i += 10;
                continue;
            }
        }
        let c = text[i..].chars().next().expect("within the text");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod dates_in_text {
    use super::dates_in_words;

    fn check(text: &str, expect: &str) {
        assert_eq!(dates_in_words(text), expect);
    }

    #[test]
    fn dates_become_words() {
        check(
            "This is dated 2027-01-16, after the day it is recorded (2026-12-07)",
            "This is dated 16 January 2027, after the day it is recorded (7 December 2026)",
        );
        check("no dates here", "no dates here");
        check("2026-13-40 is not a date", "2026-13-40 is not a date");
        check("id 12026-12-07x stays", "id 12026-12-07x stays");
        check("café 2025-07-15", "café 15 July 2025");
    }
}
