//! Records on a real database through the real server binary: finished
//! rounds, standings, player records and leaderboards survive a restart
//! (SQLite in a temporary `--data-dir`); a returning player's key keeps
//! its record and a wrong one does not; the history routes refuse bad
//! parameters with a code; and with PostgreSQL (a real server this test
//! starts) the database going away mid-round stalls no tick, and the
//! backlog is written when it returns; two nodes on one PostgreSQL each
//! serve every round, the leaderboards and each other's replays.

mod common;

use std::time::{Duration, Instant};

use common::node_process::NodeProcess;
use common::postgres_process::PostgresProcess;
use common::{Player, TestServer, http_get, hunt, metric, raw_socket, test_config};
use serde_json::Value;
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, EventKind, Hello, PROTOCOL_VERSION, PlayerKey, ShipId};

/// How long a finished round may take to show in the history routes.
const RECORDED: Duration = Duration::from_secs(30);

/// Settings of every server here: short rounds, no bots (every kill is the
/// test's), idle players kept.
const GAME: [&str; 6] = [
    "--round-secs",
    "5",
    "--bots",
    "0",
    "--idle-timeout-secs",
    "120",
];

/// A temporary data directory, removed on drop.
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        let dir = std::env::temp_dir().join(format!(
            "skirmish-data-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        DataDir(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(storage: &[&str]) -> NodeProcess {
    let mut args: Vec<&str> = GAME.to_vec();
    args.extend_from_slice(storage);
    NodeProcess::start(&args).await
}

/// Says Hello in `room` presenting `key`, and waits for Welcome.
async fn join_as(server: &TestServer, name: &str, room: &str, key: Option<PlayerKey>) -> Player {
    let hello = Hello {
        token: None,
        protocol: PROTOCOL_VERSION,
        name: name.into(),
        room: Some(room.into()),
        resume: None,
        player: key,
    };
    Player::say(raw_socket(server).await, hello).await
}

/// The key a Welcome granted (a new identity: id and secret).
fn granted_key(player: &Player) -> PlayerKey {
    let grant = player.welcome.player.clone().expect("an identity");
    PlayerKey {
        id: grant.id,
        secret: grant.secret.expect("a new identity's secret"),
    }
}

/// The round that ended in `player`'s newest snapshot, with `ship`'s score.
fn round_ended(player: &Player, ship: ShipId) -> Option<(u32, u16)> {
    player
        .bodies
        .last()?
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RoundEnded { round, standings } => standings
                .iter()
                .find(|s| s.ship == ship)
                .map(|s| (*round, s.score)),
            _ => None,
        })
}

/// Reads snapshots (sending idle inputs) until a round after `after` ends
/// (a delta repeats the events since its baseline); its number.
async fn next_round_end(player: &mut Player, after: u32) -> u32 {
    let me = player.ship();
    let mut ended = None;
    player
        .play_until(
            30 * 60,
            |_, _| (0, 0),
            |p: &Player| {
                ended = round_ended(p, me)
                    .map(|(round, _)| round)
                    .filter(|round| *round > after);
                ended.is_some()
            },
        )
        .await;
    ended.expect("a round ended")
}

async fn get(node: &NodeProcess, path: &str) -> (u16, Value) {
    let (status, body) = http_get(&node.url(path)).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: JSON, got {body}"));
    (status, json)
}

