//! A small blocking HTTP/1.1 client for the few calls jointly makes to other
//! servers: an auditor fetching checkpoints and proofs, a log submitting
//! checkpoints to witnesses. Plain http:// only; put TLS in front of a
//! public server (a reverse proxy) and reach it through a local tunnel.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}: only http:// addresses are supported")]
    Scheme(String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    #[error("{0}: the answer is not HTTP/1.1 with a UTF-8 body")]
    Malformed(String),
}

/// A server's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The Content-Type header, as sent (empty when absent).
    pub content_type: String,
    pub body: String,
}

/// Connects to `server` (`http://host[:port][/prefix]`); returns the
/// stream, the host as given, and the path prefix.
fn connect(server: &str, timeout: Duration) -> Result<(TcpStream, String, String), HttpError> {
    let host = server
        .strip_prefix("http://")
        .ok_or_else(|| HttpError::Scheme(server.to_string()))?
        .trim_end_matches('/');
    // A server given with a path prefix (a witness's submission prefix).
    let (host, prefix) = match host.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (host, String::new()),
    };
    let fail = |e: String| HttpError::Connect(host.to_string(), e);
    // Port 80 when none is given, as a browser would.
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(e.to_string()))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    Ok((s, host.to_string(), prefix))
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
    let deadline = std::time::Instant::now() + timeout;
    let (mut s, host, prefix) = connect(server, timeout)?;
    let connect = |e: String| HttpError::Connect(host.clone(), e);
    let mut head =
        format!("{method} {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.unwrap_or("").as_bytes()))
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
        s.set_read_timeout(Some(left)).ok();
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
        return Err(HttpError::Connect(
            host.to_string(),
            format!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ),
        ));
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
