//! HTTPS: one HTTP/2 connection carries many SSE streams at once (the reason
//! to serve HTTP/2 at all) up to its stream limit, HTTP/1.1 still works by
//! ALPN, the player WebSocket opens over HTTP/2 with extended CONNECT, and a
//! page of the server's own origin is recognised by the request's
//! `:authority` (HTTP/2 sends no `Host`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{TestServer, test_config};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http2::SendRequest;
use hyper::header::HeaderValue;
use hyper_util::rt::{TokioExecutor, TokioIo};
use skirmish_shared::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server, encode};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// A name the server is reached by that is not localhost, so that the
/// origin rule's localhost allowance cannot hide how the server's own
/// origin is recognised.
const PUBLIC_NAME: &str = "game.skirmish.test";

/// A server with a fresh self-signed certificate for `localhost` and
/// [`PUBLIC_NAME`], and a
/// client TLS config that trusts exactly that certificate.
async fn tls_server() -> (TestServer, Arc<ClientConfig>) {
    tls_server_with(test_config()).await
}

async fn tls_server_with(mut config: skirmish_server::Config) -> (TestServer, Arc<ClientConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), PUBLIC_NAME.into()])
            .expect("certificate");
    let dir = std::env::temp_dir().join(format!(
        "skirmish-tls-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    config.tls_cert = Some(cert);
    config.tls_key = Some(key);
    let server = TestServer::start(config).await;
    let mut roots = RootCertStore::empty();
    roots
        .add(certified.cert.der().clone())
        .expect("trust the test certificate");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, Arc::new(client))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos().into())
}

async fn connect(
    server: &TestServer,
    client: &Arc<ClientConfig>,
    alpn: &[u8],
) -> TlsStream<TcpStream> {
    connect_as(server, client, alpn, "localhost").await
}

/// [`connect`], naming the server `name` (SNI and certificate check).
async fn connect_as(
    server: &TestServer,
    client: &Arc<ClientConfig>,
    alpn: &[u8],
    name: &'static str,
) -> TlsStream<TcpStream> {
    let mut config = (**client).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name.try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(alpn),
        "ALPN picked {alpn:?}"
    );
    tls
}

/// An HTTP/2 connection to `server` over TLS, named `name`.
async fn h2(
    server: &TestServer,
    client: &Arc<ClientConfig>,
    name: &'static str,
) -> SendRequest<Empty<Bytes>> {
    let tls = connect_as(server, client, b"h2", name).await;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    sender
}

/// Reads `body` until its text contains `needle`.
async fn read_until(body: &mut hyper::body::Incoming, needle: &str) {
    let mut text = String::new();
    while !text.contains(needle) {
        let frame = tokio::time::timeout(common::WAIT, body.frame())
            .await
            .expect("data in time")
            .expect("stream open")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).expect("utf-8"));
        }
    }
}

#[tokio::test]
async fn one_http2_connection_carries_sse_streams_up_to_its_stream_limit() {
    let (server, client) = tls_server().await;
    let sender = h2(&server, &client, "localhost").await;
    let url = format!(
        "https://localhost:{}/api/rooms/main/events",
        server.addr.port()
    );
    let open = |sender: &SendRequest<Empty<Bytes>>| {
        let request = Request::get(&url)
            .body(Empty::<Bytes>::new())
            .expect("request");
        tokio::spawn(sender.clone().send_request(request))
    };
    // The default `--max-streams-per-connection` is 32: all 32 are open at
    // once, and each delivers its opening snapshot.
    let mut streams = Vec::new();
    for _ in 0..32 {
        let response = open(&sender).await.expect("task").expect("stream opens");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        streams.push(response.into_body());
    }
    for body in &mut streams {
        read_until(body, "event: snapshot").await;
    }
    let rooms = common::get_json_tls(&server, &client).await;
    assert_eq!(rooms[0]["spectators"], 32);
    // The client holds a 33rd request back until a stream ends (the
    // server's SETTINGS say 32), then it is served.
    let waiting = open(&sender);
    streams.pop();
    let mut response = tokio::time::timeout(common::WAIT, waiting)
        .await
        .expect("served once a stream ended")
        .expect("task")
        .expect("stream opens");
    assert_eq!(response.status(), 200);
    read_until(response.body_mut(), "event: snapshot").await;
    drop(streams);
    server.stop().await;
}

