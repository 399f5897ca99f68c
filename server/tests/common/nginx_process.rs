//! Debian's `nginx` in front of test nodes, running the shipped
//! `deploy/nginx/skirmish.conf` as it is, on a free loopback port: the
//! helper writes only what an operator writes for their own cluster (the
//! nodes' addresses in `skirmish-nodes.conf` form, the listen line) and a
//! main config keeping the pid file, logs and temp files in a temp dir.
//! nginx runs in the foreground as one process (`daemon off`,
//! `master_process off`), so killing its pid on drop leaves nothing
//! behind. `scripts/test.sh` installs nginx when missing; tests skip with
//! a loud message only when it is not installed.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long nginx may take to accept connections.
const READY: Duration = Duration::from_secs(20);

/// The shipped config, as the operator includes it.
const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx/skirmish.conf");

/// A running nginx.
pub struct NginxProcess {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl NginxProcess {
    /// The nginx binary: on `PATH`, or Debian's `/usr/sbin/nginx` (not on
    /// a non-root user's `PATH`).
    pub fn binary() -> Option<PathBuf> {
        let on_path = Command::new("nginx")
            .arg("-v")
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if on_path {
            return Some(PathBuf::from("nginx"));
        }
        let debian = Path::new("/usr/sbin/nginx");
        debian.exists().then(|| debian.to_path_buf())
    }

    /// Says loudly why nginx tests are skipped, when nginx is missing.
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test must say so where cargo shows it"
    )]
    pub fn available() -> bool {
        let found = NginxProcess::binary().is_some();
        if !found {
            eprintln!(
                "\n*** SKIPPED: nginx is not installed; load-balancer tests need it \
                 (scripts/test.sh installs it: apt-get install nginx) ***\n"
            );
        }
        found
    }

    /// A loopback port free now, for nginx to listen on: chosen before the
    /// nodes start, since their `--public-url` names it.
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    /// `http://127.0.0.1:port/node/<id>`: node `id`'s `--public-url`.
    pub fn node_url_at(port: u16, id: &str) -> String {
        format!("http://127.0.0.1:{port}/node/{id}")
    }

    /// Starts nginx on `port` in front of `nodes` (id and address), or
    /// `None` when nginx is not installed.
    pub fn start(port: u16, nodes: &[(&str, SocketAddr)]) -> Option<NginxProcess> {
        if !NginxProcess::available() {
            return None;
        }
        let dir = NginxProcess::dir(port);
        write_config(&dir, port, nodes);
        Some(NginxProcess::run(dir, port))
    }

    /// Starts nginx on a free port in front of one `node` with nothing
    /// but `proxy_pass` and `directives` (say `proxy_read_timeout 3s;`):
    /// Debian's defaults for everything else (`proxy_read_timeout 60s`,
    /// HTTP/1.0 to the node), as a proxy nobody tuned for streams is.
    /// `None` when nginx is not installed.
    pub fn start_untuned(node: SocketAddr, directives: &str) -> Option<NginxProcess> {
        if !NginxProcess::available() {
            return None;
        }
        let port = NginxProcess::free_port();
        let dir = NginxProcess::dir(port);
        let site = format!(
            "server {{\n    listen 127.0.0.1:{port};\n    location / {{\n        \
             proxy_pass http://{node};\n        {directives}\n    }}\n}}\n"
        );
        std::fs::write(dir.join("skirmish-nodes.conf"), "").expect("nodes config");
        std::fs::write(dir.join("skirmish.conf"), site).expect("site config");
        write_main(&dir);
        Some(NginxProcess::run(dir, port))
    }

    /// A fresh temp dir for the nginx on `port`.
    fn dir(port: u16) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("skirmish-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// Runs nginx on the config in `dir` and waits until it listens.
    fn run(dir: PathBuf, port: u16) -> NginxProcess {
        let binary = NginxProcess::binary().expect("checked by the caller");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        let mut nginx = NginxProcess {
            child: Some(child),
            port,
            dir,
        };
        nginx.wait_ready();
        nginx
    }

    /// `http://127.0.0.1:port` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Node `id`'s base URL through this nginx.
    pub fn node_url(&self, id: &str) -> String {
        NginxProcess::node_url_at(self.port, id)
    }

    /// Waits until the port accepts; panics with nginx's own words if it
    /// exited first (a config error, the port taken meanwhile).
    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            let child = self.child.as_mut().expect("running");
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}) before listening: {stderr}\n{log}");
            }
            assert!(
                started.elapsed() < READY,
                "nginx did not listen in {READY:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's error log so far (proxy errors land here).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for NginxProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `dir/nginx.conf` (the main file), `dir/skirmish-nodes.conf` (the
/// nodes, in the shipped example's form) and `dir/skirmish.conf` (the
/// shipped file with the listen line for `port`).
fn write_config(dir: &Path, port: u16, nodes: &[(&str, SocketAddr)]) {
    let mut upstreams = String::from("upstream skirmish {\n");
    for (_, addr) in nodes {
        upstreams.push_str(&format!(
            "    server {addr} max_fails=1 fail_timeout=10s;\n"
        ));
    }
    upstreams.push_str("    keepalive 64;\n}\n");
    let mut map = String::from("map $skirmish_node $skirmish_node_upstream {\n    default \"\";\n");
    for (id, addr) in nodes {
        upstreams.push_str(&format!(
            "upstream skirmish_node_{id} {{ server {addr}; keepalive 16; }}\n"
        ));
        map.push_str(&format!("    {id} skirmish_node_{id};\n"));
    }
    map.push_str("}\n");
    std::fs::write(dir.join("skirmish-nodes.conf"), upstreams + &map).expect("nodes config");

    let shipped = std::fs::read_to_string(SHIPPED).expect("deploy/nginx/skirmish.conf");
    assert_eq!(
        shipped.matches("    listen 80;\n").count(),
        1,
        "one listen line"
    );
    // Every test client is 127.0.0.1, so the per-client edge limits would
    // count a whole test as one visitor (the nodes' per-address limits are
    // raised for the same reason).
    let config = shipped
        .replace(
            "    listen 80;\n",
            &format!("    listen 127.0.0.1:{port};\n"),
        )
        .replace(
            "limit_conn skirmish_conn 512;",
            "limit_conn skirmish_conn 4096;",
        )
        .replace("rate=10r/s", "rate=1000r/s");
    std::fs::write(dir.join("skirmish.conf"), config).expect("skirmish config");
    write_main(dir);
}

/// Writes `dir/nginx.conf`: one foreground process, everything in `dir`,
/// including `dir/skirmish-nodes.conf` and `dir/skirmish.conf`.
fn write_main(dir: &Path) {
    let d = dir.display();
    let main = format!(
        "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         include {d}/skirmish-nodes.conf;\n    include {d}/skirmish.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("main config");
}
