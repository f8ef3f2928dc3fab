//! Run with `cargo run --release -p rpckit-examples --bin bench_lines -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The stream limit of the load benchmark (`loadbench`): bare tokio-util
//! `LinesCodec` (8 MiB lines, `TCP_NODELAY`) echoing every line back as it
//! came, replies flushed whenever no more lines are buffered. No JSON is
//! parsed or written: what rpckit's newline transport does on top of this
//! is the cost the `pipelined_lines` scenario measures.

#[path = "../bench/shared.rs"]
mod shared;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

fn main() -> anyhow::Result<()> {
    let addr = rpckit_examples::addr_from_args()?;
    let threads = shared::threads_from_args()?;
    shared::runtime(threads)?.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        println!("bench_lines listening on tcp://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let (reader, writer) = stream.into_split();
                let codec = LinesCodec::new_with_max_length(8 * 1024 * 1024);
                let lines = FramedRead::new(reader, codec.clone());
                let sink = FramedWrite::new(writer, codec);
                // `forward` flushes when the read side has nothing ready.
                let _ = lines.forward(sink).await;
            });
        }
    })
}
