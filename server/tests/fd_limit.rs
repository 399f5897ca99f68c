//! Out of file descriptors: the real binary under a low `RLIMIT_NOFILE`
//! (set with util-linux `prlimit` before it starts). It raises its soft
//! limit to the hard one, says once when that is too low, answers clients
//! it has no descriptor for with a prompt 503 instead of leaving them in the
//! kernel's backlog, logs one line per episode instead of one per failed
//! accept, and serves again as soon as a descriptor frees.

#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::WAIT;
use common::node_process::NodeProcess;
use skirmish_shared::http::ApiErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server binary run under `prlimit --nofile=SOFT:HARD`.
fn limited(soft: u32, hard: u32) -> Command {
    let mut command = Command::new("prlimit");
    command.args([
        &format!("--nofile={soft}:{hard}"),
        "--",
        NodeProcess::PATH,
        "--bots",
        "0",
        // Held connections idle for the whole test.
        "--header-timeout-secs",
        "120",
    ]);
    command
}

/// The soft and hard `Max open files` of process `pid`.
fn open_files_limit(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let mut numbers = line.split_whitespace().filter_map(|word| word.parse().ok());
    (numbers.next().expect("soft"), numbers.next().expect("hard"))
}

/// `GET /healthz` on a new keep-alive connection; the connection and the
/// head of the answer, which must come within [`WAIT`].
async fn healthz(addr: SocketAddr) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // A refusal may be written and closed before this arrives.
    let _ = tcp.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + WAIT;
    loop {
        let read = tokio::time::timeout_at(deadline.into(), tcp.read(&mut buf))
            .await
            .expect("every client is answered in time");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if text.ends_with("ok\n") || text.ends_with('}') {
            break;
        }
    }
    (tcp, String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn out_of_descriptors_clients_get_a_prompt_503_and_service_resumes() {
    const LIMIT: u32 = 64;
    let binary = NodeProcess::start_command(limited(LIMIT, LIMIT)).await;
    // Keep-alive connections, each holding a descriptor, until the server
    // has none left for the next one.
    let mut held = Vec::new();
    let refused = loop {
        assert!(held.len() < LIMIT as usize, "a refusal before {LIMIT}");
        let (tcp, answer) = healthz(binary.addr).await;
        if answer.starts_with("HTTP/1.1 200") {
            held.push(tcp);
            continue;
        }
        break answer;
    };
    assert!(held.len() > LIMIT as usize / 2, "{} served", held.len());
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 5"), "{refused}");
    let body = refused.split_once("\r\n\r\n").expect("body").1;
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(json["error"], "the server is out of file descriptors");
    assert_eq!(common::refusal(503, &json), ApiErrorCode::FdLimit);
    // While it lasts, every newcomer is answered at once, and the log does
    // not grow by a line per failed accept.
    for _ in 0..20 {
        let (_, answer) = healthz(binary.addr).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    }
    // One client leaves: its descriptor frees and the next one is served.
    drop(held.pop());
    let served = Instant::now();
    loop {
        let (tcp, answer) = healthz(binary.addr).await;
        if answer.starts_with("HTTP/1.1 200") {
            held.push(tcp);
            break;
        }
        assert!(
            served.elapsed() < WAIT,
            "served again once a descriptor freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    binary.terminate();
    let (exit, lines) = binary.wait().await;
    assert!(exit.success(), "{exit:?}");
    let warned: Vec<&String> = lines.iter().filter(|l| l.contains("LimitNOFILE")).collect();
    assert_eq!(warned.len(), 1, "one start-up warning: {warned:?}");
    assert!(warned[0].contains("\"WARN\""), "{}", warned[0]);
    let errors = lines
        .iter()
        .filter(|l| l.contains("Too many open files"))
        .count();
    assert!(
        errors <= 2,
        "{errors} lines name the accept error; one per episode:\n{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn the_soft_limit_is_raised_to_the_hard_limit_at_start() {
    let binary = NodeProcess::start_command(limited(64, 4096)).await;
    assert_eq!(open_files_limit(binary.pid()), (4096, 4096));
    binary.terminate();
    let (exit, lines) = binary.wait().await;
    assert!(exit.success(), "{exit:?}");
    // 4096 is still below the default --max-connections (10000).
    assert_eq!(
        lines.iter().filter(|l| l.contains("LimitNOFILE")).count(),
        1,
        "{lines:?}"
    );
}
