//! Operations: metrics after real traffic, health checks, and a graceful
//! shutdown of the real binary on SIGTERM with clients of every transport.

mod common;

use std::process::Command;
use std::time::Duration;

use common::node_process::NodeProcess;
use common::{Player, SseClient, TestServer, expect_close, metric, raw_socket, send, test_config};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, Hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn metrics_report_ticks_players_spectators_and_refusals() {
    let mut config = test_config();
    config.bots = 4;
    let server = TestServer::start(config).await;
    let http = reqwest::Client::new();
    let mut player = Player::join(&server, "Counted", None).await;
    for _ in 0..5 {
        player.snapshot().await;
    }
    let _spectator = SseClient::open(&http, &server.http_url("/api/rooms/main/events"), None).await;
    let mut old = raw_socket(&server).await;
    send(
        &mut old,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: 99,
            player: None,
            name: "Old".into(),
            room: None,
            resume: None,
        }),
    )
    .await;
    assert_eq!(expect_close(&mut old).await.0, 1002);

    let response = http
        .get(server.http_url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.expect("body");
    let ticks = metric(&text, "skirmish_tick_duration_seconds_count{room=\"main\"}")
        .expect("tick histogram");
    assert!(ticks >= 5.0, "{ticks}");
    assert_eq!(
        metric(&text, "skirmish_players{transport=\"websocket\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&text, "skirmish_spectators"), Some(1.0));
    assert_eq!(metric(&text, "skirmish_rooms"), Some(1.0));
    assert_eq!(
        metric(&text, "skirmish_rejected_total{reason=\"bad_version\"}"),
        Some(1.0)
    );
    assert!(
        metric(&text, "skirmish_bytes_sent_total{transport=\"websocket\"}").expect("ws bytes")
            > 0.0
    );
    assert!(
        metric(&text, "skirmish_messages_sent_total{transport=\"sse\"}").expect("sse messages")
            >= 1.0
    );
    assert!(text.trim_end().ends_with("# EOF"));

    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let response = http.get(server.http_url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.expect("body"), body);
    }
    server.stop().await;
}

/// A request that stays in flight until the test finishes it: a join whose
/// body has not all arrived. The drain waits for in-flight requests, so it
/// lasts until [`Holder::finish`].
struct Holder(tokio::net::TcpStream);

const HELD_BODY: &str = r#"{"name":"Held"}"#;

impl Holder {
    async fn start(addr: std::net::SocketAddr) -> Holder {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /api/rooms/main/join HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            HELD_BODY.len()
        );
        tcp.write_all(head.as_bytes()).await.expect("write");
        tcp.write_all(&HELD_BODY.as_bytes()[..4])
            .await
            .expect("write");
        Holder(tcp)
    }

    /// Sends the rest of the body; returns the whole answer.
    async fn finish(mut self) -> String {
        self.0
            .write_all(&HELD_BODY.as_bytes()[4..])
            .await
            .expect("write");
        read_answer(&mut self.0).await
    }
}

/// Everything the server sends until it closes (a reset after the answer
/// ends the read too).
async fn read_answer(tcp: &mut tokio::net::TcpStream) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(common::WAIT, tcp.read(&mut buf))
            .await
            .expect("answered in time")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&raw).into_owned()
}

/// `GET path` on a new connection, answered within [`common::WAIT`].
async fn fresh_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before reading this.
    let _ = tcp.write_all(request.as_bytes()).await;
    read_answer(&mut tcp).await
}

/// Waits until the server reports `n` waiting long polls.
async fn wait_for_pollers(addr: std::net::SocketAddr, n: u64) {
    tokio::time::timeout(common::WAIT, async {
        loop {
            let (_, text) = common::http_get(&format!("http://{addr}/metrics")).await;
            if metric(&text, "skirmish_pollers") == Some(n as f64) {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the poll reached the server");
}

/// The status and JSON body of a raw HTTP/1.1 answer.
fn json_answer(answer: &str) -> (u16, serde_json::Value) {
    let (status, body) = common::parse_response(answer.as_bytes());
    (status, serde_json::from_str(&body).expect("JSON body"))
}

#[tokio::test]
async fn sigterm_tells_every_client_and_exits_zero() {
    let mut command = Command::new(NodeProcess::PATH);
    command.args([
        // No bots: nothing but shutdown may answer the pending poll.
        "--bots",
        "0",
        // The held request below keeps the drain open; neither its body
        // deadline nor the shutdown deadline may cut it short.
        "--header-timeout-secs",
        "60",
        "--shutdown-timeout-secs",
        "60",
    ]);
    let binary = NodeProcess::start_command(command).await;
    let server = binary.server();
    let http = reqwest::Client::new();
    let mut player = Player::join(&server, "Last", None).await;
    let mut spectator =
        SseClient::open(&http, &server.http_url("/api/rooms/main/events"), None).await;
    // After a tick or two the player's join is logged: the poll below
    // waits.
    for _ in 0..2 {
        player.snapshot().await;
    }
    let head = {
        let page: serde_json::Value = http
            .get(server.http_url("/api/rooms/main/poll"))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        page["next"].as_u64().expect("next")
    };
    // A poll waiting for news: shutdown must answer it at once.
    let poll_url = server.http_url(&format!("/api/rooms/main/poll?after={head}&timeout=30"));
    let pending = tokio::spawn({
        let http = http.clone();
        async move {
            http.get(poll_url)
                .send()
                .await
                .expect("sent")
                .json::<serde_json::Value>()
                .await
        }
    });
    // Only a poll the server holds is answered by shutdown; one still on
    // its way would meet the drain's canned 503 instead.
    wait_for_pollers(server.addr, 1).await;
    let holder = Holder::start(server.addr).await;
    player.snapshot().await;
    let ready = fresh_get(server.addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.ends_with("ready\n"), "{ready}");

    binary.terminate();

    // Players: close 1001 with the reason.
    let (code, reason) = expect_close(&mut player.socket).await;
    assert_eq!(code, 1001, "{reason}");
    assert_eq!(reason, "server shutting down");
    // Spectators: a final `shutdown` event, then the stream ends.
    let shutdown = loop {
        let event = spectator.next().await;
        if event.event == "shutdown" {
            break event;
        }
    };
    assert_eq!(
        shutdown.json(),
        serde_json::json!({ "reason": "server shutting down" })
    );
    // Pollers: answered at once, with the reason.
    let page = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the pending poll is answered at shutdown")
        .expect("task")
        .expect("json");
    assert_eq!(page["events"], serde_json::json!([]), "{page}");
    assert_eq!(page["next"], head, "{page}");
    assert_eq!(page["closed"], "server shutting down", "{page}");

    // The drain is still on (the held request is in flight). A new
    // connection gets a prompt 503, so a load balancer's `/readyz` sees
    // the server is going and a client is not left hanging.
    for path in ["/readyz", "/api/rooms"] {
        let (status, body) = json_answer(&fresh_get(server.addr, path).await);
        assert_eq!(status, 503, "{path}");
        assert_eq!(body["error"], "the server is shutting down", "{path}");
        assert_eq!(
            common::refusal(status, &body),
            ApiErrorCode::ShuttingDown,
            "{path}"
        );
    }
    // The held request is answered too: no one joins a stopping server.
    let (status, body) = json_answer(&holder.finish().await);
    assert_eq!(status, 503, "{body}");

    let (exit, lines) = binary.wait().await;
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        lines.iter().any(|l| l.contains("connection closed")),
        "one line per connection close"
    );
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "JSON logs"
    );
}
