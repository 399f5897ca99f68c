//! The bots against a real in-process server, briefly, so they never rot:
//! every kind of client connects, measures, and nothing fails.

use std::time::{Duration, Instant};

use clap::Parser;
use skirmish_load_tests::stats::Transport;
use skirmish_load_tests::{Options, run};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bot_connects_measures_and_meets_its_budgets() {
    let report_path =
        std::env::temp_dir().join(format!("skirmish-bots-smoke-{}.json", std::process::id()));
    let options = Options::try_parse_from([
        "skirmish-bots",
        "--spawn",
        "--players",
        "24",
        "--spectators",
        "24",
        "--pollers",
        "12",
        "--legacy",
        "12",
        "--duration",
        "3",
        "--ramp",
        "500",
        "--quiet",
        "--max-errors",
        "0",
    ])
    .expect("flags parse");
    let plan = options.plan().expect("a valid plan");
    let started = Instant::now();
    let report = run(&plan, CancellationToken::new())
        .await
        .expect("the run completes");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    assert_eq!(report.errors, 0, "{}", report.table());
    assert!(report.passed(), "{:?}", report.violations);
    let expected = [
        (Transport::WsPlayer, 24),
        (Transport::SseSpectator, 24),
        (Transport::PollWatcher, 12),
        (Transport::PollPlayer, 12),
    ];
    for (kind, clients) in expected {
        let t = report
            .transport(kind)
            .unwrap_or_else(|| panic!("{} ran", kind.name()));
        assert_eq!(
            (t.clients, t.connected, t.connects),
            (clients, clients, clients),
            "{}: every client connected once",
            kind.name()
        );
        assert_eq!(
            t.connect_ms.as_ref().map(|p| p.count),
            Some(clients),
            "{}",
            kind.name()
        );
        assert!(t.messages > 0 && t.bytes > 0, "{}: {t:?}", kind.name());
        assert_eq!(t.resets, 0, "{}", kind.name());
    }
    for players in [Transport::WsPlayer, Transport::PollPlayer] {
        let t = report.transport(players).expect("players ran");
        let acks = t.ack_rtt_ms.as_ref().expect("acks measured");
        // 3 s at 30 Hz is ~90 inputs per player, most of them acknowledged
        // on an idle machine; a loaded one still acknowledges some of each
        // player's.
        assert!(acks.count >= t.clients, "{}: {acks:?}", players.name());
        assert!(t.jitter_ms.is_some(), "{}", players.name());
    }
    // Spectators and watchers start interleaved with players, so they see
    // later players join: logged events, delivered with a latency.
    for watchers in [Transport::SseSpectator, Transport::PollWatcher] {
        let t = report.transport(watchers).expect("watchers ran");
        let delivery = t.delivery_ms.as_ref().expect("events delivered");
        assert!(delivery.count > 0, "{}", watchers.name());
    }
    let sse = report.transport(Transport::SseSpectator).expect("sse");
    assert!(
        sse.sample_delivery_ms.is_some(),
        "state samples arrive at 10 Hz"
    );

    report.write_json(&report_path).expect("report written");
    let written: skirmish_load_tests::Report =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap_or_default())
            .expect("the JSON report parses back");
    assert_eq!(written, report);
    let _ = std::fs::remove_file(&report_path);
}
