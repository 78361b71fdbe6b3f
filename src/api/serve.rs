//! Running the API, and the witness, on a socket: one accept loop on hyper
//! for both (`accept`), with limits that keep one slow or greedy client
//! from holding the server ([`Limits`]). HTTP/1.1 only, so that every
//! connection is under a head deadline: a request head must arrive within
//! `header_timeout` (also the longest a kept-alive connection may sit
//! idle, a body may stall, and an answer may wait to be taken), a request
//! must be answered within `request_timeout`; one address holds at most
//! `connections_per_address` connections and one client at most as many
//! requests at once; and the whole server at most `connections`, kept
//! under the file-descriptor limit. A trusted proxy is many clients: its
//! connections are not counted by address, its requests are counted by
//! the client each names ([`client_address`]). Every request carries its
//! peer address (axum's `ConnectInfo`), for the sign-in and stream limits.
//!
//! On SIGINT or SIGTERM the server stops taking connections, ends its
//! streams, answers the requests in flight (for at most
//! [`DRAIN`]), then the writer finishes its queue.

use super::error::AppError;
use super::{AppState, Config, app};
use crate::refusal::Refusal;
use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;

/// Longest the server waits, once told to stop, for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(10);

/// How long a client refused for holding too much is asked to wait
/// (`Retry-After`) before it tries again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// What the accept loop holds every connection to. `serve` takes them
/// from its [`Config`]; `witness serve` has the same defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest a request head may take to arrive, a kept-alive connection
    /// may sit idle, a body may stall, or an answer may wait to be taken,
    /// before the connection is closed.
    pub header_timeout: Duration,
    /// Longest a request may take, its body included, before it is
    /// answered 408 (a stream's life is bounded apart: `Config::stream_life`).
    pub request_timeout: Duration,
    /// Most connections open at once from one address (a trusted proxy's
    /// are not counted by address), and most requests in flight from one
    /// client (behind a trusted proxy, the client it names).
    pub connections_per_address: usize,
    /// Most connections open at once in all; past it, new ones wait in the
    /// listen queue until one closes.
    pub connections: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: super::proxy::TrustedProxies,
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Self {
        Limits {
            header_timeout: c.header_timeout,
            request_timeout: c.request_timeout,
            connections_per_address: c.connections_per_address,
            connections: c.connections,
            trusted_proxies: c.trusted_proxies.clone().into(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from(&Config::default())
    }
}

/// The connections the file-descriptor limit leaves room for: `wanted`,
/// or three quarters of the limit if that is fewer (the rest is for the
/// store's files, requests to witnesses and mail). Past the limit the
/// server could accept no one, nor open a file.
pub fn within_descriptor_limit(wanted: usize) -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let room = limit.map_or(usize::MAX, |n| {
        usize::try_from(n / 4 * 3).unwrap_or(usize::MAX)
    });
    if room < wanted {
        tracing::warn!(
            "at most {room} connections at once, for a file-descriptor limit of {} (raise it for more)",
            limit.unwrap_or_default()
        );
    }
    wanted.min(room).max(1)
}

/// The address a request comes from: the socket's peer, or, when the peer
/// is a trusted proxy, the last address before it in `X-Forwarded-For`.
/// The proxy appends what it saw, so the header is read from the right,
/// past any other trusted proxies; what a client wrote itself is further
/// left and never believed.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &super::proxy::TrustedProxies,
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// How many of something each holder has open (connections by address,
/// requests by client, streams by token), each given back when its
/// [`Share`] is dropped. Cheap to clone.
pub struct Shares<K>(Arc<Mutex<HashMap<K, usize>>>);

impl<K> Clone for Shares<K> {
    fn clone(&self) -> Self {
        Shares(self.0.clone())
    }
}

impl<K> Default for Shares<K> {
    fn default() -> Self {
        Shares(Arc::default())
    }
}

/// One thing held open, counted until it is dropped.
pub struct Share<K: Hash + Eq> {
    shares: Shares<K>,
    holder: K,
}

impl<K: Hash + Eq + Clone> Shares<K> {
    /// One more for `holder`, unless it already has `most`.
    pub fn take(&self, holder: K, most: usize) -> Option<Share<K>> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(holder.clone()).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Share {
            shares: self.clone(),
            holder,
        })
    }
}

impl<K: Hash + Eq> Drop for Share<K> {
    fn drop(&mut self) {
        let mut open = self.shares.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.holder) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.holder);
            }
        }
    }
}

/// A connection whose writes fail once its client has taken nothing for
/// `limit`: an answer, a stream's above all, lasts only as long as someone
/// reads it, and a stream that is not read is not polled, so it could not
/// end itself.
struct Taken<T> {
    io: T,
    limit: Duration,
    /// Running while a write waits on the client.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Taken<T> {
    fn check<R>(
        &mut self,
        r: Poll<std::io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<R>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took nothing of the answer",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Taken<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Taken<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.check(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.check(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.check(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.check(r, cx)
    }
}

/// The timeouts inside a request, for a router: a body that stalls, and a
/// request not answered in time (408).
pub fn with_timeouts<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limits: &Limits,
) -> Router<S> {
    router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.header_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
}

