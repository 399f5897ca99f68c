//! Golden vectors: the bytes of every message kind, the JSON of every feed
//! event and API body, the movement trajectories and the close-code and
//! error-code tables, written to `shared/vectors/` for the web client's
//! tests, and the JSON section of `docs/protocol.md`. The test fails when
//! the committed files are out of date;
//! `SKIRMISH_BLESS=1 cargo test -p skirmish-shared --test vectors` rewrites them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::feed::{RoomEvent, TickerEvent};
use skirmish_shared::http::{
    DEFAULT_POLL_TIMEOUT_SECS, MAX_EVENTS_PER_PAGE, MAX_INPUTS_PER_REQUEST,
};
use skirmish_shared::protocol::*;
use skirmish_shared::rules::{Rules, buttons};
use skirmish_shared::{Tick, encode};

#[path = "vectors/json_messages.rs"]
mod json_messages;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn client_messages() -> Vec<(&'static str, ClientMsg)> {
    vec![
        (
            "client_hello",
            ClientMsg::Hello(Hello {
                token: None,
                protocol: PROTOCOL_VERSION,
                name: "Ada".into(),
                room: None,
                resume: None,
                player: None,
            }),
        ),
        (
            "client_hello_resume",
            ClientMsg::Hello(Hello {
                token: None,
                protocol: PROTOCOL_VERSION,
                name: "Zoë".into(),
                room: Some("arena-2".into()),
                resume: Some(ResumeToken([
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252, 253, 254, 255,
                ])),
                player: None,
            }),
        ),
        (
            "client_hello_player",
            ClientMsg::Hello(Hello {
                token: None,
                protocol: PROTOCOL_VERSION,
                name: "Ada".into(),
                room: None,
                resume: None,
                player: Some(PlayerKey {
                    id: "0123456789abcdef".into(),
                    secret: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                        .into(),
                }),
            }),
        ),
        (
            "client_hello_token",
            ClientMsg::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                name: "Ada".into(),
                room: Some("arena-1".into()),
                resume: None,
                player: None,
                token: Some(PlayerToken("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwibmFtZSI6IkFkYSIsImV4cCI6MTc5NjAwMDAwMH0.c2lnbmF0dXJl".into())),
            }),
        ),
        (
            "client_input",
            ClientMsg::Input(Input {
                seq: 300,
                ack: Some(Tick(70_000)),
                buttons: buttons::UP | buttons::RIGHT | buttons::FIRE,
                aim: 200,
                view: Some(ViewTime {
                    tick: Tick(69_996),
                    frac: 128,
                }),
            }),
        ),
        (
            "client_input_no_ack",
            ClientMsg::Input(Input {
                seq: 1,
                ack: None,
                buttons: 0,
                aim: 0,
                view: None,
            }),
        ),
        ("client_ping", ClientMsg::Ping(Ping { nonce: 0xDEAD_BEEF })),
        ("client_leave", ClientMsg::Leave),
    ]
}

fn ship(id: u16, x: u16, y: u16, hp: u8, score: u16) -> ShipState {
    ShipState {
        id: ShipId(id),
        x,
        y,
        aim: 7,
        hp,
        score,
    }
}

