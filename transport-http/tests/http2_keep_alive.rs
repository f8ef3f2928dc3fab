//! HTTP/2 keep-alive pings and the idle timeout of HTTP/2 connections,
//! seen on the wire: raw frames parsed by hand (a 9-byte header each), a
//! relay that counts the server's `PING`s in front of real clients (hyper's,
//! curl's), and no assertion on how long anything took — every interval is
//! short and every wait bounded by [`WAIT`].

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{codecs, echo, slow, start, WAIT};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rpckit_codec::{Frame, PeerAddr};
use rpckit_http::{Route, Server, ServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The keep-alive interval and timeout of the tests.
const SHORT: Duration = Duration::from_millis(100);

/// Far beyond any test: a limit that must not be what closes a connection.
const LONG: Duration = Duration::from_secs(600);

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;

/// One HTTP/2 frame.
#[derive(Debug)]
struct H2Frame {
    kind: u8,
    flags: u8,
    payload: Vec<u8>,
}

/// The next frame, or `None` at the end of the connection.
async fn read_frame(stream: &mut TcpStream) -> Option<H2Frame> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some(H2Frame {
        kind: head[3],
        flags: head[4],
        payload,
    })
}

/// A frame on stream 0 (the connection).
async fn write_frame(stream: &mut TcpStream, kind: u8, flags: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await.expect("write a frame");
}

/// A hand-made HTTP/2 client: the preface and an empty `SETTINGS`, and
/// nothing else unless asked. It opens no stream.
async fn raw_h2(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(PREFACE).await.unwrap();
    write_frame(&mut stream, SETTINGS, 0, &[]).await;
    stream
}

/// What a raw client saw until the server closed the connection.
#[derive(Debug, Default)]
struct Seen {
    /// Frame types in order (`PING`s the server sent, not acks of ours).
    kinds: Vec<u8>,
}

impl Seen {
    fn position(&self, kind: u8) -> Option<usize> {
        self.kinds.iter().position(|&seen| seen == kind)
    }
}

/// Reads frames until the server closes the connection (fails the test if
/// it has not within [`WAIT`]), acking the server's `SETTINGS` and, if
/// `answer_pings`, its `PING`s.
async fn until_closed(stream: &mut TcpStream, answer_pings: bool) -> Seen {
    let mut seen = Seen::default();
    tokio::time::timeout(WAIT, async {
        while let Some(frame) = read_frame(stream).await {
            if frame.flags & ACK == 0 || frame.kind != PING {
                seen.kinds.push(frame.kind);
            }
            match frame.kind {
                SETTINGS if frame.flags & ACK == 0 => {
                    write_frame(stream, SETTINGS, ACK, &[]).await;
                }
                PING if answer_pings && frame.flags & ACK == 0 => {
                    write_frame(stream, PING, ACK, &frame.payload).await;
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server should have closed the connection; saw {seen:?}"));
    seen
}

/// Limits that leave keep-alive (or, with `keep_alive` off, the idle
/// timeout) as the only thing that can close a connection.
fn keep_alive_only() -> ServerBuilder {
    Server::builder()
        .route("/rpc", echo())
        .header_read_timeout(LONG)
        .idle_timeout(LONG)
        .request_timeout(None)
        .http2_keep_alive_interval(SHORT)
        .http2_keep_alive_timeout(SHORT)
}

#[tokio::test]
async fn a_peer_that_never_answers_a_ping_is_disconnected() {
    let server = start(keep_alive_only()).await;
    let mut stream = raw_h2(server.local_addr()).await;
    let seen = until_closed(&mut stream, false).await;
    let ping = seen.position(PING).expect("the server sent a PING");
    // hyper says GOAWAY as it gives up; the end of the stream is the close.
    if let Some(goaway) = seen.position(GOAWAY) {
        assert!(ping < goaway, "{seen:?}");
    }
    // The server lives on.
    let answer = common::send_h2(server.local_addr(), common::post("/rpc", None, "ok")).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "ok"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let server = start(keep_alive_only()).await;
    let mut stream = raw_h2(server.local_addr()).await;
    // Three pings answered: the connection outlived the keep-alive timeout
    // twice over, which a silent peer does not (the test above).
    let mut pings = 0;
    tokio::time::timeout(WAIT, async {
        while pings < 3 {
            let frame = read_frame(&mut stream)
                .await
                .unwrap_or_else(|| panic!("closed after {pings} answered pings"));
            assert_ne!(frame.kind, GOAWAY, "GOAWAY after {pings} answered pings");
            match frame.kind {
                SETTINGS if frame.flags & ACK == 0 => {
                    write_frame(&mut stream, SETTINGS, ACK, &[]).await;
                }
                PING if frame.flags & ACK == 0 => {
                    pings += 1;
                    write_frame(&mut stream, PING, ACK, &frame.payload).await;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("three pings in time");
    server.shutdown().await;
}

/// A TCP relay in front of `server` that counts the `PING`s (not acks)
/// the server sends through it. Serves one connection.
async fn ping_counting_relay(server: SocketAddr) -> (SocketAddr, watch::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (count, counted) = watch::channel(0);
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let upstream = TcpStream::connect(server).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut upstream_read, mut upstream_write) = upstream.into_split();
        // Towards the server: as it comes.
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
            let _ = upstream_write.shutdown().await;
        });
        // Towards the client: frame by frame (the server's preface is a
        // SETTINGS frame, so the stream is frames from its first byte).
        loop {
            let mut head = [0u8; 9];
            if upstream_read.read_exact(&mut head).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            if upstream_read.read_exact(&mut payload).await.is_err() {
                break;
            }
            if client_write.write_all(&head).await.is_err()
                || client_write.write_all(&payload).await.is_err()
            {
                break;
            }
            if head[3] == PING && head[4] & ACK == 0 {
                count.send_modify(|count| *count += 1);
            }
        }
        let _ = client_write.shutdown().await;
    });
    (addr, counted)
}

/// Answers every frame with the peer's address as the server saw it.
fn peer() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|frame: Frame| async move {
            let peer = frame.extensions.get::<PeerAddr>().expect("a peer").0;
            Ok::<_, Infallible>(Some(Frame::new(peer.to_string(), frame.codec.clone())))
        }),
    )
}

#[tokio::test]
async fn hyper_answers_pings_and_its_connection_is_served_across_intervals() {
    let server = start(keep_alive_only().route("/peer", peer())).await;
    let (relay, mut pings) = ping_counting_relay(server.local_addr()).await;
    let stream = TcpStream::connect(relay).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let ask = || {
        http::Request::post(format!("http://{relay}/peer"))
            .body(Full::new(Bytes::from_static(b"?")))
            .unwrap()
    };
    let first = common::read(send.send_request(ask()).await.unwrap()).await;
    assert_eq!(first.status, 200);
    let before = *pings.borrow();
    tokio::time::timeout(WAIT, pings.wait_for(|&count| count >= before + 3))
        .await
        .expect("the server keeps pinging")
        .unwrap();
    assert!(!connection.is_finished(), "the connection was closed");
    let second = common::read(send.send_request(ask()).await.unwrap()).await;
    assert_eq!(second.status, 200);
    // One connection: the server saw the same peer (the relay's port).
    assert_eq!(first.text(), second.text());
    server.shutdown().await;
}

/// Echoes each frame once `pings` has counted at least `at_least`.
fn after_pings(pings: watch::Receiver<usize>, at_least: usize) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            let mut pings = pings.clone();
            async move {
                let _ = pings.wait_for(|&count| count >= at_least).await;
                Ok::<_, Infallible>(Some(frame))
            }
        }),
    )
}

