//! Run with `cargo run -p rpckit-examples --bin operations -- --addr 127.0.0.1:7001`
//!
//! Every operation of a running server in one: hot reload, locking,
//! worker processes that may crash, a graceful restart in place and a
//! zero-downtime hand-over to a new process, each triggered by a call, so
//! that a client (or a test) can run them all under load and count that
//! every request sent is answered. Methods on `/api`:
//!
//! - `compute(n)`: `n × version`, where `version` is 1, 2 or 3;
//!   `reload_api()` swaps `compute` for the next version (atomically;
//!   calls meanwhile are held, then served by the new one) and returns it;
//! - `lock()` / `unlock()`: lock the whole router (calls wait, they are
//!   not rejected) and unlock it; `unlock` is exempt from the lock;
//! - `heavy(ms)`: keeps a worker process's CPU busy for `ms` milliseconds
//!   and returns the worker's pid; `crash()` makes a worker abort (that
//!   call alone, and any other in flight on the same worker, answers
//!   -32603; a new worker takes its place); `workers()` lists their pids;
//! - `restart()`: restarts the server in place, on the same socket, with
//!   the same methods; `restarts()` counts;
//! - `handover()`: starts this binary again with the listening socket
//!   (`LISTEN_FDS`); once it is ready this process lingers, drains and
//!   exits 0 (also on `SIGUSR2`);
//! - `pid()` and `echo(text)`.
//!
//! Each process prints `operations listening on http://ADDR/api (pid N,
//! bound|took over)`; the successor inherits stdout.
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"reload_api","id":1}'    # 2
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"compute","params":[21],"id":2}'   # 42
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpckit::codec::ErrorCode;
use rpckit::extract::Params;
use rpckit::http::{ServerHandle, Successor};
use rpckit::worker::{run_if_worker, WorkerPool};
use rpckit::{ApiHandle, ErrorObject, ReloadOptions, Router};
use serde_json::Value;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// How long the old process keeps idle keep-alive connections open for
/// their next request after the hand-over.
const LINGER: Duration = Duration::from_secs(2);

/// What the loop in `main` is asked to do: a handler cannot stop the
/// server it runs in and still answer.
#[derive(Debug)]
enum Ask {
    Restart,
    HandOver,
}

/// What the worker processes serve.
fn worker_api() -> Router {
    Router::new()
        .sync_method("heavy", |Params((ms,)): Params<(u64,)>| {
            let until = Instant::now() + Duration::from_millis(ms.min(10_000));
            let mut spins = 0_u64;
            while Instant::now() < until {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
            std::process::id()
        })
        .sync_method("crash", || -> u32 { std::process::abort() })
}

/// `compute` as of `version` (1, 2 or 3), which it carries as its state
/// for the next reload to read.
fn compute(version: u8) -> Router {
    let factor = f64::from(version);
    Router::new()
        .sync_method("compute", move |Params((n,)): Params<(f64,)>| n * factor)
        .with_state("compute", Arc::new(version))
}

/// The next version of `compute`, from inside a handler: the reload waits
/// for the other calls in flight (not for this one) and holds new calls
/// meanwhile.
async fn reload_api(api: ApiHandle) -> Result<u8, ErrorObject> {
    let mut next = 0;
    api.try_reload(ReloadOptions::new(), |old| {
        let now = old.state::<u8>("compute").ok_or("no version state")?;
        next = *now % 3 + 1;
        Ok::<_, &str>(compute(next))
    })
    .await
    .map_err(|error| ErrorObject::new(ErrorCode::ServerError(-32_000), error.to_string()))?;
    Ok(next)
}

fn api(pool: WorkerPool, ask: mpsc::Sender<Ask>, restarts: Arc<AtomicU64>) -> Router {
    let workers = pool.clone();
    let restart = ask.clone();
    worker_api()
        .configure("heavy", |s| s.executor(pool.clone()))
        .configure("crash", |s| s.executor(pool))
        .sync_method("workers", move || {
            let pids: Vec<u32> = workers.workers().into_iter().map(|w| w.pid).collect();
            Value::from(pids)
        })
        .merge(compute(1))
        .method("reload_api", reload_api)
        .method("lock", |api: ApiHandle| async move { api.lock() })
        .method("unlock", |api: ApiHandle| async move { api.unlock() })
        .configure("unlock", |s| s.lock_exempt(true))
        .sync_method("restart", move || {
            // A restart already asked for is enough.
            let _ = restart.try_send(Ask::Restart);
            "restarting"
        })
        .sync_method("restarts", move || restarts.load(Ordering::SeqCst))
        .sync_method("handover", move || {
            let _ = ask.try_send(Ask::HandOver);
            "handing over"
        })
        .sync_method("pid", std::process::id)
        .sync_method("echo", |Params((text,)): Params<(Value,)>| text)
}

fn main() -> anyhow::Result<()> {
    // In a worker this serves `worker_api` on stdin/stdout and exits.
    run_if_worker(|pool| (pool == "operations").then(worker_api));
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let pool = WorkerPool::builder("operations").workers(2).spawn()?;
        let (ask, asked) = mpsc::channel(1);
        let restarts = Arc::new(AtomicU64::new(0));
        let server = rpckit::http::Server::builder()
            .route("/api", api(pool, ask, Arc::clone(&restarts)))
            .shutdown_timeout(Duration::from_secs(10))
            // The predecessor's socket if there is one, else `--addr`.
            .bind_inherited(addr)
            .await?;
        let how = if server.is_inherited() {
            "took over"
        } else {
            "bound"
        };
        let handle = server.spawn();
        println!(
            "operations listening on http://{}/api (pid {}, {how})",
            handle.local_addr(),
            std::process::id()
        );
        // Serving: the predecessor (if any) may go now.
        rpckit::http::notify_ready()?;
        run(handle, asked, restarts).await
    })
}

/// Restarts and hands over when asked, until a signal or a hand-over ends
/// this process.
async fn run(
    mut handle: ServerHandle,
    mut asked: mpsc::Receiver<Ask>,
    restarts: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut term = signal(SignalKind::terminate())?;
    loop {
        let ask = tokio::select! {
            Some(ask) = asked.recv() => ask,
            _ = usr2.recv() => Ask::HandOver,
            _ = term.recv() => break,
            signal = tokio::signal::ctrl_c() => {
                signal?;
                break;
            }
        };
        match ask {
            Ask::Restart => {
                // Counted first, so every answer after the restart sees it.
                restarts.fetch_add(1, Ordering::SeqCst);
                handle = handle.restart().await?;
            }
            Ask::HandOver => match handle.hand_over(Successor::current_exe()?).await {
                Ok(successor) => {
                    tracing::info!(pid = ?successor.id(), "handed over; draining");
                    handle.shutdown_lingering(LINGER).await;
                    return Ok(());
                }
                // Nothing changed: this process still serves.
                Err(err) => tracing::error!(error = %err, "hand-over failed; still serving"),
            },
        }
    }
    handle.shutdown().await;
    Ok(())
}