fn server_messages() -> Vec<(&'static str, ServerMsg)> {
    vec![
        (
            "server_welcome",
            ServerMsg::Welcome(Welcome {
                ship: ShipId(3),
                room: "main".into(),
                tick: Tick(1234),
                resume: ResumeToken([0xAB; 16]),
                resumed: false,
                rules: Rules::default(),
                player: None,
            }),
        ),
        (
            "server_welcome_new_player",
            ServerMsg::Welcome(Welcome {
                ship: ShipId(3),
                room: "main".into(),
                tick: Tick(1234),
                resume: ResumeToken([0xAB; 16]),
                resumed: false,
                rules: Rules::default(),
                player: Some(PlayerGrant {
                    id: "0123456789abcdef".into(),
                    secret: Some(
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
                    ),
                }),
            }),
        ),
        (
            "server_snapshot_full",
            ServerMsg::Snapshot(Snapshot {
                last_input: 0,
                body: SnapshotBody {
                    tick: Tick(1235),
                    baseline: None,
                    round: Some(RoundState {
                        number: 1,
                        started: Tick(1),
                        ends: Tick(5401),
                    }),
                    spawned: vec![
                        ShipSpawn {
                            ship: ship(1, 8000, 8000, 3, 0),
                            name: "Bot 1".into(),
                            bot: true,
                        },
                        ShipSpawn {
                            ship: ship(3, 120, 16000, 2, 300),
                            name: "Ada".into(),
                            bot: false,
                        },
                    ],
                    changed: vec![],
                    removed: vec![],
                    shots: vec![ShotSpawn {
                        id: ShotId(65535),
                        owner: ShipId(1),
                        x: 8000,
                        y: 8000,
                        aim: 128,
                        age: 4,
                    }],
                    shots_gone: vec![],
                    events: vec![],
                },
            }),
        ),
        (
            "server_snapshot_delta",
            ServerMsg::Snapshot(Snapshot {
                last_input: 301,
                body: SnapshotBody {
                    tick: Tick(1237),
                    baseline: Some(Tick(1235)),
                    round: None,
                    spawned: vec![ShipSpawn {
                        ship: ship(4, 400, 500, 3, 0),
                        name: "Grace".into(),
                        bot: false,
                    }],
                    changed: vec![
                        ShipDelta::Moved {
                            id: ShipId(1),
                            dx: 106,
                            dy: -76,
                            aim: 9,
                        },
                        ShipDelta::Full(ship(3, 140, 15000, 3, 301)),
                    ],
                    removed: vec![ShipId(2)],
                    shots: vec![],
                    shots_gone: vec![ShotId(65535)],
                    events: vec![
                        GameEvent {
                            tick: Tick(1236),
                            kind: EventKind::Joined { ship: ShipId(4) },
                        },
                        GameEvent {
                            tick: Tick(1236),
                            kind: EventKind::Left { ship: ShipId(2) },
                        },
                        GameEvent {
                            tick: Tick(1237),
                            kind: EventKind::Killed {
                                killer: ShipId(3),
                                victim: ShipId(1),
                            },
                        },
                    ],
                },
            }),
        ),
        (
            // A crowded room: ids of 251 and more, where gaps pay.
            "server_snapshot_crowd",
            ServerMsg::Snapshot(Snapshot {
                last_input: 9000,
                body: SnapshotBody {
                    tick: Tick(20_000),
                    baseline: Some(Tick(19_999)),
                    round: None,
                    spawned: vec![],
                    changed: vec![
                        ShipDelta::Moved {
                            id: ShipId(12),
                            dx: 53,
                            dy: 0,
                            aim: 0,
                        },
                        ShipDelta::Moved {
                            id: ShipId(251),
                            dx: -38,
                            dy: 38,
                            aim: 96,
                        },
                        ShipDelta::Moved {
                            id: ShipId(252),
                            dx: 0,
                            dy: -53,
                            aim: 192,
                        },
                        ShipDelta::Full(ship(400, 8000, 8000, 3, 0)),
                        ShipDelta::Moved {
                            id: ShipId(511),
                            dx: 38,
                            dy: 38,
                            aim: 32,
                        },
                    ],
                    removed: vec![ShipId(300)],
                    shots: vec![
                        ShotSpawn {
                            id: ShotId(0),
                            owner: ShipId(252),
                            x: 4000,
                            y: 3947,
                            aim: 192,
                            age: 0,
                        },
                        ShotSpawn {
                            id: ShotId(65535),
                            owner: ShipId(251),
                            x: 12000,
                            y: 200,
                            aim: 96,
                            age: 0,
                        },
                    ],
                    shots_gone: vec![ShotId(65000), ShotId(65001)],
                    events: vec![GameEvent {
                        tick: Tick(20_000),
                        kind: EventKind::Left { ship: ShipId(300) },
                    }],
                },
            }),
        ),
        (
            "server_snapshot_round",
            ServerMsg::Snapshot(Snapshot {
                last_input: 70_000,
                body: SnapshotBody {
                    tick: Tick(5401),
                    baseline: Some(Tick(5400)),
                    round: Some(RoundState {
                        number: 2,
                        started: Tick(5401),
                        ends: Tick(10801),
                    }),
                    events: vec![
                        GameEvent {
                            tick: Tick(5401),
                            kind: EventKind::RoundEnded {
                                round: 1,
                                standings: vec![
                                    Standing {
                                        ship: ShipId(3),
                                        score: 12,
                                    },
                                    Standing {
                                        ship: ShipId(1),
                                        score: 0,
                                    },
                                ],
                            },
                        },
                        GameEvent {
                            tick: Tick(5401),
                            kind: EventKind::RoundStarted {
                                round: 2,
                                ends: Tick(10801),
                            },
                        },
                    ],
                    ..SnapshotBody::default()
                },
            }),
        ),
        (
            "server_pong",
            ServerMsg::Pong(Pong {
                nonce: 0xDEAD_BEEF,
                tick: Tick(99),
            }),
        ),
        (
            "server_error",
            ServerMsg::Error(ErrorMsg {
                code: ErrorCode::RoomFull,
                message: "room main is full (64 players)".into(),
            }),
        ),
        (
            "server_notice",
            ServerMsg::Notice(Notice {
                text: "Maintenance at 22:00 UTC: rounds end early".into(),
            }),
        ),
        (
            "server_moved",
            ServerMsg::Moved(Moved {
                room: "arena-1f2e3d4c-7".into(),
                node: "eu3-b".into(),
                node_url: "https://eu3.example.com/b".into(),
                ws_url: "wss://eu3.example.com/b/ws?room=arena-1f2e3d4c-7".into(),
            }),
        ),
        (
            "server_error_room_rate",
            ServerMsg::Error(ErrorMsg {
                code: ErrorCode::RoomRateLimited,
                message: "too many new rooms from your address (at most 10 a minute): retry in 6 s"
                    .into(),
            }),
        ),
    ]
}

