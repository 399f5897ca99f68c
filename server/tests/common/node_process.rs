//! The real `skirmish-server` binary as a child process: a cluster node, a
//! server that gets real signals, one under a wrapper (`prlimit`), or one
//! started after the test process. It listens on 127.0.0.1:0 and logs JSON;
//! the helper reads its address and node id from the log, and kills exactly
//! its own pid when dropped, so a failed test leaves nothing running.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TestServer;

/// How long a node may take to log its address.
const START: Duration = Duration::from_secs(30);

/// A running server process, SIGKILLed by its pid on drop.
pub struct NodeProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// `--node-id`, or the one the node chose.
    pub id: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl NodeProcess {
    /// The path of the server binary, for commands that wrap it.
    pub const PATH: &str = env!("CARGO_BIN_EXE_skirmish-server");

    /// Starts the binary with `args` (plus `--bind 127.0.0.1:0` and JSON
    /// logs) and waits for its `listening` line.
    pub async fn start(args: &[&str]) -> NodeProcess {
        let mut command = Command::new(Self::PATH);
        command.args(args);
        NodeProcess::start_command(command).await
    }

    /// Runs `command` (the binary, or a wrapper that execs it, with its
    /// arguments) with `--bind 127.0.0.1:0 --log-format json` appended, and
    /// waits for its `listening` line. A command that names no database
    /// (`--data-dir`, `--database-url`) runs with `--no-database`, so tests
    /// never share a SQLite file in the working directory.
    pub async fn start_command(mut command: Command) -> NodeProcess {
        let names_storage = command.get_args().any(|arg| {
            ["--data-dir", "--database-url", "--no-database"]
                .iter()
                .any(|flag| arg.to_str().is_some_and(|a| a.starts_with(flag)))
        });
        if !names_storage {
            command.arg("--no-database");
        }
        let mut child = command
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server binary starts");
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reader = std::thread::spawn({
            let lines = lines.clone();
            move || {
                let mut tx = Some(tx);
                let mut id = None;
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("\"node named\"") || line.contains("\"listening\"") {
                        let json: serde_json::Value =
                            serde_json::from_str(&line).expect("JSON log line");
                        let fields = &json["fields"];
                        if let Some(node) = fields["node"].as_str() {
                            id = Some(node.to_owned());
                        }
                        if let Some(addr) = fields["addr"].as_str()
                            && let Some(tx) = tx.take()
                        {
                            let _ = tx.send((addr.to_owned(), id.clone().unwrap_or_default()));
                        }
                    }
                    lines.lock().expect("log lines").push(line);
                }
            }
        });
        let started = tokio::time::timeout(START, rx).await;
        let mut node = NodeProcess {
            child: Some(child),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            id: String::new(),
            lines,
            reader: Some(reader),
        };
        // A failed start still drops `node`, which kills the process.
        let (addr, id) = started
            .expect("the server logged its address in time")
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", node.logs()));
        node.addr = addr.parse().expect("socket address");
        node.id = id;
        node
    }

    /// A handle the in-process helpers (Player, http_url...) accept.
    pub fn server(&self) -> TestServer {
        TestServer {
            server: None,
            addr: self.addr,
        }
    }

    /// `http://addr` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` (`TERM`, `KILL`, `STOP`, `CONT`) to exactly this pid.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }

    /// SIGTERM: a graceful shutdown.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself; returns its status and
    /// every log line it wrote.
    pub async fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("running");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        if let Some(reader) = self.reader.take() {
            let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        }
        (status, self.logs())
    }

    /// The log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
