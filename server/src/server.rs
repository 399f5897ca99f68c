//! Binding, serving and stopping. [`Server::start`] is what `main` and the
//! end-to-end tests both use, so tests run the real server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::listener::Listener;
use crate::net::AppState;
use crate::net::router::{admin_router, router};
use crate::node::Node;
use crate::storage::Storage;

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    serving: JoinHandle<std::io::Result<()>>,
    /// The `--admin-bind` listener's address and task.
    admin: Option<(SocketAddr, JoinHandle<std::io::Result<()>>)>,
}

impl Server {
    /// Binds `config.bind` (port 0 picks a free port) and starts serving.
    ///
    /// # Errors
    /// The address cannot be bound, or the config is invalid.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        config.validate().map_err(anyhow::Error::msg)?;
        let admin_token = config.admin_token().map_err(anyhow::Error::msg)?;
        let player_auth = config.player_auth().map_err(anyhow::Error::msg)?;
        if let Some(auth) = &player_auth {
            info!(
                alg = auth.alg().as_str(),
                "joins require signed player tokens"
            );
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let node = Node::resolve(&config, addr, tls.is_some());
        info!(node = %node.id, boot = %node.boot_id, clustered = node.clustered, "node named");
        // Bound before anything starts, so a taken address fails the start.
        let admin_listener = match config.admin_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("cannot listen on --admin-bind {bind}"))?,
            ),
            None => None,
        };
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        let storage = Storage::open(&config, metrics.clone(), shutdown.clone(), &tracker).await?;
        let state = AppState::new(
            config,
            node,
            metrics,
            storage,
            shutdown.clone(),
            tracker.clone(),
            admin_token,
            player_auth,
        )?;
        let app = router(state.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = Listener {
            tcp: listener,
            tls,
            config: state.config.listen_config(),
            limits: state.connections.clone(),
            metrics: state.metrics.clone(),
        };
        let admin = match admin_listener {
            Some(tcp) => {
                let admin_addr = tcp.local_addr()?;
                let listener = Listener {
                    tcp,
                    tls: listener.tls.clone(),
                    config: state.config.listen_config(),
                    limits: state.connections.clone(),
                    metrics: state.metrics.clone(),
                };
                let app = admin_router(state.clone());
                let serving = tokio::spawn(listener.serve(app, shutdown.clone(), tracker.clone()));
                info!(addr = %admin_addr, scheme, "admin API listening");
                Some((admin_addr, serving))
            }
            None => None,
        };
        let serving = tokio::spawn(listener.serve(app, shutdown, tracker));
        info!(%addr, scheme, "listening");
        Ok(Server {
            addr,
            state,
            serving,
            admin,
        })
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `--admin-bind` address, when the admin API has its own.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(addr, _)| *addr)
    }

    /// Cancelled when the server starts draining: on [`Server::drain`],
    /// [`Server::shutdown`], or when an operator drains it through the
    /// admin API.
    #[must_use]
    pub fn draining(&self) -> CancellationToken {
        self.state.registry.draining()
    }

    /// The first half of a graceful stop in cluster mode (a rolling
    /// deploy): the node takes no new rooms or seats, `/readyz` answers
    /// 503, the cluster is told at once (so no node matchmakes into its
    /// rooms), and each room with players plays to the end of its round
    /// and closes with `server_drain`. Returns when the last room closed
    /// or `--drain-deadline-secs` passed; [`Server::shutdown`] then closes
    /// what is left (as `server_drain` too). Without a cluster, or with a
    /// deadline of 0, it returns at once: shutdown closes every room.
    pub async fn drain(&self) {
        if !self.state.registry.drains_rounds() {
            return;
        }
        let deadline = Duration::from_secs(self.state.config.drain_deadline_secs);
        info!(
            deadline_secs = deadline.as_secs(),
            "draining: rooms close at the end of their round"
        );
        let registry = self.state.registry.clone();
        let drained = tokio::spawn(async move { registry.drain_rooms().await });
        if let Some(cluster) = self.state.matchmaker.cluster() {
            // Withdraws this node's rooms from matchmaking everywhere now,
            // not at the next refresh.
            cluster.publish_now().await;
        }
        if tokio::time::timeout(deadline, drained).await.is_ok() {
            info!("drained: every room closed");
            return;
        }
        warn!(
            rooms = self.state.registry.handles().len(),
            "drain deadline passed; closing the rooms still playing"
        );
        // A room closes within one tick of being told; shutdown's own
        // deadline covers a room that does not.
        let cut = self.state.registry.cut_drain();
        if tokio::time::timeout(Duration::from_secs(1), cut)
            .await
            .is_err()
        {
            warn!("rooms still open a second after the drain deadline");
        }
    }

    /// The shared state (for tests that look inside).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, tells every connection and room to finish, and waits
    /// up to `deadline` for them.
    ///
    /// # Errors
    /// The deadline passed with tasks still running.
    pub async fn shutdown(self, deadline: Duration) -> anyhow::Result<()> {
        info!("shutting down");
        self.state.shutdown.cancel();
        self.state.tracker.close();
        let finished = tokio::time::timeout(deadline, async {
            self.state.tracker.wait().await;
            let _ = self.serving.await;
            if let Some((_, admin)) = self.admin {
                let _ = admin.await;
            }
        })
        .await;
        if finished.is_err() {
            warn!(
                tasks = self.state.tracker.len(),
                "shutdown deadline passed with tasks still running"
            );
            anyhow::bail!("shutdown deadline of {deadline:?} passed");
        }
        info!("stopped");
        Ok(())
    }
}
