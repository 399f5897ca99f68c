//! `skirmish-bots --html` and `--svg-dir` in a real run of the binary
//! against a real (spawned) server: the page is well-formed, carries its
//! charts inline and loads nothing from anywhere.

use std::path::Path;
use std::process::Command;

/// Checks that `text` is well-formed markup: every tag closed in order,
/// attributes quoted, entities known. Enough of XML for a page we write
/// ourselves (no CDATA or processing instructions).
fn check_well_formed(text: &str) -> Result<usize, String> {
    let mut open: Vec<String> = Vec::new();
    let mut elements = 0;
    let mut rest = text;
    while let Some(start) = rest.find(['<', '&']) {
        let (before, at) = rest.split_at(start);
        if before.contains('>') {
            return Err(format!("a stray '>' in {before:?}"));
        }
        if let Some(entity) = at.strip_prefix('&') {
            let end = entity.find(';').ok_or("an unterminated entity")?;
            let name = &entity[..end];
            let known = ["lt", "gt", "amp", "quot", "#39"].contains(&name);
            if !known {
                return Err(format!("unknown entity &{name};"));
            }
            rest = &entity[end + 1..];
            continue;
        }
        let end = at.find('>').ok_or("an unterminated tag")?;
        let tag = &at[1..end];
        rest = &at[end + 1..];
        if tag.starts_with("!DOCTYPE") {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(top) if top == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split_whitespace().next().ok_or("an empty tag")?;
        // Attributes: name="value" pairs, nothing else.
        let mut attrs = body[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find("=\"")
                .ok_or(format!("unquoted attribute in <{tag}>"))?;
            let value_end = attrs[eq + 2..]
                .find('"')
                .ok_or(format!("unterminated attribute in <{tag}>"))?;
            attrs = attrs[eq + 2 + value_end + 1..].trim_start();
        }
        elements += 1;
        if !self_closing {
            open.push(name.to_owned());
        }
    }
    if open.is_empty() {
        Ok(elements)
    } else {
        Err(format!("unclosed {open:?}"))
    }
}

#[test]
fn the_checker_rejects_broken_markup() {
    assert!(check_well_formed("<a><b/></a>").is_ok());
    for broken in [
        "<a><b></a>",
        "<a>",
        "<a x=1></a>",
        "<a>&nbsp;</a>",
        "<a>></a>",
    ] {
        assert!(check_well_formed(broken).is_err(), "{broken}");
    }
}

#[test]
fn a_real_run_writes_a_self_contained_html_report_and_its_svgs() {
    let dir = std::env::temp_dir().join(format!("skirmish-bots-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let html = dir.join("report.html");
    let json = dir.join("report.json");
    let svgs = dir.join("svg");
    let status = Command::new(env!("CARGO_BIN_EXE_skirmish-bots"))
        .args([
            "--spawn",
            "--players",
            "6",
            "--spectators",
            "6",
            "--pollers",
            "4",
            "--legacy",
            "2",
            "--duration",
            "5",
            "--ramp",
            "200",
            "--quiet",
            "--gzip",
        ])
        .arg("--html")
        .arg(&html)
        .arg("--report")
        .arg(&json)
        .arg("--svg-dir")
        .arg(&svgs)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the bots run");
    assert!(status.code().is_some_and(|c| c <= 1), "{status}");

    let page = std::fs::read_to_string(&html).expect("the page was written");
    let elements = check_well_formed(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(elements > 50, "{elements} elements");
    assert!(page.starts_with("<!DOCTYPE html>"));
    for needed in [
        "Clients connected",
        "Updates received per second",
        "Client errors so far",
        "Server CPU",
        "ws-player ack latency",
        "sse-spectator delivery latency",
        "poll-watcher delivery latency",
        "<table>",
    ] {
        assert!(page.contains(needed), "{needed} is in the page");
    }
    assert!(page.matches("<svg ").count() >= 7, "the charts are inline");
    let lower = page.to_ascii_lowercase();
    for external in ["src=", "href=", "<script", "<link", "@import", "url("] {
        assert!(
            !lower.contains(external),
            "nothing loads from elsewhere: {external}"
        );
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    let points = report["timeline"].as_array().expect("a timeline");
    assert!(points.len() >= 3, "{} points", points.len());
    assert!(points.iter().any(|p| p["server_cores"].is_number()));

    for name in [
        "clients",
        "messages",
        "errors",
        "server-cpu",
        "latency-sse-spectator",
    ] {
        let svg = std::fs::read_to_string(svgs.join(format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert!(svg.starts_with("<svg xmlns="), "{name}");
        check_well_formed(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
    }
    remove(&dir);
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
