//! `jointly-load`: the load generator and measurements behind `tools/bench`
//! (docs/PERFORMANCE.md).
//!
//! - `http`: appends 400-byte events to `jointly serve` over its HTTP API
//!   with 1, 16 and 64 keep-alive clients; durable appends/s, p50 and p99.
//!   Without `--url` it starts a server of its own on a fresh directory.
//! - `postgres`: the same load, the same events, against PostgreSQL over its
//!   own protocol, each insert its own transaction.
//! - `limits`: what the machine allows: fsync'd small writes on a directory's
//!   filesystem, and BLAKE3, SHA-256 and canonical JSON on one core.
//! - `fill`: writes N such events into a data directory through the library,
//!   for the verification and memory measurements.
//!
//! With `--json` each prints one JSON object on stdout; tables otherwise.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use jointly_ledger::{Actor, CanonicalPayload, EventType, Ledger, NewEvent};
use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
#[command(name = "jointly-load", about = "Load and limits for tools/bench")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    http: HttpArgs,
}

#[derive(clap::Args, Clone)]
struct Load {
    /// Seconds for each number of clients.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Numbers of concurrent clients, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Clone)]
struct HttpArgs {
    #[command(flatten)]
    load: Load,
    /// A running server (host:port or http://host:port); else one is started.
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// A staff token for `--url`.
    #[arg(long, requires = "url")]
    token: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Appends over jointly's HTTP API (the default).
    Http(HttpArgs),
    /// Inserts into PostgreSQL's `events` table, each its own transaction.
    Postgres {
        #[command(flatten)]
        load: Load,
        /// A libpq connection string, e.g. "host=/tmp/pg port=5433 user=bench".
        #[arg(long)]
        conn: String,
    },
    /// The machine's limits: fsync'd writes in DIR, hashing and JSON.
    Limits {
        /// A directory on the filesystem to measure (the data directory's).
        #[arg(long)]
        dir: PathBuf,
        /// Seconds for each measurement.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Writes RECORDS events of about 400 bytes into a data directory.
    Fill {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        records: u64,
    },
}

/// The event every client sends: about 400 bytes, like the other benchmarks.
fn event_body(client: usize, n: u64) -> String {
    format!(
        r#"{{"type":"x.load.event","payload":{{"client":{client},"n":{n},"text":"{}"}}}}"#,
        "a".repeat(338)
    )
}

/// The payload alone (PostgreSQL stores the type in its own column).
fn payload_body(client: usize, n: u64) -> String {
    format!(
        r#"{{"client":{client},"n":{n},"text":"{}"}}"#,
        "a".repeat(338)
    )
}

/// Latencies of one client, in ms, or why it stopped.
type ClientResult = Result<Vec<f64>, String>;

/// One keep-alive HTTP client appending until `until`. It reuses its
/// buffers and reads each answer with as few calls as it can, so that it
/// takes as little as possible of the cores it shares with the server.
async fn http_client(addr: String, token: String, id: usize, until: Instant) -> ClientResult {
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).ok();
    let mut lat = Vec::new();
    let mut n = 0u64;
    let (mut req, mut buf) = (Vec::with_capacity(1024), Vec::with_capacity(4096));
    while Instant::now() < until {
        let body = event_body(id, n);
        req.clear();
        write!(
            req,
            "POST /v1/events HTTP/1.1\r\nHost: load\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write to a Vec");
        let t = Instant::now();
        stream.write_all(&req).await.map_err(|e| e.to_string())?;
        // Read until the head is complete, then the body it announces.
        buf.clear();
        let (head_len, body_len) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (end + 4, content_length(&buf[..end]));
            }
            if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                return Err("the server closed the connection".into());
            }
        };
        while buf.len() < head_len + body_len {
            if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                return Err("the server closed the connection".into());
            }
        }
        if !buf.starts_with(b"HTTP/1.1 201") {
            return Err(format!(
                "append refused: {}",
                String::from_utf8_lossy(&buf[..buf.len().min(600)])
            ));
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
    Ok(lat)
}

/// The Content-Length of a response head (0 if it has none).
fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
            name.eq_ignore_ascii_case(b"content-length")
                .then(|| std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// One PostgreSQL connection inserting until `until`, each insert its own
/// transaction (autocommit), as an application would.
async fn postgres_client(conn: String, id: usize, until: Instant) -> ClientResult {
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    let insert = client
        .prepare("INSERT INTO events (at, type, body) VALUES (now(), $1, $2::text::jsonb)")
        .await
        .map_err(|e| e.to_string())?;
    let mut lat = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        let body = payload_body(id, n);
        let t = Instant::now();
        client
            .execute(&insert, &[&"x.load.event", &body])
            .await
            .map_err(|e| format!("insert failed: {e}"))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
    Ok(lat)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `client` for each number of clients and reports the figures.
async fn drive<F, Fut>(what: &str, load: &Load, client: F) -> Result<Value, String>
where
    F: Fn(usize, Instant) -> Fut,
    Fut: std::future::Future<Output = ClientResult> + Send + 'static,
{
    let mut runs = Vec::new();
    if !load.json {
        println!(
            "clients  appends/s   p50 ms   p99 ms   ({what}, {} s each)",
            load.seconds
        );
    }
    for &n in &load.clients {
        let until = Instant::now() + Duration::from_secs(load.seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(client(i, until))).collect();
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.map_err(|e| e.to_string())??);
        }
        let secs = started.elapsed().as_secs_f64();
        lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let (rate, p50, p99) = (
            lat.len() as f64 / secs,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
        );
        if !load.json {
            println!("{n:>7}  {rate:>9.0}  {p50:>7.2}  {p99:>7.2}");
        }
        runs.push(json!({"clients": n, "appends_per_s": rate, "p50_ms": p50, "p99_ms": p99, "appends": lat.len()}));
    }
    Ok(json!({ "runs": runs }))
}

