//! Text from outside, made safe to write to the server's log or a
//! terminal: what a mail server or another server answered can hold
//! control characters and escape sequences that would rewrite the
//! operator's screen, forge log lines or hide text. Each is shown as
//! `\u{1b}`, `\n` and so on, and long answers are cut short. A mail
//! server may repeat the address it refused: email addresses are left out
//! (no one's address is ever logged).

/// Most characters of outside text kept for a log line.
const MAX_CHARS: usize = 1000;

/// Whether `c` changes how text around it is shown rather than being
/// shown itself: control characters (C0, DEL, C1), and the invisible
/// format characters that reorder or hide text (bidirectional overrides
/// and isolates, zero-width characters, the byte order mark).
fn acts_on_the_screen(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `text` as it may be logged: every character that acts on the screen
/// escaped (`\u{1b}`, `\r`, `\n`, `\t`), a backslash doubled so an escape
/// cannot be faked, email addresses left out, and at most [`MAX_CHARS`]
/// characters kept.
pub fn for_log(text: &str) -> String {
    let text = without_addresses(text);
    let mut out = String::with_capacity(text.len().min(MAX_CHARS) + 8);
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if acts_on_the_screen(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// `text` with every word that looks like an email address (something,
/// `@`, a name with a dot) replaced by `[an address]`.
pub fn without_addresses(text: &str) -> String {
    let apart = |c: char| c.is_whitespace() || "<>()[],;:\"'`".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let address = word.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
        out.push_str(if address { "[an address]" } else { word });
        word.clear();
    };
    for c in text.chars() {
        if apart(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::{for_log, without_addresses};

    #[test]
    fn addresses_are_left_out() {
        for (said, logged) in [
            (
                "550 5.1.1 <w.snorrgaard@example.org>: Recipient address rejected",
                "550 5.1.1 <[an address]>: Recipient address rejected",
            ),
            (
                "mailbox ann@mail.example.org full",
                "mailbox [an address] full",
            ),
            (
                "250 2.0.0 Ok: queued as 4F2A",
                "250 2.0.0 Ok: queued as 4F2A",
            ),
            ("user@localhost and @handle", "user@localhost and @handle"),
        ] {
            assert_eq!(without_addresses(said), logged);
        }
        assert!(!for_log("to bob@example.org").contains("bob@"));
    }

    #[test]
    fn escapes_and_control_characters_are_shown_not_acted_on() {
        let hostile =
            "554 no\u{1b}[2J\u{1b}]0;owned\u{7}\r\njointly: all is well\u{202e}txt.exe\u{9b}";
        let shown = for_log(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{shown}"
        );
        assert!(
            shown.contains("\\u{1b}[2J") && shown.contains("\\r\\n"),
            "{shown}"
        );
        assert!(
            shown.contains("\\u{202e}") && shown.contains("\\u{9b}"),
            "{shown}"
        );
        assert_eq!(
            for_log("250 2.0.0 Ok: queued as 4F2A"),
            "250 2.0.0 Ok: queued as 4F2A"
        );
        assert_eq!(
            for_log("a\\u{1b}"),
            "a\\\\u{1b}",
            "a written escape is not taken for one"
        );
        assert_eq!(for_log(&"x".repeat(5000)).chars().count(), 1003);
        assert_eq!(for_log("é ü 日本"), "é ü 日本");
    }
}
