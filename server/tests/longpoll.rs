//! Long polling over real HTTP: watching the event logs, playing as a
//! legacy player beside WebSocket players, limits and bad parameters.

mod common;

use std::time::Duration;

use common::{Player, TestServer, hunt, refusal, test_config};
use serde_json::{Value, json};
use skirmish_server::Config;
use skirmish_shared::feed::FeedEvent;
use skirmish_shared::http::{
    ApiErrorCode, InputAccepted, JoinAnswer, LeaveAnswer, RoomPage, StateAnswer, TickerPage,
};
use skirmish_shared::view::{ViewHistory, WorldView};
use skirmish_shared::{
    ClientMsg, Hello, PROTOCOL_VERSION, ResumeToken, ServerMsg, ShipId, Snapshot,
};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = http.post(url).json(&body).send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Players joining and leaving as fast as the tick allows: two logged
/// events per cycle, on top of the bots' fighting. Each stays until its
/// first snapshot, so its join and leave fall on different ticks.
async fn churn(server: &TestServer, cycles: usize) {
    for i in 0..cycles {
        let mut socket = common::raw_socket(server).await;
        let hello = ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: format!("churn{i}"),
            room: Some("main".into()),
            resume: None,
        });
        common::send(&mut socket, &hello).await;
        while !matches!(common::recv(&mut socket).await, ServerMsg::Snapshot(_)) {}
        common::send(&mut socket, &ClientMsg::Leave).await;
        common::expect_close(&mut socket).await;
    }
}

/// `churn` on several connections at once until `stop` is set.
async fn churn_until(server: &TestServer, stop: &tokio::sync::Notify) {
    let churners = futures_util::future::join_all((0..8).map(|_| async {
        loop {
            churn(server, 1).await;
        }
    }));
    tokio::select! {
        _ = churners => {}
        () = stop.notified() => {}
    }
}

