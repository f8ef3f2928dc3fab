//! Run with `cargo run -p rpckit-examples --bin parallel_executing -- --addr 127.0.0.1:7001`
//!
//! flaskJSONRPCServer's `parallel_executing`: CPU-heavy methods run in
//! worker processes (this same binary, re-executed with
//! `RPCKIT_WORKER=heavy`), so `echo` keeps answering at once while they
//! compute. `--workers N` (default 2) sets how many. Methods on `/api`:
//!
//! - `echo(text)`: inline, in the server process;
//! - `fib(n)`: the n-th Fibonacci number, the slow way, in a worker;
//! - `heavy(ms)`: keeps a worker's CPU busy for `ms` milliseconds, returns
//!   that worker's pid;
//! - `workers()`: the worker processes, `[{"pid": .., "in_flight": ..}]`;
//! - `restart_workers()`: a new generation of workers; calls in flight
//!   finish on the old ones.
//!
//! Kill a worker (`kill -9 <pid>`) while it computes: that call alone gets
//! -32603, and a new worker takes its place.
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"fib","params":[30],"id":1}'
//! ```

use std::time::{Duration, Instant};

use rpckit::extract::Params;
use rpckit::worker::{run_if_worker, WorkerPool};
use rpckit::Router;
use serde_json::json;

/// What the workers serve (and, for its names, the server too).
fn heavy_api() -> Router {
    Router::new()
        .sync_method("fib", |Params((n,)): Params<(u32,)>| fib(n.min(50)))
        .sync_method("heavy", |Params((ms,)): Params<(u64,)>| {
            let until = Instant::now() + Duration::from_millis(ms.min(60_000));
            let mut spins = 0_u64;
            while Instant::now() < until {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
            std::process::id()
        })
}

fn fib(n: u32) -> u64 {
    if n < 2 {
        n.into()
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn main() -> anyhow::Result<()> {
    // In a worker this serves `heavy_api` on stdin/stdout and exits.
    run_if_worker(|pool| (pool == "heavy").then(heavy_api));
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let workers: usize = match rpckit_examples::flag_value("--workers") {
        Some(value) => value.parse()?,
        None => 2,
    };
    tokio::runtime::Runtime::new()?.block_on(async move {
        let pool = WorkerPool::builder("heavy").workers(workers).spawn()?;
        let api = heavy_api()
            .configure("fib", |s| s.executor(pool.clone()))
            .configure("heavy", |s| s.executor(pool.clone()))
            .sync_method("echo", |Params((text,)): Params<(String,)>| text)
            .sync_method("workers", {
                let pool = pool.clone();
                move || {
                    let workers: Vec<_> = pool
                        .workers()
                        .into_iter()
                        .map(|w| json!({"pid": w.pid, "in_flight": w.in_flight, "generation": w.generation}))
                        .collect();
                    serde_json::Value::from(workers)
                }
            })
            .sync_method("restart_workers", move || {
                pool.restart()
                    .map(|()| pool.generation())
                    .map_err(rpckit::ErrorObject::internal_error)
            });
        let server = rpckit::http::Server::builder()
            .route("/api", api)
            .bind(addr)
            .await?;
        println!(
            "parallel_executing listening on http://{}/api ({workers} worker processes)",
            server.local_addr()
        );
        server.serve().await?;
        anyhow::Ok(())
    })
}
