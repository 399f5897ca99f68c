//! Another site cannot open a player socket with a visitor's browser, and
//! the JSON API answers CORS only for the origins that may play.

mod common;

use common::{TestServer, test_config};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Opens the player socket from a page of `origin`; a refusal is its
/// status, checked to carry the `origin_forbidden` error body.
async fn open_with_origin(server: &TestServer, origin: &str) -> Result<common::Socket, u16> {
    let mut request = server.ws_url().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
            assert_eq!(
                common::refusal(status, &body),
                ApiErrorCode::OriginForbidden
            );
            Err(status)
        }
        Err(other) => panic!("unexpected handshake error: {other}"),
    }
}

#[tokio::test]
async fn foreign_pages_cannot_open_player_sockets() {
    let mut config = test_config();
    config.allowed_origins = vec!["https://play.example.com".into()];
    let server = TestServer::start(config).await;
    assert_eq!(
        open_with_origin(&server, "https://evil.example")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(open_with_origin(&server, "null").await.err(), Some(403));
    let own = format!("http://{}", server.addr);
    for origin in [
        "http://localhost:5173",
        "https://play.example.com",
        own.as_str(),
    ] {
        let mut socket = open_with_origin(&server, origin)
            .await
            .unwrap_or_else(|s| panic!("{origin}: {s}"));
        let hello = ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "Friend".into(),
            room: None,
            resume: None,
        });
        common::send(&mut socket, &hello).await;
        assert!(
            matches!(common::recv(&mut socket).await, ServerMsg::Welcome(_)),
            "{origin}"
        );
    }
    let metrics = reqwest::get(server.http_url("/metrics"))
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("skirmish_rejected_total{reason=\"origin\"} 2"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn cors_answers_only_allowed_origins() {
    let server = TestServer::start(test_config()).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            server.http_url("/api/rooms/main/join"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
    };
    let ok = preflight("http://localhost:5173").await.expect("sent");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .expect("ascii")
            .contains("POST")
    );
    let evil = preflight("https://evil.example").await.expect("sent");
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let feed = http
        .get(server.http_url("/api/rooms"))
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        feed.headers()["access-control-allow-origin"],
        "http://127.0.0.1:3000"
    );
    server.stop().await;
}
