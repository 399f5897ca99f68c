//! Replays through a real server on a real SQLite file: a round played
//! live is recorded with its feed entries and state samples; streamed back
//! at 8x it yields the same events with the same ids (and the JSON
//! download the same again), from `?at=` a round time or after
//! `Last-Event-ID`; requests are checked and the streams capped per
//! address; retention deletes replays by count and by age.

mod common;

use std::time::{Duration, Instant};

use common::{Player, SseClient, SseEvent, TestServer, http_get, refusal, test_config};
use serde_json::Value;
use skirmish_server::Config;
use skirmish_server::metrics::Metrics;
use skirmish_server::storage::Storage;
use skirmish_server::storage::record::{RoundRecord, StandingRecord};
use skirmish_server::storage::replay::{EncodedReplay, ReplayData};
use skirmish_shared::feed::{RoomEvent, Round};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::replay::Replay;

/// How long a finished round may take to show in the history routes.
const RECORDED: Duration = Duration::from_secs(30);

/// A temporary data directory, removed on drop.
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        DataDir(std::env::temp_dir().join(format!(
            "skirmish-replay-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server keeping records in `dir`: short rounds, bots that fight.
fn config(dir: &DataDir, round_secs: u32) -> Config {
    let mut config = test_config();
    config.no_database = false;
    config.data_dir = dir.0.clone();
    config.round_secs = round_secs;
    config.bots = 3;
    config.idle_timeout_secs = 120;
    config
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = http_get(&server.http_url(path)).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: JSON, got {body}"));
    (status, json)
}

/// The id of the match of `room`'s round `round`, once it is recorded.
async fn match_of(server: &TestServer, room: &str, round: u32) -> u64 {
    let deadline = Instant::now() + RECORDED;
    loop {
        let (status, page) = get(server, &format!("/api/matches?room={room}")).await;
        if status == 200
            && let Some(found) = page["matches"]
                .as_array()
                .and_then(|ms| ms.iter().find(|m| m["round"] == round))
        {
            return found["id"].as_u64().expect("match id");
        }
        assert!(
            Instant::now() < deadline,
            "round {round} not recorded: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every frame of a stream up to and including its `closed`.
async fn read_to_close(stream: &mut SseClient) -> Vec<SseEvent> {
    let mut frames = Vec::new();
    loop {
        let frame = stream.next().await;
        let end = frame.event == "closed";
        if frame.event != "retry" && frame.event != ":" {
            frames.push(frame);
        }
        if end {
            return frames;
        }
    }
}

/// The logged frames (those with an id) after the opening snapshot.
fn logged(frames: &[SseEvent]) -> Vec<(u64, String, String)> {
    frames
        .iter()
        .filter(|f| f.id.is_some() && f.event != "snapshot" && f.event != "reset")
        .map(|f| (f.id.unwrap_or(0), f.event.clone(), f.data.clone()))
        .collect()
}

/// Reads the live feed until one whole round went by; its number and the
/// live frames from its start to its end.
async fn one_live_round(live: &mut SseClient) -> (u32, Vec<SseEvent>) {
    let mut frames: Vec<SseEvent> = Vec::new();
    let mut round = None;
    loop {
        let frame = live.next().await;
        if frame.event != "round" {
            frames.push(frame);
            continue;
        }
        match frame.room() {
            RoomEvent::Round(Round::Started { round: n, .. }) if round.is_none() => {
                round = Some(n);
                frames.clear();
                frames.push(frame);
            }
            RoomEvent::Round(Round::Ended { round: n, .. }) if round == Some(n) => {
                frames.push(frame);
                return (n, frames);
            }
            _ => frames.push(frame),
        }
    }
}

#[tokio::test]
async fn a_replay_streamed_at_8x_yields_the_live_feeds_events_and_ids() {
    let dir = DataDir::new("stream");
    let server = TestServer::start(config(&dir, 4)).await;
    let _ada = Player::join(&server, "Ada", Some("replay")).await;
    let client = reqwest::Client::new();
    let mut live =
        SseClient::open(&client, &server.http_url("/api/rooms/replay/events"), None).await;
    let (round, live_frames) = one_live_round(&mut live).await;
    let id = match_of(&server, "replay", round).await;

    // The whole replay as JSON: the round's entries with their live ids.
    let (status, json) =
        http_get(&server.http_url(&format!("/api/matches/{id}/replay?format=json"))).await;
    assert_eq!(status, 200, "{json}");
    let replay: Replay = serde_json::from_str(&json).expect("a Replay");
    assert_eq!((replay.room.as_str(), replay.round), ("replay", round));
    let snapshot_id = replay.snapshot.id;
    let live_logged: Vec<_> = logged(&live_frames)
        .into_iter()
        .filter(|(id, _, _)| *id > snapshot_id)
        .collect();
    let downloaded: Vec<_> = replay
        .events
        .iter()
        .map(|e| {
            let value = serde_json::to_value(&e.event).expect("serialises");
            (
                e.id,
                value["event"].as_str().unwrap_or("").to_owned(),
                value["data"].to_string(),
            )
        })
        .collect();
    let as_values = |rows: &[(u64, String, String)]| -> Vec<(u64, String, Value)> {
        rows.iter()
            .map(|(id, e, d)| (*id, e.clone(), serde_json::from_str(d).expect("JSON")))
            .collect()
    };
    assert!(
        !live_logged.is_empty() && live_logged.last().map(|e| e.1.as_str()) == Some("round"),
        "the live round ends with its round event: {live_logged:?}"
    );
    assert_eq!(as_values(&downloaded), as_values(&live_logged));
    // 10 Hz samples over a 4 s round.
    assert!(
        replay.samples.len() >= 30,
        "{} samples",
        replay.samples.len()
    );

    // Streamed at 8x: the same frames, byte for byte, paced.
    let started = Instant::now();
    let url = server.http_url(&format!("/api/matches/{id}/replay?speed=8"));
    let mut stream = SseClient::open(&client, &url, None).await;
    assert_eq!(stream.status, 200);
    let frames = read_to_close(&mut stream).await;
    let took = started.elapsed();
    assert_eq!(frames[0].event, "snapshot");
    assert_eq!(frames[0].id, Some(snapshot_id));
    assert_eq!(
        logged(&frames),
        live_logged,
        "same events, ids and JSON as live"
    );
    let states = frames.iter().filter(|f| f.event == "state").count();
    assert_eq!(states, replay.samples.len());
    assert_eq!(
        frames.last().map(|f| f.json()["reason"].clone()),
        Some("replay ended".into())
    );
    // A 4 s round at 8x takes 0.5 s: paced, and far faster than live.
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "took {took:?}"
    );

    // From 3 s in: what came before arrives at once, then the rest.
    let url = server.http_url(&format!("/api/matches/{id}/replay?speed=16&at=3"));
    let mut stream = SseClient::open(&client, &url, None).await;
    let from_3s = read_to_close(&mut stream).await;
    assert_eq!(logged(&from_3s), live_logged, "seeking skips no entry");
    assert!(
        from_3s.iter().filter(|f| f.event == "state").count() < states / 2,
        "samples before 3 s are skipped (but the newest)"
    );

    // Resuming after an entry gives exactly the entries after it.
    if let Some(middle) = live_logged.get(live_logged.len() / 2) {
        let mut stream = SseClient::open(
            &client,
            &server.http_url(&format!("/api/matches/{id}/replay?speed=16")),
            Some(middle.0),
        )
        .await;
        let resumed = read_to_close(&mut stream).await;
        let after: Vec<_> = live_logged
            .iter()
            .filter(|e| e.0 > middle.0)
            .cloned()
            .collect();
        assert_eq!(logged(&resumed), after);
        assert!(resumed.iter().all(|f| f.event != "snapshot"));
    }
    // An id not of this replay starts over with a reset.
    let mut stream = SseClient::open(&client, &url, Some(1)).await;
    assert_eq!(stream.next().await.event, "retry");
    assert_eq!(stream.next().await.event, "reset");
    server.stop().await;
}

#[tokio::test]
async fn replay_requests_are_checked_and_streams_capped_per_address() {
    let dir = DataDir::new("limits");
    let mut config = config(&dir, 2);
    config.max_replay_streams_per_ip = 2;
    let server = TestServer::start(config).await;
    let _ada = Player::join(&server, "Ada", Some("caps")).await;
    let client = reqwest::Client::new();
    let mut live = SseClient::open(&client, &server.http_url("/api/rooms/caps/events"), None).await;
    let (round, _) = one_live_round(&mut live).await;
    let id = match_of(&server, "caps", round).await;

    for (query, code) in [
        ("speed=0", ApiErrorCode::BadParam),
        ("speed=17", ApiErrorCode::BadParam),
        ("speed=fast", ApiErrorCode::BadParam),
        ("at=-1", ApiErrorCode::BadParam),
        ("at=3600", ApiErrorCode::BadParam),
        ("format=xml", ApiErrorCode::BadParam),
    ] {
        let (status, body) = get(&server, &format!("/api/matches/{id}/replay?{query}")).await;
        assert_eq!(refusal(status, &body), code, "{query}: {body}");
    }
    let (status, body) = get(&server, "/api/matches/999999/replay").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::ReplayNotFound);
    let (status, body) = get(&server, "/api/matches/x/replay").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadParam);

    // Two streams at 1x stay open; a third from the address is refused.
    let url = server.http_url(&format!("/api/matches/{id}/replay"));
    let mut first = SseClient::open(&client, &url, None).await;
    let mut second = SseClient::open(&client, &url, None).await;
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.next().await.event, "retry");
    assert_eq!(second.next().await.event, "retry");
    let (status, body) = get(&server, &format!("/api/matches/{id}/replay")).await;
    assert_eq!(
        refusal(status, &body),
        ApiErrorCode::IpReplayLimit,
        "{body}"
    );
    // A closed stream frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) =
            http_get(&server.http_url(&format!("/api/matches/{id}/replay?format=json"))).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;

    // Without a database there are no replays.
    let server = TestServer::start(test_config()).await;
    let (status, body) = get(&server, "/api/matches/1/replay").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NoDatabase);
    server.stop().await;
}

#[tokio::test]
async fn retention_deletes_replays_past_the_count_and_the_age() {
    // By count: with --max-replays 1 only the newest round keeps one.
    let dir = DataDir::new("count");
    let mut settings = config(&dir, 2);
    settings.max_replays = 1;
    let server = TestServer::start(settings).await;
    let _ada = Player::join(&server, "Ada", Some("keep")).await;
    let client = reqwest::Client::new();
    let mut live = SseClient::open(&client, &server.http_url("/api/rooms/keep/events"), None).await;
    let (first, _) = one_live_round(&mut live).await;
    let (second, _) = one_live_round(&mut live).await;
    let older = match_of(&server, "keep", first).await;
    let newer = match_of(&server, "keep", second).await;
    let deadline = Instant::now() + RECORDED;
    loop {
        let (status, body) =
            get(&server, &format!("/api/matches/{older}/replay?format=json")).await;
        if status == 404 {
            assert_eq!(refusal(status, &body), ApiErrorCode::ReplayNotFound);
            break;
        }
        assert!(Instant::now() < deadline, "the older replay was kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = get(&server, &format!("/api/matches/{newer}/replay?format=json")).await;
    assert_eq!(status, 200, "the newest replay stays");
    let (status, _) = get(&server, &format!("/api/matches/{older}")).await;
    assert_eq!(status, 200, "the match itself stays");
    server.stop().await;

    // By age: a replay of a round that ended 40 days ago is deleted when
    // the server starts (default --replay-retention-days 30); one of
    // yesterday stays.
    let dir = DataDir::new("age");
    let settings = config(&dir, 60);
    let day_ms = 24 * 60 * 60 * 1000;
    let now = skirmish_server::room::record::unix_ms();
    {
        let tracker = tokio_util::task::TaskTracker::new();
        let stop = tokio_util::sync::CancellationToken::new();
        let mut no_pruning = settings.clone();
        no_pruning.replay_retention_days = 0;
        let storage = Storage::open(
            &no_pruning,
            std::sync::Arc::new(Metrics::new()),
            stop.clone(),
            &tracker,
        )
        .await
        .expect("opens")
        .expect("a database");
        let rounds: Vec<RoundRecord> = [(1, now - 40 * day_ms), (2, now - day_ms)]
            .into_iter()
            .map(|(round, ended_ms)| RoundRecord {
                room: "old".into(),
                round,
                started_ms: ended_ms - 60_000,
                ended_ms,
                standings: vec![StandingRecord {
                    player: None,
                    name: "Ada".into(),
                    bot: false,
                    score: 1,
                    kills: 1,
                    deaths: 0,
                }],
                replay: Some(ReplayData::Encoded(std::sync::Arc::new(EncodedReplay {
                    body: vec![1, 2, 3],
                    json_bytes: 3,
                    events: 0,
                    samples: 0,
                    duration_ms: 60_000,
                }))),
            })
            .collect();
        storage
            .store()
            .write_rounds(&rounds)
            .await
            .expect("written");
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }
    let server = TestServer::start(settings).await;
    let (_, page) = get(&server, "/api/matches?room=old").await;
    let ids: Vec<u64> = page["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect();
    let [yesterday, forty_days] = ids[..] else {
        panic!("two matches: {page}")
    };
    let deadline = Instant::now() + RECORDED;
    loop {
        let (status, _) = get(
            &server,
            &format!("/api/matches/{forty_days}/replay?format=json"),
        )
        .await;
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "the 40-day-old replay was kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Yesterday's is kept (its made-up body is no zlib: the route says so).
    let (status, body) = get(
        &server,
        &format!("/api/matches/{yesterday}/replay?format=json"),
    )
    .await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Internal);
    server.stop().await;
}

/// The figure of docs/persistence.md: the bytes of one 3-minute round of 8
/// ships (7 bots and a player), as JSON and as stored (zlib, as the writer
/// compresses it). Takes 3 minutes, so it runs only when asked:
/// `cargo test -p skirmish-server --test replay -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a 3-minute measurement"]
#[expect(clippy::print_stderr, reason = "the measurement's output")]
async fn measure_a_three_minute_round() {
    use std::io::Write as _;
    let dir = DataDir::new("measure");
    let mut settings = config(&dir, 180);
    settings.bots = 7;
    // Ada sends nothing: she must outlast the round.
    settings.idle_timeout_secs = 600;
    let server = TestServer::start(settings).await;
    let _ada = Player::join(&server, "Ada", Some("measure")).await;
    let deadline = Instant::now() + Duration::from_secs(400);
    let id = loop {
        let (_, page) = get(&server, "/api/matches?room=measure").await;
        if let Some(id) = page["matches"][0]["id"].as_u64() {
            break id;
        }
        assert!(Instant::now() < deadline, "no round recorded");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let (status, json) =
        http_get(&server.http_url(&format!("/api/matches/{id}/replay?format=json"))).await;
    assert_eq!(status, 200);
    let replay: Replay = serde_json::from_str(&json).expect("a Replay");
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(json.as_bytes()).expect("compresses");
    let stored = zlib.finish().expect("compresses").len();
    eprintln!(
        "3-minute round, 8 ships: {} events, {} samples, {} bytes of JSON, {} bytes stored",
        replay.events.len(),
        replay.samples.len(),
        json.len(),
        stored
    );
    server.stop().await;
}