/// `GET path` until `ready` holds for its 200 answer.
async fn get_until(node: &NodeProcess, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + RECORDED;
    loop {
        let (status, json) = get(node, path).await;
        if status == 200 && ready(&json) {
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: not there in {RECORDED:?}: {status} {json}; last database log: {:?}",
            node.logs().iter().rfind(|l| l.contains("database"))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has_round(page: &Value, round: u32) -> bool {
    page["matches"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["round"] == round))
}

async fn stop(node: NodeProcess) {
    node.terminate();
    let (status, logs) = node.wait().await;
    assert!(status.success(), "clean exit: {logs:?}");
}

#[tokio::test]
async fn sqlite_records_survive_a_restart_and_keys_keep_records() {
    let data = DataDir::new("sqlite");
    let storage = ["--data-dir", data.arg()];
    let node = start(&storage).await;
    let server = node.server();

    // Two new guests: each Welcome grants an id and a secret.
    let mut ada = join_as(&server, "Ada", "rec", None).await;
    let mut bob = join_as(&server, "Bob", "rec", None).await;
    let ada_key = granted_key(&ada);
    let bob_key = granted_key(&bob);
    assert_ne!(ada_key.id, bob_key.id);

    // Ada hunts Bob until a round ends with Ada having scored.
    let (me, victim) = (ada.ship(), bob.ship());
    let mut scored = None;
    ada.play_until(30 * 120, hunt(victim), |p: &Player| {
        scored = round_ended(p, me).filter(|(_, score)| *score > 0);
        scored.is_some()
    })
    .await;
    let (round, score) = scored.expect("Ada scored in a round");
    // Leaving ends the round in progress unrecorded: the record holds
    // rounds 1..=round, and Ada's kills are all in `round`.
    ada.send(&ClientMsg::Leave).await;
    bob.send(&ClientMsg::Leave).await;

    let page = get_until(&node, "/api/matches?room=rec", |p| has_round(p, round)).await;
    let matches = page["matches"].as_array().expect("matches");
    assert_eq!(
        matches.len(),
        round as usize,
        "one match per finished round"
    );
    assert_eq!(matches[0]["round"], round, "newest first");
    let id = matches[0]["id"].as_u64().expect("id");
    let (status, record) = get(&node, &format!("/api/matches/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(record["room"], "rec");
    assert_eq!(record["winner"], "Ada");
    assert!(record["ended_ms"].as_u64() >= record["started_ms"].as_u64());
    let standings = record["standings"].as_array().expect("standings");
    assert_eq!(standings.len(), 2);
    assert_eq!(standings[0]["player"], ada_key.id.as_str());
    assert_eq!(standings[0]["rank"], 1);
    assert_eq!(standings[0]["score"], score);
    assert_eq!(standings[0]["kills"], score);
    assert_eq!(standings[1]["player"], bob_key.id.as_str());
    assert_eq!(standings[1]["deaths"], score, "every kill was of Bob");

    let (status, profile) = get(&node, &format!("/api/players/{}", ada_key.id)).await;
    assert_eq!(status, 200);
    assert_eq!(profile["name"], "Ada");
    assert_eq!(profile["rounds"], round);
    assert_eq!(profile["kills"], score);
    assert_eq!(profile["wins"], 1);
    assert_eq!(profile["best_score"], score);
    let board = get_until(&node, "/api/leaderboard?period=all", |_| true).await;
    assert_eq!(board["rows"][0]["player"], ada_key.id.as_str());
    assert_eq!(board["rows"][0]["rank"], 1);
    assert_eq!(board["rows"][1]["player"], bob_key.id.as_str());
    let week = get_until(&node, "/api/leaderboard?period=week", |_| true).await;
    assert_eq!(week["rows"], board["rows"], "every round is this week's");

    // A restart on the same data directory: everything written is there.
    let paths = [
        "/api/matches?room=rec".to_owned(),
        format!("/api/matches/{id}"),
        format!("/api/players/{}", ada_key.id),
        format!("/api/players/{}", bob_key.id),
        "/api/leaderboard?period=all".to_owned(),
    ];
    let mut before = Vec::new();
    for path in &paths {
        before.push(get(&node, path).await);
    }
    stop(node).await;
    let node = start(&storage).await;
    for (path, before) in paths.iter().zip(before) {
        assert_eq!(get(&node, path).await, before, "{path} after a restart");
    }

    // Ada comes back with her key: same identity, no new secret. Someone
    // presenting Ada's id with Bob's secret is a new guest.
    let server = node.server();
    let mut back = join_as(&server, "Ada", "rec2", Some(ada_key.clone())).await;
    let grant = back.welcome.player.clone().expect("identity");
    assert_eq!(grant.id, ada_key.id);
    assert_eq!(grant.secret, None, "a known key gets no new secret");
    let forged = PlayerKey {
        id: ada_key.id.clone(),
        secret: bob_key.secret.clone(),
    };
    // Long polling presents and grants identities the same way.
    let http = reqwest::Client::new();
    let join = |body: Value| {
        http.post(node.url("/api/rooms/rec3/join"))
            .json(&body)
            .send()
    };
    let first: Value = join(serde_json::json!({"name": "Ada", "player": ada_key}))
        .await
        .expect("join")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        first["player"],
        serde_json::json!({"id": ada_key.id, "secret": null})
    );
    let answer: Value = join(serde_json::json!({"name": "Newcomer"}))
        .await
        .expect("join")
        .json()
        .await
        .expect("JSON");
    assert_ne!(answer["player"]["id"], ada_key.id.as_str());
    assert_eq!(answer["player"]["secret"].as_str().map(str::len), Some(64));
    for token in [&first["token"], &answer["token"]] {
        let leave = node.url(&format!(
            "/api/sessions/{}/leave",
            token.as_str().expect("token")
        ));
        let status = http.post(leave).send().await.expect("leave").status();
        assert_eq!(status, 200, "no round of rec3 adds to Ada's record");
    }
    let mut mallory = join_as(&server, "Mallory", "rec2", Some(forged)).await;
    let mallory_key = granted_key(&mallory);
    assert_ne!(
        mallory_key.id, ada_key.id,
        "a wrong secret plays as a new guest"
    );

    // One more round for both: it adds to Ada's record, not Mallory's.
    let round2 = next_round_end(&mut back, 0).await;
    back.send(&ClientMsg::Leave).await;
    mallory.send(&ClientMsg::Leave).await;
    get_until(&node, "/api/matches?room=rec2", |p| has_round(p, round2)).await;
    let (_, profile) = get(&node, &format!("/api/players/{}", ada_key.id)).await;
    assert_eq!(profile["name"], "Ada", "the name stays Ada's");
    assert_eq!(profile["rounds"], round + round2);
    assert_eq!(profile["kills"], score);
    let (status, other) = get(&node, &format!("/api/players/{}", mallory_key.id)).await;
    assert_eq!(status, 200);
    assert_eq!(other["name"], "Mallory");
    assert_eq!(other["rounds"], round2);
    let page = get(&node, &format!("/api/matches?player={}", mallory_key.id))
        .await
        .1;
    assert_eq!(page["matches"].as_array().map(Vec::len), Some(1));
    stop(node).await;
}

#[tokio::test]
async fn history_routes_refuse_bad_parameters_with_codes() {
    let data = DataDir::new("params");
    let node = start(&["--data-dir", data.arg()]).await;
    let refused = [
        ("/api/players/nothex", ApiErrorCode::BadParam),
        ("/api/players/0123456789abcdef", ApiErrorCode::NoPlayer),
        ("/api/matches/0", ApiErrorCode::BadParam),
        ("/api/matches/x", ApiErrorCode::BadParam),
        ("/api/matches/99", ApiErrorCode::NoMatch),
        ("/api/matches?limit=101", ApiErrorCode::BadParam),
        ("/api/matches?before=-3", ApiErrorCode::BadParam),
        ("/api/matches?room=a%20b", ApiErrorCode::BadParam),
        ("/api/matches?player=ZZ", ApiErrorCode::BadParam),
        ("/api/leaderboard?period=month", ApiErrorCode::BadParam),
        ("/api/leaderboard?limit=0", ApiErrorCode::BadParam),
    ];
    for (path, code) in refused {
        let (status, body) = get(&node, path).await;
        assert_eq!(common::refusal(status, &body), code, "{path}");
    }
    // A guest who never finishes a round leaves no row behind: minting an
    // identity writes nothing.
    let mut guest = join_as(&node.server(), "Guest", "brief", None).await;
    let key = granted_key(&guest);
    guest.send(&ClientMsg::Leave).await;
    let (status, body) = get(&node, &format!("/api/players/{}", key.id)).await;
    assert_eq!(common::refusal(status, &body), ApiErrorCode::NoPlayer);
    // Paging: an empty history is one page with no next.
    let (status, page) = get(&node, "/api/matches?limit=100").await;
    assert_eq!(status, 200);
    assert_eq!(
        page,
        serde_json::json!({"matches": [], "next_before": null})
    );
    stop(node).await;

    // Without a database the routes say so, and Welcome grants nothing.
    let server = TestServer::start(test_config()).await;
    let (status, body) = http_get(&server.http_url("/api/leaderboard")).await;
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(common::refusal(status, &body), ApiErrorCode::NoDatabase);
    let player = join_as(&server, "Ada", "nodb", None).await;
    assert_eq!(player.welcome.player, None);
}

#[tokio::test]
async fn postgres_outage_mid_round_stalls_no_tick_and_the_backlog_is_written() {
    let Some(mut pg) = PostgresProcess::start() else {
        return;
    };
    let url = pg.url();
    let node = start(&["--database-url", &url, "--db-timeout-ms", "1000"]).await;
    let server = node.server();
    let mut ada = join_as(&server, "Ada", "pg", None).await;
    let key = granted_key(&ada);

    let first = next_round_end(&mut ada, 0).await;
    get_until(&node, "/api/matches?room=pg", |p| has_round(p, first)).await;

    // The database goes away mid-round.
    pg.stop();
    ada.snapshot().await;
    // The room's ticks, as the tick metric counts them (a room clients
    // name shares the `other` series) and as its snapshots say.
    let ticked = |text: &str| {
        metric(text, "skirmish_tick_duration_seconds_count{room=\"other\"}").expect("tick series")
    };
    let count0 = ticked(&http_get(&node.url("/metrics")).await.1);
    let (tick0, at0) = (ada.world().tick, Instant::now());
    let down = next_round_end(&mut ada, first).await;
    let (tick1, at1) = (ada.world().tick, Instant::now());
    let count1 = ticked(&http_get(&node.url("/metrics")).await.1);
    let secs = (at1 - at0).as_secs_f64();
    let hz = f64::from(tick1.0 - tick0.0) / secs;
    let metric_hz = (count1 - count0) / secs;
    // 30 Hz; the margin is for a loaded test machine, not for stalls (a
    // tick waiting on the database would stall for seconds).
    assert!(
        hz > 20.0,
        "the room ticked at {hz:.1} Hz with the database down"
    );
    assert!(
        metric_hz > 20.0,
        "the tick metric counted {metric_hz:.1} Hz"
    );
    let (status, body) = get(&node, "/api/matches?room=pg").await;
    assert_eq!(
        common::refusal(status, &body),
        ApiErrorCode::DatabaseUnavailable
    );
    // A returning key cannot be checked: that join plays unrecorded and
    // is not handed a new identity that would replace the key.
    let unchecked = join_as(&server, "Ada2", "pg-other", Some(key.clone())).await;
    assert_eq!(unchecked.welcome.player, None);
    drop(unchecked);
    let deadline = Instant::now() + RECORDED;
    loop {
        let (_, text) = http_get(&node.url("/metrics")).await;
        if metric(&text, "skirmish_db_backlog") >= Some(1.0)
            && metric(&text, "skirmish_db_errors_total") >= Some(1.0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "backlog not reported: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // It comes back: the round that ended meanwhile is written.
    pg.restart();
    get_until(&node, "/api/matches?room=pg", |p| has_round(p, down)).await;
    let (_, profile) = get(&node, &format!("/api/players/{}", key.id)).await;
    assert!(profile["rounds"].as_u64() >= Some(u64::from(down)));
    for period in ["all", "week"] {
        let board = get_until(&node, &format!("/api/leaderboard?period={period}"), |_| {
            true
        })
        .await;
        assert_eq!(board["rows"][0]["player"], key.id.as_str(), "{period}");
    }
    let page = get(&node, &format!("/api/matches?player={}&limit=1", key.id))
        .await
        .1;
    assert_eq!(page["matches"][0]["round"], down, "newest first");
    let older = page["next_before"].as_u64().expect("an older page");
    let page = get(
        &node,
        &format!("/api/matches?room=pg&before={older}&limit=1"),
    )
    .await
    .1;
    assert_eq!(page["matches"][0]["round"], down - 1);
    let (_, text) = http_get(&node.url("/metrics")).await;
    assert_eq!(
        metric(&text, "skirmish_db_rounds_total{outcome=\"dropped\"}"),
        Some(0.0)
    );
    ada.send(&ClientMsg::Leave).await;
    stop(node).await;
}

#[tokio::test]
async fn an_unusable_database_stops_start_up_with_its_reason_and_no_password() {
    let cases = [
        (
            "mysql://u:hunter2@127.0.0.1/db",
            "neither postgres:// nor sqlite:",
        ),
        (
            "postgres://u:hunter2@127.0.0.1:1/db",
            "cannot open the database: error communicating with database",
        ),
    ];
    for (url, reason) in cases {
        let out = tokio::process::Command::new(NodeProcess::PATH)
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .args(["--db-timeout-ms", "2000", "--database-url", url])
            .output()
            .await
            .expect("runs");
        let log = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{url}: {log}");
        assert!(log.contains(reason), "{url}: {log}");
        assert!(!log.contains("hunter2"), "the password stays out of logs");
    }
}

/// Two nodes on one PostgreSQL (as a cluster's nodes share it): each
/// writes the rounds its own rooms play, once, and either serves every
/// record, the leaderboards and the other node's replays.
#[tokio::test]
async fn two_nodes_on_one_postgres_each_serve_every_round_and_replay() {
    let Some(pg) = PostgresProcess::start() else {
        return;
    };
    let url = pg.url();
    let args = ["--database-url", url.as_str()];
    let (a, b) = tokio::join!(start(&args), start(&args));
    let mut ada = join_as(&a.server(), "Ada", "alpha", None).await;
    let mut bob = join_as(&b.server(), "Bob", "beta", None).await;
    let (ada_key, bob_key) = (granted_key(&ada), granted_key(&bob));
    let (alpha, beta) = tokio::join!(next_round_end(&mut ada, 0), next_round_end(&mut bob, 0));
    for node in [&a, &b] {
        let both = get_until(node, "/api/matches", |page| {
            let rounds = |room: &str| {
                page["matches"]
                    .as_array()
                    .map_or(0, |m| m.iter().filter(|m| m["room"] == room).count())
            };
            rounds("alpha") >= 1 && rounds("beta") >= 1
        })
        .await;
        // Each round written once, by its own node.
        for (room, round) in [("alpha", alpha), ("beta", beta)] {
            let copies = both["matches"].as_array().map_or(0, |m| {
                m.iter()
                    .filter(|m| m["room"] == room && m["round"] == round)
                    .count()
            });
            assert_eq!(copies, 1, "{room} round {round}: {both}");
        }
        let board = get_until(node, "/api/leaderboard?period=week", |board| {
            board["rows"].as_array().map_or(0, Vec::len) >= 2
        })
        .await;
        let players: Vec<&str> = board["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["player"].as_str())
            .collect();
        assert!(
            players.contains(&&*ada_key.id) && players.contains(&&*bob_key.id),
            "{board}"
        );
        let (_, profile) = get(node, &format!("/api/players/{}", bob_key.id)).await;
        assert_eq!(profile["name"], "Bob");
    }
    // The other node's replay, from either node.
    let (_, page) = get(&a, "/api/matches?room=beta").await;
    let beta_match = page["matches"][0]["id"].as_u64().expect("beta's match");
    for node in [&a, &b] {
        let (status, body) =
            http_get(&node.url(&format!("/api/matches/{beta_match}/replay?format=json"))).await;
        assert_eq!(status, 200, "{body}");
        let replay: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(replay["room"], "beta");
    }
    ada.send(&ClientMsg::Leave).await;
    bob.send(&ClientMsg::Leave).await;
    tokio::join!(stop(a), stop(b));
}
