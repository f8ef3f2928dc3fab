//! Run with `cargo run -p rpckit-examples --bin restart -- --addr 127.0.0.1:7001`
//!
//! The port of flaskJSONRPCServer's `restart` example: calling `restart`
//! restarts the server in place with the same methods
//! ([`ServerHandle::restart`](rpckit::http::ServerHandle::restart)): a new
//! server accepts on the same socket before the old one stops, and the
//! old one finishes its calls, so no connection is refused and no request
//! lost (its own answer is delivered first). `restarts` says how many
//! restarts there have been, `echo` echoes. Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"restart","id":1}'
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"restarts","id":2}'   # 1
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::extract::Params;
use rpckit::Router;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let restarts = Arc::new(AtomicU64::new(0));
    // `restart` only asks; the loop below restarts. A handler cannot stop
    // the server it runs in and still answer.
    let (ask, mut asked) = mpsc::channel::<()>(1);
    let api = {
        let restarts = Arc::clone(&restarts);
        Router::new()
            .sync_method("echo", |Params((text,)): Params<(String,)>| text)
            .sync_method("restarts", move || restarts.load(Ordering::SeqCst))
            .sync_method("restart", move || {
                // A restart already asked for is enough.
                let _ = ask.try_send(());
                "restarting"
            })
    };
    let mut server = rpckit::http::Server::builder()
        .route("/api", api)
        .shutdown_timeout(Duration::from_secs(10))
        .bind(addr)
        .await?
        .spawn();
    println!("restart listening on http://{}/api", server.local_addr());
    loop {
        tokio::select! {
            Some(()) = asked.recv() => {
                // Counted first, so every answer after the restart sees it.
                let count = restarts.fetch_add(1, Ordering::SeqCst) + 1;
                server = server.restart().await?;
                tracing::info!(count, addr = %server.local_addr(), "restarted");
            }
            signal = tokio::signal::ctrl_c() => {
                signal?;
                break;
            }
        }
    }
    server.shutdown().await;
    Ok(())
}
