//! The `jointly` command line, one of the core's front doors: it parses
//! arguments, calls one use case of the core (`jointly::app`) as the local
//! operator, and prints the result. Exit codes come from the kind of a
//! refusal: 0 success, 1 a failed check or a failure, 2 bad input (nothing
//! was written).

#![forbid(unsafe_code)]

use anyhow::{Context, anyhow};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cli;
use cli::settings::{self, Shown};
use jointly::app::witnessing::WitnessPolicy;
use jointly::app::{self, App, Caller, NewPerson, integrity};
use jointly::coproduction::report::Settings;
use jointly::ledger::{self, CanonicalPayload, Digest, EventType, Ledger, OpenReport};
use jointly::refusal::{Kind, Refusal};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// Folding the log into the projections allocates a great deal; mimalloc
// makes a rebuild about 30% faster than the system allocator here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "jointly",
    version,
    about = "A tamper-evident record of co-production"
)]
struct Cli {
    /// The data directory.
    #[arg(
        long,
        global = true,
        env = "JOINTLY_DATA",
        default_value = "./jointly-data"
    )]
    data: PathBuf,
    /// How log lines are written: text (a time, a level, the words) or
    /// json (one object a line, for a log collector).
    #[arg(long, global = true, env = "JOINTLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// A configuration file (TOML) with `serve`'s settings, e.g.
    /// /etc/jointly/jointly.toml; the command line and JOINTLY_… variables
    /// win over it.
    #[arg(long, global = true, env = "JOINTLY_CONFIG")]
    config: Option<PathBuf>,
    /// Also trust the certificate authorities in this PEM file when
    /// reaching a server over https (a proxy's own, such as Caddy's `tls
    /// internal` root), besides the system's.
    #[arg(long, global = true, env = "JOINTLY_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `serve`'s options. Each also comes from a `JOINTLY_…` variable, or the
/// configuration file's key of the same name; the command line wins, then
/// the environment, then the file (src/cli/settings.rs).
#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on: an address or a host name, with the port
    /// (127.0.0.1:8080, localhost:8080).
    #[arg(long, env = "JOINTLY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Fill an empty store with the example history first.
    #[arg(long)]
    demo: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "JOINTLY_BODY_LIMIT", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// A witness to cosign each checkpoint, as URL=WITNESS_KEY (repeat for
    /// more; in JOINTLY_WITNESSES, separated by commas).
    #[arg(long = "witness", env = "JOINTLY_WITNESSES", value_delimiter = ',')]
    witnesses: Vec<jointly::app::witnessing::WitnessConfig>,
    /// How many of the witnesses must cosign (default: all).
    #[arg(long, env = "JOINTLY_WITNESS_QUORUM")]
    witness_quorum: Option<usize>,
    /// Longest an append with ?wait=cosigned waits, in seconds.
    #[arg(long, env = "JOINTLY_WITNESS_WAIT", default_value_t = 10)]
    witness_wait: u64,
    /// No longer needed: pages forbid every script by default. Kept so
    /// that start scripts which pass it still work.
    #[arg(long, hide = true)]
    no_scripts: bool,
    /// How people reach the server, e.g. https://jointly.example.org:
    /// cookies are marked Secure when it is https, and "Check this
    /// record" gives it in its commands.
    #[arg(long, env = "JOINTLY_PUBLIC_URL")]
    public_url: Option<String>,
    /// A reverse proxy whose X-Forwarded-For is believed: an address
    /// (127.0.0.1) or a range (172.17.0.0/16); repeat for more (in
    /// JOINTLY_TRUSTED_PROXIES, separated by commas). Nobody else's is.
    #[arg(
        long = "trusted-proxy",
        env = "JOINTLY_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<jointly::api::proxy::ProxyRange>,
    /// When to publish the equality figures each day, HH:MM in UTC (an
    /// admin may also publish at once: POST /v1/equality/publish).
    #[arg(long, env = "JOINTLY_PUBLISH_EQUALITY_AT", default_value = "02:00", value_parser = parse_time_of_day)]
    publish_equality_at: time::Time,
    /// The mail server to send people's emails through, e.g.
    /// smtp://jointly@mail.example.org:587 (STARTTLS, then sign-in, with
    /// the password from --smtp-password-file) or smtp://127.0.0.1:2525
    /// (a local relay). Without it, no email is sent.
    #[arg(long, env = "JOINTLY_SMTP")]
    smtp: Option<String>,
    /// A file holding the mail server's password (its first line). Also
    /// read from the service manager's credentials, as smtp-password.
    #[arg(long, env = "JOINTLY_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// The address emails come from, e.g. jointly@example.org.
    #[arg(long, env = "JOINTLY_MAIL_FROM")]
    mail_from: Option<String>,
    /// Appends each partner token may make a minute: that many at once,
    /// then one every 60/N seconds; more are refused with 429 and
    /// Retry-After. 0: no limit.
    #[arg(long, env = "JOINTLY_PARTNER_APPENDS_PER_MINUTE", default_value_t = jointly::app::limits::PARTNER_APPENDS_PER_MINUTE)]
    partner_appends_per_minute: u32,
    /// The same limit for staff and admin tokens (bulk imports and load
    /// tests use these): none unless given.
    #[arg(long, env = "JOINTLY_STAFF_APPENDS_PER_MINUTE")]
    staff_appends_per_minute: Option<u32>,
    /// Keep a copy of the log's tiles up to date at TARGET, a directory or
    /// s3://BUCKET/PREFIX, after each checkpoint (as `jointly publish`).
    #[arg(long, env = "JOINTLY_PUBLISH", value_name = "TARGET")]
    publish: Option<String>,
    #[command(flatten)]
    s3: cli::tiles::S3Args,
}

/// Through a running server instead of the data directory, which `serve`
/// holds while it runs (src/cli/remote.rs).
#[derive(clap::Args, Clone, Default)]
struct Through {
    /// Do this through the running server at URL (e.g.
    /// https://jointly.example.org) with an admin token, from
    /// JOINTLY_TOKEN or --token-file; the data directory is not opened.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A file holding the admin token for --server.
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
}

