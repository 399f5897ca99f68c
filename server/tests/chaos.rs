//! Chaos over real sockets: a reader that stops, connections reset in the
//! middle of a frame, ten thousand garbage frames, a thousand connects and
//! disconnects of every transport. Afterwards nothing is left behind (no
//! gauge above zero, no extra task, seat, room or connection slot) and the
//! room still ticks at its rate.

mod common;

use std::time::Duration;

use common::{Player, TestServer, WAIT, metric, test_config};
use futures_util::StreamExt;
use skirmish_server::Config;
use skirmish_server::net::AppState;
use skirmish_shared::rng::XorShift;
use skirmish_shared::{ClientMsg, Hello, Input, PROTOCOL_VERSION, Ping, ServerMsg, encode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::MaybeTlsStream;

/// One test at a time: each measures the tick rate, and on a two-core
/// machine two of these running together would mostly measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The share of the nominal tick rate that counts as "ticking at its rate"
/// on a loaded CI machine running a debug build.
const RATE_SLACK: f64 = 0.7;

/// How long leftovers may take to go (resume grace, empty-room grace and
/// long-poll expiry are all about a second here).
const SETTLE: Duration = Duration::from_secs(10);

/// Short timers, so that everything a dropped client leaves behind expires
/// within a second or two: a dropped player's ship at the next tick, an
/// empty room after a second, an abandoned long-poll session after one.
fn chaos_config() -> Config {
    let mut config = test_config();
    config.bots = 4;
    config.resume_grace_secs = 0;
    config.empty_room_secs = 1;
    config.legacy_idle_secs = 1;
    config.hello_timeout_secs = 2;
    // Churning clients, abandoned long-poll seats among them, all in main.
    config.max_players = 1000;
    // The stalled-reader tests size their sockets' backlog by whole-room
    // snapshots of sixty-odd ships: no area of interest shrinks them.
    config.interest_from_ships = u16::MAX;
    config
}

fn app(server: &TestServer) -> &AppState {
    server.server.as_ref().expect("in-process server").state()
}

fn snapshots_skipped(server: &TestServer) -> u64 {
    let text = app(server).metrics.render();
    metric(&text, "skirmish_snapshots_skipped_total").expect("skipped counter") as u64
}

/// The room's last completed tick.
fn tick_of(server: &TestServer, room: &str) -> u32 {
    app(server)
        .registry
        .get(room)
        .expect("room is open")
        .stats
        .tick
        .load(std::sync::atomic::Ordering::Relaxed)
}

fn assert_rate(what: &str, per_sec: f64, hz: u16) {
    assert!(
        per_sec >= RATE_SLACK * f64::from(hz),
        "{what}: {per_sec:.1} per second, nominal {hz}"
    );
}

/// Everything a connection can hold on the server, as the server reports it.
#[derive(Debug, PartialEq, Eq)]
struct Census {
    websocket_players: i64,
    longpoll_players: i64,
    spectators: i64,
    pollers: i64,
    legacy_sessions: i64,
    /// The rooms gauge.
    open_rooms: i64,
    /// `(room, seated players)` by id.
    rooms: Vec<(String, u32)>,
    /// Tasks in the server's tracker: rooms, ticker, sweeper, WebSockets.
    tracked_tasks: usize,
    /// Open TCP connections (after settling: the player WebSockets).
    connections: usize,
}

impl Census {
    fn now(server: &TestServer) -> Census {
        let app = app(server);
        let text = app.metrics.render();
        let gauge = |series: &str| metric(&text, series).unwrap_or(0.0) as i64;
        Census {
            websocket_players: gauge("skirmish_players{transport=\"websocket\"}"),
            longpoll_players: gauge("skirmish_players{transport=\"longpoll\"}"),
            spectators: gauge("skirmish_spectators"),
            pollers: gauge("skirmish_pollers"),
            legacy_sessions: gauge("skirmish_legacy_sessions"),
            open_rooms: gauge("skirmish_rooms"),
            rooms: app
                .registry
                .list()
                .into_iter()
                .map(|r| (r.id, r.players))
                .collect(),
            tracked_tasks: app.tracker.len(),
            connections: app.connections.open(),
        }
    }

    /// Nothing but `players` WebSocket players in the default room: the
    /// tracker holds the room, the ticker's board, the long-poll sweeper and
    /// one task per player.
    fn quiet(players: u32) -> Census {
        Census {
            websocket_players: i64::from(players),
            longpoll_players: 0,
            spectators: 0,
            pollers: 0,
            legacy_sessions: 0,
            open_rooms: 1,
            rooms: vec![("main".into(), players)],
            tracked_tasks: 3 + players as usize,
            connections: players as usize,
        }
    }
}

/// Tasks the server runs outside its tracker: the accept loop.
const SERVE_TASKS: usize = 1;

/// The runtime's live tasks: the server's and this test's clients'.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (bounded) until the server is back to `expected`, and the whole
/// runtime holds no task but the server's long-lived ones and one per
/// connected player: every connection task, client and server side, ended.
async fn settle(server: &TestServer, expected: &Census) {
    let deadline = Instant::now() + SETTLE;
    let tasks = expected.tracked_tasks + SERVE_TASKS;
    loop {
        let now = Census::now(server);
        let alive = alive_tasks();
        if now == *expected && alive == tasks {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind after {SETTLE:?}: {now:#?} with {alive} tasks alive; \
             expected {expected:#?} with {tasks}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `done` (bounded) where there is no event to await.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until a stalled socket's writer is blocked: half a
/// second in which every tick replaced an unsent snapshot.
async fn wait_for_stall(server: &TestServer) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (tick, skipped) = (tick_of(server, "main"), snapshots_skipped(server));
        // A sampling interval: there is no event for "the buffers are full".
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ticks = tick_of(server, "main") - tick;
        if ticks >= 5 && snapshots_skipped(server) - skipped >= u64::from(ticks) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled socket's writer never blocked"
        );
    }
}

/// Reads `player`'s snapshots until `stop` fires; returns the ticks seen and
/// how many ticks the room ran meanwhile.
async fn watch(
    player: &mut Player,
    server: &TestServer,
    mut stop: oneshot::Receiver<()>,
) -> (Vec<u32>, u32) {
    let room = player.welcome.room.clone();
    let first = tick_of(server, &room);
    let mut ticks = Vec::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            body = player.snapshot() => ticks.push(body.tick.0),
        }
    }
    (ticks, tick_of(server, &room) - first)
}

/// `watch`'s verdict: a snapshot for (nearly) every tick the room ran, in
/// order.
fn assert_kept_up(who: &str, ticks: &[u32], room_ticks: u32) {
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "{who}: ticks out of order"
    );
    assert!(
        ticks.len() as f64 >= RATE_SLACK * f64::from(room_ticks),
        "{who} got {} snapshots while the room ran {room_ticks} ticks",
        ticks.len()
    );
}

