//! Zero-downtime restart of the `handover` example, as two real
//! processes: under a steady load of 8 keep-alive connections, `handover`
//! makes the server start its successor with the listening socket; the
//! answering pid changes, the old process exits 0, and every request sent
//! is answered with a result.
//!
//! The client is a raw HTTP/1.1 client on a `TcpStream`, so that it sees
//! exactly what happened to each request. It retries one kind of failure
//! only: a connection the server closed before sending any byte of the
//! response — the request never reached a handler (the server answers
//! what it has read), so sending it again is safe. Those are counted and
//! printed, and must be none: the old process lingers
//! (`ServerHandle::shutdown_lingering`), so no connection is closed under
//! a client. A refused connection, a broken response or an error answer
//! fails the test too.
//!
//! Run with `cargo test -p rpckit-examples --test handover -- --nocapture`.
#![cfg(unix)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

/// Connections of the load.
const CONNECTIONS: usize = 8;
/// Requests each connection sends before the hand-over is asked for.
const BEFORE: u64 = 50;
/// Requests each connection sends at least.
const AT_LEAST: u64 = 150;
/// Requests each connection sends at most: it stops earlier once it has
/// been answered by the successor and sent `AT_LEAST`.
const AT_MOST: u64 = 20_000;
/// Bounds the whole test.
const DEADLINE: Duration = Duration::from_secs(120);
/// Bounds every single wait.
const WAIT: Duration = Duration::from_secs(30);

/// One server process's line: `handover listening on http://ADDR/api (pid
/// N, bound|took over)`.
#[derive(Debug)]
struct Listening {
    addr: SocketAddr,
    pid: u32,
    took_over: bool,
}

async fn next_listening(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>) -> Listening {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a listening line in time")
        .expect("stdout")
        .expect("a line before stdout closes");
    let rest = line
        .strip_prefix("handover listening on http://")
        .unwrap_or_else(|| panic!("not a listening line: {line}"));
    let (addr, rest) = rest.split_once("/api (pid ").expect("the pid");
    let (pid, how) = rest.split_once(", ").expect("how");
    Listening {
        addr: addr.parse().expect("an address"),
        pid: pid.parse().expect("a pid"),
        took_over: how == "took over)",
    }
}

/// Kills the successor (not our child: the old process started it) if
/// the test ends early.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// What became of one request.
enum Outcome {
    /// A whole response: its JSON-RPC reply, and whether the server closes
    /// the connection after it.
    Answered(Value, bool),
    /// The server closed the connection (end of stream, reset, broken
    /// pipe) before any byte of a response: safe to send again.
    ClosedBeforeAnswer,
}

/// A keep-alive HTTP/1.1 connection.
struct Conn {
    stream: TcpStream,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        // A refused connection is exactly what must never happen.
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .unwrap_or_else(|err| panic!("connection to {addr} refused or failed: {err}"));
        stream.set_nodelay(true).unwrap();
        Conn { stream }
    }

    async fn call(&mut self, body: &[u8]) -> Outcome {
        let mut request = format!(
            "POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        if let Err(err) = self.stream.write_all(&request).await {
            assert!(closed_by_peer(&err), "write: {err}");
            return Outcome::ClosedBeforeAnswer;
        }
        let mut received = Vec::new();
        let mut buffer = [0u8; 8192];
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                    assert!(head.starts_with("http/1.1 200 "), "{head}");
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .map(|value| value.trim().parse().expect("a length"))
                        .expect("a content-length");
                    if received.len() >= end + 4 + length {
                        assert_eq!(received.len(), end + 4 + length, "nothing pipelined");
                        let reply = serde_json::from_slice(&received[end + 4..]).expect("JSON");
                        let closes = head.lines().any(|line| line == "connection: close");
                        return Outcome::Answered(reply, closes);
                    }
                }
                match self.stream.read(&mut buffer).await {
                    Ok(0) if received.is_empty() => return Outcome::ClosedBeforeAnswer,
                    Err(err) if received.is_empty() && closed_by_peer(&err) => {
                        return Outcome::ClosedBeforeAnswer
                    }
                    Ok(0) => panic!("closed mid-response: {received:?}"),
                    Err(err) => panic!("read: {err} mid-response: {received:?}"),
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await
        .expect("a response in time")
    }
}

fn closed_by_peer(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof
    )
}

/// What the load counted.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    answered: AtomicU64,
    retried: AtomicU64,
    by_old: AtomicU64,
    by_new: AtomicU64,
    reconnects: AtomicU64,
}

