//! The accept loop: every TCP connection, plain or TLS, enters here.
//!
//! Before a connection costs anything it is admitted against two limits:
//! open connections in total and per client address (IPv6 clients count per
//! /64, the block one host usually owns). A refused connection gets a canned
//! `503` with the JSON error body (its code says which limit) written in one
//! non-blocking call and is closed; no task is spawned for it. TLS connections are closed without the answer,
//! which would need a handshake.
//!
//! The same prompt refusal goes to connections that arrive while the server
//! drains at shutdown (the loop keeps accepting until every tracked task has
//! finished, so none waits unanswered in the kernel's backlog), and to
//! connections the process has no file descriptor for: a spare descriptor
//! is kept for that moment, closed to accept and answer one waiting client,
//! then opened again. Accept errors are logged once per episode and, when
//! the spare cannot help, retried with an exponential back-off.
//!
//! An admitted connection is served by [`crate::connection`]. Each holds a
//! [`ConnSlot`] for as long as its socket is open: requests carry a clone
//! as an extension, so a WebSocket that outlives the HTTP exchange that
//! upgraded it keeps the connection counted.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use futures_util::FutureExt as _;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use prometheus_client::metrics::gauge::Gauge;
use skirmish_shared::http::ApiErrorCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use crate::address_limit::limit_key;
use crate::address_limit::{AddressLimit, AddressPermit, Full};
use crate::connection::{Connection, StreamMark};
use crate::fd_limit::{self, SpareFd};
use crate::metrics::{GaugeGuard, Metrics, Rejection};
use crate::net::api::{SHUTTING_DOWN, error_body};

/// `Retry-After` of every canned refusal: a place frees when a client
/// leaves, a drain ends in seconds.
const REFUSAL_RETRY_SECS: u32 = 5;

