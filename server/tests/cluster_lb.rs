//! Players reaching the cluster through nodes that do not own their room,
//! as behind a load balancer without sticky sessions, and through a real
//! one: Debian's `redis-server` and `nginx` (running the shipped
//! `deploy/nginx/skirmish.conf`), real `skirmish-server` processes.
//! Skipped, loudly, when redis-server or nginx is not installed.

mod common;

use std::sync::Arc;

use common::cluster_nodes::{
    MARGIN, get, matchmake, node, own_room, prefix, shared_redis, take_seat, wait_until,
};
use common::legacy_player::{Legacy, call};
use common::nginx_process::NginxProcess;
use common::node_process::NodeProcess;
use common::redis_process::RedisProcess;
use serde_json::{Value, json};

/// The long-poll player polls (and thrusts) through `bases` in turn until
/// it sees the WebSocket player's ship, and the WebSocket player then sees
/// the long-poll ship.
async fn see_each_other(legacy: &mut Legacy, socket: &mut common::Player, bases: &[String]) {
    let ws_ship = socket.ship();
    for base in bases.iter().cycle().take(300) {
        legacy.poll_at(base).await;
        legacy.input_at(base).await;
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
    let room = own_room(&http, &a).await;
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
    let (b_url, c_url) = (b.url(""), c.url(""));
    see_each_other(&mut legacy, &mut socket, &[c_url.clone(), b_url.clone()]).await;
    let legacy_ship = legacy.ship;
    let legacy_x = |p: &common::Player| p.world().ships[&legacy_ship].state.x;
    let before = legacy_x(&socket);
    for _ in 0..20 {
        legacy.input_at(&c_url).await;
        legacy.poll_at(&c_url).await;
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
    // it until its lease runs out, then `room_lost` (until its route
    // expires): the first such request closes the room, which no one was
    // watching, and every later one says the same.
    drop(socket);
    let mut a = a;
    a.kill();
    let lost = legacy.url(&b_url, "state?timeout=1");
    wait_until("B says the session's room is lost", MARGIN, || async {
        let (status, body) = call(manual.get(&lost)).await;
        assert!(status == 307 || status == 410, "{status} {body}");
        status == 410 && body["code"] == "room_lost"
    })
    .await;
    let (status, body) = call(manual.get(legacy.url(&c_url, "state?timeout=1"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("room_lost")),
        "{body}"
    );
}

/// The flags of a node behind nginx on `port`: its public URL is its path
/// there, and its per-address limits fit every client arriving from the
/// balancer's address.
fn behind_nginx(port: u16, id: &str) -> Vec<String> {
    let mut args = vec![
        "--public-url".to_owned(),
        NginxProcess::node_url_at(port, id),
    ];
    for flag in [
        "--max-connections-per-ip",
        "--max-spectators-per-ip",
        "--max-polls-per-ip",
    ] {
        args.extend([flag.to_owned(), "4096".to_owned()]);
    }
    args
}

/// Redis, nodes a, b and c, and nginx in front of them (as
/// `deploy/nginx/skirmish.conf` ships); `None` when a binary is missing.
async fn cluster_behind_nginx(
    test: &str,
) -> Option<(Vec<NodeProcess>, NginxProcess, Arc<RedisProcess>)> {
    let redis = shared_redis()?;
    if !NginxProcess::available() {
        return None;
    }
    let port = NginxProcess::free_port();
    let prefix = prefix(test);
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        let args = behind_nginx(port, id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes.push(node(&redis.url(), &prefix, id, &args).await);
    }
    let upstreams: Vec<(&str, std::net::SocketAddr)> =
        nodes.iter().map(|n| (n.id.as_str(), n.addr)).collect();
    let nginx = NginxProcess::start(port, &upstreams)?;
    Some((nodes, nginx, redis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_nginx_serve_every_transport_without_stickiness() {
    let Some((nodes, nginx, _redis)) = cluster_behind_nginx("nginx").await else {
        return;
    };
    let http = reqwest::Client::new();

    // The page and the API through round robin, and each node by its path.
    for path in ["/", "/node/b/", "/node/c/index.html"] {
        let response = http.get(nginx.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.text().await.expect("text").contains("<html"),
            "{path}"
        );
    }
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = bare.get(nginx.url("/node/b")).send().await.expect("sent");
    assert_eq!(response.status(), 301);
    assert_eq!(
        response.headers()["location"],
        "/node/b/",
        "on the host asked"
    );
    let (status, body) = call(http.get(nginx.url("/node/zz/api/rooms"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, node_a) = call(http.get(nginx.url("/node/a/api/nodes"))).await;
    assert_eq!(status, 200);
    assert_eq!(node_a.as_array().map(Vec::len), Some(3), "{node_a}");
    wait_until(
        "every request lists all three default rooms",
        MARGIN,
        || async {
            let mut all = true;
            for _ in 0..3 {
                let rooms = get(&http, &nginx.url("/api/rooms")).await;
                all &= ["a", "b", "c"].iter().all(|n| {
                    rooms
                        .as_array()
                        .expect("array")
                        .iter()
                        .any(|r| r["node"] == *n)
                });
            }
            all
        },
    )
    .await;

    // A WebSocket player matchmade through nginx lands on the owner's path.
    let (status, seat) = call(http.post(nginx.url("/api/matchmake")).json(&json!({}))).await;
    assert_eq!(status, 200, "{seat}");
    let owner = seat["node"].as_str().expect("node").to_owned();
    let ws_prefix = format!("ws://127.0.0.1:{}/node/{owner}/ws?room=", nginx.port);
    assert!(
        seat["ws_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&ws_prefix)),
        "{seat}"
    );
    let room = seat["room"].as_str().expect("room").to_owned();
    let mut socket = take_seat(&seat, "Socket").await;
    socket.snapshot().await;

    // An SSE reader through round robin sees the next player join at
    // once: nginx buffers nothing of the stream.
    let events = nginx.url(&format!("/api/rooms/{room}/events"));
    let mut reader = common::SseClient::open(&http, &events, None).await;
    assert_eq!(reader.status, 200);
    assert_eq!(reader.next_logged().await.event, "snapshot");

    // A long-poll player joins through round robin with a matchmade seat,
    // then polls through round robin too: redirected to the owner's path.
    let (status, seat) = call(
        http.post(nginx.url("/api/matchmake"))
            .json(&json!({"room": room})),
    )
    .await;
    assert_eq!(status, 200, "{seat}");
    let (mut legacy, joined) = Legacy::join_at(
        &nginx.url(&format!("/api/rooms/{room}/join")),
        json!({"name": "Legacy", "seat": seat["seat"]}),
    )
    .await;
    assert_eq!(joined.node_url, nginx.node_url(&owner));
    let join = loop {
        let e = reader.next_logged().await;
        if e.event == "join" {
            break e;
        }
    };
    assert!(join.data.contains("\"name\":\"Legacy\""), "{}", join.data);
    see_each_other(&mut legacy, &mut socket, &[nginx.url("")]).await;
    drop(nodes);
}

/// A room opened by name is published before its first player hears
/// Welcome, and a node whose cached survey predates it asks the room's own
/// entry: a reader sent to another node right after finds it there, even
/// with refreshes seconds apart. A new session's route is published at once
/// as well (within the margin, not the 5 s refresh).
#[tokio::test]
async fn a_room_opened_by_name_is_found_on_every_node_at_once() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("opened");
    let slow = ["--lease-refresh-ms", "5000", "--lease-ttl-ms", "15000"];
    let a = node(&redis.url(), &prefix, "a", &slow).await;
    let b = node(&redis.url(), &prefix, "b", &slow).await;
    let http = reqwest::Client::new();
    for room in ["fresh-ws", "fresh-lp"] {
        // B's survey is cached from before the room exists.
        let _ = get(&http, &b.url("/api/rooms")).await;
        if room == "fresh-ws" {
            let socket = common::connect_url(&format!("ws://{}/ws", a.addr)).await;
            let player = common::Player::hello_on(socket, "Opener", Some(room), None).await;
            // Its resume token is routed at once too, not at A's next
            // refresh seconds later.
            let resume = common::hex(&player.welcome.resume.0);
            wait_until(
                "B routes the new session's resume token",
                MARGIN,
                || async {
                    let (status, _) = matchmake(&http, &b, &json!({"resume": resume})).await;
                    status == 200
                },
            )
            .await;
            let (_, back) = matchmake(&http, &b, &json!({"resume": resume})).await;
            assert_eq!(
                (back["node"].as_str(), back["room"].as_str()),
                (Some("a"), Some(room))
            );
        } else {
            let url = a.url(&format!("/api/rooms/{room}/join"));
            let _ = Legacy::join_at(&url, json!({"name": "Opener"})).await;
        }
        let (status, page) =
            call(http.get(b.url(&format!("/api/rooms/{room}/poll?timeout=1")))).await;
        assert_eq!(status, 200, "{room} readable on B at once: {page}");
        let (status, joined) = call(
            http.post(b.url(&format!("/api/rooms/{room}/join")))
                .json(&json!({"name": "Second"})),
        )
        .await;
        assert_eq!(status, 200, "{joined}");
        assert_eq!(
            joined["node_url"],
            a.url(""),
            "joined on the owner, not a second {room} on B"
        );
    }
}
