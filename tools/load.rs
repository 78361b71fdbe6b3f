//! `jointly-load`: appends over HTTP with 1, 16 and 64 keep-alive clients
//! and reports durable appends/s and p50/p99 latency (docs/PERFORMANCE.md).
//!
//! Self-contained: it makes a fresh data directory, a staff token, and starts
//! `jointly serve` (the binary beside this one) on a free loopback port; or
//! give `--url` and `--token` to load a server you run yourself.
//!
//! Usage: jointly-load [--seconds N] [--clients 1,16,64] [--url URL --token T]

use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

struct Args {
    seconds: u64,
    clients: Vec<usize>,
    url: Option<String>,
    token: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 10,
        clients: vec![1, 16, 64],
        url: None,
        token: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => a.seconds = value()?.parse().map_err(|_| "--seconds: a whole number")?,
            "--clients" => {
                a.clients = value()?
                    .split(',')
                    .map(|c| {
                        c.trim()
                            .parse()
                            .map_err(|_| "--clients: numbers separated by commas")
                    })
                    .collect::<Result<_, _>>()?
            }
            "--url" => a.url = Some(value()?),
            "--token" => a.token = Some(value()?),
            "--help" | "-h" => {
                return Err(
                    "usage: jointly-load [--seconds N] [--clients 1,16,64] [--url URL --token T]"
                        .into(),
                );
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// One keep-alive client appending until `until`; returns latencies in ms.
async fn client(
    addr: String,
    token: String,
    id: usize,
    until: Instant,
) -> Result<Vec<f64>, String> {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).ok();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut lat = Vec::new();
    let filler = "a".repeat(300);
    let mut n = 0u64;
    while Instant::now() < until {
        // About 400 bytes of event, like the other benchmarks.
        let body = format!(
            r#"{{"type":"x.load.event","payload":{{"client":{id},"n":{n},"text":"{filler}"}}}}"#
        );
        let req = format!(
            "POST /v1/events HTTP/1.1\r\nHost: load\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let t = Instant::now();
        w.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut status = String::new();
        r.read_line(&mut status).await.map_err(|e| e.to_string())?;
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await.map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0; len];
        r.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if !status.starts_with("HTTP/1.1 201") {
            return Err(format!(
                "append refused: {} {}",
                status.trim(),
                String::from_utf8_lossy(&buf)
            ));
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
    Ok(lat)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("jointly-load: {e}");
            std::process::exit(2);
        }
    };
    let mut server = None;
    let _dir;
    let (addr, token) = match (a.url.clone(), a.token.clone()) {
        (Some(url), Some(token)) => (
            url.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            token,
        ),
        (None, None) => {
            let bin = std::env::current_exe().unwrap().with_file_name("jointly");
            let dir = tempfile::tempdir_in(".").expect("a temporary data directory");
            let data = dir.path().join("data");
            let out = std::process::Command::new(&bin)
                .args(["--data"])
                .arg(&data)
                .args(["token", "create", "--role", "staff", "--name", "load"])
                .output()
                .expect("run jointly token create");
            let token = String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap_or_default()
                .to_string();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = format!("127.0.0.1:{port}");
            server = Some(
                std::process::Command::new(&bin)
                    .args(["--data"])
                    .arg(&data)
                    .args(["serve", "--listen", &addr])
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("start jointly serve"),
            );
            _dir = dir;
            (addr, token)
        }
        _ => {
            eprintln!("jointly-load: give both --url and --token, or neither");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!(
            "clients  appends/s   p50 ms   p99 ms   (durable appends over HTTP, {} s each)",
            a.seconds
        );
        for &n in &a.clients {
            let until = Instant::now() + Duration::from_secs(a.seconds);
            let started = Instant::now();
            let tasks: Vec<_> = (0..n)
                .map(|i| tokio::spawn(client(addr.clone(), token.clone(), i, until)))
                .collect();
            let mut lat = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(l) => lat.extend(l),
                    Err(e) => {
                        eprintln!("jointly-load: {e}");
                        std::process::exit(1);
                    }
                }
            }
            let secs = started.elapsed().as_secs_f64();
            lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
            println!(
                "{n:>7}  {:>9.0}  {:>7.2}  {:>7.2}",
                lat.len() as f64 / secs,
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
        }
    });
    if let Some(mut s) = server {
        stop_gracefully(&s);
        let _ = s.wait();
    }
}

/// Asks the server to stop gracefully (SIGTERM), so it flushes.
fn stop_gracefully(child: &std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}
