//! HTTP/2 over plain TCP (h2c, prior knowledge), where one connection
//! multiplexes many requests: it may hold only `--max-streams-per-connection`
//! streams at once, an idle one is told GOAWAY and closed after
//! `--header-timeout-secs`, and its streams count against the per-address
//! spectator and poll caps like streams on separate connections.
//!
//! Some tests speak HTTP/2 frames by hand ([`RawH2`]) to see what a client
//! library hides: the server's SETTINGS, RST_STREAM and GOAWAY frames.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{TestServer, WAIT, test_config};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use skirmish_shared::http::ApiErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Frame types (RFC 9113 section 6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
/// Flags.
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
/// SETTINGS_MAX_CONCURRENT_STREAMS.
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Error codes.
const NO_ERROR: u32 = 0x0;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;

/// One HTTP/2 frame.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn error_code(&self) -> u32 {
        // RST_STREAM: the code; GOAWAY: last stream id, then the code.
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().expect("4 bytes"))
    }

    fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|c| {
                (
                    u16::from_be_bytes([c[0], c[1]]),
                    u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                )
            })
            .collect()
    }
}

/// A minimal HTTP/2 client over a real TCP socket: GET requests with
/// literal (uncompressed) HPACK headers, SETTINGS and PING acknowledged as
/// any client does, every other frame handed to the test.
struct RawH2 {
    tcp: TcpStream,
    authority: String,
    next_stream: u32,
}

impl RawH2 {
    async fn connect(addr: SocketAddr) -> RawH2 {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("preface");
        let mut raw = RawH2 {
            tcp,
            authority: addr.to_string(),
            next_stream: 1,
        };
        raw.send(SETTINGS, 0, 0, &[]).await;
        raw
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len())
            .expect("small frame")
            .to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, flags];
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        // A server that already closed makes this fail; the test sees
        // that as the end of the connection on its next read.
        let _ = self.tcp.write_all(&frame).await;
    }

    /// Opens a stream with `GET path`; returns its id.
    async fn get(&mut self, path: &str) -> u32 {
        fn literal(block: &mut Vec<u8>, name_index: u8, value: &str) {
            // "Literal Header Field without Indexing — Indexed Name".
            block.push(name_index);
            block.push(u8::try_from(value.len()).expect("short value"));
            block.extend_from_slice(value.as_bytes());
        }
        // :method GET and :scheme http are in the static table (2 and 6).
        let mut block = vec![0x82, 0x86];
        literal(&mut block, 0x04, path);
        let authority = self.authority.clone();
        literal(&mut block, 0x01, &authority);
        let stream = self.next_stream;
        self.next_stream += 2;
        self.send(HEADERS, END_STREAM | END_HEADERS, stream, &block)
            .await;
        stream
    }

    /// The next frame the test should see; `None` when the server closed
    /// the connection. SETTINGS and PING are acknowledged and passed on.
    async fn next(&mut self) -> Option<Frame> {
        let mut head = [0u8; 9];
        self.tcp.read_exact(&mut head).await.ok()?;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0; len];
        self.tcp.read_exact(&mut payload).await.ok()?;
        let frame = Frame {
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
            payload,
        };
        if frame.flags & ACK == 0 {
            match frame.kind {
                SETTINGS => self.send(SETTINGS, ACK, 0, &[]).await,
                PING => self.send(PING, ACK, 0, &frame.payload.clone()).await,
                _ => {}
            }
        }
        Some(frame)
    }

    /// [`RawH2::next`] within [`WAIT`].
    async fn expect_next(&mut self) -> Option<Frame> {
        tokio::time::timeout(WAIT, self.next())
            .await
            .expect("a frame or the close in time")
    }

    /// Reads up to the server's first SETTINGS frame (acknowledged).
    async fn server_settings(&mut self) -> Vec<(u16, u32)> {
        loop {
            let frame = self.expect_next().await.expect("connection open");
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                return frame.settings();
            }
        }
    }
}

