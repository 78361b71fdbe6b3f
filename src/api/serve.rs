//! Running the API on a socket, with graceful shutdown: on SIGINT or
//! SIGTERM the server stops taking connections, answers the requests in
//! flight, then the writer finishes its queue and the store is flushed.

use super::{AppState, Config, app};
use std::net::SocketAddr;

/// Serves until a shutdown signal; returns once everything is on disk.
pub async fn serve(state: AppState, listen: SocketAddr, config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("jointly is listening on http://{}", listener.local_addr()?);
    let router = app(state.clone(), &config);
    state.app().start_witnessing();
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
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    eprintln!("jointly is stopping: finishing queued appends");
    state.shutdown().await;
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
