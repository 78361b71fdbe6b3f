//! Running the API on a socket. Each connection is served by hyper with
//! limits that keep one slow or greedy client from holding the server: a
//! request head must arrive within `Config::header_timeout` (also the
//! longest a kept-alive connection may sit idle), a body must not stall
//! (`Config::request_timeout` for the whole request), and one address may
//! hold at most `Config::connections_per_address` connections. Every
//! request carries its peer address (axum's `ConnectInfo`), for the
//! sign-in limits.
//!
//! On SIGINT or SIGTERM the server stops taking connections, ends its
//! streams, answers the requests in flight (for at most
//! [`DRAIN`]), then the writer finishes its queue.

use super::{AppState, Config, app};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Longest the server waits, once told to stop, for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Open connections per peer address.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One open connection, counted until it is dropped.
struct Slot {
    connections: Connections,
    ip: IpAddr,
}

impl Connections {
    fn take(&self, ip: IpAddr, most: usize) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Slot {
            connections: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves until a shutdown signal; returns once everything is on disk.
pub async fn serve(state: AppState, listen: SocketAddr, config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("jointly is listening on http://{}", listener.local_addr()?);
    serve_on(listener, state, config, shutdown_signal()).await
}

/// Serves on `listener` until `stop` resolves; returns once everything is
/// on disk.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let router = app(state.clone(), &config);
    state.app().start_witnessing();
    state
        .app()
        .start_daily_publication(config.publish_equality_at);
    let damaged = state.app().damaged_people();
    if damaged > 0 {
        eprintln!(
            "jointly: {damaged} people-store entries cannot be read; they are passed over (see `jointly person check`)"
        );
    }
    // Verify the whole log in the background at start and every hour, so
    // /metrics can say when the record last checked out.
    let checker = state.clone();
    tokio::spawn(async move {
        loop {
            let s = checker.clone();
            match tokio::task::spawn_blocking(move || s.verify_now()).await {
                Ok(Ok(n)) => eprintln!("verified {n} records"),
                Ok(Err(e)) => eprintln!("VERIFICATION FAILED: {e}"),
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
                eprintln!("jointly: the model could not be saved: {e}");
            }
        }
    });
    let graceful = GracefulShutdown::new();
    let connections = Connections::default();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait, and go on.
                    eprintln!("jointly: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(slot) = connections.take(peer.ip(), config.connections_per_address) else {
            drop(stream); // too many from this address already
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    drop(listener);
    eprintln!("jointly is stopping: answering the requests in flight");
    state.app().begin_stopping();
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "jointly: some connections were still open after {} s; closing them",
            DRAIN.as_secs()
        );
    }
    eprintln!("jointly is stopping: finishing queued appends");
    state.shutdown().await;
    let s = state.clone();
    match tokio::task::spawn_blocking(move || s.app().save_snapshot(0)).await {
        Ok(Ok(Some(size))) => {
            eprintln!("jointly: saved the model at {size} records for the next start")
        }
        Ok(Err(e)) => eprintln!("jointly: the model could not be saved: {e}"),
        Ok(Ok(None)) | Err(_) => {}
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
