//! Connection limits and timeouts: header read, idle (HTTP/1 and HTTP/2),
//! per request, and the connection limit.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{codecs, echo, post, raw_head, slow, start, H1, WAIT};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rpckit_codec::Frame;
use rpckit_http::{Cors, Route, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A short limit for the tests; the assertions wait up to [`WAIT`].
const SHORT: Duration = Duration::from_millis(200);

/// Reads until the server closes the connection; fails if it has not
/// within [`WAIT`]. Returns what arrived before the end.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .expect("the server should have closed the connection");
    received
}

#[tokio::test]
async fn a_client_sending_half_a_header_is_disconnected() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .header_read_timeout(SHORT)
            .idle_timeout(Duration::from_secs(600)),
    )
    .await;
    let mut slow = TcpStream::connect(server.local_addr()).await.unwrap();
    slow.write_all(b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-")
        .await
        .unwrap();
    let received = until_closed(&mut slow).await;
    assert!(
        !received.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    // The server lives on.
    let answer = common::send(server.local_addr(), post("/rpc", None, "ok")).await;
    assert_eq!(answer.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn half_a_second_request_head_on_a_kept_alive_connection_is_cut_off() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .header_read_timeout(SHORT)
            .idle_timeout(Duration::from_secs(600)),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The idle timeout is far away: only the header read timeout can close it.
    stream
        .write_all(b"POST /rpc HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    until_closed(&mut stream).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_sending_nothing_is_disconnected() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .header_read_timeout(SHORT)
            .idle_timeout(Duration::from_secs(600)),
    )
    .await;
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    assert!(until_closed(&mut silent).await.is_empty());
    // Nor can a client hold a connection with a partial HTTP/2 preface.
    let mut half_h2 = TcpStream::connect(server.local_addr()).await.unwrap();
    half_h2.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(until_closed(&mut half_h2).await.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .idle_timeout(SHORT)
            .header_read_timeout(Duration::from_secs(600)),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Keep-alive: the connection stays open after the answer, until idle.
    until_closed(&mut stream).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_http2_connection_gets_goaway() {
    let server = start(
        Server::builder()
            .route("/rpc", echo())
            .idle_timeout(SHORT)
            .header_read_timeout(Duration::from_secs(600)),
    )
    .await;
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::post(format!("http://{}/rpc", server.local_addr()))
        .body(Full::new(Bytes::from_static(b"h2")))
        .unwrap();
    let answer = common::read(send.send_request(request).await.unwrap()).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "h2"));
    // The client's connection task ends when the server closes it.
    tokio::time::timeout(WAIT, connection)
        .await
        .expect("the server should have closed the idle HTTP/2 connection")
        .unwrap()
        .ok();
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_longer_than_the_idle_timeout_is_not_cut_off() {
    let finished = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", slow(SHORT * 3, finished.clone()))
            .idle_timeout(SHORT / 2),
    )
    .await;
    let answer = common::send(server.local_addr(), post("/rpc", None, "slow")).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "slow"));
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

/// Never answers; sets the flag when its future is dropped.
fn hanging(dropped: Arc<AtomicBool>) -> Route {
    struct OnDrop(Arc<AtomicBool>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    Route::new(
        codecs(),
        tower::service_fn(move |_: Frame| {
            let guard = OnDrop(dropped.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, Infallible>(None)
            }
        }),
    )
}

#[tokio::test]
async fn a_request_over_the_request_timeout_gets_503_and_is_cancelled() {
    let dropped = Arc::new(AtomicBool::new(false));
    let server = start(
        Server::builder()
            .route("/hang", hanging(dropped.clone()))
            .route("/rpc", echo())
            .request_timeout(SHORT)
            .cors(Cors::permissive()),
    )
    .await;
    let mut connection = H1::connect(server.local_addr()).await;
    let mut request = post("/hang", None, "x");
    request
        .headers_mut()
        .insert("origin", "http://other.test".parse().unwrap());
    let answer = connection.send(request).await;
    assert_eq!(answer.status, 503);
    assert!(answer.text().contains("longer than"), "{}", answer.text());
    // The browser can read it: CORS headers like any other answer.
    assert!(answer.header("access-control-allow-origin").is_some());
    assert!(dropped.load(Ordering::SeqCst), "the service kept running");
    // The connection goes on serving.
    let answer = connection.send(post("/rpc", None, "next")).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "next"));
    server.shutdown().await;
}

#[tokio::test]
async fn request_timeout_off_lets_a_slow_request_finish() {
    let finished = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", slow(SHORT * 2, finished.clone()))
            .request_timeout(None),
    )
    .await;
    let answer = common::send(server.local_addr(), post("/rpc", None, "done")).await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "done"));
    server.shutdown().await;
}

#[tokio::test]
async fn past_max_connections_the_server_waits_until_one_closes() {
    // Records, per call, whether the first connection had closed by then.
    let first_closed = Arc::new(AtomicBool::new(false));
    let (calls_tx, mut calls) = mpsc::unbounded_channel();
    let route = {
        let first_closed = first_closed.clone();
        Route::new(
            codecs(),
            tower::service_fn(move |frame: Frame| {
                let _ = calls_tx.send(first_closed.load(Ordering::SeqCst));
                async move { Ok::<_, Infallible>(Some(frame)) }
            }),
        )
    };
    let server = start(Server::builder().route("/rpc", route).max_connections(1)).await;
    let mut first = H1::connect(server.local_addr()).await;
    let answer = first.send(post("/rpc", None, "first")).await;
    assert_eq!(answer.status, 200);
    assert!(!calls.recv().await.unwrap());

    // The second connects (the kernel's backlog takes it) but is not served.
    let mut second = H1::connect(server.local_addr()).await;
    let waiting = tokio::spawn(async move { second.send(post("/rpc", None, "second")).await });
    assert!(
        tokio::time::timeout(SHORT, calls.recv()).await.is_err(),
        "a second connection was served past max_connections(1)"
    );
    first_closed.store(true, Ordering::SeqCst);
    drop(first);
    let answer = waiting.await.unwrap();
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "second"));
    assert!(
        calls.recv().await.unwrap(),
        "the second connection was served before the first closed"
    );
    server.shutdown().await;
}

#[test]
fn defaults_are_documented_values() {
    assert_eq!(rpckit_http::DEFAULT_MAX_CONNECTIONS, 10_000);
    assert_eq!(
        rpckit_http::DEFAULT_HEADER_READ_TIMEOUT,
        Duration::from_secs(30)
    );
    assert_eq!(rpckit_http::DEFAULT_IDLE_TIMEOUT, Duration::from_secs(60));
    assert_eq!(
        rpckit_http::DEFAULT_REQUEST_TIMEOUT,
        Duration::from_secs(60)
    );
    assert_eq!(
        rpckit_http::DEFAULT_SHUTDOWN_TIMEOUT,
        Duration::from_secs(30)
    );
}

#[test]
#[should_panic(expected = "max_connections must be at least 1")]
fn zero_max_connections_panics() {
    let _ = Server::builder().max_connections(0);
}
