//! Connection limits and slow clients, over real TCP sockets: the total and
//! per-address caps answer 503 with a JSON reason, a WebSocket counts for
//! as long as it is open, and clients that send nothing, trickle a request
//! head or trickle a body are dropped after `--header-timeout-secs`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Player, TestServer, WAIT, http_get, test_config};
use skirmish_server::Config;
use skirmish_shared::http::ApiErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Connects from `source` (any 127.0.0.0/8 address works on loopback).
async fn connect_from(server: &TestServer, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind source address");
    socket.connect(server.addr).await.expect("connect")
}

/// Everything the server sends until it closes.
async fn read_all(stream: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("server closes in time")
        .expect("read");
    String::from_utf8_lossy(&raw).into_owned()
}

/// Waits until the server counts `n` open connections.
async fn open_connections(server: &TestServer, n: usize) {
    let state = server.server.as_ref().expect("running").state();
    for _ in 0..500 {
        if state.connections.open() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected {n} open connections, have {}",
        state.connections.open()
    );
}

/// A request that completes on `stream`, which stays open (keep-alive).
async fn healthz(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

fn refused(answer: &str, reason: &str) {
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    let body = answer.split_once("\r\n\r\n").expect("body").1;
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(json["error"], reason, "{answer}");
    let code = if reason.contains("your address") {
        ApiErrorCode::IpConnectionLimit
    } else {
        ApiErrorCode::ConnectionLimit
    };
    assert_eq!(common::refusal(503, &json), code, "{answer}");
}

fn limited(total: u32, per_ip: u32) -> Config {
    let mut config = test_config();
    config.max_connections = total;
    config.max_connections_per_ip = per_ip;
    config.header_timeout_secs = 30;
    config
}

#[tokio::test]
async fn per_address_limit_refuses_that_address_only() {
    let server = TestServer::start(limited(100, 2)).await;
    let mut a = connect_from(&server, [127, 0, 0, 1]).await;
    let mut b = connect_from(&server, [127, 0, 0, 1]).await;
    healthz(&mut a).await;
    healthz(&mut b).await;
    open_connections(&server, 2).await;

    let mut third = connect_from(&server, [127, 0, 0, 1]).await;
    refused(
        &read_all(&mut third).await,
        "too many connections from your address",
    );
    // Another address is not affected.
    let mut other = connect_from(&server, [127, 0, 0, 2]).await;
    healthz(&mut other).await;

    // A closed connection frees its place.
    drop(a);
    open_connections(&server, 2).await;
    let mut again = connect_from(&server, [127, 0, 0, 1]).await;
    healthz(&mut again).await;
    healthz(&mut b).await;
    server.stop().await;
}

#[tokio::test]
async fn total_limit_refuses_everyone_until_a_place_frees() {
    let server = TestServer::start(limited(3, 2)).await;
    let mut held = Vec::new();
    for source in [[127, 0, 0, 1], [127, 0, 0, 2], [127, 0, 0, 3]] {
        let mut stream = connect_from(&server, source).await;
        healthz(&mut stream).await;
        held.push(stream);
    }
    let mut fourth = connect_from(&server, [127, 0, 0, 4]).await;
    refused(
        &read_all(&mut fourth).await,
        "the server is at its connection limit",
    );
    held.pop();
    open_connections(&server, 2).await;
    let mut fifth = connect_from(&server, [127, 0, 0, 4]).await;
    healthz(&mut fifth).await;
    let metrics = http_get_from_held(&mut held[0]).await;
    assert!(
        metrics.contains("skirmish_rejected_total{reason=\"connection_limit\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

/// `/metrics` over an already admitted keep-alive connection.
async fn http_get_from_held(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    read_all(stream).await
}

#[tokio::test]
async fn an_upgraded_websocket_keeps_its_connection_counted() {
    let server = TestServer::start(limited(100, 2)).await;
    let mut player = Player::join(&server, "Counted", None).await;
    player.snapshot().await;
    // The upgrade's HTTP exchange is over; the socket still counts.
    open_connections(&server, 1).await;
    let mut second = connect_from(&server, [127, 0, 0, 1]).await;
    healthz(&mut second).await;
    let mut third = connect_from(&server, [127, 0, 0, 1]).await;
    refused(
        &read_all(&mut third).await,
        "too many connections from your address",
    );
    // The player is unaffected by the refusal next to it.
    player.snapshot().await;
    drop(player);
    open_connections(&server, 1).await;
    server.stop().await;
}

fn impatient() -> Config {
    let mut config = test_config();
    config.header_timeout_secs = 1;
    config
}

#[tokio::test]
async fn silent_and_slow_clients_are_dropped_and_free_their_places() {
    let server = TestServer::start(impatient()).await;
    // Opens TCP and sends nothing.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    // Starts a request head and never finishes it.
    let mut loris = TcpStream::connect(server.addr).await.expect("connect");
    loris
        .write_all(b"GET /api/rooms HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .expect("write");
    // Finishes a request, then idles on the keep-alive connection.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    healthz(&mut idle).await;
    // Announces a body and trickles part of it.
    let mut body = TcpStream::connect(server.addr).await.expect("connect");
    body.write_all(
        b"POST /api/rooms/main/join HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"name\":",
    )
    .await
    .expect("write");

    assert_eq!(read_all(&mut silent).await, "", "dropped without a word");
    let loris_answer = read_all(&mut loris).await;
    assert!(
        loris_answer.is_empty() || loris_answer.starts_with("HTTP/1.1 408"),
        "{loris_answer}"
    );
    let idle_answer = read_all(&mut idle).await;
    assert!(idle_answer.is_empty(), "{idle_answer}");
    let body_answer = read_all(&mut body).await;
    assert!(body_answer.starts_with("HTTP/1.1 4"), "{body_answer}");
    assert!(body_answer.contains("{\"error\":"), "{body_answer}");

    open_connections(&server, 0).await;
    let (status, metrics) = http_get(&server.http_url("/metrics")).await;
    assert_eq!(status, 200);
    // The silent client for sure; the loris too when this watchdog beats
    // hyper's own head timeout to it.
    let dropped = common::metric(
        &metrics,
        "skirmish_rejected_total{reason=\"header_timeout\"}",
    )
    .expect("header_timeout counted");
    assert!((1.0..=2.0).contains(&dropped), "{metrics}");
    server.stop().await;
}
