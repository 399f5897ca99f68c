//! The JSON half of the golden vectors: one file per message kind of the
//! feeds (`feed_*.json`) and of the JSON API (`http_*.json`), each checked
//! to read back as the value it was written from, plus the table of error
//! codes. `docs/protocol.md`'s JSON section is generated from the same list.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use skirmish_shared::Tick;
use skirmish_shared::feed::*;
use skirmish_shared::http::*;
use skirmish_shared::protocol::*;
use skirmish_shared::rules::{Rules, buttons};

/// One JSON vector: its file name (without `.json`), what it shows, and its
/// JSON as the server sends it (compact) and as the file holds it (pretty).
pub struct JsonVector {
    pub name: String,
    pub about: &'static str,
    pub compact: String,
    pub pretty: String,
}

/// Serializes `value`, and checks that it reads back as itself: a type
/// whose fields do not round-trip (a rename on one side only, a skipped
/// field without a default) fails here.
fn vector<T>(name: &str, about: &'static str, value: &T) -> JsonVector
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let compact = serde_json::to_string(value).expect("serialises");
    let back: T = serde_json::from_str(&compact).expect("reads back");
    assert_eq!(&back, value, "{name} does not round-trip");
    let mut pretty = serde_json::to_string_pretty(value).expect("serialises");
    pretty.push('\n');
    JsonVector {
        name: name.to_owned(),
        about,
        compact,
        pretty,
    }
}

/// A feed event's vector. Also checks that the event's name and payload,
/// written apart (as the server renders logged events), make the same JSON.
fn event<E>(
    feed: &str,
    suffix: &str,
    about: &'static str,
    event: &E,
    name: &str,
    data: String,
) -> JsonVector
where
    E: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let v = vector(&format!("feed_{feed}_{suffix}"), about, event);
    let data = serde_json::value::RawValue::from_string(data).expect("data is JSON");
    let tagged = serde_json::to_string(&Tagged { event: name, data }).expect("serialises");
    assert_eq!(tagged, v.compact, "{name}: name and data apart differ");
    v
}

const TIME: u64 = 1_795_375_964_506;

fn room_snapshot() -> RoomSnapshot {
    RoomSnapshot {
        players: vec![
            PlayerLine {
                bot: true,
                hp: 3,
                name: "Bot 1".into(),
                player: 1,
                score: 10,
            },
            PlayerLine {
                bot: false,
                hp: 0,
                name: "Ada".into(),
                player: 3,
                score: 2,
            },
        ],
        room: "main".into(),
        round: RoundClock {
            ends_tick: 5401,
            number: 1,
            secs_left: 157.5,
            started_tick: 1,
        },
        tick: 676,
        tick_hz: 30,
        time: TIME,
    }
}

fn match_summary() -> MatchSummary {
    MatchSummary {
        id: 42,
        room: "main".into(),
        round: 7,
        started_ms: TIME - 180_000,
        ended_ms: TIME,
        ships: 5,
        winner: Some("Ada".into()),
    }
}

fn kill() -> Kill {
    Kill {
        killer: 5,
        killer_name: "Bot 5".into(),
        room: "main".into(),
        tick: 760,
        time: TIME + 2900,
        victim: 3,
        victim_name: "Ada".into(),
        weapon: Weapon::Blaster,
    }
}

fn score() -> Score {
    Score {
        delta: 1,
        name: "Bot 5".into(),
        player: 5,
        room: "main".into(),
        score: 7,
        tick: 760,
        time: TIME + 2900,
    }
}

fn board() -> Board {
    Board {
        time: TIME + 5000,
        top: vec![
            BoardLine {
                bot: true,
                name: "Bot 5".into(),
                player: 5,
                room: "main".into(),
                score: 7,
            },
            BoardLine {
                bot: false,
                name: "Zoë".into(),
                player: 2,
                room: "arena-2".into(),
                score: 4,
            },
        ],
    }
}

