//! Players reaching the cluster through nodes that do not own their room,
//! as behind a load balancer without sticky sessions: real Debian
//! `redis-server`, real `skirmish-server` processes. Skipped, loudly, when
//! redis-server is not installed.

mod common;

use common::cluster_nodes::{
    MARGIN, get, matchmake, node, prefix, room_of, shared_redis, take_seat, wait_until,
};
use common::node_process::NodeProcess;
use serde_json::{Value, json};
use skirmish_shared::ShipId;
use skirmish_shared::http::{JoinAnswer, StateAnswer};
use skirmish_shared::view::ViewHistory;

/// `(status, JSON body)` of a request, redirects followed unless `http`
/// says otherwise.
async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A long-poll player whose every request goes to whichever node the test
/// names, the way a round-robin balancer would send it.
struct Legacy {
    http: reqwest::Client,
    token: String,
    ship: ShipId,
    view: ViewHistory,
    seq: u32,
}

impl Legacy {
    /// Joins `room` through `via` (`body` names the player, maybe a seat).
    async fn join(via: &NodeProcess, room: &str, body: Value) -> (Legacy, JoinAnswer) {
        let http = reqwest::Client::new();
        let (status, joined) = call(
            http.post(via.url(&format!("/api/rooms/{room}/join")))
                .json(&body),
        )
        .await;
        assert_eq!(status, 200, "{joined}");
        let joined: JoinAnswer = serde_json::from_value(joined).expect("a join answer");
        let legacy = Legacy {
            http,
            token: joined.token.clone(),
            ship: joined.ship,
            view: ViewHistory::new(),
            seq: 0,
        };
        (legacy, joined)
    }

    fn url(&self, via: &NodeProcess, rest: &str) -> String {
        via.url(&format!("/api/sessions/{}/{rest}", self.token))
    }

    /// One state poll through `via`, applied.
    async fn poll(&mut self, via: &NodeProcess) {
        let query = match self.view.latest() {
            Some(v) => format!("state?after={}&timeout=5", v.tick.0),
            None => "state?timeout=5".into(),
        };
        let (status, page) = call(self.http.get(self.url(via, &query))).await;
        assert_eq!(status, 200, "{page}");
        let page: StateAnswer = serde_json::from_value(page).expect("a state answer");
        if let Some(snapshot) = page.snapshot {
            self.view.apply(&snapshot.body).expect("applies");
        }
    }

    /// One input (thrust right) through `via`.
    async fn input(&mut self, via: &NodeProcess) {
        self.seq += 1;
        let ack = self.view.latest().map(|v| v.tick);
        let body = json!({"seq": self.seq, "ack": ack, "buttons": 8, "aim": 0});
        let (status, page) = call(self.http.post(self.url(via, "input")).json(&body)).await;
        assert_eq!(status, 202, "{page}");
    }

    fn sees(&self, ship: ShipId) -> bool {
        self.view
            .latest()
            .is_some_and(|world| world.ships.contains_key(&ship))
    }
}

#[tokio::test]
async fn a_long_poll_player_through_other_nodes_plays_with_a_websocket_player_on_the_owner() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("lp-route");
    let a = node(&redis.url(), &prefix, "a", &[]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let c = node(&redis.url(), &prefix, "c", &[]).await;
    let http = reqwest::Client::new();

    // A WebSocket player matchmade on A into A's default room.
    let room = room_of(&get(&http, &a.url("/api/rooms")).await, "a")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, seat) = matchmake(&http, &a, &json!({"room": room})).await;
    assert_eq!((status, seat["node"].as_str()), (200, Some("a")), "{seat}");
    let mut socket = take_seat(&seat, "Socket").await;
    wait_until("B and C list A's room", MARGIN, || async {
        for other in [&b, &c] {
            let rooms = get(&http, &other.url("/api/rooms")).await;
            if !rooms
                .as_array()
                .expect("array")
                .iter()
                .any(|r| r["id"] == room.as_str())
            {
                return false;
            }
        }
        true
    })
    .await;

    // A join sent to B is redirected to A, method and body kept.
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let join_path = format!("/api/rooms/{room}/join");
    let response = manual
        .post(b.url(&join_path))
        .json(&json!({"name": "Probe"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], a.url(&join_path).as_str());
    let moved: Value = response.json().await.expect("json");
    assert_eq!(
        (moved["node"].as_str(), moved["node_url"].as_str()),
        (Some("a"), Some(a.url("").as_str()))
    );

    let (mut legacy, joined) = Legacy::join(&b, &room, json!({"name": "Legacy"})).await;
    assert_eq!(joined.room, room);
    assert_eq!(joined.node_url, a.url(""), "the answer names the owner");

    // Its polls and inputs go through C (and B): redirected to A. Both
    // players see each other.
    let ws_ship = socket.ship();
    for round in 0..300 {
        let via = if round % 2 == 0 { &c } else { &b };
        legacy.poll(via).await;
        legacy.input(via).await;
        if legacy.sees(ws_ship) {
            break;
        }
    }
    assert!(
        legacy.sees(ws_ship),
        "the long-poll player sees the WebSocket ship"
    );
    let legacy_ship = legacy.ship;
    socket
        .play_until(
            300,
            |_, _| (0, 0),
            |p| p.world().ships.contains_key(&legacy_ship),
        )
        .await;
    let legacy_x = |p: &common::Player| p.world().ships[&legacy_ship].state.x;
    let before = legacy_x(&socket);
    for _ in 0..20 {
        legacy.input(&c).await;
        legacy.poll(&c).await;
    }
    socket
        .play_until(300, |_, _| (0, 0), |p| legacy_x(p) != before)
        .await;

    // A seat matchmade through C is taken by a long-poll join through B.
    let (status, seat) = matchmake(&http, &c, &json!({"room": room})).await;
    assert_eq!(status, 200, "{seat}");
    let ticket = seat["seat"].as_str().expect("seat").to_owned();
    let (seated, _) = Legacy::join(&b, &room, json!({"name": "Seated", "seat": ticket})).await;
    assert_ne!(seated.ship, legacy.ship);
    let (status, again) = call(
        http.post(b.url(&join_path))
            .json(&json!({"name": "Again", "seat": ticket})),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (503, Some("room_full")),
        "a ticket seats once: {again}"
    );

    // A token no node knows is unknown everywhere.
    let stranger = "00112233445566778899aabbccddeeff";
    let (status, body) =
        call(http.get(c.url(&format!("/api/sessions/{stranger}/state?timeout=1")))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_session")),
        "{body}"
    );

    // The owner dies: through another node the session is redirected to
    // it until its lease runs out, then `server_lost` (until its route
    // expires).
    drop(socket);
    let mut a = a;
    a.kill();
    let lost = legacy.url(&b, "state?timeout=1");
    wait_until("B says the session's node is gone", MARGIN, || async {
        let (status, body) = call(manual.get(&lost)).await;
        assert!(status == 307 || status == 410, "{status} {body}");
        status == 410 && body["code"] == "server_lost"
    })
    .await;
}
