//! One admitted connection, served by hyper (HTTP/1.1 or HTTP/2, plain or
//! TLS) until the client leaves, the connection goes idle, or the server
//! shuts down.
//!
//! A connection is busy while any request on it is open: from its head
//! until its response body is done (an event stream for as long as it
//! streams), and for a WebSocket until the socket closes, because the
//! socket task keeps the request's [`ConnSlot`]. A connection with nothing
//! open for the idle timeout (`--header-timeout-secs`) is closed
//! gracefully: an HTTP/2 client gets GOAWAY, an HTTP/1.1 keep-alive is shut.
//! hyper times out slow HTTP/1 heads on its own but has no idle timeout for
//! HTTP/2, so without this an idle HTTP/2 connection stayed open forever. A
//! connection that sends no request at all in that time is dropped without
//! a word, and one with no open stream a second after GOAWAY (a client that
//! never answers the GOAWAY's ping) is dropped too.
//!
//! At shutdown each connection is closed the same graceful way; its open
//! requests finish first (streams end on their own, as they watch the same
//! token). It never cuts a request or stream that is still open: only the
//! server's shutdown deadline does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;
use tracing::debug;

use crate::listener::ConnSlot;
use crate::metrics::{Metrics, Rejection};

/// One admitted connection, ready to serve.
pub(crate) struct Connection {
    pub(crate) peer: SocketAddr,
    pub(crate) slot: ConnSlot,
    pub(crate) app: Router,
    pub(crate) builder: Builder<TokioExecutor>,
    /// For the first request head, and the longest idle time.
    pub(crate) timeout: Duration,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: CancellationToken,
}

/// The open requests of one connection.
#[derive(Debug)]
pub(crate) struct Activity {
    streams: watch::Sender<Streams>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Streams {
    /// Requests (HTTP/2: streams) open now.
    open: usize,
    /// Requests ever started.
    started: u64,
}

/// One open request; dropping it closes it.
#[derive(Debug)]
pub(crate) struct StreamMark(Arc<Activity>);

impl Drop for StreamMark {
    fn drop(&mut self) {
        self.0.streams.send_modify(|s| s.open -= 1);
    }
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            streams: watch::Sender::new(Streams::default()),
        })
    }

    /// Marks a request open.
    fn begin(self: &Arc<Self>) -> StreamMark {
        self.streams.send_modify(|s| {
            s.open += 1;
            s.started += 1;
        });
        StreamMark(self.clone())
    }

    /// Whether any request has started.
    fn spoke(&self) -> bool {
        self.streams.borrow().started > 0
    }

    /// Resolves once no request has been open for `period`.
    async fn idle_for(&self, period: Duration) {
        let mut streams = self.streams.subscribe();
        loop {
            // The sender lives in `self`: waiting cannot fail.
            let _ = streams.wait_for(|s| s.open == 0).await;
            tokio::select! {
                () = tokio::time::sleep(period) => return,
                // A request started (or ended) meanwhile: start over.
                _ = streams.changed() => {}
            }
        }
    }
}

/// A response body that keeps its request open until it is done or
/// dropped (hyper drops it when the stream ends or is reset).
struct Held<B> {
    body: B,
    _slot: ConnSlot,
}

impl<B: Body + Unpin> Body for Held<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// After GOAWAY, how long a connection with no open stream may stay: a
/// client answers the GOAWAY's ping within a round trip, and one that does
/// not must not hold the connection, or the drain at shutdown, any longer.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

impl Connection {
    /// Serves `io` to the end.
    pub(crate) async fn run<I>(self, io: I)
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
            shutdown,
        } = self;
        let activity = Activity::new();
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                let slot = slot.for_stream(activity.begin());
                request.extensions_mut().insert(slot.clone());
                let mut app = app.clone();
                async move {
                    let response = app.call(request).await;
                    let response = response.unwrap_or_else(|never| match never {});
                    Ok::<_, Infallible>(response.map(|body| Held { body, _slot: slot }))
                }
            })
        };
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::pin!(conn);
        // Told to close (GOAWAY for HTTP/2), idle or at shutdown.
        let mut closing = false;
        let ended = loop {
            let idle = if closing { GOAWAY_GRACE } else { timeout };
            tokio::select! {
                ended = &mut conn => break ended,
                () = shutdown.cancelled(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = activity.idle_for(idle) => {
                    if closing {
                        debug!(%peer, "still open after GOAWAY; dropping");
                        return;
                    }
                    if !activity.spoke() {
                        // hyper times out slow heads once it knows the
                        // protocol; this covers a client that sent nothing.
                        metrics.reject(Rejection::HeaderTimeout);
                        debug!(%peer, "no request in time; closing");
                        return;
                    }
                    debug!(%peer, "idle; closing");
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        };
        if let Err(err) = ended {
            debug!(%peer, %err, "connection ended with an error");
        }
    }
}
