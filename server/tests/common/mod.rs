//! The one helper every end-to-end test uses: a real server on 127.0.0.1:0
//! and a real tokio-tungstenite player client speaking the shared codec;
//! plus real processes: the server binary ([`node_process`]), Redis
//! ([`redis_process`]) and PostgreSQL ([`postgres_process`]).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helper"
)]

pub mod cluster_nodes;
pub mod legacy_player;
pub mod nginx_process;
pub mod node_process;
pub mod postgres_process;
pub mod redis_process;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use skirmish_server::{Config, Server};
use skirmish_shared::feed::{RoomEvent, Tagged, TickerEvent};
use skirmish_shared::http::{ApiErrorCode, ErrorBody};
use skirmish_shared::rules::{buttons, quantise_aim, units};
use skirmish_shared::view::{ViewError, ViewHistory, WorldView};
use skirmish_shared::{
    ClientMsg, Hello, Input, PROTOCOL_VERSION, Ping, ResumeToken, ServerMsg, ShipId, SnapshotBody,
    Welcome, decode_server, encode,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected message may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings for tests: free port, no server-side bots (so outcomes depend on
/// the test's inputs only), short timers where a test wants them.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.bots = 0;
    // Every test client comes from 127.0.0.1; the per-address limits have
    // their own tests.
    config.max_connections_per_ip = config.max_connections;
    config.new_rooms_per_ip_per_min = 1_000_000;
    config.max_spectators_per_ip = config.max_spectators;
    config.max_polls_per_ip = config.max_polls;
    config.matchmakes_per_sec = 10_000;
    // Tests that keep records give their server a temporary data
    // directory (`persistence.rs`); the rest keep none.
    config.no_database = true;
    config
}

/// A real server, stopped when dropped or explicitly.
pub struct TestServer {
    pub server: Option<Server>,
    pub addr: SocketAddr,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        let server = Server::start(config).await.expect("server starts");
        let addr = server.addr();
        TestServer {
            server: Some(server),
            addr,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server
                .shutdown(Duration::from_secs(5))
                .await
                .expect("clean shutdown");
        }
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a raw WebSocket to the server.
pub async fn raw_socket(server: &TestServer) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("websocket connects");
    socket
}

/// Opens a WebSocket at `url` (a matchmaking answer's `ws_url`).
pub async fn connect_url(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

/// Opens `url`, says Hello naming no room, and returns the refusal: the
/// `Error` message's text and the close code.
pub async fn refused_hello(url: &str) -> (String, u16) {
    let mut socket = connect_url(url).await;
    send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "Late".into(),
            room: None,
            resume: None,
        }),
    )
    .await;
    let ServerMsg::Error(error) = recv(&mut socket).await else {
        panic!("expected an Error");
    };
    (error.message, expect_close(&mut socket).await.0)
}

