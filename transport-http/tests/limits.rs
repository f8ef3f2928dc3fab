//! The body size limit: declared lengths and chunked bodies.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{codecs, post, raw_head, send, start};
use rpckit_codec::Frame;
use rpckit_http::{Route, Server};
use tokio::net::TcpStream;

/// An echo service that counts its calls.
fn counting(calls: Arc<AtomicUsize>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Infallible>(Some(frame)) }
        }),
    )
}

#[tokio::test]
async fn body_at_the_limit_passes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", counting(calls.clone()))
            .max_body_size(4),
    )
    .await;
    let answer = send(server.local_addr(), post("/rpc", None, "1234")).await;
    assert_eq!(answer.status, 200);
    let answer = send(server.local_addr(), post("/rpc", None, "12345")).await;
    assert_eq!(answer.status, 413);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn declared_length_over_limit_is_refused_without_reading_the_body() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", counting(calls.clone()))
            .max_body_size(1024),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // Headers only: the body never comes, so the 413 can only arrive if the
    // server answers without waiting for it.
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 10000000000\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn default_limit_is_ten_mebibytes() {
    let server = start(Server::builder().route("/rpc", counting(Default::default()))).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10485761\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(rpckit_http::DEFAULT_MAX_BODY_SIZE, 10 * 1024 * 1024);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn chunked_body_is_cut_off_when_it_crosses_the_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", counting(calls.clone()))
            .max_body_size(1024),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut request =
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(b"200\r\n");
        request.extend_from_slice(&[b' '; 0x200]);
        request.extend_from_slice(b"\r\n");
    }
    // No closing chunk: the body is still open when the 413 must come.
    let head = raw_head(&mut stream, &request).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn chunked_body_within_the_limit_is_served() {
    let server = start(
        Server::builder()
            .route("/rpc", counting(Default::default()))
            .max_body_size(1024),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn client_vanishing_mid_body_leaves_the_server_serving() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(Server::builder().route("/rpc", counting(calls.clone()))).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc",
    )
    .await
    .unwrap();
    drop(stream);
    let answer = send(server.local_addr(), post("/rpc", None, "x")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}
