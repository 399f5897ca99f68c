//! The `skirmish-server` binary: parse settings, start logging, serve until
//! SIGINT or SIGTERM, then shut down gracefully.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use skirmish_server::config::LogFormat;
use skirmish_server::{Config, Server};
use tracing::error;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
    }
    if let Err(err) = config.validate() {
        error!("{err}");
        return ExitCode::from(2);
    }
    skirmish_server::fd_limit::raise(config.max_connections);
    let deadline = Duration::from_secs(config.shutdown_timeout_secs);
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            error!("{err:#}");
            return ExitCode::from(2);
        }
    };
    wait_for_signal().await;
    match server.shutdown(deadline).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            error!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
