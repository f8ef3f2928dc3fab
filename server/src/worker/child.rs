//! The worker side: serving a router on stdin and stdout.

use std::io::{self, Write};

use rpckit_codec::{Codecs, MsgPackCodec};
use tokio::io::AsyncWriteExt;

use crate::{Endpoint, Router};

/// The environment variable that makes a process a worker; its value is
/// the pool's name.
pub const WORKER_ENV: &str = "RPCKIT_WORKER";

/// What a worker writes to stdout when it is ready to serve; the parent
/// skips everything before it.
pub const READY_LINE: &[u8] = b"\n--rpckit-worker-ready--\n";

/// In a worker process, serves the router `build` returns for the pool's
/// name and exits; elsewhere, returns at once. Call it first thing in
/// `main`, before any tokio runtime starts (it starts its own).
///
/// A worker exits with status 0 when the parent closes its stdin (every
/// call read by then is answered), and with status 2 when `build` has no
/// router for the name (`None`).
pub fn run_if_worker(build: impl FnOnce(&str) -> Option<Router>) {
    let Ok(name) = std::env::var(WORKER_ENV) else {
        return;
    };
    let code = match build(&name) {
        Some(router) => match serve_worker(router) {
            Ok(()) => 0,
            Err(err) => {
                let _ = writeln!(io::stderr(), "rpckit worker `{name}`: {err}");
                1
            }
        },
        None => {
            let _ = writeln!(
                io::stderr(),
                "rpckit worker: no router for the worker pool `{name}`"
            );
            2
        }
    };
    std::process::exit(code)
}

/// Serves `router` as a worker on this process's stdin and stdout until
/// stdin closes: what [`run_if_worker`] does in a worker. Starts a
/// current-thread tokio runtime.
///
/// # Errors
///
/// When the runtime cannot start or stdout cannot be written.
pub fn serve_worker(router: Router) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut stdout = tokio::io::stdout();
        stdout.write_all(READY_LINE).await?;
        stdout.flush().await?;
        let endpoint = Endpoint::new(router).codecs(Codecs::new(MsgPackCodec::default()));
        rpckit_tcp::Server::builder(endpoint)
            .framing(rpckit_tcp::Framing::LengthPrefixed)
            .idle_timeout(None)
            .serve_stream(tokio::io::join(tokio::io::stdin(), stdout))
            .await
    })
}
