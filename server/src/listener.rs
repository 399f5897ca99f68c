//! The accept loop: every TCP connection, plain or TLS, enters here.
//!
//! Before a connection costs anything it is admitted against two limits:
//! open connections in total and per client address (IPv6 clients count per
//! /64, the block one host usually owns). A refused connection gets a canned
//! `503` with a JSON body written in one non-blocking call and is closed; no
//! task is spawned for it.
//!
//! An admitted connection must send its first request head within
//! `--header-timeout-secs` (for TLS the handshake has the same time first),
//! and hyper closes a keep-alive connection whose next request head is that
//! slow: a slow-loris client holds a slot for seconds, not forever.
//! Request bodies have the same deadline (see the router).
//!
//! Each connection holds a [`ConnSlot`] for as long as its socket is open.
//! Requests carry a clone of it as an extension, so a WebSocket that
//! outlives the HTTP exchange that upgraded it keeps the connection counted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// How connections are admitted and how long they may stay silent.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address (one /64 for IPv6).
    pub max_connections_per_ip: usize,
    /// Time for the TLS handshake, and then for each request head.
    pub header_timeout: Duration,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections`.
    Total,
    /// This address holds `max_connections_per_ip`.
    PerIp,
}

impl Refusal {
    /// The `reason` label of `skirmish_rejected_total`.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Total => "connection_limit",
            Refusal::PerIp => "ip_connection_limit",
        }
    }

    /// The whole `503` answer, with `{"error": ...}`.
    fn response(self) -> &'static [u8] {
        static ANSWERS: LazyLock<[Vec<u8>; 2]> = LazyLock::new(|| {
            [Refusal::Total, Refusal::PerIp].map(|refusal| {
                let body = serde_json::json!({ "error": refusal.message() }).to_string();
                format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            })
        });
        &ANSWERS[self as usize]
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Total => "the server is at its connection limit",
            Refusal::PerIp => "too many connections from your address",
        }
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug)]
pub struct ConnLimits {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
    gauge: Gauge,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping the last clone frees its place.
#[derive(Clone, Debug)]
pub struct ConnSlot {
    held: Arc<SlotInner>,
}

#[derive(Debug)]
struct SlotInner {
    limits: Arc<ConnLimits>,
    key: IpAddr,
}

impl ConnSlot {
    /// The client's address as limits count it (IPv6: its /64), for limits
    /// kept elsewhere per address.
    #[must_use]
    pub fn client(&self) -> IpAddr {
        self.held.key
    }
}

impl Drop for SlotInner {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        open.total -= 1;
        if let Some(n) = open.by_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.key);
            }
        }
        drop(open);
        self.limits.gauge.dec();
    }
}

/// The address a limit counts: IPv4 as is (also when mapped into IPv6),
/// IPv6 by its /64.
pub(crate) fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

impl ConnLimits {
    /// Limits counted into `gauge` (open connections).
    #[must_use]
    pub fn new(max_total: usize, max_per_ip: usize, gauge: Gauge) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            max_total,
            max_per_ip,
            open: Mutex::default(),
            gauge,
        })
    }

    /// A place for a connection from `ip`, or why not.
    ///
    /// # Errors
    /// A limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, Refusal> {
        let key = limit_key(ip);
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let from_ip = open.by_ip.entry(key).or_default();
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *from_ip += 1;
        open.total += 1;
        drop(open);
        self.gauge.inc();
        Ok(ConnSlot {
            held: Arc::new(SlotInner {
                limits: self.clone(),
                key,
            }),
        })
    }

    /// Open connections.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.lock().total
    }
}

/// Where accepted connections go.
pub struct Listener {
    /// Bound socket.
    pub tcp: TcpListener,
    /// TLS, when serving HTTPS.
    pub tls: Option<TlsAcceptor>,
    /// Limits and timeouts.
    pub config: ListenConfig,
    /// Admission counts (shared with the app state, for `/metrics`).
    pub limits: Arc<ConnLimits>,
    /// Refusals are counted here.
    pub metrics: Arc<Metrics>,
}

impl Listener {
    /// Accepts and serves `app` until `shutdown`, then lets every open
    /// connection finish gracefully.
    pub async fn serve(
        self,
        app: Router,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> std::io::Result<()> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .enable_connect_protocol()
            // Finds dead peers of idle HTTP/2 connections.
            .keep_alive_interval(Duration::from_secs(20));
        let graceful = GracefulShutdown::new();
        loop {
            let (tcp, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.tcp.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Out of file descriptors and the like: back off,
                        // the listener itself is fine.
                        warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let slot = match self.limits.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    self.metrics.reject(refusal.reason());
                    if self.tls.is_none() {
                        // Best effort, never waits: the client sees why.
                        let _ = tcp.try_write(refusal.response());
                    }
                    debug!(%peer, reason = refusal.reason(), "connection refused");
                    continue;
                }
            };
            // Snapshots are small writes once a tick: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            let conn = Connection {
                peer,
                slot,
                app: app.clone(),
                builder: builder.clone(),
                timeout: self.config.header_timeout,
                metrics: self.metrics.clone(),
            };
            let watcher = graceful.watcher();
            let tls = self.tls.clone();
            tracker.spawn(async move {
                match tls {
                    None => conn.run(tcp, watcher).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(conn.timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => conn.run(stream, watcher).await,
                            Ok(Err(err)) => debug!(%peer, %err, "TLS handshake failed"),
                            Err(_) => {
                                conn.metrics.reject("handshake_timeout");
                                debug!(%peer, "TLS handshake timed out");
                            }
                        }
                    }
                }
            });
        }
        // Every open connection finishes its in-flight requests; streams end
        // on their own because they watch the same shutdown token.
        graceful.shutdown().await;
        Ok(())
    }
}

/// One admitted connection.
struct Connection {
    peer: SocketAddr,
    slot: ConnSlot,
    app: Router,
    builder: Builder<TokioExecutor>,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Connection {
    async fn run<I>(self, io: I, watcher: hyper_util::server::graceful::Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            peer,
            slot,
            app,
            builder,
            timeout,
            metrics,
        } = self;
        let spoke = Arc::new(AtomicBool::new(false));
        let service = {
            let spoke = spoke.clone();
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                spoke.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(slot.clone());
                let mut app = app.clone();
                async move {
                    let response = app.call(request).await;
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                }
            })
        };
        let conn = watcher.watch(
            builder
                .serve_connection_with_upgrades(TokioIo::new(io), service)
                .into_owned(),
        );
        tokio::pin!(conn);
        // hyper times out slow request heads once it knows the protocol;
        // this covers the time before, when a client has sent nothing.
        let ended = tokio::select! {
            ended = &mut conn => ended,
            () = tokio::time::sleep(timeout) => {
                if !spoke.load(Ordering::Relaxed) {
                    metrics.reject("header_timeout");
                    debug!(%peer, "no request in time; closing");
                    return;
                }
                conn.await
            }
        };
        if let Err(err) = ended {
            debug!(%peer, %err, "connection ended with an error");
        }
    }
}
