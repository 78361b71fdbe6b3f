//! `serve`'s settings, from wherever each was given: the command line, a
//! `JOINTLY_…` environment variable, the configuration file (`--config`),
//! the service manager's credentials, or the default, in that order. What
//! `jointly config check` prints, and what `serve` starts with, are the
//! same list, so the check tells the truth about a start.

use clap::ArgMatches;
use clap::parser::ValueSource;
use jointly::config::{self, File};
use std::path::{Path, PathBuf};

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment(String),
    File(PathBuf),
    Credentials(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::CommandLine => f.write_str("the command line"),
            Source::Environment(v) => write!(f, "the environment ({v})"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Credentials(p) => write!(f, "the credentials directory ({})", p.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// One setting as `config check` shows it: a secret is never shown, only
/// that it is set.
#[derive(Clone, Debug)]
pub struct Shown {
    pub name: &'static str,
    pub value: String,
    pub source: Source,
}

/// The settings so far, and where each came from.
pub struct Settings<'a> {
    matches: &'a ArgMatches,
    /// The configuration file, if one was given.
    file: Option<PathBuf>,
    pub shown: Vec<Shown>,
}

impl<'a> Settings<'a> {
    pub fn new(matches: &'a ArgMatches, file: Option<PathBuf>) -> Self {
        Settings {
            matches,
            file,
            shown: Vec::new(),
        }
    }

    /// The same list, now reading the arguments of `matches` (a
    /// subcommand's, after the global ones).
    pub fn under(self, matches: &'a ArgMatches) -> Settings<'a> {
        Settings { matches, ..self }
    }

    fn file_source(&self) -> Source {
        self.file
            .as_ref()
            .map_or(Source::Default, |p| Source::File(p.clone()))
    }

    /// Where clap took the argument `id` from (the command line, the
    /// environment, or its default).
    fn given(&self, id: &str, env: &str) -> Option<Source> {
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) => Some(Source::CommandLine),
            Some(ValueSource::EnvVariable) => Some(Source::Environment(env.to_string())),
            _ => None,
        }
    }

    /// A setting: what clap has (`value`) if it came from the command line
    /// or `env`, else the file's (`from_file`, read with `parse`), else
    /// clap's default. Notes where it came from under `name`.
    pub fn pick<T, F>(
        &mut self,
        name: &'static str,
        env: &str,
        value: T,
        from_file: Option<F>,
        parse: impl FnOnce(F) -> Result<T, String>,
        show: impl Fn(&T) -> String,
    ) -> Result<T, String> {
        let (v, source) = match (self.given(name, env), from_file) {
            (Some(source), _) => (value, source),
            (None, Some(f)) => (
                parse(f).map_err(|why| {
                    let file = self.file.as_ref().map(|p| p.display().to_string());
                    format!("{}: {name}: {why}", file.unwrap_or_default())
                })?,
                self.file_source(),
            ),
            (None, None) => (value, Source::Default),
        };
        self.shown.push(Shown {
            name,
            value: show(&v),
            source,
        });
        Ok(v)
    }

    /// A secret: from the file named by the command line, the environment
    /// or the configuration; else from the credentials directory; shown
    /// only as set or not.
    pub fn secret(
        &mut self,
        (name, id): (&'static str, &str),
        env: &str,
        file_arg: Option<PathBuf>,
        from_config: Option<PathBuf>,
        credential: &str,
    ) -> Result<Option<String>, String> {
        let (path, source) = match (self.given(id, env), file_arg, from_config) {
            (Some(source), Some(p), _) => (Some(p), source),
            (None, _, Some(p)) => (Some(p), self.file_source()),
            _ => match config::credential(credential) {
                Some(p) => (Some(p.clone()), Source::Credentials(p)),
                None => (None, Source::Default),
            },
        };
        let secret = path
            .as_deref()
            .map(config::secret_from)
            .transpose()
            .map_err(|e| e.to_string())?;
        self.shown.push(Shown {
            name,
            value: match &path {
                Some(p) => format!("set (read from {}; not shown)", p.display()),
                None => "not set".into(),
            },
            source,
        });
        Ok(secret)
    }
}

/// The address to listen on, from an address or a host name with its
/// port (`localhost:8080`): the first address the name resolves to.
pub fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let bad = |why: String| {
        format!(
            "listen {text:?}: {why}; give an address or a host name with its port, e.g. 127.0.0.1:8080 or localhost:8080"
        )
    };
    let mut found = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    found
        .next()
        .ok_or_else(|| bad("it names no address".into()))
}

/// The data directory every command uses: `--data` or `JOINTLY_DATA`,
/// else the configuration file's `data`, else the default.
pub fn data_dir(
    top: &ArgMatches,
    given: PathBuf,
    config_path: Option<&Path>,
) -> Result<PathBuf, String> {
    let file = load(config_path)?;
    let mut st = Settings::new(top, file.as_ref().map(|(p, _)| p.clone()));
    st.pick(
        "data",
        "JOINTLY_DATA",
        given,
        file.and_then(|(_, f)| f.data),
        Ok,
        |p| p.display().to_string(),
    )
}

/// Whether log lines are JSON: `--log-format` or `JOINTLY_LOG_FORMAT`,
/// else the configuration file's `log_format` (read again later, where a
/// fault in it is said; here one only leaves the default).
pub fn log_format(top: &ArgMatches, json: bool, config_path: Option<&Path>) -> bool {
    if top.value_source("log_format") != Some(ValueSource::DefaultValue) {
        return json;
    }
    load(config_path)
        .ok()
        .flatten()
        .and_then(|(_, f)| f.log_format)
        .is_some_and(|f| f == "json")
}

/// Reads the configuration file, if one was given.
pub fn load(path: Option<&Path>) -> Result<Option<(PathBuf, File)>, String> {
    path.map(|p| {
        config::read(p)
            .map(|f| (p.to_path_buf(), f))
            .map_err(|e| e.to_string())
    })
    .transpose()
}