fn room_events() -> Vec<(&'static str, &'static str, RoomEvent)> {
    vec![
        (
            "snapshot",
            "the first event of a fresh stream; its id is the newest logged id",
            RoomEvent::Snapshot(room_snapshot()),
        ),
        (
            "reset",
            "the reader's cursor is not in the log: start over from this snapshot",
            RoomEvent::Reset(room_snapshot()),
        ),
        (
            "state",
            "every ship as [id, x, y, aim, hp], --spectator-hz times a second, no id",
            RoomEvent::State(StateSample {
                round_ends_tick: 5401,
                ships: vec![
                    ShipSample(1, 973.375, 1141.5, 158, 2),
                    ShipSample(3, 15.0, 2000.0, 0, 0),
                ],
                tick: 744,
                time: TIME + 2400,
            }),
        ),
        (
            "join",
            "a player took a seat",
            RoomEvent::Join(Join {
                bot: false,
                name: "Zoë".into(),
                player: 4,
                room: "main".into(),
                tick: 750,
                time: TIME + 2600,
            }),
        ),
        (
            "leave",
            "a ship left (its name as the feed last knew it)",
            RoomEvent::Leave(Leave {
                name: "Grace".into(),
                player: 2,
                room: "main".into(),
                tick: 755,
                time: TIME + 2700,
            }),
        ),
        (
            "kill",
            "one ship destroyed another",
            RoomEvent::Kill(kill()),
        ),
        (
            "score",
            "a ship's new score and the kills of this tick",
            RoomEvent::Score(score()),
        ),
        (
            "round_started",
            "a round began",
            RoomEvent::Round(Round::Started {
                ends_tick: 10801,
                room: "main".into(),
                round: 2,
                secs_left: 180.0,
                tick: 5401,
                time: TIME + 180_000,
            }),
        ),
        (
            "round_ended",
            "a round ended; every score is 0 again, with no score events",
            RoomEvent::Round(Round::Ended {
                room: "main".into(),
                round: 1,
                standings: vec![
                    StandingLine {
                        name: "Bot 5".into(),
                        player: 5,
                        score: 12,
                    },
                    StandingLine {
                        name: "Ada".into(),
                        player: 3,
                        score: 0,
                    },
                ],
                tick: 5401,
                time: TIME + 180_000,
            }),
        ),
        (
            "closed",
            "the room closed; the stream ends",
            RoomEvent::Closed(Closed {
                reason: "room closed".into(),
            }),
        ),
        (
            "shutdown",
            "the server is stopping; the stream ends",
            RoomEvent::Shutdown(Closed {
                reason: "server shutting down".into(),
            }),
        ),
        (
            "notice",
            "a message from the server's operators, as every player's HUD shows it",
            RoomEvent::Notice(NoticeEvent {
                text: "Maintenance at 22:00 UTC: rounds end early".into(),
                room: "main".into(),
                time: TIME + 181_000,
            }),
        ),
        (
            "moved",
            "the room continues on another node (a rolling deploy); the ids go on",
            RoomEvent::Moved(MovedEvent {
                room: "arena-1f2e3d4c-7".into(),
                node: "eu3-b".into(),
                node_url: "https://eu3.example.com/b".into(),
                time: TIME + 182_000,
            }),
        ),
    ]
}

fn ticker_events() -> Vec<(&'static str, &'static str, TickerEvent)> {
    vec![
        (
            "snapshot",
            "the first event of a fresh stream: the newest board",
            TickerEvent::Snapshot(board()),
        ),
        (
            "reset",
            "the reader's cursor is not in the log: the newest board",
            TickerEvent::Reset(board()),
        ),
        (
            "board",
            "the best --ticker-top lines across rooms, when they changed",
            TickerEvent::Board(board()),
        ),
        (
            "score",
            "a score change in any room, as the room's own score event",
            TickerEvent::Score(score()),
        ),
        (
            "closed",
            "the ticker ended; the stream ends",
            TickerEvent::Closed(Closed {
                reason: "server shutting down".into(),
            }),
        ),
        (
            "shutdown",
            "the server is stopping; the stream ends",
            TickerEvent::Shutdown(Closed {
                reason: "server shutting down".into(),
            }),
        ),
    ]
}