/// 32 hex digits, as the JSON API writes tokens.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads until the server closes; returns the close code and reason.
pub async fn expect_close(socket: &mut Socket) -> (u16, String) {
    loop {
        let next = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("server closes in time");
        match next {
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                return (code.into(), reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("socket error before close frame: {err}"),
            None => panic!("socket ended without a close frame"),
        }
    }
}

/// A player: a WebSocket plus what it has reconstructed of the room.
pub struct Player {
    pub socket: Socket,
    pub welcome: Welcome,
    pub view: ViewHistory,
    pub seq: u32,
    /// Newest `last_input` the server reported.
    pub last_input: u32,
    /// Every snapshot body received, in order.
    pub bodies: Vec<SnapshotBody>,
}

impl Player {
    pub async fn join(server: &TestServer, name: &str, room: Option<&str>) -> Player {
        Player::hello(server, name, room, None).await
    }

    pub async fn hello(
        server: &TestServer,
        name: &str,
        room: Option<&str>,
        resume: Option<ResumeToken>,
    ) -> Player {
        Player::hello_on(raw_socket(server).await, name, room, resume).await
    }

    /// Says Hello on an already open socket and waits for Welcome.
    pub async fn hello_on(
        socket: Socket,
        name: &str,
        room: Option<&str>,
        resume: Option<ResumeToken>,
    ) -> Player {
        let hello = Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: name.into(),
            room: room.map(Into::into),
            resume,
        };
        Player::say(socket, hello).await
    }

    /// Sends `hello` on an already open socket and waits for Welcome.
    pub async fn say(mut socket: Socket, hello: Hello) -> Player {
        send(&mut socket, &ClientMsg::Hello(hello)).await;
        let welcome = match recv(&mut socket).await {
            ServerMsg::Welcome(w) => w,
            other => panic!("expected Welcome, got {other:?}"),
        };
        Player {
            socket,
            welcome,
            view: ViewHistory::new(),
            seq: 0,
            last_input: 0,
            bodies: Vec::new(),
        }
    }

    pub fn ship(&self) -> ShipId {
        self.welcome.ship
    }

    /// The newest reconstructed state.
    pub fn world(&self) -> &WorldView {
        self.view.latest().expect("a snapshot has arrived")
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        send(&mut self.socket, msg).await;
    }

    /// Sends one input acknowledging the newest state held.
    pub async fn input(&mut self, buttons: u8, aim: u8) {
        self.seq += 1;
        let ack = self.view.latest().map(|v| v.tick);
        self.send(&ClientMsg::Input(Input {
            seq: self.seq,
            ack,
            buttons,
            aim,
            view: None,
        }))
        .await;
    }

    /// Next server message, whatever it is.
    pub async fn recv(&mut self) -> ServerMsg {
        recv(&mut self.socket).await
    }

    /// Waits for the next snapshot and applies it. A missing baseline is a
    /// test failure: the server must only delta against what we acked.
    pub async fn snapshot(&mut self) -> SnapshotBody {
        loop {
            if let ServerMsg::Snapshot(s) = self.recv().await {
                self.last_input = s.last_input;
                match self.view.apply(&s.body) {
                    Ok(_) | Err(ViewError::Stale(_)) => {}
                    Err(err) => panic!("snapshot did not apply: {err}"),
                }
                self.bodies.push(s.body.clone());
                return s.body;
            }
        }
    }

    /// Reads snapshots until `done` holds for the newest state, sending
    /// `input` after each one; fails after `max_ticks` snapshots.
    pub async fn play_until(
        &mut self,
        max_ticks: u32,
        mut input: impl FnMut(&WorldView, ShipId) -> (u8, u8),
        mut done: impl FnMut(&Player) -> bool,
    ) {
        for _ in 0..max_ticks {
            self.snapshot().await;
            if done(self) {
                return;
            }
            let (buttons, aim) = input(self.world(), self.ship());
            self.input(buttons, aim).await;
        }
        panic!("condition not reached within {max_ticks} snapshots");
    }

    pub async fn ping(&mut self, nonce: u32) {
        self.send(&ClientMsg::Ping(Ping { nonce })).await;
    }
}

pub async fn send(socket: &mut Socket, msg: &ClientMsg) {
    let bytes = encode(msg).expect("encode");
    socket
        .send(Message::Binary(Bytes::from(bytes)))
        .await
        .expect("send");
}

pub async fn recv(socket: &mut Socket) -> ServerMsg {
    loop {
        let next = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("no socket error");
        match next {
            Message::Binary(bytes) => return decode_server(&bytes).expect("server frames decode"),
            Message::Close(frame) => panic!("closed by server: {frame:?}"),
            _ => continue,
        }
    }
}

/// The value of `series` (name and labels, as written) in OpenMetrics text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The code of an error answer, checked: the body is the shared
/// `ErrorBody` with some words, and the status is the code's own.
pub fn refusal(status: u16, body: &serde_json::Value) -> ApiErrorCode {
    let error: ErrorBody = serde_json::from_value(body.clone())
        .unwrap_or_else(|err| panic!("not an error body ({err}): {body}"));
    assert_eq!(status, error.code.status(), "{body}");
    assert!(!error.error.is_empty(), "{body}");
    error.code
}

/// `GET path`, parsed as JSON.
pub async fn get_json(server: &TestServer, path: &str) -> serde_json::Value {
    let url = server.http_url(path);
    let response = http_get(&url).await;
    serde_json::from_str(&response.1).expect("json body")
}

/// A minimal HTTP/1.1 GET over a real TCP socket; returns status and body.
pub async fn http_get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    parse_response(&raw)
}

