//! Shared by the hostile-input and fault tests: an in-process server with
//! one route per codec family, a raw HTTP/1.1 client on a plain
//! `TcpStream` (keep-alive aware, every wait bounded), the four codecs as
//! they look on the wire, and measurements of this process (open file
//! descriptors, resident memory, which socket a file descriptor holds).
//!
//! Raw sockets rather than an HTTP client library: these tests send what no
//! well-behaved client would (half a body, a body trickled byte by byte, a
//! 100 MiB chunk that never arrives) and need to see exactly what the server
//! does with it.
#![allow(dead_code, unreachable_pub)]

use std::alloc::System;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::{Duration, Instant};

use rpckit::codec::{Codecs, SimdJsonCodec};
use rpckit::http::{Server, ServerHandle};
use rpckit::{Endpoint, Router};
use serde_json::{json, Value};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Bounds every wait on the server, so a broken behaviour fails a test
/// instead of hanging it. Generous: debug builds on two busy cores.
pub const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Tests that measure the process

/// Tests of one binary run in parallel in one process. The few that measure
/// the process as a whole (file descriptors, memory, allocations) take this
/// lock exclusively; every other test holds it shared.
static PROCESS: RwLock<()> = RwLock::const_new(());

/// For a test that does not measure the process.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    PROCESS.read().await
}

/// For a test that measures the process: no other test runs meanwhile.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    PROCESS.write().await
}

/// Counts every allocation of the test binary: the hostile-input tests show
/// that a lying length header allocates nothing, the load test that the
/// live heap does not grow. `stats_alloc` does the unsafe part.
#[global_allocator]
pub static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed, process-wide.
pub fn live_heap_bytes() -> usize {
    let stats = GLOBAL.stats();
    // Reallocations are already in both totals (growth and shrinkage).
    stats
        .bytes_allocated
        .saturating_sub(stats.bytes_deallocated)
}

/// The live heap each connection holds once its work is done: opens one
/// with `open` and drops it (pools, per-thread caches and the allocator
/// reach their size), then opens `count` more and keeps them. Returns the
/// heap held per connection, and the connections, to close when the test
/// is done with them.
pub async fn heap_held_by_each<T, Open, Opened>(count: usize, mut open: Open) -> (usize, Vec<T>)
where
    Open: FnMut() -> Opened,
    Opened: Future<Output = T>,
{
    drop(open().await);
    let mut kept = Vec::with_capacity(count);
    let before = live_heap_bytes();
    for _ in 0..count {
        kept.push(open().await);
    }
    let held = live_heap_bytes().saturating_sub(before) / count;
    (held, kept)
}

/// The file descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Resident memory of this process, in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// The inode of the server's end of the TCP connection from `client` to
/// `server`, from `/proc/net/tcp`.
pub fn server_socket_inode(server: SocketAddr, client: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| {
            let hex = field.rsplit(':').next()?;
            u16::from_str_radix(hex, 16).ok()
        };
        let (local, remote, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
        let ours = port(local)? == server.port() && port(remote)? == client.port();
        let inode: u64 = inode.parse().ok()?;
        (ours && inode != 0).then_some(inode)
    })
}

/// Whether some file descriptor of this process holds the socket `inode`.
pub fn socket_is_open(inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .any(|target| target.as_os_str() == wanted.as_str())
}

/// Polls `done` every few milliseconds until it holds; panics with `what`
/// after `deadline`. For conditions that have no event to wait on, such as
/// the server closing a socket.
pub async fn eventually(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < deadline,
            "{what}: not so after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for `future`, failing the test with `what` after [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing after {WAIT:?}"))
}

