//! Run with `cargo run -p rpckit-examples --bin multiple -- --addr 127.0.0.1:7001`
//!
//! The port of flaskJSONRPCServer's `multiple` example: three servers in
//! one process, on the given port and the two after it (7001, 7002, 7003
//! by default; with port 0 each gets a free port). The first two share one
//! router, so they share its state; the third has its own. Each serves
//! `/api` with `echo` and `hits` (how many calls `hits` has had on this
//! router). Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"hits","id":1}'   # 1
//! curl -s http://127.0.0.1:7002/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"hits","id":1}'   # 2: shared with 7001
//! curl -s http://127.0.0.1:7003/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"hits","id":1}'   # 1: its own
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rpckit::extract::Params;
use rpckit::Router;

/// `echo` and a `hits` counter of its own.
fn api(name: &'static str) -> Router {
    let hits = Arc::new(AtomicU64::new(0));
    Router::new()
        .sync_method("echo", |Params((text,)): Params<(String,)>| text)
        .sync_method("hits", move || hits.fetch_add(1, Ordering::SeqCst) + 1)
        .sync_method("router", move || name)
}

/// The given address and the two ports after it; three times port 0 for
/// port 0.
fn addrs(first: SocketAddr) -> anyhow::Result<[SocketAddr; 3]> {
    let port = |offset: u16| -> anyhow::Result<SocketAddr> {
        if first.port() == 0 {
            return Ok(first);
        }
        let port = first
            .port()
            .checked_add(offset)
            .ok_or_else(|| anyhow::anyhow!("--addr {first}: no room for two more ports"))?;
        Ok(SocketAddr::new(first.ip(), port))
    };
    Ok([port(0)?, port(1)?, port(2)?])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let [first, second, third] = addrs(rpckit_examples::addr_from_args()?)?;
    // A `Router` (and a `Route`) is cheap to clone: clones share the
    // methods and their state.
    let shared = api("shared");
    let mut servers = Vec::new();
    for (addr, router) in [
        (first, shared.clone()),
        (second, shared),
        (third, api("own")),
    ] {
        let server = rpckit::http::Server::builder()
            .route("/api", router)
            .bind(addr)
            .await?
            .spawn();
        servers.push(server);
    }
    let urls: Vec<String> = servers
        .iter()
        .map(|server| format!("http://{}/api", server.local_addr()))
        .collect();
    println!("multiple listening on {}", urls.join(" "));
    tokio::signal::ctrl_c().await?;
    for server in servers {
        server.shutdown().await;
    }
    Ok(())
}