impl Through {
    fn server(&self) -> Result<Option<cli::remote::Server>, Failure> {
        self.server
            .as_deref()
            .map(|url| cli::remote::Server::new(url, self.token_file.as_deref()))
            .transpose()
            .map_err(Failure::from)
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the settings `serve` would start with, and where each came
    /// from (the command line, the environment, the file, the default);
    /// secrets are never printed. Exit 2 if the configuration is wrong.
    Check {
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Make a new store in the data directory (which must not exist yet, or
    /// be empty), its log named --origin; prints the log's verifier key
    /// alone on the last line. On a store already there, checks its name.
    Init {
        /// The log's name, in every checkpoint it signs; it never changes.
        /// Usually where it is served, e.g. charity.example.org/jointly.
        #[arg(long)]
        origin: String,
    },
    /// Append an event; prints {"seq","id","hash"} once it is on disk.
    Append {
        /// Event type: 1 to 64 of a-z 0-9 . _ - (x.* for your own events).
        #[arg(long = "type")]
        event_type: String,
        /// File holding the JSON object payload, or - for standard input.
        #[arg(long)]
        payload: String,
        /// Each line of the file is one payload, appended in order.
        #[arg(long)]
        lines: bool,
    },
    /// Print records with their payloads as JSON Lines.
    Log {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        through: Through,
    },
    /// Check the whole log: canonical bytes, chain, commitments, Merkle root.
    Verify {
        /// Verify only what was added since a size you trust (needs --root;
        /// not with --server, which checks every record).
        #[arg(long, requires = "root", conflicts_with = "server")]
        from: Option<u64>,
        /// The base64 Merkle root you trust at --from.
        #[arg(long, requires = "from")]
        root: Option<String>,
        /// With --server: a copy of the whole log is downloaded (to a
        /// private temporary file) and every record of it checked.
        #[command(flatten)]
        through: Through,
    },
    /// Write the whole log as a self-contained JSON Lines bundle.
    Export {
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        through: Through,
    },
    /// Take a verified backup. With --to (or --to-file), a complete one,
    /// encrypted to that age key: the log, names and emails, tokens and
    /// sessions, the signing and mail keys, the email outbox; restore it with
    /// `jointly restore`. With --unencrypted (or neither), the log alone, an
    /// export bundle holding no secrets. With --server, from a running
    /// server (needs an admin token); otherwise from the data directory,
    /// with the server stopped. Never overwrites a file.
    Backup {
        #[arg(long)]
        out: PathBuf,
        /// An age recipient (age1..., from `age-keygen -y KEYFILE`) to
        /// encrypt a complete backup to; may be given more than once.
        #[arg(long, conflicts_with = "unencrypted")]
        to: Vec<String>,
        /// A file of age recipients, one a line.
        #[arg(long, conflicts_with = "unencrypted")]
        to_file: Option<PathBuf>,
        /// The log alone, not encrypted: no keys, tokens or personal data.
        #[arg(long)]
        unencrypted: bool,
        /// A running server, e.g. http://127.0.0.1:8080
        #[arg(long, requires = "token")]
        server: Option<String>,
        /// An admin token for --server.
        #[arg(long, env = "JOINTLY_TOKEN", requires = "server")]
        token: Option<String>,
    },
    /// Bring a backup back into an empty data directory (--data): a
    /// complete one (with --identity, the age key it was encrypted to) as it
    /// was, with the same log name and key, tokens, names and mail key; a
    /// log-only one as `import` does.
    Restore {
        file: PathBuf,
        /// The age identity file (from `age-keygen`) the backup was encrypted to.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Bring the log forward from a mirror (its directory, or its tiles'
        /// address) to the mirror's size: later records checked against the
        /// backup's key, their words from the mirror's payloads, and every
        /// erasure since applied before anything is written.
        #[arg(long, value_name = "MIRROR")]
        records_from: Option<String>,
    },
    /// Publish the log as C2SP tiles (checkpoint, tile/..., tile/entries/...)
    /// to a directory any web server can serve, or to an S3-compatible
    /// bucket: only what is missing is written, a tile never twice. Works
    /// while `serve` runs, through the tiles it serves.
    Publish {
        /// A directory, or s3://BUCKET/PREFIX.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        to: String,
        #[command(flatten)]
        s3: cli::tiles::S3Args,
    },
    /// Keep a verified copy of another organisation's log in --data DIR,
    /// following its tiles (its server's /tlog/, a web server or a
    /// directory): every checkpoint checked with the log's key, every tile
    /// and record against it, every new tree against the last. Stops with
    /// exit 1, keeping both checkpoints in DIR/evidence, on a fork or a
    /// rollback. With a token that may read payloads (an auditor's, in
    /// --token or JOINTLY_TOKEN) it keeps them too, and deletes those the
    /// log erases. Serve DIR/tiles with any web server.
    Mirror {
        /// The log's tiles: https://jointly.example.org/tlog/, or a directory.
        #[arg(long, value_name = "URL|DIR")]
        from: String,
        /// The log's verifier key (`jointly checkpoint key` prints it), or
        /// @FILE holding it.
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// A token that may read the log's payloads (an auditor's).
        #[arg(long, env = "JOINTLY_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file holding that token.
        #[arg(long, value_name = "FILE", conflicts_with = "token")]
        token_file: Option<PathBuf>,
        /// The log's server, for payloads (found from --from when it ends in /tlog/).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Seconds between looks.
        #[arg(long, default_value_t = 5)]
        every: u64,
        /// Look once, then stop (exit 0 in step, 1 if refused or unreachable).
        #[arg(long)]
        once: bool,
    },
    /// Restore a bundle into an empty data directory, after checking all of it.
    Import {
        file: PathBuf,
        /// The new store's log name (the old store's, to keep its verifier
        /// key: copy its checkpoint.key in before the first `serve`).
        #[arg(long, default_value = jointly::api::DEFAULT_ORIGIN)]
        origin: String,
    },
    /// The accountability report: you said / we did, jointness, tokenism,
    /// presence and impact.
    Report {
        /// Only this project (its id).
        #[arg(long)]
        project: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Counts under this are shown as "fewer than K" (at least 3: with
        /// 2, "fewer than 2" would say "exactly 1").
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(3..))]
        k: u64,
        /// Partner proposals unanswered for longer than this many days are a warning sign.
        #[arg(long, default_value_t = 28)]
        waiting_days: i64,
        #[command(flatten)]
        through: Through,
    },
    /// Run the HTTP API on the embedded store. Every option may also be
    /// set in the configuration file (--config) or a JOINTLY_… variable.
    Serve(ServeArgs),
    /// The configuration: what `serve` would start with, and from where.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Email: check the mail server settings.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Run or set up a witness, which cosigns other logs' checkpoints.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// The log's checkpoint signing key.
    Checkpoint {
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// Check a server's signed checkpoint against the one saved last time:
    /// exit 1, with both as evidence, if its history was rewritten or rolled back.
    Audit {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        /// The log's verifier key (from `jointly checkpoint key`).
        #[arg(long)]
        key: String,
        /// Where the last checkpoint seen is kept.
        #[arg(long, default_value = "jointly-audit.checkpoint")]
        state: PathBuf,
        /// Also download every record envelope and rebuild chain and tree.
        #[arg(long)]
        full: bool,
    },
    /// Check a receipt (a C2SP tlog-proof) offline: signature and inclusion.
    VerifyReceipt {
        file: PathBuf,
        /// The log's verifier key (from `jointly checkpoint key`).
        #[arg(long)]
        key: String,
        /// The record the receipt should be for (its JSON, as `jointly log` prints it or bare).
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Make, list and revoke access tokens (with --server, while it runs).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Register a person: name and contact go to the erasable people store,
    /// the log gets their participant.joined (an id only). Prints the id last.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Erase a person (an erasure request): their people-store entry and the
    /// free text of every record they wrote, in one step; the log still verifies.
    Erase {
        /// Their participant id.
        participant: String,
        /// Why, in words (recorded in the log).
        #[arg(long)]
        reason: String,
        /// The lawful basis (recorded in the log).
        #[arg(long, default_value = "UK GDPR Article 17 (right to erasure)")]
        legal_basis: String,
        #[command(flatten)]
        through: Through,
    },
    /// Retention of personal data (see docs/PRIVACY.md).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Write everything held about one person as readable JSON (a subject access request).
    SubjectExport {
        participant: String,
        /// Where to write it (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        through: Through,
    },
    /// Fill an empty data directory with a realistic example history.
    Demo {
        /// Synthetic projects to add, of every type of involvement.
        #[arg(long, default_value_t = 0)]
        projects: u64,
    },
}

#[derive(Subcommand)]
enum CheckpointCommand {
    /// Print the verifier key, `<name>+<key id>+<key>`.
    Key {
        /// The log's name: refused if the key has another. With it, this
        /// is `jointly init --origin`.
        #[arg(long)]
        origin: Option<String>,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Print the witness's public key, making the key file if new. Give it
    /// to the logs' operators for their --witness.
    Key {
        /// The private key file (made with mode 0600 if absent).
        #[arg(long)]
        key_file: PathBuf,
        /// The witness's name, used only when the key is first made.
        #[arg(long, default_value = "witness.example")]
        name: String,
    },
    /// Serve the witness: POST /add-checkpoint (C2SP tlog-witness).
    Serve {
        #[arg(long)]
        key_file: PathBuf,
        /// A log to witness, as ORIGIN=LOG_VERIFIER_KEY (repeat for more).
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        /// Where the last checkpoint of each log is kept.
        #[arg(long, default_value = "witness-state.json")]
        state: PathBuf,
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send one message through the mail server and say what it answered.
    Test {
        /// Where to send it.
        #[arg(long)]
        to: String,
        /// The mail server, as for `serve --smtp`.
        #[arg(long)]
        smtp: String,
        /// The address it comes from, as for `serve --mail-from`.
        #[arg(long)]
        mail_from: String,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Erase the personal data of everyone who left more than the retention
    /// period ago; records the run in the log.
    Run {
        /// The retention period, in days (default about two years).
        #[arg(long, default_value_t = 730)]
        days: u32,
        #[command(flatten)]
        through: Through,
    },
}

#[derive(Subcommand)]
enum PersonCommand {
    /// Add a person; prints their new participant id alone on the last line.
    Add {
        #[arg(long, value_parser = ["staff", "partner"])]
        role: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Also join this project (otherwise they join the organisation's group).
        #[arg(long)]
        project: Option<String>,
        /// Someone of the same name or email is registered already, and
        /// this is another person (without it, that is refused).
        #[arg(long)]
        another_person: bool,
        #[command(flatten)]
        through: Through,
    },
    /// Record that a person has left the organisation; the retention
    /// period for their personal data starts today, and nothing more is
    /// sent them.
    Leave {
        participant: String,
        /// Who leads the projects they lead (those not closed) from now
        /// on: a member of staff who stays. Needed only for a lead.
        #[arg(long)]
        new_lead: Option<String>,
        #[command(flatten)]
        through: Through,
    },
    /// Check every entry of the people store can be read: lists the ids of
    /// damaged ones (exit 1 if any), which figures and retention pass over.
    Check,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token; prints it once, alone on the last line.
    Create {
        #[arg(long)]
        role: jointly::app::tokens::Role,
        /// Who it is for (letters, digits, '.', '_', '-').
        #[arg(long)]
        name: String,
        /// The participant a partner (or staff) token belongs to.
        #[arg(long)]
        participant: Option<String>,
        #[command(flatten)]
        through: Through,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        through: Through,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        id: String,
        #[command(flatten)]
        through: Through,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log lines to standard error, with a time and a level, as text or JSON;
/// security events under the target `jointly::audit` (docs/OPERATING.md).
fn start_logging(format: LogFormat) {
    let lines = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false);
    match format {
        LogFormat::Text => lines.init(),
        LogFormat::Json => lines.json().init(),
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// A failure, with the exit code it means: 2 bad input (nothing was
/// written), 1 a failed check or a failure of ours.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

/// A core refusal: its exit code comes from its kind.
impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure {
            code: r.kind().exit_code(),
            error: anyhow!(refusal_words(&r)),
        }
    }
}

/// A refusal in words for the terminal: what kind it is, what is wrong,
/// and where, as the pointer says.
fn refusal_words(r: &Refusal) -> String {
    let lead = match r.kind() {
        Kind::Unavailable | Kind::Failed => return r.to_string(),
        Kind::Malformed => "cannot read this",
        Kind::Invalid => "refused",
        Kind::Unauthenticated => "not signed in",
        Kind::Forbidden => "not allowed",
        Kind::NotFound => "not found",
        Kind::Conflict => "conflicts with the record",
        Kind::TooLarge => "too large",
        Kind::TooMany => "too many at once",
    };
    match r.pointer() {
        Some(p) => format!("{lead}, nothing was written: {} (at {p})", r.message()),
        None => format!("{lead}, nothing was written: {}", r.message()),
    }
}

/// A time of day, HH:MM.
fn parse_time_of_day(text: &str) -> Result<time::Time, String> {
    let bad = || format!("{text:?} is not a time of day as HH:MM, e.g. 02:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m) = (
        h.parse::<u8>().map_err(|_| bad())?,
        m.parse::<u8>().map_err(|_| bad())?,
    );
    time::Time::from_hms(h, m, 0).map_err(|_| bad())
}

/// A failure: bad input (exit 2) or a failed check (exit 1).
fn failure(bad_input: bool, error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: if bad_input { 2 } else { 1 },
        error: error.into(),
    }
}

trait ExitKind<T> {
    fn bad_input(self) -> Result<T, Failure>;
    fn failed_check(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitKind<T> for Result<T, E> {
    fn bad_input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            code: 2,
            error: e.into(),
        })
    }
    fn failed_check(self) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            code: 1,
            error: e.into(),
        })
    }
}

/// mimalloc settings for a command, which mimalloc reads from the
/// environment as the process starts, before `main`: so a command that
/// needs them starts itself again with them set (same process id).
///
/// - `serve` keeps a long-running server's resident memory close to what
///   it holds: arena memory is committed only as it is used and freed
///   pages go back to the system at once, where by default mimalloc keeps
///   them for reuse. A server holding 1,000,000 records peaked near 135 MB
///   with the defaults and near 77 MB with these (docs/PERFORMANCE.md).
/// - `verify` asks for no transparent huge pages: faulting in a fresh huge
///   page can stall on the kernel compacting memory, which made one run in
///   three up to 50% slower (docs/PERFORMANCE.md).
fn allocator_settings(command: &Command) -> &'static [(&'static str, &'static str)] {
    match command {
        Command::Serve(_) => &[
            ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
            ("MIMALLOC_PURGE_DELAY", "0"),
        ],
        Command::Verify { .. } => &[("MIMALLOC_ALLOW_THP", "0")],
        _ => &[],
    }
}

fn restart_with_allocator_settings(settings: &[(&str, &str)]) {
    use std::os::unix::process::CommandExt;
    if settings.is_empty() || settings.iter().any(|(k, _)| std::env::var_os(k).is_some()) {
        return; // nothing to set, or already set (by us or by the operator)
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // `exec` returns only if it failed; then carry on with the defaults.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(settings.iter().copied())
        .exec();
}

fn main() -> ExitCode {
    // Everything jointly writes (the store, sled's own files, backups,
    // exports, keys) is for its user alone, whatever umask it was started
    // with.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    // The matches too: a setting's source (command line, environment,
    // default) decides whether the configuration file's value is taken.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    restart_with_allocator_settings(allocator_settings(&cli.command));
    let _ = STORE_USE.set(store_use(&cli.command));
    let _ = TAKES_SERVER.set(takes_server(&cli.command));
    let json_logs = settings::log_format(
        &matches,
        cli.log_format == LogFormat::Json,
        cli.config.as_deref(),
    );
    start_logging(if json_logs {
        LogFormat::Json
    } else {
        LogFormat::Text
    });
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, error }) => {
            eprintln!("jointly: {error:#}");
            ExitCode::from(code)
        }
    }
}

/// What a command does with the data directory: set once from the command
/// in `main`, read where a store is opened (`open_store`, `with_core`), so
/// that each command's own checks of its input come first.
static STORE_USE: std::sync::OnceLock<StoreUse> = std::sync::OnceLock::new();
/// Whether the command run can also work through a running server.
static TAKES_SERVER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn takes_server(command: &Command) -> bool {
    matches!(
        command,
        Command::Log { .. }
            | Command::Verify { .. }
            | Command::Export { .. }
            | Command::Report { .. }
            | Command::Erase { .. }
            | Command::SubjectExport { .. }
            | Command::Retention { .. }
            | Command::Person {
                command: PersonCommand::Add { .. } | PersonCommand::Leave { .. },
            }
            | Command::Token { .. }
    )
}

/// A store another process holds (`serve`, while it runs): for a command
/// that can work through the server, says how.
fn in_use(r: Refusal) -> Refusal {
    if r.kind() != Kind::Unavailable || TAKES_SERVER.get() != Some(&true) {
        return r;
    }
    Refusal::unavailable(format!(
        "{}; or, to do this while it runs, add --server URL (its address, e.g. http://127.0.0.1:8080) with an admin token in JOINTLY_TOKEN or in a file named by --token-file FILE",
        r.message()
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreUse {
    /// Reads or serves a store: a directory that holds none is refused,
    /// and nothing is made (a mistyped --data must not become a new log).
    Existing,
    /// Writes a store's first records: a new store may be made in a
    /// directory that does not exist or is empty, saying so.
    MayCreate,
}

fn store_use(command: &Command) -> StoreUse {
    match command {
        Command::Init { .. }
        | Command::Demo { .. }
        | Command::Import { .. }
        | Command::Restore { .. }
        | Command::Append { .. }
        | Command::Serve(ServeArgs { demo: true, .. })
        | Command::Token {
            command: TokenCommand::Create { .. },
        }
        | Command::Person {
            command: PersonCommand::Add { .. },
        }
        | Command::Checkpoint {
            command: CheckpointCommand::Key { origin: Some(_) },
        } => StoreUse::MayCreate,
        _ => StoreUse::Existing,
    }
}

/// Before a store is opened: refuses a directory without one, or makes a
/// new one (the log named `localhost/jointly`), as the command may.
fn store_here(data: &Path) -> Result<(), Failure> {
    if STORE_USE.get() != Some(&StoreUse::MayCreate) {
        return Ok(integrity::existing_store(data)?);
    }
    if let Some(made) = integrity::store_to_write(data, app::DEFAULT_ORIGIN)? {
        say_made(data, &made);
        if made.made == integrity::Made::Store {
            eprintln!(
                "(a log's name never changes; to choose it, make the store with `jointly init --origin NAME` before anything else)"
            );
        }
    }
    Ok(())
}

/// Says on stderr what `init` (or a command making a store) made.
fn say_made(data: &Path, init: &integrity::Initialised) {
    say_repairs(&init.report);
    let name = init.verifier.name();
    match init.made {
        integrity::Made::Store => eprintln!(
            "made a new store in {} for the log named {name}",
            data.display()
        ),
        integrity::Made::Key => eprintln!(
            "made the signing key of the log in {}, named {name}",
            data.display()
        ),
        integrity::Made::Nothing => eprintln!(
            "{} already holds the store of the log named {name}",
            data.display()
        ),
    }
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<(), Failure> {
    let config = cli.config;
    // The configuration file's data directory serves every command, unless
    // --data or JOINTLY_DATA says otherwise.
    let data = settings::data_dir(matches, cli.data.clone(), config.as_deref())
        .map_err(|why| failure(true, anyhow!(why)))?;
    let given_data = cli.data;
    if let Some(ca) = &cli.ca_cert {
        jointly::http::trust_also(ca).map_err(|e| failure(true, anyhow!(e)))?;
    }
    match cli.command {
        Command::Init { origin } => {
            let init = integrity::init(&data, &origin)?;
            say_made(&data, &init);
            eprintln!("the log's verifier key (for auditors and witnesses):");
            println!("{}", init.verifier);
            Ok(())
        }
        Command::Append {
            event_type,
            payload,
            lines,
        } => append(&data, &event_type, &payload, lines),
        Command::Log {
            from,
            limit,
            through,
        } => match through.server()? {
            Some(server) => log_through(&server, from, limit),
            None => log(&data, from, limit),
        },
        Command::Verify {
            from,
            root,
            through,
        } => match through.server()? {
            Some(server) => verify_through(&server),
            None => verify_cmd(&data, from.zip(root)),
        },
        Command::Report {
            project,
            format,
            k,
            waiting_days,
            through,
        } => match through.server()? {
            Some(server) => report_through(&server, project, format, k, waiting_days),
            None => report(&data, project, format, k, waiting_days),
        },
        Command::Serve(args) => {
            let sub = matches
                .subcommand_matches("serve")
                .expect("serve's own matches");
            let (start, _) = start_settings((matches, sub), config.as_deref(), given_data, args)?;
            serve(start)
        }
        Command::Config {
            command: ConfigCommand::Check { serve },
        } => {
            let sub = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("check"))
                .expect("config check's own matches");
            let (start, shown) =
                start_settings((matches, sub), config.as_deref(), given_data, serve)?;
            let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
            for s in &shown {
                println!("{:width$} = {}    (from {})", s.name, s.value, s.source);
            }
            eprintln!(
                "serve would start on {} with the data directory {}{}",
                start.listen,
                start.data.display(),
                config.as_deref().map_or(String::new(), |c| format!(
                    ", configured by {}",
                    c.display()
                ))
            );
            Ok(())
        }
        Command::Mail {
            command:
                MailCommand::Test {
                    to,
                    smtp,
                    mail_from,
                },
        } => mail_test(&to, &smtp, &mail_from),
        Command::Witness { command } => witness(command),
        Command::Person {
            command:
                PersonCommand::Add {
                    role,
                    name,
                    email,
                    project,
                    another_person,
                    through,
                },
        } => {
            let project_id = project
                .map(|p| app::project_id(&p, "--project").map(|p| p.uuid()))
                .transpose()?;
            let person = NewPerson {
                role: role.clone(),
                name: name.clone(),
                email,
                project_id,
                another_person,
            };
            let (id, seq) = match through.server()? {
                Some(server) => {
                    let body = serde_json::json!({
                        "role": person.role, "name": person.name,
                        "email": person.email, "project_id": person.project_id,
                        "another_person": person.another_person,
                    });
                    let a = server.post_json("/v1/people", &body)?;
                    (field(&a, "participant_id")?, field(&a, "seq")?)
                }
                None => {
                    let (id, seq) = with_core(&data, |app, me| async move {
                        app.register_person(&me, person).await
                    })?;
                    (id.to_string(), seq.to_string())
                }
            };
            eprintln!("added {name} as a {role} (record {seq}); their participant id:");
            println!("{id}");
            Ok(())
        }
        Command::Person {
            command: PersonCommand::Check,
        } => {
            store_here(&data)?;
            let damaged = jointly::people::People::open(&data)
                .and_then(|p| p.damaged())
                .failed_check()?;
            for id in &damaged {
                println!("{id}");
            }
            if damaged.is_empty() {
                eprintln!("every entry of the people store can be read");
                Ok(())
            } else {
                Err(failure(
                    false,
                    anyhow!(
                        "{} people-store entries are damaged (their ids above): restore them from a copy of people/, or have each partner save their answers again",
                        damaged.len()
                    ),
                ))
            }
        }
        Command::Person {
            command:
                PersonCommand::Leave {
                    participant,
                    new_lead,
                    through,
                },
        } => {
            let who = app::participant_id(&participant, "the participant")?;
            let new_lead = new_lead
                .map(|n| app::participant_id(&n, "--new-lead"))
                .transpose()?;
            let done = match through.server()? {
                Some(server) => {
                    let a = server.post_json(
                        &format!("/v1/people/{}/leave", who.uuid()),
                        &serde_json::json!({ "new_lead": new_lead.map(|n| n.uuid()) }),
                    )?;
                    let seqs = |name: &str| -> Vec<u64> {
                        a[name]
                            .as_array()
                            .map(|v| v.iter().filter_map(serde_json::Value::as_u64).collect())
                            .unwrap_or_default()
                    };
                    app::Leaving {
                        handed_on: seqs("handed_on"),
                        left: seqs("left"),
                    }
                }
                None => with_core(&data, |app, me| async move {
                    app.record_leaving(&me, who, new_lead).await
                })?,
            };
            if let Some(next) = new_lead.filter(|_| !done.handed_on.is_empty()) {
                eprintln!(
                    "{next} leads their projects now (record(s) {:?})",
                    done.handed_on
                );
            }
            eprintln!(
                "recorded that {who} left ({} project record(s): {:?}); their personal data is kept for the retention period, and nothing more is sent them",
                done.left.len(),
                done.left
            );
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run { days, through },
        } => {
            let (recorded_as, erased, cutoff) = match through.server()? {
                Some(server) => {
                    let a = server
                        .post_json("/v1/retention/run", &serde_json::json!({ "days": days }))?;
                    let erased = a["erased_people"].as_array().map_or(0, Vec::len);
                    (field(&a, "recorded_as")?, erased, field(&a, "cutoff")?)
                }
                None => {
                    let r = with_core(&data, |app, me| async move {
                        app.run_retention(&me, days).await
                    })?;
                    (r.recorded_as.to_string(), r.erased_people.len(), r.cutoff)
                }
            };
            println!(
                "retention of {days} days applied (record {recorded_as}): erased the personal data of {erased} people who left before {cutoff}"
            );
            Ok(())
        }
        Command::Erase {
            participant,
            reason,
            legal_basis,
            through,
        } => {
            let who = app::participant_id(&participant, "the participant")?.uuid();
            let done = match through.server()? {
                Some(server) => {
                    let body = serde_json::json!({
                        "participant_id": who, "reason": reason, "legal_basis": legal_basis,
                    });
                    field(&server.post_json("/v1/erasures", &body)?, "said")?
                }
                None => with_core(&data, |app, me| async move {
                    app.erase(&me, who, &reason, &legal_basis).await
                })?
                .to_string(),
            };
            println!("erased participant {who}: {done}");
            Ok(())
        }
        Command::SubjectExport {
            participant,
            out,
            through,
        } => {
            let who = app::participant_id(&participant, "the participant")?.uuid();
            let v = match through.server()? {
                Some(server) => server.get_json(&format!("/v1/people/{who}/export"))?,
                None => serde_json::to_value(with_core(&data, |app, me| async move {
                    app.subject_export(&me, who).await
                })?)
                .expect("json"),
            };
            let text = serde_json::to_string_pretty(&v).expect("json") + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .failed_check(),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::Token { command } => token(&data, command),
        Command::Checkpoint {
            command: CheckpointCommand::Key {
                origin: Some(origin),
            },
        } => {
            let init = integrity::init(&data, &origin)?;
            if init.made != integrity::Made::Nothing {
                say_made(&data, &init);
            }
            println!("{}", init.verifier);
            Ok(())
        }
        Command::Checkpoint {
            command: CheckpointCommand::Key { origin: None },
        } => {
            use jointly::ledger::notary::Notary;
            let (ledger, _) = open_store(&data)?;
            let had_key = Notary::has_key(&ledger);
            let notary = Notary::open(&ledger, app::DEFAULT_ORIGIN).failed_check()?;
            if !had_key {
                eprintln!(
                    "made the signing key of the log in {}, named {}",
                    data.display(),
                    notary.origin()
                );
            }
            println!("{}", notary.verifier());
            Ok(())
        }
        Command::VerifyReceipt { file, key, record } => {
            verify_receipt(&file, &key, record.as_deref())
        }
        Command::Audit {
            server,
            key,
            state,
            full,
        } => {
            let verifier = jointly::ledger::note::Verifier::parse(&key)
                .map_err(|e| anyhow!("--key: {e}"))
                .bad_input()?;
            let a = jointly::audit::audit(&server, &verifier, &state, full).failed_check()?;
            let mut line = format!(
                "audit passed: {} signed {} records, root {}",
                a.checkpoint.origin,
                a.checkpoint.size,
                a.checkpoint.root.to_base64()
            );
            if let Some(p) = a.previous {
                line.push_str(&format!(
                    ", consistent with the {p} records saved last time"
                ));
            }
            if let Some(n) = a.records_checked {
                line.push_str(&format!("; all {n} records rebuild that root"));
            }
            println!("{line}");
            Ok(())
        }
        Command::Demo { projects } => {
            let (ledger, _) = open_store(&data)?;
            let n = app::demo::write_demo(&ledger, projects)
                .map_err(|e| failure(matches!(e, app::demo::DemoError::NotEmpty(_)), e))?;
            eprintln!(
                "wrote {n} records of example history into {}",
                data.display()
            );
            Ok(())
        }
        Command::Backup {
            out,
            server,
            token,
            to,
            to_file,
            unencrypted: _,
        } => {
            let mut text = to.join("\n");
            if let Some(f) = &to_file {
                let more = std::fs::read_to_string(f)
                    .with_context(|| format!("--to-file: cannot read {}", f.display()))
                    .bad_input()?;
                text.push('\n');
                text.push_str(&more);
            }
            let recipients = if text.trim().is_empty() {
                None
            } else {
                Some(text)
            };
            if out.exists() {
                return Err(anyhow!(
                    "{} exists already: a backup never overwrites a file; give a new name",
                    out.display()
                ))
                .bad_input();
            }
            match recipients {
                Some(r) => complete_backup(&data, &out, server.as_deref(), token.as_deref(), &r),
                None => backup(&data, &out, server.as_deref(), token.as_deref()),
            }
        }
        Command::Restore {
            file,
            identity,
            records_from,
        } => restore(&data, &file, identity.as_deref(), records_from.as_deref()),
        Command::Publish { to, s3 } => {
            let file =
                settings::load(config.as_deref()).map_err(|why| failure(true, anyhow!(why)))?;
            let section = file.as_ref().and_then(|(_, f)| f.publish.as_ref());
            let place = jointly::tlog::place::Place::to_write(&to, &s3.settings(section))?;
            cli::tiles::publish(&data, place)
        }
        Command::Mirror {
            from,
            key,
            token,
            token_file,
            server,
            every,
            once,
        } => {
            let token = match token_file {
                Some(f) => Some(
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("--token-file: cannot read {}", f.display()))
                        .bad_input()?
                        .trim()
                        .to_string(),
                ),
                None => token,
            };
            cli::tiles::mirror(cli::tiles::MirrorArgs {
                from,
                dir: data.clone(),
                key,
                token,
                server,
                every: std::time::Duration::from_secs(every.max(1)),
                once,
            })
        }
        Command::Export { out, through } => {
            let size = match through.server()? {
                Some(server) => {
                    server.download("/v1/backup", &out)?;
                    checked_bundle(&out)?.size
                }
                None => {
                    let (ledger, _) = open_store(&data)?;
                    integrity::export(&ledger, &out)?.size
                }
            };
            eprintln!("exported {size} records to {}", out.display());
            Ok(())
        }
        Command::Import { file, origin } => {
            // Checked before the bundle is read: nothing is written for a
            // name that cannot be a log's.
            jointly::ledger::note::check_name(&origin)
                .map_err(|e| anyhow!("--origin: {e}"))
                .bad_input()?;
            let bar = progress_bar(None);
            let s = integrity::import(&file, &data, &mut |n| bar.set_position(n))?;
            bar.finish_and_clear();
            let init = integrity::init(&data, &origin)?;
            eprintln!(
                "imported {} records into a new store in {} for the log named {}, head {}, root {}",
                s.size,
                data.display(),
                init.verifier.name(),
                s.head,
                s.root.to_base64()
            );
            Ok(())
        }
    }
}

/// Opens the store alone, saying on stderr what it repaired.
fn open_store(data: &Path) -> Result<(Ledger, OpenReport), Failure> {
    store_here(data)?;
    let (ledger, report) = integrity::open_store(data).map_err(in_use)?;
    say_repairs(&report);
    Ok((ledger, report))
}

fn say_repairs(report: &OpenReport) {
    if report.reindexed > 0 {
        eprintln!(
            "note: indexed {} records that were on disk but not yet in the index",
            report.reindexed
        );
    }
    if let Some((file, bytes)) = &report.torn_tail {
        eprintln!(
            "note: the log ended in a write that never completed; its {bytes} bytes were moved to {}",
            file.display()
        );
    }
    if report.made_private > 0 {
        eprintln!(
            "note: {} files and folders in the data directory could be read by other users; they are now for jointly's user alone",
            report.made_private
        );
    }
    for (path, why) in &report.left_open {
        eprintln!(
            "warning: other users could read {} if they could enter the data directory: {why}",
            path.display()
        );
    }
}

/// Opens the core on the data directory, runs one use case as the local
/// operator, and stops the writer again.
fn with_core<T, F, Fut>(data: &Path, work: F) -> Result<T, Failure>
where
    F: FnOnce(App, Caller) -> Fut,
    Fut: std::future::Future<Output = Result<T, Refusal>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .failed_check()?;
    store_here(data)?;
    runtime.block_on(async {
        let (app, report) = App::open(data, app::Options::default()).map_err(in_use)?;
        say_repairs(&report);
        let result = work(app.clone(), Caller::operator()).await;
        app.shutdown().await;
        result.map_err(Failure::from)
    })
}

fn read_input(source: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    if source == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the payload from standard input")
            .bad_input()?;
    } else {
        bytes = std::fs::read(source)
            .with_context(|| format!("cannot read payload file {source}"))
            .bad_input()?;
    }
    Ok(bytes)
}

fn append(data: &Path, event_type: &str, source: &str, lines: bool) -> Result<(), Failure> {
    // Everything that can be checked without the store is checked before
    // it is opened, so bad input writes nothing, not even an empty data
    // directory.
    let me = Caller::operator();
    let checked_type =
        EventType::new(event_type).map_err(|e| Refusal::malformed(e.to_string()).at("/type"))?;
    app::policy::may_append_type(me.author(), checked_type.as_str())?;
    let input = read_input(source)?;
    let (payloads, line_numbers) = if lines {
        parse_lines(&input)?
    } else {
        let value = app::strict_json(&input).map_err(|r| r.at("/payload"))?;
        (vec![app::payload(&value)?], vec![1])
    };
    let total = payloads.len();
    let out = std::cell::RefCell::new(std::io::BufWriter::new(std::io::stdout().lock()));
    let out = &out;
    let written = with_core(data, |app, me| async move {
        if !lines {
            let payload = payloads.into_iter().next().expect("one payload");
            let r = app
                .append(&me, app::Submission::new(event_type, payload))
                .await?;
            print_appended(out, r.seq, &r.id, &r.hash);
            return Ok(1);
        }
        app.append_all(&me, event_type, payloads, |batch| {
            for a in batch {
                print_appended(out, a.seq, &a.id, &a.hash);
            }
            let _ = out.borrow_mut().flush();
        })
        .await
        .map_err(|(i, r)| match i {
            Some(i) => Refusal::new(
                r.kind(),
                format!("line {}: {}", line_numbers[i], r.message()),
            )
            .at(r.pointer().unwrap_or("")),
            None => r,
        })
    })?;
    out.borrow_mut().flush().failed_check()?;
    if lines {
        eprintln!("appended {written} of {total} records");
    }
    Ok(())
}

/// One appended record as a line: `{"hash","id","seq"}`.
fn print_appended(out: &std::cell::RefCell<impl Write>, seq: u64, id: &uuid::Uuid, hash: &Digest) {
    let line = serde_json::json!({"hash": hash, "id": id, "seq": seq});
    let mut out = out.borrow_mut();
    let _ = serde_json::to_writer(&mut *out, &line);
    let _ = out.write_all(b"\n");
}

/// Each non-blank line's payload, with its line number. Lines end in LF
/// (a CR before it is allowed, as spreadsheets write them).
fn parse_lines(input: &[u8]) -> Result<(Vec<CanonicalPayload>, Vec<usize>), Failure> {
    let mut out = Vec::new();
    let mut numbers = Vec::new();
    for (i, line) in input.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value = app::strict_json(line).map_err(|r| {
            Refusal::new(r.kind(), format!("line {}: {}", i + 1, r.message())).at("/payload")
        })?;
        out.push(app::payload(&value).map_err(|r| {
            Refusal::new(r.kind(), format!("line {}: {}", i + 1, r.message())).at("/payload")
        })?);
        numbers.push(i + 1);
    }
    if out.is_empty() {
        return Err(Refusal::malformed("the payload file has no lines to append").into());
    }
    Ok((out, numbers))
}

fn log(data: &Path, from: u64, limit: Option<usize>) -> Result<(), Failure> {
    let (ledger, _) = open_store(data)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut next = from;
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = ledger.range(next, left.min(4096)).failed_check()?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            let line = serde_json::json!({
                "record": event.record,
                "hash": event.hash,
                "payload": event.payload.as_ref().map(CanonicalPayload::to_value),
            });
            out.write_all(&ledger::canonical::canonical_bytes(&line))
                .and_then(|()| out.write_all(b"\n"))
                .failed_check()?;
        }
        next += page.len() as u64;
        left -= page.len();
    }
    out.flush().failed_check()
}

