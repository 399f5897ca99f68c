//! One run: start the target, ramp the clients up (all kinds interleaved,
//! `--ramp` a second), hold until `--duration` has passed since the first
//! start, stop every client, read the server's tick histogram, stop the
//! target and build the [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clients::{ClientCtx, ClientSpec, run_client};
use crate::config::Plan;
use crate::progress::Progress;
use crate::report::{Report, ServerProcess, ServerTicks};
use crate::stats::{Recorder, Transport};
use crate::target::Target;
use crate::timeline::Sampler;
use crate::{Error, prom};
use skirmish_server::metrics::names::TICK_DURATION_SECONDS;

/// How long stopped clients may take to leave before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs `plan` to the end, or until `interrupt` fires (ctrl-c), and reports.
///
/// # Errors
/// Only when the target cannot be started or stopped; client failures are
/// counted in the report.
pub async fn run(plan: &Plan, interrupt: CancellationToken) -> Result<Report, Error> {
    let target = Target::start(plan).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| Error::Spawn(format!("http client: {e}")))?;

    let stats = Arc::new(Recorder::default());
    let links = match (&target.tls, plan.tls) {
        (Some((addr, cert)), Some(tls)) => Some(Arc::new(crate::h2::Links::new(
            *addr,
            cert.clone(),
            tls,
            stats.clone(),
        )?)),
        _ => None,
    };
    let stop = CancellationToken::new();
    let ctx = Arc::new(ClientCtx {
        stats: stats.clone(),
        stop: stop.clone(),
        base: target.base.clone(),
        gzip: plan.gzip,
        view: plan.view,
        matchmake: plan.matchmake,
        tls: links.clone(),
    });
    let progress = Progress::start(stats.clone(), plan.duration, plan.progress);
    let started = Instant::now();
    let sampler = plan.timeline.then(|| {
        Sampler::start(
            stats.clone(),
            started,
            target.base.as_str(),
            target.is_spawned(),
        )
    });
    let deadline = tokio::time::Instant::from_std(started + plan.duration);
    // The server's figures count from the end of the warmup.
    let before = tokio::spawn({
        let (http, base) = (http.clone(), target.base.to_string());
        let at = tokio::time::Instant::from_std(started + plan.warmup);
        async move {
            tokio::time::sleep_until(at).await;
            let cpu = crate::cpu::sample();
            (scrape(&http, &base).await, Instant::now(), cpu)
        }
    });
    let mut clients = JoinSet::new();
    clients.spawn(probe_lag(stats.clone(), stop.clone()));
    let launch = async {
        for (k, spec) in schedule(plan).into_iter().enumerate() {
            let at = started + Duration::from_secs_f64(k as f64 / plan.ramp);
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            clients.spawn(run_client(ctx.clone(), spec));
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = launch => {}
        () = tokio::time::sleep_until(deadline) => {}
        () = interrupt.cancelled() => {}
    }
    stop.cancel();
    let elapsed = started.elapsed();
    if tokio::time::timeout(STOP_GRACE, async {
        while clients.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        clients.abort_all();
        while clients.join_next().await.is_some() {}
    }
    progress.finish();
    let timeline = match sampler {
        Some(sampler) => sampler.finish().await,
        None => Vec::new(),
    };
    let (metrics_before, scraped_before, cpu_before) = before
        .await
        .unwrap_or_else(|_| (None, Instant::now(), None));
    let cpu = crate::cpu::sample()
        .zip(cpu_before)
        .map(|(after, before)| after.since(&before, target.is_spawned()));

    let metrics_after = scrape(&http, target.base.as_str()).await;
    let window = scraped_before.elapsed();
    let ticks = server_ticks(metrics_before.as_deref(), metrics_after.as_deref());
    let spawned = target.is_spawned();
    // A spawned server shares the bots' process: its process figures
    // would be the bots' too.
    let process = (!spawned)
        .then(|| {
            ServerProcess::from_scrapes(
                metrics_before.as_deref()?,
                metrics_after.as_deref()?,
                window,
            )
        })
        .flatten();
    let url = target.base.to_string();
    target.stop().await?;
    let mut report = Report::build(plan, &url, spawned, &stats, elapsed, ticks, cpu);
    report.server_process = process;
    report.timeline = timeline;
    report.tls = tls_use(plan, links.as_deref());
    Ok(report)
}

/// What the clients' TLS connections carried, when there were any.
fn tls_use(plan: &Plan, links: Option<&crate::h2::Links>) -> Option<crate::report::TlsUse> {
    let (tls, links) = (plan.tls?, links?);
    let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    Some(crate::report::TlsUse {
        http_version: match tls.version {
            crate::config::HttpVersion::Http1 => "1.1",
            crate::config::HttpVersion::Http2 => "2",
        }
        .to_owned(),
        clients_per_connection: tls.clients_per_connection,
        connections: load(&links.opened),
        sent_bytes: load(&links.sent),
    })
}

/// How often the lag probe's timer is set.
const LAG_PROBE_PERIOD: Duration = Duration::from_millis(10);

/// Sleeps [`LAG_PROBE_PERIOD`] again and again and records how late each
/// wake-up came: the bots' own scheduling delay, which every latency they
/// measure includes.
async fn probe_lag(stats: Arc<Recorder>, stop: CancellationToken) {
    loop {
        let asked = Instant::now();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(LAG_PROBE_PERIOD) => {}
        }
        stats.record_lag(asked.elapsed().saturating_sub(LAG_PROBE_PERIOD));
    }
}

