//! Operations: metrics after real traffic, health checks, and a graceful
//! shutdown of the real binary on SIGTERM with clients of every transport.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Player, SseClient, TestServer, expect_close, metric, raw_socket, send, test_config};
use skirmish_shared::{ClientMsg, Hello};

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
            protocol: 99,
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

#[tokio::test]
async fn sigterm_tells_every_client_and_exits_zero() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skirmish-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--bots",
            "2",
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server binary starts");
    // The first log line that names the listening address.
    let stdout = child.stdout.take().expect("piped");
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let logs = std::thread::spawn(move || {
        let mut addr_tx = Some(addr_tx);
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(tx) = addr_tx.take_if(|_| line.contains("\"listening\"")) {
                let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
                let _ = tx.send(json["fields"]["addr"].as_str().expect("addr").to_owned());
            }
            lines.push(line);
        }
        lines
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), addr_rx)
        .await
        .expect("server logged its address")
        .expect("address sent");
    let server = TestServer {
        server: None,
        addr: addr.parse().expect("socket address"),
    };
    let http = reqwest::Client::new();
    let mut player = Player::join(&server, "Last", None).await;
    let mut spectator =
        SseClient::open(&http, &server.http_url("/api/rooms/main/events"), None).await;
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
    player.snapshot().await;

    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());

    let (code, reason) = expect_close(&mut player.socket).await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    let mut told = false;
    for _ in 0..500 {
        if spectator.next().await.event == "shutdown" {
            told = true;
            break;
        }
    }
    assert!(told, "spectators get a final shutdown event");
    let page = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the pending poll is answered at shutdown")
        .expect("task")
        .expect("json");
    assert!(page["events"].is_array(), "{page}");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "exit status {exit:?}");
    let lines = logs.join().expect("log reader");
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
