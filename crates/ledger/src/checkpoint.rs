//! C2SP `tlog-checkpoint`: the text a log signs to commit to its state,
//! `<origin>\n<tree size>\n<base64 root hash>\n`, optionally followed by
//! extension lines. It is signed as a signed note (see `note`).

use super::digest::Digest;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the checkpoint is malformed: {0}")]
pub struct CheckpointError(String);

/// A log's size and root, under its origin name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Digest,
    /// Extension lines, kept as they are.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Digest) -> Result<Self, CheckpointError> {
        if origin.is_empty() || origin.contains('\n') || origin.chars().any(char::is_control) {
            return Err(CheckpointError(format!(
                "origin {origin:?} must be one non-empty line"
            )));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The note text to sign.
    pub fn body(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// Reads a note text (already verified or not).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError(why.to_string());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("it must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size_text = lines.next().ok_or_else(|| bad("no tree size line"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(bad("the tree size is not a decimal number"));
        }
        let size = size_text
            .parse()
            .map_err(|_| bad("the tree size is too large"))?;
        let root = Digest::from_base64(lines.next().ok_or_else(|| bad("no root hash line"))?)
            .map_err(|e| CheckpointError(format!("the root hash: {e}")))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("an extension line is empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, ok: bool) {
        let parsed = Checkpoint::parse(text);
        assert_eq!(parsed.is_ok(), ok, "{text:?}: {parsed:?}");
        if let Ok(c) = parsed {
            assert_eq!(c.body(), text, "round trip");
        }
    }

    #[test]
    fn checkpoint_bodies() {
        let root = Digest([1; 32]).to_base64();
        check(&format!("example.org/log\n42\n{root}\n"), true);
        check(&format!("example.org/log\n0\n{root}\n"), true);
        check(
            &format!("example.org/log\n42\n{root}\nextension line\n"),
            true,
        );
        check(&format!("example.org/log\n042\n{root}\n"), false);
        check(&format!("example.org/log\n-1\n{root}\n"), false);
        check(&format!("example.org/log\n42\n{root}"), false);
        check(&format!("\n42\n{root}\n"), false);
        check("example.org/log\n42\nnot-base64\n", false);
        check(&format!("example.org/log\n42\n{root}\n\n"), false);
    }
}