fn progress_bar(len: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {wide_bar} {pos}/{len} records ({per_sec}, {eta})",
        )
        .expect("valid template"),
    );
    bar.set_message("verifying");
    bar
}

fn verify_cmd(data: &Path, trusted: Option<(u64, String)>) -> Result<(), Failure> {
    let trusted = match trusted {
        Some((size, root)) => Some((
            size,
            Digest::from_base64(&root)
                .map_err(|e| anyhow!("--root: {e}"))
                .bad_input()?,
        )),
        None => None,
    };
    let (ledger, _) = open_store(data)?;
    let size = ledger.head().size;
    let bar = progress_bar(Some(size - trusted.map_or(0, |t| t.0.min(size))));
    let result = integrity::verify(&ledger, trusted, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    // A failed verification is a failed check, whatever its kind.
    let v = result.map_err(|r| Failure {
        code: 1,
        error: anyhow!(r.message().to_string()),
    })?;
    let mut line = format!(
        "verified {} records, head {}, root {}",
        v.ledger.size,
        v.ledger.head,
        v.ledger.root.to_base64()
    );
    if let Some((from, _)) = trusted {
        line.push_str(&format!(
            " (checked the {} records after the trusted size {from})",
            v.ledger.checked
        ));
    }
    let redacted = v.ledger.redacted - v.lost.len() as u64;
    if redacted > 0 {
        let by: std::collections::BTreeSet<u64> = v.redactions.values().copied().collect();
        let by: Vec<String> = by.iter().map(u64::to_string).collect();
        line.push_str(&format!(
            ", {redacted} payloads redacted, each authorised by record {}",
            by.join(", ")
        ));
    }
    if !v.lost.is_empty() {
        let seqs: Vec<String> = v.lost.iter().map(u64::to_string).collect();
        line.push_str(&format!(
            ", the words of {} records lost in a restore from a mirror that did not hold them (records {})",
            v.lost.len(),
            seqs.join(", ")
        ));
    }
    println!("{line}");
    Ok(())
}

fn report(
    data: &Path,
    project: Option<String>,
    format: Format,
    k: u64,
    waiting_days: i64,
) -> Result<(), Failure> {
    let project = project
        .map(|p| app::project_id(&p, "--project"))
        .transpose()?;
    let settings = Settings {
        k,
        waiting_days,
        ..Settings::today()
    };
    let report = with_core(data, |app, me| async move {
        app.report_with(&me, project, settings)
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).failed_check()?;
            out.write_all(b"\n").failed_check()?;
        }
        Format::Text => out.write_all(report.to_text().as_bytes()).failed_check()?,
    }
    out.flush().failed_check()
}