/// The first pause after an accept error the spare descriptor cannot
/// answer; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The longest pause between accept attempts while they fail: long enough
/// not to spin on a full descriptor table, short enough that service
/// resumes within a second of a descriptor freeing.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// How connections are admitted and how long they may stay silent.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one address (one /64 for IPv6).
    pub max_connections_per_ip: usize,
    /// Time for the TLS handshake, then for each request head, and the
    /// longest a connection may have no open request.
    pub header_timeout: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub max_streams: u32,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections`.
    Total,
    /// This address holds `max_connections_per_ip`.
    PerIp,
    /// The server is draining before it exits.
    ShuttingDown,
    /// The process has no file descriptor left for the connection.
    NoDescriptors,
}

impl Refusal {
    const ALL: [Refusal; 4] = [
        Refusal::Total,
        Refusal::PerIp,
        Refusal::ShuttingDown,
        Refusal::NoDescriptors,
    ];

    /// The `reason` label of `skirmish_rejected_total`.
    #[must_use]
    pub fn reason(self) -> Rejection {
        match self {
            Refusal::Total => Rejection::ConnectionLimit,
            Refusal::PerIp => Rejection::IpConnectionLimit,
            Refusal::ShuttingDown => Rejection::ShuttingDown,
            Refusal::NoDescriptors => Rejection::FdLimit,
        }
    }

    /// The whole `503` answer with the error body, built once.
    fn response(self) -> &'static [u8] {
        static ANSWERS: LazyLock<[Vec<u8>; 4]> = LazyLock::new(|| {
            Refusal::ALL.map(|refusal| {
                let body = error_body(refusal.code(), refusal.message());
                let mut answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     retry-after: {REFUSAL_RETRY_SECS}\r\nconnection: close\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                answer.extend_from_slice(&body);
                answer
            })
        });
        &ANSWERS[self as usize]
    }

    /// The error body's code.
    fn code(self) -> ApiErrorCode {
        match self {
            Refusal::Total => ApiErrorCode::ConnectionLimit,
            Refusal::PerIp => ApiErrorCode::IpConnectionLimit,
            Refusal::ShuttingDown => ApiErrorCode::ShuttingDown,
            Refusal::NoDescriptors => ApiErrorCode::FdLimit,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Total => "the server is at its connection limit",
            Refusal::PerIp => "too many connections from your address",
            Refusal::ShuttingDown => SHUTTING_DOWN,
            Refusal::NoDescriptors => "the server is out of file descriptors",
        }
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug)]
pub struct ConnLimits {
    open: Arc<AddressLimit>,
    gauge: Gauge,
}

/// What a request holds of its connection: the connection's admission
/// (dropping the last clone frees its place) and, once the request is
/// served, its own open stream (see [`crate::connection`]).
#[derive(Clone, Debug)]
pub struct ConnSlot {
    admitted: Arc<Admitted>,
    _stream: Option<Arc<StreamMark>>,
}

#[derive(Debug)]
struct Admitted {
    _permit: AddressPermit,
    peer: IpAddr,
    _counted: GaugeGuard,
}

impl ConnSlot {
    /// The client's address.
    #[must_use]
    pub fn address(&self) -> IpAddr {
        self.admitted.peer
    }

    /// The slot a request on this connection carries, holding `stream`
    /// open for as long as any clone lives.
    pub(crate) fn for_stream(&self, stream: StreamMark) -> ConnSlot {
        ConnSlot {
            admitted: self.admitted.clone(),
            _stream: Some(Arc::new(stream)),
        }
    }
}

impl ConnLimits {
    /// Limits counted into `gauge` (open connections).
    #[must_use]
    pub fn new(max_total: usize, max_per_ip: usize, gauge: Gauge) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            open: AddressLimit::new(max_total, max_per_ip),
            gauge,
        })
    }

    /// A place for a connection from `ip`, or why not.
    ///
    /// # Errors
    /// A limit is reached.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnSlot, Refusal> {
        let permit = self.open.try_take(Some(ip)).map_err(|full| match full {
            Full::Total => Refusal::Total,
            Full::PerAddress => Refusal::PerIp,
        })?;
        Ok(ConnSlot {
            admitted: Arc::new(Admitted {
                _permit: permit,
                peer: ip,
                _counted: GaugeGuard::new(&self.gauge),
            }),
            _stream: None,
        })
    }

    /// Open connections.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.open()
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
    /// Accepts and serves `app` until `shutdown`; then refuses newcomers
    /// with a prompt 503 until every task of `tracker` has finished (open
    /// connections close gracefully once their requests are done).
    pub async fn serve(
        self,
        app: Router,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> std::io::Result<()> {
        let builder = self.builder();
        let mut trouble = AcceptTrouble::new();
        let mut draining = false;
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled(), if !draining => {
                    draining = true;
                    info!("draining: new connections get 503 until open ones finish");
                    continue;
                }
                () = tracker.wait(), if draining => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => {
                    trouble.recovered();
                    pair
                }
                Err(err) => {
                    if let Some(pause) = trouble.failed(&err, &self) {
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = tracker.wait(), if draining => break,
                        }
                    }
                    continue;
                }
            };
            if draining {
                self.refuse(&tcp, Refusal::ShuttingDown);
                continue;
            }
            let slot = match self.limits.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    self.refuse(&tcp, refusal);
                    debug!(%peer, reason = refusal.reason().as_str(), "connection refused");
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
                shutdown: shutdown.clone(),
            };
            let tls = self.tls.clone();
            tracker.spawn(async move {
                match tls {
                    None => conn.run(tcp).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(conn.timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => conn.run(stream).await,
                            Ok(Err(err)) => debug!(%peer, %err, "TLS handshake failed"),
                            Err(_) => {
                                conn.metrics.reject(Rejection::HandshakeTimeout);
                                debug!(%peer, "TLS handshake timed out");
                            }
                        }
                    }
                }
            });
        }
        Ok(())
    }

    /// hyper's settings for every connection.
    fn builder(&self) -> Builder<TokioExecutor> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .enable_connect_protocol()
            // One connection may not hold more than a page needs: see
            // `--max-streams-per-connection`.
            .max_concurrent_streams(self.config.max_streams)
            // Finds dead peers of idle HTTP/2 connections.
            .keep_alive_interval(Duration::from_secs(20));
        builder
    }

    /// Answers `refusal` (plain HTTP only) and closes; never waits.
    fn refuse(&self, tcp: &TcpStream, refusal: Refusal) {
        self.metrics.reject(refusal.reason());
        if self.tls.is_none() {
            // Best effort, one non-blocking write: the client sees why.
            let _ = tcp.try_write(refusal.response());
        }
    }
}

/// What the accept loop does when `accept` fails, and the log of it.
struct AcceptTrouble {
    /// Closed to accept and answer one client when the process is out of
    /// descriptors, then opened again.
    spare: SpareFd,
    /// The pause before the next attempt when the spare cannot help.
    backoff: Duration,
    /// The current run of failures: since when, and how many.
    episode: Option<(Instant, u64)>,
}

impl AcceptTrouble {
    fn new() -> AcceptTrouble {
        AcceptTrouble {
            spare: SpareFd::open(),
            backoff: FIRST_ACCEPT_BACKOFF,
            episode: None,
        }
    }

    /// Handles one failed accept; returns how long to pause, if at all.
    fn failed(&mut self, err: &std::io::Error, listener: &Listener) -> Option<Duration> {
        use std::io::ErrorKind;
        // The client gave up before we took it: nothing is wrong here.
        if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            debug!(%err, "a connection ended before it was accepted");
            return None;
        }
        match &mut self.episode {
            Some((_, errors)) => *errors += 1,
            None => {
                warn!(%err, "cannot accept connections; retrying with back-off (one line until it recovers)");
                self.episode = Some((Instant::now(), 1));
            }
        }
        if fd_limit::is_exhausted(err) && self.spare.release() {
            // The freed descriptor takes one waiting client, who is told
            // at once rather than left hanging in the backlog.
            if let Some(Ok((tcp, _))) = listener.tcp.accept().now_or_never() {
                listener.refuse(&tcp, Refusal::NoDescriptors);
            }
            if self.spare.restore() {
                return None;
            }
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_ACCEPT_BACKOFF);
        Some(pause)
    }

    /// An accept succeeded: ends the episode with one line.
    fn recovered(&mut self) {
        if let Some((since, errors)) = self.episode.take() {
            info!(
                errors,
                secs = since.elapsed().as_secs_f64(),
                "accepting connections again"
            );
            self.backoff = FIRST_ACCEPT_BACKOFF;
        }
        if !self.spare.is_held() {
            self.spare.restore();
        }
    }
}
