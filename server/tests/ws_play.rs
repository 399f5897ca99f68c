//! End-to-end play over real WebSockets: joining, moving, shooting, scoring,
//! delta reconstruction, resume, rooms.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Player, TestServer, expect_close, get_json, hunt, test_config};
use skirmish_shared::rng::XorShift;
use skirmish_shared::rules::buttons;
use skirmish_shared::view::ViewHistory;
use skirmish_shared::{ClientMsg, ErrorCode, EventKind, Input, ResumeToken, ServerMsg};

#[tokio::test]
async fn two_players_fight_and_scores_reach_both() {
    let mut config = test_config();
    config.idle_timeout_secs = 120;
    let server = TestServer::start(config).await;
    let mut hunter = Player::join(&server, "Hunter", Some("duel")).await;
    let mut target = Player::join(&server, "Target", Some("duel")).await;
    assert_eq!(hunter.welcome.room, "duel");
    assert_ne!(hunter.ship(), target.ship());

    let first = target.snapshot().await;
    assert_eq!(first.baseline, None, "the first snapshot is full");
    let hunter_start = target.world().ships[&hunter.ship()].state;

    let victim = target.ship();
    let me = hunter.ship();
    let mut saw_damage = false;
    hunter
        .play_until(30 * 40, hunt(victim), |p: &Player| {
            if p.world()
                .ships
                .get(&victim)
                .is_some_and(|s| s.state.hp == 2)
            {
                saw_damage = true;
            }
            p.world().ships[&me].state.score == 1
        })
        .await;
    assert!(saw_damage, "a hit costs one hp before the kill");
    let kill = hunter
        .bodies
        .iter()
        .flat_map(|b| &b.events)
        .find_map(|e| match e.kind {
            EventKind::Killed { killer, victim } => Some((killer, victim)),
            _ => None,
        });
    assert_eq!(kill, Some((me, victim)));
    let killed_at = hunter.world().tick;
    let respawned = hunter.world().ships[&victim].state;
    assert_eq!(respawned.hp, 3, "the victim respawns with full hp at once");

    // The victim's own feed shows the same outcome and the hunter's travel.
    loop {
        target.snapshot().await;
        if target.world().tick >= killed_at {
            break;
        }
    }
    let seen = target.world().ships[&me].state;
    assert_eq!(seen.score, 1);
    assert_ne!(
        (seen.x, seen.y),
        (hunter_start.x, hunter_start.y),
        "the hunter moved"
    );

    // The hunter drops its connection and takes its ship back, score and all.
    let token = hunter.welcome.resume;
    drop(hunter);
    let mut back = Player::hello(&server, "Hunter", Some("duel"), Some(token)).await;
    assert!(back.welcome.resumed);
    assert_eq!(back.ship(), me);
    back.snapshot().await;
    assert_eq!(back.world().ships[&me].state.score, 1);
    server.stop().await;
}

#[tokio::test]
async fn deltas_reconstruct_the_full_state_despite_skipped_snapshots() {
    let mut config = test_config();
    config.bots = 8;
    config.respawn_ms = 500;
    let server = TestServer::start(config).await;
    // One client never acknowledges anything, so it gets full snapshots.
    let mut full = Player::join(&server, "Full", None).await;
    let mut delta = Player::join(&server, "Delta", None).await;
    let ticks = 240;

    let full_side = async {
        let mut states = BTreeMap::new();
        while states.len() < ticks + 20 {
            let body = full.snapshot().await;
            assert_eq!(body.baseline, None);
            states.insert(body.tick, full.world().clone());
        }
        states
    };
    let delta_side = async {
        let mut rng = XorShift::new(42);
        let mut held = ViewHistory::new();
        let mut seen = BTreeMap::new();
        let (mut dropped, mut old_baselines, mut seq) = (0, 0, 0);
        let mut ack = None;
        while seen.len() < ticks {
            let ServerMsg::Snapshot(snap) = delta.recv().await else {
                continue;
            };
            // Lose a quarter of the snapshots, as a client on a bad link would.
            if rng.chance(0.25) {
                dropped += 1;
                continue;
            }
            if snap
                .body
                .baseline
                .is_some_and(|base| base.next() < snap.body.tick)
            {
                old_baselines += 1;
            }
            let view = held.apply(&snap.body).expect("baseline held").clone();
            seen.insert(view.tick, view);
            // Acknowledge only every third applied snapshot.
            if seen.len() % 3 == 0 {
                ack = held.latest().map(|v| v.tick);
            }
            seq += 1;
            let pressed = [
                buttons::UP,
                buttons::RIGHT,
                buttons::DOWN | buttons::LEFT,
                0,
            ][rng.below(4) as usize];
            let input = Input {
                seq,
                ack,
                buttons: pressed | buttons::FIRE,
                aim: rng.below(256) as u8,
                view: None,
            };
            delta.send(&ClientMsg::Input(input)).await;
        }
        (seen, dropped, old_baselines)
    };
    let (full_states, (delta_states, dropped, old_baselines)) = tokio::join!(full_side, delta_side);
    assert!(dropped > 20, "the test must actually skip snapshots");
    assert!(old_baselines > 20, "deltas against older acks must occur");
    let mut compared = 0;
    for (tick, view) in &delta_states {
        if let Some(truth) = full_states.get(tick) {
            assert_eq!(view, truth, "state at tick {tick} differs");
            compared += 1;
        }
    }
    assert!(compared > ticks / 2, "only {compared} ticks compared");
    server.stop().await;
}

