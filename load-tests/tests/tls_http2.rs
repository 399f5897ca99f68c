//! The bots over TLS against a real in-process server with a certificate
//! made for the run: with `--http-version 2` every spectator's feed and
//! every watcher's polls ride one shared connection per kind (streams of
//! one HTTP/2 connection, as in a browser page); with `--tls` alone each
//! client holds its own HTTP/1.1 connection. Long-poll players play over
//! both: two connections each over HTTP/1.1 (a state poll waits on one
//! while inputs go on the other), one shared connection over HTTP/2.

use clap::Parser;
use skirmish_load_tests::stats::Transport;
use skirmish_load_tests::{Options, Report, run};
use tokio_util::sync::CancellationToken;

/// Clients of each kind.
const EACH: u64 = 8;

/// Spectators and watchers, `EACH` of each, and `extra`.
async fn run_with(extra: &[&str]) -> Report {
    let each = EACH.to_string();
    let mut args = vec!["--spectators", &each, "--pollers", &each];
    args.extend_from_slice(extra);
    run_bots(&args).await
}

/// A spawned server with 4 bots of its own, and the bots' `args`.
async fn run_bots(extra: &[&str]) -> Report {
    let mut args = vec![
        "skirmish-bots",
        "--spawn",
        "--server-bots",
        "4",
        "--duration",
        "4",
        "--ramp",
        "500",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let plan = Options::try_parse_from(args)
        .expect("flags parse")
        .plan()
        .expect("a valid plan");
    run(&plan, CancellationToken::new())
        .await
        .expect("the run completes")
}

/// Every client connected once, with no error, and the feeds delivered.
fn delivered(report: &Report) {
    assert_eq!(report.errors, 0, "{}", report.table());
    for kind in [Transport::SseSpectator, Transport::PollWatcher] {
        let t = report.transport(kind).expect("ran");
        assert_eq!((t.connected, t.connects), (EACH, EACH), "{}", kind.name());
        assert!(t.bytes > 0 && t.requests >= EACH, "{}: {t:?}", kind.name());
    }
    let sse = report.transport(Transport::SseSpectator).expect("sse");
    assert!(
        sse.sample_delivery_ms.as_ref().is_some_and(|p| p.count > 0),
        "state samples arrive over TLS: {sse:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http2_each_kind_shares_one_connection() {
    let report = run_with(&["--http-version", "2", "--clients-per-connection", "8"]).await;
    delivered(&report);
    let tls = report.tls.as_ref().expect("a TLS run");
    assert_eq!(tls.http_version, "2");
    assert_eq!(
        tls.connections,
        2,
        "one connection for the spectators, one for the watchers: {}",
        report.table()
    );
    assert!(tls.sent_bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http1_each_client_has_its_own_connection() {
    let report = run_with(&["--tls"]).await;
    delivered(&report);
    let tls = report.tls.as_ref().expect("a TLS run");
    assert_eq!(tls.http_version, "1.1");
    assert_eq!(tls.connections, 2 * EACH, "{}", report.table());
}

/// Long-poll players each over `--legacy EACH`: every one joined once and
/// stayed, inputs were accepted (a refused post is an error) and
/// acknowledged by the snapshots the state polls brought.
fn played(report: &Report) {
    assert_eq!(report.errors, 0, "{}", report.table());
    let t = report.transport(Transport::PollPlayer).expect("ran");
    assert_eq!(
        (t.connected, t.connects),
        (EACH, EACH),
        "{}",
        report.table()
    );
    assert!(t.messages > EACH, "snapshots arrive: {t:?}");
    assert!(
        t.ack_rtt_ms.as_ref().is_some_and(|p| p.count > EACH),
        "inputs acknowledged: {t:?}"
    );
    let tls = report.tls.as_ref().expect("a TLS run");
    assert!(tls.sent_bytes > 0, "the posts count upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_players_play_over_one_http2_connection() {
    let report = run_bots(&[
        "--legacy",
        &EACH.to_string(),
        "--http-version",
        "2",
        "--clients-per-connection",
        &EACH.to_string(),
    ])
    .await;
    played(&report);
    let tls = report.tls.as_ref().expect("a TLS run");
    assert_eq!(tls.http_version, "2");
    assert_eq!(
        tls.connections,
        1,
        "joins, inputs and state polls of all the players are streams of one connection: {}",
        report.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_players_over_http1_hold_two_connections_each() {
    let report = run_bots(&["--legacy", &EACH.to_string(), "--tls"]).await;
    played(&report);
    let tls = report.tls.as_ref().expect("a TLS run");
    assert_eq!(tls.http_version, "1.1");
    assert_eq!(
        tls.connections,
        2 * EACH,
        "one for the state poll, one for the posts: {}",
        report.table()
    );
}