/// Handlers here panic on purpose; their panics are expected and would only
/// clutter the output. Any other panic is reported as usual.
pub fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !text.starts_with("deliberate panic") {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------
// The server

/// Serves `router` at `/rpc` with the default codecs (JSON, CBOR,
/// MessagePack) and at `/simd` with SIMD-JSON taking the JSON media types.
pub async fn start(router: Router) -> ServerHandle {
    let simd =
        Endpoint::new(router.clone()).codecs(Codecs::default().with(SimdJsonCodec::default()));
    Server::builder()
        .route("/rpc", router)
        .route("/simd", simd)
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

/// Shuts the server down, in bounded time.
pub async fn stop(server: ServerHandle) {
    within("graceful shutdown", server.shutdown()).await;
}

// ---------------------------------------------------------------------------
// The codecs on the wire

/// A codec as a client sees it: where to send, which content type, how to
/// encode a request and decode a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Json,
    Simd,
    Cbor,
    MsgPack,
}

impl Wire {
    pub const ALL: [Wire; 4] = [Wire::Json, Wire::Simd, Wire::Cbor, Wire::MsgPack];

    pub fn path(self) -> &'static str {
        match self {
            Wire::Simd => "/simd",
            _ => "/rpc",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Wire::Json | Wire::Simd => "application/json",
            Wire::Cbor => "application/cbor",
            Wire::MsgPack => "application/msgpack",
        }
    }

    pub fn is_binary(self) -> bool {
        matches!(self, Wire::Cbor | Wire::MsgPack)
    }

    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Wire::Json | Wire::Simd => serde_json::to_vec(value).expect("JSON"),
            Wire::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out).expect("CBOR");
                out
            }
            Wire::MsgPack => rmp_serde::to_vec_named(value).expect("MessagePack"),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> Value {
        match self {
            Wire::Json | Wire::Simd => serde_json::from_slice(bytes),
            Wire::Cbor => ciborium::from_reader(bytes).map_err(serde::de::Error::custom),
            Wire::MsgPack => rmp_serde::from_slice(bytes).map_err(serde::de::Error::custom),
        }
        .unwrap_or_else(|err: serde_json::Error| {
            panic!("{self:?} reply does not decode ({err}): {bytes:02x?}")
        })
    }

    /// A text string item holding exactly `bytes` (which need not be
    /// UTF-8), in this binary format.
    pub fn raw_text(self, bytes: &[u8]) -> Vec<u8> {
        let mut out = match self {
            Wire::Cbor => {
                assert!(bytes.len() < 24);
                vec![0x60 | bytes.len() as u8]
            }
            Wire::MsgPack => {
                assert!(bytes.len() < 32);
                vec![0xa0 | bytes.len() as u8]
            }
            _ => panic!("raw_text is for the binary codecs"),
        };
        out.extend_from_slice(bytes);
        out
    }

    /// A map item of raw key and value items, in this binary format.
    pub fn raw_map(self, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        assert!(entries.len() < 16);
        let mut out = match self {
            Wire::Cbor => vec![0xa0 | entries.len() as u8],
            Wire::MsgPack => vec![0x80 | entries.len() as u8],
            _ => panic!("raw_map is for the binary codecs"),
        };
        for (key, value) in entries {
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
        out
    }
}

/// A request object.
pub fn request(method: &str, params: Value, id: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id})
}

/// A notification object.
pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// Asserts that `reply` is the error `code` for the request `id`.
#[track_caller]
pub fn assert_error(reply: &Value, code: i64, id: &Value, context: &str) {
    assert_eq!(
        reply.get("error").and_then(|e| e.get("code")),
        Some(&json!(code)),
        "{context}: expected error {code}, got {reply}"
    );
    assert_eq!(reply.get("id"), Some(id), "{context}: id of {reply}");
    assert_eq!(reply["jsonrpc"], "2.0", "{context}: {reply}");
    assert!(reply.get("result").is_none(), "{context}: {reply}");
}

/// Asserts that `reply` is the result `result` for the request `id`.
#[track_caller]
pub fn assert_result(reply: &Value, result: &Value, id: &Value, context: &str) {
    assert_eq!(
        reply.get("result"),
        Some(result),
        "{context}: expected result {result}, got {reply}"
    );
    assert_eq!(reply.get("id"), Some(id), "{context}: id of {reply}");
    assert!(reply.get("error").is_none(), "{context}: {reply}");
}

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client