/// fsync'd small writes: each appends 400 bytes to a file and `fdatasync`s,
/// as a one-record commit would.
fn fsync_limit(dir: &std::path::Path, seconds: u64) -> std::io::Result<(f64, f64)> {
    let path = dir.join(".jointly-load-fsync");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = [7u8; 400];
    let (mut lat, mut at) = (Vec::new(), 0u64);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    while Instant::now() < until {
        let t = Instant::now();
        file.write_all_at(&block, at)?;
        file.sync_data()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        at += block.len() as u64;
    }
    let rate = lat.len() as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
    Ok((rate, percentile(&lat, 0.5)))
}

/// How many times a second `f` runs on one core, over `seconds`.
fn per_second(seconds: u64, mut f: impl FnMut() -> usize) -> f64 {
    let until = Instant::now() + Duration::from_secs(seconds);
    let (started, mut n, mut sink) = (Instant::now(), 0u64, 0usize);
    while Instant::now() < until {
        for _ in 0..1000 {
            sink = sink.wrapping_add(f());
        }
        n += 1000;
    }
    std::hint::black_box(sink);
    n as f64 / started.elapsed().as_secs_f64()
}

fn limits(dir: &std::path::Path, seconds: u64) -> Result<Value, String> {
    use sha2::Digest as _;
    let (fsyncs, fsync_p50) = fsync_limit(dir, seconds)
        .map_err(|e| format!("cannot measure fsync in {}: {e}", dir.display()))?;
    // A 400-byte record as the log holds it: canonical JSON.
    let record = event_body(0, 1);
    let record = record.as_bytes();
    assert_eq!(record.len(), 400);
    let blake3 = per_second(seconds, || {
        blake3::hash(std::hint::black_box(record)).as_bytes()[0] as usize
    });
    let sha256 = per_second(seconds, || {
        sha2::Sha256::digest(std::hint::black_box(record))[0] as usize
    });
    let canonical = per_second(seconds, || {
        CanonicalPayload::parse(std::hint::black_box(record))
            .map(|p| p.as_bytes().len())
            .unwrap_or(0)
    });
    Ok(json!({
        "fsync_per_s": fsyncs,
        "fsync_p50_ms": fsync_p50,
        "record_bytes": record.len(),
        "blake3_records_per_s": blake3,
        "sha256_records_per_s": sha256,
        "canonical_json_records_per_s": canonical,
    }))
}

fn fill(data: &std::path::Path, records: u64) -> Result<Value, String> {
    let (ledger, _) = Ledger::open(data).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (event_type, actor) = (
        EventType::new("x.load.event").unwrap(),
        Actor::new("token:load").unwrap(),
    );
    let mut n = 0u64;
    while n < records {
        let batch = (n..records.min(n + 10_000))
            .map(|i| NewEvent {
                expected: None,
                event_type: event_type.clone(),
                actor: actor.clone(),
                payload: CanonicalPayload::parse(payload_body(0, i).as_bytes()).unwrap(),
            })
            .collect::<Vec<_>>();
        n += batch.len() as u64;
        ledger.append_batch(batch).map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(
        json!({"records": ledger.head().size, "seconds": secs, "disk_bytes": ledger.store().disk_bytes()}),
    )
}

/// Starts `jointly serve` (the binary beside this one) on a fresh data
/// directory with a staff token; returns its address and token.
struct OwnServer {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl OwnServer {
    fn start() -> Result<(OwnServer, String, String), String> {
        let bin = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("jointly");
        let dir = tempfile::tempdir_in(".").map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let out = std::process::Command::new(&bin)
            .arg("--data")
            .arg(&data)
            .args(["token", "create", "--role", "staff", "--name", "load"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let token = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(&bin)
            .arg("--data")
            .arg(&data)
            .args(["serve", "--listen", &addr])
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start jointly serve: {e}"))?;
        Ok((OwnServer { child, _dir: dir }, addr, token))
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        // SIGTERM, so it stops gracefully and flushes.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn http(a: HttpArgs) -> Result<Value, String> {
    let (_server, addr, token) = match (a.url, a.token) {
        (Some(url), Some(token)) => (
            None,
            url.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            token,
        ),
        _ => {
            let (s, addr, token) = OwnServer::start()?;
            (Some(s), addr, token)
        }
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drive("durable appends over HTTP", &a.load, |i, until| {
        http_client(addr.clone(), token.clone(), i, until)
    })
    .await
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let (json_out, result) = match cli.command {
        None => (cli.http.load.json, rt.block_on(http(cli.http))),
        Some(Command::Http(a)) => (a.load.json, rt.block_on(http(a))),
        Some(Command::Postgres { load, conn }) => (
            load.json,
            rt.block_on(drive("inserts into PostgreSQL", &load, |i, until| {
                postgres_client(conn.clone(), i, until)
            })),
        ),
        Some(Command::Limits { dir, seconds, json }) => (json, limits(&dir, seconds)),
        Some(Command::Fill { data, records }) => (true, fill(&data, records)),
    };
    match result {
        Ok(v) if json_out => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{v}");
        }
        Ok(v) if v.get("runs").is_none() => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap())
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("jointly-load: {e}");
            std::process::exit(1);
        }
    }
}
