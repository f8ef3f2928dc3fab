//! A server keeps the memory of large requests for the next ones
//! (`rpckit_codec::heap`, on by default): a `bench_server` process echoing
//! `echo_struct` bodies of 16 KiB to 1 MiB, one size after another,
//! settles within a few rounds through the sizes into taking no page
//! faults. Without it glibc's malloc gives those pages back to the kernel
//! and faults them in again, hundreds of times every round.
//!
//! The server runs in a process of its own so that its faults are its
//! own, not the client's or another test's. glibc's only: other
//! allocators have no such thresholds.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

#[path = "../bench/shared.rs"]
mod shared;
mod support;

use std::net::SocketAddr;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The sizes, sent one after another on one connection, round after round.
const SIZES: [usize; 6] = [16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20];
/// The heap grows for the first rounds (some 2,000 faults in the first,
/// a few hundred now and then after it, most of them on the background
/// threads that decode the large bodies, as each finds its peak), and
/// then stops: three quiet rounds in a row came after 6 to 13 rounds.
/// Without the reuse (`reuse_large_blocks(false)`) every round faulted
/// 280 to 1,100 times, however many were served.
const MAX_ROUNDS: usize = 24;
/// Rounds in a row that must be quiet.
const QUIET_STREAK: usize = 3;
/// The most faults a quiet round takes: a few pages of heap growth.
const QUIET_ROUND: u64 = 16;

fn echo_struct(bytes: usize) -> Vec<u8> {
    let params = serde_json::to_string(&shared::catalog(bytes)).expect("a catalogue serialises");
    format!(r#"{{"jsonrpc":"2.0","method":"echo_struct","params":[{params}],"id":1}}"#).into_bytes()
}

/// `bench_server` on a port of its own, one worker thread, and its address.
async fn start() -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench_server"))
        .args(["--addr", "127.0.0.1:0", "--threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start bench_server");
    let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
    let addr = support::within("bench_server's address", async {
        while let Some(line) = lines.next_line().await.expect("its stdout") {
            if let Some(rest) = line.split("http://").nth(1) {
                return rest.trim_end_matches('/').parse().expect("an address");
            }
        }
        panic!("bench_server exited without printing its address");
    })
    .await;
    (child, addr)
}

/// Minor page faults of process `pid` so far (`/proc/PID/stat`, field 10).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name, field 2, may hold spaces; it ends at the last ')'.
    let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|field| field.parse().ok())
        .expect("minflt")
}

/// One round through every size on `client`; each answer must echo its
/// request's params.
async fn round(client: &mut support::Client, bodies: &[(Vec<u8>, usize)]) {
    for (body, items) in bodies {
        let reply = client
            .rpc_bytes(support::Wire::Json, body)
            .await
            .expect("an answer");
        let echoed = reply["result"]["items"].as_array().map(Vec::len);
        assert_eq!(echoed, Some(*items), "the echo of {items} items");
    }
}

#[tokio::test]
async fn large_requests_of_mixed_sizes_take_no_page_faults() {
    let bodies: Vec<(Vec<u8>, usize)> = SIZES
        .iter()
        .map(|&bytes| (echo_struct(bytes), shared::catalog(bytes).items.len()))
        .collect();
    let (server, addr) = start().await;
    let pid = server.id().expect("a running server");
    let mut client = support::Client::connect(addr).await;

    let mut faults = Vec::new();
    let mut streak = 0;
    while streak < QUIET_STREAK {
        assert!(
            faults.len() < MAX_ROUNDS,
            "no {QUIET_STREAK} rounds in a row without page faults; each round's: {faults:?}"
        );
        let before = minor_faults(pid);
        round(&mut client, &bodies).await;
        let taken = minor_faults(pid) - before;
        faults.push(taken);
        streak = if taken <= QUIET_ROUND { streak + 1 } else { 0 };
    }
    println!(
        "page faults in each round of {} requests: {faults:?}",
        SIZES.len()
    );
}