/// What `serve` starts with, its settings resolved (src/cli/settings.rs).
struct Start {
    data: PathBuf,
    listen: std::net::SocketAddr,
    demo: bool,
    config: jointly::api::Config,
    witnesses: WitnessPolicy,
    append_limits: jointly::app::limits::AppendLimits,
    postbox: Option<jointly::mail::Postbox>,
    /// The address links in emails start with.
    base: String,
    /// Where a copy of the tiles is kept up to date.
    publish: Option<jointly::tlog::place::Place>,
}

/// `serve`'s settings from the command line, the environment, the
/// configuration file and the credentials directory, checked; and what
/// each is and where it came from, for `config check`.
fn start_settings(
    (top, sub): (&clap::ArgMatches, &clap::ArgMatches),
    config_path: Option<&Path>,
    data: PathBuf,
    args: ServeArgs,
) -> Result<(Start, Vec<Shown>), Failure> {
    let bad = |why: String| failure(true, anyhow!(why));
    let file = settings::load(config_path).map_err(bad)?;
    let path = file.as_ref().map(|(p, _)| p.clone());
    let f = file.map(|(_, f)| f).unwrap_or_default();
    if let Some(format) = f.log_format.as_deref()
        && !matches!(format, "text" | "json")
    {
        return Err(bad(format!(
            "the configuration's log_format {format:?}: use \"text\" or \"json\""
        )));
    }
    let m = f.mail.unwrap_or_default();
    let publish_file = f.publish.unwrap_or_default();
    let text = |v: &String| v.clone();
    let maybe = |v: &Option<String>| v.clone().unwrap_or_else(|| "not set".into());
    let some = |v: String| Ok(Some(v));
    let mut st = settings::Settings::new(top, path);
    // The data directory is every command's option: its source is the top's.
    let data = st
        .pick("data", "JOINTLY_DATA", data, f.data, Ok, |p| {
            p.display().to_string()
        })
        .map_err(bad)?;
    let mut st = st.under(sub);
    let listen = st
        .pick("listen", "JOINTLY_LISTEN", args.listen, f.listen, Ok, text)
        .map_err(bad)?;
    let listen = settings::listen_address(&listen).map_err(bad)?;
    let public_url = st
        .pick(
            "public_url",
            "JOINTLY_PUBLIC_URL",
            args.public_url,
            f.public_url,
            some,
            maybe,
        )
        .map_err(bad)?;
    let trusted_proxies = st
        .pick(
            "trusted_proxies",
            "JOINTLY_TRUSTED_PROXIES",
            args.trusted_proxies,
            f.trusted_proxies,
            |v| v.iter().map(|a| a.parse()).collect(),
            |v| {
                if v.is_empty() {
                    "none".into()
                } else {
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            },
        )
        .map_err(bad)?;
    let body_limit = st
        .pick(
            "body_limit",
            "JOINTLY_BODY_LIMIT",
            args.body_limit,
            f.body_limit,
            Ok,
            |n| n.to_string(),
        )
        .map_err(bad)?;
    let publish_equality_at = st
        .pick(
            "publish_equality_at",
            "JOINTLY_PUBLISH_EQUALITY_AT",
            args.publish_equality_at,
            f.publish_equality_at,
            |t| parse_time_of_day(&t),
            |t| format!("{:02}:{:02}", t.hour(), t.minute()),
        )
        .map_err(bad)?;
    let witnesses = st
        .pick(
            "witnesses",
            "JOINTLY_WITNESSES",
            args.witnesses,
            f.witnesses,
            |v| v.iter().map(|w| w.parse()).collect(),
            |v| format!("{} witness(es)", v.len()),
        )
        .map_err(bad)?;
    let witness_quorum = st
        .pick(
            "witness_quorum",
            "JOINTLY_WITNESS_QUORUM",
            args.witness_quorum,
            f.witness_quorum,
            |n| Ok(Some(n)),
            |n| n.map_or("all".into(), |n| n.to_string()),
        )
        .map_err(bad)?;
    let witness_wait = st
        .pick(
            "witness_wait",
            "JOINTLY_WITNESS_WAIT",
            args.witness_wait,
            f.witness_wait,
            Ok,
            |n| format!("{n} s"),
        )
        .map_err(bad)?;
    let partner_appends = st
        .pick(
            "partner_appends_per_minute",
            "JOINTLY_PARTNER_APPENDS_PER_MINUTE",
            args.partner_appends_per_minute,
            f.partner_appends_per_minute,
            Ok,
            |n| n.to_string(),
        )
        .map_err(bad)?;
    let staff_appends = st
        .pick(
            "staff_appends_per_minute",
            "JOINTLY_STAFF_APPENDS_PER_MINUTE",
            args.staff_appends_per_minute,
            f.staff_appends_per_minute,
            |n| Ok(Some(n)),
            |n| n.map_or("no limit".into(), |n| n.to_string()),
        )
        .map_err(bad)?;
    // The mail server: a URL, or its parts in the file's [mail].
    let from_parts = m.host.clone().map(|host| {
        let user = m.user.as_deref().map_or(String::new(), |u| {
            format!(
                "{}@",
                percent_encoding::utf8_percent_encode(u, percent_encoding::NON_ALPHANUMERIC)
            )
        });
        format!("smtp://{user}{host}:{}", m.port.unwrap_or(587))
    });
    let smtp = st
        .pick(
            "smtp",
            "JOINTLY_SMTP",
            args.smtp,
            m.smtp.or(from_parts),
            some,
            |u| u.as_deref().map_or("not set".into(), jointly::mail::redact),
        )
        .map_err(bad)?;
    let password = st
        .secret(
            ("smtp_password", "smtp_password_file"),
            "JOINTLY_SMTP_PASSWORD_FILE",
            args.smtp_password_file,
            m.password_file,
            jointly::config::SMTP_PASSWORD_CREDENTIAL,
        )
        .map_err(bad)?;
    let mail_from = st
        .pick(
            "mail_from",
            "JOINTLY_MAIL_FROM",
            args.mail_from,
            m.from,
            some,
            maybe,
        )
        .map_err(bad)?;
    let s3 = args.s3.settings(Some(&publish_file));
    let publish = st
        .pick(
            "publish",
            "JOINTLY_PUBLISH",
            args.publish,
            publish_file.to.clone(),
            some,
            maybe,
        )
        .map_err(bad)?
        .map(|to| jointly::tlog::place::Place::to_write(&to, &s3))
        .transpose()?;
    if let Some(u) = &public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(bad(format!(
            "public_url {u:?}: give the whole address, starting https:// (or http://)"
        )));
    }
    let mut witnesses = WitnessPolicy::new(witnesses, witness_quorum)
        .map_err(|e| anyhow!(e))
        .bad_input()?;
    witnesses.wait = std::time::Duration::from_secs(witness_wait);
    let postbox = match (&smtp, &mail_from) {
        (Some(url), Some(from)) => Some(
            jointly::mail::Postbox::new(url, password, from)
                .map_err(|e| anyhow!(e))
                .bad_input()?,
        ),
        (Some(_), None) => return Err(bad("smtp is set but not mail_from: give the address emails come from (--mail-from, or [mail] from)".into())),
        (None, Some(_)) => return Err(bad("mail_from is set but not smtp: give the mail server (--smtp, or [mail] host)".into())),
        (None, None) => None,
    };
    // Every link jointly makes (in emails, unsubscribe addresses,
    // pages) starts with the public URL, never with a request's Host: a
    // server others reach must say it. Listening on this machine only,
    // the address is its own: the pages' links (a sign-in card's) work
    // from this machine, and emails are sent with a warning, since their
    // links open nowhere else.
    let public_url = match public_url {
        Some(u) => u,
        None if !listen.ip().is_loopback() => {
            return Err(bad(
                "a server listening beyond this machine must know the address people use, for the links its pages and emails make: give --public-url (or public_url), e.g. https://jointly.example.org".into(),
            ));
        }
        None => {
            let own = format!("http://{listen}");
            if postbox.is_some() {
                tracing::warn!(
                    "no public_url: the links in emails will start with {own}, which opens only on this machine; set public_url to the address people use (e.g. https://jointly.example.org)"
                );
            }
            own
        }
    };
    let base = public_url.clone();
    let public_url = Some(public_url);
    let start = Start {
        data,
        listen,
        demo: args.demo,
        config: jointly::api::Config {
            body_limit,
            public_url,
            trusted_proxies,
            publish_equality_at,
            ..Default::default()
        },
        witnesses,
        append_limits: jointly::app::limits::AppendLimits {
            partner: Some(partner_appends).filter(|n| *n > 0),
            staff: staff_appends.filter(|n| *n > 0),
        },
        postbox,
        base,
        publish,
    };
    Ok((start, st.shown))
}