#[tokio::test]
async fn one_connection_may_hold_only_its_stream_limit_at_once() {
    let server = TestServer::start(test_config()).await;
    let mut h2 = RawH2::connect(server.addr).await;
    let settings = h2.server_settings().await;
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, 32)),
        "the server advertises its default stream limit: {settings:?}"
    );
    // A client that ignores the setting: 33 event streams at once.
    let mut ids = Vec::new();
    for _ in 0..33 {
        ids.push(h2.get("/api/ticker").await);
    }
    let mut answered = std::collections::BTreeSet::new();
    let refused = loop {
        let frame = h2.expect_next().await.expect("connection stays open");
        match frame.kind {
            HEADERS => {
                answered.insert(frame.stream);
            }
            RST_STREAM => break frame,
            _ => {}
        }
    };
    assert_eq!(
        refused.stream, ids[32],
        "the 33rd stream is the one refused"
    );
    assert_eq!(refused.error_code(), REFUSED_STREAM);
    while answered.len() < 32 {
        let frame = h2.expect_next().await.expect("connection stays open");
        if frame.kind == HEADERS {
            answered.insert(frame.stream);
        }
    }
    assert_eq!(answered, ids[..32].iter().copied().collect());
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_gets_goaway_and_is_closed_but_a_stream_keeps_it_open() {
    let mut config = test_config();
    config.header_timeout_secs = 2;
    config.sse_heartbeat_secs = 1;
    config.spectator_hz = 1;
    let server = TestServer::start(config).await;

    // An open event stream is not idleness: the connection lives on past
    // several idle timeouts while the stream carries heartbeats.
    let mut h2 = RawH2::connect(server.addr).await;
    let feed = h2.get("/api/ticker").await;
    let held = Instant::now();
    let mut heartbeats = 0;
    while held.elapsed() < Duration::from_secs(6) {
        let frame = h2.expect_next().await.expect("still open");
        assert_ne!(frame.kind, GOAWAY, "no GOAWAY while a stream is open");
        if frame.kind == DATA && frame.stream == feed {
            heartbeats += usize::from(frame.payload.starts_with(b": heartbeat"));
        }
    }
    assert!(heartbeats >= 2, "{heartbeats} heartbeats");
    // Cancelling the stream leaves the connection idle.
    h2.send(RST_STREAM, 0, feed, &CANCEL.to_be_bytes()).await;
    let (goaway, lifetime) = idle_close(&mut h2).await;
    assert_eq!(goaway.error_code(), NO_ERROR);
    assert!(lifetime < Duration::from_secs(12), "{lifetime:?}");

    // One finished request, then nothing.
    let mut h2 = RawH2::connect(server.addr).await;
    let health = h2.get("/healthz").await;
    loop {
        let frame = h2.expect_next().await.expect("answered");
        if frame.stream == health && frame.flags & END_STREAM != 0 {
            break;
        }
    }
    let (goaway, lifetime) = idle_close(&mut h2).await;
    assert_eq!(goaway.error_code(), NO_ERROR);
    let last = u32::from_be_bytes(goaway.payload[..4].try_into().expect("4 bytes"));
    assert_eq!(last, health, "the finished stream was processed");
    assert!(
        lifetime >= Duration::from_millis(1500) && lifetime < Duration::from_secs(12),
        "closed {lifetime:?} after its last stream; the idle timeout is 2 s"
    );
    server.stop().await;
}

/// Reads until the server closes an idle connection; returns its last
/// GOAWAY and how long the close took.
async fn idle_close(h2: &mut RawH2) -> (Frame, Duration) {
    let idle = Instant::now();
    let mut goaway = None;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), h2.next())
            .await
            .expect("an idle HTTP/2 connection is closed within 20 s");
        match frame {
            None => break,
            Some(frame) if frame.kind == GOAWAY => goaway = Some(frame),
            Some(_) => {}
        }
    }
    let goaway = goaway.expect("GOAWAY before the close");
    (goaway, idle.elapsed())
}

/// An h2c connection from `source` through hyper's client.
async fn h2c_from(server: &TestServer, source: [u8; 4]) -> SendRequest<Empty<Bytes>> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind source address");
    let tcp = socket.connect(server.addr).await.expect("connect");
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    sender
}

