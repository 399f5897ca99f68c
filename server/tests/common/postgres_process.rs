//! A real PostgreSQL server for storage tests: Debian's binaries
//! (`/usr/lib/postgresql/<version>/bin`), a cluster made by `initdb` in a
//! temporary directory, listening on a free loopback port, without fsync,
//! stopped by its pid on drop. Run as root (as CI is), it runs as the
//! `postgres` user (or `nobody`), since PostgreSQL refuses to run as root.
//! `scripts/test.sh` installs `postgresql` when missing; tests that need
//! it skip with a loud message only when it is not installed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long initdb and the server's start may take on a loaded machine.
const READY: Duration = Duration::from_secs(60);

/// A running (or stopped, restartable) PostgreSQL server.
pub struct PostgresProcess {
    child: Option<Child>,
    pub port: u16,
    /// The cluster's data directory (inside `dir`).
    data: PathBuf,
    dir: PathBuf,
    bin: PathBuf,
    /// `(uid, gid)` to run as; `None` when not root.
    user: Option<(u32, u32)>,
}

/// The newest installed version's `bin` directory.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The uid and gid of `name` from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

impl PostgresProcess {
    /// Starts one, or says loudly why not and returns `None` when
    /// PostgreSQL is not installed.
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test must say so where cargo shows it"
    )]
    pub fn start() -> Option<PostgresProcess> {
        let Some(bin) = bin_dir() else {
            eprintln!(
                "\n*** SKIPPED: PostgreSQL is not installed; the PostgreSQL storage tests need it \
                 (scripts/test.sh installs it: apt-get install postgresql) ***\n"
            );
            return None;
        };
        let user = if is_root() {
            Some(
                user_ids("postgres")
                    .or_else(|| user_ids("nobody"))
                    .expect("a postgres or nobody user to run PostgreSQL as"),
            )
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "skirmish-postgres-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let data = dir.join("data");
        let mut pg = PostgresProcess {
            child: None,
            port: 0,
            data,
            dir,
            bin,
            user,
        };
        pg.own(&pg.dir.clone());
        pg.initdb();
        // A port freed just now can be taken by someone else before
        // postgres binds it; then try another.
        for _ in 0..5 {
            pg.port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            if pg.spawn() {
                return Some(pg);
            }
        }
        panic!("postgres did not start on any of 5 free ports");
    }

    /// `postgres://skirmish@127.0.0.1:port/postgres` (trust auth, loopback).
    pub fn url(&self) -> String {
        format!("postgres://skirmish@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        // The test's own directory may be closed to the postgres user.
        command.current_dir(&self.dir);
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Hands `path` to the user PostgreSQL runs as.
    fn own(&self, path: &Path) {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown temp dir");
        }
    }

    fn initdb(&self) {
        let status = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args(["-U", "skirmish", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed: {status}");
    }

    /// Starts postgres on `self.port` and waits until it accepts
    /// connections; false when it exited first (port taken).
    fn spawn(&mut self) -> bool {
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("postgres starts");
        let stderr = child.stderr.take().expect("piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        // Reads the log until the process ends, so it never blocks on a
        // full pipe; the "ready" line is the event we wait for.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ready to accept connections") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let ready = ready_rx.recv_timeout(READY).is_ok();
        self.child = Some(child);
        if !ready {
            self.stop();
            return false;
        }
        true
    }

    /// Stops it at once (SIGQUIT to exactly its pid: the postmaster ends
    /// every backend and exits without a checkpoint, as a crash would) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            for _ in 0..200 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data: what it had committed
    /// is there.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        assert!(self.spawn(), "postgres restarts on port {}", self.port);
    }
}

impl Drop for PostgresProcess {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