fn serve(start: Start) -> Result<(), Failure> {
    let Start {
        data,
        listen,
        demo,
        config,
        witnesses,
        append_limits,
        postbox,
        base,
        publish,
    } = start;
    let data = data.as_path();
    let witnesses_n = witnesses.witnesses.len();
    let (ledger, _) = open_store(data)?;
    if demo && ledger.head().size == 0 {
        let n = app::demo::write_demo(&ledger, 12).failed_check()?;
        tracing::info!("filled the empty store with {n} records of example history");
    }
    let runtime = tokio::runtime::Runtime::new()
        .context("cannot start the runtime")
        .failed_check()?;
    runtime.block_on(async {
        let app = App::with_ledger(
            ledger,
            app::Options {
                witnesses,
                append_limits,
                ..Default::default()
            },
        )?;
        let size = app.ledger().head().size;
        match app.start() {
            app::snapshot::Start::Snapshot { size: at } => tracing::info!(
                "read the model saved at {at} records, and folded the {} after it",
                size - at
            ),
            app::snapshot::Start::Folded { why } if size > 0 => tracing::info!(
                "folded all {size} records into the model (no saved model to start from: {why})"
            ),
            app::snapshot::Start::Folded { .. } => {}
        }
        match &postbox {
            Some(p) => tracing::info!("emails go through the mail server at {}", p.server),
            None => tracing::info!("no --smtp: no email is sent"),
        }
        // The start banner: what this server is, where its record is, and
        // how it is reached; never a secret.
        let verifier = app.verifier().to_string();
        let (origin, key_id) = {
            let mut parts = verifier.split('+');
            (
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
            )
        };
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            data = %data.display(),
            origin = %origin,
            key_id = %key_id,
            public_url = config.public_url.as_deref().unwrap_or("not set"),
            witnesses = witnesses_n,
            records = size,
            "jointly {} starting: data directory {}, log {origin} (key id {key_id}), public URL {}, {witnesses_n} witness(es)",
            env!("CARGO_PKG_VERSION"),
            data.display(),
            config.public_url.as_deref().unwrap_or("not set"),
        );
        app.start_mail(postbox, base);
        if let Some(place) = publish {
            tracing::info!("keeping a copy of the tiles up to date at {place}");
            app.start_publishing(place);
        }
        // Where `publish` finds this server while it holds the store.
        let own = if listen.ip().is_unspecified() {
            std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), listen.port())
        } else {
            listen
        };
        let serving = data.join(cli::tiles::SERVING);
        let _ = jointly::ledger::store::write_durably(&serving, format!("http://{own}\n").as_bytes(), 0o600);
        if !app.has_tokens() {
            tracing::info!(
                "no access tokens yet: stop the server and run\n  jointly --data {} token create --role admin --name YOUR-NAME\nthen start it again; admins can make the other tokens through /v1/tokens",
                data.display()
            );
        }
        let served = jointly::api::serve::serve(jointly::api::AppState::with_app(app), listen, config)
            .await
            .with_context(|| format!("cannot serve on {listen}"))
            .failed_check();
        let _ = std::fs::remove_file(&serving);
        served
    })
}

