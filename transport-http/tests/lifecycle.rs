//! Serving: several addresses, several servers sharing a route, graceful
//! shutdown with a deadline, and restart on the same sockets.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{codecs, echo, post, send, start, H1, WAIT};
use rpckit_codec::Frame;
use rpckit_http::{Route, Server};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Answers every frame with how many frames it has answered so far.
fn counter(calls: Arc<AtomicUsize>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            let count = calls.fetch_add(1, Ordering::SeqCst) + 1;
            let reply = Frame::new(count.to_string(), frame.codec.clone());
            async move { Ok::<_, Infallible>(Some(reply)) }
        }),
    )
}

async fn count_at(addr: std::net::SocketAddr) -> String {
    send(addr, post("/count", None, "x"))
        .await
        .text()
        .to_owned()
}

#[tokio::test]
async fn one_server_listens_on_several_addresses() {
    let server = Server::builder()
        .route("/count", counter(Default::default()))
        .bind_all(["127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"])
        .await
        .unwrap()
        .spawn();
    let addrs = server.local_addrs().to_vec();
    assert_eq!(addrs.len(), 3);
    assert_eq!(server.local_addr(), addrs[0]);
    assert!(addrs[0] != addrs[1] && addrs[1] != addrs[2] && addrs[0] != addrs[2]);
    // One server: one route, one count across its addresses.
    assert_eq!(count_at(addrs[0]).await, "1");
    assert_eq!(count_at(addrs[1]).await, "2");
    assert_eq!(count_at(addrs[2]).await, "3");
    server.shutdown().await;
    for addr in addrs {
        assert!(TcpStream::connect(addr).await.is_err(), "{addr} still open");
    }
}

#[tokio::test]
async fn bind_all_without_addresses_is_an_error() {
    let err = Server::builder()
        .bind_all(Vec::<std::net::SocketAddr>::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn several_servers_share_a_route_or_keep_their_own() {
    let shared_calls = Arc::new(AtomicUsize::new(0));
    let shared = counter(shared_calls.clone());
    let own_calls = Arc::new(AtomicUsize::new(0));
    let one = start(Server::builder().route("/count", shared.clone())).await;
    let two = start(Server::builder().route("/count", shared)).await;
    let three = start(Server::builder().route("/count", counter(own_calls.clone()))).await;

    assert_eq!(count_at(one.local_addr()).await, "1");
    assert_eq!(count_at(two.local_addr()).await, "2");
    assert_eq!(count_at(three.local_addr()).await, "1");
    assert_eq!(count_at(one.local_addr()).await, "3");
    assert_eq!(shared_calls.load(Ordering::SeqCst), 3);
    assert_eq!(own_calls.load(Ordering::SeqCst), 1);

    // Stopping one leaves the others serving.
    one.shutdown().await;
    assert_eq!(count_at(two.local_addr()).await, "4");
    two.shutdown().await;
    three.shutdown().await;
}

#[tokio::test]
async fn restart_refuses_no_connection_and_keeps_its_routes() {
    let server = start(Server::builder().route("/count", counter(Default::default()))).await;
    let addr = server.local_addr();
    // A keep-alive connection from before the restart.
    let mut old = H1::connect(addr).await;
    assert_eq!(old.send(post("/count", None, "x")).await.text(), "1");

    let restarting = tokio::spawn(server.restart());
    // The old connection's next request is answered, by the old server
    // (lingering) or before it was told to stop.
    assert_eq!(old.send(post("/count", None, "x")).await.text(), "2");
    // Fresh connections all through the restart: none refused (`send`
    // fails the test on a refused connection), every one answered, by the
    // same route instance, so the count goes on.
    let mut count = 2;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !restarting.is_finished() {
        assert!(tokio::time::Instant::now() < deadline, "restart in time");
        count += 1;
        assert_eq!(count_at(addr).await, count.to_string());
    }
    let server = restarting.await.unwrap().expect("restart");
    assert_eq!(server.local_addr(), addr);
    assert_eq!(count_at(addr).await, (count + 1).to_string());

    // Stopping in between, through the explicit steps: refused meanwhile.
    let stopped = server.shutdown().await;
    assert_eq!(stopped.local_addrs(), &[addr]);
    assert!(TcpStream::connect(addr).await.is_err(), "stopped, yet open");
    let server = stopped.bind().await.unwrap().spawn();
    assert_eq!(count_at(addr).await, (count + 2).to_string());
    server.shutdown().await;
}

#[tokio::test]
async fn serve_with_shutdown_returns_a_server_to_bind_again() {
    let (stop_tx, mut stop_rx) = mpsc::channel::<()>(1);
    let bound = Server::builder()
        .route("/count", counter(Default::default()))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = bound.local_addr();
    let serving = tokio::spawn(bound.serve_with_shutdown(async move {
        stop_rx.recv().await;
    }));
    assert_eq!(count_at(addr).await, "1");
    stop_tx.send(()).await.unwrap();
    let stopped = tokio::time::timeout(WAIT, serving)
        .await
        .expect("stopped in time")
        .unwrap()
        .unwrap();
    let again = stopped.bind().await.unwrap().spawn();
    assert_eq!(count_at(addr).await, "2");
    again.shutdown().await;
}

/// Tells the test when a request arrived, then never answers.
fn hanging(started: mpsc::UnboundedSender<()>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |_: Frame| {
            let _ = started.send(());
            async move {
                std::future::pending::<()>().await;
                Ok::<_, Infallible>(None)
            }
        }),
    )
}

