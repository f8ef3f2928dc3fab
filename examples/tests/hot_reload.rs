//! The `hot_reload` example as a process: 16 keep-alive connections call
//! `compute` while another calls `reload_api` 100 times. Every call sent is
//! answered with a result of one of the three versions, and the count of
//! answers equals the count sent.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;

use serde_json::{json, Value};
use support::{within, Client, Wire};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Barrier;

const CALLERS: usize = 16;
const CALLS: usize = 100;
const RELOADS: u64 = 100;

/// Starts the example on a free port; the child and where it listens.
async fn start() -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hot_reload"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start hot_reload");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    within(
        "the listening line",
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("read stdout");
    let addr = line
        .trim()
        .strip_prefix("hot_reload listening on http://")
        .and_then(|rest| rest.strip_suffix("/api"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .expect("an address");
    (child, addr)
}

async fn rpc(client: &mut Client, method: &str, params: Value, id: u64) -> Value {
    let request = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id});
    let body = Wire::Json.encode(&request);
    let response = client.post("/api", Some("application/json"), &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let reply = Wire::Json.decode(&response.body);
    assert_eq!(reply["id"], id, "{reply}");
    reply
}

#[tokio::test]
async fn under_load_100_reloads_fail_no_call() {
    let _guard = support::shared().await;
    let (_child, addr) = start().await;
    // The reloads start once every caller is connected and answered once.
    let all_calling = Arc::new(Barrier::new(CALLERS + 1));

    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let all_calling = all_calling.clone();
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                let mut answered = 0;
                let mut versions = HashSet::new();
                for i in 0..CALLS {
                    if i == 1 {
                        all_calling.wait().await;
                    }
                    let n = (caller * CALLS + i) as f64 + 2.0;
                    let reply = rpc(&mut client, "compute", json!([n]), i as u64).await;
                    let result = reply["result"]
                        .as_f64()
                        .unwrap_or_else(|| panic!("compute({n}) failed: {reply}"));
                    // One of the three versions, never anything else.
                    let version = [2.0 * n, n * n, n + 0.5]
                        .iter()
                        .position(|&r| r == result)
                        .unwrap_or_else(|| panic!("compute({n}) = {result}"));
                    versions.insert(version);
                    answered += 1;
                }
                (answered, versions)
            })
        })
        .collect();

    let reloader = tokio::spawn(async move {
        all_calling.wait().await;
        let mut client = Client::connect(addr).await;
        let mut versions = Vec::new();
        for i in 0..RELOADS {
            let reply = rpc(&mut client, "reload_api", json!([]), i).await;
            let next = reply["result"]
                .as_u64()
                .unwrap_or_else(|| panic!("reload {i} failed: {reply}"));
            versions.push(next);
        }
        versions
    });

    let mut answered = 0;
    let mut versions = HashSet::new();
    for caller in callers {
        let (calls, seen) = within("a caller's calls", caller).await.expect("caller");
        answered += calls;
        versions.extend(seen);
    }
    assert_eq!(answered, CALLERS * CALLS, "answers == calls sent");
    assert!(
        versions.len() >= 2,
        "the load ran across reloads: {versions:?}"
    );
    let versions = within("the reloads", reloader).await.expect("reloader");
    assert_eq!(versions.len() as u64, RELOADS);
    // In turn: 2, 3, 1, 2, …
    for (i, version) in versions.iter().enumerate() {
        assert_eq!(*version, (i as u64 + 1) % 3 + 1, "reload {i}");
    }

    let mut client = Client::connect(addr).await;
    let state = rpc(&mut client, "version", json!([]), 0).await;
    assert_eq!(state["result"]["reloads"], RELOADS, "{state}");
    assert_eq!(state["result"]["version"], RELOADS % 3 + 1, "{state}");
}

#[tokio::test]
async fn each_version_computes_its_own_way_and_the_doubler_keeps_its_count() {
    let _guard = support::shared().await;
    let (_child, addr) = start().await;
    let mut client = Client::connect(addr).await;
    let reply = rpc(&mut client, "compute", json!([3]), 1).await;
    assert_eq!(reply["result"], 6.0);

    let mut expected = Vec::new();
    for (version, result) in [(2, 9.0), (3, 3.5), (1, 6.0)] {
        let reply = rpc(&mut client, "reload_api", json!([]), 2).await;
        assert_eq!(reply["result"], version);
        let reply = rpc(&mut client, "compute", json!([3]), 3).await;
        expected.push((version, reply["result"].clone(), result));
    }
    for (version, got, want) in expected {
        assert_eq!(got, want, "version {version}");
    }
    // The doubler's counter went on across its turns: one call before, one
    // after it came back.
    let state = rpc(&mut client, "version", json!([]), 4).await;
    assert_eq!(
        state["result"],
        json!({"version": 1, "reloads": 3, "doubled": 2})
    );

    // Bad params are a clear error and the server goes on.
    let reply = rpc(&mut client, "compute", json!(["three"]), 5).await;
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    let reply = rpc(&mut client, "compute", json!([4]), 6).await;
    assert_eq!(reply["result"], 8.0);
}