/// `jointly mail test`: one message, and what the server said.
fn mail_test(to: &str, smtp: &str, from: &str) -> Result<(), Failure> {
    let postbox = jointly::mail::Postbox::new(smtp, None, from)
        .map_err(|e| anyhow!(e))
        .bad_input()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .failed_check()?;
    let message = jointly::mail::Outgoing {
        to,
        subject: "A test message from jointly",
        text: "This is a test message from jointly, sent with `jointly mail test`. If it reached you, jointly can send email through this mail server.\n".into(),
        html: "<p>This is a test message from jointly, sent with <code>jointly mail test</code>. If it reached you, jointly can send email through this mail server.</p>".into(),
        unsubscribe: None,
        message_id: format!("<test.{}@jointly.invalid>", uuid::Uuid::new_v4().simple()),
    };
    match runtime.block_on(postbox.send(&message)) {
        Ok(answer) => {
            eprintln!("{} took the message for {to}: {answer}", postbox.server);
            Ok(())
        }
        Err(e @ jointly::mail::MailError::Settings(_)) => Err(anyhow!(e)).bad_input(),
        Err(e) => Err(anyhow!("{}: {e}", postbox.server)).failed_check(),
    }
}

fn backup(
    data: &Path,
    out: &Path,
    server: Option<&str>,
    token: Option<&str>,
) -> Result<(), Failure> {
    match (server, token) {
        (Some(server), Some(token)) => {
            let partial = out.with_extension("partial");
            let n = jointly::http::download(
                server,
                "/v1/backup",
                token,
                &partial,
                std::time::Duration::from_secs(600),
            )
            .failed_check()?;
            std::fs::rename(&partial, out)
                .with_context(|| format!("cannot write {}", out.display()))
                .failed_check()?;
            eprintln!("downloaded {n} bytes from {server}");
        }
        _ => {
            store_here(data)?;
            let (ledger, _) = integrity::open_store(data).map_err(|e| match e.kind() {
                Kind::Failed => Refusal::new(Kind::Failed, format!("{}; if the server is running, take the backup through it: jointly backup --server URL --token ADMIN_TOKEN --out FILE", e.message())),
                _ => e,
            })?;
            integrity::export(&ledger, out)?;
        }
    }
    // A backup is only as good as its check.
    let s = checked_bundle(out)?;
    println!(
        "backup of {} records written to {} and verified: head {}, root {}",
        s.size,
        out.display(),
        s.head,
        s.root.to_base64()
    );
    Ok(())
}