/// Takes connections on `listener` and serves `router` on each within
/// `limits`, until `stop` resolves; then closes the listener, calls
/// `stopping`, and waits (at most [`DRAIN`]) for the requests in flight.
pub async fn accept(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    stop: impl std::future::Future<Output = ()>,
    stopping: impl FnOnce(),
) {
    let graceful = GracefulShutdown::new();
    let room = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let by_address = Shares::<IpAddr>::default();
    let by_client = Shares::<IpAddr>::default();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let trusted = limits.trusted_proxies.clone();
    let most = limits.connections_per_address;
    tokio::pin!(stop);
    loop {
        // At the limit, wait for a connection to close: those waiting stay
        // in the listen queue rather than being refused.
        let place = tokio::select! {
            p = room.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait, and go on.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // A trusted proxy is many clients: its requests are counted below,
        // by the client each names, not its connections by its address.
        let address_share = if trusted.contains(&peer.ip()) {
            None
        } else {
            match by_address.take(peer.ip(), most) {
                Some(s) => Some(s),
                None => continue, // too many from this address already
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let by_client = by_client.clone();
        let trusted = trusted.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            let client = client_address(peer.ip(), req.headers(), &trusted);
            let share = by_client.take(client, most);
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let router = router.clone();
            async move {
                let Some(share) = share else {
                    return Ok(AppError::from(
                        Refusal::too_many(format!(
                            "this client has {most} requests in flight already; wait for them"
                        ))
                        .try_again_in(RETRY_AFTER),
                    )
                    .into_response());
                };
                let resp = router.oneshot(req.map(axum::body::Body::new)).await?;
                // The client's share is given back when the answer's body
                // is done with (a stream's, when the stream ends).
                Ok::<_, std::convert::Infallible>(resp.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _ = &share;
                        frame
                    }))
                }))
            }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let io = Taken {
            io: stream,
            limit: limits.header_timeout,
            stalled: None,
        };
        tokio::spawn(async move {
            let _held = (place, address_share);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let _ = watcher.watch(conn).await;
        });
    }
    drop(listener);
    stopping();
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            "some connections were still open after {} s; closing them",
            DRAIN.as_secs()
        );
    }
}

/// Serves until a shutdown signal; returns once everything is on disk.
pub async fn serve(state: AppState, listen: SocketAddr, config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("jointly is listening on http://{}", listener.local_addr()?);
    serve_on(listener, state, config, shutdown_signal()).await
}

/// Serves on `listener` until `stop` resolves; returns once everything is
/// on disk.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    config.connections = within_descriptor_limit(config.connections);
    let router = app(state.clone(), &config);
    state.app().start_witnessing();
    state
        .app()
        .start_daily_publication(config.publish_equality_at);
    let damaged = state.app().damaged_people();
    if damaged > 0 {
        tracing::warn!(
            "{damaged} people-store entries cannot be read; they are passed over (see `jointly person check`)"
        );
    }
    // Verify the whole log in the background at start and every hour, so
    // /metrics can say when the record last checked out.
    let checker = state.clone();
    tokio::spawn(async move {
        loop {
            let s = checker.clone();
            match tokio::task::spawn_blocking(move || s.verify_now()).await {
                Ok(Ok(n)) => tracing::info!("verified {n} records"),
                Ok(Err(e)) => tracing::error!("VERIFICATION FAILED: {e}"),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    // Save the model for the next start-up once the log has grown well
    // past the last snapshot (or there is none).
    let saver = state.clone();
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(5);
        loop {
            tokio::time::sleep(wait).await;
            wait = Duration::from_secs(60);
            let s = saver.clone();
            let every = crate::app::snapshot::SAVE_EVERY;
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || s.app().save_snapshot(every)).await
            {
                tracing::error!("the model could not be saved: {e}");
            }
        }
    });
    let limits = Limits::from(&config);
    let stopping = state.clone();
    accept(listener, router, &limits, stop, move || {
        tracing::info!("jointly is stopping: answering the requests in flight");
        stopping.app().begin_stopping();
    })
    .await;
    tracing::info!("jointly is stopping: finishing queued appends");
    state.shutdown().await;
    let s = state.clone();
    match tokio::task::spawn_blocking(move || s.app().save_snapshot(0)).await {
        Ok(Ok(Some(size))) => {
            tracing::info!("saved the model at {size} records for the next start")
        }
        Ok(Err(e)) => tracing::error!("the model could not be saved: {e}"),
        Ok(Ok(None)) | Err(_) => {}
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // SIGHUP too (a closed terminal, or an operator who expects a reload):
    // a clean stop, never the hard stop its default would be. The service
    // manager starts it again with the configuration as it now is.
    let signal = |kind: tokio::signal::unix::SignalKind, name: &'static str| async move {
        match tokio::signal::unix::signal(kind) {
            Ok(mut s) => {
                s.recv().await;
                tracing::info!("{name} received");
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = signal(tokio::signal::unix::SignalKind::terminate(), "SIGTERM") => {},
        () = signal(tokio::signal::unix::SignalKind::hangup(), "SIGHUP") => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An answer nobody takes fails once the limit has passed with nothing
    /// taken; one taken slowly but steadily goes through whole.
    #[tokio::test]
    async fn an_answer_nobody_takes_is_cut_off() {
        let limit = Duration::from_millis(200);
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut io = Taken {
            io: ours,
            limit,
            stalled: None,
        };
        let started = std::time::Instant::now();
        let e = io.write_all(&[b'x'; 1024]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));

        let (ours, mut theirs) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 1024 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                got += theirs.read(&mut buf).await.unwrap();
            }
            got
        });
        let mut io = Taken {
            io: ours,
            limit,
            stalled: None,
        };
        io.write_all(&[b'x'; 1024]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 1024);
    }
}
