//! How many finished rounds the record writer's store takes per second
//! from a fresh SQLite file under `--data-dir` (WAL, `synchronous = FULL`,
//! so every commit waits for the disk): batches of 1 (a quiet server, one
//! round per transaction) and of 64 (the writer draining a backlog), each
//! round 8 ships (4 identified humans returning round after round, 4 bots).
//!
//! With `SKIRMISH_BENCH_DATABASE_URL=postgres://...` the same batches are
//! also written to that PostgreSQL database (its tables are created; use a
//! scratch database).
//!
//! `cargo bench -p skirmish-server --bench storage`

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_server::Config;
use skirmish_server::metrics::Metrics;
use skirmish_server::storage::Storage;
use skirmish_server::storage::identity::{Identity, mint};
use skirmish_server::storage::record::{RoundRecord, StandingRecord};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Rounds per transaction measured.
const BATCHES: [usize; 2] = [1, 64];

fn round(n: u64, humans: &[Identity]) -> RoundRecord {
    let mut standings: Vec<StandingRecord> = humans
        .iter()
        .enumerate()
        .map(|(i, identity)| StandingRecord {
            player: Some(identity.clone()),
            name: format!("Player {i}"),
            bot: false,
            score: 4 - i as u32,
            kills: 4 - i as u32,
            deaths: i as u32,
        })
        .collect();
    standings.extend((1..=4).map(|i| StandingRecord {
        player: None,
        name: format!("Bot {i}"),
        bot: true,
        score: 0,
        kills: 0,
        deaths: 1,
    }));
    RoundRecord {
        room: "bench".into(),
        round: u32::try_from(n % u64::from(u32::MAX)).unwrap_or(0),
        started_ms: i64::try_from(n).unwrap_or(0) * 180_000,
        ended_ms: i64::try_from(n).unwrap_or(0) * 180_000 + 180_000,
        standings,
        replay: None,
    }
}

fn writes(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("skirmish-bench-storage-{}", std::process::id()));
    let mut config = Config::defaults();
    config.data_dir = dir.clone();
    bench_backend(c, "sqlite", &config);
    let _ = std::fs::remove_dir_all(dir);
    if let Ok(url) = std::env::var("SKIRMISH_BENCH_DATABASE_URL") {
        config.database_url = Some(url);
        bench_backend(c, "postgres", &config);
    }
}

fn bench_backend(c: &mut Criterion, backend: &str, config: &Config) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let storage = runtime
        .block_on(Storage::open(
            config,
            Arc::new(Metrics::new()),
            shutdown.clone(),
            &tracker,
        ))
        .expect("opens")
        .expect("a database");
    let store = storage.store().clone();
    let humans: Vec<Identity> = (0..4).map(|_| mint().0).collect();
    let mut next = 0_u64;
    let mut group = c.benchmark_group("storage_write_rounds");
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new(backend, batch), &batch, |b, &batch| {
            b.iter(|| {
                let rounds: Vec<RoundRecord> = (0..batch)
                    .map(|_| {
                        next += 1;
                        round(next, &humans)
                    })
                    .collect();
                runtime
                    .block_on(store.write_rounds(&rounds))
                    .expect("written");
            });
        });
    }
    group.finish();
    shutdown.cancel();
    tracker.close();
    runtime.block_on(tracker.wait());
}

criterion_group!(benches, writes);
criterion_main!(benches);