/// `GET path` of `server`.
fn request(server: &TestServer, path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{}{path}", server.addr))
        .body(Empty::<Bytes>::new())
        .expect("request")
}

/// Sends `GET path` on `sender`; returns the response (whose body is
/// still open for streams).
async fn get(
    sender: &SendRequest<Empty<Bytes>>,
    server: &TestServer,
    path: &str,
) -> hyper::Response<hyper::body::Incoming> {
    tokio::time::timeout(WAIT, sender.clone().send_request(request(server, path)))
        .await
        .expect("answered in time")
        .expect("response")
}

/// The whole body of `response`.
async fn body(response: hyper::Response<hyper::body::Incoming>) -> Bytes {
    let body = response.into_body().collect().await.expect("body");
    body.to_bytes()
}

/// The code and words of a refused request, with its `Retry-After`.
async fn refusal(
    response: hyper::Response<hyper::body::Incoming>,
) -> (ApiErrorCode, String, String) {
    assert_eq!(response.status(), 503);
    let retry = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .to_owned();
    let json: serde_json::Value = serde_json::from_slice(&body(response).await).expect("JSON body");
    let code = common::refusal(503, &json);
    (
        code,
        json["error"].as_str().expect("error").to_owned(),
        retry,
    )
}

#[tokio::test]
async fn one_address_cannot_take_every_spectator_or_poll_slot() {
    let mut config = test_config();
    config.max_spectators_per_ip = 20;
    config.max_polls_per_ip = 10;
    let server = TestServer::start(config).await;
    let first = h2c_from(&server, [127, 0, 0, 1]).await;
    let second = h2c_from(&server, [127, 0, 0, 1]).await;

    // Streams over two connections of one address count together.
    let mut feeds = Vec::new();
    for i in 0..20 {
        let sender = if i % 2 == 0 { &first } else { &second };
        let response = get(sender, &server, "/api/rooms/main/events").await;
        assert_eq!(response.status(), 200, "stream {i}");
        feeds.push(response.into_body());
    }
    let (code, error, retry) = refusal(get(&first, &server, "/api/ticker").await).await;
    assert_eq!(code, ApiErrorCode::IpSpectatorLimit);
    assert_eq!(
        error,
        "your address has 20 spectator streams open, the most allowed"
    );
    assert_eq!(retry, "5");
    // Another address is not affected.
    let other = h2c_from(&server, [127, 0, 0, 2]).await;
    let response = get(&other, &server, "/api/rooms/main/events").await;
    assert_eq!(response.status(), 200);
    drop(response);

    // Polls: ten wait on one connection, the eleventh is refused.
    let head = {
        let response = get(&first, &server, "/api/rooms/main/poll").await;
        let page: serde_json::Value = serde_json::from_slice(&body(response).await).expect("json");
        page["next"].as_u64().expect("next")
    };
    let wait = format!("/api/rooms/main/poll?after={head}&timeout=30");
    let mut pending = Vec::new();
    for _ in 0..10 {
        let poll = first.clone().send_request(request(&server, &wait));
        pending.push(tokio::spawn(poll));
    }
    let pollers = server.server.as_ref().expect("running").state();
    for _ in 0..1000 {
        if pollers.polls.open() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pollers.polls.open(), 10, "ten polls wait");
    let (code, error, retry) = refusal(get(&first, &server, &wait).await).await;
    assert_eq!(code, ApiErrorCode::IpPollLimit);
    assert_eq!(error, "your address has 10 polls waiting, the most allowed");
    assert_eq!(retry, "1");
    let response = get(&other, &server, "/api/ticker/poll").await;
    assert_eq!(response.status(), 200, "another address polls");

    let metrics = {
        let response = get(&other, &server, "/metrics").await;
        String::from_utf8(body(response).await.to_vec()).expect("utf-8")
    };
    for reason in ["ip_spectator_limit", "ip_poll_limit"] {
        assert_eq!(
            common::metric(
                &metrics,
                &format!("skirmish_rejected_total{{reason=\"{reason}\"}}")
            ),
            Some(1.0),
            "{reason}"
        );
    }
    drop(feeds);
    for poll in pending {
        poll.abort();
    }
    server.stop().await;
}
