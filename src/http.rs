//! A small blocking HTTP/1.1 client for the few calls jointly makes to other
//! servers: an auditor fetching checkpoints and proofs, a backup taken from
//! a running server, a log submitting checkpoints to witnesses. It speaks
//! https:// through rustls, trusting the system's certificate authorities,
//! the Mozilla roots built in (for a machine without them), and any given
//! with `--ca-cert` (a proxy's own, such as Caddy's `tls internal`).

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}: only http:// and https:// addresses are supported")]
    Scheme(String),
    #[error("{0}")]
    Certificates(String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    #[error("{0}: the answer is not HTTP/1.1 with a UTF-8 body")]
    Malformed(String),
    /// The server answered, but not with the download: its status and the
    /// start of what it said.
    #[error("{host} answered HTTP {status}: {body}")]
    Refused {
        host: String,
        status: u16,
        body: String,
    },
}

/// A server's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The Content-Type header, as sent (empty when absent).
    pub content_type: String,
    pub body: String,
}

/// Certificate authorities trusted besides the system's (`--ca-cert`).
static EXTRA: Mutex<Vec<CertificateDer<'static>>> = Mutex::new(Vec::new());
/// The TLS settings, made once the first https:// request is made.
static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Trusts the certificate authorities in the PEM file at `path` too (for
/// a server whose certificate a private authority signed). Call before
/// the first request. Returns how many were read.
pub fn trust_also(path: &std::path::Path) -> Result<usize, HttpError> {
    let bad = |why: String| HttpError::Certificates(format!("--ca-cert {}: {why}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(
            "it holds no certificate (PEM, BEGIN CERTIFICATE)".into()
        ));
    }
    let n = certs.len();
    EXTRA
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(certs);
    Ok(n)
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    TLS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system's own (Debian's ca-certificates), where it has them.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for cert in EXTRA.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = roots.add(cert.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    })
    .clone()
}

/// A connection to a server, in the clear or through TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn set_read_timeout(&self, t: Option<Duration>) {
        let s = match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => &t.sock,
        };
        s.set_read_timeout(t).ok();
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            // A server that closes without TLS's goodbye has still sent all
            // it had: Content-Length or the close tells the end, as in the clear.
            Conn::Tls(t) => match t.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

/// Connects to `server` (`http[s]://host[:port][/prefix]`); returns the
/// connection, the host as given, and the path prefix.
fn connect(server: &str, timeout: Duration) -> Result<(Conn, String, String), HttpError> {
    let (tls, host) = match (
        server.strip_prefix("https://"),
        server.strip_prefix("http://"),
    ) {
        (Some(h), _) => (true, h),
        (None, Some(h)) => (false, h),
        (None, None) => return Err(HttpError::Scheme(server.to_string())),
    };
    let host = host.trim_end_matches('/');
    // A server given with a path prefix (a witness's submission prefix).
    let (host, prefix) = match host.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (host, String::new()),
    };
    let fail = |e: String| HttpError::Connect(host.to_string(), e);
    // Port 80 or 443 when none is given, as a browser would.
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| p.parse::<u16>().is_ok() && !h.ends_with(':'));
    let with_port = match (has_port, tls) {
        (true, _) => host.to_string(),
        (false, true) => format!("{host}:443"),
        (false, false) => format!("{host}:80"),
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(e.to_string()))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    if !tls {
        return Ok((Conn::Plain(s), host.to_string(), prefix));
    }
    let name = with_port.rsplit_once(':').map_or(host, |(h, _)| h);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(name.to_string()).map_err(|e| {
        fail(format!(
            "{name:?} is not a name a certificate can have: {e}"
        ))
    })?;
    let conn = rustls::ClientConnection::new(tls_config(), server_name)
        .map_err(|e| fail(e.to_string()))?;
    Ok((
        Conn::Tls(Box::new(rustls::StreamOwned::new(conn, s))),
        host.to_string(),
        prefix,
    ))
}

/// Sends one request (`body` for POST) and reads the whole answer, within
/// `timeout` from start to end (a server that trickles its answer is cut
/// off too) and up to `max_bytes` of it (a larger answer is refused, never
/// read to its end).
pub fn request(
    server: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Answer, HttpError> {
    let body = body.map(|b| ("text/plain; charset=utf-8", b));
    exchange(server, (method, path), None, body, timeout, max_bytes)
}

/// [`request`] with a bearer token and, for a body, JSON: a call to
/// jointly's own API (the commands given `--server`).
pub fn call(
    server: &str,
    (method, path): (&str, &str),
    token: &str,
    json: Option<&str>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Answer, HttpError> {
    let body = json.map(|b| ("application/json", b));
    exchange(
        server,
        (method, path),
        Some(token),
        body,
        timeout,
        max_bytes,
    )
}

fn exchange(
    server: &str,
    (method, path): (&str, &str),
    token: Option<&str>,
    body: Option<(&str, &str)>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Answer, HttpError> {
    let deadline = std::time::Instant::now() + timeout;
    let (mut s, host, prefix) = connect(server, timeout)?;
    let connect = |e: String| HttpError::Connect(host.clone(), e);
    let mut head =
        format!("{method} {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some((kind, b)) = body {
        head.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.map_or("", |(_, b)| b).as_bytes()))
        .map_err(|e| connect(e.to_string()))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(connect(format!(
                "no whole answer within {} s",
                timeout.as_secs_f64()
            )));
        }
        s.set_read_timeout(Some(left));
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(connect(e.to_string())),
        }
        if raw.len() > max_bytes {
            return Err(connect(format!(
                "the answer is larger than {max_bytes} bytes; refused"
            )));
        }
    }
    let malformed = || HttpError::Malformed(format!("{method} {path}"));
    let text = String::from_utf8(raw).map_err(|_| malformed())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(malformed)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    Ok(Answer {
        status,
        content_type: header("content-type").unwrap_or_default(),
        body: if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// GETs `path` with a bearer token and writes the body to `out` as it
/// comes (for large answers with a Content-Length, such as a backup).
/// Returns the bytes written.
pub fn download(
    server: &str,
    path: &str,
    token: &str,
    out: &std::path::Path,
    timeout: Duration,
) -> Result<u64, HttpError> {
    let (mut s, host, prefix) = connect(server, timeout)?;
    let connect = |e: String| HttpError::Connect(host.clone(), e);
    write!(
        s,
        "GET {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| connect(e.to_string()))?;
    let mut reader = std::io::BufReader::new(s);
    let malformed = || HttpError::Malformed(format!("GET {path}"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line)
            .map_err(|e| connect(e.to_string()))?
            == 0
        {
            return Err(malformed());
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    if status != 200 {
        let mut body = String::new();
        let _ = reader.read_to_string(&mut body);
        return Err(HttpError::Refused {
            host: host.to_string(),
            status,
            body: body.chars().take(2000).collect(),
        });
    }
    // What is downloaded (a backup) may hold personal data: its owner's alone.
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| connect(format!("{}: {e}", out.display())))?;
    let n = std::io::copy(&mut reader, &mut file).map_err(|e| connect(e.to_string()))?;
    file.sync_all().map_err(|e| connect(e.to_string()))?;
    Ok(n)
}