#[tokio::test]
async fn past_the_shutdown_timeout_busy_connections_are_closed() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let server = start(
        Server::builder()
            .route("/hang", hanging(started_tx))
            .request_timeout(None)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .await;
    let addr = server.local_addr();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let in_flight = tokio::spawn(send.send_request(post("/hang", None, "x")));
    tokio::time::timeout(WAIT, started.recv())
        .await
        .unwrap()
        .unwrap();

    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown should end at its deadline, not wait for the request");
    let outcome = tokio::time::timeout(WAIT, in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(
        outcome.is_err(),
        "the hanging request got an answer: {outcome:?}"
    );
}

#[tokio::test]
async fn http2_streams_in_flight_finish_during_shutdown() {
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let route = Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            let _ = started_tx.send(());
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, Infallible>(Some(frame))
            }
        }),
    );
    let server = start(Server::builder().route("/rpc", route)).await;
    let addr = server.local_addr();
    let request = http::Request::post(format!("http://{addr}/rpc"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"h2")))
        .unwrap();
    let in_flight = tokio::spawn(common::send_h2(addr, request));
    tokio::time::timeout(WAIT, started.recv())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown in time");
    let answer = in_flight.await.unwrap();
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "h2"));
}

#[tokio::test]
async fn echo_still_works_after_many_restarts() {
    let mut server = start(Server::builder().route("/rpc", echo())).await;
    let addr = server.local_addr();
    for round in 0..5 {
        let body: &'static str = Box::leak(format!("round {round}").into_boxed_str());
        let answer = send(addr, post("/rpc", None, body)).await;
        assert_eq!(answer.text(), body);
        server = server.restart().await.unwrap();
    }
    server.shutdown().await;
}

#[test]
fn lifecycle_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<rpckit_http::ServerBuilder>();
    assert_send_sync::<rpckit_http::BoundServer>();
    assert_send_sync::<rpckit_http::ServerHandle>();
    assert_send_sync::<rpckit_http::StoppedServer>();
    assert_send_sync::<rpckit_http::OpenFileLimit>();
    #[cfg(feature = "tls")]
    {
        assert_send_sync::<rpckit_http::TlsConfig>();
        assert_send_sync::<rpckit_http::TlsError>();
    }
}