/// The room ticks at its rate and `player` gets a snapshot every tick:
/// catches up with whatever is buffered, then counts for a second.
async fn assert_snapshots_flow(player: &mut Player, server: &TestServer) {
    let room = player.welcome.room.clone();
    let hz = player.welcome.rules.tick_hz;
    let now = tick_of(server, &room);
    while player.snapshot().await.tick.0 < now {}
    let (start, first) = (Instant::now(), tick_of(server, &room));
    let mut received = 0_u32;
    while start.elapsed() < Duration::from_secs(1) {
        player.snapshot().await;
        received += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_rate(
        "room ticks",
        f64::from(tick_of(server, &room) - first) / secs,
        hz,
    );
    assert_rate("snapshots received", f64::from(received) / secs, hz);
}

fn hello(name: &str, room: Option<&str>) -> ClientMsg {
    ClientMsg::Hello(Hello {
        token: None,
        protocol: PROTOCOL_VERSION,
        player: None,
        name: name.into(),
        room: room.map(Into::into),
        resume: None,
    })
}

fn input(seq: u32) -> ClientMsg {
    ClientMsg::Input(Input {
        seq,
        ack: None,
        buttons: 0,
        aim: 0,
        view: None,
    })
}

/// A player whose socket takes almost nothing: the kernel's smallest
/// receive buffer and segment size. Linux sizes the server's send buffer
/// from the segment size (64 KiB on loopback), so it would otherwise soak
/// up snapshots for minutes; this way some 50 KB unread block the server's
/// writer (the kernel still grows the buffer once or twice on the way).
async fn cramped_player(server: &TestServer, name: &str) -> Player {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1).expect("SO_RCVBUF");
    socket2::SockRef::from(&socket)
        .set_tcp_mss(88)
        .expect("TCP_MAXSEG");
    let tcp = socket.connect(server.addr).await.expect("connects");
    let (socket, _) = tokio_tungstenite::client_async(server.ws_url(), MaybeTlsStream::Plain(tcp))
        .await
        .expect("handshake");
    Player::hello_on(socket, name, None, None).await
}

