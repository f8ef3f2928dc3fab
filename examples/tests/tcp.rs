//! The stream transport over real sockets: every framing with every codec
//! it carries, malformed and oversize input, notifications, pipelining and
//! backpressure, graceful shutdown, connection limits, idle timeout,
//! connection facts, Unix sockets, and stdio through a child process.
//!
//! The client side frames by hand (a line, a 4-byte prefix, an LSP header)
//! rather than with rpckit-tcp's own codecs, so a framer bug cannot hide
//! behind the same bug on both ends.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rpckit::codec::{Codecs, PeerAddr, SimdJsonCodec};
use rpckit::extract::Params;
use rpckit::tcp::{
    ConnectionId, Framing, LocalAddr, LocalPath, PeerCredentials, Server, ServerBuilder,
    ServerHandle,
};
use rpckit::{Endpoint, Router};
use rpckit_examples::spec;
use serde_json::{json, Value};
use support::{assert_error, assert_result, notification, request, within, Wire, WAIT};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

// ---------------------------------------------------------------------------
// Servers and a hand-framing client

fn api() -> Router {
    spec::router(Arc::new(spec::Notified::default())).merge(rpckit_examples::echo::router())
}

fn builder(router: Router) -> ServerBuilder {
    Server::builder(Endpoint::new(router).codecs(Codecs::default().with(SimdJsonCodec::default())))
}

fn codec_name(wire: Wire) -> &'static str {
    match wire {
        Wire::Json => "json",
        Wire::Simd => "simd-json",
        Wire::Cbor => "cbor",
        Wire::MsgPack => "msgpack",
    }
}

async fn stop(server: ServerHandle) {
    within("graceful shutdown", server.shutdown()).await;
}

async fn start(builder: ServerBuilder) -> (ServerHandle, SocketAddr) {
    let handle = builder
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn();
    let addr = handle.local_addr().tcp().expect("a TCP address");
    (handle, addr)
}

async fn start_wire(framing: Framing, wire: Wire) -> (ServerHandle, SocketAddr) {
    let builder = builder(api())
        .framing(framing)
        .codec_named(codec_name(wire))
        .expect("the codec");
    start(builder).await
}

/// Frames `body` for the wire by hand.
fn framed(framing: Framing, body: &[u8]) -> Vec<u8> {
    let mut out = match framing {
        Framing::Newline => Vec::new(),
        Framing::LengthPrefixed => (body.len() as u32).to_be_bytes().to_vec(),
        Framing::Lsp => format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
        other => panic!("no hand framing for {other}"),
    };
    out.extend_from_slice(body);
    if framing == Framing::Newline {
        out.push(b'\n');
    }
    out
}

/// One connection, framed by hand.
struct Conn<R, W> {
    framing: Framing,
    reader: BufReader<R>,
    writer: W,
}

type TcpConn = Conn<tokio::net::tcp::OwnedReadHalf, tokio::net::tcp::OwnedWriteHalf>;

