//! The shipped Grafana dashboard (`deploy/grafana/skirmish-dashboard.json`)
//! queries only metrics a running server serves: each `skirmish_*` name in
//! its queries must be a series on `/metrics` once the server has seen a
//! player, a refusal and a matchmake (labelled families appear with their
//! first series).

mod common;

use std::collections::BTreeSet;

use common::{Player, TestServer, client_from, raw_socket, recv, send, test_config};
use skirmish_shared::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg};

/// Every `skirmish_*` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("skirmish_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Every query (`expr`) of the dashboard's panels and variables.
fn queries(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            out.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if let Some(definition) = variable["definition"].as_str() {
            out.push(definition.to_owned());
        }
    }
    out
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_served() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/skirmish-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    let queried: BTreeSet<String> = queries(&dashboard)
        .iter()
        .flat_map(|q| metric_names(q))
        .collect();
    assert!(queried.len() >= 10, "the dashboard queries {queried:?}");

    let mut config = test_config();
    config.bots = 1;
    let server = TestServer::start(config).await;
    let mut player = Player::join(&server, "grafana", None).await;
    player.snapshot().await;
    // A refusal (an empty name) and a matchmake: their families appear.
    let mut socket = raw_socket(&server).await;
    let hello = Hello {
        token: None,
        protocol: PROTOCOL_VERSION,
        name: String::new(),
        room: None,
        resume: None,
        player: None,
    };
    send(&mut socket, &ClientMsg::Hello(hello)).await;
    assert!(matches!(recv(&mut socket).await, ServerMsg::Error(_)));
    let answer = client_from([127, 0, 0, 1])
        .post(server.http_url("/api/matchmake"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("matchmake");
    assert_eq!(answer.status(), 200);

    let text = client_from([127, 0, 0, 1])
        .get(server.http_url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let served: BTreeSet<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !served.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "queried but not served: {missing:?}\n{text}"
    );
    server.stop().await;
}
