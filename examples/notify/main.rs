//! Run with `cargo run -p rpckit-examples --bin notify -- --addr 127.0.0.1:7001 --queued-addr 127.0.0.1:7002`
//!
//! flaskJSONRPCServer's notification backends, side by side: two servers
//! in one process with the same methods on `/api`.
//!
//! - On `--addr` (default 127.0.0.1:7001) notifications run inline: the
//!   client's request returns when the handler is done.
//! - On `--queued-addr` (default 127.0.0.1:7002) they go on a background
//!   queue (4 workers, room for 1,000; a full queue makes clients wait):
//!   the client is answered at once.
//!
//! `block(ms)` sleeps `ms` milliseconds (default 1000) and counts itself
//! done; `done_count()` says how many finished, `accepted_count()` how
//! many notifications the queue took. On Ctrl-C or SIGTERM both servers
//! stop gracefully; the queued one first runs every notification it
//! accepted, and the last line says so.
//!
//! ```text
//! time curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"block","params":[2000]}'   # 2 s
//! time curl -s http://127.0.0.1:7002/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"block","params":[2000]}'   # at once
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::extract::Params;
use rpckit::notify::NotificationQueue;
use rpckit::Router;
use serde::Deserialize;

#[derive(Deserialize)]
struct Block {
    #[serde(default = "one_second")]
    ms: u64,
}

fn one_second() -> u64 {
    1000
}

fn api(done: Arc<AtomicU64>, queue: Option<NotificationQueue>) -> Router {
    let router = Router::new()
        .method("block", {
            let done = Arc::clone(&done);
            move |Params(block): Params<Block>| {
                let done = Arc::clone(&done);
                async move {
                    tokio::time::sleep(Duration::from_millis(block.ms.min(60_000))).await;
                    done.fetch_add(1, Ordering::SeqCst) + 1
                }
            }
        })
        .sync_method("done_count", move || done.load(Ordering::SeqCst));
    match queue {
        Some(queue) => {
            let accepted = queue.clone();
            router
                .configure("block", |s| s.notifications(queue))
                .sync_method("accepted_count", move || accepted.accepted())
        }
        None => router.sync_method("accepted_count", || 0_u64),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let queued_addr: SocketAddr = rpckit_examples::flag_value("--queued-addr")
        .unwrap_or_else(|| "127.0.0.1:7002".to_owned())
        .parse()
        .map_err(|err| anyhow::anyhow!("--queued-addr: {err} (expected HOST:PORT)"))?;
    let (inline_done, queued_done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let queue = NotificationQueue::new(4, 1000);
    let inline = rpckit::http::Server::builder()
        .route("/api", api(Arc::clone(&inline_done), None))
        .bind(addr)
        .await?
        .spawn();
    let queued = rpckit::http::Server::builder()
        .route("/api", api(Arc::clone(&queued_done), Some(queue.clone())))
        .shutdown_timeout(Duration::from_secs(60))
        .bind(queued_addr)
        .await?
        .spawn();
    println!(
        "notify listening on http://{}/api (inline) and http://{}/api (queued)",
        inline.local_addr(),
        queued.local_addr()
    );
    stop_signal().await?;
    tokio::join!(inline.shutdown(), queued.shutdown());
    println!(
        "stopped: inline done {}, queued done {} of {} accepted",
        inline_done.load(Ordering::SeqCst),
        queued_done.load(Ordering::SeqCst),
        queue.accepted()
    );
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