async fn connect(addr: SocketAddr, framing: Framing) -> TcpConn {
    let stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let (reader, writer) = stream.into_split();
    Conn::new(framing, reader, writer)
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Conn<R, W> {
    fn new(framing: Framing, reader: R, writer: W) -> Self {
        Conn {
            framing,
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer,
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        within("write", self.writer.write_all(bytes))
            .await
            .expect("write");
    }

    async fn send(&mut self, body: &[u8]) {
        let bytes = framed(self.framing, body);
        self.write(&bytes).await;
    }

    /// The next frame's body; `None` at the end of the stream.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        within("a reply", self.read_frame()).await
    }

    async fn read_frame(&mut self) -> Option<Vec<u8>> {
        match self.framing {
            Framing::Newline => {
                let mut line = Vec::new();
                let n = self.reader.read_until(b'\n', &mut line).await.ok()?;
                if n == 0 {
                    return None;
                }
                assert_eq!(line.pop(), Some(b'\n'), "a reply line ends with \\n");
                Some(line)
            }
            Framing::LengthPrefixed => {
                let mut prefix = [0u8; 4];
                self.reader.read_exact(&mut prefix).await.ok()?;
                let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
                self.reader
                    .read_exact(&mut body)
                    .await
                    .expect("a whole body");
                Some(body)
            }
            Framing::Lsp => {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if self.reader.read_line(&mut line).await.ok()? == 0 {
                        return None;
                    }
                    let line = line.strip_suffix("\r\n").expect("header lines end in CRLF");
                    if line.is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').expect("a header");
                    assert!(name.eq_ignore_ascii_case("content-length"), "{line}");
                    length = Some(value.trim().parse::<usize>().expect("a length"));
                }
                let mut body = vec![0u8; length.expect("a Content-Length")];
                self.reader
                    .read_exact(&mut body)
                    .await
                    .expect("a whole body");
                Some(body)
            }
            other => panic!("no hand framing for {other}"),
        }
    }

    /// Sends `message` in `wire`'s format and decodes the next reply.
    async fn call(&mut self, wire: Wire, message: &Value) -> Value {
        self.send(&wire.encode(message)).await;
        self.reply(wire).await
    }

    async fn reply(&mut self, wire: Wire) -> Value {
        let bytes = self
            .recv()
            .await
            .expect("a reply, not the end of the stream");
        wire.decode(&bytes)
    }

    /// The server closes the connection with nothing more to say.
    async fn expect_eof(&mut self) {
        if let Some(frame) = self.recv().await {
            panic!(
                "expected the end of the stream, got {:?}",
                String::from_utf8_lossy(&frame)
            );
        }
    }
}

/// The framings, each with the codecs it carries.
fn combinations() -> Vec<(Framing, Wire)> {
    let mut all = vec![
        (Framing::Newline, Wire::Json),
        (Framing::Newline, Wire::Simd),
    ];
    for framing in [Framing::LengthPrefixed, Framing::Lsp] {
        for wire in Wire::ALL {
            all.push((framing, wire));
        }
    }
    all
}

// ---------------------------------------------------------------------------
// Round trips, malformed input, notifications

#[tokio::test]
async fn every_framing_and_codec_round_trips_calls_batches_and_errors() {
    let _guard = support::shared().await;
    for (framing, wire) in combinations() {
        let context = format!("{framing} x {wire:?}");
        let (server, addr) = start_wire(framing, wire).await;
        let mut conn = connect(addr, framing).await;

        let reply = conn
            .call(wire, &request("subtract", json!([42, 23]), json!(1)))
            .await;
        assert_result(&reply, &json!(19), &json!(1), &context);
        let reply = conn
            .call(wire, &request("echo", json!({"data": "a\nb"}), json!("x")))
            .await;
        assert_result(&reply, &json!("a\nb"), &json!("x"), &context);
        let reply = conn.call(wire, &request("nope", json!([]), json!(2))).await;
        assert_error(&reply, -32601, &json!(2), &context);
        let batch = json!([
            request("sum", json!([1, 2, 4]), json!(3)),
            notification("update", json!([1])),
            request("get_data", json!([]), json!(4)),
        ]);
        let reply = conn.call(wire, &batch).await;
        let replies = reply
            .as_array()
            .unwrap_or_else(|| panic!("{context}: {reply}"));
        assert_eq!(replies.len(), 2, "{context}: {reply}");
        assert_result(&replies[0], &json!(7), &json!(3), &context);
        assert_result(&replies[1], &json!(["hello", 5]), &json!(4), &context);

        drop(conn);
        stop(server).await;
    }
}

#[tokio::test]
async fn a_malformed_message_gets_a_parse_error_and_the_connection_goes_on() {
    let _guard = support::shared().await;
    for (framing, wire) in combinations() {
        let context = format!("{framing} x {wire:?}");
        let (server, addr) = start_wire(framing, wire).await;
        let mut conn = connect(addr, framing).await;
        let garbage: &[u8] = if wire.is_binary() {
            // A truncated map: no codec makes a message of it.
            b"\x85\xa7jsonrpc"
        } else {
            br#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#
        };
        conn.send(garbage).await;
        let reply = conn.reply(wire).await;
        assert_error(&reply, -32700, &Value::Null, &context);
        // An empty frame is malformed too (newline framing skips blank lines).
        if framing != Framing::Newline {
            conn.send(b"").await;
            assert_error(&conn.reply(wire).await, -32700, &Value::Null, &context);
        }
        let reply = conn
            .call(wire, &request("echo", json!(["still here"]), json!(5)))
            .await;
        assert_result(&reply, &json!("still here"), &json!(5), &context);
        drop(conn);
        stop(server).await;
    }
}