#[tokio::test]
async fn curl_answers_pings_while_its_request_is_in_flight() {
    // The server's address is known only once it is bound, the relay's
    // count only once the relay runs: the route reads it through a channel.
    let (count_tx, count_rx) = watch::channel(0);
    let server = start(keep_alive_only().route("/slow", after_pings(count_rx, 3))).await;
    let (relay, mut pings) = ping_counting_relay(server.local_addr()).await;
    tokio::spawn(async move {
        while pings.changed().await.is_ok() {
            let count = *pings.borrow_and_update();
            let _ = count_tx.send(count);
        }
    });
    // The request is answered only after three pings: by then a client
    // that did not answer them would have been disconnected.
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args(["-sS", "--http2-prior-knowledge", "--max-time", "5"])
            .args(["-H", "content-type: application/json", "--data", "late"])
            .arg(format!("http://{relay}/slow"))
            .output(),
    )
    .await
    .expect("curl in time")
    .expect("curl runs (installed by .ci/test)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "late");
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_http2_connection_without_streams_gets_goaway() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .header_read_timeout(LONG)
            .idle_timeout(SHORT)
            .http2_keep_alive_interval(None),
    )
    .await;
    let mut stream = raw_h2(server.local_addr()).await;
    let seen = until_closed(&mut stream, true).await;
    assert!(seen.position(GOAWAY).is_some(), "{seen:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_http2_peer_that_does_not_finish_the_close_is_disconnected() {
    // HTTP/2's graceful close waits for the peer to answer a PING after
    // the GOAWAY; this one never does, and keep-alive is off: only the
    // bound on the close (the keep-alive timeout) can end it.
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .header_read_timeout(LONG)
            .idle_timeout(SHORT)
            .http2_keep_alive_interval(None)
            .http2_keep_alive_timeout(SHORT),
    )
    .await;
    let mut stream = raw_h2(server.local_addr()).await;
    let seen = until_closed(&mut stream, false).await;
    let goaway = seen.position(GOAWAY).expect("a GOAWAY");
    assert!(
        seen.kinds[goaway..].contains(&PING),
        "the graceful close's PING: {seen:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_http2_request_longer_than_the_idle_timeout_is_answered_then_the_connection_closes() {
    let finished = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", slow(SHORT * 6, finished.clone()))
            .header_read_timeout(LONG)
            .idle_timeout(SHORT)
            .http2_keep_alive_interval(SHORT / 2)
            .http2_keep_alive_timeout(SHORT),
    )
    .await;
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::post(format!("http://{}/rpc", server.local_addr()))
        .body(Full::new(Bytes::from_static(b"slow")))
        .unwrap();
    let answer = common::read(send.send_request(request).await.unwrap()).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "slow"));
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    // Idle from then on: closed.
    tokio::time::timeout(WAIT, connection)
        .await
        .expect("the server should have closed the idle HTTP/2 connection")
        .unwrap()
        .ok();
    server.shutdown().await;
}

#[test]
fn keep_alive_defaults_are_documented_values() {
    assert_eq!(
        rpckit_http::DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL,
        Duration::from_secs(30)
    );
    assert_eq!(
        rpckit_http::DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
        Duration::from_secs(20)
    );
}