fn summary() -> RoomSummary {
    RoomSummary {
        id: "main".into(),
        public: true,
        players: 12,
        max_players: 64,
        spectators: 3,
        bots: 4,
        tick: 676,
        tick_hz: 30,
        round_secs_left: 157.5,
    }
}

/// The snapshot of `server_snapshot_delta`, so the long-poll answer's
/// vector can be compared with the binary one's decoded value.
fn delta_snapshot() -> Snapshot {
    match super::server_messages()
        .into_iter()
        .find(|(name, _)| *name == "server_snapshot_delta")
    {
        Some((_, ServerMsg::Snapshot(snapshot))) => snapshot,
        _ => panic!("server_snapshot_delta is a snapshot"),
    }
}

fn http_vectors() -> Vec<JsonVector> {
    let events: Vec<Polled<RoomEvent>> = room_events()
        .into_iter()
        .filter(|(name, _, _)| ["kill", "score"].contains(name))
        .zip(1_795_375_942_102_074..)
        .map(|((_, _, event), id)| Polled { id, event })
        .collect();
    let page = |snapshot, reset, events, next, closed: Option<&str>| RoomPage {
        snapshot,
        reset,
        events,
        next,
        closed: closed.map(Into::into),
    };
    let out = vec![
        vector(
            "http_room_page_snapshot",
            "the first poll (no after): the room snapshot and the id it is true as of",
            &page(
                Some(room_snapshot()),
                None,
                vec![],
                1_795_375_942_102_073,
                None,
            ),
        ),
        vector(
            "http_room_page_events",
            "events after the cursor; poll again with after=next",
            &page(None, None, events, 1_795_375_942_102_075, None),
        ),
        vector(
            "http_room_page_reset",
            "the cursor is not in the log: start over from this snapshot",
            &page(
                None,
                Some(room_snapshot()),
                vec![],
                1_795_375_942_102_075,
                None,
            ),
        ),
        vector(
            "http_room_page_closed",
            "the room closed, or the server is stopping: stop polling",
            &page(
                None,
                None,
                vec![],
                1_795_375_942_102_075,
                Some("room closed"),
            ),
        ),
        vector(
            "http_ticker_page",
            "the ticker's page: its snapshot is a board",
            &TickerPage {
                snapshot: None,
                reset: None,
                events: vec![Polled {
                    id: 1_795_375_942_109_001,
                    event: TickerEvent::Board(board()),
                }],
                next: 1_795_375_942_109_001,
                closed: None,
            },
        ),
        vector(
            "http_join_body",
            "POST /api/rooms/{id}/join",
            &JoinBody {
                name: "Ada".into(),
                token: None,
                seat: None,
                invite: None,
                player: Some(PlayerKey {
                    id: "0123456789abcdef".into(),
                    secret: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                        .into(),
                }),
                resume: None,
            },
        ),
        vector(
            "http_join_body_invite",
            "POST /api/rooms/{id}/join into a private room",
            &JoinBody {
                name: "Ada".into(),
                token: None,
                seat: None,
                invite: Some("9b1de6a07c4f4e2a8d5c3b1a0f9e8d7c".into()),
                player: None,
                resume: None,
            },
        ),
        vector(
            "http_join_body_token",
            "POST /api/rooms/{id}/join with a signed player token (--auth-jwt-key)",
            &JoinBody {
                name: "Ada".into(),
                seat: None,
                invite: None,
                player: None,
                token: Some(PlayerToken("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwibmFtZSI6IkFkYSIsImV4cCI6MTc5NjAwMDAwMH0.c2lnbmF0dXJl".into())),
                resume: None,
            },
        ),
        vector(
            "http_create_room_body",
            "POST /api/rooms: open a private room",
            &CreateRoomBody {
                private: true,
                spectator_delay_secs: None,
            },
        ),
        vector(
            "http_create_room_body_delayed",
            "POST /api/rooms: a private room its watchers see 30 s late",
            &CreateRoomBody {
                private: true,
                spectator_delay_secs: Some(30),
            },
        ),
        vector(
            "http_create_room_answer",
            "POST /api/rooms's answer (201) for a private room",
            &CreatedRoom {
                room: "p-3f9a0c1d2e4b5a6c".into(),
                private: true,
                invite: Some("9b1de6a07c4f4e2a8d5c3b1a0f9e8d7c".into()),
                node_url: "https://play.example.org".into(),
                spectator_delay_secs: 0,
            },
        ),
        vector(
            "http_join_body_seat",
            "POST /api/rooms/{id}/join with a seat ticket from matchmaking",
            &JoinBody {
                name: "Ada".into(),
                token: None,
                seat: Some("5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f".into()),
                invite: None,
                player: None,
                resume: None,
            },
        ),
        vector(
            "http_join_body_resume",
            "POST /api/rooms/{id}/join taking back a ship by its resume token (after a handover's `moved`)",
            &JoinBody {
                name: "Ada".into(),
                token: None,
                seat: None,
                invite: None,
                player: None,
                resume: Some("abababababababababababababababab".into()),
            },
        ),
        vector(
            "http_join_answer_resumed",
            "its answer: the same ship, taken back",
            &JoinAnswer {
                token: "c0ffee57d38ccc63cccfe020a707e051".into(),
                ship: ShipId(3),
                room: "main".into(),
                tick: Tick(1400),
                resume: "abababababababababababababababab".into(),
                rules: Rules::default(),
                node_url: "https://b.play.example.com".into(),
                player: None,
                resumed: true,
            },
        ),
        vector(
            "http_join_answer",
            "its answer: the session token and what Welcome says",
            &JoinAnswer {
                token: "b6937457d38ccc63cccfe020a707e051".into(),
                ship: ShipId(3),
                room: "main".into(),
                tick: Tick(1234),
                resume: "abababababababababababababababab".into(),
                rules: Rules::default(),
                node_url: "https://a.play.example.com".into(),
                player: None,
                resumed: false,
            },
        ),
        vector(
            "http_join_answer_new_player",
            "its answer to a first visit: a new identity, to keep and present in later joins",
            &JoinAnswer {
                token: "b6937457d38ccc63cccfe020a707e051".into(),
                ship: ShipId(3),
                room: "main".into(),
                tick: Tick(1234),
                resume: "abababababababababababababababab".into(),
                rules: Rules::default(),
                node_url: "https://a.play.example.com".into(),
                player: Some(PlayerGrant {
                    id: "0123456789abcdef".into(),
                    secret: Some(
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
                    ),
                }),
                resumed: false,
            },
        ),
        vector(
            "http_input_one",
            "POST /api/sessions/{token}/input: one input",
            &InputBody::One(Input {
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
        vector(
            "http_input_many",
            "or several, in sequence order",
            &InputBody::Many {
                inputs: vec![
                    Input {
                        seq: 301,
                        ack: None,
                        buttons: 0,
                        aim: 0,
                        view: None,
                    },
                    Input {
                        seq: 302,
                        ack: Some(Tick(1236)),
                        buttons: buttons::FIRE,
                        aim: 64,
                        view: Some(ViewTime {
                            tick: Tick(1232),
                            frac: 0,
                        }),
                    },
                ],
            },
        ),
        vector(
            "http_input_accepted",
            "its answer (202)",
            &InputAccepted { accepted: 2 },
        ),
        vector(
            "http_state_answer",
            "GET /api/sessions/{token}/state: the snapshot of server_snapshot_delta.bin, as JSON",
            &StateAnswer {
                snapshot: Some(delta_snapshot()),
                closed: None,
                notice: None,
            },
        ),
        vector(
            "http_state_timeout",
            "no snapshot before the timeout: poll again",
            &StateAnswer::<SnapshotBody> {
                snapshot: None,
                closed: None,
                notice: None,
            },
        ),
        vector(
            "http_state_closed",
            "the server is stopping: stop polling",
            &StateAnswer::<SnapshotBody> {
                snapshot: None,
                closed: Some("server shutting down".into()),
                notice: None,
            },
        ),
        vector(
            "http_leave_answer",
            "POST /api/sessions/{token}/leave",
            &LeaveAnswer { left: true },
        ),
        vector(
            "http_rooms",
            "GET /api/rooms on a single node",
            &RoomList::Local(vec![summary()]),
        ),
        vector(
            "http_rooms_cluster",
            "GET /api/rooms in a cluster: each room with its owner node",
            &RoomList::Cluster(vec![ListedRoom {
                summary: summary(),
                node: "node-a".into(),
                node_url: "https://a.play.example.com".into(),
            }]),
        ),
        vector(
            "http_matchmake_body",
            "POST /api/matchmake: a room, a resume token, or neither (any room)",
            &MatchBody {
                room: Some("arena-2".into()),
                resume: None,
            },
        ),
        vector(
            "http_matchmake_answer",
            "its answer: where to open the WebSocket, with a seat ticket",
            &MatchAnswer {
                room: "arena-2".into(),
                node: "node-a".into(),
                node_url: "https://a.play.example.com".into(),
                ws_url:
                    "wss://a.play.example.com/ws?room=arena-2&seat=0123456789abcdef0123456789abcdef"
                        .into(),
                seat: Some("0123456789abcdef0123456789abcdef".into()),
                seat_ttl_ms: Some(10_000),
            },
        ),
        vector(
            "http_nodes",
            "GET /api/nodes: the live nodes of the cluster",
            &vec![NodeEntry {
                id: "node-a".into(),
                url: "https://a.play.example.com".into(),
                boot_id: "7f3a9c".into(),
                rooms: 3,
                players: 41,
                draining: false,
                lease_ms_left: 8200,
            }],
        ),
        vector(
            "http_player",
            "GET /api/players/{id}: a player's record over every finished round",
            &PlayerProfile {
                id: "0123456789abcdef".into(),
                name: "Ada".into(),
                rounds: 12,
                kills: 40,
                deaths: 31,
                wins: 3,
                best_score: 9,
                first_seen_ms: TIME - 86_400_000,
                last_seen_ms: TIME,
            },
        ),
        vector(
            "http_matches",
            "GET /api/matches?room=&player=&before=&limit=: finished rounds, newest first",
            &MatchPage {
                matches: vec![match_summary()],
                next_before: Some(41),
            },
        ),
        vector(
            "http_match",
            "GET /api/matches/{id}: one match with its final standings",
            &MatchRecord {
                summary: match_summary(),
                standings: vec![
                    MatchStanding {
                        rank: 1,
                        player: Some("0123456789abcdef".into()),
                        name: "Ada".into(),
                        bot: false,
                        score: 9,
                        kills: 9,
                        deaths: 2,
                    },
                    MatchStanding {
                        rank: 2,
                        player: None,
                        name: "Bot 1".into(),
                        bot: true,
                        score: 4,
                        kills: 4,
                        deaths: 5,
                    },
                ],
            },
        ),
        vector(
            "http_leaderboard",
            "GET /api/leaderboard?period=all|week&limit=: ranked by kills, then wins, fewer deaths, id",
            &Leaderboard {
                period: LeaderboardPeriod::Week,
                since_ms: Some(TIME - 7 * 86_400_000),
                rows: vec![LeaderboardRow {
                    rank: 1,
                    player: "0123456789abcdef".into(),
                    name: "Ada".into(),
                    kills: 40,
                    deaths: 31,
                    wins: 3,
                    rounds: 12,
                }],
            },
        ),
        vector(
            "http_admin_overview",
            "GET /admin/api/overview: the nodes, and this node's rooms with their players",
            &AdminOverview {
                node: "node-a".into(),
                draining: false,
                nodes: vec![NodeEntry {
                    id: "node-a".into(),
                    url: "https://a.play.example.com".into(),
                    boot_id: "7f3a9c".into(),
                    rooms: 1,
                    players: 1,
                    draining: false,
                    lease_ms_left: 0,
                }],
                nodes_error: None,
                rooms: vec![AdminRoom {
                    summary: RoomSummary {
                        id: "main".into(),
                        public: true,
                        players: 1,
                        max_players: 64,
                        spectators: 2,
                        bots: 4,
                        tick: 5400,
                        tick_hz: 30,
                        round_secs_left: 42.5,
                    },
                    private: false,
                    tick_p99_ms: Some(1.25),
                    humans: vec![AdminPlayer {
                        ship: ShipId(7),
                        name: "ada".into(),
                        connected: true,
                        address: "203.0.113.7".into(),
                        transport: "websocket".into(),
                        ping_ms: Some(42),
                    }],
                }],
            },
        ),
        vector(
            "http_admin_reason",
            "POST /admin/api/rooms/{id}/close and .../players/{ship}/kick: why",
            &AdminReason {
                reason: "maintenance".into(),
            },
        ),
        vector(
            "http_admin_minimap",
            "GET /admin/api/rooms/{id}/minimap: the room's newest state sample and its arena",
            &AdminMinimap {
                arena_w: 1600,
                arena_h: 1000,
                sample: StateSample {
                    round_ends_tick: 5400,
                    ships: vec![ShipSample(3, 412.5, 300.0, 64, 3), ShipSample(7, 1200.0, 815.25, 192, 0)],
                    tick: 1240,
                    time: TIME + 41_000,
                },
            },
        ),
        vector(
            "http_admin_notice",
            "POST /admin/api/notice: a message for every player's HUD and every scoreboard",
            &AdminNotice {
                text: "Maintenance at 22:00 UTC: rounds end early".into(),
            },
        ),
        vector(
            "http_state_notice",
            "an operator's message for a long-poll player: poll again with the same after",
            &StateAnswer::<SnapshotBody> {
                snapshot: None,
                closed: None,
                notice: Some("Maintenance at 22:00 UTC: rounds end early".into()),
            },
        ),
        vector(
            "http_admin_kick",
            "POST /admin/api/rooms/{id}/players/{ship}/kick: why, and an optional ban",
            &AdminKick {
                reason: "abusive name".into(),
                ban_secs: 3600,
                ban_address: true,
                ban_name: true,
            },
        ),
        vector(
            "http_admin_audit",
            "GET /admin/api/audit, oldest first; each action answers its own entry",
            &vec![AuditEntry {
                at_ms: 1_795_000_000_000,
                who: "admin token from 10.0.0.5".into(),
                action: "kick".into(),
                target: "main/7".into(),
                reason: "abusive name".into(),
            }],
        ),
        vector(
            "http_error",
            "every error answer, whatever the route: branch on code",
            &ErrorBody {
                error: "room main is full (64 players)".into(),
                code: ApiErrorCode::RoomFull,
                node_url: None,
            },
        ),
        vector(
            "http_error_moved",
            "a long-poll player's state poll when a rolling deploy handed its room over: join at node_url with the resume token",
            &ErrorBody {
                error: "moved".into(),
                code: ApiErrorCode::RoomClosed,
                node_url: Some("https://b.play.example.com".into()),
            },
        ),
    ];
    // The server writes the state answer from a borrowed body: same JSON.
    let snapshot = delta_snapshot();
    let borrowed = StateAnswer {
        snapshot: Some(Snapshot {
            last_input: snapshot.last_input,
            body: &snapshot.body,
        }),
        closed: None,
        notice: None,
    };
    let written = serde_json::to_string(&borrowed).expect("serialises");
    let state = out.iter().find(|v| v.name == "http_state_answer");
    assert_eq!(Some(&written), state.map(|v| &v.compact));
    // ...and so does a snapshot whose strings are borrowed.
    let owned = room_snapshot();
    let borrowed = RoomSnapshot {
        players: owned
            .players
            .iter()
            .map(|p| PlayerLine {
                bot: p.bot,
                hp: p.hp,
                name: p.name.as_str(),
                player: p.player,
                score: p.score,
            })
            .collect(),
        room: owned.room.as_str(),
        round: owned.round,
        tick: owned.tick,
        tick_hz: owned.tick_hz,
        time: owned.time,
    };
    assert_eq!(
        serde_json::to_string(&borrowed).expect("serialises"),
        serde_json::to_string(&owned).expect("serialises")
    );
    out
}

/// Every JSON vector: the room feed's events, the ticker's, then the API's.
pub fn json_vectors() -> Vec<JsonVector> {
    let mut out = Vec::new();
    for (suffix, about, e) in room_events() {
        let data = serde_json::to_string(&e.data()).expect("serialises");
        out.push(event("room", suffix, about, &e, e.name(), data));
    }
    for (suffix, about, e) in ticker_events() {
        let data = serde_json::to_string(&e.data()).expect("serialises");
        out.push(event("ticker", suffix, about, &e, e.name(), data));
    }
    out.extend(http_vectors());
    out
}

/// Every feed's events have a vector, and every vector's event is a name of
/// its feed's table.
pub fn check_event_tables() {
    let room: Vec<&str> = room_events().iter().map(|(_, _, e)| e.name()).collect();
    for name in RoomEvent::NAMES {
        assert!(room.contains(name), "no vector for room event {name}");
    }
    let ticker: Vec<&str> = ticker_events().iter().map(|(_, _, e)| e.name()).collect();
    for name in TickerEvent::NAMES {
        assert!(ticker.contains(name), "no vector for ticker event {name}");
    }
}

/// `error_codes.json`: every code with its status, in declaration order.
pub fn error_codes() -> Vec<(ApiErrorCode, u16)> {
    ApiErrorCode::ALL.iter().map(|c| (*c, c.status())).collect()
}

/// Opens the generated part of `docs/protocol.md`.
const DOCS_BEGIN: &str = "<!-- Generated from shared/vectors/ by shared/tests/vectors.rs (SKIRMISH_BLESS=1 rewrites it); edit there. -->\n";
/// Closes it.
const DOCS_END: &str = "<!-- End of the generated examples. -->\n";

/// `docs` with its generated part rewritten from `vectors`: each message
/// kind's vector file, what it shows, and its JSON as the server sends it.
pub fn docs_with_examples(docs: &str, vectors: &[JsonVector]) -> String {
    let (Some(begin), Some(end)) = (docs.find(DOCS_BEGIN), docs.find(DOCS_END)) else {
        panic!("docs/protocol.md has no generated examples block");
    };
    let mut out = String::from(&docs[..begin + DOCS_BEGIN.len()]);
    for v in vectors {
        out.push_str(&format!(
            "\n`{}.json`: {}.\n\n```json\n{}\n```\n",
            v.name, v.about, v.compact
        ));
    }
    out.push('\n');
    out.push_str(&docs[end..]);
    out
}

/// The error-code table of `docs/protocol.md` (its `| code | status |`
/// rows under `## Error codes`) lists every code, in order, with its status.
pub fn check_error_table(docs: &str) {
    let section = docs
        .split("\n## ")
        .find(|s| s.starts_with("Error codes"))
        .expect("docs/protocol.md has an `## Error codes` section");
    let rows: Vec<(String, u16)> = section
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.split('|');
            let code = cells.next()?.trim().trim_end_matches('`').to_owned();
            let status = cells.next()?.trim().parse().ok()?;
            Some((code, status))
        })
        .collect();
    let expected: Vec<(String, u16)> = error_codes()
        .into_iter()
        .map(|(code, status)| {
            let name = serde_json::to_value(code).expect("serialises");
            (name.as_str().expect("a string").to_owned(), status)
        })
        .collect();
    assert_eq!(rows, expected, "docs/protocol.md's error codes table");
}
