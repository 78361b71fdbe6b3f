//! The configuration file: every `serve` setting, in TOML, for a server
//! that a service manager starts (the package's is
//! `/etc/jointly/jointly.toml`). A setting given on the command line or in
//! a `JOINTLY_…` environment variable wins over the file, and the file over
//! the built-in default; `jointly config check` says which one each came
//! from. Secrets never need to be on a command line: the mail server's
//! password is read from a file (`[mail] password_file`) or from the
//! service manager's credentials directory (`$CREDENTIALS_DIRECTORY/
//! smtp-password`, systemd's `LoadCredential=`). A key the file does not
//! know is refused by name, so a misspelt setting never silently does
//! nothing.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What a configuration file may hold. Each key is a `serve` option of the
/// same name (with `_` for `-`); mail settings are under `[mail]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub data: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub log_format: Option<String>,
    pub body_limit: Option<usize>,
    pub publish_equality_at: Option<String>,
    pub partner_appends_per_minute: Option<u32>,
    pub staff_appends_per_minute: Option<u32>,
    pub witnesses: Option<Vec<String>>,
    pub witness_quorum: Option<usize>,
    pub witness_wait: Option<u64>,
    pub mail: Option<Mail>,
    pub publish: Option<Publish>,
}

/// Where `serve` keeps a published copy of the tiles (`to`: a directory
/// or s3://BUCKET/PREFIX), and how an S3-compatible store is reached;
/// `jointly publish` reads the S3 settings too.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    pub to: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_credentials_file: Option<PathBuf>,
    pub s3_allow_http: Option<bool>,
}

impl Publish {
    pub fn s3(&self) -> crate::tlog::place::S3Settings {
        crate::tlog::place::S3Settings {
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_credentials_file: self.s3_credentials_file.clone(),
            s3_allow_http: self.s3_allow_http.unwrap_or(false),
        }
    }
}

/// The mail server: a URL (`smtp://user@host:587`), or its parts; the
/// password from a file, never in the URL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub smtp: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
}

/// What is wrong with a configuration, in words that name the file and the
/// key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("the configuration file {0}: {1}")]
    Bad(PathBuf, String),
    #[error("{0}")]
    Secret(String),
}

/// The name systemd's `LoadCredential=` gives the mail server's password.
pub const SMTP_PASSWORD_CREDENTIAL: &str = "smtp-password";

/// Reads a configuration file, refusing a key it does not know (named).
pub fn read(path: &Path) -> Result<File, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
    parse(&text).map_err(|why| ConfigError::Bad(path.to_path_buf(), why))
}

/// A configuration from its text; the error says what is wrong and where.
pub fn parse(text: &str) -> Result<File, String> {
    toml::from_str::<File>(text).map_err(|e| {
        // toml says "unknown field `x`, expected one of ...": say it as a key.
        let message = e.message().replace("unknown field", "unknown key");
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {message}")
            }
            None => message,
        }
    })
}

/// A secret read from a file: its first line, without the line's end. The
/// file should be readable by the server's own user alone.
pub fn secret_from(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::Secret(format!(
            "cannot read the secret file {}: {e}",
            path.display()
        ))
    })?;
    let first = text.lines().next().unwrap_or("").to_string();
    if first.is_empty() {
        return Err(ConfigError::Secret(format!(
            "the secret file {} is empty",
            path.display()
        )));
    }
    Ok(first)
}

/// A secret from the service manager's credentials directory
/// (`$CREDENTIALS_DIRECTORY/<name>`), if it is there and not empty: the
/// package's unit always hands over `/etc/jointly/smtp-password` (systemd
/// will not start a unit whose credential file is missing), and an empty
/// one means no password.
pub fn credential(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let path = Path::new(&dir).join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    (!text.trim().is_empty()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (a configuration's text, what reading it says: Ok, or the words the
    /// error must hold)
    fn check(text: &str, expect: Result<(), &str>) {
        match (parse(text), expect) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(words)) => assert!(e.contains(words), "{text:?}: {e}"),
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn a_configuration_is_read_or_refused_by_its_key() {
        check("", Ok(()));
        check("listen = \"127.0.0.1:8080\"\n", Ok(()));
        check(
            "data = \"/var/lib/jointly\"\n[mail]\nhost = \"mail.example.org\"\nport = 587\nuser = \"jointly\"\npassword_file = \"/etc/jointly/smtp-password\"\nfrom = \"jointly@example.org\"\n",
            Ok(()),
        );
        check(
            "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
            Ok(()),
        );
        check(
            "zz_not_an_option = \"1\"\n",
            Err("line 1: unknown key `zz_not_an_option`"),
        );
        check(
            "listen = \"a\"\n\n[mail]\nhots = \"x\"\n",
            Err("line 4: unknown key `hots`"),
        );
        check("body_limit = \"big\"\n", Err("line 1"));
        check("listen = \n", Err("line 1"));
    }

    #[test]
    fn a_secret_is_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "Op3rate@Check#1\n").unwrap();
        assert_eq!(secret_from(&p).unwrap(), "Op3rate@Check#1");
        std::fs::write(&p, "\n").unwrap();
        assert!(secret_from(&p).unwrap_err().to_string().contains("empty"));
        assert!(
            secret_from(&dir.path().join("none"))
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }
}