/// The newest id of a room's log once its first tick has been logged, so
/// that later waits are not answered by the round's start.
async fn settled_head(http: &reqwest::Client, poll: &str) -> u64 {
    for _ in 0..200 {
        let (_, page) = get(http, poll).await;
        if page["snapshot"]["round"]["number"] == 1 {
            return page["next"].as_u64().expect("next");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the room never ticked");
}

/// Polls from `after` until the log stays quiet for a second; returns the
/// cursor there (resets included).
async fn quiet_head(http: &reqwest::Client, poll: &str, mut after: u64) -> u64 {
    loop {
        let (_, page) = get(http, &format!("{poll}?after={after}&timeout=1")).await;
        if page.get("reset").is_none() && page["events"] == json!([]) {
            return after;
        }
        after = page["next"].as_u64().expect("next");
    }
}

#[tokio::test]
async fn a_poller_walking_next_sees_every_event_once_in_order() {
    let mut config = test_config();
    config.bots = 12;
    config.event_log_capacity = 100_000;
    let server = TestServer::start(config).await;
    let http = client();
    let base = server.http_url("/api/rooms/main/poll");
    let (status, first) = get(&http, &base).await;
    assert_eq!(status, 200);
    let first: RoomPage = serde_json::from_value(first).expect("a room page");
    assert_eq!(first.snapshot.expect("the first page").room, "main");
    let mut next = first.next;
    let start = next;

    let stop = tokio::sync::Notify::new();
    let walk = async {
        let mut seen = Vec::new();
        while seen.len() < 2000 {
            let (status, page) = get(&http, &format!("{base}?after={next}&timeout=5")).await;
            assert_eq!(status, 200, "{page}");
            // Every event the server logs is one of the shared types.
            let page: RoomPage = serde_json::from_value(page).expect("a room page");
            assert!(page.reset.is_none(), "the ring is large enough: no reset");
            for event in &page.events {
                let id = event.id;
                assert!(
                    id > next,
                    "ids arrive once each, in order: {id} after {next}"
                );
                next = id;
                seen.push((id, event.event.name().to_owned()));
            }
            assert_eq!(page.next, next);
        }
        stop.notify_one();
        seen
    };
    let (seen, ()) = tokio::join!(walk, churn_until(&server, &stop));
    let kinds: std::collections::BTreeSet<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
    assert!(
        kinds.contains("join") && kinds.contains("leave") && kinds.contains("kill"),
        "{kinds:?}"
    );
    // Ids jump where the log moved to a new range, so count against a
    // spectator: resumed from the same start, it reads the same events.
    let mut spectator = common::SseClient::open(
        &http,
        &server.http_url("/api/rooms/main/events"),
        Some(start),
    )
    .await;
    let mut watched = Vec::new();
    while watched.last().is_none_or(|(id, _)| *id < next) {
        let event = spectator.next_logged().await;
        watched.push((event.id.expect("logged"), event.event));
    }
    assert_eq!(seen, watched, "the poller saw what a spectator saw");
    server.stop().await;
}

#[tokio::test]
async fn stale_cursors_reset_and_quiet_polls_time_out() {
    let mut config = test_config();
    config.event_log_capacity = 16;
    let server = TestServer::start(config).await;
    let http = client();
    let base = server.http_url("/api/rooms/main/poll");
    let head = settled_head(&http, &base).await;
    churn(&server, 10).await;
    let current = quiet_head(&http, &base, head).await;
    for stale in [head, 1] {
        let (status, page) = get(&http, &format!("{base}?after={stale}")).await;
        assert_eq!(status, 200);
        assert_eq!(page["reset"]["room"], "main", "after={stale}: {page}");
        assert!(page["next"].as_u64().expect("next") >= head + 20);
    }
    // Nothing happens in a room without bots: with the churn's last leave
    // logged, the poll waits out its timeout, again.
    let started = std::time::Instant::now();
    let (status, page) = get(&http, &format!("{base}?after={current}&timeout=1")).await;
    assert_eq!(status, 200);
    assert_eq!(page, json!({"events": [], "next": current}));
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The ticker polls the same way.
    let (status, ticker) = get(&http, &server.http_url("/api/ticker/poll")).await;
    assert_eq!(status, 200);
    let ticker: TickerPage = serde_json::from_value(ticker).expect("a ticker page");
    assert!(ticker.snapshot.is_some() && ticker.events.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn five_hundred_pollers_are_all_answered_in_time() {
    let server = TestServer::start(test_config()).await;
    let http = client();
    let base = server.http_url("/api/rooms/main/poll");
    let head = settled_head(&http, &base).await;
    // A wait far longer than the test: an answer without the event would be
    // a poll that was never woken, not one that timed out first.
    let url = format!("{base}?after={head}&timeout=30");
    let mut polls = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let (http, url) = (http.clone(), url.clone());
        polls.spawn(async move { get(&http, &url).await });
    }
    // Once every poll is held by the server, something happens: every poll
    // must see it.
    tokio::time::timeout(common::WAIT, async {
        loop {
            let (_, text) = common::http_get(&server.http_url("/metrics")).await;
            if common::metric(&text, "skirmish_pollers") == Some(500.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("all 500 polls reached the server");
    let started = std::time::Instant::now();
    churn(&server, 1).await;
    let mut answered = 0;
    while let Some(result) = polls.join_next().await {
        let (status, page) = result.expect("poll task");
        assert_eq!(status, 200);
        let events = page["events"].as_array().expect("events");
        assert_eq!(events[0]["event"], "join", "{page}");
        answered += 1;
    }
    assert_eq!(answered, 500);
    // Generous for a loaded 2-core machine; a poll left to its timeout
    // would take 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

/// A long-poll player: what it holds, and its next input sequence.
struct Legacy {
    http: reqwest::Client,
    base: String,
    token: String,
    ship: ShipId,
    /// The WebSocket's resume token, in hex.
    resume: String,
    view: ViewHistory,
    seq: u32,
}

impl Legacy {
    async fn join(server: &TestServer, room: &str, name: &str) -> Legacy {
        let http = client();
        let (status, joined) = post(
            &http,
            &server.http_url(&format!("/api/rooms/{room}/join")),
            json!({"name": name}),
        )
        .await;
        assert_eq!(status, 200, "{joined}");
        let joined: JoinAnswer = serde_json::from_value(joined).expect("a join answer");
        assert_eq!((joined.room.as_str(), joined.rules.tick_hz), (room, 30));
        assert_eq!(joined.resume.len(), 32);
        Legacy {
            base: server.http_url("/api/sessions/"),
            token: joined.token,
            ship: joined.ship,
            resume: joined.resume,
            http,
            view: ViewHistory::new(),
            seq: 0,
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}{}/{rest}", self.base, self.token)
    }

    /// One long poll for the next snapshot after what it holds.
    async fn poll(&mut self) -> Snapshot {
        loop {
            let after = self.view.latest().map(|v| v.tick.0);
            let url = match after {
                Some(t) => self.url(&format!("state?after={t}&timeout=5")),
                None => self.url("state?timeout=5"),
            };
            let (status, page) = get(&self.http, &url).await;
            assert_eq!(status, 200, "{page}");
            let page: StateAnswer = serde_json::from_value(page).expect("a state answer");
            let Some(snapshot) = page.snapshot else {
                continue;
            };
            assert!(
                snapshot.body.baseline.is_none() || snapshot.body.baseline.map(|t| t.0) == after,
                "deltas are against what the client named"
            );
            self.view.apply(&snapshot.body).expect("applies");
            return snapshot;
        }
    }

    async fn input(&mut self, buttons: u8, aim: u8) {
        self.seq += 1;
        let ack = self.view.latest().map(|v| v.tick);
        let body = json!({"seq": self.seq, "ack": ack, "buttons": buttons, "aim": aim});
        let (status, page) = post(&self.http, &self.url("input"), body).await;
        assert_eq!(status, 202, "{page}");
        let page: InputAccepted = serde_json::from_value(page).expect("an input answer");
        assert_eq!(page.accepted, 1);
    }

    fn world(&self) -> &WorldView {
        self.view.latest().expect("a snapshot arrived")
    }
}

#[tokio::test]
async fn legacy_and_websocket_players_see_and_hit_each_other() {
    let mut config = test_config();
    config.idle_timeout_secs = 120;
    let server = TestServer::start(config).await;
    let mut legacy = Legacy::join(&server, "mixed", "Legacy").await;
    let mut ws = Player::join(&server, "Socket", Some("mixed")).await;
    let (legacy_ship, ws_ship) = (legacy.ship, ws.ship());

    // The legacy player hunts the WebSocket player until it has hit it.
    let mut last_input = 0;
    for _ in 0..1200 {
        let snapshot = legacy.poll().await;
        assert!(snapshot.last_input >= last_input, "acks never go back");
        last_input = snapshot.last_input;
        if legacy
            .world()
            .ships
            .get(&ws_ship)
            .is_some_and(|s| s.state.hp < 3)
        {
            break;
        }
        let (buttons, aim) = hunt(ws_ship)(legacy.world(), legacy_ship);
        legacy.input(buttons, aim).await;
    }
    assert!(
        legacy.world().ships[&ws_ship].state.hp < 3,
        "the legacy player hit"
    );
    assert!(last_input > 0, "the legacy player's inputs were applied");
    let legacy_pos = legacy.world().ships[&legacy_ship].state;
    // The WebSocket player saw the legacy ship move and itself get hit.
    loop {
        ws.snapshot().await;
        if ws.world().tick >= legacy.world().tick {
            break;
        }
    }
    let seen = ws.world().ships[&legacy_ship].state;
    assert_eq!((seen.x, seen.y), (legacy_pos.x, legacy_pos.y));
    assert!(ws.world().ships[&ws_ship].state.hp < 3);

    // And the other way round: the WebSocket player hunts the legacy one,
    // which sees its own hit points drop in its long-polled view.
    let target = legacy_ship;
    let hunter = ws_ship;
    let watcher = async {
        for _ in 0..1200 {
            legacy.poll().await;
            if legacy.world().ships[&legacy_ship].state.hp < 3
                || legacy.world().ships[&hunter].state.score > 0
            {
                return;
            }
        }
        panic!("the legacy player was never hit");
    };
    let chase = async {
        let mut hit = false;
        for _ in 0..1200 {
            ws.snapshot().await;
            let world = ws.world();
            if world.ships[&target].state.hp < 3 || world.ships[&hunter].state.score > 0 {
                hit = true;
                break;
            }
            let (buttons, aim) = hunt(target)(world, hunter);
            ws.input(buttons, aim).await;
        }
        assert!(hit, "the WebSocket player hit");
    };
    tokio::join!(watcher, chase);

    let (status, left) = post(&legacy.http, &legacy.url("leave"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_value::<LeaveAnswer>(left).expect("a leave answer"),
        LeaveAnswer { left: true }
    );
    let (status, gone) = get(&legacy.http, &legacy.url("state")).await;
    assert_eq!(refusal(status, &gone), ApiErrorCode::SessionEnded);
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_and_limits_get_json_errors() {
    let mut config: Config = test_config();
    config.max_polls = 2;
    config.max_poll_timeout_secs = 30;
    config.legacy_idle_secs = 1;
    config.max_msgs_per_sec = 10;
    let server = TestServer::start(config).await;
    let http = client();
    let poll = server.http_url("/api/rooms/main/poll");
    for query in [
        "after=abc",
        "after=-1",
        "after=1.5",
        "timeout=31",
        "timeout=-2",
        "timeout=soon",
    ] {
        let (status, body) = get(&http, &format!("{poll}?{query}")).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::BadParam, "{query}");
    }
    let (status, body) = get(&http, &server.http_url("/api/rooms/nowhere/poll")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NoRoom);

    // The poll cap answers 503 with Retry-After.
    let head = settled_head(&http, &poll).await;
    // A probe can take a permit for an instant and make one of the waits
    // fail, so a round counts only when both waits held their permits
    // throughout; there is no server-side event to await instead.
    let mut refused = None;
    for _round in 0..10 {
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let (http, url) = (http.clone(), format!("{poll}?after={head}&timeout=2"));
                tokio::spawn(async move { http.get(url).send().await.expect("sent").status() })
            })
            .collect();
        let mut probe_refused = None;
        // Give the waits a head start; probing at once takes their permit.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..40 {
            let response = http
                .get(format!("{poll}?after={head}&timeout=0"))
                .send()
                .await
                .expect("sent");
            if response.status() == 503 {
                probe_refused = Some(response);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let mut waits_held = true;
        for w in waiting {
            waits_held &= w.await.expect("task") == 200;
        }
        if waits_held && probe_refused.is_some() {
            refused = probe_refused;
            break;
        }
    }
    let refused = refused.expect("a third concurrent poll is refused");
    assert_eq!(refused.headers()["retry-after"], "1");
    let status = refused.status().as_u16();
    let body = refused.json::<Value>().await.expect("json");
    assert_eq!(refusal(status, &body), ApiErrorCode::PollLimit);

    // Joining and playing.
    let join = server.http_url("/api/rooms/main/join");
    let (status, body) = post(&http, &join, json!({"name": ""})).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadName);
    let (status, body) = post(&http, &join, json!({"nom": "x"})).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadBody);
    let (status, body) = post(
        &http,
        &server.http_url("/api/rooms/bad%20room/join"),
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadRoom);
    for token in ["00112233445566778899aabbccddeeff", "not-a-token"] {
        let url = server.http_url(&format!("/api/sessions/{token}/state"));
        let (status, body) = get(&http, &url).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::UnknownSession);
    }

    let legacy = Legacy::join(&server, "main", "Spammer").await;
    let many: Vec<Value> = (1..=33)
        .map(|seq| json!({"seq": seq, "ack": null, "buttons": 0, "aim": 0}))
        .collect();
    let (status, body) = post(&http, &legacy.url("input"), json!({"inputs": many})).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::TooManyInputs);
    let (status, body) = post(
        &http,
        &legacy.url("input"),
        json!({"seq": 1, "ack": null, "buttons": 300, "aim": 0}),
    )
    .await;
    assert_eq!(
        refusal(status, &body),
        ApiErrorCode::BadBody,
        "a button byte out of range"
    );
    let mut flooded = false;
    for seq in 0..10 {
        let batch: Vec<Value> = (0..8)
            .map(|i| json!({"seq": seq * 8 + i + 1, "ack": null, "buttons": 0, "aim": 0}))
            .collect();
        let (status, body) = post(&http, &legacy.url("input"), json!({"inputs": batch})).await;
        if status == 429 {
            assert_eq!(refusal(status, &body), ApiErrorCode::InputFlood);
            assert!(body["error"].as_str().expect("msg").contains("flood"));
            flooded = true;
            break;
        }
        assert_eq!(status, 202);
    }
    assert!(
        flooded,
        "80 inputs at once exceed 10 per second with a 2 s burst"
    );

    // An idle session expires: its ship leaves and its token answers 410.
    let mut expired = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rooms = common::get_json(&server, "/api/rooms").await;
        if rooms[0]["players"] == 0 {
            expired = true;
            break;
        }
    }
    assert!(expired, "the idle long-poll player's seat was freed");
    let (status, body) = get(&http, &legacy.url("state")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::SessionExpired);
    server.stop().await;
}

#[tokio::test]
async fn poll_answers_are_compressed_when_accepted() {
    let mut config = test_config();
    config.bots = 8;
    let server = TestServer::start(config).await;
    let response = client()
        .get(server.http_url("/api/rooms/main/poll"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let plain = client()
        .get(server.http_url("/api/rooms/main/poll"))
        .send()
        .await
        .expect("sent");
    assert!(plain.headers().get("content-encoding").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_newer_state_poll_of_a_session_replaces_the_older() {
    let server = TestServer::start(test_config()).await;
    let legacy = Legacy::join(&server, "main", "Twice").await;
    let pollers = || {
        let state = server.server.as_ref().expect("running").state();
        state.metrics.pollers.get()
    };
    // A tick the room will not reach during the test: the poll waits.
    let far = "state?after=4000000000&timeout=10";
    let older = tokio::spawn({
        let (http, url) = (legacy.http.clone(), legacy.url(far));
        async move { get(&http, &url).await }
    });
    for _ in 0..500 {
        if pollers() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pollers(), 1, "the first poll is waiting");
    let newer = tokio::spawn({
        let (http, url) = (legacy.http.clone(), legacy.url("state?timeout=1"));
        async move { get(&http, &url).await }
    });
    let (status, page) = tokio::time::timeout(Duration::from_secs(5), older)
        .await
        .expect("the older poll is answered at once")
        .expect("task");
    assert_eq!(refusal(status, &page), ApiErrorCode::PollReplaced);
    assert_eq!(page["error"], "replaced by a newer poll of this session");
    let (status, page) = newer.await.expect("task");
    assert_eq!(status, 200, "{page}");
    assert!(page["snapshot"]["body"]["tick"].is_u64(), "{page}");
    server.stop().await;
}

#[tokio::test]
async fn each_room_has_its_own_poll_cap() {
    let mut config: Config = test_config();
    config.max_polls_per_room = 2;
    let server = TestServer::start(config).await;
    let _side_player = Player::join(&server, "Side", Some("side")).await;
    let http = client();
    let poll = server.http_url("/api/rooms/main/poll");
    let head = settled_head(&http, &poll).await;
    let pollers = || {
        let state = server.server.as_ref().expect("running").state();
        state.metrics.pollers.get()
    };
    // Two polls wait on a quiet room (no bots, no players: no events).
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{poll}?after={head}&timeout=10"));
            tokio::spawn(async move { get(&http, &url).await })
        })
        .collect();
    for _ in 0..500 {
        if pollers() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pollers(), 2, "both polls wait");
    let (status, body) = get(&http, &format!("{poll}?after={head}&timeout=0")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::RoomPollLimit);
    // Another room and the ticker still answer.
    let (status, body) = get(&http, &server.http_url("/api/rooms/side/poll")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&http, &server.http_url("/api/ticker/poll")).await;
    assert_eq!(status, 200, "{body}");
    for w in waiting {
        w.abort();
    }
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413_with_a_json_reason() {
    let mut config: Config = test_config();
    config.max_body_bytes = 1024;
    let server = TestServer::start(config).await;
    let http = client();
    let legacy = Legacy::join(&server, "main", "Bulky").await;
    let padding = "x".repeat(2000);
    for url in [server.http_url("/api/rooms/main/join"), legacy.url("input")] {
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"name\":\"{padding}\"}}"))
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(refusal(status, &body), ApiErrorCode::BodyTooLarge, "{url}");
    }
    // The session is still good.
    let (status, page) = post(
        &http,
        &legacy.url("input"),
        json!({"seq": 1, "buttons": 0, "aim": 0}),
    )
    .await;
    assert_eq!(status, 202, "{page}");
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_resume_ends_the_long_poll_session_with_its_code() {
    let server = TestServer::start(test_config()).await;
    let mut legacy = Legacy::join(&server, "main", "Mover").await;
    legacy.poll().await;
    // The same ship, taken over by a WebSocket with the join's resume token.
    let mut token = [0u8; 16];
    for (i, byte) in token.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&legacy.resume[2 * i..2 * i + 2], 16).expect("hex");
    }
    let ws = Player::hello(&server, "Mover", Some("main"), Some(ResumeToken(token))).await;
    assert_eq!(ws.ship(), legacy.ship, "the ship moved to the WebSocket");
    let (status, body) = get(&legacy.http, &legacy.url("state?timeout=5")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::SessionReplaced);
    // And stays gone with the same code.
    let (status, body) = post(
        &legacy.http,
        &legacy.url("input"),
        json!({"seq": 9, "buttons": 0, "aim": 0}),
    )
    .await;
    assert_eq!(refusal(status, &body), ApiErrorCode::SessionReplaced);
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_join_with_the_resume_token_takes_the_ship_back_once() {
    let server = TestServer::start(test_config()).await;
    let mut legacy = Legacy::join(&server, "main", "Back").await;
    legacy.poll().await;
    let join = server.http_url("/api/rooms/main/join");
    let (status, back) = post(
        &legacy.http,
        &join,
        json!({"name": "Back", "resume": legacy.resume}),
    )
    .await;
    assert_eq!(status, 200, "{back}");
    let back: JoinAnswer = serde_json::from_value(back).expect("a join answer");
    assert_eq!(back.ship, legacy.ship, "the same ship");
    assert!(back.resumed);
    assert_ne!(back.token, legacy.token, "a new session");
    // One seat: the older session is told it was replaced.
    let (status, body) = get(&legacy.http, &legacy.url("state?timeout=5")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::SessionReplaced);
    // A malformed token, a token with a seat ticket, a token of no ship.
    for (body, code) in [
        (json!({"name": "X", "resume": "zz"}), ApiErrorCode::BadToken),
        (
            json!({"name": "X", "resume": legacy.resume, "seat": "00112233445566778899aabbccddeeff"}),
            ApiErrorCode::ResumeRejected,
        ),
        (
            json!({"name": "X", "resume": "00112233445566778899aabbccddeeff"}),
            ApiErrorCode::ResumeRejected,
        ),
    ] {
        let (status, answer) = post(&legacy.http, &join, body.clone()).await;
        assert_eq!(refusal(status, &answer), code, "{body} -> {answer}");
    }
    server.stop().await;
}

#[tokio::test]
async fn errors_the_http_layer_makes_carry_codes_too() {
    let server = TestServer::start(test_config()).await;
    let http = client();
    let cases: [(reqwest::RequestBuilder, ApiErrorCode); 9] = [
        // The route exists, the method does not (axum's own 405).
        (
            http.get(server.http_url("/api/rooms/main/join")),
            ApiErrorCode::MethodNotAllowed,
        ),
        (
            http.delete(server.http_url("/api/ticker")),
            ApiErrorCode::MethodNotAllowed,
        ),
        (
            http.get(server.http_url("/api/nothing")),
            ApiErrorCode::NotFound,
        ),
        // The file server's 404.
        (
            http.get(server.http_url("/no-such-page.html")),
            ApiErrorCode::NotFound,
        ),
        // A path segment that is not UTF-8 (axum's plain-text 400).
        (
            http.get(server.http_url("/api/rooms/%FF/poll")),
            ApiErrorCode::BadRequest,
        ),
        // A query string that does not parse.
        (
            http.get(server.http_url("/api/rooms/main/poll?after=1&after=2")),
            ApiErrorCode::BadParam,
        ),
        (
            http.post(server.http_url("/api/rooms/main/join"))
                .body(r#"{"name":"x"}"#),
            ApiErrorCode::NotJson,
        ),
        (
            http.post(server.http_url("/api/rooms/main/join"))
                .header("content-type", "application/json")
                .body("{name"),
            ApiErrorCode::BadJson,
        ),
        // A plain GET of the player socket.
        (http.get(server.http_url("/ws")), ApiErrorCode::NotWebsocket),
    ];
    for (request, expected) in cases {
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(refusal(status, &body), expected, "{body}");
    }
    server.stop().await;
}