/// A movement trajectory: the rules, a start point, the buttons held on each
/// tick and the position after each tick, as the server computes it.
#[derive(Serialize)]
struct Trajectory {
    rules: Rules,
    start: (u16, u16),
    steps: Vec<(u8, u16, u16)>,
}

fn trajectories() -> Vec<(&'static str, Trajectory)> {
    let make = |rules: Rules, start: (u16, u16), bot: u64| {
        let mut policy = BotPolicy::new(bot, rules.tick_hz);
        let (mut x, mut y) = start;
        let steps = (0..600)
            .map(|_| {
                let b = policy.next_input().buttons;
                (x, y) = rules.move_ship(x, y, b);
                (b, x, y)
            })
            .collect();
        Trajectory {
            rules,
            start,
            steps,
        }
    };
    vec![
        ("movement_30hz", make(Rules::default(), (8000, 8000), 0)),
        (
            "movement_walls",
            make(Rules::reference(30, 180, 0), (100, 15900), 5),
        ),
        (
            "movement_60hz",
            make(Rules::reference(60, 120, 0), (400, 9000), 2),
        ),
    ]
}

/// The camera and the area of interest for ships around the arena (in
/// the middle, at each edge, in a corner, and in an arena smaller than the
/// view), which `web-client/src/camera.js` must place identically.
fn interest_cases() -> serde_json::Value {
    use skirmish_shared::interest::{Camera, MARGIN, VIEW_H, VIEW_W};
    let small = Rules {
        arena_w: 800,
        arena_h: 500,
        ..Rules::default()
    };
    let cases: Vec<serde_json::Value> = [
        (Rules::default(), (8000, 8000)),
        (Rules::default(), (0, 0)),
        (Rules::default(), (16000, 16000)),
        (Rules::default(), (3000, 15000)),
        (Rules::default(), (12345, 2222)),
        (small, (100, 3000)),
    ]
    .into_iter()
    .map(|(rules, (x, y))| {
        serde_json::json!({
            "arena": [rules.arena_w, rules.arena_h],
            "ship": [x, y],
            "view": Camera::follow(&rules, x, y),
            "interest": Camera::interest(&rules, x, y),
        })
    })
    .collect();
    serde_json::json!({
        "view_w": VIEW_W,
        "view_h": VIEW_H,
        "margin": MARGIN,
        "cases": cases,
    })
}

