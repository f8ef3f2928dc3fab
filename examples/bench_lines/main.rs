//! Run with `cargo run --release -p rpckit-examples --bin bench_lines -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The stream limit of the load benchmark (`loadbench`): bare tokio-util
//! `LinesCodec` (8 MiB lines, `TCP_NODELAY`) echoing every line back as it
//! came, replies flushed whenever no more lines are buffered. No JSON is
//! parsed or written: what rpckit's newline transport does on top of this
//! is the cost the `pipelined_lines` scenario measures.

#[path = "../bench/shared.rs"]
mod shared;

fn main() -> anyhow::Result<()> {
    shared::serve_lines("bench_lines", std::convert::identity)
}