/// One connection's share of the load: `pid` calls, every tenth a
/// `sleep` of 5 ms (so that calls are in flight at the switch). Reports
/// on `warmed` once `BEFORE` are answered; stops once answered by another
/// pid than `old` and past `AT_LEAST`.
async fn load(
    addr: SocketAddr,
    conn_index: usize,
    old: u32,
    counts: Arc<Counts>,
    warmed: mpsc::UnboundedSender<()>,
) -> HashSet<u32> {
    let mut pids = HashSet::new();
    let mut conn = Conn::open(addr).await;
    for i in 0..AT_MOST {
        let id = format!("{conn_index}-{i}");
        let (body, sleeps) = if i % 10 == 9 {
            (
                json!({"jsonrpc": "2.0", "method": "sleep", "params": [5], "id": id}),
                true,
            )
        } else {
            (json!({"jsonrpc": "2.0", "method": "pid", "id": id}), false)
        };
        let body = serde_json::to_vec(&body).unwrap();
        counts.sent.fetch_add(1, Ordering::Relaxed);
        let (reply, closes) = loop {
            match conn.call(&body).await {
                Outcome::Answered(reply, closes) => break (reply, closes),
                Outcome::ClosedBeforeAnswer => {
                    counts.retried.fetch_add(1, Ordering::Relaxed);
                    conn = Conn::open(addr).await;
                }
            }
        };
        assert_eq!(reply["id"], json!(id), "{reply}");
        assert!(reply.get("error").is_none(), "an error answer: {reply}");
        let pid = reply["result"]
            .as_u64()
            .unwrap_or_else(|| panic!("a pid (sleep: {sleeps}): {reply}")) as u32;
        counts.answered.fetch_add(1, Ordering::Relaxed);
        if pid == old {
            counts.by_old.fetch_add(1, Ordering::Relaxed);
        } else {
            counts.by_new.fetch_add(1, Ordering::Relaxed);
        }
        pids.insert(pid);
        if i + 1 == BEFORE {
            let _ = warmed.send(());
        }
        if closes {
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
            conn = Conn::open(addr).await;
        }
        if i + 1 >= AT_LEAST && pids.iter().any(|&p| p != old) {
            return pids;
        }
    }
    panic!("connection {conn_index}: never answered by the successor in {AT_MOST} requests");
}

async fn call_once(addr: SocketAddr, method: &str) -> Value {
    let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": method, "id": 1})).unwrap();
    match Conn::open(addr).await.call(&body).await {
        Outcome::Answered(reply, _) => reply["result"].clone(),
        Outcome::ClosedBeforeAnswer => panic!("{method}: closed without an answer"),
    }
}

fn start() -> Child {
    Command::new(env!("CARGO_BIN_EXE_handover"))
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the handover example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_a_hand_over_changes_the_pid_and_loses_no_request() {
    let started = Instant::now();
    let mut old = start();
    let mut lines = BufReader::new(old.stdout.take().expect("stdout")).lines();
    let first = next_listening(&mut lines).await;
    assert!(!first.took_over, "the first process binds: {first:?}");
    assert_eq!(Some(first.pid), old.id());
    let addr = first.addr;

    let counts = Arc::new(Counts::default());
    let (warmed_tx, mut warmed) = mpsc::unbounded_channel();
    let load: Vec<_> = (0..CONNECTIONS)
        .map(|index| {
            tokio::spawn(load(
                addr,
                index,
                first.pid,
                Arc::clone(&counts),
                warmed_tx.clone(),
            ))
        })
        .collect();
    drop(warmed_tx);
    for _ in 0..CONNECTIONS {
        tokio::time::timeout(WAIT, warmed.recv())
            .await
            .expect("the load runs")
            .expect("every connection warms up");
    }

    // The hand-over, while the load goes on.
    assert_eq!(call_once(addr, "handover").await, json!("handing over"));
    let second = next_listening(&mut lines).await;
    let mut successor = KillOnDrop(Some(second.pid));
    assert!(
        second.took_over,
        "the successor takes the socket over: {second:?}"
    );
    assert_eq!(second.addr, addr, "the same port");
    assert_ne!(second.pid, first.pid);
    let status = tokio::time::timeout(WAIT, old.wait())
        .await
        .expect("the old process exits")
        .expect("its status");
    assert!(status.success(), "the old process exited with {status}");

    let mut pids = HashSet::new();
    for task in load {
        let seen = tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the load ends in time")
            .expect("a load task failed");
        pids.extend(seen);
    }
    let sent = counts.sent.load(Ordering::Relaxed);
    let answered = counts.answered.load(Ordering::Relaxed);
    let retried = counts.retried.load(Ordering::Relaxed);
    println!(
        "handover: {CONNECTIONS} connections sent {sent} requests, {answered} answered \
         ({} by pid {}, {} by pid {}); {retried} resent after the server closed a \
         connection before any response byte; {} reconnects after Connection: close; {:?}",
        counts.by_old.load(Ordering::Relaxed),
        first.pid,
        counts.by_new.load(Ordering::Relaxed),
        second.pid,
        counts.reconnects.load(Ordering::Relaxed),
        started.elapsed(),
    );
    assert_eq!(answered, sent, "every request answered with a result");
    // The old process lingers: each connection's next request is answered
    // with `Connection: close` instead of the connection being closed
    // under it. (With a plain shutdown, 3 to 8 of the 8 connections had a
    // request to resend in every run.)
    assert_eq!(
        retried, 0,
        "requests sent on a connection the server closed"
    );
    assert_eq!(
        pids,
        HashSet::from([first.pid, second.pid]),
        "answered by the two processes and no other"
    );
    assert!(counts.by_old.load(Ordering::Relaxed) >= BEFORE * CONNECTIONS as u64);
    assert!(counts.by_new.load(Ordering::Relaxed) >= CONNECTIONS as u64);
    // The successor is the server now, on the same port.
    assert_eq!(call_once(addr, "pid").await, json!(second.pid));

    // It stops on SIGTERM like any example; then the port is closed.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &second.pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let stopping = Instant::now();
    while TcpStream::connect(addr).await.is_ok() {
        assert!(stopping.elapsed() < WAIT, "the successor still listens");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    successor.0 = None;
    assert!(started.elapsed() < DEADLINE);
}
