//! Shared by the tests that run an example as real processes across a
//! hand-over (`handover.rs`, `operations.rs`): the line each process
//! prints, a raw keep-alive HTTP/1.1 client that tells a request the
//! server never read (safe to resend) from every other failure, and a
//! guard that kills a successor the test did not start.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::ChildStdout;

/// Bounds every single wait.
pub const WAIT: Duration = Duration::from_secs(30);

/// One server process's line: `NAME listening on http://ADDR/api (pid N,
/// bound|took over)`.
#[derive(Debug)]
pub struct Listening {
    pub addr: SocketAddr,
    pub pid: u32,
    pub took_over: bool,
}

/// The next such line of the example `name`.
pub async fn next_listening(
    name: &str,
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
) -> Listening {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a listening line in time")
        .expect("stdout")
        .expect("a line before stdout closes");
    let rest = line
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(" listening on http://"))
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
pub struct KillOnDrop(pub Option<u32>);

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
pub enum Outcome {
    /// A whole response: its JSON-RPC reply, and whether the server closes
    /// the connection after it.
    Answered(Value, bool),
    /// The server closed the connection (end of stream, reset, broken
    /// pipe) before any byte of a response: safe to send again.
    ClosedBeforeAnswer,
}

/// A keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: TcpStream,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        // A refused connection is exactly what must never happen.
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .unwrap_or_else(|err| panic!("connection to {addr} refused or failed: {err}"));
        stream.set_nodelay(true).unwrap();
        Conn { stream }
    }

    /// Whether the server has closed this connection while it was idle,
    /// as a pooling client checks before it reuses one: such a connection
    /// had no request on it, so nothing is lost, but it cannot be used.
    pub fn closed_while_idle(&self) -> bool {
        match self.stream.try_read(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => panic!("bytes from the server with no request on the connection"),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(err) if closed_by_peer(&err) => true,
            Err(err) => panic!("idle connection: {err}"),
        }
    }

    pub async fn call(&mut self, body: &[u8]) -> Outcome {
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

pub fn closed_by_peer(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof
    )
}
