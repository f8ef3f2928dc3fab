//! Notification backends (`rpckit::notify`): queued notifications are
//! answered at once and all run, a full queue waits or rejects, and a
//! graceful stop of either transport runs every accepted notification
//! first. Handlers wait at gates (semaphores) the tests open, so the order
//! of events is fixed without sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::notify::{NotificationQueue, WhenFull};
use rpckit::{Endpoint, ReloadOptions, Router};
use serde_json::{json, Value};
#[cfg(any(feature = "http", feature = "tcp"))]
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

mod common;
use common::{is_held, send};

/// A `block` method that waits at `gate`, then counts itself in `ran`;
/// `entered` hears of each start.
struct Blocker {
    gate: Arc<Semaphore>,
    ran: Arc<AtomicUsize>,
    entered: mpsc::UnboundedReceiver<()>,
}

fn blocker(backend: Option<NotificationQueue>) -> (Router, Blocker) {
    let gate = Arc::new(Semaphore::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let router = Router::new().method("block", {
        let (gate, ran) = (gate.clone(), ran.clone());
        move || {
            let (gate, ran, entered_tx) = (gate.clone(), ran.clone(), entered_tx.clone());
            async move {
                let _ = entered_tx.send(());
                gate.acquire().await.unwrap().forget();
                ran.fetch_add(1, Ordering::SeqCst) + 1
            }
        }
    });
    let router = match backend {
        Some(queue) => router.configure("block", |s| s.notifications(queue)),
        None => router,
    };
    (router, Blocker { gate, ran, entered })
}

fn notification() -> Value {
    json!({"jsonrpc": "2.0", "method": "block"})
}

#[tokio::test]
async fn queued_notifications_are_answered_at_once_and_all_run() {
    const SENT: usize = 20;
    let queue = NotificationQueue::new(3, 64);
    let (router, mut blocker) = blocker(Some(queue.clone()));
    let endpoint = Endpoint::new(router);
    // Every handler is stuck at the gate, and yet every send returns.
    for _ in 0..SENT {
        assert!(send(&endpoint, notification()).await.is_none());
    }
    assert_eq!(queue.accepted(), SENT as u64);
    for _ in 0..3 {
        blocker.entered.recv().await.unwrap();
    }
    assert_eq!(blocker.ran.load(Ordering::SeqCst), 0);
    blocker.gate.add_permits(SENT);
    endpoint.drain().await;
    assert_eq!(blocker.ran.load(Ordering::SeqCst), SENT);
    assert_eq!(queue.completed(), SENT as u64);
    assert_eq!(queue.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_drain_waits_for_a_queue_a_reload_replaced() {
    const SENT: usize = 5;
    let queue = NotificationQueue::new(1, 64);
    let (router, mut blocker) = blocker(Some(queue.clone()));
    let api = router.handle();
    let endpoint = Endpoint::new(router);
    for _ in 0..SENT {
        assert!(send(&endpoint, notification()).await.is_none());
    }
    blocker.entered.recv().await.unwrap();
    // `block` is inline from now on: no table uses the queue any more,
    // but it still holds accepted notifications.
    api.reload(ReloadOptions::new(), |_| {
        Router::new().sync_method("block", || 0)
    })
    .await
    .expect("reload");
    assert_eq!(queue.pending(), SENT);
    let mut drained = tokio::spawn(endpoint.drain());
    assert!(
        is_held(&mut drained, Duration::from_millis(50)).await,
        "the drain forgot the replaced queue"
    );
    blocker.gate.add_permits(SENT);
    drained.await.unwrap();
    assert_eq!(blocker.ran.load(Ordering::SeqCst), SENT);
    assert_eq!(queue.pending(), 0);
}

#[tokio::test]
async fn an_inline_notification_makes_its_client_wait() {
    let (router, mut blocker) = blocker(None);
    let endpoint = Endpoint::new(router);
    let sent = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { send(&endpoint, notification()).await }
    });
    blocker.entered.recv().await.unwrap();
    // The handler is at the gate: the client has no answer yet.
    tokio::task::yield_now().await;
    assert!(!sent.is_finished());
    blocker.gate.add_permits(1);
    assert!(sent.await.unwrap().is_none());
    assert_eq!(blocker.ran.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_call_with_an_id_to_a_queued_method_is_not_queued() {
    let queue = NotificationQueue::new(1, 4);
    let (router, blocker) = blocker(Some(queue.clone()));
    let endpoint = Endpoint::new(router);
    blocker.gate.add_permits(1);
    let reply = send(
        &endpoint,
        json!({"jsonrpc": "2.0", "method": "block", "id": 9}),
    )
    .await;
    assert_eq!(reply.unwrap()["result"], 1);
    assert_eq!(queue.accepted(), 0);
}

#[tokio::test]
async fn a_full_queue_that_rejects_drops_and_counts() {
    let queue = NotificationQueue::builder()
        .workers(1)
        .capacity(1)
        .when_full(WhenFull::Reject)
        .build();
    let (router, mut blocker) = blocker(Some(queue.clone()));
    let endpoint = Endpoint::new(router);
    // One runs (held at the gate), one waits in the queue, one is too many.
    send(&endpoint, notification()).await;
    blocker.entered.recv().await.unwrap();
    send(&endpoint, notification()).await;
    send(&endpoint, notification()).await;
    assert_eq!(queue.accepted(), 2);
    assert_eq!(queue.rejected(), 1);
    blocker.gate.add_permits(3);
    queue.drain().await;
    assert_eq!(blocker.ran.load(Ordering::SeqCst), 2);
    assert_eq!(queue.completed(), 2);
}

#[tokio::test]
async fn a_full_queue_that_waits_holds_the_client_until_there_is_room() {
    let queue = NotificationQueue::builder().workers(1).capacity(1).build();
    assert_eq!(queue.when_full(), WhenFull::Wait);
    let (router, mut blocker) = blocker(Some(queue.clone()));
    let endpoint = Endpoint::new(router);
    send(&endpoint, notification()).await;
    blocker.entered.recv().await.unwrap();
    send(&endpoint, notification()).await;
    let third = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { send(&endpoint, notification()).await }
    });
    // Waiting for room counts as pending (a drain waits for it too).
    while queue.pending() < 3 {
        tokio::task::yield_now().await;
    }
    assert!(!third.is_finished());
    assert_eq!(queue.accepted(), 2);
    // The running one ends, the queued one starts, the third gets in.
    blocker.gate.add_permits(1);
    assert!(third.await.unwrap().is_none());
    assert_eq!(queue.accepted(), 3);
    blocker.gate.add_permits(2);
    queue.drain().await;
    assert_eq!(blocker.ran.load(Ordering::SeqCst), 3);
    assert_eq!(queue.rejected(), 0);
}

#[tokio::test]
async fn a_panicking_queued_notification_counts_as_run_and_the_workers_go_on() {
    let queue = NotificationQueue::new(1, 8);
    let ran = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .sync_method("boom", || -> u32 { panic!("queued boom") })
        .sync_method("count", {
            let ran = ran.clone();
            move || ran.fetch_add(1, Ordering::SeqCst)
        })
        .configure("boom", |s| s.notifications(queue.clone()))
        .configure("count", |s| s.notifications(queue.clone()));
    let endpoint = Endpoint::new(router);
    send(&endpoint, json!({"jsonrpc": "2.0", "method": "boom"})).await;
    send(&endpoint, json!({"jsonrpc": "2.0", "method": "count"})).await;
    endpoint.drain().await;
    assert_eq!(queue.completed(), 2);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "http")]
