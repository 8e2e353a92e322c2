//! Baton's server: the HTTP and WebSocket API, authentication, and the conversation service
//! that the API calls.
//!
//! Handlers (in [`api`]) parse and authorise requests and call the services (such as
//! [`conversations`]); services call the pure core and the store.

pub mod agent_stream;
pub mod analysis;
pub mod api;
pub mod assistant;
pub mod auth;
pub mod config;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod handoffs;
pub mod knowledge;
pub mod notices;
pub mod policy;
pub mod state;
pub mod stream;
pub mod web;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
pub use state::{AppState, SharedState};

/// Installs the process-wide Prometheus recorder once and returns its handle.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// Runs Baton until `shutdown` completes: opens the database (creating it and applying
/// migrations), binds, prints `listening on http://ADDR`, serves, then finishes in-flight
/// requests and closes the database.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = config.listen_addr()?;
    let store = baton_store::open(&config.database.url, config.database.durability)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&config.database.url)
            )
        })?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = Arc::new(AppState::new(config, store.clone(), metrics_handle(), stop_rx).await?);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // The one line scripts and tests wait for.
    println!("listening on http://{local}");
    tracing::info!(%local, backend = store.backend(), "Baton is ready");

    spawn_kb_refresh(state.clone());
    tokio::spawn(handoffs::run(state.clone()));
    if state.config.policy.reload_ms > 0 && state.config.policy.path.is_some() {
        state.policy.clone().follow(
            Duration::from_millis(state.config.policy.reload_ms),
            state.shutdown.clone(),
        );
    }
    let app = api::router(state);
    // Small writes go out at once: with Nagle's algorithm, an event pushed on a stream right
    // after another waits for the client's delayed acknowledgement, up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
    });
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
        let _ = drained_tx.send(());
    });
    let serving = tokio::spawn(async move { server.await });
    // Once shutdown starts, give in-flight work `grace` to finish.
    let result = tokio::select! {
        r = serving => r.context("server task failed")?.map_err(anyhow::Error::from),
        _ = async {
            let _ = drained_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    };
    store.close().await;
    result
}

/// Follows knowledge-base changes made elsewhere (another process, `baton kb import`) by
/// polling the store's revision.
fn spawn_kb_refresh(state: SharedState) {
    let every = Duration::from_secs(state.config.knowledge.refresh_secs);
    let mut shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            match state.kb.refresh(&*state.store).await {
                Ok(true) => {
                    tracing::info!(revision = state.kb.revision(), "knowledge base reloaded")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot refresh the knowledge base"),
            }
        }
    });
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Hides a password in a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
