//! Every operation at once, under load, on the `operations` example as
//! real processes: while 16 keep-alive connections call `compute`, `pid`
//! and `heavy` (in worker processes) without pause, a control connection
//! does 100 hot reloads with a lock/unlock cycle every tenth, crashes a
//! worker, restarts the server in place and hands it over to a new
//! process, then reloads the successor. Every request sent is answered,
//! the count of answers equals the count sent, and the only error answers
//! are -32603 for worker calls that were in flight on the worker that
//! crashed.
//!
//! The client is the raw HTTP/1.1 client of `successor/`: a request is
//! resent only when the server closed its connection before any byte of
//! the answer, and that must never happen either.
//!
//! Run with `cargo test -p rpckit-examples --test operations -- --nocapture`.
#![cfg(unix)]

mod successor;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use successor::{next_listening, Conn, KillOnDrop, Outcome, WAIT};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

/// Connections of the load.
const CONNECTIONS: usize = 16;
/// Requests each connection has answered before the operations start.
const WARM_UP: u64 = 20;
/// Requests each connection sends at most.
const AT_MOST: u64 = 50_000;
/// Hot reloads in the old process.
const RELOADS: u64 = 100;
/// Bounds the whole test.
const DEADLINE: Duration = Duration::from_secs(240);

/// What the load counted.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    answered: AtomicU64,
    /// Requests sent again because the server closed the connection
    /// before answering them: must stay 0.
    resent: AtomicU64,
    /// -32603 answers to worker calls (in flight when a worker crashed).
    worker_failed: AtomicU64,
    reconnects: AtomicU64,
    /// Which requests were resent, during which operation.
    resends: std::sync::Mutex<Vec<String>>,
}

/// What the load shares with the control.
struct Shared {
    counts: Counts,
    /// Set once the hand-over is done: each connection stops after its
    /// first answer from the successor.
    stop: AtomicBool,
    successor: AtomicU32,
    /// The operation the control is doing, for the failure messages.
    doing: std::sync::Mutex<&'static str>,
}

impl Shared {
    fn doing(&self, what: &'static str) {
        *self.doing.lock().unwrap() = what;
    }
}

/// A keep-alive connection that reconnects after `Connection: close` and
/// counts a resend when the server closed it under a request.
struct Client {
    addr: SocketAddr,
    conn: Conn,
    /// Answers on this connection so far.
    answers: u64,
}

impl Client {
    async fn open(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: Conn::open(addr).await,
            answers: 0,
        }
    }

    async fn call(&mut self, shared: &Shared, request: &Value) -> Value {
        let counts = &shared.counts;
        let body = serde_json::to_vec(request).unwrap();
        if self.conn.closed_while_idle() {
            // The old server's linger ended while this one was idle.
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
            self.conn = Conn::open(self.addr).await;
            self.answers = 0;
        }
        counts.sent.fetch_add(1, Ordering::Relaxed);
        let (reply, closes) = loop {
            match self.conn.call(&body).await {
                Outcome::Answered(reply, closes) => break (reply, closes),
                Outcome::ClosedBeforeAnswer => {
                    counts.resent.fetch_add(1, Ordering::Relaxed);
                    let doing = *shared.doing.lock().unwrap();
                    counts.resends.lock().unwrap().push(format!(
                        "{} during {doing} after {} answers on this connection",
                        request["id"], self.answers
                    ));
                    self.conn = Conn::open(self.addr).await;
                }
            }
        };
        counts.answered.fetch_add(1, Ordering::Relaxed);
        self.answers += 1;
        if closes {
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
            self.conn = Conn::open(self.addr).await;
            self.answers = 0;
        }
        assert_eq!(reply["id"], request["id"], "{reply}");
        reply
    }
}

fn request(method: &str, params: Value, id: String) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id})
}

/// One connection's share of the load, until told to stop and answered
/// by the successor. Returns the pids that answered `pid`.
async fn load(
    addr: SocketAddr,
    index: usize,
    shared: Arc<Shared>,
    warmed: mpsc::UnboundedSender<()>,
) -> HashSet<u32> {
    let counts = &shared.counts;
    let mut client = Client::open(addr).await;
    let mut pids = HashSet::new();
    for i in 0..AT_MOST {
        let id = format!("{index}-{i}");
        let n = i + 1;
        if i % 10 == 9 {
            let reply = client
                .call(&shared, &request("heavy", json!([2]), id))
                .await;
            if let Some(error) = reply.get("error") {
                assert_eq!(error["code"], json!(-32603), "heavy: {reply}");
                counts.worker_failed.fetch_add(1, Ordering::Relaxed);
            } else {
                assert!(reply["result"].is_u64(), "a worker's pid: {reply}");
            }
        } else if i % 2 == 0 {
            let reply = client
                .call(&shared, &request("compute", json!([n]), id))
                .await;
            let value = reply["result"]
                .as_f64()
                .unwrap_or_else(|| panic!("{reply}"));
            let n = n as f64;
            assert!(
                value == n || value == 2.0 * n || value == 3.0 * n,
                "compute({n}) of no version: {reply}"
            );
        } else {
            let reply = client.call(&shared, &request("pid", json!([]), id)).await;
            let pid = reply["result"]
                .as_u64()
                .unwrap_or_else(|| panic!("{reply}")) as u32;
            pids.insert(pid);
            if shared.stop.load(Ordering::Relaxed)
                && pid == shared.successor.load(Ordering::Relaxed)
            {
                return pids;
            }
        }
        if i + 1 == WARM_UP {
            let _ = warmed.send(());
        }
    }
    panic!("connection {index}: never answered by the successor in {AT_MOST} requests");
}

/// The control connection: its calls count as sent too.
struct Control {
    client: Client,
    shared: Arc<Shared>,
    next_id: u64,
}

