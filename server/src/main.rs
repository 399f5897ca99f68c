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
    // Registered before binding: a supervisor (or a test) may send SIGTERM
    // as soon as the address is logged, and that must drain, not kill.
    let signals = ShutdownSignals::install();
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            error!("{err:#}");
            return ExitCode::from(2);
        }
    };
    // A signal, or an operator's drain through the admin API.
    let draining = server.draining();
    tokio::select! {
        () = signals.wait() => {},
        () = draining.cancelled() => {},
    }
    // Rooms end their round first (cluster mode), then everything stops.
    server.drain().await;
    match server.shutdown(deadline).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT (ctrl-c) and SIGTERM, listened for from the moment they are
/// installed; a signal that cannot be installed is logged and never fires.
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| {
                signal(kind)
                    .inspect_err(|err| error!(%err, "cannot listen for {name}"))
                    .ok()
            };
            ShutdownSignals {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    /// Resolves on the first of them.
    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.interrupt) => {},
                () = next(self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            error!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    }
}