/// Status and body of a raw HTTP/1.1 response (chunked or not).
pub fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One parsed SSE frame. Comments come back as event `":"`, a frame with
/// only `retry:` as event `"retry"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }

    /// The frame as a room feed's event: its name and data must be one of
    /// `shared/src/feed.rs`'s.
    pub fn room(&self) -> RoomEvent {
        self.typed()
    }

    /// The frame as a ticker event.
    pub fn ticker(&self) -> TickerEvent {
        self.typed()
    }

    fn typed<E: serde::de::DeserializeOwned>(&self) -> E {
        let data = RawValue::from_string(self.data.clone()).expect("event data is JSON");
        let event = Tagged {
            event: &self.event,
            data,
        };
        let text = serde_json::to_string(&event).expect("serialises");
        serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("not a feed event ({err}): {self:?}"))
    }
}

/// A real HTTP client reading an event stream.
pub struct SseClient {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
}

impl SseClient {
    /// Opens `url`, resuming after `last_event_id` when given.
    pub async fn open(
        client: &reqwest::Client,
        url: &str,
        last_event_id: Option<u64>,
    ) -> SseClient {
        let mut request = client.get(url);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("response in time")
            .expect("request sent");
        SseClient {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next frame (bounded wait).
    pub async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                return parse_frame(&frame);
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("an event in time")
                .expect("stream still open")
                .expect("no transport error");
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("utf-8 stream"));
        }
    }

    /// The next frame with an id (a logged event, a snapshot or a reset).
    pub async fn next_logged(&mut self) -> SseEvent {
        loop {
            let event = self.next().await;
            if event.id.is_some() {
                return event;
            }
        }
    }

    /// Every frame until the server ends the stream (bounded wait).
    pub async fn rest(&mut self) -> Vec<SseEvent> {
        let mut frames = Vec::new();
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                frames.push(parse_frame(&frame));
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("the stream ends in time");
            match chunk {
                Some(chunk) => self.buf.push_str(
                    std::str::from_utf8(&chunk.expect("no transport error")).expect("utf-8"),
                ),
                None => return frames,
            }
        }
    }
}

fn parse_frame(frame: &str) -> SseEvent {
    let mut event = SseEvent {
        id: None,
        event: "message".into(),
        data: String::new(),
    };
    let mut only_comments = true;
    let mut only_retry = true;
    for line in frame.lines().filter(|l| !l.is_empty()) {
        if line.starts_with(':') {
            only_retry = false;
            continue;
        }
        only_comments = false;
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => {
                only_retry = false;
                event.id = Some(value.parse().expect("numeric id"));
            }
            "event" => {
                only_retry = false;
                event.event = value.into();
            }
            "data" => {
                only_retry = false;
                event.data.push_str(value);
            }
            "retry" => {}
            other => panic!("unknown SSE field {other:?}"),
        }
    }
    if only_comments {
        event.event = ":".into();
    } else if only_retry {
        event.event = "retry".into();
    }
    event
}

/// Steers towards `target` and fires when in range.
pub fn hunt(target: ShipId) -> impl FnMut(&WorldView, ShipId) -> (u8, u8) {
    move |world, me| {
        let (Some(a), Some(b)) = (world.ships.get(&me), world.ships.get(&target)) else {
            return (0, 0);
        };
        let dx = units(b.state.x) - units(a.state.x);
        let dy = units(b.state.y) - units(a.state.y);
        let aim = quantise_aim(dy.atan2(dx));
        let mut pressed = 0;
        if dx.hypot(dy) > 250.0 {
            if dx > 40.0 {
                pressed |= buttons::RIGHT;
            } else if dx < -40.0 {
                pressed |= buttons::LEFT;
            }
            if dy > 40.0 {
                pressed |= buttons::DOWN;
            } else if dy < -40.0 {
                pressed |= buttons::UP;
            }
        }
        if dx.hypot(dy) < 500.0 {
            pressed |= buttons::FIRE;
        }
        (pressed, aim)
    }
}

/// `GET /api/rooms` over HTTPS with HTTP/1.1 (trusting `client`'s roots).
pub async fn get_json_tls(
    server: &TestServer,
    client: &std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = (**client).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("TLS");
    tls.write_all(b"GET /api/rooms HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut raw)).await;
    let (status, body) = parse_response(&raw);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

/// An HTTP client whose connections come from `source` (any 127.0.0.0/8
/// address works on loopback), for the per-address limits.
pub fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(std::net::Ipv4Addr::from(source)))
        .timeout(WAIT)
        .build()
        .expect("client")
}

/// A request's status, `Retry-After` and JSON body.
pub async fn sent(request: reqwest::RequestBuilder) -> (u16, Option<u32>, serde_json::Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry, response.json().await.expect("JSON body"))
}
