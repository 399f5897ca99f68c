//! HTTP over TLS for the bots (`--tls`, `--http-version 2`): hyper's own
//! client connections over tokio-rustls, so the bots choose how clients
//! share connections and can count every byte.
//!
//! Clients of one kind are grouped onto connection slots: client `i` uses
//! slot `i / clients_per_connection`. Over HTTP/1.1 a slot holds one client
//! (one connection each, as separate browsers); over HTTP/2 a slot's one
//! connection carries its clients' requests as concurrent streams, as one
//! browser page's feeds and polls share a connection to their origin.
//! A slot whose connection ended gets a new one on its next request.
//! A client with two requests in flight at once (a long-poll player's
//! state poll and its input posts) uses two [`Lane`]s: over HTTP/1.1 each
//! lane is its own connection, as a browser opens a second connection
//! for a request while another waits; over HTTP/2 both are streams of
//! the slot's one connection.
//!
//! Bytes are counted as the TLS plaintext the HTTP layer reads and writes:
//! for HTTP/1.1 the request and response heads, bodies and chunk framing;
//! for HTTP/2 every frame (headers as HPACK encoded them, DATA, SETTINGS,
//! WINDOW_UPDATE, PING) with its 9-byte frame header. TLS record overhead
//! (about 22 bytes a record) is not counted, the same for both versions.
//! Received bytes go to the kind's `bytes` counter (as the plain clients
//! count theirs); sent bytes and connections opened are [`Links::sent`]
//! and [`Links::opened`]. This module never reads or interprets a body
//! beyond collecting it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::clients::{Answer, CONNECT_TIMEOUT, Call, ClientError};
use crate::config::{HttpVersion, TlsPlan};
use crate::stats::{Recorder, Transport};

/// The name the spawned server's certificate is made for and the bots ask
/// for (SNI, `:authority`).
pub const SERVER_NAME: &str = "localhost";

/// A request's body: empty for a GET (no length header, as `Empty`),
/// the JSON for a POST.
type Outgoing = Full<Bytes>;

/// One connection's request side.
enum Sender {
    /// One request at a time; taken out of the slot while in use.
    H1(http1::SendRequest<Outgoing>),
    /// Cloned per request: streams run side by side.
    H2(http2::SendRequest<Outgoing>),
}

/// A connection slot: the sender of its live connection, if any.
type Slot = Arc<tokio::sync::Mutex<Option<Sender>>>;

/// Which of a client's concurrent requests a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Requests that wait for news: feeds, event polls, state polls.
    Wait,
    /// A player's joins, inputs and leaves, sent while a state poll waits.
    Send,
}

/// Every TLS connection of a run.
pub struct Links {
    tls: TlsConnector,
    server: ServerName<'static>,
    addr: SocketAddr,
    plan: TlsPlan,
    stats: Arc<Recorder>,
    slots: parking_lot::Mutex<HashMap<(Transport, u32, Lane), Slot>>,
    /// Each connection's driver task, aborted when the links go (the end
    /// of the run); finished ones are reaped as new ones start.
    drivers: parking_lot::Mutex<JoinSet<()>>,
    /// Connections opened (TLS handshakes completed).
    pub opened: AtomicU64,
    /// TLS plaintext written: requests, and HTTP/2's control frames.
    pub sent: Arc<AtomicU64>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("addr", &self.addr)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl Links {
    /// Links to the server at `addr`, trusting exactly `cert`.
    ///
    /// # Errors
    /// The certificate is not one rustls accepts as a root.
    pub fn new(
        addr: SocketAddr,
        cert: CertificateDer<'static>,
        plan: TlsPlan,
        stats: Arc<Recorder>,
    ) -> Result<Links, crate::Error> {
        let mut roots = RootCertStore::empty();
        roots
            .add(cert)
            .map_err(|e| crate::Error::Spawn(format!("trust the certificate: {e}")))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| crate::Error::Spawn(format!("TLS versions: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![match plan.version {
            HttpVersion::Http1 => b"http/1.1".to_vec(),
            HttpVersion::Http2 => b"h2".to_vec(),
        }];
        Ok(Links {
            tls: TlsConnector::from(Arc::new(config)),
            server: ServerName::try_from(SERVER_NAME)
                .map_err(|e| crate::Error::Spawn(e.to_string()))?,
            addr,
            plan,
            stats,
            slots: parking_lot::Mutex::new(HashMap::new()),
            drivers: parking_lot::Mutex::new(JoinSet::new()),
            opened: AtomicU64::new(0),
            sent: Arc::new(AtomicU64::new(0)),
        })
    }

    /// `GET path_and_query` (starting with `/`) for client `index` of
    /// `kind`, on its slot's connection: the answer's head, its body still
    /// to read.
    ///
    /// # Errors
    /// The connection or the request failed, or took over `timeout`.
    pub async fn get(
        &self,
        kind: Transport,
        index: u32,
        path_and_query: &str,
        accept: &'static str,
        timeout: Duration,
    ) -> Result<Response<Incoming>, ClientError> {
        let request = Request::get(format!("https://{SERVER_NAME}{path_and_query}"))
            .header(hyper::header::ACCEPT, accept)
            .body(Outgoing::default())
            .map_err(|_| ClientError::Protocol("unbuildable request"))?;
        self.request(kind, index, Lane::Wait, request, timeout)
            .await
    }

    /// Sends `request` on the connection of client `index`'s `lane`.
    async fn request(
        &self,
        kind: Transport,
        index: u32,
        lane: Lane,
        request: Request<Outgoing>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, ClientError> {
        let request = match self.plan.version {
            // HTTP/1.1 needs a Host header; HTTP/2 takes `:authority` from
            // the URI.
            HttpVersion::Http1 => {
                let mut request = request;
                request.headers_mut().insert(
                    hyper::header::HOST,
                    hyper::header::HeaderValue::from_static(SERVER_NAME),
                );
                request
            }
            HttpVersion::Http2 => request,
        };
        tokio::time::timeout(timeout, self.send(kind, index, lane, request))
            .await
            .map_err(|_| ClientError::Timeout("tls request"))?
    }

    /// A whole answer to `call` (its path under the server's root).
    ///
    /// # Errors
    /// As [`Links::get`], and a body that fails or outlasts the call's
    /// timeout.
    pub async fn fetch(&self, call: &Call) -> Result<Answer, ClientError> {
        let Call {
            kind,
            index,
            lane,
            timeout,
            ..
        } = *call;
        self.stats.get(kind).request();
        let builder = Request::builder()
            .uri(format!("https://{SERVER_NAME}/{}", call.path))
            .header(hyper::header::ACCEPT, "application/json");
        let request = match &call.json {
            Some(json) if json.is_empty() => builder
                .method(hyper::Method::POST)
                .body(Outgoing::default()),
            Some(json) => builder
                .method(hyper::Method::POST)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(json.clone())),
            None => builder.body(Outgoing::default()),
        }
        .map_err(|_| ClientError::Protocol("unbuildable request"))?;
        let read = async {
            let response = self.request(kind, index, lane, request, timeout).await?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|_| ClientError::Transport("body read failed".into()))?
                .to_bytes();
            Ok::<_, ClientError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| ClientError::Timeout("tls answer"))??;
        Ok(Answer {
            status,
            // Counted as the connection read it.
            wire_bytes: 0,
            body,
        })
    }