/// Every client in start order: each kind spread evenly over the ramp, so
/// watchers see players join and the mix holds at every moment.
#[must_use]
pub fn schedule(plan: &Plan) -> Vec<ClientSpec> {
    let kinds = [
        (Transport::WsPlayer, plan.players),
        (Transport::SseSpectator, plan.spectators),
        (Transport::PollWatcher, plan.pollers),
        (Transport::PollPlayer, plan.legacy),
    ];
    // Each room's first WebSocket player opens it (its first long-poll
    // player when there are none).
    let opener = if plan.players > 0 {
        Transport::WsPlayer
    } else {
        Transport::PollPlayer
    };
    let mut all: Vec<(f64, usize, ClientSpec)> = Vec::with_capacity(plan.total_clients() as usize);
    for (order, (kind, count)) in kinds.into_iter().enumerate() {
        for index in 0..count {
            let seed = match kind {
                Transport::PollPlayer => u64::from(plan.players) + u64::from(index),
                _ => u64::from(index),
            };
            let position = (f64::from(index) + 0.5) / f64::from(count);
            all.push((
                position,
                order,
                ClientSpec {
                    kind,
                    index,
                    seed,
                    room: plan.room_of(index).to_owned(),
                    opens_room: kind == opener && (index as usize) < plan.rooms.len(),
                },
            ));
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().map(|(_, _, spec)| spec).collect()
}

/// `GET /metrics` as text; `None` when the server has no such endpoint.
async fn scrape(http: &reqwest::Client, base: &str) -> Option<String> {
    let response = http
        .get(format!("{base}metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// Tick durations per room during the run: the after-scrape minus the
/// before-scrape. `None` when the server exposes no tick histogram.
fn server_ticks(before: Option<&str>, after: Option<&str>) -> Option<Vec<ServerTicks>> {
    let after = prom::histograms(after?, TICK_DURATION_SECONDS, "room");
    if after.is_empty() {
        return None;
    }
    let before = before
        .map(|text| prom::histograms(text, TICK_DURATION_SECONDS, "room"))
        .unwrap_or_default();
    Some(
        after
            .into_iter()
            .map(|(room, series)| {
                let run = before
                    .get(&room)
                    .map_or_else(|| series.clone(), |b| series.since(b));
                ServerTicks::from_series(room, &run)
            })
            .filter(|t| t.ticks > 0)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use clap::Parser;

    #[test]
    fn kinds_interleave_and_seeds_follow_the_policy_rule() {
        let plan = Options::try_parse_from([
            "bots",
            "--players",
            "4",
            "--spectators",
            "2",
            "--legacy",
            "2",
        ])
        .expect("flags")
        .plan()
        .expect("plan");
        let order: Vec<(Transport, u32, u64)> = schedule(&plan)
            .into_iter()
            .map(|s| (s.kind, s.index, s.seed))
            .collect();
        assert_eq!(
            order,
            vec![
                (Transport::WsPlayer, 0, 0),
                (Transport::SseSpectator, 0, 0),
                (Transport::PollPlayer, 0, 4),
                (Transport::WsPlayer, 1, 1),
                (Transport::WsPlayer, 2, 2),
                (Transport::SseSpectator, 1, 1),
                (Transport::PollPlayer, 1, 5),
                (Transport::WsPlayer, 3, 3),
            ]
        );
    }
}
