//! Protocols and connection lifecycle: HTTP/2 prior knowledge, keep-alive,
//! graceful shutdown.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{codecs, echo, post, send_h2, start, H1, WAIT};
use rpckit_codec::Frame;
use rpckit_http::{Route, Server};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[tokio::test]
async fn http2_prior_knowledge() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let uri = format!("http://{}/rpc", server.local_addr());
    let request = http::Request::post(uri)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"[1]")))
        .unwrap();
    let answer = send_h2(server.local_addr(), request).await;
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), "[1]");
    server.shutdown().await;
}

#[tokio::test]
async fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut connection = H1::connect(server.local_addr()).await;
    let first = connection.send(post("/rpc", None, "one")).await;
    let second = connection.send(post("/rpc", None, "two")).await;
    assert_eq!(first.version, http::Version::HTTP_11);
    assert_eq!((first.status.as_u16(), first.text()), (200, "one"));
    assert_eq!((second.status.as_u16(), second.text()), (200, "two"));
    assert_eq!(second.header("connection"), None);
    server.shutdown().await;
}

/// Tells the test when a request has arrived, then takes its time.
fn slow(started: mpsc::UnboundedSender<()>, finished: Arc<AtomicBool>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            let started = started.clone();
            let finished = finished.clone();
            async move {
                let _ = started.send(());
                tokio::time::sleep(Duration::from_millis(300)).await;
                finished.store(true, Ordering::SeqCst);
                Ok::<_, Infallible>(Some(frame))
            }
        }),
    )
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicBool::new(false));
    let server = start(Server::builder().route("/rpc", slow(started_tx, finished.clone()))).await;
    let addr = server.local_addr();

    // An idle keep-alive connection must not hold shutdown up.
    let mut idle = H1::connect(addr).await;
    let warm_up = tokio::spawn(async move {
        let answer = idle.send(post("/rpc", None, "warm")).await;
        (idle, answer)
    });
    started.recv().await.unwrap();
    let (_idle, answer) = warm_up.await.unwrap();
    assert_eq!(answer.status, 200);
    finished.store(false, Ordering::SeqCst);

    let mut busy = H1::connect(addr).await;
    let in_flight = tokio::spawn(async move { busy.send(post("/rpc", None, "slow")).await });
    tokio::time::timeout(WAIT, started.recv())
        .await
        .unwrap()
        .unwrap();

    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown in time");
    assert!(
        finished.load(Ordering::SeqCst),
        "shutdown returned before the in-flight request finished"
    );
    let answer = in_flight.await.unwrap();
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "slow"));

    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_handle_leaves_the_server_running() {
    let handle = start(Server::builder().route("/rpc", echo())).await;
    let addr = handle.local_addr();
    drop(handle);
    let answer = common::send(addr, post("/rpc", None, "still here")).await;
    assert_eq!(answer.status, 200);
}

/// HTTP/1.1 pipelining: three requests written at once, before any answer
/// is read, come back as three answers in the order sent.
#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let bodies = ["one", "two", "three"];
    let mut requests = Vec::new();
    for body in bodies {
        requests.extend_from_slice(
            format!(
                "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    stream.write_all(&requests).await.unwrap();

    let mut received = Vec::new();
    let mut answers = Vec::new();
    tokio::time::timeout(WAIT, async {
        while answers.len() < bodies.len() {
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert_ne!(n, 0, "connection closed after {} answers", answers.len());
            received.extend_from_slice(&chunk[..n]);
            // Take every complete answer off the front of what arrived.
            while let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(received[..end].to_vec()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap())
                    })
                    .expect("an answer with a length");
                if received.len() < end + 4 + length {
                    break;
                }
                let body = String::from_utf8(received[end + 4..end + 4 + length].to_vec()).unwrap();
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                answers.push(body);
                received.drain(..end + 4 + length);
            }
        }
    })
    .await
    .expect("three answers in time");
    assert_eq!(answers, bodies);
    server.shutdown().await;
}