/// A complete backup, encrypted to `recipients` (age1..., a line each):
/// written here from the stopped store, or by the server and downloaded.
fn complete_backup(
    data: &Path,
    out: &Path,
    server: Option<&str>,
    token: Option<&str>,
    recipients: &str,
) -> Result<(), Failure> {
    let to = app::backup::recipients(recipients)?;
    let records = match (server, token) {
        (Some(server), Some(token)) => {
            let list: Vec<String> = to.iter().map(ToString::to_string).collect();
            let path = format!("/v1/backup?to={}", list.join(","));
            let partial = out.with_extension("partial");
            let _ = std::fs::remove_file(&partial);
            let n = jointly::http::download(
                server,
                &path,
                token,
                &partial,
                std::time::Duration::from_secs(600),
            )
            .failed_check()?;
            set_owner_only(&partial).failed_check()?;
            std::fs::hard_link(&partial, out)
                .with_context(|| format!("cannot write {}", out.display()))
                .bad_input()?;
            let _ = std::fs::remove_file(&partial);
            eprintln!("downloaded {n} bytes from {server}");
            None
        }
        _ => {
            store_here(data)?;
            let (ledger, _) = integrity::open_store(data)?;
            let w = app::backup::write(&ledger, out, &app::backup::Protection::To(to))?;
            Some(w.records)
        }
    };
    match records {
        Some(n) => eprintln!(
            "a complete backup of {n} records, encrypted, written to {}",
            out.display()
        ),
        None => eprintln!("a complete backup, encrypted, written to {}", out.display()),
    }
    eprintln!(
        "keep the age identity (key file) it was encrypted to apart from it: without it the backup cannot be read; restore with `jointly restore {} --data NEW-DIRECTORY --identity KEYFILE`",
        out.display()
    );
    Ok(())
}

/// Makes `path` readable and writable by its owner alone.
fn set_owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