// --- A WebSocket client by hand, to cut frames anywhere --------------------

const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;

fn upgrade_request(server: &TestServer) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    )
}

/// One client frame: FIN, `opcode`, masked as clients must.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend(len.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend((len as u64).to_be_bytes());
    }
    out.extend(MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

fn binary(msg: &ClientMsg) -> Vec<u8> {
    frame(OP_BINARY, &encode(msg).expect("encode"))
}

/// Server frames read off a raw byte stream.
struct Frames<R> {
    io: R,
    buf: Vec<u8>,
    /// The stream ended in an error (a reset), not a clean end.
    reset: bool,
}

/// How a connection ended, as its client saw it.
#[derive(Debug)]
enum Ending {
    /// A close frame: code and reason.
    Close(u16, String),
    /// A reset, with no close frame before it.
    Reset,
    /// An end with no close frame before it (a reset reads as one once a
    /// write on the same socket has reported it).
    Eof,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    /// Reads more; false at the end of the stream (or a reset).
    async fn fill(&mut self) -> bool {
        self.buf.reserve(8192);
        match timeout(WAIT, self.io.read_buf(&mut self.buf)).await {
            Err(_) => panic!("the server went quiet"),
            Ok(Ok(n)) => n > 0,
            Ok(Err(_)) => {
                self.reset = true;
                false
            }
        }
    }

    async fn have(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            if !self.fill().await {
                return false;
            }
        }
        true
    }

    /// The next whole frame (`opcode`, payload), or `None` once the
    /// connection is gone.
    async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        if !self.have(2).await {
            return None;
        }
        let opcode = self.buf[0] & 0x0f;
        let (len, head) = match self.buf[1] & 0x7f {
            126 => {
                if !self.have(4).await {
                    return None;
                }
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                if !self.have(10).await {
                    return None;
                }
                let mut len = [0; 8];
                len.copy_from_slice(&self.buf[2..10]);
                (usize::try_from(u64::from_be_bytes(len)).expect("len"), 10)
            }
            n => (usize::from(n), 2),
        };
        if !self.have(head + len).await {
            return None;
        }
        let payload = self.buf[head..head + len].to_vec();
        self.buf.drain(..head + len);
        Some((opcode, payload))
    }

    /// Skips frames up to the close frame, or the end of the connection.
    async fn close(&mut self) -> Ending {
        loop {
            let Some((opcode, payload)) = self.next().await else {
                return if self.reset {
                    Ending::Reset
                } else {
                    Ending::Eof
                };
            };
            if opcode == OP_CLOSE {
                assert!(payload.len() >= 2, "close frame without a code");
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec()).expect("utf-8 reason");
                return Ending::Close(code, reason);
            }
        }
    }

    /// Waits for the Welcome.
    async fn welcome(&mut self) {
        loop {
            let (opcode, payload) = self.next().await.expect("connection open");
            if opcode == OP_BINARY {
                match skirmish_shared::decode_server(&payload).expect("decodes") {
                    ServerMsg::Welcome(_) => return,
                    other => panic!("expected Welcome, got {other:?}"),
                }
            }
        }
    }
}

