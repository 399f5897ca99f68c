//! A real `redis-server` for cluster tests: Debian's binary on a free
//! loopback port, without persistence, killed by its pid on drop.
//! `scripts/test.sh` installs it when missing; tests that need it skip
//! with a loud message only when it is not installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;

/// How long redis-server may take to say it is ready.
const READY: Duration = Duration::from_secs(20);

/// A running redis-server.
pub struct RedisProcess {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl RedisProcess {
    /// Starts one, or says loudly why not and returns `None` when
    /// `redis-server` is not installed.
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test must say so where cargo shows it"
    )]
    pub fn start() -> Option<RedisProcess> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "\n*** SKIPPED: redis-server is not installed; cluster tests need it \
                 (scripts/test.sh installs it: apt-get install redis-server) ***\n"
            );
            return None;
        }
        // A port freed just now can be taken by someone else before
        // redis binds it; then try another.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir =
                std::env::temp_dir().join(format!("skirmish-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let mut redis = RedisProcess {
                child: None,
                port,
                dir,
            };
            if redis.spawn() {
                return Some(redis);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// One redis-server for the tests of one binary running at the same
    /// time, each under its own key prefix; the last test to finish
    /// kills it. `None` (said loudly) when it is not installed.
    pub fn shared() -> Option<Arc<RedisProcess>> {
        static SHARED: Mutex<Weak<RedisProcess>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().expect("shared redis");
        if let Some(redis) = shared.upgrade() {
            return Some(redis);
        }
        let redis = Arc::new(RedisProcess::start()?);
        *shared = Arc::downgrade(&redis);
        Some(redis)
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts redis-server on `self.port` and waits until it answers PING;
    /// false when it exited first (port taken).
    fn spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let stdout = child.stdout.take().expect("piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        // Reads the log until the process ends, so it never blocks on a
        // full pipe; the first "Ready" line is the event we wait for.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let ready = ready_rx.recv_timeout(READY).is_ok();
        self.child = Some(child);
        if !ready {
            self.kill();
            return false;
        }
        ping(self.port);
        true
    }

    /// Kills it (SIGKILL to exactly its pid) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server restarts on port {}", self.port);
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One PING over RESP; panics unless PONG comes back.
fn ping(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("redis accepts");
    stream.set_read_timeout(Some(READY)).expect("timeout");
    stream.write_all(b"PING\r\n").expect("write");
    let mut answer = [0; 7];
    stream.read_exact(&mut answer).expect("read");
    assert_eq!(&answer, b"+PONG\r\n");
}
