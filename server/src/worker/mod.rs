//! Worker processes: methods that run in child processes of the same
//! binary (feature `worker`).
//!
//! The key decision: **a worker is the same program, re-executed.** There
//! is nothing to deploy beside the server, and the code a worker runs is
//! the code the server was built from. The parent starts its own
//! executable with `RPCKIT_WORKER=<pool name>` in the environment; the
//! child's `main` calls [`run_if_worker`] first thing, which builds that
//! pool's [`Router`] and serves it on its stdin and stdout, and never
//! returns. In the parent, `run_if_worker` sees no such variable and
//! returns at once.
//!
//! ```no_run
//! use rpckit::exec::Executor;
//! use rpckit::worker::{run_if_worker, WorkerPool};
//! use rpckit::{extract::Params, Router};
//!
//! fn heavy() -> Router {
//!     Router::new().sync_method("fib", |Params((n,)): Params<(u32,)>| fib(n))
//! }
//! fn fib(n: u32) -> u64 { if n < 2 { n.into() } else { fib(n - 1) + fib(n - 2) } }
//!
//! fn main() -> std::io::Result<()> {
//!     // A worker serves here and exits; the server goes on.
//!     run_if_worker(|pool| (pool == "heavy").then(heavy));
//!     tokio::runtime::Runtime::new()?.block_on(async {
//!         let pool = WorkerPool::builder("heavy").workers(4).spawn()?;
//!         let api = heavy().configure("fib", |s| s.executor(pool.clone()));
//!         rpckit::http::Server::builder().route("/api", api).bind("127.0.0.1:7001").await?.serve().await
//!     })
//! }
//! ```
//!
//! # The model
//!
//! - **Wire.** Parent and worker talk JSON-RPC over the child's pipes:
//!   rpckit-tcp's length-prefixed framing, MessagePack. The parent decodes
//!   the call's params (from whatever codec the client used) and encodes
//!   them again in MessagePack; the result comes back the same way and is
//!   encoded in the client's codec. Values travel as a self-describing
//!   tree (`serde_json::Value`): numbers, strings, arrays, maps; binary
//!   data arrives as an array of numbers. Connection facts (headers,
//!   peer address) stay in the parent: a worker's handlers see params only.
//! - **Stdout is the wire.** Before serving, a worker writes a ready line;
//!   the parent skips anything printed before it. After it, anything a
//!   handler prints to stdout corrupts the stream and ends the worker:
//!   log to stderr (which the worker inherits).
//! - **Spreading.** Each call goes to the live worker with the fewest
//!   calls in flight. A worker serves its calls as its router would on
//!   one connection: async handlers concurrently, a sync handler one at a
//!   time; so N workers run N CPU-bound calls at once.
//! - **Crashes.** When a worker's process exits or its pipes break, the
//!   calls it had in flight, and only those, are answered -32603 ("worker
//!   process … exited …"); a replacement starts at once (or, for a worker
//!   that died before it was ready, at the next call, so a worker that
//!   cannot start does not respawn in a loop).
//! - **New code.** [`WorkerPool::restart`] starts a new generation of
//!   workers and sends every new call to them; the old ones finish the
//!   calls they have, see their stdin close, and exit. A hot reload that
//!   registers a method with a *new* pool (say, another name that
//!   `run_if_worker` maps to another router, or other [`env`](WorkerPoolBuilder::env))
//!   sends the next calls to that pool's workers; the old pool's workers
//!   end gracefully once the old table and its calls are gone.
//! - **Limits.** The method's concurrency limit and timeout apply in the
//!   parent; a call that timed out still finishes in its worker (its
//!   answer is discarded) and keeps its concurrency slot until then.
//!
//! [`Router`]: crate::Router

mod child;
mod pool;
mod process;
mod wire;

pub use child::{run_if_worker, serve_worker, READY_LINE, WORKER_ENV};
pub use pool::{WorkerInfo, WorkerPool, WorkerPoolBuilder};