/// Compares `contents` with the committed file, or writes it when blessing.
fn check(path: &Path, contents: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("SKIRMISH_BLESS").is_some() {
        std::fs::write(path, contents).expect("write vector");
        return;
    }
    match std::fs::read(path) {
        Ok(found) if found == contents => {}
        _ => stale.push(path.display().to_string()),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).expect("vectors serialise");
    text.push('\n');
    text.into_bytes()
}

#[test]
fn golden_vectors_are_up_to_date() {
    let dir = vectors_dir();
    std::fs::create_dir_all(&dir).expect("vectors dir");
    let mut stale = Vec::new();
    let mut index = Vec::new();
    for (name, msg) in client_messages() {
        let bytes = encode(&msg).expect("encode");
        assert_eq!(skirmish_shared::decode_client(&bytes), Ok(msg.clone()));
        check(&dir.join(format!("{name}.bin")), &bytes, &mut stale);
        check(&dir.join(format!("{name}.json")), &json(&msg), &mut stale);
        index.push((name, "client", bytes.len()));
    }
    for (name, msg) in server_messages() {
        let bytes = encode(&msg).expect("encode");
        assert_eq!(skirmish_shared::decode_server(&bytes), Ok(msg.clone()));
        check(&dir.join(format!("{name}.bin")), &bytes, &mut stale);
        check(&dir.join(format!("{name}.json")), &json(&msg), &mut stale);
        index.push((name, "server", bytes.len()));
    }
    for (name, trajectory) in trajectories() {
        check(
            &dir.join(format!("{name}.json")),
            &json(&trajectory),
            &mut stale,
        );
    }
    let codes: Vec<(&str, u16)> = CloseCode::ALL
        .iter()
        .map(|c| (c.name(), c.code()))
        .collect();
    check(&dir.join("close_codes.json"), &json(&codes), &mut stale);
    check(
        &dir.join("interest.json"),
        &json(&interest_cases()),
        &mut stale,
    );
    json_messages::check_event_tables();
    let json_vectors = json_messages::json_vectors();
    for vector in &json_vectors {
        let path = dir.join(format!("{}.json", vector.name));
        check(&path, vector.pretty.as_bytes(), &mut stale);
    }
    check(
        &dir.join("error_codes.json"),
        &json(&json_messages::error_codes()),
        &mut stale,
    );
    let meta = serde_json::json!({
        "protocol_version": PROTOCOL_VERSION,
        "max_client_frame": MAX_CLIENT_FRAME,
        "max_server_frame": MAX_SERVER_FRAME,
        "max_name_len": MAX_NAME_LEN,
        "max_room_id_len": MAX_ROOM_ID_LEN,
        "max_inputs_per_request": MAX_INPUTS_PER_REQUEST,
        "max_events_per_page": MAX_EVENTS_PER_PAGE,
        "default_poll_timeout_secs": DEFAULT_POLL_TIMEOUT_SECS,
        "messages": index
            .iter()
            .map(|(name, side, len)| serde_json::json!({"name": name, "side": side, "bytes": len}))
            .collect::<Vec<_>>(),
        "json": json_vectors.iter().map(|v| &v.name).collect::<Vec<_>>(),
        "room_events": RoomEvent::NAMES,
        "ticker_events": TickerEvent::NAMES,
        "trajectories": trajectories().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    });
    check(&dir.join("index.json"), &json(&meta), &mut stale);
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let text = std::fs::read_to_string(&docs).expect("docs/protocol.md");
    check(
        &docs,
        json_messages::docs_with_examples(&text, &json_vectors).as_bytes(),
        &mut stale,
    );
    json_messages::check_error_table(&text);
    assert!(
        stale.is_empty(),
        "golden vectors out of date (run SKIRMISH_BLESS=1 cargo test -p skirmish-shared --test vectors): {stale:?}"
    );
}