#[tokio::test]
async fn notifications_and_all_notification_batches_write_nothing() {
    let _guard = support::shared().await;
    for (framing, wire) in combinations() {
        let context = format!("{framing} x {wire:?}");
        let (server, addr) = start_wire(framing, wire).await;
        let mut conn = connect(addr, framing).await;
        conn.send(&wire.encode(&notification("update", json!([1, 2]))))
            .await;
        conn.send(&wire.encode(&notification("foobar", json!([]))))
            .await;
        let batch = json!([
            notification("notify_sum", json!([1, 2])),
            notification("notify_hello", json!([7])),
        ]);
        conn.send(&wire.encode(&batch)).await;
        conn.send(&wire.encode(&request("echo", json!(["last"]), json!(9))))
            .await;
        // Everything up to here was read in order by one connection; the
        // only reply is the request's, and then the stream ends.
        conn.writer.shutdown().await.expect("half-close");
        let reply = conn.reply(wire).await;
        assert_result(&reply, &json!("last"), &json!(9), &context);
        conn.expect_eof().await;
        stop(server).await;
    }
}

// ---------------------------------------------------------------------------
// Frames over the limit

#[tokio::test]
async fn an_overlong_line_is_answered_and_skipped() {
    let _guard = support::shared().await;
    let (server, addr) = start(builder(api()).max_frame_size(1024)).await;
    let mut conn = connect(addr, Framing::Newline).await;
    let long = request("echo", json!(["x".repeat(5000)]), json!(1));
    conn.send(&Wire::Json.encode(&long)).await;
    let reply = conn.reply(Wire::Json).await;
    assert_error(&reply, -32600, &Value::Null, "overlong line");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1024"),
        "the message names the limit: {message}"
    );
    let reply = conn
        .call(Wire::Json, &request("echo", json!(["short"]), json!(2)))
        .await;
    assert_result(
        &reply,
        &json!("short"),
        &json!(2),
        "after the overlong line",
    );
    stop(server).await;
}

#[tokio::test]
async fn a_frame_over_the_limit_is_answered_then_closed_before_its_body_is_read() {
    let _guard = support::shared().await;
    for framing in [Framing::LengthPrefixed, Framing::Lsp] {
        let (server, addr) = start(builder(api()).framing(framing).max_frame_size(1024)).await;
        let mut conn = connect(addr, framing).await;
        // A declared length of 1 GiB, with none of the body sent: the
        // answer comes from the header alone.
        let header = match framing {
            Framing::LengthPrefixed => (1u32 << 30).to_be_bytes().to_vec(),
            _ => b"Content-Length: 1073741824\r\n\r\n".to_vec(),
        };
        conn.write(&header).await;
        let reply = conn.reply(Wire::Json).await;
        assert_error(&reply, -32600, &Value::Null, &framing.to_string());
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("1073741824") && message.contains("1024"),
            "{message}"
        );
        conn.expect_eof().await;
        stop(server).await;
    }
}

#[tokio::test]
async fn a_malformed_lsp_header_gets_a_parse_error_and_the_connection_closes() {
    let _guard = support::shared().await;
    let (server, addr) = start(builder(api()).framing(Framing::Lsp)).await;
    for header in [
        &b"Content-Type: application/json\r\n\r\n{}"[..],
        b"Content-Length: twelve\r\n\r\n",
        b"no colon here\r\n\r\n",
    ] {
        let mut conn = connect(addr, Framing::Lsp).await;
        conn.write(header).await;
        let reply = conn.reply(Wire::Json).await;
        assert_error(
            &reply,
            -32700,
            &Value::Null,
            &String::from_utf8_lossy(header),
        );
        conn.expect_eof().await;
    }
    stop(server).await;
}

// ---------------------------------------------------------------------------
// Pipelining and backpressure