    async fn send(
        &self,
        kind: Transport,
        index: u32,
        lane: Lane,
        request: Request<Outgoing>,
    ) -> Result<Response<Incoming>, ClientError> {
        let lane = match self.plan.version {
            HttpVersion::Http1 => lane,
            // Streams of one connection: the lanes share it.
            HttpVersion::Http2 => Lane::Wait,
        };
        let key = (kind, index / self.plan.clients_per_connection, lane);
        let slot = self.slots.lock().entry(key).or_default().clone();
        let failed = |_| ClientError::Transport("request failed".into());
        let mut held = slot.lock().await;
        let reusable = match held.take() {
            Some(Sender::H2(sender)) if !sender.is_closed() => Some(Sender::H2(sender)),
            Some(Sender::H1(mut sender)) => {
                // Waits out the body of this client's previous answer.
                sender.ready().await.is_ok().then_some(Sender::H1(sender))
            }
            _ => None,
        };
        let sender = match reusable {
            Some(sender) => sender,
            None => self.connect(kind).await?,
        };
        match sender {
            Sender::H2(sender) => {
                let mut stream = sender.clone();
                *held = Some(Sender::H2(sender));
                // Other clients of the slot open their streams meanwhile.
                drop(held);
                stream.send_request(request).await.map_err(failed)
            }
            Sender::H1(mut sender) => {
                let answer = sender.send_request(request).await;
                *held = Some(Sender::H1(sender));
                answer.map_err(failed)
            }
        }
    }

    /// A new TLS connection, its bytes counted against `kind`.
    async fn connect(&self, kind: Transport) -> Result<Sender, ClientError> {
        let connecting = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .map_err(|_| ClientError::Transport("connect failed".into()))?;
            tcp.set_nodelay(true)
                .map_err(|_| ClientError::Transport("connect failed".into()))?;
            self.tls
                .connect(self.server.clone(), tcp)
                .await
                .map_err(|_| ClientError::Transport("TLS handshake failed".into()))
        };
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| ClientError::Timeout("tls connect"))??;
        self.opened.fetch_add(1, Ordering::Relaxed);
        let io = TokioIo::new(Counted {
            inner: tls,
            stats: self.stats.clone(),
            kind,
            sent: self.sent.clone(),
        });
        let refused = |_| ClientError::Transport("HTTP handshake failed".into());
        Ok(match self.plan.version {
            HttpVersion::Http1 => {
                let (sender, connection) = http1::handshake(io).await.map_err(refused)?;
                self.drive(connection);
                Sender::H1(sender)
            }
            HttpVersion::Http2 => {
                let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                    .handshake(io)
                    .await
                    .map_err(refused)?;
                self.drive(connection);
                Sender::H2(sender)
            }
        })
    }

    /// Runs a connection until it ends (the slot then sees it closed and
    /// the next request opens another) or the links are dropped.
    fn drive<F>(&self, connection: F)
    where
        F: Future<Output = Result<(), hyper::Error>> + Send + 'static,
    {
        let mut drivers = self.drivers.lock();
        while drivers.try_join_next().is_some() {}
        drivers.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "TLS connection ended");
            }
        });
    }
}

/// A stream that counts the bytes through it: read into the kind's
/// received bytes, written into the links' sent bytes.
struct Counted<T> {
    inner: T,
    stats: Arc<Recorder>,
    kind: Transport,
    sent: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.stats.get(self.kind).bytes(read as u64);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
