//! The report people look at: `--html FILE` writes one self-contained page
//! (inline SVG charts, inline CSS, no scripts, fonts or links) with the
//! run's time series, each kind's latency histogram and the summary
//! table; `--svg-dir DIR` writes the same charts as separate SVG files.
//!
//! Everything here is a pure function of the [`Report`]: it never reads
//! counters or the network.

use std::fmt::Write as _;
use std::path::Path;

use crate::Error;
use crate::report::{LATENCY_BOUNDS_MS, Percentiles, Report};
use crate::stats::Transport;
use crate::svg::{self, Series, escape};

/// One chart: a file stem and its SVG.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File name without `.svg` (`clients`, `latency-sse-spectator`).
    pub name: String,
    /// The `<svg>` element.
    pub svg: String,
}

/// Every chart of `report`: the time series when it has a timeline, then
/// one latency histogram per kind that measured one.
#[must_use]
pub fn charts(report: &Report) -> Vec<Chart> {
    let mut out = Vec::new();
    let t = &report.timeline;
    if !t.is_empty() {
        let ran: Vec<(usize, Transport)> = Transport::ALL
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, kind)| report.transport(*kind).is_some())
            .collect();
        let clients: Vec<Series> = ran
            .iter()
            .map(|&(k, kind)| Series {
                name: kind.name().to_owned(),
                points: t.iter().map(|p| (p.t, p.connected[k] as f64)).collect(),
            })
            .collect();
        let one = |name: &str, f: &dyn Fn(&crate::timeline::Point) -> Option<f64>| {
            vec![Series {
                name: name.to_owned(),
                points: t.iter().filter_map(|p| Some((p.t, f(p)?))).collect(),
            }]
        };
        let time = "seconds since the first client";
        out.push(Chart {
            name: "clients".into(),
            svg: svg::lines("Clients connected", time, "clients", &clients),
        });
        out.push(Chart {
            name: "messages".into(),
            svg: svg::lines(
                "Updates received per second",
                time,
                "updates/s",
                &one("all clients", &|p| Some(p.messages_per_sec)),
            ),
        });
        out.push(Chart {
            name: "errors".into(),
            svg: svg::lines(
                "Client errors so far",
                time,
                "errors",
                &one("all clients", &|p| Some(p.errors as f64)),
            ),
        });
        if t.iter().any(|p| p.server_cores.is_some()) {
            out.push(Chart {
                name: "server-cpu".into(),
                svg: svg::lines(
                    "Server CPU",
                    time,
                    "cores",
                    &one("server", &|p| p.server_cores),
                ),
            });
        }
    }
    for h in &report.latency {
        let labels = LATENCY_BOUNDS_MS
            .iter()
            .map(|b| format!("≤{b}"))
            .chain(std::iter::once(format!(
                ">{}",
                LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]
            )));
        let bars: Vec<(String, f64)> = labels.zip(h.counts.iter().map(|&c| c as f64)).collect();
        out.push(Chart {
            name: format!("latency-{}", h.transport.name()),
            svg: svg::bars(
                &format!("{} {} latency", h.transport.name(), h.metric),
                "milliseconds",
                "samples",
                &bars,
            ),
        });
    }
    out
}

fn pair(p: Option<&Percentiles>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("{:.1} / {:.1}", p.p50, p.p99))
}

/// The whole page.
#[must_use]
pub fn page(report: &Report) -> String {
    let run = &report.run;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>skirmish-bots report</title><style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}figure{display:inline-block;margin:0 1em 1em 0}pre{background:#f8f8f8;padding:1em}</style></head><body>\n",
    );
    let _ = write!(
        out,
        "<h1>skirmish-bots report</h1>\n<p>{} WebSocket players, {} SSE spectators, {} long-poll watchers, {} long-poll players against {} ({}), {} room(s), {:.1} s{}.</p>\n",
        run.players,
        run.spectators,
        run.pollers,
        run.legacy,
        escape(&run.url),
        if run.spawned {
            "spawned in-process"
        } else {
            "a running server"
        },
        run.rooms.len(),
        report.elapsed_secs,
        if run.gzip { ", gzip accepted" } else { "" },
    );
    out.push_str("<h2>Summary</h2>\n<table><tr><th>transport</th><th>connected / clients</th><th>connect p50 / p99 ms</th><th>ack p50 / p99 ms</th><th>delivery p50 / p99 ms</th><th>bytes per update</th><th>updates/s</th><th>requests</th><th>empty answers</th><th>head bytes</th><th>errors</th></tr>\n");
    for t in &report.transports {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.transport.name(),
            t.connected,
            t.clients,
            pair(t.connect_ms.as_ref()),
            pair(t.ack_rtt_ms.as_ref()),
            pair(t.delivery_ms.as_ref()),
            t.bytes_per_message
                .map_or_else(|| "-".into(), |b| format!("{b:.0}")),
            t.messages_per_sec,
            t.requests,
            t.empty_answers,
            t.head_bytes,
            t.errors
        );
    }
    out.push_str("</table>\n<h2>Charts</h2>\n");
    for chart in charts(report) {
        let _ = writeln!(out, "<figure>{}</figure>", chart.svg);
    }
    let _ = write!(
        out,
        "<h2>Full summary</h2>\n<pre>{}</pre>\n</body></html>\n",
        escape(&report.table())
    );
    out
}

impl Report {
    /// Writes the HTML page.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_html(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, page(self)).map_err(|source| Error::Report {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes each chart as `DIR/NAME.svg`, creating `dir`.
    ///
    /// # Errors
    /// The directory or a file cannot be written.
    pub fn write_svgs(&self, dir: &Path) -> Result<(), Error> {
        let failed = |source| Error::Report {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        for chart in charts(self) {
            std::fs::write(dir.join(format!("{}.svg", chart.name)), chart.svg).map_err(failed)?;
        }
        Ok(())
    }
}