#[tokio::test]
async fn ten_thousand_pipelined_requests_are_all_answered_exactly_once() {
    let _guard = support::shared().await;
    const COUNT: u64 = 10_000;
    for framing in [Framing::Newline, Framing::LengthPrefixed, Framing::Lsp] {
        let (server, addr) = start(builder(api()).framing(framing)).await;
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (reader, mut writer) = stream.into_split();
        let send = tokio::spawn(async move {
            let mut bytes = Vec::new();
            for id in 0..COUNT {
                // Mix results, errors and notifications (which add nothing).
                let message = match id % 3 {
                    0 => request("echo", json!([id]), json!(id)),
                    1 => request("subtract", json!([id, 1]), json!(id)),
                    _ => request("no_such_method", json!([]), json!(id)),
                };
                bytes.extend(framed(framing, &Wire::Json.encode(&message)));
                if id % 10 == 0 {
                    bytes.extend(framed(
                        framing,
                        &Wire::Json.encode(&notification("update", json!([id]))),
                    ));
                }
                if bytes.len() > 64 * 1024 {
                    writer.write_all(&bytes).await.expect("write");
                    bytes.clear();
                }
            }
            writer.write_all(&bytes).await.expect("write");
            writer.shutdown().await.expect("half-close");
        });
        let mut conn = Conn::new(framing, reader, tokio::io::sink());
        let mut seen: HashMap<u64, u32> = HashMap::new();
        within("10,000 replies", async {
            while let Some(frame) = conn.read_frame().await {
                let reply = Wire::Json.decode(&frame);
                let id = reply["id"].as_u64().unwrap_or_else(|| panic!("{reply}"));
                let expected = match id % 3 {
                    0 => Some(json!(id)),
                    1 => Some(json!(id as i64 - 1)),
                    _ => None,
                };
                match expected {
                    Some(result) => assert_result(&reply, &result, &json!(id), "pipelined"),
                    None => assert_error(&reply, -32601, &json!(id), "pipelined"),
                }
                *seen.entry(id).or_default() += 1;
            }
        })
        .await;
        send.await.expect("the sender");
        assert_eq!(seen.len() as u64, COUNT, "{framing}: every id answered");
        assert!(
            seen.values().all(|&n| n == 1),
            "{framing}: some id answered twice"
        );
        stop(server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counted_load_of_sync_and_async_calls_on_many_connections_is_answered_exactly() {
    let _guard = support::shared().await;
    const CONNECTIONS: u64 = 24;
    const CALLS: u64 = 1_500;
    // `later` answers after other tasks ran, so replies come out of order
    // and calls are in flight while more frames are read.
    let router = Router::new()
        .sync_method("now", |Params((n,)): Params<(u64,)>| n)
        .method("later", |Params((n,)): Params<(u64,)>| async move {
            tokio::task::yield_now().await;
            n
        });
    let (server, addr) = start(builder(router).max_in_flight(16)).await;
    let mut clients = tokio::task::JoinSet::new();
    for connection in 0..CONNECTIONS {
        clients.spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (reader, mut writer) = stream.into_split();
            let send = tokio::spawn(async move {
                let mut bytes = Vec::new();
                for id in 0..CALLS {
                    let method = if (id + connection) % 3 == 0 {
                        "later"
                    } else {
                        "now"
                    };
                    bytes.extend(framed(
                        Framing::Newline,
                        &Wire::Json.encode(&request(method, json!([id]), json!(id))),
                    ));
                    // Sent in uneven pieces, some mid-frame.
                    if bytes.len() > 1_000 + 97 * connection as usize {
                        writer.write_all(&bytes).await.expect("write");
                        bytes.clear();
                    }
                }
                writer.write_all(&bytes).await.expect("write");
                // Half of the clients half-close: what they sent is still
                // answered in full.
                if connection % 2 == 0 {
                    writer.shutdown().await.expect("half-close");
                }
                writer
            });
            let mut lines = BufReader::new(reader).lines();
            let mut seen = vec![0u32; CALLS as usize];
            for _ in 0..CALLS {
                let line = lines
                    .next_line()
                    .await
                    .expect("read")
                    .expect("a reply line before the end");
                let reply: Value = serde_json::from_str(&line).expect("JSON");
                let id = reply["id"].as_u64().unwrap_or_else(|| panic!("{reply}"));
                assert_eq!(reply["result"], json!(id), "{reply}");
                seen[id as usize] += 1;
            }
            let _writer = send.await.expect("the sender");
            assert!(
                seen.iter().all(|&n| n == 1),
                "connection {connection}: an id answered twice or never"
            );
            if connection % 2 == 0 {
                // Everything answered, the peer closed its side: the server ends.
                assert!(lines.next_line().await.expect("read").is_none());
            }
        });
    }
    within("every reply on every connection", async {
        while let Some(client) = clients.join_next().await {
            client.expect("a client");
        }
    })
    .await;
    stop(server).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_pipelined_calls_lets_other_tasks_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CALLS: usize = 5_000;
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let router = Router::new().sync_method("count", move || counter.fetch_add(1, Ordering::SeqCst));
    // Every call is in the stream before the server reads any: one read
    // after another finds whole frames, and sync handlers answer at once.
    let (mut client, ours) = tokio::io::duplex(1 << 20);
    let line = b"{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"id\":1}\n";
    client.write_all(&line.repeat(CALLS)).await.expect("write");
    let server = tokio::spawn(builder(router).serve_stream(ours));
    // On this one thread, it runs only when the server's task yields.
    let watcher = tokio::spawn({
        let served = served.clone();
        async move {
            loop {
                match served.load(Ordering::SeqCst) {
                    0 => tokio::task::yield_now().await,
                    n => return n,
                }
            }
        }
    });
    let seen = within("the watcher", watcher).await.expect("the watcher");
    assert!(
        seen < CALLS,
        "the server served all {CALLS} buffered calls before letting another task run"
    );
    let mut replies = BufReader::new(client);
    let mut answered = 0;
    let mut reply = String::new();
    while answered < CALLS {
        reply.clear();
        within("a reply", replies.read_line(&mut reply))
            .await
            .expect("read");
        assert!(reply.contains("\"result\""), "{reply}");
        answered += 1;
    }
    drop(replies);
    within("the server", server)
        .await
        .expect("the server task")
        .expect("serve_stream");
    assert_eq!(served.load(Ordering::SeqCst), CALLS);
}

#[tokio::test]
async fn calls_of_one_connection_run_concurrently_and_answer_as_they_finish() {
    let _guard = support::shared().await;
    // `wait` blocks until `release` runs: with both on one connection,
    // `release` can only answer if it is not queued behind `wait`.
    let gate = Arc::new(Notify::new());
    let (waiting, release) = (gate.clone(), gate);
    let router = Router::new()
        .method("wait", move || {
            let gate = waiting.clone();
            async move {
                gate.notified().await;
                "waited"
            }
        })
        .sync_method("release", move || {
            release.notify_one();
            "released"
        });
    let (server, addr) = start(builder(router)).await;
    let mut conn = connect(addr, Framing::Newline).await;
    conn.send(&Wire::Json.encode(&request("wait", json!([]), json!(1))))
        .await;
    conn.send(&Wire::Json.encode(&request("release", json!([]), json!(2))))
        .await;
    let first = conn.reply(Wire::Json).await;
    let second = conn.reply(Wire::Json).await;
    assert_result(
        &first,
        &json!("released"),
        &json!(2),
        "the later call first",
    );
    assert_result(&second, &json!("waited"), &json!(1), "then the earlier");
    stop(server).await;
}

#[tokio::test]
async fn at_the_in_flight_limit_the_server_stops_reading() {
    let _guard = support::shared().await;
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let waiting = gate.clone();
    let router = Router::new().method("wait", move |Params((n,)): Params<(u64,)>| {
        let gate = waiting.clone();
        let started = started.clone();
        async move {
            let _ = started.send(n);
            gate.notified().await;
            n
        }
    });
    let (server, addr) = start(builder(router).max_in_flight(2)).await;
    let mut conn = connect(addr, Framing::Newline).await;
    for n in 1..=3u64 {
        conn.send(&Wire::Json.encode(&request("wait", json!([n]), json!(n))))
            .await;
    }
    // Two calls start; the third is not read while they run.
    let mut running = vec![
        within("call 1", started_rx.recv()).await.expect("started"),
        within("call 2", started_rx.recv()).await.expect("started"),
    ];
    running.sort_unstable();
    assert_eq!(running, [1, 2]);
    tokio::task::yield_now().await;
    assert!(
        started_rx.try_recv().is_err(),
        "a third call started over the limit of 2"
    );
    gate.notify_one();
    let third = within("call 3", started_rx.recv()).await.expect("started");
    assert_eq!(third, 3, "once a call finished, the next was read");
    gate.notify_one();
    gate.notify_one();
    let mut ids: Vec<u64> = Vec::new();
    for _ in 0..3 {
        ids.push(
            conn.reply(Wire::Json).await["result"]
                .as_u64()
                .expect("a result"),
        );
    }
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
    stop(server).await;
}

/// A connection keeps no buffer the size of the large frames it carried:
/// 32 connections each send a 200 KB `echo` (and read its 200 KB reply),
/// then stay open, and the live heap holds far less than a frame for each,
/// in every framing. (The read buffer used to take back, and keep, what
/// it grew to for the largest frame a connection was sent, and the write
/// buffer what it grew to for the largest reply.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_keep_no_buffers_the_size_of_their_large_frames() {
    let _guard = support::exclusive().await;
    const CONNS: usize = 32;
    let message = request("echo", json!(["z".repeat(200_000)]), json!(1));
    let frame_len = Wire::Json.encode(&message).len();
    for framing in [Framing::Newline, Framing::LengthPrefixed, Framing::Lsp] {
        let (server, addr) = start(builder(api()).framing(framing)).await;
        // The connection alone is kept, without this client's 64 KiB
        // reader: the heap counted is the server's (same process).
        let call = || async {
            let mut conn = connect(addr, framing).await;
            let reply = conn.call(Wire::Json, &message).await;
            assert_eq!(reply["result"], message["params"][0], "{framing}");
            (conn.reader.into_inner(), conn.writer)
        };
        let (held, idle) = support::heap_held_by_each(CONNS, call).await;
        println!("{framing}: each idle connection holds {held} bytes after a {frame_len}-byte frame each way");
        assert!(
            held < frame_len / 4,
            "{framing}: each idle connection holds {held} bytes after a {frame_len}-byte frame each way"
        );
        drop(idle);
        stop(server).await;
    }
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_grow_server_memory() {
    let _guard = support::exclusive().await;
    let (server, addr) = start(builder(api())).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // 1 KiB echo requests, 256 MiB of them if the server would take them
    // all; their replies are never read.
    let one = framed(
        Framing::Newline,
        &Wire::Json.encode(&request("echo", json!(["y".repeat(1000)]), json!(1))),
    );
    let chunk: Vec<u8> = one.iter().copied().cycle().take(one.len() * 256).collect();
    let limit = 256 * 1024 * 1024;
    let before = support::rss_kib();
    let mut sent = 0usize;
    let started = std::time::Instant::now();
    while sent < limit && started.elapsed() < WAIT {
        // The server stops reading once its bounded queues are full: the
        // write then stalls, and that is the point.
        match tokio::time::timeout(Duration::from_secs(2), stream.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(err)) => panic!("write failed: {err}"),
            Err(_) => break,
        }
    }
    let grown_kib = support::rss_kib().saturating_sub(before);
    assert!(
        sent < limit,
        "the server read all {sent} bytes without its replies being read"
    );
    assert!(
        grown_kib < 64 * 1024,
        "server memory grew by {grown_kib} KiB while {sent} bytes went unanswered"
    );
    drop(stream);
    stop(server).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_closed_after_the_idle_timeout() {
    let _guard = support::shared().await;
    let idle = Duration::from_millis(200);
    let (server, addr) = start(builder(api()).idle_timeout(Some(idle))).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let one = framed(
        Framing::Newline,
        &Wire::Json.encode(&request("echo", json!(["y".repeat(1000)]), json!(1))),
    );
    let chunk = one.repeat(64);
    // The server stops reading once the replies it cannot write reach its
    // limits; the writes below then stall until the idle timeout drops the
    // connection, which resets it (unread bytes were left).
    let failed = within("the server dropping a peer that takes nothing", async {
        loop {
            if let Err(err) = stream.write_all(&chunk).await {
                break err;
            }
        }
    })
    .await;
    assert!(
        matches!(
            failed.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{failed}"
    );
    stop(server).await;
}

// ---------------------------------------------------------------------------
// Shutdown and limits

#[tokio::test]
async fn graceful_shutdown_answers_requests_already_read_then_closes() {
    let _guard = support::shared().await;
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let waiting = gate.clone();
    let router = Router::new().method("slow", move || {
        let gate = waiting.clone();
        let started = started.clone();
        async move {
            let _ = started.send(());
            gate.notified().await;
            "finished"
        }
    });
    let (server, addr) = start(builder(router)).await;
    let mut busy = connect(addr, Framing::Newline).await;
    let mut idle = connect(addr, Framing::Newline).await;
    busy.send(&Wire::Json.encode(&request("slow", json!([]), json!(1))))
        .await;
    within("the slow call to start", started_rx.recv()).await;

    let shutdown = tokio::spawn(server.shutdown());
    // The idle connection closes at once; the busy one waits for its call.
    idle.expect_eof().await;
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for the call in flight"
    );
    gate.notify_one();
    let reply = busy.reply(Wire::Json).await;
    assert_result(
        &reply,
        &json!("finished"),
        &json!(1),
        "answered during shutdown",
    );
    busy.expect_eof().await;
    within("shutdown", shutdown).await.expect("shutdown");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_told_and_closed() {
    let _guard = support::shared().await;
    let (server, addr) = start(builder(api()).max_connections(2)).await;
    let mut first = connect(addr, Framing::Newline).await;
    let mut second = connect(addr, Framing::Newline).await;
    for conn in [&mut first, &mut second] {
        let reply = conn
            .call(Wire::Json, &request("echo", json!([1]), json!(1)))
            .await;
        assert_result(&reply, &json!(1), &json!(1), "within the limit");
    }
    let mut third = connect(addr, Framing::Newline).await;
    let reply = third.reply(Wire::Json).await;
    assert_error(&reply, -32000, &Value::Null, "over the limit");
    third.expect_eof().await;

    drop(first);
    // The slot frees once the server has seen the close.
    let mut replaced = None;
    let started = std::time::Instant::now();
    while started.elapsed() < WAIT {
        let mut conn = connect(addr, Framing::Newline).await;
        conn.send(&Wire::Json.encode(&request("echo", json!([2]), json!(2))))
            .await;
        let reply = conn.reply(Wire::Json).await;
        if reply.get("result").is_some() {
            replaced = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = replaced.expect("a slot freed after a connection closed");
    assert_result(&reply, &json!(2), &json!(2), "after one closed");
    drop(second);
    stop(server).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let _guard = support::shared().await;
    let (server, addr) = start(builder(api()).idle_timeout(Some(Duration::from_millis(200)))).await;
    let mut conn = connect(addr, Framing::Newline).await;
    let reply = conn
        .call(Wire::Json, &request("echo", json!(["x"]), json!(1)))
        .await;
    assert_result(&reply, &json!("x"), &json!(1), "before idling");
    // Nothing sent: the server closes the connection by itself.
    conn.expect_eof().await;
    stop(server).await;
}

#[tokio::test]
async fn newline_framing_refuses_a_binary_codec() {
    let err = builder(api())
        .framing(Framing::Newline)
        .codec_named("cbor")
        .expect("the service has CBOR")
        .bind("127.0.0.1:0")
        .await
        .expect_err("CBOR cannot be newline-framed");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let inner = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rpckit::tcp::IncompatibleCodec>())
        .expect("a typed cause");
    assert_eq!(inner.codec, "cbor");
}

// ---------------------------------------------------------------------------
// Connection facts, Unix sockets, stdio

#[tokio::test]
async fn handlers_see_the_connection_id_and_both_addresses() {
    let _guard = support::shared().await;
    let router = Router::new().sync_method(
        "whoami",
        |id: ConnectionId, peer: PeerAddr, local: LocalAddr| {
            json!({"id": id.0, "peer": peer.0.to_string(), "local": local.0.to_string()})
        },
    );
    let (server, addr) = start(builder(router)).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let client_addr = stream.local_addr().expect("the client's address");
        let (reader, writer) = stream.into_split();
        let mut conn = Conn::new(Framing::Newline, reader, writer);
        let mut first = None;
        for id in 0..2 {
            let reply = conn
                .call(Wire::Json, &request("whoami", json!([]), json!(id)))
                .await;
            let result = &reply["result"];
            assert_eq!(result["peer"], client_addr.to_string(), "{reply}");
            assert_eq!(result["local"], addr.to_string(), "{reply}");
            let conn_id = result["id"].as_u64().expect("an id");
            assert_eq!(
                *first.get_or_insert(conn_id),
                conn_id,
                "one id per connection"
            );
        }
        ids.push(first.expect("an id"));
    }
    assert_ne!(ids[0], ids[1], "each connection has its own id");
    stop(server).await;
}

#[tokio::test]
async fn a_unix_socket_serves_and_tells_handlers_who_called() {
    let _guard = support::shared().await;
    let router = api().sync_method(
        "whoami",
        |credentials: PeerCredentials, path: LocalPath, peer: Option<PeerAddr>| {
            json!({
                "pid": credentials.pid,
                "uid": credentials.uid,
                "path": path.0.display().to_string(),
                "peer": peer.is_some(),
            })
        },
    );
    let dir = std::env::temp_dir().join(format!("rpckit-tcp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("rpc.sock");
    let _ = std::fs::remove_file(&path);
    let server = builder(router)
        .framing(Framing::LengthPrefixed)
        .codec_named("msgpack")
        .expect("MessagePack")
        .bind_unix(&path)
        .await
        .expect("bind a Unix socket")
        .spawn();
    assert_eq!(
        server.local_addr().to_string(),
        format!("unix:{}", path.display())
    );
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connect");
    let (reader, writer) = stream.into_split();
    let mut conn = Conn::new(Framing::LengthPrefixed, reader, writer);
    let reply = conn
        .call(Wire::MsgPack, &request("subtract", json!([5, 2]), json!(1)))
        .await;
    assert_result(&reply, &json!(3), &json!(1), "over a Unix socket");
    let reply = conn
        .call(Wire::MsgPack, &request("whoami", json!([]), json!(2)))
        .await;
    let result = &reply["result"];
    assert_eq!(result["pid"], json!(std::process::id()), "{reply}");
    assert_eq!(result["path"], path.display().to_string(), "{reply}");
    assert_eq!(
        result["peer"],
        json!(false),
        "no socket address on a Unix socket"
    );
    drop(conn);
    stop(server).await;
    assert!(!path.exists(), "the socket file is removed on shutdown");
    let _ = std::fs::remove_dir(&dir);
}

#[tokio::test]
async fn stdio_server_speaks_lsp_framing_on_its_stdin_and_stdout() {
    let _guard = support::shared().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stdio_server"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start stdio_server");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut conn = Conn::new(Framing::Lsp, stdout, stdin);
    let reply = conn
        .call(
            Wire::Json,
            &request("subtract", json!({"minuend": 7, "subtrahend": 2}), json!(1)),
        )
        .await;
    assert_result(&reply, &json!(5), &json!(1), "stdio");
    conn.send(&Wire::Json.encode(&notification("update", json!([1]))))
        .await;
    // Pipelined, then stdin closed: both answered before the process exits.
    conn.send(&Wire::Json.encode(&request("echo", json!(["a"]), json!(2))))
        .await;
    conn.send(b"{not json").await;
    // Dropping the pipe closes the child's stdin.
    let Conn {
        framing,
        reader,
        writer,
    } = conn;
    drop(writer);
    let mut conn = Conn {
        framing,
        reader,
        writer: tokio::io::sink(),
    };
    let mut replies = Vec::new();
    while let Some(frame) = within("replies", conn.read_frame()).await {
        replies.push(Wire::Json.decode(&frame));
    }
    replies.sort_by_key(|reply| reply["id"].to_string());
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_result(&replies[0], &json!("a"), &json!(2), "stdio pipelined");
    assert_error(&replies[1], -32700, &Value::Null, "stdio malformed");
    let status = within("stdio_server to exit", child.wait())
        .await
        .expect("exit status");
    assert!(status.success(), "stdio_server exited with {status}");
}
