//! Run with `cargo run -p rpckit-examples --bin spec_server -- --addr 127.0.0.1:7001`
//!
//! Serves the JSON-RPC 2.0 specification's example methods over HTTP:
//! `/rpc` takes JSON (serde_json), CBOR and MessagePack by content type;
//! `/rpc/simd` is the same with SIMD-JSON decoding JSON.

use std::sync::Arc;

use rpckit::codec::{Codecs, SimdJsonCodec};
use rpckit::Endpoint;
use rpckit_examples::spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let methods = spec::router(Arc::new(spec::Notified::default()));
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
    server.serve().await?;
    Ok(())
}