/// Opens the player WebSocket over HTTP/2 (RFC 8441: CONNECT with
/// `:protocol websocket`) at `authority`, with `origin` when given; the
/// refusal status otherwise.
async fn websocket_over_h2(
    sender: &SendRequest<Empty<Bytes>>,
    authority: &str,
    origin: Option<&str>,
) -> Result<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, u16> {
    let mut request = Request::connect(format!("https://{authority}/ws"))
        .header("sec-websocket-version", "13")
        .extension(hyper::ext::Protocol::from_static("websocket"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    let response = sender
        .clone()
        .send_request(request)
        .await
        .expect("CONNECT answered");
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    let upgraded = hyper::upgrade::on(response).await.expect("upgraded stream");
    Ok(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await)
}

/// Says Hello on `socket` and expects Welcome to room `main`.
async fn hello_welcome<S>(socket: &mut WebSocketStream<S>, name: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let hello = ClientMsg::Hello(Hello {
        token: None,
        protocol: PROTOCOL_VERSION,
        player: None,
        name: name.into(),
        room: None,
        resume: None,
    });
    socket
        .send(Message::binary(encode(&hello).expect("encode")))
        .await
        .expect("send");
    loop {
        let frame = tokio::time::timeout(common::WAIT, socket.next())
            .await
            .expect("answer in time")
            .expect("open")
            .expect("no error");
        if let Message::Binary(bytes) = frame {
            match decode_server(&bytes).expect("decodes") {
                ServerMsg::Welcome(w) => {
                    assert_eq!(w.room, "main");
                    return;
                }
                other => panic!("expected Welcome, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn http1_over_tls_and_websocket_over_http2_both_work() {
    let (server, client) = tls_server().await;
    let tls = connect(&server, &client, b"http/1.1").await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = Request::get("/healthz")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_11);

    // RFC 8441: CONNECT with :protocol websocket on an HTTP/2 stream.
    let sender = h2(&server, &client, "localhost").await;
    let authority = format!("localhost:{}", server.addr.port());
    let mut socket = websocket_over_h2(&sender, &authority, None)
        .await
        .expect("extended CONNECT accepted");
    hello_welcome(&mut socket, "H2").await;
    server.stop().await;
}

#[tokio::test]
async fn a_page_of_the_servers_own_origin_is_served_over_http2() {
    let (server, client) = tls_server().await;
    let sender = h2(&server, &client, PUBLIC_NAME).await;
    // What a browser on https://game.skirmish.test:PORT/ sends: the page's
    // origin, and the server's authority as `:authority`, no `Host`.
    let authority = format!("{PUBLIC_NAME}:{}", server.addr.port());
    let origin = format!("https://{authority}");
    let mut socket = websocket_over_h2(&sender, &authority, Some(&origin))
        .await
        .expect("a page of the server's own origin opens a player socket");
    hello_welcome(&mut socket, "Own").await;
    let get = |path: &str, origin: &str| {
        let request = Request::get(format!("https://{authority}{path}"))
            .header("origin", origin)
            .body(Empty::<Bytes>::new())
            .expect("request");
        sender.clone().send_request(request)
    };
    for path in ["/api/rooms", "/api/rooms/main/events", "/api/ticker/poll"] {
        let response = get(path, &origin).await.expect("answered");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(
            response.headers().get("access-control-allow-origin"),
            Some(&HeaderValue::from_str(&origin).expect("header")),
            "{path}: CORS answers the server's own origin"
        );
    }
    // Another site is still refused, over HTTP/2 too.
    let evil = websocket_over_h2(&sender, &authority, Some("https://evil.example")).await;
    assert_eq!(evil.err(), Some(403));
    let response = get("/api/rooms", "https://evil.example")
        .await
        .expect("answered");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_starts_the_handshake_is_dropped() {
    let mut config = test_config();
    config.header_timeout_secs = 1;
    let (server, client) = tls_server_with(config).await;
    let mut silent = TcpStream::connect(server.addr).await.expect("tcp");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut rest),
    )
    .await
    .expect("the server closes the silent connection");
    assert!(read.is_ok() && rest.is_empty(), "{read:?} {rest:?}");
    // A real client still gets in.
    connect(&server, &client, b"http/1.1").await;
    server.stop().await;
}
