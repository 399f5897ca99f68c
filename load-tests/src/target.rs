//! The server under test: a URL, or a real `skirmish_server::Server`
//! started in-process on a free loopback port (`--spawn`).
//!
//! A spawned server gets a tokio runtime of its own, as a separate process
//! would, so its tasks are not queued behind thousands of bot tasks. Its
//! limits are raised to fit the run; everything else is the server's
//! defaults (the reference arena of GAME.md).

use std::time::Duration;

use reqwest::Url;
use skirmish_server::{Config, Server};
use tokio::runtime::Runtime;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::Error;
use crate::clients::play_state::ViewMode;
use crate::config::{Plan, TargetPlan};

/// How long the spawned server may take to stop.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Where the bots connect, and the server when it is ours.
#[derive(Debug)]
pub struct Target {
    /// Base URL, ending in `/`.
    pub base: Url,
    spawned: Option<Spawned>,
    /// With `--tls`: the server's address and the certificate it serves.
    pub tls: Option<(std::net::SocketAddr, CertificateDer<'static>)>,
}

/// A self-signed certificate for [`crate::h2::SERVER_NAME`], written where
/// the spawned server reads it; the directory goes with it.
#[derive(Debug)]
struct Certificate {
    dir: std::path::PathBuf,
    der: CertificateDer<'static>,
}

impl Certificate {
    /// Makes one and points `config` at it.
    fn make(config: &mut Config) -> Result<Certificate, Error> {
        let made = rcgen::generate_simple_self_signed(vec![crate::h2::SERVER_NAME.into()])
            .map_err(|e| Error::Spawn(format!("certificate: {e}")))?;
        // One directory per server: runs in one process (tests) must not
        // overwrite each other's key.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("skirmish-bots-tls-{}-{n}", std::process::id()));
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem)
                .map(|()| path)
                .map_err(|e| Error::Spawn(format!("{}: {e}", dir.display())))
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Spawn(format!("{}: {e}", dir.display())))?;
        config.tls_cert = Some(write("cert.pem", made.cert.pem())?);
        config.tls_key = Some(write("key.pem", made.signing_key.serialize_pem())?);
        Ok(Certificate {
            dir,
            der: made.cert.der().clone(),
        })
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
struct Spawned {
    server: Option<Server>,
    runtime: Option<Runtime>,
    /// With `--tls`: removed when the server is gone.
    _certificate: Option<Certificate>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Dropping a runtime inside another's async context panics; this
        // one's tasks are abandoned instead (only on an error path: `stop`
        // shuts the server down first).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Target {
    /// Connects to or starts the server.
    ///
    /// # Errors
    /// The spawned server does not start.
    pub async fn start(plan: &Plan) -> Result<Target, Error> {
        let (server_bots, tick_hz, threads) = match &plan.target {
            TargetPlan::Url(url) => {
                let mut base = url.clone();
                if !base.path().ends_with('/') {
                    let path = format!("{}/", base.path());
                    base.set_path(&path);
                }
                return Ok(Target {
                    base,
                    spawned: None,
                    tls: None,
                });
            }
            TargetPlan::Spawn {
                server_bots,
                tick_hz,
                threads,
            } => (*server_bots, *tick_hz, *threads),
        };
        let mut config = server_config(plan, server_bots, tick_hz)?;
        let certificate = plan
            .tls
            .is_some()
            .then(|| Certificate::make(&mut config))
            .transpose()?;
        let tls_der = certificate.as_ref().map(|c| c.der.clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("skirmish-server")
            .enable_all()
            .build()
            .map_err(|e| Error::Spawn(format!("runtime: {e}")))?;
        let mut spawned = Spawned {
            server: None,
            runtime: None,
            _certificate: certificate,
        };
        let server = runtime
            .spawn(async move { Server::start(config).await.map_err(|e| format!("{e:#}")) })
            .await;
        spawned.runtime = Some(runtime);
        let server = server
            .map_err(|e| Error::Spawn(format!("start task: {e}")))?
            .map_err(Error::Spawn)?;
        let addr = server.addr();
        let base = match tls_der {
            Some(_) => format!("https://{}:{}/", crate::h2::SERVER_NAME, addr.port()),
            None => format!("http://{addr}/"),
        };
        let base = Url::parse(&base).map_err(|e| Error::Spawn(format!("address: {e}")))?;
        spawned.server = Some(server);
        Ok(Target {
            base,
            spawned: Some(spawned),
            tls: tls_der.map(|der| (addr, der)),
        })
    }

    /// True when the server runs in this process.
    #[must_use]
    pub fn is_spawned(&self) -> bool {
        self.spawned.is_some()
    }

    /// Stops the spawned server (nothing for a URL).
    ///
    /// # Errors
    /// The server did not stop within its deadline.
    pub async fn stop(mut self) -> Result<(), Error> {
        let Some(mut spawned) = self.spawned.take() else {
            return Ok(());
        };
        let (Some(server), Some(runtime)) = (spawned.server.take(), spawned.runtime.as_ref())
        else {
            return Ok(());
        };
        let stopped = runtime
            .spawn(async move { server.shutdown(SHUTDOWN_DEADLINE).await })
            .await;
        drop(spawned);
        stopped
            .map_err(|e| Error::Spawn(format!("shutdown task: {e}")))?
            .map_err(|e| Error::Spawn(format!("{e:#}")))
    }
}

/// The server's defaults with limits raised to fit the run.
fn server_config(plan: &Plan, server_bots: u16, tick_hz: u16) -> Result<Config, Error> {
    let rooms = plan.rooms.len().max(1) as u32;
    let per_room = |n: u32| n.div_ceil(rooms);
    let mut config = Config::defaults();
    config.bind = ([127, 0, 0, 1], 0).into();
    config.tick_hz = tick_hz;
    config.bots = server_bots;
    // The first room is the one that always exists, so a run on one room
    // does not also pay for an idle `main`.
    config.default_room = plan.rooms.first().cloned().unwrap_or(config.default_room);
    let seats = per_room(plan.players + plan.legacy) + u32::from(server_bots) + 8;
    config.max_players = u16::try_from(seats.min(2000)).unwrap_or(2000);
    // The spawned server measures play, not storage: it keeps no records
    // (which would also land in the working directory's ./skirmish-data).
    config.no_database = true;
    if plan.view == ViewMode::Interest {
        // The bots check the interest rule on every state, so every tick
        // must be filtered, the room's first few included.
        config.interest_from_ships = 0;
    }
    let total = plan.total_clients();
    // Every bot comes from this one address, and a legacy player keeps an
    // input request and a state poll open at once.
    config.max_connections = config.max_connections.max(2 * total + 256);
    config.max_connections_per_ip = config.max_connections;
    // Every room of the run is opened from this one address, at once.
    config.max_rooms = config.max_rooms.max(rooms + 1);
    config.new_rooms_per_ip_per_min = config.new_rooms_per_ip_per_min.max(rooms + 1);
    config.max_spectators = config.max_spectators.max(plan.spectators + 64);
    config.max_spectators_per_room = config
        .max_spectators_per_room
        .max(per_room(plan.spectators) + 64);
    config.max_polls = config.max_polls.max(plan.pollers + plan.legacy + 256);
    config.max_spectators_per_ip = config.max_spectators;
    config.max_polls_per_ip = config.max_polls;
    config.max_legacy_sessions = config.max_legacy_sessions.max(plan.legacy + 64);
    // With --gzip a spawned server offers gzip streams to every spectator.
    config.sse_gzip = plan.gzip;
    config.max_gzip_streams = config.max_gzip_streams.max(plan.spectators + 64);
    if let Some(tls) = plan.tls {
        // Every client of a shared HTTP/2 connection holds a stream, a
        // long-poll player two (its state poll and an input post).
        config.max_streams_per_connection = config
            .max_streams_per_connection
            .max((2 * tls.clients_per_connection + 8).min(1000));
    }
    if !config.web_root.is_dir() {
        // The default points into the source tree; a moved binary still
        // serves the API without it.
        config.web_root = std::env::temp_dir();
    }
    config.validate().map_err(Error::Spawn)?;
    Ok(config)
}