/// Writes one HTTP/1.1 POST and reads the whole answer (the server closes).
async fn post(addr: std::net::SocketAddr, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[cfg(feature = "http")]
#[tokio::test]
async fn http_shutdown_runs_every_accepted_notification_first() {
    const SENT: usize = 25;
    let queue = NotificationQueue::new(2, 64);
    let (router, blocker) = blocker(Some(queue.clone()));
    let server = rpckit::http::Server::builder()
        .route("/api", router)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr();
    let mut answered = 0;
    for _ in 0..SENT {
        let answer = post(addr, &notification().to_string()).await;
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
        answered += 1;
    }
    assert_eq!(answered, SENT);
    assert_eq!(queue.accepted(), SENT as u64);
    let stopping = tokio::spawn(server.shutdown());
    // Every connection is closed, but the notifications are at the gate:
    // the shutdown waits for them.
    tokio::task::yield_now().await;
    assert!(!stopping.is_finished());
    blocker.gate.add_permits(SENT);
    stopping.await.unwrap();
    assert_eq!(blocker.ran.load(Ordering::SeqCst), SENT);
    assert_eq!(queue.completed(), queue.accepted());
}

#[cfg(feature = "http")]
#[tokio::test]
async fn http_shutdown_stops_waiting_for_notifications_at_its_timeout() {
    let queue = NotificationQueue::new(1, 4);
    let (router, blocker) = blocker(Some(queue.clone()));
    let server = rpckit::http::Server::builder()
        .route("/api", router)
        .shutdown_timeout(Duration::from_millis(50))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let answer = post(server.local_addr(), &notification().to_string()).await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    // The gate never opens before the stop: the stop gives up on it.
    server.shutdown().await;
    assert_eq!(queue.completed(), 0);
    blocker.gate.add_permits(1);
    queue.drain().await;
}

#[cfg(feature = "tcp")]
#[tokio::test]
async fn tcp_shutdown_runs_every_accepted_notification_first() {
    const SENT: usize = 25;
    let queue = NotificationQueue::new(2, 64);
    let (router, blocker) = blocker(Some(queue.clone()));
    let server = rpckit::tcp::Server::builder(router)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr().tcp().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut lines = String::new();
    for _ in 0..SENT {
        lines.push_str(&notification().to_string());
        lines.push('\n');
    }
    // A call at the end: its answer says every notification before it
    // was read and queued.
    lines.push_str(r#"{"jsonrpc":"2.0","method":"nope","id":1}"#);
    lines.push('\n');
    stream.write_all(lines.as_bytes()).await.unwrap();
    let mut answer = vec![0; 256];
    let read = stream.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).contains("-32601"));
    assert_eq!(queue.accepted(), SENT as u64);
    drop(stream);
    let stopping = tokio::spawn(server.shutdown());
    tokio::task::yield_now().await;
    assert!(!stopping.is_finished());
    blocker.gate.add_permits(SENT);
    stopping.await.unwrap();
    assert_eq!(blocker.ran.load(Ordering::SeqCst), SENT);
    assert_eq!(queue.completed(), queue.accepted());
}
