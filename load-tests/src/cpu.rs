//! How much CPU the run used, split between the spawned server's threads
//! and everything else in the process (the bots), read from Linux's
//! `/proc/self`. With `--spawn` both share the machine's cores, so this
//! says how much of it the server actually got. Elsewhere (no `/proc`)
//! it is simply absent.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use skirmish_server::metrics::cpu_ticks;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on every
/// mainstream Linux).
const USER_HZ: f64 = 100.0;

/// The name prefix of the spawned server's runtime threads (the kernel
/// keeps 15 bytes of a thread name).
pub const SERVER_THREAD: &str = "skirmish-server";

/// CPU times at one moment.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    at: Instant,
    /// Whole process, exited threads included.
    process: u64,
    /// Live threads named [`SERVER_THREAD`].
    server: u64,
    /// Busy time of the whole machine, every process.
    machine: Option<u64>,
}

/// Average cores busy between two samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// The spawned server's threads; `None` when the server runs in
    /// another process (it is then among the other processes).
    pub server_cores: Option<f64>,
    /// Everything else in the process: the bots.
    pub bots_cores: f64,
    /// The whole machine, every process: what is above `server_cores +
    /// bots_cores` was taken by something else running at the same time.
    pub machine_busy_cores: Option<f64>,
    /// Cores the machine has.
    pub machine_cores: usize,
}

/// Reads the process's CPU times; `None` without `/proc`.
#[must_use]
pub fn sample() -> Option<CpuSample> {
    let process = cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut server = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(SERVER_THREAD)
            && let Some(t) = std::fs::read_to_string(path.join("stat"))
                .ok()
                .as_deref()
                .and_then(cpu_ticks)
        {
            server += t;
        }
    }
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .as_deref()
        .and_then(machine_busy);
    Some(CpuSample {
        at: Instant::now(),
        process,
        server,
        machine,
    })
}

impl CpuSample {
    /// The use between `earlier` and `self`; `spawned` when the server ran
    /// in this process.
    #[must_use]
    pub fn since(&self, earlier: &CpuSample, spawned: bool) -> CpuUse {
        let secs = self.at.duration_since(earlier.at).as_secs_f64().max(1e-3);
        let cores = |t: u64| ((t as f64 / USER_HZ / secs) * 100.0).round() / 100.0;
        let server = self.server.saturating_sub(earlier.server);
        let process = self.process.saturating_sub(earlier.process);
        CpuUse {
            server_cores: spawned.then(|| cores(server)),
            bots_cores: cores(process.saturating_sub(server)),
            machine_busy_cores: self
                .machine
                .zip(earlier.machine)
                .map(|(now, then)| cores(now.saturating_sub(then))),
            machine_cores: machine_cores(),
        }
    }
}

/// Busy ticks of all CPUs from `/proc/stat`'s `cpu` line: user, nice,
/// system, irq, softirq and steal (idle and iowait are not busy).
/// Cores of the machine, not only those this process may run on (under
/// `taskset` the bots see one, but the machine's busy figure covers all).
fn machine_cores() -> usize {
    let counted = std::fs::read_to_string("/proc/stat").ok().map(|stat| {
        stat.lines()
            .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
            .count()
    });
    counted
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

fn machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Some([0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_user_plus_system_time() {
        let line = "4242 (skirmish (x) y) S 1 2 3 4 5 6 7 8 9 10 120 35 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(line), Some(155));
        assert_eq!(cpu_ticks("garbage"), None);
        let stat = "cpu  10 1 5 900 7 2 3 4 0 0\ncpu0 5 0 2 450 3 1 1 2 0 0\n";
        assert_eq!(machine_busy(stat), Some(25));
    }
}