/// One response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the server keeps the connection open after this response.
    pub fn keeps_alive(&self) -> bool {
        !self
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The head of a `POST` whose body follows: `Content-Length` when `length`
/// is known, chunked otherwise.
pub fn post_head(path: &str, content_type: Option<&str>, length: Option<usize>) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    match length {
        Some(length) => head.push_str(&format!("Content-Length: {length}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// An HTTP/1.1 connection on a raw socket. Responses are parsed by
/// `Content-Length` or chunked framing, and bytes past one response are kept
/// for the next, so requests can be pipelined.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        Client {
            stream,
            received: Vec::new(),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local address")
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The connection alone, without the client's read buffer (64 KiB once
    /// it has read): for tests that count the server's memory per
    /// connection in this process.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        within("write", self.stream.write_all(bytes))
            .await
            .expect("write");
    }

    /// Sends a `POST` with a `Content-Length` body.
    pub async fn send(&mut self, path: &str, content_type: Option<&str>, body: &[u8]) {
        let mut request = post_head(path, content_type, Some(body.len()));
        request.extend_from_slice(body);
        self.write(&request).await;
    }

    /// Sends a `POST` and reads its response.
    pub async fn post(&mut self, path: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        self.send(path, content_type, body).await;
        self.response().await
    }

    /// Sends `body` as a request in `wire`'s format; the decoded reply, or
    /// `None` for `204 No Content`. Any other status fails the test.
    pub async fn rpc_bytes(&mut self, wire: Wire, body: &[u8]) -> Option<Value> {
        let response = self
            .post(wire.path(), Some(wire.content_type()), body)
            .await;
        match response.status {
            200 => {
                assert_eq!(
                    response.header("content-type"),
                    Some(wire.content_type()),
                    "{wire:?}"
                );
                Some(wire.decode(&response.body))
            }
            204 => {
                assert!(response.body.is_empty());
                None
            }
            status => panic!("{wire:?}: HTTP {status}: {}", response.text()),
        }
    }

    /// Sends `message` encoded in `wire`'s format; the decoded reply.
    pub async fn rpc(&mut self, wire: Wire, message: &Value) -> Option<Value> {
        self.rpc_bytes(wire, &wire.encode(message)).await
    }

    /// Reads the next response whole.
    pub async fn response(&mut self) -> Response {
        within(
            "a response",
            read_response(&mut self.stream, &mut self.received),
        )
        .await
    }

    /// Writes `bytes` while reading the response, which may come before
    /// all of them are written: the response, and how many bytes had been
    /// written when it was complete. Write errors end the writing (the
    /// server may close the connection once it has answered).
    pub async fn write_until_response(&mut self, bytes: &[u8]) -> (Response, usize) {
        let written = std::cell::Cell::new(0);
        let (mut reader, mut writer) = self.stream.split();
        let write = async {
            for piece in bytes.chunks(64 * 1024) {
                if writer.write_all(piece).await.is_err() {
                    break;
                }
                written.set(written.get() + piece.len());
            }
            std::future::pending::<()>().await;
        };
        let read = read_response(&mut reader, &mut self.received);
        let response = within("a response while writing", async {
            tokio::select! {
                response = read => response,
                () = write => unreachable!("writing never ends by itself"),
            }
        })
        .await;
        (response, written.get())
    }

    /// Reads at least `n` bytes of whatever comes, and returns them.
    pub async fn read_at_least(&mut self, n: usize) -> Vec<u8> {
        within("bytes", async {
            while self.received.len() < n {
                assert!(
                    fill(&mut self.stream, &mut self.received).await,
                    "connection closed"
                );
            }
        })
        .await;
        std::mem::take(&mut self.received)
    }

    /// Waits until the server closes the connection; it must send nothing
    /// more. A reset counts as closed.
    pub async fn expect_closed(&mut self) {
        assert!(self.received.is_empty(), "{:?}", lossy(&self.received));
        within("the server to close the connection", async {
            let mut buffer = [0u8; 1024];
            if let Ok(n @ 1..) = self.stream.read(&mut buffer).await {
                panic!(
                    "unexpected bytes after the response: {:?}",
                    lossy(&buffer[..n])
                );
            }
        })
        .await;
    }
}

/// Reads more bytes into `received`; `false` at the end of the stream.
async fn fill<R: AsyncRead + Unpin>(reader: &mut R, received: &mut Vec<u8>) -> bool {
    // Straight into the spare capacity: a buffer in the future would make
    // every future that awaits this one that much bigger.
    received.reserve(64 * 1024);
    let n = reader
        .read_buf(received)
        .await
        .unwrap_or_else(|err| panic!("read: {err}; so far: {:?}", lossy(received)));
    n > 0
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

/// Takes exactly `n` bytes.
async fn take<R: AsyncRead + Unpin>(reader: &mut R, received: &mut Vec<u8>, n: usize) -> Vec<u8> {
    while received.len() < n {
        assert!(fill(reader, received).await, "connection closed mid-body");
    }
    received.drain(..n).collect()
}

/// Takes one CRLF-terminated line, without the CRLF.
async fn line<R: AsyncRead + Unpin>(reader: &mut R, received: &mut Vec<u8>) -> String {
    loop {
        if let Some(at) = find(received, b"\r\n") {
            let line: Vec<u8> = received.drain(..at + 2).take(at).collect();
            return String::from_utf8(line).expect("an ASCII line");
        }
        assert!(fill(reader, received).await, "connection closed mid-line");
    }
}

/// Reads one response whole, leaving any bytes after it in `received`.
async fn read_response<R: AsyncRead + Unpin>(reader: &mut R, received: &mut Vec<u8>) -> Response {
    let head_end = loop {
        if let Some(at) = find(received, b"\r\n\r\n") {
            break at;
        }
        assert!(
            fill(reader, received).await,
            "connection closed before a response: {:?}",
            lossy(received)
        );
    };
    let head: Vec<u8> = received.drain(..head_end + 4).collect();
    let head = String::from_utf8(head).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if matches!(status, 100..=199 | 204 | 304) {
        return response;
    }
    if response
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = line(reader, received).await;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .expect("a chunk size");
            if size == 0 {
                while !line(reader, received).await.is_empty() {}
                break;
            }
            let chunk = take(reader, received, size).await;
            response.body.extend_from_slice(&chunk);
            assert_eq!(take(reader, received, 2).await, b"\r\n");
        }
    } else if let Some(length) = response.header("content-length") {
        let length = length.parse().expect("a Content-Length");
        response.body = take(reader, received, length).await;
    } else {
        while fill(reader, received).await {}
        response.body = std::mem::take(received);
    }
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
