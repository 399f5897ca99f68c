//! HTTPS: one HTTP/2 connection carries many SSE streams at once (the reason
//! to serve HTTP/2 at all), HTTP/1.1 still works by ALPN, and the player
//! WebSocket opens over HTTP/2 with extended CONNECT.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{TestServer, test_config};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use skirmish_shared::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server, encode};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// A server with a fresh self-signed certificate for `localhost`, and a
/// client TLS config that trusts exactly that certificate.
async fn tls_server() -> (TestServer, Arc<ClientConfig>) {
    tls_server_with(test_config()).await
}

async fn tls_server_with(mut config: skirmish_server::Config) -> (TestServer, Arc<ClientConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
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
    let mut config = (**client).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let tls = TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(alpn),
        "ALPN picked {alpn:?}"
    );
    tls
}

#[tokio::test]
async fn one_http2_connection_carries_sixty_sse_streams() {
    let (server, client) = tls_server().await;
    let tls = connect(&server, &client, b"h2").await;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let url = format!(
        "https://localhost:{}/api/rooms/main/events",
        server.addr.port()
    );
    let mut streams = Vec::new();
    for _ in 0..60 {
        let request = Request::get(&url)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = sender
            .clone()
            .send_request(request)
            .await
            .expect("stream opens");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        streams.push(response.into_body());
    }
    // All sixty are open at once; each delivers its opening snapshot.
    for body in &mut streams {
        let mut text = String::new();
        while !text.contains("event: snapshot") {
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
    let rooms = common::get_json_tls(&server, &client).await;
    assert_eq!(rooms[0]["spectators"], 60);
    drop(streams);
    server.stop().await;
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
    let tls = connect(&server, &client, b"h2").await;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = Request::connect(format!("https://localhost:{}/ws", server.addr.port()))
        .header("sec-websocket-version", "13")
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender
        .send_request(request)
        .await
        .expect("CONNECT answered");
    assert_eq!(response.status(), 200, "extended CONNECT accepted");
    let upgraded = hyper::upgrade::on(response).await.expect("upgraded stream");
    let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Client,
        None,
    )
    .await;
    let hello = ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        name: "H2".into(),
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
                    break;
                }
                other => panic!("expected Welcome, got {other:?}"),
            }
        }
    }
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
