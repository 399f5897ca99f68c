//! The admin console's minimap: `GET /admin/api/rooms/{id}/minimap`
//! answers a room's newest state sample (its ships where the room last
//! sampled them) with the arena's size, through real HTTP with a real
//! player moving in the room; an unknown room is `404` `no_room`.

mod common;

use common::{Player, TestServer, WAIT, client_from, refusal, sent, test_config};
use skirmish_shared::http::{AdminMinimap, ApiErrorCode};
use skirmish_shared::rules::buttons;

const TOKEN: &str = "correct-horse-battery-staple";

async fn minimap(server: &TestServer, room: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = sent(
        client_from([127, 0, 0, 1])
            .get(server.http_url(&format!("/admin/api/rooms/{room}/minimap")))
            .bearer_auth(TOKEN),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn the_minimap_shows_where_the_rooms_ships_are() {
    let mut config = test_config();
    config.admin_token = Some(TOKEN.parse().expect("token"));
    let server = TestServer::start(config).await;
    let mut player = Player::join(&server, "Mapped", Some("map-room")).await;
    let ship = player.ship();
    let deadline = tokio::time::Instant::now() + WAIT;
    let (map, x) = loop {
        player.snapshot().await;
        player.input(buttons::RIGHT, 0).await;
        let (status, body) = minimap(&server, "map-room").await;
        assert_eq!(status, 200, "{body}");
        let map: AdminMinimap = serde_json::from_value(body).expect("a minimap");
        if let Some(seen) = map.sample.ships.iter().find(|s| s.0 == ship.0) {
            break (map.clone(), seen.1);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ship never showed"
        );
    };
    assert!(map.arena_w > 0 && map.arena_h > 0);
    assert!(
        (0.0..=f32::from(map.arena_w)).contains(&x),
        "x {x} in the arena"
    );
    assert!(map.sample.tick > 0);

    let (status, body) = minimap(&server, "no-such-room").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NoRoom);
    server.stop().await;
}
