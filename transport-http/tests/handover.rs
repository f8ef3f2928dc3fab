//! The in-process half of a hand-over: serving on `std` and inherited
//! listeners, and the lingering shutdown that loses no request of a
//! keep-alive client. The two-process hand-over itself is tested in
//! examples/tests/handover.rs.
#![cfg(unix)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{echo, post, send, WAIT};
use rpckit_http::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One `POST /echo` on `stream`; the response head (lowercased) and
/// body. Panics when the connection closes before a whole response.
async fn exchange(stream: &mut TcpStream, body: &str) -> (String, String) {
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map(|value| value.trim().parse().expect("a length"))
                    .expect("a content-length");
                if received.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                    return (head, body.into_owned());
                }
            }
            let n = stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "closed before a whole response: {received:?}");
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("a response in time")
}

/// Whether the server has closed `stream` (end of stream or reset).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 64];
    matches!(
        tokio::time::timeout(WAIT, stream.read(&mut buffer)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn a_std_listener_is_served() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .route("/echo", echo())
        .from_std_listeners([listener])
        .unwrap();
    assert!(!server.is_inherited());
    let handle = server.spawn();
    assert_eq!(send(addr, post("/echo", None, "hi")).await.text(), "hi");
    handle.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "closed at shutdown"
    );
}

#[tokio::test]
async fn from_std_listeners_needs_a_listener() {
    let err = Server::builder()
        .from_std_listeners(Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn bind_inherited_binds_the_address_when_nothing_was_inherited() {
    // This test process got no LISTEN_FDS.
    let server = Server::builder()
        .route("/echo", echo())
        .bind_inherited("127.0.0.1:0")
        .await
        .unwrap();
    assert!(!server.is_inherited());
    let handle = server.spawn();
    assert_eq!(
        send(handle.local_addr(), post("/echo", None, "hi"))
            .await
            .text(),
        "hi"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn listener_fds_duplicate_the_listening_sockets_until_shutdown() {
    let handle = Server::builder()
        .route("/echo", echo())
        .bind_all(["127.0.0.1:0", "127.0.0.1:0"])
        .await
        .unwrap()
        .spawn();
    let addrs = handle.local_addrs().to_vec();
    let fds = handle.listener_fds().expect("the sockets");
    assert_eq!(fds.len(), 2);
    // A duplicate is the same socket: a listener made of it has the
    // server's address, and keeps the port open after the server stops.
    let copy = std::net::TcpListener::from(fds.into_iter().next().unwrap());
    assert_eq!(copy.local_addr().unwrap(), addrs[0]);
    handle.shutdown().await;
    let _client = TcpStream::connect(addrs[0])
        .await
        .expect("the copy still listens");
    drop(copy);
    assert!(TcpStream::connect(addrs[1]).await.is_err());
}

#[tokio::test]
async fn lingering_an_idle_keep_alive_connection_gets_its_next_request_answered_with_close() {
    let handle = Server::builder()
        .route("/echo", echo())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr: SocketAddr = handle.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (head, body) = exchange(&mut stream, "one").await;
    assert_eq!(body, "one");
    assert!(!head.contains("connection: close"), "{head}");

    // The connection is idle now; a plain shutdown would close it at once.
    let shutdown = tokio::spawn(handle.shutdown_lingering(WAIT * 4));
    // The listener is closed first: new clients go to the successor.
    let started = std::time::Instant::now();
    while TcpStream::connect(addr).await.is_ok() {
        assert!(started.elapsed() < WAIT, "still accepting");
        tokio::task::yield_now().await;
    }
    // Every request on the idle connection is answered, until the one
    // that says `Connection: close` (the first the connection sees once it
    // knows the server lingers); then the server closes it.
    let mut answered = 0;
    loop {
        let (head, body) = exchange(&mut stream, "again").await;
        assert_eq!(body, "again");
        answered += 1;
        if head.contains("connection: close") {
            break;
        }
        assert!(answered < 1_000, "no Connection: close after {answered}");
    }
    assert!(closed(&mut stream).await, "closed after the last answer");
    // With its last connection closed, the shutdown is done before the
    // linger time.
    tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("the shutdown ends once the connection closed")
        .unwrap();
}

#[tokio::test]
async fn lingering_ends_at_the_linger_time_for_connections_that_send_nothing() {
    let handle = Server::builder()
        .route("/echo", echo())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let mut stream = TcpStream::connect(handle.local_addr()).await.unwrap();
    let (_, body) = exchange(&mut stream, "one").await;
    assert_eq!(body, "one");
    tokio::time::timeout(WAIT, handle.shutdown_lingering(Duration::from_millis(100)))
        .await
        .expect("shutdown after the linger time");
    assert!(closed(&mut stream).await, "the idle connection is closed");
}
