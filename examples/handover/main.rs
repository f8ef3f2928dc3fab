//! Run with `cargo run -p rpckit-examples --bin handover -- --addr 127.0.0.1:7001`
//!
//! Zero-downtime restart. Calling `handover` (or sending the process
//! `SIGUSR2`) starts this program again — the same binary path, so a new
//! build installed there is what runs — with the listening socket passed
//! as fd 3 (`LISTEN_FDS`, the systemd convention). The new process takes
//! the socket over instead of binding, serves, and says it is ready; then
//! this one stops accepting, answers each keep-alive connection's next
//! request with `Connection: close`, finishes its in-flight calls, and
//! exits 0. Both accept from the same kernel queue meanwhile, so no
//! connection is refused and no request fails. `pid` says which process
//! answered; `sleep(ms)` answers the pid after a while (a call in flight
//! across the switch); `echo` echoes. Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"pid","id":1}'
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"handover","id":2}'
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"pid","id":3}'    # another pid
//! ```
//!
//! Each process prints `handover listening on http://ADDR/api (pid N,
//! bound|took over)` on stdout; the successor inherits stdout.

use std::time::Duration;

use rpckit::extract::Params;
use rpckit::http::Successor;
use rpckit::Router;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// How long the old process keeps idle keep-alive connections open for
/// their next request after the hand-over.
const LINGER: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    // `handover` only asks; the loop below hands over. A handler cannot
    // stop the server it runs in and still answer.
    let (ask, mut asked) = mpsc::channel::<()>(1);
    let api = Router::new()
        .sync_method("pid", std::process::id)
        .sync_method("echo", |Params((text,)): Params<(String,)>| text)
        .method("sleep", |Params((ms,)): Params<(u64,)>| async move {
            tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
            std::process::id()
        })
        .sync_method("handover", move || {
            // A hand-over already asked for is enough.
            let _ = ask.try_send(());
            "handing over"
        });
    let server = rpckit::http::Server::builder()
        .route("/api", api)
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
        "handover listening on http://{}/api (pid {}, {how})",
        handle.local_addr(),
        std::process::id()
    );
    // Serving: the predecessor (if any) may go now.
    rpckit::http::notify_ready()?;

    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut term = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            Some(()) = asked.recv() => {}
            _ = usr2.recv() => {}
            _ = term.recv() => break,
            signal = tokio::signal::ctrl_c() => {
                signal?;
                break;
            }
        }
        match handle.hand_over(Successor::current_exe()?).await {
            Ok(successor) => {
                tracing::info!(pid = ?successor.id(), "handed over; draining");
                handle.shutdown_lingering(LINGER).await;
                return Ok(());
            }
            // Nothing changed: this process still serves.
            Err(err) => tracing::error!(error = %err, "hand-over failed; still serving"),
        }
    }
    handle.shutdown().await;
    Ok(())
}