#[tokio::test]
async fn inputs_are_acknowledged_and_pings_answered() {
    let server = TestServer::start(test_config()).await;
    let mut p = Player::join(&server, "Acker", None).await;
    assert_eq!(p.welcome.room, "main");
    for _ in 0..5 {
        p.input(buttons::RIGHT, 0).await;
    }
    p.ping(77).await;
    let mut ponged = false;
    while !(ponged && p.last_input == 5) {
        match p.recv().await {
            ServerMsg::Pong(pong) => {
                assert_eq!(pong.nonce, 77);
                ponged = true;
            }
            ServerMsg::Snapshot(s) => {
                assert!(s.last_input <= 5);
                p.last_input = s.last_input;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A stale sequence is ignored: the acknowledgement never goes back.
    p.seq = 2;
    p.input(0, 0).await;
    for _ in 0..5 {
        let ServerMsg::Snapshot(s) = p.recv().await else {
            continue;
        };
        assert_eq!(s.last_input, 5);
    }
    server.stop().await;
}

#[tokio::test]
async fn resume_replaces_a_live_connection_and_rejects_unknown_tokens() {
    let server = TestServer::start(test_config()).await;
    let mut first = Player::join(&server, "Twin", Some("twins")).await;
    let token = first.welcome.resume;
    let second = Player::hello(&server, "Twin", Some("twins"), Some(token)).await;
    assert!(second.welcome.resumed);
    assert_eq!(second.ship(), first.ship());
    let (code, reason) = expect_close(&mut first.socket).await;
    assert_eq!(code, 4000, "{reason}");

    let mut socket = common::raw_socket(&server).await;
    common::send(
        &mut socket,
        &ClientMsg::Hello(skirmish_shared::Hello {
            token: None,
            protocol: skirmish_shared::PROTOCOL_VERSION,
            player: None,
            name: "Thief".into(),
            room: Some("twins".into()),
            resume: Some(ResumeToken([9; 16])),
        }),
    )
    .await;
    match common::recv(&mut socket).await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::ResumeRejected),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(expect_close(&mut socket).await.0, 1008);
    server.stop().await;
}

#[tokio::test]
async fn full_rooms_refuse_and_matchmaking_opens_public_rooms() {
    let mut config = test_config();
    config.max_players = 1;
    let server = TestServer::start(config).await;
    let _solo = Player::join(&server, "Solo", Some("solo")).await;
    let mut socket = common::raw_socket(&server).await;
    common::send(
        &mut socket,
        &ClientMsg::Hello(skirmish_shared::Hello {
            token: None,
            protocol: skirmish_shared::PROTOCOL_VERSION,
            player: None,
            name: "Late".into(),
            room: Some("solo".into()),
            resume: None,
        }),
    )
    .await;
    match common::recv(&mut socket).await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::RoomFull),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(expect_close(&mut socket).await.0, 1013);

    let a = Player::join(&server, "A", None).await;
    let b = Player::join(&server, "B", None).await;
    assert_eq!(a.welcome.room, "main");
    assert_eq!(
        b.welcome.room, "arena-2",
        "main is full, so a public room opens"
    );
    let rooms = get_json(&server, "/api/rooms").await;
    let ids: Vec<&str> = rooms
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["arena-2", "main", "solo"]);
    assert_eq!(rooms[1]["players"], 1);
    assert_eq!(rooms[1]["tick_hz"], 30);
    server.stop().await;
}

#[tokio::test]
async fn leaving_frees_the_seat_and_empty_rooms_close() {
    let mut config = test_config();
    config.empty_room_secs = 1;
    let server = TestServer::start(config).await;
    let mut watcher = Player::join(&server, "Watcher", Some("brief")).await;
    let mut leaver = Player::join(&server, "Leaver", Some("brief")).await;
    let leaver_ship = leaver.ship();
    // Leave only once a tick has shown the ship: a ship that joins and
    // leaves between two ticks is never announced at all.
    leaver.snapshot().await;
    leaver.send(&ClientMsg::Leave).await;
    assert_eq!(expect_close(&mut leaver.socket).await.0, 1000);
    let mut announced = false;
    for _ in 0..300 {
        let body = watcher.snapshot().await;
        if body
            .events
            .iter()
            .any(|e| e.kind == EventKind::Left { ship: leaver_ship })
        {
            announced = true;
            break;
        }
    }
    assert!(announced, "the watcher saw the leaver go");
    assert!(!watcher.world().ships.contains_key(&leaver_ship));
    watcher.send(&ClientMsg::Leave).await;
    assert_eq!(expect_close(&mut watcher.socket).await.0, 1000);
    // Nothing to await but the room's own grace timer: poll the list.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rooms = get_json(&server, "/api/rooms").await;
        if !rooms
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == "brief")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "empty room never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
