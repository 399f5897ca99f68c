//! The admin overview's ping per player: the server times its own
//! WebSocket pings (every `--heartbeat-secs`) against the pongs a real
//! client sends back, and shows the round trip; a long-poll player, which
//! has no socket to ping, shows none.

mod common;

use common::{Player, TestServer, WAIT, client_from, sent, test_config};
use serde_json::json;
use skirmish_shared::http::AdminOverview;

const TOKEN: &str = "correct-horse-battery-staple";

async fn overview(server: &TestServer) -> AdminOverview {
    let (status, _, body) = sent(
        client_from([127, 0, 0, 1])
            .get(server.http_url("/admin/api/overview"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("an overview")
}

#[tokio::test]
async fn the_overview_shows_each_websocket_players_measured_ping() {
    let mut config = test_config();
    config.admin_token = Some(TOKEN.parse().expect("token"));
    config.heartbeat_secs = 1;
    let server = TestServer::start(config).await;
    let mut player = Player::join(&server, "Pinged", Some("ping-room")).await;
    let (status, _, body) = sent(
        client_from([127, 0, 0, 1])
            .post(server.http_url("/api/rooms/ping-room/join"))
            .json(&json!({ "name": "Poller" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let deadline = tokio::time::Instant::now() + WAIT;
    let humans = loop {
        // Reading is what makes the client answer the server's pings.
        for _ in 0..10 {
            player.snapshot().await;
        }
        let seen = overview(&server).await;
        let room = seen
            .rooms
            .into_iter()
            .find(|r| r.summary.id == "ping-room")
            .expect("the room is listed");
        if room
            .humans
            .iter()
            .any(|h| h.name == "Pinged" && h.ping_ms.is_some())
        {
            break room.humans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ping measured: {:?}",
            room.humans
        );
    };
    let pinged = humans.iter().find(|h| h.name == "Pinged").expect("listed");
    // Loopback: well under a second even on a loaded machine.
    assert!(pinged.ping_ms.is_some_and(|ms| ms < 1000), "{pinged:?}");
    let poller = humans.iter().find(|h| h.name == "Poller").expect("listed");
    assert_eq!(poller.ping_ms, None, "a long-poll player is not pinged");
    server.stop().await;
}
