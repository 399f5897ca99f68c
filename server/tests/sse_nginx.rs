//! An idle SSE feed behind Debian's nginx left at its defaults (no
//! `proxy_read_timeout` of its own): nginx cuts a stream that says nothing
//! for its read timeout, so the server's heartbeat comment is what keeps
//! an idle feed open. The feed is the score ticker (`/api/ticker`) of a
//! server where nobody plays: a room feed is never idle (its `state`
//! samples flow ten times a second even in an empty room), the ticker
//! carries nothing but heartbeats until a score changes. The fast test shortens the timeout to 3 s; the
//! ignored one measures nginx's real 60 s default for
//! docs/transports-study.md ("Heartbeats behind nginx").

mod common;

use std::time::{Duration, Instant};

use common::nginx_process::NginxProcess;
use common::{TestServer, WAIT, test_config};
use futures_util::StreamExt;

/// How one idle feed through nginx went.
#[derive(Debug)]
struct Outcome {
    /// From the opening snapshot to the stream's end; `None` when it was
    /// still open at the limit.
    cut_after: Option<Duration>,
    /// Heartbeat comments received.
    heartbeats: usize,
}

/// A server sending a heartbeat every `heartbeat_secs` (0: none) behind an
/// nginx with `directives`, and its ticker read through it for up to
/// `limit`.
async fn idle_feed(heartbeat_secs: u64, directives: &str, limit: Duration) -> Option<Outcome> {
    let mut config = test_config();
    config.sse_heartbeat_secs = heartbeat_secs;
    let server = TestServer::start(config).await;
    let nginx = NginxProcess::start_untuned(server.addr, directives)?;
    let response = tokio::time::timeout(
        WAIT,
        reqwest::Client::new().get(nginx.url("/api/ticker")).send(),
    )
    .await
    .expect("an answer in time")
    .expect("the feed opens through nginx");
    assert_eq!(response.status(), 200, "{}", nginx.error_log());
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while !text.contains("event: snapshot") {
        let chunk = tokio::time::timeout(WAIT, body.next())
            .await
            .expect("the opening in time")
            .expect("open")
            .expect("no error");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let opened = Instant::now();
    text.clear();
    let cut_after = loop {
        let Some(left) = limit.checked_sub(opened.elapsed()) else {
            break None;
        };
        match tokio::time::timeout(left, body.next()).await {
            Err(_) => break None,
            // The end, or nginx closing mid-chunk: either way, cut.
            Ok(None | Some(Err(_))) => break Some(opened.elapsed()),
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
        }
    };
    // Nothing but heartbeats came after the opening: the feed was idle.
    assert_eq!(
        text.replace(": heartbeat\n\n", ""),
        "",
        "the ticker was not idle"
    );
    drop(nginx);
    server.stop().await;
    Some(Outcome {
        cut_after,
        heartbeats: text.matches(": heartbeat").count(),
    })
}

#[tokio::test]
async fn an_idle_feed_outlives_nginxs_read_timeout_only_with_heartbeats() {
    let timeout = Duration::from_secs(3);
    let directive = format!("proxy_read_timeout {}s;", timeout.as_secs());
    // Three read timeouts: a feed nginx would cut is long gone by then.
    let limit = 3 * timeout;
    let (silent, beating) = tokio::join!(
        idle_feed(0, &directive, limit),
        idle_feed(1, &directive, limit)
    );
    let (Some(silent), Some(beating)) = (silent, beating) else {
        return;
    };
    let cut = silent
        .cut_after
        .expect("nginx cuts a feed silent for its read timeout");
    assert!(
        cut >= timeout - Duration::from_millis(500) && cut < timeout + WAIT,
        "cut after {cut:?}, timeout {timeout:?}"
    );
    assert_eq!(silent.heartbeats, 0);
    assert_eq!(
        beating.cut_after, None,
        "a feed with heartbeats outlives the read timeout"
    );
    assert!(beating.heartbeats >= 5, "{beating:?}");
}

/// nginx's real default (60 s) against the server's default heartbeat
/// (15 s) and none; prints how long each feed lived. Three minutes:
/// `cargo test -p skirmish-server --test sse_nginx -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measures nginx's 60 s default: three minutes"]
#[expect(clippy::print_stderr, reason = "the measurement is the output")]
async fn idle_feeds_behind_nginx_defaults() {
    let limit = Duration::from_secs(180);
    let (silent, beating) = tokio::join!(
        idle_feed(0, "", limit),
        idle_feed(test_config().sse_heartbeat_secs, "", limit)
    );
    let (Some(silent), Some(beating)) = (silent, beating) else {
        return;
    };
    eprintln!("heartbeat off: {silent:?}");
    eprintln!(
        "heartbeat every {} s: {beating:?}",
        test_config().sse_heartbeat_secs
    );
    assert!(silent.cut_after.is_some());
    assert_eq!(beating.cut_after, None);
}
