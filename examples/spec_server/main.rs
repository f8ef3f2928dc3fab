//! Run with `cargo run -p rpckit-examples --bin spec_server -- --addr 127.0.0.1:7001`
//!
//! Serves the JSON-RPC 2.0 specification's example methods over HTTP:
//! `/rpc` takes JSON (serde_json), CBOR and MessagePack by content type;
//! `/rpc/simd` is the same with SIMD-JSON decoding JSON. The same methods
//! are on TCP at `--tcp-addr HOST:PORT` (default 127.0.0.1:7002), one JSON
//! message per line: `nc 127.0.0.1 7002`. It prints the HTTP address on its
//! first line and the TCP address on its second.

use std::sync::Arc;

use rpckit::codec::{Codecs, SimdJsonCodec};
use rpckit::Endpoint;
use rpckit_examples::spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let tcp_addr =
        rpckit_examples::flag_value("--tcp-addr").unwrap_or_else(|| "127.0.0.1:7002".into());
    let tcp_addr: std::net::SocketAddr = tcp_addr
        .parse()
        .map_err(|err| anyhow::anyhow!("--tcp-addr {tcp_addr}: {err} (expected HOST:PORT)"))?;
    let methods = spec::router(Arc::new(spec::Notified::default()));
    let tcp = rpckit::tcp::Server::builder(methods.clone())
        .bind(tcp_addr)
        .await?;
    let simd =
        Endpoint::new(methods.clone()).codecs(Codecs::default().with(SimdJsonCodec::default()));
    let server = rpckit::http::Server::builder()
        .route("/rpc", methods)
        .route("/rpc/simd", simd)
        .bind(addr)
        .await?;
    println!(
        "spec_server listening on http://{}/rpc",
        server.local_addr()
    );
    println!("spec_server listening on {} (newline)", tcp.local_addr());
    tokio::try_join!(server.serve(), tcp.serve())?;
    Ok(())
}