/// `jointly restore`: a complete backup as it was, or a log-only one as
/// `import` brings it.
fn restore(
    data: &Path,
    file: &Path,
    identity: Option<&Path>,
    records_from: Option<&str>,
) -> Result<(), Failure> {
    let ids = match identity {
        Some(f) => app::backup::identities(
            &std::fs::read_to_string(f)
                .with_context(|| format!("--identity: cannot read {}", f.display()))
                .bad_input()?,
        )?,
        None => Vec::new(),
    };
    if integrity_contents_taken(data) {
        return Err(anyhow!(
            "{} is not empty: restore into a new or empty directory",
            data.display()
        ))
        .bad_input();
    }
    // A log-only backup is an export bundle: JSON Lines.
    let mut first = [0u8; 1];
    let is_bundle = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut first))
        .is_ok_and(|n| n == 1 && first[0] == b'{');
    if is_bundle {
        let s = integrity::import(file, data, &mut |_| {})?;
        eprintln!(
            "restored the log alone ({} records): a log-only backup holds no keys, tokens or names; the server will sign with a new key",
            s.size
        );
        return Ok(());
    }
    if is_bundle && records_from.is_some() {
        return Err(anyhow!("--records-from needs a complete (encrypted) backup: a log-only one holds no key to check the mirror with")).bad_input();
    }
    let r = app::backup::restore_forward(file, data, &ids, records_from)?;
    if r.forward > 0 {
        eprintln!(
            "brought the log forward by {} records from the mirror{}",
            r.forward,
            if r.erased_again > 0 {
                format!(
                    ", and erased again {} people erased since the backup",
                    r.erased_again
                )
            } else {
                String::new()
            }
        );
    }
    if !r.words_missing.is_empty() {
        eprintln!(
            "the mirror does not hold the words of {} of those records (numbers {}): they are restored without them",
            r.words_missing.len(),
            r.words_missing
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let init = integrity::existing_store(data).map(|_| ());
    init?;
    let v = jointly::ledger::verify::verify_full(&integrity::open_store(data)?.0, &mut |_| {})
        .map_err(|e| anyhow!("the restored log does not verify: {e}"))
        .failed_check()?;
    eprintln!(
        "restored {} records (verified, head {}), {} people and {} side tables into {}",
        r.records,
        v.size,
        r.people,
        r.tables,
        data.display()
    );
    Ok(())
}

/// Whether `dir` holds anything.
fn integrity_contents_taken(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Checks the bundle in `out` whole (every record, the chain, the tree):
/// one that does not verify is a failed check.
fn checked_bundle(out: &Path) -> Result<ledger::bundle::BundleSummary, Failure> {
    integrity::check_bundle(out, &mut |_| {}).map_err(|e| Failure {
        code: 1,
        error: anyhow!(
            "the copy in {} does not verify: {}",
            out.display(),
            e.message()
        ),
    })
}

/// A field of a server's answer, as text (a number or a string).
fn field(answer: &serde_json::Value, name: &str) -> Result<String, Failure> {
    match &answer[name] {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(Refusal::failed(format!("the server's answer has no {name}: {answer}")).into()),
    }
}

/// `jointly log --server`: the records, a page of a thousand at a time, as
/// `jointly log` prints them from the store.
fn log_through(
    server: &cli::remote::Server,
    from: u64,
    limit: Option<usize>,
) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // `after` is exclusive: the first page starts at `from`.
    let mut after = from.checked_sub(1);
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let mut path = format!("/v1/events?limit={}", left.min(1000));
        if let Some(a) = after {
            path.push_str(&format!("&after={a}"));
        }
        let page = server.get_json(&path)?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            let line = serde_json::json!({
                "record": e["record"], "hash": e["hash"], "payload": e["payload"],
            });
            out.write_all(&ledger::canonical::canonical_bytes(&line))
                .and_then(|()| out.write_all(b"\n"))
                .failed_check()?;
        }
        left = left.saturating_sub(events.len());
        match page["next"].as_u64() {
            Some(next) if !events.is_empty() => after = Some(next),
            _ => break,
        }
    }
    out.flush().failed_check()
}

/// `jointly verify --server`: downloads the whole log (as `backup` does,
/// to a private temporary file, removed after) and checks every record of
/// that copy: canonical bytes, chain, commitments and Merkle root.
fn verify_through(server: &cli::remote::Server) -> Result<(), Failure> {
    let copy = std::env::temp_dir().join(format!("jointly-verify-{}.jsonl", uuid::Uuid::new_v4()));
    let result = server
        .download("/v1/backup", &copy)
        .map_err(Failure::from)
        .and_then(|_| checked_bundle(&copy));
    let _ = std::fs::remove_file(&copy);
    let s = result?;
    println!(
        "verified {} records, head {}, root {} (a copy of the log served at {})",
        s.size,
        s.head,
        s.root.to_base64(),
        server.url()
    );
    Ok(())
}

/// `jointly report --server`: the server's report, as the admin token may
/// read it, in the same words or JSON.
fn report_through(
    server: &cli::remote::Server,
    project: Option<String>,
    format: Format,
    k: u64,
    waiting_days: i64,
) -> Result<(), Failure> {
    let mut path = format!("/v1/report?k={k}&waiting_days={waiting_days}");
    if let Some(p) = project {
        let id = app::project_id(&p, "--project")?;
        path.push_str(&format!(
            "&project={}",
            cli::remote::escaped(&id.to_string())
        ));
    }
    let text = match format {
        Format::Text => server.get(&format!("{path}&format=text"))?,
        Format::Json => {
            serde_json::to_string_pretty(&server.get_json(&format!("{path}&format=json"))?)
                .expect("json")
                + "\n"
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .failed_check()
}

fn token(data: &Path, command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create {
            role,
            name,
            participant,
            through,
        } => {
            let (secret, info) = match through.server()? {
                Some(server) => {
                    let body = serde_json::json!({
                        "role": role, "name": name, "participant": participant,
                    });
                    let a = server.post_json("/v1/tokens", &body)?;
                    let info: app::tokens::TokenInfo = serde_json::from_value(a["info"].clone())
                        .map_err(|e| Refusal::failed(format!("the server's new token: {e}")))?;
                    (field(&a, "token")?, info)
                }
                None => with_core(data, |app, me| async move {
                    app.create_token(&me, role, &name, participant.as_deref())
                        .await
                })?,
            };
            // The role as it is typed (`auditor`), not the type's name.
            let role = serde_json::to_value(info.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!(
                "made an access token for {} with the role {role} (id {}); it is shown only now, so keep it safe:",
                info.name, info.id
            );
            println!("{secret}");
        }
        TokenCommand::List { through } => {
            let lines: Vec<String> = match through.server()? {
                Some(server) => server
                    .get_json("/v1/tokens")?
                    .as_array()
                    .map(|ts| ts.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                None => with_core(data, |app, me| async move { app.tokens(&me) })?
                    .iter()
                    .map(|t| serde_json::to_string(t).expect("json"))
                    .collect(),
            };
            for line in lines {
                println!("{line}");
            }
        }
        TokenCommand::Revoke { id, through } => {
            let (id, name) = match through.server()? {
                Some(server) => {
                    let a = server.delete(&format!("/v1/tokens/{}", cli::remote::escaped(&id)))?;
                    (field(&a, "id")?, field(&a, "name")?)
                }
                None => {
                    let info =
                        with_core(
                            data,
                            |app, me| async move { app.revoke_token(&me, &id).await },
                        )?;
                    (info.id, info.name)
                }
            };
            eprintln!("revoked token {id} ({name})");
        }
    }
    Ok(())
}

fn witness(command: WitnessCommand) -> Result<(), Failure> {
    use jointly::witness::{self, Witness};
    match command {
        WitnessCommand::Key { key_file, name } => {
            let key = witness::open_key(&key_file, &name).failed_check()?;
            println!("{}", key.verifier());
            Ok(())
        }
        WitnessCommand::Serve {
            key_file,
            logs,
            state,
            listen,
        } => {
            let mut verifiers = Vec::new();
            for log in &logs {
                let (origin, key) = log
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--log {log:?}: expected ORIGIN=LOG_VERIFIER_KEY"))
                    .bad_input()?;
                let v = ledger::note::Verifier::parse(key).bad_input()?;
                if v.name() != origin {
                    return Err(failure(
                        true,
                        anyhow!(
                            "--log {log:?}: the key's name {:?} is not the origin",
                            v.name()
                        ),
                    ));
                }
                verifiers.push(v);
            }
            // Serving never makes a key: a mistyped path must not give the
            // witness a new identity.
            if !key_file.exists() {
                return Err(failure(
                    true,
                    anyhow!(
                        "{} does not exist; make the key with `jointly witness key --key-file {} --name NAME` first",
                        key_file.display(),
                        key_file.display()
                    ),
                ));
            }
            let cosigner = witness::open_key(&key_file, "unused").failed_check()?;
            let w = Witness::open(cosigner, verifiers, state).failed_check()?;
            let runtime = tokio::runtime::Runtime::new()
                .context("cannot start the runtime")
                .failed_check()?;
            runtime
                .block_on(witness::serve(std::sync::Arc::new(w), listen))
                .with_context(|| format!("cannot serve on {listen}"))
                .failed_check()
        }
    }
}

fn verify_receipt(file: &Path, key: &str, record: Option<&Path>) -> Result<(), Failure> {
    use jointly::ledger::note::Verifier;
    use jointly::ledger::receipt::{Receipt, ReceiptError};
    let verifier = Verifier::parse(key)
        .map_err(|e| anyhow!("--key: {e}"))
        .bad_input()?;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .bad_input()?;
    let receipt = Receipt::parse(&text).bad_input()?;
    if let Some(path) = record {
        let given = std::fs::read(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .bad_input()?;
        let value: serde_json::Value = serde_json::from_slice(&given)
            .with_context(|| format!("{} is not JSON", path.display()))
            .bad_input()?;
        // Accept a bare record or a line of `jointly log`.
        let record_value = value.get("record").cloned().unwrap_or(value);
        let bytes = ledger::canonical::canonical_bytes(&record_value);
        if bytes != receipt.record {
            return Err(anyhow!(ReceiptError::OtherRecord)).failed_check();
        }
    }
    let cp = receipt.verify(&verifier).failed_check()?;
    println!(
        "receipt verified: record {} is in {}'s log of {} records (root {})",
        receipt.index,
        cp.origin,
        cp.size,
        cp.root.to_base64()
    );
    Ok(())
}