type RawWs = Frames<TcpStream>;

impl RawWs {
    /// A TCP connection upgraded to a WebSocket, nothing sent yet.
    async fn open(server: &TestServer) -> RawWs {
        let mut io = TcpStream::connect(server.addr).await.expect("connects");
        io.write_all(upgrade_request(server).as_bytes())
            .await
            .expect("write");
        let mut ws = Frames {
            io,
            buf: Vec::new(),
            reset: false,
        };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(ws.fill().await, "closed during the handshake");
        };
        let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        ws.buf.drain(..end);
        ws
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
    }

    /// Aborts the connection: RST, not FIN.
    fn reset(self) {
        reset(self.io);
    }
}

fn reset(tcp: TcpStream) {
    tcp.set_zero_linger().expect("SO_LINGER");
    drop(tcp);
}

// --- 1. A reader that stops ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_costs_one_slot_and_the_room_ticks_on() {
    let _serial = SERIAL.lock().await;
    let mut config = chaos_config();
    // Sixty-odd ships: full snapshots of a couple of kilobytes, so an
    // unread socket fills in about a second and its buffers hold only a
    // few dozen of them.
    config.bots = 64;
    let hz = config.tick_hz;
    let server = TestServer::start(config).await;
    let mut steady = Player::join(&server, "Steady", None).await;
    let skipped_before = snapshots_skipped(&server);
    // Never acks, so it is due a full snapshot every tick; from here on it
    // reads nothing until told otherwise.
    let mut stalled = cramped_player(&server, "Stalled").await;
    let stalled_at = stalled.welcome.tick.0;

    let (stop, stopped) = oneshot::channel();
    let observe = async {
        wait_for_stall(&server).await;
        let (start, tick) = (Instant::now(), tick_of(&server, "main"));
        // The measurement window itself, not a synchronisation.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rate = f64::from(tick_of(&server, "main") - tick) / start.elapsed().as_secs_f64();
        let _ = stop.send(());
        rate
    };
    let ((steady_ticks, room_ticks), rate) =
        tokio::join!(watch(&mut steady, &server, stopped), observe);
    // The room never waited for the stalled socket: it ticked at its rate,
    // and the other player got every snapshot meanwhile.
    assert_rate("room ticks while a reader stalls", rate, hz);
    assert_kept_up("the steady player", &steady_ticks, room_ticks);

    // Reading again, the stalled player drains what the socket buffers
    // took before they filled, then gets the newest state.
    let resumed_at = tick_of(&server, "main");
    let skipped = snapshots_skipped(&server) - skipped_before;
    let mut received = Vec::new();
    while received.last().is_none_or(|&t| t < resumed_at) {
        received.push(stalled.snapshot().await.tick.0);
    }
    let stall = resumed_at - stalled_at;
    let delivered = u32::try_from(received.len()).expect("count");
    // Each tick's snapshot for it was either sent or replaced unsent in its
    // one slot (and counted): the room queued nothing else for it...
    assert!(
        skipped + u64::from(delivered) + 2 >= u64::from(stall),
        "{stall} ticks of stall, {delivered} snapshots delivered, {skipped} skipped"
    );
    // ...and most of the stall was never sent at all: what reaches the
    // reader is a short backlog, then the present.
    assert!(
        2 * delivered <= stall,
        "{delivered} snapshots to catch up after a stall of {stall} ticks: {received:?}"
    );
    let [.., last_backlog, fresh] = received[..] else {
        panic!("a backlog and a fresh snapshot: {received:?}");
    };
    assert!(
        fresh > last_backlog + 1,
        "the newest state comes right after the backlog: {received:?}"
    );
    assert_snapshots_flow(&mut stalled, &server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_and_goes_quiet_is_dropped_at_the_idle_timeout() {
    let _serial = SERIAL.lock().await;
    let mut config = chaos_config();
    config.bots = 64;
    config.idle_timeout_secs = 3;
    let server = TestServer::start(config).await;

    let mut stalled = cramped_player(&server, "Stalled").await;
    let joined = Instant::now();
    let before = snapshots_skipped(&server);
    wait_until("the stalled socket's writer blocks", || {
        snapshots_skipped(&server) >= before + 10
    })
    .await;
    // The writer is stuck in a send; the reader's idle timeout still ends
    // the session, and the close frame gets a bounded try (1 s).
    settle(&server, &Census::quiet(0)).await;
    let took = joined.elapsed();
    assert!(
        took < Duration::from_secs(3 + 1 + 3),
        "dropped after {took:?}, idle timeout 3 s"
    );
    // The client finds its connection over once it reads again.
    let ended = timeout(WAIT, async {
        while let Some(Ok(message)) = stalled.socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection ends");
    server.stop().await;
}

/// A client that keeps sending (so it is never idle) but never reads: its
/// writer blocks, and `--write-timeout-secs` drops it; the session, seat
/// and connection are freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_but_keeps_talking_is_dropped_in_bounded_time() {
    let _serial = SERIAL.lock().await;
    let mut config = chaos_config();
    config.bots = 64;
    config.idle_timeout_secs = 2;
    config.write_timeout_secs = 1;
    let server = TestServer::start(config).await;

    let mut stalled = cramped_player(&server, "Talker").await;
    // Talks from the start, so the idle timeout never fires.
    let talk = async {
        let mut nonce = 0;
        loop {
            nonce += 1;
            let ping = encode(&ClientMsg::Ping(Ping { nonce })).expect("encode");
            let message = tokio_tungstenite::tungstenite::Message::binary(ping);
            if futures_util::SinkExt::send(&mut stalled.socket, message)
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let quiet = Census::quiet(0);
    let dropped = async {
        wait_for_stall(&server).await;
        settle(&server, &quiet).await;
    };
    tokio::select! {
        () = talk => settle(&server, &quiet).await,
        () = dropped => {}
    }
    server.stop().await;
}

// --- 2. Resets mid-frame ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_mid_frame_leave_nothing_behind() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(chaos_config()).await;
    let mut bystander = Player::join(&server, "Bystander", None).await;
    bystander.snapshot().await;

    let hello_frame = binary(&hello("Cut", None));
    let input_frame = binary(&input(1));
    let request = upgrade_request(&server);
    let (stop, stopped) = oneshot::channel();
    let cuts = async {
        for _ in 0..5 {
            // Half an HTTP upgrade request.
            let mut tcp = TcpStream::connect(server.addr).await.expect("connects");
            tcp.write_all(&request.as_bytes()[..request.len() / 2])
                .await
                .expect("write");
            reset(tcp);

            // Upgraded, nothing sent.
            RawWs::open(&server).await.reset();

            // The first byte of a frame header.
            let mut ws = RawWs::open(&server).await;
            ws.send(&[0x82]).await;
            ws.reset();

            // Half of a 16-bit extended length.
            let mut ws = RawWs::open(&server).await;
            ws.send(&[0x82, 0x80 | 126, 0x01]).await;
            ws.reset();

            // Half of the masking key of a Hello.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame[..4]).await;
            ws.reset();

            // Most of a Hello's payload.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame[..hello_frame.len() - 3]).await;
            ws.reset();

            // Seated, then half an Input.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame).await;
            ws.welcome().await;
            ws.send(&input_frame[..input_frame.len() / 2]).await;
            ws.reset();

            // Seated, snapshots flowing, 5 KB into a 60 KB frame.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame).await;
            ws.welcome().await;
            ws.next().await.expect("a snapshot");
            ws.send(&frame(OP_BINARY, &[7; 60_000])[..5_000]).await;
            ws.reset();

            // Seated, then a header announcing a whole megabyte.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame).await;
            ws.welcome().await;
            ws.send(&frame(OP_BINARY, &[7; 1 << 20])[..100]).await;
            ws.reset();

            // Leaving, and gone before the server's close frame is answered.
            let mut ws = RawWs::open(&server).await;
            ws.send(&hello_frame).await;
            ws.welcome().await;
            ws.send(&binary(&ClientMsg::Leave)).await;
            ws.reset();
        }
        let _ = stop.send(());
    };
    let ((ticks, room_ticks), ()) = tokio::join!(watch(&mut bystander, &server, stopped), cuts);
    assert_kept_up("the bystander", &ticks, room_ticks);

    settle(&server, &Census::quiet(1)).await;
    assert_snapshots_flow(&mut bystander, &server).await;
    server.stop().await;
}

// --- 3. Ten thousand garbage frames ----------------------------------------

const GARBAGE_FRAMES: usize = 10_000;

/// What one abusive client sends, and what it must be told.
#[derive(Clone, Copy, Debug)]
enum Garbage {
    /// Random bytes (undecodable: no message has tag 0xf0), before Hello.
    Random,
    /// 4 KiB frames, over the 2560-byte cap, before Hello.
    Oversize,
    /// Inputs cut short by a byte, after Hello.
    Truncated,
    /// Pings with a byte too many, after Hello.
    Trailing,
    /// Text frames, after Hello.
    Text,
    /// Valid Pings as fast as possible, after Hello.
    PingFlood,
    /// Valid Inputs as fast as possible, after Hello.
    InputFlood,
    /// WebSocket ping frames as fast as possible, after Hello.
    ControlFlood,
    /// Frames breaking WebSocket framing itself (a reserved bit set), after
    /// Hello.
    Framing,
}

impl Garbage {
    const ALL: [Garbage; 9] = [
        Garbage::Random,
        Garbage::Oversize,
        Garbage::Truncated,
        Garbage::Trailing,
        Garbage::Text,
        Garbage::PingFlood,
        Garbage::InputFlood,
        Garbage::ControlFlood,
        Garbage::Framing,
    ];

    fn seated(self) -> bool {
        !matches!(self, Garbage::Random | Garbage::Oversize)
    }

    /// The close code and a word of its reason.
    fn expected(self) -> (u16, &'static str) {
        match self {
            Garbage::Random | Garbage::Truncated | Garbage::Trailing => (1002, "undecodable"),
            Garbage::Oversize => (1009, "exceeds"),
            Garbage::Text => (1003, "binary"),
            Garbage::PingFlood | Garbage::InputFlood | Garbage::ControlFlood => (1008, "flood"),
            Garbage::Framing => (1002, "malformed WebSocket frame"),
        }
    }

    fn frame(self, i: usize, rng: &mut XorShift) -> Vec<u8> {
        let seq = u32::try_from(i + 1).expect("seq");
        match self {
            Garbage::Random => {
                let mut junk = vec![0xf0];
                junk.extend((0..rng.below(64)).map(|_| rng.below(256) as u8));
                frame(OP_BINARY, &junk)
            }
            Garbage::Oversize => frame(OP_BINARY, &[0xab; 4096]),
            Garbage::Truncated => {
                let mut bytes = encode(&input(seq)).expect("encode");
                bytes.pop();
                frame(OP_BINARY, &bytes)
            }
            Garbage::Trailing => {
                let mut bytes = encode(&ClientMsg::Ping(Ping { nonce: seq })).expect("encode");
                bytes.push(0);
                frame(OP_BINARY, &bytes)
            }
            Garbage::Text => frame(OP_TEXT, b"{\"type\":\"garbage\"}"),
            Garbage::PingFlood => binary(&ClientMsg::Ping(Ping { nonce: seq })),
            Garbage::InputFlood => binary(&input(seq)),
            Garbage::ControlFlood => frame(OP_PING, &seq.to_be_bytes()),
            Garbage::Framing => {
                let mut bytes = binary(&input(seq));
                bytes[0] |= 0x40;
                bytes
            }
        }
    }
}

/// One client sends 10,000 frames of `kind` back to back while reading:
/// returns how the server closed it.
async fn spew(server: &TestServer, kind: Garbage, seed: u64) -> Ending {
    let ws = RawWs::open(server).await;
    let (reader, mut writer) = ws.io.into_split();
    let mut reader = Frames {
        io: reader,
        buf: ws.buf,
        reset: false,
    };
    let mut rng = XorShift::new(seed);
    let write = async {
        let mut batch = Vec::new();
        if kind.seated() {
            batch.extend(binary(&hello("Spewer", None)));
        }
        for i in 0..GARBAGE_FRAMES {
            batch.extend(kind.frame(i, &mut rng));
            if batch.len() >= 64 * 1024 || i + 1 == GARBAGE_FRAMES {
                // The server hangs up after the first bad frame (or the
                // first over the rate): the rest fails to send.
                if writer.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
    };
    let (close, written) = tokio::join!(reader.close(), timeout(WAIT, write));
    assert!(
        written.is_ok(),
        "{kind:?}: writes neither taken nor refused"
    );
    close
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_frames_get_one_close_and_spare_the_room() {
    let _serial = SERIAL.lock().await;
    let config = chaos_config();
    let hz = config.tick_hz;
    let server = TestServer::start(config).await;
    let mut bystander = Player::join(&server, "Bystander", None).await;
    bystander.snapshot().await;

    let (stop, stopped) = oneshot::channel();
    let abuse = async {
        // Rounds of every kind at once, for two seconds at least, so the
        // tick rate is measured under the abuse.
        let (start, tick0) = (Instant::now(), tick_of(&server, "main"));
        let (mut rounds, mut spews) = (0_u64, 0_u32);
        while rounds == 0 || start.elapsed() < Duration::from_secs(2) {
            let closes = futures_util::future::join_all(
                Garbage::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, &kind)| spew(&server, kind, rounds * 100 + i as u64 + 1)),
            )
            .await;
            for (&kind, ending) in Garbage::ALL.iter().zip(closes) {
                let (code, word) = kind.expected();
                match ending {
                    Ending::Close(got, reason) => {
                        assert_eq!(got, code, "{kind:?}: {reason}");
                        assert!(reason.contains(word), "{kind:?}: {reason}");
                    }
                    other => panic!("{kind:?}: {other:?} instead of a close frame"),
                }
                spews += 1;
            }
            rounds += 1;
        }
        let rate = f64::from(tick_of(&server, "main") - tick0) / start.elapsed().as_secs_f64();
        let _ = stop.send(());
        (spews, rate)
    };
    let ((ticks, room_ticks), (spews, rate)) =
        tokio::join!(watch(&mut bystander, &server, stopped), abuse);
    assert!(spews >= 9, "{spews} abusive clients");
    assert_rate("room ticks under garbage", rate, hz);
    assert_kept_up("the bystander", &ticks, room_ticks);

    settle(&server, &Census::quiet(1)).await;
    assert_snapshots_flow(&mut bystander, &server).await;
    server.stop().await;
}

/// A flooding client is closed with 1008 while the rest of its flood sits
/// unread in the socket. Dropping such a socket makes the kernel reset it
/// and discard what it has not sent yet, close frame included; the server
/// reads on until the client answers the close, so the frame arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_always_gets_its_close_frame() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(chaos_config()).await;
    for round in 0..50 {
        match spew(&server, Garbage::ControlFlood, round).await {
            Ending::Close(code, reason) => assert_eq!(code, 1008, "{reason}"),
            other => panic!("round {round}: {other:?} instead of a close frame"),
        }
    }
    server.stop().await;
}

// --- 4. A thousand connects and disconnects --------------------------------

const CYCLES: usize = 1000;
const CONCURRENCY: usize = 20;

async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("JSON body")
}

/// One short life of one client, of kind `i % 10`.
async fn cycle(server: &TestServer, http: &reqwest::Client, i: usize) {
    let name = format!("churn{i}");
    match i % 10 {
        // WebSocket: Hello, one snapshot, Leave, close handshake.
        0 => {
            let mut player = Player::join(server, &name, None).await;
            player.snapshot().await;
            player.send(&ClientMsg::Leave).await;
            assert_eq!(common::expect_close(&mut player.socket).await.0, 1000);
        }
        // WebSocket: Hello in a room of its own making, then dropped.
        1 => {
            let room = format!("churn-{}", i / 10 % 4);
            let player = Player::join(server, &name, Some(&room)).await;
            drop(player);
        }
        // WebSocket: Hello, then reset.
        2 => {
            let mut ws = RawWs::open(server).await;
            ws.send(&binary(&hello(&name, None))).await;
            ws.welcome().await;
            ws.reset();
        }
        // WebSocket: upgraded, no Hello, dropped.
        3 => drop(common::raw_socket(server).await),
        // Spectator stream: the first snapshot, then gone.
        4 => {
            let url = server.http_url("/api/rooms/main/events");
            let mut feed = common::SseClient::open(http, &url, None).await;
            assert_eq!(feed.status, 200);
            feed.next_logged().await;
        }
        // Ticker stream: opened, dropped at once.
        5 => {
            let url = server.http_url("/api/ticker");
            let feed = common::SseClient::open(http, &url, None).await;
            assert_eq!(feed.status, 200);
        }
        // Long-poll player: join, one state poll, leave.
        6 | 7 => {
            let join = server.http_url("/api/rooms/main/join");
            let send = http.post(join).json(&serde_json::json!({ "name": name }));
            let joined = json(send.send().await.expect("sent")).await;
            let token = joined["token"]
                .as_str()
                .unwrap_or_else(|| panic!("{joined}"));
            let base = server.http_url(&format!("/api/sessions/{token}"));
            let state = http.get(format!("{base}/state?timeout=5")).send();
            assert_eq!(state.await.expect("sent").status(), 200);
            if i % 10 == 6 {
                let left = http.post(format!("{base}/leave")).send().await;
                assert_eq!(left.expect("sent").status(), 200);
            }
            // 7 abandons its session: it expires.
        }
        // A long poll on the ticker, abandoned while it waits.
        _ => {
            let head = json(
                http.get(server.http_url("/api/ticker/poll"))
                    .send()
                    .await
                    .expect("sent"),
            )
            .await["next"]
                .as_u64()
                .expect("next");
            let url = server.http_url(&format!("/api/ticker/poll?after={head}&timeout=30"));
            let wait = http.get(url).send();
            assert!(
                timeout(Duration::from_millis(20), wait).await.is_err(),
                "no ticker news without kills"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connects_and_disconnects_leave_nothing_behind() {
    let _serial = SERIAL.lock().await;
    let mut config = chaos_config();
    // No bots: no kills, so a ticker poll waits until its client gives up.
    config.bots = 0;
    let server = TestServer::start(config).await;

    let http = reqwest::Client::new();
    let started = Instant::now();
    futures_util::stream::iter(0..CYCLES)
        .map(|i| cycle(&server, &http, i))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let churn = started.elapsed();
    drop(http);

    settle(&server, &Census::quiet(0)).await;
    let mut fresh = Player::join(&server, "Fresh", None).await;
    assert_snapshots_flow(&mut fresh, &server).await;
    assert!(
        churn < Duration::from_secs(30),
        "{CYCLES} cycles took {churn:?}"
    );
    server.stop().await;
}