impl Control {
    async fn reply(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let request = request(method, params, format!("control-{}", self.next_id));
        let call = self.client.call(&self.shared, &request);
        tokio::time::timeout(WAIT, call)
            .await
            .unwrap_or_else(|_| panic!("{method} answered in time"))
    }

    async fn result(&mut self, method: &str) -> Value {
        self.result_with(method, json!([])).await
    }

    async fn result_with(&mut self, method: &str, params: Value) -> Value {
        let reply = self.reply(method, params).await;
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }
}

fn start() -> tokio::process::Child {
    Command::new(env!("CARGO_BIN_EXE_operations"))
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operations example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_operation_at_once_loses_no_request() {
    let started = Instant::now();
    let mut old = start();
    let mut lines = BufReader::new(old.stdout.take().expect("stdout")).lines();
    let first = next_listening("operations", &mut lines).await;
    assert!(!first.took_over, "{first:?}");
    let addr = first.addr;

    let shared = Arc::new(Shared {
        counts: Counts::default(),
        stop: AtomicBool::new(false),
        successor: AtomicU32::new(0),
        doing: std::sync::Mutex::new("warm-up"),
    });
    let (warmed_tx, mut warmed) = mpsc::unbounded_channel();
    let load: Vec<_> = (0..CONNECTIONS)
        .map(|index| tokio::spawn(load(addr, index, Arc::clone(&shared), warmed_tx.clone())))
        .collect();
    drop(warmed_tx);
    for _ in 0..CONNECTIONS {
        tokio::time::timeout(WAIT, warmed.recv())
            .await
            .expect("the load runs")
            .expect("every connection warms up");
    }
    let mut control = Control {
        client: Client::open(addr).await,
        shared: Arc::clone(&shared),
        next_id: 0,
    };

    shared.doing("reloads and locks");
    // 100 reloads through 3 versions, a lock/unlock cycle every tenth.
    for reload in 1..=RELOADS {
        let version = control.result("reload_api").await;
        assert_eq!(version, json!(reload % 3 + 1), "reload {reload}");
        if reload % 10 == 0 {
            assert_eq!(control.result("lock").await, json!(true), "was unlocked");
            // Let calls arrive and wait on the lock (pacing, not asserted).
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(control.result("unlock").await, json!(true), "was locked");
        }
    }

    shared.doing("the worker crash");
    // A worker crash fails its call alone; the pool is whole again.
    let crashed = control.reply("crash", json!([])).await;
    assert_eq!(crashed["error"]["code"], json!(-32603), "{crashed}");
    let message = crashed["error"]["message"].as_str().unwrap_or_default();
    let dead: u64 = message
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("the crashed worker's pid in {message:?}"));
    let replacing = Instant::now();
    loop {
        let workers = control.result("workers").await;
        let pids: Vec<u64> = serde_json::from_value(workers).expect("pids");
        if pids.len() == 2 && !pids.contains(&dead) {
            break;
        }
        assert!(
            replacing.elapsed() < WAIT,
            "worker {dead} replaced in time: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(control.result_with("heavy", json!([1])).await.is_u64());

    shared.doing("the restart");
    // A graceful restart in place.
    assert_eq!(control.result("restart").await, json!("restarting"));
    let restarting = Instant::now();
    while control.result("restarts").await != json!(1) {
        assert!(
            restarting.elapsed() < WAIT,
            "the restart is counted in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    shared.doing("the hand-over");
    // The hand-over to a new process.
    assert_eq!(control.result("handover").await, json!("handing over"));
    let second = next_listening("operations", &mut lines).await;
    let mut successor = KillOnDrop(Some(second.pid));
    assert!(second.took_over, "{second:?}");
    assert_eq!(second.addr, addr);
    assert_ne!(second.pid, first.pid);
    let status = tokio::time::timeout(WAIT, old.wait())
        .await
        .expect("the old process exits")
        .expect("its status");
    assert!(status.success(), "the old process exited with {status}");
    shared.successor.store(second.pid, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);

    shared.doing("after the hand-over");
    // The successor serves its own first version, and reloads too.
    assert_eq!(control.result("pid").await, json!(second.pid));
    assert_eq!(control.result("reload_api").await, json!(2));

    let mut pids = HashSet::new();
    for task in load {
        let seen = tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the load ends in time")
            .expect("a load task failed");
        pids.extend(seen);
    }
    let counts = &shared.counts;
    let sent = counts.sent.load(Ordering::Relaxed);
    let answered = counts.answered.load(Ordering::Relaxed);
    let resent = counts.resent.load(Ordering::Relaxed);
    let worker_failed = counts.worker_failed.load(Ordering::Relaxed);
    println!(
        "operations: {CONNECTIONS} connections + control sent {sent} requests, {answered} \
         answered; {RELOADS} reloads, {} lock cycles, 1 worker crash ({worker_failed} load \
         calls failed with it), 1 restart, 1 hand-over (pid {} -> {}); {resent} resent, {} \
         reconnects (after Connection: close, or idle past the linger); {:?}",
        RELOADS / 10,
        first.pid,
        second.pid,
        counts.reconnects.load(Ordering::Relaxed),
        started.elapsed(),
    );
    assert_eq!(answered, sent, "every request answered");
    assert_eq!(
        resent,
        0,
        "requests sent on a connection the server closed: {:?}",
        counts.resends.lock().unwrap()
    );
    // Each connection has one call in flight at most: only those on the
    // crashed worker at that moment can have failed with it.
    assert!(worker_failed <= CONNECTIONS as u64, "{worker_failed}");
    assert_eq!(pids, HashSet::from([first.pid, second.pid]));

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &second.pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    successor.0 = None;
    assert!(started.elapsed() < DEADLINE);
}
